//! `cxray serve`: the HTTP front end of cxray. It collects answers and journey events into the
//! store and answers with the analyses of the project layer; it holds no analysis of its own.
//!
//! ```text
//!  client ──HTTP──▶ observe (log, counters, security headers)
//!                     └▶ route table (routes.rs: router and OpenAPI from one list)
//!                          └▶ guard: API key and scope (auth.rs), rate limit
//!                               ├▶ POST responses/events: body → the rules of file ingestion
//!                               │    (collect.rs) → store writer → 201 after the commit
//!                               └▶ GET metrics/report: project layer on the blocking pool
//!                                    (read.rs), over the project's files and the store
//! ```
//!
//! - **Acknowledged means stored**: a write is answered after the store's commit (synced).
//! - **One validation**: a record is checked by exactly the code that checks a file row.
//! - **Errors in one place** (error.rs): each kind has one status and a JSON body that names
//!   the refused records, their fields and the reasons.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use cxray_server::{AppState, ServerConfig};
//! let state = AppState::open(ServerConfig::new("cxray.db")).expect("store opens");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! cxray_server::serve(listener, state, std::future::pending()).await
//! # }
//! ```

pub mod app;
mod auth;
mod collect;
mod error;
pub mod links;
pub mod mail;
mod pages;
pub mod qr;
mod read;
mod routes;
pub mod surveys;
pub mod team;
mod telemetry;
pub mod triggers;
pub mod webhooks;
pub mod widget;

/// The request parsers without a server, for the fuzz targets (`fuzz/`) and the property
/// tests: whatever the bytes, they answer (records, or a refusal with a 4xx status) and never
/// panic; what they accept, the store accepts.
#[doc(hidden)]
pub mod fuzzing {
    use axum::http::{HeaderMap, HeaderValue};

    use crate::collect;

    fn headers(content_type: &str, idempotency_key: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(content_type) {
            h.insert(axum::http::header::CONTENT_TYPE, v);
        }
        if let Some(k) = idempotency_key.and_then(|k| HeaderValue::from_str(k).ok()) {
            h.insert("idempotency-key", k);
        }
        h
    }

    fn rules() -> collect::Rules {
        collect::Rules {
            catalog: cxray_metrics::MetricCatalog::builtin(),
            timezone: "Europe/Amsterdam".into(),
        }
    }

    /// `POST /api/v1/responses` (`events`: `/api/v1/events`) up to the store: the records it
    /// would write, or the status of its refusal.
    pub fn check_body(
        events: bool,
        content_type: &str,
        idempotency_key: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<cxray_store::Record>, u16> {
        let h = headers(content_type, idempotency_key);
        let checked = if events {
            collect::events(&h, body, &rules())
        } else {
            collect::responses(&h, body, &rules())
        };
        checked.map(|(r, _)| r).map_err(|e| e.status().as_u16())
    }

    /// A survey link's token checked with a fixed secret.
    pub fn verify_link(token: &str) -> bool {
        crate::links::Signer::new([3; 32]).verify(token, 0).is_ok()
    }

    /// A widget's customer token checked with a fixed key.
    pub fn verify_customer_token(token: &str) -> bool {
        crate::widget::verify_customer_token(&[3; 32], token, 0).is_ok()
    }
}

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cxray_project::{OpenOptions, Project, ProjectConfig};
use cxray_store::{Store, StoreSource};

pub use auth::{KeyRing, Rate, RateLimiter};
pub use collect::{AnswerIn, EventIn, ResponseIn, Stored};
pub use error::{ApiError, RowError};
pub use routes::{RouteDoc, openapi, router, routes};
pub use telemetry::Telemetry;

/// How a server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store file (created if missing).
    pub db: PathBuf,
    /// The served project (its sources are analysed together with the store), and the path
    /// of its configuration for messages.
    pub project: Option<(ProjectConfig, PathBuf)>,
    pub limits: Limits,
    /// A JSON log line per request on stderr.
    pub log: bool,
    /// Where customers reach the server, for the links it makes (`http://127.0.0.1:8080`).
    pub public_url: Option<String>,
    /// The header a trusted reverse proxy puts the client's address in (see
    /// `[serve] client_address_header`).
    pub client_address_header: Option<String>,
    /// The mail server of invitation emails (`[serve.smtp]`).
    pub smtp: Option<cxray_project::SmtpSettings>,
    /// The sites whose pages may use the web widget (`[serve] widget_origins`; none: any).
    pub widget_origins: Option<Vec<String>>,
}

impl ServerConfig {
    /// A server of the store `db` alone, with the default limits.
    pub fn new(db: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            db: db.into(),
            project: None,
            limits: Limits::default(),
            log: false,
            public_url: None,
            client_address_header: None,
            smtp: None,
            widget_origins: None,
        }
    }
}

/// What the store's content is at: a hash that changes with what analyses read, and the
/// number of erasures (a cache never shows figures from before an erasure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreVersion {
    pub content: u64,
    pub erasures: i64,
}

/// Where a server listens when neither the flag nor `[serve] listen` says.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

