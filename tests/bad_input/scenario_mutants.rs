//! Malformed and extreme scenario files, made from the shipped ones by a seeded
//! generator: each mutant is one to three mutations of one shipped file, the
//! format-blind byte mutations last.

use super::bytes;
use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// What a mutation does, as counted in the campaign's table.
pub const KINDS: &[&str] = &[
    "type_swap",
    "unit",
    "magnitude",
    "extreme_key",
    "nesting",
    "duplicate",
    "delete",
    "rename",
    "huge_array",
    "whole_file",
    "truncate",
    "byte_flip",
    "byte_insert",
];

/// Relative weights of [`KINDS`].
const WEIGHTS: &[u32] = &[10, 10, 12, 24, 4, 6, 6, 6, 2, 1, 5, 5, 5];

/// A mutant: its bytes and the mutations that made it, in order.
pub struct Mutant {
    /// The file's bytes (not necessarily UTF-8).
    pub bytes: Vec<u8>,
    /// `(kind, what exactly)`.
    pub steps: Vec<(&'static str, String)>,
}

/// Which knobs [`extreme_key`] turns: a table of `(table, key, values)` and
/// whether to add extreme `[[faults]]`.
pub struct Knobs {
    /// The keys and their extreme values.
    pub extremes: &'static [(&'static str, &'static str, &'static [&'static str])],
    /// Add `[[faults]]` entries too (scenario files).
    pub faults: bool,
}

/// A scenario file's knobs.
pub const SCENARIO: Knobs = Knobs {
    extremes: SCENARIO_EXTREMES,
    faults: true,
};

/// A sweep file's knobs.
pub const SWEEP: Knobs = Knobs {
    extremes: SWEEP_EXTREMES,
    faults: false,
};

/// A mutant of `base` drawn from `rng`; `other` is a file of another kind
/// (whole-file replacements use it).
pub fn mutant(rng: &mut ChaCha8Rng, base: &str, other: &str, knobs: &Knobs) -> Mutant {
    let count = match rng.gen_range(0..10) {
        0..=4 => 1,
        5..=7 => 2,
        _ => 3,
    };
    let mut kinds: Vec<usize> = (0..count).map(|_| weighted(rng, WEIGHTS)).collect();
    // A whole-file replacement first (text mutations of the original would be
    // lost under it, so there are none), then text mutations (they need text),
    // then the byte ones.
    let stage = |kind: usize| match KINDS[kind] {
        "whole_file" => 0,
        "truncate" | "byte_flip" | "byte_insert" => 2,
        _ => 1,
    };
    kinds.sort_by_key(|&kind| stage(kind));
    if kinds.first().is_some_and(|&kind| stage(kind) == 0) {
        kinds.retain(|&kind| stage(kind) != 1);
    }
    let mut text = base.to_string();
    let mut steps = Vec::new();
    let mut bytes: Option<Vec<u8>> = None;
    for kind in kinds {
        let name = KINDS[kind];
        let detail = match name {
            "type_swap" => type_swap(rng, &mut text),
            "unit" => unit(rng, &mut text),
            "magnitude" => magnitude(rng, &mut text),
            "extreme_key" => extreme_key(rng, &mut text, knobs),
            "nesting" => nesting(rng, &mut text),
            "duplicate" => duplicate(rng, &mut text),
            "delete" => delete(rng, &mut text),
            "rename" => rename(rng, &mut text),
            "huge_array" => huge_array(rng, &mut text),
            "whole_file" => {
                let whole = bytes::whole(rng, other);
                let detail = format!("{} bytes", whole.len());
                bytes = Some(whole);
                detail
            }
            _ => {
                let target = bytes.get_or_insert_with(|| text.clone().into_bytes());
                match name {
                    "truncate" => bytes::truncate(rng, target),
                    "byte_flip" => bytes::flip(rng, target),
                    _ => bytes::insert(rng, target),
                }
                String::new()
            }
        };
        steps.push((name, detail));
    }
    Mutant {
        bytes: bytes.unwrap_or_else(|| text.into_bytes()),
        steps,
    }
}

/// An index drawn with the given weights.
pub fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut pick = rng.gen_range(0..total);
    for (index, &weight) in weights.iter().enumerate() {
        if pick < weight {
            return index;
        }
        pick -= weight;
    }
    weights.len() - 1
}

/// A scalar written in the text: where, and whether it is a quoted string.
#[derive(Clone, Debug)]
struct Token {
    span: Range<usize>,
    quoted: bool,
}

/// `key = value` lines: the key's and the value's spans (the value up to the
/// end of the line or a comment).
fn assignments(text: &str) -> Vec<(Range<usize>, Range<usize>)> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let starts_key = trimmed
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '"' || c == '_');
        if starts_key && let Some(equals) = trimmed.find('=') {
            let key_end = offset + indent + trimmed[..equals].trim_end().len();
            let value = &trimmed[equals + 1..];
            let value_start =
                offset + indent + equals + 1 + (value.len() - value.trim_start().len());
            let body = value.trim_start();
            let body = match body.find(" #") {
                Some(comment) => &body[..comment],
                None => body,
            };
            let value_end = value_start + body.trim_end().len();
            if value_end > value_start {
                found.push((offset + indent..key_end, value_start..value_end));
            }
        }
        offset += line.len();
    }
    found
}

