//! What the server tells its operators: a JSON log line per request (stderr), Prometheus
//! counters at `/metrics`, and the security headers every answer carries.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// Upper bounds (seconds) of the latency histogram's buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct RouteStats {
    by_status: BTreeMap<u16, u64>,
    /// Requests at or under each bound of [`BUCKETS`] (cumulative when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    seconds: f64,
}

/// Counters of the server.
#[derive(Default)]
pub struct Telemetry {
    routes: Mutex<BTreeMap<String, RouteStats>>,
    pub answers_stored: AtomicU64,
    pub events_stored: AtomicU64,
    pub records_replayed: AtomicU64,
    /// Write a JSON line per request to stderr.
    pub log: bool,
}

/// The key a request was made with, left in the response's extensions for the log.
#[derive(Debug, Clone)]
pub struct KeyUsed(pub String);

impl Telemetry {
    /// Counters at zero; with `log`, a JSON line per request on stderr.
    pub fn new(log: bool) -> Telemetry {
        Telemetry {
            log,
            ..Default::default()
        }
    }

    fn record(&self, route: &str, status: u16, seconds: f64) {
        let mut routes = self.routes.lock().expect("telemetry lock");
        let r = routes.entry(route.to_string()).or_default();
        *r.by_status.entry(status).or_default() += 1;
        if let Some(i) = BUCKETS.iter().position(|&b| seconds <= b) {
            r.buckets[i] += 1;
        }
        r.count += 1;
        r.seconds += seconds;
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self, state: &AppState) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP cxray_http_requests_total Requests answered, by route and status.\n\
             # TYPE cxray_http_requests_total counter\n",
        );
        let routes = self.routes.lock().expect("telemetry lock");
        for (route, r) in routes.iter() {
            for (status, n) in &r.by_status {
                out.push_str(&format!(
                    "cxray_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}\n"
                ));
            }
        }
        out.push_str(
            "# HELP cxray_http_request_duration_seconds Time to answer, by route.\n\
             # TYPE cxray_http_request_duration_seconds histogram\n",
        );
        for (route, r) in routes.iter() {
            let mut cumulative = 0;
            for (b, n) in BUCKETS.iter().zip(r.buckets) {
                cumulative += n;
                out.push_str(&format!(
                    "cxray_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {cumulative}\n"
                ));
            }
            out.push_str(&format!(
                "cxray_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 cxray_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 cxray_http_request_duration_seconds_count{{route=\"{route}\"}} {}\n",
                r.count, r.seconds, r.count
            ));
        }
        drop(routes);
        let (commits, batches) = state.store.stats();
        for (name, help, v) in [
            (
                "cxray_answers_stored_total",
                "Responses written to the store.",
                self.answers_stored.load(Ordering::Relaxed),
            ),
            (
                "cxray_events_stored_total",
                "Journey events written to the store.",
                self.events_stored.load(Ordering::Relaxed),
            ),
            (
                "cxray_records_replayed_total",
                "Records sent again with the same id and content (acknowledged, not written).",
                self.records_replayed.load(Ordering::Relaxed),
            ),
            (
                "cxray_store_commits_total",
                "Transactions the store committed.",
                commits,
            ),
            (
                "cxray_store_batches_total",
                "Requests the store acknowledged.",
                batches,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
            ));
        }
        out.push_str(&format!(
            "# HELP cxray_api_keys Active API keys.\n# TYPE cxray_api_keys gauge\ncxray_api_keys {}\n",
            state.keys.len()
        ));
        out
    }
}

/// Headers every answer carries unless its handler set its own.
const SECURITY_HEADERS: [(HeaderName, &str); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    (header::CACHE_CONTROL, "no-store"),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
];

/// The outermost layer: times and counts each request, logs it, adds the security headers.
pub async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // Routes by their pattern, so that ids in paths do not make a series each.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.telemetry.record(&route, status, seconds);
    if state.telemetry.log {
        let key = response.extensions().get::<KeyUsed>().map(|k| k.0.as_str());
        let line = serde_json::json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "method": method.as_str(),
            "route": route,
            "status": status,
            "ms": (seconds * 1e6).round() / 1e3,
            "key": key,
        });
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
    response
}
