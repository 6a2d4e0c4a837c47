//! `cxray alerts`: evaluates the `[[alerts]]` rules of `cxray.toml` on the latest complete
//! period (exit code 3 when any fires, for cron and CI) and lists the unhappy customers of that
//! period to follow up with (see `cxray_insights::alerts`).

use anyhow::anyhow;
use arrow::array::{Array, AsArray};
use chrono::NaiveDate;
use cxray_engine::HistogramQuery;
use cxray_insights::alerts::{AlertResult, FollowUp, Rule, evaluate};
use cxray_metrics::period::Period;
use cxray_metrics::{EstimateOptions, MetricKind, MetricSpec};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::AlertsArgs;
use crate::explain::{latest_two, period_sizes};
use crate::input::{self, AnswerColumns, Project};
use crate::metrics::runtime;

/// An answer worth a call back: an NPS detractor (0-6), or a score in the bottom quarter of
/// any other scale (CSAT 1-2 of 5, CES 1-2 of 7).
pub fn unhappy(spec: &MetricSpec, score: f64) -> bool {
    match spec.kind {
        MetricKind::Nps => score < 7.0,
        _ => score <= spec.min + 0.25 * (spec.max - spec.min),
    }
}

#[derive(serde::Serialize)]
struct AlertsOutput {
    fired: usize,
    results: Vec<AlertResult>,
    follow_up: Vec<FollowUp>,
}

/// The unhappy answers between `from` and `until` (inclusive), newest first, at most `k`.
fn follow_ups(
    project: &Project,
    metrics: &[String],
    from: NaiveDate,
    until: NaiveDate,
    k: usize,
) -> Vec<FollowUp> {
    let mut out = Vec::new();
    for b in &project.loaded.batches {
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
            let Ok(spec) = project.catalog.get(m) else {
                continue;
            };
            let score = c.score.value(r);
            if !unhappy(spec, score) {
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

/// Evaluates every rule; returns whether any fired.
pub fn run(a: AlertsArgs) -> Result<bool, Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    let project = input::load(&a.input, None)?;
    let cfg = &project.config;
    if cfg.alerts.is_empty() {
        return Err(Failure::input(anyhow!(
            "no alert rules: add [[alerts]] tables to cxray.toml (metric, and below / above / \
             significantly_below / significant_drop; see docs/config.md#alerts)"
        )));
    }
    let engine = crate::report::responses_engine(&project)?;
    let rt = runtime()?;
    let opts = EstimateOptions {
        confidence,
        ..Default::default()
    };
    let mut results = Vec::new();
    let mut cache: std::collections::HashMap<_, Vec<cxray_metrics::period::GroupHistogram>> =
        std::collections::HashMap::new();
    let mut window: Option<(NaiveDate, NaiveDate)> = None;
    let mut metrics = Vec::new();
    for (i, rule) in cfg.alerts.iter().enumerate() {
        let spec = project.catalog.get(&rule.metric).map_err(Failure::input)?;
        let p = match &rule.period {
            Some(s) => Period::parse(s).ok_or_else(|| {
                Failure::input(anyhow!(
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
            return Err(Failure::input(anyhow!(
                "alert {} ({}) has no condition: give below, above, significantly_below or \
                 significant_drop = true",
                i + 1,
                rule.metric
            )));
        }
        // Rules on the same metric, column and period share one query.
        let key = (spec.name.clone(), rule.by.clone(), p);
        if !cache.contains_key(&key) {
            let g = rt
                .block_on(engine.score_histograms(&HistogramQuery {
                    metrics: vec![spec.name.clone()],
                    by: rule.by.iter().cloned().collect(),
                    period: Some(p),
                    since: None,
                    until: None,
                }))
                .map_err(crate::report::engine_err)?;
            cache.insert(key.clone(), g);
        }
        let groups = &cache[&key];
        let sizes = period_sizes(groups, &spec.name);
        let (current, previous) = match &a.at {
            Some(at) => {
                let (ap, d) = Period::parse_label(at)
                    .filter(|x| x.0 == p)
                    .ok_or_else(|| {
                        Failure::input(anyhow!(
                            "--at {at} is not a {} label like {}",
                            p.unit(),
                            p.label(NaiveDate::from_ymd_opt(2025, 3, 1).expect("a date"))
                        ))
                    })?;
                let _ = ap;
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
            min_n: rule.min_n.unwrap_or(cfg.project.min_n),
            alpha: a.alpha,
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
        .map(|(f, u)| follow_ups(&project, &metrics, f, u, a.follow_up))
        .unwrap_or_default();
    let fired = results.iter().filter(|r| r.status == "fired").count();
    let out = AlertsOutput {
        fired,
        results,
        follow_up,
    };
    crate::output::emit_summary(&a.out, &out, |w| write_table(w, &out))?;
    Ok(fired > 0)
}

fn write_table(w: &mut Vec<u8>, o: &AlertsOutput) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(
        w,
        "{} alert{} fired",
        o.fired,
        if o.fired == 1 { "" } else { "s" }
    )?;
    for r in &o.results {
        let group = match (&r.dimension, &r.segment) {
            (Some(d), Some(s)) => format!("{d}={s}"),
            _ => "(all)".into(),
        };
        let value = r.value.map_or("—".to_string(), |v| {
            format!(
                "{v:.1} ({:.1} to {:.1})",
                r.ci_low.unwrap_or(v),
                r.ci_high.unwrap_or(v)
            )
        });
        let mark = match r.status.as_str() {
            "fired" => "FIRED",
            "ok" => "ok",
            _ => "n/a",
        };
        writeln!(
            w,
            "  {mark:<5} {:<24} {:<18} {} n={} {value}",
            crate::output::truncate(&r.rule, 24),
            crate::output::truncate(&group, 18),
            r.period,
            r.n
        )?;
        for why in &r.reasons {
            writeln!(w, "        {why}")?;
        }
    }
    if !o.follow_up.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "Follow up ({} newest unhappy answers):",
            o.follow_up.len()
        )?;
        for f in &o.follow_up {
            writeln!(
                w,
                "  {:<10} {} {} {} {}",
                f.customer_id.as_deref().unwrap_or("(no id)"),
                f.submitted,
                f.metric,
                f.score,
                f.comment
                    .as_deref()
                    .map(|c| format!("\"{}\"", crate::output::truncate(c, 60)))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}
