//! Browsing the answers: every answer that passes a set of filters (metric, score range,
//! period, segment values, theme, sentiment, comment language, words in the comment), newest
//! first, a page at a time; and the same selection exported as CSV or Parquet.
//!
//! It reads the project's answers as loaded once (with the comments' language, sentiment and
//! themes) and filters them in memory: one pass over the rows, no copy of the table, so a page
//! over a million answers costs one scan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch, Scalar, StringArray,
};
use arrow::datatypes::Int32Type;
use chrono::NaiveDate;
use serde::Serialize;

use crate::enrich::{TEXT_COLUMNS, THEME_SEPARATOR};
use crate::error::{Error, Result};
use crate::project::{Enrich, Project};

/// Most answers on one page.
pub const MAX_PAGE: usize = 500;

/// Which answers to show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnswersQuery {
    pub metric: Option<String>,
    pub min_score: Option<f64>,
    pub max_score: Option<f64>,
    /// Local dates, inclusive.
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Column = value, for any attribute column (survey, touchpoint, channel, region …).
    pub equals: Vec<(String, String)>,
    /// A theme of the comment.
    pub theme: Option<String>,
    /// `negative`, `neutral` or `positive`.
    pub sentiment: Option<String>,
    /// The comment's language (ISO 639-1).
    pub language: Option<String>,
    /// Words the comment contains (case-insensitive).
    pub text: Option<String>,
    /// Only answers with a comment.
    pub with_comment: bool,
    pub offset: usize,
    /// Answers per page (at most [`MAX_PAGE`]; 0: 50).
    pub limit: usize,
}

/// One answer as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswerRow {
    pub response_id: String,
    pub customer_id: Option<String>,
    /// UTC, RFC 3339.
    pub submitted_at: String,
    pub metric: String,
    pub score: f64,
    pub comment: Option<String>,
    pub comment_language: Option<String>,
    pub comment_label: Option<String>,
    pub comment_themes: Vec<String>,
    /// The answer's non-empty attribute values (survey, touchpoint, segments).
    pub attributes: BTreeMap<String, String>,
}

/// A page of answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnswersPage {
    /// Answers that pass the filters.
    pub total: u64,
    /// Answers in the project.
    pub all: u64,
    pub offset: usize,
    pub rows: Vec<AnswerRow>,
    /// Values to filter on: column → its values (columns with at most 100), the metrics, the
    /// themes, the sentiment labels, the comment languages.
    pub facets: BTreeMap<String, Vec<String>>,
}

/// A text column, plain or dictionary-encoded.
enum TextColumn<'a> {
    Plain(&'a StringArray),
    Dict(&'a DictionaryArray<Int32Type>, &'a StringArray),
    Missing,
}

impl<'a> TextColumn<'a> {
    fn of(b: &'a RecordBatch, name: &str) -> TextColumn<'a> {
        match b.column_by_name(name) {
            Some(c) => match c.as_dictionary_opt::<Int32Type>() {
                Some(d) => TextColumn::Dict(d, d.values().as_string::<i32>()),
                None => c
                    .as_string_opt::<i32>()
                    .map_or(TextColumn::Missing, TextColumn::Plain),
            },
            None => TextColumn::Missing,
        }
    }

    fn get(&self, r: usize) -> Option<&'a str> {
        match self {
            TextColumn::Plain(a) => (!a.is_null(r)).then(|| a.value(r)),
            TextColumn::Dict(d, v) => (!d.is_null(r)).then(|| v.value(d.keys().value(r) as usize)),
            TextColumn::Missing => None,
        }
    }
}

/// The pattern of `ilike` that matches `text` anywhere (its wildcards escaped).
fn contains_pattern(text: &str) -> String {
    let mut p = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch")).num_days() as i32
}

