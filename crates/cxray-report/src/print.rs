//! Printing analysis results the way the command line (and later the server's exports) shows
//! them: JSON with every figure, a summary table a person reads in a terminal, and CSV where
//! the result has one row per group. A result implements [`Printable`]; [`print`] is the one
//! output path of every command. Nothing here computes statistics.

use std::collections::BTreeMap;
use std::io::{self, Write};

use cxray_insights::MetricRow;
use cxray_insights::alerts::{AlertResult, AlertStatus, FollowUp};
use cxray_insights::drivers::Drivers;
use cxray_insights::explain::ChangeExplanation;
use cxray_insights::linkage::Linkage;
use cxray_insights::nonresponse::NonResponse;
use cxray_insights::report::fmt_p;
use cxray_insights::retention::Retention;
use cxray_text::DiscoveredTheme;
use cxray_text::eval::EvalScores;
use serde::Serialize;

/// How a result is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrintFormat {
    /// The summary table.
    Table,
    /// Pretty JSON with every figure (the documented shape, `docs/json.md`).
    Json,
    /// One row per group, for spreadsheets (only for results that have rows).
    Csv,
}

/// A result that can be printed. JSON comes from `Serialize`.
pub trait Printable: Serialize {
    /// Writes the summary table.
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()>;

    /// Writes CSV rows; `None` when the result has no tabular form.
    fn csv(&self, _w: &mut Vec<u8>) -> Option<Result<(), csv::Error>> {
        None
    }

    /// Whether [`Printable::csv`] writes anything.
    fn has_csv(&self) -> bool {
        false
    }
}

/// Why a result could not be printed.
#[derive(Debug)]
pub enum PrintError {
    /// The result has no CSV form.
    NoCsv,
    Io(io::Error),
    Csv(csv::Error),
    Json(serde_json::Error),
}

impl std::fmt::Display for PrintError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrintError::NoCsv => {
                f.write_str("this result has no CSV form: print it as a table or JSON")
            }
            PrintError::Io(e) => write!(f, "{e}"),
            PrintError::Csv(e) => write!(f, "{e}"),
            PrintError::Json(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PrintError {}

/// Prints `x` in `format`.
pub fn print<T: Printable + ?Sized>(x: &T, format: PrintFormat) -> Result<Vec<u8>, PrintError> {
    let mut buf = Vec::new();
    match format {
        PrintFormat::Json => {
            serde_json::to_writer_pretty(&mut buf, x).map_err(PrintError::Json)?;
            buf.push(b'\n');
        }
        PrintFormat::Table => x.table(&mut buf).map_err(PrintError::Io)?,
        PrintFormat::Csv => match x.csv(&mut buf) {
            Some(r) => r.map_err(PrintError::Csv)?,
            None => return Err(PrintError::NoCsv),
        },
    }
    Ok(buf)
}

/// `s` cut to `width` characters, with an ellipsis when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
        None => "—".into(),
    }
}

/// What the metrics table shows besides its rows.
#[derive(Debug, Clone, Copy)]
pub struct MetricsTable<'a> {
    pub rows: &'a [MetricRow],
    /// The segment columns, in key order.
    pub by: &'a [String],
    pub confidence: f64,
    pub min_n: u64,
    /// (name, display name, value label) of every metric.
    pub labels: &'a [(String, String, String)],
    /// Rows read, accepted and rejected.
    pub counts: (u64, u64, u64),
}

/// One CSV row per metric, period and segment.
pub fn metrics_csv(w: &mut Vec<u8>, t: &MetricsTable<'_>) -> Result<(), csv::Error> {
    let mut wr = csv::Writer::from_writer(w);
    let mut header: Vec<String> = vec!["metric".into(), "period".into()];
    header.extend(t.by.iter().cloned());
    header.extend(
        [
            "n",
            "n_effective",
            "value",
            "se",
            "ci_low",
            "ci_high",
            "interval_method",
            "small_sample",
            "note",
            "detail",
        ]
        .map(String::from),
    );
    wr.write_record(&header)?;
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in t.rows {
        let mut rec: Vec<String> = vec![r.metric.clone(), r.period.clone().unwrap_or_default()];
        for b in t.by {
            rec.push(r.segment.get(b).cloned().flatten().unwrap_or_default());
        }
        rec.push(r.n.to_string());
        rec.push(r.n_effective.to_string());
        rec.push(num(r.value));
        rec.push(num(r.se));
        rec.push(num(r.ci_low));
        rec.push(num(r.ci_high));
        rec.push(r.interval_method.clone().unwrap_or_default());
        rec.push(r.small_sample.to_string());
        rec.push(r.note.clone().unwrap_or_default());
        rec.push(serde_json::to_string(&r.detail).expect("a JSON map serializes"));
        wr.write_record(&rec)?;
    }
    wr.flush()?;
    Ok(())
}

