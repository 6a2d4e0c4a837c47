//! How to read a project's files: each source's path, format, layout, delimiter, encoding,
//! timestamps and column mapping ([`SourceConfig`], the `[[sources]]` of `cxray.toml`), and the
//! whole list with the folder relative paths start from and the project's timezone
//! ([`Sources`]). The rest of `cxray.toml` (metric settings, alerts, themes) is the project
//! layer's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::IngestError;

/// The sources of a project, as reading needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct Sources {
    pub list: Vec<SourceConfig>,
    /// Relative source paths are relative to this folder (the config file's).
    pub base_dir: PathBuf,
    /// IANA timezone of periods and of timestamps without an offset.
    pub timezone: String,
    /// The configuration the sources come from, for messages ("cxray.toml", "command line").
    pub origin: PathBuf,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            list: vec![],
            base_dir: PathBuf::new(),
            timezone: "UTC".into(),
            origin: PathBuf::from("cxray.toml"),
        }
    }
}

/// A kind of source that cxray does not parse as a file: cxray's store, say. It hands over
/// what such a source holds as sources with their [`SourceConfig::content`] in memory (one
/// per entity), which are then read and validated exactly as files are. The front ends
/// register providers; the libraries below them know none (a store needs SQLite, which
/// stays out of them).
pub trait SourceProvider: Send + Sync + std::fmt::Debug {
    /// `None` when `path` is not this provider's kind of source; else what it holds (no
    /// sources when it holds nothing yet).
    fn expand(
        &self,
        path: &Path,
        src: &SourceConfig,
    ) -> Option<Result<Vec<SourceConfig>, IngestError>>;

    /// What the source at `path` holds about one customer besides its entities (the store's
    /// survey decisions and invitation emails), for the customer's timeline; `None` when
    /// `path` is not this provider's kind of source.
    fn customer_notes(
        &self,
        _path: &Path,
        _customer_id: &str,
    ) -> Option<Result<Vec<CustomerNote>, IngestError>> {
        None
    }
}

/// Something that happened to a customer that is no entity's row: a survey decision and its
/// reason, an invitation email's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerNote {
    /// µs since the Unix epoch.
    pub at_micros: i64,
    /// What kind of note (`decisions`, `emails`).
    pub kind: &'static str,
    /// One line saying what happened.
    pub summary: String,
    pub fields: std::collections::BTreeMap<String, String>,
}

impl Sources {
    /// Replaces each source that one of `providers` reads with the sources it holds.
    pub fn expand(
        &mut self,
        providers: &[std::sync::Arc<dyn SourceProvider>],
    ) -> Result<(), IngestError> {
        if providers.is_empty() {
            return Ok(());
        }
        let mut list = Vec::with_capacity(self.list.len());
        for src in std::mem::take(&mut self.list) {
            let path = self.resolve(&src.path);
            match providers.iter().find_map(|p| p.expand(&path, &src)) {
                Some(expanded) => list.extend(expanded?),
                None => list.push(src),
            }
        }
        self.list = list;
        Ok(())
    }

