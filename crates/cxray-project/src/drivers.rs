//! Key driver analysis: which attribute ratings answered in the same submission drive an
//! outcome (NPS by default), and what to fix first (see `cxray_insights::drivers`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use arrow::array::{Array, AsArray};
use cxray_ingest::Loaded;
use cxray_insights::drivers::{DriverInput, DriverOptions, Drivers, drivers};
use cxray_metrics::MetricKind;
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::{AnswerColumns, trimmed};
use crate::error::{Error, Result};
use crate::observe::phase;
use crate::project::{Enrich, InputSummary, Project};

/// What `drivers` computes.
#[derive(Debug, Clone)]
pub struct DriversRequest {
    /// The outcome metric.
    pub outcome: String,
    /// Driver metrics (default: those declared with `driver = true`, else every other metric
    /// answered in the data).
    pub drivers: Vec<String>,
    /// Add the comment themes of the outcome's answers as 0/1 drivers.
    pub with_themes: bool,
    /// Add these segment columns as 0/1 drivers (one per level but the largest).
    pub with_segments: Vec<String>,
    /// Bootstrap replicates of the importance intervals.
    pub replicates: usize,
    pub confidence: Confidence,
}

impl Default for DriversRequest {
    fn default() -> Self {
        DriversRequest {
            outcome: "nps".into(),
            drivers: vec![],
            with_themes: false,
            with_segments: vec![],
            replicates: 200,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
        }
    }
}

/// The key drivers, with the input behind them.
#[derive(Debug, Clone, Serialize)]
pub struct DriversOutput {
    pub drivers: Drivers,
    pub input: InputSummary,
}

type Fast = BuildHasherDefault<cxray_kernels::IdHasher>;

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
    let mut h = cxray_kernels::IdHasher::default();
    h.write_u8(kind);
    h.write(text.as_bytes());
    h.write_i64(at);
    h.finish()
}

