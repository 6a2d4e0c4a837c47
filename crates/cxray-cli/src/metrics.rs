//! `cxray metrics`: an estimate with interval and n for every metric × segment × period.

use anyhow::anyhow;
use chrono::NaiveDate;
use cxray_engine::{Engine, HistogramQuery, Period};
use cxray_insights::{TableOptions, metric_rows};
use cxray_metrics::{EstimateOptions, IntervalChoice};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::{MetricsArgs, PeriodArg};
use crate::input;
use crate::output::{InputSummary, MetricsOutput, write_metrics};
use crate::progress::spinner;

pub(crate) fn parse_date(s: &str, flag: &str) -> Result<NaiveDate, Failure> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| Failure::input(anyhow!("{flag} expects a date as YYYY-MM-DD, got {s:?}")))
}

pub(crate) fn period(p: Option<PeriodArg>) -> Option<Period> {
    p.map(|p| match p {
        PeriodArg::Day => Period::Day,
        PeriodArg::Week => Period::Week,
        PeriodArg::Month => Period::Month,
        PeriodArg::Quarter => Period::Quarter,
        PeriodArg::Year => Period::Year,
    })
}

/// A runtime for the engine's async API.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::runtime)
}

pub fn run(a: MetricsArgs) -> Result<(), Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    let interval = IntervalChoice::parse(&a.interval).ok_or_else(|| {
        Failure::input(anyhow!(
            "unknown --interval {:?}; use default, wald, score, adjusted-wald, exact or jeffreys",
            a.interval
        ))
    })?;
    let since = a
        .since
        .as_deref()
        .map(|s| parse_date(s, "--since"))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_date(s, "--until"))
        .transpose()?;
    let metrics: Vec<String> = a
        .metric
        .iter()
        .map(|m| m.trim().to_lowercase())
        .filter(|m| !m.is_empty())
        .collect();
    let (metrics, operational) = crate::operational::split(metrics);
    if metrics.is_empty() && !operational.is_empty() {
        return run_operational(&a, &operational, confidence, interval, since, until);
    }
    let t0 = std::time::Instant::now();
    let by: Vec<String> =
        a.by.iter()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect();
    // `--by theme` groups by each theme of the comments (a comment with two themes counts in
    // both); the comment_* columns come from text enrichment, which only runs when asked for.
    let text_cols = cxray_ingest::enrich::TEXT_COLUMNS;
    let theme_at = by.iter().position(|b| b == "theme");
    let by: Vec<String> = by
        .into_iter()
        .map(|b| {
            if b == "theme" {
                text_cols[3].to_string()
            } else {
                b
            }
        })
        .collect();
    let wants_text = by.iter().any(|b| text_cols.contains(&b.as_str()));
    let mut project = input::load(&a.input, Some(by.clone()))?;
    if wants_text {
        project.enrich_text();
        if project.text.is_none() {
            return Err(Failure::input(anyhow::anyhow!(
                "--by {} needs comments, and the responses have none (or [text] enabled = false)",
                by.iter()
                    .find(|b| text_cols.contains(&b.as_str()))
                    .expect("one")
            )));
        }
    }
    let tp = cxray_ingest::touchpoints::TOUCHPOINT_COLUMN;
    if by.iter().any(|b| b == tp) && !project.join_touchpoints(&a.input)? {
        return Err(Failure::input(anyhow::anyhow!(
            "--by {tp} joins answers to the journey step they follow, and needs a journey source \
             (entity = \"journey\") with a customer_id column in cxray.toml"
        )));
    }
    crate::progress::timing("load", t0);
    for m in &metrics {
        project.catalog.get(m).map_err(Failure::input)?;
    }
    let weighted = project.weighted();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let engine = Engine::new(threads);
    engine
        .register_responses(
            project.loaded.schema.clone(),
            project.loaded.batches.clone(),
        )
        .map_err(Failure::runtime)?;
    let query = HistogramQuery {
        metrics: metrics.clone(),
        by,
        period: period(a.period),
        since,
        until,
    };
    let pb = spinner("computing metrics");
    let t1 = std::time::Instant::now();
    let groups = runtime()?.block_on(engine.score_histograms(&query));
    crate::progress::timing("engine", t1);
    pb.finish_and_clear();
    let groups = groups.map_err(|e| match e {
        cxray_engine::EngineError::UnknownColumn { .. } => Failure::input(e),
        other => Failure::runtime(other),
    })?;
    let (groups, by) = match theme_at {
        Some(i) => {
            let mut by = query.by.clone();
            by[i] = "theme".into();
            (cxray_insights::explode_themes(&groups, i), by)
        }
        None => (groups, query.by.clone()),
    };
    let mut query = query;
    query.by = by.clone();
    for m in &metrics {
        if !groups.iter().any(|g| &g.key.metric == m) {
            eprintln!("note: no {m} answers in the selected data");
        }
    }
    let opts = TableOptions {
        estimate: EstimateOptions {
            confidence,
            interval,
            weighted,
            rating_prior: None,
        },
        period: query.period,
        min_n: a.min_n.unwrap_or(project.config.project.min_n),
    };
    let order: Vec<String> = if metrics.is_empty() {
        ["nps", "csat", "ces", "stars", "task"]
            .map(String::from)
            .to_vec()
    } else {
        metrics.clone()
    };
    let mut rows = metric_rows(&groups, &by, &project.catalog, &opts, &order);
    let mut input = InputSummary::of_responses(&project.loaded);
    if !operational.is_empty() {
        let req = crate::operational::Request {
            input: &a.input,
            by: &by,
            opts,
            since,
            until,
        };
        let more = crate::operational::compute(&req, &operational)?;
        rows.extend(more.rows);
        if let Some(i) = more.input {
            input = input.and(i);
        }
        if let Some(path) = &a.input.rejects {
            let all: Vec<_> = project
                .loaded
                .rejects
                .iter()
                .chain(&more.rejects)
                .cloned()
                .collect();
            input::write_rejects_list(path, &all).map_err(Failure::runtime)?;
        }
    }
    let out = MetricsOutput::new(
        rows,
        input,
        &query,
        confidence,
        opts.min_n,
        &project.catalog,
    );
    write_metrics(&out, a.format, a.output.as_deref()).map_err(Failure::runtime)
}

/// Only operational metrics: no survey responses are read.
fn run_operational(
    a: &MetricsArgs,
    asked: &crate::operational::Asked,
    confidence: Confidence,
    interval: IntervalChoice,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
) -> Result<(), Failure> {
    let config = input::project_config(&a.input)?;
    let opts = TableOptions {
        estimate: EstimateOptions {
            confidence,
            interval,
            weighted: false,
            rating_prior: None,
        },
        period: period(a.period),
        min_n: a.min_n.unwrap_or(config.project.min_n),
    };
    let by: Vec<String> =
        a.by.iter()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect();
    let req = crate::operational::Request {
        input: &a.input,
        by: &by,
        opts,
        since,
        until,
    };
    let computed = crate::operational::compute(&req, asked)?;
    if let Some(path) = &a.input.rejects {
        input::write_rejects_list(path, &computed.rejects).map_err(Failure::runtime)?;
    }
    let query = HistogramQuery {
        metrics: asked.values().flatten().cloned().collect(),
        by,
        period: opts.period,
        since,
        until,
    };
    let out = MetricsOutput::new(
        computed.rows,
        computed.input.expect("at least one entity was read"),
        &query,
        confidence,
        opts.min_n,
        &cxray_metrics::MetricCatalog::builtin(),
    );
    write_metrics(&out, a.format, a.output.as_deref()).map_err(Failure::runtime)
}
