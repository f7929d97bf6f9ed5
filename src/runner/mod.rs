//! Running scenarios: one seed, many seeds, replays, determinism checks and
//! benchmarks.

pub mod bench;
