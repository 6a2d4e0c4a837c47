//! The routes: one table ([`routes`]) from which both the router and the OpenAPI document are
//! made, so that a route cannot exist undocumented, nor a documented one be missing. Each row
//! names the scope it needs (none: public), and whether public requests are rate-limited per
//! address.

use std::net::SocketAddr;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post};
use cxray_store::Scope;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Client;
use crate::collect;
use crate::error::ApiError;
use crate::read;
use crate::telemetry::KeyUsed;

/// What the OpenAPI document says of a route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: Method,
    pub path: &'static str,
    /// The scope a key needs; `None`: public.
    pub scope: Option<Scope>,
    /// Public and rate-limited per client address.
    pub limited: bool,
    pub summary: &'static str,
    /// Media types of the body it reads.
    pub body: &'static [&'static str],
    /// Statuses it answers with.
    pub statuses: &'static [u16],
}

/// A route: its documentation and its handler.
pub struct Route {
    pub doc: RouteDoc,
    pub handler: MethodRouter<AppState>,
}

const JSON_BODIES: &[&str] = &["application/json", "application/x-ndjson"];
const FORM_BODY: &[&str] = &["application/x-www-form-urlencoded"];
const PAGE_STATUSES: &[u16] = &[200, 303, 400, 404, 410, 422, 429];
const WRITE_STATUSES: &[u16] = &[200, 201, 400, 401, 403, 409, 413, 415, 422, 429, 503];
const READ_STATUSES: &[u16] = &[200, 400, 401, 403, 429];

