//! Survey pages: server-rendered HTML, one question per page, no JavaScript. Each answer is
//! saved when its page is sent (a revision of the link's response), so a customer who stops
//! half-way leaves a partial response that counts, and drop-off per question can be read.
//!
//! - `GET /s/{token}?q=N&lang=xx`: question N of the link's survey, with the saved answer
//!   chosen; `POST` saves it and answers 303 to the next question (or the thank-you page).
//! - `GET /s/{survey}/open?channel=…`: the anonymous link of a survey; its first answer makes
//!   a response and a signed token for the following pages.
//!
//! Every value in a page goes through maud's escaping; the pages allow no script, no inline
//! style and no frame (CSP), and forms post only to this server.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::AppState;
use crate::links::{Claims, LinkError, random_id};
use crate::surveys::{Question, Survey, pick, word};

/// The pages' policy: styles and the one-click script from this server only, forms posted back
/// to it, nothing else.
const PAGE_CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                        form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Longest open answer kept (characters).
pub const MAX_TEXT: usize = 2000;

/// The stylesheet of the pages (high contrast, large targets, one column on a phone).
pub const STYLE: &str = include_str!("survey.css");

/// A page; `script`: with the one-click script (only pages that send themselves need it).
fn page(status: StatusCode, lang: &str, title: &str, body: Markup, script: bool) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href="/s/style.css";
                @if script { script src="/s/one-click.js" defer {} }
            }
            body { main { (body) } }
        }
    };
    html_response(status, markup, PAGE_CSP)
}

/// An HTML answer under the content security policy `csp`.
pub(crate) fn html_response(status: StatusCode, markup: Markup, csp: &'static str) -> Response {
    let mut r = (status, markup.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    r
}

/// A page that says why there is no survey to show (invalid, expired, closed).
fn notice(status: StatusCode, lang: &str, key: &str) -> Response {
    let text = word(key, lang);
    page(status, lang, text, html! { h1 { (text) } }, false)
}

/// The script that sends a one-click score (see `one-click.js`).
pub const ONE_CLICK: &str = include_str!("one-click.js");

pub async fn one_click_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        ONE_CLICK,
    )
        .into_response()
}

pub async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Query of a page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageQuery {
    q: Option<String>,
    lang: Option<String>,
    done: Option<String>,
    /// A one-click score from an email: shown chosen, recorded only when a browser posts it.
    score: Option<String>,
}

