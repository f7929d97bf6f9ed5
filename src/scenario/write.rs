//! Writing faults back as scenario TOML: the inverse of the `[[faults]]` reader.
//!
//! The shrinker turns a run's fault schedule (scripted faults plus what the
//! nemesis drew) into an explicit `[[faults]]` list, so the schedule must be
//! written exactly: durations are spelled with the largest unit that keeps every
//! nanosecond (`"1.234567891s"`, never a rounded `"1.235s"`), and reading the
//! written table gives back the same fault.

use crate::sim::fault::{Fault, SlowFactor, Target, TimedFault};
use crate::sim::time::parse_nanos;
use toml::{Table, Value};

/// `nanos` as a duration string that reads back exactly: the largest of s, ms,
/// us, ns in which it is written with at most nine decimals and parses back to
/// the same count.
pub fn exact_duration(nanos: u64) -> String {
    for (size, unit, decimals) in [
        (1_000_000_000u64, "s", 9usize),
        (1_000_000, "ms", 6),
        (1_000, "us", 3),
    ] {
        if nanos < size {
            continue;
        }
        let whole = nanos / size;
        let fraction = nanos % size;
        let text = if fraction == 0 {
            format!("{whole}{unit}")
        } else {
            let digits = format!("{fraction:0decimals$}");
            format!("{whole}.{}{unit}", digits.trim_end_matches('0'))
        };
        if parse_nanos(&text, false) == Ok(nanos as i64) {
            return text;
        }
    }
    format!("{nanos}ns")
}

/// A signed duration (a clock offset) that reads back exactly.
pub fn exact_signed_duration(nanos: i64) -> String {
    let sign = if nanos < 0 { "-" } else { "" };
    format!("{sign}{}", exact_duration(nanos.unsigned_abs()))
}

/// A target as written in a scenario: `2`, `[0, 1]`, `"leader"`, `"@name"` or
/// `"random@name"`.
pub fn target_value(target: &Target) -> Value {
    match target {
        Target::Nodes(ids) if ids.len() == 1 => Value::Integer(ids[0] as i64),
        Target::Nodes(ids) => {
            Value::Array(ids.iter().map(|&id| Value::Integer(id as i64)).collect())
        }
        Target::Label(name) => Value::String(format!("@{name}")),
        selector => Value::String(selector.to_string()),
    }
}

/// A slow fault's factor as written: an integer when it is whole (`10`), else
/// the float it is kept from (`2.5`), which reads back to the same thousandths.
pub fn factor_value(factor: SlowFactor) -> Value {
    if factor.thousandths().is_multiple_of(1000) {
        Value::Integer(i64::from(factor.thousandths() / 1000))
    } else {
        Value::Float(factor.factor())
    }
}

/// One `[[faults]]` entry for the fault `timed` at true time `at` (ns), or `None`
/// for a fault no scenario can script (the runner's own end-of-phase heal).
pub fn fault_table(at: u64, timed: &TimedFault) -> Option<Table> {
    if matches!(timed.fault, Fault::HealAll) {
        return None;
    }
    let mut table = Table::new();
    table.insert("at".into(), Value::String(exact_duration(at)));
    table.insert("kind".into(), Value::String(timed.fault.name().into()));
    let mut target = |key: &str, target: &Target| {
        table.insert(key.into(), target_value(target));
    };
    match &timed.fault {
        Fault::Partition { groups } => {
            let groups = groups
                .iter()
                .map(|group| {
                    Value::Array(group.iter().map(|&id| Value::Integer(id as i64)).collect())
                })
                .collect();
            table.insert("groups".into(), Value::Array(groups));
        }
        Fault::PartitionHalves | Fault::Bridge | Fault::Heal | Fault::HealAll => {}
        Fault::Isolate(t)
        | Fault::Disconnect(t)
        | Fault::Connect(t)
        | Fault::Crash(t)
        | Fault::Restart(t)
        | Fault::Pause(t)
        | Fault::Resume(t)
        | Fault::ClockReset(t)
        | Fault::DiskCorrupt(t)
        | Fault::DiskLoseUnsynced(t)
        | Fault::DiskMisdirect(t)
        | Fault::DiskTranspose(t)
        | Fault::Join(t)
        | Fault::Leave(t) => target("target", t),
        Fault::OneWay { from, to } => {
            target("from", from);
            target("to", to);
        }
        Fault::ClockSkew {
            target: t,
            offset,
            drift_ppm,
        } => {
            target("target", t);
            // The reader wants at least one of the two.
            if *offset != 0 || *drift_ppm == 0 {
                table.insert(
                    "offset".into(),
                    Value::String(exact_signed_duration(*offset)),
                );
            }
            if *drift_ppm != 0 {
                table.insert("drift_ppm".into(), Value::Integer(*drift_ppm));
            }
        }
        Fault::DiskFailRead { target: t, count } => {
            target("target", t);
            table.insert("count".into(), Value::Integer(i64::from(*count)));
        }
        Fault::Slow { target: t, factor } => {
            target("target", t);
            table.insert("factor".into(), factor_value(*factor));
        }
    }
    if let Some(duration) = timed.duration {
        table.insert("duration".into(), Value::String(exact_duration(duration)));
    }
    if let Some(label) = &timed.label {
        table.insert("label".into(), Value::String(label.clone()));
    }
    Some(table)
}

