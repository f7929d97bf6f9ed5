//! The documentation's transcripts are true: every command that README.md and
//! docs/*.md show with its output is run, and what it prints is compared with
//! what the page quotes, so no quoted figure goes stale.
//!
//! The rules, for whoever writes a page:
//!
//! - A transcript is a fenced block tagged `console`. A line starting with `$ `
//!   is a command (a trailing `\` continues it on the next line); the lines after
//!   it, up to the next command, are what it prints — standard output and
//!   standard error as one stream, in the order written, as on a terminal.
//! - In the quoted output, `[..]` stands for any text within one line and a line
//!   `...` for any number of lines. Use them only for what depends on the
//!   machine (wall times, seeds per second): everything deterministic — verdicts,
//!   trace hashes, event counts of a seeded run — is compared exactly. Trailing
//!   spaces are ignored; nothing else is.
//! - Each page's commands run in order in one scratch directory holding links to
//!   the repository's `scenarios/` and `examples/`, with the built `faultline`
//!   first on `PATH` (through `sh -c`); `cargo run --release [-q] --` at the start
//!   of a command is read as `faultline`. Exit codes are not compared (the output
//!   says what happened).
//! - A block right after `<!-- file: NAME -->` (a scenario the page shows) is
//!   written to NAME in that directory before the page's later commands run.
//! - A transcript right after `<!-- not checked: REASON -->` is not run; use it
//!   for output that is all timing, or for a run too slow for the suite. The test
//!   lists every block it skipped, with its reason, and requires the count to be
//!   [`SKIPPED`], so a new exclusion is a decision made here too.
//! - A block that looks like a transcript but is not tagged `console` (a line
//!   starting with `$ `, or a `verdict ` or `reproduce: ` line) fails the test,
//!   so a quoted output cannot dodge the check by its tag.
//!
//! Commands-only blocks (`sh`, `text` without output) are not run.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Transcripts marked `<!-- not checked: ... -->` across all pages.
const SKIPPED: usize = 1;

/// One fenced block of a page.
struct Block {
    /// Page path relative to the repository, and 1-based line of the opening fence.
    at: String,
    info: String,
    body: Vec<String>,
    marker: Option<Marker>,
}

