//! Validation of input batches and their conversion into canonical response rows (Arrow),
//! column by column.
//!
//! A source is read into [`RawBatch`]es: one Arrow array per file column (text from CSV and
//! NDJSON, native types from Parquet) plus each row's line number. [`validate`] then checks the
//! mapped columns — timestamp parses, metric is known, score lies on that metric's scale — and
//! builds the canonical columns with `take` over the accepted rows. Every problem becomes a
//! [`Reject`] naming the column, the value and the reason. Wide rows yield one response per
//! answered question; an unanswered question (blank cell) is counted as blank, not as an error.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Float64Array, Int32Array, StringArray, StringBuilder,
    TimestampMicrosecondArray, UInt32Array,
};
use arrow::buffer::ScalarBuffer;
use arrow::compute::{cast, take};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use cxray_metrics::{MetricCatalog, MetricSpec};

use crate::config::Layout;
use crate::mapping::{MetricSource, Plan};
use crate::rejects::{Reject, clip_value};
use crate::timestamp::{Parsed, TimeParser};

/// A batch of input rows as read from a file, before validation.
pub(crate) struct RawBatch {
    /// One array per header column (text, or native types from Parquet).
    pub columns: Vec<ArrayRef>,
    /// Line (CSV, NDJSON) or row number (Parquet) of each row, 1-based (shared with the output
    /// when every row is accepted).
    pub lines: ScalarBuffer<u64>,
    /// CSV: number of fields of each row (to find short and overlong rows).
    pub field_counts: Option<Vec<u32>>,
    /// CSV: the first extra field of rows with more non-empty fields than the header.
    pub overlong: Vec<(usize, String)>,
    /// CSV: (row, column) of fields that are not UTF-8 (stored as null).
    pub bad_utf8: Vec<(usize, usize)>,
    /// Rows that could not be read at all (e.g. NDJSON lines that are not JSON): (line, reason).
    pub unreadable: Vec<(u64, String)>,
}

impl RawBatch {
    pub fn len(&self) -> usize {
        self.lines.len()
    }
}

/// One cell of a raw batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
    /// The row has fewer fields than the header.
    Missing,
    BadUtf8,
    Blank,
    Text(&'a str),
    Number(f64),
    /// UTC microseconds.
    Instant(i64),
    /// Microseconds of a wall-clock time without a timezone.
    Wall(i64),
}

/// Typed access to one raw column.
pub(crate) enum Reader {
    Text(StringArray),
    /// Text read from Parquet as views into its pages (columns that are parsed, not kept).
    View(arrow::array::StringViewArray),
    /// Dictionary-encoded text (Parquet): keys into the values.
    Dict(Int32Array, StringArray),
    Number(Float64Array),
    Instant(TimestampMicrosecondArray),
    Wall(TimestampMicrosecondArray),
}

impl Reader {
    pub(crate) fn new(col: &ArrayRef) -> Result<Reader, String> {
        use DataType as D;
        let c = |t: &D| cast(col, t).map_err(|e| e.to_string());
        Ok(match col.data_type() {
            D::Utf8 => Reader::Text(col.as_string::<i32>().clone()),
            D::Utf8View => Reader::View(col.as_string_view().clone()),
            D::Dictionary(_, v) if **v == D::Utf8 => {
                let d = c(&D::Dictionary(Box::new(D::Int32), Box::new(D::Utf8)))?;
                let d = d.as_dictionary::<Int32Type>();
                Reader::Dict(d.keys().clone(), d.values().as_string::<i32>().clone())
            }
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
            | D::Decimal256(..) => Reader::Number(c(&D::Float64)?.as_primitive().clone()),
            D::Timestamp(_, Some(_)) => Reader::Instant(
                c(&D::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))?
                    .as_primitive()
                    .clone(),
            ),
            D::Timestamp(_, None) | D::Date32 | D::Date64 => Reader::Wall(
                c(&D::Timestamp(TimeUnit::Microsecond, None))?
                    .as_primitive()
                    .clone(),
            ),
            _ => Reader::Text(c(&D::Utf8)?.as_string::<i32>().clone()),
        })
    }

    pub(crate) fn cell(&self, r: usize) -> Cell<'_> {
        match self {
            Reader::Text(a) => text_cell(a.is_valid(r).then(|| a.value(r))),
            Reader::View(a) => text_cell(a.is_valid(r).then(|| a.value(r))),
            Reader::Dict(k, v) => text_cell(k.is_valid(r).then(|| v.value(k.value(r) as usize))),
            Reader::Number(a) if a.is_null(r) => Cell::Blank,
            Reader::Number(a) => Cell::Number(a.value(r)),
            Reader::Instant(a) if a.is_null(r) => Cell::Blank,
            Reader::Instant(a) => Cell::Instant(a.value(r)),
            Reader::Wall(a) if a.is_null(r) => Cell::Blank,
            Reader::Wall(a) => Cell::Wall(a.value(r)),
        }
    }
}

