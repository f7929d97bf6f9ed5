//! Mutations that know nothing of the format: truncation, bit flips, hostile
//! byte insertions, whole-file replacements. Shared by the scenario and the
//! history generators.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Byte sequences a hostile or broken file may hold: NUL, bytes that are never
/// UTF-8, an overlong encoding, a lone continuation byte, bidirectional
/// overrides and isolates, a BOM, line and page controls, a terminal escape,
/// the Unicode line separators, TOML/JSON/EDN delimiters, a long line.
pub const HOSTILE: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xfe\xff",
    b"\xc0\x80",
    b"\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    "\u{202e}".as_bytes(),
    "\u{2066}".as_bytes(),
    "\u{feff}".as_bytes(),
    b"\r",
    b"\r\n",
    b"\x0c",
    b"\x0b",
    b"\x1b[2J",
    "\u{85}".as_bytes(),
    "\u{2028}".as_bytes(),
    "\u{1f980}".as_bytes(),
    b"\t",
    b"\n",
    b"\"",
    b"'",
    b"[",
    b"]",
    b"{",
    b"}",
    b"=",
    b"#",
    b";",
    b"\\",
    b"\\u",
    b"'''",
    b"\"\"\"",
];

/// Cuts the bytes at a random offset (possibly inside a UTF-8 sequence).
pub fn truncate(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    let at = rng.gen_range(0..=bytes.len());
    bytes.truncate(at);
}

/// Flips one to eight random bits.
pub fn flip(rng: &mut ChaCha8Rng, bytes: &mut [u8]) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..rng.gen_range(1..=8) {
        let at = rng.gen_range(0..bytes.len());
        bytes[at] ^= 1 << rng.gen_range(0..8);
    }
}

/// Inserts one to four hostile sequences at random offsets; now and then a
/// line of 100,000 characters.
pub fn insert(rng: &mut ChaCha8Rng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.gen_range(1..=4) {
        let at = rng.gen_range(0..=bytes.len());
        let piece: Vec<u8> = if rng.gen_ratio(1, 40) {
            vec![b'a'; 100_000]
        } else {
            HOSTILE[rng.gen_range(0..HOSTILE.len())].to_vec()
        };
        bytes.splice(at..at, piece);
    }
}

/// A whole file of something else: nothing, blanks, a MiB of NUL bytes (what
/// `/dev/zero` gives), a BOM, random bytes, the other format's text.
pub fn whole(rng: &mut ChaCha8Rng, other: &str) -> Vec<u8> {
    match rng.gen_range(0..8) {
        0 => Vec::new(),
        1 => b"\n\n  \n\t\n".to_vec(),
        2 => vec![0; 1 << 20],
        3 => "\u{feff}".as_bytes().to_vec(),
        4 => (0..rng.gen_range(1..4096)).map(|_| rng.r#gen()).collect(),
        5 => other.as_bytes().to_vec(),
        6 => "\u{202e}\u{2066}\r\r\r".as_bytes().to_vec(),
        _ => b"#".repeat(rng.gen_range(1..100_000)),
    }
}
