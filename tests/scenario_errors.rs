//! Bad scenario files give one clear error naming the file, the line, the key and
//! what is allowed — never a panic, and exit code 2 from the CLI.

use crate::common::validate_file;
use faultline::scenario::{ScenarioError, ScenarioFile};

const BASE: &str =
    "duration = \"2s\"\n\n[protocol]\nname = \"broadcast\"\n\n[cluster]\nnodes = 5\n";

fn error_of(text: &str) -> ScenarioError {
    let file = match ScenarioFile::from_text("bad.toml", text.to_string()) {
        Ok(file) => file,
        Err(error) => return error,
    };
    validate_file(&file).expect_err("the scenario should be rejected")
}

fn line_of(text: &str, needle: &str) -> usize {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the scenario"));
    text[..offset].matches('\n').count() + 1
}

/// Asserts the error names `key`, points at the line holding `needle` (when
/// given), and says `expected`.
fn assert_error(text: &str, needle: Option<&str>, key: &str, expected: &str) {
    let error = error_of(text);
    let shown = error.to_string();
    assert_eq!(error.file, "bad.toml", "{shown}");
    assert_eq!(error.key.as_deref(), Some(key), "wrong key in: {shown}");
    if let Some(needle) = needle {
        assert_eq!(
            error.line,
            Some(line_of(text, needle)),
            "wrong line in: {shown}"
        );
        assert!(
            shown.starts_with(&format!("bad.toml:{}:", line_of(text, needle))),
            "{shown}"
        );
    }
    assert!(
        shown.contains(expected),
        "expected {expected:?} in: {shown}"
    );
}

#[test]
fn an_unknown_top_level_key_is_named_with_its_line() {
    let text = format!("durration = \"1s\"\n{BASE}");
    assert_error(
        &text,
        Some("durration"),
        "durration",
        "unknown field `durration`",
    );
}

#[test]
fn an_unknown_key_inside_a_table_is_named_with_its_table() {
    let text = format!("{BASE}\n[network]\ndropp = 0.1\n");
    assert_error(
        &text,
        Some("dropp"),
        "network.dropp",
        "unknown field `dropp`",
    );
}

#[test]
fn a_probability_above_one_is_rejected() {
    let text = format!("{BASE}\n[network]\ndrop_probability = 1.5\n");
    assert_error(
        &text,
        Some("1.5"),
        "network.drop_probability",
        "expected a probability in [0, 1], got 1.5",
    );
}

#[test]
fn a_negative_probability_is_rejected() {
    let text = format!("{BASE}\n[network]\nduplicate_probability = -0.1\n");
    assert_error(
        &text,
        Some("-0.1"),
        "network.duplicate_probability",
        "probability in [0, 1]",
    );
}

#[test]
fn a_duration_without_unit_is_rejected() {
    let text = BASE.replace("duration = \"2s\"", "duration = 10");
    assert_error(&text, Some("duration = 10"), "duration", "with a unit");
}

#[test]
fn a_duration_with_an_unknown_unit_is_rejected() {
    let text = BASE.replace("\"2s\"", "\"10 parsecs\"");
    assert_error(&text, Some("parsecs"), "duration", "unknown unit");
}

#[test]
fn zero_nodes_are_rejected_with_the_allowed_range() {
    let text = BASE.replace("nodes = 5", "nodes = 0");
    assert_error(
        &text,
        Some("nodes = 0"),
        "cluster.nodes",
        "expected between 1 and 256 nodes, got 0",
    );
}

#[test]
fn a_string_where_a_number_belongs_is_a_type_error() {
    let text = BASE.replace("nodes = 5", "nodes = \"five\"");
    assert_error(&text, Some("\"five\""), "cluster.nodes", "invalid type");
}

#[test]
fn a_uniform_latency_with_min_above_max_is_rejected() {
    let text = format!(
        "{BASE}\n[network]\nlatency = {{ distribution = \"uniform\", min = \"9ms\", max = \"1ms\" }}\n"
    );
    assert_error(&text, Some("latency ="), "network.latency", "min <= max");
}

#[test]
fn a_long_delay_needs_a_probability_in_range_and_min_at_most_max() {
    let text = format!(
        "{BASE}\n[network]\nlong_delay = {{ probability = 1.5, min = \"200ms\", max = \"2200ms\" }}\n"
    );
    assert_error(
        &text,
        Some("long_delay"),
        "network.long_delay.probability",
        "expected a probability in [0, 1], got 1.5",
    );
    let text = format!(
        "{BASE}\n[network]\nlong_delay = {{ probability = 0.67, min = \"3s\", max = \"2200ms\" }}\n"
    );
    assert_error(
        &text,
        Some("long_delay"),
        "network.long_delay",
        "long_delay needs min <= max, got min = 3s, max = 2.2s",
    );
    let text = format!(
        "{BASE}\n[network]\nlong_delay = {{ probability = 0.67, min = \"1s\", max = \"2m\" }}\n"
    );
    assert_error(
        &text,
        Some("long_delay"),
        "network.long_delay",
        "long_delay max must be at most",
    );
    let text = format!("{BASE}\n[network]\nlong_delay = {{ probability = 0.67, min = \"1s\" }}\n");
    assert_error(
        &text,
        Some("long_delay"),
        "network.long_delay.max",
        "missing field `max`",
    );
}

#[test]
fn a_key_missing_from_an_inline_table_is_named_under_that_table() {
    let text = format!(
        "{BASE}\n[network]\nfifo = true\nlatency = {{ distribution = \"uniform\", min = \"1ms\" }}\n"
    );
    assert_error(
        &text,
        Some("latency ="),
        "network.latency.max",
        "missing field `max`",
    );
}

#[test]
fn an_unknown_latency_distribution_lists_the_known_ones() {
    let text =
        format!("{BASE}\n[network]\nlatency = {{ distribution = \"gaussian\", mean = \"1ms\" }}\n");
    assert_error(
        &text,
        Some("gaussian"),
        "network.latency.distribution",
        "unknown variant `gaussian`",
    );
}

#[test]
fn a_fault_naming_a_missing_node_is_rejected() {
    let text = format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = [1, 9]\n");
    assert_error(
        &text,
        Some("[1, 9]"),
        "faults[0].target",
        "node 9 does not exist",
    );
}

#[test]
fn a_partition_naming_a_missing_node_is_rejected() {
    let text = format!(
        "{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[0, 1], [2, 7]]\n"
    );
    assert_error(
        &text,
        Some("groups"),
        "faults[0].groups",
        "node 7 does not exist",
    );
}

#[test]
fn a_fault_after_the_end_of_the_run_is_rejected() {
    let text = format!(
        "{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"heal\"\n\n[[faults]]\nat = \"3s\"\nkind = \"heal\"\n"
    );
    assert_error(
        &text,
        Some("\"3s\""),
        "faults[1].at",
        "is not before the end of the fault phase",
    );
}

