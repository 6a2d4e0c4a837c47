//! The web widget: one script a site shows with one tag,
//!
//! ```html
//! <script src="https://cx.example.com/w/widget.js" data-token="…" data-touchpoint="checkout"
//!         async></script>
//! ```
//!
//! which asks the server whether this customer is to be surveyed on this page and, if so, shows
//! the survey's questions in a small card and saves each answer as it is given.
//!
//! The site's backend names the customer with a **customer token** it signs with the widget
//! key (`GET /api/v1/widget`, an admin key): `{customer_id}.{expires}.{mac}`, where `expires`
//! is in Unix seconds and `mac` the hex HMAC-SHA256 of `{customer_id}.{expires}` under the
//! key. Nobody without the key can answer as somebody else; a token leaked from a page stops
//! working when it expires. The page's widget triggers decide as events do (sampling, the
//! contact rules, budgets, suppressions), once per customer, page and day: the customer's
//! other views that day get the same decision (and, until they answer, the same survey).
//!
//! - `GET /w/widget.js`: the script (no dependencies; it shows text, never HTML).
//! - `POST /w/ask` `{token, touchpoint, language}`: the decision, and when it shows a survey
//!   its questions in the customer's language and the session (a signed survey link).
//! - `POST /w/answer` `{session, q, value | skip, language}`: saves one answer of the session.
//!
//! Only these two answer other sites' pages (CORS), to the origins of `[serve]
//! widget_origins` (any when unset); they read JSON sent as `text/plain` too, which a browser
//! sends without a preflight request.

use std::future::Future;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::AppState;
use crate::error::ApiError;
use crate::links::{LinkError, hex};
use crate::pages;
use crate::surveys::{LANGUAGES, Question, Survey, pick, word};

/// The script (see `widget.js`).
pub const SCRIPT: &str = include_str!("widget.js");

/// Longest customer token read.
const MAX_TOKEN: usize = 512;

/// Largest body of the widget's requests.
const MAX_BODY: usize = 16 * 1024;

/// The MAC of the token's text before its last dot, as sent.
fn mac(key: &[u8; 32], customer: &str, expires: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(customer.as_bytes());
    m.update(b".");
    m.update(expires.as_bytes());
    m
}

/// The token that names `customer` to the widget until `expires` (Unix seconds), as a site's
/// backend makes it.
pub fn customer_token(key: &[u8; 32], customer: &str, expires: i64) -> String {
    let tag = hex(&mac(key, customer, &expires.to_string())
        .finalize()
        .into_bytes());
    format!("{customer}.{expires}.{tag}")
}

/// Why a customer token was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenError {
    Invalid,
    Expired,
}

/// The customer a genuine, unexpired token names (read from the right: a customer id may
/// hold dots); the comparison is constant-time.
pub fn verify_customer_token(key: &[u8; 32], token: &str, now: i64) -> Result<String, TokenError> {
    if token.len() > MAX_TOKEN {
        return Err(TokenError::Invalid);
    }
    let (rest, tag) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
    let (customer, expires) = rest.rsplit_once('.').ok_or(TokenError::Invalid)?;
    if customer.trim().is_empty() || customer.len() > 150 || customer.contains('#') {
        return Err(TokenError::Invalid);
    }
    let expires_text = expires;
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Invalid);
    }
    let expires: i64 = expires.parse().map_err(|_| TokenError::Invalid)?;
    if tag.len() != 64 {
        return Err(TokenError::Invalid);
    }
    if !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(TokenError::Invalid);
    }
    let mut bytes = [0u8; 32];
    for (i, pair) in tag.as_bytes().chunks(2).enumerate() {
        let hex = std::str::from_utf8(pair).map_err(|_| TokenError::Invalid)?;
        bytes[i] = u8::from_str_radix(hex, 16).map_err(|_| TokenError::Invalid)?;
    }
    mac(key, customer, expires_text)
        .verify_slice(&bytes)
        .map_err(|_| TokenError::Invalid)?;
    if expires <= now {
        return Err(TokenError::Expired);
    }
    Ok(customer.to_string())
}

