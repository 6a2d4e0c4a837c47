//! Every answer, with filters (score range, metric, period, survey, touchpoint and any segment,
//! theme, sentiment, comment language, words in the comment), newest first, 50 a page; and
//! the filtered answers exported as CSV or Parquet. The selection is the project layer's
//! (`Project::answers`), over the project's files and the store.

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cxray_project::{AnswersFormat, AnswersPage, AnswersQuery};
use cxray_store::{Role, Session};
use maud::{Markup, html};

use super::{failed, message, page};
use crate::AppState;
use crate::error::ApiError;
use crate::read::date;

/// Answers on a page.
const PER_PAGE: usize = 50;

/// Most answers in one export from the app (about 100 bytes each in memory, twice over).
const MAX_EXPORT: usize = 1_000_000;

/// The page's own parameters: a column of the same name is not offered as a filter.
const RESERVED: [&str; 12] = [
    "metric",
    "min",
    "max",
    "since",
    "until",
    "theme",
    "sentiment",
    "comment_language",
    "q",
    "comments",
    "page",
    "format",
];

fn number(name: &str, v: &str) -> Result<f64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| ApiError::BadRequest(format!("{name}={v:?} is not a number")))
}

/// The query of the page (empty values are no filter); every other parameter is a column and
/// the value it must have.
pub(crate) fn answers_query(q: &[(String, String)]) -> Result<(AnswersQuery, usize), ApiError> {
    let mut a = AnswersQuery {
        limit: PER_PAGE,
        ..Default::default()
    };
    let mut page_no = 1;
    for (k, v) in q {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let text = || Some(v.to_string());
        match k.as_str() {
            "metric" => a.metric = text(),
            "min" => a.min_score = Some(number(k, v)?),
            "max" => a.max_score = Some(number(k, v)?),
            "since" => a.since = Some(date(k, v)?),
            "until" => a.until = Some(date(k, v)?),
            "theme" => a.theme = text(),
            "sentiment" => a.sentiment = text(),
            "comment_language" => a.language = text(),
            "q" => a.text = text(),
            "comments" => a.with_comment = true,
            "page" => {
                page_no = v
                    .parse::<usize>()
                    .ok()
                    .filter(|p| (1..=1_000_000).contains(p))
                    .ok_or_else(|| ApiError::BadRequest(format!("page={v:?} is not a page")))?;
            }
            "format" => {}
            col => {
                if col.len() > 100 {
                    return Err(ApiError::BadRequest("a column name is too long".into()));
                }
                a.equals.push((col.to_string(), v.to_string()));
            }
        }
    }
    a.offset = (page_no - 1) * PER_PAGE;
    Ok((a, page_no))
}

