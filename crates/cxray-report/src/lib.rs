//! # cxray-report
//!
//! Renders a [`ReportDocument`] — the report computed by `cxray-insights` plus data quality — as
//! terminal text, Markdown, or one self-contained HTML file with inline SVG charts and CSS (no
//! JavaScript, no network). Nothing here computes statistics; the JSON format is the document
//! itself.

mod html;
mod svg;
mod text;

use cxray_insights::Report;
use serde::Serialize;

pub use html::render_html;
pub use text::{render_markdown, render_text};

/// Row counts and coverage of one input source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceQuality {
    pub file: String,
    pub rows_read: u64,
    pub rows_accepted: u64,
    pub rows_rejected: u64,
    pub duplicates: u64,
    pub first_date: Option<String>,
    pub last_date: Option<String>,
    pub notes: Vec<String>,
}

/// How many answers lack a value for a segment dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissingSegment {
    pub dimension: String,
    pub missing: u64,
    pub total: u64,
}

/// Data-quality section.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct DataQuality {
    pub sources: Vec<SourceQuality>,
    /// (reason, count), most frequent first.
    pub reject_reasons: Vec<(String, u64)>,
    pub missing_segments: Vec<MissingSegment>,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDocument {
    pub title: String,
    pub report: Report,
    pub data_quality: DataQuality,
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A number with the precision a reader needs.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}
