//! Webhooks: a persistent outbox of deliveries. A message is stored before anything is sent,
//! in the same transaction as what it reports (a case seen, a reminder marked, an alert marked
//! as sent), so a crash between the two neither loses nor repeats it; the delivery thread then
//! sends what is due, retries with backoff and keeps each attempt's outcome (the delivery log).
//! Signing is the sender's (the server's) job; the store keeps what to send.

use rusqlite::{OptionalExtension, params};

use crate::{Case, Keys, StoreError};

/// A message to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// The `webhook-id`: unique, the receiver's key against duplicates.
    pub id: String,
    pub endpoint: String,
    /// `case.opened`, `case.overdue`, `alert.fired` …
    pub event: String,
    /// The customer it is about (erased with them).
    pub customer_id: Option<String>,
    /// The JSON body.
    pub payload: String,
}

/// What an event sends: webhook messages and team emails (through the outbox, as
/// invitations are sent), stored together in the transaction of what they report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notices {
    pub webhooks: Vec<NewWebhook>,
    pub emails: Vec<crate::OutboxEmail>,
}

impl Notices {
    fn store(&self, tx: &rusqlite::Connection, now: i64) -> Result<(), StoreError> {
        for m in &self.webhooks {
            insert(tx, m, now)?;
        }
        for e in &self.emails {
            crate::outbox::insert_email(tx, e)?;
        }
        Ok(())
    }
}

/// A message as kept, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Webhook {
    pub id: String,
    pub endpoint: String,
    pub event: String,
    #[serde(skip)]
    pub payload: String,
    pub created_at: i64,
    /// pending, delivered or failed (gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt: i64,
    /// The receiver's last HTTP status.
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

/// Messages per delivery state (`delivered`, `failed`, `pending`), by state.
pub type StatusCounts = Vec<(String, u64)>;

/// Seconds to wait after the n-th failed attempt (1-based); after the last, the message is
/// given up as failed (about a day and a half in all).
pub const WEBHOOK_BACKOFF_SECONDS: [i64; 8] = [5, 30, 120, 600, 1800, 3600, 6 * 3600, 24 * 3600];

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

fn insert(tx: &rusqlite::Connection, m: &NewWebhook, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO webhooks (id, endpoint, event, customer_id, payload, created_at, status,
            attempts, next_attempt) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?6)
         ON CONFLICT DO NOTHING",
        params![m.id, m.endpoint, m.event, m.customer_id, m.payload, now],
    )
    .map_err(err)?;
    Ok(())
}

fn set_setting(tx: &rusqlite::Connection, name: &str, v: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        params![name, v.to_le_bytes().to_vec()],
    )
    .map_err(err)?;
    Ok(())
}

/// A kind of notice about cases: the setting that says its first pass was made, the cases
/// it selects, and how it marks them (one, or every one due it on the first pass).
struct CaseNotice {
    started: &'static str,
    select: fn(&rusqlite::Connection, i64, usize) -> Result<Vec<Case>, StoreError>,
    mark_one: &'static str,
    mark_all: &'static str,
}

/// `case.opened`: cases not announced yet.
const ANNOUNCED: CaseNotice = CaseNotice {
    started: "webhooks.started",
    select: crate::cases::cases_to_announce,
    mark_one: "UPDATE cases SET announced_at = ?1 WHERE id = ?2",
    mark_all: "UPDATE cases SET announced_at = ?1 WHERE announced_at IS NULL",
};

/// `case.overdue`: open cases past their due time, not reminded yet.
const REMINDED: CaseNotice = CaseNotice {
    started: "webhooks.overdue_started",
    select: crate::cases::overdue_unreminded,
    mark_one: "UPDATE cases SET reminded_at = ?1 WHERE id = ?2",
    mark_all: "UPDATE cases SET reminded_at = ?1 WHERE status IN ('new', 'contacted')
               AND due_at < ?1 AND reminded_at IS NULL",
};

