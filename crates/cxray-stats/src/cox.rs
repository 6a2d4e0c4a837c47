//! Cox proportional-hazards regression on counting-process data (Cox 1972; Andersen & Gill
//! 1982), with Efron's approximation for tied event times (Efron 1977). Reference
//! implementations: Python `lifelines` (`CoxTimeVaryingFitter`, `CoxPHFitter`), R
//! `survival::coxph(Surv(start, stop, event) ~ x, ties = "efron")`.
//!
//! Each row is an interval (start, stop] during which a subject is at risk with fixed covariates
//! x; `event` says the interval ended with the event. A subject whose covariates change (a new
//! survey answer) contributes one row per stretch, so covariates may vary over time, and a
//! subject who enters observation late (left truncation) starts its first row there.
//!
//! At each distinct event time t with the set D of d tied events and risk set
//! R(t) = {i : startᵢ < t ≤ stopᵢ}, Efron's partial log-likelihood adds
//!
//!   Σ_{i∈D} ηᵢ − Σ_{l=0}^{d−1} log(Σ_{R} e^η − (l/d)·Σ_{D} e^η),   η = xᵀβ,
//!
//! maximised by Newton-Raphson with step halving. Standard errors come from the inverse of the
//! observed information; hazard ratios are exp(β) with Wald intervals exp(β ± z·se), and the
//! likelihood-ratio test compares with β = 0. Covariates are centred internally (which changes
//! neither β nor its variance) so that exp(η) stays well scaled.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::dist::{chi2_sf, normal_sf};
use crate::error::{Result, StatsError, check_finite, invalid};
use crate::estimate::Confidence;

/// One at-risk interval of a subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxRow {
    pub start: f64,
    pub stop: f64,
    pub event: bool,
    pub x: Vec<f64>,
}

/// A fitted Cox model; vectors are aligned with the covariates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxFit {
    pub names: Vec<String>,
    pub coefficients: Vec<f64>,
    pub standard_errors: Vec<f64>,
    pub hazard_ratios: Vec<f64>,
    pub hazard_ratio_lower: Vec<f64>,
    pub hazard_ratio_upper: Vec<f64>,
    pub z: Vec<f64>,
    pub p_values: Vec<f64>,
    /// Partial log-likelihood at the estimate and at β = 0.
    pub log_likelihood: f64,
    pub null_log_likelihood: f64,
    /// Likelihood-ratio test of all coefficients being zero (df = number of covariates).
    pub lr_chi2: f64,
    pub lr_p_value: f64,
    pub events: u64,
    pub rows: u64,
    pub iterations: usize,
    pub confidence: f64,
}

/// Rows sorted for the sweep: indices by stop and by start, both descending.
struct Sweep {
    by_stop: Vec<usize>,
    by_start: Vec<usize>,
    /// Distinct event times, descending.
    times: Vec<f64>,
}

/// Running weighted sums of a set of rows: Σw, Σw·x and Σw·x·xᵀ (row-major p × p), in flat
/// buffers (the covariates are few; nalgebra's dynamic vectors allocated on every event).
struct Sums {
    s0: f64,
    s1: Vec<f64>,
    s2: Vec<f64>,
}

impl Sums {
    fn new(p: usize) -> Self {
        Sums {
            s0: 0.0,
            s1: vec![0.0; p],
            s2: vec![0.0; p * p],
        }
    }

    fn add(&mut self, w: f64, x: &[f64]) {
        let p = x.len();
        self.s0 += w;
        for a in 0..p {
            let wa = w * x[a];
            self.s1[a] += wa;
            for (c, xc) in x.iter().enumerate() {
                self.s2[a * p + c] += wa * xc;
            }
        }
    }
}

