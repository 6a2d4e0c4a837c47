//! Means of rating scales and durations: CSAT and CES means, star ratings, handle time.
//!
//! Sufficient statistics are n, the mean and M2 = Σ(x - x̄)², kept in the numerically stable
//! form of Welford (1962) and merged with Chan, Golub & LeVeque (1979), so groups computed apart
//! combine exactly. Estimators:
//! - **t-interval**: x̄ ± t_{1-α/2, n-1}·s/√n with s² = M2/(n-1).
//! - **Welch's t-test** (Welch 1947): t = (x̄₁-x̄₂)/√(s₁²/n₁ + s₂²/n₂) with
//!   Welch-Satterthwaite degrees of freedom.
//! - **Bayesian average** (a.k.a. the IMDb weighted rating): (C·m + Σx)/(C + n), shrinking
//!   items with few ratings towards a prior mean m with a prior weight of C pseudo-ratings.
//! - **Evan Miller's star sort** (2015): the posterior mean under a Dirichlet(1,…,1) prior minus
//!   z posterior standard deviations, for ranking items by star distribution.

use serde::Serialize;

use crate::dist::{t_quantile, t_two_sided_p};
use crate::error::{Result, StatsError, check_finite, check_nonneg, invalid};
use crate::estimate::{Comparison, Confidence, Estimate, Interval, small_sample};

/// Mergeable moments of a sample: count, mean and sum of squared deviations.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// Moments of a slice of values (Welford's algorithm).
    pub fn from_values(values: &[f64]) -> Result<Self> {
        let mut m = Moments::default();
        for &x in values {
            m.push(check_finite("value", x)?);
        }
        Ok(m)
    }

    /// Moments of a frequency table of `(value, count)` pairs, e.g. the counts of a 1-5 scale.
    pub fn from_histogram(table: &[(f64, u64)]) -> Result<Self> {
        let mut n = 0u64;
        let mut sum = 0.0;
        for &(v, c) in table {
            check_finite("value", v)?;
            n += c;
            sum += v * c as f64;
        }
        if n == 0 {
            return Ok(Moments::default());
        }
        let mean = sum / n as f64;
        let m2 = table
            .iter()
            .map(|&(v, c)| c as f64 * (v - mean).powi(2))
            .sum();
        Ok(Moments { n, mean, m2 })
    }

    /// Moments from the raw sums n, Σx, Σx² (as a query engine returns them).
    pub fn from_sums(n: u64, sum: f64, sum_sq: f64) -> Result<Self> {
        check_finite("sum", sum)?;
        check_finite("sum of squares", sum_sq)?;
        if n == 0 {
            return Ok(Moments::default());
        }
        let mean = sum / n as f64;
        Ok(Moments {
            n,
            mean,
            m2: (sum_sq - sum * mean).max(0.0),
        })
    }

    /// Adds one observation.
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    /// Combines two disjoint samples.
    pub fn merge(self, o: Moments) -> Moments {
        if self.n == 0 {
            return o;
        }
        if o.n == 0 {
            return self;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        let (na, nb, nf) = (self.n as f64, o.n as f64, n as f64);
        Moments {
            n,
            mean: self.mean + d * nb / nf,
            m2: self.m2 + o.m2 + d * d * na * nb / nf,
        }
    }

    /// Sample variance s² = M2/(n-1).
    pub fn variance(&self) -> Result<f64> {
        if self.n < 2 {
            return Err(StatsError::TooFewObservations {
                what: "a sample variance",
                needed: 2,
                got: self.n,
            });
        }
        Ok(self.m2 / (self.n - 1) as f64)
    }

    /// The mean with its t-interval.
    pub fn estimate(&self, confidence: Confidence) -> Result<Estimate> {
        if self.n == 0 {
            return Err(StatsError::NoObservations { what: "a mean" });
        }
        let n = self.n as f64;
        if self.n == 1 {
            return Ok(Estimate {
                value: self.mean,
                n: 1,
                n_effective: 1.0,
                se: None,
                interval: None,
                method: "t",
                note: Some("one observation: the standard error is undefined".into()),
            });
        }
        let se = (self.variance()? / n).sqrt();
        let t = t_quantile(1.0 - confidence.alpha() / 2.0, n - 1.0);
        Ok(Estimate {
            value: self.mean,
            n: self.n,
            n_effective: n,
            se: Some(se),
            interval: Some(Interval::new(
                self.mean - t * se,
                self.mean + t * se,
                confidence,
            )),
            method: "t",
            note: if se == 0.0 {
                Some("all values are equal: zero variance".to_string())
            } else {
                (self.n < small_sample::MEAN)
                    .then(|| small_sample::note(self.n, small_sample::MEAN, "few answers"))
            },
        })
    }
}

