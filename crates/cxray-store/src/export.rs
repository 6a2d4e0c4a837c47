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

/// Columns of the invitations file.
pub const INVITATION_COLUMNS: [&str; 5] = [
    "invitation_id",
    "customer_id",
    "survey",
    "sent_at",
    "language",
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
    /// Data rows.
    pub rows: u64,
    /// The CSV text, header first.
    pub csv: Vec<u8>,
}

/// A table of the store as rows of text cells (empty: none) with their attributes.
struct Table {
    /// The entity cxray reads it as, and what its rows are.
    entity: &'static str,
    rows_are: &'static str,
    /// The file name without extension.
    stem: &'static str,
    columns: &'static [&'static str],
    rows: Vec<(Vec<String>, BTreeMap<String, String>)>,
}

impl Table {
    /// The attributes of any row, in name order (columns after the table's own).
    fn attributes(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.rows.iter().flat_map(|(_, a)| a.keys()).collect();
        set.into_iter().cloned().collect()
    }

    /// The header: the table's columns, then the attributes.
    fn header(&self, attributes: &[String]) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| c.to_string())
            .chain(attributes.iter().cloned())
            .collect()
    }

    /// Each row's cells in header order.
    fn cells<'a>(&'a self, attributes: &'a [String]) -> impl Iterator<Item = Vec<&'a str>> + 'a {
        self.rows.iter().map(move |(cells, a)| {
            cells
                .iter()
                .map(String::as_str)
                .chain(
                    attributes
                        .iter()
                        .map(|k| a.get(k).map_or("", String::as_str)),
                )
                .collect()
        })
    }

    fn csv(&self) -> Result<CsvTable, StoreError> {
        let err = |e: csv::Error| StoreError::Read(format!("writing CSV: {e}"));
        let attributes = self.attributes();
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(self.header(&attributes)).map_err(err)?;
        for row in self.cells(&attributes) {
            w.write_record(&row).map_err(err)?;
        }
        let csv = w
            .into_inner()
            .map_err(|e| StoreError::Read(format!("writing CSV: {e}")))?;
        Ok(CsvTable {
            entity: self.entity,
            rows_are: self.rows_are,
            rows: self.rows.len() as u64,
            csv,
        })
    }

    /// Writes the table as Parquet (zstd): times as UTC timestamps (µs), the score as a
    /// number, the rest as text; empty cells are nulls.
    fn parquet(&self, path: &Path) -> Result<(), StoreError> {
        use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray};
        use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
        let err = |e: String| StoreError::Read(format!("writing {}: {e}", path.display()));
        let attributes = self.attributes();
        let header = self.header(&attributes);
        let rows: Vec<Vec<&str>> = self.cells(&attributes).collect();
        fn cell<'a>(r: &[&'a str], i: usize) -> Option<&'a str> {
            Some(r[i]).filter(|v| !v.is_empty())
        }
        let mut fields = Vec::new();
        let mut columns: Vec<ArrayRef> = Vec::new();
        for (i, name) in header.iter().enumerate() {
            let (field, column): (Field, ArrayRef) = match name.as_str() {
                "submitted_at" | "at" | "sent_at" => (
                    Field::new(
                        name,
                        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                        false,
                    ),
                    std::sync::Arc::new(
                        rows.iter()
                            .map(|r| {
                                cell(r, i).and_then(|v| {
                                    chrono::DateTime::parse_from_rfc3339(v)
                                        .ok()
                                        .map(|t| t.timestamp_micros())
                                })
                            })
                            .collect::<TimestampMicrosecondArray>()
                            .with_timezone("UTC"),
                    ),
                ),
                "score" => (
                    Field::new(name, DataType::Float64, true),
                    std::sync::Arc::new(
                        rows.iter()
                            .map(|r| cell(r, i).and_then(|v| v.parse::<f64>().ok()))
                            .collect::<Float64Array>(),
                    ),
                ),
                _ => (
                    Field::new(name, DataType::Utf8, true),
                    std::sync::Arc::new(rows.iter().map(|r| cell(r, i)).collect::<StringArray>()),
                ),
            };
            fields.push(field);
            columns.push(column);
        }
        let schema = std::sync::Arc::new(Schema::new(fields));
        let batch = arrow::record_batch::RecordBatch::try_new(schema.clone(), columns)
            .map_err(|e| err(e.to_string()))?;
        let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema, Some(props))
            .map_err(|e| err(e.to_string()))?;
        w.write(&batch).map_err(|e| err(e.to_string()))?;
        w.close().map_err(|e| err(e.to_string()))?;
        Ok(())
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

