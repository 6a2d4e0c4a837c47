//! Key driver analysis: which attribute ratings drive the outcome, and what to fix first.
//!
//! From respondents who answered the outcome and every driver (complete cases):
//!
//! - **Importance**: the Shapley / LMG decomposition of the R² of the outcome regressed on the
//!   drivers ([`cxray_stats::regression::shapley_r2`]; R `relaimpo` "lmg"), as each driver's
//!   share of the explained variance, with Johnson's relative weights beside it and the OLS
//!   coefficients (points of outcome per point of rating, holding the others fixed).
//! - **Uncertainty**: a bootstrap of the respondents. The rows are dealt into `blocks` groups
//!   once (row i to group i mod blocks), each group keeps its cross-products, and every
//!   replicate sums the cross-products of groups drawn with replacement — for independent
//!   respondents the same first-order variance as resampling rows, at the cost of a k×k sum.
//!   Percentile intervals of each share, and for each driver the share of replicates in which
//!   it ranks above the next driver (how settled the order is).
//! - **Binary outcome**: when the outcome is NPS, a logistic model of promoter (9-10) vs not on
//!   the drivers, grouped by distinct rating combinations, with odds ratios per rating point
//!   (fitted on every m-th row when there are more than 200,000).
//! - **Indicators**: comment themes (mentioned or not) and segments (member or not, every
//!   level but the largest) can join the ratings as 0/1 drivers; they get an importance and a
//!   coefficient (the outcome difference, others held fixed) but no place in the priority
//!   matrix, and their "performance" is the share of submissions with the indicator.
//! - **Priority matrix**: importance against performance (the driver's mean as % of its scale).
//!   A driver is *important* when the lower end of its importance interval is above the average
//!   share 1/k, and performs *below* (or *above*) the others when its mean differs from the
//!   drivers' average performance by more than z standard errors and by at least 2.5 points of
//!   the scale's percent (significant and material). Important and below: "fix
//!   first"; important otherwise: "maintain"; not important and above: "possible
//!   overinvestment"; the rest: "monitor". Differences within noise put nothing in "fix first".

use cxray_stats::quantile::quantiles;
use cxray_stats::regression::{
    BinomialRow, CrossProducts, logistic, ols, relative_weights, shapley_r2,
};
use cxray_stats::{Confidence, StatsError};
use serde::Serialize;

/// What the analysis reads.
pub struct DriverInput<'a> {
    pub outcome: String,
    pub drivers: Vec<String>,
    /// Complete cases, each `drivers.len() + 1` values: drivers then the outcome.
    pub rows: &'a [f64],
    /// Scale [min, max] of each driver, for performance in % of scale.
    pub scales: Vec<(f64, f64)>,
    /// Whether the outcome is an NPS score (adds the promoter logistic model).
    pub nps_outcome: bool,
    /// Drivers that are 0/1 indicators (a comment theme mentioned, membership of a segment)
    /// rather than ratings: their performance is the share of submissions with the indicator,
    /// and they stay out of the priority matrix (quadrant "indicator").
    pub indicators: Vec<bool>,
}

/// Settings of the analysis.
#[derive(Debug, Clone, Copy)]
pub struct DriverOptions {
    pub confidence: Confidence,
    pub replicates: usize,
    pub blocks: usize,
    pub seed: u64,
}

impl Default for DriverOptions {
    fn default() -> Self {
        DriverOptions {
            confidence: Confidence::default(),
            replicates: 200,
            blocks: 200,
            seed: 20251201,
        }
    }
}

/// One driver.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverRow {
    pub driver: String,
    pub rank: usize,
    /// Share of the explained variance (Shapley/LMG), 0-1, with its bootstrap interval.
    pub importance: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Share of bootstrap replicates in which this driver ranks above the next one.
    pub ahead_of_next: Option<f64>,
    /// Johnson's relative weight as a share of R².
    pub relative_weight: f64,
    /// OLS coefficient: outcome points per rating point, others held fixed.
    pub coefficient: f64,
    pub coefficient_se: f64,
    /// Odds ratio of being a promoter per rating point (NPS outcome).
    pub promoter_odds_ratio: Option<f64>,
    pub promoter_or_low: Option<f64>,
    pub promoter_or_high: Option<f64>,
    /// Mean rating and the same as % of the scale.
    pub mean: f64,
    pub performance: f64,
    /// "fix first", "maintain", "monitor" or "possible overinvestment".
    pub quadrant: String,
}

