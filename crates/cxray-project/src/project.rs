//! A [`Project`]: the configuration, and each source read and validated once, on first use,
//! then shared (behind an `Arc`) by every analysis that needs it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::enrich::{TextOptions, TextSummary, enrich_comments};
use crate::touchpoints::{TOUCHPOINT_COLUMN, TouchpointSummary, join_touchpoints};
use cxray_ingest::{
    DuplicatePolicy, Entity, EntityTable, Layout, LoadOptions, Loaded, QuestionConfig, Reject,
    SourceConfig, SourceReport, Sources, load_responses,
};
use cxray_metrics::MetricCatalog;
use serde::Serialize;

use crate::config::ProjectConfig;
use crate::error::{Error, Result};
use crate::lifecycle::LifecycleEvents;
use crate::observe::{Observer, Silent, SourcesRead, phase};
use cxray_ingest::lake::Lake;

/// Where a project's data comes from: a `cxray.toml`, data files, or both (the files then
/// replace the configured sources and keep the rest of the configuration).
#[derive(Debug, Clone, Default)]
pub struct ProjectSource {
    pub config: Option<PathBuf>,
    /// Data files. Without a configuration they are read as whatever an analysis needs:
    /// answers for the survey metrics, tickets for the ticket metrics, and so on.
    pub files: Vec<PathBuf>,
    /// A lake written by `cxray ingest`, read instead of the sources (default: the
    /// configuration's `[lake] path`).
    pub lake: Option<PathBuf>,
}

impl ProjectSource {
    /// A project described by a `cxray.toml`.
    pub fn config(path: impl Into<PathBuf>) -> Self {
        ProjectSource {
            config: Some(path.into()),
            ..Default::default()
        }
    }

    /// Data files without a configuration.
    pub fn files(files: impl IntoIterator<Item = impl Into<PathBuf>>) -> Self {
        ProjectSource {
            files: files.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// The same source, read from the lake at `dir`.
    pub fn with_lake(mut self, dir: impl Into<PathBuf>) -> Self {
        self.lake = Some(dir.into());
        self
    }
}

/// Settings applied to every source of a project on top of its configuration (how the command
/// line reads a one-off export without writing a `cxray.toml`).
#[derive(Debug, Clone, Default)]
pub struct SourceOverrides {
    /// Canonical column → column of the file.
    pub columns: Vec<(String, String)>,
    /// Rated question columns of a wide export (setting one makes the sources wide).
    pub questions: Vec<QuestionConfig>,
    pub layout: Option<Layout>,
    /// Every row of a long file without a metric column is this metric.
    pub metric: Option<String>,
    /// A single character (`\t` for tab).
    pub delimiter: Option<String>,
    pub encoding: Option<String>,
    /// chrono strftime format of timestamps.
    pub timestamp_format: Option<String>,
    /// IANA timezone of periods and of timestamps without an offset.
    pub timezone: Option<String>,
    pub skip_rows: Option<usize>,
    pub duplicates: Option<DuplicatePolicy>,
    /// The column holding case weights.
    pub weight: Option<String>,
}

/// How a project reads its sources.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    pub overrides: SourceOverrides,
    /// Any rejected row is an error.
    pub strict: bool,
    /// The segment columns of the answers to keep (`None`: all). A one-off analysis that breaks
    /// down by one column need not hold the others in memory.
    pub response_attributes: Option<Vec<String>>,
    /// The local dates (first, last) of the answers an analysis needs; a lake then reads only
    /// the months that hold them. Only for one-off analyses that filter by these dates anyway.
    pub answer_dates: Option<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)>,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// A Ballista scheduler to run streamed metrics on (overrides `[engine] url`).
    pub engine_url: Option<String>,
    /// Readers of sources that are not files (cxray's store), registered by the front end.
    pub providers: Vec<Arc<dyn cxray_ingest::SourceProvider>>,
}