impl ServerConfig {
    /// The server of a project: its `[serve]` settings, the store relative to the config file
    /// unless `db` is given. Without a project, the store `db` (default `cxray.db`) alone.
    pub fn for_project(
        project: Option<(ProjectConfig, PathBuf)>,
        db: Option<PathBuf>,
    ) -> Result<ServerConfig, String> {
        let settings = project
            .as_ref()
            .map(|(p, _)| p.serve.clone())
            .unwrap_or_default();
        let db = match (db, &project, &settings.db) {
            (Some(d), _, _) => d,
            (None, Some((p, _)), Some(d)) => p.base_dir.join(d),
            (None, Some((p, _)), None) => p.base_dir.join("cxray.db"),
            (None, None, _) => PathBuf::from("cxray.db"),
        };
        let mut limits = Limits::default();
        if let Some(n) = settings.max_body_bytes {
            if n < 1024 {
                return Err("[serve] max_body_bytes must be at least 1024".into());
            }
            limits.max_body = n;
        }
        for (name, v, rate, burst) in [
            (
                "api_requests_per_second",
                settings.api_requests_per_second,
                &mut limits.api,
                2.0,
            ),
            (
                "public_requests_per_second",
                settings.public_requests_per_second,
                &mut limits.public,
                3.0,
            ),
        ] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    return Err(format!("[serve] {name} must be a positive number, not {v}"));
                }
                *rate = Rate {
                    per_second: v,
                    burst: (v * burst).max(1.0),
                };
            }
        }
        let client_address_header = match &settings.client_address_header {
            Some(h) => Some(
                axum::http::HeaderName::from_bytes(h.trim().as_bytes())
                    .map_err(|_| {
                        format!("[serve] client_address_header {h:?} is not a header name")
                    })?
                    .to_string(),
            ),
            None => None,
        };
        let widget_origins = match &settings.widget_origins {
            Some(list) => Some(
                list.iter()
                    .map(|o| widget::origin(o).map_err(|e| format!("[serve] widget_origins: {e}")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            None => None,
        };
        Ok(ServerConfig {
            widget_origins,
            client_address_header,
            public_url: settings.public_url.clone(),
            smtp: settings.smtp.clone(),
            db,
            project,
            limits,
            log: true,
        })
    }
}

/// Sizes and rates a server accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Largest request body (bulk NDJSON included).
    pub max_body: usize,
    /// Requests per key on the API.
    pub api: Rate,
    /// Requests per client address on public routes.
    pub public: Rate,
    /// Longest time to answer a request (a slow client's body included).
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 << 20,
            api: Rate {
                per_second: 20_000.0,
                burst: 40_000.0,
            },
            public: Rate {
                per_second: 20.0,
                burst: 60.0,
            },
            timeout: Duration::from_secs(30),
        }
    }
}

/// Everything a request handler reaches.
pub struct Inner {
    pub store: Store,
    pub keys: KeyRing,
    pub telemetry: Telemetry,
    pub limits: Limits,
    rules: collect::Rules,
    api_limit: RateLimiter,
    public_limit: RateLimiter,
    project: Option<(ProjectConfig, PathBuf)>,
    /// The served project, opened for the store's state after a number of acknowledged writes.
    analysed: Mutex<Option<(u64, Arc<Project>)>>,
    /// A read connection kept open for health checks and the store's version (opening one
    /// costs more than the question).
    kept_reader: Mutex<Option<cxray_store::Reader>>,
    /// Read connections kept for the pages (SQLite connections are not shared between
    /// threads; each request takes one and gives it back).
    readers: Mutex<Vec<cxray_store::Reader>>,
    /// The surveys of `[[surveys]]` and those made through the admin API, checked.
    surveys: std::sync::RwLock<std::collections::BTreeMap<String, surveys::Survey>>,
    /// Ids of the surveys of the configuration (the API cannot replace them).
    configured: std::collections::BTreeSet<String>,
    /// The project's metrics, against which surveys are checked.
    catalog: cxray_metrics::MetricCatalog,
    /// Journey steps and pages that invite customers to surveys, and the contact rules: those
    /// of the configuration and those made through the admin API.
    triggers: std::sync::RwLock<Arc<triggers::Triggers>>,
    /// The triggers of `[[triggers]]` (the API cannot replace them).
    configured_triggers: Vec<cxray_project::TriggerConfig>,
    /// The triggers made through the admin API.
    api_triggers: Mutex<Vec<cxray_project::TriggerConfig>>,
    /// The contact rules of `[contact]`.
    contact: cxray_project::ContactRules,
    /// The one connection for the store's settings (keys, surveys, invitations, decisions,
    /// suppressions): kept open, used one caller at a time (decisions need exactly that).
    admin: Mutex<cxray_store::Keys>,
    /// Signs and checks survey links with the store's secret.
    pub signer: links::Signer,
    /// When the keys were last read from the store (Unix seconds).
    keys_read: std::sync::atomic::AtomicI64,
    /// Whether a refresher reads them every second (`serve`).
    keys_refreshed: std::sync::atomic::AtomicBool,
    /// The address in the links the server makes (`[serve] public_url`, else the address it
    /// listens on).
    pub public_url: std::sync::OnceLock<String>,
    /// Sends the outbox's invitation emails (`[serve.smtp]`); without it they wait.
    pub mailer: Option<Arc<mail::Mailer>>,
    /// The header with the client's address from a trusted proxy.
    client_address_header: Option<axum::http::HeaderName>,
    /// The key of the web widget's customer tokens (kept in the store).
    pub widget_key: [u8; 32],
    /// The origins the widget answers (none: any).
    pub widget_origins: Option<Vec<String>>,
    /// The overview pages computed, until the store's content changes.
    pub overview: app::OverviewCache,
    /// Login attempts per client address: 20 at once, then one every 3 s.
    login_limit: RateLimiter,
    /// Password hashes verified at once (each takes 19 MiB and tens of milliseconds).
    hashing: tokio::sync::Semaphore,
    /// Where notifications are posted (`[[webhooks]]`).
    pub webhooks: Vec<webhooks::Endpoint>,
    /// The server's own webhook secret (for endpoints without `secret_env`).
    webhook_secret: [u8; 32],
    /// Whether the project has `[[alerts]]` rules to evaluate as answers arrive.
    has_alerts: bool,
    /// The team's emails (`[team]`).
    team: team::Team,
    /// The last project whose answers were loaded, with the store's erasures then; browsed
    /// while a newer one loads them (never across an erasure).
    browsed: Mutex<Option<(Arc<Project>, i64)>>,
    /// A newer project's answers are being loaded in the background.
    warming: std::sync::atomic::AtomicBool,
    /// Exports of answers running (one at a time).
    exporting: tokio::sync::Semaphore,
    /// Explore's answers by question, with the store's content they were computed from.
    explored: Mutex<std::collections::HashMap<String, (u64, Arc<String>)>>,
    /// How long a new case waits before it is announced (µs; `[cases] announce_after_seconds`).
    announce_after: i64,
}

