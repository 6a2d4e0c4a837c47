//! Non-response bias: who did not answer, does it bias the metrics, and what do the metrics say
//! once respondents are weighted back to the population?
//!
//! 1. **Response rate** per segment: answered invitations ÷ invitations sent, with Wilson
//!    intervals.
//! 2. **Do respondents differ from the invited?** Per dimension, Pearson's chi-square test of
//!    independence of answering and segment (the invitations as a segment × answered table);
//!    the dimensions form one family adjusted by Benjamini-Hochberg. A dimension differs when
//!    its test is significant and the difference material: the best-answering segment answers
//!    at least 10% more often (relative) than the worst.
//! 3. **Weighting**: respondents are raked ([`cxray_stats::raking`]) to the population margins
//!    of the dimensions whose response rates differ — the customers table when it has those
//!    columns, otherwise the invited population — and every metric of the survey's answers is
//!    estimated weighted (linearisation SE, Kish design effect and effective n) beside the
//!    unweighted value, with their difference: the estimated non-response bias.

use std::collections::BTreeMap;

use cxray_metrics::{EstimateOptions, MetricCatalog, ScoreCount, ScoreHistogram};
use cxray_stats::dist::chi2_sf;
use cxray_stats::raking::{Margin, RakeControl, RakingCell, rake};
use cxray_stats::{Adjustment, Proportion, ProportionInterval, adjust_p_values};
use serde::Serialize;

use crate::report::fmt_p;

/// The highest segment response rate must be at least this multiple of the lowest for a
/// dimension to count as differing.
pub const MATERIAL_RATIO: f64 = 1.1;

/// Label of a missing segment value.
pub const MISSING: &str = "(missing)";

/// Invitations of one cell (a combination of the dimensions' values).
#[derive(Debug, Clone, PartialEq)]
pub struct InvitationCell {
    pub segment: Vec<Option<String>>,
    pub invited: u64,
    pub answered: u64,
}

/// What the analysis reads.
pub struct NonResponseInput<'a> {
    pub dims: Vec<String>,
    pub cells: Vec<InvitationCell>,
    /// Population counts (or shares) per dimension and level — from the customers table or
    /// the config — when known; the invited population is used otherwise.
    pub population: Option<BTreeMap<String, BTreeMap<String, f64>>>,
    /// The dimensions whose population margins come from the config.
    pub margins_from_config: Vec<String>,
    /// Answers of the matched invitations: (metric, cell, histogram).
    pub answers: Vec<(String, Vec<Option<String>>, ScoreHistogram)>,
    pub catalog: &'a MetricCatalog,
}

/// Settings of the analysis.
#[derive(Debug, Clone)]
pub struct NonResponseOptions {
    pub estimate: EstimateOptions,
    pub alpha: f64,
    /// Dimensions to rake on; `None`: those whose response rates differ significantly.
    pub rake_on: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateRow {
    pub segment: String,
    pub invited: u64,
    pub answered: u64,
    /// Percent.
    pub response_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionRates {
    pub dimension: String,
    pub segments: Vec<RateRow>,
    pub chi2: f64,
    pub df: usize,
    pub p_value: f64,
    pub q_value: f64,
    pub significant: bool,
}

/// A metric estimated without and with the raking weights.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightedMetric {
    pub metric: String,
    pub n: u64,
    pub unweighted: f64,
    pub unweighted_ci: Option<(f64, f64)>,
    pub weighted: f64,
    pub weighted_ci: Option<(f64, f64)>,
    pub n_effective: f64,
    pub design_effect: f64,
    /// Unweighted − weighted: the estimated non-response bias of the unweighted value.
    pub bias: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weighting {
    pub raked_on: Vec<String>,
    /// "customers", "config", "config and customers" or "invitations".
    pub margins_from: String,
    pub iterations: usize,
    pub max_relative_error: f64,
    /// Weight of one respondent relative to the mean weight, smallest and largest.
    pub min_weight: f64,
    pub max_weight: f64,
    /// Design effect and effective n of the weights over the answered invitations.
    pub design_effect: f64,
    pub n_effective: f64,
    /// Per cell of the raked dimensions: the respondent weight relative to the mean.
    pub cells: Vec<(Vec<String>, f64)>,
    pub metrics: Vec<WeightedMetric>,
}

/// The non-response analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NonResponse {
    pub invited: u64,
    pub answered: u64,
    pub response_rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub confidence: f64,
    pub dimensions: Vec<DimensionRates>,
    pub weighting: Option<Weighting>,
    /// Why no weighting was done, when it was not.
    pub weighting_note: Option<String>,
    pub verdict: String,
}

fn label(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| MISSING.to_string())
}

