//! Operational metrics: each family (tickets, queue, referrals, journey, churn) reads its
//! entity, runs its engine plan and turns the per-group statistics into rows of the same table
//! as the survey metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use cxray_engine::{Engine, GroupQuery, JourneySegmentation};
use cxray_ingest::{Entity, EntityTable};
use cxray_insights::{MetricRow, TableOptions, operational_rows};
use cxray_metrics::journey::{JourneyGroups, JourneySettings};
use cxray_metrics::operational::{Family, OPERATIONAL_METRICS, operational_metric};
use cxray_metrics::queue::QueueSettings;
use cxray_metrics::tickets::TicketSettings;

use crate::engine::run_plans;
use crate::error::{Error, Result};
use crate::lifecycle::Lifecycle;
use crate::project::{EntitySource, InputSummary, Project};

/// Operational metric names asked for, by family.
pub(crate) type Asked = BTreeMap<Family, Vec<String>>;

/// Splits metric names into survey metrics and operational ones by family.
pub(crate) fn split(metrics: Vec<String>) -> (Vec<String>, Asked) {
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

/// The names of every metric of a family.
pub(crate) fn family_metrics(f: Family) -> Vec<String> {
    OPERATIONAL_METRICS
        .iter()
        .filter(|d| d.family == f)
        .map(|d| d.name.to_string())
        .collect()
}

/// What every family needs to know.
pub(crate) struct Request<'a> {
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

/// Rows of every operational metric asked for, with the input counts of the entities read.
pub(crate) struct Computed {
    pub rows: Vec<MetricRow>,
    pub input: Option<InputSummary>,
}

/// The entity a family reads.
pub(crate) fn entity_of(f: Family) -> Entity {
    match f {
        Family::Tickets => Entity::Tickets,
        Family::Churn => Entity::Lifecycle,
        Family::Queue => Entity::Contacts,
        Family::Referrals => Entity::Referrals,
        Family::Journey => Entity::Journey,
    }
}

pub(crate) fn compute(project: &Project, req: &Request, asked: &Asked) -> Result<Computed> {
    if asked.len() > 1 && project.files_given() {
        let kinds: Vec<&str> = asked.keys().map(|f| entity_of(*f).name()).collect();
        return Err(Error::usage(format!(
            "these metrics come from different kinds of data ({}); use a cxray.toml with one \
             source per entity, or ask for one kind at a time",
            kinds.join(", ")
        ))
        .about("metrics"));
    }
    let mut out = Computed {
        rows: Vec::new(),
        input: None,
    };
    for (family, metrics) in asked {
        let (rows, tables) = match family {
            Family::Tickets => tickets(project, req, metrics)?,
            Family::Queue => queue(project, req, metrics)?,
            Family::Referrals => referrals(project, req, metrics)?,
            Family::Journey => journey(project, req, metrics)?,
            Family::Churn => {
                let l = Lifecycle::load(project, req.by, false)?;
                let rows = l.churn_rows(metrics, &req.opts, req.since, req.until);
                (rows, l.tables())
            }
        };
        out.rows.extend(rows);
        for t in &tables {
            let s = InputSummary::of_entity(t);
            out.input = Some(match out.input.take() {
                Some(i) => i.and(s),
                None => s,
            });
        }
    }
    Ok(out)
}

type FamilyRows = (Vec<MetricRow>, Vec<Arc<EntityTable>>);

pub(crate) fn ticket_settings(project: &Project) -> TicketSettings {
    let config = project.config();
    TicketSettings {
        reopen_window_days: config.tickets.reopen_window_days,
        business_hours: config
            .tickets
            .calendar()
            .ok()
            .flatten()
            .map(|c| c.describe()),
    }
}

pub(crate) fn tickets(project: &Project, req: &Request, metrics: &[String]) -> Result<FamilyRows> {
    let settings = ticket_settings(project);
    let backlog = metrics.iter().any(|m| m == "backlog");
    let flows_period = req.opts.period.filter(|_| backlog);
    // The backlog's flows count the tickets created before `since` still open in it.
    let from = match flows_period {
        Some(_) => None,
        None => req.since,
    };
    let tickets = project.entity_source(Entity::Tickets, from, req.until)?;
    // Segments that are not ticket columns come from the customer.
    let customers = segment_customers(project, tickets.table(), req.by)?;
    let mut named: Vec<(&str, &EntitySource)> = vec![("tickets", &tickets)];
    if let Some(c) = &customers {
        named.push(("customers", c));
    }
    let (q, s) = (req.query(), &settings);
    let timezone = &project.config().project.timezone;
    let (groups, flows) = run_plans(
        project,
        "computing ticket metrics",
        &named,
        req.by,
        |engine| async move {
            let groups = engine.ticket_stats(&q, s).await?;
            let flows = match flows_period {
                Some(p) => Some(engine.ticket_flows(&q, p, timezone).await?),
                None => None,
            };
            Ok((groups, flows))
        },
    )?;
    let mut rows = operational_rows(&groups, req.by, metrics, &settings, &req.opts);
    if backlog {
        let backlog = match (flows, req.opts.period) {
            (Some(flows), Some(p)) => {
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
            _ => groups
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
    Ok((rows, tables_of([Some(tickets), customers])))
}

/// The tables read, for the input summary.
fn tables_of<const N: usize>(sources: [Option<EntitySource>; N]) -> Vec<Arc<EntityTable>> {
    sources
        .into_iter()
        .flatten()
        .map(|s| s.table().clone())
        .collect()
}

/// The customers, when some segment columns are not columns of `table` and the project has
/// customers (the engine takes those segments from each row's customer).
fn segment_customers(
    project: &Project,
    table: &EntityTable,
    by: &[String],
) -> Result<Option<EntitySource>> {
    let needed = by.iter().any(|b| table.schema.index_of(b).is_err())
        && table.schema.index_of("customer_id").is_ok()
        && project.has(Entity::Customers);
    needed
        .then(|| project.entity_source(Entity::Customers, None, None))
        .transpose()
}

/// Ticket volume per category (for recurring issues in the report).
pub(crate) fn ticket_categories(project: &Project, req: &Request) -> Result<Vec<MetricRow>> {
    let t = project.entity_source(Entity::Tickets, req.since, req.until)?;
    if t.table().schema.index_of("category").is_err() {
        return Ok(vec![]);
    }
    let by = vec!["category".to_string()];
    let q = GroupQuery {
        by: by.clone(),
        ..req.query()
    };
    let settings = TicketSettings {
        reopen_window_days: project.config().tickets.reopen_window_days,
        business_hours: None,
    };
    // Volume only: the durations (and their business hours) are not needed here.
    let s = &settings;
    let groups = run_plans(
        project,
        "computing ticket categories",
        &[("tickets", &t)],
        &by,
        |engine| async move { engine.ticket_stats(&q, s).await },
    )?;
    Ok(operational_rows(
        &groups,
        &by,
        &["tickets".into()],
        &settings,
        &req.opts,
    ))
}

pub(crate) fn queue(project: &Project, req: &Request, metrics: &[String]) -> Result<FamilyRows> {
    let contacts = project.entity_source(Entity::Contacts, req.since, req.until)?;
    let config = project.config();
    let settings = QueueSettings {
        short_abandon_seconds: config.queue.short_abandon_seconds,
        service_level_seconds: config.queue.service_level_seconds,
    };
    let (q, s) = (req.query(), &settings);
    let groups = run_plans(
        project,
        "computing queue metrics",
        &[("contacts", &contacts)],
        &[],
        |engine| async move { engine.queue_stats(&q, s).await },
    )?;
    let rows = operational_rows(&groups, req.by, metrics, &settings, &req.opts);
    Ok((rows, tables_of([Some(contacts)])))
}

pub(crate) fn referrals(
    project: &Project,
    req: &Request,
    metrics: &[String],
) -> Result<FamilyRows> {
    let referrals = project.entity_source(Entity::Referrals, req.since, req.until)?;
    let customers = project
        .entity_source(Entity::Customers, None, None)
        .map_err(|e| {
            Error::new(
                e.kind(),
                format!(
                    "the K-factor needs the customer base (invitations per customer): add a \
                     source with entity = \"customers\" to cxray.toml ({e})"
                ),
            )
        })?;
    let q = req.query();
    let groups = run_plans(
        project,
        "computing referral metrics",
        &[("referrals", &referrals), ("customers", &customers)],
        &[],
        |engine| async move { engine.referral_stats(&q).await },
    )?;
    let rows = operational_rows(&groups, req.by, metrics, &(), &req.opts);
    Ok((rows, tables_of([Some(referrals), Some(customers)])))
}

fn journey(project: &Project, req: &Request, metrics: &[String]) -> Result<FamilyRows> {
    let j = JourneyData::load(project, req, false)?;
    let rows = j.rows(project, req, req.by, metrics, true)?;
    Ok((rows, j.tables))
}

/// The customers table; when it cannot be read and is not `needed`, none (the caller goes on
/// without customer segments). A rejected row in strict mode is always an error.
pub(crate) fn optional_customers(
    project: &Project,
    needed: bool,
) -> Result<Option<Arc<EntityTable>>> {
    optional(project.entity(Entity::Customers), needed)
}

/// A source read for what it adds: when it cannot be read and is not `needed`, none. A rejected
/// row in strict mode is always an error.
fn optional<T>(read: Result<T>, needed: bool) -> Result<Option<T>> {
    match read {
        Ok(t) => Ok(Some(t)),
        Err(e) if needed || e.field() == Some("strict") => Err(e),
        Err(_) => Ok(None),
    }
}

/// The journey settings of the project.
fn journey_settings(project: &Project) -> JourneySettings {
    let j = &project.config().journey;
    JourneySettings {
        steps: j.steps.clone(),
        cart_step: j.cart_step.clone(),
        purchase_step: j.purchase_step.clone(),
        cart_window_hours: j.cart_window_hours,
    }
}

/// Journey events (and customers, when asked for or needed for segments and the project has
/// them) for the engine's plans, with the journey settings.
pub(crate) struct JourneyData {
    sources: Vec<(&'static str, EntitySource)>,
    settings: JourneySettings,
    pub tables: Vec<Arc<EntityTable>>,
}

impl JourneyData {
    pub fn load(project: &Project, req: &Request, with_customers: bool) -> Result<Self> {
        let journey = project.entity_source(Entity::Journey, req.since, req.until)?;
        let settings = journey_settings(project);
        // Segments that are not journey columns come from the customer; customers wanted for
        // the report's dimensions only are left out when they cannot be read.
        let schema = &journey.table().schema;
        let needed = req.by.iter().any(|b| schema.index_of(b).is_err());
        let customers = if (needed || with_customers) && project.has(Entity::Customers) {
            optional(project.entity_source(Entity::Customers, None, None), needed)?
        } else {
            None
        };
        let mut sources = vec![("journey", journey)];
        if let Some(c) = customers {
            sources.push(("customers", c));
        }
        Ok(JourneyData {
            tables: sources.iter().map(|(_, s)| s.table().clone()).collect(),
            sources,
            settings,
        })
    }

    /// Runs a plan over the journey's tables.
    fn run<T, F, Fut>(&self, project: &Project, plan: F) -> Result<T>
    where
        F: FnOnce(Engine) -> Fut,
        Fut: std::future::Future<Output = Result<T, cxray_engine::EngineError>>,
    {
        let named: Vec<(&str, &EntitySource)> = self.sources.iter().map(|(n, s)| (*n, s)).collect();
        run_plans(project, "computing journey metrics", &named, &[], plan)
    }

    /// Rows of the journey metrics by `by`; without `strict`, cart abandonment is left out (not
    /// an error) when the journey has no cart and purchase steps.
    fn rows(
        &self,
        project: &Project,
        req: &Request,
        by: &[String],
        metrics: &[String],
        strict: bool,
    ) -> Result<Vec<MetricRow>> {
        let q = GroupQuery {
            by: by.to_vec(),
            ..req.query()
        };
        let settings = &self.settings;
        let groups = self.run(project, |engine| async move {
            engine.journey_stats(&q, settings).await
        })?;
        self.rows_of(project, &groups, req, by, metrics, strict)
    }

    /// The rows of several segmentations (each a list of columns, possibly empty), from one
    /// grouping of the events into units; the times between steps only where `step_time` is
    /// asked for.
    pub fn rows_by_sets(
        &self,
        project: &Project,
        req: &Request,
        sets: &[Vec<String>],
        metrics: &[&[String]],
    ) -> Result<Vec<Vec<MetricRow>>> {
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
        let segmentations: Vec<JourneySegmentation> = sets
            .iter()
            .zip(metrics)
            .map(|(by, m)| JourneySegmentation {
                by: by.clone(),
                step_times: m.iter().any(|m| m == "step_time"),
            })
            .collect();
        let settings = &self.settings;
        let groups = self.run(project, |engine| async move {
            engine.journey_stats_by(&q, &segmentations, settings).await
        })?;
        sets.iter()
            .zip(groups)
            .zip(metrics)
            .map(|((set, g), m)| self.rows_of(project, &g, req, set, m, false))
            .collect()
    }

    fn rows_of(
        &self,
        project: &Project,
        groups: &JourneyGroups,
        req: &Request,
        by: &[String],
        metrics: &[String],
        strict: bool,
    ) -> Result<Vec<MetricRow>> {
        let mut by_step = by.to_vec();
        by_step.push("step".into());
        let mut rows = Vec::new();
        for m in metrics {
            if m == "cart_abandonment" {
                if groups.cart_steps.is_none() && !strict {
                    continue;
                }
                if groups.cart_steps.is_none() {
                    return Err(Error::bad_input(format!(
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
            project.observer().note(&format!(
                "funnel steps in data order by frequency: {} (set [journey] steps to fix the \
                 order)",
                groups.steps.join(" → ")
            ));
        }
        Ok(rows)
    }
}
