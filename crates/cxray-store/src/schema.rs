//! The store's schema and its migrations. The file's `user_version` is the number of
//! migrations applied; each runs once, in order, in a transaction with the version bump, so a
//! crash during an upgrade leaves the file at the old version, not half-way. `application_id`
//! marks the file as a cxray store.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// `PRAGMA application_id` of a cxray store ("CXRY").
pub const APPLICATION_ID: i64 = 0x4358_5259;

/// The migrations, in order: (what it adds, SQL). Append only; never edit a released one.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "responses with their answers, journey events",
        "CREATE TABLE responses (
        id INTEGER PRIMARY KEY,
        response_id TEXT NOT NULL UNIQUE,
        survey TEXT,
        invitation_id TEXT,
        customer_id TEXT,
        submitted_at INTEGER NOT NULL,
        channel TEXT,
        touchpoint TEXT,
        language TEXT,
        attributes TEXT NOT NULL,
        digest BLOB NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX responses_by_time ON responses (submitted_at);
    CREATE INDEX responses_by_customer ON responses (customer_id, submitted_at);
    CREATE TABLE answers (
        response INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        score REAL,
        comment TEXT,
        PRIMARY KEY (response, metric)
    ) STRICT, WITHOUT ROWID;
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        customer_id TEXT,
        session_id TEXT,
        step TEXT NOT NULL,
        at INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        digest BLOB NOT NULL,
        received_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX events_by_customer ON events (customer_id, at);",
    ),
    (
        "API keys (their SHA-256, never the key)",
        "CREATE TABLE api_keys (
        prefix TEXT PRIMARY KEY,
        digest BLOB NOT NULL UNIQUE,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    ) STRICT;",
    ),
    (
        "settings of the server (the secret that signs survey links)",
        "CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) STRICT;",
    ),
    (
        "surveys made through the admin API (their definition as JSON)",
        "CREATE TABLE surveys (
        id TEXT PRIMARY KEY,
        definition TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;",
    ),
    (
        "the log of erasures (when, and how many rows; never whose)",
        "CREATE TABLE erasures (
        at INTEGER NOT NULL,
        responses INTEGER NOT NULL,
        answers INTEGER NOT NULL,
        events INTEGER NOT NULL
    ) STRICT;",
    ),
    (
        "invitations: the personal survey links made, for response rates",
        "CREATE TABLE invitations (
        invitation_id TEXT PRIMARY KEY,
        survey TEXT NOT NULL,
        customer_id TEXT,
        language TEXT,
        sent_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX invitations_by_customer ON invitations (customer_id, sent_at);
    ALTER TABLE erasures ADD COLUMN invitations INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        "decisions: why each event did or did not invite its customer",
        "CREATE TABLE decisions (
        decision_id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        customer_id TEXT,
        survey TEXT NOT NULL,
        decided_at INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT NOT NULL,
        invitation_id TEXT,
        link TEXT
    ) STRICT;
    CREATE INDEX decisions_by_customer ON decisions (customer_id, decided_at);
    ALTER TABLE erasures ADD COLUMN decisions INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        "suppressions: customers never to be invited (unsubscribed, asked not to be contacted)",
        "CREATE TABLE suppressions (
        customer_id TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at INTEGER NOT NULL
    ) STRICT;",
    ),
    (
        "outbox: invitation emails and their delivery attempts",
        "CREATE TABLE outbox (
        invitation_id TEXT PRIMARY KEY,
        customer_id TEXT,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        text_body TEXT NOT NULL,
        html_body TEXT NOT NULL,
        unsubscribe TEXT,
        queued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'expired')),
        attempts INTEGER NOT NULL,
        next_attempt INTEGER NOT NULL,
        last_error TEXT,
        sent_at INTEGER
    ) STRICT;
    CREATE INDEX outbox_due ON outbox (status, next_attempt);
    CREATE INDEX outbox_by_customer ON outbox (customer_id);
    ALTER TABLE erasures ADD COLUMN outbox INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        "invitations.touchpoint: the step that triggered an invitation (per-touchpoint rule)",
        "ALTER TABLE invitations ADD COLUMN touchpoint TEXT;
    CREATE INDEX invitations_by_touchpoint ON invitations (customer_id, touchpoint, sent_at);",
    ),
    (
        "triggers made through the admin API (their definition as JSON), one per touchpoint and survey",
        "CREATE TABLE triggers (
        touchpoint TEXT NOT NULL,
        survey TEXT NOT NULL,
        definition TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (touchpoint, survey)
    ) STRICT;",
    ),
    (
        "invitations by survey and time, for daily budgets (a budget counted today's invitations \
         by reading them all: 1M email events took 298 s)",
        "CREATE INDEX invitations_by_survey ON invitations (survey, sent_at);",
    ),
    (
        "responses by invitation and decisions by survey, for the funnel of GET /api/v1/decisions",
        "CREATE INDEX responses_by_invitation ON responses (invitation_id);
    CREATE INDEX decisions_by_survey ON decisions (survey, invitation_id);",
    ),
    (
        "decisions by time, for the pages of GET /api/v1/decisions",
        "CREATE INDEX decisions_by_time ON decisions (decided_at, decision_id);",
    ),
    (
        "the team of the web app: members (argon2id password hashes) and sessions (SHA-256)",
        "CREATE TABLE members (
        name TEXT PRIMARY KEY COLLATE NOCASE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin')),
        password TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        failures INTEGER NOT NULL,
        locked_until INTEGER
    ) STRICT;
    CREATE TABLE sessions (
        digest BLOB PRIMARY KEY,
        member TEXT NOT NULL COLLATE NOCASE REFERENCES members (name) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_member ON sessions (member);",
    ),
    (
        "cases: the closed loop with unhappy customers, opened with their answer (case_rules)",
        "CREATE TABLE case_rules (
        metric TEXT PRIMARY KEY,
        max_score REAL NOT NULL,
        target_hours REAL NOT NULL,
        max_age_days REAL NOT NULL
    ) STRICT;
    CREATE TABLE cases (
        id INTEGER PRIMARY KEY,
        response INTEGER NOT NULL REFERENCES responses (id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        score REAL NOT NULL,
        opened_at INTEGER NOT NULL,
        due_at INTEGER NOT NULL,
        owner TEXT,
        status TEXT NOT NULL CHECK (status IN ('new', 'contacted', 'resolved', 'wont_fix')),
        contacted_at INTEGER,
        closed_at INTEGER,
        reminded_at INTEGER,
        UNIQUE (response, metric)
    ) STRICT;
    CREATE INDEX cases_by_status ON cases (status, due_at);
    CREATE INDEX cases_by_owner ON cases (owner, status, due_at);
    CREATE TABLE case_notes (
        case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        author TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL
    ) STRICT;
    CREATE INDEX case_notes_by_case ON case_notes (case_id, at);",
    ),
    (
        "webhooks (a persistent outbox of signed deliveries, the alerts already sent); failed \
         logins per name and address (a lockout by one address does not lock the member out \
         everywhere); cases in the erasure log",
        "CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        endpoint TEXT NOT NULL,
        event TEXT NOT NULL,
        customer_id TEXT,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        delivered_at INTEGER
    ) STRICT;
    CREATE INDEX webhooks_due ON webhooks (status, next_attempt);
    CREATE INDEX webhooks_by_time ON webhooks (created_at);
    CREATE INDEX webhooks_by_customer ON webhooks (customer_id);
    CREATE TABLE alerts_sent (
        rule TEXT NOT NULL,
        segment TEXT NOT NULL,
        period TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (rule, segment, period)
    ) STRICT;
    CREATE TABLE login_failures (
        name TEXT NOT NULL COLLATE NOCASE,
        address TEXT NOT NULL,
        failures INTEGER NOT NULL,
        locked_until INTEGER,
        last_at INTEGER NOT NULL,
        PRIMARY KEY (name, address)
    ) STRICT;
    ALTER TABLE erasures ADD COLUMN cases INTEGER NOT NULL DEFAULT 0;",
    ),
    (
        "cases.announced_at: each case marked when its webhook is stored (a mark of the last \
         case id seen skipped cases whose id SQLite reused after an erasure)",
        "ALTER TABLE cases ADD COLUMN announced_at INTEGER;
    CREATE INDEX cases_to_announce ON cases (id) WHERE announced_at IS NULL;",
    ),
];

