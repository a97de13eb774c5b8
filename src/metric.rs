//! The metric vocabulary: every per-class metric surge reports, bounds or
//! compares, once, with its column name, unit, direction and label.
//!
//! SLOs (`[[slo]]`, `--slo`), `surge check --baseline`, `surge compare`,
//! `sweep.csv`, the report and the charts all name metrics through
//! [`Metric`]; a typo is a compile error, and a new metric is one variant
//! here plus its value in [`crate::rows::SummaryRow::metric`]. Depends on
//! nothing.

use std::fmt;

/// What a metric's numbers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A number of requests or attempts.
    Count,
    /// Seconds (column names end in `_s`).
    Seconds,
    /// Per second.
    PerSecond,
    /// A share in [0, 1].
    Fraction,
    /// A ratio ≥ 0 (attempts per request).
    Ratio,
}

impl Unit {
    /// The smallest and largest value a metric of this unit can take: an
    /// interval is clipped to it (a wait is never negative, a share never
    /// above 1).
    pub fn range(self) -> (f64, f64) {
        match self {
            Unit::Fraction => (0.0, 1.0),
            Unit::Ratio => (1.0, f64::INFINITY),
            _ => (0.0, f64::INFINITY),
        }
    }
}

macro_rules! metrics {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $column:literal, $unit:ident, $worse:ident, $label:literal; )*) => {
        /// A per-class metric of one replication (a column of `summary.csv`,
        /// or an outcome share computed from its counts).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric {
            $( $(#[$doc])* $variant, )*
        }

        impl Metric {
            /// Every metric, in `summary.csv` order (shares, then serving metrics, last).
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// The name used in SLOs and `--slo` (the column without `_s`).
            pub const fn name(self) -> &'static str {
                match self { $(Metric::$variant => $name,)* }
            }

            /// The column in `summary.csv` and the prefix in `sweep.csv`.
            pub const fn column(self) -> &'static str {
                match self { $(Metric::$variant => $column,)* }
            }

            /// What the numbers are.
            pub const fn unit(self) -> Unit {
                match self { $(Metric::$variant => Unit::$unit,)* }
            }

            /// Whether a larger value is worse (latencies, losses) rather
            /// than better (throughput, attainment, completions).
            pub const fn higher_is_worse(self) -> bool {
                match self { $(Metric::$variant => metrics!(@worse $worse),)* }
            }

            /// A human label for axes, tables and messages.
            pub const fn label(self) -> &'static str {
                match self { $(Metric::$variant => $label,)* }
            }
        }
    };
    (@worse higher) => { true };
    (@worse lower) => { false };
}

metrics! {
    /// Measured requests (first attempt after the warm-up).
    Arrivals = "arrivals", "arrivals", Count, lower, "arrivals";
    /// Requests that completed.
    Completed = "completed", "completed", Count, lower, "completed";
    /// Requests turned away for good (rate limit or admission).
    Rejected = "rejected", "rejected", Count, higher, "rejected";
    /// Requests whose user gave up waiting, for good.
    Abandoned = "abandoned", "abandoned", Count, higher, "abandoned";
    /// Requests lost to GPU failures, retries exhausted.
    Failed = "failed", "failed", Count, higher, "failed";
    /// Requests still in the system when the run ended.
    InSystem = "in_system", "in_system", Count, higher, "in system";
    /// Completions inside the measured window per second.
    ThroughputPerS = "throughput_per_s", "throughput_per_s", PerSecond, lower, "throughput";
    /// Mean wait (arrival to service start).
    WaitMean = "wait_mean", "wait_mean_s", Seconds, higher, "mean wait";
    /// Median wait.
    WaitP50 = "wait_p50", "wait_p50_s", Seconds, higher, "p50 wait";
    /// 95th percentile of the wait.
    WaitP95 = "wait_p95", "wait_p95_s", Seconds, higher, "p95 wait";
    /// 99th percentile of the wait.
    WaitP99 = "wait_p99", "wait_p99_s", Seconds, higher, "p99 wait";
    /// Mean latency (arrival to completion).
    LatencyMean = "latency_mean", "latency_mean_s", Seconds, higher, "mean latency";
    /// Median latency.
    LatencyP50 = "latency_p50", "latency_p50_s", Seconds, higher, "p50 latency";
    /// 95th percentile of the latency.
    LatencyP95 = "latency_p95", "latency_p95_s", Seconds, higher, "p95 latency";
    /// 99th percentile of the latency.
    LatencyP99 = "latency_p99", "latency_p99_s", Seconds, higher, "p99 latency";
    /// 99.9th percentile of the latency.
    LatencyP999 = "latency_p999", "latency_p999_s", Seconds, higher, "p99.9 latency";
    /// Share of measured arrivals completed within the class's latency target.
    SloAttainment = "slo_attainment", "slo_attainment", Fraction, lower, "SLO attainment";
    /// Attempts per measured request (1 without retries).
    AttemptsPerRequest = "attempts_per_request", "attempts_per_request", Ratio, higher, "attempts per request";
    /// Share of measured requests that completed.
    CompletedFraction = "completed_fraction", "completed_fraction", Fraction, lower, "completed share";
    /// Share of measured requests rejected for good.
    RejectedFraction = "rejected_fraction", "rejected_fraction", Fraction, higher, "rejected share";
    /// Share of measured requests abandoned for good.
    AbandonedFraction = "abandoned_fraction", "abandoned_fraction", Fraction, higher, "abandoned share";
    /// Share of measured requests failed for good.
    FailedFraction = "failed_fraction", "failed_fraction", Fraction, higher, "failed share";
    /// Serving classes: mean time to first token (a column of `serving.csv`).
    TtftMean = "ttft_mean", "ttft_mean_s", Seconds, higher, "mean TTFT";
    /// Serving classes: median time to first token.
    TtftP50 = "ttft_p50", "ttft_p50_s", Seconds, higher, "p50 TTFT";
    /// Serving classes: 95th percentile of the time to first token.
    TtftP95 = "ttft_p95", "ttft_p95_s", Seconds, higher, "p95 TTFT";
    /// Serving classes: 99th percentile of the time to first token.
    TtftP99 = "ttft_p99", "ttft_p99_s", Seconds, higher, "p99 TTFT";
    /// Serving classes: mean time per output token.
    TpotMean = "tpot_mean", "tpot_mean_s", Seconds, higher, "mean TPOT";
    /// Serving classes: median time per output token.
    TpotP50 = "tpot_p50", "tpot_p50_s", Seconds, higher, "p50 TPOT";
    /// Serving classes: 95th percentile of the time per output token.
    TpotP95 = "tpot_p95", "tpot_p95_s", Seconds, higher, "p95 TPOT";
    /// Serving classes: 99th percentile of the time per output token.
    TpotP99 = "tpot_p99", "tpot_p99_s", Seconds, higher, "p99 TPOT";
}

