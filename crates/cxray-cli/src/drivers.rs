//! `cxray drivers`: key driver analysis of an outcome (NPS by default) on attribute ratings
//! answered in the same submission (see `cxray_insights::drivers`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use anyhow::anyhow;
use arrow::array::{Array, AsArray};
use cxray_insights::drivers::{DriverInput, DriverOptions, Drivers, drivers};
use cxray_metrics::MetricKind;
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::DriversArgs;
use crate::input::{self, AnswerColumns, Project};
use crate::output::InputSummary;

type Fast = BuildHasherDefault<cxray_ingest::IdHasher>;

/// The key of a submission: the response id before `#` in wide exports (one row per
/// respondent), else the customer and the submission time (long exports with one id per
/// answer), else the response id.
fn key_parts<'a>(c: &AnswerColumns<'a>, r: usize) -> (u8, &'a str, i64) {
    let id = c.response_id.value(r);
    match id.split_once('#') {
        Some((base, _)) => (0, base, 0),
        None if !c.customer_id.is_null(r) => (1, c.customer_id.value(r), c.submitted_at.value(r)),
        None => (2, id, 0),
    }
}

fn submission_key((kind, text, at): (u8, &str, i64)) -> u64 {
    let mut h = cxray_ingest::IdHasher::default();
    h.write_u8(kind);
    h.write(text.as_bytes());
    h.write_i64(at);
    h.finish()
}

/// Rows of (drivers…, outcome) per submission; a value not answered is NaN. Answers of one
/// submission usually follow each other, so a row's key is compared with the previous row's
/// before it is hashed and looked up.
fn submissions(project: &Project, metrics: &[String], extras: &[Extra]) -> Vec<f64> {
    let p = metrics.len() + extras.len();
    let batches = &project.loaded.batches;
    let mi = project.loaded.schema.index_of("metric").expect("metric");
    // Contiguous ranges of batches on every core, merged in order afterwards.
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8)
        .min(batches.len().max(1));
    let per = batches.len().div_ceil(threads).max(1);
    type Part = (HashMap<u64, usize, Fast>, Vec<f64>);
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = batches
            .chunks(per)
            .map(|chunk| s.spawn(move || submissions_of(chunk, mi, metrics, extras)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("submissions thread"))
            .collect()
    });
    let mut parts = parts.into_iter();
    let Some((mut index, mut rows)) = parts.next() else {
        return Vec::new();
    };
    for (idx, more) in parts {
        let mut by_row: Vec<(usize, u64)> = idx.into_iter().map(|(k, r)| (r, k)).collect();
        by_row.sort_unstable();
        for (r, key) in by_row {
            let src = &more[r * p..(r + 1) * p];
            let k = *index.entry(key).or_insert_with(|| {
                rows.extend(std::iter::repeat_n(f64::NAN, p));
                rows.len() / p - 1
            });
            for (j, v) in src.iter().enumerate() {
                if !v.is_nan() {
                    rows[k * p + j] = *v;
                }
            }
        }
    }
    rows
}

/// The submissions of some batches: their keys and rows.
fn submissions_of(
    batches: &[arrow::record_batch::RecordBatch],
    mi: usize,
    metrics: &[String],
    extras: &[Extra],
) -> (HashMap<u64, usize, Fast>, Vec<f64>) {
    let p = metrics.len() + extras.len();
    // Row layout: drivers, indicators, outcome (the last metric).
    let outcome = metrics.len() - 1;
    let mut index: HashMap<u64, usize, Fast> = HashMap::with_hasher(Fast::default());
    let mut rows: Vec<f64> = Vec::new();
    for b in batches {
        let c = AnswerColumns::of_ids(b);
        // The metric's slot per dictionary value (the column is dictionary encoded).
        let dict = b.column(mi).as_dictionary::<arrow::datatypes::Int32Type>();
        let values = dict.values().as_string::<i32>();
        let slots: Vec<Option<usize>> = (0..values.len())
            .map(|v| metrics.iter().position(|m| m == values.value(v)))
            .collect();
        let keys = dict.keys();
        let extra_cols: Vec<Option<arrow::array::ArrayRef>> = extras
            .iter()
            .map(|e| {
                b.column_by_name(e.column())
                    .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok())
            })
            .collect();
        let mut last: Option<((u8, &str, i64), usize)> = None; // (key, submission)
        for r in 0..b.num_rows() {
            let Some(j) = slots[keys.value(r) as usize] else {
                continue;
            };
            let parts = key_parts(&c, r);
            let k = match last {
                Some((q, k)) if q == parts => k,
                _ => *index.entry(submission_key(parts)).or_insert_with(|| {
                    rows.extend(std::iter::repeat_n(f64::NAN, p));
                    rows.len() / p - 1
                }),
            };
            last = Some((parts, k));
            if j == outcome {
                rows[k * p + p - 1] = c.score.value(r);
                for (e, (x, col)) in extras.iter().zip(&extra_cols).enumerate() {
                    let v = col.as_ref().and_then(|a| {
                        let a = a.as_string::<i32>();
                        (!a.is_null(r)).then(|| a.value(r))
                    });
                    rows[k * p + outcome + e] = x.value(v) as u8 as f64;
                }
            } else {
                rows[k * p + j] = c.score.value(r);
            }
        }
    }
    (index, rows)
}

