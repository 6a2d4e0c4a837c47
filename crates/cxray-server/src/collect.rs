//! `POST /api/v1/responses` and `POST /api/v1/events`: answers and journey events collected
//! elsewhere, one JSON object per request or many as NDJSON (a JSON array works too).
//!
//! A request is checked in three steps, and stored only when every record passes all three:
//! 1. **Shape**: each record is parsed into the request types below (unknown fields, wrong
//!    types and missing answers are refused with serde's reason).
//! 2. **The rules of file ingestion**: the records are laid out as canonical rows (one per
//!    answer, `response_id#metric` as a store export names them) and handed to `cxray-ingest`
//!    as an NDJSON source in memory, so a timestamp, a metric or a score is accepted by the
//!    API exactly when a file row with the same values would be (one implementation).
//! 3. **The store's invariants** (id lengths, attribute names): checked by the store.
//!
//! A refused record is answered 422 with its line, field, value and reason; the request is all
//! or nothing. Ids make requests idempotent: a record without one takes the `Idempotency-Key`
//! header (with `:line` for many records) or, failing that, a random id.

use std::collections::{BTreeMap, HashMap};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int32Type, TimestampMicrosecondType, UInt64Type};
use axum::http::{HeaderMap, header};
use cxray_ingest::{Entity, Format, LoadOptions, SourceConfig, Sources};
use cxray_metrics::MetricCatalog;
use cxray_store::{NewAnswer, NewEvent, NewResponse, Receipt, Record, Store, WriteError};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, RowError};

/// A value of an id, attribute or score: text, a number or a flag, kept as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(serde_json::Number),
    Flag(bool),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Flag(b) => b.to_string(),
        }
    }
}

/// A response as the API takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseIn {
    #[serde(default)]
    pub response_id: Option<Scalar>,
    #[serde(default)]
    pub survey: Option<String>,
    #[serde(default)]
    pub invitation_id: Option<Scalar>,
    #[serde(default)]
    pub customer_id: Option<Scalar>,
    /// ISO 8601 (or any format file ingestion reads); the time of receipt when absent.
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub touchpoint: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Scalar>,
    pub answers: Vec<AnswerIn>,
}

/// One answer of a response.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerIn {
    pub metric: String,
    /// Needed, as in a file's row: an answer without one is refused with ingestion's reason
    /// (the field is optional only so that the reason is that one, not serde's).
    #[serde(default)]
    pub score: Option<Scalar>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A journey event as the API takes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventIn {
    #[serde(default)]
    pub event_id: Option<Scalar>,
    #[serde(default)]
    pub customer_id: Option<Scalar>,
    #[serde(default)]
    pub session_id: Option<Scalar>,
    pub step: String,
    /// When it happened; the time of receipt when absent.
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, Scalar>,
}

/// What a stored request answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    #[serde(flatten)]
    pub receipt: Receipt,
    /// The id of each record, in request order (generated ones included).
    pub ids: Vec<String>,
    /// What the triggers decided for the events (invited, throttled … and why).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<cxray_store::Decision>,
}

/// Checked records and the line of each in the body, or why the body was refused.
pub type Checked = Result<(Vec<Record>, Vec<u64>), ApiError>;

/// What the checks need of the project.
pub struct Rules {
    pub catalog: MetricCatalog,
    /// IANA timezone of timestamps without an offset.
    pub timezone: String,
}

/// Media types read as many records, one JSON object per line.
const NDJSON: [&str; 4] = [
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
];

/// The records of a body, each with its line, and the records that did not parse.
pub type Parsed<T> = (Vec<(u64, T)>, Vec<RowError>);