impl Metric {
    /// The metrics `sweep.csv` summarises per point, in column order.
    pub const HEADLINE: &'static [Metric] = &[
        Metric::ThroughputPerS,
        Metric::WaitMean,
        Metric::WaitP99,
        Metric::LatencyMean,
        Metric::LatencyP50,
        Metric::LatencyP95,
        Metric::LatencyP99,
        Metric::LatencyP999,
        Metric::SloAttainment,
        Metric::AttemptsPerRequest,
        Metric::CompletedFraction,
        Metric::RejectedFraction,
        Metric::AbandonedFraction,
        Metric::FailedFraction,
        // Appended later (columns are only ever appended).
        Metric::WaitP50,
        Metric::WaitP95,
    ];

    /// The metrics `surge compare` reports.
    pub const COMPARED: &'static [Metric] = &[
        Metric::WaitMean,
        Metric::LatencyP50,
        Metric::LatencyP99,
        Metric::ThroughputPerS,
        Metric::AbandonedFraction,
        Metric::SloAttainment,
    ];

    /// The token-level metrics `surge compare` and `check --baseline`
    /// add for a class on a serving pool.
    pub const SERVING_COMPARED: &'static [Metric] = &[
        Metric::TtftMean,
        Metric::TtftP99,
        Metric::TpotMean,
        Metric::TpotP99,
    ];

    /// Parse a metric by its name or its column (`wait_p95` or
    /// `wait_p95_s`).
    pub fn parse(s: &str) -> Option<Metric> {
        Metric::ALL
            .iter()
            .copied()
            .find(|m| m.name() == s || m.column() == s)
    }

    /// Every accepted name, for "known: …" in messages.
    pub fn names() -> String {
        Metric::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `x` clipped to the metric's range: an interval of a wait never goes
    /// below 0, one of a share never above 1.
    pub fn clip(self, x: f64) -> f64 {
        let (lo, hi) = self.unit().range();
        x.clamp(lo, hi)
    }

    /// Whether the metric is a token-level time of a class on a serving
    /// pool (a column of `serving.csv`, not of `summary.csv`).
    pub fn is_serving(self) -> bool {
        matches!(
            self,
            Metric::TtftMean
                | Metric::TtftP50
                | Metric::TtftP95
                | Metric::TtftP99
                | Metric::TpotMean
                | Metric::TpotP50
                | Metric::TpotP95
                | Metric::TpotP99
        )
    }

    /// The value of a serving metric from a class's TTFT and TPOT
    /// histograms (`None` for other metrics, classes not on a serving
    /// pool, or no samples).
    pub fn of_serving(
        self,
        ttft: Option<&crate::metrics::DurationHistogram>,
        tpot: Option<&crate::metrics::DurationHistogram>,
    ) -> Option<f64> {
        match self {
            Metric::TtftMean => ttft?.mean_s(),
            Metric::TtftP50 => ttft?.quantile_s(0.5),
            Metric::TtftP95 => ttft?.quantile_s(0.95),
            Metric::TtftP99 => ttft?.quantile_s(0.99),
            Metric::TpotMean => tpot?.mean_s(),
            Metric::TpotP50 => tpot?.quantile_s(0.5),
            Metric::TpotP95 => tpot?.quantile_s(0.95),
            Metric::TpotP99 => tpot?.quantile_s(0.99),
            _ => None,
        }
    }

    /// Whether the metric is a share of the arrivals computed from counts
    /// (not a column of `summary.csv`).
    pub fn is_share(self) -> bool {
        matches!(
            self,
            Metric::CompletedFraction
                | Metric::RejectedFraction
                | Metric::AbandonedFraction
                | Metric::FailedFraction
        )
    }
}

impl serde::Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_columns_parse_back_to_their_metric() {
        for &m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
            assert_eq!(Metric::parse(m.column()), Some(m));
            assert_eq!(
                m.unit() == Unit::Seconds,
                m.column().ends_with("_s") && m.unit() != Unit::PerSecond
            );
        }
        assert_eq!(Metric::parse("throughput_per"), None);
        assert_eq!(Metric::parse("latency"), None);
    }

    #[test]
    fn direction_is_worse_for_losses_and_better_for_completions() {
        assert!(Metric::LatencyP99.higher_is_worse());
        assert!(Metric::RejectedFraction.higher_is_worse());
        assert!(!Metric::ThroughputPerS.higher_is_worse());
        assert!(!Metric::SloAttainment.higher_is_worse());
        assert!(!Metric::CompletedFraction.higher_is_worse());
    }
}
