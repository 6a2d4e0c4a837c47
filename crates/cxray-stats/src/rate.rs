//! Event rates per unit of exposure (churns per customer-month at risk), with the exact Poisson
//! interval (Garwood 1936; R `poisson.test`): for k events over exposure T,
//! [χ²(α/2; 2k)/(2T), χ²(1 − α/2; 2k + 2)/(2T)], the lower bound 0 when k = 0. The standard
//! error is √k / T.

use crate::dist::chi2_quantile;
use crate::error::{Result, StatsError, check_nonneg};
use crate::estimate::{Confidence, Estimate, Interval};

/// Events per unit of exposure with the exact Poisson interval. `n` in the estimate is the
/// number of events.
pub fn poisson_rate(events: u64, exposure: f64, confidence: Confidence) -> Result<Estimate> {
    check_nonneg("exposure", exposure)?;
    if exposure == 0.0 {
        return Err(StatsError::NoObservations {
            what: "a rate (no exposure)",
        });
    }
    let k = events as f64;
    let a = confidence.alpha();
    let low = if events == 0 {
        0.0
    } else {
        chi2_quantile(a / 2.0, 2.0 * k) / (2.0 * exposure)
    };
    let high = chi2_quantile(1.0 - a / 2.0, 2.0 * k + 2.0) / (2.0 * exposure);
    Ok(Estimate {
        value: k / exposure,
        n: events,
        n_effective: k,
        se: Some(k.sqrt() / exposure),
        interval: Some(Interval::new(low, high, confidence)),
        method: "poisson-exact",
        note: (events < 5).then(|| "fewer than 5 events: the rate is imprecise".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference: scipy 1.17 stats.chi2.ppf, the same bounds as R poisson.test(k, T)$conf.int.
    #[test]
    fn exact_interval_matches_scipy() {
        let c = Confidence::default();
        for (k, t, lo, hi) in [
            (10, 100.0, 0.047953886961324334, 0.18390356042017778),
            (0, 50.0, 0.0, 0.0737775890822787),
            (3, 12.5, 0.04949376983164811, 0.7013818455793859),
            (250, 8000.0, 0.027495999453867163, 0.03537346313028951),
        ] {
            let e = poisson_rate(k, t, c).unwrap();
            let i = e.interval.unwrap();
            assert!((e.value - k as f64 / t).abs() < 1e-15);
            assert!(
                (i.low - lo).abs() < 1e-10 * lo.max(1e-3),
                "{k}/{t} low {}",
                i.low
            );
            assert!((i.high - hi).abs() < 1e-10 * hi, "{k}/{t} high {}", i.high);
        }
        assert!(poisson_rate(1, 0.0, c).is_err());
        assert!(poisson_rate(1, f64::NAN, c).is_err());
    }
}
