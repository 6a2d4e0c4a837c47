//! The team's web app: sessions, roles on every page (table-driven from the app's route table),
//! CSRF, lockout, no open redirect, customer text escaped on every page, and the closed loop
//! from a detractor's answer to its resolved case.

mod common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::TestServer;
use cxray_store::Role;
use tower::ServiceExt;

const PASSWORD: &str = "a passphrase for tests";
const XSS: &str = "<script>alert(1)</script><img src=x onerror=alert(2)> \"quoted\" & more";

/// A browser: a cookie jar and the server; never follows redirects.
struct Browser<'a> {
    server: &'a TestServer,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The value of the first hidden input `name`.
    fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self.text.find(&needle).unwrap_or_else(|| {
            panic!("no field {name} in {}", self.text);
        }) + needle.len();
        self.text[at..].split('"').next().unwrap().to_string()
    }
}

impl<'a> Browser<'a> {
    fn new(server: &'a TestServer) -> Self {
        Browser {
            server,
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(f) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(
                    form_urlencoded::Serializer::new(String::new())
                        .extend_pairs(f)
                        .finish(),
                )
            }
            None => Body::empty(),
        };
        let response = self
            .server
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for c in response.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Page {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    async fn login(&mut self, name: &str, password: &str) -> Page {
        let form = self.get("/app/login?next=/app/cases").await;
        assert_eq!(form.status, StatusCode::OK);
        let token = form.hidden("token");
        self.post(
            "/app/login",
            &[
                ("token", &token),
                ("next", "/app/cases"),
                ("name", name),
                ("password", password),
            ],
        )
        .await
    }

    /// The CSRF token of the session (from the logout form every page has).
    async fn csrf(&mut self) -> String {
        self.get("/app/cases").await.hidden("csrf")
    }
}

fn server() -> TestServer {
    let s = TestServer::new();
    s.state
        .with_admin(|k| {
            for (name, role) in [
                ("vera", Role::Viewer),
                ("ana", Role::Analyst),
                ("adam", Role::Admin),
            ] {
                k.add_member(name, role, PASSWORD, false)?;
            }
            Ok(())
        })
        .unwrap();
    s
}

/// A detractor's answer with `comment`, collected through the API.
async fn detractor(s: &TestServer, id: &str, customer: &str, score: u8, comment: &str) {
    let body = serde_json::json!({
        "response_id": id,
        "customer_id": customer,
        "submitted_at": chrono::Utc::now().to_rfc3339(),
        "survey": "relationship",
        "answers": [{"metric": "nps", "score": score, "comment": comment}],
    });
    let a = s.post_json("/api/v1/responses", &body.to_string()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
}

#[tokio::test]
async fn every_page_is_checked_against_every_role() {
    let s = server();
    detractor(&s, "R1", "C1", 2, "late").await;
    let mut browsers: Vec<(Option<Role>, Browser)> = vec![(None, Browser::new(&s))];
    for (name, role) in [
        ("vera", Role::Viewer),
        ("ana", Role::Analyst),
        ("adam", Role::Admin),
    ] {
        let mut b = Browser::new(&s);
        let p = b.login(name, PASSWORD).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
        browsers.push((Some(role), b));
    }
    let mut checked = 0;
    for route in cxray_server::app::app_routes() {
        // The logout ends the session: it is checked last, on its own below.
        if route.path == "/app/logout" {
            continue;
        }
        // The ids of what the server has: case 1, customer C1.
        let id = if route.path.starts_with("/app/customers") {
            "C1"
        } else if route.path.starts_with("/app/surveys") {
            "new"
        } else {
            "1"
        };
        let path = route.path.replace("{id}", id);
        for (role, b) in browsers.iter_mut() {
            let page = if route.method == Method::GET {
                b.get(&path).await
            } else if role.is_some() {
                let csrf = b.csrf().await;
                // A form with its token and nothing else: refused for what it lacks (400),
                // never for who sent it, when the role suffices.
                b.post(&path, &[("csrf", &csrf)]).await
            } else {
                b.post(&path, &[]).await
            };
            let who = format!("{} {path} as {role:?}", route.method);
            match (route.role, *role) {
                // Public pages answer anyone (the login form refuses a post without its own
                // token, checked on its own below), and never ask for a role.
                (None, _) => assert!(
                    page.status.as_u16() < 500
                        && page.status != StatusCode::UNAUTHORIZED
                        && !page.location().starts_with("/app/login")
                        && !page.text.contains("needs the"),
                    "{who}: {}",
                    page.status
                ),
                (Some(_), None) if route.method == Method::GET => {
                    assert_eq!(page.status, StatusCode::SEE_OTHER, "{who}");
                    assert!(page.location().starts_with("/app/login?next="), "{who}");
                }
                (Some(_), None) => assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{who}"),
                (Some(need), Some(has)) if has < need => {
                    assert_eq!(page.status, StatusCode::FORBIDDEN, "{who}");
                    assert!(page.text.contains("needs the"), "{who}: {}", page.text);
                }
                (Some(_), Some(_)) => assert!(
                    !matches!(
                        page.status,
                        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
                    ) && page.status.as_u16() < 500,
                    "{who}: {} {}",
                    page.status,
                    page.text
                ),
            }
            checked += 1;
        }
    }
    assert!(checked >= 9 * 4, "{checked}");
    // Logout: refused without the token, ends the session with it.
    let (_, b) = &mut browsers[1];
    assert_eq!(
        b.post("/app/logout", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = b.csrf().await;
    let out = b.post("/app/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(b.get("/app/cases").await.status, StatusCode::SEE_OTHER);
    // The API never takes a session for a key.
    let (_, admin) = &mut browsers[3];
    assert_eq!(
        admin.get("/api/v1/keys").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn forms_need_their_sessions_csrf_token() {
    let s = server();
    detractor(&s, "R1", "C1", 3, "slow").await;
    let mut ana = Browser::new(&s);
    ana.login("ana", PASSWORD).await;
    let mut adam = Browser::new(&s);
    adam.login("adam", PASSWORD).await;
    let other = adam.csrf().await;
    let take = |csrf: &str| vec![("csrf", csrf.to_string()), ("action", "take".into())];
    for form in [
        vec![("action", "take".to_string())],
        take(""),
        take(&other),
        take("0".repeat(64).as_str()),
    ] {
        let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = ana.post("/app/cases/1", &f).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{form:?}");
        assert!(p.text.contains("out of date"));
    }
    let (case, notes) = s.state.with_reader(|r| r.case(1)).unwrap().unwrap();
    assert_eq!(case.owner, None);
    assert!(notes.is_empty());
    let mine = ana.csrf().await;
    let p = ana
        .post("/app/cases/1", &[("csrf", &mine), ("action", "take")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let (case, _) = s.state.with_reader(|r| r.case(1)).unwrap().unwrap();
    assert_eq!(case.owner.as_deref(), Some("ana"));
}

#[tokio::test]
async fn logins_make_new_sessions_lock_out_guessers_and_never_redirect_away() {
    let s = server();
    let mut b = Browser::new(&s);
    // Without the login form's own token (a forged login): refused.
    let p = b
        .post(
            "/app/login",
            &[("name", "ana"), ("password", PASSWORD), ("token", "x")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("cxray_session"));
    // The session cookie's flags.
    let form = b.get("/app/login").await;
    let token = form.hidden("token");
    let p = b
        .post(
            "/app/login",
            &[
                ("token", &token),
                ("next", "https://evil.example/"),
                ("name", "ana"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/app");
    let set: Vec<&str> = p
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .filter(|c| c.starts_with("cxray_session="))
        .collect();
    assert_eq!(set.len(), 1);
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/app"] {
        assert!(set[0].contains(flag), "{}", set[0]);
    }
    // No Secure flag over plain http (the cookie would never come back).
    assert!(!set[0].contains("Secure"));
    let first = b.cookies["cxray_session"].clone();
    // A second login in the same browser ends the first session (no fixation: a session id
    // known before a login is never the one after it).
    b.login("ana", PASSWORD).await;
    let second = b.cookies["cxray_session"].clone();
    assert_ne!(first, second);
    let mut planted = Browser::new(&s);
    planted
        .cookies
        .insert("cxray_session".into(), first.clone());
    assert_eq!(planted.get("/app").await.status, StatusCode::SEE_OTHER);
    // Five wrong passwords lock the member out, even with the right one afterwards.
    let mut g = Browser::new(&s);
    for _ in 0..4 {
        assert_eq!(
            g.login("vera", "wrong password!").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let locked = g.login("vera", "wrong password!").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.text.contains("locked out until"));
    assert_eq!(
        g.login("vera", PASSWORD).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // An unknown name is told apart from a wrong password by nothing.
    let unknown = g.login("nobody", PASSWORD).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.text.contains("The name or the password is wrong."));
}

#[tokio::test]
async fn customer_text_is_text_on_every_page() {
    let s = server();
    detractor(&s, "R1", XSS, 0, XSS).await;
    let mut ana = Browser::new(&s);
    ana.login("ana", PASSWORD).await;
    let csrf = ana.csrf().await;
    ana.post(
        "/app/cases/1",
        &[("csrf", &csrf), ("action", "note"), ("text", XSS)],
    )
    .await;
    let customer = format!(
        "/app/customers/{}",
        form_urlencoded::byte_serialize(XSS.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    );
    for path in [
        "/app",
        "/app/responses",
        "/app/responses?q=script",
        "/app/cases",
        "/app/cases?view=all",
        "/app/cases/1",
        customer.as_str(),
    ] {
        let p = ana.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}: {}", p.text);
        let csp = p.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(!csp.contains("script-src"), "{csp}");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        for raw in ["<script>alert", "<img src=x", "onerror=alert(2)>"] {
            assert!(!p.text.contains(raw), "{path} holds {raw}");
        }
        // The case pages show the comment and the customer (the overview's report shows
        // neither for one answer), as text.
        if path.starts_with("/app/cases")
            || path.starts_with("/app/customers")
            || path.starts_with("/app/responses")
        {
            assert!(
                p.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn a_detractor_becomes_a_case_that_is_worked_and_closed_and_the_loop_figures_move() {
    let s = server();
    // A promoter opens nothing; a detractor a case due in 48 hours.
    detractor(&s, "R0", "C0", 10, "great").await;
    detractor(&s, "R1", "C1", 2, "the parcel came a week late").await;
    let mut ana = Browser::new(&s);
    ana.login("ana", PASSWORD).await;
    let queue = ana.get("/app/cases").await;
    assert!(queue.text.contains("the parcel came a week late"));
    assert!(!queue.text.contains("great"));
    assert!(queue.text.contains("due in 47 h"), "{}", queue.text);
    assert!(queue.text.contains("0 of 1 contacted"));
    let csrf = ana.csrf().await;
    for form in [
        vec![("action", "take")],
        vec![("action", "status"), ("status", "contacted")],
        vec![("action", "note"), ("text", "Called: refund agreed")],
        vec![("action", "status"), ("status", "resolved")],
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form);
        let p = ana.post("/app/cases/1", &f).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{f:?}: {}", p.text);
    }
    let case = ana.get("/app/cases/1").await;
    for text in ["resolved", "Called: refund agreed", "status → ", "owner → "] {
        assert!(case.text.contains(text), "{text}");
    }
    let queue = ana.get("/app/cases?view=closed").await;
    assert!(queue.text.contains("1 of 1 contacted"), "{}", queue.text);
    assert!(
        queue.text.contains("100%"),
        "closed within target: {}",
        queue.text
    );
    assert!(
        ana.get("/app/cases?view=open")
            .await
            .text
            .contains("No case in this queue")
    );
    // Bad forms are refused with a reason, and change nothing.
    for form in [
        vec![("action", "status"), ("status", "done")],
        vec![("action", "assign"), ("owner", "nobody-here")],
        vec![("action", "note"), ("text", "  ")],
        vec![("action", "explode")],
    ] {
        let mut f = vec![("csrf", csrf.as_str())];
        f.extend(form);
        let p = ana.post("/app/cases/1", &f).await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{f:?}: {}", p.text);
    }
    let (_, notes) = s.state.with_reader(|r| r.case(1)).unwrap().unwrap();
    assert_eq!(notes.len(), 4);
    assert_eq!(ana.get("/app/cases/99").await.status, StatusCode::NOT_FOUND);
    assert_eq!(ana.get("/app/cases/x").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        ana.get("/app/cases?view=nope").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_overview_is_cached_until_new_answers_arrive_and_says_so() {
    let s = server();
    let mut vera = Browser::new(&s);
    vera.login("vera", PASSWORD).await;
    let empty = vera.get("/app").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.text.contains("Nothing to show yet"), "{}", empty.text);
    detractor(&s, "R1", "C1", 2, "late").await;
    let first = vera.get("/app").await;
    assert!(first.text.contains("Scorecard"), "{}", first.text);
    assert!(first.text.contains("Figures computed"));
    // Working a case is not new data: still fresh.
    let mut ana = Browser::new(&s);
    ana.login("ana", PASSWORD).await;
    let csrf = ana.csrf().await;
    ana.post("/app/cases/1", &[("csrf", &csrf), ("action", "take")])
        .await;
    assert!(vera.get("/app").await.text.contains("Figures computed"));
    // A new answer: the last figures at once, said to be updating; then the new ones.
    detractor(&s, "R2", "C2", 9, "fine").await;
    let stale = vera.get("/app").await;
    assert!(stale.text.contains("being updated"), "{}", stale.text);
    let mut fresh = false;
    for _ in 0..200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if vera.get("/app").await.text.contains("Figures computed") {
            fresh = true;
            break;
        }
    }
    assert!(fresh, "the overview was recomputed");
    // After an erasure (here by another process, as `cxray forget`) the figures from before
    // are never shown, not even while new ones are computed: they may quote the customer.
    detractor(&s, "R3", "C3", 1, "erase me").await;
    cxray_store::forget_customer(&s.dir.path().join("cxray.db"), "C3").unwrap();
    let after = vera.get("/app").await;
    assert!(after.text.contains("Figures computed"), "{}", after.text);
    assert!(!after.text.contains("being updated"));
    let bad = vera.get("/app?period=fortnight").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn answers_are_listed_filtered_and_exported_by_role() {
    let s = server();
    detractor(&s, "R1", "C1", 2, "the parcel came late").await;
    detractor(&s, "R2", "C2", 9, "quick and friendly").await;
    detractor(&s, "R3", "C3", 1, "late again").await;
    let mut vera = Browser::new(&s);
    vera.login("vera", PASSWORD).await;
    let all = vera.get("/app/responses").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert!(
        all.text.contains("<strong>3</strong> of 3 answers"),
        "{}",
        all.text
    );
    // A viewer sees no export links, and may not export.
    assert!(!all.text.contains("/app/responses/export"));
    assert_eq!(
        vera.get("/app/responses/export?format=csv").await.status,
        StatusCode::FORBIDDEN
    );
    let late = vera.get("/app/responses?q=LATE&max=6&metric=nps").await;
    assert!(
        late.text.contains("<strong>2</strong> of 3 answers"),
        "{}",
        late.text
    );
    assert!(
        late.text.contains("the parcel came late") && !late.text.contains("quick and friendly")
    );
    for bad in [
        "/app/responses?min=low",
        "/app/responses?planet=Mars",
        "/app/responses?page=0",
        "/app/responses?score=9",
    ] {
        assert_eq!(vera.get(bad).await.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let mut ana = Browser::new(&s);
    ana.login("ana", PASSWORD).await;
    let page = ana.get("/app/responses?q=late").await;
    assert!(
        page.text
            .contains("/app/responses/export?q=late&amp;format=csv"),
        "{}",
        page.text
    );
    let csv = ana.get("/app/responses/export?q=late&format=csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"answers-")
    );
    assert_eq!(csv.text.lines().count(), 3, "{}", csv.text);
    assert!(
        csv.text
            .lines()
            .next()
            .unwrap()
            .starts_with("response_id,customer_id,submitted_at")
    );
    // A comment that starts like a formula is exported as text.
    detractor(&s, "R4", "C4", 3, "=HYPERLINK(\"http://evil.example\")").await;
    let csv = ana
        .get("/app/responses/export?customer_id=C4&format=csv")
        .await;
    assert!(csv.text.contains("'=HYPERLINK"), "{}", csv.text);
    // After an erasure the list never shows the erased answers, not even while new ones load.
    assert!(vera.get("/app/responses").await.text.contains("=HYPERLINK"));
    detractor(&s, "R5", "C5", 8, "fine").await;
    cxray_store::forget_customer(&s.dir.path().join("cxray.db"), "C4").unwrap();
    let after = vera.get("/app/responses").await;
    assert!(!after.text.contains("HYPERLINK"), "{}", after.text);
    assert!(!after.text.contains("being loaded"));
    let parquet = ana
        .get("/app/responses/export?format=parquet&customer_id=C2")
        .await;
    assert_eq!(parquet.status, StatusCode::OK);
    assert_eq!(
        parquet.headers[header::CONTENT_TYPE],
        "application/vnd.apache.parquet"
    );
    assert!(parquet.text.starts_with("PAR1"));
    assert_eq!(
        ana.get("/app/responses/export?format=xlsx").await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn admins_make_surveys_and_triggers_through_forms_and_everyone_sees_the_contact_log() {
    let s = server();
    let mut adam = Browser::new(&s);
    adam.login("adam", PASSWORD).await;
    let csrf = adam.csrf().await;
    let survey = "id = \"pulse\"\nlanguages = [\"en\", \"nl\"]\ntitle = { en = \"Pulse <b>check</b>\", nl = \"Peiling\" }\n\n[[questions]]\nmetric = \"nps\"\n\n[[questions]]\nreason_for = \"nps\"\n";
    let made = adam
        .post("/app/surveys", &[("csrf", &csrf), ("toml", survey)])
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    assert_eq!(made.location(), "/app/surveys/pulse");
    let shown = adam.get("/app/surveys/pulse?lang=nl").await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.text.contains("Peiling"));
    assert!(
        shown
            .text
            .contains("/s/pulse/open/qr.svg?lang=nl&amp;channel=qr")
    );
    assert!(shown.text.contains("0 answered"));
    // Refused with the reason, nothing saved: not TOML, an unknown metric.
    for bad in [
        "id = ",
        "id = \"other\"\n[[questions]]\nmetric = \"happiness\"\n",
    ] {
        let p = adam
            .post("/app/surveys", &[("csrf", &csrf), ("toml", bad)])
            .await;
        assert_eq!(p.status, StatusCode::BAD_REQUEST, "{bad}: {}", p.text);
        assert!(p.text.contains("problem"), "{}", p.text);
    }
    assert_eq!(
        adam.get("/app/surveys/other").await.status,
        StatusCode::NOT_FOUND
    );
    // A trigger through the form, listed, then removed.
    let t = adam
        .post(
            "/app/surveys/triggers",
            &[
                ("csrf", &csrf),
                ("action", "save"),
                (
                    "toml",
                    "on = \"purchase\"\nsurvey = \"pulse\"\nshare = 0.5\n",
                ),
            ],
        )
        .await;
    assert_eq!(t.status, StatusCode::SEE_OTHER, "{}", t.text);
    let list = adam.get("/app/surveys").await;
    assert!(
        list.text.contains("purchase") && list.text.contains("50%"),
        "{}",
        list.text
    );
    assert!(list.text.contains("Pulse &lt;b&gt;check&lt;/b&gt;"));
    let bad = adam
        .post(
            "/app/surveys/triggers",
            &[
                ("csrf", &csrf),
                ("action", "save"),
                ("toml", "on = \"x\"\nsurvey = \"nope\"\n"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    // An event decided by the trigger shows in the contact log with its reason.
    let event = serde_json::json!({"event_id": "E1", "customer_id": "C9", "step": "purchase"});
    let a = s.post_json("/api/v1/events", &event.to_string()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let mut vera = Browser::new(&s);
    vera.login("vera", PASSWORD).await;
    let log = vera.get("/app/surveys").await;
    assert!(log.text.contains("Contact log"));
    assert!(log.text.contains("/app/customers/C9"), "{}", log.text);
    assert!(!log.text.contains("Add a trigger"), "a viewer gets no form");
    let removed = adam
        .post(
            "/app/surveys/triggers",
            &[
                ("csrf", &csrf),
                ("action", "remove"),
                ("on", "purchase"),
                ("survey", "pulse"),
            ],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        !adam
            .get("/app/surveys")
            .await
            .text
            .contains("the app or API")
    );
}