fn rate_row(segment: String, invited: u64, answered: u64, opts: &NonResponseOptions) -> RateRow {
    let (low, high) = Proportion::new(answered, invited)
        .and_then(|p| p.estimate(opts.estimate.confidence, ProportionInterval::Wilson))
        .ok()
        .and_then(|e| e.interval)
        .map_or((f64::NAN, f64::NAN), |i| (100.0 * i.low, 100.0 * i.high));
    RateRow {
        segment,
        invited,
        answered,
        response_rate: if invited > 0 {
            100.0 * answered as f64 / invited as f64
        } else {
            0.0
        },
        ci_low: low,
        ci_high: high,
    }
}

/// Pearson's chi-square of independence for a k × 2 table of (answered, not answered).
fn chi_square(rows: &[(u64, u64)]) -> Option<(f64, usize)> {
    let rows: Vec<(f64, f64)> = rows
        .iter()
        .filter(|(i, _)| *i > 0)
        .map(|(i, a)| (*a as f64, (*i - *a) as f64))
        .collect();
    if rows.len() < 2 {
        return None;
    }
    let n: f64 = rows.iter().map(|(a, b)| a + b).sum();
    let ca: f64 = rows.iter().map(|r| r.0).sum();
    let cb = n - ca;
    if ca == 0.0 || cb == 0.0 {
        return None;
    }
    let mut chi2 = 0.0;
    for (a, b) in &rows {
        let r = a + b;
        let (ea, eb) = (r * ca / n, r * cb / n);
        chi2 += (a - ea).powi(2) / ea + (b - eb).powi(2) / eb;
    }
    Some((chi2, rows.len() - 1))
}

/// Response rates, the tests and the weighted metrics.
pub fn nonresponse(input: &NonResponseInput, opts: &NonResponseOptions) -> NonResponse {
    let invited: u64 = input.cells.iter().map(|c| c.invited).sum();
    let answered: u64 = input.cells.iter().map(|c| c.answered).sum();
    let overall = rate_row(String::new(), invited, answered, opts);
    let mut dimensions: Vec<DimensionRates> = Vec::new();
    for (k, dim) in input.dims.iter().enumerate() {
        let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for c in &input.cells {
            let e = by.entry(label(&c.segment[k])).or_default();
            e.0 += c.invited;
            e.1 += c.answered;
        }
        let Some((chi2, df)) = chi_square(&by.values().copied().collect::<Vec<_>>()) else {
            continue;
        };
        dimensions.push(DimensionRates {
            dimension: dim.clone(),
            segments: by
                .into_iter()
                .map(|(s, (i, a))| rate_row(s, i, a, opts))
                .collect(),
            chi2,
            df,
            p_value: chi2_sf(chi2, df as f64),
            q_value: 1.0,
            significant: false,
        });
    }
    let p: Vec<f64> = dimensions.iter().map(|d| d.p_value).collect();
    if let Ok(q) = adjust_p_values(&p, Adjustment::BenjaminiHochberg) {
        for (d, q) in dimensions.iter_mut().zip(q) {
            d.q_value = q;
            // Significant, and material: the best-answering segment answers at least 10% more
            // often (relative) than the worst. With a million invitations a difference of 0.2
            // points is significant but biases nothing worth weighting for.
            let rates = d
                .segments
                .iter()
                .filter(|s| s.invited > 0)
                .map(|s| s.response_rate);
            let (lo, hi) = rates.fold((f64::INFINITY, 0.0f64), |(l, h), r| (l.min(r), h.max(r)));
            d.significant = q <= opts.alpha && hi >= MATERIAL_RATIO * lo;
        }
    }
    let rake_on: Vec<String> = match &opts.rake_on {
        Some(r) => r.clone(),
        None => dimensions
            .iter()
            .filter(|d| d.significant)
            .map(|d| d.dimension.clone())
            .collect(),
    };
    let (weighting, weighting_note) = if rake_on.is_empty() {
        (
            None,
            Some(
                "respondents do not differ from the invited population in any dimension: no \
                 weighting needed"
                    .to_string(),
            ),
        )
    } else {
        match weigh(input, opts, &rake_on) {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(format!("no weighting: {e}"))),
        }
    };
    let verdict = verdict(&dimensions, weighting.as_ref(), opts);
    NonResponse {
        invited,
        answered,
        response_rate: overall.response_rate,
        ci_low: overall.ci_low,
        ci_high: overall.ci_high,
        confidence: opts.estimate.confidence.level(),
        dimensions,
        weighting,
        weighting_note,
        verdict,
    }
}

