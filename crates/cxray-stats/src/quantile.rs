//! Quantiles of durations (first response time, time to resolution, handle time).
//!
//! - **Exact** ([`quantile_sorted`]): linear interpolation between order statistics, Hyndman &
//!   Fan (1996) definition 7 — R's default `quantile(type = 7)` and numpy's `"linear"` method.
//!   With sorted x₀..xₙ₋₁ and h = (n-1)q: x_{⌊h⌋} + (h - ⌊h⌋)(x_{⌊h⌋+1} - x_{⌊h⌋}).
//! - **DDSketch** ([`DdSketch`], Masson, Rim & Lee 2019): a mergeable sketch with relative
//!   accuracy α. A positive value x falls in bucket i = ⌈ln x / ln γ⌉ with γ = (1+α)/(1-α); the
//!   bucket is represented by 2γⁱ/(γ+1). For every q the returned value is within a relative error
//!   α of the exact order statistic x₍⌊q(n-1)⌋₎ (the "lower" quantile). Because the bucket index is
//!   a plain arithmetic expression, a query engine can compute the sketch as a GROUP BY on
//!   `ceil(ln(x) / ln(γ))` and send back one row per bucket.
//! - **Interval** ([`quantile_rank_interval`]): the distribution-free interval of a quantile
//!   between two order statistics, their ranks from the exact binomial distribution of the number
//!   of values below the quantile (Conover 1999, §3.2; scipy's `quantile_test(...)
//!   .confidence_interval`): low = x₍k₎ with k = F⁻¹(a/2) − 1 and high = x₍j₎ with j the smallest
//!   rank whose upper tail is at most a/2 (0-based ranks, F the Binomial(n, q) CDF, a = 1 −
//!   confidence). A bound whose rank falls outside the sample is undefined.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Result, StatsError, check_finite, invalid};
use crate::estimate::{Confidence, Estimate, Interval};

