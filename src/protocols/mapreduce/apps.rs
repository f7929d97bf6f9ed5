//! The applications, their input, and the sequential run the checker compares
//! a job's output with.
//!
//! The input is text generated from `text_seed`: `inputs` splits (the lab's
//! `pg-*.txt` books) of `words` words each, drawn from a vocabulary of made-up
//! words with Zipf's law (word k has weight 1/k), so a few words are frequent
//! and most are rare, as in prose. The same functions do the work inside the
//! simulated workers and in [`sequential`], which is the lab's `mrsequential`:
//! one process, every map in input order, then every reduce.

use super::App;
use crate::sim::rng::stream;
use rand::Rng as _;
use std::collections::BTreeMap;
use std::rc::Rc;

/// One input split: its name (the lab's file name) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// `pg-0.txt`, `pg-1.txt`, ...
    pub name: Rc<str>,
    /// The text.
    pub text: Rc<str>,
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ner", "sa", "tu", "vo", "ri", "en", "da", "pe", "gol", "an", "ith", "or",
    "bel", "cu", "fa", "hi", "jo", "ul", "wy", "xe", "zo",
];

/// The `index`-th word of the vocabulary: its syllables spell `index` in base
/// 24, so every word differs.
fn word(index: usize) -> String {
    let mut word = String::new();
    let mut rest = index + 1;
    while rest > 0 {
        word.push_str(SYLLABLES[rest % SYLLABLES.len()]);
        rest /= SYLLABLES.len();
    }
    word
}

/// The job's input: `inputs` splits of `words` words over a vocabulary of
/// `vocabulary` words, drawn from the stream of `text_seed`.
pub fn generate(text_seed: u64, inputs: usize, words: usize, vocabulary: usize) -> Vec<Split> {
    let vocabulary = vocabulary.max(1);
    let dictionary: Vec<String> = (0..vocabulary).map(word).collect();
    // Zipf: cumulative weights 1/1, 1/2, ... searched by bisection.
    let mut cumulative = Vec::with_capacity(vocabulary);
    let mut total = 0.0;
    for k in 1..=vocabulary {
        total += 1.0 / k as f64;
        cumulative.push(total);
    }
    (0..inputs)
        .map(|index| {
            let mut rng = stream(text_seed, "mapreduce-text", index as u64);
            let mut text = String::new();
            for position in 0..words {
                let draw = rng.r#gen::<f64>() * total;
                let k = cumulative
                    .partition_point(|&c| c < draw)
                    .min(vocabulary - 1);
                text.push_str(&dictionary[k]);
                // Lines of about ten words, with some punctuation the map
                // function must split on.
                text.push(match position % 10 {
                    9 => '\n',
                    4 => ',',
                    _ => ' ',
                });
                if position % 10 == 4 {
                    text.push(' ');
                }
            }
            Split {
                name: format!("pg-{index}.txt").into(),
                text: text.into(),
            }
        })
        .collect()
}

/// The lab's `ihash`: FNV-1a over the key's bytes, masked to 31 bits.
pub fn ihash(key: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash & 0x7fff_ffff
}

/// The reduce partition of `key` among `partitions`.
pub fn partition(key: &str, partitions: usize) -> usize {
    ihash(key) as usize % partitions
}

/// The words of `text`: maximal runs of letters.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphabetic())
        .filter(|word| !word.is_empty())
}

/// The map function of `app` over one split: its key/value pairs, in the order
/// the function emits them.
pub fn map(app: App, split: &Split) -> Vec<(String, String)> {
    match app {
        App::Wc => words(&split.text)
            .map(|word| (word.to_string(), "1".to_string()))
            .collect(),
        App::Indexer => {
            let distinct: std::collections::BTreeSet<&str> = words(&split.text).collect();
            distinct
                .into_iter()
                .map(|word| (word.to_string(), split.name.to_string()))
                .collect()
        }
    }
}