/// The 80-column metrics table: a block per metric, a line per period and segment.
pub fn metrics_table(w: &mut Vec<u8>, t: &MetricsTable<'_>) -> io::Result<()> {
    let conf = (t.confidence * 100.0).round();
    let has_period = t.rows.iter().any(|r| r.period.is_some());
    let seg_width = if has_period { 28 } else { 37 };
    let mut current: Option<&str> = None;
    let mut flagged = false;
    let mut undercover = false;
    for r in t.rows {
        if current != Some(r.metric.as_str()) {
            if current.is_some() {
                writeln!(w)?;
            }
            current = Some(&r.metric);
            let (display, label) = t
                .labels
                .iter()
                .find(|(n, _, _)| n == &r.metric)
                .map(|(_, d, l)| (d.as_str(), l.as_str()))
                .unwrap_or((r.metric.as_str(), ""));
            writeln!(w, "{} — {label}", truncate(display, 40))?;
            let mut head = String::new();
            if has_period {
                head.push_str(&format!("{:<9}", "period"));
            }
            head.push_str(&format!(
                "{:<sw$} {:>7} {:>7} {:>17}",
                "segment",
                "n",
                "value",
                format!("{conf:.0}% CI"),
                sw = seg_width
            ));
            writeln!(w, "{head}")?;
        }
        let seg = if r.segment.is_empty() {
            "(all)".to_string()
        } else {
            r.segment
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(missing)")))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ci = match (r.ci_low, r.ci_high) {
            (Some(l), Some(h)) => format!("[{}, {}]", fmt_num(Some(l)), fmt_num(Some(h))),
            _ => "—".into(),
        };
        let mut line = String::new();
        if has_period {
            line.push_str(&format!("{:<9}", r.period.as_deref().unwrap_or("")));
        }
        line.push_str(&format!(
            "{:<sw$} {:>7} {:>7} {:>17}",
            truncate(&seg, seg_width),
            r.n,
            fmt_num(r.value),
            ci,
            sw = seg_width
        ));
        if r.small_sample {
            line.push_str(" !");
            flagged = true;
        } else if crate::undercovers(r).is_some() {
            // Enough answers, yet fewer than its interval needs (a ratio over few customers,
            // a share near 0 or 1): the note says which.
            line.push_str(" ~");
            undercover = true;
        }
        writeln!(w, "{line}")?;
    }
    if t.rows.is_empty() {
        writeln!(w, "no answers match the selection")?;
    }
    if flagged {
        writeln!(
            w,
            "\n! fewer than {} answers: too few for a reliable estimate",
            t.min_n
        )?;
    }
    if undercover {
        writeln!(
            w,
            "~ too few for its interval to cover its stated level (the JSON note says why; \
             docs/calibration.md)"
        )?;
    }
    let (read, accepted, rejected) = t.counts;
    writeln!(
        w,
        "\n{read} rows read, {accepted} accepted, {rejected} rejected"
    )?;
    Ok(())
}

/// One input file of an ingest, as [`ingest_table`] prints it.
pub struct IngestLine<'a> {
    pub file: &'a str,
    pub entity: &'a str,
    /// The file in the lake with the same content, when this one was skipped.
    pub same_as: Option<&'a str>,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Rejected because the id was already in the lake.
    pub duplicates: u64,
    pub parts: usize,
    pub bytes: u64,
    /// Not a file (cxray's store): read live by the analyses, not ingested.
    pub live: bool,
}

