//! Change detection over periods: statistical process control charts for a metric series
//! (Montgomery, *Introduction to Statistical Quality Control*; R package `qcc`).
//!
//! - **p-chart** for a proportion per period with varying n: centre p̄ = Σk/Σn, limits
//!   p̄ ± L·√(p̄(1-p̄)/nᵢ), clipped to [0, 1].
//! - **Individuals (I) chart** for a per-period metric such as NPS: centre x̄ of a baseline
//!   (phase I) and σ̂ = MR̄/d₂ with d₂ = 1.128 for moving ranges of two.
//! - **EWMA** (Roberts 1959): zᵢ = λxᵢ + (1-λ)zᵢ₋₁, z₀ = centre, limits
//!   centre ± L·σ·√(λ/(2-λ)·(1-(1-λ)^{2i})). Sensitive to small sustained shifts.
//! - **CUSUM** (Page 1954), tabular, in σ units: C⁺ᵢ = max(0, C⁺ᵢ₋₁ + zᵢ - k),
//!   C⁻ᵢ = min(0, C⁻ᵢ₋₁ + zᵢ + k), signal when |C| > h (qcc's defaults k = 0.5, h = 5).

use serde::Serialize;

use crate::error::{Result, StatsError, check_finite, invalid};
use crate::proportion::Proportion;

/// d₂ constant for moving ranges of span 2.
pub const D2_SPAN2: f64 = 1.128;

/// One period of a control chart.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChartPoint {
    pub value: f64,
    pub lower: f64,
    pub upper: f64,
    /// Outside the control limits.
    pub signal: bool,
}

/// A control chart: its centre line and one point per period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlChart {
    pub center: f64,
    pub sigma: Option<f64>,
    pub points: Vec<ChartPoint>,
    pub method: &'static str,
}

impl ControlChart {
    /// Indices of the periods that signal.
    pub fn signals(&self) -> Vec<usize> {
        self.points
            .iter()
            .enumerate()
            .filter(|(_, p)| p.signal)
            .map(|(i, _)| i)
            .collect()
    }
}

/// p-chart with `nsigmas`-sigma limits (3 is conventional).
pub fn p_chart(series: &[Proportion], nsigmas: f64) -> Result<ControlChart> {
    let k: u64 = series.iter().map(|p| p.successes).sum();
    let n: u64 = series.iter().map(|p| p.trials).sum();
    if n == 0 {
        return Err(StatsError::NoObservations { what: "a p-chart" });
    }
    let pbar = k as f64 / n as f64;
    let points = series
        .iter()
        .map(|p| {
            let value = p.p()?;
            let h = nsigmas * (pbar * (1.0 - pbar) / p.trials as f64).sqrt();
            let (lower, upper) = ((pbar - h).max(0.0), (pbar + h).min(1.0));
            Ok(ChartPoint {
                value,
                lower,
                upper,
                signal: value < lower || value > upper,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ControlChart {
        center: pbar,
        sigma: None,
        points,
        method: "p_chart",
    })
}

/// Control chart with a per-period sigma: centre ± L·σᵢ, where σᵢ = √(v/nᵢ) for a
/// per-answer variance v pooled over the series (the p-chart generalised to NPS and means, a
/// "funnel" chart for unequal group sizes; Spiegelhalter 2005). `points` are (value, σᵢ).
pub fn limits_chart(points: &[(f64, f64)], center: f64, nsigmas: f64) -> ControlChart {
    ControlChart {
        center,
        sigma: None,
        points: points
            .iter()
            .map(|&(value, s)| {
                let (lower, upper) = (center - nsigmas * s, center + nsigmas * s);
                ChartPoint {
                    value,
                    lower,
                    upper,
                    signal: value < lower || value > upper,
                }
            })
            .collect(),
        method: "limits_chart",
    }
}

/// Centre and σ̂ = MR̄/d₂ of a baseline series (phase I).
pub fn baseline(phase1: &[f64]) -> Result<(f64, f64)> {
    if phase1.len() < 2 {
        return Err(StatsError::TooFewObservations {
            what: "a control-chart baseline",
            needed: 2,
            got: phase1.len() as u64,
        });
    }
    for &x in phase1 {
        check_finite("series value", x)?;
    }
    let center = phase1.iter().sum::<f64>() / phase1.len() as f64;
    let mr =
        phase1.windows(2).map(|w| (w[1] - w[0]).abs()).sum::<f64>() / (phase1.len() - 1) as f64;
    Ok((center, mr / D2_SPAN2))
}

/// Individuals chart of `series` with centre and sigma from `baseline`.
pub fn individuals_chart(series: &[f64], center: f64, sigma: f64, nsigmas: f64) -> ControlChart {
    let (lower, upper) = (center - nsigmas * sigma, center + nsigmas * sigma);
    ControlChart {
        center,
        sigma: Some(sigma),
        points: series
            .iter()
            .map(|&value| ChartPoint {
                value,
                lower,
                upper,
                signal: value < lower || value > upper,
            })
            .collect(),
        method: "individuals_chart",
    }
}

/// EWMA chart with smoothing `lambda` in (0, 1] and `nsigmas`-sigma limits.
pub fn ewma_chart(
    series: &[f64],
    center: f64,
    sigma: f64,
    lambda: f64,
    nsigmas: f64,
) -> Result<ControlChart> {
    if !(lambda > 0.0 && lambda <= 1.0) {
        return Err(invalid(format!(
            "EWMA lambda must be in (0, 1], got {lambda}"
        )));
    }
    let mut z = center;
    let points = series
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            z = lambda * x + (1.0 - lambda) * z;
            let w = nsigmas
                * sigma
                * (lambda / (2.0 - lambda) * (1.0 - (1.0 - lambda).powi(2 * (i as i32 + 1))))
                    .sqrt();
            ChartPoint {
                value: z,
                lower: center - w,
                upper: center + w,
                signal: z < center - w || z > center + w,
            }
        })
        .collect();
    Ok(ControlChart {
        center,
        sigma: Some(sigma),
        points,
        method: "ewma",
    })
}

/// Tabular CUSUM statistics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cusum {
    pub upper: Vec<f64>,
    pub lower: Vec<f64>,
    /// Periods where C⁺ > h (an upward shift).
    pub upward_signals: Vec<usize>,
    /// Periods where C⁻ < -h (a downward shift).
    pub downward_signals: Vec<usize>,
}

/// CUSUM in units of `sigma` with reference value `k` and decision interval `h`.
pub fn cusum(series: &[f64], center: f64, sigma: f64, k: f64, h: f64) -> Result<Cusum> {
    if sigma.is_nan() || sigma <= 0.0 {
        return Err(StatsError::Undefined(
            "CUSUM needs a positive sigma (the baseline does not vary)".into(),
        ));
    }
    let (mut cp, mut cn) = (0.0f64, 0.0f64);
    let mut out = Cusum {
        upper: vec![],
        lower: vec![],
        upward_signals: vec![],
        downward_signals: vec![],
    };
    for (i, &x) in series.iter().enumerate() {
        let z = (x - center) / sigma;
        cp = (cp + z - k).max(0.0);
        cn = (cn + z + k).min(0.0);
        out.upper.push(cp);
        out.lower.push(cn);
        if cp > h {
            out.upward_signals.push(i);
        }
        if cn < -h {
            out.downward_signals.push(i);
        }
    }
    Ok(out)
}
