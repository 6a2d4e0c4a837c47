//! The command line's [`Observer`]: what was read and rejected on standard error, a spinner for
//! long work (hidden when standard error is not a terminal), and phase timings when
//! `CXRAY_TIMING` is set (for benchmarks and profiling).

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use cxray_project::{Observer, SourcesRead, thousands};
use indicatif::{ProgressBar, ProgressStyle};

/// Prints a project's progress on standard error.
pub struct Stderr {
    /// Where the rejects are written (`--rejects`), instead of listing the first few.
    pub rejects_file: Option<PathBuf>,
    timing: bool,
    phases: Mutex<(Vec<String>, Option<ProgressBar>)>,
}

impl Stderr {
    pub fn new(rejects_file: Option<PathBuf>) -> Self {
        Stderr {
            rejects_file,
            timing: std::env::var_os("CXRAY_TIMING").is_some(),
            phases: Mutex::new((Vec::new(), None)),
        }
    }
}

impl Observer for Stderr {
    fn sources_read(&self, read: SourcesRead<'_>) {
        let noun = read.noun;
        for s in read.sources {
            for n in &s.notes {
                eprintln!("note: {}: {n}", s.file);
            }
            let c = &s.counts;
            let mut line = format!(
                "{}: read {} {noun}: {} accepted, {} rejected",
                s.file,
                thousands(c.read),
                thousands(c.accepted),
                thousands(c.rejected)
            );
            if s.duplicates > 0 {
                line.push_str(&format!(
                    " (of which {} duplicate ids)",
                    thousands(s.duplicates)
                ));
            }
            if c.blank > 0 || c.empty_records > 0 {
                line.push_str(&format!(
                    "; {} respondents, {} questions left blank, {} respondents answered none",
                    thousands(c.records),
                    thousands(c.blank),
                    thousands(c.empty_records)
                ));
            }
            eprintln!("{line}");
        }
        if read.rejects.is_empty() {
            return;
        }
        match &self.rejects_file {
            Some(p) => eprintln!("rejected rows written to {}", p.display()),
            None => {
                for r in read.rejects.iter().take(5) {
                    eprintln!("  rejected {r}");
                }
                if read.rejects.len() > 5 {
                    eprintln!(
                        "  … and {} more; write them all with --rejects FILE",
                        thousands(read.rejects.len() as u64 - 5)
                    );
                }
            }
        }
    }

    fn note(&self, message: &str) {
        eprintln!("note: {message}");
    }

    fn started(&self, phase: &str) {
        let mut p = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        p.0.push(phase.to_string());
        match &p.1 {
            Some(pb) => pb.set_message(phase.to_string()),
            None => {
                let pb = ProgressBar::new_spinner();
                pb.set_style(
                    ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                        .expect("valid template"),
                );
                pb.set_message(phase.to_string());
                pb.enable_steady_tick(Duration::from_millis(120));
                p.1 = Some(pb);
            }
        }
    }

    fn finished(&self, phase: &str, elapsed: Duration) {
        let mut p = self.phases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = p.0.iter().rposition(|x| x == phase) {
            p.0.remove(i);
        }
        match p.0.last().cloned() {
            Some(outer) => {
                if let Some(pb) = &p.1 {
                    pb.set_message(outer);
                }
            }
            None => {
                if let Some(pb) = p.1.take() {
                    pb.finish_and_clear();
                }
            }
        }
        if self.timing {
            eprintln!(
                "timing: {phase} {:.3} s{}",
                elapsed.as_secs_f64(),
                resident()
                    .map(|m| format!(" (resident {m} MiB)"))
                    .unwrap_or_default()
            );
        }
    }
}

/// The process's resident memory in MiB (Linux), for the timing lines.
fn resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}