fn weigh(
    input: &NonResponseInput,
    opts: &NonResponseOptions,
    rake_on: &[String],
) -> Result<Weighting, String> {
    let idx: Vec<usize> = rake_on
        .iter()
        .map(|r| {
            input
                .dims
                .iter()
                .position(|d| d == r)
                .ok_or_else(|| format!("'{r}' is not a dimension of the invitations"))
        })
        .collect::<Result<_, _>>()?;
    // Levels of each raked dimension, from the invitations.
    let mut levels: Vec<Vec<String>> = vec![Vec::new(); idx.len()];
    for c in &input.cells {
        for (m, &k) in idx.iter().enumerate() {
            let l = label(&c.segment[k]);
            if !levels[m].contains(&l) {
                levels[m].push(l);
            }
        }
    }
    for l in &mut levels {
        l.sort();
    }
    // Respondent cells of the raked dimensions.
    let key = |seg: &[Option<String>]| -> Vec<usize> {
        idx.iter()
            .enumerate()
            .map(|(m, &k)| {
                let l = label(&seg[k]);
                levels[m]
                    .iter()
                    .position(|x| *x == l)
                    .expect("a known level")
            })
            .collect()
    };
    let mut cells: BTreeMap<Vec<usize>, u64> = BTreeMap::new();
    for c in &input.cells {
        *cells.entry(key(&c.segment)).or_default() += c.answered;
    }
    cells.retain(|_, n| *n > 0);
    let cells: Vec<RakingCell> = cells
        .into_iter()
        .map(|(levels, count)| RakingCell {
            levels,
            count,
            base_weight: count as f64,
        })
        .collect();
    let respondents: f64 = cells.iter().map(|c| c.count as f64).sum();
    if respondents == 0.0 {
        return Err("no answered invitations".into());
    }
    // Targets: population shares scaled to the respondents.
    let from_customers = input
        .population
        .as_ref()
        .is_some_and(|p| rake_on.iter().all(|r| p.contains_key(r)));
    let mut margins = Vec::new();
    for (m, &k) in idx.iter().enumerate() {
        let counts: Vec<f64> = match (&input.population, from_customers) {
            (Some(p), true) => {
                let p = &p[&rake_on[m]];
                levels[m]
                    .iter()
                    .map(|l| p.get(l).copied().unwrap_or(0.0))
                    .collect()
            }
            _ => levels[m]
                .iter()
                .map(|l| {
                    input
                        .cells
                        .iter()
                        .filter(|c| label(&c.segment[k]) == *l)
                        .map(|c| c.invited as f64)
                        .sum()
                })
                .collect(),
        };
        let total: f64 = counts.iter().sum();
        if total <= 0.0 {
            return Err(format!("no population counts for '{}'", rake_on[m]));
        }
        margins.push(Margin {
            name: rake_on[m].clone(),
            labels: levels[m].clone(),
            targets: counts.iter().map(|c| c / total * respondents).collect(),
        });
    }
    let r = rake(&cells, &margins, RakeControl::default()).map_err(|e| e.to_string())?;
    let weight_of = |seg: &[Option<String>]| -> Option<f64> {
        let k = key(seg);
        cells
            .iter()
            .position(|c| c.levels == k)
            .map(|i| r.respondent_weights[i])
    };
    let (min_w, max_w) = r
        .respondent_weights
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), w| {
            (lo.min(*w), hi.max(*w))
        });
    // Every metric, unweighted and weighted.
    let mut per_metric: BTreeMap<String, (ScoreHistogram, ScoreHistogram)> = BTreeMap::new();
    for (metric, seg, h) in &input.answers {
        let Some(w) = weight_of(seg) else { continue };
        let e = per_metric.entry(metric.clone()).or_default();
        e.0.merge(h);
        for s in &h.scores {
            e.1.add_weighted(ScoreCount {
                score: s.score,
                count: s.count,
                sum_w: w * s.count as f64,
                sum_w2: w * w * s.count as f64,
            });
        }
    }
    let mut metrics = Vec::new();
    for (name, (plain, weighted)) in per_metric {
        let Ok(spec) = input.catalog.get(&name) else {
            continue;
        };
        let unw = spec.estimate(
            &plain,
            &EstimateOptions {
                weighted: false,
                ..opts.estimate
            },
        );
        let wtd = spec.estimate(
            &weighted,
            &EstimateOptions {
                weighted: true,
                ..opts.estimate
            },
        );
        let (Ok(u), Ok(w)) = (unw, wtd) else { continue };
        let ci = |e: &cxray_metrics::MetricEstimate| e.ci_low.zip(e.ci_high);
        metrics.push(WeightedMetric {
            metric: name,
            n: u.n,
            unweighted: u.value,
            unweighted_ci: ci(&u),
            weighted: w.value,
            weighted_ci: ci(&w),
            n_effective: w.n_effective,
            design_effect: u.n as f64 / w.n_effective.max(f64::MIN_POSITIVE),
            bias: u.value - w.value,
        });
    }
    // The targets add up to the respondents, so the mean respondent weight is 1.
    let mean_w = 1.0;
    Ok(Weighting {
        raked_on: rake_on.to_vec(),
        margins_from: if !from_customers {
            "invitations".to_string()
        } else if rake_on
            .iter()
            .all(|r| input.margins_from_config.contains(r))
        {
            "config".to_string()
        } else if rake_on
            .iter()
            .any(|r| input.margins_from_config.contains(r))
        {
            "config and customers".to_string()
        } else {
            "customers".to_string()
        },
        iterations: r.iterations,
        max_relative_error: r.max_relative_error,
        min_weight: min_w / mean_w,
        max_weight: max_w / mean_w,
        design_effect: r.design_effect,
        n_effective: r.n_effective,
        cells: cells
            .iter()
            .zip(&r.respondent_weights)
            .map(|(c, w)| {
                (
                    c.levels
                        .iter()
                        .enumerate()
                        .map(|(m, &l)| levels[m][l].clone())
                        .collect(),
                    *w,
                )
            })
            .collect(),
        metrics,
    })
}

