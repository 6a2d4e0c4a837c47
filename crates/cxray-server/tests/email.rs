//! Invitations by email, against a mail server started by the test on 127.0.0.1: an event
//! invites by email; the email carries the first question's scale as one-click links, a link to
//! the survey and an unsubscribe link with the `List-Unsubscribe` headers; a plain GET of a
//! score link records nothing; the unsubscribe post suppresses the customer; temporary
//! refusals are retried with back-off, permanent ones are not; an email queued while no mail
//! server is configured goes out once there is one; forgetting the customer erases the email.

mod common;

use std::sync::atomic::AtomicBool;

use axum::http::{Method, Request, StatusCode};
use common::smtp::Sink;
use cxray_server::{AppState, ServerConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const PROJECT: &str = r#"
[[surveys]]
id = "support"
languages = ["en", "nl"]
title = { en = "Your support request", nl = "Uw vraag aan de klantenservice" }

[[surveys.questions]]
metric = "nps"

[[surveys.questions]]
reason_for = "nps"

[[triggers]]
on = "ticket_solved"
survey = "support"
channel = "email"

[contact]
same_survey_days = 30
"#;

const BASE: &str = "https://cx.example.test";

type Server = common::ProjectServer;

fn smtp(port: u16) -> cxray_project::SmtpSettings {
    cxray_project::SmtpSettings {
        host: "127.0.0.1".into(),
        port: Some(port),
        security: Some("none".into()),
        from: "Acme Feedback <feedback@acme.test>".into(),
        max_attempts: Some(3),
        retry_seconds: Some(1),
        ..Default::default()
    }
}

fn open(dir: tempfile::TempDir, smtp: Option<cxray_project::SmtpSettings>) -> Server {
    common::project_server(dir, PROJECT, |config| {
        config.public_url = Some(BASE.into());
        config.smtp = smtp;
    })
}

impl Server {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: &str,
        json: bool,
    ) -> (StatusCode, Value, String) {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.key));
        req = req.header(
            "content-type",
            if json {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            },
        );
        let r = self
            .app
            .clone()
            .oneshot(req.body(axum::body::Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        )
    }

    async fn event(&self, id: &str, customer: &str, email: Option<&str>) -> Value {
        let mut e = json!({"event_id": id, "customer_id": customer, "step": "ticket_solved",
                           "attributes": {"language": "nl"}});
        if let Some(a) = email {
            e["attributes"]["email"] = json!(a);
        }
        let (status, body, text) = self
            .call(Method::POST, "/api/v1/events", &e.to_string(), true)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
        body["decisions"][0].clone()
    }

    async fn outbox(&self) -> Value {
        self.call(Method::GET, "/api/v1/outbox", "", true).await.1
    }

    fn send_due(&self) -> usize {
        self.state
            .mailer
            .as_ref()
            .expect("a mailer")
            .send_due(&self.state, &AtomicBool::new(false))
            .unwrap()
    }
}

/// The path of a URL of this server.
fn path_of(url: &str) -> &str {
    url.strip_prefix(BASE)
        .unwrap_or_else(|| panic!("{url} is not on {BASE}"))
}

