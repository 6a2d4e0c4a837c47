//! The web widget in process: a customer token signed with the widget key asks on a page, the
//! page's widget trigger decides under the contact rules (once per customer, page and day),
//! answers are saved through the session to the customer's response with channel `widget`;
//! forged or expired tokens, other sites, unknown pages and bad answers are refused and store
//! nothing; CORS headers are on the widget's routes only.

mod common;

use axum::http::{Method, Request, StatusCode};
use cxray_server::{AppState, ServerConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const PROJECT: &str = r#"
[[surveys]]
id = "checkout"
languages = ["en", "nl"]
title = { en = "Your order", nl = "Uw bestelling" }

[[surveys.questions]]
metric = "nps"

[[surveys.questions]]
reason_for = "nps"
if_below = { below = 7, text = { en = "What went wrong?", nl = "Wat ging er mis?" } }

[[surveys]]
id = "account"

[[surveys.questions]]
metric = "csat"

[[triggers]]
on = "checkout"
survey = "checkout"
channel = "widget"

[[triggers]]
on = "settings"
survey = "account"
channel = "widget"

# The same step name posted as an event invites by link, never through the widget.
[[triggers]]
on = "checkout"
survey = "account"

[contact]
any_survey_days = 30
"#;

type Server = common::ProjectServer;

fn open(origins: Option<Vec<String>>) -> Server {
    common::project_server(tempfile::tempdir().unwrap(), PROJECT, |config| {
        config.public_url = Some("https://cx.example.test".into());
        config.widget_origins = origins;
    })
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl Server {
    async fn send(&self, req: Request<axum::body::Body>) -> Reply {
        let r = self.app.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A page's request: JSON sent as text/plain from `origin`, the browser's languages.
    async fn widget(&self, path: &str, body: &Value, origin: &str) -> Reply {
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", origin)
            .header("accept-language", "nl-BE,nl;q=0.9,en;q=0.5")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        self.send(req).await
    }

    async fn api(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.key));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let body = body.map_or(String::new(), Value::to_string);
        self.send(req.body(axum::body::Body::from(body)).unwrap())
            .await
    }

    fn widget_key(&self) -> [u8; 32] {
        self.state.widget_key
    }

    fn token(&self, customer: &str) -> String {
        let expires = chrono::Utc::now().timestamp() + 3600;
        cxray_server::widget::customer_token(&self.widget_key(), customer, expires)
    }

    fn responses(&self) -> Vec<cxray_store::StoredResponse> {
        self.state.store.reader().unwrap().responses().unwrap()
    }

    fn decisions(&self) -> Vec<cxray_store::Decision> {
        self.state.store.reader().unwrap().decisions(None).unwrap()
    }
}

const SHOP: &str = "https://shop.example.test";

#[tokio::test]
async fn a_customer_answers_in_the_widget_once_and_the_rules_hold_across_pages() {
    let s = open(None);
    // What a site needs, for an admin key: the key as hex, the tag, the pages.
    let settings = s.api(Method::GET, "/api/v1/widget", None).await;
    assert_eq!(settings.status, StatusCode::OK);
    let hex: String = s.widget_key().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(settings.body["key"], hex.as_str());
    assert_eq!(
        settings.body["touchpoints"],
        json!(["checkout", "settings"])
    );
    assert!(
        settings.body["tag"]
            .as_str()
            .unwrap()
            .starts_with("<script src=\"https://cx.example.test/w/widget.js\"")
    );

    let ask = json!({"token": s.token("C1"), "touchpoint": "checkout"});
    let a = s.widget("/w/ask", &ask, SHOP).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.headers["access-control-allow-origin"], "*");
    assert_eq!(a.body["show"], true);
    assert_eq!(a.body["reason"], "invited: shown by the widget");
    // In the browser's language, with the follow-up's wording below 7.
    assert_eq!(a.body["language"], "nl");
    assert_eq!(a.body["title"], "Uw bestelling");
    let q = &a.body["questions"];
    assert_eq!(
        (
            q[0]["kind"].clone(),
            q[0]["min"].clone(),
            q[0]["max"].clone()
        ),
        (json!("scale"), json!(0.0), json!(10.0))
    );
    assert_eq!(
        q[1]["below"],
        json!({"score": 7.0, "text": "Wat ging er mis?"})
    );
    assert_eq!(a.body["words"]["close"], "Sluiten");
    let session = a.body["session"].as_str().unwrap().to_string();
    let invitation = a.body["invitation"].as_str().unwrap().to_string();

    // Shown again later that day: the same decision and session, not a second invitation.
    let again = s.widget("/w/ask", &ask, SHOP).await;
    assert_eq!(again.body["session"], session.as_str());
    assert_eq!(s.decisions().len(), 1);
    // On a page in English, the same invitation in English.
    let english = s
        .widget(
            "/w/ask",
            &json!({"token": s.token("C1"), "touchpoint": "checkout", "language": "en-US"}),
            SHOP,
        )
        .await;
    assert_eq!(
        (
            english.body["session"].as_str(),
            english.body["title"].as_str()
        ),
        (Some(session.as_str()), Some("Your order"))
    );

    // A score out of the scale is refused with the scale; one that is not a number, with the
    // page's own prompt in the customer's language; nothing is stored.
    for (value, reason) in [
        (json!(11), "nps score 11 is outside the scale 0-10"),
        (json!("nine"), cxray_server::surveys::word("choose", "nl")),
    ] {
        let bad = s
            .widget(
                "/w/answer",
                &json!({"session": session, "q": 1, "value": value}),
                SHOP,
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
        assert_eq!(bad.headers["access-control-allow-origin"], "*");
        assert_eq!(bad.body["rows"][0]["reason"], reason, "{}", bad.body);
    }
    assert!(s.responses().is_empty());

    for (q, value) in [(1, json!(4)), (2, json!("De levering was te laat"))] {
        let r = s
            .widget(
                "/w/answer",
                &json!({"session": session, "q": q, "value": value}),
                SHOP,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["next"], if q == 1 { json!(2) } else { Value::Null });
        if q == 1 {
            // Every score is given: another page or browser does not ask again (the comment
            // is optional), while this card goes on to it.
            let later = s.widget("/w/ask", &ask, SHOP).await;
            assert_eq!(later.body["reason"], "answered", "{}", later.body);
        }
    }
    let stored = s.responses();
    assert_eq!(stored.len(), 1);
    let r = &stored[0].response;
    assert_eq!(r.customer_id.as_deref(), Some("C1"));
    assert_eq!(r.invitation_id.as_deref(), Some(invitation.as_str()));
    assert_eq!(r.channel.as_deref(), Some("widget"));
    assert_eq!(r.language.as_deref(), Some("nl"));
    // The follow-up is the score's comment: one answer.
    assert_eq!(r.answers.len(), 1);
    assert_eq!(r.answers[0].score, Some(4.0));
    assert_eq!(
        r.answers[0].comment.as_deref(),
        Some("De levering was te laat")
    );
    // Answered: not shown again.
    let done = s.widget("/w/ask", &ask, SHOP).await;
    assert_eq!(
        (done.body["show"].clone(), done.body["reason"].clone()),
        (json!(false), json!("answered"))
    );

    // Another page's survey is throttled by the rule across surveys, with its reason.
    let other = s
        .widget(
            "/w/ask",
            &json!({"token": s.token("C1"), "touchpoint": "settings", "language": "en-GB"}),
            SHOP,
        )
        .await;
    assert_eq!(other.body["show"], false);
    assert_eq!(other.body["outcome"], "throttled");
    assert!(
        other.body["reason"]
            .as_str()
            .unwrap()
            .contains("surveyed today (checkout)"),
        "{}",
        other.body
    );
    // The decisions are the store's, with the widget's page as the invitation's touchpoint.
    let d = s
        .api(Method::GET, "/api/v1/decisions?customer_id=C1", None)
        .await;
    assert_eq!(
        d.body["decisions"].as_array().unwrap().len(),
        2,
        "{}",
        d.body
    );
    let invitations = s.state.store.reader().unwrap().invitations().unwrap();
    assert_eq!(invitations.len(), 1);
    assert_eq!(invitations[0].touchpoint.as_deref(), Some("checkout"));

    // An event of the step "checkout" decides the link trigger, not the widget's.
    let e = s
        .api(
            Method::POST,
            "/api/v1/events",
            Some(
                &json!({"event_id": "E1", "customer_id": "C2", "step": "checkout",
                         "at": "2026-12-07T10:00:00Z"}),
            ),
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.body);
    let made: Vec<String> = e.body["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["survey"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(made, ["account"]);
    // The funnel per survey: events decided, invitations, answers.
    let d = s.api(Method::GET, "/api/v1/decisions", None).await;
    assert_eq!(
        d.body["funnel"],
        json!([
            {"survey": "account", "events": 2, "invited": 1, "answered": 0, "response_rate": 0.0},
            {"survey": "checkout", "events": 1, "invited": 1, "answered": 1, "response_rate": 1.0},
        ]),
        "{}",
        d.body
    );
    assert_eq!(
        d.body["counts"]["account"],
        json!({"invited": 1, "throttled": 1})
    );
}

#[tokio::test]
async fn forged_tokens_other_sites_and_bad_requests_are_refused_and_store_nothing() {
    let s = open(Some(vec![SHOP.into()]));
    let now = chrono::Utc::now().timestamp();
    let genuine = s.token("C1");
    let (signed, _) = genuine.rsplit_once('.').unwrap();
    let other_key = cxray_server::widget::customer_token(&[9; 32], "C1", now + 3600);
    let expired = cxray_server::widget::customer_token(&s.widget_key(), "C1", now - 1);
    let cases: Vec<(Value, StatusCode)> = vec![
        (
            json!({"token": other_key, "touchpoint": "checkout"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"token": expired, "touchpoint": "checkout"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"token": format!("{signed}.{}", "0".repeat(64)), "touchpoint": "checkout"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"token": genuine.replacen("C1", "C2", 1), "touchpoint": "checkout"}),
            StatusCode::UNAUTHORIZED,
        ),
        (
            json!({"token": genuine, "touchpoint": "home"}),
            StatusCode::NOT_FOUND,
        ),
        (json!({"token": genuine}), StatusCode::BAD_REQUEST),
        (
            json!({"token": genuine, "touchpoint": "checkout", "admin": true}),
            StatusCode::BAD_REQUEST,
        ),
        (json!([1, 2]), StatusCode::BAD_REQUEST),
    ];
    for (body, status) in cases {
        let r = s.widget("/w/ask", &body, SHOP).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        // The page can read why: the headers are on errors too.
        assert_eq!(r.headers["access-control-allow-origin"], SHOP);
        assert!(r.body["message"].is_string());
    }
    // Another site's page is refused before anything is decided.
    let ask = json!({"token": genuine, "touchpoint": "checkout"});
    let r = s.widget("/w/ask", &ask, "https://evil.example.test").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    // Not JSON, or another media type.
    let req = Request::builder()
        .method(Method::POST)
        .uri("/w/ask")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("token=x"))
        .unwrap();
    assert_eq!(s.send(req).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(s.decisions().is_empty());

    // Sessions: only a widget session of this server answers.
    let shown = s.widget("/w/ask", &ask, SHOP).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let session = shown.body["session"].as_str().unwrap().to_string();
    let link = s
        .api(
            Method::POST,
            "/api/v1/links",
            Some(&json!({"survey": "checkout", "customer_id": "C5"})),
        )
        .await;
    let personal = link.body["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/s/")
        .to_string();
    for (body, status) in [
        (
            json!({"session": personal, "q": 1, "value": 9}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"session": format!("{session}x"), "q": 1, "value": 9}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"session": session, "q": 3, "value": 9}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"session": session, "q": 0, "value": 9}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"session": session, "q": 1, "value": [9]}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"session": session, "q": 1, "value": "nine"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"session": session, "q": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = s.widget("/w/answer", &body, SHOP).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    // A skipped question stores nothing either.
    let r = s
        .widget(
            "/w/answer",
            &json!({"session": session, "q": 1, "skip": true}),
            SHOP,
        )
        .await;
    assert_eq!(
        (r.status, r.body["saved"].clone()),
        (StatusCode::OK, json!(false))
    );
    assert!(s.responses().is_empty());

    // The preflight of a page that sends application/json; CORS on the widget's routes only.
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/w/answer")
        .header("origin", SHOP)
        .header("access-control-request-method", "POST")
        .body(axum::body::Body::empty())
        .unwrap();
    let p = s.send(req).await;
    assert_eq!(p.status, StatusCode::NO_CONTENT);
    assert_eq!(p.headers["access-control-allow-origin"], SHOP);
    assert_eq!(p.headers["access-control-allow-methods"], "POST");
    for path in [
        "/api/v1/counts",
        "/healthz",
        "/s/checkout/open",
        "/w/widget.js",
    ] {
        let req = Request::builder()
            .uri(path)
            .header("origin", SHOP)
            .header("authorization", format!("Bearer {}", s.key))
            .body(axum::body::Body::empty())
            .unwrap();
        let r = s.send(req).await;
        assert!(r.status.is_success(), "{path}: {}", r.status);
        assert!(
            !r.headers.contains_key("access-control-allow-origin"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_script_is_small_and_cached() {
    let s = open(None);
    let req = Request::builder()
        .uri("/w/widget.js")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = s.app.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(r.headers()["cache-control"], "public, max-age=3600");
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    assert!(body.len() <= 15 * 1024, "{} bytes", body.len());
    assert_eq!(&body[..], cxray_server::widget::SCRIPT.as_bytes());
}

#[test]
fn widget_triggers_take_no_delay_and_origins_are_checked() {
    let mut project: cxray_project::ProjectConfig = toml::from_str(PROJECT).unwrap();
    project.triggers[0].delay_minutes = Some(60);
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(dir.path().join("cxray.db"));
    config.project = Some((project, dir.path().join("cxray.toml")));
    let e = AppState::open(config).err().unwrap();
    assert!(
        e.contains("delay_minutes and quiet_hours do not apply"),
        "{e}"
    );

    let mut project: cxray_project::ProjectConfig = toml::from_str(PROJECT).unwrap();
    project.serve.widget_origins = Some(vec!["shop.example.test".into()]);
    let e = ServerConfig::for_project(Some((project, dir.path().join("cxray.toml"))), None)
        .err()
        .unwrap();
    assert!(e.contains("[serve] widget_origins"), "{e}");
}

#[tokio::test]
async fn triggers_made_through_the_api_apply_at_once_and_are_kept() {
    let s = open(None);
    let make = |body: Value| {
        let s = &s;
        async move { s.api(Method::POST, "/api/v1/triggers", Some(&body)).await }
    };
    let home = json!({"on": "home", "survey": "account", "channel": "widget", "share": 1.0});
    assert_eq!(make(home.clone()).await.status, StatusCode::CREATED);
    // Refused: the configuration's own, a survey there is not, a channel, a delay for a widget.
    for (bad, status) in [
        (
            json!({"on": "checkout", "survey": "checkout"}),
            StatusCode::CONFLICT,
        ),
        (
            json!({"on": "home", "survey": "nope"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"on": "home", "survey": "account", "channel": "sms"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"on": "home", "survey": "account", "channel": "widget", "delay_minutes": 5}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"on": " ", "survey": "account"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"on": "home", "survey": "account", "colour": "red"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = make(bad.clone()).await;
        assert_eq!(r.status, status, "{bad}: {}", r.body);
    }
    let listed = s.api(Method::GET, "/api/v1/triggers", None).await;
    let triggers = listed.body["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), 4, "{}", listed.body);
    assert_eq!(
        (triggers[3]["on"].clone(), triggers[3]["from"].clone()),
        (json!("home"), json!("api"))
    );
    assert_eq!(listed.body["contact"]["any_survey_days"], 30);
    // In force at once.
    let ask = json!({"token": s.token("C9"), "touchpoint": "home"});
    let a = s.widget("/w/ask", &ask, SHOP).await;
    assert_eq!(
        (a.status, a.body["show"].clone()),
        (StatusCode::OK, json!(true)),
        "{}",
        a.body
    );

    // Kept across a restart.
    let common::ProjectServer {
        dir, state, app, ..
    } = s;
    drop((state, app));
    let s = common::project_server(dir, PROJECT, |_| {});
    let listed = s.api(Method::GET, "/api/v1/triggers", None).await;
    assert_eq!(listed.body["triggers"].as_array().unwrap().len(), 4);
    assert_eq!(s.state.triggers().for_page("home").len(), 1);

    // Removed; the configuration's cannot be.
    let del = |q: &'static str| {
        let s = &s;
        async move {
            s.api(Method::DELETE, &format!("/api/v1/triggers{q}"), None)
                .await
                .status
        }
    };
    assert_eq!(
        del("?on=checkout&survey=checkout").await,
        StatusCode::CONFLICT
    );
    assert_eq!(del("?on=home").await, StatusCode::BAD_REQUEST);
    assert_eq!(del("?on=home&survey=account").await, StatusCode::OK);
    assert_eq!(del("?on=home&survey=account").await, StatusCode::NOT_FOUND);
    let ask = json!({"token": s.token("C10"), "touchpoint": "home"});
    assert_eq!(
        s.widget("/w/ask", &ask, SHOP).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_daily_budget_holds_within_one_request_and_across_requests() {
    // A budget of 3 invitations a day; a personal link made through the API counts too.
    const BUDGET: &str = r#"
[[surveys]]
id = "support"
[[surveys.questions]]
metric = "csat"

[[triggers]]
on = "ticket_solved"
survey = "support"
daily_budget = 3
"#;
    let s = common::project_server(tempfile::tempdir().unwrap(), BUDGET, |_| {});
    let link = s
        .api(
            Method::POST,
            "/api/v1/links",
            Some(&json!({"survey": "support", "customer_id": "L1"})),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED);
    let events = |ids: std::ops::Range<u32>| -> Value {
        ids.map(|i| {
            json!({"event_id": format!("E{i}"), "customer_id": format!("C{i}"),
                          "step": "ticket_solved", "at": "2026-12-07T10:00:00Z"})
        })
        .collect()
    };
    let outcomes = |v: &Value| -> Vec<String> {
        v["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    let first = s
        .api(Method::POST, "/api/v1/events", Some(&events(0..4)))
        .await;
    assert_eq!(
        outcomes(&first.body),
        ["invited", "invited", "over_budget", "over_budget"],
        "{}",
        first.body
    );
    assert!(
        first.body["decisions"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("3 invitations to support today (at most 3)")
    );
    let second = s
        .api(Method::POST, "/api/v1/events", Some(&events(4..6)))
        .await;
    assert_eq!(outcomes(&second.body), ["over_budget", "over_budget"]);
    // The decision log in pages, oldest first; the counts are the whole log's.
    let page = s.api(Method::GET, "/api/v1/decisions?limit=4", None).await;
    assert_eq!(page.body["decisions"].as_array().unwrap().len(), 4);
    assert_eq!(
        page.body["counts"]["support"],
        json!({"invited": 2, "over_budget": 4})
    );
    let next = page.body["next"].as_str().unwrap().to_string();
    let rest = s
        .api(
            Method::GET,
            &format!("/api/v1/decisions?limit=4&after={next}"),
            None,
        )
        .await;
    let ids = |v: &Value| -> Vec<String> {
        v["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["event_id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&rest.body), ["E4", "E5"], "{}", rest.body);
    assert!(rest.body["next"].is_null());
    let mut all = ids(&page.body);
    all.extend(ids(&rest.body));
    assert_eq!(all, ["E0", "E1", "E2", "E3", "E4", "E5"]);
    for bad in [
        "limit=0",
        "limit=10001",
        "limit=x",
        "after=nope",
        "after=x:E1",
        "sort=1",
    ] {
        let r = s
            .api(Method::GET, &format!("/api/v1/decisions?{bad}"), None)
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn a_day_s_decision_is_only_ever_its_own_customer_s_and_suppression_ends_it() {
    let s = open(Some(vec![SHOP.into()]));
    let ask = |customer: &str, page: &str| json!({"token": s.token(customer), "touchpoint": page});
    let a = s.widget("/w/ask", &ask("C1", "checkout"), SHOP).await;
    assert_eq!(a.body["show"], true, "{}", a.body);
    // An event that takes another customer's widget decision id: C2's ask on the page is
    // refused rather than shown C1's session, and C1 still sees their own.
    let day = chrono::Utc::now().date_naive().format("%Y-%m-%d");
    let e = s
        .api(
            Method::POST,
            "/api/v1/events",
            Some(&json!({"event_id": format!("widget:{day}:8:settings:C2"),
                         "customer_id": "C3", "step": "checkout",
                         "at": "2026-12-07T10:00:00Z"})),
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED, "{}", e.body);
    let c2 = s.widget("/w/ask", &ask("C2", "settings"), SHOP).await;
    assert_eq!(c2.status, StatusCode::CONFLICT, "{}", c2.body);
    assert!(c2.body.get("session").is_none());
    // Unsubscribed after the day's invitation: not shown again.
    let sup = s
        .api(
            Method::POST,
            "/api/v1/customers/C1/suppress",
            Some(&json!({"reason": "unsubscribed"})),
        )
        .await;
    assert_eq!(sup.status, StatusCode::CREATED);
    let again = s.widget("/w/ask", &ask("C1", "checkout"), SHOP).await;
    assert_eq!(
        (
            again.body["show"].clone(),
            again.body["outcome"].clone(),
            again.body["reason"].clone()
        ),
        (json!(false), json!("suppressed"), json!("suppressed")),
        "{}",
        again.body
    );
    // The answer route and the preflight refuse other sites too, storing nothing.
    let session = a.body["session"].as_str().unwrap();
    let evil = "https://evil.example.test";
    let r = s
        .widget(
            "/w/answer",
            &json!({"session": session, "q": 1, "value": 9}),
            evil,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let req = Request::builder()
        .method(Method::OPTIONS)
        .uri("/w/ask")
        .header("origin", evil)
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(s.send(req).await.status, StatusCode::FORBIDDEN);
    assert!(s.responses().is_empty());
    // The export of a customer with decisions only (sampled out, throttled) is not empty.
    let x = s
        .api(Method::GET, "/api/v1/customers/C3/export", None)
        .await;
    assert_eq!(x.status, StatusCode::OK, "{}", x.body);
    let x = s
        .api(Method::GET, "/api/v1/customers/C1/export", None)
        .await;
    assert_eq!(x.body["suppressed"], "unsubscribed");
}
