//! Weighted estimates with case weights (post-stratification or raking weights).
//!
//! A weighted NPS, proportion or mean is the ratio estimator ȳ_w = Σwᵢyᵢ / Σwᵢ. Its variance is
//! estimated by Taylor linearisation for a with-replacement single-stage design, the default of
//! R `survey::svymean` with `ids = ~1` (Lumley 2010, §2.2):
//!
//! Var(ȳ_w) = n/(n-1) · Σ wᵢ²(yᵢ - ȳ_w)² / (Σwᵢ)².
//!
//! Because y takes few values (a score on a scale), the sums only need, per distinct value,
//! the count, Σw and Σw² — the sufficient statistics the engine returns ([`WeightedLevel`]).
//! Kish's effective sample size is n_eff = (Σw)²/Σw² and the design effect of weighting
//! deff = n/n_eff = 1 + CV²(w) (Kish 1965).
//!
//! Intervals: `Wald` is ȳ_w ± z·SE (survey's `confint`). For proportions the default is the
//! Wilson interval computed with the effective sample size (Kish-adjusted Wilson), and for NPS the
//! score interval on the effective counts; both keep the bounds inside the scale at small n_eff.

use serde::Serialize;

use crate::error::{Result, StatsError, check_finite, check_nonneg};
use crate::estimate::{Confidence, Estimate, Interval, small_sample};
use crate::nps::{NpsCounts, NpsInterval};
use crate::proportion::{ProportionInterval, proportion_interval};

/// Weighted sufficient statistics of the observations sharing one value of the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct WeightedLevel {
    /// The outcome value (e.g. +1/0/-1 for NPS categories, 1/0 for a proportion, the score).
    pub value: f64,
    /// Number of observations with this value.
    pub count: u64,
    /// Σw over those observations.
    pub sum_w: f64,
    /// Σw² over those observations.
    pub sum_w2: f64,
}

/// Totals of a weighted sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeightedSummary {
    pub n: u64,
    pub sum_w: f64,
    pub mean: f64,
    /// Linearisation standard error of the weighted mean.
    pub se: f64,
    /// Kish effective sample size.
    pub n_effective: f64,
    /// Kish design effect due to weighting, n / n_eff.
    pub design_effect: f64,
}

/// Weighted mean, its linearisation SE and Kish's effective n.
pub fn weighted_summary(levels: &[WeightedLevel]) -> Result<WeightedSummary> {
    let mut n = 0u64;
    let mut sw = 0.0;
    let mut sw2 = 0.0;
    let mut swy = 0.0;
    for l in levels {
        check_finite("value", l.value)?;
        check_nonneg("sum of weights", l.sum_w)?;
        check_nonneg("sum of squared weights", l.sum_w2)?;
        n += l.count;
        sw += l.sum_w;
        sw2 += l.sum_w2;
        swy += l.sum_w * l.value;
    }
    if n == 0 || sw <= 0.0 {
        return Err(StatsError::NoObservations {
            what: "a weighted estimate (no observations with positive weight)",
        });
    }
    let mean = swy / sw;
    let resid: f64 = levels
        .iter()
        .map(|l| l.sum_w2 * (l.value - mean).powi(2))
        .sum();
    let nf = n as f64;
    let se = if n > 1 {
        (nf / (nf - 1.0) * resid / (sw * sw)).sqrt()
    } else {
        0.0
    };
    let n_effective = sw * sw / sw2;
    Ok(WeightedSummary {
        n,
        sum_w: sw,
        mean,
        se,
        n_effective,
        design_effect: nf / n_effective,
    })
}

fn build(
    s: WeightedSummary,
    interval: Interval,
    method: &'static str,
    extra_note: Option<String>,
) -> Estimate {
    Estimate {
        value: s.mean,
        n: s.n,
        n_effective: s.n_effective,
        se: (s.n > 1).then_some(s.se),
        interval: Some(interval),
        method,
        note: if s.n == 1 {
            Some("one observation: the standard error is undefined".into())
        } else {
            extra_note
        },
    }
}

/// Weighted mean of a score with a normal (Wald) interval from the linearisation SE.
pub fn weighted_mean(levels: &[WeightedLevel], confidence: Confidence) -> Result<Estimate> {
    let s = weighted_summary(levels)?;
    let z = confidence.z();
    let ci = Interval::new(s.mean - z * s.se, s.mean + z * s.se, confidence);
    let note = (s.n > 1 && s.n_effective < small_sample::EFFECTIVE_N).then(|| {
        small_sample::note(
            format!("{:.1}", s.n_effective),
            small_sample::EFFECTIVE_N,
            "few effective answers",
        )
    });
    Ok(build(s, ci, "weighted_linearization", note))
}

/// Weighted proportion from the weighted totals of successes and failures.
pub fn weighted_proportion(
    success: WeightedLevel,
    failure: WeightedLevel,
    confidence: Confidence,
    method: ProportionInterval,
) -> Result<Estimate> {
    let levels = [
        WeightedLevel {
            value: 1.0,
            ..success
        },
        WeightedLevel {
            value: 0.0,
            ..failure
        },
    ];
    let s = weighted_summary(&levels)?;
    let (ci, name) = if method == ProportionInterval::Wald {
        let z = confidence.z();
        (
            Interval::new(s.mean - z * s.se, s.mean + z * s.se, confidence).clip(0.0, 1.0),
            "weighted_linearization",
        )
    } else {
        (
            proportion_interval(s.mean * s.n_effective, s.n_effective, confidence, method),
            match method {
                ProportionInterval::Wilson => "weighted_wilson_effective_n",
                ProportionInterval::AgrestiCoull => "weighted_agresti_coull_effective_n",
                ProportionInterval::ClopperPearson => "weighted_clopper_pearson_effective_n",
                ProportionInterval::Jeffreys => "weighted_jeffreys_effective_n",
                ProportionInterval::Wald => unreachable!(),
            },
        )
    };
    Ok(build(s, ci, name, None))
}

/// Weighted NPS (on -100..100) from weighted totals of detractors, passives and promoters.
pub fn weighted_nps(
    detractors: WeightedLevel,
    passives: WeightedLevel,
    promoters: WeightedLevel,
    confidence: Confidence,
    method: NpsInterval,
) -> Result<Estimate> {
    let levels = [
        WeightedLevel {
            value: -1.0,
            ..detractors
        },
        WeightedLevel {
            value: 0.0,
            ..passives
        },
        WeightedLevel {
            value: 1.0,
            ..promoters
        },
    ];
    let s = weighted_summary(&levels)?;
    let (ci, name) = match method {
        NpsInterval::Wald => {
            let z = confidence.z();
            (
                Interval::new(s.mean - z * s.se, s.mean + z * s.se, confidence).clip(-1.0, 1.0),
                "weighted_nps_linearization",
            )
        }
        _ => {
            // Shares at the effective sample size.
            let k = s.n_effective / s.sum_w;
            let eff = NpsCounts::from_totals(
                detractors.sum_w * k,
                passives.sum_w * k,
                promoters.sum_w * k,
            )?;
            let e = eff.estimate(confidence, method)?;
            (
                e.interval
                    .expect("NPS intervals are always defined")
                    .scaled(0.01),
                match method {
                    NpsInterval::AdjustedWald => "weighted_nps_adjusted_wald_effective_n",
                    _ => "weighted_nps_score_effective_n",
                },
            )
        }
    };
    Ok(build(s, ci, name, None).scaled(100.0))
}