/// The records of a body with their lines; the records that do not parse are row errors.
pub fn parse_records<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Parsed<T>, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let take = |line: u64,
                value: serde_json::Value,
                records: &mut Vec<(u64, T)>,
                errors: &mut Vec<RowError>| match serde_json::from_value::<T>(value)
    {
        Ok(r) => records.push((line, r)),
        Err(e) => errors.push(RowError {
            line,
            field: String::new(),
            value: String::new(),
            reason: e.to_string(),
        }),
    };
    if media == "application/json" {
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
        match value {
            serde_json::Value::Array(items) => {
                for (i, v) in items.into_iter().enumerate() {
                    take(i as u64 + 1, v, &mut records, &mut errors);
                }
            }
            v @ serde_json::Value::Object(_) => take(1, v, &mut records, &mut errors),
            _ => {
                return Err(ApiError::BadRequest(
                    "the body is JSON but neither an object nor an array of objects".into(),
                ));
            }
        }
    } else if NDJSON.contains(&media.as_str()) {
        for (i, line) in body.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(v) => take(i as u64 + 1, v, &mut records, &mut errors),
                Err(e) => errors.push(RowError {
                    line: i as u64 + 1,
                    field: String::new(),
                    value: String::new(),
                    reason: format!("not a JSON object: {e}"),
                }),
            }
        }
    } else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send application/json (one record, or an array) or application/x-ndjson (one \
             record per line), not {:?}",
            if media.is_empty() {
                "no content type"
            } else {
                &media
            }
        )));
    }
    if records.is_empty() && errors.is_empty() {
        return Err(ApiError::BadRequest("the body holds no records".into()));
    }
    Ok((records, errors))
}

/// 422 for the row errors, if any, of a body of `total` records.
fn refuse(mut errors: Vec<RowError>, total: usize) -> Result<(), ApiError> {
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by_key(|e| e.line);
    let mut lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
    lines.dedup();
    Err(ApiError::InvalidRows {
        message: format!(
            "{} of {total} records are invalid; nothing was stored",
            lines.len()
        ),
        rows: errors,
    })
}