/// Scalars: quoted strings, numbers, booleans (not keys, not comments, not
/// table headers).
fn tokens(text: &str) -> Vec<Token> {
    let mut found = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if !(trimmed.starts_with('#') || trimmed.starts_with("[[") || is_header(trimmed)) {
            let bytes = line.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                match bytes[at] {
                    b'#' => break,
                    b'"' => {
                        let close = line[at + 1..].find('"').map(|end| at + 1 + end);
                        let Some(close) = close else { break };
                        found.push(Token {
                            span: offset + at..offset + close + 1,
                            quoted: true,
                        });
                        at = close + 1;
                    }
                    byte if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'+' => {
                        let start = at;
                        while at < bytes.len()
                            && (bytes[at].is_ascii_alphanumeric() || b"_.+-:".contains(&bytes[at]))
                        {
                            at += 1;
                        }
                        let word = &line[start..at];
                        let is_key = line[at..].trim_start().starts_with('=');
                        let scalar = word.as_bytes()[0].is_ascii_digit()
                            || word.starts_with('-')
                            || word.starts_with('+')
                            || word == "true"
                            || word == "false"
                            || word == "inf"
                            || word == "nan";
                        if scalar && !is_key {
                            found.push(Token {
                                span: offset + start..offset + at,
                                quoted: false,
                            });
                        }
                    }
                    _ => at += 1,
                }
            }
        }
        offset += line.len();
    }
    found
}

fn is_header(line: &str) -> bool {
    let line = line.trim_end();
    line.starts_with('[') && line.ends_with(']') && !line.contains('=')
}

/// A quoted duration such as `"150ms"`.
fn is_duration(text: &str) -> bool {
    let inner = text.trim_matches('"');
    inner.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && ["ns", "us", "ms", "s", "m"]
            .iter()
            .any(|unit| inner.ends_with(unit))
}

fn replace(text: &mut String, span: Range<usize>, with: &str) -> String {
    let old = text[span.clone()].to_string();
    text.replace_range(span, with);
    format!("{} -> {}", clip(&old), clip(with))
}

/// At most 60 characters of `text`, for the step descriptions.
pub fn clip(text: &str) -> String {
    let mut clipped: String = text.chars().take(60).collect();
    if clipped.len() < text.len() {
        clipped.push('…');
    }
    clipped.escape_debug().to_string()
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> Option<&'a T> {
    items.choose(rng)
}

const TYPE_SAMPLES: &[&str] = &[
    "\"five\"",
    "\"\"",
    "7",
    "-3",
    "2.5",
    "true",
    "[]",
    "[1, \"a\"]",
    "[[1], [2]]",
    "{}",
    "{ a = 1 }",
    "{ distribution = \"uniform\" }",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "'literal'",
    "\"\"\"multi\nline\"\"\"",
];