/// Partial log-likelihood, score and information at β (centred covariates `x`, row-major
/// n × p).
fn evaluate(
    rows: &[CoxRow],
    x: &[f64],
    sweep: &Sweep,
    beta: &DVector<f64>,
) -> (f64, DVector<f64>, DMatrix<f64>) {
    let p = beta.len();
    let xi = |i: usize| &x[i * p..(i + 1) * p];
    let eta: Vec<f64> = (0..rows.len())
        .map(|i| xi(i).iter().zip(beta.iter()).map(|(a, b)| a * b).sum())
        .collect();
    let w: Vec<f64> = eta.iter().map(|e| e.exp()).collect();
    // Running sums over rows with stop >= t (entered) and start >= t (left): the risk set at t
    // is entered minus left, so no row is ever subtracted from a sum it was added to, which
    // keeps the sums accurate over long sweeps.
    let mut entered = Sums::new(p);
    let mut left = Sums::new(p);
    let mut tied = Sums::new(p);
    let (mut si, mut ti) = (0, 0);
    let mut ll = 0.0;
    let mut score = vec![0.0; p];
    let mut info = vec![0.0; p * p];
    let (mut r1, mut r2, mut s1) = (vec![0.0; p], vec![0.0; p * p], vec![0.0; p]);
    let mut d_rows: Vec<usize> = Vec::new();
    for &t in &sweep.times {
        d_rows.clear();
        while si < sweep.by_stop.len() && rows[sweep.by_stop[si]].stop >= t {
            let i = sweep.by_stop[si];
            entered.add(w[i], xi(i));
            if rows[i].event && rows[i].stop == t {
                d_rows.push(i);
            }
            si += 1;
        }
        while ti < sweep.by_start.len() && rows[sweep.by_start[ti]].start >= t {
            let i = sweep.by_start[ti];
            left.add(w[i], xi(i));
            ti += 1;
        }
        let d = d_rows.len();
        if d == 0 {
            continue;
        }
        tied.s0 = 0.0;
        tied.s1.fill(0.0);
        tied.s2.fill(0.0);
        for &i in &d_rows {
            ll += eta[i];
            for (s, v) in score.iter_mut().zip(xi(i)) {
                *s += v;
            }
            tied.add(w[i], xi(i));
        }
        let r0 = entered.s0 - left.s0;
        for (r, (e, o)) in r1.iter_mut().zip(entered.s1.iter().zip(&left.s1)) {
            *r = e - o;
        }
        for (r, (e, o)) in r2.iter_mut().zip(entered.s2.iter().zip(&left.s2)) {
            *r = e - o;
        }
        for l in 0..d {
            let f = l as f64 / d as f64;
            let s0 = r0 - f * tied.s0;
            for (s, (r, e)) in s1.iter_mut().zip(r1.iter().zip(&tied.s1)) {
                *s = r - f * e;
            }
            ll -= s0.ln();
            for a in 0..p {
                score[a] -= s1[a] / s0;
                for c in 0..p {
                    let k = a * p + c;
                    info[k] += (r2[k] - f * tied.s2[k]) / s0 - s1[a] * s1[c] / (s0 * s0);
                }
            }
        }
    }
    (
        ll,
        DVector::from_vec(score),
        DMatrix::from_row_slice(p, p, &info),
    )
}

