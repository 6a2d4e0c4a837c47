//! `cxray.toml`: a project's sources, column mappings, scales and settings. How each source is
//! read is `cxray_ingest::SourceConfig`; everything else is here.
//!
//! ```toml
//! [project]
//! timezone = "Europe/Amsterdam"        # periods and naive timestamps; default UTC
//!
//! [[sources]]
//! path = "responses.csv"               # relative to this file
//! layout = "wide"                      # long (default) | wide
//! delimiter = ";"                      # default: detected
//! timestamp_format = "%d/%m/%Y %H:%M"  # default: ISO 8601 (with or without offset)
//! skip_rows_after_header = 2           # e.g. Qualtrics' question-text and ImportId rows
//! duplicates = "keep-first"            # keep-first (default) | fail
//! [sources.columns]                    # canonical name = column in the file
//! response_id = "ResponseId"
//! submitted_at = "RecordedDate"
//! [[sources.questions]]                # wide layout: one column per rated question
//! column = "How likely are you to recommend us to a friend or colleague?"
//! metric = "nps"
//! comment = "Why did you give this score?"
//!
//! [themes]                            # your own themes, added to the built-in taxonomy
//! "delivery delays" = ["late", "delay", "laat", "verspätet", "retard"]  # single words
//!
//! [text]
//! enabled = true                       # language, sentiment and theme columns for comments
//! discover = 6                         # themes found automatically beyond the taxonomy
//!
//! [churn]
//! definition = "inactivity"            # auto (default) | subscription | inactivity
//! window_days = 365                    # inactivity window
//!
//! [tickets]
//! reopen_window_days = 7               # a reopen within this undoes first contact resolution
//! business_hours = "Mon-Fri 09:00-17:00"   # FRT/TTR in business time (default: calendar time)
//! holidays = ["2025-12-25"]
//!
//! [queue]
//! short_abandon_seconds = 5            # abandons after a shorter wait are not counted
//! service_level_seconds = 20           # "answered within" threshold of the service level
//!
//! [journey]
//! steps = ["visit", "cart", "checkout", "purchase"]   # funnel order (default: most frequent first)
//! cart_window_hours = 24               # a purchase this soon after the cart rescues it
//! touchpoint_window_hours = 48         # an answer follows a step this recent (journey_touchpoint)
//!
//! [metrics.ces]                        # adjust a built-in metric or declare a custom one
//! scale = [1, 5]
//! good_from = 4
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cxray_ingest::{SourceConfig, Sources};
use cxray_metrics::MetricDeclaration;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The whole `cxray.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    #[serde(default)]
    pub project: ProjectSettings,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricDeclaration>,
    /// The project's own themes: name → keywords (any language; inflections are matched by
    /// stem). A built-in theme of the same name gets the keywords added.
    #[serde(default)]
    pub themes: BTreeMap<String, Vec<String>>,
    /// Text analysis of comments.
    #[serde(default)]
    pub text: TextSettings,
    /// How churn is defined from lifecycle events.
    #[serde(default)]
    pub churn: ChurnSettings,
    /// Ticket metric definitions.
    #[serde(default)]
    pub tickets: TicketConfig,
    /// Contact-centre queue thresholds.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Funnel steps and the cart window.
    #[serde(default)]
    pub journey: JourneyConfig,
    /// Alert rules evaluated by `cxray alerts`.
    #[serde(default)]
    pub alerts: Vec<AlertRule>,
    /// Population margins for non-response weighting: column → level → share or count (e.g.
    /// from a census or the CRM), used instead of the customers table for those columns.
    #[serde(default)]
    pub margins: BTreeMap<String, BTreeMap<String, f64>>,
    /// `[serve]`: where `cxray serve` listens and stores, and what it accepts.
    #[serde(default)]
    pub serve: ServeSettings,
    /// `[[surveys]]`: the surveys `cxray serve` shows at `/s/…`.
    #[serde(default)]
    pub surveys: Vec<SurveyConfig>,
    /// `[[triggers]]`: journey events that invite the customer to a survey.
    #[serde(default)]
    pub triggers: Vec<TriggerConfig>,
    /// `[contact]`: how often a customer may be invited.
    #[serde(default)]
    pub contact: ContactRules,
    /// `[cases]`: which answers open a case in the team's closed loop, and how soon it is due.
    #[serde(default)]
    pub cases: CaseSettings,
    /// `[[webhooks]]`: where `cxray serve` posts signed notifications (cases, alerts).
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// `[team]`: the CX team's own emails (alerts, overdue cases, a digest).
    #[serde(default)]
    pub team: TeamSettings,
    /// `[lake]`: where `cxray ingest` writes the validated sources, which analyses then read.
    #[serde(default)]
    pub lake: LakeSettings,
    /// `[engine]`: where the plans run.
    #[serde(default)]
    pub engine: EngineSettings,
    /// Folder of the config file; source paths are relative to it. Not read from the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[lake]`: the project's sources validated once into Parquet (`cxray ingest`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LakeSettings {
    /// The lake folder, relative to the config file. When set, `cxray ingest` writes there and
    /// every analysis reads the lake instead of the source files.
    pub path: Option<PathBuf>,
}

