//! `token_forward`: tokens hop between nodes at random — the simulator's speed
//! benchmark, and the smallest complete protocol.
//!
//! Node 0 injects `tokens` tokens at time 0; every node that receives a token
//! forwards it to one of the other nodes, chosen with its own rng. Nothing is ever
//! written to disk, and there are no clients. With 5 nodes, 100 tokens, a fixed
//! 1 ms latency and no faults, 10 virtual seconds hold exactly 999,900 deliveries
//! (each token hops at 1 ms, 2 ms, ..., 9,999 ms). Under faults tokens are lost
//! (drops, cut links, crashes) or multiplied (duplicates); its checker counts
//! tokens, and a crashed node that restarts simply holds none.
//!
//! Planted bug `nondeterministic`: the next hop comes from a process-wide counter
//! instead of the node's seeded stream, so two runs of the same seed in one process
//! differ — the mistake `--check-determinism` exists to catch (a global, a clock
//! or a hash-map order leaking into protocol decisions).

mod spec;

pub use spec::{TokenForwardBug, TokenForwardConfig, bench};

use crate::sim::rng::below;
use crate::sim::{Client, Ctx, Node, ProcessId, Protocol};
use std::sync::atomic::{AtomicU64, Ordering};

/// The unseeded state the `nondeterministic` bug reads: a count of every hop
/// any node in this process chose, and of the runs node 0 started in it. The
/// second keeps the bug visible whatever a run's hop count (a run of a
/// multiple of the node count would otherwise leave the first counter where
/// the next run finds the same pattern).
static PROCESS_WIDE_COUNTER: AtomicU64 = AtomicU64::new(0);
static PROCESS_WIDE_RUNS: AtomicU64 = AtomicU64::new(0);

/// The token_forward protocol's types.
#[derive(Clone, Copy, Debug)]
pub struct TokenForward;

/// A token node.
#[derive(Clone, Debug)]
pub struct TokenNode {
    /// Tokens to inject (node 0 only).
    pub inject: u32,
    /// Tokens this node has forwarded.
    pub forwarded: u64,
    /// The planted `nondeterministic` bug is on.
    pub nondeterministic: bool,
}

/// token_forward has no clients; this type is never instantiated.
#[derive(Clone, Debug)]
pub struct NoClient;

impl Protocol for TokenForward {
    type Msg = u32;
    type Timer = ();
    type Node = TokenNode;
    type Client = NoClient;
}

impl TokenNode {
    /// A node; only node 0 injects.
    pub fn new(id: usize, tokens: u32) -> Self {
        TokenNode {
            inject: if id == 0 { tokens } else { 0 },
            forwarded: 0,
            nondeterministic: false,
        }
    }

    #[inline]
    fn forward(&mut self, ctx: &mut Ctx<'_, TokenForward>, token: u32) {
        let nodes = ctx.nodes();
        if nodes < 2 {
            return;
        }
        // One of the other nodes, uniformly.
        let mut to = if self.nondeterministic {
            let hops = PROCESS_WIDE_COUNTER.fetch_add(1, Ordering::Relaxed);
            let runs = PROCESS_WIDE_RUNS.load(Ordering::Relaxed);
            ((hops + runs) % (nodes as u64 - 1)) as usize
        } else {
            below(ctx.rng(), nodes as u32 - 1) as usize
        };
        if to >= ctx.id() {
            to += 1;
        }
        self.forwarded += 1;
        ctx.send(to, token);
    }
}

impl Node<TokenForward> for TokenNode {
    fn on_start(&mut self, ctx: &mut Ctx<'_, TokenForward>) {
        if self.nondeterministic && ctx.id() == 0 {
            PROCESS_WIDE_RUNS.fetch_add(1, Ordering::Relaxed);
        }
        for token in 0..self.inject {
            self.forward(ctx, token);
        }
    }

    fn on_restart(&mut self, _ctx: &mut Ctx<'_, TokenForward>) {
        // A restarted node holds no tokens and injects none.
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut Ctx<'_, TokenForward>, _from: ProcessId, token: u32) {
        self.forward(ctx, token);
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, TokenForward>, _timer: ()) {}
}

impl Client<TokenForward> for NoClient {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, TokenForward>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, TokenForward>, _from: ProcessId, _msg: u32) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, TokenForward>, _timer: ()) {}
}
