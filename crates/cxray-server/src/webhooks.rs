//! Signed webhooks: what the team's other tools hear from `cxray serve`.
//!
//! ```text
//!  writer opens a case ─┐
//!  a case becomes overdue ─┼▶ outbox row (store, in the same transaction as what it reports)
//!  an [[alerts]] rule fires ┘        └▶ delivery thread: POST, signed; retried with backoff
//! ```
//!
//! - **Events**: `case.opened` (a low score opened a case; sent once the case is
//!   `[cases] announce_after_seconds` old, 60 by default, so that the comment typed after the
//!   score is in it), `case.overdue` (an open case passed
//!   its due time; once), `alert.fired` (an `[[alerts]]` rule fired on the latest complete
//!   period, evaluated as answers arrive; once per rule, segment and period).
//! - **Signing** follows the Standard Webhooks specification: headers `webhook-id`,
//!   `webhook-timestamp` (Unix seconds) and `webhook-signature` = `v1,` and the base64 of
//!   HMAC-SHA256 over `{id}.{timestamp}.{body}` under the endpoint's secret (`whsec_` and
//!   base64). A receiver checks the signature and the timestamp's age, and drops repeated ids.
//! - **Delivery**: a 2xx answer is delivered; anything else is retried after 5 s, 30 s, 2 min,
//!   10 min, 30 min, 1 h, 6 h and 24 h, then given up as failed. The outbox is in the store,
//!   so deliveries survive restarts; `GET /api/v1/webhooks` is the delivery log.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use cxray_store::{Case, NewWebhook};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::AppState;

/// The events an endpoint can receive.
pub const EVENTS: [&str; 3] = ["case.opened", "case.overdue", "alert.fired"];

/// An endpoint with its secret.
#[derive(Clone)]
pub struct Endpoint {
    pub url: String,
    pub events: BTreeSet<String>,
    secret: Vec<u8>,
    /// Where the secret comes from, for the settings page (never the secret of an env var).
    pub secret_from: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// The `whsec_…` form of a secret.
pub fn secret_text(secret: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(secret))
}

/// The endpoints of `[[webhooks]]`; `own` is the server's secret (from the store), used where
/// no `secret_env` is given.
pub fn endpoints(
    configs: &[cxray_project::WebhookConfig],
    own: &[u8; 32],
) -> Result<Vec<Endpoint>, String> {
    let mut urls = BTreeSet::new();
    for c in configs {
        if !urls.insert(c.url.trim()) {
            return Err(format!(
                "[[webhooks]]: {} is listed twice (one endpoint, one secret: list its events \
                 together)",
                c.url.trim()
            ));
        }
    }
    configs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let at = format!("[[webhooks]] #{} ({})", i + 1, c.url);
            let url = c.url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.len() < 10
                || url.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(format!("{at}: url must be an http:// or https:// address"));
            }
            let events: BTreeSet<String> = match &c.events {
                None => EVENTS.iter().map(|e| e.to_string()).collect(),
                Some(list) => {
                    for e in list {
                        if !EVENTS.contains(&e.as_str()) {
                            return Err(format!(
                                "{at}: no event {e:?}; the events are {}",
                                EVENTS.join(", ")
                            ));
                        }
                    }
                    list.iter().cloned().collect()
                }
            };
            let (secret, secret_from) = match &c.secret_env {
                Some(var) => {
                    let v = std::env::var(var).map_err(|_| {
                        format!("{at}: secret_env: the environment variable {var} is not set")
                    })?;
                    let b64 = v.trim().strip_prefix("whsec_").unwrap_or(v.trim());
                    let bytes = STANDARD.decode(b64).map_err(|_| {
                        format!("{at}: the secret in {var} is not whsec_ and base64")
                    })?;
                    if bytes.len() < 24 {
                        return Err(format!(
                            "{at}: the secret in {var} is shorter than 24 bytes"
                        ));
                    }
                    (bytes, format!("the environment variable {var}"))
                }
                None => (own.to_vec(), "the server's (GET /api/v1/webhooks)".into()),
            };
            Ok(Endpoint {
                url: url.to_string(),
                events,
                secret,
                secret_from,
            })
        })
        .collect()
}

