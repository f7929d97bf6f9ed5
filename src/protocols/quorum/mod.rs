//! `quorum`: a Dynamo-style quorum store on a consistent-hash ring (issue 17).
//! Under construction: this module holds the parts the protocol is built
//! from, each tested on its own; the replicas, coordinators, repair paths,
//! clients and checkers come next, and the protocol is not registered until
//! they do.
//!
//! - [`ring`]: where keys live. Three placements behind one interface — a
//!   consistent-hash ring with virtual nodes (Karger et al.; Dynamo's
//!   preference lists: the first N distinct nodes clockwise), `mod N`, and
//!   jump consistent hashing (Lamping and Veach) — with joins and leaves, and
//!   the measures the issue compares them by: each node's share of the key
//!   space and the keys that move when membership changes.
//! - [`version`]: vector clocks with siblings (concurrent writes kept for the
//!   client to merge), and the last-write-wins stamps of the dangerous
//!   alternative.
//! - [`merkle`]: the Merkle trees of anti-entropy, and the XOR leaf of a
//!   planted bug that lets differences cancel.
//! - [`record`]: the replicas' stored records, checked on every read by a
//!   CRC32C that covers the key (so a misdirected record fails like a flipped
//!   bit), and the two weak checks of planted bugs (an additive checksum; a
//!   check that leaves the key out).
//! - [`pbs`]: Probabilistically Bounded Staleness's WARS model (Bailis et
//!   al.), the oracle the store's measured staleness will be set beside, with
//!   the authors' latency fits.

pub mod merkle;
pub mod pbs;
pub mod record;
pub mod ring;
pub mod version;