/// The cell of a text value (`None`: null).
#[inline]
pub(crate) fn text_cell(v: Option<&str>) -> Cell<'_> {
    match v {
        Some(v) if !is_blank(v) => Cell::Text(v),
        _ => Cell::Blank,
    }
}

/// Text of a cell: borrowed for text, formatted for typed values.
/// `s` without surrounding whitespace; checks the ends' bytes first, since almost every value
/// in real data needs no trimming and `trim` is a hot spot of ingestion.
pub(crate) fn trimmed(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if f.is_ascii_graphic() && l.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Whether a value is empty or only whitespace.
pub(crate) fn is_blank(s: &str) -> bool {
    trimmed(s).is_empty()
}

pub(crate) fn text_of(c: Cell<'_>) -> Cow<'_, str> {
    match c {
        Cell::Text(s) => Cow::Borrowed(trimmed(s)),
        Cell::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => {
            Cow::Owned(format!("{}", x as i64))
        }
        Cell::Number(x) => Cow::Owned(x.to_string()),
        Cell::Instant(m) => Cow::Owned(
            chrono::DateTime::from_timestamp_micros(m)
                .map(|d| d.to_rfc3339())
                .unwrap_or_default(),
        ),
        Cell::Wall(m) => Cow::Owned(
            chrono::DateTime::from_timestamp_micros(m)
                .map(|d| d.naive_utc().to_string())
                .unwrap_or_default(),
        ),
        Cell::Missing | Cell::BadUtf8 | Cell::Blank => Cow::Borrowed(""),
    }
}

/// Row counts of one source (or one chunk of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Physical records (respondents in the wide layout).
    pub records: u64,
    /// Answers read: records in the long layout, non-blank question cells in the wide layout.
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Wide layout: question cells left blank (not answered).
    pub blank: u64,
    /// Wide layout: records without any answered question.
    pub empty_records: u64,
}

impl Counts {
    pub(crate) fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.read += o.read;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.blank += o.blank;
        self.empty_records += o.empty_records;
    }
}

/// Columns every canonical responses table starts with, before the segment attributes.
pub const FIXED_COLUMNS: [&str; 8] = [
    "response_id",
    "customer_id",
    "submitted_at",
    "local_date",
    "metric",
    "score",
    "weight",
    "comment",
];

/// The Arrow schema of canonical responses with the given attribute columns.
pub fn responses_schema(attributes: &[String]) -> Arc<Schema> {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let mut fields = vec![
        Field::new("response_id", DataType::Utf8, false),
        Field::new("customer_id", DataType::Utf8, true),
        Field::new(
            "submitted_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("local_date", DataType::Date32, false),
        Field::new("metric", dict.clone(), false),
        Field::new("score", DataType::Float64, false),
        Field::new("weight", DataType::Float64, false),
        Field::new("comment", DataType::Utf8, true),
    ];
    for a in attributes {
        fields.push(Field::new(a, dict.clone(), true));
    }
    Arc::new(Schema::new(fields))
}

/// The accepted rows of a chunk, with what is needed to report duplicates later.
pub(crate) struct ChunkOutput {
    pub batch: RecordBatch,
    /// Input line of each output row.
    pub lines: ScalarBuffer<u64>,
    pub rejects: Vec<Reject>,
    pub counts: Counts,
}

/// What the validator needs about the source.
pub(crate) struct Context<'a> {
    pub plan: &'a Plan,
    pub catalog: &'a MetricCatalog,
    pub header: &'a [String],
    pub file: &'a str,
    pub id_prefix: &'a str,
}

/// A text column whose cells are exactly its array's values.
#[derive(Clone, Copy)]
enum Plain<'c> {
    Text(&'c StringArray),
    View(&'c arrow::array::StringViewArray),
}

impl<'c> Plain<'c> {
    /// The value of row `r`, `None` when null.
    #[inline]
    fn get(self, r: usize) -> Option<&'c str> {
        match self {
            Plain::Text(a) => a.is_valid(r).then(|| a.value(r)),
            Plain::View(a) => a.is_valid(r).then(|| a.value(r)),
        }
    }
}

/// Validation state of one batch.
struct Batch<'b, 'a> {
    ctx: &'b Context<'a>,
    raw: &'b RawBatch,
    readers: Vec<Option<Reader>>,
    /// Whether some row is shorter than the header or some field is not UTF-8 (only then does
    /// a cell need more than its column to be read).
    exceptions: bool,
    rejects: Vec<Reject>,
    counts: Counts,
}

