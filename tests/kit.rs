//! A protocol registered from outside the crate gets the whole command line:
//! this file writes a small one (a durable counter on one server), registers it
//! next to the shipped protocols, and drives `fuzz` and `shrink` through
//! `faultline::cli::run_with_args`, the entry point a user's own binary calls.

use faultline::check::{Checker, Finding};
use faultline::runner::{Entry, ProtocolSpec};
use faultline::sim::{Client, Ctx, Node, NodeFactory, ProcessId, Protocol, Value, World};
use faultline::spec::{Declared, Setup};
use serde::{Deserialize, Serialize};
use std::rc::Rc;

#[derive(Clone, Copy, Debug)]
struct Counter;

#[derive(Clone, Debug, Hash)]
enum Msg {
    Add,
    Added(u64),
}

impl Protocol for Counter {
    type Msg = Msg;
    type Timer = ();
    type Node = CounterNode;
    type Client = Adder;
}

faultline::declare! {
    enum Bug {
        /// The count is kept in memory only: a crash loses acknowledged adds.
        Volatile = "volatile",
    }
}

faultline::declare! {
    enum Point {
        /// The server came back with its count from disk.
        Recovered = "counter_recovered",
    }
}

#[derive(Clone, Debug)]
struct CounterNode {
    durable: bool,
    count: u64,
}

impl Node<Counter> for CounterNode {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Counter>) {}

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Counter>) {
        if let Ok(bytes) = ctx.disk().read("count")
            && bytes.len() == 8
        {
            self.count = u64::from_le_bytes(bytes.try_into().unwrap());
            ctx.sometimes(Point::Recovered);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Counter>, from: ProcessId, _msg: Msg) {
        self.count += 1;
        if self.durable {
            ctx.disk().write("count", self.count.to_le_bytes().to_vec());
            ctx.disk().sync();
        }
        ctx.send(from, Msg::Added(self.count));
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Counter>, _timer: ()) {}
}

/// Adds once every 10 ms while the workload is open, resending an add that
/// has waited 50 ms (the server may have been down); an answer is the count.
#[derive(Clone, Debug, Default)]
struct Adder {
    open: bool,
    waited: u32,
}

impl Client<Counter> for Adder {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Counter>) {
        let tick = faultline::sim::Duration::from_millis(10);
        ctx.set_timer(tick, tick, ());
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Counter>, _from: ProcessId, msg: Msg) {
        if let Msg::Added(count) = msg
            && self.open
        {
            self.open = false;
            ctx.ok("add", None, Value::Int(count as i64));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Counter>, _timer: ()) {
        if ctx.workload_open() && !self.open {
            self.open = true;
            self.waited = 0;
            ctx.invoke("add", None, Value::Nil);
            ctx.send(0, Msg::Add);
        } else if self.open {
            self.waited += 1;
            if self.waited == 5 {
                self.waited = 0;
                ctx.send(0, Msg::Add);
            }
        }
        let tick = faultline::sim::Duration::from_millis(10);
        ctx.set_timer(tick, tick, ());
    }
}

/// Counts never go backwards: an acknowledged count is never answered again.
#[derive(Default)]
struct Monotonic {
    seen: usize,
    highest: i64,
}

impl Checker<Counter> for Monotonic {
    fn name(&self) -> &'static str {
        "monotonic"
    }

    fn after_step(
        &mut self,
        world: &World<Counter>,
        _step: faultline::sim::Step,
    ) -> Option<Finding> {
        let history = world.history();
        for event in &history[self.seen..] {
            if let Value::Int(count) = event.value
                && event.kind == faultline::sim::EventType::Ok
            {
                if count <= self.highest {
                    return Some(Finding::always(
                        "monotonic",
                        format!("count {count} answered after {}", self.highest),
                    ));
                }
                self.highest = count;
            }
        }
        self.seen = history.len();
        None
    }

    fn at_end(&mut self, _world: &World<Counter>) -> Vec<Finding> {
        Vec::new()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    name: String,
    #[serde(default)]
    bugs: Vec<Bug>,
}

impl ProtocolSpec for Counter {
    type Config = Config;
    const NAME: &'static str = "counter";
    const SUMMARY: &'static str = "a durable counter (registered from a test)";
    const BUGS: &'static [Declared] = Bug::ALL;
    const PROPERTIES: &'static [Declared] = &[Declared::new(
        "monotonic",
        "always: acknowledged counts only go up",
    )];
    const SOMETIMES: &'static [Declared] = Point::ALL;
    const GROUPS: &'static [Declared] = &[Declared::new("server", "the node that counts")];

    fn groups(_setup: &Setup<'_, Config>) -> Vec<(&'static str, Vec<usize>)> {
        vec![("server", vec![0])]
    }

    fn active_bugs(config: &Config) -> Vec<String> {
        faultline::spec::declare::bug_names(&config.bugs)
    }

    fn node_factory(setup: &Setup<'_, Config>) -> NodeFactory<Self> {
        let durable = !setup.config.bugs.contains(&Bug::Volatile);
        Rc::new(move |_| CounterNode { durable, count: 0 })
    }

    fn client(_setup: &Setup<'_, Config>, _index: usize) -> Adder {
        Adder::default()
    }

    fn checkers(_setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
        vec![Box::new(Monotonic::default())]
    }
}

