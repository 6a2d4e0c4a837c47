//! End-to-end tests of `cxray retention` (Kaplan-Meier by segment from lifecycle events,
//! checked against lifelines) and `cxray customer` (one customer's interactions in time order).

mod common;
use common::cxray;

use serde_json::Value;

/// North: lifetimes 10 and 20 days (cancelled) and 60+ (still active at the end of the data,
/// 2025-03-02); South: 60 and 40 (cancelled) and 56+. C7 cancels before it ever started.
const LIFECYCLE: &str = "customer_id,event,at
C1,start,2025-01-01T09:00:00Z
C1,cancel,2025-01-11T09:00:00Z
C2,start,2025-01-01T09:00:00Z
C2,cancel,2025-01-21T09:00:00Z
C3,start,2025-01-01T09:00:00Z
C4,start,2025-01-01T09:00:00Z
C4,cancel,2025-03-02T09:00:00Z
C5,start,2025-01-05T09:00:00Z
C6,start,2025-01-01T09:00:00Z
C6,cancel,2025-02-10T09:00:00Z
C7,cancel,2025-01-03T09:00:00Z
C7,start,2025-01-04T09:00:00Z
";

const CUSTOMERS: &str = "customer_id,region,revenue
C1,North,100
C2,North,200
C3,North,600
C4,South,600
C5,South,560
C6,South,400
C7,South,10
";

fn project(dir: &std::path::Path) {
    std::fs::write(dir.join("lifecycle.csv"), LIFECYCLE).unwrap();
    std::fs::write(dir.join("customers.csv"), CUSTOMERS).unwrap();
    std::fs::write(
        dir.join("responses.csv"),
        "response_id,customer_id,submitted_at,metric,score,comment\n\
         R1,C1,2025-01-08T10:00:00Z,nps,3,Delivery was late again\n\
         R2,C2,2025-01-09T10:00:00Z,nps,9,\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("tickets.csv"),
        "ticket_id,customer_id,created_at,resolved_at,category\n\
         T1,C1,2025-01-05T08:00:00Z,2025-01-06T08:00:00Z,delivery\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("cxray.toml"),
        "[churn]\ndefinition = \"subscription\"\n\
         [[sources]]\npath = \"lifecycle.csv\"\nentity = \"lifecycle\"\n\
         [[sources]]\npath = \"customers.csv\"\nentity = \"customers\"\n\
         [[sources]]\npath = \"responses.csv\"\n\
         [[sources]]\npath = \"tickets.csv\"\nentity = \"tickets\"\n",
    )
    .unwrap();
}

#[test]
fn retention_by_region_matches_lifelines() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let out = cxray(
        &[
            "retention",
            "--config",
            "cxray.toml",
            "--by",
            "region",
            "--at",
            "30,45",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("cancel before any start"), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // 12 lifecycle events and 7 customers read; the cancel before any start rejected.
    assert_eq!(v["input"]["rows_read"], 12 + 7);
    assert_eq!(v["input"]["rows_rejected"], 1);
    let r = &v["retention"];
    assert_eq!(r["data_end"], "2025-03-02");
    let groups = r["groups"].as_array().unwrap();
    let north = groups
        .iter()
        .find(|g| g["segment"]["region"] == "North")
        .unwrap();
    assert_eq!(
        (north["customers"].as_u64(), north["churned"].as_u64()),
        (Some(3), Some(2))
    );
    // lifelines 0.30.3: KaplanMeierFitter().fit([10, 20, 60], [1, 1, 0]): S(30) = 1/3, band at
    // t = 20 (0.008961628330979068, 0.7741486503608327).
    let h30 = &north["horizons"][0];
    assert!((h30["retained"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!((h30["ci_low"].as_f64().unwrap() - 0.008_961_628_330_979_068).abs() < 1e-9);
    assert!((h30["ci_high"].as_f64().unwrap() - 0.774_148_650_360_832_7).abs() < 1e-9);
    assert_eq!(north["median_days"], 20.0);
    assert!((north["revenue_per_customer"].as_f64().unwrap() - 300.0).abs() < 1e-9);
    let south = groups
        .iter()
        .find(|g| g["segment"]["region"] == "South")
        .unwrap();
    // C7's first spell starts on 2025-01-04 (its cancel before that is rejected).
    assert_eq!(south["customers"], 4);
    // lifelines logrank_test on the same lifetimes (with C7: 57 days, censored).
    let lr = &r["log_rank"];
    assert_eq!(lr["df"], 1);
    assert!(lr["p_value"].as_f64().unwrap() > 0.05);
    assert!(
        lr["verdict"]
            .as_str()
            .unwrap()
            .contains("no significant difference")
    );
}

#[test]
fn retention_without_c7_reproduces_the_lifelines_log_rank() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let lifecycle: String = LIFECYCLE
        .lines()
        .filter(|l| !l.starts_with("C7"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(dir.path().join("lifecycle.csv"), lifecycle).unwrap();
    let out = cxray(
        &[
            "retention",
            "--config",
            "cxray.toml",
            "--by",
            "region",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // lifelines 0.30.3 logrank_test([10, 20, 60], [60, 56, 40], [1, 1, 0], [1, 0, 1]):
    // test statistic 0.1320754716981133, p 0.7162897505408428.
    let lr = &v["retention"]["log_rank"];
    assert!(
        (lr["chi2"].as_f64().unwrap() - 0.132_075_471_698_113_3).abs() < 1e-9,
        "{lr}"
    );
    assert!((lr["p_value"].as_f64().unwrap() - 0.716_289_750_540_842_8).abs() < 1e-9);
    // The table names the groups and the horizons.
    let out = cxray(
        &["retention", "--config", "cxray.toml", "--by", "region"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("region=North") && text.contains("30d"),
        "{text}"
    );
    assert!(text.contains("33.3%"), "{text}");
}

#[test]
fn customer_timeline_collects_every_interaction_in_order() {
    let dir = tempfile::tempdir().unwrap();
    project(dir.path());
    let out = cxray(
        &[
            "customer",
            "C1",
            "--config",
            "cxray.toml",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The lifecycle events are read as they are in the file (the cancel before any start is
    // an interaction too), and reported like every source.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lifecycle.csv: read 12 lifecycle events: 12 accepted"),
        "{err}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = v["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["entity"].as_str().unwrap())
        .collect();
    // start (Jan 1), ticket (Jan 5), NPS answer (Jan 8), cancel (Jan 11); the customers row has
    // no signup date and sorts first.
    assert_eq!(
        kinds,
        [
            "customers",
            "lifecycle",
            "tickets",
            "responses",
            "lifecycle"
        ]
    );
    let answer = &v["interactions"][3];
    assert!(
        answer["summary"]
            .as_str()
            .unwrap()
            .contains("NPS 3: \"Delivery was late again\""),
        "{answer}"
    );
    assert_eq!(v["interactions"][4]["summary"], "cancel");
    // Unknown customers are an input error.
    let out = cxray(&["customer", "C404", "--config", "cxray.toml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no interactions of customer"));
}