#[test]
fn an_unknown_fault_kind_lists_the_known_ones() {
    let text = format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"explode\"\n");
    assert_error(
        &text,
        Some("explode"),
        "faults[0].kind",
        "unknown variant `explode`, expected one of",
    );
}

#[test]
fn a_crash_without_a_target_says_which_key_is_missing() {
    let text = format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\n");
    assert_error(
        &text,
        Some("\"crash\""),
        "faults[0].kind",
        "a 'crash' fault needs the key 'target'",
    );
}

#[test]
fn a_key_that_does_not_apply_to_the_fault_kind_is_rejected() {
    let text =
        format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = 1\ngroups = [[0]]\n");
    assert_error(
        &text,
        Some("groups"),
        "faults[0].groups",
        "'groups' does not apply to a 'crash' fault",
    );
}

#[test]
fn a_connect_takes_no_duration_and_a_disconnect_needs_a_target() {
    let text = format!(
        "{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"connect\"\ntarget = \"all\"\nduration = \"1s\"\n"
    );
    assert_error(
        &text,
        Some("duration = \"1s\""),
        "faults[0].duration",
        "'duration' does not apply to a 'connect' fault (it takes: at, kind, target, label)",
    );
    let text = format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"disconnect\"\n");
    assert_error(
        &text,
        Some("\"disconnect\""),
        "faults[0].kind",
        "a 'disconnect' fault needs the key 'target'",
    );
}

#[test]
fn the_new_disk_faults_need_a_node_target_and_take_no_count() {
    let text = fault("kind = \"disk_misdirect\"");
    assert_error(
        &text,
        Some("\"disk_misdirect\""),
        "faults[0].kind",
        "a 'disk_misdirect' fault needs the key 'target'",
    );
    let text = fault("kind = \"disk_transpose\"\ntarget = [1, 9]");
    assert_error(
        &text,
        Some("[1, 9]"),
        "faults[0].target",
        "node 9 does not exist",
    );
    let text = fault("kind = \"disk_misdirect\"\ntarget = 1\ncount = 2");
    assert_error(
        &text,
        Some("count = 2"),
        "faults[0].count",
        "'count' does not apply to a 'disk_misdirect' fault (it takes: at, kind, target, label)",
    );
    let text = fault("kind = \"disk_transpose\"\ntarget = 1\nduration = \"1s\"");
    assert_error(
        &text,
        Some("duration = \"1s\""),
        "faults[0].duration",
        "'duration' does not apply to a 'disk_transpose' fault",
    );
    let text = fault("kind = \"disk_misdirect\"\ntarget = \"clients\"");
    assert_error(
        &text,
        Some("\"clients\""),
        "faults[0].target",
        "a 'disk_misdirect' fault cannot target clients",
    );
}

#[test]
fn spares_as_many_as_the_nodes_are_rejected_at_cluster_spares() {
    let text = format!("{BASE}spares = 5\n");
    assert_error(
        &text,
        Some("spares = 5"),
        "cluster.spares",
        "expected fewer spares than nodes (0..=4), got 5",
    );
}

#[test]
fn spares_with_a_protocol_without_membership_changes_are_rejected() {
    let text = format!("{BASE}spares = 1\n");
    assert_error(
        &text,
        Some("spares = 1"),
        "cluster.spares",
        "protocol 'broadcast' does not support membership changes (join, leave, cluster.spares)",
    );
}

#[test]
fn a_join_or_leave_with_a_protocol_without_membership_changes_is_rejected_at_its_kind() {
    let text = format!(
        "{}\n[[faults]]\nat = \"1500ms\"\nkind = \"join\"\ntarget = \"random\"\n",
        fault("kind = \"crash\"\ntarget = 1")
    );
    assert_error(
        &text,
        Some("\"join\""),
        "faults[1].kind",
        "protocol 'broadcast' does not support membership changes",
    );
    let raft = BASE.replace("\"broadcast\"", "\"raft\"");
    let text = format!(
        "{raft}\n[[faults]]\nat = \"1s\"\nkind = \"leave\"\ntarget = \"leader\"\nduration = \"100ms\"\n"
    );
    assert_error(
        &text,
        Some("\"leave\""),
        "faults[0].kind",
        "protocol 'raft' does not support membership changes (join, leave, cluster.spares)",
    );
}

#[test]
fn a_membership_kind_in_the_nemesis_of_a_protocol_without_them_is_rejected() {
    let text = format!("{BASE}\n[nemesis]\nfaults = [\"crash\", \"leave\"]\n");
    assert_error(
        &text,
        Some("faults = ["),
        "nemesis.faults",
        "protocol 'broadcast' does not support membership changes",
    );
}

#[test]
fn a_join_or_leave_needs_an_existing_node_target_and_takes_only_its_keys() {
    let text = fault("kind = \"join\"");
    assert_error(
        &text,
        Some("\"join\""),
        "faults[0].kind",
        "a 'join' fault needs the key 'target'",
    );
    let text = fault("kind = \"leave\"\ntarget = [1, 9]");
    assert_error(
        &text,
        Some("[1, 9]"),
        "faults[0].target",
        "node 9 does not exist",
    );
    let text = fault("kind = \"join\"\ntarget = \"client:0\"");
    assert_error(
        &text,
        Some("\"client:0\""),
        "faults[0].target",
        "a 'join' fault cannot target clients",
    );
    let text = fault("kind = \"leave\"\ntarget = \"everyone\"");
    assert_error(
        &text,
        Some("\"everyone\""),
        "faults[0].target",
        "unknown target \"everyone\"",
    );
    let text = fault("kind = \"leave\"\ntarget = 1\ncount = 2");
    assert_error(
        &text,
        Some("count = 2"),
        "faults[0].count",
        "'count' does not apply to a 'leave' fault (it takes: at, kind, target, duration, label)",
    );
    let text = fault("kind = \"join\"\ntarget = 1\nduration = \"0s\"");
    assert_error(
        &text,
        Some("duration = \"0s\""),
        "faults[0].duration",
        "expected a positive duration",
    );
}

#[test]
fn a_slow_factor_outside_one_to_a_thousand_is_rejected_at_its_key() {
    for bad in ["0.5", "0", "-3", "1000.5", "nan", "inf", "-inf"] {
        let text = fault(&format!("kind = \"slow\"\ntarget = 3\nfactor = {bad}"));
        assert_error(
            &text,
            Some("factor = "),
            "faults[0].factor",
            "expected a slowdown factor from 1 (normal speed) to 1000, such as 2.5, got ",
        );
    }
    let text = fault("kind = \"slow\"\ntarget = 3\nfactor = 0.25");
    assert_error(&text, None, "faults[0].factor", "got 0.25");
    let text = fault("kind = \"slow\"\ntarget = 3\nfactor = \"10\"");
    assert_error(
        &text,
        Some("factor = "),
        "faults[0].factor",
        "invalid type: string",
    );
}