/// The shared state of a server.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Opens the store (creating and migrating it) and loads its keys.
    pub fn open(config: ServerConfig) -> Result<AppState, String> {
        let store = Store::open(&config.db).map_err(|e| e.to_string())?;
        let catalog = match &config.project {
            Some((p, _)) => cxray_metrics::MetricCatalog::builtin()
                .with_declarations(&p.metrics)
                .map_err(|e| e.to_string())?,
            None => cxray_metrics::MetricCatalog::builtin(),
        };
        let mut surveys = surveys::check(
            config
                .project
                .as_ref()
                .map_or(&[][..], |(p, _)| &p.surveys[..]),
            &catalog,
        )?;
        let configured = surveys.keys().cloned().collect();
        let mut admin = cxray_store::Keys::open(&config.db).map_err(|e| e.to_string())?;
        // The answers stored from now on open cases by the rules of `[cases]`.
        let settings = config.project.as_ref().map(|(p, _)| p);
        let rules = app::cases::case_rules(
            &settings.map(|p| p.cases.clone()).unwrap_or_default(),
            &catalog,
        )?;
        admin.set_case_rules(&rules).map_err(|e| e.to_string())?;
        admin
            .open_missing_cases(chrono::Utc::now().timestamp_micros())
            .map_err(|e| e.to_string())?;
        let secret = admin.secret("links").map_err(|e| e.to_string())?;
        let widget_key = admin.secret("widget").map_err(|e| e.to_string())?;
        let webhook_secret = admin.secret("webhooks").map_err(|e| e.to_string())?;
        let hooks = webhooks::endpoints(
            settings.map_or(&[][..], |p| &p.webhooks[..]),
            &webhook_secret,
        )?;
        let announce_after = settings
            .and_then(|p| p.cases.announce_after_seconds)
            .unwrap_or(60) as i64;
        let team = team::Team::new(&settings.map(|p| p.team.clone()).unwrap_or_default())?;
        let has_alerts = settings.is_some_and(|p| !p.alerts.is_empty());
        // Surveys made through the API; the configuration's win over one of the same id.
        for (id, json) in admin.surveys().map_err(|e| e.to_string())? {
            if surveys.contains_key(&id) {
                continue;
            }
            // One that no longer fits the project (a metric removed from cxray.toml) is left
            // out with a warning rather than keeping the server from starting.
            let checked = serde_json::from_str::<cxray_project::SurveyConfig>(&json)
                .map_err(|e| e.to_string())
                .and_then(|c| surveys::check(&[c], &catalog));
            match checked {
                Ok(mut s) => surveys.append(&mut s),
                Err(e) => eprintln!("cxray serve: survey {id:?} of the store is not served: {e}"),
            }
        }
        let survey_ids: Vec<String> = surveys.keys().cloned().collect();
        let (configured_triggers, contact) = match &config.project {
            Some((p, _)) => (p.triggers.clone(), p.contact.clone()),
            None => Default::default(),
        };
        let mut triggers = build_triggers(&configured_triggers, &[], &contact, &survey_ids)?;
        // Triggers made through the API; one that no longer fits (its survey removed) or that
        // the configuration now declares is left out with a warning.
        let mut api_triggers: Vec<cxray_project::TriggerConfig> = Vec::new();
        for json in admin.triggers().map_err(|e| e.to_string())? {
            let checked = serde_json::from_str::<cxray_project::TriggerConfig>(&json)
                .map_err(|e| e.to_string())
                .and_then(|t| {
                    if configured_triggers
                        .iter()
                        .any(|c| is_trigger(c, &t.on, &t.survey))
                    {
                        return Err("cxray.toml declares it".into());
                    }
                    let mut api = api_triggers.clone();
                    api.push(t);
                    build_triggers(&configured_triggers, &api, &contact, &survey_ids)
                        .map(|b| (api, b))
                });
            match checked {
                Ok((api, built)) => {
                    api_triggers = api;
                    triggers = built;
                }
                Err(e) => eprintln!("cxray serve: a trigger of the store is not used: {e}"),
            }
        }
        let timezone = config
            .project
            .as_ref()
            .map_or_else(|| "UTC".to_string(), |(p, _)| p.project.timezone.clone());
        let mailer = match &config.smtp {
            Some(s) => Some(Arc::new(mail::Mailer::new(s)?)),
            None => None,
        };
        let state = AppState(Arc::new(Inner {
            keys: KeyRing::default(),
            telemetry: Telemetry::new(config.log),
            limits: config.limits,
            rules: collect::Rules {
                catalog: catalog.clone(),
                timezone,
            },
            catalog,
            configured,
            triggers: std::sync::RwLock::new(Arc::new(triggers)),
            configured_triggers,
            api_triggers: Mutex::new(api_triggers),
            contact,
            admin: Mutex::new(admin),
            api_limit: RateLimiter::new(config.limits.api),
            public_limit: RateLimiter::new(config.limits.public),
            project: config.project,
            analysed: Mutex::new(None),
            kept_reader: Mutex::new(None),
            readers: Mutex::new(Vec::new()),
            surveys: std::sync::RwLock::new(surveys),
            signer: links::Signer::new(secret),
            keys_read: std::sync::atomic::AtomicI64::new(0),
            keys_refreshed: std::sync::atomic::AtomicBool::new(false),
            public_url: config
                .public_url
                .map(std::sync::OnceLock::from)
                .unwrap_or_default(),
            mailer,
            client_address_header: config
                .client_address_header
                .and_then(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).ok()),
            widget_key,
            widget_origins: config.widget_origins,
            overview: app::OverviewCache::default(),
            login_limit: RateLimiter::new(Rate {
                per_second: 1.0 / 3.0,
                burst: 20.0,
            }),
            hashing: tokio::sync::Semaphore::new(2),
            webhooks: hooks,
            webhook_secret,
            has_alerts,
            team,
            browsed: Mutex::new(None),
            warming: std::sync::atomic::AtomicBool::new(false),
            exporting: tokio::sync::Semaphore::new(1),
            explored: Mutex::default(),
            announce_after: announce_after * 1_000_000,
            store,
        }));
        state.reload_keys().map_err(|e| e.to_string())?;
        Ok(state)
    }

    /// A number that changes when what the analyses read changes: this server's writer
    /// committed (answers, revisions, events), or another process added rows or erased a
    /// customer. The team's own work (sessions, cases, notes) leaves it alone, so it does not
    /// throw away cached analyses.
    fn store_version(&self) -> Result<StoreVersion, cxray_store::StoreError> {
        let marks = self.with_kept_reader(|r| r.content_marks())?;
        let (commits, _) = self.store.stats();
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(commits, marks), &mut h);
        Ok(StoreVersion {
            content: std::hash::Hasher::finish(&h),
            erasures: marks[3],
        })
    }

    /// Runs `f` on the kept read connection, opened when needed and dropped after an error
    /// (the next call opens a fresh one).
    fn with_kept_reader<T>(
        &self,
        f: impl FnOnce(&cxray_store::Reader) -> Result<T, cxray_store::StoreError>,
    ) -> Result<T, cxray_store::StoreError> {
        let mut reader = self.kept_reader.lock().expect("kept reader lock");
        if reader.is_none() {
            *reader = Some(self.store.reader()?);
        }
        let out = f(reader.as_ref().expect("opened above"));
        if out.is_err() {
            *reader = None;
        }
        out
    }

    /// Whether the store can be read, and the writer's counters (requests acknowledged,
    /// commits).
    pub fn health(&self) -> Result<serde_json::Value, cxray_store::StoreError> {
        self.with_kept_reader(|r| r.check())?;
        let (commits, batches) = self.store.stats();
        Ok(serde_json::json!({
            "status": "ok",
            "store": {
                "schema_version": cxray_store::SCHEMA_VERSION,
                "requests_acknowledged": batches,
                "commits": commits,
            },
        }))
    }

    /// Explore's answer to `key` computed from the store's content `version`, if kept.
    fn explored(&self, key: &str, version: u64) -> Option<Arc<String>> {
        self.explored
            .lock()
            .expect("explore cache lock")
            .get(key)
            .filter(|(v, _)| *v == version)
            .map(|(_, h)| h.clone())
    }

    /// Keeps an answer of Explore (64 at most; answers of older content go first).
    fn keep_explored(&self, key: String, version: u64, html: Arc<String>) {
        let mut m = self.explored.lock().expect("explore cache lock");
        m.retain(|_, (v, _)| *v == version);
        if m.len() >= 64 {
            m.clear();
        }
        m.insert(key, (version, html));
    }

    /// The webhook secret of endpoints without `secret_env`, as `whsec_…`.
    pub fn webhook_secret_text(&self) -> String {
        webhooks::secret_text(&self.webhook_secret)
    }

    /// Runs `f` with a read connection of the pool (opened when none is free).
    pub fn with_reader<T>(
        &self,
        f: impl FnOnce(&cxray_store::Reader) -> Result<T, cxray_store::StoreError>,
    ) -> Result<T, cxray_store::StoreError> {
        let taken = self.readers.lock().expect("reader pool lock").pop();
        let reader = match taken {
            Some(r) => r,
            None => self.store.reader()?,
        };
        let out = f(&reader);
        if out.is_ok() {
            let mut pool = self.readers.lock().expect("reader pool lock");
            if pool.len() < 16 {
                pool.push(reader);
            }
        }
        out
    }

    /// Runs `f` on the store's settings connection (one caller at a time).
    pub fn with_admin<T>(
        &self,
        f: impl FnOnce(&mut cxray_store::Keys) -> Result<T, cxray_store::StoreError>,
    ) -> Result<T, ApiError> {
        f(&mut self.admin.lock().expect("admin connection lock"))
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// A personal link to `survey` for a customer and invitation (a new invitation id when
    /// none is given), valid for the survey's `link_days`: (URL path, expiry in Unix seconds).
    pub fn personal_link(
        &self,
        survey: &str,
        customer_id: Option<String>,
        invitation_id: Option<String>,
        language: Option<String>,
    ) -> Result<(String, i64), String> {
        let s = self.survey(survey).ok_or_else(|| {
            format!(
                "no survey {survey:?}; the surveys are: {}",
                self.survey_ids().join(", ")
            )
        })?;
        if let Some(l) = &language
            && !s.languages.contains(l)
        {
            return Err(format!(
                "survey {survey:?} is not offered in {l:?} (it is in {})",
                s.languages.join(", ")
            ));
        }
        for (name, v) in [
            ("customer_id", &customer_id),
            ("invitation_id", &invitation_id),
        ] {
            if let Some(v) = v
                && (v.trim().is_empty() || v.len() > 150 || v.contains('#'))
            {
                return Err(format!("{name} is 1 to 150 characters without '#'"));
            }
        }
        let invitation = invitation_id.unwrap_or_else(links::random_id);
        let expires =
            chrono::Utc::now().timestamp() + 86_400 * s.config.link_days.unwrap_or(30) as i64;
        // The invitation is recorded (the first time its id is seen): response rates and the
        // non-response analysis count the links that were not answered.
        self.with_admin(|k| {
            k.record_invitation(&cxray_store::Invitation {
                invitation_id: invitation.clone(),
                survey: survey.to_string(),
                customer_id: customer_id.clone(),
                language: language.clone(),
                sent_at: chrono::Utc::now().timestamp_micros(),
                expires_at: expires * 1_000_000,
                touchpoint: None,
            })
        })
        .map_err(|e| format!("recording the invitation: {e}"))?;
        let claims = links::Claims {
            s: survey.to_string(),
            r: format!("inv-{invitation}"),
            i: Some(invitation),
            c: customer_id,
            e: expires,
            l: language,
            a: Default::default(),
        };
        Ok((format!("/s/{}", self.signer.sign(&claims)), expires))
    }

    /// The client's address: the connection's, or behind a trusted proxy the last address of
    /// its header.
    pub fn client_address(
        &self,
        peer: Option<std::net::IpAddr>,
        headers: &axum::http::HeaderMap,
    ) -> std::net::IpAddr {
        let forwarded = self.client_address_header.as_ref().and_then(|h| {
            headers
                .get_all(h)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
                .next_back()
        });
        forwarded
            .or(peer)
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED.into())
    }

    /// Decides, for each stored event whose step a trigger watches, whether its customer is
    /// invited, and records each decision with its reason (and the invitation). An event
    /// decided before (a replay) is not decided again.
    pub fn decide_events(
        &self,
        events: &[cxray_store::NewEvent],
    ) -> Result<Vec<cxray_store::Decision>, ApiError> {
        let arriving: Vec<(&cxray_store::NewEvent, Option<i64>)> =
            events.iter().map(|e| (e, None)).collect();
        self.decide(&arriving, false)
    }

    /// Decides whether the widget on a page (the event's step) shows a survey to its customer:
    /// the page's widget triggers in order, up to the first that invites. A decision made
    /// before for the same event (the customer's earlier view that day) is returned as it was.
    pub fn decide_widget(
        &self,
        event: &cxray_store::NewEvent,
    ) -> Result<Vec<cxray_store::Decision>, ApiError> {
        self.decide(&[(event, None)], true)
    }

    /// Decides the events a trigger watches that have no decision yet (the server stopped
    /// between an event's commit and its decision): the decisions a restart owes. Events
    /// received more than a day ago are recorded as too late to invite.
    pub fn decide_pending(&self) -> Result<Vec<cxray_store::Decision>, ApiError> {
        let internal = |e: cxray_store::StoreError| ApiError::Internal(e.to_string());
        let mut pending = Vec::new();
        let triggers = self.triggers();
        for (step, survey) in triggers.watched() {
            pending.extend(
                self.with_reader(|r| r.undecided_events(step, survey))
                    .map_err(internal)?,
            );
        }
        pending.sort_by_key(|e| e.received_at);
        pending.dedup_by(|a, b| a.event.event_id == b.event.event_id);
        let late: Vec<(&cxray_store::NewEvent, Option<i64>)> = pending
            .iter()
            .map(|e| (&e.event, Some(e.received_at)))
            .collect();
        self.decide(&late, false)
    }

    /// Decides `events` for the triggers of their step, or with `widget` of their page.
    fn decide(
        &self,
        events: &[(&cxray_store::NewEvent, Option<i64>)],
        widget: bool,
    ) -> Result<Vec<cxray_store::Decision>, ApiError> {
        let internal = |e: cxray_store::StoreError| ApiError::Internal(e.to_string());
        let mut keys = self.admin.lock().expect("admin connection lock");
        let now = chrono::Utc::now().timestamp_micros();
        let link = |survey: &str,
                    customer: &str,
                    invitation: &str,
                    asked: Option<&str>,
                    channel: triggers::Channel| {
            let found = self.survey(survey);
            let days = found
                .as_ref()
                .and_then(|s| s.config.link_days)
                .unwrap_or(30) as i64;
            let language =
                found.map_or_else(|| "en".to_string(), |s| s.language(asked, None, None));
            let expires = now / 1_000_000 + days * 86_400;
            let claims = links::Claims {
                s: survey.to_string(),
                r: format!("inv-{invitation}"),
                i: Some(invitation.to_string()),
                c: Some(customer.to_string()),
                e: expires,
                l: Some(language.clone()),
                a: channel
                    .answers_channel()
                    .map(|c| ("channel".to_string(), c.to_string()))
                    .into_iter()
                    .collect(),
            };
            (
                format!("/s/{}", self.signer.sign(&claims)),
                expires * 1_000_000,
                language,
            )
        };
        let cx = triggers::Context {
            now_micros: now,
            timezone: self.rules.timezone.parse().unwrap_or(chrono_tz::UTC),
            link: &link,
        };
        let mut out = Vec::new();
        let triggers = self.triggers();
        let batch = keys.decision_batch().map_err(internal)?;
        // Invitations per (survey, since) of the daily budgets, counted once per batch and
        // kept up to date as the batch invites (counting them for every decision made 1M
        // events quadratic: 298 s).
        let mut budgets = std::collections::HashMap::new();
        for &(event, received_at) in events {
            let watches = if widget {
                triggers.for_page(&event.step)
            } else {
                triggers.for_step(&event.step)
            };
            for watch in watches {
                let id = format!("{}/{}", event.event_id, watch.survey);
                if widget && let Some(mut d) = batch.decision(&id).map_err(internal)? {
                    if d.customer_id != event.customer_id {
                        return Err(ApiError::Conflict(format!(
                            "the decision {id:?} is another customer's"
                        )));
                    }
                    // Suppressed since (unsubscribed today): not shown again.
                    if d.outcome == "invited"
                        && let Some(c) = &event.customer_id
                        && let Some(why) = batch.suppressed(c).map_err(internal)?
                    {
                        d.outcome = "suppressed".into();
                        d.reason = format!("suppressed: {why}");
                        d.link = None;
                    }
                    let invited = d.outcome == "invited";
                    out.push(d);
                    if invited {
                        break;
                    }
                    continue;
                }
                if batch.decided(&id).map_err(internal)? {
                    continue;
                }
                let (decision, invitation) = triggers::decide(
                    event,
                    received_at,
                    watch,
                    &triggers.rules,
                    &mut StoreHistory {
                        batch: &batch,
                        budgets: &mut budgets,
                    },
                    &cx,
                )
                .map_err(ApiError::Internal)?;
                batch
                    .record(&decision, invitation.as_ref())
                    .map_err(internal)?;
                if let Some(inv) = &invitation {
                    for ((survey, since), n) in budgets.iter_mut() {
                        if *survey == inv.survey && inv.sent_at >= *since {
                            *n += 1;
                        }
                    }
                }
                // An email invitation is queued with its decision: both or neither.
                if watch.channel == triggers::Channel::Email
                    && let (Some(inv), Some(path)) = (&invitation, &decision.link)
                    && let Some(survey) = self.survey(&watch.survey)
                {
                    let to = event.attributes.get("email").map_or("", |a| a.trim());
                    let email = mail::outbox_email(&survey, inv, to, &self.base_url(), path);
                    batch.queue_email(&email).map_err(internal)?;
                }
                let invited = decision.outcome == "invited";
                out.push(decision);
                if widget && invited {
                    break;
                }
            }
        }
        batch.commit().map_err(internal)?;
        Ok(out)
    }

    /// The address customers reach the server at, for absolute links.
    pub fn base_url(&self) -> String {
        self.public_url
            .get()
            .cloned()
            .unwrap_or_else(|| format!("http://{DEFAULT_LISTEN}"))
    }

    /// The survey of `id`, if there is one.
    pub fn survey(&self, id: &str) -> Option<surveys::Survey> {
        self.surveys.read().expect("surveys lock").get(id).cloned()
    }

    /// The ids of every survey.
    pub fn survey_ids(&self) -> Vec<String> {
        self.surveys
            .read()
            .expect("surveys lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Checks a survey made through the admin API, keeps it in the store and serves it at once
    /// (a survey of the configuration cannot be replaced this way).
    pub fn save_survey(&self, config: cxray_project::SurveyConfig) -> Result<(), ApiError> {
        if self.configured.contains(&config.id) {
            return Err(ApiError::Conflict(format!(
                "survey {:?} is declared in cxray.toml; change it there",
                config.id
            )));
        }
        let mut checked = surveys::check(std::slice::from_ref(&config), &self.catalog)
            .map_err(|e| ApiError::invalid(1, "", "", e))?;
        let json = serde_json::to_string(&config).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.with_admin(|k| k.save_survey(&config.id, &json))?;
        self.surveys
            .write()
            .expect("surveys lock")
            .append(&mut checked);
        Ok(())
    }

    /// The triggers in force (a snapshot: a trigger saved meanwhile applies to the next call).
    pub fn triggers(&self) -> Arc<triggers::Triggers> {
        self.triggers.read().expect("triggers lock").clone()
    }

    /// The triggers of the configuration and those made through the API.
    pub fn trigger_configs(
        &self,
    ) -> (
        Vec<cxray_project::TriggerConfig>,
        Vec<cxray_project::TriggerConfig>,
    ) {
        (
            self.configured_triggers.clone(),
            self.api_triggers.lock().expect("api triggers lock").clone(),
        )
    }

    /// Makes or replaces (same touchpoint and survey) a trigger, in force at once and kept in
    /// the store.
    pub fn save_trigger(&self, mut t: cxray_project::TriggerConfig) -> Result<(), ApiError> {
        t.on = t.on.trim().to_string();
        if t.on.is_empty() || t.on.len() > 100 {
            return Err(ApiError::invalid(
                1,
                "on",
                &t.on,
                "the touchpoint is 1 to 100 characters".into(),
            ));
        }
        self.not_configured(&t.on, &t.survey, "change")?;
        let mut api = self.api_triggers.lock().expect("api triggers lock");
        let mut next: Vec<_> = api
            .iter()
            .filter(|a| !is_trigger(a, &t.on, &t.survey))
            .cloned()
            .collect();
        next.push(t.clone());
        let built = self
            .rebuild_triggers(&next)
            .map_err(|e| ApiError::invalid(1, "", "", e))?;
        let json = serde_json::to_string(&t).map_err(|e| ApiError::Internal(e.to_string()))?;
        self.with_admin(|k| k.save_trigger(&t.on, &t.survey, &json))?;
        *api = next;
        *self.triggers.write().expect("triggers lock") = Arc::new(built);
        Ok(())
    }

    /// Removes a trigger made through the API; false when there is none. The configuration's
    /// cannot be removed.
    pub fn delete_trigger(&self, on: &str, survey: &str) -> Result<bool, ApiError> {
        self.not_configured(on, survey, "remove")?;
        let mut api = self.api_triggers.lock().expect("api triggers lock");
        let next: Vec<_> = api
            .iter()
            .filter(|a| !is_trigger(a, on, survey))
            .cloned()
            .collect();
        if next.len() == api.len() {
            return Ok(false);
        }
        let built = self.rebuild_triggers(&next).map_err(ApiError::Internal)?;
        self.with_admin(|k| k.delete_trigger(on.trim(), survey))?;
        *api = next;
        *self.triggers.write().expect("triggers lock") = Arc::new(built);
        Ok(true)
    }

    /// A conflict when `cxray.toml` declares the trigger of `on` and `survey`: the API cannot
    /// `change` it.
    fn not_configured(&self, on: &str, survey: &str, change: &str) -> Result<(), ApiError> {
        if self
            .configured_triggers
            .iter()
            .any(|c| is_trigger(c, on, survey))
        {
            return Err(ApiError::Conflict(format!(
                "the trigger of {:?} for survey {survey:?} is declared in cxray.toml; {change} \
                 it there",
                on.trim()
            )));
        }
        Ok(())
    }

    /// The configuration's triggers and `api`, checked against the surveys served now.
    fn rebuild_triggers(
        &self,
        api: &[cxray_project::TriggerConfig],
    ) -> Result<triggers::Triggers, String> {
        build_triggers(
            &self.configured_triggers,
            api,
            &self.contact,
            &self.survey_ids(),
        )
    }

    /// Reads the active keys from the store again.
    pub fn reload_keys(&self) -> Result<(), cxray_store::StoreError> {
        let keys = self.store.reader()?.active_keys()?;
        self.keys.replace(keys);
        self.keys_read.store(
            chrono::Utc::now().timestamp(),
            std::sync::atomic::Ordering::Relaxed,
        );
        Ok(())
    }

    /// Whether the keys were read from the store in the last 10 s: a revoked key must not
    /// go on working because the reload fails (the API answers 503 meanwhile).
    pub fn keys_fresh(&self) -> bool {
        if !self
            .keys_refreshed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            // No refresher (the app embedded without `serve`): the keys read at start hold.
            return true;
        }
        let read = self.keys_read.load(std::sync::atomic::Ordering::Relaxed);
        chrono::Utc::now().timestamp() - read <= 10
    }

    /// The project whose answers to browse, and whether it is from before the latest data:
    /// the current one when its answers are loaded; else, while they load in the background,
    /// the last one that had them (so that pages keep answering in milliseconds after new
    /// data); the current one, loaded here, when there is none yet.
    fn browsing_project(&self) -> Result<(Arc<Project>, bool), ApiError> {
        use std::sync::atomic::Ordering;
        let version = self
            .store_version()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let erasures = version.erasures;
        let current = self.project_at(version)?;
        if current.answers_loaded() {
            *self.browsed.lock().expect("browsed lock") = Some((current.clone(), erasures));
            return Ok((current, false));
        }
        let last = self.browsed.lock().expect("browsed lock").clone();
        match last {
            // Never from before an erasure: the erased customer's answers are in it.
            Some((old, at)) if !Arc::ptr_eq(&old, &current) && at == erasures => {
                if !self.warming.swap(true, Ordering::AcqRel) {
                    let state = self.clone();
                    let warm = current.clone();
                    let started =
                        std::thread::Builder::new()
                            .name("cxray-warm".into())
                            .spawn(move || {
                                // Reset however the load ends (a panic included).
                                struct Done(AppState);
                                impl Drop for Done {
                                    fn drop(&mut self) {
                                        self.0.warming.store(false, Ordering::Release);
                                    }
                                }
                                let done = Done(state);
                                let loaded = warm.answers(&cxray_project::AnswersQuery {
                                    limit: 1,
                                    ..Default::default()
                                });
                                if loaded.is_ok() {
                                    *done.0.browsed.lock().expect("browsed lock") =
                                        Some((warm, erasures));
                                }
                            });
                    if started.is_err() {
                        self.warming.store(false, Ordering::Release);
                    }
                }
                Ok((old, true))
            }
            _ => {
                // The previous answers are not to be shown: drop them before loading.
                *self.browsed.lock().expect("browsed lock") = None;
                Ok((current, false))
            }
        }
    }

    /// The served project as of the store's last acknowledged write: its files and the store.
    fn project(&self) -> Result<Arc<Project>, ApiError> {
        // A new answer, event or invitation, or an erasure by `cxray forget`, changes it.
        let version = self
            .store_version()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        self.project_at(version)
    }

    /// The served project for the store's content at `version` (read once by the caller).
    fn project_at(&self, version: StoreVersion) -> Result<Arc<Project>, ApiError> {
        let version = version.content;
        let mut cached = self.analysed.lock().expect("project cache lock");
        if let Some((v, p)) = cached.as_ref()
            && *v == version
        {
            return Ok(p.clone());
        }
        let (mut config, origin) = match &self.project {
            Some((c, o)) => (c.clone(), o.clone()),
            None => (ProjectConfig::default(), PathBuf::from("cxray serve")),
        };
        let collected = self
            .store
            .reader()
            .and_then(|r| r.counts())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if config.sources.is_empty() && collected.answers + collected.events == 0 {
            return Err(ApiError::NotFound(
                "nothing to analyse yet: the store is empty and the project has no sources".into(),
            ));
        }
        // The store is part of the served project, unless its configuration lists it already.
        let store = canonical(self.store.path());
        let listed = config
            .sources
            .iter()
            .any(|s| canonical(&config.base_dir.join(&s.path)) == store);
        if !listed {
            config.sources.push(cxray_ingest::SourceConfig {
                path: store,
                ..Default::default()
            });
        }
        let project = Arc::new(Project::with_config(
            config,
            &origin,
            false,
            OpenOptions {
                providers: vec![Arc::new(StoreSource)],
                ..Default::default()
            },
        )?);
        *cached = Some((version, project.clone()));
        Ok(project)
    }
}

