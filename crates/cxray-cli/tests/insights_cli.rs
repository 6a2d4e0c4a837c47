//! End-to-end tests of the insight commands on the demo data and small fixtures: `cxray
//! linkage` recovers the planted churn of detractors, `cxray explain` finds the region and
//! theme of the planted drop and nothing for the planted null effect (device).

mod common;
use common::{cxray, ok};

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn demo(tmp: &Path) -> PathBuf {
    let dir = tmp.join("demo");
    ok(&cxray(
        &["demo", "--dir", dir.to_str().unwrap(), "--no-report"],
        tmp,
    ));
    dir
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[test]
fn demo_insights_recover_the_planted_effects() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());

    // Planted: detractors cancel at 3× the monthly rate of promoters, passives at 1.4×.
    let l = json(&cxray(&["linkage", "-c", "cxray.toml", "-f", "json"], &dir));
    let l = &l["linkage"];
    let hr = |c: &str| {
        l["hazard_ratios"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["category"] == c)
            .unwrap()
            .clone()
    };
    let d = hr("detractor");
    assert_eq!(d["significant"], true, "{d}");
    assert!(d["ci_low"].as_f64().unwrap() > 2.0, "{d}");
    assert!(
        d["ci_low"].as_f64().unwrap() < 3.0 && 3.0 < d["ci_high"].as_f64().unwrap(),
        "the planted 3× inside the interval: {d}"
    );
    let p = hr("passive");
    assert!(p["hazard_ratio"].as_f64().unwrap() < d["hazard_ratio"].as_f64().unwrap());
    let rate = |c: &str| {
        l["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["category"] == c)
            .unwrap()["monthly_churn_pct"]
            .as_f64()
            .unwrap()
    };
    assert!(rate("detractor") > 2.0 * rate("promoter"));
    assert!(
        l["verdict"]
            .as_str()
            .unwrap()
            .starts_with("Detractors churn")
    );
    // Retention curves by the category of the first answer, tested.
    assert_eq!(l["retention"]["groups"].as_array().unwrap().len(), 3);
    assert!(l["retention"]["log_rank"]["p_value"].as_f64().unwrap() < 0.05);

    // Planted: NPS in North falls from 2025-10 (delivery delays); device has no effect.
    let e = json(&cxray(
        &[
            "explain",
            "-c",
            "cxray.toml",
            "--from",
            "2025-09",
            "--to",
            "2025-10",
            "-f",
            "json",
        ],
        &dir,
    ));
    let e = &e["explanation"];
    let ex = e["explanations"].as_array().unwrap();
    let north = ex
        .iter()
        .find(|x| x["kind"] == "segment" && x["name"] == "North")
        .unwrap_or_else(|| panic!("North explains the change: {ex:#?}"));
    assert_eq!(north["dimension"], "region");
    assert!(north["points"].as_f64().unwrap() < 0.0);
    assert!(
        ex.iter()
            .any(|x| x["kind"] == "segment_theme" && x["name"] == "delivery"),
        "delivery comments explain North's drop: {ex:#?}"
    );
    assert_eq!(e["focus"]["segment"], "North");
    assert!(
        ex.iter().all(|x| x["dimension"] != "device"),
        "nothing about device: {ex:#?}"
    );
    // Every part adds up: mix + rate of each dimension is the change.
    let change = e["change"].as_f64().unwrap();
    for d in e["dimensions"].as_array().unwrap() {
        let sum = d["mix"].as_f64().unwrap() + d["rate"].as_f64().unwrap();
        assert!((sum - change).abs() < 1e-9, "{}", d["dimension"]);
    }
    // Every explanation names its evidence.
    for x in ex {
        assert!(x["q_value"].as_f64().unwrap() <= 0.05, "{x}");
    }
}

/// Hand-computed: North NPS +40 → -40 with 10 answers each month; South +20 → +20 with 30.
#[test]
fn explain_splits_a_change_into_mix_and_rate() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("response_id,submitted_at,metric,score,region\n");
    let mut id = 0;
    let mut add = |month: &str, region: &str, score: u8, k: usize| {
        for _ in 0..k {
            id += 1;
            csv.push_str(&format!(
                "R{id},2025-{month}-10T10:00:00Z,nps,{score},{region}\n"
            ));
        }
    };
    add("01", "North", 10, 60);
    add("01", "North", 8, 20);
    add("01", "North", 3, 20);
    add("02", "North", 10, 20);
    add("02", "North", 8, 20);
    add("02", "North", 3, 60);
    for m in ["01", "02"] {
        add(m, "South", 9, 120);
        add(m, "South", 7, 120);
        add(m, "South", 5, 60);
    }
    std::fs::write(tmp.path().join("r.csv"), csv).unwrap();
    let e = json(&cxray(
        &["explain", "r.csv", "--by", "region", "-f", "json"],
        tmp.path(),
    ));
    let e = &e["explanation"];
    assert_eq!(e["before_period"], "2025-01");
    assert_eq!(e["after_period"], "2025-02");
    assert!((e["value_before"].as_f64().unwrap() - 25.0).abs() < 1e-9);
    assert!((e["value_after"].as_f64().unwrap() - 5.0).abs() < 1e-9);
    let seg = &e["dimensions"][0]["segments"][0];
    assert_eq!(seg["segment"], "North");
    assert!((seg["rate"].as_f64().unwrap() + 20.0).abs() < 1e-9);
    assert!(seg["mix"].as_f64().unwrap().abs() < 1e-12);
    assert!(
        e["summary"]
            .as_str()
            .unwrap()
            .starts_with("NPS fell 20.0 points")
    );
    // Bad period labels are usage errors.
    let out = cxray(
        &["explain", "r.csv", "--from", "March", "--to", "2025-02"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from expects a period"));
}