/// Every route of the server.
pub fn routes() -> Vec<Route> {
    let r = |method: Method,
             path,
             scope,
             limited,
             summary,
             body,
             statuses,
             handler: MethodRouter<AppState>| Route {
        doc: RouteDoc {
            method,
            path,
            scope,
            limited,
            summary,
            body,
            statuses,
        },
        handler,
    };
    vec![
        r(
            Method::GET,
            "/healthz",
            None,
            false,
            "Liveness: the store can be read",
            &[],
            &[200, 503],
            get(health),
        ),
        r(
            Method::GET,
            "/metrics",
            Some(Scope::Read),
            false,
            "Prometheus counters of requests and of the store (scrape with a read key as the \
             bearer token)",
            &[],
            READ_STATUSES,
            get(prometheus),
        ),
        r(
            Method::GET,
            "/api/openapi.json",
            None,
            true,
            "This document",
            &[],
            &[200, 429],
            get(openapi_route),
        ),
        r(
            Method::POST,
            "/api/v1/responses",
            Some(Scope::Collect),
            false,
            "Store survey responses: one JSON object, a JSON array, or NDJSON (one per line); \
             all or nothing",
            JSON_BODIES,
            WRITE_STATUSES,
            post(post_responses),
        ),
        r(
            Method::POST,
            "/api/v1/events",
            Some(Scope::Collect),
            false,
            "Store journey events (customer or session, step, time); all or nothing",
            JSON_BODIES,
            WRITE_STATUSES,
            post(post_events),
        ),
        r(
            Method::GET,
            "/api/v1/counts",
            Some(Scope::Read),
            false,
            "Responses, answers and events in the store",
            &[],
            READ_STATUSES,
            get(counts),
        ),
        r(
            Method::GET,
            "/api/v1/metrics",
            Some(Scope::Read),
            false,
            "Metrics with intervals of the served project (its files and the store), as \
             `cxray metrics -f json`; query: metric, by, period, since, until",
            &[],
            READ_STATUSES,
            get(metrics),
        ),
        r(
            Method::GET,
            "/api/v1/report",
            Some(Scope::Read),
            false,
            "The report of the served project, as `cxray report -f json`; query: by, period, \
             since, until",
            &[],
            READ_STATUSES,
            get(report),
        ),
        r(
            Method::GET,
            "/favicon.ico",
            None,
            false,
            "No icon (browsers ask for one on every page)",
            &[],
            &[204],
            get(|| async { StatusCode::NO_CONTENT }),
        ),
        r(
            Method::GET,
            "/s/style.css",
            None,
            false,
            "The stylesheet of the survey pages",
            &[],
            &[200],
            get(crate::pages::style),
        ),
        r(
            Method::GET,
            "/s/one-click.js",
            None,
            false,
            "The script that sends a score chosen in an email once a browser shows the page",
            &[],
            &[200],
            get(crate::pages::one_click_script),
        ),
        r(
            Method::GET,
            "/s/{token}",
            None,
            true,
            "A question page of a survey link (query: q, the question from 1; lang; done; score, \
             a one-click score shown chosen and recorded only when a browser sends the form)",
            &[],
            PAGE_STATUSES,
            get(crate::pages::show),
        ),
        r(
            Method::POST,
            "/s/{token}",
            None,
            true,
            "Saves the answer to a question of a survey link and goes on to the next",
            FORM_BODY,
            PAGE_STATUSES,
            post(crate::pages::answer),
        ),
        r(
            Method::GET,
            "/s/{token}/qr.svg",
            None,
            true,
            "The QR code (SVG) of a personal survey link, to print or show",
            &[],
            &[200, 400, 404, 410, 429],
            get(crate::qr::personal),
        ),
        r(
            Method::GET,
            "/s/{survey}/open/qr.svg",
            None,
            true,
            "The QR code (SVG) of a survey's anonymous link (query: lang, channel and the \
             survey's declared attributes, encoded in the link)",
            &[],
            &[200, 400, 404, 429],
            get(crate::qr::anonymous),
        ),
        r(
            Method::GET,
            "/u/{token}",
            None,
            true,
            "Asks a customer whether to stop their surveys (a GET never unsubscribes)",
            &[],
            &[200, 404, 429],
            get(crate::pages::unsubscribe_page),
        ),
        r(
            Method::POST,
            "/u/{token}",
            None,
            true,
            "Unsubscribes the customer of a personal link (also RFC 8058 one-click posts)",
            FORM_BODY,
            &[200, 404, 429, 503],
            post(crate::pages::unsubscribe),
        ),
        r(
            Method::GET,
            "/s/{survey}/open",
            None,
            true,
            "The anonymous link of a survey: its first question (query: lang, channel and the \
             survey's declared attributes)",
            &[],
            PAGE_STATUSES,
            get(crate::pages::open_survey),
        ),
        r(
            Method::POST,
            "/s/{survey}/open",
            None,
            true,
            "Saves the first answer of an anonymous response and goes on with a link of its own",
            FORM_BODY,
            PAGE_STATUSES,
            post(crate::pages::answer_open),
        ),
        r(
            Method::GET,
            "/w/widget.js",
            None,
            false,
            "The web widget: one script a site shows with one tag (data-token: the customer \
             token its backend signs; data-touchpoint: the page)",
            &[],
            &[200],
            get(crate::widget::script),
        ),
        r(
            Method::POST,
            "/w/ask",
            None,
            true,
            "Whether the widget shows a survey to the customer of a token on a page, by the \
             page's widget triggers and the contact rules ({token, touchpoint, language}); \
             with the questions and a session when it does. CORS: the widget's origins",
            &["application/json", "text/plain"],
            &[200, 400, 401, 403, 404, 413, 415, 429, 503],
            post(crate::widget::ask),
        ),
        r(
            Method::OPTIONS,
            "/w/ask",
            None,
            false,
            "The CORS preflight of /w/ask",
            &[],
            &[204, 403],
            axum::routing::options(crate::widget::preflight),
        ),
        r(
            Method::POST,
            "/w/answer",
            None,
            true,
            "Saves one answer of a widget session ({session, q, value | skip}). CORS: the \
             widget's origins",
            &["application/json", "text/plain"],
            &[200, 400, 403, 404, 409, 413, 415, 422, 429, 503],
            post(crate::widget::save),
        ),
        r(
            Method::OPTIONS,
            "/w/answer",
            None,
            false,
            "The CORS preflight of /w/answer",
            &[],
            &[204, 403],
            axum::routing::options(crate::widget::preflight),
        ),
        r(
            Method::GET,
            "/api/v1/widget",
            Some(Scope::Admin),
            false,
            "What a site needs to show the widget: the key its backend signs customer tokens \
             with, the token's form, the script tag, the touchpoints with a widget trigger",
            &[],
            READ_STATUSES,
            get(crate::widget::settings),
        ),
        r(
            Method::GET,
            "/api/v1/surveys",
            Some(Scope::Read),
            false,
            "The surveys with their responses and, per question, how many answered (drop-off)",
            &[],
            READ_STATUSES,
            get(surveys),
        ),
        r(
            Method::POST,
            "/api/v1/surveys",
            Some(Scope::Admin),
            false,
            "Makes or replaces a survey (the fields of [[surveys]] in cxray.toml, as JSON); \
             served at once and kept in the store",
            &["application/json"],
            &[201, 400, 401, 403, 409, 415, 422, 429],
            post(save_survey),
        ),
        r(
            Method::GET,
            "/api/v1/triggers",
            Some(Scope::Read),
            false,
            "The triggers in force (from cxray.toml and made through the API) and the contact \
             rules",
            &[],
            READ_STATUSES,
            get(list_triggers),
        ),
        r(
            Method::POST,
            "/api/v1/triggers",
            Some(Scope::Admin),
            false,
            "Makes or replaces (same touchpoint and survey) a trigger: the fields of \
             [[triggers]] as JSON; in force at once and kept in the store",
            &["application/json"],
            &[201, 400, 401, 403, 409, 415, 422, 429],
            post(save_trigger),
        ),
        r(
            Method::DELETE,
            "/api/v1/triggers",
            Some(Scope::Admin),
            false,
            "Removes a trigger made through the API (query: on, survey)",
            &[],
            &[200, 400, 401, 403, 404, 409, 429],
            delete(delete_trigger),
        ),
        r(
            Method::POST,
            "/api/v1/links",
            Some(Scope::Admin),
            false,
            "A personal survey link: {survey, customer_id, invitation_id, language}",
            &["application/json"],
            &[201, 400, 401, 403, 415, 422, 429],
            post(make_link),
        ),
        r(
            Method::GET,
            "/api/v1/customers/{id}/export",
            Some(Scope::Admin),
            false,
            "Everything the store holds about a customer, as JSON (their right of access)",
            &[],
            &[200, 401, 403, 404, 429],
            get(export_customer),
        ),
        r(
            Method::POST,
            "/api/v1/customers/{id}/suppress",
            Some(Scope::Admin),
            false,
            "Never invite this customer again (body: {\"reason\": \"unsubscribed\"}, optional); \
             triggers record them as suppressed with the reason",
            &["application/json"],
            &[200, 201, 400, 401, 403, 415, 422, 429],
            post(suppress_customer),
        ),
        r(
            Method::DELETE,
            "/api/v1/customers/{id}",
            Some(Scope::Admin),
            false,
            "Erases every row about a customer (responses, answers, events, invitations, \
             decisions, invitation emails, a suppression); the erasure is logged with counts, \
             never the id",
            &[],
            &[200, 401, 403, 429],
            delete(forget_customer),
        ),
        r(
            Method::GET,
            "/api/v1/decisions",
            Some(Scope::Read),
            false,
            "Why each triggering event did or did not invite its customer, with counts per \
             survey and outcome and, for the whole store, each survey's funnel from events to \
             invitations to answers (query: customer_id; limit, default 1000, at most 10,000 a \
             page, oldest first; after: the previous page's `next`)",
            &[],
            READ_STATUSES,
            get(decisions),
        ),
        r(
            Method::GET,
            "/api/v1/outbox",
            Some(Scope::Read),
            false,
            "Invitation emails with their delivery state (pending, sent, failed, expired), \
             attempts and last error, and counts per state (query: status, customer_id); \
             never their text, which holds personal links",
            &[],
            READ_STATUSES,
            get(outbox),
        ),
        r(
            Method::GET,
            "/api/v1/webhooks",
            Some(Scope::Admin),
            false,
            "The webhook endpoints with their events and how they are signed (the server's \
             secret, whsec_…, for endpoints without secret_env), and the delivery log: the \
             latest 100 messages with their state, attempts and last answer, and counts per \
             state (query: limit, at most 1000)",
            &[],
            READ_STATUSES,
            get(webhook_log),
        ),
        r(
            Method::GET,
            "/api/v1/keys",
            Some(Scope::Admin),
            false,
            "The API keys (prefix, name, scopes, dates; never the key)",
            &[],
            READ_STATUSES,
            get(list_keys),
        ),
    ]
}

