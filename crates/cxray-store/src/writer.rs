//! The writer thread: the only connection that writes. It takes every batch waiting in the
//! queue, writes each in its own savepoint inside one immediate transaction, commits once and
//! only then answers each batch. A batch that fails (a conflicting id, a storage error while
//! writing it) is rolled back to its savepoint; the others still commit. When the commit
//! itself fails, no batch of the group is acknowledged as stored.

use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::{GROUP_LIMIT, Job, NewEvent, NewResponse, Receipt, Record, WriteError, WriterStats};

pub(crate) fn run(mut conn: Connection, jobs: Receiver<Job>, stats: &WriterStats) {
    // Blocks until a batch arrives; ends when the store is dropped and the queue is empty.
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_LIMIT {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let outcomes = commit_group(&mut conn, &group);
        if outcomes.iter().any(Result::is_ok) {
            stats.commits.fetch_add(1, Ordering::Relaxed);
        }
        for (job, outcome) in group.into_iter().zip(outcomes) {
            if outcome.is_ok() {
                stats.batches.fetch_add(1, Ordering::Relaxed);
            }
            // A caller that stopped waiting (a closed connection) is no error: its batch is
            // stored all the same and a retry is a replay.
            let _ = job.reply.send(outcome);
        }
    }
}

fn storage(e: rusqlite::Error) -> WriteError {
    WriteError::Storage(e.to_string())
}

/// Writes the group in one transaction; the outcome of each batch, valid once committed.
fn commit_group(conn: &mut Connection, group: &[Job]) -> Vec<Result<Receipt, WriteError>> {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let message = e.to_string();
            return group
                .iter()
                .map(|_| Err(WriteError::Storage(message.clone())))
                .collect();
        }
    };
    let now = crate::now_micros();
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let outcome = (|| {
            let sp = tx.savepoint().map_err(storage)?;
            let receipt = write_batch(&sp, &job.batch, now)?;
            sp.commit().map_err(storage)?;
            Ok(receipt)
        })();
        outcomes.push(outcome);
    }
    if let Err(e) = tx.commit() {
        let message = e.to_string();
        for o in &mut outcomes {
            if o.is_ok() {
                *o = Err(WriteError::Storage(message.clone()));
            }
        }
    }
    outcomes
}

/// Writes every record of a batch; the first conflict or storage error stops it (and the
/// caller rolls the savepoint back). A record is inserted straight away; only when its id is
/// already stored (the insert does nothing) is the stored digest read, to tell a replay from a
/// conflict.
fn write_batch(tx: &Connection, batch: &[Record], now: i64) -> Result<Receipt, WriteError> {
    let mut receipt = Receipt::default();
    for (index, record) in batch.iter().enumerate() {
        let digest = record.digest();
        let inserted = match record {
            Record::Response(r) | Record::Revision(r) => insert_response(tx, r, &digest, now),
            Record::Event(e) => insert_event(tx, e, &digest, now),
        }
        .map_err(storage)?;
        if let (Record::Revision(r), false) = (record, inserted) {
            revise(tx, r, &digest, index, now)?;
            receipt.stored += 1;
            continue;
        }
        if inserted {
            receipt.stored += 1;
            continue;
        }
        let (kind, id) = record.id();
        let sql = match record {
            Record::Response(_) | Record::Revision(_) => {
                "SELECT digest FROM responses WHERE response_id = ?1"
            }
            Record::Event(_) => "SELECT digest FROM events WHERE event_id = ?1",
        };
        let previous: Vec<u8> = tx
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([id], |row| row.get(0)))
            .map_err(storage)?;
        if previous != digest {
            return Err(WriteError::Conflict {
                index,
                kind,
                id: id.to_string(),
            });
        }
        receipt.replayed += 1;
    }
    Ok(receipt)
}

fn attributes(a: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(a).expect("a map of strings serialises")
}

/// Inserts the response and its answers; false (nothing written) when its id is stored.
fn insert_response(
    tx: &Connection,
    r: &NewResponse,
    digest: &[u8],
    now: i64,
) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO responses (response_id, survey, invitation_id, customer_id, submitted_at,
                channel, touchpoint, language, attributes, digest, received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (response_id) DO NOTHING",
        )?
        .execute(params![
            r.response_id,
            r.survey,
            r.invitation_id,
            r.customer_id,
            r.submitted_at,
            r.channel,
            r.touchpoint,
            r.language,
            attributes(&r.attributes),
            digest,
            now,
        ])?;
    if n == 0 {
        return Ok(false);
    }
    let id = tx.last_insert_rowid();
    let mut answer = tx.prepare_cached(
        "INSERT INTO answers (response, metric, score, comment) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for a in &r.answers {
        answer.execute(params![id, a.metric, a.score, a.comment])?;
    }
    crate::cases::open_cases(tx, id, now)?;
    Ok(true)
}

/// Sets the answers of a stored response of the same survey (a score or comment left out keeps
/// the stored one).
fn revise(
    tx: &Connection,
    r: &NewResponse,
    digest: &[u8],
    index: usize,
    now: i64,
) -> Result<(), WriteError> {
    let (id, survey, customer): (i64, Option<String>, Option<String>) = tx
        .prepare_cached("SELECT id, survey, customer_id FROM responses WHERE response_id = ?1")
        .and_then(|mut s| {
            s.query_row([&r.response_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
        })
        .map_err(storage)?;
    // One response is one customer's answers to one survey.
    if survey != r.survey || customer != r.customer_id {
        return Err(WriteError::Conflict {
            index,
            kind: "response",
            id: r.response_id.clone(),
        });
    }
    tx.prepare_cached("UPDATE responses SET digest = ?1 WHERE id = ?2")
        .and_then(|mut s| s.execute(params![digest, id]))
        .map_err(storage)?;
    let mut answer = tx
        .prepare_cached(
            "INSERT INTO answers (response, metric, score, comment) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (response, metric) DO UPDATE SET
               score = coalesce(excluded.score, score),
               comment = coalesce(excluded.comment, comment)",
        )
        .map_err(storage)?;
    for a in &r.answers {
        answer
            .execute(params![id, a.metric, a.score, a.comment])
            .map_err(storage)?;
    }
    crate::cases::open_cases(tx, id, now).map_err(storage)?;
    Ok(())
}

/// Inserts the event; false (nothing written) when its id is stored.
fn insert_event(tx: &Connection, e: &NewEvent, digest: &[u8], now: i64) -> rusqlite::Result<bool> {
    let n = tx
        .prepare_cached(
            "INSERT INTO events (event_id, customer_id, session_id, step, at, attributes, digest,
                received_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (event_id) DO NOTHING",
        )?
        .execute(params![
            e.event_id,
            e.customer_id,
            e.session_id,
            e.step,
            e.at,
            attributes(&e.attributes),
            digest,
            now,
        ])?;
    Ok(n == 1)
}
