//! Reading the store: a read-only connection on the last commit (WAL: it never waits for the
//! writer, nor the writer for it).

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;

use crate::{NewAnswer, NewEvent, NewResponse, StoreError};

/// Rows in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub responses: u64,
    pub answers: u64,
    pub events: u64,
}

/// An invitation: a personal survey link made for a customer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invitation {
    pub invitation_id: String,
    pub survey: String,
    pub customer_id: Option<String>,
    pub language: Option<String>,
    /// µs since the Unix epoch.
    pub sent_at: i64,
    pub expires_at: i64,
    /// The journey step or page that triggered it (none: a link made through the API).
    pub touchpoint: Option<String>,
}

/// How far the responses of a survey got.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SurveyProgress {
    pub responses: u64,
    /// Metric → (answers with a score, answers with a comment).
    pub metrics: BTreeMap<String, (u64, u64)>,
}

/// A stored response: what was sent, and when it arrived.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredResponse {
    #[serde(flatten)]
    pub response: NewResponse,
    /// When the store received it, µs since the Unix epoch.
    pub received_at: i64,
}

/// A stored journey event: what was sent, and when it arrived.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub event: NewEvent,
    pub received_at: i64,
}

/// A read-only view of the store.
pub struct Reader {
    pub(crate) conn: Connection,
}

fn read_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Read(e.to_string())
}