/// Fits a Cox model. `names` names the covariates (one per entry of every row's `x`).
pub fn cox(rows: &[CoxRow], names: &[String], confidence: Confidence) -> Result<CoxFit> {
    let p = names.len();
    if p == 0 {
        return Err(invalid("a Cox model needs at least one covariate"));
    }
    let mut events = 0u64;
    for r in rows {
        if r.x.len() != p {
            return Err(invalid(format!(
                "every row needs {p} covariate values, got {}",
                r.x.len()
            )));
        }
        check_finite("start", r.start)?;
        check_finite("stop", r.stop)?;
        if r.stop <= r.start {
            return Err(invalid(format!(
                "each interval must end after it starts, got ({}, {}]",
                r.start, r.stop
            )));
        }
        for &v in &r.x {
            check_finite("covariate", v)?;
        }
        events += r.event as u64;
    }
    if events == 0 {
        return Err(StatsError::Undefined(
            "no events: hazard ratios need at least one event".into(),
        ));
    }
    // Centre the covariates; a covariate without variation cannot be estimated.
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..p)
        .map(|j| rows.iter().map(|r| r.x[j]).sum::<f64>() / n)
        .collect();
    for (j, name) in names.iter().enumerate() {
        if rows.iter().all(|r| (r.x[j] - mean[j]).abs() < 1e-12) {
            return Err(StatsError::Collinear(format!(
                "'{name}' has the same value in every row"
            )));
        }
    }
    let x: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.x.iter().zip(&mean).map(|(v, m)| v - m))
        .collect();
    let mut by_stop: Vec<usize> = (0..rows.len()).collect();
    by_stop.sort_by(|&a, &b| rows[b].stop.total_cmp(&rows[a].stop));
    let mut by_start: Vec<usize> = (0..rows.len()).collect();
    by_start.sort_by(|&a, &b| rows[b].start.total_cmp(&rows[a].start));
    let mut times: Vec<f64> = rows.iter().filter(|r| r.event).map(|r| r.stop).collect();
    times.sort_by(|a, b| b.total_cmp(a));
    times.dedup();
    let sweep = Sweep {
        by_stop,
        by_start,
        times,
    };

    let mut beta = DVector::<f64>::zeros(p);
    let (null_ll, mut score, mut info) = evaluate(rows, &x, &sweep, &beta);
    let mut ll = null_ll;
    let mut iterations = 0;
    let mut converged = false;
    while iterations < 50 {
        iterations += 1;
        let Some(ch) = info.clone().cholesky() else {
            return Err(StatsError::Collinear(
                "the information matrix is singular: covariates are collinear, or a group has \
                 no events"
                    .into(),
            ));
        };
        let step = ch.solve(&score);
        let mut scale = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let candidate = &beta + &step * scale;
            let (cll, cs, ci) = evaluate(rows, &x, &sweep, &candidate);
            if cll.is_finite() && cll >= ll - 1e-12 {
                accepted = Some((candidate, cll, cs, ci));
                break;
            }
            scale /= 2.0;
        }
        let Some((b, cll, cs, ci)) = accepted else {
            break;
        };
        let change = (cll - ll).abs();
        let moved = (&b - &beta).amax();
        beta = b;
        ll = cll;
        score = cs;
        info = ci;
        if change < 1e-10 * (1.0 + ll.abs()) && moved < 1e-8 {
            converged = true;
            break;
        }
        if beta.amax() > 50.0 {
            return Err(StatsError::NotConverged(
                "coefficients diverge: a group may have no events, or all of them".into(),
            ));
        }
    }
    if !converged {
        return Err(StatsError::NotConverged(format!(
            "Newton-Raphson did not converge in {iterations} iterations"
        )));
    }
    let cov = info.clone().try_inverse().ok_or_else(|| {
        StatsError::Collinear("the information matrix is singular at the estimate".into())
    })?;
    let z_crit = confidence.z();
    let se: Vec<f64> = (0..p).map(|j| cov[(j, j)].max(0.0).sqrt()).collect();
    let coefficients: Vec<f64> = beta.iter().copied().collect();
    let z: Vec<f64> = coefficients.iter().zip(&se).map(|(b, s)| b / s).collect();
    let lr_chi2 = (2.0 * (ll - null_ll)).max(0.0);
    Ok(CoxFit {
        names: names.to_vec(),
        hazard_ratios: coefficients.iter().map(|b| b.exp()).collect(),
        hazard_ratio_lower: coefficients
            .iter()
            .zip(&se)
            .map(|(b, s)| (b - z_crit * s).exp())
            .collect(),
        hazard_ratio_upper: coefficients
            .iter()
            .zip(&se)
            .map(|(b, s)| (b + z_crit * s).exp())
            .collect(),
        p_values: z.iter().map(|z| 2.0 * normal_sf(z.abs())).collect(),
        z,
        standard_errors: se,
        coefficients,
        log_likelihood: ll,
        null_log_likelihood: null_ll,
        lr_chi2,
        lr_p_value: chi2_sf(lr_chi2, p as f64),
        events,
        rows: rows.len() as u64,
        iterations,
        confidence: confidence.level(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(start: f64, stop: f64, event: bool, x: f64) -> CoxRow {
        CoxRow {
            start,
            stop,
            event,
            x: vec![x],
        }
    }

    #[test]
    fn two_subjects_closed_form() {
        // Subjects with x = 1 (event at 1) and x = 0 (event at 2), both from 0: the partial
        // likelihood is e^β/(e^β + 1)·1, increasing in β without bound, so no finite estimate.
        let rows = vec![row(0.0, 1.0, true, 1.0), row(0.0, 2.0, true, 0.0)];
        assert!(cox(&rows, &["x".into()], Confidence::default()).is_err());
    }

    #[test]
    fn null_log_likelihood_without_ties() {
        // Four subjects from 0, events at 1, 2, 3 and one censored at 4: at β = 0 the partial
        // likelihood is (1/4)(1/3)(1/2), whatever the covariates.
        let rows = vec![
            row(0.0, 1.0, true, 1.0),
            row(0.0, 2.0, true, 0.0),
            row(0.0, 3.0, true, 1.0),
            row(0.0, 4.0, false, 0.0),
        ];
        let fit = cox(&rows, &["x".into()], Confidence::default()).unwrap();
        assert!((fit.null_log_likelihood - (1.0f64 / 24.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn late_entry_is_not_at_risk_before_it_starts() {
        // A subject entering at 5 is not in the risk set of an event at 1: moving its covariate
        // cannot change the fit's likelihood at that time.
        let base = vec![
            row(0.0, 1.0, true, 1.0),
            row(0.0, 3.0, true, 0.0),
            row(0.0, 6.0, false, 1.0),
            row(0.0, 7.0, true, 0.0),
        ];
        let mut with_late = base.clone();
        with_late.push(row(5.0, 8.0, false, 0.0));
        let a = cox(&base, &["x".into()], Confidence::default()).unwrap();
        let b = cox(&with_late, &["x".into()], Confidence::default()).unwrap();
        // The late subject is at risk only at the event at 7, where it enlarges the risk set.
        assert!(a.log_likelihood > b.log_likelihood);
        assert!(
            cox(
                &[row(2.0, 2.0, true, 1.0)],
                &["x".into()],
                Confidence::default()
            )
            .is_err()
        );
    }
}
