//! `cxray customer ID`: every interaction of one customer in time order, across all the
//! project's data — survey answers with their comments, invitations, tickets, lifecycle events,
//! journey steps and referrals — so that whoever follows up with a customer sees everything in
//! one place.

use std::collections::BTreeMap;

use anyhow::anyhow;
use arrow::array::{Array, AsArray, RecordBatch, Scalar, StringArray};
use arrow::compute::kernels::cmp::eq;
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, TimeUnit};
use cxray_ingest::Entity;
use serde::Serialize;

use crate::Failure;
use crate::args::{CustomerArgs, FormatArg, InputArgs};
use crate::input;

/// One interaction.
#[derive(Debug, Clone, Serialize)]
pub struct Interaction {
    /// When it happened (UTC, ISO 8601).
    pub at: String,
    /// responses, invitations, tickets, lifecycle, journey, referrals, customers.
    pub entity: &'static str,
    /// One line saying what happened.
    pub summary: String,
    /// Every non-empty column of the row.
    pub fields: BTreeMap<String, String>,
    #[serde(skip)]
    micros: i64,
}

#[derive(Serialize)]
struct Timeline<'a> {
    customer_id: &'a str,
    interactions: Vec<Interaction>,
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

pub fn run(a: CustomerArgs) -> Result<(), Failure> {
    let input_args = InputArgs {
        config: a.config.clone(),
        ..Default::default()
    };
    let config = input::project_config(&input_args)?;
    let mut all: Vec<Interaction> = Vec::new();
    if config.sources.iter().any(|s| {
        s.entity
            .as_deref()
            .is_none_or(|e| e.eq_ignore_ascii_case("responses"))
    }) {
        let project = input::load(&input_args, None)?;
        for b in &project.loaded.batches {
            all.extend(rows_of(
                b,
                "customer_id",
                "submitted_at",
                &a.id,
                "responses",
            )?);
        }
    }
    for (entity, id_col, time_col) in SOURCES {
        if !input::has_source(&config, entity) {
            continue;
        }
        let (_, table) = input::load_entity(&input_args, entity)?;
        for b in &table.batches {
            all.extend(rows_of(b, id_col, time_col, &a.id, entity.name())?);
        }
    }
    if all.is_empty() {
        return Err(Failure::input(anyhow!(
            "no interactions of customer {:?} in the project's data",
            a.id
        )));
    }
    all.sort_by(|x, y| (x.micros, x.entity).cmp(&(y.micros, y.entity)));
    let timeline = Timeline {
        customer_id: &a.id,
        interactions: all,
    };
    let mut buf = Vec::new();
    match a.format {
        FormatArg::Json => {
            serde_json::to_writer_pretty(&mut buf, &timeline).map_err(Failure::runtime)?;
            buf.push(b'\n');
        }
        FormatArg::Csv => {
            let mut w = csv::Writer::from_writer(&mut buf);
            w.write_record(["at", "entity", "summary"])
                .map_err(Failure::runtime)?;
            for i in &timeline.interactions {
                w.write_record([&i.at, i.entity, &i.summary])
                    .map_err(Failure::runtime)?;
            }
            w.flush().map_err(Failure::runtime)?;
        }
        FormatArg::Table => {
            use std::io::Write;
            let n = timeline.interactions.len();
            writeln!(buf, "Customer {} — {n} interactions", a.id).map_err(Failure::runtime)?;
            for i in &timeline.interactions {
                writeln!(
                    buf,
                    "{:<20} {:<11} {}",
                    i.at.get(..16).unwrap_or(&i.at).replace('T', " "),
                    i.entity,
                    i.summary
                )
                .map_err(Failure::runtime)?;
            }
        }
    }
    crate::output::emit(&buf, a.output.as_deref()).map_err(Failure::runtime)
}

/// The rows of `b` whose `id_col` is `id`, as interactions.
fn rows_of(
    b: &RecordBatch,
    id_col: &str,
    time_col: &str,
    id: &str,
    entity: &'static str,
) -> Result<Vec<Interaction>, Failure> {
    let Some(ids) = b.column_by_name(id_col) else {
        return Ok(vec![]);
    };
    let ids = cast(ids, &DataType::Utf8).map_err(Failure::runtime)?;
    let mask = eq(&ids, &Scalar::new(StringArray::from(vec![id]))).map_err(Failure::runtime)?;
    if mask.true_count() == 0 {
        return Ok(vec![]);
    }
    let rows = filter_record_batch(b, &mask).map_err(Failure::runtime)?;
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
    let times = times.transpose().map_err(Failure::runtime)?;
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
        let at = chrono::DateTime::from_timestamp_micros(micros)
            .filter(|_| micros != i64::MIN)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
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
