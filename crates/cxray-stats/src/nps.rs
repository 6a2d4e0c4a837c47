//! Net Promoter Score from the counts of promoters (9-10), passives (7-8) and detractors (0-6)
//! on the 0-10 "likelihood to recommend" scale (Reichheld 2003).
//!
//! With p_P and p_D the promoter and detractor shares of n respondents, NPS = p_P - p_D, reported
//! on the -100..100 scale. Each respondent contributes +1, 0 or -1, so the per-respondent variance
//! is the trinomial `p_P + p_D - (p_P - p_D)^2` and SE = √(variance / n).
//!
//! Intervals:
//! - **Score** (default): Tango's (1998) score interval for a difference of two multinomial
//!   proportions from one sample, the "iterative" interval of Rocks (2016) and of the R package
//!   `NPS` (dev 2.0.999). The bounds solve |NPŜ - δ| = z·√(Ṽ(δ)/n), where Ṽ(δ) is the variance at
//!   the maximum-likelihood shares under the constraint p_P - p_D = δ. It stays inside [-100, 100],
//!   is not degenerate when every answer is in one category, and keeps close to nominal coverage at
//!   small n — which is why it is the default: CX teams routinely look at segments of 10-30 answers.
//! - **Adjusted Wald** (Rocks 2016): add 0.75 detractors, 1.5 passives, 0.75 promoters (n + 3),
//!   take the Wald interval of the adjusted NPS, clip to [-100, 100].
//! - **Wald**: NPŜ ± z·SE; reference only, it collapses to a point at 100% promoters.

use serde::Serialize;

use crate::dist::{normal_quantile, normal_two_sided_p};
use crate::error::{Result, StatsError, check_nonneg, invalid};
use crate::estimate::{Comparison, Confidence, Estimate, Interval};

/// Interval methods for NPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsInterval {
    #[default]
    Score,
    AdjustedWald,
    Wald,
}

impl NpsInterval {
    /// Name as reported in outputs.
    pub fn name(self) -> &'static str {
        match self {
            NpsInterval::Score => "nps_score_tango",
            NpsInterval::AdjustedWald => "nps_adjusted_wald",
            NpsInterval::Wald => "nps_wald",
        }
    }

    /// Parses a command-line method name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "score" | "tango" | "iterative" => NpsInterval::Score,
            "adjusted_wald" | "adjusted-wald" => NpsInterval::AdjustedWald,
            "wald" => NpsInterval::Wald,
            _ => return None,
        })
    }
}

/// Category counts of NPS answers. Counts are `f64` so that the adjusted-Wald pseudo-counts
/// and weighted totals use the same arithmetic; constructors check they are non-negative.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct NpsCounts {
    pub detractors: f64,
    pub passives: f64,
    pub promoters: f64,
}

/// Which NPS category a 0-10 score falls into.
pub fn category(score: u8) -> Option<NpsCategory> {
    match score {
        0..=6 => Some(NpsCategory::Detractor),
        7 | 8 => Some(NpsCategory::Passive),
        9 | 10 => Some(NpsCategory::Promoter),
        _ => None,
    }
}

/// The three NPS categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NpsCategory {
    Detractor,
    Passive,
    Promoter,
}

impl NpsCounts {
    /// Counts from the number of answers in each category.
    pub fn new(detractors: u64, passives: u64, promoters: u64) -> Self {
        NpsCounts {
            detractors: detractors as f64,
            passives: passives as f64,
            promoters: promoters as f64,
        }
    }

    /// Counts from the histogram of the eleven scores 0..=10.
    pub fn from_histogram(counts: &[u64; 11]) -> Self {
        let d: u64 = counts[..7].iter().sum();
        let pa = counts[7] + counts[8];
        let pr = counts[9] + counts[10];
        NpsCounts::new(d, pa, pr)
    }

    /// Counts that may be fractional (weighted sums); rejects negative or non-finite values.
    pub fn from_totals(detractors: f64, passives: f64, promoters: f64) -> Result<Self> {
        Ok(NpsCounts {
            detractors: check_nonneg("detractors", detractors)?,
            passives: check_nonneg("passives", passives)?,
            promoters: check_nonneg("promoters", promoters)?,
        })
    }

    /// Total answers.
    pub fn n(&self) -> f64 {
        self.detractors + self.passives + self.promoters
    }

