//! Cases: the closed loop with every unhappy customer.
//!
//! A case is opened **by the writer, in the transaction that stores the answer**, when a
//! score is at or below its metric's rule ([`CaseRule`]: a detractor's NPS 0-6, the bottom of
//! a CSAT or CES scale): an acknowledged answer never lacks its case, and a replayed one does
//! not open a second. An answer submitted longer ago than the rule's `max_age_days` (a history
//! imported through the API) opens none: there is nobody left to call back in time.
//!
//! A case then has an owner, a status (new → contacted → resolved or won't fix), notes, and a
//! due time (`opened_at` + the rule's target). Every change is a note with its author and time,
//! so the case's history is its notes.

use rusqlite::params;

use crate::{Keys, Reader, StoreError};

/// When an answer opens a case, and how soon it is due.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseRule {
    pub metric: String,
    /// A score at or below this opens a case.
    pub max_score: f64,
    /// Hours from the answer to the first contact's due time.
    pub target_hours: f64,
    /// Answers submitted longer ago than this open no case.
    pub max_age_days: f64,
}

/// Where a case stands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    New,
    Contacted,
    Resolved,
    WontFix,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 4] = [
        CaseStatus::New,
        CaseStatus::Contacted,
        CaseStatus::Resolved,
        CaseStatus::WontFix,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::Contacted => "contacted",
            CaseStatus::Resolved => "resolved",
            CaseStatus::WontFix => "wont_fix",
        }
    }

    /// How a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            CaseStatus::New => "new",
            CaseStatus::Contacted => "contacted",
            CaseStatus::Resolved => "resolved",
            CaseStatus::WontFix => "won't fix",
        }
    }

    pub fn parse(s: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|c| c.name() == s.trim())
    }

    /// Resolved or won't fix.
    pub fn is_closed(self) -> bool {
        matches!(self, CaseStatus::Resolved | CaseStatus::WontFix)
    }
}

/// A case with the answer that opened it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Case {
    pub id: i64,
    pub response_id: String,
    pub survey: Option<String>,
    pub customer_id: Option<String>,
    pub touchpoint: Option<String>,
    pub language: Option<String>,
    pub metric: String,
    /// The score that opened it.
    pub score: f64,
    /// The answer's comment as stored now (a comment added after the score shows).
    pub comment: Option<String>,
    /// When the answer was submitted (µs).
    pub submitted_at: i64,
    pub opened_at: i64,
    pub due_at: i64,
    pub owner: Option<String>,
    pub status: CaseStatus,
    pub contacted_at: Option<i64>,
    pub closed_at: Option<i64>,
}

/// One entry of a case's history.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseNote {
    pub at: i64,
    pub author: String,
    /// `note`, `status` or `owner`.
    pub kind: String,
    pub text: String,
}

/// What a member does to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseAction {
    /// Becomes (or gives the case to) its owner.
    Assign(String),
    /// A new status; the first contact and the closing are timed.
    Status(CaseStatus),
    Note(String),
}

/// Which cases a queue lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Only those of this owner (`Some("")`: those nobody owns).
    pub owner: Option<String>,
    /// Only these statuses (none: every status).
    pub statuses: Vec<CaseStatus>,
    /// Only those due before this time (µs): overdue at `now`.
    pub due_before: Option<i64>,
    pub limit: usize,
    pub offset: usize,
}

/// A case's times, for the loop's own figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaseTimes {
    pub customer_id: Option<String>,
    pub metric: String,
    pub submitted_at: i64,
    pub opened_at: i64,
    pub due_at: i64,
    pub status: CaseStatus,
    pub contacted_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// The first NPS the customer gave after the answer that opened the case (and after the
    /// case was opened).
    pub later_nps: Option<f64>,
}

/// Longest note.
pub const MAX_NOTE_CHARS: usize = 5000;

fn err(e: rusqlite::Error) -> StoreError {
    StoreError::Read(e.to_string())
}