/// Why a link shows no survey: the status, the language to say it in and the word to say.
type Refusal = (StatusCode, String, &'static str);

/// The survey and claims of a token, or why it is refused.
fn open_token(
    state: &AppState,
    token: &str,
    lang: Option<&str>,
) -> Result<(Survey, Claims), Refusal> {
    let lang = lang.unwrap_or("en").to_string();
    let claims = match state.signer.verify(token, now_secs()) {
        Ok(c) => c,
        Err(LinkError::Invalid) => return Err((StatusCode::NOT_FOUND, lang, "invalid")),
        Err(LinkError::Expired(c)) => {
            let lang = c.l.clone().unwrap_or(lang);
            return Err((StatusCode::GONE, lang, "expired"));
        }
    };
    let Some(survey) = state.survey(&claims.s) else {
        return Err((StatusCode::NOT_FOUND, lang, "invalid"));
    };
    if closed(&survey) {
        let l = survey.language(None, claims.l.as_deref(), None);
        return Err((StatusCode::GONE, l, "closed"));
    }
    Ok((survey, claims))
}

/// The survey, claims and language of a link's page, or the page that refuses the link.
fn link_page(
    state: &AppState,
    token: &str,
    query: &PageQuery,
    headers: &HeaderMap,
) -> Result<(Survey, Claims, String), Box<Response>> {
    let (survey, claims) = open_token(state, token, query.lang.as_deref())
        .map_err(|(status, lang, key)| Box::new(notice(status, &lang, key)))?;
    let lang = survey.language(
        query.lang.as_deref(),
        claims.l.as_deref(),
        accept_language(headers),
    );
    Ok((survey, claims, lang))
}

pub(crate) fn closed(survey: &Survey) -> bool {
    survey
        .config
        .closes
        .is_some_and(|d| chrono::Utc::now().date_naive() > d)
}

/// The question number of a query (1 by default); out of range is none.
pub(crate) fn question_number(q: Option<&str>, survey: &Survey) -> Option<usize> {
    let k = match q {
        None => 1,
        Some(v) => v.trim().parse::<usize>().ok()?,
    };
    (1..=survey.questions.len()).contains(&k).then_some(k)
}

pub(crate) fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

pub async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let (survey, claims, lang) = match link_page(&state, &token, &query, &headers) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    if query.done.is_some() {
        return thanks(&survey, &lang);
    }
    let Some(k) = question_number(query.q.as_deref(), &survey) else {
        return notice(StatusCode::NOT_FOUND, &lang, "invalid");
    };
    let saved = {
        let (s, id) = (state.clone(), claims.r.clone());
        tokio::task::spawn_blocking(move || s.with_reader(|r| r.answers_of(&id)))
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten()
            .unwrap_or_default()
    };
    let action = format!("/s/{token}?lang={lang}");
    // A score in the link (an email's one-click scale) is chosen on the page, not recorded:
    // mail scanners open every link of a message. The page's script sends it at once in a
    // browser; without scripts the person presses Next.
    let mut saved = saved;
    let mut one_click = false;
    if let (Some(v), Question::Scale { spec, .. }) = (&query.score, &survey.questions[k - 1])
        && let Ok(v) = v.trim().parse::<f64>()
        && spec.validate(v).is_ok()
        && v.fract() == 0.0
    {
        saved.retain(|a| a.metric != spec.name);
        saved.push(cxray_store::NewAnswer {
            metric: spec.name.clone(),
            score: Some(v),
            comment: None,
        });
        one_click = true;
    }
    question_page(
        &survey,
        k,
        &lang,
        PageForm {
            action: &action,
            saved: &saved,
            error: None,
            carried: &BTreeMap::new(),
            one_click,
        },
    )
}

/// What a question page's form holds besides the question.
struct PageForm<'a> {
    /// Where it posts.
    action: &'a str,
    /// The answers saved so far (one is shown chosen).
    saved: &'a [cxray_store::NewAnswer],
    /// Why the last answer was refused.
    error: Option<&'a str>,
    /// Hidden fields (an anonymous link's attributes).
    carried: &'a BTreeMap<String, String>,
    /// A one-click score: the form sends itself when a browser shows it.
    one_click: bool,
}

/// The form of a question page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Answer {
    q: Option<String>,
    value: Option<String>,
    action: Option<String>,
    /// Anonymous links: the attributes of the query, carried by the first form.
    #[serde(flatten)]
    rest: BTreeMap<String, String>,
}

/// What a page's form asks: the score or text to save, or to skip.
pub(crate) enum Given {
    Score(f64),
    Text(String),
    Skip,
}

/// Reads the answer to `question` (skipped, or its value), or the message to show again with
/// the question.
pub(crate) fn given(
    question: &Question,
    skip: bool,
    value: Option<&str>,
    lang: &str,
) -> Result<Given, String> {
    if skip {
        return Ok(Given::Skip);
    }
    let value = value.map(str::trim).unwrap_or("");
    match question {
        Question::Scale { spec, .. } => {
            if value.is_empty() {
                return Err(word("choose", lang).to_string());
            }
            let v: f64 = value
                .parse()
                .map_err(|_| word("choose", lang).to_string())?;
            spec.validate(v)?;
            if v.fract() != 0.0 {
                return Err(word("choose", lang).to_string());
            }
            Ok(Given::Score(v))
        }
        Question::Reason { .. } => {
            if value.is_empty() {
                return Ok(Given::Skip);
            }
            Ok(Given::Text(value.chars().take(MAX_TEXT).collect()))
        }
    }
}

pub async fn answer(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    form: Result<axum::Form<Answer>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (survey, claims, lang) = match link_page(&state, &token, &query, &headers) {
        Ok(x) => x,
        Err(refused) => return *refused,
    };
    save_and_go_on(&state, &survey, claims, &token, &lang, form).await
}