/// What `cxray ingest` did with each file, then the lake's size.
pub fn ingest_table(
    w: &mut Vec<u8>,
    lake: &str,
    lines: &[IngestLine<'_>],
    files_in_lake: usize,
) -> io::Result<()> {
    for l in lines {
        if l.live {
            writeln!(
                w,
                "live    {} ({}): read as it is at each analysis, not ingested",
                l.file, l.entity
            )?;
            continue;
        }
        match l.same_as {
            Some(first) if first == l.file => {
                writeln!(w, "skipped {} ({}): already in the lake", l.file, l.entity)?
            }
            Some(first) => writeln!(
                w,
                "skipped {} ({}): same content as {first}, already in the lake",
                l.file, l.entity
            )?,
            None => {
                write!(
                    w,
                    "added   {} ({}): {} read, {} accepted, {} rejected",
                    l.file,
                    l.entity,
                    thousands(l.read),
                    thousands(l.accepted),
                    thousands(l.rejected)
                )?;
                if l.duplicates > 0 {
                    write!(w, " ({} ids already in the lake)", thousands(l.duplicates))?;
                }
                writeln!(
                    w,
                    "; {} Parquet part{}, {:.1} MB",
                    l.parts,
                    if l.parts == 1 { "" } else { "s" },
                    l.bytes as f64 / 1e6
                )?;
            }
        }
    }
    writeln!(w, "lake {lake}: {files_in_lake} input files")
}

/// A count with thousands separators (1,234,567).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line of a customer's timeline: (when, what kind, what happened).
pub type TimelineLine<'a> = (&'a str, &'a str, &'a str);

/// A customer's interactions, one line each.
pub fn timeline_table(
    w: &mut Vec<u8>,
    customer: &str,
    lines: &[TimelineLine<'_>],
) -> io::Result<()> {
    writeln!(w, "Customer {customer} — {} interactions", lines.len())?;
    for (at, entity, summary) in lines {
        writeln!(
            w,
            "{:<20} {:<11} {}",
            at.get(..16).unwrap_or(at).replace('T', " "),
            entity,
            summary
        )?;
    }
    Ok(())
}

/// A customer's interactions as CSV (at, entity, summary).
pub fn timeline_csv(w: &mut Vec<u8>, lines: &[TimelineLine<'_>]) -> Result<(), csv::Error> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["at", "entity", "summary"])?;
    for (at, entity, summary) in lines {
        c.write_record([at, entity, summary])?;
    }
    c.flush()?;
    Ok(())
}

/// What the summary of a text analysis shows.
#[derive(Debug, Clone, Copy)]
pub struct TextSummary<'a> {
    pub texts: usize,
    pub languages: &'a BTreeMap<&'static str, usize>,
    pub labels: &'a BTreeMap<&'static str, usize>,
    /// Themes of the taxonomy, most frequent first.
    pub themes: &'a [(String, usize)],
    pub discovered: &'a [DiscoveredTheme],
}

/// Shares of languages, sentiment labels and themes.
pub fn text_summary_table(w: &mut Vec<u8>, s: &TextSummary<'_>) -> io::Result<()> {
    let n = s.texts.max(1) as f64;
    writeln!(w, "{} texts", s.texts)?;
    writeln!(w, "\nlanguage")?;
    for (l, c) in s.languages {
        writeln!(w, "  {l:<10} {c:>8} {:>6.1}%", 100.0 * *c as f64 / n)?;
    }
    writeln!(w, "\nsentiment")?;
    for (l, c) in s.labels {
        writeln!(w, "  {l:<10} {c:>8} {:>6.1}%", 100.0 * *c as f64 / n)?;
    }
    writeln!(w, "\nthemes (taxonomy)")?;
    for (name, c) in s.themes.iter().take(15) {
        writeln!(w, "  {name:<24} {c:>8} {:>6.1}%", 100.0 * *c as f64 / n)?;
    }
    if !s.discovered.is_empty() {
        writeln!(w, "\nthemes found in the texts")?;
        for d in s.discovered {
            let forms: Vec<String> = d.forms.iter().take(4).cloned().collect();
            writeln!(
                w,
                "  {:<24} {:>8}  {} ({})",
                d.label,
                d.documents,
                d.language,
                forms.join(", ")
            )?;
        }
    }
    Ok(())
}

/// Accuracy and macro-F1 per language, and the rows skipped.
pub fn text_eval_table(
    w: &mut Vec<u8>,
    scores: &BTreeMap<String, EvalScores>,
    skipped: usize,
) -> io::Result<()> {
    writeln!(
        w,
        "{:<10} {:>7} {:>8} {:>9} {:>8} {:>7} {:>9}",
        "language", "n", "accuracy", "macro-F1", "classes", "polar", "polar acc"
    )?;
    for (l, s) in scores {
        writeln!(
            w,
            "{l:<10} {:>7} {:>8.3} {:>9.3} {:>8} {:>7} {:>9}",
            s.n,
            s.accuracy,
            s.macro_f1,
            s.classes,
            s.polar_n,
            s.polar_accuracy
                .map_or("—".to_string(), |a| format!("{a:.3}"))
        )?;
    }
    if skipped > 0 {
        writeln!(w, "{skipped} rows skipped: unreadable label")?;
    }
    Ok(())
}

fn group_label(g: &cxray_insights::retention::RetentionGroup) -> String {
    let mut parts: Vec<String> = g.cohort.iter().map(|c| format!("cohort={c}")).collect();
    parts.extend(
        g.segment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(missing)"))),
    );
    if parts.is_empty() {
        "(all)".into()
    } else {
        parts.join(", ")
    }
}

/// One CSV row per retention group and horizon.
pub fn retention_csv(w: &mut Vec<u8>, r: &Retention) -> Result<(), csv::Error> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "cohort",
        "segment",
        "customers",
        "churned",
        "median_days",
        "days",
        "retained",
        "ci_low",
        "ci_high",
        "at_risk",
    ])?;
    let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for g in &r.groups {
        let seg = g
            .segment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(";");
        for h in &g.horizons {
            c.write_record([
                g.cohort.clone().unwrap_or_default(),
                seg.clone(),
                g.customers.to_string(),
                g.churned.to_string(),
                f(g.median_days),
                h.days.to_string(),
                f(h.retained),
                f(h.ci_low),
                f(h.ci_high),
                h.at_risk.to_string(),
            ])?;
        }
    }
    c.flush()?;
    Ok(())
}