impl Reader {
    /// The answers (one row per answer) and the journey events, as rows of text.
    fn tables(&self) -> Result<[Table; 3], StoreError> {
        let responses = self.responses()?;
        let answers = responses
            .into_iter()
            .map(|r| r.response)
            .flat_map(|r| {
                let submitted = micros_to_rfc3339(r.submitted_at);
                r.answers
                    .iter()
                    .map(|a| {
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
                        (cells, r.attributes.clone())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let events = self
            .events()?
            .into_iter()
            .map(|e| e.event)
            .map(|e| {
                let cells = vec![
                    e.event_id,
                    text(&e.session_id),
                    text(&e.customer_id),
                    e.step,
                    micros_to_rfc3339(e.at),
                ];
                (cells, e.attributes)
            })
            .collect();
        let invitations = self
            .invitations()?
            .into_iter()
            .map(|i| {
                let cells = vec![
                    i.invitation_id,
                    text(&i.customer_id),
                    i.survey,
                    micros_to_rfc3339(i.sent_at),
                    text(&i.language),
                ];
                (cells, BTreeMap::new())
            })
            .collect();
        Ok([
            Table {
                entity: "invitations",
                rows_are: "invitations",
                stem: "invitations",
                columns: &INVITATION_COLUMNS,
                rows: invitations,
            },
            Table {
                entity: "responses",
                rows_are: "answers",
                stem: "responses",
                columns: &RESPONSE_COLUMNS,
                rows: answers,
            },
            Table {
                entity: "journey",
                rows_are: "journey events",
                stem: "journey",
                columns: &EVENT_COLUMNS,
                rows: events,
            },
        ])
    }

    /// The invitations (`invitations`), the answers (`responses`, one row per answer) and the
    /// journey events (`journey`) as CSV in memory: what [`Reader::export`] writes, and what cxray reads when a store is a
    /// source of a project.
    pub fn tables_csv(&self) -> Result<[CsvTable; 3], StoreError> {
        let [a, b, c] = self.tables()?;
        Ok([a.csv()?, b.csv()?, c.csv()?])
    }

    /// Writes `responses.csv` and `journey.csv` into `dir` (created if needed).
    pub fn export_csv(&self, dir: &Path) -> Result<Vec<ExportedFile>, StoreError> {
        self.export(dir, ExportFormat::Csv)
    }

    /// Writes the answers and the journey events into `dir` (created if needed) as
    /// `responses` and `journey` files of `format`.
    pub fn export(
        &self,
        dir: &Path,
        format: ExportFormat,
    ) -> Result<Vec<ExportedFile>, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Read(format!("creating {}: {e}", dir.display())))?;
        let mut files = Vec::new();
        for t in self.tables()? {
            let path = match format {
                ExportFormat::Csv => {
                    let csv = t.csv()?;
                    let path = dir.join(format!("{}.csv", t.stem));
                    std::fs::write(&path, &csv.csv).map_err(|e| {
                        StoreError::Read(format!("writing {}: {e}", path.display()))
                    })?;
                    path
                }
                ExportFormat::Parquet => {
                    let path = dir.join(format!("{}.parquet", t.stem));
                    t.parquet(&path)?;
                    path
                }
            };
            files.push(ExportedFile {
                path,
                entity: t.entity,
                rows_are: t.rows_are,
                rows: t.rows.len() as u64,
            });
        }
        Ok(files)
    }
}