async fn save_and_go_on(
    state: &AppState,
    survey: &Survey,
    claims: Claims,
    token: &str,
    lang: &str,
    form: Result<axum::Form<Answer>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(axum::Form(form)) = form else {
        return notice(StatusCode::BAD_REQUEST, lang, "invalid");
    };
    let Some(k) = question_number(form.q.as_deref(), survey) else {
        return notice(StatusCode::BAD_REQUEST, lang, "invalid");
    };
    let question = &survey.questions[k - 1];
    let action = format!("/s/{token}?lang={lang}");
    let skip = form.action.as_deref() == Some("skip");
    let given = match given(question, skip, form.value.as_deref(), lang) {
        Ok(g) => g,
        Err(message) => {
            return question_page(
                survey,
                k,
                lang,
                PageForm {
                    action: &action,
                    saved: &[],
                    error: Some(&message),
                    carried: &BTreeMap::new(),
                    one_click: false,
                },
            );
        }
    };
    if let Err(status) = save(state, survey, &claims, lang, question, given).await {
        return notice(status, lang, "invalid");
    }
    let next = if k == survey.questions.len() {
        format!("/s/{token}?lang={lang}&done=1")
    } else {
        format!("/s/{token}?lang={lang}&q={}", k + 1)
    };
    Redirect::to(&next).into_response()
}

/// Saves the answer to `question` in the response of a link (a revision: answering again
/// replaces the answer); a skipped question saves nothing.
pub(crate) async fn save(
    state: &AppState,
    survey: &Survey,
    claims: &Claims,
    lang: &str,
    question: &Question,
    given: Given,
) -> Result<(), StatusCode> {
    let answer = match given {
        Given::Skip => None,
        Given::Score(v) => Some(cxray_store::NewAnswer {
            metric: question.metric().to_string(),
            score: Some(v),
            comment: None,
        }),
        Given::Text(t) => Some(cxray_store::NewAnswer {
            metric: question.metric().to_string(),
            score: None,
            comment: Some(t),
        }),
    };
    if let Some(answer) = answer {
        let mut attributes = claims.a.clone();
        let channel = attributes.remove("channel");
        let touchpoint = attributes
            .remove("touchpoint")
            .or_else(|| survey.config.touchpoint.clone());
        let record = cxray_store::Record::Revision(cxray_store::NewResponse {
            response_id: claims.r.clone(),
            survey: Some(survey.config.id.clone()),
            invitation_id: claims.i.clone(),
            customer_id: claims.c.clone(),
            submitted_at: chrono::Utc::now().timestamp_micros(),
            channel,
            touchpoint,
            language: Some(lang.to_string()),
            attributes,
            answers: vec![answer],
            time_from_server: true,
        });
        if let Err(e) = state.store.write(vec![record]).await {
            return Err(match e {
                cxray_store::WriteError::Busy => StatusCode::SERVICE_UNAVAILABLE,
                cxray_store::WriteError::Conflict { .. }
                | cxray_store::WriteError::Invalid { .. } => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            });
        }
    }
    Ok(())
}