/// The id of a record: its own, else from the `Idempotency-Key`, else random.
fn record_id(own: Option<&Scalar>, key: Option<&str>, line: u64, many: bool) -> String {
    match (own, key) {
        (Some(id), _) => id.text(),
        (None, Some(k)) if many => format!("{k}:{line}"),
        (None, Some(k)) => k.to_string(),
        (None, None) => crate::links::random_id(),
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => {
            let k = v.to_str().map_err(|_| {
                ApiError::BadRequest("the Idempotency-Key header is not ASCII text".into())
            })?;
            let k = k.trim();
            if k.is_empty() || k.len() > 150 {
                return Err(ApiError::BadRequest(
                    "the Idempotency-Key header is 1 to 150 characters".into(),
                ));
            }
            Ok(Some(k.to_string()))
        }
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Attributes the store would refuse (names read as columns of the record, too many, too
/// long), checked before the records are laid out as rows: an attribute named like a column
/// would take that column's place.
fn attribute_errors(
    line: u64,
    attributes: &BTreeMap<String, Scalar>,
    event: bool,
    errors: &mut Vec<RowError>,
) {
    if attributes.len() > cxray_store::MAX_ATTRIBUTES {
        errors.push(RowError {
            line,
            field: "attributes".into(),
            value: String::new(),
            reason: format!(
                "{} attributes; at most {} per record",
                attributes.len(),
                cxray_store::MAX_ATTRIBUTES
            ),
        });
        return;
    }
    for (name, value) in attributes {
        let problem = cxray_store::attribute_problem(name, event).or_else(|| {
            (value.text().chars().count() > cxray_store::MAX_ATTRIBUTE_VALUE).then(|| {
                format!(
                    "longer than {} characters",
                    cxray_store::MAX_ATTRIBUTE_VALUE
                )
            })
        });
        if let Some(reason) = problem {
            errors.push(RowError {
                line,
                field: format!("attributes.{name}"),
                value: String::new(),
                reason,
            });
        }
    }
}

/// Most records in one request (bulk loads send several requests).
pub const MAX_RECORDS: usize = 10_000;
/// Most distinct attribute names in one request.
pub const MAX_ATTRIBUTE_NAMES: usize = 200;

/// Refuses a request with too many records or attribute names before any work on them.
fn check_size<'a>(records: usize, names: impl Iterator<Item = &'a String>) -> Result<(), ApiError> {
    if records > MAX_RECORDS {
        return Err(ApiError::BadRequest(format!(
            "{records} records in one request; send at most {MAX_RECORDS} per request"
        )));
    }
    let distinct: std::collections::BTreeSet<&String> = names.collect();
    if distinct.len() > MAX_ATTRIBUTE_NAMES {
        return Err(ApiError::BadRequest(format!(
            "{} distinct attribute names in one request; at most {MAX_ATTRIBUTE_NAMES}",
            distinct.len()
        )));
    }
    Ok(())
}

/// Row errors for ids that appear twice in one request (`ids` in the order of `parsed`).
fn duplicate_ids<T>(parsed: &[(u64, T)], ids: &[String], errors: &mut Vec<RowError>) {
    let mut seen = std::collections::HashMap::new();
    for ((line, _), id) in parsed.iter().zip(ids) {
        if let Some(first) = seen.insert(id.as_str(), *line) {
            errors.push(RowError {
                line: *line,
                field: "id".into(),
                value: id.clone(),
                reason: format!("the id of line {first} again; one record per id"),
            });
        }
    }
}

/// Reads the canonical rows `lines` (NDJSON) as ingestion reads a file.
fn source(content: Vec<u8>, rules: &Rules, entity: Option<&str>) -> Sources {
    Sources {
        list: vec![SourceConfig {
            path: "request".into(),
            entity: entity.map(str::to_string),
            format: Some(Format::Ndjson),
            duplicates: cxray_ingest::DuplicatePolicy::KeepFirst,
            content: Some(content.into()),
            ..Default::default()
        }],
        base_dir: Default::default(),
        timezone: rules.timezone.clone(),
        origin: "request".into(),
    }
}

fn ndjson(rows: &[serde_json::Map<String, serde_json::Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in rows {
        serde_json::to_writer(&mut out, r).expect("maps serialise");
        out.push(b'\n');
    }
    out
}

fn ingest_error(e: cxray_ingest::IngestError) -> ApiError {
    ApiError::InvalidRows {
        message: format!("the records cannot be read: {e}"),
        rows: vec![],
    }
}

/// Checks a responses body and turns it into records for the store.
pub fn responses(headers: &HeaderMap, body: &[u8], rules: &Rules) -> Checked {
    let (parsed, mut errors) = parse_records::<ResponseIn>(headers, body)?;
    check_size(
        parsed.len() + errors.len(),
        parsed.iter().flat_map(|(_, r)| r.attributes.keys()),
    )?;
    let key = idempotency_key(headers)?;
    let total = parsed.len() + errors.len();
    let many = total > 1;
    let received = now_rfc3339();
    // One canonical row per answer, and where it came from: (record, answer).
    let mut rows = Vec::new();
    let mut origin: Vec<(usize, usize)> = Vec::new();
    let mut ids = Vec::with_capacity(parsed.len());
    for (k, (line, r)) in parsed.iter().enumerate() {
        let id = record_id(r.response_id.as_ref(), key.as_deref(), *line, many);
        attribute_errors(*line, &r.attributes, false, &mut errors);
        if r.answers.is_empty() {
            errors.push(RowError {
                line: *line,
                field: "answers".into(),
                value: String::new(),
                reason: "a response needs at least one answer".into(),
            });
        }
        for (a, answer) in r.answers.iter().enumerate() {
            // Always a score column, so that a request of comments only still has one.
            let mut row = serde_json::Map::new();
            row.insert(
                "score".into(),
                answer.score.as_ref().map_or(serde_json::Value::Null, |v| {
                    serde_json::Value::String(v.text())
                }),
            );
            let mut put = |k: &str, v: Option<String>| {
                if let Some(v) = v {
                    row.insert(k.to_string(), serde_json::Value::String(v));
                }
            };
            // The row's own name, to find its validated values again: the record and answer.
            put("response_id", Some(format!("r{k}a{a}")));
            put("customer_id", r.customer_id.as_ref().map(Scalar::text));
            put(
                "submitted_at",
                Some(r.submitted_at.clone().unwrap_or_else(|| received.clone())),
            );
            put("metric", Some(answer.metric.clone()));
            put("comment", answer.comment.clone());
            for (name, v) in &r.attributes {
                put(name, Some(v.text()));
            }
            rows.push(row);
            origin.push((k, a));
        }
        ids.push(id);
    }
    duplicate_ids(&parsed, &ids, &mut errors);
    if rows.is_empty() {
        refuse(errors, total)?;
        return Err(ApiError::BadRequest("the body holds no answers".into()));
    }
    let loaded = cxray_ingest::load_responses(
        &source(ndjson(&rows), rules, None),
        &rules.catalog,
        &LoadOptions {
            strict: false,
            threads: 1,
            attributes: Some(vec![]),
        },
    )
    .map_err(ingest_error)?;
    for rej in &loaded.rejects {
        let (k, a) = origin[(rej.line as usize).saturating_sub(1).min(origin.len() - 1)];
        let field = match rej.column.as_str() {
            c @ ("score" | "metric" | "comment") => format!("answers[{a}].{c}"),
            c => c.to_string(),
        };
        errors.push(RowError {
            line: parsed[k].0,
            field,
            value: rej.value.clone(),
            reason: rej.reason.clone(),
        });
    }
    refuse(errors, total)?;

    // The validated values: the time as ingestion read it (UTC), the metric's own name and
    // the score on its scale.
    let mut checked: HashMap<String, (i64, String, Option<f64>)> = HashMap::new();
    for b in &loaded.batches {
        let rid = b.column(0).as_string::<i32>();
        let at = b.column(2).as_primitive::<TimestampMicrosecondType>();
        let metric = b.column(4).as_dictionary::<Int32Type>();
        let names = metric.values().as_string::<i32>();
        let score = b.column(5).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            let name = names.value(metric.keys().value(i) as usize).to_string();
            let s = score.is_valid(i).then(|| score.value(i));
            checked.insert(rid.value(i).to_string(), (at.value(i), name, s));
        }
    }
    let mut records = Vec::with_capacity(parsed.len());
    let mut lines = Vec::with_capacity(parsed.len());
    for (k, ((line, r), id)) in parsed.into_iter().zip(ids).enumerate() {
        // Every answer was read by ingestion (a long-layout row needs its score, so an answer
        // without one was refused above): its values are taken as ingestion read them.
        let mut submitted_at = 0;
        let mut answers = Vec::with_capacity(r.answers.len());
        for (a, answer) in r.answers.into_iter().enumerate() {
            let (at, metric, score) =
                checked.get(&format!("r{k}a{a}")).cloned().ok_or_else(|| {
                    ApiError::Internal(format!(
                        "answer {a} on line {line} was neither read nor refused"
                    ))
                })?;
            submitted_at = at;
            answers.push(NewAnswer {
                metric,
                score,
                comment: answer.comment,
            });
        }
        records.push(Record::Response(NewResponse {
            time_from_server: r.submitted_at.is_none(),
            response_id: id,
            survey: r.survey,
            invitation_id: r.invitation_id.as_ref().map(Scalar::text),
            customer_id: r.customer_id.as_ref().map(Scalar::text),
            submitted_at,
            channel: r.channel,
            touchpoint: r.touchpoint,
            language: r.language,
            attributes: r
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.text()))
                .collect(),
            answers,
        }));
        lines.push(line);
    }
    store_checks(records, lines, total)
}

