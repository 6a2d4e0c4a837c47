//! The CX report: highlights, scorecard, trends, segments, themes, what happened to customers
//! (tickets, queue, referrals, journey, churn and retention) and why (the headline change
//! explained, key drivers, NPS linked to churn, non-response bias). A section that cannot be
//! computed is named in the report's warnings with its reason; nothing is dropped silently.

use std::collections::BTreeMap;

use crate::enrich::{TEXT_COLUMNS, THEME_SEPARATOR, split_themes};
use arrow::array::{Array, AsArray};
use chrono::NaiveDate;
use cxray_engine::HistogramQuery;
use cxray_ingest::{Entity, EntityTable, Loaded};
use cxray_insights::explain::{ExplainInput, ExplainOptions, drill_down, explain, focus_segment};
use cxray_insights::linkage::LinkageOptions;
use cxray_insights::operations::{OperationsInput, OperationsOptions, build_operations};
use cxray_insights::report::InsightsSection;
use cxray_insights::retention::RetentionOptions;
use cxray_insights::{
    ReportInput, ReportOptions, TableOptions, ThemeInput, ThemeOptions, ThemesSection,
    build_report, build_themes,
};
use cxray_metrics::EstimateOptions;
use cxray_metrics::operational::Family;
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_report::{DataQuality, MissingSegment, ReportDocument, ReportWarning, SourceQuality};
use cxray_stats::Confidence;

use crate::answers::dimensions;
use crate::error::Result;
use crate::explain::{check_alpha, period_sizes};
use crate::lifecycle::Lifecycle;
use crate::metrics::SURVEY_ORDER;
use crate::observe::phase;
use crate::operational::{self, JourneyData, Request, family_metrics};
use crate::project::{Enrich, Project};

/// What the report covers.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    /// Segment columns to analyse (default: every attribute column with 2 to 12 distinct values
    /// and the journey touchpoint the answers follow).
    pub by: Vec<String>,
    /// Reporting period.
    pub period: Period,
    /// First local day included.
    pub since: Option<NaiveDate>,
    /// Last local day included.
    pub until: Option<NaiveDate>,
    pub confidence: Confidence,
    /// False discovery rate for verdicts and highlights (Benjamini-Hochberg).
    pub alpha: f64,
    /// Groups with fewer answers are shown but flagged "too few answers" and not tested.
    pub min_n: Option<u64>,
    /// Report title (default: made from the project's name).
    pub title: Option<String>,
}

impl Default for ReportRequest {
    fn default() -> Self {
        ReportRequest {
            by: vec![],
            period: Period::Month,
            since: None,
            until: None,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            alpha: 0.05,
            min_n: None,
            title: None,
        }
    }
}

/// Sections of the report that can fail on their own, as named in warnings.
mod section {
    pub const TICKETS: &str = "Support tickets";
    pub const QUEUE: &str = "Contact-centre queue";
    pub const REFERRALS: &str = "Referrals";
    pub const JOURNEY: &str = "Journey funnel";
    pub const LIFECYCLE: &str = "Churn and retention";
    pub const LINKAGE: &str = "NPS linked to churn";
    pub const DRIVERS: &str = "Key drivers";
    pub const NONRESPONSE: &str = "Non-response";
    pub const TOUCHPOINTS: &str = "Answers by journey touchpoint";
    pub const CUSTOMERS: &str = "Customer segments and revenue";
}

/// Collects the warnings of sections that could not be computed.
#[derive(Default)]
struct Warnings(Vec<ReportWarning>);

impl Warnings {
    /// The section's result, or `None` with a warning naming the section and why. In strict
    /// mode a rejected row fails the whole report, as it fails every command.
    fn keep<T>(&mut self, section: &str, r: Result<T>) -> Result<Option<T>> {
        match r {
            Ok(x) => Ok(Some(x)),
            Err(e) if e.field() == Some("strict") => Err(e),
            Err(e) => {
                self.say(section, e);
                Ok(None)
            }
        }
    }

    fn say(&mut self, section: &str, message: impl std::fmt::Display) {
        self.0.push(ReportWarning {
            section: section.to_string(),
            message: message.to_string(),
        });
    }
}