    /// Absolute path of a source.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// Checks what can be wrong with the sources independently of the data: the timezone,
    /// entity names, delimiters, layouts and column mappings.
    pub fn validate(&self) -> Result<(), IngestError> {
        let bad = |message: String| IngestError::Config {
            path: self.origin.clone(),
            message,
        };
        crate::timestamp::parse_tz(&self.timezone).map_err(bad)?;
        for s in &self.list {
            if let Some(e) = &s.entity
                && e != "responses"
                && crate::entity::Entity::parse(e).is_none()
            {
                return Err(bad(format!(
                    "source {}: unknown entity {e:?}; use responses, invitations, customers, \
                     tickets, lifecycle, contacts, journey, referrals or mentions",
                    s.path.display()
                )));
            }
        }
        for s in &self.list {
            if let Some(tz) = &s.timezone {
                crate::timestamp::parse_tz(tz).map_err(bad)?;
            }
            if let Some(d) = &s.delimiter
                && d.chars().count() != 1
            {
                return Err(bad(format!(
                    "source {}: delimiter must be one character, got {d:?}",
                    s.path.display()
                )));
            }
            if s.layout == Layout::Wide && s.questions.is_empty() {
                return Err(bad(format!(
                    "source {}: layout = \"wide\" needs [[sources.questions]] entries naming \
                     each rated question column and its metric",
                    s.path.display()
                )));
            }
            if s.layout == Layout::Long && !s.questions.is_empty() {
                return Err(bad(format!(
                    "source {}: [[sources.questions]] is for layout = \"wide\"; this source is long",
                    s.path.display()
                )));
            }
            // Two canonical names mapped to one column, or a column used as both.
            let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
            for (canon, col) in &s.columns {
                if let Some(other) = seen.insert(col.as_str(), canon.as_str()) {
                    return Err(bad(format!(
                        "source {}: column '{col}' is mapped to both '{other}' and '{canon}'",
                        s.path.display()
                    )));
                }
            }
            for q in &s.questions {
                if let Some(canon) = seen.get(q.column.as_str()) {
                    return Err(bad(format!(
                        "source {}: column '{}' is both question '{}' and canonical '{canon}'",
                        s.path.display(),
                        q.column,
                        q.metric
                    )));
                }
            }
        }
        Ok(())
    }
}

/// File formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    /// Guesses the format from the file extension; CSV otherwise.
    pub fn from_path(p: &Path) -> Format {
        match p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("parquet") | Some("pq") => Format::Parquet,
            Some("ndjson") | Some("jsonl") | Some("json") => Format::Ndjson,
            _ => Format::Csv,
        }
    }
}

/// Long (one row per answer) or wide (one row per respondent, one column per question).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    #[default]
    Long,
    Wide,
}

/// What to do with a second row carrying an already seen `response_id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DuplicatePolicy {
    /// Keep the first occurrence (in file order); reject later ones with a reason.
    #[default]
    KeepFirst,
    /// Stop with an error naming the duplicate.
    Fail,
}

/// One input file and how to read it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub path: PathBuf,
    #[serde(default)]
    pub entity: Option<String>,
    #[serde(default)]
    pub format: Option<Format>,
    #[serde(default)]
    pub layout: Layout,
    /// A single character; detected when absent.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// `utf-8` (default; BOMs and UTF-16 are detected) or any WHATWG label such as `windows-1252`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// chrono strftime format of timestamps; ISO 8601 when absent.
    #[serde(default)]
    pub timestamp_format: Option<String>,
    /// Timezone of timestamps without an offset; the project's when absent.
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub skip_rows_after_header: usize,
    #[serde(default)]
    pub duplicates: DuplicatePolicy,
    /// Long layout without a metric column: every row is this metric.
    #[serde(default)]
    pub metric: Option<String>,
    /// Canonical column name -> column name in the file.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Wide layout: the rated questions.
    #[serde(default)]
    pub questions: Vec<QuestionConfig>,
    /// The source's bytes when they are not in a file (a request body of the server, the rows
    /// of cxray's store): read exactly as the file `path` would be, and `path` only names the
    /// source in reports. Set `format`: there is no file extension to go by. Parquet reads
    /// files only.
    #[serde(skip)]
    pub content: Option<Content>,
}

impl SourceConfig {
    /// Whether the source's rows are of `entity` (`None`: answers, the sources without an
    /// `entity` or with `entity = "responses"`).
    pub fn holds(&self, entity: Option<crate::Entity>) -> bool {
        match (self.entity.as_deref(), entity) {
            (None, None) => true,
            (Some(e), None) => e.eq_ignore_ascii_case("responses"),
            (Some(e), Some(x)) => crate::Entity::parse(e) == Some(x),
            (None, Some(_)) => false,
        }
    }
}

/// Bytes of a source held in memory (see [`SourceConfig::content`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Content(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Content({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Content {
    fn from(v: Vec<u8>) -> Content {
        Content(v.into())
    }
}

/// A rated question column of a wide export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionConfig {
    pub column: String,
    pub metric: String,
    /// The open-text follow-up column belonging to this question.
    #[serde(default)]
    pub comment: Option<String>,
}
