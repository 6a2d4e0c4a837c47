//! What the store accepts: survey responses (one row per response with its answers) and
//! journey events, in the canonical shape of the entities `responses` and `journey` that
//! `cxray-ingest` reads from files. The server checks a request by the same rules as a file
//! row before it becomes a record; the checks here are the store's own invariants, so that
//! nothing malformed is written whoever calls it.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::WriteError;

/// Longest id accepted (response, event, customer, session, invitation).
pub const MAX_ID_LEN: usize = 200;

/// A survey response: who answered, when, where, and one answer per metric.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewResponse {
    /// The response's own id, unique in the store: sending it again is a replay.
    pub response_id: String,
    /// The survey it answers, when collected by cxray.
    pub survey: Option<String>,
    /// The invitation it answers (personal links).
    pub invitation_id: Option<String>,
    pub customer_id: Option<String>,
    /// When it was submitted, µs since the Unix epoch (UTC).
    pub submitted_at: i64,
    pub channel: Option<String>,
    /// The journey touchpoint it follows, when the collector knows it.
    pub touchpoint: Option<String>,
    /// Language of the answers (ISO 639-1).
    pub language: Option<String>,
    /// Segment attributes (region, plan …), as in a file's extra columns.
    pub attributes: BTreeMap<String, String>,
    /// At least one; one per metric.
    pub answers: Vec<NewAnswer>,
    /// `submitted_at` is the time the server received it (the sender gave none): a retry of
    /// the same record gets another time, so the time is left out of the digest that tells a
    /// replay from a conflict.
    #[serde(skip)]
    pub time_from_server: bool,
}

/// One answered question of a response.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewAnswer {
    /// The metric (`nps`, `csat`, `ces`, or a custom metric of the project).
    pub metric: String,
    /// The score; none for a question left unanswered that has a comment.
    pub score: Option<f64>,
    pub comment: Option<String>,
}

/// A journey event: a customer (or a visit) reached a step at a time.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewEvent {
    /// The event's own id, unique in the store: sending it again is a replay.
    pub event_id: String,
    pub customer_id: Option<String>,
    pub session_id: Option<String>,
    /// The step or touchpoint (`visit`, `checkout`, `delivery`, `ticket_solved` …).
    pub step: String,
    /// When it happened, µs since the Unix epoch (UTC).
    pub at: i64,
    pub attributes: BTreeMap<String, String>,
    /// `at` is the time the server received it (see [`NewResponse::time_from_server`]).
    #[serde(skip)]
    pub time_from_server: bool,
}

/// One record of a batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A response as a whole: sending it again with other content is a conflict.
    Response(NewResponse),
    Event(NewEvent),
    /// Answers of a survey page, saved as each question is answered: the first revision of an
    /// id stores the response; later ones set the answers they carry (a score or a comment
    /// left out keeps the stored one) and leave the others, so one invitation stays one
    /// response. Only a response of the same survey can be revised.
    Revision(NewResponse),
}

impl Record {
    /// The record's kind and id, as errors name them.
    pub fn id(&self) -> (&'static str, &str) {
        match self {
            Record::Response(r) | Record::Revision(r) => ("response", &r.response_id),
            Record::Event(e) => ("event", &e.event_id),
        }
    }

    /// SHA-256 of the record's content (its JSON, whose maps are ordered), to tell a replay
    /// from a conflicting record with the same id.
    pub(crate) fn digest(&self) -> Vec<u8> {
        let server_time = match self {
            Record::Response(r) | Record::Revision(r) => r.time_from_server,
            Record::Event(e) => e.time_from_server,
        };
        let json = if server_time {
            let mut own = self.clone();
            match &mut own {
                Record::Response(r) | Record::Revision(r) => r.submitted_at = 0,
                Record::Event(e) => e.at = 0,
            }
            serde_json::to_vec(&own)
        } else {
            serde_json::to_vec(self)
        }
        .expect("records serialise");
        Sha256::digest(&json).to_vec()
    }
}

