//! A customer's right to their data: everything the store holds about them as JSON, and its
//! erasure. Erasing deletes every row with the customer's id (responses with their answers,
//! journey events, invitations, decisions, invitation emails, a suppression, the cases of their
//! answers with their notes, webhooks about them), overwrites the deleted content (`secure_delete`),
//! and, when no reader holds the write-ahead log, truncates it so that no old page image keeps
//! the data. The erasure is logged with the time and the number of rows, never with whose they
//! were.

use std::path::Path;

use rusqlite::params;

use crate::{Reader, StoreError, StoredEvent, StoredResponse};

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    pub responses: u64,
    pub answers: u64,
    pub events: u64,
    pub invitations: u64,
    pub decisions: u64,
    /// Invitation emails (sent or waiting).
    pub outbox: u64,
    /// Cases of their answers (with their notes).
    pub cases: u64,
    /// Whether the write-ahead log could be truncated (readers, such as a running server's,
    /// can hold it; its old pages are then overwritten as it is reused).
    pub log_truncated: bool,
}

/// Everything the store holds about one customer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerData {
    pub customer_id: String,
    pub responses: Vec<StoredResponse>,
    pub events: Vec<StoredEvent>,
    pub invitations: Vec<crate::Invitation>,
    pub decisions: Vec<crate::Decision>,
    /// The invitation emails, with their text and delivery attempts.
    pub emails: Vec<crate::Queued>,
    /// Why the customer is never invited, if they are suppressed (unsubscribed …).
    pub suppressed: Option<String>,
    /// The cases their answers opened, each with its history (the team's notes about them).
    pub cases: Vec<CustomerCase>,
    /// Webhook messages about them (a case's holds their comment), with their delivery.
    pub webhooks: Vec<CustomerWebhook>,
}

/// A webhook message about the customer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerWebhook {
    #[serde(flatten)]
    pub webhook: crate::Webhook,
    /// What was (or is to be) sent.
    pub payload: String,
}

/// A case of the customer with its notes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CustomerCase {
    #[serde(flatten)]
    pub case: crate::Case,
    pub notes: Vec<crate::CaseNote>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

/// Erases every row about `customer_id` from the store at `path`.
pub fn forget_customer(path: &Path, customer_id: &str) -> Result<Erased, StoreError> {
    if customer_id.trim().is_empty() {
        return Err(StoreError::Read(
            "give the id of the customer to forget".into(),
        ));
    }
    let mut conn = crate::schema::open_for_writing(path)?;
    conn.pragma_update(None, "secure_delete", true)
        .map_err(err)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    let count = |sql: &str| -> Result<u64, StoreError> {
        tx.query_row(sql, [customer_id], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(err)
    };
    let mut erased = Erased {
        responses: count("SELECT count(*) FROM responses WHERE customer_id = ?1")?,
        answers: count(
            "SELECT count(*) FROM answers a JOIN responses r ON r.id = a.response
             WHERE r.customer_id = ?1",
        )?,
        events: count("SELECT count(*) FROM events WHERE customer_id = ?1")?,
        invitations: count("SELECT count(*) FROM invitations WHERE customer_id = ?1")?,
        decisions: count("SELECT count(*) FROM decisions WHERE customer_id = ?1")?,
        outbox: count("SELECT count(*) FROM outbox WHERE customer_id = ?1")?,
        cases: count(
            "SELECT count(*) FROM cases c JOIN responses r ON r.id = c.response
             WHERE r.customer_id = ?1",
        )?,
        log_truncated: false,
    };
    // Answers go with their responses (foreign key, ON DELETE CASCADE).
    tx.execute(
        "DELETE FROM responses WHERE customer_id = ?1",
        [customer_id],
    )
    .map_err(err)?;
    tx.execute("DELETE FROM events WHERE customer_id = ?1", [customer_id])
        .map_err(err)?;
    // A suppression goes too: after an erasure nothing about the customer remains, and the
    // store no longer knows them at all.
    // Cases and their notes go with the responses (cascade); webhooks about the customer
    // (a case's payload holds the comment) go here, delivered or not.
    for table in [
        "invitations",
        "decisions",
        "outbox",
        "suppressions",
        "webhooks",
    ] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE customer_id = ?1"),
            [customer_id],
        )
        .map_err(err)?;
    }
    tx.execute(
        "INSERT INTO erasures (at, responses, answers, events, invitations, decisions, outbox,
            cases) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            crate::now_micros(),
            erased.responses as i64,
            erased.answers as i64,
            erased.events as i64,
            erased.invitations as i64,
            erased.decisions as i64,
            erased.outbox as i64,
            erased.cases as i64
        ],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    // Copy the zeroed pages into the file and empty the log of the old ones.
    let (busy, _, _): (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .map_err(err)?;
    erased.log_truncated = busy == 0;
    Ok(erased)
}

impl Reader {
    /// Every response and event of `customer_id` (an export for the customer's request).
    pub fn customer_data(&self, customer_id: &str) -> Result<CustomerData, StoreError> {
        let responses = self
            .responses()?
            .into_iter()
            .filter(|r| r.response.customer_id.as_deref() == Some(customer_id))
            .collect();
        let events = self
            .events()?
            .into_iter()
            .filter(|e| e.event.customer_id.as_deref() == Some(customer_id))
            .collect();
        let invitations = self
            .invitations()?
            .into_iter()
            .filter(|i| i.customer_id.as_deref() == Some(customer_id))
            .collect();
        Ok(CustomerData {
            customer_id: customer_id.to_string(),
            responses,
            events,
            invitations,
            decisions: self.decisions(Some(customer_id))?,
            emails: self.outbox(Some(customer_id), None)?,
            cases: self.cases_of_customer(customer_id)?,
            webhooks: self.webhooks_of_customer(customer_id)?,
            suppressed: {
                use rusqlite::OptionalExtension;
                self.conn
                    .query_row(
                        "SELECT reason FROM suppressions WHERE customer_id = ?1",
                        [customer_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(err)?
            },
        })
    }

    /// The erasures done: (time in µs, responses, answers, events).
    pub fn erasures(&self) -> Result<Vec<(i64, u64, u64, u64)>, StoreError> {
        let mut s = self
            .conn
            .prepare("SELECT at, responses, answers, events FROM erasures ORDER BY at")
            .map_err(err)?;
        let rows = s
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get::<_, i64>(1)? as u64,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }
}
