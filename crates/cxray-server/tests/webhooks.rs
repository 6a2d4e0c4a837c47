//! Signed webhooks to a receiver on 127.0.0.1: a detractor's case is announced once, an alert
//! rule that fires is announced once per period, refusals are retried and logged, and the
//! receiver can check every signature with the secret the admin API shows.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use base64::Engine;
use chrono::Datelike;
use common::project_server;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// A request the receiver got: its headers (lower-case names) and body.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// An HTTP receiver on 127.0.0.1 answering each request with the next status of `statuses`
/// (then 204), for at most 100 requests.
fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        let mut statuses = statuses.into_iter();
        for stream in listener.incoming().take(100) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            seen.lock().unwrap().push(Received {
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let status = statuses.next().unwrap_or(204);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

/// Whether `r` is signed with `secret` (whsec_…) as Standard Webhooks says.
fn signed_by(r: &Received, secret: &str) -> bool {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(
        format!(
            "{}.{}.{}",
            r.header("webhook-id"),
            r.header("webhook-timestamp"),
            r.body
        )
        .as_bytes(),
    );
    let expected = format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    );
    r.header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

fn project(url: &str) -> String {
    format!(
        r#"
[cases]
announce_after_seconds = 0

[[alerts]]
name = "NPS below zero"
metric = "nps"
significantly_below = 0

[[webhooks]]
url = "{url}"
"#
    )
}

async fn post(s: &common::ProjectServer, body: &str) -> StatusCode {
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/responses")
        .header("authorization", format!("Bearer {}", s.key))
        .header("content-type", "application/x-ndjson")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    tower::ServiceExt::oneshot(s.app.clone(), req)
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn cases_and_alerts_reach_a_receiver_signed_once_and_failures_are_retried() {
    let (url, got) = receiver(vec![500]);
    let s = project_server(tempfile::tempdir().unwrap(), &project(&url), |_| {});
    let state = s.state.clone();
    let run = || {
        let st = state.clone();
        async move {
            tokio::task::spawn_blocking(move || cxray_server::webhooks::run_once(&st))
                .await
                .unwrap()
        }
    };
    // The first round only marks where announcements start.
    run().await.unwrap();
    let now = chrono::Utc::now();
    let detractor = format!(
        r#"{{"response_id": "R1", "customer_id": "C1", "submitted_at": "{}", "answers": [{{"metric": "nps", "score": 1, "comment": "never again"}}]}}"#,
        now.to_rfc3339()
    );
    assert_eq!(post(&s, &detractor).await, StatusCode::CREATED);
    run().await.unwrap();
    // The receiver answered 500: nothing delivered, retried after 5 s.
    let (log, counts) = state.with_admin(|k| k.webhook_log(10)).unwrap();
    assert_eq!(counts, vec![("pending".to_string(), 1)]);
    assert_eq!(log[0].attempts, 1);
    assert_eq!(log[0].last_status, Some(500));
    assert_eq!(got.lock().unwrap().len(), 1);
    // Due again after the backoff: delivered, the same id.
    tokio::time::sleep(std::time::Duration::from_millis(5200)).await;
    run().await.unwrap();
    let received = got.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
    // Signed with the secret the admin API shows.
    let a = s_get(&s, "/api/v1/webhooks").await;
    let secret = a["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    for r in &received {
        assert!(signed_by(r, &secret), "{r:?}");
        let age = now.timestamp() - r.header("webhook-timestamp").parse::<i64>().unwrap();
        assert!(age.abs() < 60);
    }
    assert!(!signed_by(
        &received[0],
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    ));
    let body: Value = serde_json::from_str(&received[1].body).unwrap();
    assert_eq!(body["type"], "case.opened");
    assert_eq!(body["data"]["comment"], "never again");
    assert_eq!(body["data"]["score"], 1.0);
    assert!(
        body["data"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/app/cases/1")
    );
    assert_eq!(a["counts"]["delivered"], 1);
    // An alert: promoters two months ago, 30 detractors last month (the latest complete
    // month); fired once, announced once, however often the rules are evaluated.
    let month_start = now.date_naive().with_day(1).unwrap();
    let last_month = month_start - chrono::Duration::days(10);
    let before = month_start - chrono::Duration::days(40);
    let lines: Vec<String> = (0..60)
        .map(|i| {
            let (day, score) = if i < 30 { (last_month, 2) } else { (before, 9) };
            format!(
                r#"{{"response_id": "M{i}", "customer_id": "K{i}", "submitted_at": "{day}T12:00:00Z", "answers": [{{"metric": "nps", "score": {score}}}]}}"#
            )
        })
        .collect();
    assert_eq!(post(&s, &lines.join("\n")).await, StatusCode::CREATED);
    let st = state.clone();
    let fired = tokio::task::spawn_blocking(move || {
        (
            cxray_server::webhooks::evaluate_alerts(&st).unwrap(),
            cxray_server::webhooks::evaluate_alerts(&st).unwrap(),
        )
    })
    .await
    .unwrap();
    assert_eq!(fired, (1, 0));
    run().await.unwrap();
    let received = got.lock().unwrap().clone();
    // Answers older than the cases' 14 days open no case: only the alert is new.
    assert_eq!(received.len(), 3, "{received:?}");
    let alert: Value = serde_json::from_str(&received[2].body).unwrap();
    assert_eq!(alert["type"], "alert.fired");
    assert_eq!(alert["data"]["rule"], "NPS below zero");
    assert!(alert["data"]["value"].as_f64().unwrap() < 0.0);
    assert!(signed_by(&received[2], &secret));
    // Erasing the customer erases the messages about them.
    cxray_store::forget_customer(&s.dir.path().join("cxray.db"), "C1").unwrap();
    let (log, _) = state.with_admin(|k| k.webhook_log(10)).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event, "alert.fired");
}

async fn s_get(s: &common::ProjectServer, path: &str) -> Value {
    let req = axum::http::Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {}", s.key))
        .body(axum::body::Body::empty())
        .unwrap();
    let r = tower::ServiceExt::oneshot(s.app.clone(), req)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let b = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&b).unwrap()
}

#[tokio::test]
async fn the_team_is_emailed_alerts_overdue_cases_and_a_digest_through_the_outbox() {
    let project = r#"
[cases]
target_hours = 0.0001

[[alerts]]
name = "NPS below zero"
metric = "nps"
significantly_below = 0

[team]
email = ["cx@example.com", "lead@example.com"]
digest = "daily"
"#;
    let s = project_server(tempfile::tempdir().unwrap(), project, |_| {});
    let state = s.state.clone();
    // The first round marks where notifications start (nothing is overdue yet).
    let st = state.clone();
    tokio::task::spawn_blocking(move || cxray_server::webhooks::run_once(&st).unwrap())
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let month_start = now.date_naive().with_day(1).unwrap();
    let mut lines = vec![format!(
        r#"{{"response_id": "R1", "customer_id": "C1", "submitted_at": "{}", "answers": [{{"metric": "nps", "score": 1, "comment": "<b>never</b> again"}}]}}"#,
        now.to_rfc3339()
    )];
    for i in 0..60 {
        let (day, score) = if i < 30 {
            (month_start - chrono::Duration::days(10), 2)
        } else {
            (month_start - chrono::Duration::days(40), 9)
        };
        lines.push(format!(
            r#"{{"response_id": "M{i}", "customer_id": "K{i}", "submitted_at": "{day}T12:00:00Z", "answers": [{{"metric": "nps", "score": {score}}}]}}"#
        ));
    }
    assert_eq!(post(&s, &lines.join("\n")).await, StatusCode::CREATED);
    // The case is due within a second; the round after that emails the team about it.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let st = state.clone();
    let (alerts, digest, again) = tokio::task::spawn_blocking(move || {
        cxray_server::webhooks::run_once(&st).unwrap();
        let alerts = cxray_server::webhooks::evaluate_alerts(&st).unwrap();
        // A minute from now, or 07:01 when it is earlier than the digest's hour.
        let seven = chrono::Utc::now()
            .date_naive()
            .and_hms_opt(7, 1, 0)
            .unwrap()
            .and_utc();
        let t = (chrono::Utc::now() + chrono::Duration::minutes(1)).max(seven);
        let digest = cxray_server::team::send_digest_if_due(&st, t).unwrap();
        let again =
            cxray_server::team::send_digest_if_due(&st, t + chrono::Duration::seconds(30)).unwrap();
        (alerts, digest, again)
    })
    .await
    .unwrap();
    assert_eq!((alerts, digest, again), (1, true, false));
    let queued = state.with_reader(|r| r.outbox(None, None)).unwrap();
    let subjects: Vec<(&str, &str)> = queued
        .iter()
        .map(|q| (q.email.recipient.as_str(), q.email.subject.as_str()))
        .collect();
    // Each of the two addresses gets the overdue case, the alert and the digest.
    assert_eq!(queued.len(), 6, "{subjects:?}");
    for to in ["cx@example.com", "lead@example.com"] {
        let mine: Vec<&str> = subjects
            .iter()
            .filter(|(t, _)| *t == to)
            .map(|(_, s)| *s)
            .collect();
        assert!(
            mine.iter()
                .any(|s| s.starts_with("Overdue case 1: nps 1 from C1")),
            "{mine:?}"
        );
        assert!(
            mine.iter()
                .any(|s| s.starts_with("cxray alert: NPS below zero")),
            "{mine:?}"
        );
        assert!(
            mine.iter().any(|s| s.starts_with("cxray digest ")),
            "{mine:?}"
        );
    }
    let case = queued
        .iter()
        .find(|q| q.email.subject.starts_with("Overdue"))
        .unwrap();
    assert!(
        case.email
            .html_body
            .contains("&lt;b&gt;never&lt;/b&gt; again")
    );
    assert!(!case.email.html_body.contains("<b>never"));
    assert!(case.email.text_body.contains("/app/cases/1"));
    let digest = queued
        .iter()
        .find(|q| q.email.subject.starts_with("cxray digest"))
        .unwrap();
    assert!(
        digest.email.text_body.contains("Open cases: 1 (1 overdue)"),
        "{}",
        digest.email.text_body
    );
    assert!(digest.email.html_body.contains("Scorecard"));
    // A digest never quotes a customer: it is kept in the outbox, out of an erasure's reach.
    assert!(!digest.email.text_body.contains("never") && !digest.email.html_body.contains("never"));
    // Erasing the customer takes the email about their case.
    cxray_store::forget_customer(&s.dir.path().join("cxray.db"), "C1").unwrap();
    assert_eq!(
        state.with_reader(|r| r.outbox(None, None)).unwrap().len(),
        4
    );
}