/// The answers of a project, with what enrichment added to them.
#[derive(Debug, Clone)]
pub struct Responses {
    pub loaded: Loaded,
    /// What the analysis of comments found (`None` when it did not run or there are no
    /// comments).
    pub text: Option<TextSummary>,
    /// What joining the answers to the journey steps they follow did (`None` when it did not
    /// run or there is no journey with customer ids).
    pub touchpoints: Option<TouchpointSummary>,
    /// Of `loaded`, the answers of the live sources (cxray's store) when the rest came from a
    /// lake: what a cluster, which reads only the lake, lacks of them.
    pub(crate) live: Option<Loaded>,
    text_done: bool,
    touchpoints_done: bool,
}

/// What an analysis needs added to the answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Enrich {
    /// Language, sentiment and themes of comments.
    pub text: bool,
    /// The journey step each answer follows.
    pub touchpoints: bool,
}

/// Rows read, accepted and rejected, and the report of every source behind an analysis.
#[derive(Debug, Clone, Serialize)]
pub struct InputSummary {
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub sources: Vec<SourceReport>,
}

impl InputSummary {
    /// Counts of loaded answers.
    pub fn of_responses(loaded: &Loaded) -> Self {
        InputSummary {
            rows_read: loaded.totals.read,
            rows_accepted: loaded.totals.accepted,
            rows_rejected: loaded.totals.rejected,
            sources: loaded.sources.clone(),
        }
    }

    /// Counts of a loaded entity table.
    pub fn of_entity(t: &EntityTable) -> Self {
        InputSummary {
            rows_read: t.totals.read,
            rows_accepted: t.totals.accepted,
            rows_rejected: t.totals.rejected,
            sources: t.sources.clone(),
        }
    }

    /// Both inputs together.
    pub fn and(mut self, o: InputSummary) -> Self {
        self.rows_read += o.rows_read;
        self.rows_accepted += o.rows_accepted;
        self.rows_rejected += o.rows_rejected;
        self.sources.extend(o.sources);
        self
    }

    /// The summary of several tables (`None` for none).
    pub fn of_all<'a>(tables: impl IntoIterator<Item = &'a EntityTable>) -> Option<Self> {
        tables
            .into_iter()
            .map(InputSummary::of_entity)
            .reduce(InputSummary::and)
    }
}

/// One slot per entity, filled on first use.
type Slot<T> = Mutex<Option<Arc<T>>>;

/// A project: its configuration and metric catalog, and its sources, each read and validated
/// once, when an analysis first needs it, then shared. Dropping the project frees them;
/// [`Project::reload`] forgets them so that the next analysis reads the files again.
///
/// A project is `Send + Sync`: a server can hold several and run analyses of one project on
/// several threads; a source needed by two analyses at once is read once, the second waits.
pub struct Project {
    config: ProjectConfig,
    /// The sources of the configuration, as reading needs them.
    sources: Sources,
    catalog: MetricCatalog,
    options: OpenOptions,
    /// Data files given without entities: read as whichever entity is asked for.
    files_given: bool,
    observer: Arc<dyn Observer>,
    responses: Slot<Responses>,
    entities: Vec<Slot<EntityTable>>,
    /// Grouped lifecycle events while an analysis uses them.
    lifecycle: Mutex<std::sync::Weak<LifecycleEvents>>,
    /// Rejects of every source read so far, in the order they were read.
    rejects: Mutex<Vec<Arc<[Reject]>>>,
    /// The lake read instead of the sources, when there is one.
    lake: Option<Lake>,
    /// Whether the sources the lake does not hold as they are have been noted.
    stale_noted: std::sync::atomic::AtomicBool,
    /// Whether the answers' rejects are recorded (answers streamed from a lake are read anew
    /// by each analysis; their rejects are recorded once).
    answer_rejects_recorded: std::sync::atomic::AtomicBool,
    /// The same for each entity (by [`slot_of`]): an entity scanned from a lake is read anew
    /// by each analysis.
    entity_rejects_recorded: Vec<std::sync::atomic::AtomicBool>,
}

/// An entity's rows as an analysis's plans read them.
pub(crate) enum EntitySource {
    /// Read and validated into memory (shared by the analyses).
    Memory(Arc<EntityTable>),
    /// Scanned from the lake's Parquet parts by each plan; the table holds the schema, the
    /// files' reports and rejects, and only the rows of the live sources (cxray's store).
    Parts {
        table: Arc<EntityTable>,
        parts: Vec<PathBuf>,
    },
}

