//! # cxray-engine
//!
//! The heavy part of every metric — scan, filter, group — runs in Apache DataFusion and returns
//! one small row per group: the **sufficient statistics** the statistics core needs. For survey
//! metrics that is the histogram of scores per (metric, segment…, period): `count(*)`, `Σw` and
//! `Σw²` grouped by score. The plans use only plain relational operators (filter, group by,
//! count, sum, `date_trunc`), so the same logical plan can run on Ballista or be unparsed to SQL
//! for a warehouse. On this machine the last group-by of the score histograms is folded on
//! integer codes of the keys instead (`fold`: 1B answers from a lake 1.4x faster than the
//! plan's aggregate); Ballista's executors run the plan's.
//!
//! Periods are calendar periods of the answer's local date in the project timezone (computed at
//! ingestion): day, ISO week (Monday start, labelled `2025-W09` by ISO week-year), month, quarter
//! and year.
//!
//! ```no_run
//! # async fn demo(loaded: cxray_ingest::Loaded) -> Result<(), Box<dyn std::error::Error>> {
//! use cxray_engine::{Engine, HistogramQuery, Period};
//! let engine = Engine::new(2);
//! engine.register_responses(loaded.schema.clone(), loaded.batches.clone())?;
//! let groups = engine
//!     .score_histograms(&HistogramQuery {
//!         metrics: vec!["nps".into()],
//!         by: vec!["region".into()],
//!         period: Some(Period::Month),
//!         ..Default::default()
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "cluster")]
mod cluster;
mod fold;
mod journey;
mod plan;
mod queue;
mod referrals;
mod tickets;

use std::collections::BTreeMap;
use std::sync::Arc;

#[cfg(feature = "cluster")]
pub use cluster::standalone_cluster;
pub use journey::{JourneySegmentation, MAX_DEFAULT_STEPS};
pub use plan::GroupQuery;

use chrono::{Datelike, NaiveDate};
pub use cxray_metrics::period::{GroupHistogram, GroupKey, Period};
use cxray_metrics::{ScoreCount, ScoreHistogram};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::common::Column;
use datafusion::error::DataFusionError;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{Expr, col, lit};
use datafusion::prelude::{SessionConfig, SessionContext};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// Engine errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unknown column '{name}'; available: {available}")]
    UnknownColumn { name: String, available: String },
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
    #[error("unexpected result from the query engine: {0}")]
    Shape(String),
}

/// Which histograms to compute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistogramQuery {
    /// Metrics to include (all when empty).
    pub metrics: Vec<String>,
    /// Segment columns to group by.
    pub by: Vec<String>,
    pub period: Option<Period>,
    /// First local date included.
    pub since: Option<NaiveDate>,
    /// Last local date included.
    pub until: Option<NaiveDate>,
}

/// The SQL dialects a plan can be written in (DataFusion's unparser).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqlDialect {
    /// ANSI-style SQL with double-quoted identifiers.
    #[default]
    Generic,
    DuckDb,
    Postgres,
    Snowflake,
}

impl SqlDialect {
    /// Every dialect with its name. (The unparser writes MySQL, SQLite and BigQuery too, but
    /// not their period functions: no `date_trunc` in MySQL, BigQuery's takes its arguments
    /// the other way round, SQLite's rewrite knows no weeks or quarters.)
    pub const ALL: [(&'static str, SqlDialect); 4] = [
        ("generic", SqlDialect::Generic),
        ("duckdb", SqlDialect::DuckDb),
        ("postgres", SqlDialect::Postgres),
        ("snowflake", SqlDialect::Snowflake),
    ];

    /// The dialect of a name in [`SqlDialect::ALL`].
    pub fn parse(name: &str) -> Option<SqlDialect> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, d)| *d)
    }
}

/// An embedded DataFusion session holding the canonical tables.
pub struct Engine {
    ctx: SessionContext,
    partitions: usize,
    /// Whether every registered answer has weight 1 (no weight column): the weight sums of a
    /// histogram are then its counts and are not computed.
    unit_weights: std::sync::atomic::AtomicBool,
    /// Whether plans run on this machine, where score histograms are folded on integer codes
    /// (`fold`) instead of by the plan's aggregate; not on a cluster.
    local: bool,
}