impl<'b, 'a> Batch<'b, 'a> {
    #[inline]
    fn cell(&self, col: usize, r: usize) -> Cell<'_> {
        if self.exceptions {
            if let Some(fc) = &self.raw.field_counts
                && col >= fc[r] as usize
            {
                return Cell::Missing;
            }
            if self.raw.bad_utf8.contains(&(r, col)) {
                return Cell::BadUtf8;
            }
        }
        match &self.readers[col] {
            Some(rd) => rd.cell(r),
            None => Cell::Blank,
        }
    }

    /// The column as plain text when every cell is what the array holds (no short rows, no bad
    /// bytes): the loops over the common columns read it directly.
    fn plain_text(&self, col: usize) -> Option<Plain<'_>> {
        match &self.readers[col] {
            Some(Reader::Text(a)) if !self.exceptions => Some(Plain::Text(a)),
            Some(Reader::View(a)) if !self.exceptions => Some(Plain::View(a)),
            _ => None,
        }
    }

    fn column_name(&self, i: usize) -> String {
        self.ctx
            .header
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{}", i + 1))
    }

    fn reject(&mut self, r: usize, col: usize, value: &str, reason: String, answers: u64) {
        self.counts.rejected += answers;
        self.rejects.push(Reject {
            file: self.ctx.file.to_string(),
            line: self.raw.lines[r],
            column: self.column_name(col),
            value: clip_value(value),
            reason,
            answers,
        });
    }

    /// A cell that must be present and readable; otherwise the reason.
    #[inline]
    fn required(&self, col: usize, r: usize) -> Result<Cell<'_>, String> {
        match self.cell(col, r) {
            Cell::Missing => Err(format!(
                "row has {} field(s) but the header has {}; a delimiter or quote is probably missing",
                self.raw.field_counts.as_ref().map_or(0, |f| f[r]),
                self.ctx.header.len()
            )),
            Cell::BadUtf8 => Err("not valid UTF-8".into()),
            c => Ok(c),
        }
    }
}

/// Timestamp, weight and response id of a row.
type RowFields<'c> = (Parsed, f64, Option<Cow<'c, str>>);
/// (column, value, reason) of a row-level problem.
type RowProblem = (usize, String, String);

/// Timestamp, weight and id of a row, or (column, value, reason).
fn row_fields<'c>(
    b: &'c Batch<'_, '_>,
    time: &mut TimeParser,
    r: usize,
) -> Result<RowFields<'c>, RowProblem> {
    let p = b.ctx.plan;
    let tcol = p.submitted_at;
    let c = b.required(tcol, r).map_err(|e| (tcol, String::new(), e))?;
    let ts = time_of(c, time).map_err(|(v, e)| (tcol, v, e))?;
    let weight = match p.weight {
        None => 1.0,
        Some(i) => {
            let c = b.required(i, r).map_err(|e| (i, String::new(), e))?;
            weight_of(c).map_err(|(v, e)| (i, v, e))?
        }
    };
    let id = match p.response_id {
        None => None,
        Some(i) => match b.required(i, r).map_err(|e| (i, String::new(), e))? {
            Cell::Blank => return Err((i, String::new(), "response_id is empty".into())),
            c => Some(text_of(c)),
        },
    };
    Ok((ts, weight, id))
}

/// The timestamp of a present cell, or (value, reason).
pub(crate) fn time_of(c: Cell<'_>, time: &mut TimeParser) -> Result<Parsed, (String, String)> {
    match c {
        Cell::Instant(m) => Ok(time.from_utc_micros(m)),
        Cell::Wall(m) => {
            let w = chrono::DateTime::from_timestamp_micros(m)
                .map(|d| d.naive_utc())
                .ok_or_else(|| (m.to_string(), "timestamp out of range".to_string()))?;
            time.from_wall(w).map_err(|e| (w.to_string(), e))
        }
        Cell::Text(s) => time.parse(s).map_err(|e| (s.to_string(), e)),
        Cell::Blank => Err((String::new(), "timestamp is empty".into())),
        other => Err((text_of(other).into_owned(), "not a timestamp".into())),
    }
}

/// The weight of a present cell, or (value, reason).
fn weight_of(c: Cell<'_>) -> Result<f64, (String, String)> {
    let w = match c {
        Cell::Number(x) => Some(x),
        Cell::Text(t) => parse_number(t),
        _ => None,
    };
    match w {
        Some(w) if w.is_finite() && w >= 0.0 => Ok(w),
        Some(_) => Err((
            text_of(c).into_owned(),
            "weight must be a non-negative number".into(),
        )),
        None if c == Cell::Blank => Err((String::new(), "weight is empty".into())),
        None => Err((text_of(c).into_owned(), "weight is not a number".into())),
    }
}

/// Score of a cell on the metric's scale, or (value, reason).
fn score_of(c: Cell<'_>, spec: &MetricSpec) -> Result<f64, (String, String)> {
    match c {
        Cell::Number(x) => spec
            .validate(x)
            .map(|_| x)
            .map_err(|r| (text_of(c).into_owned(), r)),
        Cell::Text(raw) => parse_score(raw, spec).map_err(|r| (raw.to_string(), r)),
        Cell::Blank => Err((String::new(), format!("{} score is empty", spec.name))),
        other => Err((
            text_of(other).into_owned(),
            format!("{} score is not a number", spec.name),
        )),
    }
}

