//! The store's data as files every tool reads: responses in cxray's long layout (one row per
//! answer, whose id is `response_id#metric` as cxray names the answers of a wide export, so
//! that the answers of one response stay one submission for key drivers) and journey events, as CSV with a header, timestamps in RFC 3339 (UTC) and the
//! attributes as columns. `cxray` reads them back through the same validation as any export,
//! and pandas or DuckDB read them as they are.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::{Reader, StoreError};

/// Columns of the responses file before the attributes.
pub const RESPONSE_COLUMNS: [&str; 11] = [
    "response_id",
    "customer_id",
    "submitted_at",
    "metric",
    "score",
    "comment",
    "survey",
    "touchpoint",
    "channel",
    "language",
    "invitation_id",
];

/// Columns of the journey file before the attributes.
pub const EVENT_COLUMNS: [&str; 5] = ["event_id", "session_id", "customer_id", "step", "at"];

/// One written file.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExportedFile {
    pub path: PathBuf,
    /// The entity cxray reads it as (`responses`, `journey`).
    pub entity: &'static str,
    /// Data rows (answers for responses).
    pub rows: u64,
}

fn micros_to_rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn write_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Read(format!("writing {}: {e}", path.display()))
}

impl Reader {
    /// Writes `responses.csv` and `journey.csv` into `dir` (created if needed).
    pub fn export_csv(&self, dir: &Path) -> Result<Vec<ExportedFile>, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| write_error(dir, e))?;
        let mut out = Vec::new();

        let responses = self.responses()?;
        let path = dir.join("responses.csv");
        let attributes: BTreeSet<&String> = responses
            .iter()
            .flat_map(|r| r.response.attributes.keys())
            .collect();
        let mut w = csv::Writer::from_path(&path).map_err(|e| write_error(&path, e))?;
        let header = RESPONSE_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(attributes.iter().map(|a| a.to_string()));
        w.write_record(header).map_err(|e| write_error(&path, e))?;
        let mut rows = 0;
        for r in responses.iter().map(|r| &r.response) {
            let submitted = micros_to_rfc3339(r.submitted_at);
            for a in &r.answers {
                let opt = |v: &Option<String>| v.clone().unwrap_or_default();
                let mut record = vec![
                    format!("{}#{}", r.response_id, a.metric),
                    opt(&r.customer_id),
                    submitted.clone(),
                    a.metric.clone(),
                    a.score.map(|s| s.to_string()).unwrap_or_default(),
                    opt(&a.comment),
                    opt(&r.survey),
                    opt(&r.touchpoint),
                    opt(&r.channel),
                    opt(&r.language),
                    opt(&r.invitation_id),
                ];
                record.extend(
                    attributes
                        .iter()
                        .map(|k| r.attributes.get(*k).cloned().unwrap_or_default()),
                );
                w.write_record(&record).map_err(|e| write_error(&path, e))?;
                rows += 1;
            }
        }
        w.flush().map_err(|e| write_error(&path, e))?;
        out.push(ExportedFile {
            path,
            entity: "responses",
            rows,
        });

        let events = self.events()?;
        let path = dir.join("journey.csv");
        let attributes: BTreeSet<&String> = events
            .iter()
            .flat_map(|e| e.event.attributes.keys())
            .collect();
        let mut w = csv::Writer::from_path(&path).map_err(|e| write_error(&path, e))?;
        let header = EVENT_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .chain(attributes.iter().map(|a| a.to_string()));
        w.write_record(header).map_err(|e| write_error(&path, e))?;
        for e in events.iter().map(|e| &e.event) {
            let mut record = vec![
                e.event_id.clone(),
                e.session_id.clone().unwrap_or_default(),
                e.customer_id.clone().unwrap_or_default(),
                e.step.clone(),
                micros_to_rfc3339(e.at),
            ];
            record.extend(
                attributes
                    .iter()
                    .map(|k| e.attributes.get(*k).cloned().unwrap_or_default()),
            );
            w.write_record(&record).map_err(|e| write_error(&path, e))?;
        }
        w.flush().map_err(|e| write_error(&path, e))?;
        out.push(ExportedFile {
            path,
            entity: "journey",
            rows: events.len() as u64,
        });
        Ok(out)
    }
}
