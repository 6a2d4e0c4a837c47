//! Churn and reactivation rates from lifecycle events, by segment and period, for `cxray
//! metrics --metric churn,reactivation`, and retention curves for `cxray retention`.

use std::collections::{BTreeMap, HashMap};

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
        let def = definition(cfg, &ev);
        let table = churn_table(
            ev.by_customer.into_values().map(|h| (vec![], h)),
            def,
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
        let (cfg, table) = load_lifecycle(a)?;
        let events = events(&table);
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
        let customers = self.events.by_customer.iter().map(|(id, h)| {
            let s = self.segments.get(id).unwrap_or(&none).clone();
            let h: History = h
                .iter()
                .filter(|(d, _, _)| *d <= data_end)
                .copied()
                .collect();
            (s, h)
        });
        let result = churn_table(customers, self.definition, data_end, &periods);
        cxray_insights::operational_rows(
            &result.groups,
            &self.by,
            metrics,
            &result.definition,
            opts,
        )
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
            .values()
            .flatten()
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
        for (id, h) in &self.events.by_customer {
            let evs: Vec<(NaiveDate, LifecycleEvent)> = h
                .iter()
                .filter(|(d, _, _)| *d <= data_end)
                .map(|(d, e, _)| (*d, *e))
                .collect();
            let (sp, _) = cxray_metrics::churn::spells(&evs, self.definition, data_end);
            let (Some(first), Some((days, churned))) = (
                sp.first(),
                cxray_metrics::churn::first_spell_duration(&sp, data_end),
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
