//! Regression for key-driver analysis, from sufficient statistics.
//!
//! Linear models need only the n, means and co-moment matrix of the drivers and the outcome
//! ([`CrossProducts`], mergeable like [`crate::mean::Moments`]), so a driver analysis over
//! millions of responses is one pass of sums in the engine and a k×k problem here.
//!
//! - **OLS** (`ols`): β = S_xx⁻¹ s_xy on the centred cross-products, R² = 1 - SSE/SST, coefficient
//!   standard errors √(σ̂²·(S_xx⁻¹)ⱼⱼ) with σ̂² = SSE/(n-k-1).
//! - **R² of a subset** from the correlation matrix: R²(S) = r_Sᵀ R_SS⁻¹ r_S.
//! - **Shapley / LMG decomposition of R²** (Lindeman, Merenda & Gold 1980; Grömping 2006, R
//!   `relaimpo` "lmg"): each driver's R² gain averaged over all orderings,
//!   Σ_{S ∌ j} |S|!(k-|S|-1)!/k! · (R²(S ∪ j) - R²(S)). Exact over all 2ᵏ subsets; k ≤ 15.
//! - **Johnson's relative weights** (Johnson 2000): with R_xx = VΛVᵀ and Λ½ = VΛ^{1/2}Vᵀ,
//!   β* = Λ½⁻¹ r_xy and weightⱼ = Σ_i (Λ½)ⱼᵢ² β*ᵢ²; the weights sum to R².
//! - **Logistic regression** (`logistic`) by iteratively reweighted least squares on grouped
//!   binomial rows (x, successes, trials) — individual rows are groups of one — with Wald
//!   standard errors, odds ratios and McFadden's pseudo-R² = 1 - ℓ(model)/ℓ(null)
//!   (as R `glm(family = binomial)` and statsmodels `Logit`).
//!
//! Drivers that are constant or (nearly) linear combinations of others are reported as
//! [`StatsError::Collinear`] naming them, never as NaN.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use crate::dist::normal_two_sided_p;
use crate::error::{Result, StatsError, check_finite, invalid};
use crate::estimate::Confidence;

/// Largest number of drivers for the all-subsets Shapley decomposition (2¹⁵ subsets).
pub const MAX_SHAPLEY_DRIVERS: usize = 15;

/// Mergeable centred cross-products of p variables (drivers and outcome together).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossProducts {
    pub n: u64,
    pub means: Vec<f64>,
    /// Row-major p×p matrix of Σ(xᵢ - x̄ᵢ)(xⱼ - x̄ⱼ).
    pub comoments: Vec<f64>,
}

impl CrossProducts {
    /// An empty accumulator over `p` variables.
    pub fn new(p: usize) -> Self {
        CrossProducts {
            n: 0,
            means: vec![0.0; p],
            comoments: vec![0.0; p * p],
        }
    }

    /// Number of variables.
    pub fn p(&self) -> usize {
        self.means.len()
    }

    /// Adds one observation (a row of p values).
    pub fn push(&mut self, row: &[f64]) -> Result<()> {
        let p = self.p();
        if row.len() != p {
            return Err(invalid(format!("expected {p} values, got {}", row.len())));
        }
        for &x in row {
            check_finite("value", x)?;
        }
        self.n += 1;
        let nf = self.n as f64;
        let delta: Vec<f64> = row.iter().zip(&self.means).map(|(x, m)| x - m).collect();
        for (m, d) in self.means.iter_mut().zip(&delta) {
            *m += d / nf;
        }
        for (i, (x, m)) in row.iter().zip(&self.means).enumerate() {
            let after_i = x - m;
            for (c, d) in self.comoments[i * p..(i + 1) * p].iter_mut().zip(&delta) {
                *c += d * after_i;
            }
        }
        Ok(())
    }