    /// Merges two disjoint samples.
    pub fn merge(self, o: NpsCounts) -> NpsCounts {
        NpsCounts {
            detractors: self.detractors + o.detractors,
            passives: self.passives + o.passives,
            promoters: self.promoters + o.promoters,
        }
    }

    fn shares(&self) -> Result<(f64, f64)> {
        let n = self.n();
        if n <= 0.0 {
            return Err(StatsError::NoObservations { what: "an NPS" });
        }
        Ok((self.promoters / n, self.detractors / n))
    }

    /// NPS on the -1..1 scale.
    pub fn nps_unit(&self) -> Result<f64> {
        let (pp, pd) = self.shares()?;
        Ok(pp - pd)
    }

    /// Per-respondent variance p_P + p_D - (p_P - p_D)^2 on the -1..1 scale.
    pub fn variance_unit(&self) -> Result<f64> {
        let (pp, pd) = self.shares()?;
        Ok((pp + pd - (pp - pd).powi(2)).max(0.0))
    }

    fn adjusted(&self) -> NpsCounts {
        NpsCounts {
            detractors: self.detractors + 0.75,
            passives: self.passives + 1.5,
            promoters: self.promoters + 0.75,
        }
    }

    /// NPS on -100..100 with its standard error and interval.
    pub fn estimate(&self, confidence: Confidence, method: NpsInterval) -> Result<Estimate> {
        let nps = self.nps_unit()?;
        let n = self.n();
        let se = (self.variance_unit()? / n).sqrt();
        let z = confidence.z();
        let interval = match method {
            NpsInterval::Wald => Interval::new(nps - z * se, nps + z * se, confidence),
            NpsInterval::AdjustedWald => {
                let adj = self.adjusted();
                let c = adj.nps_unit()?;
                let s = (adj.variance_unit()? / adj.n()).sqrt();
                Interval::new(c - z * s, c + z * s, confidence)
            }
            NpsInterval::Score => self.score_interval(confidence)?,
        }
        .clip(-1.0, 1.0);
        let note = if se == 0.0 {
            Some(format!(
                "every answer is in the same category; the standard error is 0{}",
                if method == NpsInterval::Wald {
                    " and the Wald interval is a single point (use the score interval)"
                } else {
                    ""
                }
            ))
        } else if n < 30.0 {
            Some(format!("only {n} answers: the interval is wide"))
        } else {
            None
        };
        Ok(Estimate {
            value: nps,
            n: n.round() as u64,
            n_effective: n,
            se: Some(se),
            interval: Some(interval),
            method: method.name(),
            note,
        }
        .scaled(100.0))
    }

    /// Tango (1998) score interval for p_P - p_D on the -1..1 scale.
    fn score_interval(&self, confidence: Confidence) -> Result<Interval> {
        let d_hat = self.nps_unit()?;
        let z = confidence.z();
        // Score statistic, decreasing in delta on (-1, 1).
        let stat = |delta: f64| -> f64 {
            let v = self.constrained_variance(delta);
            let diff = d_hat - delta;
            if v <= 0.0 {
                return if diff > 0.0 {
                    f64::INFINITY
                } else if diff < 0.0 {
                    f64::NEG_INFINITY
                } else {
                    0.0
                };
            }
            diff / (v / self.n()).sqrt()
        };
        let solve = |target: f64, mut lo: f64, mut hi: f64| -> f64 {
            // stat(lo) >= target >= stat(hi)
            for _ in 0..200 {
                let mid = 0.5 * (lo + hi);
                if stat(mid) > target {
                    lo = mid;
                } else {
                    hi = mid;
                }
                if hi - lo < 1e-15 {
                    break;
                }
            }
            0.5 * (lo + hi)
        };
        let low = if d_hat <= -1.0 || stat(-1.0) <= z {
            -1.0
        } else {
            solve(z, -1.0, d_hat)
        };
        let high = if d_hat >= 1.0 || stat(1.0) >= -z {
            1.0
        } else {
            solve(-z, d_hat, 1.0)
        };
        Ok(Interval::new(low, high, confidence))
    }

    /// Per-respondent variance at the restricted maximum-likelihood shares with p_P - p_D = delta.
    fn constrained_variance(&self, delta: f64) -> f64 {
        let n = self.n();
        let (np, nd, na) = (self.promoters, self.detractors, self.passives);
        // d/dx of the log-likelihood with p_D = x, p_P = x + δ, p_A = 1 - 2x - δ gives
        // 2n x² - B x - C = 0.
        let b = np * (1.0 - delta) + nd * (1.0 - 3.0 * delta) - 2.0 * na * delta;
        let c = nd * delta * (1.0 - delta);
        let disc = (b * b + 8.0 * n * c).max(0.0);
        let lo = (-delta).max(0.0);
        let hi = ((1.0 - delta) / 2.0).max(lo);
        let x = ((b + disc.sqrt()) / (4.0 * n)).clamp(lo, hi);
        (2.0 * x + delta - delta * delta).max(0.0)
    }
}