/// The query string of `q` without `drop`, with `add` (for links that keep the filters).
fn link(q: &[(String, String)], drop: &[&str], add: &[(&str, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in q {
        if !drop.contains(&k.as_str()) && !v.trim().is_empty() {
            s.append_pair(k, v);
        }
    }
    for (k, v) in add {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `GET /app/responses?…`
pub async fn list(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (query, page_no) = match answers_query(&q) {
        Ok(x) => x,
        Err(e) => {
            return failed(&session, "Not a valid filter", &e);
        }
    };
    let found = crate::read::blocking(&state, move |s| {
        let (project, stale) = s.browsing_project()?;
        Ok((project.answers(&query)?, stale))
    })
    .await;
    match found {
        Ok((p, stale)) => render(&session, &q, &p, page_no, None, stale),
        Err(ApiError::NotFound(m)) => {
            let empty = AnswersPage {
                total: 0,
                all: 0,
                offset: 0,
                rows: vec![],
                facets: Default::default(),
            };
            render(&session, &q, &empty, 1, Some(&m), false)
        }
        Err(ApiError::BadRequest(m)) => message(
            Some(&session),
            StatusCode::BAD_REQUEST,
            "Not a valid filter",
            &m,
        ),
        Err(e) => failed(&session, "The answers could not be read", &e),
    }
}

fn select(name: &str, label: &str, values: &[String], chosen: &str) -> Markup {
    html! {
        label { (label) " "
            select name=(name) {
                option value="" { "any" }
                @for v in values {
                    @if v == chosen {
                        option value=(v) selected { (v) }
                    } @else {
                        option value=(v) { (v) }
                    }
                }
            }
        }
    }
}

fn render(
    session: &Session,
    q: &[(String, String)],
    p: &AnswersPage,
    page_no: usize,
    problem: Option<&str>,
    stale: bool,
) -> Response {
    let value = |k: &str| {
        q.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let facet = |k: &str| p.facets.get(k).cloned().unwrap_or_default();
    let segments: Vec<(&String, &Vec<String>)> = p
        .facets
        .iter()
        .filter(|(k, _)| {
            ![
                "metric",
                "comment_label",
                "comment_language",
                "comment_themes",
            ]
            .contains(&k.as_str())
        })
        // A column named as a filter of the page cannot be chosen here (its name is taken).
        .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
        .collect();
    let pages = (p.total as usize).div_ceil(PER_PAGE).max(1);
    page(
        Some(session),
        StatusCode::OK,
        "Responses",
        "/app/responses",
        html! {
            h1 { "Responses" }
            form.filters.answers method="get" action="/app/responses" {
                label { "Search comments " input type="search" name="q" value=(value("q")) placeholder="words"; }
                (select("metric", "Metric", &facet("metric"), value("metric")))
                label { "Score from " input.score type="number" step="any" name="min" value=(value("min")); }
                label { "to " input.score type="number" step="any" name="max" value=(value("max")); }
                label { "From " input type="date" name="since" value=(value("since")); }
                label { "To " input type="date" name="until" value=(value("until")); }
                (select("theme", "Theme", &facet("comment_themes"), value("theme")))
                (select("sentiment", "Sentiment", &["negative".into(), "neutral".into(), "positive".into()], value("sentiment")))
                (select("comment_language", "Language", &facet("comment_language"), value("comment_language")))
                label.check {
                    @if value("comments").is_empty() {
                        input type="checkbox" name="comments" value="1";
                    } @else {
                        input type="checkbox" name="comments" value="1" checked;
                    }
                    " with a comment"
                }
                @if !segments.is_empty() {
                    details.segments open[segments.iter().any(|(k, _)| !value(k).is_empty())] {
                        summary { "Survey, touchpoint and segments" }
                        @for (k, values) in &segments {
                            (select(k, k, values, value(k)))
                        }
                    }
                }
                button type="submit" { "Show" }
                a href="/app/responses" { "clear" }
            }
            @if stale {
                p.stale role="status" { "New answers are being loaded; this list is from before them. Reload in a moment." }
            }
            @if let Some(m) = problem {
                section.empty { h2 { "Nothing to show yet" } p { (m) } }
            } @else {
                p.count {
                    strong { (p.total) } " of " (p.all) " answers"
                    @if session.role >= Role::Analyst && p.total > 0 {
                        " · export "
                        a href={ "/app/responses/export?" (link(q, &["page", "format"], &[("format", "csv".into())])) } { "CSV" }
                        " "
                        a href={ "/app/responses/export?" (link(q, &["page", "format"], &[("format", "parquet".into())])) } { "Parquet" }
                    }
                }
                @if p.rows.is_empty() {
                    p.empty { "No answer passes these filters." }
                } @else {
                    div.table-wrap {
                        table.answers {
                            thead { tr { th { "When" } th { "Score" } th { "Comment" } th { "Customer" } th { "Survey · touchpoint" } } }
                            tbody {
                                @for r in &p.rows {
                                    tr {
                                        td.when { (r.submitted_at.replace('T', " ").trim_end_matches('Z')) }
                                        td.num { (r.metric) " " (super::cases::fmt_score(r.score)) }
                                        td.comment {
                                            @if let Some(c) = &r.comment { (c) }
                                            @if r.comment_label.is_some() || !r.comment_themes.is_empty() {
                                                div.tags {
                                                    @if let Some(l) = &r.comment_label { span class={ "tag " (l) } { (l) } }
                                                    @for t in &r.comment_themes { span.tag { (t) } }
                                                    @if let Some(l) = &r.comment_language { span.tag.lang { (l) } }
                                                }
                                            }
                                        }
                                        td { (super::customers::customer_link(r.customer_id.as_deref())) }
                                        td {
                                            (r.attributes.get("survey").map_or("—", String::as_str))
                                            @if let Some(t) = r.attributes.get("touchpoint") { " · " (t) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    p.pager {
                        "page " (page_no) " of " (pages)
                        @if page_no > 1 {
                            " " a href={ "/app/responses?" (link(q, &["page"], &[("page", (page_no - 1).to_string())])) } { "previous" }
                        }
                        @if page_no < pages {
                            " " a href={ "/app/responses?" (link(q, &["page"], &[("page", (page_no + 1).to_string())])) } { "next" }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /app/responses/export?format=csv|parquet&…`: the filtered answers as a file.
pub async fn export(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let format = q
        .iter()
        .rev()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
        .unwrap_or("csv");
    let Some(format) = AnswersFormat::parse(format) else {
        return message(
            Some(&session),
            StatusCode::BAD_REQUEST,
            "No such format",
            &format!("format={format:?}: use csv or parquet"),
        );
    };
    let (query, _) = match answers_query(&q) {
        Ok(x) => x,
        Err(e) => {
            return failed(&session, "Not a valid filter", &e);
        }
    };
    // One export at a time: each holds its rows and its file in memory.
    let Ok(_one) = state.exporting.try_acquire() else {
        return message(
            Some(&session),
            StatusCode::TOO_MANY_REQUESTS,
            "Another export is running",
            "One export runs at a time; try again when it is done.",
        );
    };
    let file = crate::read::blocking(&state, move |s| {
        let table = s.project()?.answers_table(&query)?;
        let rows: usize = table.iter().map(|b| b.num_rows()).sum();
        if rows > MAX_EXPORT {
            return Err(ApiError::BadRequest(format!(
                "{rows} answers pass these filters; an export here holds at most {MAX_EXPORT} \
                 (narrow the filters, or export the store with `cxray export`)"
            )));
        }
        Ok(cxray_project::write_answers(&table, format)?)
    })
    .await;
    match file {
        Ok(bytes) => {
            let name = format!(
                "answers-{}.{}",
                chrono::Utc::now().format("%Y%m%d-%H%M%S"),
                format.extension()
            );
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.media_type()),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => failed(&session, "Not exported", &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::read::tests::q;

    #[test]
    fn queries_become_filters_and_bad_values_are_refused() {
        let (a, p) = answers_query(&q(&[
            ("metric", "nps"),
            ("max", "6"),
            ("q", " late "),
            ("region", "North"),
            ("theme", ""),
            ("page", "3"),
        ]))
        .unwrap();
        assert_eq!(a.metric.as_deref(), Some("nps"));
        assert_eq!(a.max_score, Some(6.0));
        assert_eq!(a.text.as_deref(), Some("late"));
        assert_eq!(a.equals, vec![("region".to_string(), "North".to_string())]);
        assert_eq!(a.theme, None);
        assert_eq!((p, a.offset), (3, 100));
        for bad in [
            q(&[("min", "low")]),
            q(&[("max", "NaN")]),
            q(&[("since", "01/02/2026")]),
            q(&[("page", "0")]),
        ] {
            assert!(answers_query(&bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            link(
                &q(&[("metric", "nps"), ("page", "2")]),
                &["page"],
                &[("page", "3".into())]
            ),
            "metric=nps&page=3"
        );
    }
}