/// Whether `t` is the trigger of touchpoint `on` and `survey` (one per pair: a trigger of the
/// same pair replaces it).
fn is_trigger(t: &cxray_project::TriggerConfig, on: &str, survey: &str) -> bool {
    t.on.trim() == on.trim() && t.survey == survey
}

/// The triggers of the configuration and of the API, checked against `surveys`.
fn build_triggers(
    configured: &[cxray_project::TriggerConfig],
    api: &[cxray_project::TriggerConfig],
    contact: &cxray_project::ContactRules,
    surveys: &[String],
) -> Result<triggers::Triggers, String> {
    let all: Vec<_> = configured.iter().chain(api).cloned().collect();
    triggers::Triggers::new(&all, contact.clone(), surveys)
}

/// The invitations of the store, for the contact rules.
struct StoreHistory<'a, 'b> {
    batch: &'a cxray_store::DecisionBatch<'b>,
    budgets: &'a mut std::collections::HashMap<(String, i64), u64>,
}

impl triggers::History for StoreHistory<'_, '_> {
    fn last(
        &mut self,
        customer: &str,
        survey: Option<&str>,
        touchpoint: Option<&str>,
    ) -> Result<Option<(String, i64)>, String> {
        self.batch
            .last_invitation(customer, survey, touchpoint)
            .map_err(|e| e.to_string())
    }