#[test]
fn a_slow_fault_needs_a_node_target_and_takes_only_its_keys() {
    let text = fault("kind = \"slow\"\nfactor = 2");
    assert_error(
        &text,
        Some("\"slow\""),
        "faults[0].kind",
        "a 'slow' fault needs the key 'target'",
    );
    let text = fault("kind = \"slow\"\ntarget = \"client:0\"");
    assert_error(
        &text,
        Some("\"client:0\""),
        "faults[0].target",
        "a 'slow' fault cannot target clients; only pause, resume, clock_skew and clock_reset reach clients",
    );
    let text = fault("kind = \"slow\"\ntarget = [2, 5]");
    assert_error(
        &text,
        Some("[2, 5]"),
        "faults[0].target",
        "node 5 does not exist",
    );
    let text = fault("kind = \"slow\"\ntarget = 1\ncount = 2");
    assert_error(
        &text,
        Some("count = 2"),
        "faults[0].count",
        "'count' does not apply to a 'slow' fault (it takes: at, kind, target, factor, duration, label)",
    );
    let text = fault("kind = \"crash\"\ntarget = 1\nfactor = 2");
    assert_error(
        &text,
        Some("factor = 2"),
        "faults[0].factor",
        "'factor' does not apply to a 'crash' fault",
    );
    let text = fault("kind = \"slow\"\ntarget = 1\nduration = \"0s\"");
    assert_error(
        &text,
        Some("duration = \"0s\""),
        "faults[0].duration",
        "expected a positive duration",
    );
}

#[test]
fn a_nemesis_slow_factor_max_below_two_or_above_a_thousand_is_rejected() {
    for bad in ["1.5", "1", "1000.5", "nan", "inf"] {
        let text = format!("{BASE}\n[nemesis]\nfaults = [\"slow\"]\nslow_factor_max = {bad}\n");
        assert_error(
            &text,
            Some("slow_factor_max"),
            "nemesis.slow_factor_max",
            "expected a largest slowdown factor from 2 to 1000, got ",
        );
    }
}

#[test]
fn nemesis_targets_must_be_a_label_written_with_its_at_sign() {
    for (bad, expected) in [
        (
            "\"workers\"",
            "expected a label such as \"@backends\" (the nodes stored under it), got \"workers\"",
        ),
        (
            "\"@Workers\"",
            "label \"Workers\" may use only lowercase letters a-z, digits 0-9 and '_'",
        ),
        ("\"@\"", "expected a label name such as \"leader1\""),
        (
            "\"random@workers\"",
            "expected a label such as \"@backends\"",
        ),
        ("3", "invalid type: integer `3`, expected a string"),
    ] {
        let text = format!("{BASE}\n[nemesis]\nfaults = [\"crash\"]\ntargets = {bad}\n");
        assert_error(&text, Some("targets = "), "nemesis.targets", expected);
    }
}

#[test]
fn nemesis_targets_naming_no_group_and_no_label_is_rejected() {
    let text = format!("{BASE}\n[nemesis]\nfaults = [\"crash\"]\ntargets = \"@backends\"\n");
    assert_error(
        &text,
        Some("targets = "),
        "nemesis.targets",
        "\"@backends\" is neither a group of protocol 'broadcast' (it declares no groups) nor a label a [[faults]] entry sets",
    );
    let lock = "duration = \"2s\"\n[protocol]\nname = \"lock\"\ndesign = \"consensus\"\n[cluster]\nnodes = 4\n";
    let text = format!("{lock}\n[nemesis]\nfaults = [\"crash\"]\ntargets = \"@server\"\n");
    assert_error(
        &text,
        Some("targets = "),
        "nemesis.targets",
        "\"@server\" is neither a group of protocol 'lock' (it declares @servers, @resource) nor a label a [[faults]] entry sets",
    );
    // A group of the protocol, or a label a scripted fault sets, is fine.
    for text in [
        format!("{lock}\n[nemesis]\nfaults = [\"crash\"]\ntargets = \"@servers\"\n"),
        format!(
            "{}\n[nemesis]\nfaults = [\"crash\"]\ntargets = \"@backends\"\n",
            fault("kind = \"pause\"\ntarget = [1, 2]\nlabel = \"backends\"")
        ),
    ] {
        let file = ScenarioFile::from_text("good.toml", text).unwrap();
        validate_file(&file).unwrap_or_else(|error| panic!("{error}"));
    }
}

#[test]
fn a_selector_among_a_label_needs_a_known_selector_and_a_valid_label() {
    let text = fault("kind = \"crash\"\ntarget = \"someone@workers\"");
    assert_error(
        &text,
        Some("\"someone@workers\""),
        "faults[0].target",
        "unknown selector \"someone\" before '@workers'; expected one of leader, follower, random, minority, majority, all (such as \"random@workers\")",
    );
    let text = fault("kind = \"crash\"\ntarget = \"random@Workers\"");
    assert_error(
        &text,
        Some("\"random@Workers\""),
        "faults[0].target",
        "label \"Workers\" may use only lowercase letters",
    );
    let text = fault("kind = \"crash\"\ntarget = \"random@\"");
    assert_error(
        &text,
        Some("\"random@\""),
        "faults[0].target",
        "expected a label name such as \"leader1\"",
    );
    let text = fault("kind = \"crash\"\ntarget = \"client@workers\"");
    assert_error(
        &text,
        Some("\"client@workers\""),
        "faults[0].target",
        "unknown selector \"client\"",
    );
    // Written well, it reads (an unset label is not an error: it hits nobody).
    let text = fault("kind = \"crash\"\ntarget = \"minority@workers\"");
    let file = ScenarioFile::from_text("good.toml", text).unwrap();
    validate_file(&file).unwrap_or_else(|error| panic!("{error}"));
}

fn fault(lines: &str) -> String {
    format!("{BASE}\n[[faults]]\nat = \"1s\"\n{lines}\n")
}

#[test]
fn an_at_sign_alone_is_not_a_label() {
    let text = fault("kind = \"crash\"\ntarget = \"@\"");
    assert_error(
        &text,
        Some("\"@\""),
        "faults[0].target",
        "'@' must be followed by a label name, such as \"@leader1\"",
    );
}

#[test]
fn a_label_name_with_other_characters_is_rejected_in_targets_and_labels() {
    let text = fault("kind = \"crash\"\ntarget = \"@Leader-1\"");
    assert_error(
        &text,
        Some("@Leader-1"),
        "faults[0].target",
        "label \"Leader-1\" may use only lowercase letters a-z, digits 0-9 and '_'",
    );
    let text = fault("kind = \"crash\"\ntarget = \"leader\"\nlabel = \"old leader\"");
    assert_error(
        &text,
        Some("\"old leader\""),
        "faults[0].label",
        "label \"old leader\" may use only lowercase letters a-z, digits 0-9 and '_'",
    );
    let text = fault("kind = \"crash\"\ntarget = \"leader\"\nlabel = \"\"");
    assert_error(
        &text,
        Some("label"),
        "faults[0].label",
        "expected a label name such as \"leader1\"",
    );
}

