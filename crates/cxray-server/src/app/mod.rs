//! The team's web app under `/app`: server-rendered pages for the members of the team (the
//! API's keys stay for machines).
//!
//! ```text
//!  browser ──▶ guard (this file): session cookie → member and role; the route's role;
//!              on a POST, the form's CSRF token against the session's
//!                └▶ page handler (overview.rs, cases.rs, team.rs) → maud → HTML
//! ```
//!
//! - **One table** ([`app_routes`]) names each page's method, path and the least role it needs;
//!   the router and the role × route test are both made from it.
//! - **Sessions**: `cxray_session` cookie, HttpOnly, SameSite=Strict, `Secure` when the server
//!   is reached over https (`[serve] public_url`), path `/app`. A login always makes a new
//!   session and ends the one the browser had (no fixation).
//! - **CSRF**: every form carries the session's token; a POST without it, or with another
//!   session's, is refused (403) before its handler runs. The login form, which has no session
//!   yet, carries a token of its own cookie (double submit).
//! - **No script, no inline style** (CSP): customer text can only ever be text, and maud escapes
//!   every value.

pub mod cases;
mod customers;
mod explore;
mod login;
mod overview;
mod responses;
mod surveys;
mod team;

pub use overview::{OverviewCache, prewarm};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use cxray_store::{Role, Session};
use maud::{DOCTYPE, Markup, html};

use crate::AppState;
use crate::auth::Client;

/// The session cookie.
pub const SESSION_COOKIE: &str = "cxray_session";

/// The pages' policy: the app's stylesheet from this server, images from it or inline (`data:`
/// for the report's charts), forms posted back to it; no script at all, no frame.
const APP_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Largest form a page posts.
const FORM_LIMIT: usize = 64 * 1024;

/// A page of the app: who may reach it.
pub struct AppRoute {
    pub method: Method,
    pub path: &'static str,
    /// The least role it needs; `None`: anyone (the login page, the stylesheet).
    pub role: Option<Role>,
    pub summary: &'static str,
    pub handler: MethodRouter<AppState>,
}

/// Every page of the app.
pub fn app_routes() -> Vec<AppRoute> {
    let r = |method, path, role, summary, handler| AppRoute {
        method,
        path,
        role,
        summary,
        handler,
    };
    vec![
        r(
            Method::GET,
            "/app/style.css",
            None,
            "The app's stylesheet (with the report's)",
            get(style),
        ),
        r(
            Method::GET,
            "/app/login",
            None,
            "The login form",
            get(login::form),
        ),
        r(
            Method::POST,
            "/app/login",
            None,
            "Logs a member in: a new session",
            post(login::submit),
        ),
        r(
            Method::POST,
            "/app/logout",
            Some(Role::Viewer),
            "Ends the session",
            post(login::logout),
        ),
        r(
            Method::GET,
            "/app",
            Some(Role::Viewer),
            "Overview: the report's highlights, scorecard and trends for a period and filter",
            get(overview::show),
        ),
        r(
            Method::GET,
            "/app/cases",
            Some(Role::Viewer),
            "The queue of cases, with the loop's own figures",
            get(cases::queue),
        ),
        r(
            Method::GET,
            "/app/cases/{id}",
            Some(Role::Viewer),
            "One case: the answer, its history, what can be done",
            get(cases::show),
        ),
        r(
            Method::POST,
            "/app/cases/{id}",
            Some(Role::Analyst),
            "Works a case: take, assign, change status, add a note",
            post(cases::act),
        ),
        r(
            Method::GET,
            "/app/explore",
            Some(Role::Analyst),
            "Explore: why a metric changed between two periods, what drives an outcome",
            get(explore::show),
        ),
        r(
            Method::GET,
            "/app/responses",
            Some(Role::Viewer),
            "Every answer with filters (metric, score, period, survey, touchpoint, segments, \
             theme, sentiment, language, words in the comment), newest first, 50 a page",
            get(responses::list),
        ),
        r(
            Method::GET,
            "/app/responses/export",
            Some(Role::Analyst),
            "The filtered answers as a file (format=csv or parquet)",
            get(responses::export),
        ),
        r(
            Method::GET,
            "/app/customers",
            Some(Role::Viewer),
            "Find a customer by id",
            get(customers::find),
        ),
        r(
            Method::GET,
            "/app/customers/{id}",
            Some(Role::Viewer),
            "One customer: their cases and every interaction, each survey decision with its \
             reason",
            get(customers::show),
        ),
        r(
            Method::GET,
            "/app/surveys",
            Some(Role::Viewer),
            "The surveys with their funnels, the triggers and the contact log",
            get(surveys::list),
        ),
        r(
            Method::GET,
            "/app/surveys/{id}",
            Some(Role::Viewer),
            "One survey: its questions in each language, drop-off, links and QR code (new: the \
             form of a new survey)",
            get(surveys::show),
        ),
        r(
            Method::POST,
            "/app/surveys",
            Some(Role::Admin),
            "Makes or replaces a survey (the fields of [[surveys]] as TOML)",
            post(surveys::save),
        ),
        r(
            Method::POST,
            "/app/surveys/triggers",
            Some(Role::Admin),
            "Saves a trigger (the fields of [[triggers]] as TOML) or removes one",
            post(surveys::triggers),
        ),
        r(
            Method::GET,
            "/app/team",
            Some(Role::Admin),
            "The team's members and roles",
            get(team::list),
        ),
        r(
            Method::POST,
            "/app/team",
            Some(Role::Admin),
            "Adds a member, or changes one's role and password, or removes one",
            post(team::change),
        ),
    ]
}