/// The router of every route, each behind its guard.
pub fn router(state: AppState) -> axum::Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in routes() {
        let guarded = route.handler.route_layer(from_fn_with_state(
            (state.clone(), route.doc.scope, route.doc.limited),
            guard,
        ));
        match by_path.iter_mut().find(|(p, _)| *p == route.doc.path) {
            Some((_, m)) => *m = std::mem::take(m).merge(guarded),
            None => by_path.push((route.doc.path, guarded)),
        }
    }
    let mut router = axum::Router::new();
    for (path, m) in by_path {
        router = router.route(path, m);
    }
    crate::app::add_routes(router, &state)
        .fallback(|| async {
            ApiError::NotFound("no such route; the API is described at /api/openapi.json".into())
        })
        .with_state(state)
}

/// Checks the key (or the client's rate on public routes) before the handler runs.
async fn guard(
    State((state, scope, limited)): State<(AppState, Option<Scope>, bool)>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let address = state.client_address(peer, req.headers());
    match scope {
        Some(scope) => {
            if !state.keys_fresh() {
                return ApiError::Busy(
                    "the server could not read its API keys lately; retry shortly".into(),
                )
                .into_response();
            }
            let key = match state.keys.authorize(req.headers(), scope) {
                Ok(k) => k,
                // Failed attempts spend the address's public budget: guessing keys is slow.
                Err(e @ ApiError::Unauthenticated(_)) => {
                    return match state.public_limit.check(Client::Address(address)) {
                        Err(limited) => limited.into_response(),
                        Ok(()) => e.into_response(),
                    };
                }
                Err(e) => return e.into_response(),
            };
            if let Err(e) = state.api_limit.check(Client::Key(key.prefix.clone())) {
                return e.into_response();
            }
            let mut response = next.run(req).await;
            response.extensions_mut().insert(KeyUsed(key.prefix));
            response
        }
        None => {
            if limited && let Err(e) = state.public_limit.check(Client::Address(address)) {
                return e.into_response();
            }
            next.run(req).await
        }
    }
}

