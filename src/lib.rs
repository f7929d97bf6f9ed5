//! faultline: a deterministic simulation testbed for distributed protocols.
//!
//! A whole cluster — every node and every client — runs single-threaded under one
//! seeded virtual clock and one simulated network that injects partitions, drops,
//! duplicates, delays, crashes, pauses, clock skew and disk faults, while checkers
//! verify every run. The same seed and scenario always give the same run, event for
//! event.
//!
//! Layers, dependencies pointing down only:
//!
//! ```text
//! cli (main.rs)     clap commands, exit codes
//! runner            run one seed, fuzz many, replay, determinism check
//! report            summaries, histories, traces
//! scenario          the TOML schema, validation, clear errors
//! protocols         sans-IO nodes and clients, their checkers and planted bugs
//! check             history checking (linearizability), checker traits
//! sim               event queue, virtual time, rng streams, network, disk, faults, trace
//! ```

pub mod check;
pub mod cli;
pub mod protocols;
pub mod registry;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod sim;
pub mod spec;
pub mod workload;

pub use registry::builtin;