    /// Combines two disjoint samples over the same variables.
    pub fn merge(&self, o: &CrossProducts) -> Result<CrossProducts> {
        let p = self.p();
        if o.p() != p {
            return Err(invalid(
                "cannot merge cross-products of different variables",
            ));
        }
        if self.n == 0 {
            return Ok(o.clone());
        }
        if o.n == 0 {
            return Ok(self.clone());
        }
        let (na, nb) = (self.n as f64, o.n as f64);
        let n = na + nb;
        let d: Vec<f64> = o
            .means
            .iter()
            .zip(&self.means)
            .map(|(b, a)| b - a)
            .collect();
        let means = self
            .means
            .iter()
            .zip(&d)
            .map(|(a, di)| a + di * nb / n)
            .collect();
        let mut comoments = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                comoments[i * p + j] =
                    self.comoments[i * p + j] + o.comoments[i * p + j] + d[i] * d[j] * na * nb / n;
            }
        }
        Ok(CrossProducts {
            n: self.n + o.n,
            means,
            comoments,
        })
    }

    /// Builds from the raw sums a query engine returns: n, Σxᵢ and Σxᵢxⱼ (row-major).
    pub fn from_sums(n: u64, sums: &[f64], sums_of_products: &[f64]) -> Result<Self> {
        let p = sums.len();
        if sums_of_products.len() != p * p {
            return Err(invalid("sums of products must be a p×p matrix"));
        }
        if n == 0 {
            return Ok(CrossProducts::new(p));
        }
        let nf = n as f64;
        let means: Vec<f64> = sums.iter().map(|s| s / nf).collect();
        let mut comoments = vec![0.0; p * p];
        for i in 0..p {
            for j in 0..p {
                comoments[i * p + j] = sums_of_products[i * p + j] - nf * means[i] * means[j];
            }
        }
        Ok(CrossProducts {
            n,
            means,
            comoments,
        })
    }

    fn matrix(&self) -> DMatrix<f64> {
        let p = self.p();
        DMatrix::from_row_slice(p, p, &self.comoments)
    }

    /// Correlation matrix; errors naming any variable without variance.
    pub fn correlation(&self, names: &[String]) -> Result<DMatrix<f64>> {
        let p = self.p();
        let c = self.matrix();
        let mut sd = vec![0.0; p];
        for i in 0..p {
            let v = c[(i, i)];
            if v.is_nan() || v <= 1e-12 * (1.0 + self.means[i].powi(2)) * self.n as f64 {
                return Err(StatsError::Collinear(format!(
                    "'{}' does not vary in the data; remove it",
                    name(names, i)
                )));
            }
            sd[i] = v.sqrt();
        }
        Ok(DMatrix::from_fn(p, p, |i, j| c[(i, j)] / (sd[i] * sd[j])))
    }
}

fn name(names: &[String], i: usize) -> String {
    names
        .get(i)
        .cloned()
        .unwrap_or_else(|| format!("x{}", i + 1))
}

/// A fitted linear regression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinearFit {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub standard_errors: Vec<f64>,
    /// Standardised coefficients βⱼ·sⱼ/s_y.
    pub standardized: Vec<f64>,
    pub r_squared: f64,
    pub n: u64,
}

/// Checks that the driver correlation matrix is well conditioned; names the culprits if not.
fn check_collinearity(r: &DMatrix<f64>, names: &[String]) -> Result<()> {
    let eig = r.clone().symmetric_eigen();
    let (imin, &lmin) = eig
        .eigenvalues
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))
        .expect("at least one driver");
    if lmin < 1e-10 {
        let v = eig.eigenvectors.column(imin);
        let mut involved: Vec<String> = (0..v.len())
            .filter(|&i| v[i].abs() > 0.1)
            .map(|i| format!("'{}'", name(names, i)))
            .collect();
        involved.sort();
        return Err(StatsError::Collinear(format!(
            "{} are (nearly) linear combinations of each other; keep one of them or combine them",
            involved.join(", ")
        )));
    }
    Ok(())
}

fn check_drivers(cp: &CrossProducts) -> Result<usize> {
    let p = cp.p();
    if p < 2 {
        return Err(invalid(
            "a regression needs at least one driver and an outcome",
        ));
    }
    let k = p - 1;
    if cp.n < (k as u64) + 2 {
        return Err(StatsError::TooFewObservations {
            what: "a regression (drivers + 2)",
            needed: k as u64 + 2,
            got: cp.n,
        });
    }
    Ok(k)
}