/// Retention at each horizon per group, and the log-rank verdict.
pub fn retention_table(w: &mut Vec<u8>, r: &Retention) -> io::Result<()> {
    writeln!(w, "Retention (Kaplan-Meier, first spell of each customer)")?;
    writeln!(w, "definition: {}", r.definition)?;
    writeln!(
        w,
        "data end: {}; {:.0}% intervals (log-log)",
        r.data_end,
        r.confidence * 100.0
    )?;
    if r.left_out > 0 {
        writeln!(
            w,
            "{} customers who started before {} (the first recorded cancel or activity) are left \
             out: their early months are not in the data",
            r.left_out,
            r.observed_from.map(|d| d.to_string()).unwrap_or_default()
        )?;
    }
    writeln!(w)?;
    let horizons: Vec<f64> = r
        .groups
        .first()
        .map(|g| g.horizons.iter().map(|h| h.days).collect())
        .unwrap_or_default();
    let mut head = format!("{:<30} {:>7} {:>7}", "group", "n", "median");
    for h in &horizons {
        head.push_str(&format!(" {:>8}", format!("{h}d")));
    }
    writeln!(w, "{head}")?;
    for g in &r.groups {
        let mut line = format!(
            "{:<30} {:>7} {:>7}",
            truncate(&group_label(g), 30),
            g.customers,
            g.median_days
                .map(|m| format!("{m:.0}d"))
                .unwrap_or_else(|| "—".into())
        );
        for h in &g.horizons {
            line.push_str(&format!(
                " {:>8}",
                h.retained
                    .map(|s| format!("{:.1}%", 100.0 * s))
                    .unwrap_or_else(|| "—".into())
            ));
        }
        writeln!(w, "{line}")?;
    }
    if let Some(t) = &r.log_rank {
        writeln!(w)?;
        writeln!(w, "{}", t.verdict)?;
    }
    Ok(())
}