impl Keys {
    /// Hands each case not announced yet and at least `after` µs old at `now` to `build`,
    /// stores the notices it makes and marks the case announced, in one transaction (the
    /// wait lets the comment typed on the page after the score into the message). The first
    /// call only marks the cases there are (cases opened before notifications were set up are
    /// not announced). Returns the cases announced.
    pub fn enqueue_new_cases(
        &mut self,
        now: i64,
        after: i64,
        build: impl Fn(&Case) -> Notices,
    ) -> Result<usize, StoreError> {
        self.notify_cases(&ANNOUNCED, now, now - after, build)
    }

    /// Hands each open case past its due time at `now` with no reminder yet to `build`,
    /// stores the notices it makes and marks the case reminded, in one transaction. The first
    /// call only marks the cases overdue already (switching notifications on sends no flood
    /// about old cases). Returns the cases reminded.
    pub fn enqueue_overdue_cases(
        &mut self,
        now: i64,
        build: impl Fn(&Case) -> Notices,
    ) -> Result<usize, StoreError> {
        self.notify_cases(&REMINDED, now, now, build)
    }

    /// One pass of a kind of case notice: on the first pass ever, mark every case due it
    /// without a word; after, mark and notify up to 500 cases selected at `cutoff`.
    fn notify_cases(
        &mut self,
        kind: &CaseNotice,
        now: i64,
        cutoff: i64,
        build: impl Fn(&Case) -> Notices,
    ) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let started: bool = tx
            .query_row(
                "SELECT count(*) FROM settings WHERE name = ?1",
                [kind.started],
                |r| r.get::<_, i64>(0),
            )
            .map_err(err)?
            > 0;
        let mut done = 0;
        if started {
            for c in (kind.select)(&tx, cutoff, 500)? {
                tx.execute(kind.mark_one, params![now, c.id]).map_err(err)?;
                build(&c).store(&tx, now)?;
                done += 1;
            }
        } else {
            tx.execute(kind.mark_all, [now]).map_err(err)?;
            set_setting(&tx, kind.started, now)?;
        }
        tx.commit().map_err(err)?;
        Ok(done)
    }

    /// Stores the notices of an alert unless the alert (rule, segment, period) was sent
    /// before; true when it is new. (The team's digest is kept the same way, under a rule
    /// with no name, which no `[[alerts]]` rule has.)
    pub fn enqueue_alert(
        &mut self,
        rule: &str,
        segment: &str,
        period: &str,
        now: i64,
        notices: &Notices,
    ) -> Result<bool, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let new = tx
            .execute(
                "INSERT INTO alerts_sent (rule, segment, period, at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![rule, segment, period, now],
            )
            .map_err(err)?
            == 1;
        if new {
            notices.store(&tx, now)?;
        }
        tx.commit().map_err(err)?;
        Ok(new)
    }

    /// Whether the message is still waiting to be sent (not erased, not given up).
    pub fn webhook_pending(&self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM webhooks WHERE id = ?1 AND status = 'pending'",
                [id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(err)
    }

    /// Gives a message up at once (its endpoint is no longer configured).
    pub fn webhook_given_up(&self, id: &str, reason: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE webhooks SET status = 'failed', last_error = ?1 WHERE id = ?2",
                params![reason, id],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Whether the alert (rule, segment, period) was sent.
    pub fn alert_sent(&self, rule: &str, segment: &str, period: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM alerts_sent WHERE rule = ?1 AND segment = ?2 AND period = ?3",
                params![rule, segment, period],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n > 0)
            .map_err(err)
    }

    /// Pending messages due at `now`, oldest first.
    pub fn due_webhooks(&self, now: i64, limit: usize) -> Result<Vec<Webhook>, StoreError> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT id, endpoint, event, payload, created_at, status, attempts, next_attempt,
                    last_status, last_error, delivered_at FROM webhooks
                 WHERE status = 'pending' AND next_attempt <= ?1
                 ORDER BY next_attempt, created_at LIMIT ?2",
            )
            .map_err(err)?;
        let rows = s
            .query_map(params![now, limit as i64], webhook_row)
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Records an attempt: delivered (a 2xx), or failed with the receiver's status or the
    /// error, to be retried after the backoff or given up after the last.
    pub fn webhook_attempted(
        &self,
        id: &str,
        now: i64,
        outcome: Result<u16, (Option<u16>, String)>,
    ) -> Result<(), StoreError> {
        match outcome {
            Ok(status) => self.conn.execute(
                "UPDATE webhooks SET status = 'delivered', attempts = attempts + 1,
                   last_status = ?1, last_error = NULL, delivered_at = ?2 WHERE id = ?3",
                params![status, now, id],
            ),
            Err((status, error)) => {
                let attempts: Option<i64> = self
                    .conn
                    .query_row("SELECT attempts FROM webhooks WHERE id = ?1", [id], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(err)?;
                // Erased meanwhile (its customer forgotten): nothing to record.
                let Some(attempts) = attempts else {
                    return Ok(());
                };
                let n = attempts + 1;
                let (state, next) = match WEBHOOK_BACKOFF_SECONDS.get(n as usize - 1) {
                    Some(wait) => ("pending", now + wait * 1_000_000),
                    None => ("failed", now),
                };
                self.conn.execute(
                    "UPDATE webhooks SET status = ?1, attempts = ?2, next_attempt = ?3,
                       last_status = ?4, last_error = ?5 WHERE id = ?6",
                    params![state, n, next, status, error, id],
                )
            }
        }
        .map_err(err)?;
        Ok(())
    }

    /// The latest messages (newest first) and counts per status.
    pub fn webhook_log(&self, limit: usize) -> Result<(Vec<Webhook>, StatusCounts), StoreError> {
        let mut s = self
            .conn
            .prepare(
                "SELECT id, endpoint, event, payload, created_at, status, attempts, next_attempt,
                    last_status, last_error, delivered_at FROM webhooks
                 ORDER BY created_at DESC, id LIMIT ?1",
            )
            .map_err(err)?;
        let rows = s
            .query_map([limit as i64], webhook_row)
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let mut c = self
            .conn
            .prepare("SELECT status, count(*) FROM webhooks GROUP BY status ORDER BY status")
            .map_err(err)?;
        let counts = c
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .map_err(err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        Ok((rows, counts))
    }
}

impl crate::Reader {
    /// The messages about a customer, oldest first, with what they say.
    pub fn webhooks_of_customer(
        &self,
        customer_id: &str,
    ) -> Result<Vec<crate::CustomerWebhook>, StoreError> {
        let mut s = self
            .conn
            .prepare(
                "SELECT id, endpoint, event, payload, created_at, status, attempts, next_attempt,
                    last_status, last_error, delivered_at FROM webhooks
                 WHERE customer_id = ?1 ORDER BY created_at, id",
            )
            .map_err(err)?;
        let rows = s.query_map([customer_id], webhook_row).map_err(err)?;
        rows.map(|w| {
            w.map(|w| crate::CustomerWebhook {
                payload: w.payload.clone(),
                webhook: w,
            })
        })
        .collect::<Result<_, _>>()
        .map_err(err)
    }
}

fn webhook_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Webhook> {
    Ok(Webhook {
        id: r.get(0)?,
        endpoint: r.get(1)?,
        event: r.get(2)?,
        payload: r.get(3)?,
        created_at: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt: r.get(7)?,
        last_status: r.get(8)?,
        last_error: r.get(9)?,
        delivered_at: r.get(10)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CaseRule, NewAnswer, NewResponse, Record, Store};

    fn message(c: &Case) -> Notices {
        Notices {
            webhooks: vec![NewWebhook {
                id: format!("msg-{}", c.id),
                endpoint: "http://127.0.0.1:9/hook".into(),
                event: "case.opened".into(),
                customer_id: c.customer_id.clone(),
                payload: format!("{{\"case\": {}}}", c.id),
            }],
            emails: vec![],
        }
    }

    #[test]
    fn cases_are_announced_once_retries_back_off_and_erasure_takes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let store = Store::open(&path).unwrap();
        let mut keys = Keys::open(&path).unwrap();
        keys.set_case_rules(&[CaseRule {
            metric: "nps".into(),
            max_score: 6.0,
            target_hours: 1.0,
            max_age_days: 14.0,
        }])
        .unwrap();
        let now = crate::now_micros();
        let answer = |id: &str| {
            Record::Response(NewResponse {
                response_id: id.into(),
                customer_id: Some(format!("C-{id}")),
                submitted_at: now,
                answers: vec![NewAnswer {
                    metric: "nps".into(),
                    score: Some(1.0),
                    comment: None,
                }],
                ..Default::default()
            })
        };
        store.write_blocking(vec![answer("old")]).unwrap();
        // The first call sets the mark: the case opened before is not announced.
        assert_eq!(keys.enqueue_new_cases(now, 0, message).unwrap(), 0);
        store
            .write_blocking(vec![answer("a"), answer("b")])
            .unwrap();
        // Not before they are a minute old.
        assert_eq!(keys.enqueue_new_cases(now, 60_000_000, message).unwrap(), 0);
        let later = crate::now_micros();
        assert_eq!(keys.enqueue_new_cases(later, 0, message).unwrap(), 2);
        assert_eq!(keys.enqueue_new_cases(later, 0, message).unwrap(), 0);
        // SQLite gives an erased customer's case id to the next case: it is announced all the
        // same (a mark of the last id seen skipped it).
        crate::forget_customer(&path, "C-b").unwrap();
        store.write_blocking(vec![answer("c")]).unwrap();
        let later = crate::now_micros();
        assert_eq!(keys.enqueue_new_cases(later, 0, message).unwrap(), 1);
        let now = later;
        let due = keys.due_webhooks(now, 10).unwrap();
        assert_eq!(due.len(), 2);
        keys.webhook_attempted(&due[0].id, now, Ok(204)).unwrap();
        keys.webhook_attempted(&due[1].id, now, Err((Some(500), "boom".into())))
            .unwrap();
        assert!(keys.due_webhooks(now + 4_999_999, 10).unwrap().is_empty());
        let again = keys.due_webhooks(now + 5_000_000, 10).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].last_status, Some(500));
        // After the last backoff the message is given up.
        let mut t = now;
        for _ in 1..WEBHOOK_BACKOFF_SECONDS.len() + 1 {
            keys.webhook_attempted(&again[0].id, t, Err((None, "refused".into())))
                .unwrap();
            t += 100 * 86_400_000_000;
        }
        let (log, counts) = keys.webhook_log(10).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            counts,
            vec![("delivered".to_string(), 1), ("failed".to_string(), 1)]
        );
        // Overdue reminders: the first round marks what is overdue already, silently; then
        // once per case.
        assert_eq!(
            keys.enqueue_overdue_cases(now - 3_600_000_000 * 24, message)
                .unwrap(),
            0
        );
        assert_eq!(
            keys.enqueue_overdue_cases(now + 2 * 3_600_000_000, message)
                .unwrap(),
            3
        );
        assert_eq!(
            keys.enqueue_overdue_cases(now + 3 * 3_600_000_000, message)
                .unwrap(),
            0
        );
        // Alerts: once per rule, segment and period.
        assert!(
            keys.enqueue_alert("r", "North", "2026-11", now, &Notices::default())
                .unwrap()
        );
        assert!(
            !keys
                .enqueue_alert("r", "North", "2026-11", now, &Notices::default())
                .unwrap()
        );
        assert!(
            keys.enqueue_alert("r", "North", "2026-12", now, &Notices::default())
                .unwrap()
        );
        assert!(keys.alert_sent("r", "North", "2026-12").unwrap());
        assert!(!keys.alert_sent("r", "South", "2026-12").unwrap());
        let exported = store.reader().unwrap().customer_data("C-a").unwrap();
        assert_eq!(exported.webhooks.len(), 1, "{:?}", exported.webhooks);
        assert!(exported.webhooks[0].payload.contains("\"case\""));
        drop(keys);
        crate::forget_customer(&path, "C-a").unwrap();
        let keys = Keys::open(&path).unwrap();
        let (log, _) = keys.webhook_log(10).unwrap();
        assert!(log.iter().all(|w| w.id != "msg-2"), "{log:?}");
    }
}
