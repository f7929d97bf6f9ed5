//! The simulated world: virtual time, event queue, rng streams, network, disk,
//! faults and the trace hash. `sim` never names a protocol.

pub mod history;
