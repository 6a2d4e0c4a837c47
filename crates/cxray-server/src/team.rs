//! The CX team's emails (`[team]`): each fired alert, each case past its due time, and a daily
//! or weekly digest (the report's highlights and scorecard with their intervals, and the
//! cases; never a customer's words). They go through the store's outbox like invitations
//! (kept across restarts, retried with back-off, sent by `[serve.smtp]`), stored in the
//! transaction of what they report; a digest is sent once per day or week.

use chrono::{DateTime, Datelike, Timelike, Utc};
use cxray_insights::alerts::AlertResult;
use cxray_store::{Case, Notices, OutboxEmail};

/// How often the digest goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digest {
    Daily,
    /// On Mondays.
    Weekly,
}

/// The team's addresses and digest.
#[derive(Debug, Default)]
pub struct Team {
    pub email: Vec<String>,
    pub digest: Option<Digest>,
    /// When a digest last failed to be made: it is tried again after [`DIGEST_RETRY`] (the
    /// report is the whole project's, not something to redo every half second).
    failed: std::sync::Mutex<Option<std::time::Instant>>,
}

/// Wait after a digest that could not be made.
const DIGEST_RETRY: std::time::Duration = std::time::Duration::from_secs(600);

/// Hour (UTC) from which the day's digest goes.
const DIGEST_HOUR: u32 = 7;

/// Days a team email waits to be sent before it is dropped as stale.
const KEEP_DAYS: i64 = 3;

impl Team {
    pub fn new(s: &cxray_project::TeamSettings) -> Result<Team, String> {
        for a in &s.email {
            // As the mailer will read it: refused here, not at the first send.
            if a.parse::<lettre::Address>().is_err() {
                return Err(format!("[team] email: {a:?} is not an email address"));
            }
        }
        let digest = match s.digest.as_deref() {
            None => None,
            Some("daily") => Some(Digest::Daily),
            Some("weekly") => Some(Digest::Weekly),
            Some(other) => {
                return Err(format!(
                    "[team] digest = {other:?}: use \"daily\" or \"weekly\""
                ));
            }
        };
        if digest.is_some() && s.email.is_empty() {
            return Err("[team] digest needs [team] email: the addresses to send it to".into());
        }
        Ok(Team {
            email: s.email.clone(),
            digest,
            failed: Default::default(),
        })
    }

    fn emails(
        &self,
        id: &str,
        customer_id: Option<&str>,
        subject: String,
        text: String,
        html: String,
    ) -> Vec<OutboxEmail> {
        let now = Utc::now().timestamp_micros();
        self.email
            .iter()
            .map(|to| OutboxEmail {
                invitation_id: format!("team:{id}:{to}"),
                customer_id: customer_id.map(str::to_string),
                recipient: to.clone(),
                subject: subject.clone(),
                text_body: text.clone(),
                html_body: html.clone(),
                unsubscribe: None,
                not_before: now,
                expires_at: now + KEEP_DAYS * 86_400_000_000,
            })
            .collect()
    }
}

fn esc(s: &str) -> String {
    maud::html! { (s) }.into_string()
}

/// The emails of a case past its due time (none without `[team] email`).
pub fn overdue_emails(team: &Team, c: &Case, base: &str) -> Vec<OutboxEmail> {
    if team.email.is_empty() {
        return vec![];
    }
    let url = format!("{}/app/cases/{}", base.trim_end_matches('/'), c.id);
    let who = c.customer_id.as_deref().unwrap_or("an anonymous customer");
    let subject = format!("Overdue case {}: {} {} from {who}", c.id, c.metric, c.score);
    let comment = c.comment.as_deref().unwrap_or("(no comment)");
    let owner = c.owner.as_deref().unwrap_or("nobody");
    let text = format!(
        "Case {} is past its due time and still {} (owner: {owner}).\n\n{} {} from {who}:\n\
         {comment}\n\n{url}\n",
        c.id,
        c.status.label(),
        c.metric,
        c.score
    );
    let html = format!(
        "<p>Case {} is past its due time and still {} (owner: {}).</p><p>{} {} from {}:</p>\
         <blockquote>{}</blockquote><p><a href=\"{}\">Open the case</a></p>",
        c.id,
        c.status.label(),
        esc(owner),
        esc(&c.metric),
        c.score,
        esc(who),
        esc(comment),
        esc(&url)
    );
    team.emails(
        // The time of the reminder: a reopened case that is overdue again is reminded again.
        &format!("case:{}:overdue:{}", c.id, Utc::now().timestamp_micros()),
        c.customer_id.as_deref(),
        subject,
        text,
        html,
    )
}

