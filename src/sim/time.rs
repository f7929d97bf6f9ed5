//! Virtual time: integer nanoseconds, and the `"150ms"` duration strings that
//! scenario files use.
//!
//! Time is a plain `u64` of nanoseconds since the start of the run. No wall clock is
//! ever read by the simulator; the only clocks are this true virtual time and each
//! node's local (skewed, drifting) view of it.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Nanoseconds in one microsecond.
pub const MICROSECOND: u64 = 1_000;
/// Nanoseconds in one millisecond.
pub const MILLISECOND: u64 = 1_000_000;
/// Nanoseconds in one second.
pub const SECOND: u64 = 1_000_000_000;

/// A non-negative span of virtual time, written in files as `"150ms"`, `"2s"`,
/// `"1.5s"`, `"250us"`, `"10ns"`, `"1m"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

impl Duration {
    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Duration(ms * MILLISECOND)
    }

    /// A duration of `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s * SECOND)
    }

    /// The length in nanoseconds.
    pub const fn nanos(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_nanos(self.0))
    }
}

/// Formats nanoseconds with the largest unit that keeps it short: `1.5s`, `20ms`.
pub fn format_nanos(nanos: u64) -> String {
    let units = [(SECOND, "s"), (MILLISECOND, "ms"), (MICROSECOND, "us")];
    for (size, name) in units {
        if nanos >= size {
            let whole = nanos / size;
            let fraction = nanos % size;
            if fraction == 0 {
                return format!("{whole}{name}");
            }
            let text = format!("{:.3}", nanos as f64 / size as f64);
            let text = text.trim_end_matches('0').trim_end_matches('.');
            return format!("{text}{name}");
        }
    }
    format!("{nanos}ns")
}

/// Parses `"150ms"`-style text into nanoseconds. A negative sign is accepted only
/// when `allow_negative` (clock offsets).
pub fn parse_nanos(text: &str, allow_negative: bool) -> Result<i64, String> {
    let expected = "a duration such as \"150ms\" (units: ns, us, ms, s, m)";
    let trimmed = text.trim();
    let (negative, body) = match trimmed.strip_prefix('-') {
        Some(rest) if allow_negative => (true, rest),
        Some(_) => return Err(format!("expected a non-negative duration, got \"{text}\"")),
        None => (false, trimmed),
    };
    let split = body.find(|c: char| !(c.is_ascii_digit() || c == '.'));
    let Some(split) = split else {
        return Err(format!(
            "expected {expected}, got \"{text}\" (missing unit)"
        ));
    };
    let (number, unit) = body.split_at(split);
    let unit_nanos: f64 = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => MICROSECOND as f64,
        "ms" => MILLISECOND as f64,
        "s" => SECOND as f64,
        "m" | "min" => 60.0 * SECOND as f64,
        other => {
            return Err(format!(
                "expected {expected}, got unknown unit \"{other}\" in \"{text}\""
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected {expected}, got \"{text}\""))?;
    let nanos = (value * unit_nanos).round();
    if !nanos.is_finite() || nanos > 1e18 {
        return Err(format!(
            "duration \"{text}\" is too large (at most about 31 years)"
        ));
    }
    let nanos = nanos as i64;
    Ok(if negative { -nanos } else { nanos })
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"150ms\"")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                parse_nanos(text, false)
                    .map(|n| Duration(n as u64))
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "expected a duration string with a unit such as \"{value}ms\", got the bare number {value}"
                )))
            }
            fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "expected a duration string with a unit such as \"{value}s\", got the bare number {value}"
                )))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_nanos(self.0))
    }
}

/// Serde helper for fields that must be a positive duration
/// (`#[serde(deserialize_with = "crate::sim::time::positive")]`): zero is refused
/// with the field's position, where a zero period would spin a timer forever.
pub fn positive<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let duration = Duration::deserialize(deserializer)?;
    if duration.0 == 0 {
        return Err(de::Error::custom("expected a positive duration, got 0"));
    }
    Ok(duration)
}

/// A signed span of time (a clock offset), written as `"-20ms"` or `"5s"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignedDuration(pub i64);

impl<'de> Deserialize<'de> for SignedDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_nanos(&text, true)
            .map(SignedDuration)
            .map_err(de::Error::custom)
    }
}

impl Serialize for SignedDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sign = if self.0 < 0 { "-" } else { "" };
        serializer.serialize_str(&format!("{sign}{}", format_nanos(self.0.unsigned_abs())))
    }
}

/// A `[min, max]` range of durations, written `["100ms", "1s"]` or as one duration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DurationRange {
    /// Lower bound.
    pub min: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl<'de> Deserialize<'de> for DurationRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Two(Vec<String>),
        }
        let expected = "a duration or a range [\"min\", \"max\"] such as [\"100ms\", \"1s\"]";
        let raw = Raw::deserialize(deserializer)
            .map_err(|_| de::Error::custom(format!("expected {expected}")))?;
        let parse = |text: &str| {
            parse_nanos(text, false)
                .map(|nanos| Duration(nanos as u64))
                .map_err(de::Error::custom)
        };
        let (min, max) = match raw {
            Raw::One(text) => {
                let value = parse(&text)?;
                (value, value)
            }
            Raw::Two(texts) if texts.len() == 2 => (parse(&texts[0])?, parse(&texts[1])?),
            Raw::Two(texts) => {
                return Err(de::Error::custom(format!(
                    "expected {expected}, got a list of {} items",
                    texts.len()
                )));
            }
        };
        if min > max {
            return Err(de::Error::custom(format!(
                "range minimum {min} is above its maximum {max}"
            )));
        }
        Ok(DurationRange { min, max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_every_unit() {
        assert_eq!(parse_nanos("150ms", false), Ok(150 * MILLISECOND as i64));
        assert_eq!(parse_nanos("1.5s", false), Ok(1_500 * MILLISECOND as i64));
        assert_eq!(parse_nanos("250us", false), Ok(250_000));
        assert_eq!(parse_nanos("10ns", false), Ok(10));
        assert_eq!(parse_nanos("2m", false), Ok(120 * SECOND as i64));
        assert_eq!(parse_nanos("-20ms", true), Ok(-20 * MILLISECOND as i64));
    }

    #[test]
    fn durations_without_unit_or_negative_are_rejected() {
        assert!(
            parse_nanos("150", false)
                .unwrap_err()
                .contains("missing unit")
        );
        assert!(
            parse_nanos("5 parsecs", false)
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(
            parse_nanos("-1s", false)
                .unwrap_err()
                .contains("non-negative")
        );
    }

    #[test]
    fn formatting_picks_the_largest_exact_unit() {
        assert_eq!(format_nanos(1_500 * MILLISECOND), "1.5s");
        assert_eq!(format_nanos(20 * MILLISECOND), "20ms");
        assert_eq!(format_nanos(7), "7ns");
    }
}