/// Checks an events body and turns it into records for the store.
pub fn events(headers: &HeaderMap, body: &[u8], rules: &Rules) -> Checked {
    let (parsed, mut errors) = parse_records::<EventIn>(headers, body)?;
    check_size(
        parsed.len() + errors.len(),
        parsed.iter().flat_map(|(_, e)| e.attributes.keys()),
    )?;
    let key = idempotency_key(headers)?;
    let total = parsed.len() + errors.len();
    let many = total > 1;
    let received = now_rfc3339();
    let ids: Vec<String> = parsed
        .iter()
        .map(|(line, e)| record_id(e.event_id.as_ref(), key.as_deref(), *line, many))
        .collect();
    duplicate_ids(&parsed, &ids, &mut errors);
    let mut rows = Vec::with_capacity(parsed.len());
    for (line, e) in &parsed {
        attribute_errors(*line, &e.attributes, true, &mut errors);
        let mut row = serde_json::Map::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                row.insert(k.to_string(), serde_json::Value::String(v));
            }
        };
        put("session_id", e.session_id.as_ref().map(Scalar::text));
        put("customer_id", e.customer_id.as_ref().map(Scalar::text));
        put("step", Some(e.step.clone()));
        put("at", Some(e.at.clone().unwrap_or_else(|| received.clone())));
        for (name, v) in &e.attributes {
            put(name, Some(v.text()));
        }
        rows.push(row);
    }
    if rows.is_empty() {
        refuse(errors, total)?;
        return Err(ApiError::BadRequest("the body holds no events".into()));
    }
    let table = cxray_ingest::load_entity(
        &source(ndjson(&rows), rules, Some(Entity::Journey.name())),
        Entity::Journey,
        1,
    )
    .map_err(ingest_error)?
    .ok_or_else(|| ApiError::Internal("the events were not read as journey rows".into()))?;
    for rej in &table.rejects {
        let k = (rej.line as usize).saturating_sub(1).min(parsed.len() - 1);
        errors.push(RowError {
            line: parsed[k].0,
            field: rej.column.clone(),
            value: rej.value.clone(),
            reason: rej.reason.clone(),
        });
    }
    refuse(errors, total)?;
    // The time of each row as ingestion read it, by the row's line.
    let mut at: HashMap<u64, i64> = HashMap::new();
    let (ai, li) = (
        table.schema.index_of("at").expect("journey has at"),
        table.schema.index_of("source_line").expect("source_line"),
    );
    for b in &table.batches {
        let t = b.column(ai).as_primitive::<TimestampMicrosecondType>();
        let l = b.column(li).as_primitive::<UInt64Type>();
        for i in 0..b.num_rows() {
            at.insert(l.value(i), t.value(i));
        }
    }
    let mut records = Vec::with_capacity(parsed.len());
    let mut lines = Vec::with_capacity(parsed.len());
    for (k, ((line, e), id)) in parsed.into_iter().zip(ids).enumerate() {
        let when = *at.get(&(k as u64 + 1)).ok_or_else(|| {
            ApiError::Internal(format!("event on line {line} was neither read nor refused"))
        })?;
        records.push(Record::Event(NewEvent {
            time_from_server: e.at.is_none(),
            event_id: id,
            customer_id: e.customer_id.as_ref().map(Scalar::text),
            session_id: e.session_id.as_ref().map(Scalar::text),
            step: e.step,
            at: when,
            attributes: e
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), v.text()))
                .collect(),
        }));
        lines.push(line);
    }
    store_checks(records, lines, total)
}