/// Welch's two-sample t-test of equal means (a - b), with the interval of the difference.
pub fn welch_test(a: &Moments, b: &Moments, confidence: Confidence) -> Result<Comparison> {
    let va = a.variance()?;
    let vb = b.variance()?;
    let (na, nb) = (a.n as f64, b.n as f64);
    let (sa, sb) = (va / na, vb / nb);
    let se = (sa + sb).sqrt();
    let d = a.mean - b.mean;
    if se == 0.0 {
        if d == 0.0 {
            return Ok(Comparison {
                difference: 0.0,
                se: 0.0,
                statistic: 0.0,
                df: None,
                p_value: 1.0,
                interval: Interval::new(0.0, 0.0, confidence),
                method: "welch_t",
            });
        }
        return Err(StatsError::Undefined(
            "both samples have zero variance but different means; a t-test is not defined".into(),
        ));
    }
    let df = (sa + sb).powi(2) / (sa * sa / (na - 1.0) + sb * sb / (nb - 1.0));
    let t = d / se;
    let q = t_quantile(1.0 - confidence.alpha() / 2.0, df);
    Ok(Comparison {
        difference: d,
        se,
        statistic: t,
        df: Some(df),
        p_value: t_two_sided_p(t, df),
        interval: Interval::new(d - q * se, d + q * se, confidence),
        method: "welch_t",
    })
}

/// Bayesian average (C·m + Σx)/(C + n): the mean of `item` shrunk towards `prior_mean` with the
/// weight of `prior_weight` pseudo-observations. With no ratings it is the prior mean.
pub fn bayesian_average(item: &Moments, prior_mean: f64, prior_weight: f64) -> Result<f64> {
    check_finite("prior mean", prior_mean)?;
    check_nonneg("prior weight", prior_weight)?;
    let n = item.n as f64;
    if n + prior_weight <= 0.0 {
        return Err(StatsError::NoObservations {
            what: "a Bayesian average with zero prior weight",
        });
    }
    Ok((prior_weight * prior_mean + item.mean * n) / (prior_weight + n))
}

/// Evan Miller's star-rating sort criterion. `counts[i]` is the number of ratings with value
/// `values[i]` (e.g. 5, 4, 3, 2, 1 stars). Returns (posterior mean, posterior mean - z·sd) under a
/// uniform Dirichlet prior: with N ratings over K levels, E[s] = Σ s_k(n_k+1)/(N+K) and
/// sd = √((E[s²] - E[s]²)/(N+K+1)).
pub fn star_sort_score(values: &[f64], counts: &[u64], z: f64) -> Result<(f64, f64)> {
    if values.len() != counts.len() || values.is_empty() {
        return Err(invalid("star sort needs one count per rating level"));
    }
    let k = values.len() as f64;
    let n: f64 = counts.iter().map(|&c| c as f64).sum();
    let denom = n + k;
    let m1: f64 = values
        .iter()
        .zip(counts)
        .map(|(&s, &c)| s * (c as f64 + 1.0))
        .sum::<f64>()
        / denom;
    let m2: f64 = values
        .iter()
        .zip(counts)
        .map(|(&s, &c)| s * s * (c as f64 + 1.0))
        .sum::<f64>()
        / denom;
    Ok((
        m1,
        m1 - z * ((m2 - m1 * m1).max(0.0) / (denom + 1.0)).sqrt(),
    ))
}