/// One accepted answer: the input row it comes from and its canonical values.
struct Answer {
    row: u32,
    ts: Parsed,
    metric: u16,
    score: f64,
    weight: f64,
    /// Question number (from 1), part of the response id.
    question: u16,
    /// Column of the comment for this answer.
    comment_col: Option<u32>,
}

/// Metric specs by index, as the metric column's dictionary is built.
struct Specs<'a> {
    catalog: &'a MetricCatalog,
    specs: Vec<&'a MetricSpec>,
}

impl<'a> Specs<'a> {
    fn index(&mut self, spec: &MetricSpec) -> u16 {
        match self.specs.iter().position(|s| s.name == spec.name) {
            Some(i) => i as u16,
            None => {
                self.specs
                    .push(self.catalog.get(&spec.name).expect("known metric"));
                (self.specs.len() - 1) as u16
            }
        }
    }

    /// The index of the metric named in a cell's text, or the reason it is unknown.
    fn named(&mut self, text: &str) -> Result<u16, String> {
        match self.catalog.get(&text.to_lowercase()) {
            Ok(spec) => Ok(self.index(spec)),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// Validates a raw batch into canonical rows.
pub(crate) fn validate<'a>(
    ctx: &Context<'a>,
    raw: &RawBatch,
    time: &mut TimeParser,
) -> Result<ChunkOutput, String> {
    let plan = ctx.plan;
    let readers = raw
        .columns
        .iter()
        .map(|c| {
            if c.data_type() == &DataType::Null {
                Ok(None)
            } else {
                Reader::new(c).map(Some)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let width = ctx.header.len();
    let exceptions = !raw.bad_utf8.is_empty()
        || raw
            .field_counts
            .as_ref()
            .is_some_and(|f| f.iter().any(|&k| (k as usize) < width));
    let mut b = Batch {
        ctx,
        raw,
        readers,
        exceptions,
        rejects: Vec::new(),
        counts: Counts::default(),
    };
    for (line, reason) in &raw.unreadable {
        b.counts.records += 1;
        b.counts.read += 1;
        b.counts.rejected += 1;
        b.rejects.push(Reject {
            file: ctx.file.to_string(),
            line: *line,
            column: String::new(),
            value: String::new(),
            reason: reason.clone(),
            answers: 1,
        });
    }
    match plan.layout {
        Layout::Long => validate_long(b, time),
        Layout::Wide => validate_wide(b, time),
    }
}

/// The reason for a row with more fields than the header.
fn overlong_reason(fields: u32, width: usize) -> String {
    format!(
        "row has {fields} fields but the header has {width}; a text field probably contains the \
         delimiter without quotes"
    )
}

/// The wide layout, row by row: each answered question of a row is one answer.
fn validate_wide(mut b: Batch<'_, '_>, time: &mut TimeParser) -> Result<ChunkOutput, String> {
    let (ctx, raw) = (b.ctx, b.raw);
    let plan = ctx.plan;
    let width = ctx.header.len();
    let mut specs = Specs {
        catalog: ctx.catalog,
        specs: Vec::new(),
    };
    let mut answers: Vec<Answer> = Vec::with_capacity(raw.len());
    let overlong: std::collections::HashMap<usize, &String> =
        raw.overlong.iter().map(|(r, v)| (*r, v)).collect();
    for r in 0..raw.len() {
        b.counts.records += 1;
        let answered: Vec<usize> = plan
            .questions
            .iter()
            .enumerate()
            .filter(|(_, q)| !matches!(b.cell(q.column, r), Cell::Blank | Cell::Missing))
            .map(|(k, _)| k)
            .collect();
        b.counts.blank += (plan.questions.len() - answered.len()) as u64;
        if answered.is_empty() {
            b.counts.empty_records += 1;
            continue;
        }
        let k = answered.len() as u64;
        b.counts.read += k;
        if let Some(extra) = overlong.get(&r) {
            let fields = raw.field_counts.as_ref().map_or(0, |f| f[r]);
            b.reject(r, width, extra, overlong_reason(fields, width), k);
            continue;
        }
        let (ts, weight, _) = match row_fields(&b, time, r) {
            Ok(v) => v,
            Err((col, value, reason)) => {
                b.reject(r, col, &value, reason, k);
                continue;
            }
        };
        for q in answered {
            let qp = &plan.questions[q];
            let spec = ctx.catalog.get(&qp.metric).expect("checked in the plan");
            let c = b.cell(qp.column, r);
            if c == Cell::BadUtf8 {
                b.reject(r, qp.column, "", "not valid UTF-8".into(), 1);
                continue;
            }
            match score_of(c, spec) {
                Ok(score) => answers.push(Answer {
                    row: r as u32,
                    ts,
                    metric: specs.index(spec),
                    score,
                    weight,
                    question: q as u16 + 1,
                    comment_col: qp.comment.map(|c| c as u32),
                }),
                Err((v, reason)) => b.reject(r, qp.column, &v, reason, 1),
            }
        }
    }
    b.counts.accepted = answers.len() as u64;
    build(b, answers, &specs.specs)
}

/// The long layout, field by field: each checked column is read in its own loop into its
/// canonical column, problems are collected sparsely, and a rejected row is reported with its
/// first problem in the order a row is checked (field count, timestamp, weight, id, metric,
/// score). The accepted rows are then one filter of every column (none when all are kept).
fn validate_long(mut b: Batch<'_, '_>, time: &mut TimeParser) -> Result<ChunkOutput, String> {
    let (ctx, raw) = (b.ctx, b.raw);
    let plan = ctx.plan;
    let n = raw.len();
    let width = ctx.header.len();
    // (row, order of the check, column, value, reason)
    let mut problems: Vec<(usize, u8, usize, String, String)> = Vec::new();
    for (r, extra) in &raw.overlong {
        let fields = raw.field_counts.as_ref().map_or(0, |f| f[*r]);
        problems.push((*r, 0, width, extra.clone(), overlong_reason(fields, width)));
    }
    let tcol = plan.submitted_at;
    let mut utc: Vec<i64> = Vec::with_capacity(n);
    let mut days: Vec<i32> = Vec::with_capacity(n);
    let text = b.plain_text(tcol);
    for r in 0..n {
        let p = match text {
            Some(a) => match a.get(r).filter(|v| !is_blank(v)) {
                Some(v) => time.parse(v).map_err(|e| (v.to_string(), e)),
                None => Err((String::new(), "timestamp is empty".into())),
            },
            None => match b.required(tcol, r) {
                Ok(c) => time_of(c, time),
                Err(e) => Err((String::new(), e)),
            },
        };
        let p = p.unwrap_or_else(|(v, e)| {
            problems.push((r, 1, tcol, v, e));
            Parsed {
                utc_micros: 0,
                local_days: 0,
            }
        });
        utc.push(p.utc_micros);
        days.push(p.local_days);
    }
    let weights: Option<Vec<f64>> = plan.weight.map(|i| {
        (0..n)
            .map(|r| {
                match b.required(i, r) {
                    Ok(c) => weight_of(c),
                    Err(e) => Err((String::new(), e)),
                }
                .unwrap_or_else(|(v, e)| {
                    problems.push((r, 2, i, v, e));
                    0.0
                })
            })
            .collect()
    });
    if let Some(i) = plan.response_id {
        let text = b.plain_text(i);
        for r in 0..n {
            if let Some(a) = text {
                if a.get(r).is_none_or(is_blank) {
                    problems.push((r, 3, i, String::new(), "response_id is empty".into()));
                }
                continue;
            }
            match b.required(i, r) {
                Ok(Cell::Blank) => {
                    problems.push((r, 3, i, String::new(), "response_id is empty".into()))
                }
                Ok(_) => {}
                Err(e) => problems.push((r, 3, i, String::new(), e)),
            }
        }
    }
    // The metric of each row as an index into `specs` (-1: none).
    let mut specs = Specs {
        catalog: ctx.catalog,
        specs: Vec::new(),
    };
    let keys: Vec<i32> = match &plan.metric {
        MetricSource::Fixed(m) => {
            let spec = ctx.catalog.get(m).map_err(|e| e.to_string())?;
            vec![specs.index(spec) as i32; n]
        }
        MetricSource::Column(i) => {
            let i = *i;
            let mut keys = Vec::with_capacity(n);
            match &b.readers[i] {
                // Parquet dictionaries: each distinct value is looked up once.
                Some(Reader::Dict(k, v)) if !b.exceptions => {
                    let by_value: Vec<Result<u16, String>> = (0..v.len())
                        .map(|j| {
                            let t = if v.is_null(j) {
                                ""
                            } else {
                                trimmed(v.value(j))
                            };
                            specs.named(t)
                        })
                        .collect();
                    for r in 0..n {
                        let named = if k.is_null(r) {
                            specs.named("")
                        } else {
                            by_value[k.value(r) as usize].clone()
                        };
                        match named {
                            Ok(si) => keys.push(si as i32),
                            Err(e) => {
                                let t = text_of(b.cell(i, r)).into_owned();
                                problems.push((r, 4, i, t, e));
                                keys.push(-1);
                            }
                        }
                    }
                }
                _ => {
                    // The last few texts seen and their metric.
                    let mut by_text: Vec<(String, u16)> = Vec::new();
                    for r in 0..n {
                        let text = match b.required(i, r) {
                            Ok(c) => text_of(c),
                            Err(e) => {
                                problems.push((r, 4, i, String::new(), e));
                                keys.push(-1);
                                continue;
                            }
                        };
                        if let Some((_, si)) = by_text.iter().find(|(t, _)| *t == text) {
                            keys.push(*si as i32);
                            continue;
                        }
                        match specs.named(&text) {
                            Ok(si) => {
                                if by_text.len() < 64 {
                                    by_text.push((text.into_owned(), si));
                                }
                                keys.push(si as i32);
                            }
                            Err(e) => {
                                problems.push((r, 4, i, text.into_owned(), e));
                                keys.push(-1);
                            }
                        }
                    }
                }
            }
            keys
        }
    };
    let scol = plan.score.expect("long layout has a score column");
    // Scores read as numbers (Parquet) are already the output column; text is parsed into one.
    let typed = match &b.readers[scol] {
        Some(Reader::Number(a)) => Some(a.clone()),
        _ => None,
    };
    let mut parsed: Vec<f64> = Vec::with_capacity(if typed.is_some() { 0 } else { n });
    for (r, &key) in keys.iter().enumerate() {
        let score = match (usize::try_from(key), &typed) {
            (Ok(k), Some(a)) if !b.exceptions => {
                let c = if a.is_null(r) {
                    Cell::Blank
                } else {
                    Cell::Number(a.value(r))
                };
                score_of(c, specs.specs[k])
            }
            (Ok(k), _) => match b.required(scol, r) {
                Ok(c) => score_of(c, specs.specs[k]),
                Err(e) => Err((String::new(), e)),
            },
            (Err(_), _) => Ok(0.0),
        };
        let score = score.unwrap_or_else(|(v, e)| {
            problems.push((r, 5, scol, v, e));
            0.0
        });
        if typed.is_none() {
            parsed.push(score);
        }
    }
    let scores: ArrayRef = match typed {
        Some(a) => Arc::new(a),
        None => Arc::new(Float64Array::from(parsed)),
    };
    // The first problem of each row rejects it.
    problems.sort_by_key(|p| (p.0, p.1));
    problems.dedup_by_key(|p| p.0);
    let accepted = n - problems.len();
    b.counts.records += n as u64;
    b.counts.read += n as u64;
    b.counts.accepted = accepted as u64;
    let keep: Option<arrow::array::BooleanArray> = if problems.is_empty() {
        None
    } else {
        let mut keep = vec![true; n];
        for (r, _, col, value, reason) in problems {
            keep[r] = false;
            b.reject(r, col, &value, reason, 1);
        }
        Some(keep.into())
    };
    let kept = |a: ArrayRef| -> Result<ArrayRef, String> {
        match &keep {
            None => Ok(a),
            Some(m) => arrow::compute::filter(&a, m).map_err(|e| e.to_string()),
        }
    };
    // The accepted rows, for the columns built value by value.
    let each_row = || (0..n).filter(|&r| keep.as_ref().is_none_or(|m| m.value(r)));
    // Response ids: the id column, or file:line when the source has none.
    let ids: StringArray = match plan.response_id {
        Some(col) if matches!(b.readers[col], Some(Reader::Text(_))) => {
            trimmed_text(&kept(raw.columns[col].clone())?)?
        }
        Some(col) => each_row().map(|r| Some(text_of(b.cell(col, r)))).collect(),
        None => each_row()
            .map(|r| Some(format!("{}:{}", ctx.id_prefix, raw.lines[r])))
            .collect(),
    };
    let text_or_null = |col: Option<usize>| -> Result<ArrayRef, String> {
        match col {
            Some(c) if matches!(b.readers[c], Some(Reader::Text(_)) | None) => Ok(Arc::new(
                blank_to_null(&trimmed_text(&kept(raw.columns[c].clone())?)?),
            )),
            Some(c) => Ok(Arc::new(
                each_row()
                    .map(|r| match b.cell(c, r) {
                        Cell::Blank | Cell::Missing | Cell::BadUtf8 => None,
                        cell => Some(text_of(cell)),
                    })
                    .collect::<StringArray>(),
            )),
            None => Ok(arrow::array::new_null_array(&DataType::Utf8, accepted)),
        }
    };
    let customers = text_or_null(plan.customer_id)?;
    let comments = text_or_null(plan.comment)?;
    let metric_values = StringArray::from_iter_values(specs.specs.iter().map(|s| s.name.as_str()));
    let metric_keys = kept(Arc::new(Int32Array::from(keys)))?;
    let metrics = arrow::array::DictionaryArray::<Int32Type>::try_new(
        metric_keys.as_primitive::<Int32Type>().clone(),
        Arc::new(metric_values),
    )
    .map_err(|e| e.to_string())?;
    let weight: ArrayRef = match weights {
        Some(w) => kept(Arc::new(Float64Array::from(w)))?,
        None => Arc::new(Float64Array::from(vec![1.0; accepted])),
    };
    let names: Vec<String> = plan.attributes.iter().map(|(_, n)| n.clone()).collect();
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(ids),
        customers,
        kept(Arc::new(
            TimestampMicrosecondArray::from(utc).with_timezone("UTC"),
        ))?,
        kept(Arc::new(Date32Array::from(days)))?,
        Arc::new(metrics),
        kept(scores)?,
        weight,
        comments,
    ];
    for (col, _) in &plan.attributes {
        cols.push(attribute(&kept(raw.columns[*col].clone())?)?);
    }
    let batch = RecordBatch::try_new(responses_schema(&names), cols).map_err(|e| e.to_string())?;
    let lines = match &keep {
        None => raw.lines.clone(),
        Some(_) => each_row().map(|r| raw.lines[r]).collect(),
    };
    Ok(ChunkOutput {
        batch,
        lines,
        rejects: b.rejects,
        counts: b.counts,
    })
}

/// The canonical columns of the accepted answers.
fn build(
    b: Batch<'_, '_>,
    answers: Vec<Answer>,
    specs: &[&MetricSpec],
) -> Result<ChunkOutput, String> {
    let ctx = b.ctx;
    let plan = ctx.plan;
    let rows = UInt32Array::from_iter_values(answers.iter().map(|a| a.row));
    // Every row accepted once and in order (the usual case): the raw columns are the output.
    let identity = answers.len() == b.raw.len()
        && answers.iter().enumerate().all(|(i, a)| a.row as usize == i);
    let take_col = |col: usize| -> Result<ArrayRef, String> {
        if identity {
            return Ok(b.raw.columns[col].clone());
        }
        take(b.raw.columns[col].as_ref(), &rows, None).map_err(|e| e.to_string())
    };
    // Response ids: the id column (plus the question number in the wide layout), or
    // file:line[#question] when the source has none.
    let ids: ArrayRef = {
        let mut sb = StringBuilder::with_capacity(answers.len(), answers.len() * 12);
        for a in &answers {
            let r = a.row as usize;
            let base: Cow<'_, str> = match plan.response_id {
                Some(col) => text_of(b.cell(col, r)),
                None => Cow::Owned(format!("{}:{}", ctx.id_prefix, b.raw.lines[r])),
            };
            sb.append_value(format!("{base}#{}", a.question));
        }
        Arc::new(sb.finish())
    };
    let text_or_null = |col: Option<usize>| -> Result<ArrayRef, String> {
        match col {
            Some(c) => Ok(Arc::new(blank_to_null(&trimmed_text(&take_col(c)?)?))),
            None => Ok(arrow::array::new_null_array(&DataType::Utf8, answers.len())),
        }
    };
    let customers = text_or_null(plan.customer_id)?;
    // Comments: the comment column of each answer's question.
    let comments: ArrayRef = if answers.iter().all(|a| a.comment_col.is_none()) {
        arrow::array::new_null_array(&DataType::Utf8, answers.len())
    } else {
        let mut sb = StringBuilder::new();
        for a in &answers {
            match a.comment_col {
                Some(c) => match b.cell(c as usize, a.row as usize) {
                    Cell::Blank | Cell::Missing | Cell::BadUtf8 => sb.append_null(),
                    cell => sb.append_value(text_of(cell)),
                },
                None => sb.append_null(),
            }
        }
        Arc::new(sb.finish())
    };
    let metric_values = StringArray::from_iter_values(specs.iter().map(|s| s.name.as_str()));
    let metric_keys = Int32Array::from_iter_values(answers.iter().map(|a| a.metric as i32));
    let metrics =
        arrow::array::DictionaryArray::<Int32Type>::try_new(metric_keys, Arc::new(metric_values))
            .map_err(|e| e.to_string())?;
    let names: Vec<String> = plan.attributes.iter().map(|(_, n)| n.clone()).collect();
    let schema = responses_schema(&names);
    let mut cols: Vec<ArrayRef> = vec![
        ids,
        customers,
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(answers.iter().map(|a| a.ts.utc_micros))
                .with_timezone("UTC"),
        ),
        Arc::new(Date32Array::from_iter_values(
            answers.iter().map(|a| a.ts.local_days),
        )),
        Arc::new(metrics),
        Arc::new(Float64Array::from_iter_values(
            answers.iter().map(|a| a.score),
        )),
        Arc::new(Float64Array::from_iter_values(
            answers.iter().map(|a| a.weight),
        )),
        comments,
    ];
    for (col, _) in &plan.attributes {
        cols.push(attribute(&take_col(*col)?)?);
    }
    let batch = RecordBatch::try_new(schema, cols).map_err(|e| e.to_string())?;
    Ok(ChunkOutput {
        lines: answers
            .iter()
            .map(|a| b.raw.lines[a.row as usize])
            .collect(),
        batch,
        rejects: b.rejects,
        counts: b.counts,
    })
}

/// A segment attribute as Dictionary(Int32, Utf8) with values trimmed and blanks as nulls, in one
/// pass over text (a repeat of the previous value costs one comparison), or by re-keying a
/// dictionary read from Parquet.
fn attribute(a: &ArrayRef) -> Result<ArrayRef, String> {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    if let DataType::Dictionary(_, v) = a.data_type()
        && **v == DataType::Utf8
    {
        let d = cast(a, &dict).map_err(|e| e.to_string())?;
        let values = d.as_dictionary::<Int32Type>().values().as_string::<i32>();
        let clean = (0..values.len()).all(|i| {
            values.is_valid(i) && {
                let v = values.value(i);
                !v.is_empty() && v.trim().len() == v.len()
            }
        });
        if clean {
            return Ok(d);
        }
    }
    let t = match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().clone(),
        _ => cast(a, &DataType::Utf8)
            .map_err(|e| e.to_string())?
            .as_string::<i32>()
            .clone(),
    };
    let mut index: std::collections::HashMap<
        &str,
        i32,
        std::hash::BuildHasherDefault<cxray_kernels::IdHasher>,
    > = Default::default();
    let mut values: Vec<&str> = Vec::new();
    let mut keys: Vec<i32> = Vec::with_capacity(t.len());
    let mut valid: Vec<bool> = Vec::with_capacity(t.len());
    let mut last: Option<(&str, i32)> = None;
    for i in 0..t.len() {
        let v = if t.is_null(i) { "" } else { t.value(i).trim() };
        if v.is_empty() {
            keys.push(0);
            valid.push(false);
            continue;
        }
        let k = match last {
            Some((l, k)) if l == v => k,
            _ => {
                let k = *index.entry(v).or_insert_with(|| {
                    values.push(v);
                    values.len() as i32 - 1
                });
                last = Some((v, k));
                k
            }
        };
        keys.push(k);
        valid.push(true);
    }
    let keys = if valid.iter().all(|v| *v) {
        Int32Array::from(keys)
    } else {
        Int32Array::new(keys.into(), Some(valid.into()))
    };
    let values = StringArray::from_iter_values(values);
    Ok(Arc::new(
        arrow::array::DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values))
            .map_err(|e| e.to_string())?,
    ))
}