/// The store's own checks (ids, attribute names, answers) on each record, as row errors: what
/// this module accepts, the store accepts.
fn store_checks(records: Vec<Record>, lines: Vec<u64>, total: usize) -> Checked {
    // One pass over the batch; record by record only to name every refused one.
    if cxray_store::check_records(&records).is_ok() {
        return Ok((records, lines));
    }
    let mut errors = Vec::new();
    for (r, line) in records.iter().zip(&lines) {
        if let Err(WriteError::Invalid { reason, .. }) =
            cxray_store::check_records(std::slice::from_ref(r))
        {
            errors.push(RowError {
                line: *line,
                field: String::new(),
                value: String::new(),
                reason,
            });
        }
    }
    refuse(errors, total)?;
    Ok((records, lines))
}

/// Stores checked records; the store's own refusals name the record's line.
pub async fn store(store: &Store, records: Vec<Record>, lines: &[u64]) -> Result<Stored, ApiError> {
    let ids = records.iter().map(|r| r.id().1.to_string()).collect();
    match store.write(records).await {
        Ok(receipt) => Ok(Stored {
            receipt,
            ids,
            decisions: vec![],
        }),
        Err(WriteError::Invalid { index, reason }) => Err(ApiError::invalid(
            lines.get(index).copied().unwrap_or(1),
            "",
            "",
            reason,
        )),
        Err(e) => Err(e.into()),
    }
}
