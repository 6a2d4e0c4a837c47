//! Trigger decisions per second: N journey events (default 1,000,000) of 200,000 customers,
//! decided against a trigger with a 50% sampling share and a 30-day contact rule, in batches
//! of 10,000 (the most events one request may carry), each batch one synced transaction with
//! its decisions and invitations. Figures go to bench/RESULTS.md.
//!
//! With `email` as the third argument the trigger sends by email (each invitation also writes
//! its email, text and HTML, to the outbox in the same transaction) under a daily budget of
//! 150,000, so that every rule is checked on the way.
//!
//! `cargo run --release -p cxray-server --example decide_load [N] [DIR] [link|email]`

use std::time::Instant;

use cxray_server::{AppState, ServerConfig};
use cxray_store::NewEvent;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("a count"));
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("cxray-decide-load-{}", std::process::id()));
    let email = match args.next().as_deref() {
        None | Some("link") => false,
        Some("email") => true,
        Some(other) => panic!("link or email, not {other}"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    let mut project: cxray_project::ProjectConfig = toml::from_str(
        r#"
[[surveys]]
id = "support"
[[surveys.questions]]
metric = "csat"

[[triggers]]
on = "ticket_solved"
survey = "support"
share = 0.5

[contact]
any_survey_days = 30
"#,
    )
    .unwrap();
    if email {
        project.triggers[0].channel = Some("email".into());
        project.triggers[0].daily_budget = Some(150_000);
    }
    let mut config = ServerConfig::new(dir.join("cxray.db"));
    config.project = Some((project, dir.join("cxray.toml")));
    let state = AppState::open(config).unwrap();
    let t0 = Instant::now();
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    for start in (0..n).step_by(10_000) {
        let events: Vec<NewEvent> = (start..(start + 10_000).min(n))
            .map(|i| NewEvent {
                event_id: format!("E{i}"),
                customer_id: Some(format!("C{}", i % 200_000)),
                step: "ticket_solved".into(),
                at: 1_767_225_600_000_000 + i as i64,
                attributes: if email {
                    [(
                        "email".to_string(),
                        format!("c{}@example.test", i % 200_000),
                    )]
                    .into()
                } else {
                    Default::default()
                },
                ..Default::default()
            })
            .collect();
        for d in state.decide_events(&events).unwrap() {
            *outcomes.entry(d.outcome).or_default() += 1;
        }
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{n} events decided in {s:.1} s ({:.0} events/s): {outcomes:?}",
        n as f64 / s
    );
    let size = std::fs::metadata(dir.join("cxray.db")).map_or(0, |m| m.len());
    println!("store {:.0} MB", size as f64 / 1e6);
    drop(state);
    let _ = std::fs::remove_dir_all(&dir);
}
