//! How each result prints: every output implements [`cxray_report::print::Printable`] with the
//! renderers of `cxray-report`, so that the CLI (and the server's exports) print all of them
//! through one path.

use std::io;

use cxray_report::print::{self as p, Printable};

use crate::alerts::AlertsOutput;
use crate::customer::Timeline;
use crate::drivers::DriversOutput;
use crate::explain::ExplainOutput;
use crate::ingest::IngestOutput;
use crate::linkage::LinkageOutput;
use crate::metrics::MetricsOutput;
use crate::nonresponse::NonResponseOutput;
use crate::retention::RetentionOutput;
use crate::text::{TextEvalOutput, TextOutput};

impl MetricsOutput {
    fn view<'a>(&'a self, labels: &'a [(String, String, String)]) -> p::MetricsTable<'a> {
        p::MetricsTable {
            rows: &self.rows,
            by: &self.settings.by,
            confidence: self.settings.confidence,
            min_n: self.settings.min_n,
            labels,
            counts: (
                self.input.rows_read,
                self.input.rows_accepted,
                self.input.rows_rejected,
            ),
        }
    }

    fn label_triples(&self) -> Vec<(String, String, String)> {
        self.labels
            .iter()
            .map(|l| {
                (
                    l.name.clone(),
                    l.display_name.clone(),
                    l.value_label.clone(),
                )
            })
            .collect()
    }
}

impl Printable for MetricsOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::metrics_table(w, &self.view(&self.label_triples()))
    }

    fn csv(&self, w: &mut Vec<u8>) -> Option<Result<(), csv::Error>> {
        Some(p::metrics_csv(w, &self.view(&self.label_triples())))
    }

    fn has_csv(&self) -> bool {
        true
    }
}

impl Printable for RetentionOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::retention_table(w, &self.retention)
    }

    fn csv(&self, w: &mut Vec<u8>) -> Option<Result<(), csv::Error>> {
        Some(p::retention_csv(w, &self.retention))
    }

    fn has_csv(&self) -> bool {
        true
    }
}

impl Printable for LinkageOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::linkage_table(w, &self.linkage)
    }
}

impl Printable for NonResponseOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::nonresponse_table(
            w,
            &self.nonresponse,
            self.unmatched_answers,
            self.window_days,
        )
    }
}

impl Printable for DriversOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::drivers_table(w, &self.drivers)
    }
}

impl Printable for ExplainOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::explain_table(w, &self.explanation)
    }
}

impl Printable for AlertsOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::alerts_table(w, self.fired, &self.results, &self.follow_up)
    }
}

impl Timeline {
    fn lines(&self) -> Vec<p::TimelineLine<'_>> {
        self.interactions
            .iter()
            .map(|i| (i.at.as_str(), i.entity, i.summary.as_str()))
            .collect()
    }
}

impl Printable for Timeline {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::timeline_table(w, &self.customer_id, &self.lines())
    }

    fn csv(&self, w: &mut Vec<u8>) -> Option<Result<(), csv::Error>> {
        Some(p::timeline_csv(w, &self.lines()))
    }

    fn has_csv(&self) -> bool {
        true
    }
}

impl Printable for TextOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::text_summary_table(
            w,
            &p::TextSummary {
                texts: self.rows.len(),
                languages: &self.tallies.languages,
                labels: &self.tallies.labels,
                themes: &self.tallies.themes,
                discovered: &self.discovered,
            },
        )
    }

    fn csv(&self, w: &mut Vec<u8>) -> Option<Result<(), csv::Error>> {
        let rows: Vec<p::TextCsvRow<'_>> = self
            .rows
            .iter()
            .map(|r| p::TextCsvRow {
                line: r.line,
                language: r.language,
                sentiment: r.sentiment,
                label: r.label,
                themes: &r.themes,
                text: &r.text,
            })
            .collect();
        Some(p::text_csv(w, &rows))
    }

    fn has_csv(&self) -> bool {
        true
    }
}

impl Printable for TextEvalOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        p::text_eval_table(w, &self.scores, self.skipped)
    }
}

impl Printable for IngestOutput {
    fn table(&self, w: &mut Vec<u8>) -> io::Result<()> {
        let r = &self.0;
        let lines: Vec<p::IngestLine<'_>> = r
            .sources
            .iter()
            .map(|s| p::IngestLine {
                file: &s.file,
                entity: &s.entity,
                same_as: s.same_as.as_deref(),
                read: s.counts.read,
                accepted: s.counts.accepted,
                rejected: s.counts.rejected,
                duplicates: s.duplicates_in_lake,
                parts: s.parts,
                bytes: s.bytes_written,
                live: s.status == "live",
            })
            .collect();
        p::ingest_table(w, &r.lake, &lines, r.files_in_lake)
    }
}
