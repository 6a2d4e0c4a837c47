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

use super::{failed, page, when};
use crate::error::ApiError;
use crate::{AppState, StoreVersion};

/// A computed overview.
#[derive(Clone)]
struct Entry {
    version: StoreVersion,
    html: Arc<String>,
    /// When it was computed (µs).
    at: i64,
    /// A recomputation for a newer version is running.
    updating: bool,
}

/// The overviews computed, by query.
pub struct OverviewCache {
    entries: Mutex<HashMap<String, Entry>>,
    /// One computation per query at a time: a second request for it waits for the first.
    computing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Reports computed at once, whatever the queries (each reads the whole project).
    slots: tokio::sync::Semaphore,
}

impl Default for OverviewCache {
    fn default() -> Self {
        OverviewCache {
            entries: Mutex::default(),
            computing: Mutex::default(),
            slots: tokio::sync::Semaphore::new(2),
        }
    }
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

    fn remove(&self, key: &str) {
        self.entries
            .lock()
            .expect("overview cache lock")
            .remove(key);
    }

    /// Forgets every computed overview (after an erasure: they may quote the customer).
    pub fn clear(&self) {
        self.entries.lock().expect("overview cache lock").clear();
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

    fn key_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut m = self.computing.lock().expect("overview cache lock");
        // Locks nobody holds or waits for are dropped as new ones are made.
        m.retain(|_, l| Arc::strong_count(l) > 1);
        m.entry(key.to_string()).or_default().clone()
    }
}

/// The report of `q` as HTML, and the store's version it was computed at.
fn compute(state: &AppState, q: &[(String, String)]) -> Result<(StoreVersion, String), ApiError> {
    let req = crate::read::report_request(q)?;
    let version = state
        .store_version()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let project = state.project_at(version)?;
    let doc = project.report(&req)?;
    Ok((version, cxray_report::render_html_sections(&doc)))
}

/// Computes the overview of `key` (one computation per key at a time, two in all) and caches
/// it; a failed computation leaves nothing cached. The computation is a task of its own: a
/// request that goes away (a reload) leaves it running with its slot, so reloads cannot start
/// more than two at once.
async fn computed(
    state: &AppState,
    key: &str,
    q: &[(String, String)],
    wanted: StoreVersion,
) -> Result<Entry, ApiError> {
    let (st, k, qq) = (state.clone(), key.to_string(), q.to_vec());
    tokio::spawn(async move { compute_once(&st, &k, &qq, wanted).await })
        .await
        .map_err(|e| ApiError::Internal(format!("the overview's computation failed: {e}")))?
}

async fn compute_once(
    state: &AppState,
    key: &str,
    q: &[(String, String)],
    wanted: StoreVersion,
) -> Result<Entry, ApiError> {
    let lock = state.overview.key_lock(key);
    let _one = lock.lock().await;
    // Computed meanwhile by the request this one waited for.
    if let Some(e) = state.overview.get(key).filter(|e| e.version == wanted) {
        return Ok(e);
    }
    let _slot = state
        .overview
        .slots
        .acquire()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let qq = q.to_vec();
    match crate::read::blocking(state, move |s| compute(s, &qq)).await {
        Ok((version, html)) => {
            let e = Entry {
                version,
                html: Arc::new(html),
                at: chrono::Utc::now().timestamp_micros(),
                updating: false,
            };
            state.overview.put(key.to_string(), e.clone());
            Ok(e)
        }
        Err(e) => {
            state.overview.remove(key);
            Err(e)
        }
    }
}

/// Computes the default overview in the background when the server starts and the team app
/// has members, so that the first person to open it gets it from the cache (on the
/// 1M-customer demo the report takes ~27 s).
pub fn prewarm(state: &AppState) {
    let members = state
        .with_admin(|k| k.members())
        .map(|m| m.len())
        .unwrap_or(0);
    if members == 0 {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let version = crate::read::blocking(&state, |s| {
            s.store_version()
                .map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await;
        if let Ok(v) = version {
            let _ = computed(&state, "", &[], v).await;
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
        return failed(&session, "Not a valid filter", &e);
    }
    let key = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&q)
        .finish();
    let version = crate::read::blocking(&state, |s| {
        s.store_version()
            .map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await;
    let version = match version {
        Ok(v) => v,
        Err(e) => {
            return failed(&session, "The store could not be read", &e);
        }
    };
    let cached = state.overview.get(&key);
    let shown = match cached {
        Some(e) if e.version == version => Ok((e, false)),
        // Older figures are shown while new ones are computed, unless a customer was erased
        // since: those are never shown again.
        Some(e) if e.version.erasures == version.erasures => {
            if state.overview.start_update(&key) {
                let (state, key, q) = (state.clone(), key.clone(), q.clone());
                tokio::spawn(async move {
                    let _ = computed(&state, &key, &q, version).await;
                });
            }
            Ok((e, true))
        }
        _ => computed(&state, &key, &q, version)
            .await
            .map(|e| (e.clone(), e.version != version)),
    };
    match shown {
        Ok((entry, stale)) => render(&session, &q, Some(&entry), stale, None),
        Err(e) => render(&session, &q, None, false, Some(&e.to_string())),
    }
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
