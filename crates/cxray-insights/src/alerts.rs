//! Alert rules over the latest complete period, for cron and CI (`cxray alerts` exits 3 when any
//! fires), and the detractors to follow up with.
//!
//! A rule names a metric, optionally a segment column (every segment is evaluated) or one
//! segment, and conditions: `below` / `above` a threshold (the estimate), `significantly_below`
//! (the whole interval below the threshold), and `significant_drop` (lower than the previous
//! period by the metric's own test, the segments of a rule adjusted together by
//! Benjamini-Hochberg, and by at least `min_drop`). Groups with fewer than `min_n` answers are
//! listed as not evaluated: an alert never fires on a handful of answers.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::period::GroupHistogram;
use cxray_metrics::{EstimateOptions, MetricSpec, ScoreHistogram};
use cxray_stats::{Adjustment, adjust_p_values};
use serde::Serialize;

use crate::report::fmt_p;

/// The conditions of a rule (mirrors the `[[alerts]]` table of `cxray.toml`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rule {
    pub name: String,
    pub by: Option<String>,
    pub segment: Option<String>,
    pub below: Option<f64>,
    pub above: Option<f64>,
    pub significantly_below: Option<f64>,
    pub significant_drop: bool,
    pub min_drop: f64,
    pub min_n: u64,
    /// False discovery rate of the drop tests.
    pub alpha: f64,
}

/// One evaluated group of a rule.
/// Whether a rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AlertStatus {
    #[serde(rename = "fired")]
    Fired,
    #[serde(rename = "ok")]
    Ok,
    /// Too few answers, or no value to compare.
    #[serde(rename = "not evaluated")]
    NotEvaluated,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertResult {
    pub rule: String,
    pub metric: String,
    pub period: String,
    pub dimension: Option<String>,
    pub segment: Option<String>,
    pub n: u64,
    pub value: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub previous_period: Option<String>,
    pub previous_value: Option<f64>,
    pub change: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub status: AlertStatus,
    /// The conditions met (or why the group was not evaluated).
    pub reasons: Vec<String>,
}

/// Evaluates one rule on the metric's histograms by period and (when the rule has `by`) the
/// segment column, for the period starting on `current` against `previous`.
pub fn evaluate(
    rule: &Rule,
    spec: &MetricSpec,
    groups: &[GroupHistogram],
    period_label: &dyn Fn(NaiveDate) -> String,
    current: NaiveDate,
    previous: Option<NaiveDate>,
    opts: &EstimateOptions,
) -> Vec<AlertResult> {
    let mut by_seg: BTreeMap<Option<String>, [ScoreHistogram; 2]> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.key.metric == spec.name) {
        let k = match g.key.period_start {
            Some(s) if s == current => 0,
            Some(s) if Some(s) == previous => 1,
            _ => continue,
        };
        let seg = g.key.segment.first().cloned().flatten();
        if rule.by.is_some() && seg.is_none() {
            continue; // answers without a value of the column
        }
        if let Some(want) = &rule.segment
            && seg.as_deref() != Some(want.as_str())
        {
            continue;
        }
        by_seg.entry(seg).or_default()[k].merge(&g.histogram);
    }
    let mut out: Vec<AlertResult> = Vec::new();
    for (seg, [cur, prev]) in by_seg {
        let mut r = AlertResult {
            rule: rule.name.clone(),
            metric: spec.name.clone(),
            period: period_label(current),
            dimension: rule.by.clone(),
            segment: seg,
            n: cur.n(),
            value: None,
            ci_low: None,
            ci_high: None,
            previous_period: previous.map(period_label),
            previous_value: None,
            change: None,
            p_value: None,
            q_value: None,
            status: AlertStatus::Ok,
            reasons: Vec::new(),
        };
        if cur.n() < rule.min_n.max(1) {
            r.status = AlertStatus::NotEvaluated;
            r.reasons
                .push(format!("{} answers, fewer than {}", cur.n(), rule.min_n));
            out.push(r);
            continue;
        }
        let Ok(e) = spec.estimate(&cur, opts) else {
            r.status = AlertStatus::NotEvaluated;
            out.push(r);
            continue;
        };
        r.value = Some(e.value);
        r.ci_low = e.ci_low;
        r.ci_high = e.ci_high;
        if prev.n() >= rule.min_n.max(2)
            && let (Ok(pe), Ok(c)) = (spec.estimate(&prev, opts), spec.compare(&cur, &prev, opts))
        {
            r.previous_value = Some(pe.value);
            r.change = Some(c.difference);
            r.p_value = Some(c.p_value);
        }
        out.push(r);
    }
    // Drops of the rule's segments form one family.
    let idx: Vec<usize> = (0..out.len())
        .filter(|&i| out[i].p_value.is_some())
        .collect();
    let p: Vec<f64> = idx.iter().map(|&i| out[i].p_value.unwrap_or(1.0)).collect();
    if let Ok(q) = adjust_p_values(&p, Adjustment::BenjaminiHochberg) {
        for (&i, q) in idx.iter().zip(q) {
            out[i].q_value = Some(q);
        }
    }
    let fmt = |x: f64| crate::report::fmt_value(spec, x);
    for r in out.iter_mut().filter(|r| r.status == AlertStatus::Ok) {
        let v = r.value.expect("evaluated");
        if let Some(t) = rule.below
            && v < t
        {
            r.reasons.push(format!("{} is below {}", fmt(v), fmt(t)));
        }
        if let Some(t) = rule.above
            && v > t
        {
            r.reasons.push(format!("{} is above {}", fmt(v), fmt(t)));
        }
        if let Some(t) = rule.significantly_below
            && r.ci_high.is_some_and(|h| h < t)
        {
            r.reasons.push(format!(
                "its whole interval ({} to {}) is below {}",
                fmt(r.ci_low.unwrap_or(v)),
                fmt(r.ci_high.unwrap_or(v)),
                fmt(t)
            ));
        }
        if rule.significant_drop
            && let (Some(c), Some(q)) = (r.change, r.q_value)
            && c < 0.0
            && -c >= rule.min_drop
            && q <= rule.alpha
        {
            r.reasons.push(format!(
                "it fell {:.1} from {} in {} (p {}, q {})",
                -c,
                fmt(r.previous_value.unwrap_or(f64::NAN)),
                r.previous_period.clone().unwrap_or_default(),
                fmt_p(r.p_value.unwrap_or(1.0)),
                fmt_p(q)
            ));
        }
        if !r.reasons.is_empty() {
            r.status = AlertStatus::Fired;
        }
    }
    out
}

