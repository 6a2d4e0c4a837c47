//! The closed loop: the queue of cases, one case, and working it.
//!
//! Cases are opened by the store's writer with the answer (see `cxray_store::cases`); the rules
//! come from `[cases]` ([`case_rules`]). The queue shows the loop's own figures on top
//! (`cxray_insights::closed_loop`).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cxray_insights::closed_loop::{LoopCase, LoopFigures, loop_figures};
use cxray_metrics::{MetricCatalog, MetricKind};
use cxray_project::CaseSettings;
use cxray_store::{
    Case, CaseAction, CaseFilter, CaseNote, CaseRule, CaseStatus, Member, Role, Session,
};
use maud::{Markup, html};

use super::customers::customer_link;
use super::{failed, field, form_fields, message, page, see_other, span, when};
use crate::AppState;
use crate::error::ApiError;

/// Cases a page of the queue lists.
const PAGE: usize = 50;

/// The rules of `[cases]` for the metrics of `catalog`: by default a detractor's NPS (0-6) and
/// the two lowest points of every other rating scale; each due `target_hours` (48) after the
/// answer, for answers of the last `max_age_days` (14).
pub fn case_rules(s: &CaseSettings, catalog: &MetricCatalog) -> Result<Vec<CaseRule>, String> {
    let target_hours = s.target_hours.unwrap_or(48.0);
    let max_age_days = s.max_age_days.unwrap_or(14.0);
    // Ten years at most: beyond, due times would not fit the store's integers.
    if !(target_hours > 0.0 && target_hours <= 87_600.0) {
        return Err(format!(
            "[cases] target_hours must be a number of hours from 0 to 87600 (ten years), not \
             {target_hours}"
        ));
    }
    if !(max_age_days > 0.0 && max_age_days <= 3_650.0) {
        return Err(format!(
            "[cases] max_age_days must be a number of days from 0 to 3650 (ten years), not \
             {max_age_days}"
        ));
    }
    let rule = |metric: &str, max_score| CaseRule {
        metric: metric.to_string(),
        max_score,
        target_hours,
        max_age_days,
    };
    match &s.open_at_or_below {
        Some(map) => map
            .iter()
            .map(|(metric, &max)| {
                let spec = catalog.get(metric).map_err(|_| {
                    let known: Vec<&str> = catalog.iter().map(|m| m.name.as_str()).collect();
                    format!(
                        "[cases] open_at_or_below: no metric {metric:?}; the metrics are: {}",
                        known.join(", ")
                    )
                })?;
                if !(max.is_finite() && max >= spec.min && max < spec.max) {
                    return Err(format!(
                        "[cases] open_at_or_below.{metric} = {max}: give a score from {} up to \
                         (not including) {}, the top of its scale",
                        spec.min, spec.max
                    ));
                }
                Ok(rule(metric, max))
            })
            .collect(),
        None => Ok(catalog
            .iter()
            .filter_map(|m| match m.kind {
                MetricKind::Nps => Some(rule(&m.name, 6.0)),
                MetricKind::Binary => None,
                _ if m.integer && m.max - m.min >= 3.0 => Some(rule(&m.name, m.min + 1.0)),
                _ => None,
            })
            .collect()),
    }
}

/// Which queue a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Mine,
    Unassigned,
    Open,
    Overdue,
    Closed,
    All,
}

impl View {
    const ALL: [View; 6] = [
        View::Mine,
        View::Unassigned,
        View::Open,
        View::Overdue,
        View::Closed,
        View::All,
    ];

