//! Lifecycle events grouped by customer, with each customer's spells (from a start to a cancel
//! or to the end of an inactivity window): computed once when the events are read (they reject
//! events that contradict a history), then shared by churn, retention and linkage.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use chrono::{Duration, NaiveDate};
use cxray_ingest::{Entity, EntityTable};
use cxray_insights::retention::{Lifetime, Retention, RetentionOptions, retention};
use cxray_insights::{MetricRow, TableOptions};
use cxray_kernels::IdIndex;
use cxray_metrics::churn::{
    ChurnDefinition, History, LifecycleEvent, Spell, auto_definition, churn_table,
};

use crate::config::{ChurnMode, ProjectConfig};
use crate::error::{Error, Result};
use crate::project::Project;

/// Each customer's events (customers in order of first appearance) with the row index of each
/// event, and their spells up to the last event.
struct Events {
    by_customer: Vec<(String, History)>,
    first: Option<NaiveDate>,
    last: Option<NaiveDate>,
    /// Spells of each customer (aligned with `by_customer`) up to the last event.
    spells: Vec<Vec<Spell>>,
}

/// Groups the events by customer, reading the Arrow columns directly: one owned id per
/// customer, not a string per event. Customers are split by id hash across the cores (the map
/// lookups, mostly cache misses, are the cost); each part keeps the order of first appearance.
fn events(t: &EntityTable, threads: usize) -> Events {
    let col = |n: &str| t.schema.index_of(n).expect("a lifecycle column");
    let (ci, ei, di) = (col("customer_id"), col("event"), col("local_date"));
    let parts = threads.clamp(1, 8);
    let part = |p: usize| {
        // Each event's customer index first, then every history filled at its final size (no
        // growing of a million small vectors).
        let mut index = IdIndex::with_capacity(t.rows() / (4 * parts));
        let mut counts: Vec<u32> = Vec::new();
        let mut rows: Vec<(u32, NaiveDate, LifecycleEvent, usize)> =
            Vec::with_capacity(t.rows() / parts + 1);
        let (mut first, mut last) = (None::<NaiveDate>, None::<NaiveDate>);
        let mut row = 0;
        for b in &t.batches {
            let ids = b.column(ci).as_string::<i32>();
            let kinds = b.column(ei).as_string::<i32>();
            let dates = b.column(di).as_primitive::<arrow::datatypes::Date32Type>();
            for r in 0..b.num_rows() {
                let this = row;
                row += 1;
                if ids.is_null(r) || kinds.is_null(r) || dates.is_null(r) {
                    continue;
                }
                let id = ids.value(r);
                let hash = IdIndex::hash(id);
                if IdIndex::part(hash, parts) != p {
                    continue;
                }
                let Some(e) = LifecycleEvent::parse(kinds.value(r)) else {
                    continue;
                };
                let date = NaiveDate::from_num_days_from_ce_opt(dates.value(r) + 719_163)
                    .expect("a date in range");
                first = Some(first.map_or(date, |f| f.min(date)));
                last = Some(last.map_or(date, |l| l.max(date)));
                let (k, new) = index.insert_hashed(id, hash);
                if new {
                    counts.push(0);
                }
                counts[k as usize] += 1;
                rows.push((k, date, e, this));
            }
        }
        let mut by_customer: Vec<(String, History)> = index
            .ids()
            .iter()
            .zip(&counts)
            .map(|(id, &n)| (id.to_string(), Vec::with_capacity(n as usize)))
            .collect();
        for (k, date, e, this) in rows {
            by_customer[k as usize].1.push((date, e, this));
        }
        (by_customer, first, last)
    };
    let results = cxray_kernels::parallel(parts, parts, part);
    let mut out = Events {
        by_customer: Vec::new(),
        first: None,
        last: None,
        spells: vec![],
    };
    for (by_customer, first, last) in results {
        out.by_customer.extend(by_customer);
        out.first = match (out.first, first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        out.last = match (out.last, last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    out
}

fn definition(cfg: &ProjectConfig, ev: &Events) -> ChurnDefinition {
    let window_days = cfg.churn.window_days;
    match cfg.churn.definition {
        ChurnMode::Subscription => ChurnDefinition::Subscription,
        ChurnMode::Inactivity => ChurnDefinition::Inactivity { window_days },
        ChurnMode::Auto => auto_definition(
            ev.by_customer
                .iter()
                .flat_map(|(_, h)| h)
                .map(|(_, e, _)| e),
            window_days,
        ),
    }
}

/// Lifecycle events by customer, checked, with the table they came from.
pub(crate) struct LifecycleEvents {
    pub table: Arc<EntityTable>,
    events: Events,
    definition: ChurnDefinition,
}

/// What [`LifecycleEvents::check`] found, before the table is shared.
pub(crate) struct Checked {
    events: Events,
    definition: ChurnDefinition,
}

impl Checked {
    pub fn with_table(self, table: Arc<EntityTable>) -> LifecycleEvents {
        LifecycleEvents {
            table,
            events: self.events,
            definition: self.definition,
        }
    }
}

impl LifecycleEvents {
    /// Groups the events of `table` by customer and computes every customer's spells; events
    /// that contradict the history (a cancel before any start, a second cancel) leave the table
    /// as rejects with their reason.
    pub fn check(cfg: &ProjectConfig, table: &mut EntityTable, threads: usize) -> Checked {
        let mut ev = events(table, threads);
        let Some(end) = ev.last else {
            let definition = definition(cfg, &ev);
            return Checked {
                events: ev,
                definition,
            };
        };
        let first_definition = definition(cfg, &ev);
        let (found, mut problems) = spells(&ev, first_definition, end, threads);
        if problems.is_empty() {
            ev.spells = found;
            return Checked {
                events: ev,
                definition: first_definition,
            };
        }
        problems.sort();
        let value = |row: usize| {
            let ei = table.schema.index_of("event").expect("event column");
            let mut start = 0;
            for b in &table.batches {
                if row < start + b.num_rows() {
                    return b
                        .column(ei)
                        .as_string::<i32>()
                        .value(row - start)
                        .to_string();
                }
                start += b.num_rows();
            }
            String::new()
        };
        let rejected: HashSet<usize> = problems.iter().map(|(row, _)| *row).collect();
        let late: Vec<(usize, String, String, String)> = problems
            .into_iter()
            .map(|(row, reason)| (row, "event".to_string(), value(row), reason))
            .collect();
        table.reject_rows(&late);
        // The rejected events take no part: the first and last days, the definition and the
        // spells come from the events that remain, as when the checked table is grouped again.
        for (_, h) in &mut ev.by_customer {
            h.retain(|(_, _, row)| !rejected.contains(row));
        }
        let days = ev
            .by_customer
            .iter()
            .flat_map(|(_, h)| h)
            .map(|(d, _, _)| *d);
        ev.first = days.clone().min();
        ev.last = days.max();
        let definition = definition(cfg, &ev);
        if let Some(end) = ev.last {
            ev.spells = spells(&ev, definition, end, threads).0;
        }
        Checked {
            events: ev,
            definition,
        }
    }
}

/// Every customer's spells up to `end`, on every core, with the events that contradict a
/// history: (row in the table, reason).
fn spells(
    ev: &Events,
    def: ChurnDefinition,
    end: NaiveDate,
    threads: usize,
) -> (Vec<Vec<Spell>>, Vec<(usize, String)>) {
    let parts = cxray_kernels::parallel_chunks(&ev.by_customer, threads, |customers| {
        let mut problems = Vec::new();
        let mut pairs: Vec<(NaiveDate, LifecycleEvent)> = Vec::new();
        let spells: Vec<Vec<Spell>> = customers
            .iter()
            .map(|(_, h)| {
                pairs.clear();
                pairs.extend(h.iter().map(|(d, e, _)| (*d, *e)));
                let (sp, probs) = cxray_metrics::churn::spells(&pairs, def, end);
                problems.extend(probs.into_iter().map(|p| (h[p.index].2, p.reason)));
                sp
            })
            .collect();
        (spells, problems)
    });
    let mut all = Vec::with_capacity(ev.by_customer.len());
    let mut problems = Vec::new();
    for (sp, probs) in parts {
        all.extend(sp);
        problems.extend(probs);
    }
    (all, problems)
}

/// A first cancel or activity this many days after the first start means the history before it
/// is missing (see [`Lifecycle::retention`]).
const TRUNCATION_GAP_DAYS: i64 = 90;

/// Lifecycle events with what churn and retention by segment need: the segment of every
/// customer (from the lifecycle table's own columns or the customers table) and the customers
/// table when revenue comes from there.
pub(crate) struct Lifecycle {
    events: Arc<LifecycleEvents>,
    customers: Option<Arc<EntityTable>>,
    by: Vec<String>,
    segments: HashMap<String, Vec<Option<String>>>,
}

impl Lifecycle {
    /// Lifecycle events and, when `by` names customers columns or `with_customers` is set and
    /// the project has customers, the customers table.
    pub fn load(project: &Project, by: &[String], with_customers: bool) -> Result<Self> {
        let events = project.lifecycle_events()?;
        let table = &events.table;
        let needed = by.iter().any(|b| table.schema.index_of(b).is_err());
        let customers = if needed {
            Some(project.entity(Entity::Customers)?)
        } else if with_customers && project.has(Entity::Customers) {
            // Revenue only: without it when the customers cannot be read.
            crate::operational::optional_customers(project, false)?
        } else {
            None
        };
        let segments = segments(table, customers.as_deref(), by)?;
        Ok(Lifecycle {
            events,
            customers,
            by: by.to_vec(),
            segments,
        })
    }

    /// The tables read, for input summaries and data quality.
    pub fn tables(&self) -> Vec<Arc<EntityTable>> {
        std::iter::once(self.events.table.clone())
            .chain(self.customers.clone())
            .collect()
    }

    /// Each customer's spells up to the last event.
    pub fn spells_by_customer(&self) -> impl Iterator<Item = (&str, &[Spell])> {
        let e = &self.events.events;
        e.by_customer
            .iter()
            .zip(&e.spells)
            .map(|((id, _), sp)| (id.as_str(), sp.as_slice()))
    }

    /// The day of the last event.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.events.events.last
    }

    /// The churn definition in words.
    pub fn definition_words(&self) -> String {
        self.events.definition.describe()
    }

    /// Revenue per customer, when the customers table has it.
    pub fn revenues(&self) -> HashMap<String, f64> {
        self.customers.as_deref().map(revenues).unwrap_or_default()
    }

    /// The last day of data used: the last event, or `until` when earlier.
    fn data_end(&self, until: Option<NaiveDate>) -> Option<NaiveDate> {
        self.events
            .events
            .last
            .map(|l| until.map_or(l, |u| u.min(l)))
    }

    /// Churn and reactivation rows per segment and period.
    pub fn churn_rows(
        &self,
        metrics: &[String],
        opts: &TableOptions,
        since: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> Vec<MetricRow> {
        let ev = &self.events.events;
        let (Some(first), Some(data_end)) = (ev.first, self.data_end(until)) else {
            return vec![];
        };
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
        let none = vec![None; self.by.len()];
        let segment = |id: &String| self.segments.get(id).unwrap_or(&none);
        let definition = self.events.definition;
        let groups = if Some(data_end) == ev.last {
            // The spells computed when the events were checked.
            cxray_metrics::churn::count_periods(
                ev.by_customer
                    .iter()
                    .zip(&ev.spells)
                    .map(|((id, _), sp)| (segment(id), sp.as_slice())),
                &periods,
            )
        } else {
            let customers = ev.by_customer.iter().map(|(id, h)| {
                let h: History = h
                    .iter()
                    .filter(|(d, _, _)| *d <= data_end)
                    .copied()
                    .collect();
                (segment(id).clone(), h)
            });
            churn_table(customers, definition, data_end, &periods).groups
        };
        cxray_insights::operational_rows(&groups, &self.by, metrics, &definition, opts)
    }

    /// Kaplan-Meier retention of first spells by cohort and segment.
    pub fn retention(
        &self,
        opts: &RetentionOptions,
        until: Option<NaiveDate>,
    ) -> Result<Retention> {
        let ev = &self.events.events;
        let definition = self.events.definition;
        let Some(data_end) = self.data_end(until) else {
            return Err(Error::bad_input("the lifecycle data has no usable events"));
        };
        let revenue = self.revenues();
        let none = vec![None; self.by.len()];
        // Churn is observable from the first event that is not a start. When that comes long
        // after the first starts (history of cancels not exported, only signup dates), spells
        // that started earlier would look immortal for those months: they are left out.
        let first_other = ev
            .by_customer
            .iter()
            .flat_map(|(_, h)| h)
            .filter(|(_, e, _)| *e != LifecycleEvent::Start)
            .map(|(d, _, _)| *d)
            .min();
        let observed_from = first_other.filter(|o| {
            ev.first
                .is_some_and(|f| (*o - f).num_days() > TRUNCATION_GAP_DAYS)
        });
        let mut left_out = 0;
        let mut lifetimes = Vec::new();
        for (k, (id, h)) in ev.by_customer.iter().enumerate() {
            let recomputed;
            let sp: &[Spell] = if Some(data_end) == ev.last {
                &ev.spells[k]
            } else {
                let evs: Vec<(NaiveDate, LifecycleEvent)> = h
                    .iter()
                    .filter(|(d, _, _)| *d <= data_end)
                    .map(|(d, e, _)| (*d, *e))
                    .collect();
                recomputed = cxray_metrics::churn::spells(&evs, definition, data_end).0;
                &recomputed
            };
            let (Some(first), Some((days, churned))) = (
                sp.first(),
                cxray_metrics::churn::first_spell_duration(sp, data_end),
            ) else {
                continue;
            };
            if observed_from.is_some_and(|o| first.from < o) {
                left_out += 1;
                continue;
            }
            lifetimes.push(Lifetime {
                segment: self.segments.get(id).unwrap_or(&none).clone(),
                start: first.from,
                days,
                churned,
                revenue: revenue.get(id).copied(),
            });
        }
        let mut r = retention(&lifetimes, definition.describe(), data_end, opts);
        r.observed_from = observed_from;
        r.left_out = left_out;
        Ok(r)
    }
}

/// Segment values per customer for the `by` columns: from the lifecycle table's own
/// attributes, or else from the customers table.
fn segments(
    lifecycle: &EntityTable,
    customers: Option<&EntityTable>,
    by: &[String],
) -> Result<HashMap<String, Vec<Option<String>>>> {
    let mut out: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for (k, b) in by.iter().enumerate() {
        let source = match (lifecycle.schema.index_of(b), customers) {
            (Ok(_), _) => lifecycle,
            (Err(_), Some(c)) => c,
            (Err(_), None) => unreachable!("Lifecycle::load reads customers for such columns"),
        };
        let Some(values) = source.text_column(b) else {
            return Err(Error::usage(format!(
                "unknown column '{b}': churn segments come from lifecycle or customers columns; \
                 customers has: {}",
                source.attributes.join(", ")
            ))
            .about("by"));
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

/// Revenue per customer from the customers table, when it has a revenue column.
fn revenues(customers: &EntityTable) -> HashMap<String, f64> {
    let (Some(ids), Some(revenue)) = (
        customers.text_column("customer_id"),
        customers.text_column("revenue"),
    ) else {
        return HashMap::new();
    };
    ids.into_iter()
        .zip(revenue)
        .filter_map(|(id, r)| Some((id?, r?.parse::<f64>().ok()?)))
        .collect()
}
