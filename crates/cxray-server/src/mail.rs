//! Invitation emails. An email is composed when its invitation is decided (in the customer's
//! language: the survey's first question with its scale as one-click links, a link to the
//! whole survey, an unsubscribe link and the `List-Unsubscribe` headers of RFC 2369 and
//! RFC 8058), queued in the store's outbox in the same transaction as the decision, and sent
//! by one mailer thread over SMTP (`lettre`, TLS from rustls).
//!
//! - **Nothing is lost**: an email stays in the outbox until the mail server accepts it, so a
//!   restart or a mail server that is down only delays it. A temporary refusal (4xx, a
//!   connection that fails) is tried again after `retry_seconds`, doubled at each attempt up to
//!   six hours, `max_attempts` times; a permanent one (5xx: no such mailbox) is not.
//! - **At least once, not twice by design**: the attempt is recorded after the server's
//!   answer; a crash between the two sends the email again on restart, with the same
//!   `Message-ID` so that mail systems can tell.
//! - **Never past its link**: an email whose link expired before it could go is marked
//!   expired, not sent.
//! - **A score link records nothing by itself**: mail scanners open every link of a message;
//!   the page shows the score chosen and a person's browser sends it (pages.rs).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cxray_project::SmtpSettings;
use cxray_store::{OutboxEmail, Queued};
use lettre::message::header::{self, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};
use maud::html;

use crate::links::hex;

use crate::AppState;
use crate::surveys::{Question, Survey, pick, word};

/// What an invitation email says.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The email inviting to `survey` in `lang`: `link` is the personal link (absolute URL) and
/// `unsubscribe` the unsubscribe page's.
pub fn compose(survey: &Survey, lang: &str, link: &str, unsubscribe: &str) -> Composed {
    let first = &survey.languages[0];
    let subject = pick(&survey.config.title, lang, first)
        .unwrap_or(word("email_subject", lang))
        .to_string();
    // The first question's scale as links, when it is a scale: one click answers it.
    let scale = match survey.questions.first() {
        Some(Question::Scale {
            spec,
            text,
            low,
            high,
        }) => {
            let binary = Survey::is_binary(spec);
            let choices: Vec<(String, String)> = ((spec.min as i64)..=(spec.max as i64))
                .map(|v| {
                    let label = if binary {
                        word(if v == 0 { "no" } else { "yes" }, lang).to_string()
                    } else {
                        v.to_string()
                    };
                    (label, format!("{link}?q=1&score={v}"))
                })
                .collect();
            let ends = (!binary).then(|| {
                (
                    pick(low, lang, first).unwrap_or("").to_string(),
                    pick(high, lang, first).unwrap_or("").to_string(),
                )
            });
            Some((
                pick(text, lang, first).unwrap_or("").to_string(),
                choices,
                ends,
            ))
        }
        _ => None,
    };
    let mut text = String::new();
    if let Some((question, choices, ends)) = &scale {
        text.push_str(&format!("{question}\n{}\n\n", word("email_click", lang)));
        if let Some((low, high)) = ends
            && !(low.is_empty() && high.is_empty())
        {
            let (a, b) = (&choices[0].0, &choices[choices.len() - 1].0);
            text.push_str(&format!("{a} = {low}, {b} = {high}\n\n"));
        }
        for (label, url) in choices {
            text.push_str(&format!("{label}: {url}\n"));
        }
        text.push('\n');
    }
    text.push_str(&format!("{}: {link}\n\n", word("email_open", lang)));
    text.push_str(&format!(
        "{} {}: {unsubscribe}\n",
        word("unsubscribe_ask", lang),
        word("unsubscribe", lang)
    ));
    // Inline styles only: mail clients drop style sheets.
    let cell = "display:inline-block;min-width:2.2em;padding:.5em .3em;margin:2px;\
                border:1px solid #1f5fa8;border-radius:4px;color:#1f5fa8;\
                text-decoration:none;text-align:center;font-weight:600";
    let html = html! {
        (maud::DOCTYPE)
        html lang=(lang) {
            head { meta charset="utf-8"; title { (subject) } }
            body style="font-family:system-ui,sans-serif;color:#1d2430;max-width:40em" {
                @if let Some((question, choices, ends)) = &scale {
                    p style="font-size:1.15em;font-weight:600" { (question) }
                    p { (word("email_click", lang)) }
                    p {
                        @for (label, url) in choices {
                            a href=(url) style=(cell) { (label) } " "
                        }
                    }
                    @if let Some((low, high)) = ends {
                        p style="color:#5a6270;font-size:.9em" {
                            (choices[0].0) " = " (low) " · "
                            (choices[choices.len() - 1].0) " = " (high)
                        }
                    }
                }
                p { a href=(link) { (word("email_open", lang)) } }
                p style="color:#5a6270;font-size:.85em;margin-top:2em" {
                    (word("unsubscribe_ask", lang)) " "
                    a href=(unsubscribe) style="color:#5a6270" { (word("unsubscribe", lang)) }
                }
            }
        }
    }
    .into_string();
    Composed {
        subject,
        text,
        html,
    }
}

