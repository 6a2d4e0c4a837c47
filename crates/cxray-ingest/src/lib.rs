//! # cxray-ingest
//!
//! Reads survey responses from CSV (any delimiter, quoted fields, UTF-8 with or without BOM,
//! UTF-16, legacy encodings on request), NDJSON and Parquet, in long form (one row per answer)
//! or wide form (one row per respondent, one column per question, as Qualtrics, SurveyMonkey
//! and Typeform export), validates every row, and returns canonical responses as Arrow record
//! batches for the engine.
//!
//! Nothing is lost silently: every row that is not used becomes a [`Reject`] with file, line,
//! column, value and reason, and for every source `read = accepted + rejected`.
//!
//! ```no_run
//! use cxray_ingest::{LoadOptions, SourceConfig, Sources, load_responses};
//! use cxray_metrics::MetricCatalog;
//! let sources = Sources {
//!     list: vec![SourceConfig { path: "responses.csv".into(), ..Default::default() }],
//!     ..Default::default()
//! };
//! let loaded = load_responses(&sources, &MetricCatalog::builtin(), &LoadOptions::default()).unwrap();
//! println!("{} accepted, {} rejected", loaded.totals.accepted, loaded.totals.rejected);
//! ```

pub mod config;
pub mod entity;
pub mod error;
pub mod lake;
mod lake_ids;
mod mapping;
pub mod rejects;
mod rows;
pub mod table;
mod text;
pub mod timestamp;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use cxray_kernels::{hash_id, parallel};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray, new_null_array};
use arrow::buffer::ScalarBuffer;
use arrow::compute::filter_record_batch;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use cxray_metrics::MetricCatalog;

pub use config::{
    Content, CustomerNote, DuplicatePolicy, Format, Layout, QuestionConfig, SourceConfig,
    SourceProvider, Sources,
};
pub use entity::{Entity, EntityTable, load_entity};
pub use error::IngestError;
pub use mapping::{CANONICAL, canonical_of_header};
pub use rejects::{Reject, write_rejects_csv};
pub use rows::{Counts, FIXED_COLUMNS, responses_schema};

use mapping::Plan;
use rows::{ChunkOutput, RawBatch};
use timestamp::{TimeParser, parse_tz};

/// Settings of one load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Any rejected row is an error.
    pub strict: bool,
    /// Worker threads for parsing (default: available cores).
    pub threads: usize,
    /// Segment attributes to keep (None: all). Canonical columns are always read and checked;
    /// other columns are still parsed (so malformed rows are found) but not stored, and Parquet
    /// columns not needed are not read at all.
    pub attributes: Option<Vec<String>>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            strict: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            attributes: None,
        }
    }
}