/// The analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drivers {
    pub outcome: String,
    /// Respondents with the outcome and every driver.
    pub n: u64,
    pub r_squared: f64,
    pub promoter_pseudo_r2: Option<f64>,
    /// Rows the promoter model was fitted on (every m-th row beyond 200,000).
    pub promoter_rows: u64,
    pub confidence: f64,
    pub replicates: usize,
    pub method: String,
    pub drivers: Vec<DriverRow>,
    /// The drivers to fix first, most important first.
    pub fix_first: Vec<String>,
    pub verdict: String,
}

/// SplitMix64: a small deterministic generator for the bootstrap draws.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z as u128 * n as u128) >> 64) as usize
    }
}

/// Cross-products of the rows dealt into `blocks` groups (row i to group i mod blocks), summed
/// on every core. Sums are of the values minus the first row (shift-invariant comoments, no
/// loss of precision for values far from zero); only the upper triangle is accumulated.
fn block_cross_products(
    rows: &[f64],
    p: usize,
    blocks: usize,
) -> Result<Vec<CrossProducts>, StatsError> {
    let n = rows.len() / p;
    if n == 0 {
        return Ok(vec![CrossProducts::new(p); blocks]);
    }
    for &v in rows {
        if !v.is_finite() {
            return Err(StatsError::InvalidArgument(
                "driver rows must be finite numbers".into(),
            ));
        }
    }
    let shift: Vec<f64> = rows[..p].to_vec();
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8);
    let chunk = n.div_ceil(threads);
    // Per block: count, Σd (p), Σdd (p×p, upper triangle).
    type Acc = Vec<(u64, Vec<f64>, Vec<f64>)>;
    let partial: Vec<Acc> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let shift = &shift;
                s.spawn(move || {
                    let mut acc: Acc = vec![(0, vec![0.0; p], vec![0.0; p * p]); blocks];
                    let mut d = vec![0.0; p];
                    for i in (t * chunk)..((t + 1) * chunk).min(n) {
                        let row = &rows[i * p..(i + 1) * p];
                        for j in 0..p {
                            d[j] = row[j] - shift[j];
                        }
                        let (c, sum, prod) = &mut acc[i % blocks];
                        *c += 1;
                        for a in 0..p {
                            sum[a] += d[a];
                            let da = d[a];
                            let line = &mut prod[a * p..(a + 1) * p];
                            for b in a..p {
                                line[b] += da * d[b];
                            }
                        }
                    }
                    acc
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("cross-products thread"))
            .collect()
    });
    let mut out = Vec::with_capacity(blocks);
    for b in 0..blocks {
        let mut c = 0u64;
        let mut sum = vec![0.0; p];
        let mut prod = vec![0.0; p * p];
        for part in &partial {
            c += part[b].0;
            for (x, y) in sum.iter_mut().zip(&part[b].1) {
                *x += y;
            }
            for (x, y) in prod.iter_mut().zip(&part[b].2) {
                *x += y;
            }
        }
        for a in 0..p {
            for b2 in 0..a {
                prod[a * p + b2] = prod[b2 * p + a];
            }
        }
        let mut cp = CrossProducts::from_sums(c, &sum, &prod)?;
        if c > 0 {
            for (m, s) in cp.means.iter_mut().zip(&shift) {
                *m += s;
            }
        }
        out.push(cp);
    }
    Ok(out)
}

/// Smallest performance gap (points of % of scale) that counts as rating below or above the
/// other drivers: with millions of answers a difference of 0.01 on a 5-point scale is
/// significant but not a reason to act.
const MIN_GAP: f64 = 2.5;

/// Largest number of rows the promoter model is fitted on; larger samples are thinned evenly
/// (every m-th row) and the fit says so.
const LOGISTIC_ROWS: usize = 200_000;