/// A 0/1 driver read from the outcome answer's row: a comment theme is mentioned, or the
/// answer belongs to a segment.
#[derive(Debug, Clone)]
pub enum Extra {
    Theme(String),
    Segment { column: String, level: String },
}

impl Extra {
    fn column(&self) -> &str {
        match self {
            Extra::Theme(_) => cxray_ingest::enrich::TEXT_COLUMNS[3],
            Extra::Segment { column, .. } => column,
        }
    }

    fn value(&self, v: Option<&str>) -> bool {
        match (self, v) {
            (Extra::Theme(t), Some(combo)) => {
                cxray_ingest::enrich::split_themes(combo).any(|x| x == t)
            }
            (Extra::Segment { level, .. }, Some(x)) => x == level,
            _ => false,
        }
    }

    fn name(&self) -> String {
        match self {
            Extra::Theme(t) => format!("theme: {t}"),
            Extra::Segment { column, level } => format!("{column}={level}"),
        }
    }
}

/// The indicators to add: the themes mentioned with at least 1% of the outcome's answers and
/// every level of each segment column but the largest, among those with at least 1%.
fn extras_for(
    project: &Project,
    outcome: &str,
    themes: bool,
    segments: &[String],
) -> Result<Vec<Extra>, Failure> {
    let mut out = Vec::new();
    let mut columns: Vec<&str> = segments.iter().map(|s| s.as_str()).collect();
    if themes {
        columns.push(cxray_ingest::enrich::TEXT_COLUMNS[3]);
    }
    for col in &columns {
        if project.loaded.schema.index_of(col).is_err() {
            return Err(Failure::input(anyhow!(
                "unknown column '{col}' for the drivers (the responses have: {})",
                project.loaded.attributes.join(", ")
            )));
        }
    }
    let mut counts: Vec<std::collections::BTreeMap<String, u64>> =
        vec![Default::default(); columns.len()];
    let mut n = 0u64;
    for b in &project.loaded.batches {
        let c = AnswerColumns::of(b);
        let cols: Vec<arrow::array::ArrayRef> = columns
            .iter()
            .map(|name| {
                arrow::compute::cast(
                    b.column_by_name(name).expect("checked"),
                    &arrow::datatypes::DataType::Utf8,
                )
                .expect("text")
            })
            .collect();
        for r in 0..b.num_rows() {
            if c.metric.value(r) != outcome {
                continue;
            }
            n += 1;
            for (k, a) in cols.iter().enumerate() {
                let a = a.as_string::<i32>();
                if a.is_null(r) {
                    continue;
                }
                if themes && k == columns.len() - 1 {
                    for t in cxray_ingest::enrich::split_themes(a.value(r)) {
                        *counts[k].entry(t.to_string()).or_default() += 1;
                    }
                } else {
                    *counts[k].entry(a.value(r).to_string()).or_default() += 1;
                }
            }
        }
    }
    let min = (n / 100).max(1);
    for (k, col) in columns.iter().enumerate() {
        let theme_col = themes && k == columns.len() - 1;
        let largest = counts[k].iter().max_by_key(|x| *x.1).map(|x| x.0.clone());
        for (v, &c) in &counts[k] {
            if c < min || (!theme_col && Some(v) == largest.as_ref()) {
                continue;
            }
            out.push(if theme_col {
                Extra::Theme(v.clone())
            } else {
                Extra::Segment {
                    column: col.to_string(),
                    level: v.clone(),
                }
            });
        }
    }
    Ok(out)
}

/// The drivers: given, or the declared ones, or every other metric answered with the outcome.
pub fn driver_names(project: &Project, a: &DriversArgs) -> Result<Vec<String>, Failure> {
    if !a.drivers.is_empty() {
        return Ok(a.drivers.iter().map(|d| d.trim().to_string()).collect());
    }
    let declared: Vec<String> = crate::input::driver_metrics(&project.config);
    if !declared.is_empty() {
        return Ok(declared);
    }
    let mut seen: Vec<String> = Vec::new();
    for b in &project.loaded.batches {
        let c = AnswerColumns::of(b);
        for r in 0..c.metric.len() {
            let m = c.metric.value(r);
            if m != a.outcome && !seen.iter().any(|s| s == m) {
                seen.push(m.to_string());
            }
        }
    }
    Ok(seen)
}