enum Marker {
    NotChecked(String),
    File(String),
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, then docs/*.md in name order.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    docs.sort();
    let mut pages = vec![root().join("README.md")];
    pages.extend(docs);
    pages
}

fn marker(line: &str) -> Option<Result<Marker, String>> {
    let inner = line
        .trim()
        .strip_prefix("<!--")?
        .strip_suffix("-->")?
        .trim();
    if let Some(reason) = inner.strip_prefix("not checked:") {
        let reason = reason.trim();
        return Some(if reason.is_empty() {
            Err("a `not checked:` marker needs a reason".into())
        } else {
            Ok(Marker::NotChecked(reason.to_string()))
        });
    }
    let name = inner.strip_prefix("file:")?.trim();
    Some(
        if name.is_empty() || name.starts_with('/') || name.split('/').any(|part| part == "..") {
            Err(format!(
                "a `file:` marker needs a relative name, got {name:?}"
            ))
        } else {
            Ok(Marker::File(name.to_string()))
        },
    )
}

/// The fenced blocks of `text`, with the marker right before each; problems
/// with markers go to `problems`.
fn blocks(page: &str, text: &str, problems: &mut Vec<String>) -> Vec<Block> {
    let mut found = Vec::new();
    let mut pending: Option<(usize, Marker)> = None;
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        if let Some(fence) = line.strip_prefix("```") {
            let mut body = Vec::new();
            let mut closed = false;
            for (_, inner) in lines.by_ref() {
                if inner.trim_end() == "```" {
                    closed = true;
                    break;
                }
                body.push(inner.to_string());
            }
            if !closed {
                problems.push(format!("{page}:{}: unclosed code block", index + 1));
            }
            found.push(Block {
                at: format!("{page}:{}", index + 1),
                info: fence.trim().to_string(),
                body,
                marker: pending.take().map(|(_, marker)| marker),
            });
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((at, _)) = pending.take() {
            problems.push(format!(
                "{page}:{at}: a marker must come right before a code block"
            ));
        }
        match marker(line) {
            Some(Ok(marker)) => pending = Some((index + 1, marker)),
            Some(Err(problem)) => problems.push(format!("{page}:{}: {problem}", index + 1)),
            None => {}
        }
    }
    if let Some((at, _)) = pending {
        problems.push(format!(
            "{page}:{at}: a marker must come right before a code block"
        ));
    }
    found
}

/// A transcript's commands, each with the lines it is quoted to print.
fn commands(block: &Block) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut commands: Vec<(String, Vec<String>)> = Vec::new();
    let mut continued = false;
    for line in &block.body {
        if continued {
            let (command, _) = commands.last_mut().expect("continuing a command");
            command.push('\n');
            command.push_str(line);
            continued = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            commands.push((command.to_string(), Vec::new()));
            continued = command.ends_with('\\');
        } else {
            match commands.last_mut() {
                Some((_, output)) => output.push(line.trim_end().to_string()),
                None => return Err("a console block must start with a `$ ` command".into()),
            }
        }
    }
    if commands.is_empty() {
        return Err("a console block without a `$ ` command".into());
    }
    Ok(commands)
}

/// `cargo run --release [-q] --` at the start of a command is the binary.
fn as_run(command: &str) -> String {
    for prefix in ["cargo run --release -q -- ", "cargo run --release -- "] {
        if let Some(rest) = command.strip_prefix(prefix) {
            return format!("faultline {rest}");
        }
    }
    command.to_string()
}

/// Whether `line` matches `pattern`, where `[..]` matches any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split("[..]").collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `actual` matches `pattern` line by line, where a line `...` matches
/// any number of lines.
fn lines_match(pattern: &[String], actual: &[&str]) -> bool {
    match pattern.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(line, others)| line_matches(first, line) && lines_match(rest, others)),
    }
}

/// Where quoted and printed lines first differ, up to the first `...`.
fn first_difference(quoted: &[String], actual: &[&str]) -> String {
    for (index, pattern) in quoted.iter().enumerate() {
        if pattern == "..." {
            return String::new();
        }
        match actual.get(index) {
            Some(line) if line_matches(pattern, line) => {}
            Some(line) => {
                return format!(
                    " (output line {}: quoted {pattern:?}, printed {line:?})",
                    index + 1
                );
            }
            None => {
                return format!(
                    " (output line {}: quoted {pattern:?}, printed nothing)",
                    index + 1
                );
            }
        }
    }
    match actual.get(quoted.len()) {
        Some(line) => format!(
            " (output line {}: printed {line:?}, quoted nothing)",
            quoted.len() + 1
        ),
        None => String::new(),
    }
}

/// A scratch directory for one page: links to `scenarios/` and `examples/`, and
/// `bin/faultline`.
fn workdir(page: &str) -> PathBuf {
    let name = page.replace(['/', '.'], "_");
    let dir = super::common::scratch("docs", &name);
    for linked in ["scenarios", "examples"] {
        std::os::unix::fs::symlink(root().join(linked), dir.join(linked)).unwrap();
    }
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_faultline"),
        dir.join("bin").join("faultline"),
    )
    .unwrap();
    dir
}

fn run(dir: &Path, command: &str) -> String {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec 2>&1\n{}", as_run(command)))
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .expect("sh runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether a block that is not a transcript looks like one.
fn looks_like_output(block: &Block) -> bool {
    block.body.iter().any(|line| {
        line.starts_with("$ ") || line.starts_with("verdict ") || line.starts_with("reproduce: ")
    })
}

#[test]
fn every_transcript_in_the_readme_and_docs_prints_what_it_quotes() {
    let started = Instant::now();
    let mut problems: Vec<String> = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let (mut transcripts, mut runs) = (0, 0);
    for path in pages() {
        let page = path.strip_prefix(root()).unwrap().display().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut dir: Option<PathBuf> = None;
        for block in blocks(&page, &text, &mut problems) {
            let console = block.info == "console";
            if let Some(Marker::File(name)) = &block.marker {
                if console {
                    problems.push(format!("{}: a `file:` marker on a transcript", block.at));
                    continue;
                }
                let dir = dir.get_or_insert_with(|| workdir(&page));
                let mut contents = block.body.join("\n");
                contents.push('\n');
                std::fs::write(dir.join(name), contents).unwrap();
                continue;
            }
            if !console {
                if looks_like_output(&block) && block.marker.is_none() {
                    problems.push(format!(
                        "{}: this `{}` block looks like a command's output: make it a `console` transcript, or mark it `<!-- not checked: why -->`",
                        block.at, block.info
                    ));
                }
                continue;
            }
            if let Some(Marker::NotChecked(reason)) = &block.marker {
                skipped.push(format!("{} ({reason})", block.at));
                continue;
            }
            let commands = match commands(&block) {
                Ok(commands) => commands,
                Err(problem) => {
                    problems.push(format!("{}: {problem}", block.at));
                    continue;
                }
            };
            transcripts += 1;
            let dir = dir.get_or_insert_with(|| workdir(&page));
            for (command, quoted) in commands {
                runs += 1;
                let printed = run(dir, &command);
                let actual: Vec<&str> = printed.lines().map(str::trim_end).collect();
                if !lines_match(&quoted, &actual) {
                    problems.push(format!(
                        "{}: `{command}` prints something else{}.\n--- quoted:\n{}\n--- printed:\n{}",
                        block.at,
                        first_difference(&quoted, &actual),
                        quoted.join("\n"),
                        actual.join("\n")
                    ));
                }
            }
        }
        if let Some(dir) = dir {
            std::fs::remove_dir_all(dir).ok();
        }
    }
    eprintln!(
        "docs: {transcripts} transcripts, {runs} commands checked in {:.1?}; {} skipped{}",
        started.elapsed(),
        skipped.len(),
        skipped
            .iter()
            .map(|block| format!("\n  not checked: {block}"))
            .collect::<String>()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    assert_eq!(
        skipped.len(),
        SKIPPED,
        "transcripts marked `not checked`: {skipped:#?}; change SKIPPED in tests/docs.rs if that is meant"
    );
    assert!(transcripts > 0, "no transcript found");
}

/// The anchors of a page's headings, as GitHub makes them (code blocks skipped).
fn anchors(text: &str) -> Vec<String> {
    let mut anchors = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let title = line.trim_start_matches('#').trim().to_lowercase();
        anchors.push(
            title
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect(),
        );
    }
    anchors
}

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let mut broken = Vec::new();
    for path in pages() {
        let text = std::fs::read_to_string(&path).unwrap();
        let page = path.strip_prefix(root()).unwrap().display().to_string();
        let mut in_code = false;
        for (index, line) in text.lines().enumerate() {
            if line.starts_with("```") {
                in_code = !in_code;
            }
            if in_code {
                continue;
            }
            for (at, _) in line.match_indices("](") {
                let rest = &line[at + 2..];
                let Some(end) = rest.find(')') else { continue };
                let target = &rest[..end];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let linked = if file.is_empty() {
                    path.clone()
                } else {
                    path.parent().unwrap().join(file)
                };
                let place = format!("{page}:{}: {target}", index + 1);
                if !linked.exists() {
                    broken.push(format!("{place}: no such file"));
                } else if !anchor.is_empty() {
                    let linked_text = std::fs::read_to_string(&linked).unwrap_or_default();
                    if !anchors(&linked_text).iter().any(|known| known == anchor) {
                        broken.push(format!("{place}: no such heading"));
                    }
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_matcher_takes_wildcards_within_lines_and_elided_lines() {
    assert!(line_matches(
        "speed     [..] seeds/s",
        "speed     12.5 seeds/s"
    ));
    assert!(line_matches("a [..] b [..] c", "a 1 b 2 c"));
    assert!(!line_matches("a [..] b [..] c", "a 1 c"));
    assert!(
        !line_matches("ab[..]ba", "aba"),
        "the parts may not overlap"
    );
    assert!(!line_matches("verdict   PASS", "verdict   FAIL"));
    let pattern: Vec<String> = ["first", "...", "last"].map(String::from).into();
    assert!(lines_match(&pattern, &["first", "last"]));
    assert!(lines_match(&pattern, &["first", "x", "y", "last"]));
    assert!(!lines_match(&pattern, &["first", "x"]));
    assert!(!lines_match(&["only".to_string()], &["only", "more"]));
}

#[test]
fn markers_and_blocks_are_read_as_the_rules_say() {
    let text = "intro\n\n<!-- not checked: timing -->\n```console\n$ faultline bench raft\nraft: 1\n```\n\n<!-- file: a.toml -->\n```toml\nx = 1\n```\n\n<!-- not checked: stray -->\nprose\n";
    let mut problems = Vec::new();
    let found = blocks("page.md", text, &mut problems);
    assert_eq!(found.len(), 2);
    assert!(matches!(&found[0].marker, Some(Marker::NotChecked(reason)) if reason == "timing"));
    assert!(matches!(&found[1].marker, Some(Marker::File(name)) if name == "a.toml"));
    assert_eq!(found[1].body, vec!["x = 1".to_string()]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("page.md:14:"), "{problems:?}");
    let transcript = Block {
        at: String::new(),
        info: "console".into(),
        body: [
            "$ faultline fuzz a \\",
            "    --count 2",
            "out",
            "$ b",
            "more",
        ]
        .map(String::from)
        .into(),
        marker: None,
    };
    let commands = commands(&transcript).unwrap();
    assert_eq!(commands[0].0, "faultline fuzz a \\\n    --count 2");
    assert_eq!(commands[0].1, vec!["out".to_string()]);
    assert_eq!(commands[1], ("b".to_string(), vec!["more".to_string()]));
    assert_eq!(
        as_run("cargo run --release -q -- run x.toml"),
        "faultline run x.toml"
    );
    assert_eq!(
        anchors(
            "# Top\n```toml\n# not a heading\n```\n## Drivers: a tester\n## The simulator: `bench token_forward`\n"
        ),
        [
            "top",
            "drivers-a-tester",
            "the-simulator-bench-token_forward"
        ]
    );
}
