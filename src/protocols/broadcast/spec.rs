//! broadcast as the tool sees it: its declarations and how a run is built.

use super::{
    Broadcast, BroadcastBug, BroadcastChecker, BroadcastClient, BroadcastConfig, BroadcastNode,
    BroadcastPoint,
};
use crate::check::Checker;
use crate::sim::NodeFactory;
use crate::spec::declare::bug_names;
use crate::spec::{Declared, ProtocolSpec, Setup};
use std::rc::Rc;

impl ProtocolSpec for Broadcast {
    type Config = BroadcastConfig;
    const NAME: &'static str = "broadcast";
    const SUMMARY: &'static str =
        "gossip broadcast: values stored on a majority before ack, retransmission and anti-entropy";
    const BUGS: &'static [Declared] = BroadcastBug::ALL;
    const PROPERTIES: &'static [Declared] = &[
        Declared::new(
            "validity",
            "always: a node only holds values some client broadcast",
        ),
        Declared::new(
            "delivery",
            "eventually: every acknowledged value is held by every node",
        ),
    ];
    const SOMETIMES: &'static [Declared] = BroadcastPoint::ALL;

    fn active_bugs(config: &BroadcastConfig) -> Vec<String> {
        bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, BroadcastConfig>) -> NodeFactory<Self> {
        let config = setup.config.clone();
        Rc::new(move |_| BroadcastNode::new(&config))
    }

    fn client(setup: &Setup<'_, BroadcastConfig>, index: usize) -> BroadcastClient {
        BroadcastClient::new(index, setup.workload)
    }

    fn checkers(_setup: &Setup<'_, BroadcastConfig>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(BroadcastChecker::default())]
    }
}
