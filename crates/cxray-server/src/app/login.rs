//! Logging in and out.
//!
//! The login form has no session to take a CSRF token from, so it carries one of its own: a
//! random value both in a cookie (`cxray_login`, path `/app/login`) and in the form, which a
//! page of another site can neither read nor set (a forged login would log the victim into
//! the forger's account). `next` (where to go after) must be a path of the app: never another
//! site (no open redirect).

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cxray_store::{Login, LoginCheck, Session};
use maud::html;

use super::{SESSION_COOKIE, cookie, field, form_fields, message, page, same_token, see_other};
use crate::AppState;

const LOGIN_COOKIE: &str = "cxray_login";

#[derive(Debug, Default, serde::Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `next` when it is a path of the app, else the overview.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if (n == "/app" || n.starts_with("/app/") || n.starts_with("/app?"))
                && !n.contains("//")
                && !n.contains("/.")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_string()
        }
        _ => "/app".into(),
    }
}

/// Whether cookies get `Secure`: the server is reached over https.
fn secure(state: &AppState) -> &'static str {
    if state
        .public_url
        .get()
        .is_some_and(|u| u.starts_with("https://"))
    {
        "; Secure"
    } else {
        ""
    }
}

fn login_page(status: StatusCode, next: &str, token: &str, problem: Option<&str>) -> Response {
    page(
        None,
        status,
        "Log in",
        "",
        html! {
            section.login {
                h1 { "cxray" }
                @if let Some(p) = problem { p.problem role="alert" { (p) } }
                form method="post" action="/app/login" {
                    input type="hidden" name="token" value=(token);
                    input type="hidden" name="next" value=(next);
                    label { "Name" input name="name" autocomplete="username" required autofocus; }
                    label {
                        "Password"
                        input name="password" type="password" autocomplete="current-password" required;
                    }
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

/// `GET /app/login?next=…`
pub async fn form(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let token = crate::links::random_id();
    let mut r = login_page(StatusCode::OK, &safe_next(q.next.as_deref()), &token, None);
    set_cookie(
        &mut r,
        &format!(
            "{LOGIN_COOKIE}={token}; Path=/app/login; HttpOnly; SameSite=Strict; Max-Age=3600{}",
            secure(&state)
        ),
    );
    r
}

fn set_cookie(r: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// `POST /app/login`: name, password, token, next.
pub async fn submit(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let headers = parts.headers;
    let fields = form_fields(&body);
    let next = safe_next(field(&fields, "next"));
    let fresh = crate::links::random_id();
    let again = |status, problem: &str| {
        let mut r = login_page(status, &next, &fresh, Some(problem));
        set_cookie(
            &mut r,
            &format!(
                "{LOGIN_COOKIE}={fresh}; Path=/app/login; HttpOnly; SameSite=Strict; \
                 Max-Age=3600{}",
                secure(&state)
            ),
        );
        r
    };
    let token_ok = match (cookie(&headers, LOGIN_COOKIE), field(&fields, "token")) {
        (Some(c), Some(t)) => same_token(c, t),
        _ => false,
    };
    if !token_ok {
        return again(
            StatusCode::FORBIDDEN,
            "The login form was out of date (or cookies are off). Try again.",
        );
    }
    let (Some(name), Some(password)) = (field(&fields, "name"), field(&fields, "password")) else {
        return again(StatusCode::BAD_REQUEST, "Give your name and password.");
    };
    let (name, password) = (name.trim().to_string(), password.to_string());
    let peer = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let address = state.client_address(peer, &headers);
    // Logins have a budget of their own per address, tighter than the public pages'.
    if let Err(e) = state
        .login_limit
        .check(crate::auth::Client::Address(address))
    {
        return e.into_response();
    }
    let address = address.to_string();
    // A session the browser had before is ended, whatever happens: a login never keeps a
    // session id that existed before it.
    let before = cookie(&headers, SESSION_COOKIE).map(str::to_string);
    let now = chrono::Utc::now().timestamp_micros();
    let (n, a) = (name.clone(), address.clone());
    let checked = crate::read::blocking(&state, move |s| {
        s.with_admin(|k| {
            if let Some(b) = &before {
                k.end_session(b)?;
            }
            k.login_check(&n, &a, now)
        })
    })
    .await;
    let outcome = match checked {
        Ok(LoginCheck::Locked { until }) => Ok(Login::Locked { until }),
        Ok(LoginCheck::Verify(pending)) => {
            // The slow hash holds no connection, and at most two run at once: a flood of
            // logins waits here instead of stalling the server's other work.
            let permit = state.hashing.acquire().await;
            let (pending, ok) = match tokio::task::spawn_blocking(move || {
                let ok = pending.verify(&password);
                (pending, ok)
            })
            .await
            {
                Ok(x) => x,
                Err(e) => {
                    return message(
                        None,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Try again",
                        &e.to_string(),
                    );
                }
            };
            drop(permit);
            crate::read::blocking(&state, move |s| {
                let now = chrono::Utc::now().timestamp_micros();
                s.with_admin(|k| k.login_finish(&pending, &address, ok, now))
            })
            .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Login::Session(new)) => {
            let mut r = see_other(&next);
            set_cookie(
                &mut r,
                &format!(
                    "{SESSION_COOKIE}={}; Path=/app; HttpOnly; SameSite=Strict; Max-Age={}{}",
                    new.secret,
                    cxray_store::SESSION_MAX_DAYS * 86_400,
                    secure(&state)
                ),
            );
            set_cookie(
                &mut r,
                &format!("{LOGIN_COOKIE}=; Path=/app/login; HttpOnly; SameSite=Strict; Max-Age=0"),
            );
            r
        }
        Ok(Login::Refused) => again(
            StatusCode::UNAUTHORIZED,
            "The name or the password is wrong.",
        ),
        Ok(Login::Locked { until }) => again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many wrong passwords: this member is locked out until {}.",
                super::when(until)
            ),
        ),
        Err(e) => message(
            None,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            &e.to_string(),
        ),
    }
}

/// `POST /app/logout`
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Extension(_session): axum::Extension<Session>,
) -> Response {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE).map(str::to_string) {
        let _ =
            crate::read::blocking(&state, move |s| s.with_admin(|k| k.end_session(&secret))).await;
    }
    let mut r = see_other("/app/login");
    set_cookie(
        &mut r,
        &format!("{SESSION_COOKIE}=; Path=/app; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_path_of_the_app() {
        for ok in ["/app", "/app/cases/3", "/app?period=week&by=region"] {
            assert_eq!(safe_next(Some(ok)), ok);
        }
        for bad in [
            "https://evil.example/app",
            "//evil.example/app",
            "/app//evil.example",
            "/application",
            "/app\\..\\x",
            "/app/../api/v1/keys",
            "/app/./cases",
            "/app/cases?q=é",
            "/app/cases x",
            "/app/\r\nSet-Cookie: x=1",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/app", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/app");
    }
}