fn type_swap(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let with = *pick(rng, TYPE_SAMPLES).expect("samples");
    if rng.gen_bool(0.5) {
        if let Some((_, value)) = pick(rng, &assignments(text)).cloned() {
            return replace(text, value, with);
        }
    } else if let Some(token) = pick(rng, &tokens(text)).cloned() {
        return replace(text, token.span, with);
    }
    String::from("nothing to swap")
}

fn unit(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let durations: Vec<Token> = tokens(text)
        .into_iter()
        .filter(|token| token.quoted && is_duration(&text[token.span.clone()]))
        .collect();
    let Some(token) = pick(rng, &durations).cloned() else {
        return String::from("no duration");
    };
    let inner = text[token.span.clone()].trim_matches('"').to_string();
    let number: String = inner
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mangled = match rng.gen_range(0..22) {
        0 => format!("\"{number}\""),
        1 => format!("\"{number}parsecs\""),
        2 => format!("\"-{inner}\""),
        3 => "\"1e400s\"".to_string(),
        4 => format!("\"{number} s\""),
        5 => format!("\"{number}S\""),
        6 => format!("\"{inner} \""),
        7 => "\"NaNs\"".to_string(),
        8 => "\"infms\"".to_string(),
        9 => "\"1e18s\"".to_string(),
        10 => "\"0x1Fms\"".to_string(),
        11 => "\"\u{0661}s\"".to_string(),
        12 => format!("\"{number}\u{b5}s\""),
        13 => format!("\"{number}min\""),
        14 => "\"\"".to_string(),
        15 => "\".s\"".to_string(),
        16 => "\"1.s\"".to_string(),
        17 => "\"..5s\"".to_string(),
        18 => "\"99999999999999999999999ns\"".to_string(),
        19 => format!("\"{number}\u{0}s\""),
        20 => number.clone(),
        _ => format!("\"+{inner}\""),
    };
    replace(text, token.span, &mangled)
}

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "-9223372036854775808",
    "9223372036854775807",
    "18446744073709551615",
    "1e308",
    "-1e308",
    "1.7976931348623157e309",
    "nan",
    "inf",
    "-inf",
    "0.5",
    "-0.0",
    "5e-324",
    "4294967295",
    "4294967296",
    "65535",
    "65536",
    "1_000_000",
    "0x7fffffffffffffff",
    "0o777",
    "0b1",
];

const DURATIONS: &[&str] = &[
    "\"0s\"",
    "\"0ns\"",
    "\"1ns\"",
    "\"1us\"",
    "\"999999999s\"",
    "\"1000000000000000000ns\"",
    "\"1000000000000000001ns\"",
    "\"16000000m\"",
    "\"0.0000001ns\"",
    "\"0.5ns\"",
    "\"31000000000s\"",
];

fn magnitude(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let Some(token) = pick(rng, &tokens(text)).cloned() else {
        return String::from("no scalar");
    };
    let duration = token.quoted && is_duration(&text[token.span.clone()]);
    let with = if duration || (token.quoted && rng.gen_bool(0.3)) {
        *pick(rng, DURATIONS).expect("durations")
    } else {
        *pick(rng, NUMBERS).expect("numbers")
    };
    replace(text, token.span, with)
}