/// Runs the driver analysis.
pub fn drivers(input: &DriverInput, opts: &DriverOptions) -> Result<Drivers, StatsError> {
    let k = input.drivers.len();
    let p = k + 1;
    let mut names = input.drivers.clone();
    names.push(input.outcome.clone());
    let n = input.rows.len() / p;
    let blocks = opts.blocks.clamp(1, n.max(1));
    let parts = block_cross_products(input.rows, p, blocks)?;
    let mut all = CrossProducts::new(p);
    for c in &parts {
        all = all.merge(c)?;
    }
    let shapley = shapley_r2(&all, &names)?;
    let rw = relative_weights(&all, &names)?;
    let fit = ols(&all, &names)?;

    // Bootstrap replicates of the shares, on both cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .min(opts.replicates.max(1));
    let per = opts.replicates.div_ceil(threads.max(1));
    let reps: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (parts, names) = (&parts, &names);
                s.spawn(move || {
                    let mut rng = SplitMix(opts.seed ^ (t as u64).wrapping_mul(0x2545_f491));
                    let mut out = Vec::new();
                    for _ in 0..per {
                        let mut c = CrossProducts::new(p);
                        for _ in 0..parts.len() {
                            if let Ok(m) = c.merge(&parts[rng.below(parts.len())]) {
                                c = m;
                            }
                        }
                        if let Ok(imp) = shapley_r2(&c, names) {
                            out.push(imp.normalized);
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("bootstrap thread"))
            .collect()
    });
    let alpha = opts.confidence.alpha();

    // Logistic model of promoters, on rows grouped by their rating combination.
    let mut promoter = None;
    let mut promoter_rows = 0u64;
    if input.nps_outcome {
        // Ordered, so that the fit's sums (and the report) are the same on every run.
        let mut groups: std::collections::BTreeMap<Vec<i64>, (Vec<f64>, f64, f64)> =
            Default::default();
        let step = n.div_ceil(LOGISTIC_ROWS).max(1);
        for row in input.rows.chunks_exact(p).step_by(step) {
            promoter_rows += 1;
            let key: Vec<i64> = row[..k]
                .iter()
                .map(|x| (x * 1000.0).round() as i64)
                .collect();
            let e = groups
                .entry(key)
                .or_insert_with(|| (row[..k].to_vec(), 0.0, 0.0));
            e.1 += (row[k] >= 9.0) as u8 as f64;
            e.2 += 1.0;
        }
        {
            let rows: Vec<BinomialRow> = groups
                .into_values()
                .map(|(x, successes, trials)| BinomialRow {
                    x,
                    successes,
                    trials,
                })
                .collect();
            promoter = logistic(&rows, &input.drivers, opts.confidence).ok();
        }
    }

    let mut rows: Vec<DriverRow> = (0..k)
        .map(|j| {
            let shares: Vec<f64> = reps.iter().map(|r| r[j]).collect();
            let ci = quantiles(&shares, &[alpha / 2.0, 1.0 - alpha / 2.0])
                .unwrap_or_else(|_| vec![f64::NAN; 2]);
            let mean = all.means[j];
            let (lo, hi) = input.scales[j];
            DriverRow {
                driver: input.drivers[j].clone(),
                rank: 0,
                importance: shapley.normalized[j],
                ci_low: ci[0],
                ci_high: ci[1],
                ahead_of_next: None,
                relative_weight: rw.normalized[j],
                coefficient: fit.coefficients[j],
                coefficient_se: fit.standard_errors[j],
                promoter_odds_ratio: promoter.as_ref().map(|f| f.odds_ratios[j + 1]),
                promoter_or_low: promoter.as_ref().map(|f| f.odds_ratio_lower[j + 1]),
                promoter_or_high: promoter.as_ref().map(|f| f.odds_ratio_upper[j + 1]),
                mean,
                performance: if hi > lo {
                    100.0 * (mean - lo) / (hi - lo)
                } else {
                    f64::NAN
                },
                quadrant: String::new(),
            }
        })
        .collect();
    let is_indicator = |j: usize| input.indicators.get(j).copied().unwrap_or(false);
    let ratings: Vec<usize> = (0..k).filter(|&j| !is_indicator(j)).collect();
    let mean_perf =
        ratings.iter().map(|&j| rows[j].performance).sum::<f64>() / ratings.len().max(1) as f64;
    let mean_imp = 1.0 / k as f64;
    let z = opts.confidence.z();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| rows[b].importance.total_cmp(&rows[a].importance));
    for w in order.windows(2) {
        let (a, b) = (w[0], w[1]);
        let ahead = reps.iter().filter(|r| r[a] > r[b]).count() as f64 / reps.len().max(1) as f64;
        rows[a].ahead_of_next = (!reps.is_empty()).then_some(ahead);
    }
    for (rank, &j) in order.iter().enumerate() {
        // Standard error of the mean rating, in % of the scale.
        let (lo, hi) = input.scales[j];
        let var = all.comoments[j * p + j] / (n as f64 - 1.0).max(1.0);
        let se = 100.0 * (var / n as f64).sqrt() / (hi - lo).max(f64::MIN_POSITIVE);
        let r = &mut rows[j];
        r.rank = rank + 1;
        if is_indicator(j) {
            r.quadrant = "indicator".into();
            continue;
        }
        let important = r.ci_low > mean_imp;
        // Significantly and materially (by at least MIN_GAP points of the scale) apart.
        let gap = (z * se).max(MIN_GAP);
        let below = r.performance < mean_perf - gap;
        let above = r.performance > mean_perf + gap;
        r.quadrant = match (important, below, above) {
            (true, true, _) => "fix first",
            (true, false, _) => "maintain",
            (false, _, true) => "possible overinvestment",
            _ => "monitor",
        }
        .into();
    }
    let mut sorted: Vec<DriverRow> = order.iter().map(|&j| rows[j].clone()).collect();
    sorted.sort_by_key(|r| r.rank);
    let fix_first: Vec<String> = sorted
        .iter()
        .filter(|r| r.quadrant == "fix first")
        .map(|r| r.driver.clone())
        .collect();
    let verdict = verdict(
        &input.outcome,
        &sorted,
        &fix_first,
        shapley.r_squared,
        n,
        opts,
    );
    Ok(Drivers {
        outcome: input.outcome.clone(),
        n: n as u64,
        r_squared: shapley.r_squared,
        promoter_pseudo_r2: promoter.as_ref().map(|f| f.mcfadden_r2),
        promoter_rows,
        confidence: opts.confidence.level(),
        replicates: reps.len(),
        method: "Shapley/LMG decomposition of R² (relaimpo lmg), bootstrap of respondents".into(),
        drivers: sorted,
        fix_first,
        verdict,
    })
}

