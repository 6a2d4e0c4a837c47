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

/// The command line's contract for the analyses: CSV is not a format of the summary analyses
/// (a usage error, not a table in disguise), and a request that does not fit the data exits
/// with code 2 naming the flag. The analyses themselves are tested in-process
/// (crates/cxray-project/tests/insights.rs).
#[test]
fn analysis_commands_reject_what_they_cannot_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let out = cxray(&["drivers", "-c", "cxray.toml", "-f", "csv"], &dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--format") && err.contains("table, json"),
        "{err}"
    );
    let out = cxray(
        &["drivers", "-c", "cxray.toml", "--drivers", "nps,value"],
        &dir,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--drivers: 'nps' is the outcome"), "{err}");
    let d = json(&cxray(&["drivers", "-c", "cxray.toml", "-f", "json"], &dir));
    assert_eq!(d["drivers"]["fix_first"], serde_json::json!(["delivery"]));
}

/// Answers are matched to the latest invitation of the same customer and survey sent within
/// the window; other surveys' answers are not invitation answers.
#[test]
fn nonresponse_matches_answers_to_invitations() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("invitations.csv"),
        "customer_id,survey,sent_at,tier
C1,rel,2025-01-01T09:00:00Z,gold
C1,rel,2025-03-01T09:00:00Z,gold
C2,rel,2025-01-01T09:00:00Z,gold
C3,rel,2025-01-01T09:00:00Z,basic
C4,rel,2025-01-01T09:00:00Z,basic
",
    )
    .unwrap();
    // C1 answers the March invitation; C2 answers 40 days late (unmatched); C3 answers a
    // different survey (not counted); C4 answers twice the same invitation.
    std::fs::write(
        d.join("responses.csv"),
        "response_id,customer_id,submitted_at,metric,score,survey
R1,C1,2025-03-02T09:00:00Z,nps,9,rel
R2,C2,2025-02-10T09:00:00Z,nps,3,rel
R3,C3,2025-01-02T09:00:00Z,nps,10,support
R4,C4,2025-01-03T09:00:00Z,nps,7,rel
R5,C4,2025-01-05T09:00:00Z,nps,8,rel
",
    )
    .unwrap();
    std::fs::write(
        d.join("cxray.toml"),
        "[[sources]]\npath = \"invitations.csv\"\nentity = \"invitations\"\n\
         [[sources]]\npath = \"responses.csv\"\n",
    )
    .unwrap();
    let n = json(&cxray(
        &[
            "nonresponse",
            "-c",
            "cxray.toml",
            "--by",
            "tier",
            "-f",
            "json",
        ],
        d,
    ));
    assert_eq!(n["unmatched_answers"], 1);
    let r = &n["nonresponse"];
    assert_eq!(
        (r["invited"].as_u64(), r["answered"].as_u64()),
        (Some(5), Some(2))
    );
    let seg = &r["dimensions"][0]["segments"];
    // basic: C3 (other survey) and C4 (answered); gold: C1 twice (one answered), C2 (late).
    assert_eq!(seg[0]["segment"], "basic");
    assert_eq!(
        (seg[0]["invited"].as_u64(), seg[0]["answered"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        (seg[1]["invited"].as_u64(), seg[1]["answered"].as_u64()),
        (Some(3), Some(1))
    );
    // Unknown columns are usage errors.
    let out = cxray(&["nonresponse", "-c", "cxray.toml", "--by", "nope"], d);
    assert_eq!(out.status.code(), Some(2));
    // Population margins from the config: gold is 80% of the population, basic 20%; one
    // respondent in each, so the gold respondent weighs 4× the basic one (weights relative to
    // the mean: 1.6 and 0.4).
    std::fs::write(
        d.join("m.toml"),
        "[[sources]]\npath = \"invitations.csv\"\nentity = \"invitations\"\n\
         [[sources]]\npath = \"responses.csv\"\n[margins.tier]\ngold = 0.8\nbasic = 0.2\n",
    )
    .unwrap();
    let n = json(&cxray(
        &[
            "nonresponse",
            "-c",
            "m.toml",
            "--by",
            "tier",
            "--rake-on",
            "tier",
            "-f",
            "json",
        ],
        d,
    ));
    let w = &n["nonresponse"]["weighting"];
    assert_eq!(w["margins_from"], "config");
    assert!(
        (w["max_weight"].as_f64().unwrap() - 1.6).abs() < 1e-9,
        "{w}"
    );
    assert!(
        (w["min_weight"].as_f64().unwrap() - 0.4).abs() < 1e-9,
        "{w}"
    );
    // C1 (gold) answered 9 (a promoter); C4 (basic) answered 7 and 8 to the same invitation
    // (two passives, each weighing 0.4): weighted NPS = 1.6·100 / (1.6 + 0.4 + 0.4) = 66.7.
    let nps = &w["metrics"][0];
    assert!(
        (nps["weighted"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-6,
        "{nps}"
    );
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
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--from") && err.contains("expects a period such as 2025-03"),
        "{err}"
    );
}

/// Alerts: the demo's North region fires (exit code 3) with its evidence; follow-ups are the
/// unhappy answers of the evaluated month; a config without rules is a usage error.
#[test]
fn alerts_fire_with_exit_code_3() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = demo(tmp.path());
    let out = cxray(&["alerts", "-c", "cxray.toml", "-f", "json"], &dir);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = a["results"].as_array().unwrap();
    let fired: Vec<&Value> = results.iter().filter(|r| r["status"] == "fired").collect();
    assert!(
        fired
            .iter()
            .any(|r| r["segment"] == "North" && r["rule"] == "Region NPS below zero"),
        "{fired:#?}"
    );
    for r in &fired {
        assert!(r["ci_high"].as_f64().unwrap() < 0.0 || r["rule"] != "Region NPS below zero");
        assert!(r["n"].as_u64().unwrap() >= 30);
    }
    let follow = a["follow_up"].as_array().unwrap();
    assert!(!follow.is_empty());
    for f in follow {
        let s = f["score"].as_f64().unwrap();
        match f["metric"].as_str().unwrap() {
            "nps" => assert!(s <= 6.0),
            _ => assert!(s <= 2.0),
        }
        assert!(
            f["submitted"]
                .as_str()
                .unwrap()
                .starts_with(a["results"][0]["period"].as_str().unwrap())
        );
    }

    // A significant drop, and a quiet month that does not fire.
    let d = tmp.path();
    let mut csv = String::from("response_id,submitted_at,metric,score\n");
    let mut id = 0;
    for (month, promoters, detractors) in [("01", 70, 10), ("02", 68, 12), ("03", 30, 50)] {
        for (score, k) in [(10, promoters), (8, 20), (2, detractors)] {
            for _ in 0..k {
                id += 1;
                csv.push_str(&format!("R{id},2025-{month}-05T10:00:00Z,nps,{score}\n"));
            }
        }
    }
    std::fs::write(d.join("r.csv"), csv).unwrap();
    std::fs::write(
        d.join("a.toml"),
        "[[sources]]\npath = \"r.csv\"\n[[alerts]]\nmetric = \"nps\"\nsignificant_drop = true\nmin_drop = 10\n",
    )
    .unwrap();
    let out = cxray(&["alerts", "-c", "a.toml", "-f", "json"], d);
    assert_eq!(out.status.code(), Some(3));
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["results"][0]["period"], "2025-03");
    assert!(
        (a["results"][0]["change"].as_f64().unwrap() + 76.0).abs() < 1e-9,
        "56 → -20"
    );
    let out = cxray(&["alerts", "-c", "a.toml", "--at", "2025-02"], d);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    std::fs::write(d.join("b.toml"), "[[sources]]\npath = \"r.csv\"\n").unwrap();
    let out = cxray(&["alerts", "-c", "b.toml"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no alert rules"));
}
