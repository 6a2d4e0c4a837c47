//! # cxray-report
//!
//! Renders a [`ReportDocument`] — the report computed by `cxray-insights` plus data quality — as
//! terminal text, Markdown, or one self-contained HTML file with inline SVG charts and CSS (no
//! JavaScript, no network), and every other analysis result as a summary table, JSON or CSV
//! ([`print`]). Nothing here computes statistics; the JSON format is the document itself.

mod html;
mod insights;
pub mod print;
mod svg;
mod text;
mod web;

use cxray_insights::Report;
use serde::Serialize;

pub use html::{REPORT_CSS, render_html, render_html_sections};
pub use svg::coverage_chart;
pub use text::{render_markdown, render_text};
pub use web::{drivers_html, explain_html, linkage_html};

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

/// A section of the report that could not be computed, and why. Shown at the top of every
/// format, so that a missing section is never mistaken for a quiet one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportWarning {
    /// The section, as a reader knows it ("Churn and retention").
    pub section: String,
    /// Why it is missing.
    pub message: String,
}

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportDocument {
    pub title: String,
    pub report: Report,
    pub data_quality: DataQuality,
    /// Sections that could not be computed.
    pub warnings: Vec<ReportWarning>,
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

/// The note of a row whose interval covers less than its level at its size (the calibration
/// study's note, `docs/calibration.md`), if it has one.
pub(crate) fn undercovers(r: &cxray_insights::MetricRow) -> Option<&str> {
    r.note
        .as_deref()
        .filter(|n| cxray_stats::estimate::small_sample::is_note(n))
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
    } else if a >= 0.1 || a == 0.0 {
        format!("{x:.2}")
    } else {
        // Two significant digits for small rates such as a K-factor of 0.0024.
        let decimals = (1 - a.log10().floor() as i64).clamp(2, 12) as usize;
        format!("{x:.decimals$}")
    }
}

/// A duration in seconds in the unit a reader thinks in: "45 s", "12 min", "5.3 h", "2.1 days".
pub(crate) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "—".into();
    }
    let a = seconds.abs();
    if a < 120.0 {
        format!("{seconds:.0} s")
    } else if a < 600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else if a < 7200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if a < 172_800.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1} days", seconds / 86_400.0)
    }
}

/// A value of a metric whose label says what it is: durations for seconds, else [`num`].
pub(crate) fn value_of(label: &str, x: f64) -> String {
    if label.contains("seconds") {
        duration(x)
    } else if label.starts_with("tickets") {
        format!("{x:.0}")
    } else {
        num(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_well() {
        assert_eq!(num(0.0024), "0.0024");
        assert_eq!(num(0.5), "0.50");
        assert_eq!(num(0.0), "0.00");
        assert_eq!(num(-0.031), "-0.031");
        assert_eq!(duration(45.0), "45 s");
        assert_eq!(duration(5090.0), "85 min");
        assert_eq!(duration(557.0), "9.3 min");
        assert_eq!(duration(65846.0), "18.3 h");
        assert_eq!(duration(3.0 * 86_400.0), "3.0 days");
        assert_eq!(value_of("median seconds", 90.0), "90 s");
        assert_eq!(value_of("% resolved", 90.0), "90.0");
        assert_eq!(value_of("tickets open at the end of the period", 9.0), "9");
    }
}
