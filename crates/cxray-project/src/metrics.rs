//! The metrics table: an estimate with interval and n for every metric × segment × period,
//! survey metrics and operational ones alike.

use crate::enrich::TEXT_COLUMNS;
use crate::touchpoints::TOUCHPOINT_COLUMN;
use chrono::NaiveDate;
use cxray_engine::{HistogramQuery, SqlDialect};
use cxray_ingest::Loaded;
use cxray_insights::{MetricRow, TableOptions, metric_rows};
use cxray_metrics::period::Period;
use cxray_metrics::{EstimateOptions, IntervalChoice, MetricCatalog};
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::trimmed;
use crate::error::{Error, Result};
use crate::operational::{self, Asked};
use crate::project::{Enrich, InputSummary, Project};

/// What `metrics` computes.
#[derive(Debug, Clone)]
pub struct MetricsRequest {
    /// Metric names, survey (nps, csat, …, custom) or operational (fcr, churn, …); every survey
    /// metric in the data when empty.
    pub metrics: Vec<String>,
    /// Segment columns to break metrics down by. `theme` groups answers by each theme of their
    /// comment (a comment with two themes counts in both).
    pub by: Vec<String>,
    pub period: Option<Period>,
    /// First local day included.
    pub since: Option<NaiveDate>,
    /// Last local day included.
    pub until: Option<NaiveDate>,
    pub confidence: Confidence,
    pub interval: IntervalChoice,
    /// Groups with fewer answers are flagged as too few (default: the project's setting).
    pub min_n: Option<u64>,
}

impl Default for MetricsRequest {
    fn default() -> Self {
        MetricsRequest {
            metrics: vec![],
            by: vec![],
            period: None,
            since: None,
            until: None,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            interval: IntervalChoice::Default,
            min_n: None,
        }
    }
}

/// The survey part of a metrics request, as the engine takes it.
struct SurveyQuery {
    query: HistogramQuery,
    need: Enrich,
    /// Where `theme` is among the segment columns.
    theme_at: Option<usize>,
}

/// Settings the numbers depend on.
#[derive(Debug, Clone, Serialize)]
pub struct MetricsSettings {
    pub confidence: f64,
    pub by: Vec<String>,
    pub period: Option<Period>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    pub min_n: u64,
}

/// What a metric is called and what its value measures, for tables.
#[derive(Debug, Clone)]
pub struct MetricLabel {
    pub name: String,
    pub display_name: String,
    pub value_label: String,
}

/// The metrics table (JSON: `docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct MetricsOutput {
    pub rows: Vec<MetricRow>,
    pub input: InputSummary,
    pub settings: MetricsSettings,
    /// Display names of the metrics, for tables (not part of the JSON).
    #[serde(skip)]
    pub labels: Vec<MetricLabel>,
}

/// Names and labels of every survey and operational metric.
fn labels(catalog: &MetricCatalog) -> Vec<MetricLabel> {
    let mut labels: Vec<MetricLabel> = catalog
        .iter()
        .map(|s| MetricLabel {
            name: s.name.clone(),
            display_name: s.display_name.clone(),
            value_label: s.value_label.clone(),
        })
        .collect();
    for d in cxray_metrics::operational::OPERATIONAL_METRICS {
        labels.push(MetricLabel {
            name: d.name.to_string(),
            display_name: d.display_name.to_string(),
            value_label: d.value_label.to_string(),
        });
    }
    labels
}

/// The survey and the operational metrics of a request, names trimmed and in lower case.
fn split_metrics(req: &MetricsRequest) -> (Vec<String>, Asked) {
    operational::split(
        (req.metrics.iter())
            .map(|m| m.trim().to_lowercase())
            .filter(|m| !m.is_empty())
            .collect(),
    )
}

/// The display order of the survey metrics when none are asked for.
pub(crate) const SURVEY_ORDER: [&str; 5] = ["nps", "csat", "ces", "stars", "task"];