/// `[engine]`: where the plans run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineSettings {
    /// A Ballista scheduler (`df://host:port`): survey metrics streamed from the lake run on
    /// its cluster, whose executors must reach the lake's files at the same paths. Unset: the
    /// embedded engine.
    pub url: Option<String>,
}

/// `[[alerts]]`: a rule that fires on the latest complete period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// What the alert is called in the output (default: made from the rule).
    pub name: Option<String>,
    pub metric: String,
    /// Evaluate every segment of this column (default: the metric overall).
    pub by: Option<String>,
    /// Only this segment of `by`.
    pub segment: Option<String>,
    /// Fires when the estimate is below this value.
    pub below: Option<f64>,
    /// Fires when the estimate is above this value.
    pub above: Option<f64>,
    /// Fires when the whole confidence interval is below this value.
    pub significantly_below: Option<f64>,
    /// Fires when the metric fell significantly from the previous period (segments of a rule
    /// adjusted by Benjamini-Hochberg) by at least `min_drop` on the reporting scale.
    #[serde(default)]
    pub significant_drop: bool,
    #[serde(default)]
    pub min_drop: f64,
    /// Groups with fewer answers are not evaluated (default: the project's min_n).
    pub min_n: Option<u64>,
    /// Period of the evaluation (default month).
    pub period: Option<String>,
}

/// `[text]`: how comments are analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSettings {
    /// Add language, sentiment and theme columns for comments (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Themes discovered in the comments beyond the taxonomy (0 turns discovery off).
    #[serde(default = "default_discover")]
    pub discover: usize,
}

fn yes() -> bool {
    true
}

fn default_discover() -> usize {
    6
}

impl Default for TextSettings {
    fn default() -> Self {
        TextSettings {
            enabled: true,
            discover: default_discover(),
        }
    }
}

/// `[churn]`: the churn definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnSettings {
    /// `auto` (subscription when the data has cancel events, else inactivity), `subscription`
    /// or `inactivity`.
    #[serde(default)]
    pub definition: ChurnMode,
    /// Days without activity after which a customer counts as churned (inactivity definition).
    #[serde(default = "default_window")]
    pub window_days: i64,
}

fn default_window() -> i64 {
    365
}

impl Default for ChurnSettings {
    fn default() -> Self {
        ChurnSettings {
            definition: ChurnMode::Auto,
            window_days: default_window(),
        }
    }
}

/// Which churn definition to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChurnMode {
    #[default]
    Auto,
    Subscription,
    Inactivity,
}

/// `[tickets]`: ticket metric definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketConfig {
    /// A reopen within this many days of resolution undoes first contact resolution.
    #[serde(default = "default_reopen_window")]
    pub reopen_window_days: u32,
    /// Business hours of response and resolution times, e.g. "Mon-Fri 09:00-17:00" (local time
    /// of the project); default: calendar time.
    #[serde(default)]
    pub business_hours: Option<String>,
    /// Days without business hours (YYYY-MM-DD).
    #[serde(default)]
    pub holidays: Vec<String>,
}

impl TicketConfig {
    /// The business calendar, when business hours are set.
    pub fn calendar(&self) -> Result<Option<cxray_metrics::tickets::BusinessCalendar>, String> {
        match &self.business_hours {
            Some(spec) => {
                cxray_metrics::tickets::BusinessCalendar::parse(spec, &self.holidays).map(Some)
            }
            None if !self.holidays.is_empty() => Err("holidays need business_hours as well".into()),
            None => Ok(None),
        }
    }
}

