//! Surveys in the team app: the list with each survey's funnel (events decided, invited,
//! answered, response rate), one survey with its questions in any of its languages, drop-off
//! per question, its anonymous link and QR code; surveys made and edited by admins through a
//! form (the fields of `[[surveys]]`, as TOML, checked as the API checks them); and the
//! triggers with the contact log (the latest decisions, each with its reason).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cxray_store::{Role, Session};
use maud::{Markup, html};

use super::{failed, field, form_fields, message, page, see_other, when};
use crate::AppState;
use crate::error::ApiError;
use crate::surveys::{Question, pick};

/// Decisions the contact log shows.
const LOG: usize = 50;

/// A survey as its row in the list.
struct Row {
    id: String,
    title: String,
    languages: Vec<String>,
    questions: usize,
    responses: u64,
    configured: bool,
    funnel: Option<cxray_store::Funnel>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// `GET /app/surveys`
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
) -> Response {
    let loaded = crate::read::blocking(&state, |s| {
        let funnel = s.with_reader(|r| r.funnel()).map_err(internal)?;
        let mut rows = Vec::new();
        for id in s.survey_ids() {
            let Some(survey) = s.survey(&id) else {
                continue;
            };
            let progress = s
                .with_reader(|r| r.survey_progress(&id))
                .map_err(internal)?;
            rows.push(Row {
                title: pick(
                    &survey.config.title,
                    &survey.languages[0],
                    &survey.languages[0],
                )
                .unwrap_or("")
                .to_string(),
                languages: survey.languages.clone(),
                questions: survey.questions.len(),
                responses: progress.responses,
                configured: s.configured.contains(&id),
                funnel: funnel.iter().find(|f| f.survey == id).cloned(),
                id,
            });
        }
        let log = s
            .with_reader(|r| r.latest_decisions(LOG))
            .map_err(internal)?;
        let counts = s
            .with_reader(|r| r.decision_counts(None))
            .map_err(internal)?;
        Ok((rows, log, counts))
    })
    .await;
    let (rows, log, counts) = match loaded {
        Ok(x) => x,
        Err(e) => {
            return failed(&session, "The surveys could not be read", &e);
        }
    };
    let (configured, api) = state.trigger_configs();
    let contact = &state.contact;
    page(
        Some(&session),
        StatusCode::OK,
        "Surveys",
        "/app/surveys",
        html! {
            h1 { "Surveys" }
            @if session.role >= Role::Admin {
                p { a href="/app/surveys/new" { "Make a survey" } }
            }
            div.table-wrap {
                table.surveys {
                    thead { tr {
                        th { "Survey" } th { "Languages" } th.num { "Questions" } th.num { "Responses" }
                        th.num { "Triggered" } th.num { "Invited" } th.num { "Answered" } th.num { "Response rate" }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td {
                                    a href={ "/app/surveys/" (r.id) } { (r.id) }
                                    @if !r.title.is_empty() { br; span.ns { (r.title) } }
                                    @if r.configured { br; span.tag { "cxray.toml" } }
                                }
                                td { (r.languages.join(", ")) }
                                td.num { (r.questions) }
                                td.num { (r.responses) }
                                @match &r.funnel {
                                    Some(f) => {
                                        td.num { (f.decided) }
                                        td.num { (f.invited) }
                                        td.num { (f.answered) }
                                        td.num {
                                            @if f.invited > 0 {
                                                (format!("{:.1}%", 100.0 * f.answered as f64 / f.invited as f64))
                                            } @else { "—" }
                                        }
                                    }
                                    None => { td.num { "—" } td.num { "—" } td.num { "—" } td.num { "—" } }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Triggers" }
            p.fine {
                "Contact rules: at most one invitation per customer every "
                (contact.any_survey_days.map_or("—".to_string(), |d| format!("{d} days")))
                " (any survey), every "
                (contact.same_survey_days.map_or("—".to_string(), |d| format!("{d} days")))
                " (the same survey), every "
                (contact.same_touchpoint_days.map_or("—".to_string(), |d| format!("{d} days")))
                " (the same touchpoint)."
            }
            div.table-wrap {
                table {
                    thead { tr { th { "On" } th { "Survey" } th { "Channel" } th.num { "Share" } th.num { "Daily budget" } th { "From" } th { "" } } }
                    tbody {
                        @for (t, from_config) in configured.iter().map(|t| (t, true)).chain(api.iter().map(|t| (t, false))) {
                            tr {
                                td { (t.on) } td { (t.survey) }
                                td { (t.channel.as_deref().unwrap_or("link")) }
                                td.num { (t.share.map_or("100%".to_string(), |s| format!("{:.0}%", s * 100.0))) }
                                td.num { (t.daily_budget.map_or("—".to_string(), |b| b.to_string())) }
                                td { (if from_config { "cxray.toml" } else { "the app or API" }) }
                                td {
                                    @if !from_config && session.role >= Role::Admin {
                                        form.inline method="post" action="/app/surveys/triggers" {
                                            input type="hidden" name="csrf" value=(session.csrf);
                                            input type="hidden" name="action" value="remove";
                                            input type="hidden" name="on" value=(t.on);
                                            input type="hidden" name="survey" value=(t.survey);
                                            button type="submit" { "Remove" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if session.role >= Role::Admin {
                details.add-trigger {
                    summary { "Add a trigger" }
                    form.note method="post" action="/app/surveys/triggers" {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="action" value="save";
                        label { "The fields of [[triggers]] (TOML)"
                            textarea name="toml" rows="6" spellcheck="false" required {
                                "on = \"purchase\"\nsurvey = \"\"\nchannel = \"link\"\nshare = 0.2\n"
                            }
                        }
                        button type="submit" { "Save the trigger" }
                    }
                }
            }
            h2 { "Contact log" }
            p.fine {
                @for (i, (survey, outcome, n)) in counts.iter().enumerate() {
                    @if i > 0 { " · " }
                    (survey) " " (outcome) ": " (n)
                }
            }
            @if log.is_empty() {
                p.ns { "No event has triggered a survey yet." }
            } @else {
                div.table-wrap {
                    table.log {
                        thead { tr { th { "When" } th { "Customer" } th { "Survey" } th { "Outcome" } th { "Why" } } }
                        tbody {
                            @for d in &log {
                                tr {
                                    td.when { (when(d.decided_at)) }
                                    td { (super::customers::customer_link(d.customer_id.as_deref())) }
                                    td { (d.survey) }
                                    td { (d.outcome) }
                                    td { (d.reason) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct ShowQuery {
    lang: Option<String>,
}

/// `GET /app/surveys/{id}?lang=…`
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    if id == "new" {
        return edit_page(&session, "", None, StatusCode::OK);
    }
    let Some(survey) = state.survey(&id) else {
        return message(
            Some(&session),
            StatusCode::NOT_FOUND,
            "No such survey",
            &format!("There is no survey {id:?}."),
        );
    };
    let sid = id.clone();
    let progress = match crate::read::blocking(&state, move |s| {
        s.with_reader(|r| r.survey_progress(&sid)).map_err(internal)
    })
    .await
    {
        Ok(p) => p,
        Err(e) => {
            return failed(&session, "The survey could not be read", &e);
        }
    };
    let first = survey.languages[0].clone();
    let lang = q
        .lang
        .filter(|l| survey.languages.contains(l))
        .unwrap_or_else(|| first.clone());
    let configured = state.configured.contains(&id);
    let anonymous = format!("/s/{id}/open?lang={lang}&channel=qr");
    let toml_text = toml::to_string(&survey.config).unwrap_or_default();
    let text = |t: &cxray_project::Texts| pick(t, &lang, &first).unwrap_or("").to_string();
    page(
        Some(&session),
        StatusCode::OK,
        &format!("Survey {id}"),
        "/app/surveys",
        html! {
            p { a href="/app/surveys" { "← Surveys" } }
            h1 { "Survey " (id) }
            p {
                (text(&survey.config.title))
                @if let Some(t) = &survey.config.touchpoint { " · touchpoint " (t) }
                " · " (progress.responses) " responses"
            }
            nav.tabs aria-label="Languages" {
                @for l in &survey.languages {
                    @if *l == lang {
                        a.current href={ "/app/surveys/" (id) "?lang=" (l) } aria-current="page" { (l) }
                    } @else {
                        a href={ "/app/surveys/" (id) "?lang=" (l) } { (l) }
                    }
                }
            }
            h2 { "Questions and drop-off" }
            ol.questions {
                @for q in &survey.questions {
                    @let (scored, commented) = progress.metrics.get(q.metric()).copied().unwrap_or((0, 0));
                    @let answered = match q { Question::Scale { .. } => scored, Question::Reason { .. } => commented };
                    li {
                        @match q {
                            Question::Scale { spec, text: t, low, high } => {
                                strong { (text(t)) }
                                div.ns { (spec.name) " " (spec.min) "–" (spec.max) ": " (text(low)) " … " (text(high)) }
                            }
                            Question::Reason { metric, text: t, .. } => {
                                strong { (text(t)) }
                                div.ns { "the reason for " (metric) " (open text)" }
                            }
                        }
                        div.dropoff {
                            (answered) " answered"
                            @if progress.responses > 0 {
                                " · " (format!("{:.0}%", 100.0 * answered as f64 / progress.responses as f64)) " of responses"
                            }
                        }
                    }
                }
            }
            h2 { "Links" }
            p { "Anonymous link (" (lang) "): " a href=(anonymous) { (anonymous) } }
            img.qr src={ "/s/" (id) "/open/qr.svg?lang=" (lang) "&channel=qr" } alt={ "QR code of the anonymous link of " (id) } width="180" height="180";
            @if session.role >= Role::Admin && !configured {
                h2 { "Edit" }
                (edit_form(&session, &toml_text))
            } @else if configured {
                p.fine { "This survey is declared in cxray.toml; change it there." }
            }
        },
    )
}

fn edit_form(session: &Session, toml_text: &str) -> Markup {
    html! {
        form.note method="post" action="/app/surveys" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "The fields of [[surveys]] (TOML), checked as cxray.toml's are"
                textarea name="toml" rows="16" spellcheck="false" required { (toml_text) }
            }
            button type="submit" { "Save the survey" }
        }
    }
}

const NEW_SURVEY: &str = "id = \"new-survey\"\nlanguages = [\"en\"]\ntitle = { en = \"Your experience\" }\n\n[[questions]]\nmetric = \"nps\"\n\n[[questions]]\nreason_for = \"nps\"\n";

fn edit_page(
    session: &Session,
    toml_text: &str,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let text = if toml_text.is_empty() {
        NEW_SURVEY
    } else {
        toml_text
    };
    page(
        Some(session),
        status,
        "Make a survey",
        "/app/surveys",
        html! {
            p { a href="/app/surveys" { "← Surveys" } }
            h1 { "Make a survey" }
            @if let Some(p) = problem { p.problem role="alert" { (p) } }
            @if session.role >= Role::Admin {
                (edit_form(session, text))
            } @else {
                p { "Only admins make surveys." }
            }
        },
    )
}

/// `POST /app/surveys`: toml = the survey's fields.
pub async fn save(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let text = field(&fields, "toml").unwrap_or("").to_string();
    let config: cxray_project::SurveyConfig = match toml::from_str(&text) {
        Ok(c) => c,
        Err(e) => {
            return edit_page(
                &session,
                &text,
                Some(&format!("Not a survey: {e}")),
                StatusCode::BAD_REQUEST,
            );
        }
    };
    let id = config.id.clone();
    match crate::read::blocking(&state, move |s| s.save_survey(config)).await {
        Ok(()) => see_other(&format!("/app/surveys/{id}")),
        Err(
            e @ (ApiError::Conflict(_) | ApiError::InvalidRows { .. } | ApiError::BadRequest(_)),
        ) => {
            let m = reasons(&e);
            edit_page(&session, &text, Some(&m), StatusCode::BAD_REQUEST)
        }
        Err(e) => failed(&session, "Not saved", &e),
    }
}

/// What a refused survey or trigger says: the reason of each refused field, else the error.
fn reasons(e: &ApiError) -> String {
    match e {
        ApiError::InvalidRows { rows, .. } if !rows.is_empty() => rows
            .iter()
            .map(|r| r.reason.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `POST /app/surveys/triggers`: action = save (toml) | remove (on, survey).
pub async fn triggers(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    body: Bytes,
) -> Response {
    let fields = form_fields(&body);
    let done = match field(&fields, "action") {
        Some("save") => match toml::from_str::<cxray_project::TriggerConfig>(
            field(&fields, "toml").unwrap_or(""),
        ) {
            Ok(t) => crate::read::blocking(&state, move |s| s.save_trigger(t)).await,
            Err(e) => Err(ApiError::BadRequest(format!("Not a trigger: {e}"))),
        },
        Some("remove") => {
            let on = field(&fields, "on").unwrap_or("").to_string();
            let survey = field(&fields, "survey").unwrap_or("").to_string();
            match crate::read::blocking(&state, move |s| s.delete_trigger(&on, &survey)).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ApiError::BadRequest("there is no such trigger".into())),
                Err(e) => Err(e),
            }
        }
        _ => Err(ApiError::BadRequest("action: use save or remove".into())),
    };
    match done {
        Ok(()) => see_other("/app/surveys"),
        Err(e) => {
            let m = reasons(&e);
            let status = if e.status().is_server_error() {
                e.status()
            } else {
                StatusCode::BAD_REQUEST
            };
            message(Some(&session), status, "The trigger was not saved", &m)
        }
    }
}