/// The body, refused above `limit` bytes.
pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    axum::body::to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| ApiError::TooLarge { limit })
}

/// Bodies larger than this are checked on the blocking pool, not on a request thread.
const INLINE_BODY: usize = 64 * 1024;

/// Runs `check` on the body: inline when small, else on the blocking pool.
async fn checked<T: Send + 'static>(
    state: &AppState,
    size: usize,
    check: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if size <= INLINE_BODY {
        return check(state);
    }
    read::blocking(state, check).await
}

type Collected = (StatusCode, Json<collect::Stored>);

async fn collect_with(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    check: fn(&HeaderMap, &[u8], &collect::Rules) -> collect::Checked,
    events: bool,
) -> Result<Collected, ApiError> {
    let bytes = read_body(&headers, body, state.limits.max_body).await?;
    let size = bytes.len();
    let (records, lines) =
        checked(&state, size, move |s| check(&headers, &bytes, &s.rules)).await?;
    let watched: Vec<cxray_store::NewEvent> = if events && !state.triggers().is_empty() {
        records
            .iter()
            .filter_map(|r| match r {
                cxray_store::Record::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    } else {
        vec![]
    };
    let mut stored = collect::store(&state.store, records, &lines).await?;
    if !watched.is_empty() {
        // The events are stored; their decisions follow (a replayed event is not decided
        // again).
        stored.decisions = read::blocking(&state, move |s| s.decide_events(&watched)).await?;
    }
    let t = &state.telemetry;
    let counter = if events {
        &t.events_stored
    } else {
        &t.answers_stored
    };
    counter.fetch_add(
        stored.receipt.stored as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    t.records_replayed.fetch_add(
        stored.receipt.replayed as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    let status = if stored.receipt.stored > 0 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored)))
}

async fn post_responses(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Collected, ApiError> {
    collect_with(state, headers, body, collect::responses, false).await
}

async fn post_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Collected, ApiError> {
    collect_with(state, headers, body, collect::events, true).await
}

async fn health(State(state): State<AppState>) -> Response {
    let s = state.clone();
    match tokio::task::spawn_blocking(move || s.health()).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "message": e.to_string()})),
        )
            .into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

async fn prometheus(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.telemetry.render(&state),
    )
        .into_response()
}

async fn openapi_route() -> Json<Value> {
    Json(openapi())
}

