//! The estimate type every metric returns: a value that travels with its sample size,
//! standard error, interval and the name of the method that produced them (as in Lumley's
//! R `survey` package, where no estimate is ever separated from its standard error).

use serde::Serialize;

use crate::error::{Result, invalid};

/// A confidence level strictly between 0 and 1 (e.g. 0.95).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct Confidence(f64);

impl Confidence {
    /// Validates a confidence level; 0.95 means a 95% two-sided interval.
    pub fn new(level: f64) -> Result<Self> {
        if level.is_finite() && level > 0.0 && level < 1.0 {
            Ok(Confidence(level))
        } else {
            Err(invalid(format!(
                "confidence must be strictly between 0 and 1, got {level}"
            )))
        }
    }

    /// The level, e.g. 0.95.
    pub fn level(self) -> f64 {
        self.0
    }

    /// Two-sided tail probability alpha = 1 - level.
    pub fn alpha(self) -> f64 {
        1.0 - self.0
    }

    /// The standard normal quantile z_{1 - alpha/2}.
    pub fn z(self) -> f64 {
        crate::dist::normal_quantile(1.0 - self.alpha() / 2.0)
    }
}

impl Default for Confidence {
    fn default() -> Self {
        Confidence(0.95)
    }
}

/// A two-sided interval at a stated confidence level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
    pub confidence: f64,
}

impl Interval {
    pub(crate) fn new(low: f64, high: f64, confidence: Confidence) -> Self {
        Interval {
            low,
            high,
            confidence: confidence.level(),
        }
    }

    /// Clips both bounds to `[min, max]` (for bounded quantities such as proportions).
    pub(crate) fn clip(self, min: f64, max: f64) -> Self {
        Interval {
            low: self.low.clamp(min, max),
            high: self.high.clamp(min, max),
            confidence: self.confidence,
        }
    }

    /// Half the width: the "margin of error" of a symmetric interval.
    pub fn half_width(&self) -> f64 {
        (self.high - self.low) / 2.0
    }

    /// Whether `x` lies inside the closed interval.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// Multiplies both bounds by a positive factor (e.g. a proportion to percent).
    pub(crate) fn scaled(self, factor: f64) -> Self {
        Interval {
            low: self.low * factor,
            high: self.high * factor,
            confidence: self.confidence,
        }
    }
}

/// A point estimate with everything needed to judge it.
///
/// `se` and `interval` are `None` only when they are mathematically undefined for the data
/// (for example the standard deviation of a single value); `note` then says why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The estimate on its reporting scale (NPS on -100..100, proportions on 0..1, means on the
    /// metric's own scale).
    pub value: f64,
    /// Number of observations the estimate rests on.
    pub n: u64,
    /// Kish effective sample size; equal to `n` for unweighted estimates.
    pub n_effective: f64,
    /// Standard error on the same scale as `value`.
    pub se: Option<f64>,
    /// Confidence interval on the same scale as `value`.
    pub interval: Option<Interval>,
    /// Name of the estimator and interval method, e.g. `"wilson"`.
    pub method: &'static str,
    /// Why `se` or `interval` is missing, or a caveat about them (small n, boundary).
    pub note: Option<String>,
}

impl Estimate {
    /// Multiplies value, standard error and interval by a positive factor (e.g. a proportion
    /// to percent).
    pub fn scaled(mut self, factor: f64) -> Self {
        self.value *= factor;
        self.se = self.se.map(|s| s * factor);
        self.interval = self.interval.map(|i| i.scaled(factor));
        self
    }
}

/// Two-sided z-test of the difference of two independent estimates from their standard errors
/// (used for weighted estimates, whose SEs come from linearisation).
pub fn z_test_from_se(
    a: f64,
    se_a: f64,
    b: f64,
    se_b: f64,
    confidence: Confidence,
) -> crate::Result<Comparison> {
    let se = (se_a * se_a + se_b * se_b).sqrt();
    let d = a - b;
    if !se.is_finite() || se <= 0.0 {
        return if d == 0.0 && se == 0.0 {
            Ok(Comparison {
                difference: 0.0,
                se: 0.0,
                statistic: 0.0,
                df: None,
                p_value: 1.0,
                interval: Interval::new(0.0, 0.0, confidence),
                method: "z_from_standard_errors",
            })
        } else {
            Err(crate::StatsError::Undefined(
                "a difference with zero standard error cannot be tested".into(),
            ))
        };
    }
    let z = confidence.z();
    Ok(Comparison {
        difference: d,
        se,
        statistic: d / se,
        df: None,
        p_value: crate::dist::normal_two_sided_p(d / se),
        interval: Interval::new(d - z * se, d + z * se, confidence),
        method: "z_from_standard_errors",
    })
}

/// The result of a test of a difference between two estimates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// First minus second, on the estimates' reporting scale.
    pub difference: f64,
    /// Standard error of the difference.
    pub se: f64,
    /// Test statistic (z or t).
    pub statistic: f64,
    /// Degrees of freedom when the statistic is a t, else `None` (normal reference).
    pub df: Option<f64>,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Confidence interval of the difference.
    pub interval: Interval,
    /// Name of the test.
    pub method: &'static str,
}

impl Comparison {
    /// Multiplies the difference, its SE and interval by a positive factor (e.g. to percent).
    pub fn scaled(mut self, factor: f64) -> Self {
        self.difference *= factor;
        self.se *= factor;
        self.interval = self.interval.scaled(factor);
        self
    }
}

/// Sample sizes under which an interval covers less than its level by the calibration study
/// (`docs/calibration.md`: a 95% interval covering under 93%), and the note an estimate then
/// carries.
pub mod small_sample {
    /// A t interval of a mean score: 87-93% at 5-20 answers on skewed 1-5 and 1-7 scales.
    pub const MEAN: u64 = 30;
    /// A ratio over clusters (K-factor, referral conversion): 89-92% at 10-20 customers.
    pub const CLUSTERS: u64 = 50;
    /// A weighted mean by its Kish effective n: 92% at 20 answers (effective n about 15).
    pub const EFFECTIVE_N: f64 = 30.0;
    /// A Wilson interval of a share of 90% or more (or 10% or less): 91.6-92.5% at 10-20
    /// answers when the truth is 95%.
    pub const EXTREME_SHARE: u64 = 40;

    /// Where the notes point, and how a note is told from others.
    pub const SOURCE: &str = "docs/calibration.md";

    /// Whether `note` is one of these notes.
    pub fn is_note(note: &str) -> bool {
        note.strip_suffix(')')
            .and_then(|n| n.strip_suffix(SOURCE))
            .is_some_and(|n| n.ends_with('('))
    }

    /// The note of an estimate from fewer than `threshold` observations (`what`: "few
    /// answers").
    pub fn note(
        n: impl std::fmt::Display,
        threshold: impl std::fmt::Display,
        what: &str,
    ) -> String {
        format!(
            "{what} ({n}, under {threshold}): the interval covers less than its stated level \
             at this size ({SOURCE})"
        )
    }
}
