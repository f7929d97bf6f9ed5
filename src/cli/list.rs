//! `faultline list`: protocols, their planted bugs and properties, fault kinds,
//! target selectors and nemesis fault kinds.

use super::exit;
use crate::runner::{PROTOCOLS, ProtocolSpec, ProtocolVisitor, with_protocol};
use crate::scenario::faults::FaultKind;
use crate::sim::Target;

struct Describe;

impl ProtocolVisitor for Describe {
    type Output = String;
    fn visit<S: ProtocolSpec>(self) -> String {
        let mut text = format!("  {:<14} {}\n", S::NAME, S::SUMMARY);
        for (name, statement) in S::PROPERTIES {
            text.push_str(&format!("      check  {name}: {statement}\n"));
        }
        for (name, mistake) in S::BUGS {
            text.push_str(&format!("      bug    {name}: {mistake}\n"));
        }
        text
    }
}

/// The text `faultline list` prints.
pub fn listing() -> String {
    let mut text = String::from("protocols (scenario [protocol] name = ...):\n");
    for name in PROTOCOLS {
        text.push_str(&with_protocol(name, Describe).expect("registered"));
    }
    text.push_str("\nfault kinds ([[faults]] kind = ...):\n");
    for (_, name, what) in FaultKind::ALL {
        text.push_str(&format!("  {name:<19} {what}\n"));
    }
    text.push_str(&format!(
        "\ntargets: a node id, a list of node ids, \"@label\" (the nodes a fault with\n  label = \"...\" hit), or one of {}\n",
        Target::SELECTORS.join(", ")
    ));
    text.push_str(
        "\nnemesis faults ([nemesis] faults = [...]):\n  partition, isolate, bridge, one_way, crash, pause, clock_skew,\n  disk_corrupt, disk_lose_unsynced, disk_fail_read\n",
    );
    text
}

/// Runs `faultline list`.
pub fn run() -> i32 {
    print!("{}", listing());
    exit::OK
}
