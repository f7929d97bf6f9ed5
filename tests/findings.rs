//! A protocol that panics or breaks its own assertion inside a simulation is a
//! finding of that seed — reported as a violation with the node, the virtual time
//! and the event index — never a crash of the tool.

use faultline::check::Checker;
use faultline::runner::{ProtocolSpec, RunOptions, parse_for, run_scenario};
use faultline::scenario::ScenarioFile;
use faultline::sim::time::Duration;
use faultline::sim::{Client, Ctx, Node, NodeFactory, ProcessId, Protocol};
use faultline::spec::{Declared, Setup};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Fragile;

#[derive(Clone, Debug)]
struct Counter {
    seen: u64,
}

#[derive(Clone, Debug)]
struct Idle;

impl Protocol for Fragile {
    type Msg = u64;
    type Timer = ();
    type Node = Counter;
    type Client = Idle;
}

impl Node<Fragile> for Counter {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Fragile>) {
        ctx.set_timer(Duration::from_millis(5), Duration::from_millis(5), ());
    }

    fn on_message(&mut self, _ctx: &mut Ctx<'_, Fragile>, _from: ProcessId, count: u64) {
        self.seen += 1;
        assert!(
            count < 7,
            "counter reached {count}: the invariant count < 7 broke"
        );
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Fragile>, _timer: ()) {
        let count = self.seen + 1;
        ctx.broadcast(count);
        ctx.set_timer(Duration::from_millis(5), Duration::from_millis(5), ());
    }
}

impl Client<Fragile> for Idle {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Fragile>) {}
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Fragile>, _from: ProcessId, _msg: u64) {}
    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Fragile>, _timer: ()) {}
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
}

impl ProtocolSpec for Fragile {
    type Config = Config;
    const NAME: &'static str = "fragile";
    const SUMMARY: &'static str = "asserts an invariant that breaks";
    const BUGS: &'static [Declared] = &[];
    const PROPERTIES: &'static [Declared] = &[];

    fn active_bugs(_config: &Config) -> Vec<String> {
        Vec::new()
    }
    fn node_factory(_setup: &Setup<'_, Config>) -> NodeFactory<Self> {
        Rc::new(|_| Counter { seen: 0 })
    }
    fn client(_setup: &Setup<'_, Config>, _index: usize) -> Idle {
        Idle
    }
    fn checkers(_setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
        Vec::new()
    }
}

#[test]
fn a_failed_assertion_in_a_node_is_reported_as_a_finding_with_its_seed() {
    let text = "duration = \"1s\"\n[protocol]\nname = \"fragile\"\n[cluster]\nnodes = 2\n[workload]\nclients = 0\n[network]\nlatency = { distribution = \"constant\", value = \"1ms\" }\n";
    let file = ScenarioFile::from_text("fragile.toml", text.to_string()).unwrap();
    let scenario = parse_for::<Fragile>(&file).unwrap();
    let outcome = run_scenario::<Fragile>(&file, &scenario, &RunOptions::seed(42));
    assert!(!outcome.passed());
    let violation = &outcome.summary.violations[0];
    assert_eq!(violation.checker, "panic");
    assert_eq!(violation.property, "always");
    assert!(
        violation.message.starts_with("node "),
        "{}",
        violation.message
    );
    assert!(
        violation.message.contains("panicked handling message"),
        "{}",
        violation.message
    );
    assert!(
        violation.message.contains("the invariant count < 7 broke"),
        "{}",
        violation.message
    );
    assert!(
        violation.message.contains("tests/findings.rs:"),
        "the location is kept: {}",
        violation.message
    );
    assert!(violation.time > 0 && violation.event > 0);
    assert_eq!(
        outcome.summary.repro,
        "faultline run fragile.toml --seed 42"
    );
    // The same seed finds it again at the same place.
    let again = run_scenario::<Fragile>(&file, &scenario, &RunOptions::seed(42));
    assert_eq!(again.summary.violations, outcome.summary.violations);
    assert_eq!(again.summary.trace_hash, outcome.summary.trace_hash);
}
