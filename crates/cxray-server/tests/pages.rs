//! Survey pages in process: a personal link answered page by page (each answer saved as it is
//! given, answering again revises), the anonymous link, the languages, escaping, and links
//! that are forged, altered, expired or of no survey.

mod common;

use axum::http::{Method, Request, StatusCode};
use common::TestServer;
use serde_json::json;
use tower::ServiceExt;

const PROJECT: &str = r#"
[[surveys]]
id = "checkout"
languages = ["en", "nl"]
touchpoint = "checkout"
title = { en = "Your checkout", nl = "Uw bestelling" }
attributes = ["store"]

[[surveys.questions]]
metric = "nps"

[[surveys.questions]]
reason_for = "nps"
if_below = { below = 7, text = { en = "What went wrong?", nl = "Wat ging er mis?" } }

[[surveys.questions]]
metric = "task"
"#;

fn server() -> TestServer {
    TestServer::with_project(toml::from_str(PROJECT).unwrap())
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    csp: String,
    html: String,
}

async fn get(s: &TestServer, path: &str, accept_language: Option<&str>) -> Page {
    let mut req = Request::builder().uri(path);
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    send(s, req.body(axum::body::Body::empty()).unwrap()).await
}

async fn post(s: &TestServer, path: &str, form: &str) -> Page {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(form.to_string()))
        .unwrap();
    send(s, req).await
}

async fn send(s: &TestServer, req: Request<axum::body::Body>) -> Page {
    let r = s.app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    Page {
        status,
        location,
        csp,
        html: String::from_utf8(body.to_vec()).unwrap(),
    }
}

async fn ask_link(s: &TestServer, body: &serde_json::Value) -> common::Answer {
    s.call(
        Method::POST,
        "/api/v1/links",
        Some(&s.admin),
        Some("application/json"),
        body.to_string(),
    )
    .await
}