/// Histograms by theme combination: overall, and with each dimension.
type ThemeGroups = (Vec<GroupHistogram>, Vec<(String, Vec<GroupHistogram>)>);

impl Project {
    /// The report, as a document every renderer (text, Markdown, HTML, JSON) shows.
    pub fn report(&self, req: &ReportRequest) -> Result<ReportDocument> {
        check_alpha(req.alpha)?;
        let mut warnings = Warnings::default();
        let responses = match self.responses_with(Enrich {
            text: true,
            touchpoints: true,
        }) {
            Ok(r) => r,
            Err(e) if e.field() == Some("strict") => return Err(e),
            // The journey could not be read: the answers without their touchpoints (a failure
            // of the answers themselves fails again here, and fails the report).
            Err(e) => {
                let r = self.responses_with(Enrich {
                    text: true,
                    touchpoints: false,
                })?;
                warnings.say(section::TOUCHPOINTS, e);
                r
            }
        };
        let p = req.period;
        let dims = dimensions(&responses, &req.by, true);
        let engine = crate::engine::with_responses(self, &responses.loaded)?;
        let q = |by: Vec<String>| HistogramQuery {
            metrics: vec![],
            by,
            period: Some(p),
            since: req.since,
            until: req.until,
        };
        // Attribute ratings declared as drivers are analysed in the drivers section, not as
        // scorecard metrics.
        let drivers = self.driver_metrics();
        let kpi = |mut g: Vec<GroupHistogram>| {
            g.retain(|x| !drivers.contains(&x.key.metric));
            g
        };
        // On a cluster, the histograms by columns stored in the lake are the cluster's (the
        // lake's parts, and the store's answers added); those by what cxray adds to the
        // answers (themes, touchpoints, comment language) are computed here.
        let cluster = match self.engine_url() {
            Some(url) => {
                (self.parts_beside(&responses, req.since, req.until)?).map(|(l, p)| (url, l, p))
            }
            None => None,
        };
        let histograms = |what: &str, by: Vec<String>| -> Result<Vec<GroupHistogram>> {
            let query = q(by);
            Ok(kpi(match &cluster {
                Some((url, loaded, parts))
                    if query.by.iter().all(|b| loaded.attributes.contains(b)) =>
                {
                    self.cluster_histograms(url, loaded, parts, &query)?
                }
                _ => crate::engine::run(self, what, engine.score_histograms(&query))?,
            }))
        };
        let overall = histograms("computing the report", vec![])?;
        let mut per_dim = Vec::new();
        for d in &dims {
            per_dim.push((
                d.clone(),
                histograms("computing the report", vec![d.clone()])?,
            ));
        }
        let min_n = self.min_n(req.min_n);
        let opts = ReportOptions {
            table: TableOptions {
                estimate: EstimateOptions {
                    confidence: req.confidence,
                    weighted: self.weighted(),
                    ..Default::default()
                },
                period: Some(p),
                min_n,
            },
            period: p,
            alpha: req.alpha,
            segment_window: 3,
            order: SURVEY_ORDER.map(String::from).to_vec(),
        };
        let input = ReportInput {
            overall: &overall,
            by_dimension: per_dim
                .iter()
                .map(|(d, g)| (d.clone(), g.as_slice()))
                .collect(),
        };
        let mut report = phase(self.observer(), "report statistics", || {
            build_report(&input, self.catalog(), &opts)
        });
        // Histograms by comment theme (overall and with each dimension), kept for the Why
        // section.
        let mut theme_groups: Option<ThemeGroups> = None;
        if let Some(text) = &responses.text {
            let t0 = std::time::Instant::now();
            self.observer().started("summarising comment themes");
            let themes_col = TEXT_COLUMNS[3].to_string();
            let t_overall = histograms("themes", vec![themes_col.clone()])?;
            let mut t_dims = Vec::new();
            for d in &dims {
                t_dims.push((
                    d.clone(),
                    histograms("themes", vec![d.clone(), themes_col.clone()])?,
                ));
            }
            let tin = ThemeInput {
                overall: &t_overall,
                by_dimension: t_dims
                    .iter()
                    .map(|(d, g)| (d.clone(), g.as_slice()))
                    .collect(),
                themes: text.themes.clone(),
                discovered: text.discovered.iter().map(|d| d.label.clone()).collect(),
            };
            let topts = ThemeOptions {
                period: p,
                window: opts.segment_window,
                alpha: req.alpha,
                confidence: req.confidence,
                estimate: opts.table.estimate,
                min_n,
                exclude_period: report.partial_period.clone(),
            };
            if let Some(mut section) = build_themes(&tin, self.catalog(), &topts) {
                fill_examples(&mut section, &responses.loaded, 3);
                report.attach_themes(section);
            }
            self.observer()
                .finished("summarising comment themes", t0.elapsed());
            theme_groups = Some((t_overall, t_dims));
        }
        // What happened to customers: every operational entity the project has.
        let oreq = Request {
            by: &[],
            opts: opts.table,
            since: req.since,
            until: req.until,
        };
        let ops = self.report_operations(&oreq, &dims, req.alpha, &mut warnings)?;
        if !ops.operations.rows.is_empty() || ops.operations.retention.is_some() {
            let current = report
                .trends
                .iter()
                .filter_map(|t| t.points.last().and_then(|p| p.row.period_start))
                .max();
            let section = build_operations(
                &ops.operations,
                &OperationsOptions {
                    period: p,
                    current,
                    alpha: req.alpha,
                    confidence: req.confidence,
                    window: opts.segment_window,
                },
            );
            report.attach_operations(section);
        }
        // Why: explain the headline change, key drivers, churn linkage, non-response bias.
        let t_insights = std::time::Instant::now();
        let mut insights = InsightsSection::default();
        // The headline metric: the first of the display order that has answers.
        let headline = opts
            .order
            .iter()
            .find(|m| overall.iter().any(|g| &g.key.metric == *m));
        if let Some(base) = headline
            && let Some(current) = report
                .current_period
                .as_deref()
                .and_then(Period::parse_label)
                .map(|x| x.1)
        {
            let starts: Vec<NaiveDate> = period_sizes(&overall, base)
                .into_iter()
                .map(|x| x.0)
                .filter(|s| *s <= current)
                .collect();
            let w = opts.segment_window.max(1);
            if starts.len() >= 2 * w {
                let after = starts[starts.len() - w..].to_vec();
                let before = starts[starts.len() - 2 * w..starts.len() - w].to_vec();
                insights.change = self.explain_window(
                    base,
                    p,
                    [before, after],
                    &overall,
                    &per_dim,
                    theme_groups.as_ref(),
                    req,
                );
            }
        }
        // NPS linked to churn (its Cox model runs on one core) beside the key drivers and the
        // non-response analysis.
        let lopts = LinkageOptions {
            confidence: req.confidence,
            alpha: req.alpha,
        };
        let (link, driven, nr) = std::thread::scope(|s| {
            let link = ops.lifecycle.as_ref().map(|l| {
                s.spawn(|| {
                    phase(self.observer(), "linkage", || {
                        crate::linkage::link(self, l, &responses.loaded, &lopts)
                    })
                })
            });
            let driven = headline.filter(|_| !drivers.is_empty()).map(|outcome| {
                crate::drivers::analyse(
                    self,
                    &responses.loaded,
                    outcome,
                    drivers.clone(),
                    vec![],
                    200,
                    req.confidence,
                )
            });
            let nr = self.has(Entity::Invitations).then(|| {
                let nreq = crate::nonresponse::NonResponseRequest {
                    confidence: req.confidence,
                    alpha: req.alpha,
                    ..Default::default()
                };
                phase(self.observer(), "non-response", || {
                    crate::nonresponse::analyse(self, &responses.loaded, &nreq)
                })
            });
            let link = link.map(|h| h.join().expect("the linkage does not panic"));
            (link, driven, nr)
        });
        drop(ops.lifecycle);
        if let Some(r) = link {
            insights.linkage = warnings.keep(section::LINKAGE, r)?;
        }
        if let Some(r) = driven {
            insights.drivers = warnings.keep(section::DRIVERS, r)?;
        }
        if let Some(r) = nr {
            insights.nonresponse = warnings.keep(section::NONRESPONSE, r)?.map(|x| x.0);
        }
        report.attach_insights(insights);
        self.observer().finished("insights", t_insights.elapsed());
        let title = req
            .title
            .clone()
            .or_else(|| self.name().map(str::to_string))
            .map(|n| format!("{n}: customer experience report"))
            .unwrap_or_else(|| "Customer experience report".into());
        Ok(ReportDocument {
            title,
            report,
            data_quality: data_quality(&responses.loaded, &dims, &ops.tables),
            warnings: warnings.0,
        })
    }