/// `List-Unsubscribe: <https://…/u/…>` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): a mail client's own
/// unsubscribe button posts to the link, which suppresses the customer.
#[derive(Clone)]
struct OneClickUnsubscribe;

impl Header for OneClickUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(OneClickUnsubscribe)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq)]
pub struct SendFailure {
    /// The mail server refused for good (5xx): trying again cannot help.
    pub permanent: bool,
    /// No answer at all (connection, TLS, time-out): the server is likely down for every
    /// email, not just this one.
    pub unreachable: bool,
    pub message: String,
}

/// Sends the outbox's emails through one SMTP server.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
    max_attempts: u32,
    retry_seconds: u64,
}

/// The longest wait between two attempts.
const MAX_BACKOFF_SECONDS: u64 = 6 * 3600;

impl Mailer {
    /// Checks `[serve.smtp]`: the sender, the security, the password's variable.
    pub fn new(s: &SmtpSettings) -> Result<Mailer, String> {
        let bad = |what: String| format!("[serve.smtp] {what}");
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| bad(format!("from {:?} is not an email address: {e}", s.from)))?;
        let host = s.host.trim();
        if host.is_empty() {
            return Err(bad("host is empty".into()));
        }
        let security = s.security.as_deref().unwrap_or("starttls");
        let builder = match security {
            "starttls" => SmtpTransport::starttls_relay(host)
                .map_err(|e| bad(format!("host {host:?}: {e}")))?
                .port(s.port.unwrap_or(587)),
            "tls" => SmtpTransport::relay(host)
                .map_err(|e| bad(format!("host {host:?}: {e}")))?
                .port(s.port.unwrap_or(465)),
            "none" => SmtpTransport::builder_dangerous(host).port(s.port.unwrap_or(25)),
            other => {
                return Err(bad(format!(
                    "security {other:?}: use \"starttls\", \"tls\" or \"none\""
                )));
            }
        };
        let mut builder = builder.timeout(Some(Duration::from_secs(20)));
        match (&s.username, &s.password_env) {
            (Some(user), Some(var)) => {
                let password = std::env::var(var).map_err(|_| {
                    bad(format!(
                        "password_env: the environment variable {var} is not set"
                    ))
                })?;
                builder = builder.credentials(Credentials::new(user.clone(), password));
            }
            (None, None) => {}
            _ => return Err(bad("give both username and password_env, or neither".into())),
        }
        let max_attempts = s.max_attempts.unwrap_or(8);
        if max_attempts == 0 {
            return Err(bad("max_attempts must be at least 1".into()));
        }
        Ok(Mailer {
            transport: builder.build(),
            from,
            max_attempts,
            retry_seconds: s.retry_seconds.unwrap_or(60).max(1),
        })
    }

    /// The message of an outbox email.
    pub fn message(&self, e: &OutboxEmail) -> Result<Message, String> {
        let to: Mailbox = e
            .recipient
            .parse()
            .map_err(|err| format!("recipient {:?}: {err}", e.recipient))?;
        let domain = self.from.email.domain().to_string();
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(e.subject.clone())
            // The same id at every attempt: a copy sent again after a crash is recognisable.
            .message_id(Some(format!(
                "<{}@{domain}>",
                hex(&<sha2::Sha256 as sha2::Digest>::digest(
                    e.invitation_id.as_bytes()
                ))
            )));
        if let Some(u) = &e.unsubscribe {
            b = b
                .header(ListUnsubscribe(u.clone()))
                .header(OneClickUnsubscribe);
        }
        let part = |ct: header::ContentType, body: &str| {
            SinglePart::builder()
                .header(ct)
                .header(header::ContentTransferEncoding::Base64)
                .body(body.to_string())
        };
        b.multipart(
            MultiPart::alternative()
                .singlepart(part(header::ContentType::TEXT_PLAIN, &e.text_body))
                .singlepart(part(header::ContentType::TEXT_HTML, &e.html_body)),
        )
        .map_err(|err| err.to_string())
    }

    /// One attempt to send an email.
    pub fn send(&self, e: &OutboxEmail) -> Result<(), SendFailure> {
        let message = self.message(e).map_err(|message| SendFailure {
            permanent: true,
            unreachable: false,
            message,
        })?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|err| SendFailure {
                permanent: err.is_permanent(),
                unreachable: !err.is_permanent() && !err.is_transient(),
                message: err.to_string(),
            })
    }

    /// When an email that failed `attempts` times is tried next (µs after `now`); none when
    /// it is given up.
    pub fn next_attempt(&self, now: i64, attempts: u32, failure: &SendFailure) -> Option<i64> {
        if failure.permanent || attempts >= self.max_attempts {
            return None;
        }
        let wait = self
            .retry_seconds
            .saturating_mul(1u64 << (attempts.saturating_sub(1)).min(20))
            .min(MAX_BACKOFF_SECONDS);
        Some(now + wait as i64 * 1_000_000)
    }

    /// Sends every email due now (a batch at a time), records each attempt, and says how many
    /// were tried.
    pub fn send_due(&self, state: &AppState, stop: &AtomicBool) -> Result<usize, String> {
        let now = chrono::Utc::now().timestamp_micros();
        let mut tried = 0;
        state
            .with_admin(|k| k.expire_emails(now))
            .map_err(|e| e.to_string())?;
        loop {
            let now = chrono::Utc::now().timestamp_micros();
            let due: Vec<Queued> = state
                .with_admin(|k| k.due_emails(now, 50))
                .map_err(|e| e.to_string())?;
            if due.is_empty() {
                return Ok(tried);
            }
            for q in due {
                if stop.load(Ordering::Relaxed) {
                    return Ok(tried);
                }
                let outcome = self.send(&q.email);
                tried += 1;
                let now = chrono::Utc::now().timestamp_micros();
                let attempts = q.attempts + 1;
                let recorded = match &outcome {
                    Ok(()) => {
                        state.with_admin(|k| k.email_attempted(&q.email.invitation_id, now, Ok(())))
                    }
                    Err(f) => {
                        let next = self.next_attempt(now, attempts, f);
                        if next.is_none() {
                            eprintln!(
                                "cxray serve: email {} given up after {attempts} attempts: {}",
                                q.email.invitation_id, f.message
                            );
                        }
                        state.with_admin(|k| {
                            k.email_attempted(&q.email.invitation_id, now, Err((&f.message, next)))
                        })
                    }
                };
                recorded.map_err(|e| e.to_string())?;
                if outcome.is_err_and(|f| f.unreachable) {
                    // The server is likely down for every email: the next round comes in
                    // half a second, and each email waits for its own back-off.
                    return Ok(tried);
                }
            }
        }
    }
}