impl Project {
    /// The answers that pass `q`, newest first, the page `q.offset..q.offset + q.limit`.
    pub fn answers(&self, q: &AnswersQuery) -> Result<AnswersPage> {
        let limit = match q.limit {
            0 => 50,
            n => n.min(MAX_PAGE),
        };
        let responses = self.responses_with(Enrich {
            text: true,
            touchpoints: false,
        })?;
        let loaded = &responses.loaded;
        let selected = self.select(q)?;
        let mut hits: Vec<(i64, u32, u32)> = Vec::new();
        for (bi, (b, mask)) in loaded.batches.iter().zip(&selected).enumerate() {
            let at = b
                .column_by_name("submitted_at")
                .expect("submitted_at")
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
            for r in (0..b.num_rows()).filter(|&r| mask.value(r)) {
                hits.push((at.value(r), bi as u32, r as u32));
            }
        }
        let total = hits.len();
        // Newest first: only the rows up to the end of the page need to be in order.
        let newest = |a: &(i64, u32, u32), b: &(i64, u32, u32)| b.cmp(a);
        let end = (q.offset + limit).min(total);
        if end > 0 && end < total {
            hits.select_nth_unstable_by(end - 1, newest);
            hits.truncate(end);
        }
        hits.sort_unstable_by(newest);
        let fixed = cxray_ingest::FIXED_COLUMNS.len();
        let rows = hits
            .iter()
            .skip(q.offset)
            .take(limit)
            .map(|&(at, bi, r)| {
                let b = &loaded.batches[bi as usize];
                let r = r as usize;
                let text = |n: &str| TextColumn::of(b, n).get(r).map(str::to_string);
                let mut attributes = BTreeMap::new();
                for (k, name) in loaded.attributes.iter().enumerate() {
                    if TEXT_COLUMNS.contains(&name.as_str()) {
                        continue;
                    }
                    let col = TextColumn::of(b, name);
                    if let Some(v) = col.get(r).filter(|v| !v.is_empty()) {
                        attributes.insert(name.clone(), v.to_string());
                    } else if let Some(v) = b
                        .column(fixed + k)
                        .as_primitive_opt::<arrow::datatypes::Float64Type>()
                        && !v.is_null(r)
                    {
                        attributes.insert(name.clone(), v.value(r).to_string());
                    }
                }
                AnswerRow {
                    response_id: text("response_id").unwrap_or_default(),
                    customer_id: text("customer_id").filter(|c| !c.is_empty()),
                    submitted_at: chrono::DateTime::from_timestamp_micros(at)
                        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                        .unwrap_or_default(),
                    metric: text("metric").unwrap_or_default(),
                    score: b
                        .column_by_name("score")
                        .expect("score")
                        .as_primitive::<arrow::datatypes::Float64Type>()
                        .value(r),
                    comment: text("comment").filter(|c| !c.trim().is_empty()),
                    comment_language: text("comment_language"),
                    comment_label: text("comment_label"),
                    comment_themes: text("comment_themes")
                        .map(|t| {
                            t.split(THEME_SEPARATOR)
                                .filter(|x| !x.is_empty())
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    attributes,
                }
            })
            .collect();
        Ok(AnswersPage {
            total: total as u64,
            all: loaded.batches.iter().map(|b| b.num_rows() as u64).sum(),
            offset: q.offset,
            rows,
            facets: facets(&responses),
        })
    }

    /// The answers that pass `q` (paging ignored) as a table: every column of the answers,
    /// the comments' analysis included, in the order loaded.
    pub fn answers_table(&self, q: &AnswersQuery) -> Result<Vec<RecordBatch>> {
        let responses = self.responses_with(Enrich {
            text: true,
            touchpoints: false,
        })?;
        let selected = self.select(q)?;
        responses
            .loaded
            .batches
            .iter()
            .zip(&selected)
            .map(|(b, m)| {
                arrow::compute::filter_record_batch(b, m)
                    .map_err(|e| Error::runtime(format!("selecting the answers: {e}")))
            })
            .collect()
    }

    /// One mask per loaded batch: the rows that pass `q`.
    fn select(&self, q: &AnswersQuery) -> Result<Vec<BooleanArray>> {
        let responses = self.responses_with(Enrich {
            text: true,
            touchpoints: false,
        })?;
        let loaded = &responses.loaded;
        for (col, _) in &q.equals {
            let known = loaded.attributes.iter().any(|a| a == col)
                || cxray_ingest::FIXED_COLUMNS.contains(&col.as_str());
            let text = loaded.schema.field_with_name(col).is_ok_and(|f| {
                matches!(
                    f.data_type(),
                    arrow::datatypes::DataType::Utf8 | arrow::datatypes::DataType::Dictionary(..)
                )
            });
            if known && !text {
                return Err(Error::usage(format!(
                    "{col} is not a text column: filter scores with their range, times with \
                     their dates"
                ))
                .about("column"));
            }
            if !known {
                return Err(Error::usage(format!(
                    "no column {col:?} in the answers; they have: {}",
                    loaded.attributes.join(", ")
                ))
                .about("column"));
            }
        }
        if let Some(s) = &q.sentiment
            && !["negative", "neutral", "positive"].contains(&s.as_str())
        {
            return Err(Error::usage(format!(
                "sentiment {s:?}: use negative, neutral or positive"
            ))
            .about("sentiment"));
        }
        let since = q.since.map(days);
        let until = q.until.map(days);
        let needle = q
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Scalar::new(StringArray::from(vec![contains_pattern(t)])));
        let mut out = Vec::with_capacity(loaded.batches.len());
        for b in &loaded.batches {
            let metric = TextColumn::of(b, "metric");
            let score = b
                .column_by_name("score")
                .expect("score")
                .as_primitive::<arrow::datatypes::Float64Type>();
            let date = b
                .column_by_name("local_date")
                .expect("local_date")
                .as_primitive::<arrow::datatypes::Date32Type>();
            let comment = TextColumn::of(b, "comment");
            let label = TextColumn::of(b, "comment_label");
            let language = TextColumn::of(b, "comment_language");
            let themes = TextColumn::of(b, "comment_themes");
            let equals: Vec<(TextColumn, &str)> = q
                .equals
                .iter()
                .map(|(c, v)| (TextColumn::of(b, c), v.as_str()))
                .collect();
            let words: Option<BooleanArray> = match &needle {
                Some(n) => {
                    let c: ArrayRef = arrow::compute::cast(
                        b.column_by_name("comment").expect("comment"),
                        &arrow::datatypes::DataType::Utf8,
                    )
                    .map_err(|e| Error::runtime(e.to_string()))?;
                    Some(
                        arrow::compute::kernels::comparison::ilike(&c, n)
                            .map_err(|e| Error::runtime(format!("searching comments: {e}")))?,
                    )
                }
                None => None,
            };
            let keep = (0..b.num_rows()).map(|r| {
                let pass = q.metric.as_deref().is_none_or(|m| metric.get(r) == Some(m))
                    && q.min_score.is_none_or(|m| score.value(r) >= m)
                    && q.max_score.is_none_or(|m| score.value(r) <= m)
                    && since.is_none_or(|d| date.value(r) >= d)
                    && until.is_none_or(|d| date.value(r) <= d)
                    && equals.iter().all(|(c, v)| c.get(r) == Some(*v))
                    && q.sentiment
                        .as_deref()
                        .is_none_or(|s| label.get(r) == Some(s))
                    && q.language
                        .as_deref()
                        .is_none_or(|l| language.get(r) == Some(l))
                    && q.theme.as_deref().is_none_or(|t| {
                        themes
                            .get(r)
                            .is_some_and(|all| all.split(THEME_SEPARATOR).any(|x| x == t))
                    })
                    && (!q.with_comment || comment.get(r).is_some_and(|c| !c.trim().is_empty()))
                    && words.as_ref().is_none_or(|w| w.is_valid(r) && w.value(r));
                Some(pass)
            });
            out.push(keep.collect::<BooleanArray>());
        }
        Ok(out)
    }
}

/// The file format of an export of answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswersFormat {
    /// RFC 4180 CSV with a header; times in RFC 3339 (UTC), every value as text.
    Csv,
    /// Parquet (zstd) with the columns' own types.
    Parquet,
}

