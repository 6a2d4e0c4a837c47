//! The store's data as files every tool reads: responses in cxray's long layout (one row per
//! answer, whose id is `response_id#metric` as cxray names the answers of a wide export, so
//! that the answers of one response stay one submission for key drivers) and journey events, as CSV with a header, timestamps in RFC 3339 (UTC) and the
//! attributes as columns. `cxray` reads them back through the same validation as any export,
//! and pandas or DuckDB read them as they are.

use std::collections::{BTreeMap, BTreeSet};
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
    /// What its rows are, for messages (`answers`, `journey events`).
    pub rows_are: &'static str,
    /// Data rows (answers for responses).
    pub rows: u64,
}

fn micros_to_rfc3339(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_default()
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// A table of the store as CSV in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvTable {
    /// The entity cxray reads it as (`responses`, `journey`).
    pub entity: &'static str,
    /// What its rows are, for messages (`answers`, `journey events`).
    pub rows_are: &'static str,
    /// The file name an export gives it.
    pub file_name: &'static str,
    /// Data rows.
    pub rows: u64,
    /// The CSV text, header first.
    pub csv: Vec<u8>,
}

/// The table (entity, what its rows are, file name) of `rows` as CSV: the header `columns` then
/// the attributes in name order, and one row per item (its own cells, and its attributes as a
/// map).
fn write_csv<'a>(
    [entity, rows_are, file_name]: [&'static str; 3],
    columns: &[&str],
    rows: impl Iterator<Item = (Vec<String>, &'a BTreeMap<String, String>)> + Clone,
) -> Result<CsvTable, StoreError> {
    let err = |e: csv::Error| StoreError::Read(format!("writing CSV: {e}"));
    let attributes: BTreeSet<&String> = rows.clone().flat_map(|(_, a)| a.keys()).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = columns.iter().map(|c| c.to_string());
    w.write_record(header.chain(attributes.iter().map(|a| a.to_string())))
        .map_err(err)?;
    let mut n = 0;
    for (mut cells, a) in rows {
        cells.extend(
            attributes
                .iter()
                .map(|k| a.get(*k).cloned().unwrap_or_default()),
        );
        w.write_record(&cells).map_err(err)?;
        n += 1;
    }
    let csv = w
        .into_inner()
        .map_err(|e| StoreError::Read(format!("writing CSV: {e}")))?;
    Ok(CsvTable {
        entity,
        rows_are,
        file_name,
        rows: n,
        csv,
    })
}

impl Reader {
    /// The answers (`responses`, one row per answer) and the journey events (`journey`) as
    /// CSV in memory: what [`Reader::export_csv`] writes, and what cxray reads when a store is
    /// a source of a project.
    pub fn tables_csv(&self) -> Result<[CsvTable; 2], StoreError> {
        let responses = self.responses()?;
        let answers = responses.iter().map(|r| &r.response).flat_map(|r| {
            let submitted = micros_to_rfc3339(r.submitted_at);
            r.answers.iter().map(move |a| {
                let cells = vec![
                    format!("{}#{}", r.response_id, a.metric),
                    text(&r.customer_id),
                    submitted.clone(),
                    a.metric.clone(),
                    a.score.map(|s| s.to_string()).unwrap_or_default(),
                    text(&a.comment),
                    text(&r.survey),
                    text(&r.touchpoint),
                    text(&r.channel),
                    text(&r.language),
                    text(&r.invitation_id),
                ];
                (cells, &r.attributes)
            })
        });
        let answers = write_csv(
            ["responses", "answers", "responses.csv"],
            &RESPONSE_COLUMNS,
            answers,
        )?;
        let events = self.events()?;
        let rows = events.iter().map(|e| &e.event).map(|e| {
            let cells = vec![
                e.event_id.clone(),
                text(&e.session_id),
                text(&e.customer_id),
                e.step.clone(),
                micros_to_rfc3339(e.at),
            ];
            (cells, &e.attributes)
        });
        let events = write_csv(
            ["journey", "journey events", "journey.csv"],
            &EVENT_COLUMNS,
            rows,
        )?;
        Ok([answers, events])
    }

    /// Writes `responses.csv` and `journey.csv` into `dir` (created if needed).
    pub fn export_csv(&self, dir: &Path) -> Result<Vec<ExportedFile>, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Read(format!("creating {}: {e}", dir.display())))?;
        let mut files = Vec::new();
        for t in self.tables_csv()? {
            let path = dir.join(t.file_name);
            std::fs::write(&path, &t.csv)
                .map_err(|e| StoreError::Read(format!("writing {}: {e}", path.display())))?;
            files.push(ExportedFile {
                path,
                entity: t.entity,
                rows_are: t.rows_are,
                rows: t.rows,
            });
        }
        Ok(files)
    }
}