async fn counts(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let c = read::blocking(&state, |s| {
        s.store
            .reader()
            .and_then(|r| r.counts())
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    Ok(Json(json!(c)))
}

async fn metrics(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let req = read::metrics_request(&q)?;
    analysis(&state, move |p| p.metrics(&req)).await
}

async fn report(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let req = read::report_request(&q)?;
    analysis(&state, move |p| p.report(&req)).await
}

/// An analysis of the served project on the blocking pool, as JSON.
async fn analysis<T: serde::Serialize>(
    state: &AppState,
    run: impl FnOnce(&cxray_project::Project) -> cxray_project::Result<T> + Send + 'static,
) -> Result<Json<Value>, ApiError> {
    let out = read::blocking(state, move |s| {
        let project = s.project()?;
        serde_json::to_value(run(&project)?).map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    Ok(Json(out))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    limit: Option<usize>,
}

async fn webhook_log(
    State(state): State<AppState>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let (log, counts) =
        read::blocking(&state, move |s| s.with_admin(|k| k.webhook_log(limit))).await?;
    let endpoints: Vec<Value> = state
        .webhooks
        .iter()
        .map(|e| json!({"url": e.url, "events": e.events, "secret": e.secret_from}))
        .collect();
    Ok(Json(json!({
        "endpoints": endpoints,
        "secret": state.webhook_secret_text(),
        "signature": "Standard Webhooks: webhook-signature = v1,base64(HMAC-SHA256(secret, \
                      webhook-id.webhook-timestamp.body))",
        "counts": counts.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "deliveries": log,
    })))
}

async fn list_keys(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let keys = read::blocking(&state, |s| s.with_admin(|k| k.list())).await?;
    Ok(Json(json!({ "keys": keys })))
}

async fn surveys(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let out = read::blocking(&state, |s| {
        let mut list = Vec::new();
        for id in s.survey_ids() {
            let Some(survey) = s.survey(&id) else {
                continue;
            };
            let progress = s
                .with_reader(|r| r.survey_progress(&id))
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let questions: Vec<Value> = survey
                .questions
                .iter()
                .enumerate()
                .map(|(k, q)| {
                    let (scored, commented) =
                        progress.metrics.get(q.metric()).copied().unwrap_or((0, 0));
                    let (kind, answered) = match q {
                        crate::surveys::Question::Scale { .. } => ("scale", scored),
                        crate::surveys::Question::Reason { .. } => ("reason", commented),
                    };
                    json!({
                        "question": k + 1,
                        "kind": kind,
                        "metric": q.metric(),
                        "answered": answered,
                        "share_of_responses": if progress.responses > 0 {
                            Some(answered as f64 / progress.responses as f64)
                        } else {
                            None
                        },
                    })
                })
                .collect();
            list.push(json!({
                "id": id,
                "languages": survey.languages,
                "responses": progress.responses,
                "questions": questions,
            }));
        }
        Ok(json!({ "surveys": list }))
    })
    .await?;
    Ok(Json(out))
}

async fn save_survey(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(&headers, body, 256 * 1024).await?;
    let config: cxray_project::SurveyConfig = one_record(&headers, &bytes)?;
    let id = config.id.clone();
    read::blocking(&state, move |s| s.save_survey(config)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "open": format!("/s/{id}/open") })),
    ))
}

async fn list_triggers(State(state): State<AppState>) -> Json<Value> {
    let (configured, api) = state.trigger_configs();
    let tagged = |list: Vec<cxray_project::TriggerConfig>, from: &str| -> Vec<Value> {
        list.into_iter()
            .map(|t| {
                let mut v = serde_json::to_value(t).unwrap_or(Value::Null);
                v["from"] = json!(from);
                v
            })
            .collect()
    };
    let mut all = tagged(configured, "cxray.toml");
    all.extend(tagged(api, "api"));
    Json(json!({ "triggers": all, "contact": state.triggers().rules }))
}

async fn save_trigger(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let config: cxray_project::TriggerConfig = one_record(&headers, &bytes)?;
    let (on, survey) = (config.on.trim().to_string(), config.survey.clone());
    read::blocking(&state, move |s| s.save_trigger(config)).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "on": on, "survey": survey })),
    ))
}