/// The `faults` array for a scenario, in schedule order (faults no scenario can
/// script are left out).
pub fn faults_value(faults: &[(u64, TimedFault)]) -> Value {
    Value::Array(
        faults
            .iter()
            .filter_map(|(at, timed)| fault_table(*at, timed).map(Value::Table))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ScenarioFile;

    fn every_kind() -> Vec<(u64, TimedFault)> {
        let nodes = |ids: &[usize]| Target::Nodes(ids.to_vec());
        vec![
            (
                1,
                TimedFault::new(Fault::Partition {
                    groups: vec![vec![0, 1], vec![2, 3, 4]],
                })
                .lasting(1_234_567_891),
            ),
            (
                999,
                TimedFault::new(Fault::PartitionHalves).lasting(1_000_000),
            ),
            (
                1_000,
                TimedFault::new(Fault::Isolate(Target::Leader)).labelled("old_leader"),
            ),
            (2_500, TimedFault::new(Fault::Bridge).lasting(7)),
            (
                3_000_000,
                TimedFault::new(Fault::OneWay {
                    from: Target::Random,
                    to: Target::Minority,
                }),
            ),
            (3_000_001, TimedFault::new(Fault::Heal)),
            (
                4_000_000_000,
                TimedFault::new(Fault::Disconnect(nodes(&[0, 2]))).lasting(150_000_000),
            ),
            (
                4_000_000_000,
                TimedFault::new(Fault::Connect(Target::Label("old_leader".into()))),
            ),
            (
                5,
                TimedFault::new(Fault::Crash(Target::Majority)).lasting(3),
            ),
            (6, TimedFault::new(Fault::Restart(Target::All))),
            (7, TimedFault::new(Fault::Pause(Target::Follower))),
            (8, TimedFault::new(Fault::Resume(nodes(&[3])))),
            (
                9,
                TimedFault::new(Fault::ClockSkew {
                    target: Target::Random,
                    offset: -123_456_789,
                    drift_ppm: -4_000,
                })
                .lasting(10),
            ),
            (
                10,
                TimedFault::new(Fault::ClockSkew {
                    target: nodes(&[1]),
                    offset: 0,
                    drift_ppm: 0,
                }),
            ),
            (11, TimedFault::new(Fault::ClockReset(Target::All))),
            (12, TimedFault::new(Fault::DiskCorrupt(nodes(&[4])))),
            (13, TimedFault::new(Fault::DiskLoseUnsynced(Target::Random))),
            (
                14,
                TimedFault::new(Fault::DiskFailRead {
                    target: Target::Random,
                    count: 3,
                }),
            ),
            (
                15,
                TimedFault::new(Fault::DiskMisdirect(nodes(&[0, 3]))).labelled("misdirected"),
            ),
            (16, TimedFault::new(Fault::DiskTranspose(Target::Minority))),
            (
                17,
                TimedFault::new(Fault::Join(Target::Random))
                    .lasting(250_000_000)
                    .labelled("joined"),
            ),
            (18, TimedFault::new(Fault::Leave(nodes(&[1, 2]))).lasting(1)),
            (
                19,
                TimedFault::new(Fault::Leave(Target::Label("joined".into()))),
            ),
            (20, TimedFault::new(Fault::Join(Target::All))),
            (
                21,
                TimedFault::new(Fault::Slow {
                    target: Target::Random,
                    factor: SlowFactor::from_thousandths(2_500).unwrap(),
                })
                .lasting(5_000_000_000)
                .labelled("slowed"),
            ),
            (
                22,
                TimedFault::new(Fault::Slow {
                    target: nodes(&[1, 3]),
                    factor: SlowFactor::DEFAULT,
                }),
            ),
            (
                23,
                TimedFault::new(Fault::Slow {
                    target: Target::Label("slowed".into()),
                    factor: SlowFactor::from_thousandths(1_001).unwrap(),
                }),
            ),
            (
                24,
                TimedFault::new(Fault::Slow {
                    target: Target::All,
                    factor: SlowFactor::MAX,
                }),
            ),
            (
                25,
                TimedFault::new(Fault::Crash(Target::Minority.within(Some("backends")))).lasting(3),
            ),
            (
                26,
                TimedFault::new(Fault::OneWay {
                    from: Target::Leader.within(Some("servers")),
                    to: Target::Minority,
                })
                .labelled("cut"),
            ),
            (
                27,
                TimedFault::new(Fault::Slow {
                    target: Target::Random.within(Some("backends")),
                    factor: SlowFactor::from_thousandths(7_125).unwrap(),
                }),
            ),
            (
                28,
                TimedFault::new(Fault::DiskFailRead {
                    target: Target::Follower.within(Some("a_1")),
                    count: 2,
                }),
            ),
            (
                29,
                TimedFault::new(Fault::Pause(Target::All.within(Some("backends")))),
            ),
            (
                30,
                TimedFault::new(Fault::Isolate(Target::Majority.within(Some("backends")))),
            ),
        ]
    }

    #[test]
    fn written_faults_read_back_as_the_same_faults() {
        let faults = every_kind();
        // Every kind a scenario can script is among them.
        for (_, name, _) in crate::scenario::faults::FaultKind::ALL {
            assert!(
                faults.iter().any(|(_, timed)| timed.fault.name() == name),
                "every_kind lacks {name}"
            );
        }
        let mut table = Table::new();
        table.insert("duration".into(), Value::String("10s".into()));
        let mut protocol = Table::new();
        protocol.insert("name".into(), Value::String("broadcast".into()));
        table.insert("protocol".into(), Value::Table(protocol));
        let mut cluster = Table::new();
        cluster.insert("nodes".into(), Value::Integer(5));
        table.insert("cluster".into(), Value::Table(cluster));
        table.insert("faults".into(), faults_value(&faults));
        let text = toml::to_string(&table).unwrap();
        let file = ScenarioFile::from_text("written.toml", text).unwrap();
        let scenario = file
            .parse::<toml::Value>()
            .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(scenario.scripted_faults(&file.source()), faults);
    }

    #[test]
    fn durations_are_written_exactly_with_the_largest_unit() {
        assert_eq!(exact_duration(0), "0ns");
        assert_eq!(exact_duration(7), "7ns");
        assert_eq!(exact_duration(1_500), "1.5us");
        assert_eq!(exact_duration(20_000_000), "20ms");
        assert_eq!(exact_duration(1_500_000_000), "1.5s");
        assert_eq!(exact_duration(1_234_567_891), "1.234567891s");
        assert_eq!(exact_signed_duration(-5_000_000), "-5ms");
        for nanos in [1u64, 999, 1_001, 123_456_789_012, 86_400_000_000_001] {
            let text = exact_duration(nanos);
            assert_eq!(parse_nanos(&text, false), Ok(nanos as i64), "{text}");
        }
    }

    #[test]
    fn a_slow_factor_is_written_as_an_integer_when_whole() {
        let table = |thousandths| {
            let timed = TimedFault::new(Fault::Slow {
                target: Target::Random,
                factor: SlowFactor::from_thousandths(thousandths).unwrap(),
            });
            fault_table(0, &timed).unwrap()["factor"].clone()
        };
        assert_eq!(table(10_000), Value::Integer(10));
        assert_eq!(table(2_500), Value::Float(2.5));
        assert_eq!(table(1_000_000), Value::Integer(1000));
    }

    #[test]
    fn the_end_of_phase_heal_is_not_written() {
        assert!(fault_table(5, &TimedFault::new(Fault::HealAll)).is_none());
    }
}
