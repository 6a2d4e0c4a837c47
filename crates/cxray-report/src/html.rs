//! The self-contained HTML report: inline CSS and SVG, no JavaScript, readable on a phone
//! (fluid layout, charts scale with the viewport) and printable (charts avoid page breaks).

use std::fmt::Write;

use cxray_insights::MetricRow;
use cxray_insights::report::{Change, Direction, dimension_label};

use crate::svg::{
    distribution_chart, funnel_chart, retention_chart, segment_chart, theme_chart, trend_chart,
};
use crate::{ReportDocument, esc, num, value_of};

const CSS: &str = r#"
:root { --ink:#222; --muted:#666; --line:#e3e3e3; --bg:#fafafa; --up:#0072B2; --down:#D55E00; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:#fff; }
main { max-width: 980px; margin: 0 auto; padding: 20px 16px 60px; }
header h1 { font-size: 1.7em; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); }
nav { margin: 14px 0 6px; font-size: .92em; display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { color: var(--up); }
.chart-scroll { overflow-x: auto; }
svg.chart-svg { min-width: 560px; display: block; }
h2 { font-size: 1.25em; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--ink); }
h3 { font-size: 1.05em; margin: 22px 0 6px; }
h4 { font-size: 0.95em; margin: 14px 0 4px; color: #444; }
blockquote { margin: 4px 0 8px; padding: 6px 12px; border-left: 3px solid #ccc; background: #fafafa; font-style: italic; overflow-wrap: anywhere; }
.highlights { background: var(--bg); border-left: 4px solid var(--up); padding: 10px 16px 10px 34px; margin: 12px 0; }
.highlights li { margin: 6px 0; }
.highlights .down { color: var(--down); font-weight: 600; }
.highlights .up { color: var(--up); font-weight: 600; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; background: #fff; }
.tile .name { font-weight: 600; }
.tile .label { color: var(--muted); font-size: .85em; }
.tile .value { font-size: 2em; font-weight: 700; line-height: 1.2; }
.tile .ci { color: var(--muted); font-size: .9em; }
.verdict { font-size: .88em; margin-top: 6px; }
.sig-up { color: var(--up); font-weight: 600; }
.sig-down { color: var(--down); font-weight: 600; }
.ns { color: var(--muted); }
figure.chart { margin: 8px 0 18px; break-inside: avoid; page-break-inside: avoid; }
figure.chart figcaption { color: var(--muted); font-size: .88em; }
table { border-collapse: collapse; width: 100%; font-size: .9em; margin: 6px 0 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.table-wrap { overflow-x: auto; }
.few { color: var(--muted); font-style: italic; }
.warnings { background: #fff6f0; border-left: 4px solid var(--down); padding: 2px 16px 6px; margin: 14px 0; }
.warnings h2 { border: 0; margin: 8px 0 4px; font-size: 1.05em; }
.warnings li { overflow-wrap: anywhere; }
footer { margin-top: 40px; color: var(--muted); font-size: .85em; }
@media (max-width: 600px) { body { font-size: 14px; } .tile .value { font-size: 1.6em; } }
@media print { nav { display: none; } main { max-width: none; } h2 { break-after: avoid; } }
"#;

/// The interval, marked when it covers less than its level at this size.
fn ci(r: &MetricRow) -> String {
    let interval = match (r.ci_low, r.ci_high) {
        (Some(l), Some(h)) => format!("[{}, {}]", num(l), num(h)),
        _ => "—".into(),
    };
    format!("{interval}{}", undercover_mark(Some(r)))
}

/// ` ~`, the note on hover, after an interval that covers less than its level at this size;
/// nothing after others.
fn undercover_mark(r: Option<&MetricRow>) -> String {
    r.and_then(crate::undercovers)
        .map(|n| format!(r#" <abbr class="few" title="{}">~</abbr>"#, esc(n)))
        .unwrap_or_default()
}

fn verdict_html(c: &Option<Change>, label: &str) -> String {
    match c {
        None => format!(r#"<div class="verdict ns">{label}: no comparison</div>"#),
        Some(c) => {
            let class = if !c.significant {
                "ns"
            } else if c.difference > 0.0 {
                "sig-up"
            } else {
                "sig-down"
            };
            let arrow = if c.difference > 0.0 {
                "▲"
            } else if c.difference < 0.0 {
                "▼"
            } else {
                "■"
            };
            format!(
                r#"<div class="verdict {class}">{arrow} {label}: {}</div>"#,
                esc(&c.verdict)
            )
        }
    }
}

/// The stylesheet of the report's sections (inline in the report; served as a file by the
/// dashboard, whose pages allow no inline style).
pub const REPORT_CSS: &str = CSS;

/// Renders the whole document as one HTML page.
pub fn render_html(doc: &ReportDocument) -> String {
    let mut o = String::with_capacity(256 * 1024);
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{t}</title><style>{CSS}</style></head><body><main>"#,
        t = esc(&doc.title)
    );
    o.push_str(&render_html_sections(doc));
    o.push_str("</main></body></html>");
    o
}

/// The report's sections (header to footer) as an HTML fragment, for a page of its own or
/// the dashboard's overview: no script, no inline style, every text escaped.
pub fn render_html_sections(doc: &ReportDocument) -> String {
    let r = &doc.report;
    let mut o = String::with_capacity(256 * 1024);
    let last = doc
        .data_quality
        .sources
        .iter()
        .filter_map(|s| s.last_date.clone())
        .max();
    let _ = write!(
        o,
        r#"<header><h1>{}</h1><p>Data through {} · current period {} · {:.0}% confidence intervals · significance after Benjamini-Hochberg correction (q ≤ {})</p></header>"#,
        esc(&doc.title),
        esc(last.as_deref().unwrap_or("—")),
        esc(r.current_period.as_deref().unwrap_or("—")),
        r.confidence * 100.0,
        r.alpha
    );
    if let Some(p) = &r.partial_period {
        let _ = write!(
            o,
            "<p class=\"ns\">{} is left out: it has less than half the usual answers (in progress).</p>",
            esc(p)
        );
    }
    if !doc.warnings.is_empty() {
        o.push_str(r#"<section id="warnings" class="warnings"><h2>Not in this report</h2><ul>"#);
        for w in &doc.warnings {
            let _ = write!(
                o,
                "<li><strong>{}</strong>: {}</li>",
                esc(&w.section),
                esc(&w.message)
            );
        }
        o.push_str("</ul></section>");
    }
    o.push_str(r##"<nav><a href="#highlights">Highlights</a><a href="#scorecard">Scorecard</a><a href="#trends">Trends</a><a href="#segments">Segments</a><a href="#themes">Themes</a><a href="#insights">Why</a><a href="#operations">Operations</a><a href="#distributions">Distributions</a><a href="#data-quality">Data quality</a></nav>"##);

    o.push_str(r#"<section id="highlights"><h2>Highlights</h2>"#);
    if r.highlights.is_empty() {
        o.push_str("<p>No change or difference is statistically significant after correction for multiple comparisons.</p>");
    } else {
        o.push_str(r#"<ol class="highlights">"#);
        for h in &r.highlights {
            let _ = write!(
                o,
                r##"<li><span class="{}">{}</span> {} <a href="#{}">evidence</a></li>"##,
                if h.direction == Direction::Down {
                    "down"
                } else {
                    "up"
                },
                if h.direction == Direction::Down {
                    "▼"
                } else {
                    "▲"
                },
                esc(&h.text),
                esc(&h.section)
            );
        }
        o.push_str("</ol>");
    }
    o.push_str("</section>");

    o.push_str(r#"<section id="scorecard"><h2>Scorecard</h2><div class="tiles">"#);
    for s in &r.scorecard {
        let cur = s.current.as_ref();
        let _ = write!(
            o,
            r#"<div class="tile"><div class="name">{}</div><div class="label">{} · {}</div><div class="value">{}</div><div class="ci">{} · n = {}</div>{}{}</div>"#,
            esc(&s.display_name),
            esc(&s.value_label),
            esc(cur
                .and_then(|c| c.period.as_deref())
                .unwrap_or("all periods")),
            cur.and_then(|c| c.value)
                .map(num)
                .unwrap_or_else(|| "—".into()),
            cur.map(ci).unwrap_or_else(|| "—".into()),
            cur.map(|c| c.n).unwrap_or(0),
            verdict_html(
                &s.vs_previous,
                &format!("vs {}", r.previous_period.as_deref().unwrap_or("previous"))
            ),
            if r.year_ago_period.is_some() {
                verdict_html(
                    &s.vs_year_ago,
                    &format!("vs {}", r.year_ago_period.as_deref().unwrap_or("")),
                )
            } else {
                String::new()
            }
        );
    }
    o.push_str("</div></section>");

    o.push_str(r#"<section id="trends"><h2>Trends</h2>"#);
    for t in &r.trends {
        let s = r.scorecard.iter().find(|s| s.metric == t.metric);
        let (name, unit) = s
            .map(|s| (s.display_name.as_str(), s.value_label.as_str()))
            .unwrap_or((t.metric.as_str(), ""));
        let signals = t.points.iter().filter(|p| p.signal.is_some()).count();
        let _ = write!(
            o,
            r#"<figure class="chart" id="trend-{}"><h3>{}</h3><div class="chart-scroll">{}</div><figcaption>{} per {} with its {:.0}% interval (band) and control limits centre ± 3σ for the number of answers in each period (dashed){}.</figcaption></figure>"#,
            esc(&t.metric),
            esc(name),
            trend_chart(t, name, unit, r.confidence),
            esc(name),
            r.period.unit(),
            r.confidence * 100.0,
            if signals > 0 {
                format!("; {signals} period(s) outside the limits in vermillion")
            } else {
                String::new()
            }
        );
    }
    o.push_str("</section>");

    o.push_str(r#"<section id="segments"><h2>Segments</h2>"#);
    let _ = write!(
        o,
        "<p>Each segment against the rest of the answers over {}. Groups with fewer than {} answers are shown hollow and not tested.</p>",
        esc(r
            .segments
            .first()
            .map(|s| s.window.as_str())
            .unwrap_or("the latest periods")),
        r.min_n
    );
    for s in &r.segments {
        let card = r.scorecard.iter().find(|c| c.metric == s.metric);
        let name = card
            .map(|c| c.display_name.as_str())
            .unwrap_or(s.metric.as_str());
        let unit = card.map(|c| c.value_label.as_str()).unwrap_or("");
        let _ = write!(
            o,
            r#"<figure class="chart" id="segments-{}-{}"><h3>{} by {}</h3><div class="chart-scroll">{}</div><figcaption>Dots: value; lines: {:.0}% interval; dashed: all answers.</figcaption>"#,
            esc(&s.metric),
            esc(&s.dimension),
            esc(name),
            esc(dimension_label(&s.dimension)),
            segment_chart(s, unit),
            r.confidence * 100.0
        );
        let _ = write!(
            o,
            r#"<div class="table-wrap"><table><thead><tr><th>{}</th><th class="num">n</th><th class="num">value</th><th>interval</th><th class="num">gap</th><th>vs rest</th></tr></thead><tbody>"#,
            esc(dimension_label(&s.dimension))
        );
        for row in &s.rows {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td>{}</td></tr>"#,
                esc(&row
                    .row
                    .segment
                    .get(&s.dimension)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "(missing)".into())),
                row.row.n,
                row.row.value.map(num).unwrap_or_else(|| "—".into()),
                ci(&row.row),
                row.gap_to_overall
                    .map(|g| format!("{g:+.1}"))
                    .unwrap_or_default(),
                if row.too_few {
                    r#"<span class="few">too few answers</span>"#.to_string()
                } else {
                    row.vs_rest
                        .as_ref()
                        .map(|c| esc(&c.verdict))
                        .unwrap_or_default()
                }
            );
        }
        o.push_str("</tbody></table></div></figure>");
    }
    o.push_str("</section>");

    if let Some(t) = &r.themes {
        themes_html(&mut o, t);
    }
    if let Some(i) = &r.insights {
        crate::insights::html(&mut o, i);
    }
    if let Some(ops) = &r.operations {
        operations_html(&mut o, ops, r.confidence, r.period.unit());
    }

    o.push_str(r#"<section id="distributions"><h2>Distributions</h2>"#);
    for d in &r.distributions {
        let name = r
            .scorecard
            .iter()
            .find(|c| c.metric == d.metric)
            .map(|c| c.display_name.as_str())
            .unwrap_or(d.metric.as_str());
        let _ = write!(
            o,
            r#"<figure class="chart" id="distribution-{}"><h3>{}</h3><div class="chart-scroll">{}</div><figcaption>Answers per score over {}.</figcaption></figure>"#,
            esc(&d.metric),
            esc(name),
            distribution_chart(d, name),
            esc(&d.window)
        );
    }
    o.push_str("</section>");

    let dq = &doc.data_quality;
    o.push_str(r#"<section id="data-quality"><h2>Data quality</h2><div class="table-wrap"><table><thead><tr><th>source</th><th class="num">read</th><th class="num">accepted</th><th class="num">rejected</th><th class="num">duplicates</th><th>from</th><th>to</th></tr></thead><tbody>"#);
    for s in &dq.sources {
        let _ = write!(
            o,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&s.file),
            s.rows_read,
            s.rows_accepted,
            s.rows_rejected,
            s.duplicates,
            esc(s.first_date.as_deref().unwrap_or("—")),
            esc(s.last_date.as_deref().unwrap_or("—"))
        );
    }
    o.push_str("</tbody></table></div>");
    if !dq.reject_reasons.is_empty() {
        o.push_str("<h3>Why rows were rejected</h3><ul>");
        for (reason, n) in &dq.reject_reasons {
            let _ = write!(o, "<li>{n} × {}</li>", esc(reason));
        }
        o.push_str("</ul>");
    }
    if !dq.missing_segments.is_empty() {
        o.push_str(r#"<h3>Missing segment values</h3><div class="table-wrap"><table><thead><tr><th>dimension</th><th class="num">answers without a value</th><th class="num">share</th></tr></thead><tbody>"#);
        for m in &dq.missing_segments {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{:.1}%</td></tr>"#,
                esc(&m.dimension),
                m.missing,
                100.0 * m.missing as f64 / m.total.max(1) as f64
            );
        }
        o.push_str("</tbody></table></div>");
    }
    o.push_str("</section>");
    o.push_str(r#"<footer>Made with cxray. NPS intervals: Tango score method; proportions: Wilson; means: t. Changes: z-tests for NPS and proportions, Welch's t-test for means.</footer>"#);
    o
}

fn themes_html(o: &mut String, t: &cxray_insights::ThemesSection) {
    let _ = write!(
        o,
        r#"<section id="themes"><h2>Themes</h2><p>What {} comments over {} talk about, compared with {}. A comment can mention several themes.</p>"#,
        t.comments,
        esc(&t.window),
        esc(&t.before)
    );
    let _ = write!(
        o,
        r#"<figure class="chart" id="themes-chart"><div class="chart-scroll">{}</div><figcaption>Bars: share of comments with its 95% interval; tick: share in {}.</figcaption></figure>"#,
        theme_chart(t),
        esc(&t.before)
    );
    if !t.emerging.is_empty() {
        o.push_str("<h3>Emerging themes</h3><ul>");
        for e in &t.emerging {
            let _ = write!(o, "<li>{}</li>", esc(&e.text));
        }
        o.push_str("</ul>");
    }
    if !t.impacts.is_empty() {
        o.push_str(r#"<h3>Themes and scores</h3><div class="table-wrap"><table><thead><tr><th>theme</th><th>metric</th><th class="num">n with</th><th class="num">with</th><th class="num">without</th><th class="num">impact</th><th>test</th></tr></thead><tbody>"#);
        for i in &t.impacts {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:+.1}</td><td>{}</td></tr>"#,
                esc(&i.theme),
                esc(&i.metric),
                i.n_with,
                num(i.value_with),
                num(i.value_without),
                i.impact,
                esc(&i.change.verdict)
            );
        }
        o.push_str("</tbody></table></div><p class=\"ns\">Impact: how much the metric among commenters moves because of the theme (share × difference); negative pulls it down.</p>");
    }
    let quoted: Vec<_> = t
        .themes
        .iter()
        .filter(|x| !x.examples.is_empty())
        .take(6)
        .collect();
    if !quoted.is_empty() {
        o.push_str("<h3>In customers' words</h3>");
        for x in quoted {
            let _ = write!(o, "<h4>{}</h4>", esc(&x.theme));
            for e in &x.examples {
                let _ = write!(o, "<blockquote>{}</blockquote>", esc(e));
            }
        }
    }
    o.push_str("</section>");
}

/// The y-axis label of an operational trend: the value label up to its first parenthesis.
fn short_unit(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn operations_html(
    o: &mut String,
    ops: &cxray_insights::operations::OperationsSection,
    confidence: f64,
    period_unit: &str,
) {
    let _ = write!(
        o,
        r#"<section id="operations"><h2>Operations</h2><p>What happened to customers in {}, compared with {}: tickets, the contact centre, referrals, journeys and churn. Definitions and formulas: docs/metrics.md.</p><div class="tiles">"#,
        esc(ops.current_period.as_deref().unwrap_or("the latest period")),
        esc(ops
            .previous_period
            .as_deref()
            .unwrap_or("the period before"))
    );
    for i in &ops.items {
        let cur = i.current.as_ref();
        let v = |x: f64| value_of(&i.value_label, x);
        let change = match (&i.vs_previous, cur, &i.previous) {
            (Some(_), _, _) => verdict_html(&i.vs_previous, "vs previous"),
            (None, Some(c), Some(p)) => match (c.value, p.value) {
                (Some(a), Some(b)) => format!(
                    r#"<div class="verdict ns">vs previous: {} {} (not tested: a median or a stock)</div>"#,
                    if a >= b { "up" } else { "down" },
                    esc(&v((a - b).abs()))
                ),
                _ => String::new(),
            },
            _ => verdict_html(&None, "vs previous"),
        };
        let interval = match cur.map(|c| (c.ci_low, c.ci_high)) {
            Some((Some(l), Some(h))) => format!("[{}, {}]", v(l), v(h)),
            _ => "—".into(),
        };
        // A K-factor over few referrers covers less than its level.
        let mark = undercover_mark(cur);
        let _ = write!(
            o,
            r#"<div class="tile"><div class="name">{}</div><div class="label">{}</div><div class="value">{}</div><div class="ci">{}{mark} · n = {}</div>{}</div>"#,
            esc(&i.display_name),
            esc(&i.value_label),
            esc(&cur
                .and_then(|c| c.value)
                .map(v)
                .unwrap_or_else(|| "—".into())),
            esc(&interval),
            cur.map(|c| c.n).unwrap_or(0),
            change
        );
    }
    o.push_str("</div>");
    if !ops.recurring_issues.is_empty() {
        let _ = write!(
            o,
            r#"<h3 id="operations-issues">Ticket categories that changed</h3><p class="ns">Share of all tickets in {} against {}; a category that only grows with all tickets is not listed.</p><ul>"#,
            esc(ops.issues_window.as_deref().unwrap_or("")),
            esc(ops.issues_before.as_deref().unwrap_or(""))
        );
        for c in &ops.recurring_issues {
            let _ = write!(o, "<li>{}</li>", esc(&c.text));
        }
        o.push_str("</ul>");
    }
    if !ops.friction_points.is_empty() {
        let _ = write!(
            o,
            r#"<h3 id="operations-friction">Friction points</h3><p class="ns">Funnel steps where a segment goes on significantly less often than the rest of its dimension, {}.</p><ul>"#,
            esc(ops.issues_window.as_deref().unwrap_or("latest periods"))
        );
        for f in &ops.friction_points {
            let _ = write!(o, "<li>{}</li>", esc(&f.text));
        }
        o.push_str("</ul>");
    }
    if !ops.funnel.is_empty() {
        let _ = write!(
            o,
            r#"<figure class="chart" id="operations-funnel"><h3>Funnel, {}</h3><div class="chart-scroll">{}</div><figcaption>Share of units (sessions, or customers without sessions) starting the funnel that reached each step in order, with its {:.0}% interval; right: conversion from the step before.</figcaption></figure>"#,
            esc(ops.current_period.as_deref().unwrap_or("")),
            funnel_chart(&ops.funnel),
            confidence * 100.0
        );
    }
    for t in &ops.trends {
        let Some(i) = ops.items.iter().find(|i| i.metric == t.metric) else {
            continue;
        };
        let _ = write!(
            o,
            r#"<figure class="chart" id="operations-trend-{}"><h3>{}</h3><div class="chart-scroll">{}</div><figcaption>{} per {} with its {:.0}% interval (band).</figcaption></figure>"#,
            esc(&t.metric),
            esc(&i.display_name),
            trend_chart(t, &i.display_name, short_unit(&i.value_label), confidence),
            esc(&i.display_name),
            esc(period_unit),
            confidence * 100.0
        );
    }
    if let Some(rt) = &ops.retention {
        let _ = write!(
            o,
            r#"<figure class="chart" id="operations-retention"><h3>Retention by signup quarter</h3><div class="chart-scroll">{}</div><figcaption>Kaplan-Meier: share of each cohort's customers still active by days since their first start (latest six cohorts). {}. {}{}</figcaption></figure>"#,
            retention_chart(rt),
            esc(&rt.definition),
            if rt.left_out > 0 {
                format!(
                    "{} customers who started before {} (the first recorded cancel or activity) are left out: their early months are not in the data. ",
                    rt.left_out,
                    rt.observed_from.map(|d| d.to_string()).unwrap_or_default()
                )
            } else {
                String::new()
            },
            esc(&capitalised(
                rt.log_rank
                    .as_ref()
                    .map(|t| t.verdict.as_str())
                    .unwrap_or("")
            ))
        );
        let hs: Vec<f64> = rt
            .groups
            .first()
            .map(|g| g.horizons.iter().map(|h| h.days).collect())
            .unwrap_or_default();
        o.push_str(r#"<div class="table-wrap"><table><thead><tr><th>cohort</th><th class="num">customers</th><th class="num">churned</th>"#);
        for h in &hs {
            let _ = write!(o, r#"<th class="num">{h} days</th>"#);
        }
        o.push_str("</tr></thead><tbody>");
        for g in &rt.groups {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td>"#,
                esc(g.cohort.as_deref().unwrap_or("all")),
                g.customers,
                g.churned
            );
            for h in &g.horizons {
                let _ = write!(
                    o,
                    r#"<td class="num">{}</td>"#,
                    match (h.retained, h.ci_low, h.ci_high) {
                        (Some(s), Some(l), Some(u)) => format!(
                            "{:.1}% <span class=\"ns\">[{:.1}, {:.1}]</span>",
                            100.0 * s,
                            100.0 * l,
                            100.0 * u
                        ),
                        _ => "—".into(),
                    }
                );
            }
            o.push_str("</tr>");
        }
        o.push_str("</tbody></table></div>");
    }
    o.push_str("</section>");
}

#[cfg(test)]
mod tests {
    /// An interval that covers less than its level at its size is marked, the note (escaped)
    /// on hover; others are not.
    #[test]
    fn an_undercovering_interval_is_marked_with_its_note() {
        let mut r = crate::print::tests::row(80, false, None);
        assert_eq!(super::ci(&r), "[0.10, 0.30]");
        r.note = Some("few customers (40, under 50) <b> (docs/calibration.md)".into());
        let marked = super::ci(&r);
        assert!(marked.starts_with("[0.10, 0.30] <abbr"), "{marked}");
        assert!(
            marked.contains("title=\"few customers (40, under 50) &lt;b&gt;"),
            "{marked}"
        );
        assert_eq!(crate::text::value_ci(&r), "0.20 [0.10, 0.30] ~");
        // The operations tiles too (a K-factor over few referrers).
        let ops = cxray_insights::operations::OperationsSection {
            current_period: Some("2025-12".into()),
            previous_period: Some("2025-11".into()),
            items: vec![cxray_insights::operations::OperationalItem {
                metric: "k_factor".into(),
                display_name: "K-factor".into(),
                value_label: "referrals converted per customer".into(),
                current: Some(r.clone()),
                previous: None,
                vs_previous: None,
            }],
            trends: vec![],
            recurring_issues: vec![],
            issues_window: None,
            issues_before: None,
            funnel: vec![],
            friction_points: vec![],
            retention: None,
        };
        let mut o = String::new();
        super::operations_html(&mut o, &ops, 0.95, "month");
        assert!(
            o.contains("<abbr class=\"few\" title=\"few customers"),
            "{o}"
        );
        r.note = None;
        let mut o = String::new();
        let ops = cxray_insights::operations::OperationsSection {
            items: vec![cxray_insights::operations::OperationalItem {
                current: Some(r.clone()),
                ..ops.items[0].clone()
            }],
            ..ops
        };
        super::operations_html(&mut o, &ops, 0.95, "month");
        assert!(!o.contains("<abbr"), "{o}");
    }
}
