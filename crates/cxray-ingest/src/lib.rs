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
//! use cxray_ingest::{ProjectConfig, LoadOptions, load_responses};
//! use cxray_metrics::MetricCatalog;
//! let cfg = ProjectConfig::load("cxray.toml".as_ref()).unwrap();
//! let catalog = MetricCatalog::builtin().with_declarations(&cfg.metrics).unwrap();
//! let loaded = load_responses(&cfg, &catalog, &LoadOptions::default()).unwrap();
//! println!("{} accepted, {} rejected", loaded.totals.accepted, loaded.totals.rejected);
//! ```

pub mod config;
pub mod error;
mod mapping;
pub mod rejects;
mod rows;
mod text;
pub mod timestamp;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, StringArray, new_null_array};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use cxray_metrics::MetricCatalog;

pub use config::{DuplicatePolicy, Format, Layout, ProjectConfig, QuestionConfig, SourceConfig};
pub use error::IngestError;
pub use mapping::CANONICAL;
pub use rejects::{Reject, write_rejects_csv};
pub use rows::{Counts, FIXED_COLUMNS, responses_schema};

use mapping::Plan;
use rows::{ChunkOutput, FieldValue, RowProcessor};
use timestamp::{TimeParser, parse_tz};

/// Settings of one load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Any rejected row is an error.
    pub strict: bool,
    /// Worker threads for parsing (default: available cores).
    pub threads: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            strict: false,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// What happened to one source.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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

/// Loads every responses source of the project.
pub fn load_responses(
    cfg: &ProjectConfig,
    catalog: &MetricCatalog,
    opts: &LoadOptions,
) -> Result<Loaded, IngestError> {
    let project_tz = parse_tz(&cfg.project.timezone).map_err(|m| IngestError::Config {
        path: cfg.base_dir.join("cxray.toml"),
        message: m,
    })?;
    let mut all: Vec<(RecordBatch, Vec<String>)> = Vec::new();
    let mut rejects = Vec::new();
    let mut sources = Vec::new();
    let mut totals = Counts::default();
    for src in cfg
        .sources
        .iter()
        .filter(|s| s.entity.as_deref().is_none_or(|e| e == "responses"))
    {
        let path = cfg.resolve(&src.path);
        let source_tz = match &src.timezone {
            Some(t) => parse_tz(t).map_err(|m| IngestError::Config {
                path: path.clone(),
                message: m,
            })?,
            None => project_tz,
        };
        let time = TimeParser::new(src.timestamp_format.clone(), source_tz, project_tz);
        let (outputs, plan, report) = load_source(&path, src, catalog, time, opts)?;
        let names: Vec<String> = plan.attributes.iter().map(|(_, n)| n.clone()).collect();
        let (outputs, dup_rejects) = deduplicate(outputs, &plan, src, &path, opts.threads)?;
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
            for d in days.iter().flatten() {
                first = Some(first.map_or(d, |f| f.min(d)));
                last = Some(last.map_or(d, |l| l.max(d)));
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
    Ok(Loaded {
        schema,
        batches,
        rejects,
        sources,
        totals,
        attributes,
    })
}

/// Reorders a batch's attribute columns into the union schema, with nulls for absent ones.
fn conform(
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
    let format = src.format.unwrap_or_else(|| Format::from_path(path));
    let file = path.display().to_string();
    let id_prefix = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("row")
        .to_string();
    match format {
        Format::Csv => load_csv(path, &file, &id_prefix, src, catalog, time, opts),
        Format::Ndjson => load_ndjson(path, &file, &id_prefix, src, catalog, time),
        Format::Parquet => load_parquet(path, &file, &id_prefix, src, catalog, time, opts),
    }
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
    let text = text::read_text(path, src.encoding.as_deref())?;
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
    let builder = || {
        let mut b = csv::ReaderBuilder::new();
        b.delimiter(delimiter).has_headers(false).flexible(true);
        b
    };
    // Header and skipped rows.
    let mut rdr = builder().from_reader(&text[..]);
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
    let plan = mapping::plan(&header, src, catalog, Some(delimiter)).map_err(|m| {
        IngestError::Columns {
            path: path.to_path_buf(),
            message: m,
        }
    })?;
    let chunks = text::split_chunks(&text, body_start, body_line, opts.threads.max(1) * 4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut outputs: Vec<Option<ChunkOutput>> = (0..chunks.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut outputs);
    std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1).min(chunks.len().max(1)) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(c) = chunks.get(k) else { break };
                    let mut proc =
                        RowProcessor::new(&plan, catalog, &header, file, id_prefix, time.clone());
                    let mut rdr = builder().from_reader(&text[c.start..c.end]);
                    let mut rec = csv::ByteRecord::new();
                    loop {
                        match rdr.read_byte_record(&mut rec) {
                            Ok(true) => {}
                            Ok(false) => break,
                            Err(_) => break,
                        }
                        let line = c.first_line + rec.position().map_or(1, |p| p.line()) - 1;
                        // A line holding only whitespace is not a record.
                        if rec.len() == 1 && rec[0].iter().all(|b| b.is_ascii_whitespace()) {
                            continue;
                        }
                        let n = rec.len();
                        proc.push(line, n, |i| match rec.get(i) {
                            None => FieldValue::Missing,
                            Some(b) => match std::str::from_utf8(b) {
                                Ok(s) => FieldValue::Text(s),
                                Err(_) => FieldValue::BadUtf8,
                            },
                        });
                    }
                    let out = proc.finish();
                    results.lock().expect("no panics while holding the lock")[k] = Some(out);
                }
            });
        }
    });
    let outputs = outputs
        .into_iter()
        .map(|o| o.expect("every chunk processed"))
        .collect();
    Ok((outputs, plan, (Format::Csv, Some(delimiter))))
}