async fn link(s: &TestServer, body: serde_json::Value) -> String {
    let a = ask_link(s, &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    a.body["path"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_personal_link_is_answered_page_by_page_and_revised_never_duplicated() {
    let s = server();
    let path = link(
        &s,
        json!({"survey": "checkout", "customer_id": "C7", "invitation_id": "I7", "language": "nl"}),
    )
    .await;
    // The customer's language, a scale of 11 labelled choices, no script, a strict policy.
    let p = get(&s, &path, None).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("<html lang=\"nl\">"), "{}", p.html);
    assert!(p.html.contains("Hoe waarschijnlijk"));
    assert!(p.html.contains("Vraag 1 van 3"));
    assert_eq!(p.html.matches("type=\"radio\"").count(), 11);
    assert_eq!(p.html.matches("<label for=\"v").count(), 11);
    assert!(p.html.contains("<legend>"));
    assert!(!p.html.contains("<script"));
    assert!(p.csp.contains("default-src 'none'") && p.csp.contains("form-action 'self'"));
    // ?lang= wins over the link's language.
    assert!(
        get(&s, &format!("{path}?lang=en"), None)
            .await
            .html
            .contains("How likely")
    );

    // Question 1: saved at once (a partial response counts), then on to question 2.
    let p = post(&s, &format!("{path}?lang=nl"), "q=1&value=3&action=next").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(
        p.location.as_deref().unwrap().ends_with("&q=2"),
        "{:?}",
        p.location
    );
    let stored = s.state.store.reader().unwrap().responses().unwrap();
    assert_eq!(stored.len(), 1);
    let r = &stored[0].response;
    assert_eq!(
        (
            r.response_id.as_str(),
            r.customer_id.as_deref(),
            r.invitation_id.as_deref()
        ),
        ("inv-I7", Some("C7"), Some("I7"))
    );
    assert_eq!(
        (r.survey.as_deref(), r.touchpoint.as_deref()),
        (Some("checkout"), Some("checkout"))
    );
    assert_eq!(r.answers[0].score, Some(3.0));
    let m = s.get("/api/v1/metrics?metric=nps", &s.read).await;
    assert_eq!(m.body["rows"][0]["n"], 1, "{}", m.text);

    // The follow-up asks a detractor what went wrong; text is stored and shown escaped.
    let p = get(&s, &format!("{path}?lang=nl&q=2"), None).await;
    assert!(p.html.contains("Wat ging er mis?"), "{}", p.html);
    let evil = "<script>alert(1)</script> te laat & \"kapot\"";
    let form = format!("q=2&action=next&value={}", urlencode(evil));
    assert_eq!(
        post(&s, &format!("{path}?lang=nl"), &form).await.status,
        StatusCode::SEE_OTHER
    );
    let p = get(&s, &format!("{path}?lang=nl&q=2"), None).await;
    assert!(!p.html.contains("<script>alert"), "{}", p.html);
    assert!(
        p.html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; te laat &amp; &quot;kapot&quot;"),
        "{}",
        p.html
    );

    // Answering question 1 again changes it; still one response, the comment kept.
    post(&s, &format!("{path}?lang=nl"), "q=1&value=9&action=next").await;
    let p = get(&s, &format!("{path}?lang=nl&q=1"), None).await;
    assert!(p.html.contains("value=\"9\" checked"), "{}", p.html);
    // A promoter is asked the general question.
    assert!(
        get(&s, &format!("{path}?lang=nl&q=2"), None)
            .await
            .html
            .contains("belangrijkste reden")
    );
    // The last question leads to the thank-you page.
    let p = post(&s, &format!("{path}?lang=nl"), "q=3&value=1&action=next").await;
    assert!(p.location.as_deref().unwrap().ends_with("done=1"));
    let p = get(&s, p.location.as_deref().unwrap(), None).await;
    assert!(p.html.contains("Bedankt voor uw antwoorden."), "{}", p.html);
    let stored = s.state.store.reader().unwrap().responses().unwrap();
    assert_eq!(stored.len(), 1);
    let a = &stored[0].response.answers;
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0].metric.as_str(), a[0].score, a[0].comment.as_deref()),
        ("nps", Some(9.0), Some(evil))
    );
    assert_eq!((a[1].metric.as_str(), a[1].score), ("task", Some(1.0)));
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_answers_and_bad_links_store_nothing() {
    let s = server();
    let path = link(&s, json!({"survey": "checkout", "customer_id": "C1"})).await;
    // No choice, a score off the scale, a fraction, an unknown question, a broken form.
    for (form, status) in [
        ("q=1&action=next", StatusCode::UNPROCESSABLE_ENTITY),
        ("q=1&value=11&action=next", StatusCode::UNPROCESSABLE_ENTITY),
        (
            "q=1&value=4.5&action=next",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "q=1&value=%FF&action=next",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("q=9&value=5&action=next", StatusCode::BAD_REQUEST),
        ("q=x&value=5", StatusCode::BAD_REQUEST),
    ] {
        let p = post(&s, &path, form).await;
        assert_eq!(p.status, status, "{form}: {}", p.html);
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert!(p.html.contains("role=\"alert\""), "{}", p.html);
        }
    }
    // Skipping stores nothing either.
    assert_eq!(
        post(&s, &path, "q=1&action=skip").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(s.counts(), (0, 0, 0));

    // Altered, forged, expired, of no survey.
    let token = path.trim_start_matches("/s/").to_string();
    let mut altered = token.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = format!("/s/{}", String::from_utf8(altered).unwrap());
    let claims = |survey: &str, e: i64| cxray_server::links::Claims {
        s: survey.into(),
        r: "inv-x".into(),
        i: None,
        c: None,
        e,
        l: Some("nl".into()),
        a: Default::default(),
    };
    let forged = cxray_server::links::Signer::new([1; 32]).sign(&claims("checkout", i64::MAX));
    let expired = s.state.signer.sign(&claims("checkout", 1));
    let elsewhere = s.state.signer.sign(&claims("onboarding", i64::MAX));
    for (p, status) in [
        (altered, StatusCode::NOT_FOUND),
        (format!("/s/{forged}"), StatusCode::NOT_FOUND),
        (format!("/s/{expired}"), StatusCode::GONE),
        (format!("/s/{elsewhere}"), StatusCode::NOT_FOUND),
        ("/s/nonsense".into(), StatusCode::NOT_FOUND),
    ] {
        let g = get(&s, &p, None).await;
        assert_eq!(g.status, status, "{p}");
        let w = post(&s, &p, "q=1&value=5&action=next").await;
        assert_eq!(w.status, status, "{p}");
    }
    assert!(
        get(&s, &format!("/s/{expired}"), None)
            .await
            .html
            .contains("is verlopen")
    );
    assert_eq!(s.counts(), (0, 0, 0));
    // Links to surveys that do not exist, or in languages they lack, are not made.
    for bad in [
        json!({"survey": "nope"}),
        json!({"survey": "checkout", "language": "fr"}),
        json!({"survey": "checkout", "invitation_id": "a#b"}),
    ] {
        let a = ask_link(&s, &bad).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    }
}

#[tokio::test]
async fn the_anonymous_link_keeps_its_attributes_and_the_browser_language() {
    let s = server();
    let p = get(
        &s,
        "/s/checkout/open?channel=qr&store=12",
        Some("de-DE, nl;q=0.8, en;q=0.5"),
    )
    .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.html.contains("<html lang=\"nl\">"),
        "the first offered language the browser takes"
    );
    assert!(p.html.contains("name=\"store\" value=\"12\""));
    assert_eq!(
        get(&s, "/s/checkout/open?utm=x", None).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&s, "/s/nope/open", None).await.status,
        StatusCode::NOT_FOUND
    );
    let p = post(
        &s,
        "/s/checkout/open?lang=nl",
        "q=1&value=10&action=next&channel=qr&store=12",
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.html);
    let next = p.location.unwrap();
    assert!(next.starts_with("/s/") && next.ends_with("&q=2"), "{next}");
    // The rest of the answers go to the same response, through its own signed link.
    post(&s, &next.replace("&q=2", ""), "q=3&value=0&action=next").await;
    let stored = s.state.store.reader().unwrap().responses().unwrap();
    assert_eq!(stored.len(), 1);
    let r = &stored[0].response;
    assert!(r.response_id.starts_with("anon-"));
    assert_eq!(r.channel.as_deref(), Some("qr"));
    assert_eq!(r.attributes["store"], "12");
    assert_eq!(r.answers.len(), 2);
    // Attributes can only come from the link, not be added to a later form.
    let p = post(&s, "/s/checkout/open", "q=1&value=10&action=next&admin=1").await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);

    // Drop-off per question.
    let d = s.get("/api/v1/surveys", &s.read).await;
    let q = &d.body["surveys"][0]["questions"];
    assert_eq!(d.body["surveys"][0]["responses"], 1, "{}", d.text);
    assert_eq!(
        (
            q[0]["answered"].clone(),
            q[1]["answered"].clone(),
            q[2]["answered"].clone()
        ),
        (json!(1), json!(0), json!(1))
    );
}