/// Churn and hazard ratio by NPS category, revenue by category, the verdict.
pub fn linkage_table(w: &mut Vec<u8>, l: &Linkage) -> io::Result<()> {
    let pct = 100.0 * l.confidence;
    writeln!(w, "NPS and churn ({} customers linked)", l.customers)?;
    writeln!(w, "churn: {}", l.definition)?;
    writeln!(w, "design: {}", l.design)?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<10} {:>9} {:>8} {:>10} {:>10} {:>17}",
        "category",
        "customers",
        "churned",
        "cust-mo",
        "churn/mo",
        format!("{pct:.0}% CI")
    )?;
    for c in &l.categories {
        writeln!(
            w,
            "{:<10} {:>9} {:>8} {:>10.0} {:>9.2}% {:>17}",
            c.category,
            c.customers,
            c.churned,
            c.customer_months,
            c.monthly_churn_pct,
            format!("{:.2}–{:.2}%", c.ci_low, c.ci_high)
        )?;
    }
    writeln!(w)?;
    for h in &l.hazard_ratios {
        writeln!(
            w,
            "hazard ratio {} vs {}: {:.2} ({pct:.0}% CI {:.2}–{:.2}, p {})",
            h.category,
            h.reference,
            h.hazard_ratio,
            h.ci_low,
            h.ci_high,
            fmt_p(h.p_value)
        )?;
    }
    if let Some(n) = &l.model_note {
        writeln!(w, "{n}")?;
    }
    if let Some(r) = &l.revenue {
        writeln!(w)?;
        for g in &r.by_category {
            writeln!(
                w,
                "revenue {:<10} n={:<7} mean {:.2}",
                g.category, g.customers, g.mean
            )?;
        }
        writeln!(
            w,
            "promoter − detractor: {:.2} ({pct:.0}% CI {:.2}–{:.2}, p {})",
            r.difference,
            r.ci_low,
            r.ci_high,
            fmt_p(r.p_value)
        )?;
        if let Some(v) = r.per_nps_point {
            writeln!(w, "one NPS point is associated with {v:.0} in revenue")?;
        }
    }
    writeln!(w)?;
    writeln!(w, "{}", l.verdict)?;
    if l.answers_outside_spells > 0 {
        writeln!(
            w,
            "{} NPS answers fall outside any customer spell (before a start, while churned or \
             without lifecycle history) and are not linked",
            l.answers_outside_spells
        )?;
    }
    Ok(())
}

/// Response rates by segment, the weighting, the verdict.
pub fn nonresponse_table(
    w: &mut Vec<u8>,
    r: &NonResponse,
    unmatched: u64,
    window: i64,
) -> io::Result<()> {
    writeln!(
        w,
        "Response rate {:.1}% ({} of {} invitations answered within {window} days; {:.0}% CI \
         {:.1}–{:.1}%)",
        r.response_rate,
        r.answered,
        r.invited,
        100.0 * r.confidence,
        r.ci_low,
        r.ci_high
    )?;
    for d in &r.dimensions {
        writeln!(w)?;
        writeln!(
            w,
            "{}: χ² {:.1}, df {}, q {}{}",
            d.dimension,
            d.chi2,
            d.df,
            fmt_p(d.q_value),
            if d.significant { "  (differs)" } else { "" }
        )?;
        for s in &d.segments {
            writeln!(
                w,
                "  {:<18} {:>8} invited {:>7} answered {:>6.1}%  ({:.1}–{:.1}%)",
                truncate(&s.segment, 18),
                s.invited,
                s.answered,
                s.response_rate,
                s.ci_low,
                s.ci_high
            )?;
        }
    }
    if let Some(wt) = &r.weighting {
        writeln!(w)?;
        writeln!(
            w,
            "Raked on {} to {} margins: weights {:.2}–{:.2} × mean, design effect {:.2}, \
             effective n {:.0}",
            wt.raked_on.join(", "),
            wt.margins_from,
            wt.min_weight,
            wt.max_weight,
            wt.design_effect,
            wt.n_effective
        )?;
        writeln!(
            w,
            "  {:<8} {:>7} {:>11} {:>11} {:>8} {:>7}",
            "metric", "n", "unweighted", "weighted", "bias", "deff"
        )?;
        for m in &wt.metrics {
            writeln!(
                w,
                "  {:<8} {:>7} {:>11.1} {:>11.1} {:>+8.1} {:>7.2}",
                m.metric, m.n, m.unweighted, m.weighted, m.bias, m.design_effect
            )?;
        }
    } else if let Some(n) = &r.weighting_note {
        writeln!(w)?;
        writeln!(w, "{n}")?;
    }
    writeln!(w)?;
    writeln!(w, "{}", r.verdict)?;
    if unmatched > 0 {
        writeln!(
            w,
            "{unmatched} answers of invited surveys match no invitation sent in the {window} \
             days before them and are not counted"
        )?;
    }
    Ok(())
}

