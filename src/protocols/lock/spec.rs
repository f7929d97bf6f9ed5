//! lock as the tool sees it: its declarations, its checks of the `[protocol]`
//! table, and how a run is built.

use super::{LockBug, LockChecker, LockClient, LockConfig, LockDesign, LockPoint, LockService};
use crate::check::Checker;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::{Declared, Invalid, ProtocolSpec, Setup};
use std::rc::Rc;

const POINTS: [Declared; LockPoint::ALL.len() + crate::protocols::raft::RaftPoint::ALL.len()] =
    crate::spec::declare::join::<
        { LockPoint::ALL.len() + crate::protocols::raft::RaftPoint::ALL.len() },
    >(LockPoint::ALL, crate::protocols::raft::RaftPoint::ALL);

impl ProtocolSpec for LockService {
    type Config = LockConfig;
    const NAME: &'static str = "lock";
    const SUMMARY: &'static str = "distributed locks with leases (one server, or Redlock) guarding a resource that may check fencing tokens";
    const BUGS: &'static [Declared] = LockBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "resource_safe",
            "always: the resource never accepts an operation under a grant after one under a later grant (the damage is measured)",
        ),
        Declared::new(
            "tokens_increase",
            "always: a grant's token is above every token granted before it was asked for",
        ),
        Declared::new(
            "lease_exclusive",
            "always, while no clock jumps or drifts beyond half the lease's margin: no two clients act under unexpired leases at once",
        ),
        Declared::new(
            "operations_complete",
            "eventually: after the heal every acquire, incr and release has finished",
        ),
        Declared::new(
            "regranted_after_heal",
            "eventually: after the heal a waiting client is granted the lock within one TTL, two elections, an expiry check and a critical section, unless every waiter gave up first",
        ),
    ];
    const MEASURES: &'static [Declared] = &[
        Declared::new(
            "lock_double_holder",
            "a double holder: two clients acting under unexpired leases (1) or not (0)",
        ),
        Declared::new(
            "lock_double_holder_episodes",
            "times two clients acted under unexpired leases per run",
        ),
        Declared::new(
            "lock_stale_write",
            "a stale write accepted by the resource (1) or not (0)",
        ),
        Declared::new(
            "lock_stale_writes",
            "stale writes the resource accepted per run",
        ),
        Declared::new(
            "lock_lost_increments",
            "increments lost per run (writes applied minus the final counter)",
        ),
    ];
    // The embedded Raft marks its own points through the nested context.
    const SOMETIMES: &'static [Declared] = &POINTS;
    const UNREACHED: &'static [(&'static str, &'static str)] = &[
        (
            "raft_committed_previous_term_by_counting",
            "fires only with Raft's planted bug commit_previous_term, which the lock does not switch on",
        ),
        (
            "raft_corruption_detected",
            "the consensus campaign injects no disk faults (Raft's own campaigns cover its disk handling)",
        ),
        (
            "raft_disk_read_retried",
            "the consensus campaign injects no disk faults (Raft's own campaigns cover its disk handling)",
        ),
        (
            "raft_disk_read_deferred",
            "the consensus campaign injects no disk faults (Raft's own campaigns cover its disk handling)",
        ),
        (
            "raft_pre_vote_won",
            "the embedded Raft runs without pre-vote",
        ),
        (
            "raft_snapshot_taken",
            "an embedded Raft takes no snapshots (the lock table is not in Raft's snapshot)",
        ),
        (
            "raft_snapshot_sent",
            "an embedded Raft takes no snapshots (the lock table is not in Raft's snapshot)",
        ),
        (
            "raft_snapshot_installed",
            "an embedded Raft takes no snapshots (the lock table is not in Raft's snapshot)",
        ),
        (
            "raft_restarted_from_snapshot",
            "an embedded Raft takes no snapshots (the lock table is not in Raft's snapshot)",
        ),
        (
            "raft_retry_answered_from_session",
            "Raft's key/value sessions are not used: the lock table de-duplicates acquires itself",
        ),
        (
            "lock_stale_token_accepted",
            "needs tokens with fencing off (design single, fencing = false): scenarios/lock/pause_unfenced.toml fires it; the campaigns keep fencing on (single) or have no token (redlock)",
        ),
    ];
    const GROUPS: &'static [Declared] = &[
        Declared::new("servers", "the lock servers"),
        Declared::new("resource", "the guarded resource"),
    ];

    fn validate(setup: &Setup<'_, LockConfig>) -> Result<(), Invalid> {
        let config = setup.config;
        let servers = config.server_count(setup.nodes);
        let nodes = setup.nodes;
        match config.design {
            LockDesign::Single if servers != 1 => {
                return Err(Invalid::key(
                    "protocol.servers",
                    format!("the single design has exactly 1 lock server, got {servers}"),
                ));
            }
            LockDesign::Redlock | LockDesign::Consensus if servers < 3 => {
                return Err(Invalid::key(
                    "protocol.servers",
                    format!(
                        "the {} design needs at least 3 servers, got {servers}",
                        config.design.name()
                    ),
                ));
            }
            _ => {}
        }
        if servers + 1 != nodes {
            return Err(Invalid::key(
                "cluster.nodes",
                format!(
                    "the {} design with {servers} lock server{} needs {} nodes ({servers} server{} and the resource), got {nodes}",
                    config.design.name(),
                    if servers == 1 { "" } else { "s" },
                    servers + 1,
                    if servers == 1 { "" } else { "s" },
                ),
            ));
        }
        if config.design == LockDesign::Redlock && config.fencing == Some(true) {
            return Err(Invalid::key(
                "protocol.fencing",
                "Redlock has no fencing token (each server counts its own grants), so the resource cannot check one; use fencing = false, or design = \"single\"",
            ));
        }
        if config.design != LockDesign::Consensus && config.wake != super::Wake::Queue {
            return Err(Invalid::key(
                "protocol.wake",
                "wake applies to the consensus design only (single and redlock have no queue)",
            ));
        }
        if config.design != LockDesign::Consensus
            && (config.election_timeout != crate::protocols::kv::defaults::election_timeout()
                || config.heartbeat_interval
                    != crate::protocols::kv::defaults::heartbeat_interval())
        {
            return Err(Invalid::key(
                "protocol.election_timeout",
                "election_timeout and heartbeat_interval apply to the consensus design only",
            ));
        }
        if config.design == LockDesign::Consensus
            && config.heartbeat_interval.0 * 2 > config.election_timeout.min.0
        {
            return Err(Invalid::key(
                "protocol.heartbeat_interval",
                format!(
                    "expected heartbeats at least twice per election timeout (election_timeout starts at {})",
                    config.election_timeout.min
                ),
            ));
        }
        if config.ttl.0 == 0 {
            return Err(Invalid::key("protocol.ttl", "expected a TTL above 0"));
        }
        let drift = config.drift();
        if drift.0 >= config.ttl.0 {
            return Err(Invalid::key(
                "protocol.ttl",
                format!(
                    "the validity margin (ttl/100 + 2ms = {drift}) is not below the TTL {}: no grant could ever be valid",
                    config.ttl
                ),
            ));
        }
        if config.hold.max.0 >= config.ttl.0 - drift.0 {
            return Err(Invalid::key(
                "protocol.hold",
                format!(
                    "the critical section (up to {}) must be shorter than the lease's validity ({} = ttl − margin)",
                    config.hold.max,
                    crate::sim::time::Duration(config.ttl.0 - drift.0)
                ),
            ));
        }
        if config.retries == 0 {
            return Err(Invalid::key(
                "protocol.retries",
                "expected at least 1 attempt",
            ));
        }
        if config.server_timeout.0 == 0 {
            return Err(Invalid::key(
                "protocol.server_timeout",
                "expected a timeout above 0",
            ));
        }
        if config.resend_interval.0 == 0 {
            return Err(Invalid::key(
                "protocol.resend_interval",
                "expected an interval above 0",
            ));
        }
        Ok(())
    }

    fn active_bugs(config: &LockConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, LockConfig>) -> NodeFactory<Self> {
        let config = Rc::new(setup.config.clone());
        let servers = config.server_count(setup.nodes);
        Rc::new(move |id| super::server::node(&config, servers, id))
    }

    fn client(setup: &Setup<'_, LockConfig>, index: usize) -> LockClient {
        let servers = setup.config.server_count(setup.nodes);
        LockClient::new(
            Rc::new(setup.config.clone()),
            index,
            servers,
            setup.workload,
        )
    }

    fn checkers(setup: &Setup<'_, LockConfig>) -> Vec<Box<dyn Checker<Self>>> {
        let servers = setup.config.server_count(setup.nodes);
        vec![Box::new(
            LockChecker::new(
                setup.config.design,
                servers,
                setup.nodes,
                setup.config.ttl,
                setup.config.drift(),
            )
            .with_regrant_bound(LockChecker::regrant_bound(setup.config)),
        )]
    }

    fn groups(setup: &Setup<'_, LockConfig>) -> Vec<(&'static str, Vec<usize>)> {
        let servers = setup.config.server_count(setup.nodes);
        vec![
            ("servers", (0..servers).collect()),
            ("resource", vec![servers]),
        ]
    }
}
