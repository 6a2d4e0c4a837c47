//! What a project tells its front end while it works: sources read (with their counts and
//! rejects), notes that are not errors, and the phases of long work. The CLI prints them on
//! standard error and draws a spinner; a server logs them; tests stay silent.

use std::time::Duration;

use cxray_ingest::{Reject, SourceReport};

/// One entity (or the responses) read and validated.
#[derive(Debug, Clone, Copy)]
pub struct SourcesRead<'a> {
    /// What a row is, in the plural ("answers", "tickets", "lifecycle events").
    pub noun: &'a str,
    pub sources: &'a [SourceReport],
    pub rejects: &'a [Reject],
}

/// Receives a project's progress. Every method has an empty default.
pub trait Observer: Send + Sync {
    /// Sources were read and validated; counts and rejects are final.
    fn sources_read(&self, _read: SourcesRead<'_>) {}

    /// Something the reader should know that is neither an error nor part of the result
    /// (e.g. a funnel ordered by frequency because no order was configured).
    fn note(&self, _message: &str) {}

    /// A phase of work begins (e.g. "reading tickets", "computing the report").
    fn started(&self, _phase: &str) {}

    /// The phase begun last ended after `elapsed`.
    fn finished(&self, _phase: &str, _elapsed: Duration) {}
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Observer for Silent {}

/// Runs `work` as a phase of `observer`.
pub(crate) fn phase<T>(observer: &dyn Observer, name: &str, work: impl FnOnce() -> T) -> T {
    observer.started(name);
    let t0 = std::time::Instant::now();
    let out = work();
    observer.finished(name, t0.elapsed());
    out
}