impl Project {
    /// The metrics table: every metric asked for by segment and period, each with its interval
    /// and n. Answers are read only when survey metrics are asked for (or none are); each
    /// operational family reads its own entity.
    pub fn metrics(&self, req: &MetricsRequest) -> Result<MetricsOutput> {
        let (survey, asked) = split_metrics(req);
        let by = trimmed(&req.by);
        let settings = |by: Vec<String>, min_n: u64| MetricsSettings {
            confidence: req.confidence.level(),
            by,
            period: req.period,
            since: req.since,
            until: req.until,
            min_n,
        };
        if survey.is_empty() && !asked.is_empty() {
            // Only operational metrics: no answers are read.
            let opts = self.table_options(req, false);
            let computed = self.operational_metrics(req, &by, &opts, &asked)?;
            return Ok(MetricsOutput {
                rows: computed.rows,
                input: computed.input.expect("at least one entity was read"),
                settings: settings(by, opts.min_n),
                labels: labels(&MetricCatalog::builtin()),
            });
        }
        let survey_query = self.survey_query(req, &survey, &by)?;
        let (groups, mut input) = self.survey_histograms(req, &survey_query)?;
        let theme_at = survey_query.theme_at;
        let groups = match theme_at {
            Some(i) => cxray_insights::explode_themes(&groups, i),
            None => groups,
        };
        for m in &survey {
            if !groups.iter().any(|g| &g.key.metric == m) {
                self.observer()
                    .note(&format!("no {m} answers in the selected data"));
            }
        }
        let opts = self.table_options(req, self.weighted());
        let order: Vec<String> = if survey.is_empty() {
            SURVEY_ORDER.map(String::from).to_vec()
        } else {
            survey.clone()
        };
        let mut rows = metric_rows(&groups, &by, self.catalog(), &opts, &order);
        if !asked.is_empty() {
            let more = self.operational_metrics(req, &by, &opts, &asked)?;
            rows.extend(more.rows);
            if let Some(i) = more.input {
                input = input.and(i);
            }
        }
        Ok(MetricsOutput {
            rows,
            input,
            settings: settings(by, opts.min_n),
            labels: labels(self.catalog()),
        })
    }

    /// The SQL of the survey metrics' sufficient statistics (score histograms per metric,
    /// segment and period) over the table `responses`, in `dialect`: what a warehouse runs to
    /// compute the same metrics from the same answers (a lake's Parquet files).
    pub fn metrics_sql(&self, req: &MetricsRequest, dialect: SqlDialect) -> Result<String> {
        let (survey, asked) = split_metrics(req);
        if survey.is_empty() && !asked.is_empty() {
            return Err(Error::usage(
                "the SQL is that of the survey metrics' histograms; operational metrics are \
                 computed from their own tables",
            )
            .about("metrics"));
        }
        let by = trimmed(&req.by);
        let q = self.survey_query(req, &survey, &by)?;
        if q.need.text || q.need.touchpoints {
            return Err(Error::usage(
                "themes, comment language and sentiment, and touchpoints are added to the \
                 answers by cxray; the stored answers a warehouse reads do not have them",
            )
            .about("by"));
        }
        // The plan needs only the answers' columns: over an empty table of their schema, the
        // SQL names one table `responses`, whatever the project reads them from.
        let schema = match self.streamed_responses(req.since, req.until)? {
            Some((loaded, _)) => loaded.schema,
            None => self.responses()?.loaded.schema.clone(),
        };
        let engine = cxray_engine::Engine::new(1);
        engine.register_table("responses", schema, vec![])?;
        crate::engine::run(self, "writing SQL", engine.histogram_sql(&q.query, dialect))
    }

    /// The histogram query of the survey metrics asked for, checked against the catalog, and
    /// what the answers need added for it: `theme` groups by each theme of the comments (the
    /// comment_* columns come from text enrichment, which only runs when asked for).
    fn survey_query(
        &self,
        req: &MetricsRequest,
        survey: &[String],
        by: &[String],
    ) -> Result<SurveyQuery> {
        let theme_at = by.iter().position(|b| b == "theme");
        let engine_by: Vec<String> = by
            .iter()
            .map(|b| match b == "theme" {
                true => TEXT_COLUMNS[3].to_string(),
                false => b.clone(),
            })
            .collect();
        let need = Enrich {
            text: (engine_by.iter()).any(|b| TEXT_COLUMNS.contains(&b.as_str())),
            touchpoints: engine_by.iter().any(|b| b == TOUCHPOINT_COLUMN),
        };
        for m in survey {
            self.catalog()
                .get(m)
                .map_err(|e| Error::usage(e).about("metrics"))?;
        }
        Ok(SurveyQuery {
            query: HistogramQuery {
                metrics: survey.to_vec(),
                by: engine_by,
                period: req.period,
                since: req.since,
                until: req.until,
            },
            need,
            theme_at,
        })
    }

