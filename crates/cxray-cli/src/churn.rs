//! Churn and reactivation rates from lifecycle events, by segment and period, for `cxray
//! metrics --metric churn,reactivation`.

use std::collections::{BTreeMap, HashMap};

use anyhow::anyhow;
use chrono::{Duration, NaiveDate};
use cxray_ingest::{ChurnMode, Entity, EntityTable, ProjectConfig};
use cxray_insights::{MetricRow, TableOptions};
use cxray_metrics::churn::{
    ChurnDefinition, History, LifecycleEvent, auto_definition, churn_table,
};

use crate::Failure;
use crate::args::InputArgs;
use crate::input;

/// Each customer's events (in table order) and the row index of each event.
struct Events {
    by_customer: BTreeMap<String, History>,
    last: Option<NaiveDate>,
    first: Option<NaiveDate>,
}

fn events(t: &EntityTable) -> Events {
    let ids = t
        .text_column("customer_id")
        .expect("lifecycle has customer_id");
    let kinds = t.text_column("event").expect("lifecycle has event");
    let dates = t.local_dates();
    let mut by_customer: BTreeMap<String, History> = BTreeMap::new();
    let (mut first, mut last) = (None::<NaiveDate>, None::<NaiveDate>);
    for (row, ((id, kind), date)) in ids.into_iter().zip(kinds).zip(dates).enumerate() {
        let (Some(id), Some(kind), Some(date)) = (id, kind, date) else {
            continue;
        };
        let Some(e) = LifecycleEvent::parse(&kind) else {
            continue;
        };
        first = Some(first.map_or(date, |f| f.min(date)));
        last = Some(last.map_or(date, |l| l.max(date)));
        by_customer.entry(id).or_default().push((date, e, row));
    }
    Events {
        by_customer,
        last,
        first,
    }
}

fn definition(cfg: &ProjectConfig, ev: &Events) -> ChurnDefinition {
    let window_days = cfg.churn.window_days;
    match cfg.churn.definition {
        ChurnMode::Subscription => ChurnDefinition::Subscription,
        ChurnMode::Inactivity => ChurnDefinition::Inactivity { window_days },
        ChurnMode::Auto => auto_definition(
            ev.by_customer.values().flatten().map(|(_, e, _)| e),
            window_days,
        ),
    }
}

/// Loads lifecycle events; events that contradict the history (a cancel before any start, a
/// second cancel) are rejected with their reason.
pub fn load_lifecycle(a: &InputArgs) -> Result<(ProjectConfig, EntityTable), Failure> {
    input::load_entity_checked(a, Entity::Lifecycle, |cfg, t| {
        let ev = events(t);
        let Some(end) = ev.last else { return vec![] };
        let table = churn_table(
            ev.by_customer.into_values().map(|h| (vec![], h)),
            definition(cfg, &events(t)),
            end,
            &[],
        );
        let values = t.text_column("event").expect("event column");
        table
            .problems
            .into_iter()
            .map(|(row, reason)| {
                (
                    row,
                    "event".to_string(),
                    values[row].clone().unwrap_or_default(),
                    reason,
                )
            })
            .collect()
    })
}

/// Segment values per customer for the `--by` columns: from the lifecycle table's own
/// attributes, or else from the customers table.
fn segments(
    a: &InputArgs,
    lifecycle: &EntityTable,
    by: &[String],
) -> Result<HashMap<String, Vec<Option<String>>>, Failure> {
    let mut out: HashMap<String, Vec<Option<String>>> = HashMap::new();
    if by.is_empty() {
        return Ok(out);
    }
    let customers = if by.iter().all(|b| lifecycle.schema.index_of(b).is_ok()) {
        None
    } else {
        Some(input::load_entity(a, Entity::Customers)?.1)
    };
    for (k, b) in by.iter().enumerate() {
        let source = match lifecycle.schema.index_of(b) {
            Ok(_) => lifecycle,
            Err(_) => customers.as_ref().expect("loaded above"),
        };
        let Some(values) = source.text_column(b) else {
            return Err(Failure::input(anyhow!(
                "unknown column '{b}' for --by: churn segments come from lifecycle or customers \
                 columns; customers has: {}",
                source.attributes.join(", ")
            )));
        };
        let ids = source.text_column("customer_id").expect("customer_id");
        for (id, v) in ids.into_iter().zip(values) {
            let Some(id) = id else { continue };
            let slot = out.entry(id).or_insert_with(|| vec![None; by.len()]);
            if slot[k].is_none() {
                slot[k] = v;
            }
        }
    }
    Ok(out)
}

/// Churn rows for the selected metrics, and the lifecycle table (for the input summary).
pub fn churn_part(
    a: &InputArgs,
    by: &[String],
    metrics: &[String],
    opts: &TableOptions,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<(Vec<MetricRow>, EntityTable), Failure> {
    let (cfg, table) = load_lifecycle(a)?;
    let ev = events(&table);
    let def = definition(&cfg, &ev);
    let (Some(first), Some(last)) = (ev.first, ev.last) else {
        return Ok((vec![], table));
    };
    let data_end = until.map_or(last, |u| u.min(last));
    let from = since.map_or(first, |s| s.max(first));
    let periods: Vec<(Option<NaiveDate>, NaiveDate, NaiveDate)> = match opts.period {
        Some(p) => {
            let mut v = Vec::new();
            let mut start = p.start_of(from);
            while start <= data_end {
                let next = p.next(start);
                v.push((Some(start), start, next));
                start = next;
            }
            v
        }
        None => vec![(None, from, data_end + Duration::days(1))],
    };
    let seg = segments(a, &table, by)?;
    let none = vec![None; by.len()];
    let customers = ev.by_customer.into_iter().map(|(id, h)| {
        let s = seg.get(&id).unwrap_or(&none).clone();
        let h: History = h.into_iter().filter(|(d, _, _)| *d <= data_end).collect();
        (s, h)
    });
    let result = churn_table(customers, def, data_end, &periods);
    Ok((
        cxray_insights::operational_rows(&result.groups, by, metrics, &result.definition, opts),
        table,
    ))
}
