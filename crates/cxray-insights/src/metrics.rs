//! The metrics table: one estimate per (metric, period, segment) group, in the stable JSON shape
//! documented in `docs/json.md`.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::operational::{Estimation, Grouped, OperationalStats};
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_metrics::{EstimateOptions, MetricCatalog, MetricKind, ScoreHistogram};
use serde::Serialize;
use serde_json::{Map, Value};

/// Prior weight (pseudo-ratings) of the Bayesian average of star ratings.
pub const RATING_PRIOR_WEIGHT: f64 = 10.0;

/// One row of the metrics table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub metric: String,
    /// Period label ("2025-03", "2025-W09", "2025-Q1"), or null when not grouped by period.
    pub period: Option<String>,
    /// First day of the period.
    pub period_start: Option<NaiveDate>,
    /// Values of the `--by` columns (null = missing in the data).
    pub segment: BTreeMap<String, Option<String>>,
    pub n: u64,
    /// Kish effective sample size (differs from n only when weighted).
    pub n_effective: f64,
    /// The estimate; null only when it cannot be computed (the note says why).
    pub value: Option<f64>,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub interval_method: Option<String>,
    /// Fewer answers than the project's minimum: shown, but flagged as too few.
    pub small_sample: bool,
    pub note: Option<String>,
    pub detail: Map<String, Value>,
}

/// Settings of a metrics table.
#[derive(Debug, Clone, Copy)]
pub struct TableOptions {
    pub estimate: EstimateOptions,
    pub period: Option<Period>,
    pub min_n: u64,
}

/// Estimates every group. `by` names the segment columns in key order; `order` lists metric names
/// in the order rows should appear (others follow alphabetically).
pub fn metric_rows(
    groups: &[GroupHistogram],
    by: &[String],
    catalog: &MetricCatalog,
    opts: &TableOptions,
    order: &[String],
) -> Vec<MetricRow> {
    // Prior of the Bayesian average: the metric's overall mean over all groups.
    let mut overall: BTreeMap<&str, ScoreHistogram> = BTreeMap::new();
    for g in groups {
        overall
            .entry(g.key.metric.as_str())
            .or_default()
            .merge(&g.histogram);
    }
    let mut rows: Vec<MetricRow> = groups
        .iter()
        .map(|g| {
            let spec = catalog.get(&g.key.metric);
            let mut eo = opts.estimate;
            if let Ok(s) = spec
                && s.kind == MetricKind::Rating
            {
                eo.rating_prior = overall[g.key.metric.as_str()]
                    .mean()
                    .map(|m| (m, RATING_PRIOR_WEIGHT));
            }
            let n = g.histogram.n();
            let segment = by
                .iter()
                .cloned()
                .zip(g.key.segment.iter().cloned())
                .collect();
            let base = MetricRow {
                metric: g.key.metric.clone(),
                period: match (opts.period, g.key.period_start) {
                    (Some(p), Some(d)) => Some(p.label(d)),
                    _ => None,
                },
                period_start: g.key.period_start,
                segment,
                n,
                n_effective: n as f64,
                value: None,
                se: None,
                ci_low: None,
                ci_high: None,
                interval_method: None,
                small_sample: n < opts.min_n,
                note: None,
                detail: Map::new(),
            };
            match spec
                .map_err(|e| e.to_string())
                .and_then(|s| s.estimate(&g.histogram, &eo).map_err(|e| e.to_string()))
            {
                Ok(e) => MetricRow {
                    n_effective: e.n_effective,
                    value: Some(e.value),
                    se: e.se,
                    ci_low: e.ci_low,
                    ci_high: e.ci_high,
                    interval_method: Some(e.interval_method.to_string()),
                    note: e.note,
                    detail: e.detail,
                    ..base
                },
                Err(reason) => MetricRow {
                    note: Some(reason),
                    ..base
                },
            }
        })
        .collect();
    let rank = |m: &str| order.iter().position(|o| o == m).unwrap_or(usize::MAX);
    rows.sort_by(|a, b| {
        (rank(&a.metric), &a.metric, a.period_start, &a.segment).cmp(&(
            rank(&b.metric),
            &b.metric,
            b.period_start,
            &b.segment,
        ))
    });
    rows
}