#[test]
fn a_label_on_a_fault_without_a_target_is_rejected() {
    let text = fault("kind = \"heal\"\nlabel = \"x\"");
    assert_error(
        &text,
        Some("label"),
        "faults[0].label",
        "'label' does not apply to a 'heal' fault (it takes: at, kind, no other keys)",
    );
    let text = fault("kind = \"partition_halves\"\nlabel = \"x\"");
    assert_error(
        &text,
        Some("label"),
        "faults[0].label",
        "'label' does not apply to a 'partition_halves' fault",
    );
}

#[test]
fn labels_selectors_and_at_references_to_labels_set_later_are_accepted() {
    // A label nobody sets is not an error: a driver may set it during the run.
    let text = format!(
        "{}\n[[faults]]\nat = \"1500ms\"\nkind = \"connect\"\ntarget = \"@gone\"\n",
        fault(
            "kind = \"disconnect\"\ntarget = \"follower\"\nlabel = \"gone_2\"\nduration = \"100ms\""
        )
    );
    let file = ScenarioFile::from_text("ok.toml", text).unwrap();
    validate_file(&file).unwrap();
}

#[test]
fn a_node_in_two_partition_groups_is_rejected() {
    let text = format!(
        "{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"partition\"\ngroups = [[0, 1], [1, 2]]\n"
    );
    assert_error(
        &text,
        Some("groups"),
        "faults[0].groups",
        "node 1 is in two partition groups",
    );
}

#[test]
fn an_unknown_target_selector_lists_the_selectors() {
    let text = format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"pause\"\ntarget = \"leaderr\"\n");
    assert_error(
        &text,
        Some("leaderr"),
        "faults[0].target",
        "\"@label\", a client (\"client\" (a random client), \"clients\" (every client), \"client:N\" (client N)), or one of leader, follower, random, minority, majority, all",
    );
}

#[test]
fn a_client_target_is_refused_where_faults_cannot_reach_clients() {
    let text = format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"crash\"\ntarget = \"client\"\n");
    assert_error(
        &text,
        Some("\"client\""),
        "faults[0].target",
        "a 'crash' fault cannot target clients; only pause, resume, clock_skew and clock_reset reach clients",
    );
}

#[test]
fn a_client_target_names_an_existing_client() {
    let text =
        format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"pause\"\ntarget = \"client:99\"\n");
    assert_error(
        &text,
        Some("client:99"),
        "faults[0].target",
        "client 99 does not exist",
    );
    let text =
        format!("{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"pause\"\ntarget = \"client:x\"\n");
    assert_error(
        &text,
        Some("client:x"),
        "faults[0].target",
        "expected a client index after 'client:'",
    );
}

#[test]
fn an_excessive_clock_drift_is_rejected() {
    let text = format!(
        "{BASE}\n[[faults]]\nat = \"1s\"\nkind = \"clock_skew\"\ntarget = 0\ndrift_ppm = 600000\n"
    );
    assert_error(
        &text,
        Some("600000"),
        "faults[0].drift_ppm",
        "-500000..=500000",
    );
}

#[test]
fn an_unknown_planted_bug_lists_the_real_ones() {
    let text = BASE.replace(
        "name = \"broadcast\"",
        "name = \"broadcast\"\nbugs = [\"no_such_bug\"]",
    );
    assert_error(
        &text,
        Some("no_such_bug"),
        "protocol.bugs",
        "expected `no_retransmit`",
    );
}

#[test]
fn an_unknown_protocol_lists_the_protocols() {
    let text = BASE.replace("\"broadcast\"", "\"raftt\"");
    assert_error(
        &text,
        Some("raftt"),
        "protocol.name",
        "unknown protocol \"raftt\"; expected one of: raft, paxos, broadcast, lock, txn, quorum, balancer, mapreduce, scheduler, token_forward",
    );
}

#[test]
fn an_empty_nemesis_is_rejected() {
    let text = format!("{BASE}\n[nemesis]\nfaults = []\n");
    assert_error(
        &text,
        Some("faults = []"),
        "nemesis.faults",
        "at least one fault kind",
    );
}

#[test]
fn an_inverted_nemesis_range_is_rejected() {
    let text = format!("{BASE}\n[nemesis]\nfaults = [\"crash\"]\ninterval = [\"2s\", \"1s\"]\n");
    assert_error(
        &text,
        Some("interval"),
        "nemesis.interval",
        "range minimum 2s is above its maximum 1s",
    );
}

#[test]
fn a_missing_required_table_is_named() {
    let text = "duration = \"2s\"\n[protocol]\nname = \"broadcast\"\n";
    let error = error_of(text);
    assert_eq!(error.key.as_deref(), Some("cluster"), "{error}");
    assert!(
        error.to_string().contains("missing field `cluster`"),
        "{error}"
    );
}

#[test]
fn a_toml_syntax_error_points_at_its_line() {
    let text = format!("{BASE}\n[network]\ndrop_probability = \"0.1\n");
    let error = error_of(&text);
    assert_eq!(
        error.line,
        Some(line_of(&text, "drop_probability")),
        "{error}"
    );
}

#[test]
fn an_unknown_disk_mode_lists_the_modes() {
    let text = format!("{BASE}\n[disk]\nunsynced = \"sometimes\"\n");
    assert_error(
        &text,
        Some("sometimes"),
        "disk.unsynced",
        "expected one of `lose_all`, `any_subset`, `keep_all`",
    );
}

#[test]
fn a_link_override_naming_a_missing_process_is_rejected() {
    let text = format!("{BASE}\n[workload]\nclients = 2\n\n[[network.links]]\nfrom = 0\nto = 99\n");
    let error = error_of(&text);
    assert_eq!(error.key.as_deref(), Some("network.links[0].to"), "{error}");
    assert!(
        error
            .message
            .contains("process 99 does not exist (nodes are 0..=4, clients 5..=6)"),
        "{error}"
    );
}

#[test]
fn a_missing_scenario_file_is_a_clear_error() {
    let error = ScenarioFile::read("no/such/file.toml").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("no/such/file.toml: cannot read the scenario file"),
        "{error}"
    );
}

#[test]
fn a_byte_that_is_not_utf8_is_placed_at_its_line_and_column() {
    // Found by the bad-input campaign: the error named only the byte offset.
    let directory = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scenario_errors");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("latin1.toml");
    let mut bytes = BASE.as_bytes().to_vec();
    bytes.extend_from_slice(b"[network]\ndrop_probability = 0.1 # caf\xe9\n");
    std::fs::write(&path, &bytes).unwrap();
    let path = path.to_str().unwrap();
    let error = ScenarioFile::read(path).unwrap_err();
    let line = BASE.lines().count() + 2;
    assert_eq!(
        (error.line, error.column),
        (Some(line), Some(29)),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "{path}:{line}:29: the scenario file is not UTF-8 text (byte 0xe9 at offset {})",
            bytes.len() - 2
        )
    );
}