impl EntitySource {
    /// The table: every row when in memory, else the schema, reports and live rows.
    pub(crate) fn table(&self) -> &Arc<EntityTable> {
        match self {
            EntitySource::Memory(t) | EntitySource::Parts { table: t, .. } => t,
        }
    }
}

/// The error of an analysis that needs rows of `entity` and has none.
fn no_data(entity: Entity) -> Error {
    Error::bad_input(format!(
        "no {0} data: add a source with entity = \"{0}\" to cxray.toml, or give {0} files \
         alone",
        entity.name()
    ))
}

/// Which slot of [`Project::entities`] holds an entity.
fn slot_of(e: Entity) -> usize {
    Entity::ALL
        .iter()
        .position(|x| *x == e)
        .expect("every entity is in Entity::ALL")
}

impl Project {
    /// Opens a project: reads and checks its configuration (no data is read yet); with a
    /// lake, its manifest.
    pub fn open(source: &ProjectSource, options: OpenOptions) -> Result<Project> {
        let (config, name, lake) = resolve(source, &options)?;
        let files_given = !source.files.is_empty();
        let project = Self::with_config(config, &name, files_given, options)?;
        match lake {
            Some(dir) => project.with_lake(&dir),
            None => Ok(project),
        }
    }

    /// Reads the lake at `dir` instead of the sources; its dates must be in the project's
    /// timezone, its answers validated against the project's metric scales. Sources the lake
    /// does not hold as they are now are noted to the observer.
    fn with_lake(mut self, dir: &std::path::Path) -> Result<Project> {
        let lake = Lake::open(dir)?;
        lake.manifest()
            .check_timezone(&self.config.project.timezone, dir)?;
        lake.manifest().check_metrics(&self.catalog, dir)?;
        self.lake = Some(lake);
        Ok(self)
    }

    /// Notes the sources that the lake does not hold as they are now (once, when the first
    /// source is read).
    fn note_stale(&self, lake: &Lake) {
        if self
            .stale_noted
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        for s in lake.stale(&self.sources) {
            self.observer
                .note(&format!("lake: {s}; run `cxray ingest` to add it"));
        }
    }

    /// The sources of `entity` (`None`: answers) that are not files (cxray's store): a lake
    /// does not hold them, they are read as they are at each analysis.
    fn live(&self, entity: Option<Entity>) -> Sources {
        let mut live = self.sources.clone();
        live.list.retain(|s| s.content.is_some() && s.holds(entity));
        live
    }

    /// The answers of the live sources, read now (`None` when there are none).
    fn live_responses(&self, opts: &LoadOptions) -> Result<Option<Loaded>> {
        let live = self.live(None);
        match live.list.is_empty() {
            true => Ok(None),
            false => Ok(Some(load_responses(&live, &self.catalog, opts)?)),
        }
    }

    /// `entity`'s rows of the live sources, read now (`None` when there are none).
    fn live_entity(
        &self,
        entity: Entity,
    ) -> std::result::Result<Option<EntityTable>, cxray_ingest::IngestError> {
        let live = self.live(Some(entity));
        match live.list.is_empty() {
            true => Ok(None),
            false => cxray_ingest::load_entity(&live, entity, self.threads()),
        }
    }

    /// Whether the project has rows of `entity` (`None`: answers): in its lake or its live
    /// sources when it reads a lake, else in its configured sources.
    fn holds(&self, entity: Option<Entity>) -> bool {
        match &self.lake {
            Some(lake) => {
                lake.has(entity.map_or(cxray_ingest::lake::RESPONSES, Entity::name))
                    || (self.sources.list.iter()).any(|s| s.content.is_some() && s.holds(entity))
            }
            None => self.config.sources.iter().any(|s| s.holds(entity)),
        }
    }

    /// The lake the project reads, if any.
    pub fn lake(&self) -> Option<&Lake> {
        self.lake.as_ref()
    }
}

