//! The operations section of the report: what happened to customers, beside what they said —
//! ticket, queue, referral, journey and churn metrics per period, the change of the current
//! period against the previous one, recurring issues (ticket categories whose share of tickets
//! rises), the funnel of the current period, and retention curves.
//!
//! Statistical choices:
//! - **Changes** of rates and means are z-tests on the two periods' standard errors; ticket
//!   volume compares two Poisson counts (z = (a − b)/√(a + b)); medians of durations carry
//!   distribution-free intervals but no test of their change, and are shown as "not tested".
//!   Benjamini-Hochberg across all tested changes of the section.
//! - **Recurring issues**: a category's share of tickets over the latest `window` periods
//!   against the same number of periods before (two-proportion z-test, BH across categories).
//!   A share, not a count, so that a category growing with all ticket volume is not called
//!   recurring.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::operational::operational_metric;
use cxray_metrics::period::Period;
use cxray_stats::{Confidence, DifferenceInterval, Proportion, two_proportion_test};
use serde::Serialize;

use crate::metrics::MetricRow;
use crate::report::{
    Change, Direction, Highlight, HighlightKind, Trend, TrendPoint, adjust_family, fmt_pq,
    span_words,
};
use crate::retention::Retention;

/// One operational metric in the current and previous period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationalItem {
    pub metric: String,
    pub display_name: String,
    pub value_label: String,
    pub current: Option<MetricRow>,
    pub previous: Option<MetricRow>,
    /// Null when the change cannot be tested (medians, too few).
    pub vs_previous: Option<Change>,
}

/// A ticket category whose share of tickets rose or fell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryShift {
    pub category: String,
    /// Tickets of the category and all tickets, before and in the window.
    pub before: u64,
    pub before_total: u64,
    pub after: u64,
    pub after_total: u64,
    /// Share change in percentage points, tested.
    pub change: Change,
    pub text: String,
}

/// A funnel step where one segment converts worse than the rest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrictionPoint {
    pub dimension: String,
    pub segment: String,
    /// The step reached (from the step before it).
    pub step: String,
    pub from_step: String,
    /// Units at the step before, and of those reaching the step, in the segment and the rest.
    pub previous: u64,
    pub reached: u64,
    pub rest_previous: u64,
    pub rest_reached: u64,
    /// Segment minus rest, percentage points, tested.
    pub change: Change,
    pub text: String,
}

/// The operations section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationsSection {
    pub current_period: Option<String>,
    pub previous_period: Option<String>,
    pub items: Vec<OperationalItem>,
    pub trends: Vec<Trend>,
    /// Categories whose share of tickets changed significantly, rises first.
    pub recurring_issues: Vec<CategoryShift>,
    /// Window and comparison periods of the recurring issues, in words.
    pub issues_window: Option<String>,
    pub issues_before: Option<String>,
    /// The funnel of the current period, one row per step.
    pub funnel: Vec<MetricRow>,
    /// Funnel steps where a segment converts significantly worse than the rest, over the
    /// same window as recurring issues.
    pub friction_points: Vec<FrictionPoint>,
    pub retention: Option<Retention>,
}

/// What the section is built from.
#[derive(Debug, Clone, Default)]
pub struct OperationsInput {
    /// Every operational metric per period, without segments (funnel rows keyed by `step`).
    pub rows: Vec<MetricRow>,
    /// Ticket volume (`tickets` rows) per category and period.
    pub ticket_categories: Vec<MetricRow>,
    /// Step conversion rows per period by each dimension (segment keys: the dimension and
    /// `step`), for friction points.
    pub funnel_by: Vec<(String, Vec<MetricRow>)>,
    pub retention: Option<Retention>,
}

/// Settings of the section.
#[derive(Debug, Clone, Copy)]
pub struct OperationsOptions {
    pub period: Period,
    /// The report's current period (the latest period of the operational data otherwise).
    pub current: Option<NaiveDate>,
    pub alpha: f64,
    pub confidence: Confidence,
    /// Periods pooled for recurring issues.
    pub window: usize,
}

/// Metrics whose value is a median of durations: shown with intervals, not tested.
fn is_median(metric: &str) -> bool {
    matches!(metric, "frt" | "ttr" | "step_time")
}

