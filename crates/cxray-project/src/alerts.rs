//! Alerts: the `[[alerts]]` rules of `cxray.toml` evaluated on the latest complete period, and
//! the unhappy customers of that period to follow up with (see `cxray_insights::alerts`).

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use chrono::NaiveDate;
use cxray_engine::HistogramQuery;
use cxray_ingest::Loaded;
use cxray_insights::alerts::{AlertResult, AlertStatus, FollowUp, Rule, evaluate};
use cxray_metrics::EstimateOptions;
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::AnswerColumns;
use crate::error::{Error, Result};
use crate::explain::{PeriodLabel, check_alpha, latest_two, period_sizes};
use crate::project::Project;

/// What `alerts` evaluates.
#[derive(Debug, Clone)]
pub struct AlertsRequest {
    /// Evaluate this period instead of the latest complete one.
    pub at: Option<PeriodLabel>,
    /// How many unhappy answers to list for follow-up.
    pub follow_up: usize,
    pub confidence: Confidence,
    /// False discovery rate of the drop tests (Benjamini-Hochberg per rule).
    pub alpha: f64,
}

impl Default for AlertsRequest {
    fn default() -> Self {
        AlertsRequest {
            at: None,
            follow_up: 20,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            alpha: 0.05,
        }
    }
}

/// Every rule's result and the answers to follow up.
#[derive(Debug, Clone, Serialize)]
pub struct AlertsOutput {
    /// How many rules fired.
    pub fired: usize,
    pub results: Vec<AlertResult>,
    pub follow_up: Vec<FollowUp>,
}

/// The unhappy answers between `from` and `until` (inclusive), newest first, at most `k`.
fn follow_ups(
    project: &Project,
    loaded: &Loaded,
    metrics: &[String],
    from: NaiveDate,
    until: NaiveDate,
    k: usize,
) -> Vec<FollowUp> {
    let mut out = Vec::new();
    for b in &loaded.batches {
        let c = AnswerColumns::of(b);
        let comments = b
            .column_by_name("comment")
            .expect("comment")
            .as_string::<i32>();
        let at = b
            .column_by_name("submitted_at")
            .and_then(|x| arrow::compute::cast(x, &arrow::datatypes::DataType::Utf8).ok());
        let touchpoint = b
            .column_by_name("touchpoint")
            .and_then(|x| arrow::compute::cast(x, &arrow::datatypes::DataType::Utf8).ok());
        let text = |a: &Option<arrow::array::ArrayRef>, r: usize| {
            a.as_ref().and_then(|a| {
                let s = a.as_string::<i32>();
                (!s.is_null(r)).then(|| s.value(r).to_string())
            })
        };
        for r in 0..b.num_rows() {
            let m = c.metric.value(r);
            if !metrics.iter().any(|x| x == m) {
                continue;
            }
            let day = c.day(r);
            if day < from || day > until {
                continue;
            }
            let Ok(spec) = project.catalog().get(m) else {
                continue;
            };
            let score = c.score.value(r);
            if !spec.is_unhappy(score) {
                continue;
            }
            out.push(FollowUp {
                customer_id: (!c.customer_id.is_null(r))
                    .then(|| c.customer_id.value(r).to_string()),
                response_id: c.response_id.value(r).to_string(),
                submitted: text(&at, r).unwrap_or_else(|| day.to_string()),
                metric: m.to_string(),
                score,
                comment: (!comments.is_null(r) && !comments.value(r).trim().is_empty())
                    .then(|| comments.value(r).to_string()),
                touchpoint: text(&touchpoint, r),
            });
        }
    }
    out.sort_by(|a, b| {
        b.submitted
            .cmp(&a.submitted)
            .then(a.score.total_cmp(&b.score))
    });
    out.truncate(k);
    out
}

