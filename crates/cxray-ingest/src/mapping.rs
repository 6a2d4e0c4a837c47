//! From a file's header to the canonical responses: which column is the timestamp, the score,
//! the respondent, which columns are rated questions (wide layout) and which are kept as segment
//! attributes. Explicit mappings from `cxray.toml` win; otherwise canonical names and the
//! headers of common survey tools are recognised, and every inference is reported as a note.

use std::collections::{BTreeMap, HashMap};

use cxray_metrics::MetricCatalog;

use crate::config::{Layout, QuestionConfig, SourceConfig};

/// Canonical response columns that can be mapped from a file.
pub const CANONICAL: [&str; 11] = [
    "response_id",
    "customer_id",
    "submitted_at",
    "metric",
    "score",
    "comment",
    "weight",
    "survey",
    "touchpoint",
    "channel",
    "language",
];

/// The canonical column a header name is read as when the config maps nothing (its name or
/// one of its aliases, trimmed and in any case); `None` for an attribute. A producer that
/// writes attributes as columns (cxray's store) must not use such names.
pub fn canonical_of_header(name: &str) -> Option<&'static str> {
    let lower = name.trim().to_lowercase();
    CANONICAL
        .into_iter()
        .find(|c| *c == lower || aliases(c).contains(&lower.as_str()))
}

/// Header names recognised for a canonical column when the config does not map it.
fn aliases(canon: &str) -> &'static [&'static str] {
    match canon {
        "response_id" => &[
            "response_id",
            "responseid",
            "response id",
            "respondent id",
            "respondent_id",
            "id",
        ],
        "customer_id" => &[
            "customer_id",
            "customer id",
            "customerid",
            "externalreference",
            "external reference",
            "contact_id",
        ],
        "submitted_at" => &[
            "submitted_at",
            "recordeddate",
            "recorded date",
            "submitted at",
            "submit date",
            "date submitted",
            "end date",
            "enddate",
            "timestamp",
            "created_at",
            "date",
        ],
        "metric" => &["metric"],
        "score" => &["score", "rating"],
        "comment" => &["comment", "comments", "feedback", "verbatim"],
        "weight" => &["weight"],
        other => std::slice::from_ref(match other {
            "survey" => &"survey",
            "touchpoint" => &"touchpoint",
            "channel" => &"channel",
            _ => &"language",
        }),
    }
}

/// Question texts that identify a metric in a wide export (several languages).
fn metric_from_question(text: &str) -> Option<&'static str> {
    let t = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if has(&[
        "recommend",
        "aanbevelen",
        "aanraden",
        "empfehlen",
        "recommander",
        "recomendar",
        "preporuč",
        "推荐",
    ]) {
        Some("nps")
    } else if has(&[
        "easy",
        "effort",
        "makkelijk",
        "einfach",
        "facile",
        "fácil",
        "lako",
        "容易",
    ]) {
        Some("ces")
    } else if has(&["satisf", "tevreden", "zufrieden", "zadovolj", "满意"]) {
        Some("csat")
    } else if has(&["star rating", "how many stars"]) {
        Some("stars")
    } else if has(&["complete your task", "task completed", "did you complete"]) {
        Some("task")
    } else {
        None
    }
}

fn is_followup(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "why",
        "reason",
        "comment",
        "tell us more",
        "waarom",
        "warum",
        "pourquoi",
        "por qué",
        "zašto",
        "为什么",
    ]
    .iter()
    .any(|w| t.contains(w))
}

/// Where the metric of a long-layout row comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MetricSource {
    Column(usize),
    Fixed(String),
}

/// A rated question column of a wide layout.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuestionPlan {
    pub column: usize,
    pub metric: String,
    pub comment: Option<usize>,
}

/// How the columns of one file become canonical responses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub layout: Layout,
    pub response_id: Option<usize>,
    pub customer_id: Option<usize>,
    pub submitted_at: usize,
    pub metric: MetricSource,
    pub score: Option<usize>,
    pub comment: Option<usize>,
    pub weight: Option<usize>,
    pub questions: Vec<QuestionPlan>,
    /// (column index, attribute name), including survey/touchpoint/channel/language.
    pub attributes: Vec<(usize, String)>,
    pub notes: Vec<String>,
    /// The file's header, for messages.
    pub column_names: Vec<String>,
}