/// Type-7 quantile of already sorted values, q in [0, 1].
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Result<f64> {
    if !(0.0..=1.0).contains(&q) {
        return Err(invalid(format!(
            "quantile level must be in [0, 1], got {q}"
        )));
    }
    if sorted.is_empty() {
        return Err(StatsError::NoObservations { what: "a quantile" });
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Ok(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Type-7 quantiles of unsorted values (sorts a copy; NaN rejected).
pub fn quantiles(values: &[f64], qs: &[f64]) -> Result<Vec<f64>> {
    let mut v = values.to_vec();
    for &x in &v {
        check_finite("value", x)?;
    }
    v.sort_by(f64::total_cmp);
    qs.iter().map(|&q| quantile_sorted(&v, q)).collect()
}

/// 0-based ranks of the order statistics bounding the `q`-quantile at `confidence`; `None` for
/// a bound outside the sample (small n or extreme q).
pub fn quantile_rank_interval(
    n: u64,
    q: f64,
    confidence: Confidence,
) -> Result<(Option<u64>, Option<u64>)> {
    use statrs::distribution::{Binomial, DiscreteCDF};
    if !(q > 0.0 && q < 1.0) {
        return Err(invalid(format!(
            "quantile level for an interval must be in (0, 1), got {q}"
        )));
    }
    if n == 0 {
        return Err(StatsError::NoObservations { what: "a quantile" });
    }
    let b = Binomial::new(q, n).map_err(|e| invalid(e.to_string()))?;
    let tail = confidence.alpha() / 2.0;
    // Smallest k in [0, n] with pred(k) true (pred monotone).
    let search = |pred: &dyn Fn(u64) -> bool| {
        let (mut lo, mut hi) = (0u64, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    };
    let ppf = search(&|k| b.cdf(k) >= tail);
    let isf = search(&|k| b.sf(k) <= tail);
    let low = ppf.checked_sub(1);
    let high = (isf < n).then_some(isf);
    Ok((low, high))
}

/// A DDSketch over non-negative values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DdSketch {
    alpha: f64,
    ln_gamma: f64,
    zeros: u64,
    buckets: BTreeMap<i32, u64>,
    count: u64,
}

impl DdSketch {
    /// A sketch with relative accuracy `alpha` in (0, 1), e.g. 0.01 for ±1%.
    pub fn new(alpha: f64) -> Result<Self> {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(invalid(format!(
                "relative accuracy must be in (0, 1), got {alpha}"
            )));
        }
        Ok(DdSketch {
            alpha,
            ln_gamma: Self::ln_gamma_for(alpha),
            zeros: 0,
            buckets: BTreeMap::new(),
            count: 0,
        })
    }

    /// ln γ for accuracy α, the divisor of the bucket index.
    pub fn ln_gamma_for(alpha: f64) -> f64 {
        ((1.0 + alpha) / (1.0 - alpha)).ln()
    }

    /// The relative accuracy α.
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// Bucket index of a positive value.
    pub fn bucket_index(&self, x: f64) -> i32 {
        (x.ln() / self.ln_gamma).ceil() as i32
    }

    /// Adds a value; negative or non-finite values are an error (durations cannot be negative).
    pub fn add(&mut self, x: f64) -> Result<()> {
        check_finite("value", x)?;
        if x < 0.0 {
            return Err(invalid(format!(
                "DDSketch holds non-negative values, got {x}"
            )));
        }
        if x == 0.0 {
            self.zeros += 1;
        } else {
            *self.buckets.entry(self.bucket_index(x)).or_default() += 1;
        }
        self.count += 1;
        Ok(())
    }

    /// Adds `count` values that fell in bucket `index` (as an engine returns them); use
    /// `None` for the bucket of zeros.
    pub fn add_bucket(&mut self, index: Option<i32>, count: u64) {
        match index {
            None => self.zeros += count,
            Some(i) => *self.buckets.entry(i).or_default() += count,
        }
        self.count += count;
    }

    /// Merges another sketch with the same accuracy.
    pub fn merge(&mut self, o: &DdSketch) -> Result<()> {
        if o.alpha != self.alpha {
            return Err(invalid("cannot merge sketches of different accuracy"));
        }
        self.zeros += o.zeros;
        for (&i, &c) in &o.buckets {
            *self.buckets.entry(i).or_default() += c;
        }
        self.count += o.count;
        Ok(())
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value of the order statistic of 0-based `rank`, within relative error α.
    pub fn value_at_rank(&self, rank: u64) -> Result<f64> {
        if rank >= self.count {
            return Err(invalid(format!(
                "rank {rank} is outside a sketch of {} values",
                self.count
            )));
        }
        if rank < self.zeros {
            return Ok(0.0);
        }
        let mut seen = self.zeros;
        let gamma = self.ln_gamma.exp();
        for (&i, &c) in &self.buckets {
            seen += c;
            if seen > rank {
                return Ok(2.0 * (i as f64 * self.ln_gamma).exp() / (gamma + 1.0));
            }
        }
        unreachable!("rank is below the total count")
    }

    /// The q-quantile with its distribution-free interval ([`quantile_rank_interval`]); the
    /// interval is absent, with a note, when the sample is too small for the confidence asked.
    pub fn estimate(&self, q: f64, confidence: Confidence) -> Result<Estimate> {
        let value = self.quantile(q)?;
        let (low, high) = quantile_rank_interval(self.count, q, confidence)?;
        let (interval, note) = match (low, high) {
            (Some(l), Some(h)) => (
                Some(Interval::new(
                    self.value_at_rank(l)?,
                    self.value_at_rank(h)?,
                    confidence,
                )),
                None,
            ),
            _ => (
                None,
                Some(format!(
                    "too few values ({}) for a {:.0}% interval of this quantile",
                    self.count,
                    confidence.level() * 100.0
                )),
            ),
        };
        Ok(Estimate {
            value,
            n: self.count,
            n_effective: self.count as f64,
            se: None,
            interval,
            method: "order-statistic",
            note,
        })
    }

    /// The q-quantile, within relative error α of x₍⌊q(n-1)⌋₎.
    pub fn quantile(&self, q: f64) -> Result<f64> {
        if !(0.0..=1.0).contains(&q) {
            return Err(invalid(format!(
                "quantile level must be in [0, 1], got {q}"
            )));
        }
        if self.count == 0 {
            return Err(StatsError::NoObservations { what: "a quantile" });
        }
        self.value_at_rank((q * (self.count - 1) as f64).floor() as u64)
    }
}
