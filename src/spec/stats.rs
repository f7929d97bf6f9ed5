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