/// OLS of the last variable of `cp` on the others. `names` names the p variables (drivers then
/// outcome) for error messages.
pub fn ols(cp: &CrossProducts, names: &[String]) -> Result<LinearFit> {
    let k = check_drivers(cp)?;
    let r = cp.correlation(names)?;
    check_collinearity(&r.view((0, 0), (k, k)).into_owned(), names)?;
    let c = cp.matrix();
    let sxx = c.view((0, 0), (k, k)).into_owned();
    let sxy = c.view((0, k), (k, 1)).into_owned();
    let inv = sxx
        .clone()
        .cholesky()
        .ok_or_else(|| StatsError::Collinear("the drivers' covariance is singular".into()))?
        .inverse();
    let beta = &inv * &sxy;
    let syy = c[(k, k)];
    let ssr = (sxy.transpose() * &beta)[(0, 0)];
    let sse = (syy - ssr).max(0.0);
    let df = cp.n as f64 - k as f64 - 1.0;
    let sigma2 = sse / df;
    let coefficients: Vec<f64> = beta.iter().copied().collect();
    let intercept = cp.means[k]
        - coefficients
            .iter()
            .zip(&cp.means)
            .map(|(b, m)| b * m)
            .sum::<f64>();
    Ok(LinearFit {
        intercept,
        standard_errors: (0..k).map(|j| (sigma2 * inv[(j, j)]).sqrt()).collect(),
        standardized: (0..k)
            .map(|j| coefficients[j] * (c[(j, j)] / syy).sqrt())
            .collect(),
        coefficients,
        r_squared: if syy > 0.0 { ssr / syy } else { 0.0 },
        n: cp.n,
    })
}

/// Importance of each driver in explaining the outcome's variance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverImportance {
    /// Share of R² attributed to each driver (sums to `r_squared`).
    pub raw: Vec<f64>,
    /// Raw importance as a share of R² (sums to 1).
    pub normalized: Vec<f64>,
    pub r_squared: f64,
    pub method: &'static str,
}

fn importance(raw: Vec<f64>, method: &'static str) -> DriverImportance {
    let r2: f64 = raw.iter().sum();
    DriverImportance {
        normalized: raw
            .iter()
            .map(|x| if r2 > 0.0 { x / r2 } else { 0.0 })
            .collect(),
        raw,
        r_squared: r2,
        method,
    }
}

/// R² of regressing variable `y` on the variables in `subset` (a bit mask), from correlations
/// (the direct solve that [`all_subset_r2`] replaces; kept to check it).
#[cfg(test)]
fn subset_r2(r: &DMatrix<f64>, y: usize, subset: u32) -> f64 {
    let idx: Vec<usize> = (0..y).filter(|&i| subset & (1 << i) != 0).collect();
    if idx.is_empty() {
        return 0.0;
    }
    let m = idx.len();
    let rss = DMatrix::from_fn(m, m, |a, b| r[(idx[a], idx[b])]);
    let rsy = DVector::from_fn(m, |a, _| r[(idx[a], y)]);
    match rss.cholesky() {
        Some(ch) => rsy.dot(&ch.solve(&rsy)),
        None => f64::NAN,
    }
}

/// R² of the last variable on every subset of the first k (indexed by bit mask), from the
/// correlation matrix: a depth-first walk over the subsets in which each subset is its parent
/// swept on one more pivot (Goodnight 1979), O(2ᵏ·p²) in all and no inverse per subset. After
/// sweeping the subset S, the outcome's diagonal holds 1 − R²(S). A pivot without variance
/// left marks the subsets through it NaN.
fn all_subset_r2(r: &DMatrix<f64>, k: usize) -> Vec<f64> {
    let p = k + 1;
    let mut values = vec![f64::NAN; 1 << k];
    let base: Vec<f64> = (0..p * p).map(|i| r[(i / p, i % p)]).collect();
    values[0] = 0.0;
    // One matrix per depth; level d holds the current subset of size d.
    let mut levels: Vec<Vec<f64>> = vec![base; k + 1];
    fn walk(
        levels: &mut [Vec<f64>],
        depth: usize,
        from: usize,
        mask: u32,
        k: usize,
        values: &mut [f64],
    ) {
        let p = k + 1;
        for next in from..k {
            let (head, tail) = levels.split_at_mut(depth + 1);
            let (a, b) = (&head[depth], &mut tail[0]);
            let d = a[next * p + next];
            let m = mask | (1 << next);
            if d.abs() < 1e-12 {
                continue; // singular: this subset and its supersets stay NaN
            }
            for i in 0..p {
                for j in 0..p {
                    b[i * p + j] = if i == next && j == next {
                        -1.0 / d
                    } else if i == next {
                        a[next * p + j] / d
                    } else if j == next {
                        a[i * p + next] / d
                    } else {
                        a[i * p + j] - a[i * p + next] * a[next * p + j] / d
                    };
                }
            }
            values[m as usize] = 1.0 - b[k * p + k];
            walk(levels, depth + 1, next + 1, m, k, values);
        }
    }
    walk(&mut levels, 0, 0, 0, k, &mut values);
    values
}