impl AnswersFormat {
    pub fn parse(s: &str) -> Option<AnswersFormat> {
        match s {
            "csv" => Some(AnswersFormat::Csv),
            "parquet" => Some(AnswersFormat::Parquet),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            AnswersFormat::Csv => "csv",
            AnswersFormat::Parquet => "parquet",
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            AnswersFormat::Csv => "text/csv; charset=utf-8",
            AnswersFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// `batches` (answers as [`Project::answers_table`] selects them) as a file of `format`.
pub fn write_answers(batches: &[RecordBatch], format: AnswersFormat) -> Result<Vec<u8>> {
    let fail = |e: &dyn std::fmt::Display| Error::runtime(format!("writing the answers: {e}"));
    let Some(first) = batches.first() else {
        return Ok(Vec::new());
    };
    let schema = first.schema();
    match format {
        AnswersFormat::Parquet => {
            let props = parquet::file::properties::WriterProperties::builder()
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build();
            let mut out = Vec::new();
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema, Some(props))
                .map_err(|e| fail(&e))?;
            for b in batches {
                w.write(b).map_err(|e| fail(&e))?;
            }
            w.close().map_err(|e| fail(&e))?;
            Ok(out)
        }
        AnswersFormat::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
                .map_err(|e| fail(&e))?;
            for b in batches {
                let columns: Vec<ArrayRef> = b
                    .columns()
                    .iter()
                    .map(|c| match c.data_type() {
                        arrow::datatypes::DataType::Timestamp(..) => {
                            let t = c.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
                            let s: StringArray = t
                                .iter()
                                .map(|v| {
                                    v.and_then(chrono::DateTime::from_timestamp_micros)
                                        .map(|d| {
                                            d.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                                        })
                                })
                                .collect();
                            Ok(Arc::new(s) as ArrayRef)
                        }
                        _ => arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8),
                    })
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|e| fail(&e))?;
                let text: Vec<&StringArray> =
                    columns.iter().map(|c| c.as_string::<i32>()).collect();
                // Which columns were text: their cells are guarded against spreadsheets.
                let texts: Vec<bool> = b
                    .columns()
                    .iter()
                    .map(|c| {
                        matches!(
                            c.data_type(),
                            arrow::datatypes::DataType::Utf8
                                | arrow::datatypes::DataType::Dictionary(..)
                        )
                    })
                    .collect();
                for r in 0..b.num_rows() {
                    w.write_record(text.iter().zip(&texts).map(|(c, is_text)| {
                        if c.is_null(r) {
                            String::new()
                        } else {
                            spreadsheet_safe(c.value(r), *is_text).into_owned()
                        }
                    }))
                    .map_err(|e| fail(&e))?;
                }
            }
            w.into_inner().map_err(|e| fail(&e))
        }
    }
}