/// The emails of a fired alert (none without `[team] email`).
pub fn alert_emails(team: &Team, r: &AlertResult, base: &str) -> Vec<OutboxEmail> {
    if team.email.is_empty() {
        return vec![];
    }
    let segment = match (&r.dimension, &r.segment) {
        (Some(d), Some(s)) => format!("{d} = {s}, "),
        _ => String::new(),
    };
    let subject = format!("cxray alert: {} ({segment}{})", r.rule, r.period);
    let value = match (r.value, r.ci_low, r.ci_high) {
        (Some(v), Some(l), Some(h)) => format!("{v:.1} [{l:.1}, {h:.1}], n = {}", r.n),
        (Some(v), _, _) => format!("{v:.1}, n = {}", r.n),
        _ => format!("n = {}", r.n),
    };
    let reasons = r.reasons.join("; ");
    let link = format!("{}/app", base.trim_end_matches('/'));
    let text = format!(
        "{} fired for {segment}{}: {} {value}.\n{reasons}\n\n{link}\n",
        r.rule, r.period, r.metric
    );
    let html = format!(
        "<p><strong>{}</strong> fired for {}{}: {} {}.</p><p>{}</p><p><a href=\"{}\">Open the \
         overview</a></p>",
        esc(&r.rule),
        esc(&segment),
        esc(&r.period),
        esc(&r.metric),
        esc(&value),
        esc(&reasons),
        esc(&link)
    );
    let seg = r.segment.as_deref().unwrap_or("");
    team.emails(
        &format!("alert:{}:{seg}:{}", r.rule, r.period),
        None,
        subject,
        text,
        html,
    )
}

/// The digest's period key at `now`, when one is due: the day (daily) or the ISO week
/// (weekly, from Monday), from [`DIGEST_HOUR`] UTC.
pub fn digest_key(digest: Digest, now: DateTime<Utc>) -> Option<String> {
    if now.hour() < DIGEST_HOUR {
        return None;
    }
    match digest {
        Digest::Daily => Some(now.format("%Y-%m-%d").to_string()),
        Digest::Weekly => {
            let w = now.iso_week();
            Some(format!("{}-W{:02}", w.year(), w.week()))
        }
    }
}

/// The digest's key among the alerts sent: no `[[alerts]]` rule has an empty name.
const DIGEST_RULE: &str = "";

/// Stores the digest's emails when one is due and was not sent for its period yet.
pub fn send_digest_if_due(state: &crate::AppState, now: DateTime<Utc>) -> Result<bool, String> {
    let team = &state.team;
    let Some(digest) = team.digest else {
        return Ok(false);
    };
    let Some(key) = digest_key(digest, now) else {
        return Ok(false);
    };
    if team
        .failed
        .lock()
        .expect("digest lock")
        .is_some_and(|t| t.elapsed() < DIGEST_RETRY)
    {
        return Ok(false);
    }
    // Already sent for this period: nothing computed.
    let sent = state
        .with_admin(|k| k.alert_sent(DIGEST_RULE, "digest", &key))
        .map_err(|e| e.to_string())?;
    if sent {
        return Ok(false);
    }
    let made = make_digest(state, now, &key);
    *team.failed.lock().expect("digest lock") = made.is_err().then(std::time::Instant::now);
    let Some(notices) = made? else {
        return Ok(false);
    };
    state
        .with_admin(|k| {
            k.enqueue_alert(
                DIGEST_RULE,
                "digest",
                &key,
                now.timestamp_micros(),
                &notices,
            )
        })
        .map_err(|e| e.to_string())
}