/// Columns of a plan that validation reads.
fn needed_columns(plan: &Plan) -> Vec<usize> {
    let mut v: Vec<usize> = [
        plan.response_id,
        plan.customer_id,
        Some(plan.submitted_at),
        plan.score,
        plan.comment,
        plan.weight,
        match plan.metric {
            mapping::MetricSource::Column(i) => Some(i),
            _ => None,
        },
    ]
    .into_iter()
    .flatten()
    .chain(plan.attributes.iter().map(|(i, _)| *i))
    .chain(
        plan.questions
            .iter()
            .flat_map(|q| std::iter::once(q.column).chain(q.comment)),
    )
    .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The plan with only the requested attributes.
fn project(mut plan: Plan, opts: &LoadOptions) -> Plan {
    if let Some(keep) = &opts.attributes {
        plan.attributes.retain(|(_, n)| keep.contains(n));
    }
    plan
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SourceReport {
    pub file: String,
    pub format: Format,
    pub layout: Layout,
    pub delimiter: Option<String>,
    pub counts: Counts,
    /// Rows rejected as duplicate response ids (included in `counts.rejected`).
    pub duplicates: u64,
    /// Mappings inferred from the header, for the user to check.
    pub notes: Vec<String>,
    /// First and last local date of accepted answers (YYYY-MM-DD).
    pub first_date: Option<String>,
    pub last_date: Option<String>,
}

/// Canonical responses of all sources.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub schema: Arc<Schema>,
    pub batches: Vec<RecordBatch>,
    pub rejects: Vec<Reject>,
    pub sources: Vec<SourceReport>,
    pub totals: Counts,
    /// Attribute (segment) columns, in schema order.
    pub attributes: Vec<String>,
}

/// The names of several lists, each once, in order of first appearance.
pub(crate) fn union_of<'a>(lists: impl IntoIterator<Item = &'a Vec<String>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in lists.into_iter().flatten() {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

impl Loaded {
    /// Both loads as one, with the union of their segment columns.
    pub fn merge(self, other: Loaded) -> Loaded {
        let attributes = union_of([&self.attributes, &other.attributes]);
        let schema = responses_schema(&attributes);
        let mut batches = Vec::with_capacity(self.batches.len() + other.batches.len());
        for (part, names) in [
            (self.batches, &self.attributes),
            (other.batches, &other.attributes),
        ] {
            batches.extend(
                part.into_iter()
                    .map(|b| conform(b, names, &attributes, &schema)),
            );
        }
        let mut totals = self.totals;
        totals.add(&other.totals);
        Loaded {
            schema,
            batches,
            rejects: self.rejects.into_iter().chain(other.rejects).collect(),
            sources: self.sources.into_iter().chain(other.sources).collect(),
            totals,
            attributes,
        }
    }
}

/// Loads every responses source of the project.
pub fn load_responses(
    cfg: &Sources,
    catalog: &MetricCatalog,
    opts: &LoadOptions,
) -> Result<Loaded, IngestError> {
    load_responses_with_lines(cfg, catalog, opts).map(|r| r.loaded)
}

/// Answers with what the lake needs besides.
pub(crate) struct WithLines {
    pub loaded: Loaded,
    /// The input line of every accepted answer (one buffer per batch).
    pub lines: Vec<ScalarBuffer<u64>>,
    /// Per source: whether its ids come from the file (not made of its name and line).
    pub ids_given: Vec<bool>,
}

/// [`load_responses`], with the input line of every accepted answer.
pub(crate) fn load_responses_with_lines(
    cfg: &Sources,
    catalog: &MetricCatalog,
    opts: &LoadOptions,
) -> Result<WithLines, IngestError> {
    let project_tz = parse_tz(&cfg.timezone).map_err(|m| IngestError::Config {
        path: cfg.origin.clone(),
        message: m,
    })?;
    let mut all: Vec<(RecordBatch, Vec<String>)> = Vec::new();
    let mut lines = Vec::new();
    let mut ids_given = Vec::new();
    let mut rejects = Vec::new();
    let mut sources = Vec::new();
    let mut totals = Counts::default();
    for src in cfg.list.iter().filter(|s| s.holds(None)) {
        let path = cfg.resolve(&src.path);
        let time = source_time(src, &path, project_tz)?;
        let t0 = std::time::Instant::now();
        let (outputs, plan, report) = load_source(&path, src, catalog, time, opts)?;
        timing("read and validate", t0);
        let t0 = std::time::Instant::now();
        let names: Vec<String> = plan.attributes.iter().map(|(_, n)| n.clone()).collect();
        ids_given.push(plan.response_id.is_some());
        let (outputs, dup_rejects) = deduplicate(outputs, &plan, src, &path, opts.threads)?;
        timing("duplicates", t0);
        let mut counts = Counts::default();
        let mut first: Option<i32> = None;
        let mut last: Option<i32> = None;
        for o in &outputs {
            counts.add(&o.counts);
            let days = o
                .batch
                .column(3)
                .as_any()
                .downcast_ref::<arrow::array::Date32Array>()
                .expect("local_date is Date32");
            if let (Some(lo), Some(hi)) = (arrow::compute::min(days), arrow::compute::max(days)) {
                first = Some(first.map_or(lo, |f| f.min(lo)));
                last = Some(last.map_or(hi, |l| l.max(hi)));
            }
        }
        let dups = dup_rejects.len() as u64;
        counts.accepted -= dups;
        counts.rejected += dups;
        if counts.records == 0 {
            return Err(IngestError::NoRows { path });
        }
        debug_assert_eq!(counts.read, counts.accepted + counts.rejected);
        for mut o in outputs {
            rejects.append(&mut o.rejects);
            if o.batch.num_rows() > 0 {
                all.push((o.batch, names.clone()));
                lines.push(o.lines);
            }
        }
        rejects.extend(dup_rejects);
        totals.add(&counts);
        sources.push(SourceReport {
            file: path.display().to_string(),
            format: report.0,
            layout: plan.layout,
            delimiter: report.1.map(|d| (d as char).to_string()),
            counts,
            duplicates: dups,
            notes: plan.notes.clone(),
            first_date: first.map(|d| timestamp::days_to_date(d).to_string()),
            last_date: last.map(|d| timestamp::days_to_date(d).to_string()),
        });
    }
    if opts.strict && !rejects.is_empty() {
        return Err(IngestError::Strict {
            rejected: totals.rejected,
            first: rejects[0].to_string(),
        });
    }
    // One schema for all sources: the union of their attributes.
    let mut attributes: Vec<String> = Vec::new();
    for (_, names) in &all {
        for n in names {
            if !attributes.contains(n) && !FIXED_COLUMNS.contains(&n.as_str()) {
                attributes.push(n.clone());
            }
        }
    }
    let schema = responses_schema(&attributes);
    let batches = all
        .into_iter()
        .map(|(b, names)| conform(b, &names, &attributes, &schema))
        .collect();
    let loaded = Loaded {
        schema,
        batches,
        rejects,
        sources,
        totals,
        attributes,
    };
    Ok(WithLines {
        loaded,
        lines,
        ids_given,
    })
}

/// The timestamp parser of a source: its format and timezone (the project's by default).
fn source_time(
    src: &SourceConfig,
    path: &Path,
    project_tz: chrono_tz::Tz,
) -> Result<TimeParser, IngestError> {
    let source_tz = match &src.timezone {
        Some(t) => parse_tz(t).map_err(|m| IngestError::Config {
            path: path.to_path_buf(),
            message: m,
        })?,
        None => project_tz,
    };
    Ok(TimeParser::new(
        src.timestamp_format.clone(),
        source_tz,
        project_tz,
    ))
}

/// The format of a source: as configured, else by its file extension. Content in memory is
/// text (CSV or NDJSON).
pub(crate) fn source_format(path: &Path, src: &SourceConfig) -> Result<Format, IngestError> {
    let format = src.format.unwrap_or_else(|| Format::from_path(path));
    if src.content.is_some() && format == Format::Parquet {
        return Err(IngestError::Config {
            path: path.to_path_buf(),
            message: "a source held in memory is read as CSV or NDJSON, not Parquet".into(),
        });
    }
    Ok(format)
}

/// Opens an input file, saying plainly when it does not exist.
fn open_file(path: &Path) -> Result<std::fs::File, IngestError> {
    std::fs::File::open(path).map_err(|e| IngestError::Io {
        path: path.to_path_buf(),
        message: if e.kind() == std::io::ErrorKind::NotFound {
            "file not found".into()
        } else {
            e.to_string()
        },
    })
}

/// Prints how long a phase took when `CXRAY_TIMING` is set.
fn timing(phase: &str, since: std::time::Instant) {
    if std::env::var_os("CXRAY_TIMING").is_some() {
        eprintln!("timing: {phase} {:.3} s", since.elapsed().as_secs_f64());
    }
}

/// Reorders a batch's attribute columns into the union schema, with nulls for absent ones.
pub(crate) fn conform(
    b: RecordBatch,
    names: &[String],
    attributes: &[String],
    schema: &Arc<Schema>,
) -> RecordBatch {
    let fixed = FIXED_COLUMNS.len();
    let mut cols: Vec<ArrayRef> = b.columns()[..fixed].to_vec();
    for (k, a) in attributes.iter().enumerate() {
        match names.iter().position(|n| n == a) {
            Some(i) => cols.push(b.column(fixed + i).clone()),
            None => cols.push(new_null_array(
                schema.field(fixed + k).data_type(),
                b.num_rows(),
            )),
        }
    }
    RecordBatch::try_new(schema.clone(), cols).expect("conformed columns match")
}

type Outputs = (Vec<ChunkOutput>, Plan, (Format, Option<u8>));

fn load_source(
    path: &Path,
    src: &SourceConfig,
    catalog: &MetricCatalog,
    time: TimeParser,
    opts: &LoadOptions,
) -> Result<Outputs, IngestError> {
    let format = source_format(path, src)?;
    let file = path.display().to_string();
    let id_prefix = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("row")
        .to_string();
    match format {
        Format::Csv => load_csv(path, &file, &id_prefix, src, catalog, time, opts),
        Format::Ndjson => load_ndjson(path, &file, &id_prefix, src, catalog, time, opts),
        Format::Parquet => load_parquet(path, &file, &id_prefix, src, catalog, time, opts),
    }
}

fn invalid_batch(path: &Path, e: String) -> IngestError {
    IngestError::Format {
        path: path.to_path_buf(),
        message: format!("cannot convert the data: {e}"),
    }
}

/// Parses the records of one CSV chunk into text columns.
fn csv_chunk(
    text: &[u8],
    chunk: &text::Chunk,
    delimiter: u8,
    width: usize,
    needed: &[usize],
) -> RawBatch {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(&text[chunk.start..chunk.end]);
    let mut rec = csv::ByteRecord::new();
    let rows_guess = (chunk.end - chunk.start) / 48 + 16;
    let mut cols: Vec<arrow::array::StringBuilder> = needed
        .iter()
        .map(|_| arrow::array::StringBuilder::with_capacity(rows_guess, rows_guess * 6))
        .collect();
    let mut lines: Vec<u64> = Vec::with_capacity(rows_guess);
    let mut raw = RawBatch {
        columns: vec![],
        lines: ScalarBuffer::from(Vec::new()),
        field_counts: Some(Vec::with_capacity(rows_guess)),
        overlong: vec![],
        bad_utf8: vec![],
        unreadable: vec![],
    };
    let counts = raw.field_counts.as_mut().expect("set above");
    // One check of the whole chunk (fast on ASCII) instead of one per field; only a chunk with
    // invalid bytes is checked field by field, to report them.
    let valid = std::str::from_utf8(&text[chunk.start..chunk.end]).is_ok();
    while let Ok(true) = rdr.read_byte_record(&mut rec) {
        // A line holding only whitespace is not a record.
        if rec.len() == 1 && rec[0].iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let r = lines.len();
        lines.push(chunk.first_line + rec.position().map_or(1, |p| p.line()) - 1);
        counts.push(rec.len() as u32);
        for (&i, b) in needed.iter().zip(cols.iter_mut()) {
            match rec.get(i) {
                None => b.append_null(),
                // SAFETY: the chunk is valid UTF-8, and a field is a run of its bytes with
                // only ASCII quote characters taken out, which keeps it valid UTF-8.
                Some(bytes) if valid => {
                    b.append_value(unsafe { std::str::from_utf8_unchecked(bytes) })
                }
                Some(bytes) => match std::str::from_utf8(bytes) {
                    Ok(s) => b.append_value(s),
                    Err(_) => {
                        b.append_null();
                        raw.bad_utf8.push((r, i));
                    }
                },
            }
        }
        if rec.len() > width
            && let Some(extra) = (width..rec.len())
                .map(|i| &rec[i])
                .find(|f| !f.iter().all(|b| b.is_ascii_whitespace()))
        {
            raw.overlong
                .push((r, String::from_utf8_lossy(extra).into_owned()));
        }
    }
    let n = lines.len();
    raw.lines = lines.into();
    let mut built = cols.into_iter();
    raw.columns = (0..width)
        .map(|i| match needed.binary_search(&i) {
            Ok(_) => Arc::new(
                built
                    .next()
                    .expect("one builder per needed column")
                    .finish(),
            ) as ArrayRef,
            Err(_) => new_null_array(&arrow::datatypes::DataType::Null, n),
        })
        .collect();
    raw
}

/// A CSV file read into memory, its delimiter and header, and where its rows begin.
struct CsvStart {
    text: text::Text,
    delimiter: u8,
    header: Vec<String>,
    body_start: usize,
    body_line: u64,
}

fn csv_start(path: &Path, src: &SourceConfig) -> Result<CsvStart, IngestError> {
    let text = text::source_text(path, src)?;
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let delimiter = match &src.delimiter {
        Some(d) => {
            let c = d.chars().next().unwrap_or(',');
            if !c.is_ascii() {
                return Err(IngestError::Config {
                    path: path.to_path_buf(),
                    message: format!("delimiter {c:?} must be an ASCII character"),
                });
            }
            c as u8
        }
        None => text::sniff_delimiter(&text),
    };
    // Header and skipped rows.
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(&text[..]);
    let mut rec = csv::ByteRecord::new();
    let fmt_err = |e: csv::Error| IngestError::Format {
        path: path.to_path_buf(),
        message: format!("cannot read the CSV header: {e}"),
    };
    if !rdr.read_byte_record(&mut rec).map_err(fmt_err)? {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let header: Vec<String> = rec
        .iter()
        .map(|f| {
            String::from_utf8_lossy(f)
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string()
        })
        .collect();
    for _ in 0..src.skip_rows_after_header {
        if !rdr.read_byte_record(&mut rec).map_err(fmt_err)? {
            break;
        }
    }
    let body_start = rdr.position().byte() as usize;
    let body_line = rdr.position().line();
    Ok(CsvStart {
        text,
        delimiter,
        header,
        body_start,
        body_line,
    })
}

#[allow(clippy::too_many_arguments)]
fn load_csv(
    path: &Path,
    file: &str,
    id_prefix: &str,
    src: &SourceConfig,
    catalog: &MetricCatalog,
    time: TimeParser,
    opts: &LoadOptions,
) -> Result<Outputs, IngestError> {
    let CsvStart {
        text,
        delimiter,
        header,
        body_start,
        body_line,
    } = csv_start(path, src)?;
    let plan = mapping::plan(&header, src, catalog, Some(delimiter)).map_err(|m| {
        IngestError::Columns {
            path: path.to_path_buf(),
            message: m,
        }
    })?;
    let plan = project(plan, opts);
    let needed = needed_columns(&plan);
    let chunks = text::split_chunks(&text, body_start, body_line, opts.threads.max(1) * 4);
    let ctx = rows::Context {
        plan: &plan,
        catalog,
        header: &header,
        file,
        id_prefix,
    };
    let outputs = parallel(chunks.len(), opts.threads, |k| {
        let raw = csv_chunk(&text, &chunks[k], delimiter, header.len(), &needed);
        rows::validate(&ctx, &raw, &mut time.clone())
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| invalid_batch(path, e))?;
    Ok((outputs, plan, (Format::Csv, Some(delimiter))))
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

#[allow(clippy::too_many_arguments)]
fn load_ndjson(
    path: &Path,
    file: &str,
    id_prefix: &str,
    src: &SourceConfig,
    catalog: &MetricCatalog,
    mut time: TimeParser,
    opts: &LoadOptions,
) -> Result<Outputs, IngestError> {
    let (header, rows, unreadable) = ndjson_rows(path, src)?;
    let plan = mapping::plan(&header, src, catalog, None).map_err(|m| IngestError::Columns {
        path: path.to_path_buf(),
        message: m,
    })?;
    let plan = project(plan, opts);
    let columns = ndjson_columns(&header, &rows);
    let raw = RawBatch {
        columns,
        lines: rows.iter().map(|(l, _)| *l).collect(),
        field_counts: None,
        overlong: vec![],
        bad_utf8: vec![],
        unreadable,
    };
    let ctx = rows::Context {
        plan: &plan,
        catalog,
        header: &header,
        file,
        id_prefix,
    };
    let out = rows::validate(&ctx, &raw, &mut time).map_err(|e| invalid_batch(path, e))?;
    Ok((vec![out], plan, (Format::Ndjson, None)))
}

/// The objects of an NDJSON file with their line numbers, the union of their keys in order of
/// first appearance, and the lines that are not JSON objects.
type NdjsonRows = (Vec<String>, Vec<(u64, JsonObject)>, Vec<(u64, String)>);

fn ndjson_rows(path: &Path, src: &SourceConfig) -> Result<NdjsonRows, IngestError> {
    let text = text::source_text(path, src)?;
    let text = String::from_utf8_lossy(&text);
    let mut header: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<(u64, JsonObject)> = Vec::new();
    let mut unreadable = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(m)) => {
                for k in m.keys() {
                    if !index.contains_key(k) {
                        index.insert(k.clone(), header.len());
                        header.push(k.clone());
                    }
                }
                rows.push((i as u64 + 1, m));
            }
            Ok(_) => unreadable.push((i as u64 + 1, "line is JSON but not an object".to_string())),
            Err(e) => unreadable.push((i as u64 + 1, format!("not valid JSON: {e}"))),
        }
    }
    if rows.is_empty() && unreadable.is_empty() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok((header, rows, unreadable))
}

/// Text columns of NDJSON objects, one per header key (non-string values as JSON text).
fn ndjson_columns(header: &[String], rows: &[(u64, JsonObject)]) -> Vec<ArrayRef> {
    header
        .iter()
        .map(|h| {
            let mut b = arrow::array::StringBuilder::new();
            for (_, m) in rows {
                match m.get(h) {
                    None | Some(serde_json::Value::Null) => b.append_null(),
                    Some(serde_json::Value::String(s)) => b.append_value(s),
                    Some(v) => b.append_value(v.to_string()),
                }
            }
            Arc::new(b.finish()) as ArrayRef
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn load_parquet(
    path: &Path,
    file: &str,
    id_prefix: &str,
    src: &SourceConfig,
    catalog: &MetricCatalog,
    time: TimeParser,
    opts: &LoadOptions,
) -> Result<Outputs, IngestError> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let open = || open_file(path);
    let perr = |e: String| IngestError::Format {
        path: path.to_path_buf(),
        message: format!("not a readable Parquet file: {e}"),
    };
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(open()?).map_err(|e| perr(e.to_string()))?;
    let header: Vec<String> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let plan = mapping::plan(&header, src, catalog, None).map_err(|m| IngestError::Columns {
        path: path.to_path_buf(),
        message: m,
    })?;
    let plan = project(plan, opts);
    let needed = needed_columns(&plan);
    // Row groups in order with the number of their first row.
    let mut groups = Vec::new();
    let mut first = 1u64;
    for (i, rg) in builder.metadata().row_groups().iter().enumerate() {
        groups.push((i, first));
        first += rg.num_rows() as u64;
    }
    if first == 1 {
        return Err(IngestError::NoRows {
            path: path.to_path_buf(),
        });
    }
    // Text columns of low cardinality (the metric and segment attributes) are read as
    // dictionaries: Parquet stores them dictionary-encoded, so no string is copied or hashed.
    let low_card: Vec<usize> = plan
        .attributes
        .iter()
        .map(|(i, _)| *i)
        .chain(match &plan.metric {
            mapping::MetricSource::Column(i) => Some(*i),
            _ => None,
        })
        .collect();
    use arrow::datatypes::DataType as D;
    let dict = D::Dictionary(Box::new(D::Int32), Box::new(D::Utf8));
    let read_schema = text_read_as(builder.schema(), |i| {
        if low_card.contains(&i) {
            Some(dict.clone())
        } else if i == plan.submitted_at {
            // Parsed, not kept: read as views into the pages instead of copied.
            Some(D::Utf8View)
        } else {
            None
        }
    });
    let ctx = rows::Context {
        plan: &plan,
        catalog,
        header: &header,
        file,
        id_prefix,
    };
    let per_group = parallel(
        groups.len(),
        opts.threads,
        |k| -> Result<Vec<ChunkOutput>, IngestError> {
            let (group, first_row) = groups[k];
            let options = parquet::arrow::arrow_reader::ArrowReaderOptions::new()
                .with_schema(read_schema.clone());
            let b = ParquetRecordBatchReaderBuilder::try_new_with_options(open()?, options)
                .map_err(|e| perr(e.to_string()))?;
            let mask =
                parquet::arrow::ProjectionMask::roots(b.parquet_schema(), needed.iter().copied());
            let reader = b
                .with_projection(mask)
                .with_row_groups(vec![group])
                .with_batch_size(128 * 1024)
                .build()
                .map_err(|e| perr(e.to_string()))?;
            let mut time = time.clone();
            let mut row = first_row;
            let mut outs = Vec::new();
            for batch in reader {
                let batch = batch.map_err(|e| perr(e.to_string()))?;
                let n = batch.num_rows() as u64;
                // Back to the file's column positions, with empty columns for those not read.
                let mut read = batch.columns().iter();
                let columns: Vec<ArrayRef> = (0..header.len())
                    .map(|i| match needed.binary_search(&i) {
                        Ok(_) => read.next().expect("one array per projected column").clone(),
                        Err(_) => new_null_array(&D::Null, n as usize),
                    })
                    .collect();
                let raw = RawBatch {
                    columns,
                    lines: (row..row + n).collect(),
                    field_counts: None,
                    overlong: vec![],
                    bad_utf8: vec![],
                    unreadable: vec![],
                };
                row += n;
                outs.push(
                    rows::validate(&ctx, &raw, &mut time).map_err(|e| invalid_batch(path, e))?,
                );
            }
            Ok(outs)
        },
    );
    let mut outputs = Vec::new();
    for g in per_group {
        outputs.extend(g?);
    }
    Ok((outputs, plan, (Format::Parquet, None)))
}

/// The schema to read a Parquet file with: text column `i` as `as_type(i)` where that is given
/// (dictionaries for low-cardinality columns, views for columns that are only parsed).
pub(crate) fn text_read_as(
    schema: &Schema,
    as_type: impl Fn(usize) -> Option<arrow::datatypes::DataType>,
) -> Arc<Schema> {
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match as_type(i) {
            Some(t) if f.data_type() == &arrow::datatypes::DataType::Utf8 => {
                Arc::new(f.as_ref().clone().with_data_type(t))
            }
            _ => f.clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Keys that are already well-mixed hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 keys")
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Repeated ids across batches, in file order: (batch, row) of each repeat with (batch, row)
/// of the id's first row. Null ids are never repeats.
pub(crate) fn find_duplicates(
    ids: &[&StringArray],
    threads: usize,
) -> Vec<(usize, usize, usize, usize)> {
    repeats(ids, hash_id, threads)
}

/// [`find_duplicates`] with the hash of the ids given.
///
/// The rows are first scattered by hash into buckets of a few ten thousand rows each (in file
/// order within a bucket), and each bucket is then checked with a hash table small enough to
/// stay in the cache: one table for all rows missed the cache on almost every row (10M ids:
/// 0.35 s of a 2 s run). Equal hashes are confirmed on the text; a collision between
/// different ids is tracked by text.
fn repeats(
    ids: &[&StringArray],
    hash: impl Fn(&str) -> u64 + Sync,
    threads: usize,
) -> Vec<(usize, usize, usize, usize)> {
    let total: usize = ids.iter().map(|h| h.len()).sum();
    if total == 0 {
        return Vec::new();
    }
    let threads = threads.clamp(1, 16);
    // First global row number of each batch; rows are numbered in file order.
    let mut starts = Vec::with_capacity(ids.len() + 1);
    let mut acc = 0u64;
    for h in ids {
        starts.push(acc);
        acc += h.len() as u64;
    }
    starts.push(acc);
    let locate = |g: u64| -> (usize, usize) {
        let k = starts.partition_point(|&s| s <= g) - 1;
        (k, (g - starts[k]) as usize)
    };
    // Bucket by bits 20.. of the hash: the table inside a bucket uses the low bits for the slot
    // and the top bits as its tag, so those must still vary within a bucket.
    let bits = (total / 32_768)
        .max(1)
        .next_power_of_two()
        .trailing_zeros()
        .min(12);
    let bucket = |h: u64| ((h >> 20) & ((1u64 << bits) - 1)) as usize;
    let nb = 1usize << bits;
    // Each thread scatters a contiguous range of batches, so reading the threads' parts of a
    // bucket one after the other keeps file order.
    let per = ids.len().div_ceil(threads);
    type Part = Vec<Vec<(u64, u64)>>;
    let parts: Vec<Part> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (starts, bucket, hash) = (&starts, &bucket, &hash);
                s.spawn(move || {
                    let lo = (t * per).min(ids.len());
                    let hi = ((t + 1) * per).min(ids.len());
                    let rows: usize = ids[lo..hi].iter().map(|h| h.len()).sum();
                    let mut out: Part = (0..nb)
                        .map(|_| Vec::with_capacity(rows / nb + rows / nb / 8 + 8))
                        .collect();
                    for k in lo..hi {
                        let a = ids[k];
                        let nulls = a.null_count() > 0;
                        for r in 0..a.len() {
                            if nulls && a.is_null(r) {
                                continue;
                            }
                            let h = hash(a.value(r));
                            out[bucket(h)].push((h, starts[k] + r as u64));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("dedup thread"))
            .collect()
    });
    let text = |g: u64| {
        let (k, r) = locate(g);
        ids[k].value(r)
    };
    let check = |b: usize| -> Vec<(u64, u64)> {
        let n: usize = parts.iter().map(|p| p[b].len()).sum();
        let mut seen: HashMap<u64, u64, BuildHasherDefault<Prehashed>> =
            HashMap::with_capacity_and_hasher(n, Default::default());
        let mut collided: HashMap<&str, u64> = HashMap::new();
        let mut dups = Vec::new();
        for &(h, g) in parts.iter().flat_map(|p| p[b].iter()) {
            match seen.entry(h) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(g);
                }
                std::collections::hash_map::Entry::Occupied(e) => {
                    let first = *e.get();
                    let id = text(g);
                    if text(first) == id {
                        dups.push((g, first));
                    } else {
                        match collided.entry(id) {
                            std::collections::hash_map::Entry::Vacant(v) => {
                                v.insert(g);
                            }
                            std::collections::hash_map::Entry::Occupied(f) => {
                                dups.push((g, *f.get()))
                            }
                        }
                    }
                }
            }
        }
        dups
    };
    let found: Vec<Vec<(u64, u64)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let check = &check;
                s.spawn(move || (t..nb).step_by(threads).flat_map(check).collect::<Vec<_>>())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("dedup thread"))
            .collect()
    });
    let mut dups: Vec<(usize, usize, usize, usize)> = found
        .into_iter()
        .flatten()
        .map(|(g, first)| {
            let ((k, r), (k0, r0)) = (locate(g), locate(first));
            (k, r, k0, r0)
        })
        .collect();
    dups.sort_unstable();
    dups
}

/// Keeps the first row of each response id (in file order) and rejects the others, or fails.
fn deduplicate(
    outputs: Vec<ChunkOutput>,
    plan: &Plan,
    src: &SourceConfig,
    path: &Path,
    threads: usize,
) -> Result<(Vec<ChunkOutput>, Vec<Reject>), IngestError> {
    if plan.response_id.is_none() {
        return Ok((outputs, vec![]));
    }
    let ids: Vec<&StringArray> = outputs
        .iter()
        .map(|o| {
            o.batch
                .column(0)
                .as_any()
                .downcast_ref::<StringArray>()
                .expect("ids are Utf8")
        })
        .collect();
    let dups: Vec<(usize, usize, u64)> = find_duplicates(&ids, threads)
        .into_iter()
        .map(|(k, r, k0, r0)| (k, r, outputs[k0].lines[r0]))
        .collect();
    if dups.is_empty() {
        return Ok((outputs, vec![]));
    }
    let column = plan.column_names[plan.response_id.expect("checked above")].clone();
    if src.duplicates == DuplicatePolicy::Fail {
        let (k, r, first) = dups[0];
        return Err(IngestError::Duplicate {
            path: path.to_path_buf(),
            id: ids[k].value(r).to_string(),
            line: outputs[k].lines[r],
            first_line: first,
        });
    }
    let file = path.display().to_string();
    let rejects: Vec<Reject> = dups
        .iter()
        .map(|&(k, r, first)| Reject {
            file: file.clone(),
            line: outputs[k].lines[r],
            column: column.clone(),
            value: rejects::clip_value(ids[k].value(r)),
            reason: format!(
                "duplicate response_id (first seen on line {first}); the first is kept"
            ),
            answers: 1,
        })
        .collect();
    let mut masks: Vec<Vec<bool>> = outputs
        .iter()
        .map(|o| vec![true; o.batch.num_rows()])
        .collect();
    for &(k, r, _) in &dups {
        masks[k][r] = false;
    }
    let outputs = outputs
        .into_iter()
        .zip(masks)
        .map(|(mut o, m)| {
            keep_rows(&mut o.batch, &mut o.lines, m);
            o
        })
        .collect();
    Ok((outputs, rejects))
}

/// Keeps the rows of a batch (and their input lines) where `keep` is true.
pub(crate) fn keep_rows(b: &mut RecordBatch, lines: &mut ScalarBuffer<u64>, keep: Vec<bool>) {
    if keep.iter().all(|&k| k) {
        return;
    }
    *lines = lines
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(l, _)| *l)
        .collect();
    *b = filter_record_batch(b, &BooleanArray::from(keep)).expect("mask length matches");
}

#[cfg(test)]
mod duplicate_tests {
    use super::*;

    /// The same answer as one pass over all rows in file order with a map by text.
    fn naive(ids: &[&StringArray]) -> Vec<(usize, usize, usize, usize)> {
        let mut first: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut out = Vec::new();
        for (k, a) in ids.iter().enumerate() {
            for r in 0..a.len() {
                if a.is_null(r) {
                    continue;
                }
                match first.entry(a.value(r)) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert((k, r));
                    }
                    std::collections::hash_map::Entry::Occupied(e) => {
                        out.push((k, r, e.get().0, e.get().1))
                    }
                }
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn repeats_match_a_single_pass_with_real_and_colliding_hashes() {
        // 300k ids in uneven batches (several buckets), about 3% repeated, some null.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut batches: Vec<StringArray> = Vec::new();
        let mut i = 0u64;
        for len in [1usize, 70_000, 0, 130_000, 99_999] {
            let v: Vec<Option<String>> = (0..len)
                .map(|_| {
                    i += 1;
                    match next() % 100 {
                        0 => None,
                        1..=3 => Some(format!("r{}", next() % i.max(1))),
                        _ => Some(format!("r{i}")),
                    }
                })
                .collect();
            batches.push(StringArray::from(v));
        }
        let ids: Vec<&StringArray> = batches.iter().collect();
        let expected = naive(&ids);
        assert!(expected.len() > 5_000, "{} repeats", expected.len());
        for threads in [1, 2, 3] {
            assert_eq!(
                find_duplicates(&ids, threads),
                expected,
                "{threads} threads"
            );
            // A weak hash: many different ids share a hash and must be told apart by their text.
            let weak = |id: &str| hash_id(id) & 0x0000_0000_fff0_0000;
            assert_eq!(
                repeats(&ids, weak, threads),
                expected,
                "weak, {threads} threads"
            );
        }
    }
}