    fn name(self) -> &'static str {
        match self {
            View::Mine => "mine",
            View::Unassigned => "unassigned",
            View::Open => "open",
            View::Overdue => "overdue",
            View::Closed => "closed",
            View::All => "all",
        }
    }

    fn label(self) -> &'static str {
        match self {
            View::Mine => "Mine",
            View::Unassigned => "Nobody's",
            View::Open => "Open",
            View::Overdue => "Overdue",
            View::Closed => "Closed",
            View::All => "All",
        }
    }

    fn filter(self, member: &str, now: i64, offset: usize) -> CaseFilter {
        let open = vec![CaseStatus::New, CaseStatus::Contacted];
        let mut f = CaseFilter {
            limit: PAGE,
            offset,
            ..Default::default()
        };
        match self {
            View::Mine => {
                f.owner = Some(member.to_string());
                f.statuses = open;
            }
            View::Unassigned => {
                f.owner = Some(String::new());
                f.statuses = open;
            }
            View::Open => f.statuses = open,
            View::Overdue => {
                f.statuses = open;
                f.due_before = Some(now);
            }
            View::Closed => f.statuses = vec![CaseStatus::Resolved, CaseStatus::WontFix],
            View::All => {}
        }
        f
    }
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct QueueQuery {
    view: Option<String>,
    page: Option<usize>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

/// The loop's figures from the store, at `now`.
pub(crate) fn figures(state: &AppState, now: i64) -> Result<LoopFigures, ApiError> {
    let times = state.with_reader(|r| r.case_times()).map_err(internal)?;
    let cases: Vec<LoopCase> = times
        .iter()
        .map(|t| LoopCase {
            opened_at: t.opened_at,
            due_at: t.due_at,
            contacted_at: t.contacted_at,
            closed_at: t.closed_at,
            later_nps: t.later_nps.map(|s| s as u8),
        })
        .collect();
    Ok(loop_figures(
        &cases,
        now,
        cxray_stats::Confidence::new(0.95).expect("0.95 is a confidence level"),
    ))
}

fn estimate_html(e: &Option<cxray_stats::Estimate>, unit: &str) -> Markup {
    match e {
        None => html! { span.ns { "—" } },
        Some(e) => html! {
            span.value { (format!("{:.0}{unit}", e.value)) }
            @if let Some(i) = &e.interval {
                " " span.ci { (format!("[{:.0}, {:.0}]", i.low, i.high)) }
            }
            " " span.n { "n = " (e.n) }
        },
    }
}

fn figures_html(f: &LoopFigures) -> Markup {
    let hours = |h: Option<f64>| h.map_or("∞".to_string(), duration_hours);
    html! {
        section.loop-figures aria-label="The loop's figures" {
            div.tile {
                div.name { "Closed within target" }
                div.label { "share of cases due by now, 95% interval" }
                div { (estimate_html(&f.closed_within_target, "%")) }
            }
            div.tile {
                div.name { "Time to first contact" }
                div.label { "median (Kaplan-Meier: open cases count as still waiting)" }
                @match &f.first_contact_hours {
                    Some(m) => div {
                        span.value { (m.median.map_or("—".to_string(), duration_hours)) }
                        " " span.ci { "[" (hours(m.lower)) ", " (hours(m.upper)) "]" }
                        " " span.n { (m.contacted) " of " (m.n) " contacted" }
                    },
                    None => div { span.ns { "—" } },
                }
            }
            div.tile {
                div.name { "Later NPS" }
                div.label { "the next NPS of each case's customer" }
                div { "contacted: " (estimate_html(&f.later_nps_contacted, "")) }
                div { "not contacted: " (estimate_html(&f.later_nps_not_contacted, "")) }
                @if let Some(d) = &f.later_nps_difference {
                    div.verdict class=(if d.p_value < 0.05 { "sig-up" } else { "ns" }) {
                        (format!("difference {:+.0} points, p = {:.3}", d.difference, d.p_value))
                    }
                }
                p.fine { (f.note) }
            }
            div.tile {
                div.name { "Open" }
                div.value { (f.open) }
                div.label { (f.overdue) " overdue · " (f.cases) (if f.cases == 1 { " case" } else { " cases" }) " in all" }
            }
        }
    }
}

/// Hours as "25 min", "3.5 h" or "2.1 d".
fn duration_hours(h: f64) -> String {
    if h < 1.0 {
        format!("{:.0} min", h * 60.0)
    } else if h < 48.0 {
        format!("{h:.1} h")
    } else {
        format!("{:.1} d", h / 24.0)
    }
}

fn status_class(c: &Case, now: i64) -> &'static str {
    if c.status.is_closed() {
        "closed"
    } else if c.due_at < now {
        "overdue"
    } else {
        "open"
    }
}