fn parse_attributes(json: String) -> rusqlite::Result<BTreeMap<String, String>> {
    serde_json::from_str(&json).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Reader {
    pub(crate) fn open(path: &Path) -> Result<Reader, StoreError> {
        Ok(Reader {
            conn: crate::schema::open_for_reading(path)?,
        })
    }

    /// The keys not revoked, with the SHA-256 of each (a server's key ring).
    pub fn active_keys(&self) -> Result<Vec<(crate::ApiKey, [u8; 32])>, StoreError> {
        crate::keys::list(&self.conn, true)
    }

    /// Opens a store file for reading only (no writer needed, e.g. `cxray report` on it).
    pub fn open_file(path: impl AsRef<Path>) -> Result<Reader, StoreError> {
        Reader::open(path.as_ref())
    }

    /// Rows of each table.
    /// A number that changes whenever another connection commits (SQLite's `data_version`):
    /// what a cache of analyses compares to know whether the store changed.
    pub fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(read_error)
    }

    /// Marks that change when what analyses read changes, and not with the team's own work
    /// (sessions, cases): the last response, event and invitation rows and the erasures. A
    /// revision of a response is not among them; the writer's commit count is (see
    /// [`crate::Store::stats`]).
    pub fn content_marks(&self) -> Result<[i64; 4], StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT coalesce(max(id), 0) FROM responses),
                        (SELECT coalesce(max(id), 0) FROM events),
                        (SELECT coalesce(max(rowid), 0) FROM invitations),
                        (SELECT count(*) FROM erasures)",
                [],
                |r| Ok([r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?]),
            )
            .map_err(read_error)
    }

    /// Whether the file can be read (a constant-time query: what a health check asks).
    pub fn check(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|_| ())
            .map_err(read_error)
    }

    pub fn counts(&self) -> Result<Counts, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT count(*) FROM responses), (SELECT count(*) FROM answers),
                        (SELECT count(*) FROM events)",
                [],
                |r| {
                    Ok(Counts {
                        responses: r.get::<_, i64>(0)? as u64,
                        answers: r.get::<_, i64>(1)? as u64,
                        events: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .map_err(read_error)
    }

    /// Every response with its answers (sorted by metric), in the order received.
    pub fn responses(&self) -> Result<Vec<StoredResponse>, StoreError> {
        let mut answers: BTreeMap<i64, Vec<NewAnswer>> = BTreeMap::new();
        let mut s = self
            .conn
            .prepare(
                "SELECT response, metric, score, comment FROM answers ORDER BY response, metric",
            )
            .map_err(read_error)?;
        let rows = s
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    NewAnswer {
                        metric: r.get(1)?,
                        score: r.get(2)?,
                        comment: r.get(3)?,
                    },
                ))
            })
            .map_err(read_error)?;
        for row in rows {
            let (id, a) = row.map_err(read_error)?;
            answers.entry(id).or_default().push(a);
        }
        let mut s = self
            .conn
            .prepare(
                "SELECT id, response_id, survey, invitation_id, customer_id, submitted_at,
                        channel, touchpoint, language, attributes, received_at
                 FROM responses ORDER BY id",
            )
            .map_err(read_error)?;
        let rows = s
            .query_map([], |r| {
                Ok(StoredResponse {
                    response: NewResponse {
                        answers: answers.remove(&r.get::<_, i64>(0)?).unwrap_or_default(),
                        response_id: r.get(1)?,
                        survey: r.get(2)?,
                        invitation_id: r.get(3)?,
                        customer_id: r.get(4)?,
                        submitted_at: r.get(5)?,
                        channel: r.get(6)?,
                        touchpoint: r.get(7)?,
                        language: r.get(8)?,
                        attributes: parse_attributes(r.get(9)?)?,
                        time_from_server: false,
                    },
                    received_at: r.get(10)?,
                })
            })
            .map_err(read_error)?;
        rows.collect::<Result<_, _>>().map_err(read_error)
    }

    /// The answers of one response by its id (metric, score, comment), sorted by metric;
    /// `None` when no such response is stored.
    pub fn answers_of(&self, response_id: &str) -> Result<Option<Vec<NewAnswer>>, StoreError> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM responses WHERE response_id = ?1")
            .and_then(|mut s| {
                use rusqlite::OptionalExtension;
                s.query_row([response_id], |r| r.get(0)).optional()
            })
            .map_err(read_error)?;
        let Some(id) = id else { return Ok(None) };
        let mut s = self
            .conn
            .prepare_cached(
                "SELECT metric, score, comment FROM answers WHERE response = ?1 ORDER BY metric",
            )
            .map_err(read_error)?;
        let rows = s
            .query_map([id], |r| {
                Ok(NewAnswer {
                    metric: r.get(0)?,
                    score: r.get(1)?,
                    comment: r.get(2)?,
                })
            })
            .map_err(read_error)?;
        rows.collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(read_error)
    }

    /// How far the responses of a survey got: the responses, and per metric the answers with
    /// a score and those with a comment (drop-off per question).
    pub fn survey_progress(&self, survey: &str) -> Result<SurveyProgress, StoreError> {
        let responses: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM responses WHERE survey = ?1",
                [survey],
                |r| r.get(0),
            )
            .map_err(read_error)?;
        let mut s = self
            .conn
            .prepare(
                "SELECT a.metric, count(a.score), count(nullif(trim(a.comment), ''))
                 FROM answers a JOIN responses r ON r.id = a.response
                 WHERE r.survey = ?1 GROUP BY a.metric",
            )
            .map_err(read_error)?;
        let metrics = s
            .query_map([survey], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64),
                ))
            })
            .map_err(read_error)?
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(read_error)?;
        Ok(SurveyProgress {
            responses: responses as u64,
            metrics,
        })
    }

    /// Every invitation, in the order sent.
    pub fn invitations(&self) -> Result<Vec<Invitation>, StoreError> {
        let mut s = self
            .conn
            .prepare(
                "SELECT invitation_id, survey, customer_id, language, sent_at, expires_at,
                    touchpoint
                 FROM invitations ORDER BY sent_at, invitation_id",
            )
            .map_err(read_error)?;
        let rows = s
            .query_map([], |r| {
                Ok(Invitation {
                    invitation_id: r.get(0)?,
                    survey: r.get(1)?,
                    customer_id: r.get(2)?,
                    language: r.get(3)?,
                    sent_at: r.get(4)?,
                    expires_at: r.get(5)?,
                    touchpoint: r.get(6)?,
                })
            })
            .map_err(read_error)?;
        rows.collect::<Result<_, _>>().map_err(read_error)
    }

    /// Every journey event, in the order received.
    pub fn events(&self) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_where("", &[])
    }

    /// Events of `step` without a decision for `survey` (`event_id/survey`), in the order
    /// received: those a trigger has yet to decide (the server stopped between an event's
    /// commit and its decision).
    pub fn undecided_events(
        &self,
        step: &str,
        survey: &str,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.events_where(
            "WHERE step = ?1 AND NOT EXISTS (SELECT 1 FROM decisions d
               WHERE d.decision_id = events.event_id || '/' || ?2)",
            &[step, survey],
        )
    }

    fn events_where(&self, filter: &str, args: &[&str]) -> Result<Vec<StoredEvent>, StoreError> {
        let mut s = self
            .conn
            .prepare(&format!(
                "SELECT event_id, customer_id, session_id, step, at, attributes, received_at
                 FROM events {filter} ORDER BY id"
            ))
            .map_err(read_error)?;
        let rows = s
            .query_map(rusqlite::params_from_iter(args), |r| {
                Ok(StoredEvent {
                    event: NewEvent {
                        event_id: r.get(0)?,
                        customer_id: r.get(1)?,
                        session_id: r.get(2)?,
                        step: r.get(3)?,
                        at: r.get(4)?,
                        attributes: parse_attributes(r.get(5)?)?,
                        time_from_server: false,
                    },
                    received_at: r.get(6)?,
                })
            })
            .map_err(read_error)?;
        rows.collect::<Result<_, _>>().map_err(read_error)
    }
}