/// The schema version this build writes: the number of migrations.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn open_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The write connection: WAL, every commit synced (`synchronous = FULL`), foreign keys on,
/// the schema brought up to date.
pub(crate) fn open_for_writing(path: &Path) -> Result<Connection, StoreError> {
    create_private(path).map_err(|e| open_error(path, e))?;
    let mut conn = Connection::open(path).map_err(|e| open_error(path, e))?;
    let err = |e: rusqlite::Error| open_error(path, e);
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    identify(&conn, path)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_error(
            path,
            format!("the file system does not support the write-ahead log (journal mode {mode})"),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(err)?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(err)?;
    // Content freed by any change (a row updated in place, a revision, an email's attempts)
    // is zeroed, not left in the page's free space: an erasure must leave nothing of a
    // customer, and an older copy of their row would be left otherwise.
    conn.pragma_update(None, "secure_delete", true)
        .map_err(err)?;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Creates `path` empty, readable and writable by its owner only, when it does not exist: the
/// store holds the answers and the secret that signs survey links, and SQLite gives its WAL
/// and shared-memory files the permissions of the database file.
pub(crate) fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A read-only connection (the file must exist and be a store of a version this build knows).
pub(crate) fn open_for_reading(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| open_error(path, e))?;
    identify(&conn, path)?;
    let version = user_version(&conn).map_err(|e| open_error(path, e))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        return Err(open_error(
            path,
            "the store is from an older cxray; open it once with `cxray serve` to upgrade it",
        ));
    }
    Ok(conn)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Refuses a SQLite file that belongs to another application: a file with tables but
/// without the store's application id.
fn identify(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e: rusqlite::Error| match e {
        // Not a database at all (a CSV given as the store, say).
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
            open_error(path, "not a SQLite file: give the path of a cxray store")
        }
        e => open_error(path, e),
    };
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(err)?;
    if app == APPLICATION_ID {
        return Ok(());
    }
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(err)?;
    if app != 0 || tables > 0 {
        return Err(StoreError::Foreign {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Applies the migrations the file lacks, each with its version bump in one transaction.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e: rusqlite::Error| open_error(path, e);
    let found = user_version(conn).map_err(err)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    for (k, (what, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(sql)
            .map_err(|e| open_error(path, format!("migration {} ({what}): {e}", k + 1)))?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(err)?;
        tx.pragma_update(None, "user_version", (k + 1) as i64)
            .map_err(err)?;
        tx.commit().map_err(err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_gets_every_migration_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let conn = open_for_writing(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        drop(conn);
        // Opening again runs nothing (a second CREATE TABLE would fail).
        let conn = open_for_writing(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        assert!(open_for_reading(&path).is_ok());
    }

    #[test]
    fn newer_and_foreign_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let newer = dir.path().join("newer.db");
        drop(open_for_writing(&newer).unwrap());
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        for r in [open_for_writing(&newer), open_for_reading(&newer)] {
            match r {
                Err(e @ StoreError::NewerSchema { .. }) => {
                    assert!(e.to_string().contains("newer cxray"), "{e}")
                }
                other => panic!("{:?}", other.map(|_| ())),
            }
        }
        let foreign = dir.path().join("other.db");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES ('keep');")
            .unwrap();
        assert!(matches!(
            open_for_writing(&foreign),
            Err(StoreError::Foreign { .. })
        ));
        let kept: String = Connection::open(&foreign)
            .unwrap()
            .query_row("SELECT x FROM notes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "keep");
        let csv = dir.path().join("answers.csv");
        std::fs::write(&csv, "response_id,score\nR1,9\n".repeat(100)).unwrap();
        let e = open_for_writing(&csv).expect_err("refused");
        assert!(e.to_string().contains("not a SQLite file"), "{e}");
    }
}