/// The anonymous link: the first question, with the query's attributes kept for the answers.
pub async fn open_survey(
    State(state): State<AppState>,
    Path(survey_id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let asked = query
        .iter()
        .find(|(k, _)| k == "lang")
        .map(|(_, v)| v.as_str());
    let Some(survey) = state.survey(&survey_id) else {
        return notice(StatusCode::NOT_FOUND, asked.unwrap_or("en"), "invalid");
    };
    let survey = &survey;
    let lang = survey.language(asked, None, accept_language(&headers));
    if closed(survey) {
        return notice(StatusCode::GONE, &lang, "closed");
    }
    let attributes =
        match anonymous_attributes(survey, query.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            Ok(a) => a,
            Err(()) => return notice(StatusCode::BAD_REQUEST, &lang, "invalid"),
        };
    let action = format!("/s/{}/open?lang={lang}", survey.config.id);
    question_page(
        survey,
        1,
        &lang,
        PageForm {
            action: &action,
            saved: &[],
            error: None,
            carried: &attributes,
            one_click: false,
        },
    )
}

/// The attributes an anonymous link may carry: `channel` and those the survey declares, each
/// at most 100 characters; anything else in the query is refused.
pub(crate) fn anonymous_attributes<'a>(
    survey: &Survey,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<BTreeMap<String, String>, ()> {
    let mut out = BTreeMap::new();
    for (k, v) in pairs {
        if matches!(k, "lang" | "q" | "value" | "action") {
            continue;
        }
        let allowed = k == "channel" || survey.config.attributes.iter().any(|a| a == k);
        if !allowed || v.chars().count() > 100 || v.trim().is_empty() {
            return Err(());
        }
        out.insert(k.to_string(), v.trim().to_string());
    }
    Ok(out)
}

pub async fn answer_open(
    State(state): State<AppState>,
    Path(survey_id): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
    form: Result<axum::Form<Answer>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Some(survey) = state.survey(&survey_id) else {
        return notice(
            StatusCode::NOT_FOUND,
            query.lang.as_deref().unwrap_or("en"),
            "invalid",
        );
    };
    let lang = survey.language(query.lang.as_deref(), None, accept_language(&headers));
    if closed(&survey) {
        return notice(StatusCode::GONE, &lang, "closed");
    }
    let attributes = match &form {
        Ok(axum::Form(f)) => {
            match anonymous_attributes(
                &survey,
                f.rest.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ) {
                Ok(a) => a,
                Err(()) => return notice(StatusCode::BAD_REQUEST, &lang, "invalid"),
            }
        }
        Err(_) => return notice(StatusCode::BAD_REQUEST, &lang, "invalid"),
    };
    // A session of the anonymous link: its own response, for as long as a personal link.
    let claims = Claims {
        s: survey.config.id.clone(),
        r: format!("anon-{}", random_id()),
        i: None,
        c: None,
        e: now_secs() + 86_400 * survey.config.link_days.unwrap_or(30) as i64,
        l: Some(lang.clone()),
        a: attributes,
    };
    let token = state.signer.sign(&claims);
    save_and_go_on(&state, &survey, claims, &token, &lang, form).await
}

fn thanks(survey: &Survey, lang: &str) -> Response {
    let first = &survey.languages[0];
    let text = pick(&survey.config.thank_you, lang, first).unwrap_or(word("thanks", lang));
    let title = pick(&survey.config.title, lang, first).unwrap_or(text);
    page(
        StatusCode::OK,
        lang,
        title,
        html! {
            h1 { (text) }
            p { (word("change", lang)) }
        },
        false,
    )
}

/// Question `k` (from 1) of `survey`, with the saved answer chosen and an error if any.
fn question_page(survey: &Survey, k: usize, lang: &str, form: PageForm<'_>) -> Response {
    let PageForm {
        action,
        saved,
        error,
        carried,
        one_click,
    } = form;
    let first = &survey.languages[0];
    let n = survey.questions.len();
    let question = &survey.questions[k - 1];
    let saved_for = |m: &str| saved.iter().find(|a| a.metric == m);
    let progress = word("question_of", lang)
        .replace("{k}", &k.to_string())
        .replace("{n}", &n.to_string());
    let title = pick(&survey.config.title, lang, first).map(str::to_string);
    let body = html! {
        @if let Some(t) = &title { p class="survey" { (t) } }
        p class="progress" { (progress) }
        form method="post" action=(action) novalidate data-autosubmit[one_click] {
            input type="hidden" name="q" value=(k);
            @for (name, value) in carried {
                input type="hidden" name=(name) value=(value);
            }
            @match question {
                Question::Scale { spec, text, low, high } => {
                    @let chosen = saved_for(&spec.name).and_then(|a| a.score);
                    @let binary = Survey::is_binary(spec);
                    fieldset aria-describedby=[error.map(|_| "error")] {
                        legend { h1 { (pick(text, lang, first).unwrap_or("")) } }
                        @if let Some(e) = error { p id="error" class="error" role="alert" { (e) } }
                        @let choices = (spec.max - spec.min) as i64 + 1;
                        div class="choices" {
                        div class=(format!("scale n{choices}")) {
                            @for v in (spec.min as i64)..=(spec.max as i64) {
                                @let id = format!("v{v}");
                                @let ends = if binary {
                                    None
                                } else if v == spec.min as i64 {
                                    Some("low")
                                } else if v == spec.max as i64 {
                                    Some("high")
                                } else {
                                    None
                                };
                                input type="radio" id=(id) name="value" value=(v)
                                    checked[chosen == Some(v as f64)]
                                    aria-describedby=[ends];
                                label for=(id) {
                                    @if binary {
                                        (word(if v == 0 { "no" } else { "yes" }, lang))
                                    } @else {
                                        (v)
                                    }
                                }
                            }
                        }
                        @if !binary {
                            div class="ends" {
                                span id="low" { (pick(low, lang, first).unwrap_or("")) }
                                span id="high" { (pick(high, lang, first).unwrap_or("")) }
                            }
                        }
                        }
                    }
                }
                Question::Reason { metric, text, below } => {
                    @let score = saved_for(metric).and_then(|a| a.score);
                    @let wording = match (below, score) {
                        (Some((b, t)), Some(s)) if s < *b => pick(t, lang, first),
                        _ => None,
                    }.or_else(|| pick(text, lang, first)).unwrap_or("");
                    @let previous = saved_for(metric).and_then(|a| a.comment.clone()).unwrap_or_default();
                    label for="value" { h1 { (wording) } }
                    textarea id="value" name="value" rows="5" maxlength=(MAX_TEXT) { (previous) }
                }
            }
            div class="actions" {
                button type="submit" name="action" value="next" { (word("next", lang)) }
                button type="submit" name="action" value="skip" class="secondary" { (word("skip", lang)) }
            }
        }
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(
        status,
        lang,
        title.as_deref().unwrap_or(&progress),
        PreEscaped(body.into_string()),
        one_click,
    )
}

/// The customer of a personal link, for unsubscribing: its token is accepted after the survey
/// link expired (a customer may unsubscribe from an old email), never without a customer.
fn unsubscriber(state: &AppState, token: &str) -> Option<(String, String)> {
    let claims = match state.signer.verify(token, now_secs()) {
        Ok(c) => c,
        Err(LinkError::Expired(c)) => *c,
        Err(LinkError::Invalid) => return None,
    };
    let lang = claims
        .l
        .clone()
        .filter(|l| crate::surveys::LANGUAGES.contains(&l.as_str()))
        .unwrap_or_else(|| "en".into());
    claims.c.map(|c| (c, lang))
}

/// `GET /u/{token}`: asks; a GET never unsubscribes (mail scanners open every link).
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    let Some((_, lang)) = unsubscriber(&state, &token) else {
        return notice(StatusCode::NOT_FOUND, "en", "invalid");
    };
    let ask = word("unsubscribe_ask", &lang);
    page(
        StatusCode::OK,
        &lang,
        ask,
        html! {
            form method="post" action=(format!("/u/{token}")) {
                h1 { (ask) }
                div class="actions" {
                    button type="submit" name="action" value="unsubscribe" { (word("unsubscribe", &lang)) }
                }
            }
        },
        false,
    )
}

/// `POST /u/{token}`: the customer is suppressed (also RFC 8058's one-click
/// `List-Unsubscribe=One-Click` post of a mail client).
pub async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some((customer, lang)) = unsubscriber(&state, &token) else {
        return notice(StatusCode::NOT_FOUND, "en", "invalid");
    };
    let s = state.clone();
    let done = tokio::task::spawn_blocking(move || {
        s.with_admin(|k| k.suppress(&customer, "unsubscribed"))
    })
    .await;
    match done {
        Ok(Ok(_)) => notice(StatusCode::OK, &lang, "unsubscribed"),
        _ => notice(StatusCode::SERVICE_UNAVAILABLE, &lang, "invalid"),
    }
}
