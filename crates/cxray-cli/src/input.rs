//! From command-line input flags to loaded, validated canonical tables.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use cxray_ingest::enrich::{TextOptions, TextSummary, enrich_comments};
use cxray_ingest::{
    DuplicatePolicy, Entity, EntityTable, Layout, LoadOptions, Loaded, ProjectConfig,
    QuestionConfig, SourceConfig, load_responses,
};
use cxray_metrics::MetricCatalog;

use crate::Failure;
use crate::args::{DuplicatesArg, InputArgs, LayoutArg};
use crate::progress::spinner;

/// A loaded project.
pub struct Project {
    pub config: ProjectConfig,
    pub catalog: MetricCatalog,
    pub loaded: Loaded,
    /// Text enrichment of comments, when it ran.
    pub text: Option<TextSummary>,
    /// What joining the answers to the journey steps they follow did, when it ran.
    pub touchpoints: Option<cxray_ingest::touchpoints::TouchpointSummary>,
}

impl Project {
    /// Whether answers carry a weight column (from `[sources.columns] weight` or `--weight`,
    /// which `project_config` puts into every source).
    pub fn weighted(&self) -> bool {
        self.config
            .sources
            .iter()
            .any(|s| s.columns.contains_key("weight"))
    }

    /// Joins every answer to the journey step it follows (column
    /// [`cxray_ingest::touchpoints::TOUCHPOINT_COLUMN`]) when the project has a journey source
    /// with customer ids (the journey read stays in [`load_entity`]'s cache for the journey
    /// metrics). Returns whether the answers have the column.
    pub fn join_touchpoints(&mut self, a: &InputArgs) -> Result<bool, Failure> {
        use cxray_ingest::touchpoints::{TOUCHPOINT_COLUMN, join_touchpoints};
        if self.touchpoints.is_some() || !has_source(&self.config, Entity::Journey) {
            return Ok(self.loaded.schema.index_of(TOUCHPOINT_COLUMN).is_ok());
        }
        let (config, table) = load_entity(a, Entity::Journey)?;
        let t0 = std::time::Instant::now();
        let j = &config.journey;
        self.touchpoints = join_touchpoints(
            &mut self.loaded,
            &table,
            j.touchpoint_window_hours,
            &j.steps,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        );
        crate::progress::timing("touchpoints", t0);
        if let Some(s) = &self.touchpoints {
            eprintln!(
                "touchpoints: {} answers follow a journey step within {} h, {} have none, {} name \
                 no customer",
                thousands(s.matched),
                s.window_hours,
                thousands(s.without_step),
                thousands(s.without_customer)
            );
        }
        Ok(self.touchpoints.is_some())
    }

    /// Adds language, sentiment and theme columns for comments (unless `[text] enabled =
    /// false`); a no-op when already done or when there are no comments.
    pub fn enrich_text(&mut self) {
        if !self.config.text.enabled || self.text.is_some() {
            return;
        }
        let pb = spinner("analysing comments");
        let t0 = std::time::Instant::now();
        let themes = self
            .config
            .themes
            .iter()
            .map(|(name, keywords)| cxray_text::ThemeDef {
                name: name.clone(),
                keywords: keywords.clone(),
            })
            .collect();
        self.text = enrich_comments(
            &mut self.loaded,
            &TextOptions {
                themes,
                discover: self.config.text.discover,
                threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            },
        );
        pb.finish_and_clear();
        if std::env::var_os("CXRAY_TIMING").is_some() {
            eprintln!(
                "timing: text enrichment {:.3} s",
                t0.elapsed().as_secs_f64()
            );
        }
    }
}

fn split_pair<'a>(s: &'a str, flag: &str) -> Result<(&'a str, &'a str), Failure> {
    s.rsplit_once('=')
        .filter(|(a, b)| !a.trim().is_empty() && !b.trim().is_empty())
        .ok_or_else(|| Failure::input(anyhow!("{flag} expects NAME=VALUE, got {s:?}")))
}