/// `(table, key, values)`: the knobs a bad scenario file is most likely to
/// abuse, with extreme, tiny, huge and wrong values (table "" is the top level).
const SCENARIO_EXTREMES: &[(&str, &str, &[&str])] = &[
    (
        "",
        "duration",
        &["\"1ns\"", "\"0s\"", "\"1000000000000000000ns\"", "\"20s\""],
    ),
    (
        "",
        "liveness_window",
        &["\"0s\"", "\"1ns\"", "\"1000000000000000000ns\""],
    ),
    (
        "",
        "max_events",
        &[
            "0",
            "1",
            "-1",
            "9223372036854775807",
            "18446744073709551615",
        ],
    ),
    ("", "seed", &["-1", "0", "9223372036854775807"]),
    (
        "cluster",
        "nodes",
        &[
            "0",
            "1",
            "2",
            "255",
            "256",
            "257",
            "65535",
            "100000",
            "-1",
            "9223372036854775807",
        ],
    ),
    (
        "cluster",
        "spares",
        &[
            "0",
            "1",
            "255",
            "256",
            "-1",
            "18446744073709551615",
            "\"1\"",
        ],
    ),
    (
        "cluster",
        "clock_offset_max",
        &["\"1000000000000000000ns\"", "\"0s\"", "\"1ns\""],
    ),
    (
        "cluster",
        "clock_drift_ppm_max",
        &["500000", "500001", "-1", "9223372036854775807"],
    ),
    (
        "workload",
        "clients",
        &["0", "1", "4096", "4097", "1000000", "-5"],
    ),
    (
        "workload",
        "op_interval",
        &["\"1ns\"", "\"0s\"", "\"1000000000000000000ns\""],
    ),
    (
        "workload",
        "op_timeout",
        &["\"1ns\"", "\"0s\"", "\"1000000000000000000ns\""],
    ),
    (
        "network",
        "latency",
        &[
            "{ distribution = \"exponential\", mean = \"1ns\" }",
            "{ distribution = \"uniform\", min = \"0ns\", max = \"0ns\" }",
            "{ distribution = \"uniform\", min = \"1000000000000000000ns\", max = \"1000000000000000000ns\" }",
            "{ distribution = \"constant\", value = \"0ns\" }",
            "{ distribution = \"pareto\", scale = \"1ns\", shape = 0.0001 }",
            "{ distribution = \"pareto\", scale = \"1000000000000000000ns\", shape = 1e308 }",
            "{ distribution = \"log_normal\", median = \"1s\", sigma = 1e308 }",
            "{ distribution = \"normal\", mean = \"0ns\", stddev = \"1000000000000000000ns\" }",
            "{ distribution = \"uniform\", min = \"5ms\", max = \"1ms\" }",
        ],
    ),
    (
        "network",
        "drop_probability",
        &["1.0", "0.999999", "1.0000001", "-0.0", "nan", "[0.0, 1.0]"],
    ),
    (
        "network",
        "duplicate_probability",
        &["1.0", "0.999999", "nan", "-1"],
    ),
    ("network", "fifo", &["true", "1"]),
    (
        "network",
        "long_delay",
        &[
            "{ probability = 1.0, min = \"1000000000000000000ns\", max = \"1000000000000000000ns\" }",
            "{ probability = 1.0, min = \"0ns\", max = \"0ns\" }",
            "{ probability = 0.5, min = \"2s\", max = \"1s\" }",
        ],
    ),
    (
        "disk",
        "unsynced",
        &["\"lose_all\"", "\"keep_all\"", "\"lose_some\"", "\"\""],
    ),
    ("disk", "torn_writes", &["true"]),
    (
        "nemesis",
        "faults",
        &[
            "[\"partition\", \"isolate\", \"bridge\", \"one_way\", \"crash\", \"crash_leader\", \"pause\", \"clock_skew\", \"disk_corrupt\", \"disk_lose_unsynced\", \"disk_fail_read\"]",
            "[]",
            "[\"crash\", \"crash\", \"crash\"]",
            "[\"join\", \"leave\", \"crash\"]",
            "[\"leave\"]",
            "[\"slow\"]",
        ],
    ),
    (
        "nemesis",
        "interval",
        &[
            "[\"1ns\", \"1ns\"]",
            "\"1ns\"",
            "[\"0ns\", \"0ns\"]",
            "[\"2s\", \"1s\"]",
        ],
    ),
    (
        "nemesis",
        "duration",
        &[
            "[\"1ns\", \"1ns\"]",
            "[\"1000000000000000000ns\", \"1000000000000000000ns\"]",
            "\"0s\"",
        ],
    ),
    ("nemesis", "start", &["\"1000000000000000000ns\"", "\"0s\""]),
    (
        "nemesis",
        "clock_skew_max",
        &["\"1000000000000000000ns\"", "\"0s\""],
    ),
    (
        "nemesis",
        "clock_drift_ppm_max",
        &["500000", "500001", "18446744073709551615"],
    ),
    (
        "nemesis",
        "targets",
        &[
            "\"@servers\"",
            "\"@\"",
            "\"@a\\u0000b\"",
            "\"servers\"",
            "\"random@servers\"",
            "[\"@servers\"]",
        ],
    ),
    (
        "nemesis",
        "slow_factor_max",
        &["2", "1000", "1.999", "1e308", "-0.0", "nan", "\"10\""],
    ),
    (
        "nemesis",
        "drop_probability",
        &["1.0", "[1.0, 1.0]", "[0.5, 0.1]"],
    ),
    ("nemesis", "duplicate_probability", &["1.0", "[1.0, 1.0]"]),
    ("nemesis", "swarm", &["false"]),
    (
        "protocol",
        "heartbeat_interval",
        &["\"1ns\"", "\"0s\"", "\"1000000000000000000ns\""],
    ),
    (
        "protocol",
        "election_timeout",
        &[
            "[\"1ns\", \"1ns\"]",
            "[\"0ns\", \"1ns\"]",
            "[\"1000000000000000000ns\", \"1000000000000000000ns\"]",
        ],
    ),
    ("protocol", "retry_interval", &["\"1ns\"", "\"0s\""]),
    ("protocol", "gossip_interval", &["\"1ns\"", "\"0s\""]),
    (
        "protocol",
        "persist_delay",
        &["\"1000000000000000000ns\"", "\"1ns\""],
    ),
    (
        "protocol",
        "snapshot_every",
        &["0", "1", "18446744073709551615"],
    ),
    ("protocol", "max_batch", &["0", "1", "9223372036854775807"]),
    ("protocol", "keys", &["0", "1", "4294967295", "4294967296"]),
    ("protocol", "tokens", &["0", "4294967295", "1000000"]),
    (
        "protocol",
        "ops",
        &["[]", "[\"get\"]", "[\"cas\", \"cas\"]", "[\"launch\"]"],
    ),
    ("protocol", "pre_vote", &["true"]),
    ("protocol", "leader", &["false"]),
    ("protocol", "backoff", &["false"]),
    (
        "protocol",
        "lab",
        &[
            "[{ run = \"figure8\", iterations = 1000000 }]",
            "[{ run = \"figure8_unreliable\", iterations = 1000000, long_reordering_at = 0 }]",
            "[{ one = 1, servers = 1, retry = true, count = 1000000 }]",
            "[{ start = 1, to = \"all\", count = 1000000 }]",
            "[{ run = \"churn\", iterations = 1000000, clients = 1000000 }]",
            "[{ run = \"many_elections\", iterations = 1000001 }]",
            "[{ run = \"snapshots\", victim = \"crash\", iterations = 1000000 }]",
            "[{ one = 1, servers = 0 }]",
            "[{ one = 1, servers = 1000000 }]",
            "[{ sleep = \"1000000000000000000ns\" }]",
            "[{ check = \"rpcs\", min = -1, max = 9223372036854775807 }]",
        ],
    ),
];

