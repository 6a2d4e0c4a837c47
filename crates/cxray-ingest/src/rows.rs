//! Validation of each input row and its conversion into canonical response rows (Arrow).
//!
//! A row is accepted only when its timestamp parses, its metric is known and its score lies on
//! that metric's scale; anything else becomes a [`Reject`] naming the column, the value and the
//! reason. Wide rows yield one response per answered question; an unanswered question (blank
//! cell) is counted as blank, not as an error.

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, StringBuilder, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use cxray_metrics::{MetricCatalog, MetricSpec};

use crate::config::Layout;
use crate::mapping::{MetricSource, Plan};
use crate::rejects::{Reject, clip_value};
use crate::timestamp::TimeParser;

/// One field of an input row: text from CSV/NDJSON, or a typed value from Parquet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FieldValue<'a> {
    /// The row has fewer fields than the header.
    Missing,
    Text(&'a str),
    /// Bytes that are not UTF-8.
    BadUtf8,
    /// A typed number.
    Number(f64),
    /// A typed instant, UTC microseconds.
    Instant(i64),
    /// A typed wall-clock time without a timezone.
    Wall(chrono::NaiveDateTime),
}

impl FieldValue<'_> {
    fn is_blank(&self) -> bool {
        match self {
            FieldValue::Text(s) => s.trim().is_empty(),
            FieldValue::Missing => true,
            _ => false,
        }
    }
}

/// Text of a field: borrowed for text, formatted for typed values.
fn as_text<'r>(v: FieldValue<'r>) -> Option<std::borrow::Cow<'r, str>> {
    use std::borrow::Cow;
    match v {
        FieldValue::Text(s) => Some(Cow::Borrowed(s)),
        FieldValue::Number(x) if x.fract() == 0.0 && x.abs() < 1e15 => {
            Some(Cow::Owned(format!("{}", x as i64)))
        }
        FieldValue::Number(x) => Some(Cow::Owned(x.to_string())),
        FieldValue::Instant(m) => Some(Cow::Owned(
            chrono::DateTime::from_timestamp_micros(m)
                .map(|d| d.to_rfc3339())
                .unwrap_or_default(),
        )),
        FieldValue::Wall(w) => Some(Cow::Owned(w.to_string())),
        FieldValue::Missing | FieldValue::BadUtf8 => None,
    }
}

/// Dictionary encoding for low-cardinality text columns (metric, segment attributes), cheaper
/// than a general dictionary builder: a repeat of the previous value costs one comparison.
#[derive(Default)]
pub(crate) struct DictEncoder {
    index: std::collections::HashMap<Box<str>, i32, std::hash::BuildHasherDefault<crate::IdHasher>>,
    values: StringBuilder,
    keys: Vec<i32>,
    valid: Vec<bool>,
    nulls: usize,
    last: Option<(Box<str>, i32)>,
}

impl DictEncoder {
    fn append(&mut self, s: &str) {
        if let Some((l, k)) = &self.last
            && **l == *s
        {
            self.keys.push(*k);
            self.valid.push(true);
            return;
        }
        let k = match self.index.get(s) {
            Some(k) => *k,
            None => {
                let k = self.index.len() as i32;
                self.index.insert(s.into(), k);
                self.values.append_value(s);
                k
            }
        };
        self.last = Some((s.into(), k));
        self.keys.push(k);
        self.valid.push(true);
    }

    fn append_null(&mut self) {
        self.keys.push(0);
        self.valid.push(false);
        self.nulls += 1;
    }

