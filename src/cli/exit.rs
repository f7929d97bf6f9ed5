//! Exit codes, as documented in the README.

/// All checks passed.
pub const OK: i32 = 0;
/// A check failed (safety or liveness), or a protocol panicked (a finding).
pub const CHECK_FAILED: i32 = 1;
/// Bad usage, a bad scenario file, or a malformed input file.
pub const BAD_INPUT: i32 = 2;
/// Nondeterminism detected: the same seed gave two different traces.
pub const NONDETERMINISM: i32 = 3;
/// Internal error of the tool itself (I/O failure writing a report, ...).
pub const INTERNAL: i32 = 4;