    /// The operational part of the report: every family with a source in the project, per
    /// period without segments; ticket volume per category for recurring issues; the funnel by
    /// each of the report's dimensions for friction points; retention by signup quarter; NPS
    /// linked to churn. A family that fails is left out with a warning.
    fn report_operations(
        &self,
        req: &Request,
        dims: &[String],
        alpha: f64,
        warnings: &mut Warnings,
    ) -> Result<ReportParts> {
        let mut out = OperationsInput::default();
        let mut tables: Vec<std::sync::Arc<EntityTable>> = Vec::new();
        let mut lifecycle = None;
        // Customers serve several sections (segments of the funnel, revenue in linkage, the
        // K-factor's base); when they cannot be read, those that only use them go on without.
        if self.has(Entity::Customers) {
            warnings.keep(section::CUSTOMERS, self.entity(Entity::Customers))?;
        }
        if self.has(Entity::Tickets) {
            let r = operational::tickets(self, req, &family_metrics(Family::Tickets));
            if let Some((rows, t)) = warnings.keep(section::TICKETS, r)? {
                out.rows.extend(rows);
                tables.extend(t);
                let categories = operational::ticket_categories(self, req);
                if let Some(c) = warnings.keep(section::TICKETS, categories)? {
                    out.ticket_categories = c;
                }
            }
        }
        if self.has(Entity::Contacts) {
            let r = operational::queue(self, req, &family_metrics(Family::Queue));
            if let Some((rows, t)) = warnings.keep(section::QUEUE, r)? {
                out.rows.extend(rows);
                tables.extend(t);
            }
        }
        if self.has(Entity::Referrals) && !self.has(Entity::Customers) {
            warnings.say(
                section::REFERRALS,
                "the K-factor needs the customer base (invitations per customer): add a source \
                 with entity = \"customers\" to cxray.toml",
            );
        }
        if self.has(Entity::Referrals) && self.has(Entity::Customers) {
            let r = operational::referrals(self, req, &family_metrics(Family::Referrals));
            if let Some((rows, t)) = warnings.keep(section::REFERRALS, r)? {
                out.rows.extend(rows);
                tables.extend(t);
            }
        }
        if self.has(Entity::Journey) {
            let r = JourneyData::load(self, req, true).and_then(|j| {
                // Overall, and for friction points the funnel by every report dimension the
                // journey or its customers have: one grouping of the events for all of them.
                let present: Vec<String> = dims
                    .iter()
                    .filter(|d| j.tables.iter().any(|t| t.schema.index_of(d).is_ok()))
                    .cloned()
                    .collect();
                let all = family_metrics(Family::Journey);
                let steps = ["funnel".to_string(), "step_conversion".to_string()];
                let sets: Vec<Vec<String>> = std::iter::once(vec![])
                    .chain(present.iter().map(|d| vec![d.clone()]))
                    .collect();
                let metrics: Vec<&[String]> = std::iter::once(all.as_slice())
                    .chain(present.iter().map(|_| steps.as_slice()))
                    .collect();
                let rows = j.rows_by_sets(self, req, &sets, &metrics)?;
                Ok((rows, present, j.tables))
            });
            if let Some((rows, present, t)) = warnings.keep(section::JOURNEY, r)? {
                let mut rows = rows.into_iter();
                out.rows.extend(rows.next().unwrap_or_default());
                out.funnel_by = present.into_iter().zip(rows).collect();
                tables.extend(t);
            }
        }
        if self.has(Entity::Lifecycle) {
            let r = Lifecycle::load(self, &[], true).and_then(|l| {
                let rows = phase(self.observer(), "churn", || {
                    l.churn_rows(
                        &family_metrics(Family::Churn),
                        &req.opts,
                        req.since,
                        req.until,
                    )
                });
                let opts = RetentionOptions {
                    by: vec![],
                    cohort: Some(Period::Quarter),
                    horizons: vec![30.0, 90.0, 180.0, 365.0],
                    confidence: req.opts.estimate.confidence,
                    alpha,
                };
                let retention = phase(self.observer(), "retention", || {
                    l.retention(&opts, req.until)
                })?;
                Ok((l, rows, retention))
            });
            match warnings.keep(section::LIFECYCLE, r)? {
                Some((l, rows, retention)) => {
                    out.rows.extend(rows);
                    out.retention = Some(retention);
                    tables.extend(l.tables());
                    lifecycle = Some(l);
                }
                None => warnings.say(
                    section::LINKAGE,
                    "it needs the lifecycle events, which could not be used (see Churn and \
                     retention)",
                ),
            }
        }
        // Customers are read by more than one family; count each entity's sources once.
        let mut seen = std::collections::BTreeSet::new();
        tables.retain(|t| seen.insert(t.entity));
        Ok(ReportParts {
            operations: out,
            tables,
            lifecycle,
        })
    }