fn due_text(c: &Case, now: i64) -> String {
    match c.closed_at {
        Some(t) => format!("closed {}", when(t)),
        None if c.due_at < now => format!("overdue {}", span(now - c.due_at)),
        None => format!("due in {}", span(c.due_at - now)),
    }
}

fn clipped(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// `GET /app/cases?view=…&page=…`
pub async fn queue(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<QueueQuery>,
) -> Response {
    let view = match q.view.as_deref() {
        None => View::Open,
        Some(v) => match View::ALL.into_iter().find(|x| x.name() == v) {
            Some(x) => x,
            None => {
                return message(
                    Some(&session),
                    StatusCode::BAD_REQUEST,
                    "No such queue",
                    &format!(
                        "view={v:?}: use one of {}",
                        View::ALL.map(View::name).join(", ")
                    ),
                );
            }
        },
    };
    let page_no = q.page.unwrap_or(1).clamp(1, 100_000);
    let now = chrono::Utc::now().timestamp_micros();
    let member = session.member.clone();
    let loaded = crate::read::blocking(&state, move |s| {
        let f = figures(s, now)?;
        let (cases, total) = s
            .with_reader(|r| r.cases(&view.filter(&member, now, (page_no - 1) * PAGE)))
            .map_err(internal)?;
        Ok((f, cases, total))
    })
    .await;
    let (f, cases, total) = match loaded {
        Ok(x) => x,
        Err(e) => {
            return failed(&session, "The cases could not be read", &e);
        }
    };
    let pages = (total as usize).div_ceil(PAGE).max(1);
    page(
        Some(&session),
        StatusCode::OK,
        "Cases",
        "/app/cases",
        html! {
            h1 { "Cases" }
            (figures_html(&f))
            nav.tabs aria-label="Queues" {
                @for v in View::ALL {
                    @if v == view {
                        a.current href={ "/app/cases?view=" (v.name()) } aria-current="page" { (v.label()) }
                    } @else {
                        a href={ "/app/cases?view=" (v.name()) } { (v.label()) }
                    }
                }
            }
            @if cases.is_empty() {
                p.empty { "No case in this queue." }
            } @else {
                div.table-wrap {
                    table.cases {
                        thead { tr {
                            th { "Due" } th { "Score" } th { "Comment" } th { "Customer" }
                            th { "Survey" } th { "Owner" } th { "Status" }
                        } }
                        tbody {
                            @for c in &cases {
                                tr class=(status_class(c, now)) {
                                    td { a href={ "/app/cases/" (c.id) } { (due_text(c, now)) } }
                                    td.num { (c.metric) " " (fmt_score(c.score)) }
                                    td.comment { (clipped(c.comment.as_deref().unwrap_or(""), 140)) }
                                    td { (customer_link(c.customer_id.as_deref())) }
                                    td { (c.survey.as_deref().unwrap_or("—")) }
                                    td { (c.owner.as_deref().unwrap_or("—")) }
                                    td { (c.status.label()) }
                                }
                            }
                        }
                    }
                }
                p.pager {
                    (total) (if total == 1 { " case" } else { " cases" }) " · page " (page_no) " of " (pages)
                    @if page_no > 1 {
                        " " a href={ "/app/cases?view=" (view.name()) "&page=" (page_no - 1) } { "previous" }
                    }
                    @if page_no < pages {
                        " " a href={ "/app/cases?view=" (view.name()) "&page=" (page_no + 1) } { "next" }
                    }
                }
            }
        },
    )
}

pub(crate) fn fmt_score(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s}")
    }
}

fn case_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|i| *i > 0)
}

fn not_found(session: &Session) -> Response {
    message(
        Some(session),
        StatusCode::NOT_FOUND,
        "No such case",
        "There is no case with this number (an erased customer's cases are erased with them).",
    )
}