#[tokio::test]
async fn surveys_made_through_the_admin_api_are_served_at_once_and_kept() {
    let s = server();
    let survey = json!({
        "id": "onboarding",
        "languages": ["en", "hr"],
        "closes": "2099-12-31",
        "questions": [{"metric": "ces"}, {"reason_for": "ces"}]
    });
    let post_survey = |body: serde_json::Value, key: String| {
        let s = &s;
        async move {
            s.call(
                Method::POST,
                "/api/v1/surveys",
                Some(&key),
                Some("application/json"),
                body.to_string(),
            )
            .await
        }
    };
    let a = post_survey(survey.clone(), s.admin.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let p = get(&s, "/s/onboarding/open?lang=hr", None).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("Koliko vam je bilo lako"), "{}", p.html);
    assert_eq!(p.html.matches("type=\"radio\"").count(), 7);
    // The configuration's surveys are not replaced; broken ones are refused.
    let mut clash = survey.clone();
    clash["id"] = json!("checkout");
    assert_eq!(
        post_survey(clash, s.admin.clone()).await.status,
        StatusCode::CONFLICT
    );
    let mut broken = survey.clone();
    broken["questions"] = json!([{"metric": "loyalty"}]);
    let b = post_survey(broken, s.admin.clone()).await;
    assert_eq!(b.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", b.text);
    assert!(b.text.contains("loyalty"));
    let mut unknown = survey.clone();
    unknown["colour"] = json!("red");
    assert_eq!(
        post_survey(unknown, s.admin.clone()).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A closed survey takes no answers.
    let mut closed = survey.clone();
    closed["id"] = json!("last-year");
    closed["closes"] = json!("2020-01-31");
    assert_eq!(
        post_survey(closed, s.admin.clone()).await.status,
        StatusCode::CREATED
    );
    assert_eq!(
        get(&s, "/s/last-year/open", None).await.status,
        StatusCode::GONE
    );
    assert_eq!(
        post(&s, "/s/last-year/open", "q=1&value=5&action=next")
            .await
            .status,
        StatusCode::GONE
    );
    assert_eq!(s.counts(), (0, 0, 0));
    // After a restart the survey is still there.
    let config = cxray_server::ServerConfig {
        project: Some((
            toml::from_str(PROJECT).unwrap(),
            s.dir.path().join("cxray.toml"),
        )),
        ..cxray_server::ServerConfig::new(s.dir.path().join("cxray.db"))
    };
    let again = cxray_server::AppState::open(config).unwrap();
    assert!(again.survey("onboarding").is_some());
    assert_eq!(
        again.survey_ids(),
        vec!["checkout", "last-year", "onboarding"]
    );
}

#[tokio::test]
async fn public_pages_are_rate_limited_per_address() {
    let s = TestServer::with_project_and_limits(
        toml::from_str(PROJECT).unwrap(),
        cxray_server::Limits {
            public: cxray_server::Rate {
                per_second: 0.1,
                burst: 3.0,
            },
            ..Default::default()
        },
    );
    for _ in 0..3 {
        assert_eq!(
            get(&s, "/s/checkout/open", None).await.status,
            StatusCode::OK
        );
    }
    let limited = get(&s, "/s/checkout/open", None).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // The stylesheet and the health check are not counted.
    assert_eq!(get(&s, "/s/style.css", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_invitation_is_one_customers_response() {
    let s = server();
    let mine = link(
        &s,
        json!({"survey": "checkout", "customer_id": "C1", "invitation_id": "CAMPAIGN"}),
    )
    .await;
    let theirs = link(
        &s,
        json!({"survey": "checkout", "customer_id": "C2", "invitation_id": "CAMPAIGN"}),
    )
    .await;
    assert_eq!(
        post(&s, &mine, "q=1&value=9&action=next").await.status,
        StatusCode::SEE_OTHER
    );
    // Another customer's link to the same invitation cannot write into (or read) that response.
    let p = post(&s, &theirs, "q=1&value=0&action=next").await;
    assert_eq!(p.status, StatusCode::CONFLICT, "{}", p.html);
    let stored = s.state.store.reader().unwrap().responses().unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].response.answers[0].score, Some(9.0));
}

#[tokio::test]
async fn a_one_click_score_is_chosen_on_the_page_and_never_recorded_by_a_get() {
    let s = server();
    let path = link(
        &s,
        json!({"survey": "checkout", "customer_id": "C9", "language": "en"}),
    )
    .await;
    // What a mail scanner does: fetch the link. Nothing is recorded.
    let p = get(&s, &format!("{path}?q=1&score=9"), None).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("value=\"9\" checked"), "{}", p.html);
    assert!(p.html.contains("data-autosubmit"));
    assert!(p.html.contains("<script src=\"/s/one-click.js\" defer>"));
    assert!(p.csp.contains("script-src 'self'") && !p.csp.contains("unsafe-inline"));
    assert_eq!(s.counts(), (0, 0, 0));
    // A score off the scale is not chosen, and the page does not send itself.
    let off = get(&s, &format!("{path}?q=1&score=11"), None).await;
    assert!(!off.html.contains("checked") && !off.html.contains("data-autosubmit"));
    // The browser's post records it.
    assert_eq!(
        post(&s, &path, "q=1&value=9&action=next").await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(s.counts(), (1, 1, 0));
    let js = get(&s, "/s/one-click.js", None).await;
    assert!(js.html.contains("requestSubmit") && js.html.len() < 1024);
}

#[tokio::test]
async fn personal_links_are_invitations_that_the_non_response_analysis_counts() {
    let s = server();
    let mut links = Vec::new();
    for c in ["C1", "C2", "C3", "C4"] {
        links.push(
            link(
                &s,
                json!({"survey": "checkout", "customer_id": c, "invitation_id": format!("I-{c}")}),
            )
            .await,
        );
    }
    // Making a link again (a reminder) keeps the first invitation.
    link(
        &s,
        json!({"survey": "checkout", "customer_id": "C1", "invitation_id": "I-C1"}),
    )
    .await;
    for l in &links[..2] {
        assert_eq!(
            post(&s, l, "q=1&value=8&action=next").await.status,
            StatusCode::SEE_OTHER
        );
    }
    let invitations = s.state.store.reader().unwrap().invitations().unwrap();
    assert_eq!(invitations.len(), 4);
    // The store as a project's source: 4 invited, 2 answered.
    let project = common::store_project(s.dir.path());
    let out = project
        .nonresponse(&cxray_project::NonResponseRequest::default())
        .unwrap();
    assert_eq!((out.nonresponse.invited, out.nonresponse.answered), (4, 2));
    assert!(
        (out.nonresponse.response_rate - 50.0).abs() < 1e-9,
        "{}",
        out.nonresponse.response_rate
    );
}

#[tokio::test]
async fn events_invite_customers_within_the_contact_rules_and_say_why() {
    let project = format!(
        "{PROJECT}\n[[triggers]]\non = \"ticket_solved\"\nsurvey = \"checkout\"\n\n\
         [[triggers]]\non = \"delivered\"\nsurvey = \"checkout\"\nshare = 0.0\n\n\
         [contact]\nany_survey_days = 30\n"
    );
    let s = TestServer::with_project(toml::from_str(&project).unwrap());
    let event = |id: &str, customer: Option<&str>, step: &str| {
        let mut e = json!({"event_id": id, "step": step, "at": "2026-03-01T10:00:00Z"});
        match customer {
            Some(c) => e["customer_id"] = json!(c),
            None => e["session_id"] = json!("S1"),
        }
        e.to_string()
    };
    let a = s
        .post_json("/api/v1/events", &event("E1", Some("C1"), "ticket_solved"))
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let d = &a.body["decisions"][0];
    assert_eq!(
        (d["outcome"].clone(), d["survey"].clone()),
        (json!("invited"), json!("checkout"))
    );
    // The invitation's link is a working survey link for that customer.
    let link = d["link"].as_str().unwrap().to_string();
    assert_eq!(get(&s, &link, None).await.status, StatusCode::OK);
    assert_eq!(
        post(&s, &link, "q=1&value=6&action=next").await.status,
        StatusCode::SEE_OTHER
    );
    let r = s.state.store.reader().unwrap().responses().unwrap();
    assert_eq!(r[0].response.customer_id.as_deref(), Some("C1"));
    // A second ticket inside the 30 days: throttled, with the reason.
    let b = s
        .post_json("/api/v1/events", &event("E2", Some("C1"), "ticket_solved"))
        .await;
    let d = &b.body["decisions"][0];
    assert_eq!(d["outcome"], "throttled");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .contains("surveyed today (checkout)"),
        "{d}"
    );
    // A replayed event decides nothing again; other outcomes.
    let again = s
        .post_json("/api/v1/events", &event("E1", Some("C1"), "ticket_solved"))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(again.body.get("decisions").is_none(), "{}", again.text);
    let c = s
        .post_json("/api/v1/events", &event("E3", Some("C2"), "delivered"))
        .await;
    assert_eq!(c.body["decisions"][0]["outcome"], "sampled_out");
    let n = s
        .post_json("/api/v1/events", &event("E4", None, "ticket_solved"))
        .await;
    assert_eq!(n.body["decisions"][0]["outcome"], "no_customer");
    let other = s
        .post_json("/api/v1/events", &event("E5", Some("C3"), "visit"))
        .await;
    assert!(other.body.get("decisions").is_none());
    // A customer who unsubscribed is never invited, and the decision says so.
    let sup = s
        .call(
            Method::POST,
            "/api/v1/customers/C4/suppress",
            Some(&s.admin),
            Some("application/json"),
            r#"{"reason": "unsubscribed"}"#,
        )
        .await;
    assert_eq!(sup.status, StatusCode::CREATED, "{}", sup.text);
    let u = s
        .post_json("/api/v1/events", &event("E6", Some("C4"), "ticket_solved"))
        .await;
    assert_eq!(
        u.body["decisions"][0]["reason"], "suppressed: unsubscribed",
        "{}",
        u.text
    );

    let all = s.get("/api/v1/decisions", &s.read).await;
    assert_eq!(
        all.body["decisions"].as_array().unwrap().len(),
        5,
        "{}",
        all.text
    );
    assert_eq!(
        all.body["counts"]["checkout"],
        json!({"invited": 1, "throttled": 1, "sampled_out": 1, "no_customer": 1, "suppressed": 1})
    );
    let mine = s.get("/api/v1/decisions?customer_id=C1", &s.read).await;
    assert_eq!(mine.body["decisions"].as_array().unwrap().len(), 2);
    // Forgetting the customer takes their decisions.
    let f = s
        .call(
            Method::DELETE,
            "/api/v1/customers/C1",
            Some(&s.admin),
            None,
            "",
        )
        .await;
    assert_eq!(f.body["decisions"], 2, "{}", f.text);
    let fresh = cxray_store::Reader::open_file(s.dir.path().join("cxray.db")).unwrap();
    assert!(
        fresh.decisions(Some("C1")).unwrap().is_empty(),
        "a fresh reader still sees them"
    );
    assert!(
        s.get("/api/v1/decisions?customer_id=C1", &s.read)
            .await
            .body["decisions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // A trigger of a survey that does not exist keeps the server from starting.
    let bad: cxray_project::ProjectConfig =
        toml::from_str("[[triggers]]\non = \"x\"\nsurvey = \"nope\"\n").unwrap();
    let mut config = cxray_server::ServerConfig::new(s.dir.path().join("other.db"));
    config.project = Some((bad, s.dir.path().join("cxray.toml")));
    let e = cxray_server::AppState::open(config).err().unwrap();
    assert!(e.contains("no survey \"nope\""), "{e}");
}

#[test]
fn events_left_undecided_are_decided_once_at_the_next_start() {
    let project =
        format!("{PROJECT}\n[[triggers]]\non = \"ticket_solved\"\nsurvey = \"checkout\"\n");
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let mut config = cxray_server::ServerConfig::new(dir.path().join("cxray.db"));
        config.project = Some((
            toml::from_str(&project).unwrap(),
            dir.path().join("cxray.toml"),
        ));
        cxray_server::AppState::open(config).unwrap()
    };
    let state = open();
    // Stored, then the server stopped before deciding them.
    let event = |id: &str, customer: &str, step: &str| {
        cxray_store::Record::Event(cxray_store::NewEvent {
            event_id: id.into(),
            customer_id: Some(customer.into()),
            step: step.into(),
            at: 1,
            ..Default::default()
        })
    };
    state
        .store
        .write_blocking(vec![
            event("P1", "C1", "ticket_solved"),
            event("P2", "C2", "ticket_solved"),
            event("P3", "C3", "visit"),
        ])
        .unwrap();
    drop(state);
    let state = open();
    let decided = state.decide_pending().unwrap();
    assert_eq!(
        decided
            .iter()
            .map(|d| d.event_id.as_str())
            .collect::<Vec<_>>(),
        ["P1", "P2"]
    );
    assert!(decided.iter().all(|d| d.outcome == "invited"));
    assert!(state.decide_pending().unwrap().is_empty(), "decided once");
}

#[tokio::test]
async fn a_customer_unsubscribes_from_a_link_and_is_never_invited_again() {
    let project =
        format!("{PROJECT}\n[[triggers]]\non = \"ticket_solved\"\nsurvey = \"checkout\"\n");
    let s = TestServer::with_project(toml::from_str(&project).unwrap());
    let path = link(
        &s,
        json!({"survey": "checkout", "customer_id": "C5", "language": "nl"}),
    )
    .await;
    let u = path.replacen("/s/", "/u/", 1);
    // Asking is not unsubscribing.
    let p = get(&s, &u, None).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.html.contains("Wilt u geen enquêtes meer") && p.html.contains("method=\"post\""));
    let e = s
        .post_json(
            "/api/v1/events",
            r#"{"event_id": "U1", "customer_id": "C5", "step": "ticket_solved"}"#,
        )
        .await;
    assert_eq!(e.body["decisions"][0]["outcome"], "invited", "{}", e.text);
    // The post (a person's click, or a mail client's one-click) unsubscribes.
    let p = post(&s, &u, "List-Unsubscribe=One-Click").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.html.contains("U ontvangt geen enquêtes meer"),
        "{}",
        p.html
    );
    let e = s
        .post_json(
            "/api/v1/events",
            r#"{"event_id": "U2", "customer_id": "C5", "step": "ticket_solved"}"#,
        )
        .await;
    assert_eq!(
        e.body["decisions"][0]["reason"], "suppressed: unsubscribed",
        "{}",
        e.text
    );
    // Links without a customer, or not ours, unsubscribe no one.
    let anon = post(&s, "/s/checkout/open", "q=1&value=9&action=next").await;
    let anon_u = anon
        .location
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .replacen("/s/", "/u/", 1);
    assert_eq!(post(&s, &anon_u, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        post(&s, "/u/forged.token", "").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn every_link_has_a_qr_code_of_its_absolute_address() {
    let s = server();
    let base = s.state.base_url();
    let a = ask_link(&s, &json!({"survey": "checkout", "customer_id": "C9"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let (path, qr) = (
        a.body["path"].as_str().unwrap(),
        a.body["qr"].as_str().unwrap(),
    );
    assert_eq!(qr, format!("{path}/qr.svg"));
    let p = get(&s, qr, None).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    // The code of the link's absolute address (the unit test reads codes back).
    assert_eq!(
        p.html,
        cxray_server::qr::svg(&format!("{base}{path}")).unwrap()
    );
    assert_eq!(p.csp, "default-src 'none'");
    // The anonymous link, with its attributes in the address; others are refused.
    let p = get(
        &s,
        "/s/checkout/open/qr.svg?channel=till&store=Z%C3%BCrich&lang=nl",
        None,
    )
    .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.html);
    let url = format!("{base}/s/checkout/open?lang=nl&channel=till&store=Z%C3%BCrich");
    assert_eq!(p.html, cxray_server::qr::svg(&url).unwrap());
    for (bad, status) in [
        ("/s/checkout/open/qr.svg?utm=x", StatusCode::BAD_REQUEST),
        ("/s/checkout/open/qr.svg?lang=fr", StatusCode::BAD_REQUEST),
        ("/s/nope/open/qr.svg", StatusCode::NOT_FOUND),
        (&format!("{}x/qr.svg", path), StatusCode::NOT_FOUND),
    ] {
        let p = get(&s, bad, None).await;
        assert_eq!(p.status, status, "{bad}: {}", p.html);
        assert!(!p.html.contains("<svg"), "{bad}");
    }
}