    /// Explains the change of `metric` from the `before` window to the `after` window across
    /// the report's dimensions and themes, from the histograms the report already computed.
    #[allow(clippy::too_many_arguments)]
    fn explain_window(
        &self,
        metric: &str,
        p: Period,
        [before, after]: [Vec<NaiveDate>; 2],
        overall: &[GroupHistogram],
        per_dim: &[(String, Vec<GroupHistogram>)],
        themes: Option<&ThemeGroups>,
        req: &ReportRequest,
    ) -> Option<cxray_insights::explain::ChangeExplanation> {
        let spec = self.catalog().get(metric).ok()?;
        let opts = ExplainOptions {
            estimate: EstimateOptions {
                confidence: req.confidence,
                ..Default::default()
            },
            alpha: req.alpha,
            min_n: self.min_n(req.min_n),
        };
        let input = ExplainInput {
            spec,
            period: p,
            before,
            after,
            overall,
            by_dimension: per_dim
                .iter()
                .map(|(d, g)| (d.clone(), g.as_slice()))
                .collect(),
            themes: themes.map(|t| t.0.as_slice()),
        };
        let mut e = explain(&input, &opts)?;
        if let Some((_, by_dim)) = themes
            && let Some((dim, _)) = focus_segment(&e)
            && let Some((_, groups)) = by_dim.iter().find(|(d, _)| *d == dim)
        {
            drill_down(&mut e, spec, groups, &opts);
        }
        Some(e)
    }
}