fn default_reopen_window() -> u32 {
    7
}

impl Default for TicketConfig {
    fn default() -> Self {
        TicketConfig {
            reopen_window_days: default_reopen_window(),
            business_hours: None,
            holidays: vec![],
        }
    }
}

/// `[queue]`: contact-centre queue thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Abandons after a shorter wait are left out of the abandonment rate.
    #[serde(default = "default_short_abandon")]
    pub short_abandon_seconds: f64,
    /// Answered within this many seconds counts towards the service level.
    #[serde(default = "default_service_level")]
    pub service_level_seconds: f64,
}

fn default_short_abandon() -> f64 {
    5.0
}

fn default_service_level() -> f64 {
    20.0
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            short_abandon_seconds: default_short_abandon(),
            service_level_seconds: default_service_level(),
        }
    }
}

/// `[serve]`: settings of `cxray serve` (flags override them). The project layer only holds
/// them; the server reads them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: Option<String>,
    /// The store, relative to the config file (default `cxray.db`).
    pub db: Option<PathBuf>,
    /// Largest request body in bytes (default 16 MiB).
    pub max_body_bytes: Option<usize>,
    /// Requests per second per API key (default 20,000; bursts of twice as many).
    pub api_requests_per_second: Option<f64>,
    /// Requests per second per client address on public routes (default 20; bursts of three
    /// times as many).
    pub public_requests_per_second: Option<f64>,
    /// The address customers reach the server at, for the links it makes (default
    /// `http://` and the listening address).
    pub public_url: Option<String>,
    /// Behind a reverse proxy: the header in which it passes the client's address
    /// (`X-Forwarded-For`; the last address in it, the one the proxy added, is used for the
    /// per-address limits). Only set it when every request comes through that proxy: a
    /// client could otherwise choose its own address.
    pub client_address_header: Option<String>,
    /// `[serve.smtp]`: the mail server that sends invitation emails (without it, emails wait
    /// in the outbox).
    pub smtp: Option<SmtpSettings>,
    /// The sites (`https://shop.example.com`) whose pages may show the web widget; without
    /// it, any (a customer token is needed either way).
    pub widget_origins: Option<Vec<String>>,
}

/// `[serve.smtp]`: where invitation emails are sent from. The password is never in the
/// file: `password_env` names the environment variable that holds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Default: 587 with `starttls`, 465 with `tls`, 25 with `none`.
    pub port: Option<u16>,
    /// `starttls` (default), `tls` (implicit TLS), or `none` (a relay on this machine only).
    pub security: Option<String>,
    /// The sender, e.g. `"Acme <feedback@acme.example>"`.
    pub from: String,
    pub username: Option<String>,
    /// The environment variable that holds the password.
    pub password_env: Option<String>,
    /// Attempts before an email is given up (default 8).
    pub max_attempts: Option<u32>,
    /// Wait before the second attempt, doubled at each next one up to 6 hours (default 60).
    pub retry_seconds: Option<u64>,
}

/// `[[triggers]]`: when a journey event of step `on` arrives (`POST /api/v1/events`), its
/// customer is invited to `survey`, within the contact rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerConfig {
    /// The journey step (`ticket_solved`, `delivered` …).
    pub on: String,
    pub survey: String,
    /// Share of the customers invited (0-1, default 1): decided by a hash of customer and
    /// survey, so the same customer is always in or out.
    #[serde(default)]
    pub share: Option<f64>,
    /// Most invitations this trigger sends per day (UTC), whatever the events.
    #[serde(default)]
    pub daily_budget: Option<u64>,
    /// Minutes between the event and the invitation (a survey two hours after the ticket is
    /// solved).
    #[serde(default)]
    pub delay_minutes: Option<u32>,
    /// Hours in which nothing is sent, in the customer's time zone (the event's `timezone`
    /// attribute, else the project's): `[21, 8]` waits for 08:00.
    #[serde(default)]
    pub quiet_hours: Option<[u8; 2]>,
    /// How the invitation reaches the customer: `link` (default: the decision holds the
    /// personal link, for the caller to deliver), `email` (sent through `[serve.smtp]` to the
    /// event's `email` attribute, with the first question's scale as one-click links) or
    /// `widget` (shown by the web widget on the page whose `data-touchpoint` is `on`, to the
    /// customer its signed token names; no delay or quiet hours: the customer is there).
    #[serde(default)]
    pub channel: Option<String>,
}