#[tokio::test]
async fn an_event_emails_a_one_click_invitation_that_a_get_never_answers() {
    let sink = Sink::start();
    let s = open(tempfile::tempdir().unwrap(), Some(smtp(sink.port)));
    let d = s.event("T1", "C1", Some("ann@example.test")).await;
    assert_eq!(
        (d["outcome"].as_str(), d["reason"].as_str()),
        (Some("invited"), Some("invited by email")),
        "{d}"
    );
    assert_eq!(s.outbox().await["counts"], json!({"pending": 1}));
    assert_eq!(s.send_due(), 1);
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(
        (m.from.as_str(), m.to.as_slice()),
        ("feedback@acme.test", &["ann@example.test".to_string()][..])
    );
    // In the customer's language, with the survey's title.
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("Uw vraag aan de klantenservice")
    );
    let text = m.part("text/plain").expect("a text part");
    let html = m.part("text/html").expect("an html part");
    assert!(text.contains("Klik op uw antwoord"), "{text}");
    // The scale 0-10 as links, in both parts.
    let scores: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.contains("&score="))
        .collect();
    assert_eq!(scores.len(), 11, "{text}");
    assert!(scores[10].ends_with("?q=1&score=10"), "{}", scores[10]);
    assert_eq!(html.matches("&amp;score=").count(), 11, "{html}");
    // RFC 2369 and RFC 8058 headers.
    let unsubscribe = m.header("List-Unsubscribe").unwrap();
    assert!(
        unsubscribe.starts_with(&format!("<{BASE}/u/")),
        "{unsubscribe}"
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert!(m.header("Message-ID").unwrap().ends_with("@acme.test>"));
    let out = s.outbox().await;
    assert_eq!(out["counts"], json!({"sent": 1}));
    assert_eq!(out["emails"][0]["attempts"], 1);
    assert!(
        out["emails"][0].get("text_body").is_none(),
        "no personal links through the outbox route"
    );
    // A mail scanner opens the score link: the page shows the score, nothing is recorded.
    let (status, _, page) = s.call(Method::GET, path_of(scores[3]), "", false).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"3\" checked"), "{page}");
    assert_eq!(s.state.store.reader().unwrap().counts().unwrap().answers, 0);
    // A person's browser posts it (the page's script does): recorded.
    let (status, _, _) = s
        .call(
            Method::POST,
            &format!("{}&lang=nl", path_of(scores[3]).split('&').next().unwrap()),
            "q=1&value=3&action=next",
            false,
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.state.store.reader().unwrap().counts().unwrap().answers, 1);
    // A second ticket inside 30 days: throttled, no email.
    let d = s.event("T2", "C1", Some("ann@example.test")).await;
    assert_eq!(d["outcome"], "throttled");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("surveyed today (support)"),
        "{d}"
    );
    // The mail client's one-click unsubscribe posts to the header's URL.
    let u = unsubscribe.trim_matches(['<', '>']);
    let (status, _, _) = s
        .call(
            Method::POST,
            path_of(u),
            "List-Unsubscribe=One-Click",
            false,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let d = s.event("T3", "C1", Some("ann@example.test")).await;
    assert_eq!(d["reason"], "suppressed: unsubscribed");
    // Events without a usable address are decided, with the reason, and send nothing.
    assert_eq!(s.event("T4", "C2", None).await["outcome"], "no_address");
    let d = s.event("T5", "C3", Some("not an address")).await;
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("not a valid address"),
        "{d}"
    );
    assert_eq!(s.send_due(), 0);
    // The customer's timeline (`cxray customer C1`) shows each decision with its reason and
    // the email's delivery, beside the answer.
    let project = common::store_project(s.dir.path());
    let timeline = project.customer("C1").unwrap();
    let lines: Vec<(&str, &str)> = timeline
        .interactions
        .iter()
        .map(|i| (i.entity, i.summary.as_str()))
        .collect();
    for expected in [
        ("decisions", "survey support: invited by email"),
        ("emails", "invitation email sent to ann@example.test"),
        ("decisions", "survey support: suppressed: unsubscribed"),
    ] {
        assert!(lines.contains(&expected), "{expected:?} not in {lines:#?}");
    }
    assert!(
        lines
            .iter()
            .any(|(e, s)| *e == "decisions" && s.contains("throttled: surveyed today"))
    );
    assert!(lines.iter().any(|(e, _)| *e == "responses"), "{lines:#?}");
    // The customer's export holds the email; forgetting them erases it.
    let (_, export, _) = s
        .call(Method::GET, "/api/v1/customers/C1/export", "", true)
        .await;
    assert_eq!(export["emails"][0]["recipient"], "ann@example.test");
    let (_, erased, text) = s
        .call(Method::DELETE, "/api/v1/customers/C1", "", true)
        .await;
    assert_eq!(erased["outbox"], 1, "{text}");
    let left = cxray_store::Reader::open_file(s.dir.path().join("cxray.db")).unwrap();
    assert!(left.outbox(Some("C1"), None).unwrap().is_empty());
}

