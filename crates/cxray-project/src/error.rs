//! Errors of the project layer. Each carries a [`ErrorKind`] that a front end maps to its own
//! codes in one place (the CLI to exit codes, a server to HTTP statuses), and, when it is about
//! one setting of a request, the name of that field, so that a front end can name its own flag
//! or parameter. Messages never name a command-line flag.

use std::fmt;

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The data or the configuration cannot be used as it is (a file that cannot be read, a
    /// missing column, rejected rows in strict mode).
    BadInput,
    /// The request does not fit the data (an unknown column to break down by, a driver that is
    /// also the outcome, contradictory periods).
    Usage,
    /// What was asked for is not in the data (a customer id without interactions).
    NotFound,
    /// Something failed that is not the caller's doing (the query engine, writing a file).
    Runtime,
}

/// A setting of the sources that would fix a bad input, for a front end to name in its own
/// terms (a flag, a form field) beside the message, which names the `cxray.toml` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Map canonical columns to the file's columns.
    MapColumns,
    /// Set the field delimiter.
    Delimiter,
    /// Set the text encoding.
    Encoding,
}

/// A failure of an analysis, with its kind and the request field it is about.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    field: Option<&'static str>,
    remedy: Option<Remedy>,
    message: String,
}

/// Results of the project layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Error {
            kind,
            field: None,
            remedy: None,
            message: message.to_string(),
        }
    }

    /// Bad data or configuration.
    pub fn bad_input(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::BadInput, message)
    }

    /// A request that does not fit the data.
    pub fn usage(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// Nothing found for what was asked.
    pub fn not_found(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// A failure that is not the caller's doing.
    pub fn runtime(message: impl fmt::Display) -> Self {
        Self::new(ErrorKind::Runtime, message)
    }

    /// The same error, about the request field `field` (e.g. `by`, `rake_on`).
    pub fn about(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The request field the error is about, when it is about one.
    pub fn field(&self) -> Option<&'static str> {
        self.field
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// A setting of the sources that would fix the input, when one would.
    pub fn remedy(&self) -> Option<Remedy> {
        self.remedy
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<cxray_ingest::IngestError> for Error {
    fn from(e: cxray_ingest::IngestError) -> Self {
        use cxray_ingest::IngestError as I;
        let field = matches!(e, I::Strict { .. }).then_some("strict");
        let remedy = match &e {
            I::Columns { message, .. } if message.contains("delimiter") => Some(Remedy::Delimiter),
            I::Columns { .. } => Some(Remedy::MapColumns),
            I::Encoding { .. } => Some(Remedy::Encoding),
            _ => None,
        };
        Error {
            kind: ErrorKind::BadInput,
            field,
            remedy,
            message: e.to_string(),
        }
    }
}

impl From<cxray_engine::EngineError> for Error {
    fn from(e: cxray_engine::EngineError) -> Self {
        match e {
            cxray_engine::EngineError::UnknownColumn { .. } => Error::usage(e).about("by"),
            other => Error::runtime(other),
        }
    }
}

impl From<cxray_metrics::CatalogError> for Error {
    fn from(e: cxray_metrics::CatalogError) -> Self {
        Error::usage(e)
    }
}
