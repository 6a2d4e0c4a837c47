//! cxray's embedded store: the answers and journey events that `cxray serve` collects, in one
//! SQLite file that survives a crash like a database does.
//!
//! ```text
//!  request threads / tasks              writer thread (owns the only write connection)
//!  ───────────────────────              ──────────────────────────────────────────────
//!  validate ─▶ submit(batch) ──queue──▶ take every waiting batch (up to GROUP_LIMIT)
//!                                        BEGIN IMMEDIATE
//!                                          SAVEPOINT per batch: all of it or none of it
//!                                        COMMIT (WAL, synchronous = FULL: on disk)
//!  await receipt ◀────────────────────── reply to each batch, only now
//! ```
//!
//! - **Acknowledged means stored**: a batch's [`Receipt`] is sent after the commit that holds
//!   it has returned, and the commit is synced to disk (`synchronous = FULL` in WAL mode), so
//!   an acknowledged write survives `kill -9` and a power cut (tested by killing a writing
//!   process, `tests/durability.rs`).
//! - **Group commit**: concurrent batches share one transaction and one sync, each in its own
//!   savepoint, so one bad batch fails alone and the others commit.
//! - **Idempotent**: a record carries its own id (`response_id`, `event_id`). Sending it again
//!   with the same content is a replay (acknowledged, nothing written); with other content it
//!   is a [`WriteError::Conflict`] and nothing of its batch is written.
//! - **Versioned schema**: migrations run in order when the file is opened; a file written by a
//!   newer cxray is refused rather than misread, and a SQLite file of another application is
//!   never touched.
//! - **Readers never wait for the writer** (WAL): [`Store::reader`] opens a read-only
//!   connection that sees the last commit.
//!
//! ```
//! use cxray_store::{NewAnswer, NewResponse, Record, Store};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path().join("cxray.db"))?;
//! let answer = Record::Response(NewResponse {
//!     response_id: "R1".into(),
//!     customer_id: Some("C1".into()),
//!     submitted_at: 1_735_689_600_000_000, // 2025-01-01T00:00:00Z in µs
//!     answers: vec![NewAnswer { metric: "nps".into(), score: Some(9.0), comment: None }],
//!     ..Default::default()
//! });
//! let receipt = store.write_blocking(vec![answer.clone()])?;
//! assert_eq!((receipt.stored, receipt.replayed), (1, 0));
//! // The same answer again is a replay: acknowledged, not stored twice.
//! assert_eq!(store.write_blocking(vec![answer])?.replayed, 1);
//! assert_eq!(store.reader()?.counts()?.responses, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cases;
mod decisions;
mod export;
mod keys;
mod outbox;
mod privacy;
mod read;
mod records;
mod schema;
mod source;
mod team;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;

pub use cases::{
    Case, CaseAction, CaseFilter, CaseNote, CaseRule, CaseStatus, CaseTimes, MAX_NOTE_CHARS,
};
pub use decisions::{Decision, DecisionBatch, Funnel};
pub use export::{CsvTable, EVENT_COLUMNS, ExportFormat, ExportedFile, RESPONSE_COLUMNS};
pub use keys::{ApiKey, Keys, NewKey, Scope, key_digest, key_prefix};
pub use outbox::{OutboxEmail, Queued};
pub use privacy::{CustomerCase, CustomerData, CustomerWebhook, Erased, forget_customer};
pub use read::{Counts, Invitation, Reader, StoredEvent, StoredResponse, SurveyProgress};
pub use records::{
    MAX_ATTRIBUTE_VALUE, MAX_ATTRIBUTES, NewAnswer, NewEvent, NewResponse, PAGE_PREFIXES, Record,
    attribute_problem, check as check_records,
};
pub use schema::SCHEMA_VERSION;
pub use source::{StoreSource, is_sqlite_file};
pub use team::{
    LOCKOUT_MINUTES, Login, LoginCheck, MAX_FAILURES, MIN_PASSWORD_CHARS, Member, NewSession,
    PendingLogin, Role, SESSION_IDLE_HOURS, SESSION_MAX_DAYS, Session, member_name_problem,
    new_password, password_problem,
};
pub use webhooks::{NewWebhook, Notices, StatusCounts, WEBHOOK_BACKOFF_SECONDS, Webhook};

/// Most batches committed together in one transaction.
pub const GROUP_LIMIT: usize = 1024;

/// Batches waiting for the writer before [`Store::write`] answers [`WriteError::Busy`] (a
/// server turns it into 503 with Retry-After rather than queueing without bound).
pub const QUEUE_LIMIT: usize = 8192;

/// Why the store could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error(
        "{path} was written by a newer cxray (schema version {found}; this one knows up to \
         {known}): upgrade cxray to use it"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "{path} is a SQLite file of another application (it has tables but is not a cxray \
         store): give the path of a cxray store or of a file to create"
    )]
    Foreign { path: PathBuf },
    #[error("reading the store: {0}")]
    Read(String),
}

/// Why a batch was not stored. Nothing of a failed batch is written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// A record is not acceptable (the server answers 422 with the reason).
    #[error("record {index}: {reason}")]
    Invalid { index: usize, reason: String },
    /// A record's id was stored before with different content (409).
    #[error(
        "record {index}: {kind} {id:?} was stored before with different content; send it with \
         a new id, or unchanged to repeat it"
    )]
    Conflict {
        index: usize,
        kind: &'static str,
        id: String,
    },
    /// Too many batches wait for the writer (503, retry).
    #[error("the store is busy ({QUEUE_LIMIT} batches waiting); retry shortly")]
    Busy,
    /// The database failed to write or commit (500); nothing of the batch is stored.
    #[error("the store could not commit: {0}")]
    Storage(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
}