/// Opens the cases the answers of stored response `response` (its row id) call for, at `now`
/// (µs). Run by the writer inside the answer's transaction.
pub(crate) fn open_cases(
    tx: &rusqlite::Connection,
    response: i64,
    now: i64,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "INSERT INTO cases (response, metric, score, opened_at, due_at, status)
         SELECT a.response, a.metric, a.score, ?2,
                ?2 + CAST(c.target_hours * 3600000000.0 AS INTEGER), 'new'
         FROM answers a
         JOIN case_rules c ON c.metric = a.metric
         JOIN responses r ON r.id = a.response
         WHERE a.response = ?1 AND a.score IS NOT NULL AND a.score <= c.max_score
           AND r.submitted_at >= ?2 - CAST(c.max_age_days * 86400000000.0 AS INTEGER)
         ON CONFLICT (response, metric) DO NOTHING",
    )?
    .execute(params![response, now])
}

const CASE_COLUMNS: &str = "c.id, r.response_id, r.survey, r.customer_id, r.touchpoint,
    r.language, c.metric, c.score, a.comment, r.submitted_at, c.opened_at, c.due_at, c.owner,
    c.status, c.contacted_at, c.closed_at
    FROM cases c JOIN responses r ON r.id = c.response
    LEFT JOIN answers a ON a.response = c.response AND a.metric = c.metric";

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Case> {
    let status: String = r.get(13)?;
    Ok(Case {
        id: r.get(0)?,
        response_id: r.get(1)?,
        survey: r.get(2)?,
        customer_id: r.get(3)?,
        touchpoint: r.get(4)?,
        language: r.get(5)?,
        metric: r.get(6)?,
        score: r.get(7)?,
        comment: r.get(8)?,
        submitted_at: r.get(9)?,
        opened_at: r.get(10)?,
        due_at: r.get(11)?,
        owner: r.get(12)?,
        status: CaseStatus::parse(&status).unwrap_or(CaseStatus::New),
        contacted_at: r.get(14)?,
        closed_at: r.get(15)?,
    })
}

fn one_case(conn: &rusqlite::Connection, id: i64) -> Result<Option<Case>, StoreError> {
    Ok(select_cases(conn, "c.id = ?1", [id])?.pop())
}