/// The reduce function of `app` over one key's values.
pub fn reduce(app: App, values: &[String]) -> String {
    match app {
        App::Wc => values.len().to_string(),
        App::Indexer => {
            let mut documents: Vec<&str> = values.iter().map(String::as_str).collect();
            documents.sort_unstable();
            documents.dedup();
            format!("{} {}", documents.len(), documents.join(","))
        }
    }
}

/// One map task's intermediate output for each of `partitions` reduce
/// partitions: the pairs that hash there, one `key value` line each.
pub fn intermediate(app: App, split: &Split, partitions: usize) -> Vec<Vec<u8>> {
    let mut buckets = vec![Vec::new(); partitions];
    for (key, value) in map(app, split) {
        let bucket = &mut buckets[partition(&key, partitions)];
        bucket.extend_from_slice(key.as_bytes());
        bucket.push(b' ');
        bucket.extend_from_slice(value.as_bytes());
        bucket.push(b'\n');
    }
    buckets
}

/// A reduce task's output from the intermediate files of every map for its
/// partition: keys in sorted order, one `key result` line each (the lab's
/// `mr-out-X` format). `None` if an intermediate file is not well formed.
pub fn reduce_partition(app: App, inputs: &[&[u8]]) -> Option<Vec<u8>> {
    let mut grouped: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for input in inputs {
        let text = std::str::from_utf8(input).ok()?;
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            grouped.entry(key).or_default().push(value.to_string());
        }
    }
    let mut out = Vec::new();
    for (key, values) in grouped {
        out.extend_from_slice(key.as_bytes());
        out.push(b' ');
        out.extend_from_slice(reduce(app, &values).as_bytes());
        out.push(b'\n');
    }
    Some(out)
}

/// The sequential run: every partition's output, computed in one process.
pub fn sequential(app: App, splits: &[Split], partitions: usize) -> Vec<Vec<u8>> {
    let maps: Vec<Vec<Vec<u8>>> = splits
        .iter()
        .map(|split| intermediate(app, split, partitions))
        .collect();
    (0..partitions)
        .map(|r| {
            let inputs: Vec<&[u8]> = maps.iter().map(|m| m[r].as_slice()).collect();
            reduce_partition(app, &inputs).expect("intermediate files are well formed")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_text_is_deterministic_and_zipf_like() {
        let a = generate(7, 3, 500, 200);
        assert_eq!(a, generate(7, 3, 500, 200));
        assert_ne!(a, generate(8, 3, 500, 200));
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for split in &a {
            for w in words(&split.text) {
                *counts.entry(w).or_default() += 1;
            }
        }
        assert_eq!(counts.values().sum::<usize>(), 1500);
        let most = counts.values().max().copied().unwrap();
        // Zipf over 200 words: the first word's share is 1/H(200) ≈ 17%.
        assert!((150..400).contains(&most), "{most}");
    }

    #[test]
    fn word_count_and_index_match_a_direct_count() {
        let splits = vec![
            Split {
                name: "a".into(),
                text: "the cat, the hat\n".into(),
            },
            Split {
                name: "b".into(),
                text: "a cat".into(),
            },
        ];
        let out: Vec<u8> = sequential(App::Wc, &splits, 1).concat();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a 1\ncat 2\nhat 1\nthe 2\n"
        );
        let out: Vec<u8> = sequential(App::Indexer, &splits, 1).concat();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a 1 b\ncat 2 a,b\nhat 1 a\nthe 1 a\n"
        );
        // Partitioning splits the same lines among the outputs.
        let mut lines: Vec<String> = sequential(App::Wc, &splits, 3)
            .iter()
            .flat_map(|p| {
                String::from_utf8(p.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        lines.sort();
        assert_eq!(lines, ["a 1", "cat 2", "hat 1", "the 2"]);
    }

    #[test]
    fn ihash_is_fnv1a() {
        // FNV-1a of the empty string is the offset basis (masked).
        assert_eq!(ihash(""), 0x811c_9dc5 & 0x7fff_ffff);
        assert_eq!(ihash("a"), 0xe40c_292c & 0x7fff_ffff);
    }
}