/// Shapley values of any set function over k players given as values on all 2ᵏ bit masks.
pub(crate) fn shapley_from_subsets(k: usize, value: &[f64]) -> Vec<f64> {
    let mut fact = vec![1.0f64; k + 1];
    for i in 1..=k {
        fact[i] = fact[i - 1] * i as f64;
    }
    let weight: Vec<f64> = (0..k)
        .map(|s| fact[s] * fact[k - s - 1] / fact[k])
        .collect();
    let mut out = vec![0.0; k];
    for mask in 0u32..(1u32 << k) {
        let s = mask.count_ones() as usize;
        for (j, o) in out.iter_mut().enumerate() {
            if mask & (1 << j) == 0 {
                *o += weight[s] * (value[(mask | (1 << j)) as usize] - value[mask as usize]);
            }
        }
    }
    out
}

/// Shapley/LMG decomposition of R² for the last variable of `cp` on the others.
pub fn shapley_r2(cp: &CrossProducts, names: &[String]) -> Result<DriverImportance> {
    let k = check_drivers(cp)?;
    if k > MAX_SHAPLEY_DRIVERS {
        return Err(invalid(format!(
            "Shapley decomposition is exact over all subsets and limited to {MAX_SHAPLEY_DRIVERS} \
             drivers, got {k}; use relative weights instead"
        )));
    }
    let r = cp.correlation(names)?;
    check_collinearity(&r.view((0, 0), (k, k)).into_owned(), names)?;
    let values = all_subset_r2(&r, k);
    if values.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::Collinear(
            "a subset of drivers is singular".into(),
        ));
    }
    Ok(importance(shapley_from_subsets(k, &values), "shapley_lmg"))
}

/// Johnson's (2000) relative weights for the last variable of `cp` on the others.
pub fn relative_weights(cp: &CrossProducts, names: &[String]) -> Result<DriverImportance> {
    let k = check_drivers(cp)?;
    let r = cp.correlation(names)?;
    let rxx = r.view((0, 0), (k, k)).into_owned();
    check_collinearity(&rxx, names)?;
    let rxy = r.view((0, k), (k, 1)).into_owned();
    let eig = rxx.symmetric_eigen();
    let sqrt_l = DMatrix::from_diagonal(&eig.eigenvalues.map(|l| l.max(0.0).sqrt()));
    let lam = &eig.eigenvectors * sqrt_l * eig.eigenvectors.transpose();
    let beta = lam
        .clone()
        .lu()
        .solve(&rxy)
        .ok_or_else(|| StatsError::Collinear("the drivers' correlation is singular".into()))?;
    let raw: Vec<f64> = (0..k)
        .map(|j| (0..k).map(|i| lam[(j, i)].powi(2) * beta[i].powi(2)).sum())
        .collect();
    Ok(importance(raw, "johnson_relative_weights"))
}

/// One row of grouped binomial data: predictor values, events and trials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinomialRow {
    pub x: Vec<f64>,
    pub successes: f64,
    pub trials: f64,
}

/// A fitted logistic regression (intercept first in every vector).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogisticFit {
    pub coefficients: Vec<f64>,
    pub standard_errors: Vec<f64>,
    pub z: Vec<f64>,
    pub p_values: Vec<f64>,
    pub odds_ratios: Vec<f64>,
    pub odds_ratio_lower: Vec<f64>,
    pub odds_ratio_upper: Vec<f64>,
    pub log_likelihood: f64,
    pub null_log_likelihood: f64,
    /// McFadden's pseudo-R², 1 - ℓ/ℓ₀.
    pub mcfadden_r2: f64,
    /// Likelihood-ratio test against the intercept-only model.
    pub lr_chi2: f64,
    pub lr_p_value: f64,
    pub iterations: usize,
}