#[test]
fn dev_zero_is_refused_at_its_first_byte_without_reading_on() {
    let error = ScenarioFile::read("/dev/zero").unwrap_err();
    assert_eq!(
        error.to_string(),
        "/dev/zero:1:1: the scenario file holds a NUL byte (at offset 0); expected text"
    );
}

#[test]
fn a_file_over_the_size_cap_is_refused_naming_the_cap() {
    let directory = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scenario_errors");
    std::fs::create_dir_all(&directory).unwrap();
    let path = directory.join("huge.toml");
    let comment = "#".repeat(1 << 20) + "\n";
    let size = faultline::scenario::FILE_BYTES_MAX as usize / comment.len() + 1;
    std::fs::write(&path, comment.repeat(size)).unwrap();
    let error = ScenarioFile::read(path.to_str().unwrap()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert!(
        error
            .to_string()
            .ends_with(": the scenario file is larger than 16 MiB; expected a TOML file"),
        "{error}"
    );
}

#[test]
fn a_zero_period_is_rejected_where_it_would_spin_forever() {
    let text = BASE.replace(
        "name = \"broadcast\"",
        "name = \"broadcast\"\ngossip_interval = \"0ms\"",
    );
    assert_error(
        &text,
        Some("\"0ms\""),
        "protocol.gossip_interval",
        "expected a positive duration, got 0",
    );
    let text = format!("{BASE}\n[workload]\nop_interval = \"0s\"\n");
    assert_error(
        &text,
        Some("\"0s\""),
        "workload.op_interval",
        "expected a positive duration",
    );
}

/// Deterministic mutations of the shipped scenarios: whatever the damage, reading
/// gives a verdict (valid or a located error), never a panic.
#[test]
fn mangled_scenarios_never_panic_the_reader() {
    use rand::{Rng, SeedableRng};
    let mut sources = Vec::new();
    for path in crate::common::scenario_files() {
        sources.push(std::fs::read_to_string(path).unwrap());
    }
    sources.sort();
    let replacements = [
        "0",
        "-1",
        "1e400",
        "\"\"",
        "[]",
        "{}",
        "\"-5ms\"",
        "99999999999999999999",
        "\"1ns\"",
        "true",
        "[[0]]",
        "\"all\"",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let mut rejected = 0;
    for round in 0..3000 {
        let source = &sources[round % sources.len()];
        let mut lines: Vec<String> = source.lines().map(String::from).collect();
        for _ in 0..rng.gen_range(1..4) {
            let line = rng.gen_range(0..lines.len());
            match rng.gen_range(0..4) {
                0 => {
                    lines.remove(line);
                }
                1 => {
                    if let Some((key, _)) = lines[line].clone().split_once('=') {
                        lines[line] = format!(
                            "{key}= {}",
                            replacements[rng.gen_range(0..replacements.len())]
                        );
                    }
                }
                2 => {
                    let other = rng.gen_range(0..lines.len());
                    lines.swap(line, other);
                }
                _ => {
                    let text = &mut lines[line];
                    if !text.is_empty() {
                        let cut = rng.gen_range(0..text.len());
                        if text.is_char_boundary(cut) {
                            text.truncate(cut);
                        }
                    }
                }
            }
            if lines.is_empty() {
                break;
            }
        }
        let text = lines.join("\n");
        let verdict = std::panic::catch_unwind(|| {
            match ScenarioFile::from_text("mangled.toml", text.clone()) {
                Ok(file) => validate_file(&file).map_err(|error| error.to_string()),
                Err(error) => Err(error.to_string()),
            }
        });
        match verdict {
            Ok(Ok(())) => {}
            Ok(Err(message)) => {
                assert!(message.starts_with("mangled.toml"), "{message}");
                rejected += 1;
            }
            Err(_) => panic!("reading panicked on:\n{text}"),
        }
    }
    assert!(
        rejected > 1000,
        "the mutations should mostly break the files, {rejected} rejected"
    );
}

/// A Raft scenario with a lab script whose steps are `steps`.
fn lab_script(steps: &str) -> String {
    format!(
        "duration = \"60s\"\n\n[protocol]\nname = \"raft\"\nsnapshot_every = 0\nlab = [\n  {{ check = \"one_leader\", label = \"leader1\" }},\n{steps}\n]\n\n[cluster]\nnodes = 3\n\n[workload]\nclients = 1\n"
    )
}

#[test]
fn a_lab_step_with_an_unknown_key_is_named_by_position_and_key() {
    let text = lab_script("  { one = 101, servers = 3, retry = false, sever = 2 },");
    assert_error(
        &text,
        Some("sever"),
        "protocol.lab[1].sever",
        "unknown field `sever`",
    );
    let error = error_of(&text);
    assert_eq!(error.column, Some(44), "{error}");
}

#[test]
fn a_lab_step_missing_a_modifier_or_with_a_wrong_type_says_which() {
    assert_error(
        &lab_script("  { one = 101, servers = 3 },"),
        Some("one = 101"),
        "protocol.lab[1].retry",
        "a 'one' step needs the key 'retry'",
    );
    assert_error(
        &lab_script("  { wait = 4, servers = \"three\" },"),
        Some("\"three\""),
        "protocol.lab[1].servers",
        "invalid type: string \"three\", expected u64",
    );
    assert_error(
        &lab_script("  { one = 101, servers = 4, retry = true },"),
        Some("one = 101"),
        "protocol.lab[1].servers",
        "expected between 1 and 3 servers (the cluster size), got 4",
    );
}

#[test]
fn a_lab_step_does_one_known_thing_with_the_keys_it_takes() {
    assert_error(
        &lab_script("  { sleep = \"1s\", start = 5 },"),
        Some("sleep"),
        "protocol.lab[1].start",
        "a step does one thing: it has both 'sleep' and 'start'",
    );
    assert_error(
        &lab_script("  { check = \"two_leaders\" },"),
        Some("two_leaders"),
        "protocol.lab[1].check",
        "unknown check \"two_leaders\"; expected one of: one_leader, no_leader, terms_agree, not_committed, rpcs, bytes",
    );
    assert_error(
        &lab_script("  { run = \"figure9\" },"),
        Some("figure9"),
        "protocol.lab[1].run",
        "unknown loop \"figure9\"; expected one of: many_elections,",
    );
    assert_error(
        &lab_script("  { disconnect = 1, retry = true },"),
        Some("disconnect"),
        "protocol.lab[1].retry",
        "'retry' does not apply to a 'disconnect' step (it takes: no other keys)",
    );
    assert_error(
        &lab_script("  { max = 3 },"),
        Some("max = 3"),
        "protocol.lab[1]",
        "a step needs one action key: check, one, one_bytes, start",
    );
}

#[test]
fn a_lab_target_must_name_a_node_or_a_label_an_earlier_step_sets() {
    assert_error(
        &lab_script("  { crash = [\"@leader1+1\", 3] },"),
        Some("crash"),
        "protocol.lab[1].crash",
        "node 3 does not exist (the cluster has nodes 0..=2)",
    );
    assert_error(
        &lab_script("  { connect = \"@leader2\" },"),
        Some("connect"),
        "protocol.lab[1].connect",
        "no earlier step sets the label \"leader2\"",
    );
    assert_error(
        &lab_script("  { disconnect = \"@leader1-1\" },"),
        Some("disconnect"),
        "protocol.lab[1].disconnect",
        "label \"leader1-1\" may use only lowercase letters",
    );
    assert_error(
        &lab_script("  { start = 1, to = \"leader\" },"),
        Some("\"leader\""),
        "protocol.lab[1].to",
        "unknown target \"leader\"; expected a node id, \"@label\", \"@label+k\" or \"all\"",
    );
}

#[test]
fn a_lab_script_needs_its_one_client_and_payloads_need_an_uncompacted_log() {
    let text = lab_script("").replace("clients = 1", "clients = 3");
    assert_error(
        &text,
        None,
        "workload.clients",
        "a lab script speaks through the one client process: set [workload] clients = 1 (got 3)",
    );
    let text = lab_script("  { one_bytes = 5000, servers = 3, retry = false },")
        .replace("snapshot_every = 0\n", "");
    assert_error(
        &text,
        Some("lab = ["),
        "protocol.lab",
        "a lab script with 'one_bytes' steps needs snapshot_every = 0",
    );
}

#[test]
fn paxos_keys_are_checked_with_their_lines() {
    let paxos = BASE.replace("\"broadcast\"", "\"paxos\"");
    let typo = paxos.replace("name = \"paxos\"\n", "name = \"paxos\"\nbackof = false\n");
    let error = error_of(&typo);
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!("bad.toml:{}:", line_of(&typo, "backof"))),
        "{shown}"
    );
    assert!(shown.contains("backof"), "{shown}");
    let no_keys = paxos.replace("name = \"paxos\"\n", "name = \"paxos\"\nkeys = 0\n");
    assert_error(
        &no_keys,
        Some("keys = 0"),
        "protocol.keys",
        "expected at least 1 key",
    );
    let no_bug = paxos.replace(
        "name = \"paxos\"\n",
        "name = \"paxos\"\nbugs = [\"skip_recovry\"]\n",
    );
    let shown = error_of(&no_bug).to_string();
    assert!(
        shown.contains("skip_recovery"),
        "the known bugs are listed: {shown}"
    );
}