#[tokio::test]
async fn refusals_are_retried_with_back_off_and_permanent_ones_given_up() {
    let sink = Sink::start();
    let s = open(tempfile::tempdir().unwrap(), Some(smtp(sink.port)));
    sink.answer("busy@example.test", &[451]);
    sink.answer("gone@example.test", &[550]);
    sink.answer("down@example.test", &[451, 451, 451, 451]);
    s.event("R1", "C1", Some("busy@example.test")).await;
    s.event("R2", "C2", Some("gone@example.test")).await;
    s.event("R3", "C3", Some("down@example.test")).await;
    // One round stops at the first temporary failure (the server is likely down for all).
    let mut rounds = 0;
    let started = std::time::Instant::now();
    loop {
        s.send_due();
        let out = s.outbox().await;
        let c = &out["counts"];
        if c["pending"].is_null() {
            break;
        }
        rounds += 1;
        assert!(started.elapsed().as_secs() < 30, "still pending: {out}");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let out = s.outbox().await;
    let by = |id: &str| {
        out["emails"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["customer_id"] == id)
            .unwrap()
            .clone()
    };
    let busy = by("C1");
    assert_eq!(
        (busy["status"].as_str(), busy["attempts"].as_u64()),
        (Some("sent"), Some(2)),
        "{busy}"
    );
    let gone = by("C2");
    assert_eq!(
        (gone["status"].as_str(), gone["attempts"].as_u64()),
        (Some("failed"), Some(1)),
        "{gone}"
    );
    assert!(
        gone["last_error"].as_str().unwrap().contains("550"),
        "{gone}"
    );
    let down = by("C3");
    assert_eq!(
        (down["status"].as_str(), down["attempts"].as_u64()),
        (Some("failed"), Some(3)),
        "max_attempts: {down}"
    );
    // Back-off: 1 s, then 2 s, so the third attempt came at least 3 s after the first.
    assert!(
        started.elapsed().as_secs_f64() >= 3.0,
        "{:?}",
        started.elapsed()
    );
    assert!(rounds >= 3);
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn an_email_queued_without_a_mail_server_goes_out_when_there_is_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir, None);
    assert!(s.state.mailer.is_none());
    assert_eq!(
        s.event("Q1", "C1", Some("bo@example.test")).await["outcome"],
        "invited"
    );
    assert_eq!(s.outbox().await["counts"], json!({"pending": 1}));
    let Server {
        dir, state, app, ..
    } = s;
    drop((state, app));
    // Restarted with a mail server: the email waiting in the store goes out.
    let sink = Sink::start();
    let s = open(dir, Some(smtp(sink.port)));
    assert_eq!(s.send_due(), 1);
    assert_eq!(sink.mails()[0].to, ["bo@example.test"]);
}

#[test]
fn a_bad_mail_setting_keeps_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    for (change, says) in [
        (
            Box::new(|s: &mut cxray_project::SmtpSettings| s.from = "nobody".into())
                as Box<dyn Fn(&mut cxray_project::SmtpSettings)>,
            "from \"nobody\"",
        ),
        (
            Box::new(|s| s.security = Some("ssl".into())),
            "security \"ssl\"",
        ),
        (
            Box::new(|s| {
                s.username = Some("u".into());
                s.password_env = Some("CXRAY_TEST_NO_SUCH_VARIABLE".into());
            }),
            "CXRAY_TEST_NO_SUCH_VARIABLE is not set",
        ),
        (
            Box::new(|s| s.username = Some("u".into())),
            "both username and password_env",
        ),
    ] {
        let mut settings = smtp(25);
        change(&mut settings);
        let mut config = ServerConfig::new(dir.path().join("cxray.db"));
        config.smtp = Some(settings);
        let e = AppState::open(config).err().expect("refused");
        assert!(e.contains("[serve.smtp]") && e.contains(says), "{e}");
    }
}