/// The same for sweep files: the scenario they name (devices, directories,
/// files of other kinds), the swept key, the grid, the seeds, the chart.
const SWEEP_EXTREMES: &[(&str, &str, &[&str])] = &[
    (
        "sweep",
        "scenario",
        &[
            "\"/dev/zero\"",
            "\"/dev/null\"",
            "\"/\"",
            "\"\"",
            "\"../raft/lab/2c_figure8.toml\"",
            "\"../regressions/raft_stale_read.toml\"",
            "\"../token_forward/tokens.toml\"",
            "\"../raft/pins.toml\"",
            "\"../../Cargo.toml\"",
            "\"raft_drop_latency.toml\"",
        ],
    ),
    (
        "sweep",
        "parameter",
        &[
            "\"\"",
            "\".\"",
            "\"a..b\"",
            "\"cluster\"",
            "\"cluster.nodes\"",
            "\"workload.clients\"",
            "\"protocol.name\"",
            "\"protocol\"",
            "\"max_events\"",
            "\"duration\"",
            "\"faults\"",
            "\"nemesis.interval\"",
            "\"seed.x\"",
        ],
    ),
    (
        "sweep",
        "values",
        &[
            "[]",
            "[[]]",
            "[{}]",
            "[1e308]",
            "[-1]",
            "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100, 1000, 100000]",
            "[\"1ns\", \"0s\"]",
            "[[\"1ns\", \"1ns\"]]",
            "[\"raft\", \"paxos\"]",
            "[9223372036854775807]",
        ],
    ),
    (
        "sweep",
        "seeds",
        &["0", "1", "1000000", "1000001", "-1", "18446744073709551615"],
    ),
    (
        "sweep",
        "metric",
        &[
            "\"ops_ok\"",
            "\"failed\"",
            "\"events\"",
            "\"time_without_leader\"",
            "\"speed\"",
            "\"\"",
        ],
    ),
    (
        "sweep",
        "x_range",
        &[
            "[0.0, 0.0]",
            "[-1.0, 1.0]",
            "[nan, 1.0]",
            "[1e308, inf]",
            "[1.0]",
        ],
    ),
    ("sweep", "log_x", &["true", "false"]),
    ("sweep", "nemesis", &["false"]),
];