/// Checks every record of a batch as the store does before writing it; the first failure names
/// the record by its position.
pub fn check(batch: &[Record]) -> Result<(), WriteError> {
    if batch.is_empty() {
        return Err(WriteError::Invalid {
            index: 0,
            reason: "the batch has no records".into(),
        });
    }
    for (index, r) in batch.iter().enumerate() {
        check_one(r).map_err(|reason| WriteError::Invalid { index, reason })?;
    }
    Ok(())
}

fn check_one(r: &Record) -> Result<(), String> {
    match r {
        Record::Revision(r) if r.survey.is_none() => Err(format!(
            "response {:?}: a revision names its survey",
            r.response_id
        )),
        Record::Response(r) if PAGE_PREFIXES.iter().any(|p| r.response_id.starts_with(p)) => {
            Err(format!(
                "response_id {:?}: ids starting with {} are kept for the responses of survey \
                 links",
                r.response_id,
                PAGE_PREFIXES.join(" or ")
            ))
        }
        Record::Revision(r) if !PAGE_PREFIXES.iter().any(|p| r.response_id.starts_with(p)) => {
            Err(format!(
                "response {:?}: only responses of survey links are revised",
                r.response_id
            ))
        }
        Record::Response(r) | Record::Revision(r) => {
            id("response_id", Some(&r.response_id), true)?;
            if r.response_id.contains('#') {
                // Exports name an answer `response_id#metric`.
                return Err("response_id contains '#', which cxray keeps for answer ids".into());
            }
            for (name, v) in [
                ("customer_id", &r.customer_id),
                ("invitation_id", &r.invitation_id),
                ("survey", &r.survey),
            ] {
                id(name, v.as_ref(), false)?;
            }
            attribute_names(&r.attributes, false)?;
            if r.answers.is_empty() {
                return Err(format!("response {:?} has no answers", r.response_id));
            }
            let mut seen = std::collections::BTreeSet::new();
            for a in &r.answers {
                if a.metric.trim().is_empty() {
                    return Err("an answer has no metric".into());
                }
                if !seen.insert(a.metric.as_str()) {
                    return Err(format!("metric {:?} is answered twice", a.metric));
                }
                if let Some(s) = a.score
                    && !s.is_finite()
                {
                    return Err(format!("the {} score is not a number", a.metric));
                }
                if a.score.is_none() && a.comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    return Err(format!(
                        "the {} answer has neither score nor comment",
                        a.metric
                    ));
                }
            }
            Ok(())
        }
        Record::Event(e) => {
            id("event_id", Some(&e.event_id), true)?;
            id("customer_id", e.customer_id.as_ref(), false)?;
            id("session_id", e.session_id.as_ref(), false)?;
            attribute_names(&e.attributes, true)?;
            if e.customer_id.is_none() && e.session_id.is_none() {
                return Err("a journey event needs a session_id or a customer_id".into());
            }
            if e.step.trim().is_empty() {
                return Err("the event has no step".into());
            }
            Ok(())
        }
    }
}

/// Prefixes of the ids of responses made by survey links (`inv-` personal, `anon-`
/// anonymous): only those are revised, and a response sent whole cannot take one.
pub const PAGE_PREFIXES: [&str; 2] = ["inv-", "anon-"];

/// Most attributes of one record.
pub const MAX_ATTRIBUTES: usize = 50;
/// Longest attribute name (bytes) and value (characters).
pub const MAX_ATTRIBUTE_NAME: usize = 64;
pub const MAX_ATTRIBUTE_VALUE: usize = 500;

/// Why `name` cannot be an attribute of a response (`event`: of a journey event), if it
/// cannot: blank, padded, too long, with control characters, or read as a column of the record
/// when the store is exported or analysed (a `Weight` attribute would become the weight of
/// every answer; names are compared trimmed and in any case, aliases included).
pub fn attribute_problem(name: &str, event: bool) -> Option<String> {
    if name.trim().is_empty() {
        return Some("an attribute has a blank name".into());
    }
    if name.trim() != name || name.len() > MAX_ATTRIBUTE_NAME || name.chars().any(char::is_control)
    {
        return Some(format!(
            "attribute name {name:?}: 1 to {MAX_ATTRIBUTE_NAME} bytes, no spaces at the ends, no \
             control characters"
        ));
    }
    let lower = name.to_lowercase();
    let own: &[&str] = if event {
        &crate::EVENT_COLUMNS
    } else {
        &crate::RESPONSE_COLUMNS
    };
    let read_as = if event {
        None
    } else {
        cxray_ingest::canonical_of_header(name)
    };
    if own.contains(&lower.as_str())
        || ["local_date", "source_line", "source_file", "weight"].contains(&lower.as_str())
        || read_as.is_some()
    {
        return Some(format!(
            "attribute {name:?} would be read as the column {} of the record; send it as that \
             field, or rename it",
            read_as.unwrap_or(&lower)
        ));
    }
    None
}