async fn delete_trigger(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let get = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some((k, _)) = q.iter().find(|(k, _)| k != "on" && k != "survey") {
        return Err(ApiError::BadRequest(format!(
            "unknown query parameter {k:?}; this route takes: on, survey"
        )));
    }
    let (Some(on), Some(survey)) = (get("on"), get("survey")) else {
        return Err(ApiError::BadRequest(
            "name the trigger: ?on=TOUCHPOINT&survey=SURVEY".into(),
        ));
    };
    let (o, s2) = (on.clone(), survey.clone());
    if read::blocking(&state, move |s| s.delete_trigger(&o, &s2)).await? {
        Ok(Json(json!({ "removed": { "on": on, "survey": survey } })))
    } else {
        Err(ApiError::NotFound(format!(
            "no trigger of {on:?} for survey {survey:?} was made through the API"
        )))
    }
}

/// The one JSON object of a body, or why it is refused.
fn one_record<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let (mut records, errors) = collect::parse_records::<T>(headers, bytes)?;
    if let Some(e) = errors.into_iter().next() {
        return Err(ApiError::invalid(e.line, &e.field, &e.value, e.reason));
    }
    if records.len() != 1 {
        return Err(ApiError::BadRequest("send one JSON object".into()));
    }
    Ok(records.remove(0).1)
}

/// Most decisions one page of `GET /api/v1/decisions` lists.
const DECISION_PAGE: usize = 10_000;

async fn decisions(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut customer = None;
    let mut after = None;
    let mut limit = 1000usize;
    for (k, v) in q {
        match k.as_str() {
            "customer_id" => customer = Some(v),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=DECISION_PAGE).contains(n))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!("limit is 1 to {DECISION_PAGE}, not {v:?}"))
                    })?
            }
            "after" => {
                let cursor = v
                    .split_once(':')
                    .and_then(|(t, id)| Some((t.parse::<i64>().ok()?, id.to_string())))
                    .ok_or_else(|| {
                        ApiError::BadRequest("after is the `next` of the previous page".to_string())
                    })?;
                after = Some(cursor);
            }
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {k:?}; this route takes: customer_id, limit, after"
                )));
            }
        }
    }
    let whole = customer.is_none();
    let (mut list, counts, funnel) = read::blocking(&state, move |s| {
        s.with_reader(|r| {
            let funnel = if whole { r.funnel()? } else { vec![] };
            let after = after.as_ref().map(|(t, id)| (*t, id.as_str()));
            Ok((
                r.decisions_page(customer.as_deref(), after, limit + 1)?,
                r.decision_counts(customer.as_deref())?,
                funnel,
            ))
        })
        .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    let next = (list.len() > limit).then(|| {
        list.truncate(limit);
        let last = list.last().expect("a full page");
        format!("{}:{}", last.decided_at, last.decision_id)
    });
    // From events to invitations to answers, per survey (of the whole store only).
    let funnel: Vec<Value> = funnel
        .into_iter()
        .map(|f| {
            json!({
                "survey": f.survey,
                "events": f.decided,
                "invited": f.invited,
                "answered": f.answered,
                "response_rate": (f.invited > 0).then(|| f.answered as f64 / f.invited as f64),
            })
        })
        .collect();
    let mut by_survey: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>> =
        Default::default();
    for (survey, outcome, n) in counts {
        by_survey.entry(survey).or_default().insert(outcome, n);
    }
    Ok(Json(json!({
        "counts": by_survey,
        "funnel": funnel,
        "decisions": list,
        "next": next,
    })))
}

async fn outbox(
    State(state): State<AppState>,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let (mut status, mut customer) = (None, None);
    for (k, v) in q {
        match k.as_str() {
            "status" if ["pending", "sent", "failed", "expired"].contains(&v.as_str()) => {
                status = Some(v)
            }
            "status" => {
                return Err(ApiError::BadRequest(format!(
                    "status {v:?}: one of pending, sent, failed, expired"
                )));
            }
            "customer_id" => customer = Some(v),
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter {k:?}; this route takes: status, customer_id"
                )));
            }
        }
    }
    let (counts, list) = read::blocking(&state, move |s| {
        s.with_reader(|r| {
            Ok((
                r.outbox_counts()?,
                r.outbox(customer.as_deref(), status.as_deref())?,
            ))
        })
        .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    let emails: Vec<Value> = list
        .iter()
        .map(|q| {
            json!({
                "invitation_id": q.email.invitation_id,
                "customer_id": q.email.customer_id,
                "recipient": q.email.recipient,
                "subject": q.email.subject,
                "status": q.status,
                "attempts": q.attempts,
                "next_attempt": q.next_attempt,
                "last_error": q.last_error,
                "sent_at": q.sent_at,
            })
        })
        .collect();
    let counts: std::collections::BTreeMap<String, u64> = counts.into_iter().collect();
    Ok(Json(json!({ "counts": counts, "emails": emails })))
}

/// The body of `POST /api/v1/customers/{id}/suppress`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Suppression {
    #[serde(default)]
    reason: Option<String>,
}