/// An origin of `[serve] widget_origins`, checked: `scheme://host[:port]`, no path.
pub fn origin(o: &str) -> Result<String, String> {
    let o = o.trim().trim_end_matches('/');
    let rest = o
        .strip_prefix("https://")
        .or_else(|| o.strip_prefix("http://"))
        .ok_or_else(|| format!("{o:?} is not an origin like \"https://shop.example.com\""))?;
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*']) {
        return Err(format!(
            "{o:?} is not an origin like \"https://shop.example.com\" (scheme and host, no path)"
        ));
    }
    Ok(o.to_ascii_lowercase())
}

/// The `Access-Control-Allow-Origin` of a request from a page, or why its site may not use
/// the widget. A request without `Origin` (not from a browser's page) is answered as any.
fn allowed(state: &AppState, headers: &HeaderMap) -> Result<HeaderValue, ApiError> {
    let asked = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (&state.widget_origins, asked) {
        (None, _) | (Some(_), None) => Ok(HeaderValue::from_static("*")),
        (Some(list), Some(o)) => {
            if list.iter().any(|a| a.eq_ignore_ascii_case(o)) {
                HeaderValue::from_str(o).map_err(|_| ApiError::BadRequest("bad Origin".into()))
            } else {
                Err(ApiError::Forbidden(format!(
                    "pages of {o} may not use the widget; add the site to [serve] widget_origins"
                )))
            }
        }
    }
}

fn with_cors(mut r: Response, allow: HeaderValue) -> Response {
    let h = r.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    r
}

/// The answer of a widget route: refused for a site not allowed (before anything is read or
/// decided), else the handler's, with the CORS headers of its origin (errors too: the script
/// reads their message).
async fn answer<F: Future<Output = Result<Response, ApiError>>>(
    state: &AppState,
    headers: &HeaderMap,
    handler: impl FnOnce() -> F,
) -> Response {
    match allowed(state, headers) {
        Ok(allow) => with_cors(
            handler().await.unwrap_or_else(IntoResponse::into_response),
            allow,
        ),
        Err(e) => e.into_response(),
    }
}

/// `GET /w/widget.js`.
pub async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            // Pages that isolate themselves (COEP) may load it.
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "cross-origin",
            ),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `OPTIONS /w/ask`, `/w/answer`: the preflight of a page that sends JSON as such.
pub async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let r = (
        StatusCode::NO_CONTENT,
        [
            (header::ACCESS_CONTROL_ALLOW_METHODS, "POST"),
            (header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"),
            (header::ACCESS_CONTROL_MAX_AGE, "86400"),
        ],
    )
        .into_response();
    answer(&state, &headers, move || async move { Ok(r) }).await
}

/// The body as `T`: JSON, sent as `application/json` or `text/plain`.
async fn body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(kind.as_str(), "application/json" | "text/plain") {
        return Err(ApiError::UnsupportedMediaType(
            "send JSON (as application/json or text/plain)".into(),
        ));
    }
    let bytes = crate::routes::read_body(headers, body, MAX_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadRequest(format!("the body: {e}")))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    /// The customer token of the site's backend.
    token: String,
    /// The page (a widget trigger's `on`).
    touchpoint: String,
    /// The page's language (`fr`, `fr-CA`); else the browser's.
    #[serde(default)]
    language: Option<String>,
}