#[test]
fn absurd_lab_counts_are_scenario_errors_and_a_wake_that_never_yields_hits_the_bound() {
    let text = |lab: &str, nodes: usize| {
        format!(
            "duration = \"120s\"\nmax_events = 1000\n[protocol]\nname = \"raft\"\nsnapshot_every = 0\nlab = [{lab}]\n[cluster]\nnodes = {nodes}\n[workload]\nclients = 1\n"
        )
    };
    let file = ScenarioFile::from_text(
        "backup.toml",
        text("{ run = \"backup\", count = 9223372036854775807 }", 5),
    )
    .unwrap();
    let error = validate_file(&file).unwrap_err().to_string();
    assert!(
        error.contains("key 'protocol.lab[0].count': expected 'count' in 1..=1000000"),
        "{error}"
    );
    // One server, one churn client: the loop's work completes at one instant,
    // forever. It ends at max_events as a bounds finding, not a hang.
    let file = ScenarioFile::from_text(
        "churn.toml",
        text("{ run = \"churn\", iterations = 1, clients = 1 }", 1),
    )
    .unwrap();
    let outcome = crate::common::run_file(&file, &faultline::runner::RunOptions::seed(1)).unwrap();
    let first = &outcome.summary.violations[0];
    assert_eq!(first.checker, "bounds", "{first:?}");
    assert!(
        first.message.contains("inside a wake of driver raft_lab"),
        "{first:?}"
    );
}

#[test]
fn a_nemesis_that_fires_every_microsecond_for_a_billion_seconds_ends_at_the_bound() {
    let text = "duration = \"1000000000s\"\nmax_events = 1000\n[protocol]\nname = \"broadcast\"\n[cluster]\nnodes = 3\n[nemesis]\nfaults = [\"partition\", \"crash\"]\ninterval = [\"1us\", \"1us\"]\nduration = [\"1us\", \"2us\"]\n";
    let file = ScenarioFile::from_text("storm.toml", text.into()).unwrap();
    let outcome = crate::common::run_file(&file, &faultline::runner::RunOptions::seed(1)).unwrap();
    assert_eq!(outcome.summary.violations[0].checker, "bounds");
    assert!(outcome.summary.events <= 1001);
}

#[test]
fn nesting_past_the_readers_depth_is_located_and_said_in_plain_words() {
    let deep = format!(
        "duration = \"1s\"\n[protocol]\nname = \"broadcast\"\nweights = {}1{}\n",
        "[".repeat(300),
        "]".repeat(300)
    );
    assert_error(
        &deep,
        Some("weights"),
        "protocol.weights",
        "nested too deeply",
    );
    assert!(!error_of(&deep).to_string().contains("recurse"));
}

const LOCK: &str = "duration = \"2s\"\n\n[protocol]\nname = \"lock\"\n";

#[test]
fn lock_scenario_errors_are_located_at_their_key() {
    let cases: [(&str, Option<&str>, &str, &str); 7] = [
        (
            "design = \"chubby\"\n\n[cluster]\nnodes = 2\n",
            Some("chubby"),
            "protocol.design",
            "unknown variant `chubby`, expected one of `single`, `redlock`, `consensus`",
        ),
        (
            "design = \"single\"\nttl = \"0s\"\n\n[cluster]\nnodes = 2\n",
            Some("ttl"),
            "protocol.ttl",
            "expected a TTL above 0",
        ),
        (
            "design = \"single\"\nttl = \"2ms\"\nhold = [\"0ms\", \"1ms\"]\n\n[cluster]\nnodes = 2\n",
            Some("ttl"),
            "protocol.ttl",
            "the validity margin",
        ),
        (
            "design = \"redlock\"\nfencing = true\n\n[cluster]\nnodes = 6\n",
            Some("fencing"),
            "protocol.fencing",
            "Redlock has no fencing token",
        ),
        (
            "design = \"redlock\"\nservers = 7\n\n[cluster]\nnodes = 6\n",
            Some("nodes = 6"),
            "cluster.nodes",
            "needs 8 nodes (7 servers and the resource), got 6",
        ),
        (
            "design = \"single\"\n\n[cluster]\nnodes = 5\n",
            Some("nodes = 5"),
            "cluster.nodes",
            "needs 2 nodes (1 server and the resource), got 5",
        ),
        (
            "design = \"single\"\nttl = \"1s\"\nhold = [\"10ms\", \"2s\"]\n\n[cluster]\nnodes = 2\n",
            Some("hold"),
            "protocol.hold",
            "must be shorter than the lease's validity",
        ),
    ];
    for (rest, needle, key, expected) in cases {
        assert_error(&format!("{LOCK}{rest}"), needle, key, expected);
    }
}