fn test_change(cur: &MetricRow, prev: &MetricRow, confidence: Confidence) -> Option<Change> {
    let (a, b) = (cur.value?, prev.value?);
    if cur.metric == "tickets" {
        // Two Poisson counts: z = (a − b)/√(a + b), the normal form of the conditional
        // binomial test; not used below 20 tickets in all.
        if a + b < 20.0 {
            return None;
        }
        let se = (a + b).sqrt();
        let z = confidence.z();
        let d = a - b;
        return Some(Change {
            difference: d,
            ci_low: d - z * se,
            ci_high: d + z * se,
            p_value: cxray_stats::dist::normal_two_sided_p(d / se),
            q_value: None,
            significant: false,
            test: "poisson_counts_z".into(),
            verdict: String::new(),
        });
    }
    if is_median(&cur.metric) || cur.small_sample || prev.small_sample {
        return None;
    }
    let c = cxray_stats::z_test_from_se(a, cur.se?, b, prev.se?, confidence).ok()?;
    Some(Change::untested(&c, 1.0, c.method))
}

/// Builds the section.
pub fn build_operations(input: &OperationsInput, opts: &OperationsOptions) -> OperationsSection {
    let mut periods: Vec<NaiveDate> = input.rows.iter().filter_map(|r| r.period_start).collect();
    periods.sort();
    periods.dedup();
    let current = opts
        .current
        .filter(|c| periods.contains(c))
        .or(periods.last().copied());
    let previous = current.and_then(|c| periods.iter().rev().find(|p| **p < c).copied());
    let mut metrics: Vec<&str> = Vec::new();
    for r in &input.rows {
        if !metrics.contains(&r.metric.as_str()) {
            metrics.push(&r.metric);
        }
    }
    let order = |m: &str| {
        cxray_metrics::operational::OPERATIONAL_METRICS
            .iter()
            .position(|d| d.name == m)
            .unwrap_or(usize::MAX)
    };
    metrics.sort_by_key(|m| order(m));
    let per_step = |m: &str| matches!(m, "funnel" | "step_conversion" | "step_time");
    let row_at = |m: &str, p: Option<NaiveDate>| {
        p.and_then(|p| {
            input
                .rows
                .iter()
                .find(|r| r.metric == m && r.period_start == Some(p) && r.segment.is_empty())
                .cloned()
        })
    };
    let mut items = Vec::new();
    let mut trends = Vec::new();
    for m in metrics.iter().filter(|m| !per_step(m)) {
        let Some(def) = operational_metric(m) else {
            continue;
        };
        let cur = row_at(m, current);
        let prev = row_at(m, previous);
        let vs_previous = match (&cur, &prev) {
            (Some(c), Some(p)) => test_change(c, p, opts.confidence),
            _ => None,
        };
        items.push(OperationalItem {
            metric: m.to_string(),
            display_name: def.display_name.into(),
            value_label: def.value_label.into(),
            current: cur,
            previous: prev,
            vs_previous,
        });
        let mut rows: Vec<&MetricRow> = input
            .rows
            .iter()
            .filter(|r| r.metric == *m && r.segment.is_empty() && r.period_start.is_some())
            .filter(|r| current.is_none_or(|c| r.period_start <= Some(c)))
            .collect();
        rows.sort_by_key(|r| r.period_start);
        let mut points: Vec<TrendPoint> = Vec::new();
        for r in rows {
            let vs_previous = points
                .last()
                .and_then(|p| test_change(r, &p.row, opts.confidence));
            points.push(TrendPoint {
                row: r.clone(),
                control_low: None,
                control_high: None,
                signal: None,
                vs_previous,
            });
        }
        if points.len() >= 2 {
            trends.push(Trend {
                metric: m.to_string(),
                center: None,
                points,
            });
        }
    }
    {
        let mut fam: Vec<&mut Change> = items
            .iter_mut()
            .filter_map(|i| i.vs_previous.as_mut())
            .collect();
        adjust_family(&mut fam, opts.alpha);
        for i in &mut items {
            if let Some(c) = &mut i.vs_previous {
                c.verdict = verdict(c, &i.metric);
            }
        }
        let mut fam: Vec<&mut Change> = trends
            .iter_mut()
            .flat_map(|t| t.points.iter_mut().filter_map(|p| p.vs_previous.as_mut()))
            .collect();
        adjust_family(&mut fam, opts.alpha);
        for t in &mut trends {
            for p in &mut t.points {
                if let Some(c) = &mut p.vs_previous {
                    c.verdict = verdict(c, &t.metric);
                }
            }
        }
    }
    let funnel: Vec<MetricRow> = input
        .rows
        .iter()
        .filter(|r| r.metric == "funnel" && r.period_start == current)
        .cloned()
        .collect();
    let (recurring_issues, issues_window, issues_before) =
        recurring(&input.ticket_categories, current, opts);
    let friction_points = friction(&input.funnel_by, current, opts);
    OperationsSection {
        current_period: current.map(|c| opts.period.label(c)),
        previous_period: previous.map(|p| opts.period.label(p)),
        items,
        trends,
        recurring_issues,
        issues_window,
        issues_before,
        funnel,
        friction_points,
        retention: input.retention.clone(),
    }
}