/// Drivers ranked by importance with intervals and quadrants.
pub fn drivers_table(w: &mut Vec<u8>, d: &Drivers) -> io::Result<()> {
    writeln!(
        w,
        "Key drivers of {} (n {}, R² {:.2}; {:.0}% bootstrap intervals, {} replicates)",
        d.outcome,
        d.n,
        d.r_squared,
        100.0 * d.confidence,
        d.replicates
    )?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<3} {:<20} {:>10} {:>13} {:>7} {:>7} {:>6} {:>6}  quadrant",
        "#", "driver", "importance", "interval", "weight", "coef", "mean", "perf%"
    )?;
    for r in &d.drivers {
        writeln!(
            w,
            "{:<3} {:<20} {:>9.1}% {:>13} {:>6.1}% {:>7.2} {:>6.2} {:>5.0}%  {}",
            r.rank,
            truncate(&r.driver, 20),
            100.0 * r.importance,
            format!("{:.1}–{:.1}%", 100.0 * r.ci_low, 100.0 * r.ci_high),
            100.0 * r.relative_weight,
            r.coefficient,
            r.mean,
            r.performance,
            r.quadrant
        )?;
    }
    writeln!(w)?;
    writeln!(w, "{}", d.verdict)?;
    Ok(())
}

/// The change, what explains it, and its split by segment and theme.
pub fn explain_table(w: &mut Vec<u8>, e: &ChangeExplanation) -> io::Result<()> {
    writeln!(w, "{}", e.summary)?;
    if !e.explanations.is_empty() {
        writeln!(w)?;
        writeln!(w, "What explains it (significant, largest first):")?;
        for x in &e.explanations {
            writeln!(w, "  - {}", x.text)?;
        }
    }
    for d in &e.dimensions {
        writeln!(w)?;
        writeln!(w, "{}: mix {:+.1}, rate {:+.1}", d.dimension, d.mix, d.rate)?;
        writeln!(
            w,
            "  {:<18} {:>6} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8}",
            "segment", "n0", "n1", "before", "after", "mix", "rate", "total", "q"
        )?;
        for s in d.segments.iter().take(8) {
            let v = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.1}"));
            writeln!(
                w,
                "  {:<18} {:>6} {:>6} {:>8} {:>8} {:>+7.1} {:>+7.1} {:>+7.1} {:>8}",
                truncate(&s.segment, 18),
                s.n_before,
                s.n_after,
                v(s.value_before),
                v(s.value_after),
                s.mix,
                s.rate,
                s.total,
                s.q_value.map_or("—".to_string(), fmt_p)
            )?;
        }
    }
    if let Some(f) = &e.focus {
        writeln!(w)?;
        writeln!(
            w,
            "themes within {} {} (its change {:+.1}):",
            f.dimension, f.segment, f.change
        )?;
        theme_rows(w, &f.themes, 8)?;
    }
    if !e.themes.is_empty() {
        writeln!(w)?;
        writeln!(w, "themes (contribution to the change):")?;
        theme_rows(w, &e.themes, 10)?;
    }
    Ok(())
}

fn theme_rows(
    w: &mut Vec<u8>,
    themes: &[cxray_insights::explain::ThemePart],
    k: usize,
) -> io::Result<()> {
    for t in themes.iter().take(k) {
        writeln!(
            w,
            "  {:<28} {:>6} {:>6} {:>+7.1} {:>8}",
            truncate(&t.theme, 28),
            t.n_before,
            t.n_after,
            t.change,
            t.q_value.map_or("—".to_string(), fmt_p)
        )?;
    }
    Ok(())
}

