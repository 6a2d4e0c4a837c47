//! Proportions: CSAT % satisfied (top-2-box), CES % easy, task completion, response rate, first
//! contact resolution, abandonment — any "k of n" metric.
//!
//! Intervals (z = z_{1-α/2}, p̂ = k/n):
//! - **Wilson score** (default; Wilson 1927): centre (p̂ + z²/2n)/(1 + z²/n), half-width
//!   z/(1 + z²/n)·√(p̂(1-p̂)/n + z²/4n²). Near-nominal coverage at small n and near 0 or 1
//!   (Brown, Cai & DasGupta 2001).
//! - **Adjusted Wald / Agresti-Coull** (Agresti & Coull 1998): add z²/2 successes and z² trials,
//!   then Wald. Sauro & Lewis (2005) recommend it for task-completion rates in usability tests.
//! - **Clopper-Pearson exact**: Beta(α/2; k, n-k+1) to Beta(1-α/2; k+1, n-k); conservative.
//! - **Jeffreys**: equal-tailed Beta(k+½, n-k+½) posterior interval, with the lower bound set to
//!   0 when k = 0 and the upper to 1 when k = n (Brown, Cai & DasGupta 2001).
//! - **Wald**: p̂ ± z√(p̂(1-p̂)/n); shown for comparison, poor at small n.
//!
//! All intervals are clipped to [0, 1] (as statsmodels' `proportion_confint` does). The standard
//! error reported is always the Wald one, √(p̂(1-p̂)/n).

use serde::Serialize;

use crate::dist::{beta_quantile, normal_two_sided_p};
use crate::error::{Result, StatsError, invalid};
use crate::estimate::{Comparison, Confidence, Estimate, Interval, small_sample};

/// Interval methods for a single proportion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProportionInterval {
    #[default]
    Wilson,
    AgrestiCoull,
    ClopperPearson,
    Jeffreys,
    Wald,
}

impl ProportionInterval {
    /// The method's name as reported in outputs.
    pub fn name(self) -> &'static str {
        match self {
            ProportionInterval::Wilson => "wilson",
            ProportionInterval::AgrestiCoull => "agresti_coull",
            ProportionInterval::ClopperPearson => "clopper_pearson",
            ProportionInterval::Jeffreys => "jeffreys",
            ProportionInterval::Wald => "wald",
        }
    }

    /// Parses a method name (as accepted on the command line).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "wilson" | "score" => ProportionInterval::Wilson,
            "agresti_coull" | "agresti-coull" | "adjusted_wald" | "adjusted-wald" => {
                ProportionInterval::AgrestiCoull
            }
            "clopper_pearson" | "clopper-pearson" | "exact" => ProportionInterval::ClopperPearson,
            "jeffreys" => ProportionInterval::Jeffreys,
            "wald" => ProportionInterval::Wald,
            _ => return None,
        })
    }
}

/// k successes out of n trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

impl Proportion {
    /// Checks k ≤ n.
    pub fn new(successes: u64, trials: u64) -> Result<Self> {
        if successes > trials {
            return Err(invalid(format!(
                "successes ({successes}) exceed trials ({trials})"
            )));
        }
        Ok(Proportion { successes, trials })
    }

    /// Merges two disjoint samples.
    pub fn merge(self, other: Proportion) -> Proportion {
        Proportion {
            successes: self.successes + other.successes,
            trials: self.trials + other.trials,
        }
    }

    /// p̂ = k/n, or an error when n = 0.
    pub fn p(&self) -> Result<f64> {
        if self.trials == 0 {
            return Err(StatsError::NoObservations {
                what: "a proportion",
            });
        }
        Ok(self.successes as f64 / self.trials as f64)
    }

    /// The proportion on 0..1 with its interval.
    pub fn estimate(&self, confidence: Confidence, method: ProportionInterval) -> Result<Estimate> {
        let p = self.p()?;
        let n = self.trials as f64;
        let interval = proportion_interval(self.successes as f64, n, confidence, method);
        let note = if self.successes == 0 || self.successes == self.trials {
            Some(format!(
                "all {n} observations are {}; the Wald standard error is 0 and only the {} interval is informative",
                if self.successes == 0 {
                    "failures"
                } else {
                    "successes"
                },
                method.name()
            ))
        } else if method == ProportionInterval::Wilson
            && self.trials < small_sample::EXTREME_SHARE
            && (p <= 0.1 || p >= 0.9)
        {
            Some(small_sample::note(
                self.trials,
                small_sample::EXTREME_SHARE,
                "a share near 0 or 1 from few answers",
            ))
        } else {
            None
        };
        Ok(Estimate {
            value: p,
            n: self.trials,
            n_effective: n,
            se: Some((p * (1.0 - p) / n).sqrt()),
            interval: Some(interval),
            method: method.name(),
            note,
        })
    }
}