/// Extreme faults, appended as one more `[[faults]]` entry.
const FAULTS: &[&str] = &[
    "at = \"0ns\"\nkind = \"disk_fail_read\"\ntarget = \"all\"\ncount = 4294967295",
    "at = \"0ns\"\nkind = \"clock_skew\"\ntarget = 0\noffset = \"-1000000000000000000ns\"",
    "at = \"0ns\"\nkind = \"clock_skew\"\ntarget = 0\ndrift_ppm = -9223372036854775808",
    "at = \"0ns\"\nkind = \"clock_skew\"\ntarget = \"all\"\ndrift_ppm = 500000\nduration = \"1ns\"",
    "at = \"0ns\"\nkind = \"partition\"\ngroups = [[0], [0]]",
    "at = \"0ns\"\nkind = \"partition\"\ngroups = [[], [0]]",
    "at = \"1ns\"\nkind = \"crash\"\ntarget = [18446744073709551615]",
    "at = \"1ns\"\nkind = \"crash\"\ntarget = -1",
    "at = \"1ns\"\nkind = \"pause\"\ntarget = \"all\"\nduration = \"1ns\"",
    "at = \"1ns\"\nkind = \"isolate\"\ntarget = \"@\u{202e}x\"",
    "at = \"1ns\"\nkind = \"crash\"\ntarget = \"@nobody\"",
    "at = \"1ns\"\nkind = \"crash\"\ntarget = \"leader\"\nlabel = \"a\u{0}b\"",
    "at = \"1000000000000000000ns\"\nkind = \"heal\"",
    "at = \"1ns\"\nkind = \"one_way\"\nfrom = \"all\"\nto = \"all\"",
    "at = \"1ns\"\nkind = \"restart\"\ntarget = \"all\"",
    "at = \"1ns\"\nkind = \"disk_corrupt\"\ntarget = \"all\"",
    "at = \"0ns\"\nkind = \"disk_misdirect\"\ntarget = \"all\"",
    "at = \"0ns\"\nkind = \"disk_transpose\"\ntarget = \"all\"",
    "at = \"1ns\"\nkind = \"connect\"\ntarget = []",
    "at = \"0ns\"\nkind = \"join\"\ntarget = \"all\"\nduration = \"1ns\"",
    "at = \"1ns\"\nkind = \"leave\"\ntarget = \"all\"\nlabel = \"gone\"",
    "at = \"1ns\"\nkind = \"leave\"\ntarget = [18446744073709551615]",
    "at = \"0ns\"\nkind = \"slow\"\ntarget = \"all\"\nfactor = 1000\nduration = \"1ns\"",
    "at = \"1ns\"\nkind = \"slow\"\ntarget = \"random\"\nfactor = 1e308",
    "at = \"1ns\"\nkind = \"slow\"\ntarget = 0\nfactor = 1.0000000001",
    "at = \"1ns\"\nkind = \"crash\"\ntarget = \"majority@nobody\"",
    "at = \"1ns\"\nkind = \"one_way\"\nfrom = \"leader@\u{202e}x\"\nto = \"all@x\"",
    "at = \"1ns\"\nkind = \"pause\"\ntarget = \"@@\"",
];

