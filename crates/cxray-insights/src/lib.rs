//! # cxray-insights
//!
//! Composes the statistics core over many groups: the metrics table (an estimate per metric,
//! period and segment), the report (segment comparisons with false-discovery control, trends
//! with change detection, themes, operations), and the analyses that say why: explain-the-change
//! ([`explain`]), key drivers ([`drivers`]), CX linked to churn ([`linkage`]), non-response
//! bias ([`nonresponse`]) and alert rules ([`alerts`]). It knows nothing about files, query
//! engines or output formats: it takes per-group sufficient statistics (or plain rows) and
//! returns plain data that outputs render.

pub mod alerts;
pub mod closed_loop;
pub mod drivers;
pub mod explain;
pub mod linkage;
pub mod metrics;
pub mod nonresponse;
pub mod operations;
pub mod report;
pub mod retention;
pub mod themes;

pub use metrics::{MetricRow, TableOptions, metric_rows, operational_rows};
pub use report::{Report, ReportInput, ReportOptions, build_report};
pub use themes::{ThemeInput, ThemeOptions, ThemesSection, build_themes, explode_themes};