/// Builds the project configuration from --config and the input flags.
pub fn project_config(a: &InputArgs) -> Result<ProjectConfig, Failure> {
    let cwd = std::env::current_dir().map_err(Failure::runtime)?;
    let config_path = a.config.clone().or_else(|| {
        let p = PathBuf::from("cxray.toml");
        (a.files.is_empty() && p.exists()).then_some(p)
    });
    let mut cfg = match &config_path {
        Some(p) => ProjectConfig::load(p).map_err(Failure::input)?,
        None => ProjectConfig {
            base_dir: cwd.clone(),
            ..Default::default()
        },
    };
    if !a.files.is_empty() {
        cfg.sources = a
            .files
            .iter()
            .map(|f| SourceConfig {
                path: cwd.join(f),
                ..Default::default()
            })
            .collect();
    }
    if cfg.sources.is_empty() {
        return Err(Failure::input(anyhow!(
            "no input: pass data files (cxray metrics responses.csv), a project with --config cxray.toml, \
             or run `cxray demo` to create an example project"
        )));
    }
    if let Some(tz) = &a.timezone {
        cfg.project.timezone = tz.clone();
    }
    for s in &mut cfg.sources {
        for m in &a.map {
            let (canon, col) = split_pair(m, "--map")?;
            s.columns.insert(canon.trim().to_string(), col.to_string());
        }
        if let Some(w) = &a.weight {
            s.columns.insert("weight".into(), w.clone());
        }
        for q in &a.question {
            let (col, metric) = split_pair(q, "--question")?;
            s.questions.push(QuestionConfig {
                column: col.to_string(),
                metric: metric.trim().to_lowercase(),
                comment: None,
            });
            s.layout = Layout::Wide;
        }
        if let Some(l) = a.layout {
            s.layout = match l {
                LayoutArg::Long => Layout::Long,
                LayoutArg::Wide => Layout::Wide,
            };
        }
        if let Some(m) = &a.file_metric {
            s.metric = Some(m.trim().to_lowercase());
        }
        if a.delimiter.is_some() {
            s.delimiter = a
                .delimiter
                .clone()
                .map(|d| if d == "\\t" { "\t".into() } else { d });
        }
        if a.encoding.is_some() {
            s.encoding = a.encoding.clone();
        }
        if a.timestamp_format.is_some() {
            s.timestamp_format = a.timestamp_format.clone();
        }
        if let Some(n) = a.skip_rows {
            s.skip_rows_after_header = n;
        }
        if let Some(d) = a.duplicates {
            s.duplicates = match d {
                DuplicatesArg::KeepFirst => DuplicatePolicy::KeepFirst,
                DuplicatesArg::Fail => DuplicatePolicy::Fail,
            };
        }
    }
    let name = config_path.unwrap_or_else(|| PathBuf::from("command line"));
    cfg.validate(&name).map_err(Failure::input)?;
    Ok(cfg)
}

/// Loads all responses, reports what happened on standard error and writes the rejects file.
/// `attributes` limits the segment columns kept (None: all).
pub fn load(a: &InputArgs, attributes: Option<Vec<String>>) -> Result<Project, Failure> {
    let config = project_config(a)?;
    let catalog = MetricCatalog::builtin()
        .with_declarations(&config.metrics)
        .map_err(Failure::input)?;
    let pb = spinner("reading responses");
    let loaded = load_responses(
        &config,
        &catalog,
        &LoadOptions {
            strict: a.strict,
            attributes,
            ..Default::default()
        },
    );
    pb.finish_and_clear();
    let loaded = loaded.map_err(Failure::input)?;
    if let Some(path) = &a.rejects {
        write_rejects(path, &loaded).map_err(Failure::runtime)?;
    }
    report_input(
        &loaded.sources,
        &loaded.rejects,
        "answers",
        a.rejects.as_deref(),
    );
    Ok(Project {
        config,
        catalog,
        loaded,
        text: None,
        touchpoints: None,
    })
}