/// What a stored batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Receipt {
    /// Records written.
    pub stored: u32,
    /// Records already stored with the same content (replays), not written again.
    pub replayed: u32,
}

/// Counters of the writer, for `/metrics` and the tests.
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Batches acknowledged.
    pub batches: AtomicU64,
}

struct Job {
    batch: Vec<Record>,
    reply: tokio::sync::oneshot::Sender<Result<Receipt, WriteError>>,
}

/// A store open for writing: one per file and process (the writer holds SQLite's write lock
/// only while it commits, but two writers would each group their own requests).
pub struct Store {
    path: PathBuf,
    jobs: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<()>>,
    stats: Arc<WriterStats>,
}

/// A batch handed to the writer; its receipt arrives after the commit.
pub struct Pending(tokio::sync::oneshot::Receiver<Result<Receipt, WriteError>>);

impl Pending {
    /// Waits for the commit (from async code).
    pub async fn receipt(self) -> Result<Receipt, WriteError> {
        self.0.await.unwrap_or(Err(WriteError::Closed))
    }

    /// Waits for the commit, blocking the thread (not from inside an async runtime).
    pub fn wait(self) -> Result<Receipt, WriteError> {
        self.0.blocking_recv().unwrap_or(Err(WriteError::Closed))
    }
}

impl Store {
    /// Opens the store at `path`, creating the file and running the migrations it lacks, and
    /// starts its writer.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = schema::open_for_writing(&path)?;
        let stats = Arc::new(WriterStats::default());
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE_LIMIT);
        let writer = {
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("cxray-store-writer".into())
                .spawn(move || writer::run(conn, rx, &stats))
                .map_err(|e| StoreError::Open {
                    path: path.clone(),
                    message: format!("starting the writer: {e}"),
                })?
        };
        Ok(Store {
            path,
            jobs: Some(tx),
            writer: Some(writer),
            stats,
        })
    }

    /// The file of the store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks `batch` and queues it for the writer; never blocks. The receipt comes after the
    /// commit. A full queue is [`WriteError::Busy`].
    pub fn submit(&self, batch: Vec<Record>) -> Result<Pending, WriteError> {
        let (job, pending) = self.job(batch)?;
        match self.queue()?.try_send(job) {
            Ok(()) => Ok(pending),
            Err(TrySendError::Full(_)) => Err(WriteError::Busy),
            Err(TrySendError::Disconnected(_)) => Err(WriteError::Closed),
        }
    }

    /// Stores `batch` (all of it or none of it) and answers after the commit.
    pub async fn write(&self, batch: Vec<Record>) -> Result<Receipt, WriteError> {
        self.submit(batch)?.receipt().await
    }

    /// [`Store::write`] for threads outside an async runtime: waits for room in the queue
    /// instead of answering Busy.
    pub fn write_blocking(&self, batch: Vec<Record>) -> Result<Receipt, WriteError> {
        let (job, pending) = self.job(batch)?;
        self.queue()?.send(job).map_err(|_| WriteError::Closed)?;
        pending.wait()
    }

    /// A checked batch as a job for the writer, with the receiver of its outcome.
    fn job(&self, batch: Vec<Record>) -> Result<(Job, Pending), WriteError> {
        records::check(&batch)?;
        let (reply, rx) = tokio::sync::oneshot::channel();
        Ok((Job { batch, reply }, Pending(rx)))
    }

    fn queue(&self) -> Result<&SyncSender<Job>, WriteError> {
        self.jobs.as_ref().ok_or(WriteError::Closed)
    }

    /// A read-only view of the last commit; readers and the writer never wait for each other.
    pub fn reader(&self) -> Result<Reader, StoreError> {
        Reader::open(&self.path)
    }

    /// The writer's counters.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.stats.commits.load(Ordering::Relaxed),
            self.stats.batches.load(Ordering::Relaxed),
        )
    }
}

impl Drop for Store {
    /// Lets the writer commit what is queued, then stops it.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Copies the store at `source` into a new file `target` through SQLite's online backup: a
/// consistent snapshot of the last commit, taken while a server goes on writing (WAL readers
/// do not block the writer). The copy is itself a store: restoring is serving it (or copying
/// it back while no server runs). Returns the copy's counts.
pub fn backup(source: &Path, target: &Path) -> Result<Counts, StoreError> {
    let open = |message: String| StoreError::Open {
        path: target.to_path_buf(),
        message,
    };
    let src = schema::open_for_reading(source)?;
    // Made here, private and new: an existing file (even one made meanwhile) is never
    // overwritten.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(target).map_err(|e| {
        open(if e.kind() == std::io::ErrorKind::AlreadyExists {
            "the file exists; give the backup a new name (a backup never overwrites)".into()
        } else {
            e.to_string()
        })
    })?;
    let mut dst = rusqlite::Connection::open(target).map_err(|e| open(e.to_string()))?;
    {
        let backup =
            rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| open(e.to_string()))?;
        // All pages in one step: one read transaction, so one consistent snapshot (a copy in
        // several steps restarts whenever the server commits between them).
        let mut waited = 0;
        loop {
            use rusqlite::backup::StepResult;
            if backup.step(-1).map_err(|e| open(e.to_string()))? == StepResult::Done {
                break;
            }
            waited += 1;
            if waited > 2000 {
                return Err(open("the store stayed locked for 10 s".into()));
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    let check: String = dst
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| open(e.to_string()))?;
    if check != "ok" {
        return Err(open(format!(
            "the copy fails SQLite's integrity check: {check}"
        )));
    }
    drop(dst);
    Reader::open_file(target)?.counts()
}