impl Project {
    /// Evaluates every `[[alerts]]` rule and lists the unhappy answers of the evaluated
    /// periods, newest first.
    pub fn alerts(&self, req: &AlertsRequest) -> Result<AlertsOutput> {
        check_alpha(req.alpha)?;
        let rules = &self.config().alerts;
        if rules.is_empty() {
            return Err(Error::usage(
                "no alert rules: add [[alerts]] tables to cxray.toml (metric, and below / above \
                 / significantly_below / significant_drop; see docs/config.md#alerts)",
            ));
        }
        let responses = self.responses()?;
        let engine = crate::engine::with_responses(self, &responses.loaded)?;
        let opts = EstimateOptions {
            confidence: req.confidence,
            ..Default::default()
        };
        let min_n = self.config().project.min_n;
        let mut results = Vec::new();
        let mut cache: HashMap<_, Vec<GroupHistogram>> = HashMap::new();
        let mut window: Option<(NaiveDate, NaiveDate)> = None;
        let mut metrics = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let spec = self.catalog().get(&rule.metric).map_err(Error::bad_input)?;
            let p = match &rule.period {
                Some(s) => Period::parse(s).ok_or_else(|| {
                    Error::bad_input(format!(
                        "alert {}: period must be day, week, month, quarter or year, got {s:?}",
                        i + 1
                    ))
                })?,
                None => Period::Month,
            };
            if rule.below.is_none()
                && rule.above.is_none()
                && rule.significantly_below.is_none()
                && !rule.significant_drop
            {
                return Err(Error::bad_input(format!(
                    "alert {} ({}) has no condition: give below, above, significantly_below or \
                     significant_drop = true",
                    i + 1,
                    rule.metric
                )));
            }
            // Rules on the same metric, column and period share one query.
            let key = (spec.name.clone(), rule.by.clone(), p);
            if !cache.contains_key(&key) {
                let g = crate::engine::run(
                    self,
                    "computing the alerts",
                    engine.score_histograms(&HistogramQuery {
                        metrics: vec![spec.name.clone()],
                        by: rule.by.iter().cloned().collect(),
                        period: Some(p),
                        since: None,
                        until: None,
                    }),
                )
                // The rule's column comes from cxray.toml, not from the request.
                .map_err(|e| Error::new(e.kind(), format!("alert {}: {e}", i + 1)))?;
                cache.insert(key.clone(), g);
            }
            let groups = &cache[&key];
            let sizes = period_sizes(groups, &spec.name);
            let (current, previous) = match req.at {
                Some(at) => {
                    if at.period != p {
                        return Err(Error::usage(format!(
                            "{} is not a {} label like {} (alert {} is evaluated by {})",
                            at.label(),
                            p.unit(),
                            p.label(NaiveDate::from_ymd_opt(2025, 3, 1).expect("a date")),
                            i + 1,
                            p.unit()
                        ))
                        .about("at"));
                    }
                    let d = at.start;
                    (d, sizes.iter().rev().map(|s| s.0).find(|s| *s < d))
                }
                None => match latest_two(&sizes) {
                    Some((prev, cur)) => (cur, Some(prev)),
                    None => match sizes.last() {
                        Some(s) => (s.0, None),
                        None => continue,
                    },
                },
            };
            let end = p.next(current) - chrono::Duration::days(1);
            window = Some(match window {
                Some((f, u)) => (f.min(current), u.max(end)),
                None => (current, end),
            });
            if !metrics.contains(&spec.name) {
                metrics.push(spec.name.clone());
            }
            let r = Rule {
                name: rule.name.clone().unwrap_or_else(|| {
                    let mut n = spec.name.clone();
                    if let Some(b) = &rule.by {
                        n.push_str(&format!(" by {b}"));
                    }
                    if let Some(s) = &rule.segment {
                        n.push_str(&format!(" = {s}"));
                    }
                    n
                }),
                by: rule.by.clone(),
                segment: rule.segment.clone(),
                below: rule.below,
                above: rule.above,
                significantly_below: rule.significantly_below,
                significant_drop: rule.significant_drop,
                min_drop: rule.min_drop,
                min_n: rule.min_n.unwrap_or(min_n),
                alpha: req.alpha,
            };
            results.extend(evaluate(
                &r,
                spec,
                groups,
                &|d| p.label(d),
                current,
                previous,
                &opts,
            ));
        }
        let follow_up = window
            .map(|(f, u)| follow_ups(self, &responses.loaded, &metrics, f, u, req.follow_up))
            .unwrap_or_default();
        let fired = results
            .iter()
            .filter(|r| r.status == AlertStatus::Fired)
            .count();
        Ok(AlertsOutput {
            fired,
            results,
            follow_up,
        })
    }
}