    fn finish(&mut self) -> arrow::array::DictionaryArray<Int32Type> {
        let keys = if self.nulls > 0 {
            arrow::array::Int32Array::new(
                std::mem::take(&mut self.keys).into(),
                Some(std::mem::take(&mut self.valid).into()),
            )
        } else {
            arrow::array::Int32Array::from(std::mem::take(&mut self.keys))
        };
        let values = Arc::new(self.values.finish());
        arrow::array::DictionaryArray::try_new(keys, values).expect("keys index the values")
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

/// Timestamp, weight and response id of a row.
type RowFields<'r> = (
    crate::timestamp::Parsed,
    f64,
    Option<std::borrow::Cow<'r, str>>,
);
/// (column, value, reason) of a row-level problem.
type RowProblem = (usize, String, String);

/// Validates rows and accumulates canonical columns.
pub(crate) struct RowProcessor<'a> {
    plan: &'a Plan,
    catalog: &'a MetricCatalog,
    header: &'a [String],
    file: &'a str,
    id_prefix: &'a str,
    time: TimeParser,
    ids: StringBuilder,
    customers: StringBuilder,
    ts: Vec<i64>,
    days: Vec<i32>,
    metrics: DictEncoder,
    scores: Vec<f64>,
    weights: Vec<f64>,
    comments: StringBuilder,
    attrs: Vec<DictEncoder>,
    lines: Vec<u64>,
    id_hashes: Vec<u64>,
    rejects: Vec<Reject>,
    counts: Counts,
    /// Metric spec cache for the long layout's metric column (last name seen).
    last_metric: Option<(String, &'a MetricSpec)>,
}

impl<'a> RowProcessor<'a> {
    pub fn new(
        plan: &'a Plan,
        catalog: &'a MetricCatalog,
        header: &'a [String],
        file: &'a str,
        id_prefix: &'a str,
        time: TimeParser,
    ) -> Self {
        RowProcessor {
            plan,
            catalog,
            header,
            file,
            id_prefix,
            time,
            ids: StringBuilder::new(),
            customers: StringBuilder::new(),
            ts: Vec::new(),
            days: Vec::new(),
            metrics: DictEncoder::default(),
            scores: Vec::new(),
            weights: Vec::new(),
            comments: StringBuilder::new(),
            attrs: plan
                .attributes
                .iter()
                .map(|_| DictEncoder::default())
                .collect(),
            lines: Vec::new(),
            id_hashes: Vec::new(),
            rejects: Vec::new(),
            counts: Counts::default(),
            last_metric: None,
        }
    }

    fn column_name(&self, i: usize) -> String {
        self.header
            .get(i)
            .cloned()
            .unwrap_or_else(|| format!("#{}", i + 1))
    }

    fn reject(&mut self, line: u64, col: usize, value: &str, reason: String, answers: u64) {
        self.counts.rejected += answers;
        self.rejects.push(Reject {
            file: self.file.to_string(),
            line,
            column: self.column_name(col),
            value: clip_value(value),
            reason,
            answers,
        });
    }