/// Difference of two independent NPS values (a - b) with its two-sided z-test, on -100..100.
///
/// `Wald` uses the raw counts; `AdjustedWald` the counts with Rocks' pseudo-counts added to each
/// sample (as `nps_test_(x, y, test = "adjusted.wald")` in R `NPS` 2.0.999). `Score` falls back
/// to the Wald test of the raw counts, the usual large-sample comparison.
pub fn nps_difference(
    a: &NpsCounts,
    b: &NpsCounts,
    confidence: Confidence,
    method: NpsInterval,
) -> Result<Comparison> {
    let (a, b) = match method {
        NpsInterval::AdjustedWald => (a.adjusted(), b.adjusted()),
        _ => (*a, *b),
    };
    let d = a.nps_unit()? - b.nps_unit()?;
    let se = (a.variance_unit()? / a.n() + b.variance_unit()? / b.n()).sqrt();
    let z = confidence.z();
    let (statistic, p_value) = if se > 0.0 {
        (d / se, normal_two_sided_p(d / se))
    } else if d == 0.0 {
        (0.0, 1.0)
    } else {
        return Err(StatsError::Undefined(
            "both NPS samples have zero variance but differ; a z-test is not defined".into(),
        ));
    };
    Ok(Comparison {
        difference: d,
        se,
        statistic,
        df: None,
        p_value,
        interval: Interval::new(d - z * se, d + z * se, confidence),
        method: match method {
            NpsInterval::AdjustedWald => "nps_difference_adjusted_wald_z",
            _ => "nps_difference_wald_z",
        },
    }
    .scaled(100.0))
}

/// Margin of error (half-width of the Wald interval) in NPS points for a per-respondent
/// variance `variance` (on the -1..1 scale; 0.61 is typical, 1.0 the maximum) and n answers.
pub fn nps_margin_of_error(variance: f64, n: f64, confidence: Confidence) -> Result<f64> {
    if n.is_nan() || n <= 0.0 {
        return Err(StatsError::NoObservations {
            what: "a margin of error",
        });
    }
    check_nonneg("variance", variance)?;
    Ok(100.0 * confidence.z() * (variance / n).sqrt())
}

/// Answers needed for a margin of error of `margin_points` NPS points:
/// ⌈z²·variance / margin²⌉ with the margin on the -1..1 scale.
pub fn nps_sample_size(variance: f64, margin_points: f64, confidence: Confidence) -> Result<u64> {
    check_nonneg("variance", variance)?;
    if !(margin_points > 0.0 && margin_points.is_finite()) {
        return Err(invalid(format!(
            "margin must be positive, got {margin_points}"
        )));
    }
    let m = margin_points / 100.0;
    let z = confidence.z();
    Ok(ceil_tolerant(z * z * variance / (m * m)))
}

/// Answers per group needed to detect a difference of `difference_points` NPS points between two
/// independent groups of equal size with the given power (two-sided test at 1 - confidence):
/// ⌈(z_{1-α/2} + z_{power})²·2·variance / δ²⌉.
pub fn nps_sample_size_per_group(
    variance: f64,
    difference_points: f64,
    confidence: Confidence,
    power: f64,
) -> Result<u64> {
    check_nonneg("variance", variance)?;
    if !(power > 0.0 && power < 1.0) {
        return Err(invalid(format!("power must be in (0, 1), got {power}")));
    }
    if !(difference_points > 0.0 && difference_points.is_finite()) {
        return Err(invalid(format!(
            "difference must be positive, got {difference_points}"
        )));
    }
    let d = difference_points / 100.0;
    let k = confidence.z() + normal_quantile(power);
    Ok(ceil_tolerant(k * k * 2.0 * variance / (d * d)))
}

/// Ceiling that ignores floating-point noise just above an integer.
fn ceil_tolerant(x: f64) -> u64 {
    let r = x.round();
    if (x - r).abs() < 1e-9 * x.abs().max(1.0) {
        r as u64
    } else {
        x.ceil() as u64
    }
}