/// Step conversions of each segment against the rest of its dimension over the latest
/// `window` periods (two-proportion z-test, BH across all segments, steps and dimensions);
/// the significantly worse ones, largest gap first.
fn friction(
    by: &[(String, Vec<MetricRow>)],
    current: Option<NaiveDate>,
    opts: &OperationsOptions,
) -> Vec<FrictionPoint> {
    let Some(current) = current else {
        return vec![];
    };
    let mut out = Vec::new();
    for (dim, rows) in by {
        let mut periods: Vec<NaiveDate> = rows
            .iter()
            .filter_map(|r| r.period_start)
            .filter(|p| *p <= current)
            .collect();
        periods.sort();
        periods.dedup();
        let window = &periods[periods.len().saturating_sub(opts.window.max(1))..];
        // (step index, step, segment) -> (previous, reached)
        let mut counts: BTreeMap<(u64, String, String), (u64, u64)> = BTreeMap::new();
        let mut names: BTreeMap<u64, String> = BTreeMap::new();
        for r in rows {
            if let (Some(k), Some(step)) = (
                r.detail.get("step_index").and_then(|v| v.as_u64()),
                r.segment.get("step").cloned().flatten(),
            ) {
                names.insert(k, step);
            }
        }
        for r in rows.iter().filter(|r| {
            r.metric == "step_conversion" && r.period_start.is_some_and(|p| window.contains(&p))
        }) {
            let (Some(k), Some(prev), Some(reached)) = (
                r.detail.get("step_index").and_then(|v| v.as_u64()),
                r.detail.get("previous").and_then(|v| v.as_u64()),
                r.detail.get("reached").and_then(|v| v.as_u64()),
            ) else {
                continue;
            };
            let step = r.segment.get("step").cloned().flatten().unwrap_or_default();
            let seg = r.segment.get(dim).cloned().flatten().unwrap_or_default();
            let e = counts.entry((k, step, seg)).or_default();
            e.0 += prev;
            e.1 += reached;
        }
        let mut totals: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for ((k, _, _), (p, r)) in &counts {
            let t = totals.entry(*k).or_default();
            t.0 += p;
            t.1 += r;
        }
        for ((k, step, seg), (p, r)) in &counts {
            let (tp, tr) = totals[k];
            let (rp, rr) = (tp - p, tr - r);
            let (Ok(a), Ok(b)) = (Proportion::new(*r, *p), Proportion::new(rr, rp)) else {
                continue;
            };
            let Ok(c) = two_proportion_test(a, b, opts.confidence, DifferenceInterval::Newcombe)
            else {
                continue;
            };
            out.push(FrictionPoint {
                dimension: dim.clone(),
                segment: seg.clone(),
                step: step.clone(),
                from_step: names.get(&(k - 1)).cloned().unwrap_or_default(),
                previous: *p,
                reached: *r,
                rest_previous: rp,
                rest_reached: rr,
                change: Change::untested(&c, 100.0, c.method),
                text: String::new(),
            });
        }
    }
    let mut fam: Vec<&mut Change> = out.iter_mut().map(|f| &mut f.change).collect();
    adjust_family(&mut fam, opts.alpha);
    out.retain(|f| f.change.significant && f.change.difference < 0.0);
    for f in &mut out {
        let pct = |k: u64, n: u64| 100.0 * k as f64 / n.max(1) as f64;
        f.text = format!(
            "From {} to {}, {:.0}% of units with {} {} go on, against {:.0}% of the rest \
             ({:+.1} points; p {}).",
            f.from_step,
            f.step,
            pct(f.reached, f.previous),
            f.dimension,
            f.segment,
            pct(f.rest_reached, f.rest_previous),
            f.change.difference,
            fmt_pq(&f.change)
        );
        f.change.verdict = f.text.clone();
    }
    out.sort_by(|x, y| x.change.difference.total_cmp(&y.change.difference));
    out
}

