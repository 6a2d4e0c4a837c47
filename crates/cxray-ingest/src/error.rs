//! Ingestion errors: each names the file and says what to do.

use std::path::PathBuf;

use thiserror::Error;

/// Why a source could not be read at all. Row-level problems are not errors but
/// [`crate::Reject`]s; in strict mode they become [`IngestError::Strict`].
#[derive(Debug, Error)]
pub enum IngestError {
    #[error("{}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("{}: the file is empty; export the survey again or remove it from the sources", path.display())]
    Empty { path: PathBuf },
    #[error("{}: the file has a header but no rows", path.display())]
    NoRows { path: PathBuf },
    #[error("{}: {message}", path.display())]
    Encoding { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Columns { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
    #[error("{}: {message}", path.display())]
    Metric { path: PathBuf, message: String },
    #[error("{}: duplicate response_id '{id}' on line {line} (first on line {first_line}); the source's duplicates policy is \"fail\"", path.display())]
    Duplicate {
        path: PathBuf,
        id: String,
        line: u64,
        first_line: u64,
    },
    #[error("{rejected} row(s) rejected in strict mode; first: {first}")]
    Strict { rejected: u64, first: String },
}