/// The configuration of a source (with the command line's overrides), the name that messages
/// give it, and the lake folder to read, if any.
pub(crate) fn resolve(
    source: &ProjectSource,
    options: &OpenOptions,
) -> Result<(ProjectConfig, PathBuf, Option<PathBuf>)> {
    {
        let cwd = std::env::current_dir().map_err(Error::runtime)?;
        let mut config = match &source.config {
            Some(p) => ProjectConfig::load(p)?,
            None => ProjectConfig {
                base_dir: cwd.clone(),
                ..Default::default()
            },
        };
        if !source.files.is_empty() {
            config.sources = source
                .files
                .iter()
                .map(|f| SourceConfig {
                    path: cwd.join(f),
                    ..Default::default()
                })
                .collect();
        }
        let lake = match (&source.lake, &config.lake.path) {
            (Some(dir), _) => Some(cwd.join(dir)),
            // Files on the command line replace the configured sources, and so the lake.
            (None, Some(dir)) if source.files.is_empty() => Some(config.base_dir.join(dir)),
            (None, _) => None,
        };
        if lake.is_some() && !source.files.is_empty() {
            return Err(Error::usage(
                "give data files or a lake, not both (the lake holds what `cxray ingest` read)",
            ));
        }
        if config.sources.is_empty() && lake.is_none() {
            return Err(Error::bad_input(
                "no input: give data files or a project configuration (cxray.toml), or write \
                 an example project with `cxray demo`",
            ));
        }
        apply_overrides(&mut config, &options.overrides);
        let name = source
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("command line"));
        Ok((config, name, lake))
    }
}

impl Project {
    /// A project from a configuration built in memory (e.g. by a server); `origin` names it in
    /// messages. With `files_given`, sources without an entity are read as whichever entity is
    /// asked for.
    pub fn with_config(
        config: ProjectConfig,
        origin: &std::path::Path,
        files_given: bool,
        options: OpenOptions,
    ) -> Result<Project> {
        config.validate(origin)?;
        let catalog = MetricCatalog::builtin()
            .with_declarations(&config.metrics)
            .map_err(Error::bad_input)?;
        let mut sources = config.sources(origin);
        sources.expand(&options.providers)?;
        Ok(Project {
            sources,
            config,
            catalog,
            options,
            files_given,
            observer: Arc::new(Silent),
            responses: Mutex::new(None),
            entities: Entity::ALL.iter().map(|_| Mutex::new(None)).collect(),
            lifecycle: Mutex::new(std::sync::Weak::new()),
            rejects: Mutex::new(Vec::new()),
            lake: None,
            stale_noted: Default::default(),
            answer_rejects_recorded: Default::default(),
            entity_rejects_recorded: Entity::ALL.iter().map(|_| Default::default()).collect(),
        })
    }

