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
    /// Line (CSV, NDJSON) or row number (Parquet) of each row, 1-based.
    pub lines: Vec<u64>,
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
            Reader::Text(a) if a.is_null(r) => Cell::Blank,
            Reader::Text(a) => {
                let v = a.value(r);
                if is_blank(v) {
                    Cell::Blank
                } else {
                    Cell::Text(v)
                }
            }
            Reader::Dict(k, _) if k.is_null(r) => Cell::Blank,
            Reader::Dict(k, v) => {
                let s = v.value(k.value(r) as usize);
                if is_blank(s) {
                    Cell::Blank
                } else {
                    Cell::Text(s)
                }
            }
            Reader::Number(a) if a.is_null(r) => Cell::Blank,
            Reader::Number(a) => Cell::Number(a.value(r)),
            Reader::Instant(a) if a.is_null(r) => Cell::Blank,
            Reader::Instant(a) => Cell::Instant(a.value(r)),
            Reader::Wall(a) if a.is_null(r) => Cell::Blank,
            Reader::Wall(a) => Cell::Wall(a.value(r)),
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
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
    pub lines: Vec<u64>,
    /// Hash of each output row's response id (when the source has ids).
    pub id_hashes: Vec<u64>,
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

/// Validation state of one batch.
struct Batch<'b, 'a> {
    ctx: &'b Context<'a>,
    raw: &'b RawBatch,
    readers: Vec<Option<Reader>>,
    rejects: Vec<Reject>,
    counts: Counts,
}

