//! Terminal and Markdown renderings of the report.

use std::fmt::Write;

use cxray_insights::MetricRow;
use cxray_insights::operations::OperationalItem;
use cxray_insights::report::dimension_label;

use crate::{ReportDocument, num, value_of};

/// The value and interval, marked `~` when the interval covers less than its level at this
/// size (explained under the table).
pub(crate) fn value_ci(r: &MetricRow) -> String {
    let mark = if crate::undercovers(r).is_some() {
        " ~"
    } else {
        ""
    };
    match (r.value, r.ci_low, r.ci_high) {
        (Some(v), Some(l), Some(h)) => format!("{} [{}, {}]{mark}", num(v), num(l), num(h)),
        (Some(v), _, _) => num(v),
        _ => "—".into(),
    }
}

/// The terminal summary: highlights, scorecard and data quality, in 80 columns.
pub fn render_text(doc: &ReportDocument) -> String {
    let r = &doc.report;
    let mut o = String::new();
    let _ = writeln!(o, "{}", doc.title);
    if let Some(c) = &r.current_period {
        let _ = writeln!(
            o,
            "Current period {c}{}; {:.0}% intervals.",
            r.previous_period
                .as_deref()
                .map(|p| format!(", compared with {p}"))
                .unwrap_or_default(),
            r.confidence * 100.0
        );
    }
    if let Some(p) = &r.partial_period {
        let _ = writeln!(
            o,
            "{p} is left out: it has less than half the usual answers (in progress)."
        );
    }
    if !doc.warnings.is_empty() {
        let _ = writeln!(o, "\nNot in this report");
        for w in &doc.warnings {
            let _ = writeln!(
                o,
                "{}",
                wrap(&format!("! {}: {}", w.section, w.message), 78, "  ")
            );
        }
    }
    let _ = writeln!(o, "\nHighlights");
    if r.highlights.is_empty() {
        let _ = writeln!(o, "  No significant changes or differences.");
    }
    for (i, h) in r.highlights.iter().enumerate() {
        let _ = writeln!(o, "{}", wrap(&format!("{}. {}", i + 1, h.text), 78, "   "));
    }
    if let Some(i) = &r.insights {
        crate::insights::text(&mut o, i, &|s| wrap(s, 78, "  "));
    }
    let _ = writeln!(o, "\nScorecard");
    let _ = writeln!(
        o,
        "  {:<24} {:>7} {:>19} {:>6}  vs previous",
        "metric", "current", "interval", "n"
    );
    for s in &r.scorecard {
        let (v, ci, n) = match &s.current {
            Some(c) => (
                c.value.map(num).unwrap_or_default(),
                match (c.ci_low, c.ci_high) {
                    (Some(l), Some(h)) => format!("[{}, {}]", num(l), num(h)),
                    _ => "—".into(),
                },
                c.n.to_string(),
            ),
            None => ("—".into(), "—".into(), "0".into()),
        };
        let verdict = s
            .vs_previous
            .as_ref()
            .map(|c| {
                format!(
                    "{}{:+.1}",
                    if c.significant { "* " } else { "" },
                    c.difference
                )
            })
            .unwrap_or_else(|| "—".into());
        let name: String = s.display_name.chars().take(24).collect();
        let _ = writeln!(o, "  {name:<24} {v:>7} {ci:>19} {n:>6}  {verdict}");
    }
    let _ = writeln!(o, "  (* significant after Benjamini-Hochberg correction)");
    if let Some(t) = &r.themes {
        let _ = writeln!(
            o,
            "\nThemes in {} comments, {} (share; before: {})",
            t.comments, t.window, t.before
        );
        for x in t.themes.iter().take(6) {
            let _ = writeln!(
                o,
                "  {:<24} {:>5.1}%  {}",
                x.theme.chars().take(24).collect::<String>(),
                100.0 * x.share,
                x.share_before
                    .map(|b| format!("{:.1}%", 100.0 * b))
                    .unwrap_or_else(|| "—".into())
            );
        }
    }
    if let Some(ops) = &r.operations {
        let _ = writeln!(
            o,
            "\nOperations{}",
            ops.current_period
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            o,
            "  {:<24} {:>8} {:>19} {:>6}  vs previous",
            "metric", "current", "interval", "n"
        );
        for i in &ops.items {
            let _ = writeln!(o, "  {}", operation_line(i));
        }
        let _ = writeln!(
            o,
            "  (* significant after Benjamini-Hochberg; † not tested: a median or a stock)"
        );
        for c in ops
            .recurring_issues
            .iter()
            .filter(|c| c.change.difference > 0.0)
        {
            let _ = writeln!(
                o,
                "{}",
                wrap(&format!("  Recurring: {}", c.text), 78, "    ")
            );
        }
        for f in &ops.friction_points {
            let _ = writeln!(
                o,
                "{}",
                wrap(&format!("  Friction: {}", f.text), 78, "    ")
            );
        }
        if let Some(t) = ops.retention.as_ref().and_then(|r| r.log_rank.as_ref()) {
            let _ = writeln!(
                o,
                "{}",
                wrap(
                    &format!("  Retention by signup quarter: {}", t.verdict),
                    78,
                    "    "
                )
            );
        }
    }
    let dq = &doc.data_quality;
    let _ = writeln!(o, "\nData");
    for s in &dq.sources {
        let _ = writeln!(
            o,
            "{}",
            wrap(
                &format!(
                    "  {}: {} read, {} accepted, {} rejected; {} to {}",
                    s.file,
                    s.rows_read,
                    s.rows_accepted,
                    s.rows_rejected,
                    s.first_date.as_deref().unwrap_or("?"),
                    s.last_date.as_deref().unwrap_or("?")
                ),
                78,
                "    "
            )
        );
    }
    o
}

