//! Raking (iterative proportional fitting) of survey weights to known population margins,
//! to correct non-response bias (Deming & Stephan 1940; R `survey::rake`, Python `ipfn`).
//!
//! The sample is summarised by *cells*: the distinct combinations of the raking variables
//! (e.g. age band × region), each with its respondent count and total base weight. IPF cycles over
//! the margins; for each level ℓ of a margin it multiplies the weights of the cells in ℓ by
//! target_ℓ / current_ℓ, until every margin is met within a relative tolerance. Everyone in a
//! cell receives the same adjustment factor, so the result is again per cell.
//!
//! Trimming (optional) caps the per-respondent weight of a cell to [lower, upper] × the mean
//! weight and rakes again, repeating until the trimmed weights also meet the margins
//! ("trim and rake"; Battaglia et al. 2009).

use serde::Serialize;

use crate::error::{Result, StatsError, check_nonneg, invalid};

/// One combination of raking-variable levels in the sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RakingCell {
    /// Level index for each margin, in the order of the margins.
    pub levels: Vec<usize>,
    /// Respondents in the cell.
    pub count: u64,
    /// Total base weight of those respondents (their count when unweighted).
    pub base_weight: f64,
}

/// A population margin: the target total for each level of one variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Margin {
    pub name: String,
    /// Level labels, for error messages.
    pub labels: Vec<String>,
    pub targets: Vec<f64>,
}

/// Convergence and trimming settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RakeControl {
    /// Maximum number of full cycles over the margins.
    pub max_iterations: usize,
    /// Largest accepted |current - target| / target over all margin levels.
    pub tolerance: f64,
    /// Optional (lower, upper) bounds on each respondent's weight, as multiples of the mean weight.
    pub trim: Option<(f64, f64)>,
}

impl Default for RakeControl {
    fn default() -> Self {
        RakeControl {
            max_iterations: 1000,
            tolerance: 1e-10,
            trim: None,
        }
    }
}

/// Raked weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RakeResult {
    /// Total raked weight of each input cell.
    pub cell_weights: Vec<f64>,
    /// Raked weight of one respondent in each cell (cell weight / count).
    pub respondent_weights: Vec<f64>,
    /// IPF cycles used (summed over trim rounds).
    pub iterations: usize,
    /// Largest relative margin error at the end.
    pub max_relative_error: f64,
    /// Cells whose respondent weight was capped by trimming in the last round.
    pub trimmed_cells: usize,
    /// Kish effective sample size of the raked weights.
    pub n_effective: f64,
    /// Kish design effect of the raked weights, n / n_eff.
    pub design_effect: f64,
}

/// Rakes the cells' base weights to the margins.
///
/// Errors when margins have different totals, a level with a positive target has no respondents,
/// a cell refers to a level that does not exist, or IPF does not converge (for example when empty
/// cells make the margins impossible to meet together).
pub fn rake(cells: &[RakingCell], margins: &[Margin], control: RakeControl) -> Result<RakeResult> {
    validate(cells, margins)?;
    let mut w: Vec<f64> = cells.iter().map(|c| c.base_weight).collect();
    let counts: Vec<f64> = cells.iter().map(|c| c.count as f64).collect();
    let n: f64 = counts.iter().sum();
    let total = margins[0].targets.iter().sum::<f64>();
    let mut iterations = 0;
    let mut trimmed_cells = 0;
    let mut err;
    let max_rounds = if control.trim.is_some() { 50 } else { 1 };
    let mut round = 0;
    loop {
        let (it, e) = ipf(cells, margins, &mut w, control)?;
        iterations += it;
        err = e;
        round += 1;
        let Some((lower, upper)) = control.trim else {
            break;
        };
        let mean = total / n;
        let (lo, hi) = (lower * mean, upper * mean);
        trimmed_cells = 0;
        for (wc, &c) in w.iter_mut().zip(&counts) {
            if c == 0.0 {
                continue;
            }
            let per = *wc / c;
            if per > hi * (1.0 + 1e-12) || per < lo * (1.0 - 1e-12) {
                *wc = per.clamp(lo, hi) * c;
                trimmed_cells += 1;
            }
        }
        if trimmed_cells == 0 {
            break;
        }
        if round >= max_rounds {
            err = margin_error(cells, margins, &w);
            break;
        }
    }
    if err > control.tolerance.max(1e-14) {
        return Err(StatsError::NotConverged(format!(
            "raking stopped after {iterations} iterations with a margin off by {:.3e} (relative); \
             the margins cannot all be met with these sample cells{}",
            err,
            if control.trim.is_some() {
                " and trimming bounds (widen the bounds)"
            } else {
                ""
            }
        )));
    }
    let respondent_weights: Vec<f64> = w
        .iter()
        .zip(&counts)
        .map(|(&wc, &c)| if c > 0.0 { wc / c } else { 0.0 })
        .collect();
    let sum_w: f64 = w.iter().sum();
    let sum_w2: f64 = respondent_weights
        .iter()
        .zip(&counts)
        .map(|(&r, &c)| r * r * c)
        .sum();
    let n_effective = sum_w * sum_w / sum_w2;
    Ok(RakeResult {
        cell_weights: w,
        respondent_weights,
        iterations,
        max_relative_error: err,
        trimmed_cells,
        n_effective,
        design_effect: n / n_effective,
    })
}

