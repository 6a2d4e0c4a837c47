//! `cxray.toml`: a project's sources, column mappings, scales and settings.
//!
//! ```toml
//! [project]
//! timezone = "Europe/Amsterdam"        # periods and naive timestamps; default UTC
//!
//! [[sources]]
//! path = "responses.csv"               # relative to this file
//! layout = "wide"                      # long (default) | wide
//! delimiter = ";"                      # default: detected
//! timestamp_format = "%d/%m/%Y %H:%M"  # default: ISO 8601 (with or without offset)
//! skip_rows_after_header = 2           # e.g. Qualtrics' question-text and ImportId rows
//! duplicates = "keep-first"            # keep-first (default) | fail
//! [sources.columns]                    # canonical name = column in the file
//! response_id = "ResponseId"
//! submitted_at = "RecordedDate"
//! [[sources.questions]]                # wide layout: one column per rated question
//! column = "How likely are you to recommend us to a friend or colleague?"
//! metric = "nps"
//! comment = "Why did you give this score?"
//!
//! [themes]                            # your own themes, added to the built-in taxonomy
//! "delivery delays" = ["late", "delay", "laat", "verspätet", "retard"]  # single words
//!
//! [text]
//! enabled = true                       # language, sentiment and theme columns for comments
//! discover = 6                         # themes found automatically beyond the taxonomy
//!
//! [metrics.ces]                        # adjust a built-in metric or declare a custom one
//! scale = [1, 5]
//! good_from = 4
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cxray_metrics::MetricDeclaration;
use serde::{Deserialize, Serialize};

use crate::error::IngestError;

/// The whole `cxray.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    #[serde(default)]
    pub project: ProjectSettings,
    #[serde(default)]
    pub sources: Vec<SourceConfig>,
    #[serde(default)]
    pub metrics: BTreeMap<String, MetricDeclaration>,
    /// The project's own themes: name → keywords (any language; inflections are matched by
    /// stem). A built-in theme of the same name gets the keywords added.
    #[serde(default)]
    pub themes: BTreeMap<String, Vec<String>>,
    /// Text analysis of comments.
    #[serde(default)]
    pub text: TextSettings,
    /// Folder of the config file; source paths are relative to it. Not read from the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

/// `[text]`: how comments are analysed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextSettings {
    /// Add language, sentiment and theme columns for comments (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Themes discovered in the comments beyond the taxonomy (0 turns discovery off).
    #[serde(default = "default_discover")]
    pub discover: usize,
}

fn yes() -> bool {
    true
}

fn default_discover() -> usize {
    6
}

impl Default for TextSettings {
    fn default() -> Self {
        TextSettings {
            enabled: true,
            discover: default_discover(),
        }
    }
}

/// Project-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectSettings {
    #[serde(default)]
    pub name: Option<String>,
    /// IANA timezone for periods and for timestamps without an offset.
    #[serde(default = "default_tz")]
    pub timezone: String,
    /// Groups smaller than this are flagged as "too few answers".
    #[serde(default = "default_min_n")]
    pub min_n: u64,
}

fn default_tz() -> String {
    "UTC".into()
}

fn default_min_n() -> u64 {
    30
}

impl Default for ProjectSettings {
    fn default() -> Self {
        ProjectSettings {
            name: None,
            timezone: default_tz(),
            min_n: default_min_n(),
        }
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

impl ProjectConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, IngestError> {
        let text = std::fs::read_to_string(path).map_err(|e| IngestError::Io {
            path: path.to_path_buf(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "config file not found; create one (see docs/config.md) or pass data files directly"
                    .into()
            } else {
                e.to_string()
            },
        })?;
        let mut cfg: ProjectConfig = toml::from_str(&text).map_err(|e| IngestError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Checks settings that can be wrong independently of the data; `path` names the config in
    /// messages.
    pub fn validate(&self, path: &Path) -> Result<(), IngestError> {
        let bad = |message: String| IngestError::Config {
            path: path.to_path_buf(),
            message,
        };
        crate::timestamp::parse_tz(&self.project.timezone).map_err(bad)?;
        for s in &self.sources {
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

    /// Absolute path of a source.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }
}
