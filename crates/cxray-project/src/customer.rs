//! One customer's timeline: every interaction in time order across all the project's data —
//! survey answers with their comments, invitations, tickets, lifecycle events, journey steps and
//! referrals — so that whoever follows up with a customer sees everything in one place.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, Scalar, StringArray};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, TimeUnit};
use cxray_ingest::Entity;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::project::Project;

/// One interaction.
#[derive(Debug, Clone, Serialize)]
pub struct Interaction {
    /// When it happened (UTC, ISO 8601).
    pub at: String,
    /// responses, invitations, tickets, lifecycle, journey, referrals, customers; from a store
    /// also decisions (why a survey was or was not sent) and emails.
    pub entity: &'static str,
    /// One line saying what happened.
    pub summary: String,
    /// Every non-empty column of the row.
    pub fields: BTreeMap<String, String>,
    #[serde(skip)]
    micros: i64,
}

/// Every interaction of one customer, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct Timeline {
    pub customer_id: String,
    pub interactions: Vec<Interaction>,
}

/// Entities with a customer column, the column, and the time column that orders them.
const SOURCES: [(Entity, &str, &str); 6] = [
    (Entity::Customers, "customer_id", "signup_at"),
    (Entity::Invitations, "customer_id", "sent_at"),
    (Entity::Tickets, "customer_id", "created_at"),
    (Entity::Lifecycle, "customer_id", "at"),
    (Entity::Journey, "customer_id", "at"),
    (Entity::Referrals, "referrer_id", "invited_at"),
];

impl Project {
    /// Every interaction of the customer `id`, in time order.
    pub fn customer(&self, id: &str) -> Result<Timeline> {
        let mut all: Vec<Interaction> = Vec::new();
        if self.has_responses() {
            let responses = self.responses()?;
            for b in &responses.loaded.batches {
                all.extend(rows_of(b, "customer_id", "submitted_at", id, "responses")?);
            }
        }
        for (entity, id_col, time_col) in SOURCES {
            if !self.has(entity) {
                continue;
            }
            // Lifecycle events as they are in the files: the timeline shows an event that
            // contradicts the history too (analyses reject it), and needs no grouping of all
            // customers' events. Read, reported and held to strict mode like every source.
            let table = match entity {
                Entity::Lifecycle => Arc::new(self.accept(self.read_entity(entity)?)?),
                _ => self.entity(entity)?,
            };
            for b in &table.batches {
                all.extend(rows_of(b, id_col, time_col, id, entity.name())?);
            }
        }
        // What sources that are not files know of the customer (a store's survey decisions
        // and invitation emails), through the providers that read them.
        for src in &self.config().sources {
            let path = self.source_path(&src.path);
            for p in self.providers() {
                let Some(notes) = p.customer_notes(&path, id) else {
                    continue;
                };
                for n in notes.map_err(Error::from)? {
                    all.push(Interaction {
                        at: iso(n.at_micros),
                        entity: n.kind,
                        summary: n.summary,
                        fields: n.fields,
                        micros: n.at_micros,
                    });
                }
                break;
            }
        }
        if all.is_empty() {
            return Err(Error::not_found(format!(
                "no interactions of customer {id:?} in the project's data"
            )));
        }
        all.sort_by(|x, y| (x.micros, x.entity).cmp(&(y.micros, y.entity)));
        Ok(Timeline {
            customer_id: id.to_string(),
            interactions: all,
        })
    }
}

/// A time as the timeline writes it (UTC, to the second); empty when unknown.
fn iso(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .filter(|_| micros != i64::MIN)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// The rows of `b` whose `id_col` is `id`, as interactions.
fn rows_of(
    b: &RecordBatch,
    id_col: &str,
    time_col: &str,
    id: &str,
    entity: &'static str,
) -> Result<Vec<Interaction>> {
    let Some(ids) = b.column_by_name(id_col) else {
        return Ok(vec![]);
    };
    let ids = cast(ids, &DataType::Utf8).map_err(Error::runtime)?;
    let mask = eq(&ids, &Scalar::new(StringArray::from(vec![id]))).map_err(Error::runtime)?;
    if mask.true_count() == 0 {
        return Ok(vec![]);
    }
    let rows = filter_record_batch(b, &mask).map_err(Error::runtime)?;
    let schema = rows.schema();
    let text: Vec<(String, StringArray)> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !matches!(f.name().as_str(), "source_file" | "local_date" | "weight"))
        .filter_map(|(i, f)| {
            let c = cast(rows.column(i), &DataType::Utf8).ok()?;
            Some((f.name().clone(), c.as_string::<i32>().clone()))
        })
        .collect();
    let times = rows.column_by_name(time_col).map(|c| {
        cast(c, &DataType::Timestamp(TimeUnit::Microsecond, None)).map(|t| {
            t.as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .clone()
        })
    });
    let times = times.transpose().map_err(Error::runtime)?;
    let mut out = Vec::with_capacity(rows.num_rows());
    for r in 0..rows.num_rows() {
        let fields: BTreeMap<String, String> = text
            .iter()
            .filter(|(_, c)| !c.is_null(r) && !c.value(r).is_empty())
            .map(|(n, c)| (n.clone(), c.value(r).to_string()))
            .collect();
        let micros = match &times {
            Some(t) if !t.is_null(r) => t.value(r),
            _ => i64::MIN,
        };
        let at = iso(micros);
        out.push(Interaction {
            at,
            entity,
            summary: summary(entity, &fields),
            fields,
            micros,
        });
    }
    Ok(out)
}

/// One line per interaction, from its canonical columns.
fn summary(entity: &str, f: &BTreeMap<String, String>) -> String {
    let get = |k: &str| f.get(k).map(String::as_str);
    let opt = |label: &str, k: &str| get(k).map(|v| format!(", {label} {v}")).unwrap_or_default();
    match entity {
        "responses" => {
            let score = get("score").unwrap_or("?");
            let mut s = format!(
                "{} {}",
                get("metric").unwrap_or("answer").to_uppercase(),
                score.strip_suffix(".0").unwrap_or(score)
            );
            s.push_str(&opt("at", "touchpoint"));
            s.push_str(&opt("via", "channel"));
            if let Some(c) = get("comment") {
                s.push_str(&format!(": \"{c}\""));
            }
            s
        }
        "customers" => format!("became a customer{}", opt("plan", "plan")),
        "invitations" => format!(
            "invited to a survey{}",
            get("survey").map(|s| format!(" ({s})")).unwrap_or_default()
        ),
        "tickets" => {
            let mut s = format!("ticket {}", get("ticket_id").unwrap_or("?"));
            s.push_str(&opt("about", "category"));
            s.push_str(&opt("via", "channel"));
            match get("resolved_at") {
                Some(r) => s.push_str(&format!(", resolved {}", r.get(..10).unwrap_or(r))),
                None => s.push_str(", still open"),
            }
            s.push_str(&opt("contacts", "contacts"));
            if get("reopened") == Some("true") {
                s.push_str(", reopened");
            }
            if let Some(t) = get("text") {
                s.push_str(&format!(": \"{t}\""));
            }
            s
        }
        "lifecycle" => get("event").unwrap_or("event").to_string(),
        "journey" => format!(
            "{}{}",
            get("step").unwrap_or("step"),
            get("session_id")
                .map(|s| format!(" (session {s})"))
                .unwrap_or_default()
        ),
        "referrals" => match get("converted_at") {
            Some(c) => format!(
                "referred someone, who became a customer on {}",
                c.get(..10).unwrap_or(c)
            ),
            None => "referred someone (not converted)".into(),
        },
        _ => String::new(),
    }
}
