//! The team app on a large project: how long its pages take, through the router (session
//! guard, handlers, project layer, HTML), in this process. Figures go to bench/RESULTS.md.
//!
//! `cargo run --release -p cxray-server --example app_load DEMO_DIR`
//!
//! DEMO_DIR is a demo made with `cxray demo --dir DEMO_DIR --customers 1000000 --no-report`
//! (its cxray.toml and cxray.db). Phases, each the median of 5 requests unless said:
//! - the overview's first render (the project's sources read, the report computed), then
//!   from the cache;
//! - the responses page with filters (the answers scanned for each request);
//! - the cases queue;
//! - an answer arrives: the overview answers at once with the last figures (and a banner)
//!   while the report recomputes in the background; how long until the fresh figures.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, header};
use cxray_server::{AppState, ServerConfig};
use tower::ServiceExt;

async fn get(app: &axum::Router, cookie: &str, path: &str) -> (u16, String, Duration) {
    let t = Instant::now();
    let r = app
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status().as_u16();
    let b = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        String::from_utf8_lossy(&b).into_owned(),
        t.elapsed(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("give the folder of a demo: cxray demo --dir DIR --customers 1000000"),
    );
    let config_path = dir.join("cxray.toml");
    let mut project: cxray_project::ProjectConfig =
        toml::from_str(&std::fs::read_to_string(&config_path).unwrap()).unwrap();
    project.base_dir = dir.clone();
    let mut config = ServerConfig::new(dir.join("cxray.db"));
    config.project = Some((project, config_path));
    let state = AppState::open(config).unwrap();
    let password = "bench passphrase 1";
    state
        .with_admin(|k| {
            k.add_member("bench", cxray_store::Role::Analyst, password, true)
                .map(|_| ())
        })
        .unwrap();
    let secret = state
        .with_admin(|k| {
            k.login(
                "bench",
                password,
                "bench",
                chrono::Utc::now().timestamp_micros(),
            )
        })
        .unwrap();
    let cxray_store::Login::Session(s) = secret else {
        panic!("login")
    };
    let cookie = format!("cxray_session={}", s.secret);
    let app = cxray_server::app(state.clone());

    let (status, body, first) = get(&app, &cookie, "/app").await;
    assert_eq!(status, 200);
    assert!(
        body.contains("Scorecard"),
        "{}",
        &body[..body.len().min(2000)]
    );
    println!("overview, first render: {}", ms(first));
    let mut cached = Vec::new();
    for _ in 0..5 {
        cached.push(get(&app, &cookie, "/app").await.2);
    }
    println!(
        "overview from the cache: {} (median of 5)",
        ms(median(cached))
    );

    for path in [
        "/app/explore?view=drivers&metric=nps",
        "/app/explore?view=change&metric=nps",
        "/app/explore?view=retention",
        "/app/responses",
        "/app/responses?metric=nps&max=6",
        "/app/responses?metric=nps&max=6&region=North&since=2025-06-01",
        "/app/responses?q=late",
        "/app/responses?sentiment=negative&theme=delivery&comments=1",
        "/app/responses?metric=nps&page=2000",
        "/app/cases",
    ] {
        let (status, body, first) = get(&app, &cookie, path).await;
        assert_eq!(status, 200, "{path}: {}", &body[..body.len().min(500)]);
        let total = body
            .split("<strong>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or("-")
            .to_string();
        let mut times = vec![first];
        for _ in 0..4 {
            times.push(get(&app, &cookie, path).await.2);
        }
        println!(
            "{path}: {} (median of 5; first {}; {total} answers)",
            ms(median(times)),
            ms(first)
        );
    }

    // An answer arrives: the overview must still answer at once.
    let answer = cxray_store::Record::Response(cxray_store::NewResponse {
        response_id: format!("bench-{}", chrono::Utc::now().timestamp_micros()),
        customer_id: Some("C0000001".into()),
        submitted_at: chrono::Utc::now().timestamp_micros(),
        answers: vec![cxray_store::NewAnswer {
            metric: "nps".into(),
            score: Some(3.0),
            comment: Some("bench".into()),
        }],
        ..Default::default()
    });
    state.store.write(vec![answer]).await.unwrap();
    let (_, body, stale) = get(&app, &cookie, "/app").await;
    assert!(body.contains("being updated"));
    let started = Instant::now();
    let mut during = Vec::new();
    loop {
        let (_, body, t) = get(&app, &cookie, "/app").await;
        if body.contains("Figures computed") {
            break;
        }
        during.push(t);
        let (_, _, r) = get(&app, &cookie, "/app/responses?metric=nps&max=6").await;
        during.push(r);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "after a new answer: stale overview {}; pages while the report recomputes: median {}, \
         max {} ({} requests); fresh figures after {:.1} s",
        ms(stale),
        ms(median(during.clone())),
        ms(during.iter().max().copied().unwrap_or_default()),
        during.len(),
        started.elapsed().as_secs_f64()
    );
}