/// Prints how long a step inside a plan took when `CXRAY_TIMING` is set (for benchmarks; the
/// project layer times whole plans).
pub(crate) fn timing(step: &str, since: std::time::Instant) {
    if std::env::var_os("CXRAY_TIMING").is_some() {
        eprintln!("timing: {step} {:.3} s", since.elapsed().as_secs_f64());
    }
}

fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_CE_DAYS).expect("date in range")
}

fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

impl Engine {
    /// A session using `threads` partitions.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        // Skip the partial (per-partition) aggregation when its first 100,000 rows leave more
        // than 40% as many groups (default 80%): grouping journey events by session leaves
        // ~50%, and repartitioning raw rows is cheaper than aggregating them twice (50M
        // events: 8.9 s -> 6.5 s). Survey and ticket aggregations reduce far more and keep it.
        let mut config = SessionConfig::new()
            .with_target_partitions(threads)
            .with_information_schema(false);
        config
            .options_mut()
            .execution
            .skip_partial_aggregation_probe_ratio_threshold = 0.4;
        Engine {
            local: true,
            ..Engine::with_context(SessionContext::new_with_config(config), threads)
        }
    }

    /// An engine planning in `ctx` (e.g. a Ballista session), with `partitions` partitions
    /// for tables held in memory.
    pub fn with_context(ctx: SessionContext, partitions: usize) -> Self {
        Engine {
            ctx,
            partitions: partitions.max(1),
            unit_weights: std::sync::atomic::AtomicBool::new(false),
            local: false,
        }
    }

    /// The DataFusion session, for callers that add their own tables or plans.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers canonical responses as the table `responses`, spread over the partitions.
    pub fn register_responses(
        &self,
        schema: Arc<Schema>,
        batches: Vec<RecordBatch>,
    ) -> Result<(), EngineError> {
        let unit = batches.iter().all(|b| {
            b.column_by_name("weight")
                .and_then(|w| w.as_primitive_opt::<Float64Type>())
                .is_some_and(|w| w.null_count() == 0 && w.values().iter().all(|&x| x == 1.0))
        });
        self.unit_weights
            .store(unit, std::sync::atomic::Ordering::Relaxed);
        self.register_table("responses", schema, batches)
    }

    /// Registers answers stored as Parquet files (a lake's parts) as the table `responses`,
    /// scanned by each plan as it runs: only the columns and row groups the plan touches are
    /// read, a batch at a time, so the answers never sit in memory together. `batches` are
    /// answers in memory besides (e.g. those of cxray's store), scanned with the files.
    /// `schema` is that of the table and the batches; a file without one of its (nullable)
    /// columns reads it as nulls.
    pub fn register_responses_parquet(
        &self,
        schema: Arc<Schema>,
        files: &[std::path::PathBuf],
        batches: Vec<RecordBatch>,
    ) -> Result<(), EngineError> {
        // Weights are summed: telling that all are 1 would mean reading them.
        self.unit_weights
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.register_parquet("responses", schema, files, batches)
    }

    /// Registers a canonical table (`tickets`, `journey`, …) stored as Parquet files (a lake's
    /// parts) under `name`, with rows in memory besides: as
    /// [`Engine::register_responses_parquet`] does for answers.
    pub fn register_parquet(
        &self,
        name: &str,
        schema: Arc<Schema>,
        files: &[std::path::PathBuf],
        batches: Vec<RecordBatch>,
    ) -> Result<(), EngineError> {
        let stored = parquet_table(schema.clone(), files)?;
        let table: Arc<dyn datafusion::catalog::TableProvider> = match batches.is_empty() {
            true => stored,
            false => {
                use datafusion::logical_expr::LogicalPlanBuilder;
                let source = datafusion::catalog::default_table_source::provider_as_source;
                let live = Arc::new(MemTable::try_new(schema, vec![batches])?);
                let plan = LogicalPlanBuilder::scan("stored", source(stored), None)?
                    .union(LogicalPlanBuilder::scan("live", source(live), None)?.build()?)?
                    .build()?;
                Arc::new(datafusion::catalog::view::ViewTable::new(plan, None))
            }
        };
        self.ctx.deregister_table(name)?;
        self.ctx.register_table(name, table)?;
        Ok(())
    }

    /// Registers a canonical table (`tickets`, `lifecycle`, …) under `name`.
    pub fn register_table(
        &self,
        name: &str,
        schema: Arc<Schema>,
        batches: Vec<RecordBatch>,
    ) -> Result<(), EngineError> {
        self.register_grouped_table(name, schema, batches, &[])
    }

    /// [`Engine::register_table`] with the text columns the plans will group by (`--by`) stored
    /// as `Utf8View` once, instead of being cast by every aggregation that groups by them (the
    /// ticket metrics are three aggregations over the same keys). Other columns stay as they
    /// are: converting every text column of 50M journey events costs more than it saves.
    pub fn register_grouped_table(
        &self,
        name: &str,
        schema: Arc<Schema>,
        batches: Vec<RecordBatch>,
        keys: &[String],
    ) -> Result<(), EngineError> {
        let view = |f: &Field| f.data_type() == &DataType::Utf8 && keys.contains(f.name());
        let (schema, batches) = if schema.fields().iter().any(|f| view(f)) {
            let fields: Vec<Field> = schema
                .fields()
                .iter()
                .map(|f| {
                    let f = f.as_ref().clone();
                    if view(&f) {
                        f.with_data_type(DataType::Utf8View)
                    } else {
                        f
                    }
                })
                .collect();
            let viewed = Arc::new(Schema::new(fields));
            let convert = |b: &RecordBatch| {
                let cols = b
                    .columns()
                    .iter()
                    .zip(schema.fields())
                    .map(|(c, f)| {
                        if view(f) {
                            cast(c, &DataType::Utf8View)
                        } else {
                            Ok(c.clone())
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                RecordBatch::try_new(viewed.clone(), cols)
            };
            // On every core: the views are fresh memory, 16 bytes a row and column (10M tickets
            // by two columns: 0.30 s on one core, 0.16 s on two).
            let parts = cxray_kernels::parallel_chunks(&batches, self.partitions, |part| {
                part.iter().map(convert).collect::<Result<Vec<_>, _>>()
            })
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(DataFusionError::from)?;
            let batches = parts.concat();
            (viewed, batches)
        } else {
            (schema, batches)
        };
        let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); self.partitions];
        // Split large batches so every partition gets work.
        let mut k = 0;
        for b in batches {
            let step = 128 * 1024;
            let mut off = 0;
            while off < b.num_rows() {
                let len = step.min(b.num_rows() - off);
                parts[k % self.partitions].push(b.slice(off, len));
                k += 1;
                off += len;
            }
        }
        let table = MemTable::try_new(schema, parts)?;
        self.ctx.deregister_table(name)?;
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }

    /// Score histograms per (metric, period, segment).
    pub async fn score_histograms(
        &self,
        q: &HistogramQuery,
    ) -> Result<Vec<GroupHistogram>, EngineError> {
        let unit = self.unit_weights.load(std::sync::atomic::Ordering::Relaxed);
        let groups = match self.local {
            true => self.folded_histograms(q, !unit).await?,
            false => self.planned_histograms(q, !unit).await?,
        };
        Ok(groups
            .into_iter()
            .map(|(key, histogram)| GroupHistogram { key, histogram })
            .collect())
    }

    /// The histograms computed by the plan's aggregate (the cluster's way).
    async fn planned_histograms(
        &self,
        q: &HistogramQuery,
        weights: bool,
    ) -> Result<BTreeMap<GroupKey, ScoreHistogram>, EngineError> {
        let batches = self.histogram_plan(q, weights).await?.collect().await?;
        let mut groups: BTreeMap<GroupKey, ScoreHistogram> = BTreeMap::new();
        for b in &batches {
            read_histogram_batch(b, q, &mut groups)?;
        }
        Ok(groups)
    }

    /// The histograms of the plan's filtered rows, folded on integer codes here (`fold`).
    async fn folded_histograms(
        &self,
        q: &HistogramQuery,
        weights: bool,
    ) -> Result<BTreeMap<GroupKey, ScoreHistogram>, EngineError> {
        let mut columns = vec![col("metric")];
        for (i, b) in q.by.iter().enumerate() {
            columns.push(Expr::Column(Column::from_name(b.clone())).alias(format!("by_{}", i + 1)));
        }
        if q.period.is_some() {
            columns.push(col("local_date"));
        }
        columns.push(col("score"));
        if weights {
            columns.push(col("weight"));
        }
        let rows = self.histogram_rows(q).await?.select(columns)?;
        let streams = rows.execute_stream_partitioned().await?;
        let shape = fold::Shape {
            segments: q.by.len(),
            period: q.period,
            weights,
        };
        fold::histograms(streams, shape).await
    }

    /// The plan of [`Engine::score_histograms`] as one SQL query over the table `responses`
    /// in `dialect`, for a warehouse to run on the same data (a lake's Parquet files read as
    /// `responses`). Its columns: `metric`, `by_1 …`, `period` (when grouped by period),
    /// `score`, `n`, and the weight sums `sum_w`, `sum_w2`.
    pub async fn histogram_sql(
        &self,
        q: &HistogramQuery,
        dialect: SqlDialect,
    ) -> Result<String, EngineError> {
        use datafusion::sql::unparser::Unparser;
        use datafusion::sql::unparser::dialect as d;
        let plan = self.histogram_plan(q, true).await?.into_unoptimized_plan();
        let dialect: Box<dyn d::Dialect> = match dialect {
            SqlDialect::Generic => Box::new(d::DefaultDialect {}),
            SqlDialect::DuckDb => Box::new(d::DuckDBDialect::new()),
            SqlDialect::Postgres => Box::new(d::PostgreSqlDialect {}),
            SqlDialect::Snowflake => Box::new(d::SnowflakeDialect::new()),
        };
        let statement = Unparser::new(dialect.as_ref())
            .with_pretty(true)
            .plan_to_sql(&plan)?;
        Ok(format!("{statement:#}"))
    }

    /// The answers a histogram query counts: those of its metrics and dates.
    async fn histogram_rows(
        &self,
        q: &HistogramQuery,
    ) -> Result<datafusion::prelude::DataFrame, EngineError> {
        let df = self.ctx.table("responses").await?;
        let schema = df.schema().clone();
        for b in &q.by {
            if schema.field_with_unqualified_name(b).is_err() {
                let available: Vec<String> = schema
                    .fields()
                    .iter()
                    .skip(8)
                    .map(|f| f.name().clone())
                    .chain(["metric".to_string(), "customer_id".to_string()])
                    .collect();
                return Err(EngineError::UnknownColumn {
                    name: b.clone(),
                    available: available.join(", "),
                });
            }
        }
        let mut filter: Option<Expr> = None;
        let mut and = |e: Expr| {
            filter = Some(match filter.take() {
                Some(f) => f.and(e),
                None => e,
            })
        };
        if !q.metrics.is_empty() {
            and(col("metric").in_list(q.metrics.iter().map(|m| lit(m.as_str())).collect(), false));
        }
        if let Some(s) = q.since {
            and(
                col("local_date").gt_eq(lit(datafusion::scalar::ScalarValue::Date32(Some(
                    date_to_days(s),
                )))),
            );
        }
        if let Some(u) = q.until {
            and(
                col("local_date").lt_eq(lit(datafusion::scalar::ScalarValue::Date32(Some(
                    date_to_days(u),
                )))),
            );
        }
        Ok(match filter {
            Some(f) => df.filter(f)?,
            None => df,
        })
    }

    /// The aggregation behind [`Engine::score_histograms`], not yet run; `weights`: with the
    /// sums of weights and of their squares.
    async fn histogram_plan(
        &self,
        q: &HistogramQuery,
        weights: bool,
    ) -> Result<datafusion::prelude::DataFrame, EngineError> {
        let df = self.histogram_rows(q).await?;
        let mut group: Vec<Expr> = vec![col("metric")];
        for b in &q.by {
            group.push(
                Expr::Column(Column::from_name(b.clone())).alias(format!("by_{}", group.len())),
            );
        }
        if let Some(p) = q.period {
            group.push(plan::period_of(p, col("local_date")).alias("period"));
        }
        group.push(col("score"));
        let mut aggregates = vec![count(lit(1)).alias("n")];
        if weights {
            aggregates.push(sum(col("weight")).alias("sum_w"));
            aggregates.push(sum(col("weight") * col("weight")).alias("sum_w2"));
        }
        Ok(df.aggregate(group, aggregates)?)
    }
}