/// A text column with surrounding whitespace removed (only copied when some value needs it).
fn trimmed_text(a: &ArrayRef) -> Result<StringArray, String> {
    let s = match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().clone(),
        _ => cast(a, &DataType::Utf8)
            .map_err(|e| e.to_string())?
            .as_string::<i32>()
            .clone(),
    };
    let needs = (0..s.len()).any(|i| {
        !s.is_null(i) && {
            let v = s.value(i).as_bytes();
            !v.is_empty() && (v[0].is_ascii_whitespace() || v[v.len() - 1].is_ascii_whitespace())
        }
    });
    if !needs {
        return Ok(s);
    }
    Ok(s.iter().map(|v| v.map(str::trim)).collect())
}

/// Empty strings as nulls.
fn blank_to_null(s: &StringArray) -> StringArray {
    if (0..s.len()).any(|i| !s.is_null(i) && s.value(i).is_empty()) {
        s.iter().map(|v| v.filter(|x| !x.is_empty())).collect()
    } else {
        s.clone()
    }
}

/// Parses a number: "9", " 9.0 ", "9,5" (decimal comma), "1e3".
fn parse_number(raw: &str) -> Option<f64> {
    let t = raw.trim();
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok().or_else(|| {
        if t.contains(',') && !t.contains('.') {
            t.replace(',', ".").parse().ok()
        } else {
            None
        }
    })
}