/// The mailer thread of `serve`: sends what is due every half second until `stop`.
pub fn spawn(
    state: AppState,
    mailer: Arc<Mailer>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("cxray-mailer".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = mailer.send_due(&state, &stop) {
                    eprintln!("cxray serve: the outbox could not be read: {e}");
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
}

/// The outbox email of an invitation: composed for `recipient` from the survey.
pub fn outbox_email(
    survey: &Survey,
    invitation: &cxray_store::Invitation,
    recipient: &str,
    base_url: &str,
    link_path: &str,
) -> OutboxEmail {
    let base = base_url.trim_end_matches('/');
    let link = format!("{base}{link_path}");
    // The unsubscribe page takes the same token as the survey link.
    let unsubscribe = format!(
        "{base}/u/{}",
        link_path.strip_prefix("/s/").unwrap_or(link_path)
    );
    let lang = invitation
        .language
        .clone()
        .unwrap_or_else(|| survey.languages[0].clone());
    let c = compose(survey, &lang, &link, &unsubscribe);
    OutboxEmail {
        invitation_id: invitation.invitation_id.clone(),
        customer_id: invitation.customer_id.clone(),
        recipient: recipient.to_string(),
        subject: c.subject,
        text_body: c.text,
        html_body: c.html,
        unsubscribe: Some(unsubscribe),
        not_before: invitation.sent_at,
        expires_at: invitation.expires_at,
    }
}