/// Interval for k successes in n trials; `k` and `n` may be non-integer (effective counts of a
/// weighted sample, see [`crate::weighted`]). Requires n > 0.
pub(crate) fn proportion_interval(
    k: f64,
    n: f64,
    confidence: Confidence,
    method: ProportionInterval,
) -> Interval {
    let z = confidence.z();
    let p = k / n;
    let (low, high) = match method {
        ProportionInterval::Wilson => {
            let z2 = z * z;
            let denom = 1.0 + z2 / n;
            let centre = (p + z2 / (2.0 * n)) / denom;
            let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
            (centre - half, centre + half)
        }
        ProportionInterval::AgrestiCoull => {
            let nt = n + z * z;
            let pt = (k + z * z / 2.0) / nt;
            let half = z * (pt * (1.0 - pt) / nt).sqrt();
            (pt - half, pt + half)
        }
        ProportionInterval::ClopperPearson => {
            let a = confidence.alpha() / 2.0;
            let low = if k <= 0.0 {
                0.0
            } else {
                beta_quantile(a, k, n - k + 1.0)
            };
            let high = if k >= n {
                1.0
            } else {
                beta_quantile(1.0 - a, k + 1.0, n - k)
            };
            (low, high)
        }
        ProportionInterval::Jeffreys => {
            let a = confidence.alpha() / 2.0;
            let low = if k <= 0.0 {
                0.0
            } else {
                beta_quantile(a, k + 0.5, n - k + 0.5)
            };
            let high = if k >= n {
                1.0
            } else {
                beta_quantile(1.0 - a, k + 0.5, n - k + 0.5)
            };
            (low, high)
        }
        ProportionInterval::Wald => {
            let half = z * (p * (1.0 - p) / n).sqrt();
            (p - half, p + half)
        }
    };
    Interval::new(low, high, confidence).clip(0.0, 1.0)
}

/// Interval for the difference of two independent proportions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceInterval {
    /// Unpooled Wald: (p₁-p₂) ± z√(p₁q₁/n₁ + p₂q₂/n₂).
    Wald,
    /// Newcombe (1998) hybrid score interval built from the two Wilson intervals.
    #[default]
    Newcombe,
}

/// Two-sided z-test of p₁ = p₂ with the pooled standard error (as `prop.test(correct = FALSE)` in
/// R and `proportions_ztest` in statsmodels), plus an interval for p₁ - p₂.
///
/// `Comparison::se` is the unpooled standard error of the difference.
pub fn two_proportion_test(
    a: Proportion,
    b: Proportion,
    confidence: Confidence,
    interval: DifferenceInterval,
) -> Result<Comparison> {
    let p1 = a.p()?;
    let p2 = b.p()?;
    let (n1, n2) = (a.trials as f64, b.trials as f64);
    let pooled = (a.successes + b.successes) as f64 / (n1 + n2);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let d = p1 - p2;
    let (statistic, p_value) = if se_pooled > 0.0 {
        let z = d / se_pooled;
        (z, normal_two_sided_p(z))
    } else {
        // Both samples all-success or all-failure: identical, no evidence of a difference.
        (0.0, 1.0)
    };
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let z = confidence.z();
    let ci = match interval {
        DifferenceInterval::Wald => Interval::new(d - z * se, d + z * se, confidence),
        DifferenceInterval::Newcombe => {
            let w1 = proportion_interval(
                a.successes as f64,
                n1,
                confidence,
                ProportionInterval::Wilson,
            );
            let w2 = proportion_interval(
                b.successes as f64,
                n2,
                confidence,
                ProportionInterval::Wilson,
            );
            let low = d - ((p1 - w1.low).powi(2) + (w2.high - p2).powi(2)).sqrt();
            let high = d + ((w1.high - p1).powi(2) + (p2 - w2.low).powi(2)).sqrt();
            Interval::new(low, high, confidence)
        }
    };
    Ok(Comparison {
        difference: d,
        se,
        statistic,
        df: None,
        p_value,
        interval: ci,
        method: match interval {
            DifferenceInterval::Wald => "two_proportion_z_pooled_wald_ci",
            DifferenceInterval::Newcombe => "two_proportion_z_pooled_newcombe_ci",
        },
    })
}

/// Wilson lower bound: the conservative "at least this share is positive" score used to rank
/// items by a proportion with very different sample sizes (Evan Miller, "How not to sort by
/// average rating", 2009).
pub fn wilson_lower_bound(p: Proportion, confidence: Confidence) -> Result<f64> {
    p.p()?;
    Ok(proportion_interval(
        p.successes as f64,
        p.trials as f64,
        confidence,
        ProportionInterval::Wilson,
    )
    .low)
}