/// One operational metric: name, current value with interval, n, change vs previous.
fn operation_line(i: &OperationalItem) -> String {
    let v = |x: f64| value_of(&i.value_label, x);
    let (value, ci, n) = match &i.current {
        Some(c) => (
            c.value.map(v).unwrap_or_else(|| "—".into()),
            match (c.ci_low, c.ci_high) {
                (Some(l), Some(h)) => format!("[{}, {}]", v(l), v(h)),
                _ => "—".into(),
            },
            c.n.to_string(),
        ),
        None => ("—".into(), "—".into(), "0".into()),
    };
    let signed = |d: f64| {
        if i.value_label.contains("seconds") {
            format!("{}{}", if d < 0.0 { "-" } else { "+" }, v(d.abs()))
        } else {
            format!("{d:+.1}")
        }
    };
    let verdict = match (&i.vs_previous, &i.current, &i.previous) {
        (Some(c), _, _) => format!(
            "{}{}",
            if c.significant { "* " } else { "" },
            signed(c.difference)
        ),
        (None, Some(c), Some(p)) => match (c.value, p.value) {
            (Some(a), Some(b)) => format!("{} †", signed(a - b)),
            _ => "—".into(),
        },
        _ => "—".into(),
    };
    let name: String = i.display_name.chars().take(24).collect();
    format!("{name:<24} {value:>8} {ci:>19} {n:>6}  {verdict}")
}

fn wrap(s: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in s.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
        } else if !line.is_empty() && !line.ends_with(' ') {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}

