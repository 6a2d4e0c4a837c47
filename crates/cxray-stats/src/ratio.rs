//! Ratio of two totals over clusters, R = Σy / Σx, with its linearisation (Taylor) standard
//! error — for rates whose units are not independent, such as the conversion rate of referral
//! invitations when each customer sends several (the customer is the cluster).
//!
//! With m clusters, totals xᵢ, yᵢ per cluster and R̂ = Σy/Σx, the residuals dᵢ = yᵢ − R̂·xᵢ give
//! Var(R̂) ≈ m/(m − 1) · Σdᵢ² / (Σx)² (Cochran 1977 §6.3; R `survey::svyratio` with clusters
//! as PSUs sampled with replacement). Σdᵢ² = Σy² − 2R̂Σxy + R̂²Σx², so the cluster sums
//! Σx, Σy, Σx², Σy², Σxy are sufficient. The interval is R̂ ± z·SE, clipped at 0 below (and at 1
//! above when the ratio is a proportion).

use serde::Serialize;

use crate::error::{Result, StatsError, check_finite};
use crate::estimate::{Confidence, Estimate, Interval, small_sample};

/// Cluster sums of a ratio Σy / Σx.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RatioSums {
    /// Number of clusters.
    pub clusters: u64,
    pub sum_x: f64,
    pub sum_y: f64,
    pub sum_xx: f64,
    pub sum_yy: f64,
    pub sum_xy: f64,
}

impl RatioSums {
    /// Adds one cluster with totals `x` and `y`.
    pub fn push(&mut self, x: f64, y: f64) {
        self.clusters += 1;
        self.sum_x += x;
        self.sum_y += y;
        self.sum_xx += x * x;
        self.sum_yy += y * y;
        self.sum_xy += x * y;
    }

    pub fn merge(&mut self, o: &RatioSums) {
        self.clusters += o.clusters;
        self.sum_x += o.sum_x;
        self.sum_y += o.sum_y;
        self.sum_xx += o.sum_xx;
        self.sum_yy += o.sum_yy;
        self.sum_xy += o.sum_xy;
    }

    /// R̂ = Σy/Σx with its linearisation SE and a normal interval. `proportion` clips the
    /// interval to [0, 1] (y counts successes among the x trials).
    pub fn estimate(&self, confidence: Confidence, proportion: bool) -> Result<Estimate> {
        for (name, v) in [
            ("sum of x", self.sum_x),
            ("sum of y", self.sum_y),
            ("sum of x²", self.sum_xx),
            ("sum of y²", self.sum_yy),
            ("sum of xy", self.sum_xy),
        ] {
            check_finite(name, v)?;
        }
        if self.sum_x <= 0.0 {
            return Err(StatsError::Undefined(
                "a ratio needs a positive denominator total".into(),
            ));
        }
        let r = self.sum_y / self.sum_x;
        let mut e = Estimate {
            value: r,
            n: self.sum_x.round() as u64,
            n_effective: self.sum_x,
            se: None,
            interval: None,
            method: "ratio_linearisation",
            note: None,
        };
        if self.clusters < 2 {
            e.note = Some("one cluster: no standard error".into());
            return Ok(e);
        }
        let m = self.clusters as f64;
        let ss = (self.sum_yy - 2.0 * r * self.sum_xy + r * r * self.sum_xx).max(0.0);
        let se = (m / (m - 1.0) * ss).sqrt() / self.sum_x;
        let z = confidence.z();
        let high = if proportion {
            (r + z * se).min(1.0)
        } else {
            r + z * se
        };
        e.se = Some(se);
        e.interval = Some(Interval::new((r - z * se).max(0.0), high, confidence));
        if self.clusters < small_sample::CLUSTERS {
            e.note = Some(small_sample::note(
                self.clusters,
                small_sample::CLUSTERS,
                "few customers",
            ));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seven referrers with (invitations, conversions). Reference: statsmodels 0.15
    /// `WLS(y, x, weights=1/x).fit(cov_type="HC1")`, whose coefficient is Σy/Σx and whose HC1
    /// standard error is the clustered linearisation SE: 0.3888888888888889, 0.11605923257384668.
    const REFERRERS: [(f64, f64); 7] = [
        (1., 1.),
        (3., 0.),
        (2., 1.),
        (5., 2.),
        (1., 0.),
        (4., 1.),
        (2., 2.),
    ];

    #[test]
    fn matches_statsmodels_cluster_robust_ratio() {
        let mut s = RatioSums::default();
        for (x, y) in REFERRERS {
            s.push(x, y);
        }
        let e = s.estimate(Confidence::default(), true).unwrap();
        assert!((e.value - 0.388_888_888_888_888_9).abs() < 1e-12);
        let se = e.se.unwrap();
        assert!((se - 0.116_059_232_573_846_68).abs() < 1e-12, "{se}");
        let i = e.interval.unwrap();
        assert!((i.high - (e.value + Confidence::default().z() * se)).abs() < 1e-12);
        // Merging halves gives the same sums.
        let (mut a, mut b) = (RatioSums::default(), RatioSums::default());
        for (k, (x, y)) in REFERRERS.into_iter().enumerate() {
            if k % 2 == 0 {
                a.push(x, y)
            } else {
                b.push(x, y)
            }
        }
        a.merge(&b);
        assert_eq!(a.clusters, 7);
        assert!((a.estimate(Confidence::default(), true).unwrap().se.unwrap() - se).abs() < 1e-12);
    }

    #[test]
    fn degenerate_ratios_say_why() {
        assert!(
            RatioSums::default()
                .estimate(Confidence::default(), false)
                .is_err()
        );
        let mut one = RatioSums::default();
        one.push(3.0, 1.0);
        let e = one.estimate(Confidence::default(), true).unwrap();
        assert!(e.se.is_none() && e.note.is_some());
    }
}