/// Sets `key` in `[table]` to `value`: replaces the key's line if the table
/// writes it, else adds the line after the header (or the table at the end).
fn set_key(text: &mut String, table: &str, key: &str, value: &str) {
    let line = format!("{key} = {value}\n");
    if table.is_empty() {
        let top_end = first_header(text).unwrap_or(text.len());
        if let Some(span) = key_line(text, 0..top_end, key) {
            text.replace_range(span, &line);
        } else {
            text.insert_str(0, &line);
        }
        return;
    }
    let header = format!("[{table}]");
    let mut offset = 0;
    let mut section = None;
    for piece in text.split_inclusive('\n') {
        if section.is_none() && piece.trim() == header {
            section = Some(offset + piece.len());
        }
        offset += piece.len();
    }
    match section {
        Some(start) => {
            let end = next_header(text, start).unwrap_or(text.len());
            match key_line(text, start..end, key) {
                Some(span) => text.replace_range(span, &line),
                None => text.insert_str(start, &line),
            }
        }
        None => {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("\n{header}\n{line}"));
        }
    }
}

fn first_header(text: &str) -> Option<usize> {
    next_header(text, 0)
}

fn next_header(text: &str, from: usize) -> Option<usize> {
    let mut offset = from;
    for piece in text[from..].split_inclusive('\n') {
        if is_header(piece.trim()) {
            return Some(offset);
        }
        offset += piece.len();
    }
    None
}

/// The span of the line writing `key` within `range`.
fn key_line(text: &str, range: Range<usize>, key: &str) -> Option<Range<usize>> {
    let mut offset = range.start;
    for piece in text[range.clone()].split_inclusive('\n') {
        let trimmed = piece.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some(offset..offset + piece.len());
        }
        offset += piece.len();
    }
    None
}

fn extreme_key(rng: &mut ChaCha8Rng, text: &mut String, knobs: &Knobs) -> String {
    if knobs.faults && rng.gen_ratio(1, 6) {
        let fault = *pick(rng, FAULTS).expect("faults");
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("\n[[faults]]\n{fault}\n"));
        return format!("[[faults]] {}", clip(fault));
    }
    let (table, key, values) = *pick(rng, knobs.extremes).expect("extremes");
    let value = *pick(rng, values).expect("values");
    set_key(text, table, key, value);
    format!("[{table}] {key} = {}", clip(value))
}

/// Depths for nesting: mostly small, now and then enormous.
fn depth(rng: &mut ChaCha8Rng) -> usize {
    match rng.gen_range(0..20) {
        0..=7 => rng.gen_range(10..=64),
        8..=13 => rng.gen_range(65..=200),
        14..=16 => 1_000,
        17..=18 => 10_000,
        _ => 100_000,
    }
}

fn nesting(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let depth = depth(rng);
    let leaf = *pick(rng, &["1", "\"1s\"", "[]", "{}"]).expect("leaves");
    let (nested, what) = match rng.gen_range(0..4) {
        0 => (
            format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth)),
            "arrays",
        ),
        1 => (
            format!("{}{leaf}{}", "{ a = ".repeat(depth), " }".repeat(depth)),
            "inline tables",
        ),
        2 => (
            format!("{}{leaf}{}", "[{ a = ".repeat(depth), " }]".repeat(depth)),
            "arrays of tables",
        ),
        _ => {
            // A dotted key or table header that deep.
            let path = vec!["a"; depth].join(".");
            let line = if rng.gen_bool(0.5) {
                format!("{path} = {leaf}\n")
            } else {
                format!("[{path}]\nb = 1\n")
            };
            text.push_str(&line);
            return format!("dotted key {depth} deep");
        }
    };
    let slots = assignments(text);
    match pick(rng, &slots).cloned() {
        Some((_, value)) => {
            text.replace_range(value, &nested);
            format!("{what} {depth} deep")
        }
        None => String::from("no value"),
    }
}