/// The analysis for a loaded project.
pub fn build(project: &Project, a: &DriversArgs) -> Result<Drivers, Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    let names = driver_names(project, a)?;
    let extras = extras_for(project, &a.outcome, a.with_themes, &a.with_segments)?;
    analyse(project, &a.outcome, names, extras, a.replicates, confidence)
}

/// Key drivers of `outcome` among the driver metrics `names`.
pub fn analyse(
    project: &Project,
    outcome: &str,
    names: Vec<String>,
    extras: Vec<Extra>,
    replicates: usize,
    confidence: Confidence,
) -> Result<Drivers, Failure> {
    let outcome = project.catalog.get(outcome).map_err(Failure::input)?;
    if names.is_empty() {
        return Err(Failure::input(anyhow!(
            "no drivers: give --drivers, or declare attribute ratings with `driver = true` in \
             [metrics.NAME] of cxray.toml"
        )));
    }
    if let Some(n) = names.iter().find(|n| **n == outcome.name) {
        return Err(Failure::input(anyhow!(
            "'{n}' is the outcome; it cannot also be a driver"
        )));
    }
    if let Some(n) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        return Err(Failure::input(anyhow!("driver '{}' is given twice", n.1)));
    }
    if names.len() + extras.len() > cxray_stats::regression::MAX_SHAPLEY_DRIVERS {
        return Err(Failure::input(anyhow!(
            "{} drivers given (with themes and segment levels); the exact Shapley decomposition \
             takes at most {}",
            names.len() + extras.len(),
            cxray_stats::regression::MAX_SHAPLEY_DRIVERS
        )));
    }
    let mut scales = Vec::new();
    for n in &names {
        let s = project.catalog.get(n).map_err(Failure::input)?;
        scales.push((s.min, s.max));
    }
    let mut metrics = names.clone();
    metrics.push(outcome.name.clone());
    let t0 = std::time::Instant::now();
    let rows = submissions(project, &metrics, &extras);
    let p = metrics.len() + extras.len();
    let mut indicators = vec![false; names.len()];
    let mut all_names = names.clone();
    for e in &extras {
        scales.push((0.0, 1.0));
        indicators.push(true);
        all_names.push(e.name());
    }
    let complete: Vec<f64> = rows
        .chunks_exact(p)
        .filter(|r| r.iter().all(|x| !x.is_nan()))
        .flatten()
        .copied()
        .collect();
    let n = complete.len() / p;
    if (n as u64) < (p as u64 + 10).max(project.config.project.min_n) {
        return Err(Failure::input(anyhow!(
            "only {n} submissions answer {} and every driver ({}): too few for a driver analysis",
            outcome.name,
            names.join(", ")
        )));
    }
    crate::progress::timing("driver rows", t0);
    let t0 = std::time::Instant::now();
    let d = drivers(
        &DriverInput {
            outcome: outcome.name.clone(),
            drivers: all_names,
            rows: &complete,
            scales,
            nps_outcome: outcome.kind == MetricKind::Nps,
            indicators,
        },
        &DriverOptions {
            confidence,
            replicates,
            ..Default::default()
        },
    )
    .map_err(Failure::input)?;
    crate::progress::timing("drivers", t0);
    Ok(d)
}

#[derive(serde::Serialize)]
struct DriversOutput<'a> {
    drivers: &'a Drivers,
    input: InputSummary,
}

pub fn run(a: DriversArgs) -> Result<(), Failure> {
    let segments: Vec<String> = a
        .with_segments
        .iter()
        .map(|s| s.trim().to_string())
        .collect();
    let mut project = input::load(&a.input, Some(segments))?;
    if a.with_themes {
        project.enrich_text();
        if project.text.is_none() {
            return Err(Failure::input(anyhow!(
                "--with-themes needs responses with comments (and [text] enabled)"
            )));
        }
    }
    let d = build(&project, &a)?;
    let json = DriversOutput {
        drivers: &d,
        input: InputSummary::of_responses(&project.loaded),
    };
    crate::output::emit_summary(&a.out, &json, |w| write_table(w, &d))
}

fn write_table(w: &mut Vec<u8>, d: &Drivers) -> std::io::Result<()> {
    use std::io::Write;
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
            crate::output::truncate(&r.driver, 20),
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
