//! End-to-end tests of `cxray demo` and `cxray report`: the planted effects of the demo data
//! appear in the highlights of the JSON report, the planted null effect does not, and every
//! output format renders.

mod common;
use common::{cxray, ok};

use serde_json::Value;

fn highlights(doc: &Value) -> Vec<Value> {
    doc["report"]["highlights"].as_array().unwrap().clone()
}

fn has(hs: &[Value], metric: &str, dimension: &str, segment: &str, direction: &str) -> bool {
    hs.iter().any(|h| {
        h["metric"] == metric
            && h["dimension"] == dimension
            && h["segment"] == segment
            && h["direction"] == direction
    })
}

#[test]
fn demo_report_finds_the_planted_effects_and_not_the_null_effect() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let text = ok(&cxray(
        &["demo", "--dir", dir.to_str().unwrap()],
        tmp.path(),
    ));
    assert!(text.contains("Highlights"), "{text}");
    assert!(text.contains("HTML report:"), "{text}");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let hs = highlights(&doc);
    assert!((3..=9).contains(&hs.len()), "3-9 highlights: {hs:#?}");
    // Planted: NPS in region North drops from the third-last month (delivery delays).
    assert!(
        has(&hs, "nps", "region", "North", "down"),
        "North NPS drop: {hs:#?}"
    );
    let north = hs
        .iter()
        .find(|h| h["metric"] == "nps" && h["segment"] == "North")
        .unwrap();
    assert_eq!(north["kind"], "segment_shift");
    assert!(
        north["text"].as_str().unwrap().contains("Oct 2025"),
        "{north}"
    );
    // Planted: CES is worse (lower ease) on the phone channel.
    assert!(
        has(&hs, "ces", "channel", "phone", "down"),
        "phone CES: {hs:#?}"
    );
    // Planted null effect: device has no effect on anything.
    assert!(
        hs.iter().all(|h| h["dimension"] != "device"),
        "no highlight about device: {hs:#?}"
    );
    // Only significant results become highlights, each with its evidence.
    let alpha = doc["report"]["alpha"].as_f64().unwrap();
    for h in &hs {
        let c = &h["change"];
        assert_eq!(c["significant"], true, "{h}");
        assert!(c["q_value"].as_f64().unwrap() <= alpha, "{h}");
        assert!(h["n"].as_u64().unwrap() > 0);
        let section = h["section"].as_str().unwrap();
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(
            html.contains(&format!("id=\"{section}\"")),
            "evidence section {section} exists"
        );
    }
    // Why: every analysis finds its planted effect, names its evidence and links to it;
    // the null effect (device) appears in none of them.
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let ins = &doc["report"]["insights"];
    let kinds: Vec<&str> = ins["findings"]
        .as_array()
        .expect("insights section")
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["change", "drivers", "linkage", "nonresponse"]);
    for f in ins["findings"].as_array().unwrap() {
        let text = f["text"].as_str().unwrap();
        // n, and an interval or a test.
        assert!(
            [" q ", " p ", " CI "].iter().any(|e| text.contains(e)) && text.contains(" n "),
            "evidence in {text}"
        );
        assert!(!text.contains("device"), "{text}");
        assert!(html.contains(&format!("id=\"{}\"", f["section"].as_str().unwrap())));
    }
    let change = &ins["change"];
    assert_eq!(change["focus"]["segment"], "North");
    assert!(
        change["explanations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["kind"] == "segment_theme" && x["name"] == "delivery")
    );
    assert_eq!(ins["drivers"]["drivers"][0]["driver"], "delivery");
    assert_eq!(ins["drivers"]["fix_first"], serde_json::json!(["delivery"]));
    assert!(
        ins["linkage"]["hazard_ratios"][1]["hazard_ratio"]
            .as_f64()
            .unwrap()
            > 2.0
    );
    // Raked on age band (planted); never on device. Other dimensions may differ by the chance
    // age mix of 5,000 customers.
    let raked = ins["nonresponse"]["weighting"]["raked_on"]
        .as_array()
        .unwrap();
    assert!(raked.contains(&"age_band".into()), "{raked:?}");
    assert!(!raked.contains(&"device".into()), "{raked:?}");
    // Planted: answers right after a checkout without purchase score ~2.5 points lower, so
    // checkout is the worst touchpoint, significantly below the rest; the answers were joined
    // to the journey step they follow.
    let by_tp = doc["report"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["metric"] == "nps" && s["dimension"] == "journey_touchpoint")
        .expect("NPS by journey touchpoint");
    let worst = &by_tp["rows"][0];
    assert_eq!(worst["row"]["segment"]["journey_touchpoint"], "checkout");
    assert_eq!(worst["vs_rest"]["significant"], true, "{worst}");
    assert!(
        worst["vs_rest"]["difference"].as_f64().unwrap() < -30.0,
        "{worst}"
    );
    for r in by_tp["rows"].as_array().unwrap().iter().skip(1) {
        let v = &r["vs_rest"];
        assert!(
            v["significant"] != true || v["difference"].as_f64().unwrap() > 0.0,
            "only checkout is significantly worse: {r}"
        );
    }
    assert!(
        hs.iter()
            .any(|h| h["dimension"] == "journey_touchpoint" && h["segment"] == "checkout"),
        "checkout touchpoint highlight: {hs:#?}"
    );
    // Planted theme: comments about delivery rise in North and go with detractors.
    let themes = &doc["report"]["themes"];
    let emerging = themes["emerging"].as_array().expect("themes section");
    assert!(
        emerging.iter().any(|e| e["theme"] == "delivery"
            && e["dimension"] == "region"
            && e["segment"] == "North"
            && e["change"]["significant"] == true),
        "delivery emerging in North: {emerging:#?}"
    );
    assert!(
        emerging.iter().all(|e| e["dimension"] != "device"),
        "no emerging theme by device: {emerging:#?}"
    );
    let impacts = themes["impacts"].as_array().unwrap();
    let delivery = impacts
        .iter()
        .find(|i| i["theme"] == "delivery" && i["metric"] == "nps")
        .expect("delivery drives NPS");
    assert!(delivery["impact"].as_f64().unwrap() < 0.0, "{delivery}");
    assert!(delivery["value_with"].as_f64().unwrap() < delivery["value_without"].as_f64().unwrap());
    assert!(
        hs.iter()
            .any(|h| h["kind"] == "emerging_theme" && h["segment"] == "North"),
        "emerging theme highlight: {hs:#?}"
    );
    assert!(
        hs.iter()
            .any(|h| h["kind"] == "theme_driver" && h["segment"] == "delivery"),
        "theme driver highlight: {hs:#?}"
    );
    let quoted = themes["themes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["theme"] == "delivery")
        .unwrap()["examples"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!quoted.is_empty(), "delivery comments are quoted");
    let responses = std::fs::read_to_string(dir.join("data/responses.csv")).unwrap();
    for q in &quoted {
        let q = q.as_str().unwrap();
        assert!(
            responses
                .replace("\"\"", "\"")
                .contains(q.trim_end_matches('…')),
            "quoted verbatim: {q}"
        );
    }
    // Operations: every operational family of the demo, the delivery tickets as a recurring
    // issue (a highlight with its evidence), the funnel in order, retention by signup quarter
    // without the customers whose early months are not in the data.
    let ops = &doc["report"]["operations"];
    let items: Vec<&str> = ops["items"]
        .as_array()
        .expect("operations section")
        .iter()
        .map(|i| i["metric"].as_str().unwrap())
        .collect();
    for m in [
        "tickets",
        "fcr",
        "frt",
        "ttr",
        "aht",
        "reopen",
        "churn",
        "reactivation",
        "abandonment",
        "asa",
        "service_level",
        "kfactor",
        "referral_conversion",
        "cart_abandonment",
    ] {
        assert!(items.contains(&m), "{m} in operations: {items:?}");
    }
    let issues = ops["recurring_issues"].as_array().unwrap();
    assert_eq!(issues[0]["category"], "delivery", "{issues:#?}");
    assert_eq!(issues[0]["change"]["significant"], true);
    assert!(
        hs.iter()
            .any(|h| h["kind"] == "recurring_issue" && h["segment"] == "delivery"),
        "recurring issue highlight: {hs:#?}"
    );
    // Friction points are computed by every dimension of the customers (the journey has none
    // of its own) and the null effect, device, has none.
    let friction = ops["friction_points"].as_array().expect("friction points");
    assert!(
        friction.iter().all(|f| f["dimension"] != "device"),
        "{friction:#?}"
    );
    let steps: Vec<&str> = ops["funnel"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["segment"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["visit", "cart", "checkout", "purchase"]);
    let retention = &ops["retention"];
    assert!(retention["left_out"].as_u64().unwrap() > 0);
    assert_eq!(retention["observed_from"], "2024-01-01");
    assert!(
        retention["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["cohort"].as_str().unwrap() >= "2024-Q1")
    );
    // The device breakdown exists (the null effect is analysed, just not reported).
    let segs = doc["report"]["segments"].as_array().unwrap();
    assert!(segs.iter().any(|s| s["dimension"] == "device"));
    // The same seed gives the same report.
    let dir2 = tmp.path().join("demo2");
    ok(&cxray(
        &["demo", "--dir", dir2.to_str().unwrap(), "--no-report"],
        tmp.path(),
    ));
    let out = ok(&cxray(
        &[
            "report",
            "--config",
            dir2.join("cxray.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
        tmp.path(),
    ));
    let doc2: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc2["report"], doc["report"]);
}

#[test]
fn report_formats_render_every_section() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    ok(&cxray(
        &[
            "demo",
            "--dir",
            dir.to_str().unwrap(),
            "--customers",
            "1500",
            "--months",
            "14",
            "--no-report",
        ],
        tmp.path(),
    ));
    let cfg = dir.join("cxray.toml");
    let cfg = cfg.to_str().unwrap();
    let html = ok(&cxray(
        &["report", "-c", cfg, "-f", "html", "--by", "region,channel"],
        tmp.path(),
    ));
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "no JavaScript");
    // The only URL is the SVG namespace; nothing is fetched.
    assert!(!html.contains("https://"), "no network resources");
    assert!(
        !html
            .replace("http://www.w3.org/2000/svg", "")
            .contains("http://")
    );
    for id in [
        "highlights",
        "scorecard",
        "trends",
        "segments",
        "themes",
        "operations",
        "distributions",
        "data-quality",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
    }
    // One trend and one distribution chart per metric (NPS, CSAT and CES of the files, stars
    // and task completion of the store), one segment chart per metric and dimension with two
    // segments or more (the operations section has trends of its own, a funnel and retention curves).
    let (survey, operations) = html.split_once("id=\"operations\"").unwrap();
    assert_eq!(survey.matches("data-chart=\"trend\"").count(), 5);
    assert!(operations.matches("data-chart=\"trend\"").count() >= 10);
    assert_eq!(operations.matches("data-chart=\"funnel\"").count(), 1);
    assert_eq!(operations.matches("data-chart=\"retention\"").count(), 1);
    assert_eq!(html.matches("data-chart=\"distribution\"").count(), 5);
    // The store's answers all come from the web channel: no chart by channel for them.
    assert_eq!(html.matches("data-chart=\"segments\"").count(), 3 * 2 + 2);
    assert_eq!(html.matches("data-chart=\"themes\"").count(), 1);
    let md = ok(&cxray(
        &["report", "-c", cfg, "-f", "md", "--by", "region"],
        tmp.path(),
    ));
    assert!(md.starts_with("# Demo retailer"));
    assert!(md.contains("## Scorecard") && md.contains("| metric | current |"));
    assert!(md.contains("## Operations") && md.contains("### Retention by signup quarter"));
    let text = ok(&cxray(&["report", "-c", cfg, "--by", "region"], tmp.path()));
    // Lines fit 80 columns, except unbreakable file paths.
    assert!(
        text.lines()
            .all(|l| l.chars().count() <= 80 || l.contains('/')),
        "{text}"
    );
    // Unknown dimensions are a usage error.
    let out = cxray(&["report", "-c", cfg, "--by", "nope"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
}