impl<'b, 'a> Batch<'b, 'a> {
    fn cell(&self, col: usize, r: usize) -> Cell<'_> {
        if let Some(fc) = &self.raw.field_counts
            && col >= fc[r] as usize
        {
            return Cell::Missing;
        }
        if !self.raw.bad_utf8.is_empty() && self.raw.bad_utf8.contains(&(r, col)) {
            return Cell::BadUtf8;
        }
        match &self.readers[col] {
            Some(rd) => rd.cell(r),
            None => Cell::Blank,
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
    let ts = match b.required(tcol, r).map_err(|e| (tcol, String::new(), e))? {
        Cell::Instant(m) => time.from_utc_micros(m),
        Cell::Wall(m) => {
            let w = chrono::DateTime::from_timestamp_micros(m)
                .map(|d| d.naive_utc())
                .ok_or_else(|| (tcol, m.to_string(), "timestamp out of range".to_string()))?;
            time.from_wall(w).map_err(|e| (tcol, w.to_string(), e))?
        }
        Cell::Text(s) => time.parse(s).map_err(|e| (tcol, s.to_string(), e))?,
        Cell::Blank => return Err((tcol, String::new(), "timestamp is empty".into())),
        other => return Err((tcol, text_of(other).into_owned(), "not a timestamp".into())),
    };
    let weight = match p.weight {
        None => 1.0,
        Some(i) => {
            let c = b.required(i, r).map_err(|e| (i, String::new(), e))?;
            let w = match c {
                Cell::Number(x) => Some(x),
                Cell::Text(t) => parse_number(t),
                _ => None,
            };
            match w {
                Some(w) if w.is_finite() && w >= 0.0 => w,
                Some(_) => {
                    return Err((
                        i,
                        text_of(c).into_owned(),
                        "weight must be a non-negative number".into(),
                    ));
                }
                None if c == Cell::Blank => {
                    return Err((i, String::new(), "weight is empty".into()));
                }
                None => return Err((i, text_of(c).into_owned(), "weight is not a number".into())),
            }
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
    /// Question number in the wide layout (for the response id), 0 in the long layout.
    question: u16,
    /// Column of the comment for this answer.
    comment_col: Option<u32>,
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
    let mut b = Batch {
        ctx,
        raw,
        readers,
        rejects: Vec::new(),
        counts: Counts::default(),
    };
    let n = raw.len();
    // Metric specs by index (metric names of this batch), and a cache by raw text.
    let mut specs: Vec<&'a MetricSpec> = Vec::new();
    let mut by_text: Vec<(String, u16)> = Vec::new();
    let spec_index = |spec: &MetricSpec, specs: &mut Vec<&'a MetricSpec>| -> u16 {
        match specs.iter().position(|s| s.name == spec.name) {
            Some(i) => i as u16,
            None => {
                specs.push(ctx.catalog.get(&spec.name).expect("known metric"));
                (specs.len() - 1) as u16
            }
        }
    };
    let mut answers: Vec<Answer> = Vec::with_capacity(n);
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
    let overlong: std::collections::HashMap<usize, &String> =
        raw.overlong.iter().map(|(r, v)| (*r, v)).collect();
    let width = ctx.header.len();
    for r in 0..n {
        b.counts.records += 1;
        // Which answers does this row hold? (The long layout: one; no list allocated per row.)
        let answered: Vec<usize> = match plan.layout {
            Layout::Long => Vec::new(),
            Layout::Wide => {
                let a: Vec<usize> = plan
                    .questions
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| !matches!(b.cell(q.column, r), Cell::Blank | Cell::Missing))
                    .map(|(k, _)| k)
                    .collect();
                b.counts.blank += (plan.questions.len() - a.len()) as u64;
                if a.is_empty() {
                    b.counts.empty_records += 1;
                    continue;
                }
                a
            }
        };
        let k = match plan.layout {
            Layout::Long => 1,
            Layout::Wide => answered.len() as u64,
        };
        b.counts.read += k;
        if let Some(extra) = overlong.get(&r) {
            let fields = raw.field_counts.as_ref().map_or(0, |f| f[r]);
            b.reject(
                r,
                width,
                extra,
                format!(
                    "row has {fields} fields but the header has {width}; a text field probably \
                     contains the delimiter without quotes"
                ),
                k,
            );
            continue;
        }
        let (ts, weight, _) = match row_fields(&b, time, r) {
            Ok(v) => v,
            Err((col, value, reason)) => {
                b.reject(r, col, &value, reason, k);
                continue;
            }
        };
        match plan.layout {
            Layout::Long => {
                let score_col = plan.score.expect("long layout has a score column");
                let spec = match &plan.metric {
                    MetricSource::Fixed(m) => ctx.catalog.get(m).map_err(|e| e.to_string())?,
                    MetricSource::Column(i) => {
                        let text = match b.required(*i, r) {
                            Ok(c) => text_of(c),
                            Err(e) => {
                                b.reject(r, *i, "", e, 1);
                                continue;
                            }
                        };
                        let cached = by_text.iter().find(|(t, _)| *t == text).map(|(_, s)| *s);
                        match cached {
                            Some(si) => specs[si as usize],
                            None => match ctx.catalog.get(&text.to_lowercase()) {
                                Ok(spec) => {
                                    let si = spec_index(spec, &mut specs);
                                    if by_text.len() < 64 {
                                        by_text.push((text.into_owned(), si));
                                    }
                                    specs[si as usize]
                                }
                                Err(e) => {
                                    let v = text.into_owned();
                                    b.reject(r, *i, &v, e.to_string(), 1);
                                    continue;
                                }
                            },
                        }
                    }
                };
                let c = match b.required(score_col, r) {
                    Ok(c) => c,
                    Err(e) => {
                        b.reject(r, score_col, "", e, 1);
                        continue;
                    }
                };
                match score_of(c, spec) {
                    Ok(score) => {
                        let metric = spec_index(spec, &mut specs);
                        answers.push(Answer {
                            row: r as u32,
                            ts,
                            metric,
                            score,
                            weight,
                            question: 0,
                            comment_col: plan.comment.map(|c| c as u32),
                        });
                    }
                    Err((v, reason)) => b.reject(r, score_col, &v, reason, 1),
                }
            }
            Layout::Wide => {
                for q in answered {
                    let qp = &plan.questions[q];
                    let spec = ctx.catalog.get(&qp.metric).expect("checked in the plan");
                    let c = b.cell(qp.column, r);
                    if c == Cell::BadUtf8 {
                        b.reject(r, qp.column, "", "not valid UTF-8".into(), 1);
                        continue;
                    }
                    match score_of(c, spec) {
                        Ok(score) => {
                            let metric = spec_index(spec, &mut specs);
                            answers.push(Answer {
                                row: r as u32,
                                ts,
                                metric,
                                score,
                                weight,
                                question: q as u16 + 1,
                                comment_col: qp.comment.map(|c| c as u32),
                            });
                        }
                        Err((v, reason)) => b.reject(r, qp.column, &v, reason, 1),
                    }
                }
            }
        }
    }
    b.counts.accepted = answers.len() as u64;
    build(b, answers, &specs)
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
    let mut id_hashes = Vec::new();
    let ids: ArrayRef = match (plan.response_id, plan.layout) {
        (Some(col), Layout::Long)
            if matches!(b.readers[col], Some(Reader::Text(_)))
                && b.raw.columns[col].data_type() == &DataType::Utf8 =>
        {
            let t = trimmed_text(&take_col(col)?)?;
            id_hashes = (0..t.len()).map(|i| crate::hash_id(t.value(i))).collect();
            Arc::new(t)
        }
        _ => {
            let mut sb = StringBuilder::with_capacity(answers.len(), answers.len() * 12);
            for a in &answers {
                let r = a.row as usize;
                let base: Cow<'_, str> = match plan.response_id {
                    Some(col) => text_of(b.cell(col, r)),
                    None => Cow::Owned(format!("{}:{}", ctx.id_prefix, b.raw.lines[r])),
                };
                let id = if a.question > 0 {
                    format!("{base}#{}", a.question)
                } else {
                    base.into_owned()
                };
                if plan.response_id.is_some() {
                    id_hashes.push(crate::hash_id(&id));
                }
                sb.append_value(&id);
            }
            Arc::new(sb.finish())
        }
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
        id_hashes,
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
        std::hash::BuildHasherDefault<crate::IdHasher>,
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