fn attribute_names(a: &BTreeMap<String, String>, event: bool) -> Result<(), String> {
    if a.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "{} attributes; at most {MAX_ATTRIBUTES} per record",
            a.len()
        ));
    }
    for (name, value) in a {
        if let Some(p) = attribute_problem(name, event) {
            return Err(p);
        }
        if value.chars().count() > MAX_ATTRIBUTE_VALUE {
            return Err(format!(
                "attribute {name:?} is longer than {MAX_ATTRIBUTE_VALUE} characters"
            ));
        }
    }
    Ok(())
}

/// An id is not blank and at most [`MAX_ID_LEN`] bytes.
fn id(name: &str, v: Option<&String>, required: bool) -> Result<(), String> {
    match v {
        None if required => Err(format!("{name} is missing")),
        None => Ok(()),
        Some(v) if v.trim().is_empty() => Err(format!("{name} is blank")),
        Some(v) if v.len() > MAX_ID_LEN => Err(format!(
            "{name} is {} bytes long (at most {MAX_ID_LEN})",
            v.len()
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(id: &str) -> NewResponse {
        NewResponse {
            response_id: id.into(),
            submitted_at: 1,
            answers: vec![NewAnswer {
                metric: "nps".into(),
                score: Some(7.0),
                comment: None,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn each_broken_record_is_named_with_its_reason() {
        let ok = Record::Response(response("R1"));
        let mut twice = response("R2");
        twice.answers.push(twice.answers[0].clone());
        let mut nan = response("R3");
        nan.answers[0].score = Some(f64::NAN);
        let mut empty = response("R4");
        empty.answers[0].score = None;
        let cases: Vec<(Record, &str)> = vec![
            (Record::Response(response(" ")), "response_id is blank"),
            (Record::Response(response("R#1")), "contains '#'"),
            (Record::Response(twice), "answered twice"),
            (Record::Response(nan), "not a number"),
            (Record::Response(empty), "neither score nor comment"),
            (
                Record::Response(NewResponse {
                    answers: vec![],
                    ..response("R5")
                }),
                "has no answers",
            ),
            (
                Record::Event(NewEvent {
                    event_id: "E1".into(),
                    step: "visit".into(),
                    ..Default::default()
                }),
                "needs a session_id or a customer_id",
            ),
            (
                Record::Event(NewEvent {
                    event_id: "x".repeat(MAX_ID_LEN + 1),
                    ..Default::default()
                }),
                "at most 200",
            ),
        ];
        for (bad, reason) in cases {
            match check(&[ok.clone(), bad.clone()]) {
                Err(WriteError::Invalid {
                    index: 1,
                    reason: r,
                }) => {
                    assert!(r.contains(reason), "{r} for {bad:?}")
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(check(&[ok]).is_ok());
        assert!(check(&[]).is_err());
    }

    #[test]
    fn the_digest_follows_the_content_not_the_order_of_attributes() {
        let mut a = response("R1");
        a.attributes.insert("region".into(), "North".into());
        a.attributes.insert("plan".into(), "plus".into());
        let mut b = response("R1");
        b.attributes.insert("plan".into(), "plus".into());
        b.attributes.insert("region".into(), "North".into());
        let (a, mut b) = (Record::Response(a), Record::Response(b));
        assert_eq!(a.digest(), b.digest());
        if let Record::Response(r) = &mut b {
            r.answers[0].score = Some(8.0);
        }
        assert_ne!(a.digest(), b.digest());
    }
}
