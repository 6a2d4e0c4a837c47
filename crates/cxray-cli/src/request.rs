//! From parsed flags to the project layer's requests: the second stage of argument handling
//! (the first, parsing and checking each value, is clap's in [`crate::args`]).

use std::path::PathBuf;

use cxray_ingest::table::TableOptions;
use cxray_ingest::{DuplicatePolicy, Layout, QuestionConfig};
use cxray_project::{
    AlertsRequest, DriversRequest, ExplainRequest, LinkageRequest, MetricsRequest,
    NonResponseRequest, OpenOptions, ProjectSource, ReportRequest, RetentionRequest,
    SourceOverrides, TextEvalRequest, TextRequest,
};

use crate::args::*;

/// The project's source: the data files given, the `--config`, or `cxray.toml` in the current
/// folder when neither is given.
pub fn source(a: &InputArgs) -> ProjectSource {
    let config = a.config.clone().or_else(|| {
        let p = PathBuf::from("cxray.toml");
        (a.files.is_empty() && p.exists()).then_some(p)
    });
    ProjectSource {
        config,
        files: a.files.clone(),
        lake: a.lake.clone(),
    }
}

/// How to read the sources; `attributes` limits the segment columns of the answers kept.
pub fn open_options(a: &InputArgs, attributes: Option<Vec<String>>) -> OpenOptions {
    OpenOptions {
        overrides: SourceOverrides {
            columns: a.map.clone(),
            questions: a
                .question
                .iter()
                .map(|(column, metric)| QuestionConfig {
                    column: column.clone(),
                    metric: metric.trim().to_lowercase(),
                    comment: None,
                })
                .collect(),
            layout: a.layout.map(|l| match l {
                LayoutArg::Long => Layout::Long,
                LayoutArg::Wide => Layout::Wide,
            }),
            metric: a.file_metric.clone(),
            delimiter: a.delimiter.clone(),
            encoding: a.encoding.clone(),
            timestamp_format: a.timestamp_format.clone(),
            timezone: a.timezone.clone(),
            skip_rows: a.skip_rows,
            duplicates: a.duplicates.map(|d| match d {
                DuplicatesArg::KeepFirst => DuplicatePolicy::KeepFirst,
                DuplicatesArg::Fail => DuplicatePolicy::Fail,
            }),
            weight: a.weight.clone(),
        },
        strict: a.strict,
        response_attributes: attributes,
        answer_dates: None,
        threads: 0,
        engine_url: a.engine.clone(),
        // A cxray store given as a source is read like a file.
        providers: vec![std::sync::Arc::new(cxray_store::StoreSource)],
    }
}

impl From<&MetricsArgs> for MetricsRequest {
    fn from(a: &MetricsArgs) -> Self {
        MetricsRequest {
            metrics: a.metric.clone(),
            by: a.by.clone(),
            period: a.period.map(Into::into),
            since: a.since,
            until: a.until,
            confidence: a.confidence,
            interval: a.interval,
            min_n: a.min_n,
        }
    }
}

impl From<&ReportArgs> for ReportRequest {
    fn from(a: &ReportArgs) -> Self {
        ReportRequest {
            by: a.by.clone(),
            period: a.period.into(),
            since: a.since,
            until: a.until,
            confidence: a.confidence,
            alpha: a.alpha,
            min_n: a.min_n,
            title: a.title.clone(),
        }
    }
}

impl From<&RetentionArgs> for RetentionRequest {
    fn from(a: &RetentionArgs) -> Self {
        RetentionRequest {
            by: a.by.clone(),
            cohort: a.cohort.map(Into::into),
            horizons: a.at.clone(),
            until: a.until,
            confidence: a.confidence,
            alpha: a.alpha,
        }
    }
}

impl From<&LinkageArgs> for LinkageRequest {
    fn from(a: &LinkageArgs) -> Self {
        LinkageRequest {
            confidence: a.confidence,
            alpha: a.alpha,
        }
    }
}

impl From<&ExplainArgs> for ExplainRequest {
    fn from(a: &ExplainArgs) -> Self {
        ExplainRequest {
            metric: a.metric.clone(),
            from: a.from,
            to: a.to,
            period: a.period.into(),
            by: a.by.clone(),
            themes: !a.no_themes,
            confidence: a.confidence,
            alpha: a.alpha,
            min_n: a.min_n,
        }
    }
}

impl From<&DriversArgs> for DriversRequest {
    fn from(a: &DriversArgs) -> Self {
        DriversRequest {
            outcome: a.outcome.clone(),
            drivers: a.drivers.clone(),
            with_themes: a.with_themes,
            with_segments: a.with_segments.clone(),
            replicates: a.replicates,
            confidence: a.confidence,
        }
    }
}

impl From<&NonResponseArgs> for NonResponseRequest {
    fn from(a: &NonResponseArgs) -> Self {
        NonResponseRequest {
            by: a.by.clone(),
            rake_on: a.rake_on.clone(),
            window_days: a.window_days,
            confidence: a.confidence,
            alpha: a.alpha,
        }
    }
}

impl From<&AlertsArgs> for AlertsRequest {
    fn from(a: &AlertsArgs) -> Self {
        AlertsRequest {
            at: a.at,
            follow_up: a.follow_up,
            confidence: a.confidence,
            alpha: a.alpha,
        }
    }
}

impl From<&TextArgs> for TextRequest {
    fn from(a: &TextArgs) -> Self {
        TextRequest {
            column: a.column.clone(),
            table: TableOptions {
                delimiter: a.delimiter.clone(),
                no_header: a.no_header,
                encoding: None,
            },
            // Themes beyond the taxonomy are shown in the summary table only.
            discover: a.out.format == RowsFormat::Table,
        }
    }
}

impl From<&TextEvalArgs> for TextEvalRequest {
    fn from(a: &TextEvalArgs) -> Self {
        TextEvalRequest {
            text: a.text.clone(),
            label: a.label.clone(),
            language: a.language.clone(),
            dev_half: a.half.as_deref().map(|h| h == "dev"),
            table: TableOptions {
                delimiter: a.delimiter.clone(),
                no_header: a.no_header,
                encoding: None,
            },
        }
    }
}