    fn suppressed(&mut self, customer: &str) -> Result<Option<String>, String> {
        self.batch.suppressed(customer).map_err(|e| e.to_string())
    }

    fn invited_since(&mut self, survey: &str, since: i64) -> Result<u64, String> {
        let key = (survey.to_string(), since);
        if let Some(n) = self.budgets.get(&key) {
            return Ok(*n);
        }
        let n = self
            .batch
            .invited_since(survey, since)
            .map_err(|e| e.to_string())?;
        self.budgets.insert(key, n);
        Ok(n)
    }
}

/// The path with links and `..` resolved when the file exists, else made absolute.
fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p)
        .or_else(|_| std::path::absolute(p))
        .unwrap_or_else(|_| p.to_path_buf())
}

/// The whole application: routes, the observing layer and the request timeout.
pub fn app(state: AppState) -> axum::Router {
    // The timeout inside the observing layer: a 408 is counted and carries the headers too.
    router(state.clone())
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            state.limits.timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
}

/// Runs a server on its own runtime until Ctrl-C or SIGTERM; `ready` is told the address
/// once it listens.
pub fn run(
    state: AppState,
    listen: &str,
    ready: impl FnOnce(SocketAddr, &AppState),
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cxray-serve")
        .build()
        .map_err(|e| format!("starting the server: {e}"))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        ready(addr, &state);
        serve(listener, state, shutdown_signal())
            .await
            .map_err(|e| format!("serving: {e}"))
    })
}