/// `[contact]`: the contact-frequency rules every invitation obeys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactRules {
    /// At most one invitation per customer in this many days, whatever the survey.
    pub any_survey_days: Option<u32>,
    /// At most one invitation to the same survey per customer in this many days.
    pub same_survey_days: Option<u32>,
    /// At most one invitation from the same touchpoint (a trigger's `on`: a journey step or a
    /// widget's page) per customer in this many days, whatever the survey.
    pub same_touchpoint_days: Option<u32>,
}

/// `[cases]`: the closed loop of `cxray serve`. By default a detractor's NPS (0-6) and the two
/// lowest points of any other rating scale (CSAT 1-2 of 1-5, CES 1-2 of 1-7, one or two stars)
/// open a case, due 48 hours later, for answers submitted in the last 14 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSettings {
    /// Metric → the highest score that opens a case (replaces the defaults; a metric left out
    /// opens none).
    pub open_at_or_below: Option<BTreeMap<String, f64>>,
    /// Hours from the answer to the case's due time (default 48).
    pub target_hours: Option<f64>,
    /// Answers submitted longer ago open no case (default 14 days).
    pub max_age_days: Option<f64>,
    /// Seconds a new case waits before its `case.opened` webhook goes out, so that the comment
    /// typed on the page after the score is in it (default 60).
    pub announce_after_seconds: Option<u32>,
}

/// `[[webhooks]]`: an endpoint `cxray serve` posts notifications to, signed as the Standard
/// Webhooks specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
/// HMAC-SHA256), from a persistent outbox with retries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// An http or https URL.
    pub url: String,
    /// The events it receives: `case.opened`, `case.overdue`, `alert.fired` (default: all).
    pub events: Option<Vec<String>>,
    /// The environment variable holding its signing secret (`whsec_` and base64, as other
    /// senders make them); default: the server's own, shown by `GET /api/v1/webhooks`.
    pub secret_env: Option<String>,
}

/// `[team]`: emails to the CX team through `[serve.smtp]` and the store's outbox: each fired
/// `[[alerts]]` rule, each case that passes its due time, and a digest of the overview.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSettings {
    /// Addresses that receive them.
    #[serde(default)]
    pub email: Vec<String>,
    /// `daily` or `weekly` (Mondays): the report's highlights and scorecard; default none.
    pub digest: Option<String>,
}

/// Texts by language (ISO 639-1 code → text).
pub type Texts = BTreeMap<String, String>;

/// `[[surveys]]`: a survey shown by `cxray serve`, one question per page. The server checks it
/// (metrics known, languages, follow-ups after their question) when it starts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyConfig {
    /// Its id in links and in the answers' `survey` column (letters, digits, `-`, `_`).
    pub id: String,
    /// Page title by language.
    #[serde(default)]
    pub title: Texts,
    /// Languages it is offered in; the first is the default (default `["en"]`).
    #[serde(default)]
    pub languages: Vec<String>,
    /// The touchpoint its answers follow (`checkout`, `delivery` …).
    #[serde(default)]
    pub touchpoint: Option<String>,
    /// Days a personal link stays valid (default 30); answers can be changed until then.
    #[serde(default)]
    pub link_days: Option<u32>,
    /// Last day answers are taken (none: open).
    #[serde(default, deserialize_with = "day")]
    pub closes: Option<chrono::NaiveDate>,
    /// Attributes an anonymous link may carry in its query (`?store=12`), besides `channel`.
    #[serde(default)]
    pub attributes: Vec<String>,
    /// Text of the last page by language (default: a thank-you).
    #[serde(default)]
    pub thank_you: Texts,
    pub questions: Vec<SurveyQuestion>,
}

/// A day written as TOML writes it (`2026-12-31`) or as text (JSON, or quoted in TOML).
fn day<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<chrono::NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Day {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Option::<Day>::deserialize(d)? {
        None => return Ok(None),
        Some(Day::Text(t)) => t,
        Some(Day::Toml(t)) => t.to_string(),
    };
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a day (YYYY-MM-DD)")))
}

