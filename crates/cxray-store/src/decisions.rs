//! Decisions: for every journey event that a trigger watches, whether its customer was invited
//! and why (`invited`, `throttled`, `sampled_out`, `no_customer`), kept so that a CX team can see
//! why a customer was or was not surveyed, and count the reasons per survey.

use rusqlite::{OptionalExtension, params};

use crate::{Invitation, Keys, Reader, StoreError};

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// `event_id/survey`: one decision per event and survey (a replayed event decides nothing
    /// again).
    pub decision_id: String,
    pub event_id: String,
    pub customer_id: Option<String>,
    pub survey: String,
    /// µs since the Unix epoch.
    pub decided_at: i64,
    /// `invited`, `throttled`, `sampled_out` or `no_customer`.
    pub outcome: String,
    /// In words: "surveyed 12 days ago (checkout)", "sampled out (20%)".
    pub reason: String,
    pub invitation_id: Option<String>,
    /// The survey link of an invitation (a path on the server).
    pub link: Option<String>,
}

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

fn decision(r: &rusqlite::Row<'_>) -> rusqlite::Result<Decision> {
    Ok(Decision {
        decision_id: r.get(0)?,
        event_id: r.get(1)?,
        customer_id: r.get(2)?,
        survey: r.get(3)?,
        decided_at: r.get(4)?,
        outcome: r.get(5)?,
        reason: r.get(6)?,
        invitation_id: r.get(7)?,
        link: r.get(8)?,
    })
}

const COLUMNS: &str = "decision_id, event_id, customer_id, survey, decided_at, outcome, reason, \
                       invitation_id, link";

/// Decisions made together: one transaction, one sync, for all the events of a request.
pub struct DecisionBatch<'a> {
    pub(crate) tx: rusqlite::Transaction<'a>,
}

impl Keys {
    /// Suppresses a customer: no trigger invites them again (`reason`: unsubscribed, asked not
    /// to be contacted …). Suppressing again keeps the first reason.
    pub fn suppress(&self, customer_id: &str, reason: &str) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "INSERT INTO suppressions (customer_id, reason, at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![customer_id, reason, crate::now_micros()],
            )
            .map(|n| n == 1)
            .map_err(err)
    }

    /// Starts a batch of decisions (an immediate transaction: decisions are made one batch at
    /// a time, so the frequency rules see every invitation before theirs).
    pub fn decision_batch(&mut self) -> Result<DecisionBatch<'_>, StoreError> {
        Ok(DecisionBatch {
            tx: self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(err)?,
        })
    }
}

impl DecisionBatch<'_> {
    /// Whether a decision for `decision_id` exists.
    pub fn decided(&self, decision_id: &str) -> Result<bool, StoreError> {
        self.tx
            .prepare_cached("SELECT 1 FROM decisions WHERE decision_id = ?1")
            .and_then(|mut s| s.query_row([decision_id], |_| Ok(())).optional())
            .map(|o| o.is_some())
            .map_err(err)
    }

    /// The latest invitation of a customer (to any survey, or to `survey`; from any
    /// touchpoint, or from `touchpoint`): (survey, sent at), this batch's included.
    pub fn last_invitation(
        &self,
        customer_id: &str,
        survey: Option<&str>,
        touchpoint: Option<&str>,
    ) -> Result<Option<(String, i64)>, StoreError> {
        self.tx
            .prepare_cached(
                "SELECT survey, sent_at FROM invitations
                 WHERE customer_id = ?1 AND (?2 IS NULL OR survey = ?2)
                   AND (?3 IS NULL OR touchpoint = ?3)
                 ORDER BY sent_at DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![customer_id, survey, touchpoint], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(err)
    }

    /// The decision of `decision_id`, if it was made.
    pub fn decision(&self, decision_id: &str) -> Result<Option<Decision>, StoreError> {
        self.tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM decisions WHERE decision_id = ?1"
            ))
            .and_then(|mut s| s.query_row([decision_id], decision).optional())
            .map_err(err)
    }

    /// Why a customer is never invited, if they are suppressed.
    pub fn suppressed(&self, customer_id: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .prepare_cached("SELECT reason FROM suppressions WHERE customer_id = ?1")
            .and_then(|mut s| s.query_row([customer_id], |r| r.get(0)).optional())
            .map_err(err)
    }

    /// Invitations to `survey` sent since `since` (µs), this batch's included.
    pub fn invited_since(&self, survey: &str, since: i64) -> Result<u64, StoreError> {
        self.tx
            .prepare_cached("SELECT count(*) FROM invitations WHERE survey = ?1 AND sent_at >= ?2")
            .and_then(|mut s| s.query_row(params![survey, since], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(err)
    }

    /// Records a decision, and its invitation when it invites (a decision already made for the
    /// same id is kept).
    pub fn record(&self, d: &Decision, invitation: Option<&Invitation>) -> Result<(), StoreError> {
        let added = self
            .tx
            .prepare_cached(&format!(
                "INSERT INTO decisions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT DO NOTHING"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    d.decision_id,
                    d.event_id,
                    d.customer_id,
                    d.survey,
                    d.decided_at,
                    d.outcome,
                    d.reason,
                    d.invitation_id,
                    d.link
                ])
            })
            .map_err(err)?;
        if added == 1
            && let Some(i) = invitation
        {
            crate::keys::insert_invitation(&self.tx, i)?;
        }
        Ok(())
    }

    /// Commits the batch (synced: the decisions survive a crash once this returns).
    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().map_err(err)
    }
}