/// A text cell as a spreadsheet reads it safely: one that starts like a formula (`=`, `+`,
/// `-`, `@`, a tab or a carriage return; OWASP's list for CSV injection) gets a leading `'`,
/// so Excel or LibreOffice shows it as text instead of running it.
fn spreadsheet_safe(v: &str, is_text: bool) -> std::borrow::Cow<'_, str> {
    match v.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') if is_text => {
            std::borrow::Cow::Owned(format!("'{v}"))
        }
        _ => std::borrow::Cow::Borrowed(v),
    }
}

/// The values worth offering as filters.
fn facets(responses: &crate::project::Responses) -> BTreeMap<String, Vec<String>> {
    let loaded = &responses.loaded;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut too_many: BTreeSet<String> = BTreeSet::new();
    let mut names: Vec<&str> = vec!["metric"];
    names.extend(loaded.attributes.iter().map(String::as_str));
    for b in &loaded.batches {
        for name in &names {
            if *name == "comment_themes" || *name == "comment_sentiment" || too_many.contains(*name)
            {
                continue;
            }
            if let TextColumn::Dict(_, values) = TextColumn::of(b, name) {
                let set = out.entry(name.to_string()).or_default();
                for i in 0..values.len() {
                    if !values.is_null(i) && !values.value(i).is_empty() {
                        set.insert(values.value(i).to_string());
                    }
                }
                if set.len() > 100 {
                    too_many.insert(name.to_string());
                    out.remove(*name);
                }
            }
        }
    }
    if let Some(t) = &responses.text {
        out.insert("comment_themes".into(), t.themes.iter().cloned().collect());
    }
    out.into_iter()
        .map(|(k, v)| (k, v.into_iter().collect()))
        .filter(|(_, v): &(String, Vec<String>)| !v.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_start_like_formulas_are_kept_as_text() {
        for (v, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-cmd", "'-cmd"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("late parcel", "late parcel"),
        ] {
            assert_eq!(spreadsheet_safe(v, true), safe);
        }
        // A number is a number.
        assert_eq!(spreadsheet_safe("-3.5", false), "-3.5");
    }

    #[test]
    fn wildcards_in_searched_words_are_taken_literally() {
        assert_eq!(contains_pattern("late"), "%late%");
        assert_eq!(contains_pattern("100%_"), "%100\\%\\_%");
        assert_eq!(contains_pattern("a\\b"), "%a\\\\b%");
    }
}