/// Findings of the section, each from a significant test: ticket categories whose share rose,
/// then changes of the current period against the previous one, by size of the change.
pub fn operations_highlights(s: &OperationsSection) -> Vec<Highlight> {
    let mut out = Vec::new();
    for c in s
        .recurring_issues
        .iter()
        .filter(|c| c.change.difference > 0.0)
    {
        out.push(Highlight {
            kind: HighlightKind::RecurringIssue,
            metric: "tickets".into(),
            dimension: Some("category".into()),
            segment: Some(c.category.clone()),
            direction: Direction::Up,
            text: c.text.clone(),
            change: c.change.clone(),
            n: c.after,
            section: "operations-issues".into(),
            importance: c.change.difference.abs() / 100.0,
        });
    }
    for f in &s.friction_points {
        out.push(Highlight {
            kind: HighlightKind::FrictionPoint,
            metric: "step_conversion".into(),
            dimension: Some(f.dimension.clone()),
            segment: Some(f.segment.clone()),
            direction: Direction::Down,
            text: f.text.clone(),
            change: f.change.clone(),
            n: f.previous,
            section: "operations-friction".into(),
            importance: f.change.difference.abs() / 100.0,
        });
    }
    let mut changes: Vec<Highlight> = Vec::new();
    for i in &s.items {
        let (Some(c), Some(cur), Some(prev)) = (&i.vs_previous, &i.current, &i.previous) else {
            continue;
        };
        if !c.significant {
            continue;
        }
        let (Some(a), Some(b)) = (prev.value, cur.value) else {
            continue;
        };
        let fmt = |x: f64| {
            if i.value_label.starts_with('%') {
                format!("{x:.1}%")
            } else {
                crate::report::fmt_abs(x)
            }
        };
        changes.push(Highlight {
            kind: HighlightKind::OperationalChange,
            metric: i.metric.clone(),
            dimension: None,
            segment: None,
            direction: Direction::of(c.difference),
            text: format!(
                "{} {} from {} in {} to {} in {}; significant (p {}).",
                i.display_name,
                if c.difference > 0.0 { "rose" } else { "fell" },
                fmt(a),
                prev.period.as_deref().unwrap_or("the previous period"),
                fmt(b),
                cur.period.as_deref().unwrap_or("the current period"),
                fmt_pq(c)
            ),
            change: c.clone(),
            n: cur.n + prev.n,
            section: "operations".into(),
            importance: if b.abs() > 0.0 {
                (a - b).abs() / a.abs().max(b.abs())
            } else {
                0.0
            },
        });
    }
    changes.sort_by(|x, y| y.importance.total_cmp(&x.importance));
    out.extend(changes);
    out
}

fn unit_of(metric: &str) -> &'static str {
    match metric {
        "tickets" => "tickets",
        "aht" | "asa" | "frt" | "ttr" | "step_time" => "seconds",
        "kfactor" => "referred per customer",
        _ => "percentage points",
    }
}

fn verdict(c: &Change, metric: &str) -> String {
    let dir = if c.difference > 0.0 {
        "up"
    } else if c.difference < 0.0 {
        "down"
    } else {
        "unchanged,"
    };
    let size = crate::report::fmt_abs(c.difference);
    if c.significant {
        format!(
            "{dir} {size} {}: significant (p {})",
            unit_of(metric),
            fmt_pq(c)
        )
    } else {
        format!(
            "{dir} {size} {}: not significant, could be noise (p {}, q {})",
            unit_of(metric),
            crate::report::with_op(c.p_value),
            crate::report::with_op(c.q_value.unwrap_or(c.p_value))
        )
    }
}