/// Parquet files as one table of `schema`, read as plans need them.
fn parquet_table(
    schema: Arc<Schema>,
    files: &[std::path::PathBuf],
) -> Result<Arc<dyn datafusion::catalog::TableProvider>, EngineError> {
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    if files.is_empty() {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    // Each file as itself: a path is not read as a glob (`Survey [Q1]/lake`).
    let urls = files
        .iter()
        .map(|f| {
            let url = std::path::absolute(f)
                .ok()
                .and_then(|p| url::Url::from_file_path(p).ok())
                .ok_or_else(|| EngineError::Shape(format!("not a file path: {}", f.display())))?;
            Ok(ListingTableUrl::try_new(url, None)?)
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Histograms of the same groups from two sources as one: the counts and weight sums of each
/// score added.
pub fn merge_histograms(a: Vec<GroupHistogram>, b: Vec<GroupHistogram>) -> Vec<GroupHistogram> {
    let mut groups: BTreeMap<GroupKey, ScoreHistogram> = BTreeMap::new();
    for g in a.into_iter().chain(b) {
        let h = groups.entry(g.key).or_default();
        for s in g.histogram.scores {
            h.add_weighted(s);
        }
    }
    groups
        .into_iter()
        .map(|(key, histogram)| GroupHistogram { key, histogram })
        .collect()
}

fn as_utf8(b: &RecordBatch, name: &str) -> Result<Vec<Option<String>>, EngineError> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| EngineError::Shape(format!("missing column {name}")))?;
    let s = cast(c, &DataType::Utf8).map_err(|e| EngineError::Shape(e.to_string()))?;
    let s = s.as_string::<i32>();
    Ok((0..s.len())
        .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
        .collect())
}

fn read_histogram_batch(
    b: &RecordBatch,
    q: &HistogramQuery,
    groups: &mut BTreeMap<GroupKey, ScoreHistogram>,
) -> Result<(), EngineError> {
    let shape = |e: datafusion::arrow::error::ArrowError| EngineError::Shape(e.to_string());
    let metric = as_utf8(b, "metric")?;
    let segs: Vec<Vec<Option<String>>> = (0..q.by.len())
        .map(|i| as_utf8(b, &format!("by_{}", i + 1)))
        .collect::<Result<_, _>>()?;
    let period = match q.period {
        Some(_) => {
            let c = b
                .column_by_name("period")
                .ok_or_else(|| EngineError::Shape("period".into()))?;
            let d = cast(c, &DataType::Date32).map_err(shape)?;
            Some(d.as_primitive::<Date32Type>().clone())
        }
        None => None,
    };
    let score = cast(b.column_by_name("score").unwrap(), &DataType::Float64).map_err(shape)?;
    let score = score.as_primitive::<Float64Type>();
    let n = cast(b.column_by_name("n").unwrap(), &DataType::Int64).map_err(shape)?;
    let n = n.as_primitive::<Int64Type>();
    // Weight sums (absent when every weight is 1: they equal the count).
    let sums = |name: &str| match b.column_by_name(name) {
        Some(c) => cast(c, &DataType::Float64).map_err(shape),
        None => cast(n, &DataType::Float64).map_err(shape),
    };
    let sw = sums("sum_w")?;
    let sw = sw.as_primitive::<Float64Type>();
    let sw2 = sums("sum_w2")?;
    let sw2 = sw2.as_primitive::<Float64Type>();
    for i in 0..b.num_rows() {
        let key = GroupKey {
            metric: metric[i].clone().unwrap_or_default(),
            period_start: period.as_ref().map(|p| days_to_date(p.value(i))),
            segment: segs.iter().map(|s| s[i].clone()).collect(),
        };
        groups.entry(key).or_default().add_weighted(ScoreCount {
            score: score.value(i),
            count: n.value(i) as u64,
            sum_w: sw.value(i),
            sum_w2: sw2.value(i),
        });
    }
    Ok(())
}
