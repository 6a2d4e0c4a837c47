//! Operational metrics in `cxray metrics`: each family (tickets, queue, referrals, journey,
//! churn) reads its entity, runs its engine plan and turns the per-group statistics into rows
//! of the same table as survey metrics.

use std::collections::BTreeMap;

use anyhow::anyhow;
use chrono::NaiveDate;
use cxray_engine::{Engine, EngineError, GroupQuery};
use cxray_ingest::{Entity, EntityTable, ProjectConfig, Reject};
use cxray_insights::operations::OperationsInput;
use cxray_insights::{MetricRow, TableOptions, operational_rows};
use cxray_metrics::journey::JourneySettings;
use cxray_metrics::operational::{Family, operational_metric};
use cxray_metrics::queue::QueueSettings;
use cxray_metrics::tickets::TicketSettings;

use crate::Failure;
use crate::args::InputArgs;
use crate::input;
use crate::metrics::runtime;
use crate::output::InputSummary;
use crate::progress::spinner;

/// Operational metric names asked for, by family.
pub type Asked = BTreeMap<Family, Vec<String>>;

/// Splits metric names into survey metrics and operational ones by family.
pub fn split(metrics: Vec<String>) -> (Vec<String>, Asked) {
    let mut survey = Vec::new();
    let mut asked = Asked::new();
    for m in metrics {
        match operational_metric(&m) {
            Some(d) => asked.entry(d.family).or_default().push(m),
            None => survey.push(m),
        }
    }
    (survey, asked)
}

/// What every family needs to know.
pub struct Request<'a> {
    pub input: &'a InputArgs,
    pub by: &'a [String],
    pub opts: TableOptions,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

impl Request<'_> {
    fn query(&self) -> GroupQuery {
        GroupQuery {
            by: self.by.to_vec(),
            period: self.opts.period,
            since: self.since,
            until: self.until,
        }
    }
}

/// Rows of every operational metric asked for, with the input counts and rejects of the
/// entities read.
pub struct Computed {
    pub rows: Vec<MetricRow>,
    pub input: Option<InputSummary>,
    pub rejects: Vec<Reject>,
}

pub fn compute(req: &Request, asked: &Asked) -> Result<Computed, Failure> {
    if asked.len() > 1 && !req.input.files.is_empty() {
        let kinds: Vec<&str> = asked.keys().map(|f| entity_of(*f).name()).collect();
        return Err(Failure::input(anyhow!(
            "these metrics come from different kinds of data ({}); use a cxray.toml with one \
             source per entity, or ask for one kind at a time",
            kinds.join(", ")
        )));
    }
    let mut out = Computed {
        rows: Vec::new(),
        input: None,
        rejects: Vec::new(),
    };
    for (family, metrics) in asked {
        let (rows, tables) = match family {
            Family::Tickets => tickets(req, metrics)?,
            Family::Queue => queue(req, metrics)?,
            Family::Referrals => referrals(req, metrics)?,
            Family::Journey => journey(req, metrics)?,
            Family::Churn => crate::churn::churn_part(
                req.input, req.by, metrics, &req.opts, req.since, req.until,
            )?,
        };
        out.rows.extend(rows);
        for t in &tables {
            let s = InputSummary::of_entity(t);
            out.input = Some(match out.input.take() {
                Some(i) => i.and(s),
                None => s,
            });
            out.rejects.extend(t.rejects.iter().cloned());
        }
    }
    Ok(out)
}

/// The entity a family reads.
fn entity_of(f: Family) -> Entity {
    match f {
        Family::Tickets => Entity::Tickets,
        Family::Churn => Entity::Lifecycle,
        Family::Queue => Entity::Contacts,
        Family::Referrals => Entity::Referrals,
        Family::Journey => Entity::Journey,
    }
}

/// An engine holding the given tables; `views` are the text columns that several aggregations
/// group by (the ticket metrics: three over the same keys), stored once as views. The other
/// families group each key once, and views of 50M journey events would cost 16 bytes a row.
fn engine_with(tables: &[(&str, &EntityTable)], views: &[String]) -> Result<Engine, Failure> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine = Engine::new(threads);
    for (name, t) in tables {
        let t0 = std::time::Instant::now();
        engine
            .register_grouped_table(name, t.schema.clone(), t.batches.clone(), views)
            .map_err(Failure::runtime)?;
        crate::progress::timing(&format!("register {name}"), t0);
    }
    Ok(engine)
}

