//! Summary statistics of a sample: what sweeps and experiments report.

/// Summary statistics of trial times, in milliseconds.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Distribution {
    /// Trials run.
    pub trials: usize,
    /// Fastest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// Mean.
    pub mean: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Trials that hit the cap.
    pub capped: usize,
}

impl Distribution {
    /// Summarises times in nanoseconds; `cap` marks trials that gave up.
    pub fn of(nanos: Vec<u64>, cap: u64) -> Self {
        let ms = |value: u64| value as f64 / 1e6;
        Distribution::of_values(nanos.into_iter().map(ms).collect(), ms(cap))
    }

    /// Summarises any non-empty sample (e.g. milliseconds); values at or above
    /// `cap` count as capped (pass infinity for none).
    pub fn of_values(mut values: Vec<f64>, cap: f64) -> Self {
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Distribution {
            trials: values.len(),
            min: values[0],
            median: at(0.5),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            p90: at(0.9),
            p99: at(0.99),
            max: *values.last().expect("at least one trial"),
            capped: values.iter().filter(|&&value| value >= cap).count(),
        }
    }
}

impl Distribution {
    /// `min median mean p90 p99 max`, each right-aligned in `width` columns
    /// with one decimal, for tables.
    pub fn columns(&self, width: usize) -> String {
        [
            self.min,
            self.median,
            self.mean,
            self.p90,
            self.p99,
            self.max,
        ]
        .iter()
        .map(|value| format!("{value:>width$.1}"))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// A readable number of milliseconds: `0.25`, `12`, `1500`.
pub fn format_ms(value: f64) -> String {
    if value == 0.0 {
        "0".into()
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        let text = format!("{value:.1}");
        text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
    } else {
        format!("{value:.2}")
    }
}

/// Virtual time in ns as the charts' time axes print it: `0`, `250ms`, `1.5s`,
/// `12s` (whole ms below a second, 10 ms steps below ten seconds, whole seconds
/// above).
pub fn format_seconds(nanos: f64) -> String {
    let seconds = (nanos / 1e9).abs();
    let resolution = if seconds >= 10.0 {
        1e9
    } else if seconds >= 1.0 {
        1e7
    } else {
        1e6
    };
    format_time(nanos, resolution)
}

/// Time in ns as [`format_seconds`] prints it, with as many decimals as it takes
/// to tell apart times `resolution` ns apart (axis ticks at a finer step than
/// [`format_seconds`] resolves: `12.004s`, `0.2ms`).
pub fn format_time(nanos: f64, resolution: f64) -> String {
    let seconds = nanos / 1e9;
    if seconds == 0.0 {
        return "0".into();
    }
    // Decimals of `unit` (in ns) that resolve `resolution`; the epsilon keeps a
    // power of ten from asking for one more.
    let decimals =
        |unit: f64| (-(resolution / unit).log10() - 1e-9).ceil().clamp(0.0, 9.0) as usize;
    let trim = |text: String| {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        }
    };
    if seconds.abs() >= 1.0 {
        format!("{}s", trim(format!("{seconds:.*}", decimals(1e9))))
    } else {
        format!(
            "{}ms",
            trim(format!("{:.*}", decimals(1e6), seconds * 1000.0))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_times_read_in_ms_and_s() {
        assert_eq!(format_seconds(0.0), "0");
        assert_eq!(format_seconds(2.5e8), "250ms");
        assert_eq!(format_seconds(1.5e9), "1.5s");
        assert_eq!(format_seconds(1.25e9), "1.25s");
        assert_eq!(format_seconds(12.4e9), "12s");
        assert_eq!(format_seconds(20e9), "20s");
        // Finer steps get the decimals they need, and no more.
        assert_eq!(format_time(12.004e9, 2e6), "12.004s");
        assert_eq!(format_time(12e9, 2e6), "12s");
        assert_eq!(format_time(3.5e9, 5e8), "3.5s");
        assert_eq!(format_time(2e5, 1e5), "0.2ms");
        assert_eq!(format_time(1.05e9, 5e7), "1.05s");
        assert_eq!(format_time(40e9, 2e9), "40s");
    }
}