fn notes(conn: &rusqlite::Connection, id: i64) -> Result<Vec<CaseNote>, StoreError> {
    let mut s = conn
        .prepare_cached(
            "SELECT at, author, kind, text FROM case_notes WHERE case_id = ?1
             ORDER BY at, rowid",
        )
        .map_err(err)?;
    let rows = s
        .query_map([id], |r| {
            Ok(CaseNote {
                at: r.get(0)?,
                author: r.get(1)?,
                kind: r.get(2)?,
                text: r.get(3)?,
            })
        })
        .map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

/// The cases of `SELECT … WHERE {tail}` with `params`, as [`Case`]s.
fn select_cases(
    conn: &rusqlite::Connection,
    tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Case>, StoreError> {
    let mut s = conn
        .prepare_cached(&format!("SELECT {CASE_COLUMNS} WHERE {tail}"))
        .map_err(err)?;
    let rows = s.query_map(params, case_row).map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

/// A case with its history, on any connection (the settings one sees its own writes).
fn case_with_notes(
    conn: &rusqlite::Connection,
    id: i64,
) -> Result<Option<(Case, Vec<CaseNote>)>, StoreError> {
    match one_case(conn, id)? {
        Some(c) => Ok(Some((c, notes(conn, id)?))),
        None => Ok(None),
    }
}

/// Cases not announced yet and opened at or before `cutoff`, by id, at most `limit`.
pub(crate) fn cases_to_announce(
    conn: &rusqlite::Connection,
    cutoff: i64,
    limit: usize,
) -> Result<Vec<Case>, StoreError> {
    select_cases(
        conn,
        "c.announced_at IS NULL AND c.opened_at <= ?1 ORDER BY c.id LIMIT ?2",
        params![cutoff, limit as i64],
    )
}

/// Open cases due before `before` that were not reminded, soonest due first.
pub(crate) fn overdue_unreminded(
    conn: &rusqlite::Connection,
    before: i64,
    limit: usize,
) -> Result<Vec<Case>, StoreError> {
    select_cases(
        conn,
        "c.status IN ('new', 'contacted') AND c.due_at < ?1 AND c.reminded_at IS NULL
         ORDER BY c.due_at LIMIT ?2",
        params![before, limit as i64],
    )
}

impl Keys {
    /// Sets the rules that open cases (replacing the previous ones); answers stored from now
    /// on follow them.
    pub fn set_case_rules(&mut self, rules: &[CaseRule]) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute("DELETE FROM case_rules", []).map_err(err)?;
        for r in rules {
            tx.execute(
                "INSERT INTO case_rules (metric, max_score, target_hours, max_age_days)
                 VALUES (?1, ?2, ?3, ?4)",
                params![r.metric, r.max_score, r.target_hours, r.max_age_days],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Opens the cases that answers already stored call for under the current rules (answers
    /// of the last `max_age_days`): when `[cases]` is first set, or changed, recent unhappy
    /// customers are not left out. A case that exists (open or closed) is kept as it is.
    /// Returns the cases opened.
    pub fn open_missing_cases(&mut self, now: i64) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "INSERT INTO cases (response, metric, score, opened_at, due_at, status)
                 SELECT a.response, a.metric, a.score, ?1,
                        ?1 + CAST(c.target_hours * 3600000000.0 AS INTEGER), 'new'
                 FROM case_rules c
                 JOIN responses r
                   ON r.submitted_at >= ?1 - CAST(c.max_age_days * 86400000000.0 AS INTEGER)
                 JOIN answers a ON a.response = r.id AND a.metric = c.metric
                 WHERE a.score IS NOT NULL AND a.score <= c.max_score
                 ON CONFLICT (response, metric) DO NOTHING",
                [now],
            )
            .map_err(err)
    }

    /// Does `action` to case `id` as `author` at `now` (µs) and records it in the case's
    /// notes; the case as it is after, or none when there is no such case.
    pub fn act_on_case(
        &mut self,
        id: i64,
        author: &str,
        action: &CaseAction,
        now: i64,
    ) -> Result<Option<Case>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let Some(case) = one_case(&tx, id)? else {
            return Ok(None);
        };
        let note = |kind: &str, text: &str| {
            tx.execute(
                "INSERT INTO case_notes (case_id, at, author, kind, text) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, now, author, kind, text],
            )
            .map_err(err)
        };
        match action {
            CaseAction::Assign(owner) => {
                let owner = owner.trim();
                if case.owner.as_deref() != Some(owner) {
                    tx.execute(
                        "UPDATE cases SET owner = ?1 WHERE id = ?2",
                        params![(!owner.is_empty()).then_some(owner), id],
                    )
                    .map_err(err)?;
                    note("owner", if owner.is_empty() { "nobody" } else { owner })?;
                }
            }
            CaseAction::Status(status) => {
                if case.status != *status {
                    let contacted = match (case.contacted_at, status) {
                        (Some(t), _) => Some(t),
                        (None, CaseStatus::New) => None,
                        // Resolving is a contact too when none was recorded (a call that
                        // settled it at once).
                        (None, CaseStatus::WontFix) => None,
                        (None, _) => Some(now),
                    };
                    let closed = status.is_closed().then_some(now);
                    // Reopened: reminded again when overdue again.
                    tx.execute(
                        "UPDATE cases SET status = ?1, contacted_at = ?2, closed_at = ?3,
                           owner = coalesce(owner, ?4),
                           reminded_at = CASE WHEN ?3 IS NULL AND closed_at IS NOT NULL
                             THEN NULL ELSE reminded_at END WHERE id = ?5",
                        params![status.name(), contacted, closed, author, id],
                    )
                    .map_err(err)?;
                    note("status", status.label())?;
                }
            }
            CaseAction::Note(text) => {
                let text = text.trim();
                if text.is_empty() {
                    return Err(StoreError::Read("a note needs some text".into()));
                }
                if text.chars().count() > MAX_NOTE_CHARS {
                    return Err(StoreError::Read(format!(
                        "a note has at most {MAX_NOTE_CHARS} characters"
                    )));
                }
                note("note", text)?;
            }
        }
        let after = one_case(&tx, id)?;
        tx.commit().map_err(err)?;
        Ok(after)
    }

    /// The case `id` with its history, on the settings connection (it sees its own writes).
    pub fn case(&self, id: i64) -> Result<Option<(Case, Vec<CaseNote>)>, StoreError> {
        case_with_notes(&self.conn, id)
    }
}

impl Reader {
    /// The cases of a queue, the soonest due first, and how many match in all.
    pub fn cases(&self, f: &CaseFilter) -> Result<(Vec<Case>, u64), StoreError> {
        let mut wh = vec!["1 = 1".to_string()];
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(o) = &f.owner {
            if o.is_empty() {
                wh.push("c.owner IS NULL".into());
            } else {
                args.push(o.clone().into());
                wh.push(format!("c.owner = ?{} COLLATE NOCASE", args.len()));
            }
        }
        if !f.statuses.is_empty() {
            let list: Vec<String> = f
                .statuses
                .iter()
                .map(|s| format!("'{}'", s.name()))
                .collect();
            wh.push(format!("c.status IN ({})", list.join(", ")));
        }
        if let Some(t) = f.due_before {
            args.push(t.into());
            wh.push(format!("c.due_at < ?{}", args.len()));
        }
        let wh = wh.join(" AND ");
        let total: i64 = self
            .conn
            .query_row(
                &format!("SELECT count(*) FROM cases c WHERE {wh}"),
                rusqlite::params_from_iter(&args),
                |r| r.get(0),
            )
            .map_err(err)?;
        let limit = f.limit.clamp(1, 1000) as i64;
        let mut page_args = args.clone();
        page_args.push(limit.into());
        page_args.push((f.offset as i64).into());
        let n = page_args.len();
        let cases = select_cases(
            &self.conn,
            &format!("{wh} ORDER BY c.due_at, c.id LIMIT ?{} OFFSET ?{n}", n - 1),
            rusqlite::params_from_iter(&page_args),
        )?;
        Ok((cases, total as u64))
    }

    /// The case `id` with its history.
    pub fn case(&self, id: i64) -> Result<Option<(Case, Vec<CaseNote>)>, StoreError> {
        case_with_notes(&self.conn, id)
    }

    /// The cases of a customer's answers with their notes, oldest first.
    pub fn cases_of_customer(
        &self,
        customer_id: &str,
    ) -> Result<Vec<crate::CustomerCase>, StoreError> {
        let cases = select_cases(
            &self.conn,
            "r.customer_id = ?1 ORDER BY c.opened_at, c.id",
            [customer_id],
        )?;
        cases
            .into_iter()
            .map(|case| {
                Ok(crate::CustomerCase {
                    notes: notes(&self.conn, case.id)?,
                    case,
                })
            })
            .collect()
    }

    /// Every case's times, oldest first, for the loop's figures, with the first NPS its
    /// customer gave after the answer that opened it (looked up per case through the
    /// customer's index: the queue's figures do not read every NPS answer of the store).
    pub fn case_times(&self) -> Result<Vec<CaseTimes>, StoreError> {
        let mut s = self
            .conn
            .prepare(
                "SELECT r.customer_id, c.metric, r.submitted_at, c.opened_at, c.due_at, c.status,
                    c.contacted_at, c.closed_at,
                    (SELECT a.score FROM responses l
                       JOIN answers a ON a.response = l.id AND a.metric = 'nps'
                     WHERE r.customer_id IS NOT NULL AND l.customer_id = r.customer_id
                       AND l.submitted_at > max(r.submitted_at, c.opened_at)
                       AND a.score IS NOT NULL
                     ORDER BY l.submitted_at LIMIT 1)
                 FROM cases c JOIN responses r ON r.id = c.response ORDER BY c.opened_at, c.id",
            )
            .map_err(err)?;
        let rows = s
            .query_map([], |r| {
                let status: String = r.get(5)?;
                Ok(CaseTimes {
                    customer_id: r.get(0)?,
                    metric: r.get(1)?,
                    submitted_at: r.get(2)?,
                    opened_at: r.get(3)?,
                    due_at: r.get(4)?,
                    status: CaseStatus::parse(&status).unwrap_or(CaseStatus::New),
                    contacted_at: r.get(6)?,
                    closed_at: r.get(7)?,
                    later_nps: r.get(8)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewAnswer, NewResponse, Record, Store};

    const DAY: i64 = 86_400_000_000;

    fn answer(id: &str, at: i64, metric: &str, score: f64, comment: Option<&str>) -> Record {
        Record::Response(NewResponse {
            response_id: id.into(),
            customer_id: Some(format!("C-{id}")),
            survey: Some("s".into()),
            submitted_at: at,
            answers: vec![NewAnswer {
                metric: metric.into(),
                score: Some(score),
                comment: comment.map(Into::into),
            }],
            ..Default::default()
        })
    }

    #[test]
    fn low_scores_open_one_case_each_in_the_answers_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::open(&path).unwrap();
        let mut keys = Keys::open(&path).unwrap();
        keys.set_case_rules(&[
            CaseRule {
                metric: "nps".into(),
                max_score: 6.0,
                target_hours: 48.0,
                max_age_days: 14.0,
            },
            CaseRule {
                metric: "csat".into(),
                max_score: 2.0,
                target_hours: 24.0,
                max_age_days: 14.0,
            },
        ])
        .unwrap();
        let now = crate::now_micros();
        let batch = vec![
            answer("a", now, "nps", 6.0, Some("slow delivery")),
            answer("b", now, "nps", 7.0, None),
            match answer("inv-c", now, "csat", 2.0, None) {
                Record::Response(r) => Record::Revision(r),
                other => other,
            },
            answer("d", now, "csat", 3.0, None),
            answer("e", now - 15 * DAY, "nps", 0.0, None),
            answer("f", now, "ces", 1.0, None),
        ];
        store.write_blocking(batch.clone()).unwrap();
        // A replay opens nothing more.
        store.write_blocking(batch).unwrap();
        let r = store.reader().unwrap();
        let (cases, total) = r
            .cases(&CaseFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(total, 2);
        let ids: Vec<&str> = cases.iter().map(|c| c.response_id.as_str()).collect();
        // Soonest due first: the CSAT case's target is 24 h.
        assert_eq!(ids, ["inv-c", "a"]);
        let a = &cases[1];
        assert_eq!(a.comment.as_deref(), Some("slow delivery"));
        assert_eq!(a.status, CaseStatus::New);
        assert!((a.due_at - a.opened_at - 2 * DAY).abs() < 1000);
        // A revision that adds the comment later shows in the case.
        store
            .write_blocking(vec![Record::Revision(NewResponse {
                response_id: "inv-c".into(),
                customer_id: Some("C-inv-c".into()),
                survey: Some("s".into()),
                submitted_at: now,
                answers: vec![NewAnswer {
                    metric: "csat".into(),
                    score: None,
                    comment: Some("rude <b>agent</b>".into()),
                }],
                ..Default::default()
            })])
            .unwrap();
        let (c, notes) = r.case(cases[0].id).unwrap().unwrap();
        assert_eq!(c.comment.as_deref(), Some("rude <b>agent</b>"));
        assert!(notes.is_empty());
        // New rules open the cases of recent answers stored before them, once.
        keys.set_case_rules(&[CaseRule {
            metric: "ces".into(),
            max_score: 2.0,
            target_hours: 24.0,
            max_age_days: 14.0,
        }])
        .unwrap();
        assert_eq!(keys.open_missing_cases(crate::now_micros()).unwrap(), 1);
        assert_eq!(keys.open_missing_cases(crate::now_micros()).unwrap(), 0);
        assert_eq!(r.cases(&CaseFilter::default()).unwrap().1, 3);
        // The customer's export holds the case and its notes; erasing them erases both.
        let a_id = cases[1].id;
        keys.act_on_case(a_id, "ana", &CaseAction::Note("called them".into()), now)
            .unwrap();
        let data = r.customer_data("C-a").unwrap();
        assert_eq!(data.cases.len(), 1);
        assert_eq!(data.cases[0].notes[0].text, "called them");
        drop(keys);
        let erased = crate::forget_customer(&path, "C-a").unwrap();
        assert_eq!(erased.cases, 1);
        let left: i64 = r
            .conn
            .query_row("SELECT count(*) FROM case_notes", [], |x| x.get(0))
            .unwrap();
        assert_eq!(left, 0);
        assert_eq!(r.cases(&CaseFilter::default()).unwrap().1, 2);
    }

    #[test]
    fn working_a_case_times_its_contact_and_close_and_keeps_its_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = Store::open(&path).unwrap();
        let mut keys = Keys::open(&path).unwrap();
        keys.set_case_rules(&[CaseRule {
            metric: "nps".into(),
            max_score: 6.0,
            target_hours: 48.0,
            max_age_days: 14.0,
        }])
        .unwrap();
        let t = crate::now_micros();
        store
            .write_blocking(vec![answer("a", t, "nps", 2.0, None)])
            .unwrap();
        let id = store
            .reader()
            .unwrap()
            .cases(&CaseFilter::default())
            .unwrap()
            .0[0]
            .id;
        let act = |keys: &mut Keys, a: CaseAction, at: i64| {
            keys.act_on_case(id, "ana", &a, at).unwrap().unwrap()
        };
        let c = act(&mut keys, CaseAction::Assign("ana".into()), t + 1);
        assert_eq!(c.owner.as_deref(), Some("ana"));
        let c = act(&mut keys, CaseAction::Status(CaseStatus::Contacted), t + 10);
        assert_eq!(c.contacted_at, Some(t + 10));
        assert_eq!(c.closed_at, None);
        act(
            &mut keys,
            CaseAction::Note("called, <i>late parcel</i>".into()),
            t + 11,
        );
        let c = act(&mut keys, CaseAction::Status(CaseStatus::Resolved), t + 20);
        assert_eq!((c.contacted_at, c.closed_at), (Some(t + 10), Some(t + 20)));
        // Reopened: no longer closed, its first contact kept.
        let c = act(&mut keys, CaseAction::Status(CaseStatus::Contacted), t + 30);
        assert_eq!((c.contacted_at, c.closed_at), (Some(t + 10), None));
        let (_, notes) = keys.case(id).unwrap().unwrap();
        let kinds: Vec<(&str, &str)> = notes
            .iter()
            .map(|n| (n.kind.as_str(), n.text.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("owner", "ana"),
                ("status", "contacted"),
                ("note", "called, <i>late parcel</i>"),
                ("status", "resolved"),
                ("status", "contacted"),
            ]
        );
        assert!(
            keys.act_on_case(id, "ana", &CaseAction::Note(" ".into()), t)
                .is_err()
        );
        assert!(
            keys.act_on_case(999, "ana", &CaseAction::Note("x".into()), t)
                .unwrap()
                .is_none()
        );
        // Reminders: once per overdue open case (the first round only marks the start).
        let due = c.due_at;
        assert_eq!(
            keys.enqueue_overdue_cases(0, |_| Default::default())
                .unwrap(),
            0
        );
        assert_eq!(
            keys.enqueue_overdue_cases(due, |_| Default::default())
                .unwrap(),
            0
        );
        assert_eq!(
            keys.enqueue_overdue_cases(due + 1, |_| Default::default())
                .unwrap(),
            1
        );
        assert_eq!(
            keys.enqueue_overdue_cases(due + 1, |_| Default::default())
                .unwrap(),
            0
        );
        // The customer's first NPS after the answer that opened the case (an earlier one and
        // a later second one do not count).
        let nps = |id: &str, at: i64, score: f64| {
            Record::Response(NewResponse {
                response_id: id.into(),
                customer_id: Some("C-a".into()),
                survey: Some("s".into()),
                submitted_at: at,
                answers: vec![NewAnswer {
                    metric: "nps".into(),
                    score: Some(score),
                    comment: None,
                }],
                ..Default::default()
            })
        };
        store
            .write_blocking(vec![
                nps("before", t - 1_000, 8.0),
                nps("second", t + 2_000_000, 10.0),
                nps("first", t + 1_000_000, 9.0),
            ])
            .unwrap();
        let times = store.reader().unwrap().case_times().unwrap();
        assert_eq!(times.len(), 1);
        assert_eq!(times[0].later_nps, Some(9.0));
        assert_eq!(times[0].status, CaseStatus::Contacted);
        // Queues by owner and status.
        let r = store.reader().unwrap();
        let q = |owner: Option<&str>, statuses: Vec<CaseStatus>| {
            r.cases(&CaseFilter {
                owner: owner.map(Into::into),
                statuses,
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .1
        };
        assert_eq!(q(Some("ANA"), vec![]), 1);
        assert_eq!(q(Some(""), vec![]), 0);
        assert_eq!(q(None, vec![CaseStatus::Resolved]), 0);
        assert_eq!(q(None, vec![CaseStatus::New, CaseStatus::Contacted]), 1);
    }
}