/// Rows of (drivers…, outcome) per submission; a value not answered is NaN. Answers of one
/// submission usually follow each other, so a row's key is compared with the previous row's
/// before it is hashed and looked up.
fn submissions(loaded: &Loaded, threads: usize, metrics: &[String], extras: &[Extra]) -> Vec<f64> {
    let p = metrics.len() + extras.len();
    let batches = &loaded.batches;
    let mi = loaded.schema.index_of("metric").expect("metric");
    // Contiguous ranges of batches on every core, merged in order afterwards.
    let threads = threads.clamp(1, 8).min(batches.len().max(1));
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
    // In the order of their keys, not of the input: the bootstrap that draws these rows then
    // gives the same intervals for the same answers in any order (a CSV export or a lake,
    // whose rows are grouped by month).
    let mut order: Vec<(u64, usize)> = index.into_iter().collect();
    order.sort_unstable();
    let mut sorted = Vec::with_capacity(rows.len());
    for (_, r) in order {
        sorted.extend_from_slice(&rows[r * p..(r + 1) * p]);
    }
    sorted
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
pub(crate) enum Extra {
    Theme(String),
    Segment { column: String, level: String },
}

impl Extra {
    fn column(&self) -> &str {
        match self {
            Extra::Theme(_) => crate::enrich::TEXT_COLUMNS[3],
            Extra::Segment { column, .. } => column,
        }
    }

    fn value(&self, v: Option<&str>) -> bool {
        match (self, v) {
            (Extra::Theme(t), Some(combo)) => crate::enrich::split_themes(combo).any(|x| x == t),
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
    loaded: &Loaded,
    outcome: &str,
    themes: bool,
    segments: &[String],
) -> Result<Vec<Extra>> {
    let mut out = Vec::new();
    let mut columns: Vec<&str> = segments.iter().map(|s| s.as_str()).collect();
    if themes {
        columns.push(crate::enrich::TEXT_COLUMNS[3]);
    }
    for col in &columns {
        if loaded.schema.index_of(col).is_err() {
            return Err(Error::usage(format!(
                "unknown column '{col}' for the drivers (the responses have: {})",
                loaded.attributes.join(", ")
            ))
            .about("with_segments"));
        }
    }
    let mut counts: Vec<std::collections::BTreeMap<String, u64>> =
        vec![Default::default(); columns.len()];
    let mut n = 0u64;
    for b in &loaded.batches {
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
                    for t in crate::enrich::split_themes(a.value(r)) {
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
fn driver_names(project: &Project, loaded: &Loaded, req: &DriversRequest) -> Vec<String> {
    if !req.drivers.is_empty() {
        return req.drivers.iter().map(|d| d.trim().to_string()).collect();
    }
    let declared = project.driver_metrics();
    if !declared.is_empty() {
        return declared;
    }
    let mut seen: Vec<String> = Vec::new();
    for b in &loaded.batches {
        let c = AnswerColumns::of(b);
        for r in 0..c.metric.len() {
            let m = c.metric.value(r);
            if m != req.outcome && !seen.iter().any(|s| s == m) {
                seen.push(m.to_string());
            }
        }
    }
    seen
}

impl Project {
    /// Key drivers of an outcome among attribute ratings (and themes or segments as 0/1
    /// drivers): Shapley importance with bootstrap intervals, and what to fix first.
    pub fn drivers(&self, req: &DriversRequest) -> Result<DriversOutput> {
        let responses = self.responses_with(Enrich {
            text: req.with_themes,
            touchpoints: false,
        })?;
        if req.with_themes && responses.text.is_none() {
            return Err(Error::usage(
                "themes as drivers need responses with comments (and [text] enabled)",
            )
            .about("with_themes"));
        }
        let loaded = &responses.loaded;
        let names = driver_names(self, loaded, req);
        let segments = trimmed(&req.with_segments);
        let extras = extras_for(loaded, &req.outcome, req.with_themes, &segments)?;
        let drivers = analyse_asked(
            self,
            loaded,
            &req.outcome,
            (names, !req.drivers.is_empty()),
            extras,
            req.replicates,
            req.confidence,
        )?;
        Ok(DriversOutput {
            drivers,
            input: InputSummary::of_responses(loaded),
        })
    }
}

/// Key drivers of `outcome` among the driver metrics `names`.
pub(crate) fn analyse(
    project: &Project,
    loaded: &Loaded,
    outcome: &str,
    names: Vec<String>,
    extras: Vec<Extra>,
    replicates: usize,
    confidence: Confidence,
) -> Result<Drivers> {
    analyse_asked(
        project,
        loaded,
        outcome,
        (names, false),
        extras,
        replicates,
        confidence,
    )
}

/// [`analyse`]; `asked` says whether the driver names come from the request (errors about them
/// are about its `drivers` field) or from the project (`driver = true`, or the data).
fn analyse_asked(
    project: &Project,
    loaded: &Loaded,
    outcome: &str,
    (names, asked): (Vec<String>, bool),
    extras: Vec<Extra>,
    replicates: usize,
    confidence: Confidence,
) -> Result<Drivers> {
    let about_drivers = |e: Error| if asked { e.about("drivers") } else { e };
    let outcome = project
        .catalog()
        .get(outcome)
        .map_err(|e| Error::usage(e).about("outcome"))?;
    if names.is_empty() {
        return Err(about_drivers(Error::usage(
            "no drivers: name the driver metrics, or declare attribute ratings with `driver = \
             true` in [metrics.NAME] of cxray.toml",
        )));
    }
    if let Some(n) = names.iter().find(|n| **n == outcome.name) {
        return Err(about_drivers(Error::usage(format!(
            "'{n}' is the outcome; it cannot also be a driver"
        ))));
    }
    if let Some(n) = names
        .iter()
        .enumerate()
        .find(|(i, n)| names[..*i].contains(n))
    {
        return Err(about_drivers(Error::usage(format!(
            "driver '{}' is given twice",
            n.1
        ))));
    }
    if names.len() + extras.len() > cxray_stats::regression::MAX_SHAPLEY_DRIVERS {
        return Err(about_drivers(Error::usage(format!(
            "{} drivers given (with themes and segment levels); the exact Shapley decomposition \
             takes at most {}",
            names.len() + extras.len(),
            cxray_stats::regression::MAX_SHAPLEY_DRIVERS
        ))));
    }
    let mut scales = Vec::new();
    for n in &names {
        let s = project
            .catalog()
            .get(n)
            .map_err(|e| about_drivers(Error::usage(e)))?;
        scales.push((s.min, s.max));
    }
    let mut metrics = names.clone();
    metrics.push(outcome.name.clone());
    let rows = phase(project.observer(), "driver rows", || {
        submissions(loaded, project.threads(), &metrics, &extras)
    });
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
    if (n as u64) < (p as u64 + 10).max(project.config().project.min_n) {
        return Err(Error::bad_input(format!(
            "only {n} submissions answer {} and every driver ({}): too few for a driver analysis",
            outcome.name,
            names.join(", ")
        )));
    }
    phase(project.observer(), "drivers", || {
        drivers(
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
    })
    .map_err(Error::bad_input)
}