fn verdict(
    outcome: &str,
    rows: &[DriverRow],
    fix_first: &[String],
    r2: f64,
    n: usize,
    opts: &DriverOptions,
) -> String {
    let pct = 100.0 * opts.confidence.level();
    let Some(top) = rows.first() else {
        return "No drivers.".into();
    };
    let mut s = format!(
        "{} is the strongest driver of {}: {:.0}% of the explained variance ({pct:.0}% CI \
         {:.0}–{:.0}%; R² {:.2}, n {n})",
        top.driver,
        outcome.to_uppercase(),
        100.0 * top.importance,
        100.0 * top.ci_low,
        100.0 * top.ci_high,
        r2
    );
    if let (Some(next), Some(a)) = (rows.get(1), top.ahead_of_next) {
        s.push_str(&format!(
            ", ahead of {} in {:.0}% of bootstrap replicates",
            next.driver,
            100.0 * a
        ));
    }
    s.push('.');
    if !fix_first.is_empty() {
        s.push_str(&format!(
            " Fix first (important and rated below the others): {}.",
            fix_first.join(", ")
        ));
    }
    if n < CALIBRATED_N {
        s.push_str(&format!(
            " With fewer than {CALIBRATED_N} respondents the importance intervals cover a little \
             less than their level (docs/calibration.md)."
        ));
    }
    s
}

/// Respondents from which the bootstrap intervals of the shares cover their level: the
/// calibration study (docs/calibration.md) finds 91.5-92% for the largest share's 95% interval
/// at 100-300 respondents, 94% at 1,000.
pub const CALIBRATED_N: usize = 1_000;

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic design: y = 3a + 1b + noise-free c-independent term; a matters most.
    #[test]
    fn the_strongest_driver_ranks_first_with_a_settled_order() {
        let mut rows = Vec::new();
        let mut rng = SplitMix(7);
        for _ in 0..4000 {
            let a = 1.0 + rng.below(5) as f64;
            let b = 1.0 + rng.below(5) as f64;
            let c = 1.0 + rng.below(5) as f64;
            let noise = rng.below(7) as f64 - 3.0;
            let y = 3.0 * a + 1.0 * b + 0.2 * c + noise;
            rows.extend([c, b, a, y]);
        }
        let d = drivers(
            &DriverInput {
                outcome: "y".into(),
                drivers: vec!["c".into(), "b".into(), "a".into()],
                rows: &rows,
                scales: vec![(1.0, 5.0); 3],
                nps_outcome: false,
                indicators: vec![false; 3],
            },
            &DriverOptions {
                replicates: 100,
                blocks: 100,
                ..Default::default()
            },
        )
        .unwrap();
        let order: Vec<&str> = d.drivers.iter().map(|r| r.driver.as_str()).collect();
        assert_eq!(order, ["a", "b", "c"]);
        assert!((d.drivers[0].coefficient - 3.0).abs() < 0.1);
        assert!(d.drivers[0].ahead_of_next.unwrap() > 0.99);
        assert!(d.drivers[0].ci_low < d.drivers[0].importance);
        assert!(d.drivers[0].importance < d.drivers[0].ci_high);
        let total: f64 = d.drivers.iter().map(|r| r.importance).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(d.replicates, 100);
        // 4,000 respondents: no caveat; the first 500 of them: the verdict carries one.
        assert!(!d.verdict.contains("calibration"), "{}", d.verdict);
        let few = drivers(
            &DriverInput {
                outcome: "y".into(),
                drivers: vec!["c".into(), "b".into(), "a".into()],
                rows: &rows[..500 * 4],
                scales: vec![(1.0, 5.0); 3],
                nps_outcome: false,
                indicators: vec![false; 3],
            },
            &DriverOptions::default(),
        )
        .unwrap();
        assert!(
            few.verdict.contains("fewer than 1000 respondents"),
            "{}",
            few.verdict
        );
    }
}
