//! Churn and reactivation rates from lifecycle events, by segment and period, for `cxray
//! metrics --metric churn,reactivation`, and retention curves for `cxray retention`.

use std::collections::HashMap;

use anyhow::anyhow;
use chrono::{Duration, NaiveDate};
use cxray_ingest::{ChurnMode, Entity, EntityTable, ProjectConfig};
use cxray_insights::{MetricRow, TableOptions};
use cxray_metrics::churn::{
    ChurnDefinition, History, LifecycleEvent, auto_definition, churn_table,
};

use cxray_insights::retention::{Lifetime, Retention, RetentionOptions, retention};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::{FormatArg, InputArgs, RetentionArgs};
use crate::input;
use crate::output::InputSummary;

/// Each customer's events (customers in order of first appearance) with the row index of each
/// event.
struct Events {
    by_customer: Vec<(String, History)>,
    last: Option<NaiveDate>,
    first: Option<NaiveDate>,
    /// Spells of each customer (aligned with `by_customer`) up to the last event, computed once
    /// when the events are checked.
    spells: Vec<Vec<cxray_metrics::churn::Spell>>,
}

/// Groups the events by customer, reading the Arrow columns directly: one owned id per
/// customer, not a string per event. Customers are split by id hash across the cores (the map
/// lookups, mostly cache misses, are the cost); each part keeps the order of first appearance.
fn events(t: &EntityTable) -> Events {
    use arrow::array::{Array, AsArray};
    use cxray_ingest::IdIndex;
    let col = |n: &str| t.schema.index_of(n).expect("a lifecycle column");
    let (ci, ei, di) = (col("customer_id"), col("event"), col("local_date"));
    let parts = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
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
    let results = cxray_ingest::parallel(parts, parts, part);
    let mut out = Events {
        by_customer: Vec::new(),
        last: None,
        first: None,
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

/// Loads lifecycle events; events that contradict the history (a cancel before any start, a
/// second cancel) are rejected with their reason. Returns the events by customer too, without
/// the rejected ones.
fn load_lifecycle(a: &InputArgs) -> Result<(ProjectConfig, EntityTable, Events), Failure> {
    let mut grouped: Option<Events> = None;
    let mut rejected: std::collections::HashSet<usize> = Default::default();
    let (cfg, table) = input::load_entity_checked(a, Entity::Lifecycle, |cfg, t| {
        let mut ev = events(t);
        let Some(end) = ev.last else {
            grouped = Some(ev);
            return vec![];
        };
        let def = definition(cfg, &ev);
        // Spells of every customer, on every core.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let parts = cxray_ingest::parallel_chunks(&ev.by_customer, threads, |customers| {
            let mut problems = Vec::new();
            let mut pairs: Vec<(NaiveDate, LifecycleEvent)> = Vec::new();
            let spells: Vec<Vec<cxray_metrics::churn::Spell>> = customers
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
        let mut problems = Vec::new();
        for (sp, probs) in parts {
            ev.spells.extend(sp);
            problems.extend(probs);
        }
        problems.sort();
        grouped = Some(ev);
        let value = |row: usize| {
            use arrow::array::AsArray;
            let ei = t.schema.index_of("event").expect("event column");
            let mut start = 0;
            for b in &t.batches {
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
        problems
            .into_iter()
            .map(|(row, reason)| {
                rejected.insert(row);
                (row, "event".to_string(), value(row), reason)
            })
            .collect()
    })?;
    let mut ev = grouped.expect("the check ran");
    if !rejected.is_empty() {
        for (_, h) in &mut ev.by_customer {
            h.retain(|(_, _, row)| !rejected.contains(row));
        }
    }
    Ok((cfg, table, ev))
}

/// The customers table, loaded when a `--by` column is not a lifecycle column (or `always`
/// and the project has customers, e.g. for revenue).
fn customers_for(
    a: &InputArgs,
    cfg: &ProjectConfig,
    lifecycle: &EntityTable,
    by: &[String],
    always: bool,
) -> Result<Option<EntityTable>, Failure> {
    let needed = by.iter().any(|b| lifecycle.schema.index_of(b).is_err());
    if needed || (always && input::has_source(cfg, Entity::Customers)) {
        Ok(Some(input::load_entity(a, Entity::Customers)?.1))
    } else {
        Ok(None)
    }
}

/// Segment values per customer for the `--by` columns: from the lifecycle table's own
/// attributes, or else from the customers table.
fn segments(
    lifecycle: &EntityTable,
    customers: Option<&EntityTable>,
    by: &[String],
) -> Result<HashMap<String, Vec<Option<String>>>, Failure> {
    let mut out: HashMap<String, Vec<Option<String>>> = HashMap::new();
    for (k, b) in by.iter().enumerate() {
        let source = match (lifecycle.schema.index_of(b), customers) {
            (Ok(_), _) => lifecycle,
            (Err(_), Some(c)) => c,
            (Err(_), None) => unreachable!("customers_for loads customers for such columns"),
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

/// A first cancel or activity this many days after the first start means the history before it
/// is missing (see [`Lifecycle::retention`]).
const TRUNCATION_GAP_DAYS: i64 = 90;

/// Lifecycle events loaded once, with what churn and retention need: the definition, the end
/// of the data, and the customers table when segments or revenue come from there.
pub struct Lifecycle {
    table: EntityTable,
    customers: Option<EntityTable>,
    events: Events,
    definition: ChurnDefinition,
    by: Vec<String>,
    segments: HashMap<String, Vec<Option<String>>>,
}

impl Lifecycle {
    /// Loads lifecycle events and, when `by` names customers columns or `with_customers` is set
    /// and the project has customers, the customers table.
    pub fn load(a: &InputArgs, by: &[String], with_customers: bool) -> Result<Self, Failure> {
        let (cfg, table, events) = load_lifecycle(a)?;
        let definition = definition(&cfg, &events);
        let customers = customers_for(a, &cfg, &table, by, with_customers)?;
        let segments = segments(&table, customers.as_ref(), by)?;
        Ok(Lifecycle {
            table,
            customers,
            events,
            definition,
            by: by.to_vec(),
            segments,
        })
    }

    /// The tables read, for input summaries and data quality.
    pub fn tables(self) -> Vec<EntityTable> {
        std::iter::once(self.table).chain(self.customers).collect()
    }

    /// Each customer's spells up to the last event.
    pub fn spells_by_customer(
        &self,
    ) -> impl Iterator<Item = (&str, &[cxray_metrics::churn::Spell])> {
        self.events
            .by_customer
            .iter()
            .zip(&self.events.spells)
            .map(|((id, _), sp)| (id.as_str(), sp.as_slice()))
    }

    /// The day of the last event.
    pub fn last_day(&self) -> Option<NaiveDate> {
        self.events.last
    }

    /// The churn definition in words.
    pub fn definition_words(&self) -> String {
        self.definition.describe()
    }

    /// Revenue per customer, when the customers table has it.
    pub fn revenues(&self) -> HashMap<String, f64> {
        self.customers.as_ref().map(revenues).unwrap_or_default()
    }

    /// The last day of data used: the last event, or `until` when earlier.
    fn data_end(&self, until: Option<NaiveDate>) -> Option<NaiveDate> {
        self.events.last.map(|l| until.map_or(l, |u| u.min(l)))
    }

    /// Churn and reactivation rows per segment and period.
    pub fn churn_rows(
        &self,
        metrics: &[String],
        opts: &TableOptions,
        since: Option<NaiveDate>,
        until: Option<NaiveDate>,
    ) -> Vec<MetricRow> {
        let (Some(first), Some(data_end)) = (self.events.first, self.data_end(until)) else {
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
        let groups = if Some(data_end) == self.events.last {
            // The spells computed when the events were checked.
            cxray_metrics::churn::count_periods(
                self.events
                    .by_customer
                    .iter()
                    .zip(&self.events.spells)
                    .map(|((id, _), sp)| (segment(id), sp.as_slice())),
                &periods,
            )
        } else {
            let customers = self.events.by_customer.iter().map(|(id, h)| {
                let h: History = h
                    .iter()
                    .filter(|(d, _, _)| *d <= data_end)
                    .copied()
                    .collect();
                (segment(id).clone(), h)
            });
            churn_table(customers, self.definition, data_end, &periods).groups
        };
        cxray_insights::operational_rows(&groups, &self.by, metrics, &self.definition, opts)
    }

    /// Kaplan-Meier retention of first spells by cohort and segment.
    pub fn retention(
        &self,
        opts: &RetentionOptions,
        until: Option<NaiveDate>,
    ) -> Result<Retention, Failure> {
        let Some(data_end) = self.data_end(until) else {
            return Err(Failure::input(anyhow!(
                "the lifecycle data has no usable events"
            )));
        };
        let revenue = self.customers.as_ref().map(revenues).unwrap_or_default();
        let none = vec![None; self.by.len()];
        // Churn is observable from the first event that is not a start. When that comes long
        // after the first starts (history of cancels not exported, only signup dates), spells
        // that started earlier would look immortal for those months: they are left out.
        let first_other = self
            .events
            .by_customer
            .iter()
            .flat_map(|(_, h)| h)
            .filter(|(_, e, _)| *e != LifecycleEvent::Start)
            .map(|(d, _, _)| *d)
            .min();
        let observed_from = first_other.filter(|o| {
            self.events
                .first
                .is_some_and(|f| (*o - f).num_days() > TRUNCATION_GAP_DAYS)
        });
        let mut left_out = 0;
        let mut lifetimes = Vec::new();
        for (k, (id, h)) in self.events.by_customer.iter().enumerate() {
            let recomputed;
            let sp: &[cxray_metrics::churn::Spell] = if Some(data_end) == self.events.last {
                &self.events.spells[k]
            } else {
                let evs: Vec<(NaiveDate, LifecycleEvent)> = h
                    .iter()
                    .filter(|(d, _, _)| *d <= data_end)
                    .map(|(d, e, _)| (*d, *e))
                    .collect();
                recomputed = cxray_metrics::churn::spells(&evs, self.definition, data_end).0;
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
        let mut r = retention(&lifetimes, self.definition.describe(), data_end, opts);
        r.observed_from = observed_from;
        r.left_out = left_out;
        Ok(r)
    }
}

/// Churn rows for the selected metrics, and the tables read (lifecycle, and customers when
/// segments come from there), for the input summary.
pub fn churn_part(
    a: &InputArgs,
    by: &[String],
    metrics: &[String],
    opts: &TableOptions,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<(Vec<MetricRow>, Vec<EntityTable>), Failure> {
    let l = Lifecycle::load(a, by, false)?;
    let rows = l.churn_rows(metrics, opts, since, until);
    Ok((rows, l.tables()))
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

/// `cxray retention`: Kaplan-Meier retention by cohort and segment.
pub fn run_retention(a: RetentionArgs) -> Result<(), Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    let until = a
        .until
        .as_deref()
        .map(|s| crate::metrics::parse_date(s, "--until"))
        .transpose()?;
    if let Some(h) = a.at.iter().find(|h| !(h.is_finite() && **h >= 0.0)) {
        return Err(Failure::input(anyhow!(
            "--at takes days of 0 or more, got {h}"
        )));
    }
    let by: Vec<String> =
        a.by.iter()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect();
    let lifecycle = Lifecycle::load(&a.input, &by, true)?;
    let opts = RetentionOptions {
        by,
        cohort: crate::metrics::period(a.cohort),
        horizons: a.at.clone(),
        confidence,
        alpha: a.alpha,
    };
    let r = lifecycle.retention(&opts, until)?;
    let tables = lifecycle.tables();
    let input = tables
        .iter()
        .map(InputSummary::of_entity)
        .reduce(InputSummary::and)
        .expect("the lifecycle table");
    let out = RetentionOutput {
        retention: r,
        input,
    };
    let mut buf = Vec::new();
    match a.format {
        FormatArg::Json => {
            serde_json::to_writer_pretty(&mut buf, &out).map_err(Failure::runtime)?;
            buf.push(b'\n');
        }
        FormatArg::Csv => {
            write_retention_csv(&mut buf, &out.retention).map_err(Failure::runtime)?
        }
        FormatArg::Table => {
            write_retention_table(&mut buf, &out.retention).map_err(Failure::runtime)?
        }
    }
    crate::output::emit(&buf, a.output.as_deref()).map_err(Failure::runtime)
}

#[derive(serde::Serialize)]
struct RetentionOutput {
    retention: Retention,
    input: InputSummary,
}

fn group_label(g: &cxray_insights::retention::RetentionGroup) -> String {
    let mut parts: Vec<String> = g.cohort.iter().map(|c| format!("cohort={c}")).collect();
    parts.extend(
        g.segment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("(missing)"))),
    );
    if parts.is_empty() {
        "(all)".into()
    } else {
        parts.join(", ")
    }
}

fn write_retention_csv(w: &mut Vec<u8>, r: &Retention) -> anyhow::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record([
        "cohort",
        "segment",
        "customers",
        "churned",
        "median_days",
        "days",
        "retained",
        "ci_low",
        "ci_high",
        "at_risk",
    ])?;
    let f = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for g in &r.groups {
        let seg = g
            .segment
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join(";");
        for h in &g.horizons {
            c.write_record([
                g.cohort.clone().unwrap_or_default(),
                seg.clone(),
                g.customers.to_string(),
                g.churned.to_string(),
                f(g.median_days),
                h.days.to_string(),
                f(h.retained),
                f(h.ci_low),
                f(h.ci_high),
                h.at_risk.to_string(),
            ])?;
        }
    }
    c.flush()?;
    Ok(())
}

fn write_retention_table(w: &mut Vec<u8>, r: &Retention) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(w, "Retention (Kaplan-Meier, first spell of each customer)")?;
    writeln!(w, "definition: {}", r.definition)?;
    writeln!(
        w,
        "data end: {}; {:.0}% intervals (log-log)",
        r.data_end,
        r.confidence * 100.0
    )?;
    if r.left_out > 0 {
        writeln!(
            w,
            "{} customers who started before {} (the first recorded cancel or activity) are left \
             out: their early months are not in the data",
            r.left_out,
            r.observed_from.map(|d| d.to_string()).unwrap_or_default()
        )?;
    }
    writeln!(w)?;
    let horizons: Vec<f64> = r
        .groups
        .first()
        .map(|g| g.horizons.iter().map(|h| h.days).collect())
        .unwrap_or_default();
    let mut head = format!("{:<30} {:>7} {:>7}", "group", "n", "median");
    for h in &horizons {
        head.push_str(&format!(" {:>8}", format!("{h}d")));
    }
    writeln!(w, "{head}")?;
    for g in &r.groups {
        let mut line = format!(
            "{:<30} {:>7} {:>7}",
            crate::output::truncate(&group_label(g), 30),
            g.customers,
            g.median_days
                .map(|m| format!("{m:.0}d"))
                .unwrap_or_else(|| "—".into())
        );
        for h in &g.horizons {
            line.push_str(&format!(
                " {:>8}",
                h.retained
                    .map(|s| format!("{:.1}%", 100.0 * s))
                    .unwrap_or_else(|| "—".into())
            ));
        }
        writeln!(w, "{line}")?;
    }
    if let Some(t) = &r.log_rank {
        writeln!(w)?;
        writeln!(w, "{}", t.verdict)?;
    }
    Ok(())
}