fn scenario(dir: &std::path::Path, bugs: &str) -> String {
    let path = dir.join(format!(
        "counter{}.toml",
        if bugs.is_empty() { "" } else { "_volatile" }
    ));
    let text = format!(
        "duration = \"2s\"\nliveness_window = \"200ms\"\n[protocol]\nname = \"counter\"\nbugs = [{bugs}]\n[cluster]\nnodes = 1\n[workload]\nclients = 1\n[nemesis]\nfaults = [\"crash\"]\ninterval = [\"100ms\", \"300ms\"]\nduration = [\"10ms\", \"50ms\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn cli(args: &[&str]) -> i32 {
    let registry = faultline::builtin()
        .with(Entry::of::<Counter>())
        .named("counter-binary");
    let mut all = vec!["counter-binary"];
    all.extend_from_slice(args);
    faultline::cli::run_with_args(&registry, all)
}

#[test]
fn a_protocol_from_outside_the_crate_is_fuzzed_and_shrunk_by_the_library_cli() {
    let dir = crate::common::scratch("kit", "cli");
    let correct = scenario(&dir, "");
    let buggy = scenario(&dir, "\"volatile\"");
    let report = dir.join("report").display().to_string();
    assert_eq!(cli(&["fuzz", &correct, "--count", "30"]), 0);
    assert_eq!(
        cli(&[
            "fuzz",
            &buggy,
            "--count",
            "30",
            "--stop-on-first",
            "--shrink",
            "--report",
            &report
        ]),
        1,
        "fuzzing must find the planted bug"
    );
    let fuzz: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report/fuzz.json")).unwrap())
            .unwrap();
    let seed = fuzz["failures"][0]["seed"]
        .as_u64()
        .expect("a failing seed");
    // The reproduce line names the binary that can run it.
    assert_eq!(
        fuzz["failures"][0]["repro"].as_str(),
        Some(format!("counter-binary run {buggy} --seed {seed}").as_str())
    );
    let shrunk = dir.join(format!("report/shrunk-seed-{seed}.toml"));
    assert!(
        shrunk.exists(),
        "fuzz --shrink wrote no {}",
        shrunk.display()
    );
    // The shrunk file is a scenario of the registered protocol that fails alone.
    assert_eq!(cli(&["run", &shrunk.display().to_string()]), 1);
    let out = dir.join("again.toml").display().to_string();
    assert_eq!(
        cli(&["shrink", &buggy, "--seed", &seed.to_string(), "--out", &out]),
        0
    );
    assert_eq!(cli(&["run", &out]), 1);
    // The shipped protocols are still there, and the new one is listed.
    let listing = faultline::cli::list::listing(&faultline::builtin().with(Entry::of::<Counter>()));
    assert!(
        listing.contains("counter") && listing.contains("volatile") && listing.contains("raft")
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn faults_target_a_group_the_spec_names() {
    let registry = faultline::builtin().with(Entry::of::<Counter>());
    let text = |bugs: &str| {
        format!(
            "duration = \"1s\"\nliveness_window = \"200ms\"\n[protocol]\nname = \"counter\"\nbugs = [{bugs}]\n[cluster]\nnodes = 3\n[workload]\nclients = 1\n[[faults]]\nat = \"500ms\"\nkind = \"crash\"\ntarget = \"@server\"\nduration = \"50ms\"\n"
        )
    };
    let run = |bugs: &str| {
        let file = faultline::scenario::ScenarioFile::from_text("group.toml", text(bugs)).unwrap();
        registry
            .run_file(&file, &faultline::runner::RunOptions::seed(1))
            .unwrap_or_else(|error| panic!("{error}"))
    };
    // The crash hit node 0, the group's one node: a volatile count restarts.
    let buggy = run("\"volatile\"");
    assert!(buggy.summary.stats.faults >= 2, "the crash and its restart");
    assert_eq!(buggy.summary.violations[0].checker, "monotonic");
    let correct = run("");
    assert!(correct.passed(), "{:?}", correct.summary.violations);
    assert_eq!(correct.summary.sometimes.get("counter_recovered"), Some(&1));
    let listing = faultline::cli::list::listing(&registry);
    assert!(
        listing.contains("group  @server: the node that counts"),
        "{listing}"
    );
}

#[test]
fn a_point_fired_a_property_reported_or_a_number_measured_but_not_declared_fails_the_run() {
    #[derive(Clone, Copy, Debug)]
    struct Sloppy;
    impl Protocol for Sloppy {
        type Msg = Msg;
        type Timer = ();
        type Node = SloppyNode;
        type Client = Adder2;
    }
    #[derive(Clone, Debug)]
    struct SloppyNode;
    impl Node<Sloppy> for SloppyNode {
        fn on_start(&mut self, ctx: &mut Ctx<'_, Sloppy>) {
            ctx.sometimes("not_declared_anywhere");
        }
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Sloppy>, _from: ProcessId, _msg: Msg) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Sloppy>, _timer: ()) {}
    }
    #[derive(Clone, Debug)]
    struct Adder2;
    impl Client<Sloppy> for Adder2 {
        fn on_start(&mut self, _ctx: &mut Ctx<'_, Sloppy>) {}
        fn on_message(&mut self, _ctx: &mut Ctx<'_, Sloppy>, _from: ProcessId, _msg: Msg) {}
        fn on_timer(&mut self, _ctx: &mut Ctx<'_, Sloppy>, _timer: ()) {}
    }
    impl ProtocolSpec for Sloppy {
        type Config = Config;
        const NAME: &'static str = "sloppy";
        const SUMMARY: &'static str = "fires a point it does not declare";
        const BUGS: &'static [Declared] = &[];
        const PROPERTIES: &'static [Declared] = &[];
        fn active_bugs(_config: &Config) -> Vec<String> {
            Vec::new()
        }
        fn node_factory(_setup: &Setup<'_, Config>) -> NodeFactory<Self> {
            Rc::new(|_| SloppyNode)
        }
        fn client(_setup: &Setup<'_, Config>, _index: usize) -> Adder2 {
            Adder2
        }
        fn checkers(_setup: &Setup<'_, Config>) -> Vec<Box<dyn Checker<Self>>> {
            vec![Box::new(MadeUp)]
        }
    }
    /// Reports a property nobody declared.
    struct MadeUp;
    impl Checker<Sloppy> for MadeUp {
        fn name(&self) -> &'static str {
            "made_up"
        }
        fn at_end(&mut self, _world: &World<Sloppy>) -> Vec<Finding> {
            vec![Finding::eventually("made_up_property", "always unhappy")]
        }
        fn measures(&self) -> Vec<(&'static str, f64)> {
            vec![("made_up_measure", 1.0)]
        }
    }
    let registry = faultline::runner::Registry::new().with(Entry::of::<Sloppy>());
    let file = faultline::scenario::ScenarioFile::from_text(
        "sloppy.toml",
        "duration = \"10ms\"\n[protocol]\nname = \"sloppy\"\n[cluster]\nnodes = 1\n[workload]\nclients = 0\n".into(),
    )
    .unwrap();
    let outcome = registry
        .run_file(&file, &faultline::runner::RunOptions::seed(1))
        .unwrap();
    let declarations: Vec<&str> = outcome
        .summary
        .violations
        .iter()
        .filter(|violation| violation.checker == "declarations")
        .map(|violation| violation.message.as_str())
        .collect();
    assert_eq!(declarations.len(), 3, "{declarations:?}");
    assert!(
        declarations[0].contains("\"made_up_property\""),
        "{declarations:?}"
    );
    assert!(
        declarations[1].contains("\"not_declared_anywhere\""),
        "{declarations:?}"
    );
    assert!(
        declarations[2].contains("\"made_up_measure\"") && declarations[2].contains("MEASURES"),
        "{declarations:?}"
    );
    assert_eq!(outcome.summary.measured.get("made_up_measure"), Some(&1.0));
}

#[test]
fn a_protocols_measures_reach_the_summary_and_a_sweep() {
    // The lock checker measures the damage of pause_unfenced.toml's seed 1,
    // which docs/locks.md quotes: 2 stale writes, 2 increments lost.
    let file = faultline::scenario::ScenarioFile::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/lock/pause_unfenced.toml"
    ))
    .unwrap();
    let outcome = faultline::builtin()
        .run_file(&file, &faultline::runner::RunOptions::seed(1))
        .unwrap();
    let measured = &outcome.summary.measured;
    assert_eq!(
        measured.get("lock_stale_writes"),
        Some(&2.0),
        "{measured:?}"
    );
    assert_eq!(measured.get("lock_stale_write"), Some(&1.0), "{measured:?}");
    assert_eq!(
        measured.get("lock_lost_increments"),
        Some(&2.0),
        "{measured:?}"
    );
    assert_eq!(
        measured.get("lock_double_holder"),
        Some(&0.0),
        "{measured:?}"
    );
    // A protocol that measures nothing writes no `measured` key.
    let raft = faultline::scenario::ScenarioFile::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/raft/partitions.toml"
    ))
    .unwrap();
    let outcome = faultline::builtin()
        .run_file(&raft, &faultline::runner::RunOptions::seed(1))
        .unwrap();
    let json = serde_json::to_string(&outcome.summary).unwrap();
    assert!(!json.contains("\"measured\""), "{json}");
    // And a sweep can name a measure as its metric.
    let names = faultline::runner::sweep::metric_names(&faultline::builtin());
    assert!(names.contains(&"lock_double_holder"), "{names:?}");
}