fn validate(cells: &[RakingCell], margins: &[Margin]) -> Result<()> {
    if margins.is_empty() {
        return Err(invalid("raking needs at least one margin"));
    }
    if cells.is_empty() {
        return Err(StatsError::NoObservations {
            what: "raking (no sample cells)",
        });
    }
    let mut total = None;
    for m in margins {
        if m.targets.is_empty() || m.labels.len() != m.targets.len() {
            return Err(invalid(format!(
                "margin '{}' needs one label per target",
                m.name
            )));
        }
        for &t in &m.targets {
            check_nonneg("margin target", t)?;
        }
        let s: f64 = m.targets.iter().sum();
        match total {
            None => total = Some((m.name.as_str(), s)),
            Some((first, t)) => {
                if (s - t).abs() > 1e-9 * t.abs().max(1.0) {
                    return Err(StatsError::InconsistentMargins(format!(
                        "margin '{}' sums to {s} but margin '{first}' sums to {t}; every margin \
                         must describe the same population total",
                        m.name
                    )));
                }
            }
        }
    }
    let mut present: Vec<Vec<f64>> = margins.iter().map(|m| vec![0.0; m.targets.len()]).collect();
    for c in cells {
        if c.levels.len() != margins.len() {
            return Err(invalid(format!(
                "a cell has {} levels but there are {} margins",
                c.levels.len(),
                margins.len()
            )));
        }
        check_nonneg("cell base weight", c.base_weight)?;
        for (j, &l) in c.levels.iter().enumerate() {
            if l >= margins[j].targets.len() {
                return Err(invalid(format!(
                    "a cell refers to level {l} of margin '{}', which has {} levels",
                    margins[j].name,
                    margins[j].targets.len()
                )));
            }
            present[j][l] += c.base_weight;
        }
    }
    for (j, m) in margins.iter().enumerate() {
        for (l, &t) in m.targets.iter().enumerate() {
            if t > 0.0 && present[j][l] <= 0.0 {
                return Err(StatsError::InconsistentMargins(format!(
                    "margin '{}' level '{}' has a population target of {t} but no respondents; \
                     merge it with a neighbouring level or drop it from the margin",
                    m.name, m.labels[l]
                )));
            }
        }
    }
    Ok(())
}

fn margin_error(cells: &[RakingCell], margins: &[Margin], w: &[f64]) -> f64 {
    let mut err: f64 = 0.0;
    for (j, m) in margins.iter().enumerate() {
        let mut cur = vec![0.0; m.targets.len()];
        for (c, &wc) in cells.iter().zip(w) {
            cur[c.levels[j]] += wc;
        }
        for (&t, &c) in m.targets.iter().zip(&cur) {
            let e = if t > 0.0 { (c - t).abs() / t } else { c.abs() };
            err = err.max(e);
        }
    }
    err
}

fn ipf(
    cells: &[RakingCell],
    margins: &[Margin],
    w: &mut [f64],
    control: RakeControl,
) -> Result<(usize, f64)> {
    let mut err = margin_error(cells, margins, w);
    let mut it = 0;
    while it < control.max_iterations && err > control.tolerance {
        for (j, m) in margins.iter().enumerate() {
            let mut cur = vec![0.0; m.targets.len()];
            for (c, &wc) in cells.iter().zip(w.iter()) {
                cur[c.levels[j]] += wc;
            }
            let f: Vec<f64> = m
                .targets
                .iter()
                .zip(&cur)
                .map(|(&t, &c)| if c > 0.0 { t / c } else { 0.0 })
                .collect();
            for (c, wc) in cells.iter().zip(w.iter_mut()) {
                *wc *= f[c.levels[j]];
            }
        }
        it += 1;
        err = margin_error(cells, margins, w);
    }
    Ok((it, err))
}