/// The digest's emails: the report's highlights and scorecard with their intervals, and the
/// cases (never a customer's words: a digest is kept in the outbox, where an erasure would
/// not find them).
fn make_digest(
    state: &crate::AppState,
    now: DateTime<Utc>,
    key: &str,
) -> Result<Option<Notices>, String> {
    let doc = match state.project() {
        Ok(p) => p
            .report(&cxray_project::ReportRequest::default())
            .map_err(|e| e.to_string())?,
        Err(crate::ApiError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let cases = state
        .with_reader(|r| r.case_times())
        .map_err(|e| e.to_string())?;
    let micros = now.timestamp_micros();
    let open = cases.iter().filter(|c| c.closed_at.is_none()).count();
    let overdue = cases
        .iter()
        .filter(|c| c.closed_at.is_none() && c.due_at < micros)
        .count();
    let base = state.public_url.get().cloned().unwrap_or_default();
    let base = base.trim_end_matches('/');
    let r = &doc.report;
    let period = r.current_period.as_deref().unwrap_or("all periods");
    let mut text = format!("{} — {key}\n\nCurrent period {period}.\n\n", doc.title);
    let mut html = format!(
        "<h1>{}</h1><p>Current period {}.</p>",
        esc(&doc.title),
        esc(period)
    );
    if !r.highlights.is_empty() {
        text.push_str("Highlights:\n");
        html.push_str("<h2>Highlights</h2><ul>");
        for h in &r.highlights {
            text.push_str(&format!("- {}\n", h.text));
            html.push_str(&format!("<li>{}</li>", esc(&h.text)));
        }
        text.push('\n');
        html.push_str("</ul>");
    }
    text.push_str("Scorecard:\n");
    html.push_str("<h2>Scorecard</h2><ul>");
    for s in &r.scorecard {
        let line = match &s.current {
            Some(c) => match (c.value, c.ci_low, c.ci_high) {
                (Some(v), Some(l), Some(h)) => {
                    format!("{} {v:.1} [{l:.1}, {h:.1}], n = {}", s.display_name, c.n)
                }
                (Some(v), _, _) => format!("{} {v:.1}, n = {}", s.display_name, c.n),
                _ => format!("{}: no value, n = {}", s.display_name, c.n),
            },
            None => format!("{}: no answers this period", s.display_name),
        };
        let change = s
            .vs_previous
            .as_ref()
            .map(|c| format!(" ({})", c.verdict))
            .unwrap_or_default();
        text.push_str(&format!("- {line}{change}\n"));
        html.push_str(&format!("<li>{}{}</li>", esc(&line), esc(&change)));
    }
    text.push_str(&format!(
        "\nOpen cases: {open} ({overdue} overdue). {base}/app/cases\nThe overview: {base}/app\n"
    ));
    html.push_str(&format!(
        "</ul><p>Open cases: {open} ({overdue} overdue). <a href=\"{}\">The cases</a> · \
         <a href=\"{}\">the overview</a></p>",
        esc(&format!("{base}/app/cases")),
        esc(&format!("{base}/app"))
    ));
    Ok(Some(Notices {
        webhooks: vec![],
        emails: state.team.emails(
            &format!("digest:{key}"),
            None,
            format!("cxray digest {key}: {}", doc.title),
            text,
            html,
        ),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn digests_are_due_once_a_day_or_a_week_from_seven() {
        let at = |d, h| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        assert_eq!(digest_key(Digest::Daily, at(7, 6)), None);
        assert_eq!(
            digest_key(Digest::Daily, at(7, 7)).as_deref(),
            Some("2026-12-07")
        );
        // 2026-12-07 is a Monday: its week's key holds to Sunday.
        assert_eq!(
            digest_key(Digest::Weekly, at(7, 9)).as_deref(),
            Some("2026-W50")
        );
        assert_eq!(
            digest_key(Digest::Weekly, at(13, 23)).as_deref(),
            Some("2026-W50")
        );
        assert_eq!(
            digest_key(Digest::Weekly, at(14, 8)).as_deref(),
            Some("2026-W51")
        );
    }

    #[test]
    fn settings_are_checked() {
        let s = |email: &[&str], digest: Option<&str>| cxray_project::TeamSettings {
            email: email.iter().map(|e| e.to_string()).collect(),
            digest: digest.map(str::to_string),
        };
        assert!(Team::new(&s(&["cx@example.com"], Some("weekly"))).is_ok());
        for bad in [
            s(&["not an address"], None),
            s(&["a@b.c, d@e.f"], None),
            s(&["cx@example.com"], Some("hourly")),
            s(&[], Some("daily")),
        ] {
            assert!(Team::new(&bad).is_err(), "{bad:?}");
        }
    }
}