/// Builds the plan or explains which columns are missing.
pub(crate) fn plan(
    header: &[String],
    src: &SourceConfig,
    catalog: &MetricCatalog,
    delimiter: Option<u8>,
) -> Result<Plan, String> {
    let index: HashMap<&str, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.as_str(), i))
        .collect();
    let lower: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (h.trim().to_lowercase(), i))
        .rev()
        .collect();
    let mut notes = Vec::new();
    let mut mapped: BTreeMap<&str, usize> = BTreeMap::new();
    for (canon, col) in &src.columns {
        if !CANONICAL.contains(&canon.as_str()) {
            return Err(format!(
                "[sources.columns] maps unknown canonical column '{canon}'; canonical columns are {}",
                CANONICAL.join(", ")
            ));
        }
        let Some(&i) = index
            .get(col.as_str())
            .or_else(|| lower.get(&col.trim().to_lowercase()))
        else {
            return Err(missing_message(
                header,
                &[format!("'{col}' (mapped to {canon})")],
                delimiter,
            ));
        };
        mapped.insert(canonical_static(canon), i);
    }
    let explicit_questions = !src.questions.is_empty();
    // Wide layout when configured, or when there is no score column but question texts are
    // recognised.
    let inferred_questions: Vec<QuestionConfig> = if !explicit_questions
        && src.layout == Layout::Long
        && !mapped.contains_key("score")
        && !lower.contains_key("score")
        && !lower.contains_key("rating")
        && src.metric.is_none()
    {
        let mut qs = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if mapped.values().any(|&m| m == i) {
                continue;
            }
            if let Some(m) = metric_from_question(h) {
                let comment = header
                    .get(i + 1)
                    .filter(|next| is_followup(next) && metric_from_question(next).is_none())
                    .cloned();
                qs.push(QuestionConfig {
                    column: h.clone(),
                    metric: m.to_string(),
                    comment,
                });
            }
        }
        for q in &qs {
            notes.push(format!("question '{}' read as {}", q.column, q.metric));
            if let Some(c) = &q.comment {
                notes.push(format!("'{c}' read as the comment on '{}'", q.column));
            }
        }
        qs
    } else {
        vec![]
    };
    let layout = if explicit_questions || !inferred_questions.is_empty() {
        Layout::Wide
    } else {
        src.layout
    };
    let question_cfgs = if explicit_questions {
        &src.questions
    } else {
        &inferred_questions
    };
    let mut questions = Vec::new();
    let mut used: Vec<usize> = Vec::new();
    for q in question_cfgs {
        catalog.get(&q.metric).map_err(|e| e.to_string())?;
        let Some(&i) = index
            .get(q.column.as_str())
            .or_else(|| lower.get(&q.column.trim().to_lowercase()))
        else {
            return Err(missing_message(
                header,
                &[format!("question '{}'", q.column)],
                delimiter,
            ));
        };
        let comment = match &q.comment {
            Some(c) => Some(
                *index
                    .get(c.as_str())
                    .or_else(|| lower.get(&c.trim().to_lowercase()))
                    .ok_or_else(|| {
                        missing_message(header, &[format!("comment column '{c}'")], delimiter)
                    })?,
            ),
            None => None,
        };
        used.push(i);
        used.extend(comment);
        questions.push(QuestionPlan {
            column: i,
            metric: q.metric.clone(),
            comment,
        });
    }
    // Canonical columns by name or alias when not mapped explicitly.
    for canon in CANONICAL {
        if mapped.contains_key(canon) {
            continue;
        }
        if layout == Layout::Wide && matches!(canon, "metric" | "score" | "comment") {
            continue;
        }
        for alias in aliases(canon) {
            if let Some(&i) = lower.get(*alias)
                && !mapped.values().any(|&m| m == i)
                && !used.contains(&i)
            {
                if header[i].trim() != canon {
                    notes.push(format!("column '{}' read as {canon}", header[i]));
                }
                mapped.insert(canon, i);
                break;
            }
        }
    }
    let mut missing = Vec::new();
    if !mapped.contains_key("submitted_at") {
        missing.push("submitted_at (when the answer was given)".to_string());
    }
    let metric = match (mapped.get("metric"), &src.metric) {
        (_, Some(m)) if layout == Layout::Long => {
            catalog.get(m).map_err(|e| e.to_string())?;
            MetricSource::Fixed(m.clone())
        }
        (Some(&i), _) => MetricSource::Column(i),
        (None, None) if layout == Layout::Long => {
            missing.push("metric (or set metric = \"nps\" for a file of one metric)".into());
            MetricSource::Fixed(String::new())
        }
        _ => MetricSource::Fixed(String::new()),
    };
    if layout == Layout::Long && !mapped.contains_key("score") {
        missing.push("score".into());
    }
    if !missing.is_empty() {
        return Err(missing_message(header, &missing, delimiter));
    }
    used.extend(mapped.values().copied());
    let attributes: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter(|(i, _)| {
            !used.contains(i)
                || ["survey", "touchpoint", "channel", "language"]
                    .iter()
                    .any(|c| mapped.get(c) == Some(i))
        })
        .map(|(i, h)| {
            let name = ["survey", "touchpoint", "channel", "language"]
                .iter()
                .find(|c| mapped.get(*c) == Some(&i))
                .map(|c| c.to_string())
                .unwrap_or_else(|| h.trim().to_string());
            (i, name)
        })
        .filter(|(_, name)| !name.is_empty())
        .collect();
    Ok(Plan {
        layout,
        response_id: mapped.get("response_id").copied(),
        customer_id: mapped.get("customer_id").copied(),
        submitted_at: mapped["submitted_at"],
        metric,
        score: mapped.get("score").copied(),
        comment: mapped.get("comment").copied(),
        weight: mapped.get("weight").copied(),
        questions,
        attributes,
        notes,
        column_names: header.to_vec(),
    })
}

fn canonical_static(name: &str) -> &'static str {
    CANONICAL
        .iter()
        .find(|c| **c == name)
        .copied()
        .expect("checked canonical")
}

fn missing_message(header: &[String], missing: &[String], delimiter: Option<u8>) -> String {
    let shown: Vec<String> = header.iter().take(12).map(|h| format!("'{h}'")).collect();
    let mut msg = format!(
        "required column(s) not found: {}. The header has {} column(s): {}{}",
        missing.join(", "),
        header.len(),
        shown.join(", "),
        if header.len() > 12 { ", …" } else { "" }
    );
    if header.len() == 1 {
        let h = &header[0];
        if let Some(d) = [',', ';', '\t', '|'].into_iter().find(|c| h.contains(*c)) {
            msg.push_str(&format!(
                ". The header was not split: the delimiter is probably {:?}, not {:?}; set delimiter = {:?} for this source",
                d,
                delimiter.map(|b| b as char).unwrap_or(','),
                d
            ));
        }
    } else {
        msg.push_str(
            ". Map them in cxray.toml under [sources.columns] (e.g. submitted_at = \"Date\")",
        );
    }
    msg
}
