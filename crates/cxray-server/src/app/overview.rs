//! The overview: the report's highlights, scorecard and trends for a period and filter, always
//! from the current data.
//!
//! The report runs through the project layer on the blocking pool, never on the threads that
//! answer requests. Its HTML is cached per query until the store's content changes (a new
//! answer, event or invitation; not the team's own work on cases). When it has changed, the
//! last figures are shown at once **with a banner saying they are being updated** and when
//! they were computed, while one recomputation runs in the background: the dashboard keeps
//! answering while a report recomputes, and it is never stale without saying so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use cxray_store::Session;
use maud::{PreEscaped, html};

use super::{message, page, when};
use crate::AppState;
use crate::error::ApiError;

/// A computed overview.
#[derive(Clone)]
struct Entry {
    version: u64,
    html: Arc<String>,
    /// When it was computed (µs).
    at: i64,
    /// A recomputation for a newer version is running.
    updating: bool,
}

/// The overviews computed, by query.
#[derive(Default)]
pub struct OverviewCache {
    entries: Mutex<HashMap<String, Entry>>,
}

/// Queries cached at most (each is one report's HTML, a few hundred KB).
const MAX_ENTRIES: usize = 64;

impl OverviewCache {
    fn get(&self, key: &str) -> Option<Entry> {
        self.entries
            .lock()
            .expect("overview cache lock")
            .get(key)
            .cloned()
    }

    fn put(&self, key: String, entry: Entry) {
        let mut m = self.entries.lock().expect("overview cache lock");
        if m.len() >= MAX_ENTRIES && !m.contains_key(&key) {
            // The oldest computation goes.
            if let Some(old) = m.iter().min_by_key(|(_, e)| e.at).map(|(k, _)| k.clone()) {
                m.remove(&old);
            }
        }
        m.insert(key, entry);
    }

    /// Marks the entry as being updated; false when an update already runs.
    fn start_update(&self, key: &str) -> bool {
        let mut m = self.entries.lock().expect("overview cache lock");
        match m.get_mut(key) {
            Some(e) if !e.updating => {
                e.updating = true;
                true
            }
            _ => false,
        }
    }

    fn end_update(&self, key: &str) {
        if let Some(e) = self
            .entries
            .lock()
            .expect("overview cache lock")
            .get_mut(key)
        {
            e.updating = false;
        }
    }
}

/// The report of `q` as HTML, and the store's version it was computed at.
fn compute(state: &AppState, q: &[(String, String)]) -> Result<(u64, String), ApiError> {
    let req = crate::read::report_request(q)?;
    let version = state
        .store_version()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let project = state.project()?;
    let doc = project.report(&req)?;
    Ok((version, cxray_report::render_html_sections(&doc)))
}

/// Recomputes `key` in the background and caches it.
fn refresh(state: &AppState, key: String, q: Vec<(String, String)>) {
    let state = state.clone();
    tokio::spawn(async move {
        let k = key.clone();
        let out = crate::read::blocking(&state, move |s| compute(s, &q)).await;
        match out {
            Ok((version, html)) => state.overview.put(
                k,
                Entry {
                    version,
                    html: Arc::new(html),
                    at: chrono::Utc::now().timestamp_micros(),
                    updating: false,
                },
            ),
            Err(_) => state.overview.end_update(&k),
        }
    });
}

/// `GET /app?period=…&since=…&until=…&by=…`
pub async fn show(
    State(state): State<AppState>,
    Extension(session): Extension<Session>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let mut q: Vec<(String, String)> = q
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect();
    q.sort();
    if let Err(e) = crate::read::report_request(&q) {
        return message(
            Some(&session),
            e.status(),
            "Not a valid filter",
            &e.to_string(),
        );
    }
    let key = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&q)
        .finish();
    let version = {
        let s = state.clone();
        crate::read::blocking(&state, move |_| {
            s.store_version()
                .map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await
    };
    let version = match version {
        Ok(v) => v,
        Err(e) => {
            return message(
                Some(&session),
                e.status(),
                "The store could not be read",
                &e.to_string(),
            );
        }
    };
    let cached = state.overview.get(&key);
    let (entry, stale) = match cached {
        Some(e) if e.version == version => (e, false),
        Some(e) => {
            if state.overview.start_update(&key) {
                refresh(&state, key.clone(), q.clone());
            }
            (e, true)
        }
        None => {
            let qq = q.clone();
            match crate::read::blocking(&state, move |s| compute(s, &qq)).await {
                Ok((v, html)) => {
                    let e = Entry {
                        version: v,
                        html: Arc::new(html),
                        at: chrono::Utc::now().timestamp_micros(),
                        updating: false,
                    };
                    state.overview.put(key.clone(), e.clone());
                    (e, v != version)
                }
                Err(ApiError::NotFound(m)) => {
                    return render(&session, &q, None, false, Some(&m));
                }
                Err(e) => {
                    return render(&session, &q, None, false, Some(&e.to_string()));
                }
            }
        }
    };
    render(&session, &q, Some(&entry), stale, None)
}

fn render(
    session: &Session,
    q: &[(String, String)],
    entry: Option<&Entry>,
    stale: bool,
    problem: Option<&str>,
) -> Response {
    let value = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let period = value("period");
    page(
        Some(session),
        StatusCode::OK,
        "Overview",
        "/app",
        html! {
            form.filters method="get" action="/app" {
                label { "Period "
                    select name="period" {
                        @for p in ["", "week", "month", "quarter"] {
                            @if p == period {
                                option value=(p) selected { (if p.is_empty() { "default" } else { p }) }
                            } @else {
                                option value=(p) { (if p.is_empty() { "default" } else { p }) }
                            }
                        }
                    }
                }
                label { "From " input type="date" name="since" value=(value("since")); }
                label { "To " input type="date" name="until" value=(value("until")); }
                label { "By " input type="text" name="by" value=(value("by")) placeholder="segment column"; }
                button type="submit" { "Show" }
            }
            @if let Some(p) = problem {
                section.empty {
                    h1 { "Nothing to show yet" }
                    p { (p) }
                }
            }
            @if let Some(e) = entry {
                @if stale {
                    p.stale role="status" {
                        "New data has arrived; these figures are from " (when(e.at))
                        " and are being updated. Reload in a moment."
                    }
                } @else {
                    p.fresh { "Figures computed " (when(e.at)) " from all data up to then." }
                }
                div.report { (PreEscaped(e.html.as_str())) }
            }
        },
    )
}