/// Every rule's status with its evidence, and the answers to follow up.
pub fn alerts_table(
    w: &mut Vec<u8>,
    fired: usize,
    results: &[AlertResult],
    follow_up: &[FollowUp],
) -> io::Result<()> {
    writeln!(
        w,
        "{} alert{} fired",
        fired,
        if fired == 1 { "" } else { "s" }
    )?;
    for r in results {
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
        let mark = match r.status {
            AlertStatus::Fired => "FIRED",
            AlertStatus::Ok => "ok",
            AlertStatus::NotEvaluated => "n/a",
        };
        writeln!(
            w,
            "  {mark:<5} {:<24} {:<18} {} n={} {value}",
            truncate(&r.rule, 24),
            truncate(&group, 18),
            r.period,
            r.n
        )?;
        for why in &r.reasons {
            writeln!(w, "        {why}")?;
        }
    }
    if !follow_up.is_empty() {
        writeln!(w)?;
        writeln!(w, "Follow up ({} newest unhappy answers):", follow_up.len())?;
        for f in follow_up {
            writeln!(
                w,
                "  {:<10} {} {} {} {}",
                f.customer_id.as_deref().unwrap_or("(no id)"),
                f.submitted,
                f.metric,
                f.score,
                f.comment
                    .as_deref()
                    .map(|c| format!("\"{}\"", truncate(c, 60)))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// One analysed text of a CSV.
#[derive(Debug, Clone, Copy)]
pub struct TextCsvRow<'a> {
    pub line: u64,
    pub language: &'a str,
    pub sentiment: f64,
    pub label: &'a str,
    pub themes: &'a [String],
    pub text: &'a str,
}

/// One CSV row per text: line, language, sentiment, label, themes (`;`-separated), text.
pub fn text_csv(w: &mut Vec<u8>, rows: &[TextCsvRow<'_>]) -> Result<(), csv::Error> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(["line", "language", "sentiment", "label", "themes", "text"])?;
    for r in rows {
        c.write_record([
            r.line.to_string(),
            r.language.into(),
            format!("{:.4}", r.sentiment),
            r.label.into(),
            r.themes.join(";"),
            r.text.into(),
        ])?;
    }
    c.flush()?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn row(n: u64, small_sample: bool, note: Option<&str>) -> MetricRow {
        MetricRow {
            metric: "k_factor".into(),
            period: None,
            period_start: None,
            segment: Default::default(),
            n,
            n_effective: n as f64,
            value: Some(0.2),
            se: Some(0.05),
            ci_low: Some(0.1),
            ci_high: Some(0.3),
            interval_method: None,
            small_sample,
            note: note.map(str::to_string),
            detail: Default::default(),
        }
    }

    /// Rows under the table's minimum are marked `!`; rows with enough answers whose
    /// interval still covers less than its level (a calibration note) are marked `~`; each
    /// mark is explained once, and only when used.
    #[test]
    fn rows_too_small_for_their_interval_are_marked() {
        let note = &cxray_stats::estimate::small_sample::note(40, 50, "few customers");
        let render = |rows: &[MetricRow]| {
            let mut w = Vec::new();
            let t = MetricsTable {
                rows,
                by: &[],
                confidence: 0.95,
                min_n: 30,
                labels: &[],
                counts: (0, 0, 0),
            };
            metrics_table(&mut w, &t).unwrap();
            String::from_utf8(w).unwrap()
        };
        let out = render(&[row(12, true, Some(note)), row(80, false, Some(note))]);
        let marks: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("(all)"))
            .map(|l| &l[l.len() - 2..])
            .collect();
        assert_eq!(marks, [" !", " ~"], "{out}");
        assert!(
            out.contains("! fewer than 30 answers") && out.contains("~ too few"),
            "{out}"
        );
        let plain = render(&[row(80, false, None)]);
        assert!(!plain.contains('~') && !plain.contains('!'), "{plain}");
    }
}