async fn suppress_customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(&headers, body, 4096).await?;
    let given: Suppression = if bytes.iter().all(u8::is_ascii_whitespace) {
        Suppression::default()
    } else {
        one_record(&headers, &bytes)?
    };
    let reason = given
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "asked not to be contacted".into());
    if reason.chars().count() > 200 || id.trim().is_empty() {
        return Err(ApiError::invalid(
            1,
            "reason",
            "",
            "a customer id, and a reason of at most 200 characters".into(),
        ));
    }
    let added = read::blocking(&state, move |s| s.with_admin(|k| k.suppress(&id, &reason))).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(json!({ "suppressed": true }))))
}

async fn export_customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let data = read::blocking(&state, move |s| {
        s.with_reader(|r| r.customer_data(&id))
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    if data.responses.is_empty()
        && data.events.is_empty()
        && data.invitations.is_empty()
        && data.decisions.is_empty()
        && data.emails.is_empty()
        && data.suppressed.is_none()
    {
        return Err(ApiError::NotFound(format!(
            "the store holds nothing about customer {:?}",
            data.customer_id
        )));
    }
    Ok(Json(json!(data)))
}

async fn forget_customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let erased = read::blocking(&state, move |s| {
        cxray_store::forget_customer(s.store.path(), &id)
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await?;
    // Nothing computed before the erasure is shown again (it may quote the customer).
    state.overview.clear();
    Ok(Json(json!(erased)))
}

/// The body of `POST /api/v1/links`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkRequest {
    survey: String,
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    invitation_id: Option<String>,
    #[serde(default)]
    language: Option<String>,
}

async fn make_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bytes = read_body(&headers, body, 64 * 1024).await?;
    let r: LinkRequest = one_record(&headers, &bytes)?;
    let (path, expires) = read::blocking(&state, move |s| {
        s.personal_link(&r.survey, r.customer_id, r.invitation_id, r.language)
            .map_err(|e| ApiError::invalid(1, "survey", &r.survey, e))
    })
    .await?;
    let url = match state.public_url.get() {
        Some(base) => format!("{}{path}", base.trim_end_matches('/')),
        None => path.clone(),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "url": url,
            "path": path,
            "qr": format!("{path}/qr.svg"),
            "expires_at": expires
        })),
    ))
}

/// The OpenAPI 3.1 document of [`routes`].
pub fn openapi() -> Value {
    let mut paths = serde_json::Map::new();
    for route in routes() {
        let d = route.doc;
        let mut responses = serde_json::Map::new();
        for s in d.statuses {
            let description = StatusCode::from_u16(*s)
                .ok()
                .and_then(|c| c.canonical_reason())
                .unwrap_or("");
            responses.insert(s.to_string(), json!({ "description": description }));
        }
        let mut op = json!({
            "summary": d.summary,
            "operationId": format!("{}{}", d.method.as_str().to_lowercase(), d.path.replace(['/', '.', '{', '}'], "_")),
            "responses": responses,
            "security": match d.scope {
                Some(_) => json!([{ "apiKey": [] }]),
                None => json!([]),
            },
        });
        if let Some(scope) = d.scope {
            op["x-cxray-scope"] = json!(scope.name());
        }
        let parameters: Vec<Value> = d
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !parameters.is_empty() {
            op["parameters"] = json!(parameters);
        }
        if !d.body.is_empty() {
            let content: serde_json::Map<String, Value> = d
                .body
                .iter()
                .map(|m| (m.to_string(), json!({ "schema": {} })))
                .collect();
            op["requestBody"] = json!({ "required": true, "content": content });
        }
        let entry = paths.entry(d.path.to_string()).or_insert_with(|| json!({}));
        entry[d.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "cxray",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Collects survey answers and journey events into cxray's store and \
                            answers with its analyses. Keys: `cxray key add --scope collect|read|admin`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": { "type": "http", "scheme": "bearer", "description": "cxk_… key from `cxray key add`" }
            }
        }
    })
}