fn log_lik(rows: &[BinomialRow], eta: impl Fn(&BinomialRow) -> f64) -> f64 {
    rows.iter()
        .map(|r| {
            let e = eta(r);
            // log p = -log(1+e^-η), log(1-p) = -log(1+e^η)
            let lp = -softplus(-e);
            let lq = -softplus(e);
            r.successes * lp + (r.trials - r.successes) * lq
        })
        .sum()
}

fn softplus(x: f64) -> f64 {
    if x > 30.0 { x } else { x.exp().ln_1p() }
}

/// Logistic regression by IRLS with an intercept. `names` names the predictors for messages.
pub fn logistic(
    rows: &[BinomialRow],
    names: &[String],
    confidence: Confidence,
) -> Result<LogisticFit> {
    let k = rows.first().map_or(0, |r| r.x.len());
    let p = k + 1;
    let mut total = 0.0;
    let mut events = 0.0;
    for r in rows {
        if r.x.len() != k {
            return Err(invalid("every row must have the same number of predictors"));
        }
        for &x in &r.x {
            check_finite("predictor", x)?;
        }
        if !(r.trials >= 0.0 && r.successes >= 0.0 && r.successes <= r.trials) {
            return Err(invalid(format!(
                "need 0 <= successes <= trials, got {} of {}",
                r.successes, r.trials
            )));
        }
        total += r.trials;
        events += r.successes;
    }
    if total <= 0.0 {
        return Err(StatsError::NoObservations {
            what: "a logistic regression",
        });
    }
    if events == 0.0 || events == total {
        return Err(StatsError::Undefined(format!(
            "the outcome is {} for every observation; odds ratios are not defined",
            if events == 0.0 { "0" } else { "1" }
        )));
    }
    let design = |r: &BinomialRow| -> DVector<f64> {
        DVector::from_iterator(p, std::iter::once(1.0).chain(r.x.iter().copied()))
    };
    let mut beta = DVector::<f64>::zeros(p);
    let pbar = events / total;
    beta[0] = (pbar / (1.0 - pbar)).ln();
    let mut ll = log_lik(rows, |r| design(r).dot(&beta));
    let mut iterations = 0;
    let mut info = DMatrix::<f64>::zeros(p, p);
    let mut converged = false;
    while iterations < 100 {
        iterations += 1;
        info.fill(0.0);
        let mut score = DVector::<f64>::zeros(p);
        for r in rows {
            let x = design(r);
            let eta = x.dot(&beta);
            let mu = 1.0 / (1.0 + (-eta).exp());
            let w = r.trials * mu * (1.0 - mu);
            score += &x * (r.successes - r.trials * mu);
            info.syger(w, &x, &x, 1.0);
        }
        let Some(ch) = info.clone().cholesky() else {
            return Err(if iterations == 1 {
                collinear_or_separated(names)
            } else {
                separated(names)
            });
        };
        let step = ch.solve(&score);
        // Step halving keeps the log-likelihood increasing.
        let mut t = 1.0;
        let mut new_beta;
        let mut new_ll;
        loop {
            new_beta = &beta + &step * t;
            new_ll = log_lik(rows, |r| design(r).dot(&new_beta));
            if new_ll >= ll - 1e-12 * ll.abs() || t < 1e-8 {
                break;
            }
            t /= 2.0;
        }
        let change = (new_ll - ll).abs();
        beta = new_beta;
        ll = new_ll;
        if change < 1e-12 * (ll.abs() + 1e-12) || step.amax() * t < 1e-12 {
            converged = true;
            break;
        }
    }
    if !converged || beta.amax() > 25.0 {
        return Err(separated(names));
    }
    // Information at the final estimate.
    info.fill(0.0);
    for r in rows {
        let x = design(r);
        let mu = 1.0 / (1.0 + (-x.dot(&beta)).exp());
        info.syger(r.trials * mu * (1.0 - mu), &x, &x, 1.0);
    }
    let cov = info
        .cholesky()
        .ok_or_else(|| collinear_or_separated(names))?
        .inverse();
    let null_ll = events * pbar.ln() + (total - events) * (1.0 - pbar).ln();
    let z = confidence.z();
    let coefficients: Vec<f64> = beta.iter().copied().collect();
    let standard_errors: Vec<f64> = (0..p).map(|j| cov[(j, j)].sqrt()).collect();
    let zs: Vec<f64> = coefficients
        .iter()
        .zip(&standard_errors)
        .map(|(b, s)| b / s)
        .collect();
    let lr = (2.0 * (ll - null_ll)).max(0.0);
    Ok(LogisticFit {
        p_values: zs.iter().map(|&v| normal_two_sided_p(v)).collect(),
        odds_ratios: coefficients.iter().map(|b| b.exp()).collect(),
        odds_ratio_lower: coefficients
            .iter()
            .zip(&standard_errors)
            .map(|(b, s)| (b - z * s).exp())
            .collect(),
        odds_ratio_upper: coefficients
            .iter()
            .zip(&standard_errors)
            .map(|(b, s)| (b + z * s).exp())
            .collect(),
        z: zs,
        coefficients,
        standard_errors,
        log_likelihood: ll,
        null_log_likelihood: null_ll,
        mcfadden_r2: 1.0 - ll / null_ll,
        lr_chi2: lr,
        lr_p_value: crate::dist::chi2_sf(lr, k as f64),
        iterations,
    })
}

