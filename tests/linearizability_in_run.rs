//! The linearizability checker judging runs: a register served by one node is
//! linearizable; the same register read from lagging replicas is not, and the
//! checker says so with an explanation.

use faultline::check::models::Register;
use faultline::check::{Checker, Linearizability};
use faultline::runner::{ProtocolSpec, RunOptions, parse_for, run_scenario};
use faultline::scenario::ScenarioFile;
use faultline::sim::time::Duration;
use faultline::sim::{Client, Ctx, Node, NodeFactory, ProcessId, Protocol, Value};
use faultline::spec::{Declared, Setup};
use rand::Rng as _;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct RegisterService;

#[derive(Clone, Debug, Hash)]
enum Msg {
    Read,
    Write(i64),
    ReadOk(Option<i64>),
    WriteOk,
    Update(i64),
}

impl Protocol for RegisterService {
    type Msg = Msg;
    type Timer = u64;
    type Node = Server;
    type Client = User;
}

#[derive(Clone, Debug, Default)]
struct Server {
    value: Option<i64>,
}

impl Node<RegisterService> for Server {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, RegisterService>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, RegisterService>, from: ProcessId, msg: Msg) {
        match msg {
            Msg::Read => ctx.send(from, Msg::ReadOk(self.value)),
            Msg::Write(value) => {
                self.value = Some(value);
                ctx.send(from, Msg::WriteOk);
                ctx.broadcast(Msg::Update(value)); // replicas learn later
            }
            Msg::Update(value) => self.value = Some(value),
            Msg::ReadOk(_) | Msg::WriteOk => {}
        }
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, RegisterService>, _timer: u64) {}
}

#[derive(Clone, Debug)]
struct User {
    index: i64,
    count: i64,
    stale_reads: bool,
    /// Write values from a small range, so they repeat (the checker's unique-value
    /// register shortcut does not apply and the search decides).
    repeat_values: bool,
    open: Option<(&'static str, Option<i64>)>,
}

impl User {
    fn next(&mut self, ctx: &mut Ctx<'_, RegisterService>) {
        ctx.set_timer(Duration::from_millis(1), Duration::from_millis(10), 0);
    }
}

impl Client<RegisterService> for User {
    fn on_start(&mut self, ctx: &mut Ctx<'_, RegisterService>) {
        self.next(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, RegisterService>, _from: ProcessId, msg: Msg) {
        match (msg, self.open.take()) {
            (Msg::ReadOk(value), Some(("read", _))) => {
                ctx.ok("read", None, value.map_or(Value::Nil, Value::Int))
            }
            (Msg::WriteOk, Some(("write", Some(value)))) => {
                ctx.ok("write", None, Value::Int(value))
            }
            (msg, open) => panic!("unexpected {msg:?} with {open:?} open"),
        }
        self.next(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, RegisterService>, _timer: u64) {
        if !ctx.workload_open() {
            return;
        }
        if ctx.rng().gen_bool(0.5) {
            self.count += 1;
            let value = if self.repeat_values {
                self.count % 3
            } else {
                self.index * 1000 + self.count
            };
            ctx.invoke("write", None, Value::Int(value));
            ctx.send(0, Msg::Write(value));
            self.open = Some(("write", Some(value)));
        } else {
            let nodes = ctx.nodes();
            let server = if self.stale_reads {
                ctx.rng().gen_range(0..nodes)
            } else {
                0
            };
            ctx.invoke("read", None, Value::Nil);
            ctx.send(server, Msg::Read);
            self.open = Some(("read", None));
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Bug {
    StaleReads,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    #[serde(default)]
    bugs: Vec<Bug>,
    /// The in-run checker's state budget. Default its own.
    #[serde(default)]
    max_states: Option<u64>,
    /// Clients write values that repeat.
    #[serde(default)]
    repeat_values: bool,
}

impl ProtocolSpec for RegisterService {
    type Config = Config;
    const NAME: &'static str = "register_service";
    const SUMMARY: &'static str = "one register, reads optionally from lagging replicas";
    const BUGS: &'static [Declared] = &[Declared::new("stale_reads", "reads served by replicas")];
    const PROPERTIES: &'static [Declared] = &[Declared::new("linearizability", "always")];

    fn active_bugs(config: &Config) -> Vec<String> {
        config.bugs.iter().map(|_| "stale_reads".into()).collect()
    }

    fn node_factory(_setup: &Setup<'_, Config>) -> NodeFactory<Self> {
        Rc::new(|_| Server::default())
    }

    fn client(setup: &Setup<'_, Config>, index: usize) -> User {
        let stale_reads = setup.config.bugs.contains(&Bug::StaleReads);
        User {
            index: index as i64 + 1,
            count: 0,
            stale_reads,
            repeat_values: setup.config.repeat_values,
            open: None,
        }
    }

    fn checkers(setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
        let checker = Linearizability::new(Register);
        vec![Box::new(match setup.config.max_states {
            Some(max_states) => checker.max_states(max_states),
            None => checker,
        })]
    }
}

fn run(bugs: &str, seed: u64) -> faultline::runner::RunOutcome {
    let text = format!(
        "duration = \"500ms\"\nliveness_window = \"100ms\"\n[protocol]\nname = \"register_service\"\nbugs = [{bugs}]\n[cluster]\nnodes = 3\n[workload]\nclients = 4\n[network]\nlatency = {{ distribution = \"uniform\", min = \"1ms\", max = \"8ms\" }}\n"
    );
    let file = ScenarioFile::from_text("register.toml", text).unwrap();
    let scenario = parse_for::<RegisterService>(&file).unwrap();
    run_scenario::<RegisterService>(&file, &scenario, &RunOptions::seed(seed))
}

#[test]
fn a_single_server_register_is_linearizable_in_every_run() {
    for seed in 1..=20 {
        let outcome = run("", seed);
        assert!(
            outcome.passed(),
            "seed {seed}: {:?}",
            outcome.summary.violations
        );
        assert!(
            outcome.summary.stats.operations.ok > 100,
            "seed {seed}: too few operations"
        );
    }
}

#[test]
fn reads_from_lagging_replicas_are_caught_with_an_explanation() {
    let outcome = run("\"stale_reads\"", 1);
    let violation = outcome
        .summary
        .violations
        .first()
        .expect("stale reads must be caught");
    assert_eq!(violation.checker, "linearizability");
    assert_eq!(violation.property, "always");
    assert!(
        violation.message.contains("not linearizable"),
        "{}",
        violation.message
    );
    assert!(
        violation.message.contains("longest linearizable prefix"),
        "{}",
        violation.message
    );
}

#[test]
fn a_history_the_budget_cannot_decide_is_its_own_verdict_not_a_violation() {
    let outcome = run("]\nmax_states = 1\nrepeat_values = true\n#", 1);
    assert_eq!(
        outcome.summary.verdict,
        faultline::report::Verdict::Undecided
    );
    let first = &outcome.summary.violations[0];
    assert_eq!(
        (first.property.as_str(), first.name.as_str()),
        ("undecided", "linearizability")
    );
    assert!(first.message.contains("check-history"), "{}", first.message);
}