/// A question of a survey: a rated metric, or the open reason for an earlier one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SurveyQuestion {
    /// The metric it rates (`nps`, `csat`, `ces`, `stars`, `task`, or one of `[metrics]`).
    #[serde(default)]
    pub metric: Option<String>,
    /// An open question: the reason for the answer to this metric's question (stored as that
    /// answer's comment).
    #[serde(default)]
    pub reason_for: Option<String>,
    /// The question by language (default: cxray's wording of the metric's question).
    #[serde(default)]
    pub text: Texts,
    /// Another wording of an open question when the score it follows is below `below`.
    #[serde(default)]
    pub if_below: Option<ScoreText>,
    /// Labels of the two ends of a scale by language.
    #[serde(default)]
    pub low_label: Texts,
    #[serde(default)]
    pub high_label: Texts,
}

/// A wording for scores below a threshold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreText {
    pub below: f64,
    pub text: Texts,
}

/// `[journey]`: funnel steps and the cart window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyConfig {
    /// Funnel steps in order (default: the steps in the data, most frequent first).
    #[serde(default)]
    pub steps: Vec<String>,
    /// The step that adds to the cart (default: cart, add_to_cart, basket… when present).
    #[serde(default)]
    pub cart_step: Option<String>,
    /// The step that buys (default: purchase, order, buy… when present).
    #[serde(default)]
    pub purchase_step: Option<String>,
    /// A purchase later than this after the first cart does not rescue the cart.
    #[serde(default = "default_cart_window")]
    pub cart_window_hours: f64,
    /// An answer follows the customer's latest journey step at most this long before it
    /// (the `journey_touchpoint` column of the answers).
    #[serde(default = "default_touchpoint_window")]
    pub touchpoint_window_hours: f64,
}

fn default_cart_window() -> f64 {
    24.0
}

fn default_touchpoint_window() -> f64 {
    48.0
}

impl Default for JourneyConfig {
    fn default() -> Self {
        JourneyConfig {
            steps: vec![],
            cart_step: None,
            purchase_step: None,
            cart_window_hours: default_cart_window(),
            touchpoint_window_hours: default_touchpoint_window(),
        }
    }
}

/// Project-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    #[serde(default)]
    pub name: Option<String>,
    /// IANA timezone for periods and for timestamps without an offset.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Groups smaller than this are flagged as "too few answers".
    #[serde(default = "default_min_n")]
    pub min_n: u64,
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_min_n() -> u64 {
    30
}

impl Default for ProjectSettings {
    fn default() -> Self {
        ProjectSettings {
            name: None,
            timezone: default_tz(),
            min_n: default_min_n(),
        }
    }
}

impl ProjectConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::bad_input(format!(
                "{}: {}",
                path.display(),
                if e.kind() == std::io::ErrorKind::NotFound {
                    "config file not found; create one (see docs/config.md) or pass data files \
                     directly"
                        .to_string()
                } else {
                    e.to_string()
                }
            ))
        })?;
        let mut cfg: ProjectConfig = toml::from_str(&text)
            .map_err(|e| Error::bad_input(format!("{}: {e}", path.display())))?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// The sources as reading needs them; `origin` names the configuration in messages.
    pub fn sources(&self, origin: &Path) -> Sources {
        Sources {
            list: self.sources.clone(),
            base_dir: self.base_dir.clone(),
            timezone: self.project.timezone.clone(),
            origin: origin.to_path_buf(),
        }
    }

    /// Checks settings that can be wrong independently of the data; `path` names the config in
    /// messages.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |message: String| Error::bad_input(format!("{}: {message}", path.display()));
        self.sources(path).validate()?;
        for (name, v) in [
            (
                "[queue] short_abandon_seconds",
                self.queue.short_abandon_seconds,
            ),
            (
                "[queue] service_level_seconds",
                self.queue.service_level_seconds,
            ),
            (
                "[journey] cart_window_hours",
                self.journey.cart_window_hours,
            ),
            (
                "[journey] touchpoint_window_hours",
                self.journey.touchpoint_window_hours,
            ),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(format!(
                    "{name} must be a number of at least 0, got {v}"
                )));
            }
        }
        self.tickets
            .calendar()
            .map_err(|m| bad(format!("[tickets] {m}")))?;
        if self.churn.window_days < 1 {
            return Err(bad(format!(
                "[churn] window_days must be at least 1, got {}",
                self.churn.window_days
            )));
        }
        Ok(())
    }
}