const TXN: &str = "duration = \"2s\"\n\n[protocol]\nname = \"txn\"\n";

#[test]
fn txn_scenario_errors_are_located_at_their_key() {
    let cases: [(&str, Option<&str>, &str, &str); 8] = [
        (
            "workload = \"bank\"\nmode = \"3pc\"\n\n[cluster]\nnodes = 4\n",
            Some("3pc"),
            "protocol.mode",
            "unknown variant `3pc`, expected `2pc` or `paxos_commit`",
        ),
        (
            "workload = \"bank\"\nmode = \"paxos_commit\"\n\n[cluster]\nnodes = 3\n",
            Some("nodes = 3"),
            "cluster.nodes",
            "mode = \"paxos_commit\" has 3 coordinator nodes and needs at least 1 shard: at least 4 nodes, got 3",
        ),
        (
            "workload = \"bank\"\nmode = \"paxos_commit\"\nbugs = [\"timeout_as_yes\"]\n\n[cluster]\nnodes = 6\n",
            Some("bugs"),
            "protocol.bugs",
            "timeout_as_yes is a bug of the two-phase commit coordinator",
        ),
        (
            "workload = \"tpcc\"\n\n[cluster]\nnodes = 4\n",
            Some("tpcc"),
            "protocol.workload",
            "unknown variant `tpcc`, expected `bank` or `list_append`",
        ),
        (
            "workload = \"bank\"\nshards = 5\n\n[cluster]\nnodes = 4\n",
            Some("shards"),
            "protocol.shards",
            "5 shards and 1 coordinator need 6 nodes, but the cluster has 4",
        ),
        (
            "workload = \"bank\"\nmax_transfer = 200\n\n[cluster]\nnodes = 4\n",
            Some("max_transfer"),
            "protocol.max_transfer",
            "a transfer of up to 200 is larger than the bank's total 100",
        ),
        (
            "workload = \"bank\"\naccounts = 0\n\n[cluster]\nnodes = 4\n",
            Some("accounts"),
            "protocol.accounts",
            "a bank needs at least 2 accounts to transfer between, got 0",
        ),
        (
            "workload = \"bank\"\nforce_delay = \"1s\"\n\n[cluster]\nnodes = 4\n",
            Some("force_delay"),
            "protocol.force_delay",
            "must take less than the vote timeout",
        ),
    ];
    for (rest, needle, key, expected) in cases {
        assert_error(&format!("{TXN}{rest}"), needle, key, expected);
    }
}

const QUORUM: &str = "duration = \"2s\"\n\n[protocol]\nname = \"quorum\"\n";

#[test]
fn quorum_scenario_errors_are_located_at_their_key() {
    let cases: [(&str, Option<&str>, &str, &str); 11] = [
        (
            "\n[cluster]\nnodes = 5\nspares = 3\n",
            Some("spares"),
            "cluster.spares",
            "2 of the 5 nodes start as members (3 spares), below the 3 protocol 'quorum' needs",
        ),
        (
            "wars = \"lnkd_disk\"\n\n[cluster]\nnodes = 5\n",
            None,
            "network.latency",
            "wars = \"...\" draws every delay from the PBS fit",
        ),
        (
            "r = 4\n\n[cluster]\nnodes = 5\n",
            Some("r = 4"),
            "protocol.r",
            "expected 1 to n = 3, got 4",
        ),
        (
            "w = 0\n\n[cluster]\nnodes = 5\n",
            Some("w = 0"),
            "protocol.w",
            "expected 1 to n = 3, got 0",
        ),
        (
            "n = 6\n\n[cluster]\nnodes = 5\n",
            Some("n = 6"),
            "protocol.n",
            "6 replicas per key need at least 6 nodes, but the cluster has 5",
        ),
        (
            "tokens = 0\n\n[cluster]\nnodes = 5\n",
            Some("tokens"),
            "protocol.tokens",
            "expected 1 to 1024 tokens per node, got 0",
        ),
        (
            "placement = \"rendezvous\"\n\n[cluster]\nnodes = 5\n",
            Some("rendezvous"),
            "protocol.placement",
            "unknown variant `rendezvous`, expected one of `ring`, `mod_n`, `jump`",
        ),
        (
            "versioning = \"crdt\"\n\n[cluster]\nnodes = 5\n",
            Some("crdt"),
            "protocol.versioning",
            "unknown variant `crdt`, expected `vector_clock` or `lww`",
        ),
        (
            "read_repair = \"lazy\"\n\n[cluster]\nnodes = 5\n",
            Some("lazy"),
            "protocol.read_repair",
            "unknown variant `lazy`, expected one of `sync`, `async`, `off`",
        ),
        (
            "bugs = [\"lww_wall_clock\"]\n\n[cluster]\nnodes = 5\n",
            Some("bugs"),
            "protocol.bugs",
            "lww_wall_clock is a bug of last-write-wins stamps",
        ),
        (
            "sloppy = true\nsloppy_after = \"200ms\"\n\n[cluster]\nnodes = 5\n",
            Some("sloppy_after"),
            "protocol.sloppy_after",
            "a coordinator must turn to stand-ins (200ms) before it gives up (100ms)",
        ),
    ];
    for (rest, needle, key, expected) in cases {
        assert_error(&format!("{QUORUM}{rest}"), needle, key, expected);
    }
}

const BALANCER: &str =
    "duration = \"2s\"\n\n[cluster]\nnodes = 5\n\n[protocol]\nname = \"balancer\"\n";