    /// A field that must be present and valid UTF-8; otherwise the reason.
    fn field<'r>(
        &self,
        get: &impl Fn(usize) -> FieldValue<'r>,
        i: usize,
        n_fields: usize,
    ) -> Result<FieldValue<'r>, String> {
        match get(i) {
            FieldValue::Missing => Err(format!(
                "row has {n_fields} field(s) but the header has {}; a delimiter or quote is probably missing",
                self.header.len()
            )),
            FieldValue::BadUtf8 => Err("not valid UTF-8".into()),
            v => Ok(v),
        }
    }

    fn optional<'r>(
        get: &impl Fn(usize) -> FieldValue<'r>,
        i: Option<usize>,
    ) -> Option<std::borrow::Cow<'r, str>> {
        let v = get(i?);
        if v.is_blank() {
            return None;
        }
        as_text(v)
    }

    /// Processes one input record starting at `line` with `n_fields` fields.
    pub fn push<'r>(&mut self, line: u64, n_fields: usize, get: impl Fn(usize) -> FieldValue<'r>) {
        self.counts.records += 1;
        match self.plan.layout {
            Layout::Long => self.push_long(line, n_fields, &get),
            Layout::Wide => self.push_wide(line, n_fields, &get),
        }
    }

    /// Row-level fields shared by both layouts: timestamp, weight, response id.
    fn row_fields<'r>(
        &mut self,
        n_fields: usize,
        get: &impl Fn(usize) -> FieldValue<'r>,
    ) -> Result<RowFields<'r>, RowProblem> {
        let p = self.plan;
        let tcol = p.submitted_at;
        let ts = match self
            .field(get, tcol, n_fields)
            .map_err(|r| (tcol, String::new(), r))?
        {
            FieldValue::Instant(m) => self.time.from_utc_micros(m),
            FieldValue::Wall(w) => self
                .time
                .from_wall(w)
                .map_err(|r| (tcol, w.to_string(), r))?,
            FieldValue::Text(raw) => self
                .time
                .parse(raw)
                .map_err(|r| (tcol, raw.to_string(), r))?,
            other => {
                let v = as_text(other).unwrap_or_default().into_owned();
                return Err((tcol, v, "not a timestamp".into()));
            }
        };
        let weight = match p.weight {
            None => 1.0,
            Some(i) => {
                let v = self
                    .field(get, i, n_fields)
                    .map_err(|r| (i, String::new(), r))?;
                let (w, raw) = match v {
                    FieldValue::Number(x) => (Some(x), x.to_string()),
                    FieldValue::Text(t) => (parse_number(t), t.to_string()),
                    other => (None, as_text(other).unwrap_or_default().into_owned()),
                };
                match w {
                    Some(w) if w.is_finite() && w >= 0.0 => w,
                    Some(_) => {
                        return Err((i, raw, "weight must be a non-negative number".into()));
                    }
                    None => {
                        let reason = if raw.trim().is_empty() {
                            "weight is empty"
                        } else {
                            "weight is not a number"
                        };
                        return Err((i, raw, reason.into()));
                    }
                }
            }
        };
        let id = match p.response_id {
            None => None,
            Some(i) => {
                let v = self
                    .field(get, i, n_fields)
                    .map_err(|r| (i, String::new(), r))?;
                if v.is_blank() {
                    return Err((i, String::new(), "response_id is empty".into()));
                }
                Some(match as_text(v).expect("present") {
                    std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.trim()),
                    std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.trim().to_string()),
                })
            }
        };
        Ok((ts, weight, id))
    }

    fn metric_spec(&mut self, name: &str) -> Result<&'a MetricSpec, String> {
        if let Some((n, s)) = &self.last_metric
            && n == name
        {
            return Ok(s);
        }
        let key = name.trim().to_lowercase();
        let spec = self.catalog.get(&key).map_err(|e| e.to_string())?;
        self.last_metric = Some((name.to_string(), spec));
        Ok(spec)
    }

    /// Score of a field on the metric's scale.
    fn score(v: FieldValue<'_>, spec: &MetricSpec) -> Result<f64, (String, String)> {
        match v {
            FieldValue::Number(x) => spec.validate(x).map(|_| x).map_err(|r| (x.to_string(), r)),
            FieldValue::Text(raw) => parse_score(raw, spec).map_err(|r| (raw.to_string(), r)),
            other => {
                let v = as_text(other).unwrap_or_default().into_owned();
                Err((v, format!("{} score is not a number", spec.name)))
            }
        }
    }

    fn push_long<'r>(
        &mut self,
        line: u64,
        n_fields: usize,
        get: &impl Fn(usize) -> FieldValue<'r>,
    ) {
        self.counts.read += 1;
        let p = self.plan;
        let (ts, weight, id) = match self.row_fields(n_fields, get) {
            Ok(v) => v,
            Err((col, value, reason)) => return self.reject(line, col, &value, reason, 1),
        };
        let (metric_col, metric_name) = match &p.metric {
            MetricSource::Fixed(m) => {
                (p.score.unwrap_or(0), std::borrow::Cow::Borrowed(m.as_str()))
            }
            MetricSource::Column(i) => match self.field(get, *i, n_fields) {
                Ok(m) => (*i, as_text(m).unwrap_or_default()),
                Err(r) => return self.reject(line, *i, "", r, 1),
            },
        };
        let spec = match self.metric_spec(&metric_name) {
            Ok(s) => s,
            Err(r) => {
                let v = metric_name.to_string();
                return self.reject(line, metric_col, &v, r, 1);
            }
        };
        let score_col = p.score.expect("long layout has a score column");
        let v = match self.field(get, score_col, n_fields) {
            Ok(v) => v,
            Err(r) => return self.reject(line, score_col, "", r, 1),
        };
        let score = match Self::score(v, spec) {
            Ok(s) => s,
            Err((raw, r)) => return self.reject(line, score_col, &raw, r, 1),
        };
        let comment = Self::optional(get, p.comment);
        let customer = Self::optional(get, p.customer_id);
        match id {
            Some(id) => self.push_id(&id),
            None => self.push_id(&format!("{}:{line}", self.id_prefix)),
        }
        self.append(
            line,
            ts,
            &spec.name,
            score,
            weight,
            customer.as_deref(),
            comment.as_deref(),
            get,
        );
    }

    fn push_id(&mut self, id: &str) {
        if self.plan.response_id.is_some() {
            self.id_hashes.push(crate::hash_id(id));
        }
        self.ids.append_value(id);
    }

    fn push_wide<'r>(
        &mut self,
        line: u64,
        n_fields: usize,
        get: &impl Fn(usize) -> FieldValue<'r>,
    ) {
        let p = self.plan;
        let answered: Vec<usize> = p
            .questions
            .iter()
            .enumerate()
            .filter(|(_, q)| !get(q.column).is_blank())
            .map(|(k, _)| k)
            .collect();
        self.counts.blank += (p.questions.len() - answered.len()) as u64;
        if answered.is_empty() {
            self.counts.empty_records += 1;
            return;
        }
        self.counts.read += answered.len() as u64;
        let (ts, weight, id) = match self.row_fields(n_fields, get) {
            Ok(v) => v,
            Err((col, value, reason)) => {
                let n = answered.len() as u64;
                return self.reject(line, col, &value, reason, n);
            }
        };
        let customer = Self::optional(get, p.customer_id);
        for k in answered {
            let q = &p.questions[k];
            let spec = self.catalog.get(&q.metric).expect("checked in the plan");
            let v = get(q.column);
            if v == FieldValue::BadUtf8 {
                self.reject(line, q.column, "", "not valid UTF-8".into(), 1);
                continue;
            }
            let score = match Self::score(v, spec) {
                Ok(s) => s,
                Err((raw, r)) => {
                    self.reject(line, q.column, &raw, r, 1);
                    continue;
                }
            };
            let comment = Self::optional(get, q.comment);
            match &id {
                Some(id) => self.push_id(&format!("{id}#{}", k + 1)),
                None => self.push_id(&format!("{}:{line}#{}", self.id_prefix, k + 1)),
            }
            self.append(
                line,
                ts,
                &spec.name,
                score,
                weight,
                customer.as_deref(),
                comment.as_deref(),
                get,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn append<'r>(
        &mut self,
        line: u64,
        ts: crate::timestamp::Parsed,
        metric: &str,
        score: f64,
        weight: f64,
        customer: Option<&str>,
        comment: Option<&str>,
        get: &impl Fn(usize) -> FieldValue<'r>,
    ) {
        self.counts.accepted += 1;
        self.customers.append_option(customer.map(str::trim));
        self.ts.push(ts.utc_micros);
        self.days.push(ts.local_days);
        self.metrics.append(metric);
        self.scores.push(score);
        self.weights.push(weight);
        self.comments.append_option(comment);
        for (b, (i, _)) in self.attrs.iter_mut().zip(&self.plan.attributes) {
            match get(*i) {
                FieldValue::Text(s) => {
                    let t = s.trim();
                    if t.is_empty() {
                        b.append_null()
                    } else {
                        b.append(t)
                    }
                }
                FieldValue::Missing | FieldValue::BadUtf8 => b.append_null(),
                other => match as_text(other) {
                    Some(t) => b.append(&t),
                    None => b.append_null(),
                },
            }
        }
        self.lines.push(line);
    }

    /// The accepted rows as one batch with the source's schema.
    pub fn finish(mut self) -> ChunkOutput {
        let names: Vec<String> = self
            .plan
            .attributes
            .iter()
            .map(|(_, n)| n.clone())
            .collect();
        let schema = responses_schema(&names);
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.ids.finish()),
            Arc::new(self.customers.finish()),
            Arc::new(
                TimestampMicrosecondArray::from(std::mem::take(&mut self.ts)).with_timezone("UTC"),
            ),
            Arc::new(Date32Array::from(std::mem::take(&mut self.days))),
            Arc::new(self.metrics.finish()),
            Arc::new(Float64Array::from(std::mem::take(&mut self.scores))),
            Arc::new(Float64Array::from(std::mem::take(&mut self.weights))),
            Arc::new(self.comments.finish()),
        ];
        for b in &mut self.attrs {
            cols.push(Arc::new(b.finish()));
        }
        let batch = RecordBatch::try_new(schema, cols).expect("columns match the schema");
        ChunkOutput {
            batch,
            lines: self.lines,
            id_hashes: self.id_hashes,
            rejects: self.rejects,
            counts: self.counts,
        }
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