fn separated(names: &[String]) -> StatsError {
    StatsError::NotConverged(format!(
        "logistic regression does not converge: the outcome is (almost) perfectly predicted by {} \
         (complete separation), so odds ratios are infinite",
        if names.is_empty() {
            "the predictors".to_string()
        } else {
            names.join(", ")
        }
    ))
}

fn collinear_or_separated(names: &[String]) -> StatsError {
    StatsError::Collinear(format!(
        "the information matrix is singular: predictors ({}) are collinear or constant",
        names.join(", ")
    ))
}

/// Shapley decomposition of McFadden's R² over the predictors of a logistic model
/// (logistic "general dominance", Azen & Traxel 2009). Fits 2ᵏ models; k ≤ 15.
pub fn logistic_shapley(rows: &[BinomialRow], names: &[String]) -> Result<DriverImportance> {
    let k = rows.first().map_or(0, |r| r.x.len());
    if k == 0 {
        return Err(invalid("at least one predictor is needed"));
    }
    if k > MAX_SHAPLEY_DRIVERS {
        return Err(invalid(format!(
            "logistic Shapley decomposition is limited to {MAX_SHAPLEY_DRIVERS} drivers, got {k}"
        )));
    }
    let conf = Confidence::default();
    let mut values = vec![0.0; 1 << k];
    for mask in 1u32..(1u32 << k) {
        let cols: Vec<usize> = (0..k).filter(|&i| mask & (1 << i) != 0).collect();
        let sub: Vec<BinomialRow> = rows
            .iter()
            .map(|r| BinomialRow {
                x: cols.iter().map(|&c| r.x[c]).collect(),
                successes: r.successes,
                trials: r.trials,
            })
            .collect();
        let sub_names: Vec<String> = cols.iter().map(|&c| name(names, c)).collect();
        values[mask as usize] = logistic(&sub, &sub_names, conf)?.mcfadden_r2;
    }
    Ok(importance(
        shapley_from_subsets(k, &values),
        "logistic_shapley_mcfadden",
    ))
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn sweeping_matches_direct_solves_on_every_subset() {
        // A 5-driver correlation-like matrix from random data.
        let mut cp = CrossProducts::new(6);
        let mut x = 0.37f64;
        for _ in 0..500 {
            let mut row = [0.0; 6];
            for j in 0..5 {
                x = (x * 9301.0 + 49297.0) % 233280.0;
                row[j] = x / 233280.0 + 0.3 * j as f64 * row[0];
            }
            row[5] = row.iter().take(5).sum::<f64>() + x / 233280.0;
            cp.push(&row).unwrap();
        }
        let names: Vec<String> = (0..6).map(|i| format!("v{i}")).collect();
        let r = cp.correlation(&names).unwrap();
        let all = all_subset_r2(&r, 5);
        for m in 0u32..32 {
            assert!(
                (all[m as usize] - subset_r2(&r, 5, m)).abs() < 1e-10,
                "subset {m}"
            );
        }
    }
}