/// Rows of operational metrics (tickets, queue, referrals, journeys, churn), one per group and
/// metric, in the same shape as survey metrics. `n` is each metric's own base (resolved tickets
/// for FCR, offered contacts for abandonment); plain counts are never flagged as too few.
pub fn operational_rows<S: OperationalStats>(
    groups: &[Grouped<S>],
    by: &[String],
    metrics: &[String],
    settings: &S::Settings,
    opts: &TableOptions,
) -> Vec<MetricRow> {
    let how = Estimation {
        confidence: opts.estimate.confidence,
        proportion: opts
            .estimate
            .interval
            .for_proportion()
            .unwrap_or(cxray_stats::ProportionInterval::Wilson),
    };
    let mut rows = Vec::new();
    for m in metrics {
        for g in groups {
            let Some(v) = g.stats.metric(m, settings, &how) else {
                continue;
            };
            let mut row = MetricRow {
                metric: m.clone(),
                period: match (opts.period, g.key.period_start) {
                    (Some(p), Some(d)) => Some(p.label(d)),
                    _ => None,
                },
                period_start: g.key.period_start,
                segment: by
                    .iter()
                    .cloned()
                    .zip(g.key.segment.iter().cloned())
                    .collect(),
                n: v.n,
                n_effective: v.n as f64,
                value: None,
                se: None,
                ci_low: None,
                ci_high: None,
                interval_method: None,
                small_sample: v.sampled && v.n < opts.min_n,
                note: None,
                detail: v.detail,
            };
            match v.estimate {
                Ok(e) => {
                    row.value = Some(e.value);
                    row.se = e.se;
                    row.ci_low = e.interval.map(|i| i.low);
                    row.ci_high = e.interval.map(|i| i.high);
                    row.interval_method = Some(e.method.to_string());
                    row.note = e.note;
                }
                Err(e) => row.note = Some(e.to_string()),
            }
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_metrics::period::GroupKey;

    fn group(metric: &str, seg: &str, scores: &[(f64, u64)]) -> GroupHistogram {
        let mut h = ScoreHistogram::default();
        for &(s, c) in scores {
            h.add(s, c);
        }
        GroupHistogram {
            key: GroupKey {
                metric: metric.into(),
                period_start: None,
                segment: vec![Some(seg.into())],
            },
            histogram: h,
        }
    }

    #[test]
    fn rows_are_estimated_flagged_and_ordered() {
        let groups = vec![
            group("stars", "a", &[(5.0, 2)]),
            group("stars", "b", &[(4.0, 60), (3.0, 40)]),
            group("nps", "a", &[(10.0, 50), (7.0, 30), (3.0, 20)]),
        ];
        let opts = TableOptions {
            estimate: EstimateOptions::default(),
            period: None,
            min_n: 30,
        };
        let rows = metric_rows(
            &groups,
            &["region".into()],
            &MetricCatalog::builtin(),
            &opts,
            &["nps".into(), "stars".into()],
        );
        assert_eq!(rows[0].metric, "nps");
        assert!((rows[0].value.unwrap() - 30.0).abs() < 1e-12);
        assert_eq!(rows[0].segment["region"].as_deref(), Some("a"));
        assert!(!rows[0].small_sample);
        // Two 5-star ratings: flagged, and shrunk towards the overall mean (370/102) by the
        // Bayesian average: (10 * 370/102 + 10) / 12.
        assert!(rows[1].small_sample);
        let ba = rows[1].detail["bayesian_average"].as_f64().unwrap();
        assert!((ba - (10.0 * 370.0 / 102.0 + 10.0) / 12.0).abs() < 1e-12);
    }
}