fn verdict(dims: &[DimensionRates], w: Option<&Weighting>, opts: &NonResponseOptions) -> String {
    let differing: Vec<String> = dims
        .iter()
        .filter(|d| d.significant)
        .map(|d| {
            let lo = d
                .segments
                .iter()
                .min_by(|a, b| a.response_rate.total_cmp(&b.response_rate))
                .expect("a segment");
            let hi = d
                .segments
                .iter()
                .max_by(|a, b| a.response_rate.total_cmp(&b.response_rate))
                .expect("a segment");
            format!(
                "{} {} answers {:.1}% of invitations vs {:.1}% for {} (χ² {:.1}, q {})",
                d.dimension,
                lo.segment,
                lo.response_rate,
                hi.response_rate,
                hi.segment,
                d.chi2,
                fmt_p(d.q_value)
            )
        })
        .collect();
    if differing.is_empty() {
        return format!(
            "Respondents look like the invited population: no dimension's response rate differs \
             significantly (FDR {}).",
            opts.alpha
        );
    }
    let mut s = format!(
        "Respondents differ from the invited: {}.",
        differing.join("; ")
    );
    if let Some(w) = w {
        // The metrics whose correction is largest against their own noise, at most two.
        let mut ms: Vec<(&WeightedMetric, f64)> = w
            .metrics
            .iter()
            .map(|m| {
                let half = m.weighted_ci.map_or(f64::INFINITY, |(l, h)| (h - l) / 2.0);
                (m, m.bias.abs() / half.max(f64::MIN_POSITIVE))
            })
            .collect();
        ms.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (m, _) in ms.into_iter().take(2) {
            let ci = m
                .weighted_ci
                .map(|(l, h)| format!(", CI {l:.1} to {h:.1}"))
                .unwrap_or_default();
            s.push_str(&format!(
                " Weighted to the population ({} margins of {}), {} is {:.1}{ci} against \
                 {:.1} unweighted (bias {:+.1}; design effect {:.2}, effective n {:.0} of {}).",
                w.margins_from,
                w.raked_on.join(", "),
                m.metric.to_uppercase(),
                m.weighted,
                m.unweighted,
                m.bias,
                m.design_effect,
                m.n_effective,
                m.n
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_stats::Confidence;

    fn cell(age: &str, invited: u64, answered: u64) -> InvitationCell {
        InvitationCell {
            segment: vec![Some(age.into())],
            invited,
            answered,
        }
    }

    fn hist(counts: &[(f64, u64)]) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        for &(s, c) in counts {
            h.add(s, c);
        }
        h
    }

    #[test]
    fn an_under_responding_segment_is_found_and_weighted_back() {
        // Young: 1000 invited, 100 answered, NPS -20; old: 1000 invited, 400 answered, NPS +40.
        // Unweighted NPS = (100·-20 + 400·40)/500 = 28; population 50/50 → weighted 10.
        let catalog = MetricCatalog::builtin();
        let input = NonResponseInput {
            dims: vec!["age".into()],
            cells: vec![cell("young", 1000, 100), cell("old", 1000, 400)],
            population: None,
            margins_from_config: vec![],
            answers: vec![
                (
                    "nps".into(),
                    vec![Some("young".into())],
                    hist(&[(10.0, 20), (8.0, 40), (3.0, 40)]),
                ),
                (
                    "nps".into(),
                    vec![Some("old".into())],
                    hist(&[(10.0, 200), (8.0, 160), (3.0, 40)]),
                ),
            ],
            catalog: &catalog,
        };
        let opts = NonResponseOptions {
            estimate: EstimateOptions {
                confidence: Confidence::default(),
                ..Default::default()
            },
            alpha: 0.05,
            rake_on: None,
        };
        let r = nonresponse(&input, &opts);
        assert_eq!((r.invited, r.answered), (2000, 500));
        let d = &r.dimensions[0];
        assert!(d.significant);
        // χ² of [[100, 900], [400, 600]]: expected 250/750 per row →
        // 2·(150²/250 + 150²/750) = 240.
        assert!((d.chi2 - 240.0).abs() < 1e-9);
        let w = r.weighting.as_ref().unwrap();
        let nps = &w.metrics[0];
        assert!((nps.unweighted - 28.0).abs() < 1e-9);
        assert!((nps.weighted - 10.0).abs() < 1e-6);
        // Weights 2.5 (young) and 0.625 (old): Kish deff = n·Σw²/(Σw)² = 500·(100·6.25 +
        // 400·0.390625)/500² = 1.5625.
        assert!((w.design_effect - 1.5625).abs() < 1e-9);
        assert!((nps.design_effect - 1.5625).abs() < 1e-9);
        assert!(r.verdict.contains("age young answers 10.0%"));
    }
}