/// What the report takes from the operational data.
struct ReportParts {
    operations: OperationsInput,
    /// The tables read, for data quality.
    tables: Vec<std::sync::Arc<EntityTable>>,
    /// Lifecycle events with their spells (when the project has them), for NPS linked to
    /// churn.
    lifecycle: Option<Lifecycle>,
}

fn data_quality(
    loaded: &Loaded,
    dims: &[String],
    tables: &[std::sync::Arc<EntityTable>],
) -> DataQuality {
    let sources = loaded
        .sources
        .iter()
        .chain(tables.iter().flat_map(|t| &t.sources))
        .map(|s| SourceQuality {
            file: s.file.clone(),
            rows_read: s.counts.read,
            rows_accepted: s.counts.accepted,
            rows_rejected: s.counts.rejected,
            duplicates: s.duplicates,
            first_date: s.first_date.clone(),
            last_date: s.last_date.clone(),
            notes: s.notes.clone(),
        })
        .collect();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for r in loaded
        .rejects
        .iter()
        .chain(tables.iter().flat_map(|t| &t.rejects))
    {
        // Group reasons that differ only in the offending value.
        let generic: String = r
            .reason
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        *reasons
            .entry(format!("{}: {generic}", r.column))
            .or_default() += r.answers;
    }
    let mut reject_reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reject_reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    reject_reasons.truncate(10);
    let total: u64 = loaded.batches.iter().map(|b| b.num_rows() as u64).sum();
    let missing_segments = dims
        .iter()
        .filter_map(|d| {
            let idx = loaded.schema.index_of(d).ok()?;
            let missing = loaded
                .batches
                .iter()
                .map(|b| b.column(idx).null_count() as u64)
                .sum();
            Some(MissingSegment {
                dimension: d.clone(),
                missing,
                total,
            })
        })
        .filter(|m| m.missing > 0)
        .collect();
    DataQuality {
        sources,
        reject_reasons,
        missing_segments,
    }
}

