//! Explore (analysts): why a metric changed between two periods (segments' mix and rate,
//! themes, each tested with false-discovery control), the key drivers of an outcome with the
//! priority matrix, and retention and churn by NPS category (do promoters stay?). Any metric by any segment, with which differences are significant, is
//! the overview's "By" (the report's segment breakdowns).

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cxray_project::{DriversRequest, ExplainRequest, LinkageRequest, PeriodLabel};
use cxray_store::Session;
use maud::{PreEscaped, html};

use super::{failed, page};
use crate::AppState;
use crate::error::ApiError;

#[derive(Debug, Default, serde::Deserialize)]
pub struct ExploreQuery {
    view: Option<String>,
    metric: Option<String>,
    from: Option<String>,
    to: Option<String>,
    by: Option<String>,
    themes: Option<String>,
}

fn label(name: &str, v: Option<&str>) -> Result<Option<PeriodLabel>, ApiError> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => PeriodLabel::parse(v).map(Some).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "{name}={v:?} is not a period: 2025-03 (month), 2025-W09 (week), 2025-Q1, 2025"
            ))
        }),
    }
}

/// `GET /app/explore?view=change|drivers|retention&metric=…&from=…&to=…&by=…&themes=1`
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<ExploreQuery>,
) -> Response {
    let view = q.view.as_deref().unwrap_or("change");
    let metric = q
        .metric
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or("nps")
        .to_string();
    let request = (|| -> Result<Job, ApiError> {
        match view {
            "change" => Ok(Job::Change(ExplainRequest {
                metric: metric.clone(),
                from: label("from", q.from.as_deref())?,
                to: label("to", q.to.as_deref())?,
                by: q
                    .by
                    .as_deref()
                    .map(|b| {
                        b.split(',')
                            .map(|x| x.trim().to_string())
                            .filter(|x| !x.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                themes: q.themes.is_some(),
                ..Default::default()
            })),
            "drivers" => Ok(Job::Drivers(DriversRequest {
                outcome: metric.clone(),
                ..Default::default()
            })),
            "retention" => Ok(Job::Retention(LinkageRequest::default())),
            other => Err(ApiError::BadRequest(format!(
                "view={other:?}: use change, drivers or retention"
            ))),
        }
    })();
    let job = match request {
        Ok(j) => j,
        Err(e) => {
            return failed(&session, "Not a valid question", &e);
        }
    };
    let key = format!(
        "{view}\u{0}{metric}\u{0}{:?}\u{0}{:?}\u{0}{:?}\u{0}{}",
        q.from,
        q.to,
        q.by,
        q.themes.is_some()
    );
    let result = crate::read::blocking(&state, move |s| {
        // Cached until the store's content changes (the retention view regroups every
        // customer's lifecycle: seconds on a million customers).
        let version = s
            .store_version()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if let Some(html) = s.explored(&key, version.content) {
            return Ok(html);
        }
        let project = s.project_at(version)?;
        let html = std::sync::Arc::new(match job {
            Job::Change(r) => cxray_report::explain_html(&project.explain(&r)?.explanation),
            Job::Drivers(r) => cxray_report::drivers_html(&project.drivers(&r)?.drivers),
            Job::Retention(r) => cxray_report::linkage_html(&project.linkage(&r)?.linkage),
        });
        s.keep_explored(key, version.content, html.clone());
        Ok(html)
    })
    .await;
    let (body, problem) = match result {
        Ok(html) => (Some(html), None),
        Err(e @ (ApiError::BadRequest(_) | ApiError::NotFound(_))) => (None, Some(e.to_string())),
        Err(e) => {
            return failed(&session, "Not computed", &e);
        }
    };
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    page(
        Some(&session),
        if problem.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        "Explore",
        "/app/explore",
        html! {
            h1 { "Explore" }
            nav.tabs aria-label="Questions" {
                @for (v, l) in [("change", "Why did it change?"), ("drivers", "What drives it?"), ("retention", "Do promoters stay?")] {
                    @if v == view {
                        a.current href={ "/app/explore?view=" (v) "&metric=" (metric) } aria-current="page" { (l) }
                    } @else {
                        a href={ "/app/explore?view=" (v) "&metric=" (metric) } { (l) }
                    }
                }
            }
            @if view != "retention" { form.filters method="get" action="/app/explore" {
                input type="hidden" name="view" value=(view);
                label { (if view == "drivers" { "Outcome " } else { "Metric " }) input name="metric" value=(metric); }
                @if view == "change" {
                    label { "From " input name="from" value=(value(&q.from)) placeholder="2025-10"; }
                    label { "To " input name="to" value=(value(&q.to)) placeholder="latest"; }
                    label { "By " input name="by" value=(value(&q.by)) placeholder="every segment column"; }
                    label.check {
                        @if q.themes.is_some() { input type="checkbox" name="themes" value="1" checked; } @else { input type="checkbox" name="themes" value="1"; }
                        " themes of comments"
                    }
                }
                button type="submit" { "Show" }
            } }
            p.fine { "Any metric by any segment, with which differences are significant: the " a href="/app" { "overview" } " with “By”." }
            @if let Some(p) = &problem { p.problem role="alert" { (p) } }
            @if let Some(b) = &body { div.report { (PreEscaped(b.as_str())) } }
        },
    )
}

enum Job {
    Change(ExplainRequest),
    Drivers(DriversRequest),
    Retention(LinkageRequest),
}