/// `webhook-signature` of a message: `v1,` and the base64 of HMAC-SHA256 over
/// `{id}.{timestamp}.{body}`.
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The messages of `event` for every endpoint that receives it.
pub fn messages(
    endpoints: &[Endpoint],
    event: &str,
    customer_id: Option<&str>,
    data: &Value,
) -> Vec<NewWebhook> {
    let payload = json!({
        "type": event,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string();
    endpoints
        .iter()
        .filter(|e| e.events.contains(event))
        .map(|e| NewWebhook {
            id: format!("msg_{}", crate::links::random_id()),
            endpoint: e.url.clone(),
            event: event.to_string(),
            customer_id: customer_id.map(str::to_string),
            payload: payload.clone(),
        })
        .collect()
}

/// What a case's messages say: enough to act, with the link to the case in the app.
fn case_data(case: &Case, base: &str) -> Value {
    let at = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    json!({
        "case_id": case.id,
        "url": format!("{}/app/cases/{}", base.trim_end_matches('/'), case.id),
        "status": case.status,
        "metric": case.metric,
        "score": case.score,
        "comment": case.comment,
        "customer_id": case.customer_id,
        "survey": case.survey,
        "touchpoint": case.touchpoint,
        "response_id": case.response_id,
        "owner": case.owner,
        "opened_at": at(case.opened_at),
        "due_at": at(case.due_at),
    })
}

/// The delivery thread: announces new and overdue cases, sends what is due, until `stop`.
pub fn spawn(
    state: AppState,
    stop: Arc<AtomicBool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("cxray-webhooks".into())
        .spawn(move || {
            let agent = agent();
            let mut last_overdue = 0i64;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = round(&state, &agent, &mut last_overdue, &stop) {
                    eprintln!("cxray serve: webhooks: {e}");
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        })
}

/// One round now, as the delivery thread runs it (for tests and tools): new cases, overdue
/// cases, due deliveries.
pub fn run_once(state: &AppState) -> Result<(), String> {
    let agent = agent();
    round(state, &agent, &mut 0, &AtomicBool::new(false))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(5)))
        // A redirect is a failure (retried): followed, a POST would become a GET without its
        // body, to wherever the answer points, and count as delivered.
        .max_redirects(0)
        .user_agent("cxray-webhooks")
        // Endpoints are reached directly: a proxy set for other tools (HTTP_PROXY) is not
        // asked to carry signed deliveries.
        .proxy(None)
        .build()
        .new_agent()
}

/// One round: new cases, overdue cases (every 30 s), then the due deliveries.
fn round(
    state: &AppState,
    agent: &ureq::Agent,
    last_overdue: &mut i64,
    stop: &AtomicBool,
) -> Result<(), String> {
    let endpoints = &state.webhooks;
    let base = state.public_url.get().cloned().unwrap_or_default();
    let now = chrono::Utc::now().timestamp_micros();
    let build = |event: &str| {
        let base = base.clone();
        let event = event.to_string();
        move |c: &Case| cxray_store::Notices {
            webhooks: messages(
                endpoints,
                &event,
                c.customer_id.as_deref(),
                &case_data(c, &base),
            ),
            emails: if event == "case.overdue" {
                crate::team::overdue_emails(&state.team, c, &base)
            } else {
                vec![]
            },
        }
    };
    state
        .with_admin(|k| k.enqueue_new_cases(now, state.announce_after, build("case.opened")))
        .map_err(|e| e.to_string())?;
    if now - *last_overdue >= 30_000_000 {
        *last_overdue = now;
        state
            .with_admin(|k| k.enqueue_overdue_cases(now, build("case.overdue")))
            .map_err(|e| e.to_string())?;
    }
    let due = state
        .with_admin(|k| k.due_webhooks(now, 50))
        .map_err(|e| e.to_string())?;
    // Endpoints that could not be reached this round: their other messages wait for the next
    // (one silent endpoint must not hold up the others for minutes).
    let mut unreachable: Vec<String> = Vec::new();
    for w in due {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        if unreachable.contains(&w.endpoint) {
            continue;
        }
        let Some(endpoint) = endpoints.iter().find(|e| e.url == w.endpoint) else {
            state
                .with_admin(|k| {
                    k.webhook_given_up(&w.id, "the endpoint is no longer in cxray.toml")
                })
                .map_err(|e| e.to_string())?;
            continue;
        };
        // Read again just before sending: a customer erased meanwhile takes their messages.
        if !state
            .with_admin(|k| k.webhook_pending(&w.id))
            .map_err(|e| e.to_string())?
        {
            continue;
        }
        let timestamp = chrono::Utc::now().timestamp();
        let sent = agent
            .post(&w.endpoint)
            .header("content-type", "application/json")
            .header("webhook-id", &w.id)
            .header("webhook-timestamp", timestamp.to_string())
            .header(
                "webhook-signature",
                signature(&endpoint.secret, &w.id, timestamp, &w.payload),
            )
            .send(w.payload.as_str());
        let outcome = match sent {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err((
                Some(r.status().as_u16()),
                format!("the endpoint answered {}", r.status()),
            )),
            Err(e) => {
                unreachable.push(w.endpoint.clone());
                Err((None, e.to_string()))
            }
        };
        let at = chrono::Utc::now().timestamp_micros();
        state
            .with_admin(|k| k.webhook_attempted(&w.id, at, outcome))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The alerts thread: evaluates the `[[alerts]]` rules whenever the store's content changed
/// (at most every `every`), and stores an `alert.fired` message per rule, segment and period
/// that fired for the first time.
pub fn spawn_alerts(
    state: AppState,
    stop: Arc<AtomicBool>,
    every: Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("cxray-alerts".into())
        .spawn(move || {
            let mut seen = None;
            while !stop.load(Ordering::Relaxed) {
                if let Err(e) = crate::team::send_digest_if_due(&state, chrono::Utc::now()) {
                    eprintln!("cxray serve: the team's digest: {e}");
                }
                if !state.has_alerts {
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
                match state.store_version() {
                    Ok(v) if Some(v) != seen => match evaluate_alerts(&state) {
                        Ok(_) => seen = Some(v),
                        Err(e) => eprintln!("cxray serve: alerts: {e}"),
                    },
                    Ok(_) => {}
                    Err(e) => eprintln!("cxray serve: alerts: {e}"),
                }
                let mut slept = Duration::ZERO;
                while slept < every && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    slept += Duration::from_millis(100);
                }
            }
        })
}

/// Evaluates the alert rules once; the number of new alerts stored.
pub fn evaluate_alerts(state: &AppState) -> Result<usize, String> {
    let project = match state.project() {
        Ok(p) => p,
        // Nothing to analyse yet is no alert.
        Err(crate::ApiError::NotFound(_)) => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    let out = project
        .alerts(&cxray_project::AlertsRequest::default())
        .map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp_micros();
    let mut new = 0;
    for r in out
        .results
        .iter()
        .filter(|r| r.status == cxray_insights::alerts::AlertStatus::Fired)
    {
        let data = json!({
            "rule": r.rule,
            "metric": r.metric,
            "period": r.period,
            "dimension": r.dimension,
            "segment": r.segment,
            "n": r.n,
            "value": r.value,
            "ci_low": r.ci_low,
            "ci_high": r.ci_high,
            "previous_period": r.previous_period,
            "previous_value": r.previous_value,
            "change": r.change,
            "p_value": r.p_value,
            "q_value": r.q_value,
            "reasons": r.reasons,
        });
        let notices = cxray_store::Notices {
            webhooks: messages(&state.webhooks, "alert.fired", None, &data),
            emails: crate::team::alert_emails(
                &state.team,
                r,
                state.public_url.get().map_or("", String::as_str),
            ),
        };
        let segment = r.segment.clone().unwrap_or_default();
        if state
            .with_admin(|k| k.enqueue_alert(&r.rule, &segment, &r.period, now, &notices))
            .map_err(|e| e.to_string())?
        {
            new += 1;
        }
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification (and of its reference libraries'
        // tests): secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, id msg_p5jXN8AQM9LWM0D4loKWxJek,
        // timestamp 1614265330, body {"test": 2432232314}.
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &secret,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(
            secret_text(&secret),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
    }

    #[test]
    fn endpoints_are_checked() {
        let own = [7u8; 32];
        let ok = endpoints(
            &[cxray_project::WebhookConfig {
                url: "http://127.0.0.1:9999/hook".into(),
                events: Some(vec!["alert.fired".into()]),
                secret_env: None,
            }],
            &own,
        )
        .unwrap();
        assert_eq!(ok[0].events.len(), 1);
        let one = cxray_project::WebhookConfig {
            url: "http://127.0.0.1:9999/hook".into(),
            ..Default::default()
        };
        let twice = endpoints(&[one.clone(), one], &own).unwrap_err();
        assert!(twice.contains("listed twice"), "{twice}");
        assert_eq!(ok[0].secret, own.to_vec());
        let m = messages(&ok, "case.opened", Some("C1"), &json!({}));
        assert!(m.is_empty());
        let m = messages(&ok, "alert.fired", None, &json!({"rule": "r"}));
        assert_eq!(m.len(), 1);
        let body: Value = serde_json::from_str(&m[0].payload).unwrap();
        assert_eq!(body["type"], "alert.fired");
        assert_eq!(body["data"]["rule"], "r");
        for bad in [
            cxray_project::WebhookConfig {
                url: "ftp://example.com/x".into(),
                ..Default::default()
            },
            cxray_project::WebhookConfig {
                url: "https://example.com/x".into(),
                events: Some(vec!["case.closed".into()]),
                ..Default::default()
            },
            cxray_project::WebhookConfig {
                url: "https://example.com/x".into(),
                secret_env: Some("CXRAY_TEST_NO_SUCH_VARIABLE".into()),
                ..Default::default()
            },
        ] {
            assert!(
                endpoints(&[bad.clone(), bad.clone()], &own).is_err(),
                "{bad:?} twice"
            );
            assert!(
                endpoints(std::slice::from_ref(&bad), &own).is_err(),
                "{bad:?}"
            );
        }
    }
}
