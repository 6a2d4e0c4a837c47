//! The store as a source of a project, like a file: `cxray report cxray.db`, or
//! `[[sources]] path = "cxray.db"` in `cxray.toml`. Its answers and journey events are handed
//! to ingestion as CSV in memory ([`crate::Reader::tables_csv`], what `cxray export` writes),
//! so they pass through exactly the validation every file does.

use std::io::Read;
use std::path::{Path, PathBuf};

use cxray_ingest::{CustomerNote, Format, IngestError, SourceConfig, SourceProvider};

/// Reads cxray stores given as sources: any SQLite file.
#[derive(Debug, Default, Clone, Copy)]
pub struct StoreSource;

/// The first 16 bytes of every SQLite database file.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Whether `path` is a SQLite file (by its first bytes, whatever its name).
pub fn is_sqlite_file(path: &Path) -> bool {
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head == SQLITE_MAGIC
}

impl SourceProvider for StoreSource {
    fn expand(
        &self,
        path: &Path,
        src: &SourceConfig,
    ) -> Option<Result<Vec<SourceConfig>, IngestError>> {
        if !is_sqlite_file(path) {
            return None;
        }
        Some(expand(path, src))
    }

    fn customer_notes(
        &self,
        path: &Path,
        customer_id: &str,
    ) -> Option<Result<Vec<CustomerNote>, IngestError>> {
        if !is_sqlite_file(path) {
            return None;
        }
        Some(notes(path, customer_id).map_err(|e| IngestError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        }))
    }
}

/// A customer's survey decisions (with their reasons) and invitation emails (with their
/// delivery), for their timeline.
fn notes(path: &Path, customer_id: &str) -> Result<Vec<CustomerNote>, crate::StoreError> {
    let reader = crate::Reader::open_file(path)?;
    let mut out = Vec::new();
    for d in reader.decisions(Some(customer_id))? {
        let mut fields: std::collections::BTreeMap<String, String> = [
            ("event_id", Some(d.event_id)),
            ("survey", Some(d.survey.clone())),
            ("outcome", Some(d.outcome)),
            ("reason", Some(d.reason.clone())),
            ("invitation_id", d.invitation_id),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
        fields.insert("customer_id".into(), customer_id.to_string());
        out.push(CustomerNote {
            at_micros: d.decided_at,
            kind: "decisions",
            summary: format!("survey {}: {}", d.survey, d.reason),
            fields,
        });
    }
    // The team's own emails about the customer (an overdue case) are not interactions.
    for q in reader
        .outbox(Some(customer_id), None)?
        .into_iter()
        .filter(|q| !q.email.invitation_id.starts_with("team:"))
    {
        let when = q.sent_at.unwrap_or(q.email.not_before);
        let summary = match q.status.as_str() {
            "sent" => format!("invitation email sent to {}", q.email.recipient),
            "pending" if q.attempts == 0 => {
                format!(
                    "invitation email to {} waiting to be sent",
                    q.email.recipient
                )
            }
            "pending" => format!(
                "invitation email to {} not sent yet ({} attempts; {})",
                q.email.recipient,
                q.attempts,
                q.last_error.as_deref().unwrap_or("")
            ),
            "failed" => format!(
                "invitation email to {} failed: {}",
                q.email.recipient,
                q.last_error.as_deref().unwrap_or("")
            ),
            _ => format!(
                "invitation email to {} not sent: its link expired first",
                q.email.recipient
            ),
        };
        let fields = [
            ("invitation_id", Some(q.email.invitation_id)),
            ("recipient", Some(q.email.recipient)),
            ("subject", Some(q.email.subject)),
            ("status", Some(q.status)),
            ("attempts", Some(q.attempts.to_string())),
            ("last_error", q.last_error),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
        out.push(CustomerNote {
            at_micros: when,
            kind: "emails",
            summary,
            fields,
        });
    }
    Ok(out)
}

fn expand(path: &Path, src: &SourceConfig) -> Result<Vec<SourceConfig>, IngestError> {
    let config = |message: String| IngestError::Config {
        path: path.to_path_buf(),
        message,
    };
    let wanted = src.entity.as_deref();
    if let Some(e) = wanted
        && !["responses", "journey", "invitations"].contains(&e)
    {
        return Err(config(format!(
            "a cxray store holds responses, journey events and invitations, not {e}"
        )));
    }
    if !src.columns.is_empty() || !src.questions.is_empty() {
        return Err(config(
            "a cxray store's columns have cxray's names: remove the column mapping and \
             questions of this source"
                .into(),
        ));
    }
    let reader = crate::Reader::open_file(path).map_err(|e| config(e.to_string()))?;
    let tables = reader.tables_csv().map_err(|e| config(e.to_string()))?;
    Ok(tables
        .into_iter()
        .filter(|t| t.rows > 0 && wanted.is_none_or(|e| e == t.entity))
        .map(|t| SourceConfig {
            // Named like the table of the store in reports and rejects.
            path: PathBuf::from(format!("{}#{}", path.display(), t.entity)),
            entity: Some(t.entity.to_string()),
            format: Some(Format::Csv),
            delimiter: Some(",".into()),
            duplicates: src.duplicates,
            content: Some(t.csv.into()),
            ..Default::default()
        })
        .collect())
}