#[test]
fn balancer_scenario_errors_are_located_at_their_key() {
    let cases: [(&str, Option<&str>, &str, &str); 11] = [
        (
            "strategy = \"fastest\"\n",
            Some("fastest"),
            "protocol.strategy",
            "unknown variant `fastest`, expected one of `round_robin`, `weighted`, `random`, `least_conn`, `p2c`, `hash`, `bounded_hash`",
        ),
        (
            "choices = 0\n",
            Some("choices"),
            "protocol.choices",
            "expected a number of choices d between 1 and the 4 backends, got 0",
        ),
        (
            "choices = 5\n",
            Some("choices"),
            "protocol.choices",
            "between 1 and the 4 backends, got 5",
        ),
        (
            "strategy = \"bounded_hash\"\nload_factor = 0.9\n",
            Some("load_factor"),
            "protocol.load_factor",
            "expected a load factor c of at least 1",
        ),
        (
            "active = { rise = 0 }\n",
            Some("active"),
            "protocol.active.rise",
            "expected at least 1 check, got 0",
        ),
        (
            "active = { fall = 0 }\n",
            Some("active"),
            "protocol.active.fall",
            "expected at least 1 check, got 0",
        ),
        (
            "service = { distribution = \"constant\", value = \"0s\" }\n",
            Some("service"),
            "protocol.service",
            "expected a service-time distribution with a positive mean",
        ),
        (
            "service = { distribution = \"pareto\", scale = \"1ms\", shape = 0.5 }\n",
            Some("service"),
            "protocol.service",
            "with a finite mean",
        ),
        (
            "balancers = 5\n",
            None,
            "cluster.nodes",
            "expected more nodes than the 5 balancers",
        ),
        (
            "active = { inter = \"1s\", timeout = \"2s\" }\n",
            Some("active"),
            "protocol.active.timeout",
            "expected a check timeout of at most inter",
        ),
        (
            "weights = [1, 2]\n",
            Some("weights"),
            "protocol.weights",
            "expected one weight per backend (4), got 2",
        ),
    ];
    for (rest, needle, key, expected) in cases {
        assert_error(&format!("{BALANCER}{rest}"), needle, key, expected);
    }
}

const MAPREDUCE: &str =
    "duration = \"2s\"\n\n[cluster]\nnodes = 3\n\n[protocol]\nname = \"mapreduce\"\n";

#[test]
fn mapreduce_scenario_errors_are_located_at_their_key() {
    let cases: [(&str, Option<&str>, &str, &str); 8] = [
        (
            "reduces = 0\n",
            Some("reduces"),
            "protocol.reduces",
            "expected between 1 and 100000 reduce partitions, got 0",
        ),
        (
            "inputs = 0\n",
            Some("inputs"),
            "protocol.inputs",
            "expected between 1 and 100000 input splits, got 0",
        ),
        (
            "map_time = \"-1s\"\n",
            Some("map_time"),
            "protocol.map_time",
            "duration",
        ),
        (
            "task_timeout = \"0s\"\n",
            Some("task_timeout"),
            "protocol.task_timeout",
            "expected a positive duration, got 0",
        ),
        (
            "app = \"grep\"\n",
            Some("grep"),
            "protocol.app",
            "unknown variant `grep`, expected `wc` or `indexer`",
        ),
        (
            "chunk_lines = 0\n",
            Some("chunk_lines"),
            "protocol.chunk_lines",
            "expected at least 1 line per output chunk, got 0",
        ),
        (
            "require_parallel = [\"map\", \"map\"]\n",
            Some("require_parallel"),
            "protocol.require_parallel",
            "expected each phase at most once, got map twice",
        ),
        (
            "bugs = [\"no_reasign\"]\n",
            Some("no_reasign"),
            "protocol.bugs",
            "no_reassign",
        ),
    ];
    for (rest, needle, key, expected) in cases {
        assert_error(&format!("{MAPREDUCE}{rest}"), needle, key, expected);
    }
    // Zero workers: node 0 is the coordinator.
    assert_error(
        &MAPREDUCE.replace("nodes = 3", "nodes = 1"),
        None,
        "cluster.nodes",
        "expected at least 2 nodes (node 0 is the coordinator, the rest are workers), got 1: a job needs at least one worker",
    );
}

const SCHEDULER: &str =
    "duration = \"2s\"\n\n[cluster]\nnodes = 3\n\n[protocol]\nname = \"scheduler\"\n";

fn task(name: &str, duration: &str, deps: &str) -> String {
    format!("\n[[protocol.tasks]]\nname = \"{name}\"\nduration = \"{duration}\"\ndeps = {deps}\n")
}

#[test]
fn scheduler_scenario_errors_are_located_at_their_key() {
    // A cycle is named, task by task, at the first task on it.
    let cycle = format!(
        "{SCHEDULER}{}{}{}{}",
        task("a", "1s", "[\"c\"]"),
        task("b", "1s", "[\"a\"]"),
        task("c", "1s", "[\"b\"]"),
        task("d", "1s", "[]"),
    );
    assert_error(
        &cycle,
        Some("deps = [\"c\"]"),
        "protocol.tasks[0].deps",
        "the dependencies form a cycle: a → b → c → a (each needs the one before it; task \"a\" needs \"c\")",
    );
    let self_loop = format!("{SCHEDULER}{}", task("a", "1s", "[\"a\"]"));
    assert_error(
        &self_loop,
        Some("deps"),
        "protocol.tasks[0].deps",
        "the dependencies form a cycle: a → a",
    );
    let cases: [(String, Option<&str>, &str, &str); 7] = [
        (
            format!("{}{}", task("a", "1s", "[]"), task("b", "1s", "[\"zz\"]")),
            Some("[\"zz\"]"),
            "protocol.tasks[1].deps",
            "task \"b\" depends on \"zz\", which is not a task of the job",
        ),
        (
            task("a", "-1s", "[]"),
            Some("-1s"),
            "protocol.tasks[0].duration",
            "expected a non-negative duration, got \"-1s\"",
        ),
        (
            task("a", "0s", "[]"),
            Some("0s"),
            "protocol.tasks[0].duration",
            "expected a positive duration for task \"a\", got 0",
        ),
        (
            format!("{}{}", task("a", "1s", "[]"), task("a", "1s", "[]")),
            None,
            "protocol.tasks[1].name",
            "expected each task name once, got \"a\" again (first as task 1)",
        ),
        (
            String::new(),
            Some("name = \"scheduler\""),
            "protocol.name",
            "expected the job's tasks: [[protocol.tasks]] entries, or a [protocol.random] table",
        ),
        (
            format!("task_timeout = \"1s\"\n{}", task("a", "1s", "[]")),
            Some("task_timeout"),
            "protocol.task_timeout",
            "expected a timeout longer than the longest task (a of 1s), got 1s",
        ),
        (
            "strategy = \"heft\"\n".to_string(),
            Some("heft"),
            "protocol.strategy",
            "unknown variant `heft`, expected `list` or `critical_path`",
        ),
    ];
    for (rest, needle, key, expected) in cases {
        assert_error(&format!("{SCHEDULER}{rest}"), needle, key, expected);
    }
    assert_error(
        &format!("{SCHEDULER}[random]\ntasks = 0\n").replace("[random]", "[protocol.random]"),
        Some("tasks = 0"),
        "protocol.random.tasks",
        "expected between 1 and 100000 tasks, got 0",
    );
    // Zero workers: node 0 is the dispatcher.
    assert_error(
        &format!(
            "{}{}",
            SCHEDULER.replace("nodes = 3", "nodes = 1"),
            task("a", "1s", "[]")
        ),
        None,
        "cluster.nodes",
        "expected at least 2 nodes (node 0 is the dispatcher, the rest are workers), got 1: a job needs at least one worker",
    );
}