/// A customer to close the loop with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUp {
    pub customer_id: Option<String>,
    pub response_id: String,
    pub submitted: String,
    pub metric: String,
    pub score: f64,
    pub comment: Option<String>,
    pub touchpoint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_metrics::period::{GroupKey, Period};
    use cxray_stats::Confidence;

    fn g(start: NaiveDate, seg: &str, counts: &[(f64, u64)]) -> GroupHistogram {
        let mut h = ScoreHistogram::default();
        for &(s, c) in counts {
            h.add(s, c);
        }
        GroupHistogram {
            key: GroupKey {
                metric: "nps".into(),
                period_start: Some(start),
                segment: vec![Some(seg.into())],
            },
            histogram: h,
        }
    }

    #[test]
    fn drops_thresholds_and_small_groups() {
        let (jan, feb) = (
            NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2025, 2, 1).unwrap(),
        );
        let groups = vec![
            // North: NPS +40 → -40 (200 answers each): a significant drop, and below 0.
            g(jan, "North", &[(10.0, 120), (8.0, 40), (3.0, 40)]),
            g(feb, "North", &[(10.0, 40), (8.0, 40), (3.0, 120)]),
            // South: +20 → +18 (noise), above 0.
            g(jan, "South", &[(10.0, 80), (8.0, 80), (3.0, 40)]),
            g(feb, "South", &[(10.0, 78), (8.0, 80), (3.0, 42)]),
            // East: 10 answers, not evaluated.
            g(feb, "East", &[(3.0, 10)]),
        ];
        let rule = Rule {
            name: "nps by region".into(),
            by: Some("region".into()),
            below: Some(0.0),
            significantly_below: Some(0.0),
            significant_drop: true,
            min_drop: 5.0,
            min_n: 30,
            alpha: 0.05,
            ..Default::default()
        };
        let opts = EstimateOptions {
            confidence: Confidence::default(),
            ..Default::default()
        };
        let spec = MetricSpec::nps();
        let r = evaluate(
            &rule,
            &spec,
            &groups,
            &|d| Period::Month.label(d),
            feb,
            Some(jan),
            &opts,
        );
        let get = |s: &str| r.iter().find(|x| x.segment.as_deref() == Some(s)).unwrap();
        assert_eq!(get("North").status, AlertStatus::Fired);
        assert_eq!(get("North").reasons.len(), 3, "{:?}", get("North").reasons);
        assert!((get("North").change.unwrap() + 80.0).abs() < 1e-9);
        assert_eq!(get("South").status, AlertStatus::Ok);
        assert_eq!(get("East").status, AlertStatus::NotEvaluated);
        assert_eq!(get("North").period, "2025-02");
    }
}