type JsonObject = serde_json::Map<String, serde_json::Value>;

fn load_ndjson(
    path: &Path,
    file: &str,
    id_prefix: &str,
    src: &SourceConfig,
    catalog: &MetricCatalog,
    time: TimeParser,
) -> Result<Outputs, IngestError> {
    let text = text::read_text(path, src.encoding.as_deref())?;
    let text = String::from_utf8_lossy(&text);
    let mut header: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rows: Vec<(u64, Result<JsonObject, String>)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = match serde_json::from_str::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(m)) => {
                for k in m.keys() {
                    if !index.contains_key(k) {
                        index.insert(k.clone(), header.len());
                        header.push(k.clone());
                    }
                }
                Ok(m)
            }
            Ok(_) => Err("line is JSON but not an object".to_string()),
            Err(e) => Err(format!("not valid JSON: {e}")),
        };
        rows.push((i as u64 + 1, parsed));
    }
    if rows.is_empty() {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
        });
    }
    let plan = mapping::plan(&header, src, catalog, None).map_err(|m| IngestError::Columns {
        path: path.to_path_buf(),
        message: m,
    })?;
    let mut proc = RowProcessor::new(&plan, catalog, &header, file, id_prefix, time);
    let mut bad = Vec::new();
    for (line, row) in &rows {
        match row {
            Ok(m) => {
                let values: Vec<Option<String>> = header
                    .iter()
                    .map(|h| match m.get(h) {
                        None | Some(serde_json::Value::Null) => None,
                        Some(serde_json::Value::String(s)) => Some(s.clone()),
                        Some(v) => Some(v.to_string()),
                    })
                    .collect();
                proc.push(*line, header.len(), |i| match values.get(i) {
                    Some(Some(s)) => FieldValue::Text(s.as_str()),
                    _ => FieldValue::Text(""),
                });
            }
            Err(reason) => bad.push(Reject {
                file: file.to_string(),
                line: *line,
                column: String::new(),
                value: String::new(),
                reason: reason.clone(),
                answers: 1,
            }),
        }
    }
    let mut out = proc.finish();
    out.counts.records += bad.len() as u64;
    out.counts.read += bad.len() as u64;
    out.counts.rejected += bad.len() as u64;
    out.rejects.extend(bad);
    Ok((vec![out], plan, (Format::Ndjson, None)))
}