/// Quotes up to `k` distinct comments per theme from the section's window, in the base metric:
/// from the segment where the theme is emerging when it is, comments about that theme alone
/// before comments that mix themes, and then for a theme that pulls a metric down the most
/// negative comments, otherwise the most clearly worded ones (largest |sentiment|).
fn fill_examples(section: &mut ThemesSection, loaded: &Loaded, k: usize) {
    use arrow::datatypes::{DataType, Date32Type, Float64Type};
    let Ok(start) = NaiveDate::parse_from_str(&section.window_start, "%Y-%m-%d") else {
        return;
    };
    let start_days =
        (start - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32;
    let negative: Vec<bool> = section
        .themes
        .iter()
        .map(|t| {
            section
                .impacts
                .iter()
                .find(|i| i.theme == t.theme)
                .is_some_and(|i| i.impact < 0.0)
        })
        .collect();
    let focus: Vec<Option<(String, String)>> = section
        .themes
        .iter()
        .map(|t| {
            section
                .emerging
                .iter()
                .find(|e| e.theme == t.theme && e.segment.is_some())
                .map(|e| {
                    (
                        e.dimension.clone().unwrap_or_default(),
                        e.segment.clone().unwrap_or_default(),
                    )
                })
        })
        .collect();
    // Per theme: (in focus segment, only this theme, sentiment key, text), best kept.
    type Candidate = (bool, bool, f64, String);
    let better =
        |a: &Candidate, b: &Candidate| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.total_cmp(&a.2));
    let mut cands: Vec<Vec<Candidate>> = vec![Vec::new(); section.themes.len()];
    for b in &loaded.batches {
        let col = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| arrow::compute::cast(c, &DataType::Utf8).ok())
        };
        let (Some(comments), Some(themes), Some(metric)) =
            (col("comment"), col("comment_themes"), col("metric"))
        else {
            continue;
        };
        let (comments, themes, metric) = (
            comments.as_string::<i32>(),
            themes.as_string::<i32>(),
            metric.as_string::<i32>(),
        );
        let Some(sent) = b
            .column_by_name("comment_sentiment")
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
        else {
            continue;
        };
        let Some(days) = b
            .column_by_name("local_date")
            .and_then(|c| c.as_primitive_opt::<Date32Type>())
        else {
            continue;
        };
        let dims: Vec<Option<arrow::array::ArrayRef>> = focus
            .iter()
            .map(|f| f.as_ref().and_then(|(d, _)| col(d)))
            .collect();
        for r in 0..b.num_rows() {
            if themes.is_null(r)
                || days.value(r) < start_days
                || metric.value(r) != section.base_metric
            {
                continue;
            }
            let combo = themes.value(r);
            let alone = !combo.contains(THEME_SEPARATOR);
            for (i, t) in section.themes.iter().enumerate() {
                if !split_themes(combo).any(|x| x == t.theme) {
                    continue;
                }
                let in_focus = match (&focus[i], &dims[i]) {
                    (Some((_, v)), Some(c)) => {
                        let c = c.as_string::<i32>();
                        !c.is_null(r) && c.value(r) == v
                    }
                    _ => true,
                };
                let s = sent.value(r);
                let key = if negative[i] { -s } else { s.abs() };
                let text = comments.value(r);
                let list = &mut cands[i];
                if list.iter().any(|c| c.3 == text) {
                    continue;
                }
                list.push((in_focus, alone, key, text.to_string()));
                if list.len() > 4 * k {
                    list.sort_by(better);
                    list.truncate(k);
                }
            }
        }
    }
    for (t, mut list) in section.themes.iter_mut().zip(cands) {
        list.sort_by(better);
        t.examples = list.into_iter().take(k).map(|c| clip(&c.3, 280)).collect();
    }
}

fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}