/// Parses and validates a score; accepts choice labels that start with the number
/// ("10 - Extremely likely", "4 (Satisfied)").
fn parse_score(raw: &str, spec: &MetricSpec) -> Result<f64, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(format!("{} score is empty", spec.name));
    }
    let v = match parse_number(t) {
        Some(v) => v,
        None => {
            let lead: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
            let rest = t[lead.len()..].trim_start();
            if !lead.is_empty()
                && (rest.starts_with('-') || rest.starts_with('(') || rest.starts_with('='))
            {
                lead.parse::<f64>().map_err(|e| e.to_string())?
            } else {
                return Err(format!(
                    "{} score is not a number (expected {}-{})",
                    spec.name, spec.min, spec.max
                ));
            }
        }
    };
    spec.validate(v)?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores() {
        let nps = MetricSpec::nps();
        assert_eq!(parse_score("9", &nps), Ok(9.0));
        assert_eq!(parse_score(" 10 - Extremely likely", &nps), Ok(10.0));
        assert_eq!(parse_score("0 (Not at all likely)", &nps), Ok(0.0));
        assert!(
            parse_score("11", &nps)
                .unwrap_err()
                .contains("outside the scale 0-10")
        );
        assert!(parse_score("", &nps).unwrap_err().contains("empty"));
        assert!(
            parse_score("nine", &nps)
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            parse_score("9.5", &nps)
                .unwrap_err()
                .contains("whole number")
        );
        assert_eq!(parse_number("4,5"), Some(4.5));
        assert_eq!(parse_number("1,000.5"), None);
    }
}