/// Runs an engine plan with a spinner; unknown `--by` columns are input errors.
fn run_plan<T>(
    what: &str,
    plan: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, Failure> {
    let pb = spinner(format!("computing {what}"));
    let t0 = std::time::Instant::now();
    let r = runtime()?.block_on(plan);
    crate::progress::timing(&format!("engine: {what}"), t0);
    pb.finish_and_clear();
    r.map_err(|e| match e {
        EngineError::UnknownColumn { .. } => Failure::input(e),
        other => Failure::runtime(other),
    })
}

type FamilyRows = (Vec<MetricRow>, Vec<EntityTable>);

/// Ticket settings from the project, and business durations added to the table when the
/// project sets business hours.
fn ticket_settings(
    config: &ProjectConfig,
    table: &mut EntityTable,
) -> Result<TicketSettings, Failure> {
    let calendar = config
        .tickets
        .calendar()
        .map_err(|m| Failure::input(anyhow!("[tickets] {m}")))?;
    if let Some(c) = &calendar {
        table
            .add_business_durations(c, &config.project.timezone)
            .map_err(|m| Failure::input(anyhow!(m)))?;
    }
    Ok(TicketSettings {
        reopen_window_days: config.tickets.reopen_window_days,
        business_hours: calendar.map(|c| c.describe()),
    })
}

fn tickets(req: &Request, metrics: &[String]) -> Result<FamilyRows, Failure> {
    let (config, mut table) = input::load_entity(req.input, Entity::Tickets)?;
    let settings = ticket_settings(&config, &mut table)?;
    let wants_backlog = metrics.iter().any(|m| m == "backlog");
    if wants_backlog && req.opts.period.is_some() {
        table
            .add_local_date(
                "resolved_at",
                cxray_engine::RESOLVED_DATE,
                &config.project.timezone,
            )
            .map_err(|m| Failure::input(anyhow!(m)))?;
    }
    let engine = engine_with(&[("tickets", &table)], req.by)?;
    let groups = run_plan(
        "ticket metrics",
        engine.ticket_stats(&req.query(), &settings),
    )?;
    let mut rows = operational_rows(&groups, req.by, metrics, &settings, &req.opts);
    if wants_backlog {
        let backlog = match req.opts.period {
            Some(p) => {
                let flows = run_plan("ticket backlog", engine.ticket_flows(&req.query(), p))?;
                let first = req
                    .since
                    .or(flows.iter().map(|f| f.created).min())
                    .map(|d| p.start_of(d));
                let last = flows.iter().map(|f| f.created).max();
                let last = req
                    .until
                    .map_or(last, |u| last.map(|l| l.min(p.start_of(u))));
                match (first, last) {
                    (Some(a), Some(b)) => cxray_metrics::tickets::backlog(&flows, p, a, b),
                    _ => vec![],
                }
            }
            // Without periods: the tickets still open at the end of the data.
            None => groups
                .iter()
                .map(|g| cxray_metrics::operational::Grouped {
                    key: g.key.clone(),
                    stats: cxray_metrics::tickets::BacklogStats {
                        open_at_start: 0,
                        created: g.stats.tickets,
                        resolved: g.stats.resolved,
                        open_at_end: g.stats.tickets - g.stats.resolved,
                    },
                })
                .collect(),
        };
        rows.extend(operational_rows(
            &backlog,
            req.by,
            &["backlog".into()],
            &(),
            &req.opts,
        ));
    }
    Ok((rows, vec![table]))
}

fn queue(req: &Request, metrics: &[String]) -> Result<FamilyRows, Failure> {
    let (config, table) = input::load_entity(req.input, Entity::Contacts)?;
    let settings = queue_settings(&config);
    let engine = engine_with(&[("contacts", &table)], &[])?;
    let groups = run_plan("queue metrics", engine.queue_stats(&req.query(), &settings))?;
    let rows = operational_rows(&groups, req.by, metrics, &settings, &req.opts);
    Ok((rows, vec![table]))
}

pub fn queue_settings(config: &ProjectConfig) -> QueueSettings {
    QueueSettings {
        short_abandon_seconds: config.queue.short_abandon_seconds,
        service_level_seconds: config.queue.service_level_seconds,
    }
}

pub fn journey_settings(config: &ProjectConfig) -> JourneySettings {
    JourneySettings {
        steps: config.journey.steps.clone(),
        cart_step: config.journey.cart_step.clone(),
        purchase_step: config.journey.purchase_step.clone(),
        cart_window_hours: config.journey.cart_window_hours,
    }
}

fn referrals(req: &Request, metrics: &[String]) -> Result<FamilyRows, Failure> {
    let (_, table) = input::load_entity(req.input, Entity::Referrals)?;
    let (_, customers) = input::load_entity(req.input, Entity::Customers).map_err(|e| {
        Failure::input(anyhow!(
            "the K-factor needs the customer base (invitations per customer): add a source \
             with entity = \"customers\" to cxray.toml ({})",
            e.error
        ))
    })?;
    let engine = engine_with(&[("referrals", &table), ("customers", &customers)], &[])?;
    let groups = run_plan("referral metrics", engine.referral_stats(&req.query()))?;
    let rows = operational_rows(&groups, req.by, metrics, &(), &req.opts);
    Ok((rows, vec![table, customers]))
}

fn journey(req: &Request, metrics: &[String]) -> Result<FamilyRows, Failure> {
    journey_rows(req, metrics, true)
}

/// Journey rows; without `strict`, cart abandonment is left out (not an error) when the journey
/// has no cart and purchase steps.
/// Journey events (and customers, when `with_customers` and the project has them) loaded in an
/// engine, with the journey settings.
struct JourneyData {
    engine: Engine,
    settings: JourneySettings,
    tables: Vec<EntityTable>,
}

fn load_journey(req: &Request, with_customers: bool) -> Result<JourneyData, Failure> {
    let (config, table) = input::load_entity(req.input, Entity::Journey)?;
    let settings = journey_settings(&config);
    // Segments that are not journey columns come from the customer.
    let needed = with_customers || req.by.iter().any(|b| table.schema.index_of(b).is_err());
    let customers = if needed && input::has_source(&config, Entity::Customers) {
        Some(input::load_entity(req.input, Entity::Customers)?.1)
    } else {
        None
    };
    let mut named = vec![("journey", &table)];
    if let Some(c) = &customers {
        named.push(("customers", c));
    }
    let engine = engine_with(&named, &[])?;
    Ok(JourneyData {
        engine,
        settings,
        tables: std::iter::once(table).chain(customers).collect(),
    })
}

impl JourneyData {
    /// Rows of the journey metrics by `by`; without `strict`, cart abandonment is left out (not
    /// an error) when the journey has no cart and purchase steps.
    fn rows(
        &self,
        req: &Request,
        by: &[String],
        metrics: &[String],
        strict: bool,
    ) -> Result<Vec<MetricRow>, Failure> {
        let q = GroupQuery {
            by: by.to_vec(),
            ..req.query()
        };
        let groups = run_plan(
            "journey metrics",
            self.engine.journey_stats(&q, &self.settings),
        )?;
        self.rows_of(&groups, req, by, metrics, strict)
    }

    /// The rows of several segmentations (each a list of columns, possibly empty), from one
    /// grouping of the events into units.
    fn rows_by_sets(
        &self,
        req: &Request,
        sets: &[Vec<String>],
        metrics: &[&[String]],
    ) -> Result<Vec<Vec<MetricRow>>, Failure> {
        let mut all_columns: Vec<String> = Vec::new();
        for c in sets.iter().flatten() {
            if !all_columns.contains(c) {
                all_columns.push(c.clone());
            }
        }
        let q = GroupQuery {
            by: all_columns,
            ..req.query()
        };
        let groups = run_plan(
            "journey metrics",
            self.engine.journey_stats_by(&q, sets, &self.settings),
        )?;
        sets.iter()
            .zip(groups)
            .zip(metrics)
            .map(|((set, g), m)| self.rows_of(&g, req, set, m, false))
            .collect()
    }

    fn rows_of(
        &self,
        groups: &cxray_metrics::journey::JourneyGroups,
        req: &Request,
        by: &[String],
        metrics: &[String],
        strict: bool,
    ) -> Result<Vec<MetricRow>, Failure> {
        let mut by_step = by.to_vec();
        by_step.push("step".into());
        let mut rows = Vec::new();
        for m in metrics {
            if m == "cart_abandonment" {
                if groups.cart_steps.is_none() && !strict {
                    continue;
                }
                if groups.cart_steps.is_none() {
                    return Err(Failure::input(anyhow!(
                        "cart abandonment needs a cart step and a purchase step; the journey has \
                         {} — name them with [journey] cart_step and purchase_step in cxray.toml",
                        groups.steps.join(", ")
                    )));
                }
                rows.extend(operational_rows(
                    &groups.carts,
                    by,
                    std::slice::from_ref(m),
                    &self.settings.cart_window_hours,
                    &req.opts,
                ));
            } else {
                rows.extend(operational_rows(
                    &groups.funnel,
                    &by_step,
                    std::slice::from_ref(m),
                    &(),
                    &req.opts,
                ));
            }
        }
        for r in &mut rows {
            r.detail
                .insert("unit".into(), serde_json::Value::from(groups.unit));
        }
        if self.settings.steps.is_empty() && metrics.iter().any(|m| m != "cart_abandonment") {
            eprintln!(
                "note: funnel steps in data order by frequency: {} (set [journey] steps to fix \
                 the order)",
                groups.steps.join(" → ")
            );
        }
        Ok(rows)
    }
}

fn journey_rows(req: &Request, metrics: &[String], strict: bool) -> Result<FamilyRows, Failure> {
    let j = load_journey(req, false)?;
    let rows = j.rows(req, req.by, metrics, strict)?;
    Ok((rows, j.tables))
}

/// The operational part of `cxray report`: every family with a source in the project, per
/// period without segments; ticket volume per category for recurring issues; the funnel by
/// each of the report's dimensions for friction points; retention by signup quarter. Returns
/// the tables read, for data quality.
pub fn report_input(
    req: &Request,
    project: &crate::input::Project,
    dims: &[String],
    alpha: f64,
) -> Result<ReportParts, Failure> {
    let (config, responses) = (&project.config, &project.loaded);
    use cxray_metrics::operational::OPERATIONAL_METRICS;
    let names = |f: Family| -> Vec<String> {
        OPERATIONAL_METRICS
            .iter()
            .filter(|d| d.family == f)
            .map(|d| d.name.to_string())
            .collect()
    };
    let has = |e: Entity| input::has_source(config, e);
    let mut out = OperationsInput::default();
    let mut tables = Vec::new();
    let mut linkage = None;
    if has(Entity::Tickets) {
        let (rows, t) = tickets(req, &names(Family::Tickets))?;
        out.rows.extend(rows);
        if t[0].schema.index_of("category").is_ok() {
            let by = vec!["category".to_string()];
            let engine = engine_with(&[("tickets", &t[0])], &by)?;
            let q = GroupQuery {
                by: by.clone(),
                ..req.query()
            };
            let settings = TicketSettings {
                reopen_window_days: config.tickets.reopen_window_days,
                business_hours: None,
            };
            // Volume only: the durations (and their business hours) are not needed here.
            let groups = run_plan("ticket categories", engine.ticket_stats(&q, &settings))?;
            out.ticket_categories =
                operational_rows(&groups, &by, &["tickets".into()], &settings, &req.opts);
        }
        tables.extend(t);
    }
    if has(Entity::Contacts) {
        let (rows, t) = queue(req, &names(Family::Queue))?;
        out.rows.extend(rows);
        tables.extend(t);
    }
    if has(Entity::Referrals) && has(Entity::Customers) {
        let (rows, t) = referrals(req, &names(Family::Referrals))?;
        out.rows.extend(rows);
        tables.extend(t);
    }
    if has(Entity::Journey) {
        let j = load_journey(req, true)?;
        // Overall, and for friction points the funnel by every report dimension the journey or
        // its customers have: one grouping of the events for all of them.
        let present: Vec<String> = dims
            .iter()
            .filter(|d| j.tables.iter().any(|t| t.schema.index_of(d).is_ok()))
            .cloned()
            .collect();
        let all = names(Family::Journey);
        let steps = ["funnel".to_string(), "step_conversion".to_string()];
        let sets: Vec<Vec<String>> = std::iter::once(vec![])
            .chain(present.iter().map(|d| vec![d.clone()]))
            .collect();
        let metrics: Vec<&[String]> = std::iter::once(all.as_slice())
            .chain(present.iter().map(|_| steps.as_slice()))
            .collect();
        let mut rows = j.rows_by_sets(req, &sets, &metrics)?.into_iter();
        out.rows.extend(rows.next().unwrap_or_default());
        out.funnel_by = present.into_iter().zip(rows).collect();
        tables.extend(j.tables);
    }
    if has(Entity::Lifecycle) {
        let l = crate::churn::Lifecycle::load(req.input, &[], true)?;
        let t0 = std::time::Instant::now();
        out.rows
            .extend(l.churn_rows(&names(Family::Churn), &req.opts, req.since, req.until));
        crate::progress::timing("churn", t0);
        let t0 = std::time::Instant::now();
        let opts = cxray_insights::retention::RetentionOptions {
            by: vec![],
            cohort: Some(cxray_metrics::period::Period::Quarter),
            horizons: vec![30.0, 90.0, 180.0, 365.0],
            confidence: req.opts.estimate.confidence,
            alpha,
        };
        out.retention = Some(l.retention(&opts, req.until)?);
        crate::progress::timing("retention", t0);
        // NPS linked to churn, when answers name their customers.
        let t0 = std::time::Instant::now();
        let lopts = cxray_insights::linkage::LinkageOptions {
            confidence: req.opts.estimate.confidence,
            alpha,
        };
        linkage = crate::linkage::link(&l, responses, &lopts).ok();
        crate::progress::timing("linkage", t0);
        tables.extend(l.tables());
    }
    // Customers are read by more than one family; count each entity's sources once.
    let mut seen = std::collections::BTreeSet::new();
    tables.retain(|t| seen.insert(t.entity));
    Ok(ReportParts {
        operations: out,
        tables,
        linkage,
    })
}

/// What the report takes from the operational data.
pub struct ReportParts {
    pub operations: OperationsInput,
    /// The tables read, for data quality.
    pub tables: Vec<EntityTable>,
    /// NPS linked to churn (when there are lifecycle events and answers with customer ids).
    pub linkage: Option<cxray_insights::linkage::Linkage>,
}