    /// The same project, reporting its progress to `observer`.
    pub fn observed_by(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    pub fn config(&self) -> &ProjectConfig {
        &self.config
    }

    /// The providers that read sources other than files.
    pub(crate) fn providers(&self) -> &[Arc<dyn cxray_ingest::SourceProvider>] {
        &self.options.providers
    }

    /// The absolute path of a source's path.
    pub(crate) fn source_path(&self, p: &std::path::Path) -> std::path::PathBuf {
        self.sources.resolve(p)
    }

    pub fn catalog(&self) -> &MetricCatalog {
        &self.catalog
    }

    pub(crate) fn observer(&self) -> &dyn Observer {
        self.observer.as_ref()
    }

    /// Worker threads for the analyses.
    /// How the project's sources are read.
    /// The Ballista scheduler the project's streamed plans run on, if any.
    pub(crate) fn engine_url(&self) -> Option<&str> {
        (self.options.engine_url.as_deref()).or(self.config.engine.url.as_deref())
    }

    pub(crate) fn load_options(&self) -> LoadOptions {
        LoadOptions {
            strict: self.options.strict,
            attributes: self.options.response_attributes.clone(),
            threads: self.threads(),
        }
    }

    /// The sources of the configuration, as reading needs them.
    pub(crate) fn sources(&self) -> &Sources {
        &self.sources
    }

    pub(crate) fn threads(&self) -> usize {
        match self.options.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Whether the configuration declares sources of `entity`. (Data files given without a
    /// configuration declare none, but [`Project::entity`] reads them as whatever is asked.)
    pub fn has(&self, entity: Entity) -> bool {
        self.holds(Some(entity))
    }

    /// Whether the data files were given without a configuration (each is read as whichever
    /// entity an analysis asks for).
    pub fn files_given(&self) -> bool {
        self.files_given
    }

    /// Whether the project has sources of answers.
    pub fn has_responses(&self) -> bool {
        self.holds(None)
    }

    /// Forgets every source read, so that the next analysis reads the files again. Analyses
    /// running meanwhile finish on the tables they hold.
    pub fn reload(&self) {
        // Every lock at once, in the order analyses take them (lifecycle, responses, entities,
        // rejects), so that no source is read half before and half after.
        let mut lifecycle = lock(&self.lifecycle);
        let mut responses = lock(&self.responses);
        let mut entities: Vec<_> = self.entities.iter().map(lock).collect();
        let mut rejects = lock(&self.rejects);
        *lifecycle = std::sync::Weak::new();
        *responses = None;
        for e in &mut entities {
            **e = None;
        }
        rejects.clear();
        self.answer_rejects_recorded
            .store(false, std::sync::atomic::Ordering::Relaxed);
        for r in &self.entity_rejects_recorded {
            r.store(false, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Records the answers' rejects and reports their sources, once until the project is
    /// reloaded (answers streamed from a lake are read anew by each analysis).
    fn accept_answers(&self, loaded: &Loaded) {
        if !(self.answer_rejects_recorded).swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.record_rejects(&loaded.rejects);
            self.observer.sources_read(SourcesRead {
                noun: "answers",
                sources: &loaded.sources,
                rejects: &loaded.rejects,
            });
        }
    }

    /// Whether any source has been read (and its rejects recorded).
    pub fn has_read(&self) -> bool {
        !lock(&self.rejects).is_empty()
    }

    /// Every row rejected so far, of every source read, in the order the sources were read.
    pub fn rejects(&self) -> Vec<Reject> {
        lock(&self.rejects)
            .iter()
            .flat_map(|r| r.iter().cloned())
            .collect()
    }

    fn record_rejects(&self, rejects: &[Reject]) {
        lock(&self.rejects).push(rejects.into());
    }

    /// Whether the answers are loaded with their comments' analysis (what browsing them
    /// needs): a call that needs them now costs no reading. False while another thread loads
    /// them.
    pub fn answers_loaded(&self) -> bool {
        self.responses
            .try_lock()
            .is_ok_and(|slot| slot.as_ref().is_some_and(|r| r.text_done))
    }

    /// The answers, read and validated on first use.
    pub fn responses(&self) -> Result<Arc<Responses>> {
        self.responses_with(Enrich::default())
    }

    /// The answers with what `need` adds; each enrichment runs once.
    pub(crate) fn responses_with(&self, need: Enrich) -> Result<Arc<Responses>> {
        let mut slot = lock(&self.responses);
        let mut current = match slot.as_ref() {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(self.load_responses()?);
                *slot = Some(r.clone());
                r
            }
        };
        if need.text && !current.text_done {
            let mut r = (*current).clone();
            self.enrich_text(&mut r);
            current = Arc::new(r);
            *slot = Some(current.clone());
        }
        if need.touchpoints && !current.touchpoints_done {
            let mut r = (*current).clone();
            self.join_touchpoints(&mut r)?;
            current = Arc::new(r);
            *slot = Some(current.clone());
        }
        Ok(current)
    }

    /// The answers of local dates `from..=to` as the lake's Parquet parts for the engine to
    /// scan, when an aggregation can stream them: the project reads a lake and has not read
    /// the answers into memory already (then those are used; `None`). With the parts come the
    /// answers of the live sources (cxray's store), read now, as the returned `Loaded`'s
    /// batches, its schema that of both, and the counts, reports and rejects of both.
    pub(crate) fn streamed_responses(
        &self,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<(Loaded, Vec<PathBuf>)>> {
        if lock(&self.responses).is_some() {
            return Ok(None);
        }
        self.lake_responses(from, to)
    }

    /// The lake's answers of the months of `from..=to` as parts to scan, with the live answers
    /// of `responses` (as they were read with the rest, not read again): what a cluster and
    /// this process together aggregate to give the histograms of the answers in memory.
    /// `None` without a lake.
    pub(crate) fn parts_beside(
        &self,
        responses: &Responses,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<(Loaded, Vec<PathBuf>)>> {
        let Some(lake) = &self.lake else {
            return Ok(None);
        };
        let parts = lake.responses_parts(&self.load_options(), from, to)?;
        Ok(parts.map(|(stored, parts)| match &responses.live {
            Some(live) => (stored.merge(live.clone()), parts),
            None => (stored, parts),
        }))
    }

    /// The lake's answers of the months of `from..=to` as parts to scan, with the live
    /// sources' answers read now (`None` without a lake).
    fn lake_responses(
        &self,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<Option<(Loaded, Vec<PathBuf>)>> {
        let Some(lake) = &self.lake else {
            return Ok(None);
        };
        self.note_stale(lake);
        let opts = self.load_options();
        let live = self.live_responses(&opts)?;
        let (loaded, parts) = match (lake.responses_parts(&opts, from, to)?, live) {
            (Some((stored, parts)), Some(live)) => (stored.merge(live), parts),
            (Some((stored, parts)), None) => (stored, parts),
            (None, Some(live)) => (live, vec![]),
            (None, None) => {
                return Err(Error::bad_input(format!(
                    "{}: the lake holds no answers",
                    lake.dir().display()
                )));
            }
        };
        self.accept_answers(&loaded);
        Ok(Some((loaded, parts)))
    }

    fn load_responses(&self) -> Result<Responses> {
        let opts = self.load_options();
        let loaded = phase(
            self.observer(),
            "reading responses",
            || -> Result<(Loaded, Option<Loaded>)> {
                match &self.lake {
                    Some(lake) => {
                        self.note_stale(lake);
                        let live = self.live_responses(&opts)?;
                        let (from, to) = self.options.answer_dates.unwrap_or_default();
                        let loaded = match (lake.responses_between(&opts, from, to)?, &live) {
                            (Some(stored), Some(live)) => stored.merge(live.clone()),
                            (Some(one), None) => one,
                            (None, Some(live)) => live.clone(),
                            (None, None) => {
                                return Err(Error::bad_input(format!(
                                    "{}: the lake holds no answers",
                                    lake.dir().display()
                                )));
                            }
                        };
                        Ok((loaded, live))
                    }
                    None => Ok((load_responses(&self.sources, &self.catalog, &opts)?, None)),
                }
            },
        )?;
        let (loaded, live) = loaded;
        self.accept_answers(&loaded);
        Ok(Responses {
            loaded,
            live,
            text: None,
            touchpoints: None,
            text_done: false,
            touchpoints_done: false,
        })
    }

    /// Adds language, sentiment and theme columns for comments (unless `[text] enabled =
    /// false`).
    fn enrich_text(&self, r: &mut Responses) {
        r.text_done = true;
        if !self.config.text.enabled {
            return;
        }
        let themes = self
            .config
            .themes
            .iter()
            .map(|(name, keywords)| cxray_text::ThemeDef {
                name: name.clone(),
                keywords: keywords.clone(),
            })
            .collect();
        r.text = phase(self.observer(), "text enrichment", || {
            enrich_comments(
                &mut r.loaded,
                &TextOptions {
                    themes,
                    discover: self.config.text.discover,
                    threads: self.threads(),
                },
            )
        });
    }

    /// Joins every answer to the journey step it follows, when the project has a journey with
    /// customer ids.
    fn join_touchpoints(&self, r: &mut Responses) -> Result<()> {
        r.touchpoints_done = true;
        if !self.has(Entity::Journey) || r.loaded.schema.index_of(TOUCHPOINT_COLUMN).is_ok() {
            return Ok(());
        }
        let journey = self.entity(Entity::Journey)?;
        let j = &self.config.journey;
        r.touchpoints = phase(self.observer(), "touchpoints", || {
            join_touchpoints(
                &mut r.loaded,
                &journey,
                j.touchpoint_window_hours,
                &j.steps,
                self.threads(),
            )
        });
        if let Some(s) = &r.touchpoints {
            self.observer.note(&format!(
                "touchpoints: {} answers follow a journey step within {} h, {} have none, {} \
                 name no customer",
                thousands(s.matched),
                s.window_hours,
                thousands(s.without_step),
                thousands(s.without_customer)
            ));
        }
        Ok(())
    }

    /// The rows of one operational entity (tickets, lifecycle events, …), read and validated
    /// on first use. Lifecycle events are checked across rows too (a cancel before any start
    /// is rejected with its reason); tickets get business-hour durations when the project sets
    /// business hours.
    pub fn entity(&self, entity: Entity) -> Result<Arc<EntityTable>> {
        if entity == Entity::Lifecycle {
            if let Some(t) = lock(&self.entities[slot_of(entity)]).as_ref() {
                return Ok(t.clone());
            }
            return Ok(self.lifecycle_events()?.table.clone());
        }
        let mut slot = lock(&self.entities[slot_of(entity)]);
        if let Some(t) = slot.as_ref() {
            return Ok(t.clone());
        }
        let mut table = self.read_entity(entity)?;
        if entity == Entity::Tickets {
            let calendar = self
                .config
                .tickets
                .calendar()
                .map_err(|m| Error::bad_input(format!("[tickets] {m}")))?;
            if let Some(c) = &calendar {
                table
                    .add_business_durations(c, &self.config.project.timezone)
                    .map_err(Error::bad_input)?;
            }
        }
        let table = Arc::new(self.accept(table)?);
        *slot = Some(table.clone());
        Ok(table)
    }

    /// Lifecycle events grouped by customer with their spells. The checked table stays with
    /// the project; the grouped events (a few hundred MB for a million customers) are shared
    /// by the analyses that run at the same time (churn, retention and linkage in a report)
    /// and freed when the last of them ends, then grouped again from the table when needed.
    pub(crate) fn lifecycle_events(&self) -> Result<Arc<LifecycleEvents>> {
        let mut shared = lock(&self.lifecycle);
        if let Some(e) = shared.upgrade() {
            return Ok(e);
        }
        let mut slot = lock(&self.entities[slot_of(Entity::Lifecycle)]);
        let phase_name = "checks across rows of lifecycle";
        let events = match slot.as_ref() {
            Some(table) => {
                // Checked when read: grouping again rejects nothing.
                let mut again = (**table).clone();
                let checked = phase(self.observer(), phase_name, || {
                    LifecycleEvents::check(&self.config, &mut again, self.threads())
                });
                checked.with_table(table.clone())
            }
            None => {
                let mut table = self.read_entity(Entity::Lifecycle)?;
                let checked = phase(self.observer(), phase_name, || {
                    LifecycleEvents::check(&self.config, &mut table, self.threads())
                });
                let table = Arc::new(self.accept(table)?);
                *slot = Some(table.clone());
                checked.with_table(table)
            }
        };
        let events = Arc::new(events);
        *shared = Arc::downgrade(&events);
        Ok(events)
    }

    /// Reads and validates the sources of `entity`.
    pub(crate) fn read_entity(&self, entity: Entity) -> Result<EntityTable> {
        let mut as_entity;
        let sources = if self.files_given {
            as_entity = self.sources.clone();
            for s in &mut as_entity.list {
                s.entity = Some(entity.name().to_string());
            }
            &as_entity
        } else {
            &self.sources
        };
        let table = phase(
            self.observer(),
            &format!("reading {}", entity.name()),
            || match &self.lake {
                Some(lake) => {
                    self.note_stale(lake);
                    let stored = lake.entity(entity, self.threads())?;
                    let live = self.live_entity(entity)?;
                    Ok(match (stored, live) {
                        (Some(s), Some(l)) => Some(s.append(l)),
                        (s, l) => s.or(l),
                    })
                }
                None => cxray_ingest::load_entity(sources, entity, self.threads()),
            },
        )?;
        table.ok_or_else(|| no_data(entity))
    }

    /// `entity`'s rows as plans read them: scanned from the lake's parts of the months of the
    /// local dates `from..=to` (and the live sources' rows, read now) when the project reads a
    /// lake, the rows are not in memory already, and cxray adds nothing to them (business-hour
    /// durations of tickets, the checks across rows of lifecycle events); otherwise in
    /// memory, read on first use as [`Project::entity`] reads them. The plans still filter by
    /// date: the parts only spare reading other months.
    pub(crate) fn entity_source(
        &self,
        entity: Entity,
        from: Option<chrono::NaiveDate>,
        to: Option<chrono::NaiveDate>,
    ) -> Result<EntitySource> {
        let added = match entity {
            Entity::Lifecycle => true,
            Entity::Tickets => !matches!(self.config.tickets.calendar(), Ok(None)),
            _ => false,
        };
        let lake = match &self.lake {
            Some(lake) if !added && lock(&self.entities[slot_of(entity)]).is_none() => lake,
            _ => return Ok(EntitySource::Memory(self.entity(entity)?)),
        };
        self.note_stale(lake);
        let stored = lake.entity_parts(entity, from, to)?;
        let live = self.live_entity(entity)?;
        let (table, parts) = match (stored, live) {
            (Some((stored, parts)), Some(live)) => (stored.append(live), parts),
            (Some((stored, parts)), None) => (stored, parts),
            (None, Some(live)) => (live, vec![]),
            (None, None) => return Err(no_data(entity)),
        };
        let table = Arc::new(self.accept(table)?);
        Ok(EntitySource::Parts { table, parts })
    }

    /// Applies strict mode, records the rejects and reports the sources.
    pub(crate) fn accept(&self, table: EntityTable) -> Result<EntityTable> {
        if self.options.strict && !table.rejects.is_empty() {
            return Err(cxray_ingest::IngestError::Strict {
                rejected: table.totals.rejected,
                first: table.rejects[0].to_string(),
            }
            .into());
        }
        // Once per entity: one scanned from a lake is accepted by each analysis.
        let recorded = &self.entity_rejects_recorded[slot_of(table.entity)];
        if !recorded.swap(true, std::sync::atomic::Ordering::Relaxed) {
            self.record_rejects(&table.rejects);
            self.observer.sources_read(SourcesRead {
                noun: table.entity.noun(),
                sources: &table.sources,
                rejects: &table.rejects,
            });
        }
        Ok(table)
    }

    /// The metrics declared with `driver = true` (attribute ratings, not headline metrics).
    pub fn driver_metrics(&self) -> Vec<String> {
        self.config
            .metrics
            .iter()
            .filter(|(_, d)| d.driver)
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Whether answers carry case weights (a `weight` column mapped in a source).
    pub fn weighted(&self) -> bool {
        self.config
            .sources
            .iter()
            .any(|s| s.columns.contains_key("weight"))
    }

    /// The project's name, when it has one.
    pub fn name(&self) -> Option<&str> {
        self.config.project.name.as_deref()
    }

    /// The smallest group the project reports without a "too few answers" flag.
    pub(crate) fn min_n(&self, asked: Option<u64>) -> u64 {
        asked.unwrap_or(self.config.project.min_n)
    }
}

fn apply_overrides(cfg: &mut ProjectConfig, o: &SourceOverrides) {
    if let Some(tz) = &o.timezone {
        cfg.project.timezone = tz.clone();
    }
    for s in &mut cfg.sources {
        for (canon, col) in &o.columns {
            s.columns.insert(canon.trim().to_string(), col.clone());
        }
        if let Some(w) = &o.weight {
            s.columns.insert("weight".into(), w.clone());
        }
        for q in &o.questions {
            s.questions.push(q.clone());
            s.layout = Layout::Wide;
        }
        if let Some(l) = o.layout {
            s.layout = l;
        }
        if let Some(m) = &o.metric {
            s.metric = Some(m.trim().to_lowercase());
        }
        if let Some(d) = &o.delimiter {
            s.delimiter = Some(if d == "\\t" { "\t".into() } else { d.clone() });
        }
        if o.encoding.is_some() {
            s.encoding = o.encoding.clone();
        }
        if o.timestamp_format.is_some() {
            s.timestamp_format = o.timestamp_format.clone();
        }
        if let Some(n) = o.skip_rows {
            s.skip_rows_after_header = n;
        }
        if let Some(d) = o.duplicates {
            s.duplicates = d;
        }
    }
}

/// Locks a slot; a panic in another analysis does not poison the project for the next.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Thousands separators for counts in messages.
pub fn thousands(n: u64) -> String {
    cxray_report::print::thousands(n)
}