/// Categories whose share of tickets changed between the window and the periods before it.
fn recurring(
    rows: &[MetricRow],
    current: Option<NaiveDate>,
    opts: &OperationsOptions,
) -> (Vec<CategoryShift>, Option<String>, Option<String>) {
    let Some(current) = current else {
        return (vec![], None, None);
    };
    let mut periods: Vec<NaiveDate> = rows
        .iter()
        .filter_map(|r| r.period_start)
        .filter(|p| *p <= current)
        .collect();
    periods.sort();
    periods.dedup();
    let w = opts.window.max(1);
    if periods.len() < 2 * w {
        return (vec![], None, None);
    }
    let window = &periods[periods.len() - w..];
    let before = &periods[periods.len() - 2 * w..periods.len() - w];
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut total_before, mut total_after) = (0u64, 0u64);
    for r in rows.iter().filter(|r| r.metric == "tickets") {
        let Some(p) = r.period_start else { continue };
        let cat = r
            .segment
            .values()
            .next()
            .cloned()
            .flatten()
            .unwrap_or_else(|| "(no category)".into());
        let e = counts.entry(cat).or_default();
        if before.contains(&p) {
            e.0 += r.n;
            total_before += r.n;
        } else if window.contains(&p) {
            e.1 += r.n;
            total_after += r.n;
        }
    }
    let window_words = span_words(opts.period, window);
    let before_words = span_words(opts.period, before);
    let mut out: Vec<CategoryShift> = Vec::new();
    for (cat, (b, a)) in counts {
        let (Ok(pa), Ok(pb)) = (
            Proportion::new(a, total_after),
            Proportion::new(b, total_before),
        ) else {
            continue;
        };
        let Ok(c) = two_proportion_test(pa, pb, opts.confidence, DifferenceInterval::Newcombe)
        else {
            continue;
        };
        out.push(CategoryShift {
            category: cat,
            before: b,
            before_total: total_before,
            after: a,
            after_total: total_after,
            change: Change::untested(&c, 100.0, c.method),
            text: String::new(),
        });
    }
    let mut fam: Vec<&mut Change> = out.iter_mut().map(|c| &mut c.change).collect();
    adjust_family(&mut fam, opts.alpha);
    out.retain(|c| c.change.significant);
    for c in &mut out {
        let share = |k: u64, n: u64| 100.0 * k as f64 / n.max(1) as f64;
        c.text = format!(
            "Tickets about {} {} from {} ({:.0}% of tickets) in {} to {} ({:.0}%) in {}; the \
             share changed {:+.1} points (p {}).",
            c.category,
            if c.change.difference > 0.0 {
                "rose"
            } else {
                "fell"
            },
            c.before,
            share(c.before, c.before_total),
            before_words,
            c.after,
            share(c.after, c.after_total),
            window_words,
            c.change.difference,
            fmt_pq(&c.change)
        );
        c.change.verdict = c.text.clone();
    }
    out.sort_by(|x, y| y.change.difference.total_cmp(&x.change.difference));
    (out, Some(window_words), Some(before_words))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn row(metric: &str, month: u32, seg: Option<&str>, value: f64, se: Option<f64>) -> MetricRow {
        MetricRow {
            metric: metric.into(),
            period: Some(format!("2025-{month:02}")),
            period_start: NaiveDate::from_ymd_opt(2025, month, 1),
            segment: seg
                .map(|s| [("category".to_string(), Some(s.to_string()))].into())
                .unwrap_or_default(),
            n: value as u64,
            n_effective: value,
            value: Some(value),
            se,
            ci_low: None,
            ci_high: None,
            interval_method: None,
            small_sample: false,
            note: None,
            detail: Map::new(),
        }
    }

    fn opts() -> OperationsOptions {
        OperationsOptions {
            period: Period::Month,
            current: NaiveDate::from_ymd_opt(2025, 6, 1),
            alpha: 0.05,
            confidence: Confidence::default(),
            window: 3,
        }
    }

    /// Delivery tickets go from 100 of 500 a month to 300 of 700 (the other categories stay
    /// at 400): a recurring issue; billing's count is unchanged but its share falls — it is
    /// reported as falling, not rising; FCR moves 80 → 70 with SE 1.5 each: significant.
    #[test]
    fn rising_categories_and_tested_changes() {
        let mut cats = Vec::new();
        for m in 1..=6 {
            let delivery = if m <= 3 { 100.0 } else { 300.0 };
            cats.push(row("tickets", m, Some("delivery"), delivery, None));
            cats.push(row("tickets", m, Some("billing"), 400.0, None));
        }
        let rows = vec![
            row("fcr", 5, None, 80.0, Some(1.5)),
            row("fcr", 6, None, 70.0, Some(1.5)),
            row("frt", 5, None, 3600.0, None),
            row("frt", 6, None, 7200.0, None),
        ];
        let s = build_operations(
            &OperationsInput {
                rows,
                ticket_categories: cats,
                funnel_by: vec![],
                retention: None,
            },
            &opts(),
        );
        assert_eq!(s.current_period.as_deref(), Some("2025-06"));
        let fcr = s.items.iter().find(|i| i.metric == "fcr").unwrap();
        let c = fcr.vs_previous.as_ref().unwrap();
        assert!(
            (c.difference + 10.0).abs() < 1e-12 && c.significant,
            "{c:?}"
        );
        assert!(c.verdict.starts_with("down 10"), "{}", c.verdict);
        let frt = s.items.iter().find(|i| i.metric == "frt").unwrap();
        assert!(frt.vs_previous.is_none(), "medians are not tested");
        assert_eq!(s.recurring_issues[0].category, "delivery");
        assert!(s.recurring_issues[0].change.difference > 0.0);
        assert!(
            s.recurring_issues[0]
                .text
                .contains("rose from 300 (20% of tickets)"),
            "{}",
            s.recurring_issues[0].text
        );
        assert_eq!(s.recurring_issues[1].category, "billing");
        assert!(s.recurring_issues[1].text.contains("fell"));
        assert_eq!(s.trends.len(), 2);
    }

    fn step_row(month: u32, device: &str, k: u64, previous: u64, reached: u64) -> MetricRow {
        let mut r = row("step_conversion", month, None, 0.0, None);
        r.segment = [
            ("device".to_string(), Some(device.to_string())),
            (
                "step".to_string(),
                Some(["visit", "cart", "checkout"][k as usize - 1].into()),
            ),
        ]
        .into();
        r.detail.insert("step_index".into(), k.into());
        r.detail.insert("previous".into(), previous.into());
        r.detail.insert("reached".into(), reached.into());
        r
    }

    /// Android loses units from cart to checkout (50% go on vs 70% on iOS); the other step is
    /// the same on both: one friction point, for android at checkout.
    #[test]
    fn friction_points_are_steps_where_a_segment_converts_worse() {
        let mut rows = Vec::new();
        for m in 4..=6 {
            rows.push(step_row(m, "ios", 2, 400, 200));
            rows.push(step_row(m, "android", 2, 400, 200));
            rows.push(step_row(m, "ios", 3, 200, 140));
            rows.push(step_row(m, "android", 3, 200, 100));
        }
        let s = build_operations(
            &OperationsInput {
                rows: vec![row("fcr", 6, None, 70.0, Some(1.5))],
                ticket_categories: vec![],
                funnel_by: vec![("device".into(), rows)],
                retention: None,
            },
            &opts(),
        );
        assert_eq!(s.friction_points.len(), 1, "{:?}", s.friction_points);
        let f = &s.friction_points[0];
        assert_eq!(
            (f.segment.as_str(), f.step.as_str(), f.from_step.as_str()),
            ("android", "checkout", "cart")
        );
        assert!((f.change.difference + 20.0).abs() < 1e-9);
        assert!(
            f.text
                .contains("50% of units with device android go on, against 70%"),
            "{}",
            f.text
        );
        let h = operations_highlights(&s);
        assert_eq!(h[0].kind, HighlightKind::FrictionPoint);
    }

    /// Every category grows by half: no category is recurring.
    #[test]
    fn growth_of_all_tickets_is_not_a_recurring_issue() {
        let mut cats = Vec::new();
        for m in 1..=6 {
            let k = if m <= 3 { 1.0 } else { 1.5 };
            cats.push(row("tickets", m, Some("delivery"), 200.0 * k, None));
            cats.push(row("tickets", m, Some("billing"), 400.0 * k, None));
        }
        let s = build_operations(
            &OperationsInput {
                rows: vec![row("fcr", 6, None, 70.0, Some(1.5))],
                ticket_categories: cats,
                funnel_by: vec![],
                retention: None,
            },
            &opts(),
        );
        assert!(s.recurring_issues.is_empty(), "{:?}", s.recurring_issues);
    }
}