/// Markdown for wikis: the full report as headings, lists and tables.
pub fn render_markdown(doc: &ReportDocument) -> String {
    let r = &doc.report;
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", doc.title);
    if let Some(c) = &r.current_period {
        let _ = writeln!(
            o,
            "Current period **{c}**{}. Intervals at {:.0}%; significance after Benjamini-Hochberg correction at q ≤ {}.\n",
            r.previous_period
                .as_deref()
                .map(|p| format!(", compared with {p}"))
                .unwrap_or_default(),
            r.confidence * 100.0,
            r.alpha
        );
    }
    if let Some(p) = &r.partial_period {
        let _ = writeln!(
            o,
            "{p} is left out: it has less than half the usual answers (in progress).\n"
        );
    }
    if !doc.warnings.is_empty() {
        let _ = writeln!(o, "## Not in this report\n");
        for w in &doc.warnings {
            let _ = writeln!(o, "- **{}**: {}", w.section, w.message);
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Highlights\n");
    if r.highlights.is_empty() {
        let _ = writeln!(o, "No significant changes or differences.\n");
    }
    for h in &r.highlights {
        let _ = writeln!(o, "- {} ([evidence](#{}))", h.text, h.section);
    }
    let _ = writeln!(o, "\n## Scorecard\n");
    md_head(
        &mut o,
        &[
            "metric", "current", "n", "previous", "change", "year ago", "change",
        ],
    );
    for s in &r.scorecard {
        let cell = |x: &Option<MetricRow>| x.as_ref().map(value_ci).unwrap_or_else(|| "—".into());
        let ch = |c: &Option<cxray_insights::report::Change>| {
            c.as_ref()
                .map(|c| c.verdict.clone())
                .unwrap_or_else(|| "—".into())
        };
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |",
            s.display_name,
            cell(&s.current),
            s.current.as_ref().map(|c| c.n).unwrap_or(0),
            cell(&s.previous),
            ch(&s.vs_previous),
            cell(&s.year_ago),
            ch(&s.vs_year_ago)
        );
    }
    let _ = writeln!(o, "\n## Trends\n");
    for t in &r.trends {
        let _ = writeln!(o, "<a id=\"trend-{}\"></a>\n### {}\n", t.metric, t.metric);
        md_head(
            &mut o,
            &[
                "period",
                "n",
                "value [interval]",
                "control limits",
                "vs previous",
            ],
        );
        for p in &t.points {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                p.row.period.clone().unwrap_or_default(),
                p.row.n,
                value_ci(&p.row),
                match (p.control_low, p.control_high) {
                    (Some(l), Some(h)) => format!(
                        "{} – {}{}",
                        num(l),
                        num(h),
                        p.signal
                            .as_deref()
                            .map(|s| format!(" **{s}**"))
                            .unwrap_or_default()
                    ),
                    _ => "—".into(),
                },
                p.vs_previous
                    .as_ref()
                    .map(|c| c.verdict.clone())
                    .unwrap_or_default()
            );
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Segments\n");
    for s in &r.segments {
        let _ = writeln!(
            o,
            "<a id=\"segments-{}-{}\"></a>\n### {} by {} ({})\n",
            s.metric,
            s.dimension,
            s.metric,
            dimension_label(&s.dimension),
            s.window
        );
        md_head(
            &mut o,
            &[
                dimension_label(&s.dimension),
                "n",
                "value [interval]",
                "gap",
                "vs rest",
            ],
        );
        for row in &s.rows {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                row.row
                    .segment
                    .get(&s.dimension)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "(missing)".into()),
                row.row.n,
                value_ci(&row.row),
                row.gap_to_overall
                    .map(|g| format!("{g:+.1}"))
                    .unwrap_or_default(),
                if row.too_few {
                    "too few answers".to_string()
                } else {
                    row.vs_rest
                        .as_ref()
                        .map(|c| c.verdict.clone())
                        .unwrap_or_default()
                }
            );
        }
        if s.rows
            .iter()
            .any(|row| crate::undercovers(&row.row).is_some())
        {
            let _ = writeln!(
                o,
                "\n~ too few for the interval to cover its stated level (docs/calibration.md)."
            );
        }
        let _ = writeln!(o);
    }
    if let Some(t) = &r.themes {
        let _ = writeln!(
            o,
            "<a id=\"themes\"></a>\n## Themes\n\n{} comments over {}, compared with {}.\n",
            t.comments, t.window, t.before
        );
        md_head(
            &mut o,
            &["theme", "mentions", "share [interval]", "share before"],
        );
        for x in &t.themes {
            let _ = writeln!(
                o,
                "| {}{} | {} | {:.1}% [{:.1}, {:.1}] | {} |",
                x.theme,
                if x.discovered { " (discovered)" } else { "" },
                x.mentions,
                100.0 * x.share,
                100.0 * x.share_low,
                100.0 * x.share_high,
                x.share_before
                    .map(|b| format!("{:.1}%", 100.0 * b))
                    .unwrap_or_else(|| "—".into())
            );
        }
        if !t.emerging.is_empty() {
            let _ = writeln!(o, "\n### Emerging themes\n");
            for e in &t.emerging {
                let _ = writeln!(o, "- {}", e.text);
            }
        }
        if !t.impacts.is_empty() {
            let _ = writeln!(o, "\n### Themes and scores\n");
            for i in &t.impacts {
                let _ = writeln!(o, "- {}", i.text);
            }
        }
        for x in t.themes.iter().filter(|x| !x.examples.is_empty()).take(6) {
            let _ = writeln!(o, "\n**{}**\n", x.theme);
            for e in &x.examples {
                let _ = writeln!(o, "> {}\n", e.replace('\n', " "));
            }
        }
        let _ = writeln!(o);
    }
    if let Some(i) = &r.insights {
        crate::insights::markdown(&mut o, i);
    }
    if let Some(ops) = &r.operations {
        let _ = writeln!(
            o,
            "<a id=\"operations\"></a>\n## Operations\n\nCurrent period {}, compared with {}. Definitions: docs/metrics.md.\n",
            ops.current_period.as_deref().unwrap_or("—"),
            ops.previous_period.as_deref().unwrap_or("—")
        );
        md_head(
            &mut o,
            &["metric", "value", "current [interval]", "n", "vs previous"],
        );
        for i in &ops.items {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                i.display_name,
                i.value_label,
                i.current
                    .as_ref()
                    .map(value_ci)
                    .unwrap_or_else(|| "—".into()),
                i.current.as_ref().map(|c| c.n).unwrap_or(0),
                i.vs_previous
                    .as_ref()
                    .map(|c| c.verdict.clone())
                    .unwrap_or_else(|| "not tested".into())
            );
        }
        if !ops.recurring_issues.is_empty() {
            let _ = writeln!(
                o,
                "\n<a id=\"operations-issues\"></a>\n### Ticket categories that changed\n"
            );
            for c in &ops.recurring_issues {
                let _ = writeln!(o, "- {}", c.text);
            }
        }
        if !ops.friction_points.is_empty() {
            let _ = writeln!(
                o,
                "\n<a id=\"operations-friction\"></a>\n### Friction points\n"
            );
            for f in &ops.friction_points {
                let _ = writeln!(o, "- {}", f.text);
            }
        }
        if !ops.funnel.is_empty() {
            let _ = writeln!(
                o,
                "\n### Funnel, {}\n",
                ops.current_period.as_deref().unwrap_or("")
            );
            md_head(&mut o, &["step", "reached [interval]", "units"]);
            for f in &ops.funnel {
                let _ = writeln!(
                    o,
                    "| {} | {}% | {} |",
                    f.segment.get("step").cloned().flatten().unwrap_or_default(),
                    value_ci(f),
                    f.detail
                        .get("reached")
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                );
            }
        }
        if let Some(rt) = &ops.retention {
            let _ = writeln!(
                o,
                "\n### Retention by signup quarter\n\n{}\n",
                rt.definition
            );
            let hs: Vec<f64> = rt
                .groups
                .first()
                .map(|g| g.horizons.iter().map(|h| h.days).collect())
                .unwrap_or_default();
            let days: Vec<String> = hs.iter().map(|h| format!("{h} days")).collect();
            let mut head = vec!["cohort", "customers"];
            head.extend(days.iter().map(String::as_str));
            md_head(&mut o, &head);
            for g in &rt.groups {
                let _ = writeln!(
                    o,
                    "| {} | {} | {} |",
                    g.cohort.as_deref().unwrap_or("all"),
                    g.customers,
                    g.horizons
                        .iter()
                        .map(|h| h
                            .retained
                            .map(|s| format!("{:.1}%", 100.0 * s))
                            .unwrap_or_else(|| "—".into()))
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
            }
            if let Some(t) = &rt.log_rank {
                let _ = writeln!(o, "\n{}", t.verdict);
            }
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## Data quality\n");
    md_head(
        &mut o,
        &["source", "read", "accepted", "rejected", "from", "to"],
    );
    for s in &doc.data_quality.sources {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            s.file,
            s.rows_read,
            s.rows_accepted,
            s.rows_rejected,
            s.first_date.as_deref().unwrap_or("—"),
            s.last_date.as_deref().unwrap_or("—")
        );
    }
    if !doc.data_quality.reject_reasons.is_empty() {
        let _ = writeln!(o, "\nMost frequent rejection reasons:\n");
        for (reason, n) in &doc.data_quality.reject_reasons {
            let _ = writeln!(o, "- {n} × {reason}");
        }
    }
    o
}

/// The header row of a Markdown table and its separator, one column per name.
pub(crate) fn md_head(o: &mut String, columns: &[&str]) {
    let _ = writeln!(o, "| {} |", columns.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(columns.len()));
}
