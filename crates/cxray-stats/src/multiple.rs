//! Adjusted p-values for many simultaneous tests (every segment against the overall, every
//! period against the previous one), as R's `p.adjust` and statsmodels' `multipletests`.
//!
//! - **Benjamini-Hochberg** (1995) q-values control the false discovery rate:
//!   q₍ᵢ₎ = min_{j ≥ i} min(1, m·p₍ⱼ₎/j) over the sorted p-values. The default in cxray: with
//!   dozens of segments a CX team wants most real differences while keeping the share of false
//!   alarms among them at the chosen level.
//! - **Benjamini-Yekutieli** (2001): BH times Σ_{k≤m} 1/k, valid under any dependence.
//! - **Holm** (1979) step-down, controlling the family-wise error rate:
//!   p̃₍ᵢ₎ = max_{j ≤ i} min(1, (m-j+1)·p₍ⱼ₎).
//! - **Bonferroni**: min(1, m·p).

use serde::Serialize;

use crate::error::{Result, invalid};

/// Multiple-comparison adjustments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Adjustment {
    #[default]
    BenjaminiHochberg,
    BenjaminiYekutieli,
    Holm,
    Bonferroni,
}

impl Adjustment {
    /// Name as reported in outputs.
    pub fn name(self) -> &'static str {
        match self {
            Adjustment::BenjaminiHochberg => "benjamini_hochberg",
            Adjustment::BenjaminiYekutieli => "benjamini_yekutieli",
            Adjustment::Holm => "holm",
            Adjustment::Bonferroni => "bonferroni",
        }
    }
}

/// Adjusted p-values in the order of the input. NaN or out-of-range p-values are an error.
pub fn adjust_p_values(p: &[f64], method: Adjustment) -> Result<Vec<f64>> {
    for &x in p {
        if !(0.0..=1.0).contains(&x) {
            return Err(invalid(format!("p-values must lie in [0, 1], got {x}")));
        }
    }
    let m = p.len();
    if m == 0 {
        return Ok(vec![]);
    }
    let mf = m as f64;
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    match method {
        Adjustment::Bonferroni => {
            for (o, &x) in out.iter_mut().zip(p) {
                *o = (x * mf).min(1.0);
            }
        }
        Adjustment::Holm => {
            let mut running: f64 = 0.0;
            for (rank, &i) in order.iter().enumerate() {
                let v = ((mf - rank as f64) * p[i]).min(1.0);
                running = running.max(v);
                out[i] = running;
            }
        }
        Adjustment::BenjaminiHochberg | Adjustment::BenjaminiYekutieli => {
            let c = if method == Adjustment::BenjaminiYekutieli {
                (1..=m).map(|k| 1.0 / k as f64).sum()
            } else {
                1.0
            };
            let mut running: f64 = 1.0;
            for (rank, &i) in order.iter().enumerate().rev() {
                let v = (c * mf / (rank as f64 + 1.0) * p[i]).min(1.0);
                running = running.min(v);
                out[i] = running;
            }
        }
    }
    Ok(out)
}
