//! The simulated world: virtual time, event queue, rng streams, network, disk,
//! faults and the trace hash. `sim` never names a protocol.

pub mod clock;
pub mod crc32c;
pub mod disk;
pub mod fault;
pub mod history;
pub mod network;
pub mod protocol;
pub mod queue;
pub mod rng;
pub mod time;
pub mod trace;
pub mod world;

pub use disk::{Disk, DiskConfig, DiskError};
pub use fault::{ClientPick, Fault, SlowFactor, Target, TimedFault};
pub use history::{EventType, HistoryEvent, Value};
pub use network::{Latency, LongDelay, NetworkConfig, Probability};
pub use protocol::{Admin, Client, Ctx, Node, ProcessId, Protocol, Role, Status, TimerId};
pub use time::{Duration, MILLISECOND, SECOND};
pub use world::{NodeFactory, Step, World, WorldConfig};