/// The span of a random line, or of a random section (a header to the next).
fn line_or_section(rng: &mut ChaCha8Rng, text: &str) -> Option<Range<usize>> {
    let mut lines = Vec::new();
    let mut headers = Vec::new();
    let mut offset = 0;
    for piece in text.split_inclusive('\n') {
        if is_header(piece.trim()) {
            headers.push(offset);
        }
        lines.push(offset..offset + piece.len());
        offset += piece.len();
    }
    if rng.gen_bool(0.3) && !headers.is_empty() {
        let index = rng.gen_range(0..headers.len());
        let end = headers.get(index + 1).copied().unwrap_or(text.len());
        return Some(headers[index]..end);
    }
    pick(rng, &lines).cloned()
}

fn duplicate(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let Some(span) = line_or_section(rng, text) else {
        return String::from("empty");
    };
    let mut copy = text[span.clone()].to_string();
    if !copy.ends_with('\n') {
        copy.push('\n');
    }
    let described = clip(&copy);
    text.insert_str(span.end, &copy);
    described
}

fn delete(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let Some(span) = line_or_section(rng, text) else {
        return String::from("empty");
    };
    let described = clip(&text[span.clone()]);
    text.replace_range(span, "");
    described
}

const PROTOCOL_NAMES: &[&str] = &[
    "raft",
    "paxos",
    "broadcast",
    "token_forward",
    "primary_backup",
    "",
    "RAFT",
    "raft ",
    "ra\\u0000ft",
    "\\u202etfar",
    "\u{202e}tfar",
];

fn rename(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    if rng.gen_bool(0.4)
        && let Some(at) = text.find("name = \"")
        && let Some(protocol) = text.find("[protocol]")
        && at > protocol
    {
        let start = at + "name = \"".len();
        let end = start + text[start..].find('"').unwrap_or(0);
        let name = *pick(rng, PROTOCOL_NAMES).expect("names");
        return replace(text, start..end, name);
    }
    let Some((key, _)) = pick(rng, &assignments(text)).cloned() else {
        return String::from("no key");
    };
    let old = text[key.clone()].to_string();
    let new = match rng.gen_range(0..5) {
        0 => format!("{old}s"),
        1 => old.to_uppercase(),
        2 => format!("\"{old}\""),
        3 => format!("{old}.{old}"),
        _ => old.chars().rev().collect(),
    };
    replace(text, key, &new)
}

/// How many entries a huge array has.
fn huge(rng: &mut ChaCha8Rng) -> usize {
    *pick(rng, &[1_000, 10_000, 65_534, 65_535, 100_000]).expect("sizes")
}

fn huge_array(rng: &mut ChaCha8Rng, text: &mut String) -> String {
    let count = huge(rng);
    if !text.ends_with('\n') {
        text.push('\n');
    }
    match rng.gen_range(0..5) {
        0 => {
            text.reserve(count * 30);
            for index in 0..count {
                let at = index % 1000;
                text.push_str(&format!("[[faults]]\nat = \"{at}us\"\nkind = \"heal\"\n"));
            }
            format!("{count} [[faults]]")
        }
        1 => {
            text.reserve(count * 40);
            for index in 0..count {
                text.push_str(&format!(
                    "[[network.links]]\nfrom = {}\nto = {}\n",
                    index % 2,
                    (index + 1) % 2
                ));
            }
            format!("{count} [[network.links]]")
        }
        2 => {
            let ids = vec!["0"; count].join(", ");
            text.push_str(&format!(
                "[[faults]]\nat = \"1ms\"\nkind = \"crash\"\ntarget = [{ids}]\n"
            ));
            format!("a target of {count} ids")
        }
        3 => {
            let kinds = vec!["\"crash\""; count].join(", ");
            set_key(text, "nemesis", "faults", &format!("[{kinds}]"));
            format!("a nemesis of {count} kinds")
        }
        _ => {
            let steps = vec!["{ one = 1, servers = 1 }"; count].join(", ");
            set_key(text, "protocol", "lab", &format!("[{steps}]"));
            format!("a lab script of {count} steps")
        }
    }
}
