//! End-to-end tests of `cxray metrics --metric churn,reactivation` on lifecycle files the tests
//! write: the inactivity-window cases worked out by hand, and the rejection of a cancel before
//! any start.

mod common;
use common::cxray;

use serde_json::Value;

fn project(dir: &std::path::Path, churn: &str, lifecycle: &str) {
    std::fs::write(dir.join("lifecycle.csv"), lifecycle).unwrap();
    std::fs::write(
        dir.join("cxray.toml"),
        format!("{churn}\n[[sources]]\npath = \"lifecycle.csv\"\nentity = \"lifecycle\"\n"),
    )
    .unwrap();
}

fn run(dir: &std::path::Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "metrics",
        "--config",
        "cxray.toml",
        "--metric",
        "churn,reactivation",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let out = cxray(&args, dir);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn row<'a>(v: &'a Value, metric: &str, period: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == metric && r["period"] == period)
        .unwrap_or_else(|| panic!("no {metric} row for {period}"))
}

#[test]
fn inactivity_window_cases() {
    let dir = tempfile::tempdir().unwrap();
    // A returns after 13 months (churned 2024-01-10, back 2024-02-10); B returns after 11
    // months (never churned); C is new in June 2024, the last date of the data; D leaves for
    // good (churned 2024-01-05).
    project(
        dir.path(),
        "[churn]\ndefinition = \"inactivity\"\nwindow_days = 365\n",
        "customer_id,event,at\n\
         A,order,2023-01-10\nA,order,2024-02-10\n\
         B,order,2023-01-15\nB,order,2023-12-15\n\
         C,order,2024-06-01\n\
         D,order,2023-01-05\n",
    );
    let v = run(dir.path(), &["--period", "month", "--since", "2024-01-01"]);
    let jan = row(&v, "churn", "2024-01");
    assert_eq!(jan["detail"]["active_at_start"], 3);
    assert_eq!(jan["detail"]["churned"], 2);
    assert!((jan["value"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    let feb = row(&v, "reactivation", "2024-02");
    assert_eq!(feb["detail"]["lapsed_at_start"], 2);
    assert_eq!(feb["detail"]["reactivated"], 1);
    assert!((feb["value"].as_f64().unwrap() - 50.0).abs() < 1e-9);
    let feb_churn = row(&v, "churn", "2024-02");
    assert_eq!(feb_churn["detail"]["active_at_start"], 1, "only B");
    assert_eq!(feb_churn["detail"]["churned"], 0);
    let jun = row(&v, "churn", "2024-06");
    // A (back since February) and B (inside its window) are active; C is new, not churned.
    assert_eq!(jun["detail"]["active_at_start"], 2);
    assert_eq!(jun["detail"]["new"], 1);
    assert_eq!(jun["detail"]["churned"], 0);
    assert!(
        jun["detail"]["definition"]
            .as_str()
            .unwrap()
            .contains("no activity for more than 365 days")
    );
    assert_eq!(v["input"]["rows_rejected"], 0);
}

#[test]
fn a_cancel_before_any_start_is_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    project(
        dir.path(),
        "",
        "customer_id,event,at\n\
         X,cancel,2024-01-01\nX,start,2024-02-01\n\
         Y,start,2024-01-01\nY,cancel,2024-03-01\n\
         Z,start,2024-01-15\n",
    );
    let v = run(
        dir.path(),
        &["--period", "month", "--rejects", "rejects.csv"],
    );
    assert_eq!(v["input"]["rows_read"], 5);
    assert_eq!(v["input"]["rows_accepted"], 4);
    assert_eq!(v["input"]["rows_rejected"], 1);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
    assert!(
        rejects.contains("lifecycle.csv,2,event,cancel,cancel before any start"),
        "{rejects}"
    );
    // March: X, Y and Z active at the start; Y cancels → 1 of 3.
    let mar = row(&v, "churn", "2024-03");
    assert_eq!(mar["detail"]["active_at_start"], 3);
    assert_eq!(mar["detail"]["churned"], 1);
    assert!(
        mar["detail"]["definition"]
            .as_str()
            .unwrap()
            .starts_with("churned = cancelled")
    );
}