/// How far a survey's triggering events got: decided, invited, answered.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Funnel {
    pub survey: String,
    /// Events decided for the survey (one decision each).
    pub decided: u64,
    /// Decisions that invited.
    pub invited: u64,
    /// Invitations with a stored response (at least one answer).
    pub answered: u64,
}

impl Reader {
    /// Per survey, from events to invitations to answers (surveys in order).
    pub fn funnel(&self) -> Result<Vec<Funnel>, StoreError> {
        let mut s = self
            .conn
            .prepare(
                "SELECT d.survey, count(*), count(d.invitation_id), count(r.invitation_id)
                 FROM decisions d
                 LEFT JOIN (SELECT DISTINCT invitation_id FROM responses
                            WHERE invitation_id IS NOT NULL) r
                   ON r.invitation_id = d.invitation_id
                 GROUP BY d.survey ORDER BY d.survey",
            )
            .map_err(err)?;
        let rows = s
            .query_map([], |r| {
                Ok(Funnel {
                    survey: r.get(0)?,
                    decided: r.get::<_, i64>(1)? as u64,
                    invited: r.get::<_, i64>(2)? as u64,
                    answered: r.get::<_, i64>(3)? as u64,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// A page of decisions, oldest first, after the one at `after` (decided at, decision id),
    /// at most `limit`; of one customer when given.
    pub fn decisions_page(
        &self,
        customer_id: Option<&str>,
        after: Option<(i64, &str)>,
        limit: usize,
    ) -> Result<Vec<Decision>, StoreError> {
        let (at, id) = after.map_or((None, None), |(a, i)| (Some(a), Some(i)));
        let mut s = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM decisions WHERE (?1 IS NULL OR customer_id = ?1)
                   AND (?2 IS NULL OR (decided_at, decision_id) > (?2, ?3))
                 ORDER BY decided_at, decision_id LIMIT ?4"
            ))
            .map_err(err)?;
        let rows = s
            .query_map(
                params![customer_id, at, id, limit.min(i64::MAX as usize) as i64],
                decision,
            )
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// The latest `limit` decisions, newest first (the contact log's page).
    pub fn latest_decisions(&self, limit: usize) -> Result<Vec<Decision>, StoreError> {
        let mut s = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM decisions ORDER BY decided_at DESC, decision_id DESC
                 LIMIT ?1"
            ))
            .map_err(err)?;
        let rows = s
            .query_map([limit.min(i64::MAX as usize) as i64], decision)
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Decisions per (survey, outcome); of one customer when given.
    pub fn decision_counts(
        &self,
        customer_id: Option<&str>,
    ) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT survey, outcome, count(*) FROM decisions
                 WHERE (?1 IS NULL OR customer_id = ?1)
                 GROUP BY survey, outcome ORDER BY survey, outcome",
            )
            .map_err(err)?;
        let rows = s
            .query_map([customer_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Decisions, newest last; of one customer when given.
    pub fn decisions(&self, customer_id: Option<&str>) -> Result<Vec<Decision>, StoreError> {
        self.decisions_page(customer_id, None, usize::MAX)
    }
}