    /// The survey metrics' histograms and the input summary. Straight from the lake's files
    /// when nothing is added to the answers: the engine aggregates them as it scans, and
    /// memory does not grow with their number; on the Ballista cluster of `[engine] url` when
    /// there is one (the store's answers, which the cluster cannot read, aggregated here and
    /// added). Otherwise the answers are read (once per project) with what the query needs
    /// added, which must be there.
    fn survey_histograms(
        &self,
        req: &MetricsRequest,
        q: &SurveyQuery,
    ) -> Result<(Vec<cxray_engine::GroupHistogram>, InputSummary)> {
        let need = q.need;
        let streamed = match need.text || need.touchpoints {
            true => None,
            false => self.streamed_responses(req.since, req.until)?,
        };
        let histograms = |engine: cxray_engine::Engine, what: &str| {
            crate::engine::run(self, what, engine.score_histograms(&q.query))
        };
        match (streamed, self.engine_url()) {
            (Some((loaded, parts)), Some(url)) => {
                let groups = self.cluster_histograms(url, &loaded, &parts, &q.query)?;
                return Ok((groups, InputSummary::of_responses(&loaded)));
            }
            (Some((loaded, parts)), None) => {
                let engine = crate::engine::with_parquet_responses(self, &loaded, &parts)?;
                let groups = histograms(engine, "computing metrics")?;
                return Ok((groups, InputSummary::of_responses(&loaded)));
            }
            (None, Some(_)) => self.observer().note(
                "the answers are in memory (or need what cxray adds to them): computed here, \
                 not on the cluster",
            ),
            (None, None) => {}
        }
        let responses = self.responses_with(need)?;
        let text_column = q
            .query
            .by
            .iter()
            .find(|b| TEXT_COLUMNS.contains(&b.as_str()));
        if let Some(col) = text_column
            && responses.text.is_none()
        {
            return Err(Error::usage(format!(
                "breaking down by {col} needs comments, and the responses have none (or [text] \
                 enabled = false)"
            ))
            .about("by"));
        }
        if need.touchpoints && responses.loaded.schema.index_of(TOUCHPOINT_COLUMN).is_err() {
            return Err(Error::usage(format!(
                "{TOUCHPOINT_COLUMN} joins answers to the journey step they follow, and needs a \
                 journey source (entity = \"journey\") with a customer_id column in cxray.toml"
            ))
            .about("by"));
        }
        let engine = crate::engine::with_responses(self, &responses.loaded)?;
        let groups = histograms(engine, "computing metrics")?;
        Ok((groups, InputSummary::of_responses(&responses.loaded)))
    }

    /// The histograms of `query` over the lake's `parts` on the Ballista cluster at `url`, and
    /// those of the live answers in `loaded` (which the cluster cannot read) computed here and
    /// added.
    pub(crate) fn cluster_histograms(
        &self,
        url: &str,
        loaded: &Loaded,
        parts: &[std::path::PathBuf],
        query: &HistogramQuery,
    ) -> Result<Vec<cxray_engine::GroupHistogram>> {
        let mut groups = crate::engine::on_cluster(self, url, loaded, parts, query)?;
        if !loaded.batches.is_empty() {
            let live = crate::engine::with_responses(self, loaded)?;
            let more = crate::engine::run(
                self,
                "computing metrics of the store's answers",
                live.score_histograms(query),
            )?;
            groups = cxray_engine::merge_histograms(groups, more);
        }
        Ok(groups)
    }

    fn table_options(&self, req: &MetricsRequest, weighted: bool) -> TableOptions {
        TableOptions {
            estimate: EstimateOptions {
                confidence: req.confidence,
                interval: req.interval,
                weighted,
                rating_prior: None,
            },
            period: req.period,
            min_n: self.min_n(req.min_n),
        }
    }

    fn operational_metrics(
        &self,
        req: &MetricsRequest,
        by: &[String],
        opts: &TableOptions,
        asked: &Asked,
    ) -> Result<operational::Computed> {
        let r = operational::Request {
            by,
            opts: *opts,
            since: req.since,
            until: req.until,
        };
        operational::compute(self, &r, asked)
    }
}