/// Ctrl-C, or SIGTERM on Unix (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Serves until `shutdown` completes, then finishes the requests under way; the store
/// commits what it acknowledged before this returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Events stored but not decided when the server last stopped are decided first.
    if !state.triggers().is_empty() {
        let s = state.clone();
        match tokio::task::spawn_blocking(move || s.decide_pending()).await {
            Ok(Ok(d)) if !d.is_empty() => {
                eprintln!("cxray serve: decided {} events left undecided", d.len())
            }
            Ok(Err(e)) => eprintln!("cxray serve: deciding the events left undecided failed: {e}"),
            _ => {}
        }
    }
    // Keys added or revoked with `cxray key` take effect within a second; on a thread of its
    // own, so that analyses filling the blocking pool cannot delay a revocation.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    state
        .keys_refreshed
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let refresher = {
        let (state, stop) = (state.clone(), stop.clone());
        std::thread::Builder::new()
            .name("cxray-keys".into())
            .spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_secs(1));
                    if let Err(e) = state.reload_keys() {
                        eprintln!("cxray serve: reading the API keys failed: {e}");
                    }
                }
            })?
    };
    if let Ok(addr) = listener.local_addr() {
        let _ = state.public_url.set(format!("http://{addr}"));
    }
    let mailer = match state.mailer.clone() {
        Some(m) => Some(mail::spawn(state.clone(), m, stop.clone())?),
        None => {
            if state.triggers().sends_email() {
                eprintln!(
                    "cxray serve: invitation emails wait in the outbox: no [serve.smtp] to send \
                     them through"
                );
            }
            None
        }
    };
    // The team's overview is computed before anyone asks (when the app has members).
    app::prewarm(&state);
    // Webhooks: new and overdue cases and fired alerts, delivered from the store's outbox.
    let mut workers = Vec::new();
    let emails = !state.team.email.is_empty();
    if !state.webhooks.is_empty() || emails {
        workers.push(webhooks::spawn(state.clone(), stop.clone())?);
        let alerts = state.has_alerts
            && (emails
                || state
                    .webhooks
                    .iter()
                    .any(|e| e.events.contains("alert.fired")));
        if alerts || (emails && state.team.digest.is_some()) {
            workers.push(webhooks::spawn_alerts(
                state.clone(),
                stop.clone(),
                Duration::from_secs(10),
            )?);
        }
        if emails && state.mailer.is_none() {
            eprintln!(
                "cxray serve: the team's emails wait in the outbox: no [serve.smtp] to send them \
                 through"
            );
        }
    }
    let result = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = refresher.join();
    if let Some(m) = mailer {
        let _ = m.join();
    }
    for w in workers {
        let _ = w.join();
    }
    result
}
