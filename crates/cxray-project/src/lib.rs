//! # cxray-project
//!
//! The service layer between cxray's libraries and every front end (the command line today, the
//! server and the dashboard next). A [`Project`] owns a project's configuration and its sources,
//! each read and validated once, on first use, and shared between analyses; every analysis is
//! one method taking a plain request struct and returning a typed, serializable result.
//!
//! ```text
//!   front ends:   cxray-cli            (a server, a dashboard)
//!                      \                  /
//!                       Project::report / metrics / retention / explain / drivers /
//!                       linkage / nonresponse / alerts / customer     (this crate)
//!                      /            |             |              \
//!   sources:  cxray-ingest    cxray-engine   cxray-insights   cxray-report
//!             (read, check)   (DataFusion    (estimates,      (tables, JSON,
//!                              plans → stats)  tests, story)    HTML)
//! ```
//!
//! Nothing here knows about flags, exit codes or HTTP: errors carry an [`ErrorKind`] (and the
//! request field they are about) for a front end to map, and progress goes to an
//! [`Observer`]. There is no global state: a process can hold several projects, and dropping
//! one frees its tables.
//!
//! ```no_run
//! use cxray_project::{MetricsRequest, OpenOptions, Project, ProjectSource, ReportRequest};
//! use cxray_metrics::period::Period;
//!
//! let project = Project::open(&ProjectSource::config("cxray-demo/cxray.toml"), OpenOptions::default())?;
//! // The answers are read once and shared by both calls.
//! let nps = project.metrics(&MetricsRequest {
//!     metrics: vec!["nps".into()],
//!     by: vec!["region".into()],
//!     period: Some(Period::Quarter),
//!     ..Default::default()
//! })?;
//! for row in &nps.rows {
//!     println!("{:?} {:?}: {:?} (n {})", row.period, row.segment, row.value, row.n);
//! }
//! let report = project.report(&ReportRequest::default())?;
//! std::fs::write("report.html", cxray_report::render_html(&report))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod alerts;
mod answers;
mod browse;
pub mod config;
mod customer;
mod drivers;
mod engine;
mod enrich;
mod error;
mod explain;
mod ingest;
mod lifecycle;
mod linkage;
mod metrics;
mod nonresponse;
mod observe;
mod operational;
mod print;
mod project;
mod report;
mod retention;
mod text;
mod touchpoints;

pub use alerts::{AlertsOutput, AlertsRequest};
pub use browse::{AnswerRow, AnswersFormat, AnswersPage, AnswersQuery, MAX_PAGE, write_answers};
pub use config::{
    CaseSettings, ContactRules, ProjectConfig, ScoreText, ServeSettings, SmtpSettings,
    SurveyConfig, SurveyQuestion, TeamSettings, Texts, TriggerConfig, WebhookConfig,
};
pub use customer::{Interaction, Timeline};
pub use cxray_engine::SqlDialect;
pub use drivers::{DriversOutput, DriversRequest};
pub use error::{Error, ErrorKind, Remedy, Result};
pub use explain::{ExplainOutput, ExplainRequest, PeriodLabel};
pub use ingest::{IngestOutput, ingest};
pub use linkage::{LinkageOutput, LinkageRequest};
pub use metrics::{MetricLabel, MetricsOutput, MetricsRequest, MetricsSettings};
pub use nonresponse::{NonResponseOutput, NonResponseRequest};
pub use observe::{Observer, Silent, SourcesRead};
pub use project::{
    InputSummary, OpenOptions, Project, ProjectSource, Responses, SourceOverrides, thousands,
};
pub use report::ReportRequest;
pub use retention::{RetentionOutput, RetentionRequest};
pub use text::{
    TextEvalOutput, TextEvalRequest, TextOutput, TextRequest, TextRow, TextTallies, analyze_texts,
    evaluate_texts,
};