/// The primary subtag of the first language cxray speaks among `tags` (a page's `lang`, then
/// the browser's `Accept-Language`).
fn asked_language(page: Option<&str>, accept: Option<&str>) -> Option<String> {
    let primary = |t: &str| {
        t.split(';')
            .next()
            .unwrap_or("")
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    page.into_iter()
        .chain(accept.into_iter().flat_map(|a| a.split(',')))
        .map(primary)
        .find(|l| LANGUAGES.contains(&l.as_str()))
}

/// `POST /w/ask`.
pub async fn ask(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    answer(&state, &headers, || ask_inner(&state, &headers, raw)).await
}

async fn ask_inner(state: &AppState, headers: &HeaderMap, raw: Body) -> Result<Response, ApiError> {
    let ask: Ask = body(headers, raw).await?;
    let now = chrono::Utc::now();
    let customer = match verify_customer_token(&state.widget_key, &ask.token, now.timestamp()) {
        Ok(c) => c,
        Err(TokenError::Invalid) => {
            return Err(ApiError::Unauthenticated(
                "the customer token is not one of this server's: the site signs it with the \
                 widget key (GET /api/v1/widget)"
                    .into(),
            ));
        }
        Err(TokenError::Expired) => {
            return Err(ApiError::Unauthenticated(
                "the customer token has expired; the site makes a new one".into(),
            ));
        }
    };
    let touchpoint = ask.touchpoint.trim().to_string();
    let triggers = state.triggers();
    if triggers.for_page(&touchpoint).is_empty() {
        let pages: Vec<&str> = triggers.pages().collect();
        return Err(ApiError::NotFound(format!(
            "no widget trigger on touchpoint {touchpoint:?} (the widget's touchpoints: {})",
            if pages.is_empty() {
                "none".to_string()
            } else {
                pages.join(", ")
            }
        )));
    }
    // One decision per customer, page and day (the page's length first: no two pages and
    // customers make the same id).
    let mut event = cxray_store::NewEvent {
        event_id: format!(
            "widget:{}:{}:{touchpoint}:{customer}",
            now.date_naive().format("%Y-%m-%d"),
            touchpoint.len()
        ),
        customer_id: Some(customer.clone()),
        session_id: None,
        step: touchpoint.clone(),
        at: now.timestamp_micros(),
        attributes: Default::default(),
        time_from_server: true,
    };
    let accept = pages::accept_language(headers);
    let asked = asked_language(ask.language.as_deref(), accept);
    if let Some(l) = &asked {
        event.attributes.insert("language".into(), l.clone());
    }
    let decisions = crate::read::blocking(state, move |s| s.decide_widget(&event)).await?;
    // None: the page's trigger was removed meanwhile.
    let last = decisions.last().ok_or_else(|| {
        ApiError::NotFound(format!("no widget trigger on touchpoint {touchpoint:?}"))
    })?;
    let not_shown = |why: &str| {
        Ok(axum::Json(json!({
            "show": false,
            "survey": last.survey,
            "outcome": last.outcome,
            "reason": why,
        }))
        .into_response())
    };
    if last.outcome != "invited" {
        // What an admin wrote about a suppression stays with the team; the page learns only
        // that the customer is not asked.
        if last.outcome == "suppressed" {
            return not_shown("suppressed");
        }
        return not_shown(&last.reason);
    }
    let (Some(link), Some(invitation)) = (&last.link, &last.invitation_id) else {
        return Err(ApiError::Internal("an invitation without its link".into()));
    };
    let session = link.trim_start_matches("/s/").to_string();
    let claims = match state.signer.verify(&session, now.timestamp()) {
        Ok(c) => c,
        Err(_) => return not_shown("the invitation's link has expired"),
    };
    // Only this customer's widget invitation is shown (never a session of another).
    if claims.c.as_deref() != Some(customer.as_str())
        || claims.a.get("channel").map(String::as_str) != Some("widget")
    {
        return Err(ApiError::Conflict(
            "the day's widget decision of this page is not this customer's".into(),
        ));
    }
    let Some(survey) = state.survey(&claims.s) else {
        return not_shown("the survey is no longer served");
    };
    if pages::closed(&survey) {
        return not_shown("the survey is closed");
    }
    let given = {
        let id = claims.r.clone();
        crate::read::blocking(state, move |s| {
            s.with_reader(|r| r.answers_of(&id))
                .map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await?
        .unwrap_or_default()
    };
    // The page's language now (a decision of the day may have been made on another page).
    let lang = survey.language(asked.as_deref(), claims.l.as_deref(), None);
    let questions: Vec<Value> = survey
        .questions
        .iter()
        .map(|q| question(&survey, q, &lang, &given))
        .collect();
    // Answered once every score is given (a follow-up comment is optional).
    if questions
        .iter()
        .all(|q| q["kind"] != "scale" || !q["answer"].is_null())
    {
        return not_shown("answered");
    }
    let first = &survey.languages[0];
    let words: serde_json::Map<String, Value> = [
        "next",
        "skip",
        "thanks",
        "close",
        "survey",
        "question_of",
        "choose",
    ]
    .iter()
    .map(|k| (k.to_string(), json!(word(k, &lang))))
    .collect();
    Ok(axum::Json(json!({
        "show": true,
        "survey": survey.config.id,
        "outcome": last.outcome,
        "reason": last.reason,
        "invitation": invitation,
        "session": session,
        "language": lang,
        "title": pick(&survey.config.title, &lang, first),
        "questions": questions,
        "words": words,
    }))
    .into_response())
}

/// A question as the script shows it, with the answer given so far.
fn question(survey: &Survey, q: &Question, lang: &str, given: &[cxray_store::NewAnswer]) -> Value {
    let first = &survey.languages[0];
    let text = |t| pick(t, lang, first).unwrap_or("");
    match q {
        Question::Scale {
            spec,
            text: t,
            low,
            high,
        } => json!({
            "kind": "scale",
            "text": text(t),
            "min": spec.min,
            "max": spec.max,
            "binary": Survey::is_binary(spec),
            "low": text(low),
            "high": text(high),
            "yes": word("yes", lang),
            "no": word("no", lang),
            "answer": given.iter().find(|a| a.metric == spec.name).and_then(|a| a.score),
        }),
        Question::Reason {
            metric,
            text: t,
            below,
        } => json!({
            "kind": "text",
            "text": text(t),
            "below": below.as_ref().map(|(b, bt)| json!({ "score": b, "text": text(bt) })),
            "max_length": pages::MAX_TEXT,
            "answer": given.iter().find(|a| &a.metric == metric).and_then(|a| a.comment.clone()),
        }),
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Given {
    /// The session of `/w/ask`.
    session: String,
    /// The question, from 1.
    q: usize,
    /// A score (number or text) or a comment.
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    skip: bool,
    /// The language the question was shown in (the session's when absent).
    #[serde(default)]
    language: Option<String>,
}

/// `POST /w/answer`.
pub async fn save(State(state): State<AppState>, headers: HeaderMap, raw: Body) -> Response {
    answer(&state, &headers, || save_inner(&state, &headers, raw)).await
}

async fn save_inner(
    state: &AppState,
    headers: &HeaderMap,
    raw: Body,
) -> Result<Response, ApiError> {
    let given: Given = body(headers, raw).await?;
    let claims = match state
        .signer
        .verify(&given.session, chrono::Utc::now().timestamp())
    {
        Ok(c) if c.a.get("channel").map(String::as_str) == Some("widget") && c.c.is_some() => c,
        Ok(_) | Err(LinkError::Invalid) => {
            return Err(ApiError::NotFound("no such widget session".into()));
        }
        Err(LinkError::Expired(_)) => {
            return Err(ApiError::NotFound(
                "the widget session has expired: the survey's link_days are over".into(),
            ));
        }
    };
    let Some(survey) = state.survey(&claims.s) else {
        return Err(ApiError::NotFound("the survey is no longer served".into()));
    };
    if pages::closed(&survey) {
        return Err(ApiError::NotFound("the survey is closed".into()));
    }
    let lang = survey.language(given.language.as_deref(), claims.l.as_deref(), None);
    let n = survey.questions.len();
    if !(1..=n).contains(&given.q) {
        return Err(ApiError::BadRequest(format!(
            "q is the question's number, 1 to {n}"
        )));
    }
    let question = &survey.questions[given.q - 1];
    let value = match &given.value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(x)) => Some(x.to_string()),
        Some(_) => return Err(ApiError::BadRequest("value is a number or a text".into())),
    };
    let checked =
        pages::given(question, given.skip, value.as_deref(), &lang).map_err(|message| {
            ApiError::invalid(1, "value", value.as_deref().unwrap_or(""), message)
        })?;
    pages::save(state, &survey, &claims, &lang, question, checked)
        .await
        .map_err(|status| match status {
            StatusCode::SERVICE_UNAVAILABLE => {
                ApiError::Busy("the store is busy; send the answer again".into())
            }
            StatusCode::CONFLICT => ApiError::Conflict("the answer was refused".into()),
            _ => ApiError::Internal("the answer could not be saved".into()),
        })?;
    Ok(axum::Json(json!({
        "saved": !given.skip,
        "next": (given.q < n).then_some(given.q + 1),
    }))
    .into_response())
}

/// `GET /api/v1/widget` (admin): what a site needs to show the widget.
pub async fn settings(State(state): State<AppState>) -> Response {
    let key = hex(&state.widget_key);
    let base = state.base_url();
    let triggers = state.triggers();
    let pages: Vec<&str> = triggers.pages().collect();
    axum::Json(json!({
        "key": key,
        "script": format!("{base}/w/widget.js"),
        "touchpoints": pages,
        "origins": state.widget_origins,
        "token": "{customer_id}.{expires}.{mac}: expires in Unix seconds; mac, the hex \
                  HMAC-SHA256 of \"{customer_id}.{expires}\" under the key (the bytes of its hex)",
        "tag": format!(
            "<script src=\"{base}/w/widget.js\" data-token=\"TOKEN\" data-touchpoint=\"{}\" \
             async></script>",
            pages.first().copied().unwrap_or("TOUCHPOINT")
        ),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_token_names_its_customer_only_unaltered_and_unexpired() {
        let key = [3u8; 32];
        let t = customer_token(&key, "C.1", 2_000_000_000);
        assert_eq!(
            verify_customer_token(&key, &t, 1_900_000_000),
            Ok("C.1".into())
        );
        assert_eq!(
            verify_customer_token(&key, &t, 2_000_000_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify_customer_token(&[4u8; 32], &t, 0),
            Err(TokenError::Invalid)
        );
        // Another customer, a later expiry or any changed character does not pass.
        let (_, tag) = t.rsplit_once('.').unwrap();
        for forged in [
            format!("C.2.2000000000.{tag}"),
            format!("C.1.2000000001.{tag}"),
            format!("C.1.+2000000000.{tag}"),
            format!("C.1.02000000000.{tag}"),
        ] {
            assert_eq!(
                verify_customer_token(&key, &forged, 0),
                Err(TokenError::Invalid),
                "{forged}"
            );
        }
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let altered = String::from_utf8(b).unwrap();
            if altered != t {
                assert!(verify_customer_token(&key, &altered, 0).is_err(), "{i}");
            }
        }
        for junk in ["", ".", "..", "a.b.c", "é.1.é", &"x".repeat(600)] {
            assert_eq!(
                verify_customer_token(&key, junk, 0),
                Err(TokenError::Invalid)
            );
        }
    }

    #[test]
    fn a_token_made_as_the_docs_show_in_python_is_accepted() {
        // Python 3.11's hmac: key bytes(range(32)), text "C1.2000000000" (docs/config.md).
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let python =
            "C1.2000000000.6b18d941cdb70a9c6443030bac5420fa795f47410d49fc4c646ca0c44b33ddc0";
        assert_eq!(customer_token(&key, "C1", 2_000_000_000), python);
        assert_eq!(verify_customer_token(&key, python, 0), Ok("C1".into()));
    }

    #[test]
    fn origins_are_scheme_and_host() {
        assert_eq!(
            origin("https://Shop.Example.com/").unwrap(),
            "https://shop.example.com"
        );
        assert_eq!(
            origin("http://127.0.0.1:3000").unwrap(),
            "http://127.0.0.1:3000"
        );
        for bad in [
            "shop.example.com",
            "https://",
            "https://a.com/page",
            "*",
            "https://*.a.com",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_language_is_the_page_s_then_the_browser_s() {
        assert_eq!(asked_language(Some("fr-CA"), Some("de")), Some("fr".into()));
        assert_eq!(
            asked_language(Some("pt"), Some("pt-BR, hr;q=0.8")),
            Some("hr".into())
        );
        assert_eq!(asked_language(None, None), None);
    }

    #[test]
    fn the_script_shows_text_only() {
        assert!(!SCRIPT.contains("innerHTML") && !SCRIPT.contains("insertAdjacentHTML"));
        assert!(!SCRIPT.contains("eval("));
    }
}
