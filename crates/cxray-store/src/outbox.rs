//! The outbox: invitation emails, written in the transaction that decides the invitation (so
//! that an invitation is never decided without its email, nor an email queued without its
//! decision) and sent afterwards by the server's mailer, which records each attempt here. An
//! email waits in the outbox across restarts until it is sent, refused for good by the mail
//! server, out of attempts, or past its link's expiry.
//!
//! ```text
//!  pending ──sent──▶ sent
//!     │ └─temporary failure: attempts + 1, next attempt later (back-off)─┐
//!     │ ◀────────────────────────────────────────────────────────────────┘
//!     ├─permanent failure, or no attempts left──▶ failed
//!     └─link expired before it could go──▶ expired
//! ```

use rusqlite::{OptionalExtension, params};

use crate::{DecisionBatch, Keys, Reader, StoreError};

/// An email to send.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxEmail {
    /// The invitation it carries (one email per invitation).
    pub invitation_id: String,
    pub customer_id: Option<String>,
    /// The address it goes to.
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    /// The unsubscribe URL (`List-Unsubscribe`).
    pub unsubscribe: Option<String>,
    /// Not sent before this time (µs): the invitation's send time (a delay, quiet hours).
    pub not_before: i64,
    /// Not sent after this time (µs): when its link expires.
    pub expires_at: i64,
}

/// An email of the outbox with its state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Queued {
    #[serde(flatten)]
    pub email: OutboxEmail,
    /// `pending`, `sent`, `failed` or `expired`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is tried next (µs), while pending.
    pub next_attempt: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub sent_at: Option<i64>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

const COLUMNS: &str = "invitation_id, customer_id, recipient, subject, text_body, html_body, \
                       unsubscribe, queued_at, expires_at, status, attempts, next_attempt, \
                       last_error, sent_at";

fn queued(r: &rusqlite::Row<'_>) -> rusqlite::Result<Queued> {
    Ok(Queued {
        email: OutboxEmail {
            invitation_id: r.get(0)?,
            customer_id: r.get(1)?,
            recipient: r.get(2)?,
            subject: r.get(3)?,
            text_body: r.get(4)?,
            html_body: r.get(5)?,
            unsubscribe: r.get(6)?,
            not_before: r.get(7)?,
            expires_at: r.get(8)?,
        },
        status: r.get(9)?,
        attempts: r.get::<_, i64>(10)? as u32,
        next_attempt: r.get(11)?,
        last_error: r.get(12)?,
        sent_at: r.get(13)?,
    })
}

impl DecisionBatch<'_> {
    /// Queues the email of an invitation recorded in this batch (an email already queued for
    /// the invitation is kept).
    pub fn queue_email(&self, e: &OutboxEmail) -> Result<(), StoreError> {
        insert_email(&self.tx, e)
    }
}

/// Queues an email (one already queued under the same id is kept).
pub(crate) fn insert_email(conn: &rusqlite::Connection, e: &OutboxEmail) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO outbox (invitation_id, customer_id, recipient, subject, text_body,
            html_body, unsubscribe, queued_at, expires_at, status, attempts, next_attempt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'pending', 0, ?8)
         ON CONFLICT DO NOTHING",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.invitation_id,
            e.customer_id,
            e.recipient,
            e.subject,
            e.text_body,
            e.html_body,
            e.unsubscribe,
            e.not_before,
            e.expires_at
        ])
    })
    .map(|_| ())
    .map_err(err)
}

impl Keys {
    /// Pending emails whose next attempt is due at `now` (µs), soonest first.
    pub fn due_emails(&self, now: i64, limit: usize) -> Result<Vec<Queued>, StoreError> {
        let mut s = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt <= ?1
                 ORDER BY next_attempt, invitation_id LIMIT ?2"
            ))
            .map_err(err)?;
        let rows = s
            .query_map(params![now, limit as i64], queued)
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// When the next pending email is due (µs), if any is.
    pub fn next_email_due(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT min(next_attempt) FROM outbox WHERE status = 'pending'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(err)
    }

    /// Records an attempt at `now` (µs): sent (`Ok`), or failed with its error and, when it is
    /// tried again, the time of the next attempt (none: failed for good). Only a pending email
    /// changes (an email erased meanwhile stays erased).
    pub fn email_attempted(
        &self,
        invitation_id: &str,
        now: i64,
        outcome: Result<(), (&str, Option<i64>)>,
    ) -> Result<(), StoreError> {
        let done = match outcome {
            Ok(()) => self
                .conn
                .prepare_cached(
                    "UPDATE outbox SET status = 'sent', attempts = attempts + 1, sent_at = ?2,
                     last_error = NULL WHERE invitation_id = ?1 AND status = 'pending'",
                )
                .and_then(|mut s| s.execute(params![invitation_id, now])),
            Err((error, Some(next))) => self
                .conn
                .prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3
                     WHERE invitation_id = ?1 AND status = 'pending'",
                )
                .and_then(|mut s| s.execute(params![invitation_id, error, next])),
            Err((error, None)) => self
                .conn
                .prepare_cached(
                    "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?2
                     WHERE invitation_id = ?1 AND status = 'pending'",
                )
                .and_then(|mut s| s.execute(params![invitation_id, error])),
        };
        done.map(|_| ()).map_err(err)
    }

    /// Marks pending emails whose link expired at `now` as expired (never sent: the link
    /// would not open), and says how many.
    pub fn expire_emails(&self, now: i64) -> Result<u64, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1",
                [now],
            )
            .map(|n| n as u64)
            .map_err(err)
    }
}

impl Reader {
    /// The outbox, oldest first: of one customer, or with one status, when given.
    pub fn outbox(
        &self,
        customer_id: Option<&str>,
        status: Option<&str>,
    ) -> Result<Vec<Queued>, StoreError> {
        let mut s = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM outbox
                 WHERE (?1 IS NULL OR customer_id = ?1) AND (?2 IS NULL OR status = ?2)
                 ORDER BY queued_at, invitation_id"
            ))
            .map_err(err)?;
        let rows = s
            .query_map(params![customer_id, status], queued)
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Emails per status.
    pub fn outbox_counts(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut s = self
            .conn
            .prepare("SELECT status, count(*) FROM outbox GROUP BY status ORDER BY status")
            .map_err(err)?;
        let rows = s
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }
}
