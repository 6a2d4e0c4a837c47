//! The text analytics on any file: language, sentiment and themes of one column, and the
//! accuracy of the sentiment against human labels (`cxray_text::eval`).

use std::collections::BTreeMap;
use std::path::Path;

use cxray_ingest::table::{TableOptions, TextTable, read_table};
use cxray_text::eval::{EvalScores, evaluate, parse_labels};
use cxray_text::{Analyzer, DiscoveredTheme};
use serde::Serialize;

use crate::error::{Error, Result};

/// What `analyze_texts` does.
#[derive(Debug, Clone)]
pub struct TextRequest {
    /// The text column.
    pub column: String,
    pub table: TableOptions,
    /// Also find themes in the texts beyond the built-in taxonomy (for the summary).
    pub discover: bool,
}

impl Default for TextRequest {
    fn default() -> Self {
        TextRequest {
            column: "comment".into(),
            table: TableOptions::default(),
            discover: false,
        }
    }
}

/// The analysis of one text.
#[derive(Debug, Clone, Serialize)]
pub struct TextRow {
    /// The line of the file the text starts on.
    pub line: u64,
    pub text: String,
    pub language: &'static str,
    pub sentiment: f64,
    pub label: &'static str,
    pub themes: Vec<String>,
}

/// How many texts have each language, label and theme.
#[derive(Debug, Clone, Default)]
pub struct TextTallies {
    pub languages: BTreeMap<&'static str, usize>,
    pub labels: BTreeMap<&'static str, usize>,
    /// Themes, most frequent first.
    pub themes: Vec<(String, usize)>,
}

/// Every text analysed (the JSON is the list of rows), with tallies and discovered themes for
/// a summary.
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct TextOutput {
    pub rows: Vec<TextRow>,
    #[serde(skip)]
    pub tallies: TextTallies,
    /// Themes found in the texts (when asked for).
    #[serde(skip)]
    pub discovered: Vec<DiscoveredTheme>,
}

/// What `evaluate_texts` compares.
#[derive(Debug, Clone, Default)]
pub struct TextEvalRequest {
    /// The text column (a name, or a 1-based number without a header row).
    pub text: String,
    /// The label column: negative/neutral/positive, -1/0/1, 0/1 or a graded score.
    pub label: String,
    /// A column giving each text's language (default: detected).
    pub language: Option<String>,
    /// Only the development half (`Some(true)`) or the other half (`Some(false)`) of the texts
    /// (a fixed hash of each text; see `cxray_text::eval::in_dev_half`).
    pub dev_half: Option<bool>,
    pub table: TableOptions,
}

/// Accuracy and macro-F1 per language.
#[derive(Debug, Clone)]
pub struct TextEvalOutput {
    pub scores: BTreeMap<String, EvalScores>,
    /// Seconds the analysis took.
    pub seconds: f64,
    /// Rows whose label could not be read.
    pub skipped: usize,
    /// Texts evaluated (not in the JSON).
    pub texts: usize,
}

/// The JSON keeps its published shape: every object's keys in alphabetical order.
impl Serialize for TextEvalOutput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serde_json::json!({
            "scores": self.scores,
            "skipped": self.skipped,
            "seconds": self.seconds,
        })
        .serialize(s)
    }
}

fn read(path: &Path, opts: &TableOptions) -> Result<TextTable> {
    Ok(read_table(path, opts)?)
}

fn column(t: &TextTable, name: &str, path: &Path, field: &'static str) -> Result<usize> {
    t.column(name).ok_or_else(|| {
        Error::usage(format!(
            "{}: no column '{name}'; columns: {}",
            path.display(),
            t.header
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .about(field)
    })
}

/// Language, sentiment and themes of every text of a column of a file.
pub fn analyze_texts(path: &Path, req: &TextRequest) -> Result<TextOutput> {
    let t = read(path, &req.table)?;
    let col = column(&t, &req.column, path, "column")?;
    let analyzer = Analyzer::default();
    let texts: Vec<&str> = t
        .rows
        .iter()
        .map(|r| r.get(col).map(String::as_str).unwrap_or(""))
        .collect();
    let rows: Vec<TextRow> = texts
        .iter()
        .zip(&t.lines)
        .map(|(text, &line)| {
            let r = analyzer.analyze(text);
            TextRow {
                line,
                text: text.to_string(),
                language: r.language,
                sentiment: r.sentiment,
                label: r.label.as_str(),
                themes: r.themes,
            }
        })
        .collect();
    let mut tallies = TextTallies::default();
    let mut themes: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *tallies.languages.entry(r.language).or_default() += 1;
        *tallies.labels.entry(r.label).or_default() += 1;
        for t in &r.themes {
            *themes.entry(t.clone()).or_default() += 1;
        }
    }
    tallies.themes = themes.into_iter().collect();
    tallies.themes.sort_by_key(|x| std::cmp::Reverse(x.1));
    let discovered = if req.discover {
        analyzer.discover_themes(&texts, 5, 15)
    } else {
        vec![]
    };
    Ok(TextOutput {
        rows,
        tallies,
        discovered,
    })
}

/// Accuracy and macro-F1 of the sentiment labels against the human labels of a file.
pub fn evaluate_texts(path: &Path, req: &TextEvalRequest) -> Result<TextEvalOutput> {
    let t = read(path, &req.table)?;
    let tc = column(&t, &req.text, path, "text")?;
    let lc = column(&t, &req.label, path, "label")?;
    let langc = req
        .language
        .as_deref()
        .map(|l| column(&t, l, path, "language"))
        .transpose()?;
    let raw: Vec<String> = t
        .rows
        .iter()
        .map(|r| r.get(lc).cloned().unwrap_or_default())
        .collect();
    let labels = parse_labels(&raw);
    let mut items = Vec::new();
    let mut skipped = 0;
    for (r, l) in t.rows.iter().zip(labels) {
        if let Some(dev) = req.dev_half
            && cxray_text::eval::in_dev_half(r.get(tc).map(String::as_str).unwrap_or("")) != dev
        {
            continue;
        }
        match l {
            Some(l) => items.push((
                r.get(tc).cloned().unwrap_or_default(),
                l,
                langc.and_then(|c| r.get(c).cloned()),
            )),
            None => skipped += 1,
        }
    }
    let analyzer = Analyzer::default();
    let t0 = std::time::Instant::now();
    let scores = evaluate(&analyzer, &items);
    Ok(TextEvalOutput {
        scores,
        seconds: t0.elapsed().as_secs_f64(),
        skipped,
        texts: items.len(),
    })
}