/// The app's routes added to `router`, each behind its guard.
pub(crate) fn add_routes(
    mut router: axum::Router<AppState>,
    state: &AppState,
) -> axum::Router<AppState> {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in app_routes() {
        let guarded = route
            .handler
            .route_layer(from_fn_with_state((state.clone(), route.role), guard));
        match by_path.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(guarded),
            None => by_path.push((route.path, guarded)),
        }
    }
    for (path, m) in by_path {
        router = router.route(path, m);
    }
    router
}

/// A cookie's value in the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Whether two tokens are equal, compared through their SHA-256 (the time of the comparison
/// tells nothing about the token).
pub(crate) fn same_token(a: &str, b: &str) -> bool {
    cxray_store::key_digest(a) == cxray_store::key_digest(b)
}

/// The session of a request's cookie, if it is live.
async fn session_of(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, Response> {
    let Some(secret) = cookie(headers, SESSION_COOKIE).map(str::to_string) else {
        return Ok(None);
    };
    // A cookie that is not shaped like one of ours is no session (and costs no query).
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    crate::read::blocking(state, move |s| {
        s.with_admin(|k| k.session(&secret, chrono::Utc::now().timestamp_micros()))
    })
    .await
    .map_err(|e| {
        message(
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "The server could not read the sessions",
            &e.to_string(),
        )
    })
}

/// Checks the session and role a page needs, and a form's CSRF token, before the handler runs.
async fn guard(
    State((state, role)): State<(AppState, Option<Role>)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(role) = role else {
        // Public pages (the login form) are rate-limited per address.
        if req.method() == Method::POST {
            let peer = req
                .extensions()
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            let address = state.client_address(peer, req.headers());
            if let Err(e) = state.public_limit.check(Client::Address(address)) {
                return e.into_response();
            }
        }
        return next.run(req).await;
    };
    let session = match session_of(&state, req.headers()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(session) = session else {
        if req.method() == Method::GET {
            let target = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/app");
            let to = format!(
                "/app/login?next={}",
                form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>()
            );
            return see_other(&to);
        }
        return message(
            None,
            StatusCode::UNAUTHORIZED,
            "Log in again",
            "Your session has ended; log in again and send the form once more.",
        );
    };
    if session.role < role {
        return message(
            Some(&session),
            StatusCode::FORBIDDEN,
            "Not for your role",
            &format!(
                "This needs the {} role; you are {} as {}. An admin can change your role.",
                role.name(),
                session.member,
                session.role.name()
            ),
        );
    }
    let mut req = req;
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, FORM_LIMIT).await {
            Ok(b) => b,
            Err(_) => {
                return message(
                    Some(&session),
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Too long",
                    &format!("A form sends at most {} KiB.", FORM_LIMIT / 1024),
                );
            }
        };
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.into_owned());
        if !token.is_some_and(|t| same_token(&t, &session.csrf)) {
            return message(
                Some(&session),
                StatusCode::FORBIDDEN,
                "The form is out of date",
                "This form was not sent from a page of your current session. Reload the page \
                 and send it again.",
            );
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    req.extensions_mut().insert(session);
    next.run(req).await
}

/// 303 to a path of this server.
pub(crate) fn see_other(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// The fields of a posted form.
pub(crate) fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of a form's field.
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A page of the app, with the navigation of the member's role.
pub(crate) fn page(
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    current: &str,
    body: Markup,
) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · cxray" }
                link rel="stylesheet" href="/app/style.css";
            }
            body {
                @if let Some(s) = session {
                    header.bar {
                        a.brand href="/app" { "cxray" }
                        nav {
                            @for (href, label, least) in [
                                ("/app", "Overview", Role::Viewer),
                                ("/app/explore", "Explore", Role::Analyst),
                                ("/app/responses", "Responses", Role::Viewer),
                                ("/app/cases", "Cases", Role::Viewer),
                                ("/app/customers", "Customers", Role::Viewer),
                                ("/app/surveys", "Surveys", Role::Viewer),
                                ("/app/team", "Team", Role::Admin),
                            ] {
                                @if s.role >= least {
                                    @if current == href {
                                        a.current href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                        form.logout method="post" action="/app/logout" {
                            span.who { (s.member) " · " (s.role.name()) }
                            input type="hidden" name="csrf" value=(s.csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main.app { (body) }
            }
        }
    };
    crate::pages::html_response(status, markup, APP_CSP)
}

/// The page of a request that failed: its status, the error under `title`.
pub(crate) fn failed(session: &Session, title: &str, e: &crate::ApiError) -> Response {
    message(Some(session), e.status(), title, &e.to_string())
}

/// A page that says one thing (an error, a refusal).
pub(crate) fn message(
    session: Option<&Session>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    page(
        session,
        status,
        title,
        "",
        html! {
            h1 { (title) }
            p { (text) }
            @if session.is_none() { p { a href="/app/login" { "Log in" } } }
        },
    )
}

/// The app's stylesheet: its own rules after the report's.
const APP_CSS: &str = include_str!("app.css");

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        format!("{}\n{APP_CSS}", cxray_report::REPORT_CSS),
    )
        .into_response()
}

/// A time (µs) as the pages show it, in UTC.
pub(crate) fn when(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "—".into())
}

/// A duration (µs) as "3 h", "2 d 4 h", "12 min".
pub(crate) fn span(micros: i64) -> String {
    let m = micros.unsigned_abs() / 60_000_000;
    if m < 60 {
        format!("{m} min")
    } else if m < 48 * 60 {
        format!("{} h", m / 60)
    } else {
        format!("{} d {} h", m / 1440, (m % 1440) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; cxray_session_x=2; cxray_session=abc ; b="),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn spans_read_as_people_say_them() {
        let min = 60_000_000;
        assert_eq!(span(5 * min), "5 min");
        assert_eq!(span(-(3 * 60 * min)), "3 h");
        assert_eq!(span(50 * 60 * min), "2 d 2 h");
    }
}