fn write_rejects(path: &Path, loaded: &Loaded) -> anyhow::Result<()> {
    write_rejects_list(path, &loaded.rejects)
}

pub fn write_rejects_list(path: &Path, rejects: &[cxray_ingest::Reject]) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)
        .with_context(|| format!("cannot write the rejects file {}", path.display()))?;
    cxray_ingest::write_rejects_csv(std::io::BufWriter::new(f), rejects)?;
    Ok(())
}

/// Whether the project has a source of `entity`.
pub fn has_source(cfg: &ProjectConfig, entity: Entity) -> bool {
    cfg.sources
        .iter()
        .any(|s| s.entity.as_deref().and_then(Entity::parse) == Some(entity))
}

/// Loads the sources of one operational entity (tickets, lifecycle, …). Data files given on
/// the command line are read as that entity.
///
/// Each entity is read once per run and shared (the report needs customers for referrals, the
/// journey, churn and non-response, and the journey for touchpoints and its metrics): a file is
/// read, validated and reported on standard error once.
pub fn load_entity(a: &InputArgs, entity: Entity) -> Result<(ProjectConfig, EntityTable), Failure> {
    type Cache = std::sync::Mutex<Vec<(String, (ProjectConfig, EntityTable))>>;
    static LOADED: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let key = format!("{entity:?} {a:?}");
    let cache = LOADED.get_or_init(Default::default);
    if let Some((_, hit)) = cache
        .lock()
        .expect("no panics while locked")
        .iter()
        .find(|(k, _)| *k == key)
    {
        return Ok(hit.clone());
    }
    let loaded = load_entity_checked(a, entity, |_, _| vec![])?;
    cache
        .lock()
        .expect("no panics while locked")
        .push((key, loaded.clone()));
    Ok(loaded)
}

/// Rows to reject after loading: (row, column, value, reason).
pub type LateRejects = Vec<(usize, String, String, String)>;