/// `GET /app/cases/{id}`
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let Some(id) = case_id(&raw) else {
        return not_found(&session);
    };
    let loaded = crate::read::blocking(&state, move |s| {
        let case = s.with_reader(|r| r.case(id)).map_err(internal)?;
        let members = s.with_admin(|k| k.members())?;
        Ok((case, members))
    })
    .await;
    match loaded {
        Ok((Some((case, notes)), members)) => case_page(&session, &case, &notes, &members),
        Ok((None, _)) => not_found(&session),
        Err(e) => failed(&session, "The case could not be read", &e),
    }
}

fn case_page(session: &Session, c: &Case, notes: &[CaseNote], members: &[Member]) -> Response {
    let now = chrono::Utc::now().timestamp_micros();
    let can_act = session.role >= Role::Analyst;
    let action = format!("/app/cases/{}", c.id);
    page(
        Some(session),
        StatusCode::OK,
        &format!("Case {}", c.id),
        "/app/cases",
        html! {
            p { a href="/app/cases" { "← Cases" } }
            h1 { "Case " (c.id) " · " (c.metric) " " (fmt_score(c.score)) }
            p class={ "state " (status_class(c, now)) } {
                strong { (c.status.label()) } " · " (due_text(c, now))
                " · owner " (c.owner.as_deref().unwrap_or("nobody"))
            }
            @if let Some(comment) = &c.comment {
                blockquote.comment { (comment) }
            } @else {
                p.ns { "No comment." }
            }
            dl.facts {
                dt { "Customer" } dd { (customer_link(c.customer_id.as_deref())) }
                dt { "Survey" } dd { (c.survey.as_deref().unwrap_or("—")) }
                dt { "Touchpoint" } dd { (c.touchpoint.as_deref().unwrap_or("—")) }
                dt { "Language" } dd { (c.language.as_deref().unwrap_or("—")) }
                dt { "Answered" } dd { (when(c.submitted_at)) }
                dt { "Opened" } dd { (when(c.opened_at)) }
                dt { "Due" } dd { (when(c.due_at)) }
                dt { "First contact" } dd { (c.contacted_at.map_or("—".into(), when)) }
                dt { "Response" } dd { (c.response_id) }
            }
            @if can_act {
                section.actions {
                    h2 { "Work the case" }
                    div.buttons {
                        @if c.owner.as_deref() != Some(session.member.as_str()) {
                            form method="post" action=(action) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="hidden" name="action" value="take";
                                button type="submit" { "Take it" }
                            }
                        }
                        @for (status, label) in [
                            (CaseStatus::Contacted, "Contacted"),
                            (CaseStatus::Resolved, "Resolved"),
                            (CaseStatus::WontFix, "Won't fix"),
                            (CaseStatus::New, "Reopen as new"),
                        ] {
                            @if c.status != status {
                                form method="post" action=(action) {
                                    input type="hidden" name="csrf" value=(session.csrf);
                                    input type="hidden" name="action" value="status";
                                    input type="hidden" name="status" value=(status.name());
                                    button type="submit" { (label) }
                                }
                            }
                        }
                    }
                    form.assign method="post" action=(action) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="action" value="assign";
                        label {
                            "Owner "
                            select name="owner" {
                                option value="" { "nobody" }
                                @for m in members {
                                    @if c.owner.as_deref() == Some(m.name.as_str()) {
                                        option value=(m.name) selected { (m.name) }
                                    } @else {
                                        option value=(m.name) { (m.name) }
                                    }
                                }
                            }
                        }
                        button type="submit" { "Assign" }
                    }
                    form.note method="post" action=(action) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        input type="hidden" name="action" value="note";
                        label {
                            "Note"
                            textarea name="text" rows="3" maxlength=(cxray_store::MAX_NOTE_CHARS) required {}
                        }
                        button type="submit" { "Add note" }
                    }
                }
            }
            section.history {
                h2 { "History" }
                @if notes.is_empty() {
                    p.ns { "Nothing done yet." }
                } @else {
                    ol.notes {
                        @for n in notes {
                            li class=(n.kind) {
                                span.when { (when(n.at)) } " · " span.author { (n.author) } " · "
                                @match n.kind.as_str() {
                                    "status" => { "status → " strong { (n.text) } },
                                    "owner" => { "owner → " strong { (n.text) } },
                                    _ => { span.text { (n.text) } },
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// `POST /app/cases/{id}`: action = take | assign (owner) | status (status) | note (text).
pub async fn act(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Path(raw): Path<String>,
    body: Bytes,
) -> Response {
    let Some(id) = case_id(&raw) else {
        return not_found(&session);
    };
    let fields = form_fields(&body);
    let bad = |text: String| message(Some(&session), StatusCode::BAD_REQUEST, "Not done", &text);
    let action = match field(&fields, "action") {
        Some("take") => CaseAction::Assign(session.member.clone()),
        Some("assign") => CaseAction::Assign(field(&fields, "owner").unwrap_or("").to_string()),
        Some("status") => match field(&fields, "status").and_then(CaseStatus::parse) {
            Some(s) => CaseAction::Status(s),
            None => {
                return bad(format!(
                    "status must be one of {}",
                    CaseStatus::ALL.map(CaseStatus::name).join(", ")
                ));
            }
        },
        Some("note") => CaseAction::Note(field(&fields, "text").unwrap_or("").to_string()),
        other => {
            return bad(format!(
                "action {:?}: use take, assign, status or note",
                other.unwrap_or("")
            ));
        }
    };
    if let CaseAction::Note(text) = &action {
        let n = text.trim().chars().count();
        if n == 0 || n > cxray_store::MAX_NOTE_CHARS {
            return bad(format!(
                "a note has 1 to {} characters",
                cxray_store::MAX_NOTE_CHARS
            ));
        }
    }
    let author = session.member.clone();
    let done = crate::read::blocking(&state, move |s| {
        // The owner is checked and set under one lock, by the member's own spelling.
        s.with_admin(|k| {
            let action = match action {
                CaseAction::Assign(owner) if !owner.trim().is_empty() => {
                    match k.member(owner.trim())? {
                        Some(m) => CaseAction::Assign(m.name),
                        None => return Ok(Err(format!("{owner:?} is not a member of the team"))),
                    }
                }
                other => other,
            };
            k.act_on_case(id, &author, &action, chrono::Utc::now().timestamp_micros())
                .map(Ok)
        })
    })
    .await;
    match done {
        Ok(Ok(Some(_))) => see_other(&format!("/app/cases/{id}")),
        Ok(Ok(None)) => not_found(&session),
        Ok(Err(m)) => bad(m),
        Err(e) => failed(&session, "Not done", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_open_cases_at_the_bottom_of_each_rating_scale() {
        let catalog = MetricCatalog::builtin();
        let rules = case_rules(&CaseSettings::default(), &catalog).unwrap();
        let find = |m: &str| rules.iter().find(|r| r.metric == m).map(|r| r.max_score);
        assert_eq!(find("nps"), Some(6.0));
        assert_eq!(find("csat"), Some(2.0));
        assert_eq!(find("task"), None);
        assert!(rules.iter().all(|r| r.target_hours == 48.0));
        let custom = CaseSettings {
            open_at_or_below: Some([("csat".to_string(), 1.0)].into()),
            target_hours: Some(24.0),
            max_age_days: None,
            announce_after_seconds: None,
        };
        let rules = case_rules(&custom, &catalog).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!((rules[0].max_score, rules[0].target_hours), (1.0, 24.0));
        for bad in [
            CaseSettings {
                open_at_or_below: Some([("nope".to_string(), 1.0)].into()),
                ..Default::default()
            },
            CaseSettings {
                open_at_or_below: Some([("nps".to_string(), 10.0)].into()),
                ..Default::default()
            },
            CaseSettings {
                target_hours: Some(0.0),
                ..Default::default()
            },
        ] {
            assert!(case_rules(&bad, &catalog).is_err(), "{bad:?}");
        }
    }
}