/// A Parquet column normalised for validation: text, numbers or timestamps.
enum ColumnView {
    Text(StringArray),
    Number(arrow::array::Float64Array),
    Instant(arrow::array::TimestampMicrosecondArray),
    Wall(arrow::array::TimestampMicrosecondArray),
}

impl ColumnView {
    fn new(c: &ArrayRef) -> Result<Self, arrow::error::ArrowError> {
        use arrow::compute::cast;
        use arrow::datatypes::{DataType as D, TimeUnit};
        let dt = c.data_type();
        Ok(match dt {
            D::Int8
            | D::Int16
            | D::Int32
            | D::Int64
            | D::UInt8
            | D::UInt16
            | D::UInt32
            | D::UInt64
            | D::Float16
            | D::Float32
            | D::Float64
            | D::Decimal128(..)
            | D::Decimal256(..) => ColumnView::Number(
                cast(c, &D::Float64)?
                    .as_any()
                    .downcast_ref::<arrow::array::Float64Array>()
                    .expect("cast to Float64")
                    .clone(),
            ),
            D::Timestamp(_, Some(_)) => ColumnView::Instant(
                cast(c, &D::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))?
                    .as_any()
                    .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                    .expect("cast to timestamp")
                    .clone(),
            ),
            D::Timestamp(_, None) | D::Date32 | D::Date64 => ColumnView::Wall(
                cast(c, &D::Timestamp(TimeUnit::Microsecond, None))?
                    .as_any()
                    .downcast_ref::<arrow::array::TimestampMicrosecondArray>()
                    .expect("cast to timestamp")
                    .clone(),
            ),
            _ => ColumnView::Text(
                cast(c, &D::Utf8)?
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("cast to Utf8")
                    .clone(),
            ),
        })
    }

    fn get(&self, r: usize) -> FieldValue<'_> {
        match self {
            ColumnView::Text(a) if a.is_null(r) => FieldValue::Text(""),
            ColumnView::Text(a) => FieldValue::Text(a.value(r)),
            ColumnView::Number(a) if a.is_null(r) => FieldValue::Text(""),
            ColumnView::Number(a) => FieldValue::Number(a.value(r)),
            ColumnView::Instant(a) if a.is_null(r) => FieldValue::Text(""),
            ColumnView::Instant(a) => FieldValue::Instant(a.value(r)),
            ColumnView::Wall(a) if a.is_null(r) => FieldValue::Text(""),
            ColumnView::Wall(a) => match chrono::DateTime::from_timestamp_micros(a.value(r)) {
                Some(d) => FieldValue::Wall(d.naive_utc()),
                None => FieldValue::Text(""),
            },
        }
    }
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
    let open = || {
        std::fs::File::open(path).map_err(|e| IngestError::Io {
            path: path.to_path_buf(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "file not found".into()
            } else {
                e.to_string()
            },
        })
    };
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
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Result<ChunkOutput, IngestError>>>> =
        std::sync::Mutex::new((0..groups.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..opts.threads.max(1).min(groups.len()) {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(group, first_row)) = groups.get(k) else {
                        break;
                    };
                    let out = (|| {
                        let reader = ParquetRecordBatchReaderBuilder::try_new(open()?)
                            .map_err(|e| perr(e.to_string()))?
                            .with_row_groups(vec![group])
                            .with_batch_size(64 * 1024)
                            .build()
                            .map_err(|e| perr(e.to_string()))?;
                        let mut proc = RowProcessor::new(
                            &plan,
                            catalog,
                            &header,
                            file,
                            id_prefix,
                            time.clone(),
                        );
                        let mut row = first_row;
                        for batch in reader {
                            let batch = batch.map_err(|e| perr(e.to_string()))?;
                            let cols: Vec<ColumnView> = batch
                                .columns()
                                .iter()
                                .map(ColumnView::new)
                                .collect::<Result<_, _>>()
                                .map_err(|e| perr(e.to_string()))?;
                            for r in 0..batch.num_rows() {
                                proc.push(row, cols.len(), |i| cols[i].get(r));
                                row += 1;
                            }
                        }
                        Ok(proc.finish())
                    })();
                    results.lock().expect("no panics while holding the lock")[k] = Some(out);
                }
            });
        }
    });
    let outputs = results
        .into_inner()
        .expect("threads joined")
        .into_iter()
        .map(|o| o.expect("every row group processed"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((outputs, plan, (Format::Parquet, None)))
}

/// FxHash-style hasher for short keys (dictionary values), finished with the MurmurHash3
/// 64-bit finaliser so that every bit of the result depends on every input bit (hash tables use
/// the low bits for buckets).
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            h = (h.rotate_left(5) ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf) ^ ((rest.len() as u64) << 59))
                .wrapping_mul(K);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        fmix64(self.0)
    }
}

fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Hash of a response id, used to find duplicates (equal hashes are confirmed on the text).
pub(crate) fn hash_id(id: &str) -> u64 {
    let mut h = IdHasher::default();
    h.write(id.as_bytes());
    h.write(&[0xff]);
    h.finish()
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

/// Keeps the first row of each response id (in file order) and rejects the others, or fails.
///
/// The ids are split by hash into one partition per thread; each thread walks all rows in file
/// order and keeps the ids of its own partition, so "first" is the same as in one pass.
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
    let total: usize = outputs.iter().map(|o| o.batch.num_rows()).sum();
    let parts = threads.clamp(1, 16) as u64;
    let find = |part: u64| -> Vec<(usize, usize, u64)> {
        let mut seen: HashMap<u64, (u32, u32), BuildHasherDefault<Prehashed>> =
            HashMap::with_capacity_and_hasher(total / parts as usize + 16, Default::default());
        let mut collided: HashMap<&str, u64> = HashMap::new();
        let mut dups = Vec::new();
        for (k, o) in outputs.iter().enumerate() {
            for (r, &h) in o.id_hashes.iter().enumerate() {
                if (h >> 58) % parts != part {
                    continue;
                }
                match seen.entry(h) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert((k as u32, r as u32));
                    }
                    std::collections::hash_map::Entry::Occupied(e) => {
                        let (k0, r0) = *e.get();
                        let id = ids[k].value(r);
                        if ids[k0 as usize].value(r0 as usize) == id {
                            dups.push((k, r, outputs[k0 as usize].lines[r0 as usize]));
                        } else {
                            // A hash collision between different ids: track them by text.
                            match collided.entry(id) {
                                std::collections::hash_map::Entry::Vacant(v) => {
                                    v.insert(o.lines[r]);
                                }
                                std::collections::hash_map::Entry::Occupied(first) => {
                                    dups.push((k, r, *first.get()))
                                }
                            }
                        }
                    }
                }
            }
        }
        dups
    };
    let mut dups: Vec<(usize, usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..parts).map(|p| s.spawn(move || find(p))).collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("dedup thread"))
            .collect()
    });
    dups.sort_unstable();
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
            if m.iter().all(|&b| b) {
                return o;
            }
            let mask = BooleanArray::from(m.clone());
            o.batch = filter_record_batch(&o.batch, &mask).expect("mask length matches");
            o.lines = o
                .lines
                .iter()
                .zip(&m)
                .filter(|(_, k)| **k)
                .map(|(l, _)| *l)
                .collect();
            o.id_hashes = o
                .id_hashes
                .iter()
                .zip(&m)
                .filter(|(_, k)| **k)
                .map(|(h, _)| *h)
                .collect();
            o
        })
        .collect();
    Ok((outputs, rejects))
}