/// [`load_entity`] with a check across rows (run before anything is reported).
pub fn load_entity_checked(
    a: &InputArgs,
    entity: Entity,
    check: impl FnOnce(&ProjectConfig, &EntityTable) -> LateRejects,
) -> Result<(ProjectConfig, EntityTable), Failure> {
    let mut config = project_config(a)?;
    if !a.files.is_empty() {
        for s in &mut config.sources {
            s.entity = Some(entity.name().to_string());
        }
    }
    let pb = spinner(format!("reading {}", entity.name()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t0 = std::time::Instant::now();
    let table = cxray_ingest::load_entity(&config, entity, threads);
    crate::progress::timing(&format!("read and validate {}", entity.name()), t0);
    pb.finish_and_clear();
    let mut table = table.map_err(Failure::input)?.ok_or_else(|| {
        Failure::input(anyhow!(
            "no {0} data: add a source with entity = \"{0}\" to cxray.toml, or pass {0} files \
             alone on the command line",
            entity.name()
        ))
    })?;
    let t0 = std::time::Instant::now();
    let late = check(&config, &table);
    table.reject_rows(&late);
    crate::progress::timing(&format!("checks across rows of {}", entity.name()), t0);
    if a.strict && !table.rejects.is_empty() {
        return Err(Failure::input(anyhow!(
            "{} row(s) rejected and --strict is set; first: {}",
            table.totals.rejected,
            table.rejects[0]
        )));
    }
    if let Some(path) = &a.rejects {
        write_rejects_list(path, &table.rejects).map_err(Failure::runtime)?;
    }
    report_input(
        &table.sources,
        &table.rejects,
        entity.noun(),
        a.rejects.as_deref(),
    );
    Ok((config, table))
}

/// Thousands separators for counts in messages.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn report_input(
    sources: &[cxray_ingest::SourceReport],
    rejects: &[cxray_ingest::Reject],
    noun: &str,
    rejects_file: Option<&Path>,
) {
    for s in sources {
        for n in &s.notes {
            eprintln!("note: {}: {n}", s.file);
        }
        let c = &s.counts;
        let mut line = format!(
            "{}: read {} {noun}: {} accepted, {} rejected",
            s.file,
            thousands(c.read),
            thousands(c.accepted),
            thousands(c.rejected)
        );
        if s.duplicates > 0 {
            line.push_str(&format!(
                " (of which {} duplicate ids)",
                thousands(s.duplicates)
            ));
        }
        if c.blank > 0 || c.empty_records > 0 {
            line.push_str(&format!(
                "; {} respondents, {} questions left blank, {} respondents answered none",
                thousands(c.records),
                thousands(c.blank),
                thousands(c.empty_records)
            ));
        }
        eprintln!("{line}");
    }
    if !rejects.is_empty() {
        match rejects_file {
            Some(p) => eprintln!("rejected rows written to {}", p.display()),
            None => {
                for r in rejects.iter().take(5) {
                    eprintln!("  rejected {r}");
                }
                if rejects.len() > 5 {
                    eprintln!(
                        "  … and {} more; write them all with --rejects FILE",
                        thousands(rejects.len() as u64 - 5)
                    );
                }
            }
        }
    }
}

/// The canonical columns of one batch of loaded answers, typed.
pub struct AnswerColumns<'a> {
    pub response_id: &'a arrow::array::StringArray,
    pub customer_id: &'a arrow::array::StringArray,
    /// Microseconds since the epoch, UTC.
    pub submitted_at: &'a arrow::array::TimestampMicrosecondArray,
    pub local_date: &'a arrow::array::Date32Array,
    pub score: &'a arrow::array::Float64Array,
    /// The metric name as plain text.
    pub metric: arrow::array::StringArray,
}

impl<'a> AnswerColumns<'a> {
    pub fn of(b: &'a arrow::record_batch::RecordBatch) -> Self {
        use arrow::array::AsArray;
        let metric = arrow::compute::cast(
            b.column_by_name("metric").expect("metric"),
            &arrow::datatypes::DataType::Utf8,
        )
        .expect("metric as text");
        Self::with_metric(b, metric.as_string::<i32>().clone())
    }

    /// The columns without the metric as text (left empty), for callers that read the
    /// dictionary-encoded metric column themselves.
    pub fn of_ids(b: &'a arrow::record_batch::RecordBatch) -> Self {
        Self::with_metric(b, arrow::array::StringArray::new_null(0))
    }

    fn with_metric(
        b: &'a arrow::record_batch::RecordBatch,
        metric: arrow::array::StringArray,
    ) -> Self {
        use arrow::array::AsArray;
        let col = |n: &str| b.column_by_name(n).expect("a canonical column");
        AnswerColumns {
            response_id: col("response_id").as_string::<i32>(),
            customer_id: col("customer_id").as_string::<i32>(),
            submitted_at: col("submitted_at")
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>(),
            local_date: col("local_date").as_primitive::<arrow::datatypes::Date32Type>(),
            score: col("score").as_primitive::<arrow::datatypes::Float64Type>(),
            metric,
        }
    }

    /// The local day of row `r`.
    pub fn day(&self, r: usize) -> chrono::NaiveDate {
        chrono::NaiveDate::from_num_days_from_ce_opt(self.local_date.value(r) + 719_163)
            .expect("a date in range")
    }
}

/// The metrics declared with `driver = true` (attribute ratings, not headline metrics).
pub fn driver_metrics(cfg: &ProjectConfig) -> Vec<String> {
    cfg.metrics
        .iter()
        .filter(|(_, d)| d.driver)
        .map(|(n, _)| n.clone())
        .collect()
}
