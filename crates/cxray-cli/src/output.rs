//! Rendering of the metrics table as an 80-column terminal table, JSON (documented in
//! `docs/json.md`) or CSV. Nothing here computes statistics.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use cxray_engine::HistogramQuery;
use cxray_ingest::{Loaded, SourceReport};
use cxray_insights::MetricRow;
use cxray_metrics::MetricCatalog;
use cxray_stats::Confidence;
use serde::Serialize;

use crate::args::FormatArg;

/// Row counts of the input.
#[derive(Debug, Serialize)]
pub struct InputSummary {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub sources: Vec<SourceReport>,
}

/// Settings the numbers depend on.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub confidence: f64,
    pub by: Vec<String>,
    pub period: Option<cxray_engine::Period>,
    pub since: Option<chrono::NaiveDate>,
    pub until: Option<chrono::NaiveDate>,
    pub min_n: u64,
}

/// The JSON document of `cxray metrics --format json`.
#[derive(Debug, Serialize)]
pub struct MetricsOutput {
    pub rows: Vec<MetricRow>,
    pub input: InputSummary,
    pub settings: Settings,
    #[serde(skip)]
    labels: Vec<(String, String, String)>,
}

impl InputSummary {
    /// Counts of loaded responses.
    pub fn of_responses(loaded: &Loaded) -> Self {
        InputSummary {
            rows_read: loaded.totals.read,
            rows_accepted: loaded.totals.accepted,
            rows_rejected: loaded.totals.rejected,
            sources: loaded.sources.clone(),
        }
    }

    /// Counts of a loaded entity table.
    pub fn of_entity(t: &cxray_ingest::EntityTable) -> Self {
        InputSummary {
            rows_read: t.totals.read,
            rows_accepted: t.totals.accepted,
            rows_rejected: t.totals.rejected,
            sources: t.sources.clone(),
        }
    }

    /// Both inputs together.
    pub fn and(mut self, o: InputSummary) -> Self {
        self.rows_read += o.rows_read;
        self.rows_accepted += o.rows_accepted;
        self.rows_rejected += o.rows_rejected;
        self.sources.extend(o.sources);
        self
    }
}

impl MetricsOutput {
    pub fn new(
        rows: Vec<MetricRow>,
        input: InputSummary,
        q: &HistogramQuery,
        confidence: Confidence,
        min_n: u64,
        catalog: &MetricCatalog,
    ) -> Self {
        let mut labels: Vec<(String, String, String)> = catalog
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.display_name.clone(),
                    s.value_label.clone(),
                )
            })
            .collect();
        for d in cxray_metrics::operational::OPERATIONAL_METRICS {
            labels.push((
                d.name.to_string(),
                d.display_name.to_string(),
                d.value_label.to_string(),
            ));
        }
        MetricsOutput {
            rows,
            input,
            settings: Settings {
                confidence: confidence.level(),
                by: q.by.clone(),
                period: q.period,
                since: q.since,
                until: q.until,
                min_n,
            },
            labels,
        }
    }
}

/// Writes the output in the chosen format to a file or standard output.
pub fn write_metrics(
    out: &MetricsOutput,
    format: FormatArg,
    path: Option<&Path>,
) -> anyhow::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    match format {
        FormatArg::Json => {
            serde_json::to_writer_pretty(&mut buf, out)?;
            buf.push(b'\n');
        }
        FormatArg::Csv => write_csv(&mut buf, out)?,
        FormatArg::Table => write_table(&mut buf, out)?,
    }
    emit(&buf, path)
}

/// Writes finished output to a file or standard output.
pub fn emit(buf: &[u8], path: Option<&Path>) -> anyhow::Result<()> {
    match path {
        Some(p) => {
            std::fs::write(p, buf).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(buf)?;
            stdout.flush()?;
        }
    }
    Ok(())
}

fn write_csv(w: &mut Vec<u8>, out: &MetricsOutput) -> anyhow::Result<()> {
    let mut wr = csv::Writer::from_writer(w);
    let mut header: Vec<String> = vec!["metric".into(), "period".into()];
    header.extend(out.settings.by.iter().cloned());
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
    for r in &out.rows {
        let mut rec: Vec<String> = vec![r.metric.clone(), r.period.clone().unwrap_or_default()];
        for b in &out.settings.by {
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
        rec.push(serde_json::to_string(&r.detail)?);
        wr.write_record(&rec)?;
    }
    wr.flush()?;
    Ok(())
}

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

fn write_table(w: &mut Vec<u8>, out: &MetricsOutput) -> anyhow::Result<()> {
    let conf = (out.settings.confidence * 100.0).round();
    let has_period = out.rows.iter().any(|r| r.period.is_some());
    let seg_width = if has_period { 28 } else { 37 };
    let mut current: Option<&str> = None;
    let mut flagged = false;
    for r in &out.rows {
        if current != Some(r.metric.as_str()) {
            if current.is_some() {
                writeln!(w)?;
            }
            current = Some(&r.metric);
            let (display, label) = out
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
        }
        writeln!(w, "{line}")?;
    }
    if out.rows.is_empty() {
        writeln!(w, "no answers match the selection")?;
    }
    if flagged {
        writeln!(
            w,
            "\n! fewer than {} answers: too few for a reliable estimate",
            out.settings.min_n
        )?;
    }
    writeln!(
        w,
        "\n{} rows read, {} accepted, {} rejected",
        out.input.rows_read, out.input.rows_accepted, out.input.rows_rejected
    )?;
    Ok(())
}

/// Writes an analysis as its summary table or as pretty JSON, to the file or standard output.
pub fn emit_summary(
    out: &crate::args::SummaryOut,
    json: &impl serde::Serialize,
    table: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
) -> Result<(), crate::Failure> {
    use crate::Failure;
    let mut buf = Vec::new();
    match out.format {
        crate::args::FormatArg::Json => {
            serde_json::to_writer_pretty(&mut buf, json).map_err(Failure::runtime)?;
            buf.push(b'\n');
        }
        crate::args::FormatArg::Table => table(&mut buf).map_err(Failure::runtime)?,
        crate::args::FormatArg::Csv => {
            return Err(Failure::input(anyhow::anyhow!(
                "this command writes a summary table or JSON: use --format table or --format json"
            )));
        }
    }
    emit(&buf, out.output.as_deref()).map_err(Failure::runtime)
}
