//! End-to-end tests of the queue, referral and journey metrics: `cxray metrics` on files the
//! test writes, checked against independent computations over the same generated rows, and the
//! exact rejections of impossible rows.

mod common;
use common::cxray;

use std::collections::BTreeMap;

use serde_json::Value;

/// xorshift64: the same numbers on every platform.
struct Rng(u64);

impl Rng {
    fn below(&mut self, m: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % m
    }
}

/// Seconds after 2025-01-01 00:00 UTC as an ISO timestamp.
fn ts(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(1_735_689_600 + seconds, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn month_of(seconds: i64) -> &'static str {
    if seconds < 31 * 86_400 {
        "2025-01"
    } else {
        "2025-02"
    }
}

fn run_json(args: &[&str], dir: &std::path::Path) -> (Value, String) {
    let out = cxray(args, dir);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{err}");
    (serde_json::from_slice(&out.stdout).unwrap(), err)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * (1.0 + b.abs())
}

#[test]
fn queue_metrics_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_cafe);
    // (channel, month, abandoned, wait seconds)
    let mut calls = Vec::new();
    let mut csv = String::from("offered_at,answered_at,abandoned,wait_seconds,channel\n");
    for _ in 0..2000 {
        let offered = rng.below(59 * 86_400) as i64;
        let channel = ["phone", "chat"][rng.below(2) as usize];
        let wait = rng.below(120) as i64;
        let abandoned = rng.below(6) == 0;
        if abandoned {
            csv.push_str(&format!("{},,true,{wait},{channel}\n", ts(offered)));
        } else if rng.below(2) == 0 {
            // Answer time given; the wait column is left blank.
            csv.push_str(&format!(
                "{},{},false,,{channel}\n",
                ts(offered),
                ts(offered + wait)
            ));
        } else {
            // Answered; only the wait is known.
            csv.push_str(&format!("{},,false,{wait},{channel}\n", ts(offered)));
        }
        calls.push((channel, month_of(offered), abandoned, wait));
    }
    csv.push_str("2025-01-05T10:00:00Z,2025-01-05T09:59:00Z,false,,phone\n");
    csv.push_str("2025-01-05T10:00:00Z,2025-01-05T10:01:00Z,true,,phone\n");
    std::fs::write(dir.path().join("contacts.csv"), csv).unwrap();
    let (v, err) = run_json(
        &[
            "metrics",
            "contacts.csv",
            "--metric",
            "abandonment,asa,service_level",
            "--by",
            "channel",
            "--period",
            "month",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(v["input"]["rows_read"], 2002);
    assert_eq!(v["input"]["rows_rejected"], 2);
    assert!(err.contains("answered before it was offered"), "{err}");
    assert!(
        err.contains("marked abandoned but has an answered_at time"),
        "{err}"
    );
    #[derive(Default, Debug)]
    struct Acc {
        offered: u64,
        abandoned: u64,
        short: u64,
        waits: Vec<f64>,
        within: u64,
    }
    let mut acc: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for &(channel, month, abandoned, wait) in &calls {
        let a = acc.entry((channel.into(), month.into())).or_default();
        a.offered += 1;
        if abandoned {
            a.abandoned += 1;
            a.short += (wait < 5) as u64;
        } else {
            a.waits.push(wait as f64);
            a.within += (wait <= 20) as u64;
        }
    }
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3 * 2 * 2);
    for r in rows {
        let a = &acc[&(
            r["segment"]["channel"].as_str().unwrap().to_string(),
            r["period"].as_str().unwrap().to_string(),
        )];
        let value = r["value"].as_f64().unwrap();
        let counted = (a.offered - a.short) as f64;
        match r["metric"].as_str().unwrap() {
            "abandonment" => {
                assert!(close(
                    value,
                    100.0 * (a.abandoned - a.short) as f64 / counted
                ));
                assert_eq!(r["detail"]["short_abandoned"], a.short);
            }
            "asa" => {
                let mean = a.waits.iter().sum::<f64>() / a.waits.len() as f64;
                assert!(close(value, mean), "{value} vs {mean}");
                assert_eq!(r["n"], a.waits.len());
            }
            "service_level" => assert!(close(value, 100.0 * a.within as f64 / counted)),
            other => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn k_factor_and_referral_conversion_by_referrer_region() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0xfeed_beef);
    let regions = ["North", "South"];
    let mut customers = String::from("customer_id,region,signup_at\n");
    // Customer i signs up on day i/10 (so the February base is larger than January's).
    let mut region_of = Vec::new();
    for i in 0..400u64 {
        let r = regions[rng.below(2) as usize];
        region_of.push(r);
        customers.push_str(&format!("C{i},{r},{}\n", ts((i / 10) as i64 * 86_400)));
    }
    let mut referrals = String::from("referrer_id,invited_at,converted_at\n");
    // (region, month) -> per referrer (invitations, conversions)
    let mut per: BTreeMap<(String, String), BTreeMap<u64, (u64, u64)>> = BTreeMap::new();
    for _ in 0..600 {
        let c = rng.below(400);
        let signup = (c / 10) as i64 * 86_400;
        let at = signup + rng.below(59 * 86_400 - signup as u64) as i64;
        let converted = rng.below(4) == 0;
        referrals.push_str(&format!(
            "C{c},{},{}\n",
            ts(at),
            if converted {
                ts(at + 3600)
            } else {
                String::new()
            }
        ));
        let e = per
            .entry((region_of[c as usize].into(), month_of(at).into()))
            .or_default()
            .entry(c)
            .or_default();
        e.0 += 1;
        e.1 += converted as u64;
    }
    referrals.push_str("C1,2025-01-10T10:00:00Z,2025-01-09T10:00:00Z\n");
    std::fs::write(dir.path().join("customers.csv"), customers).unwrap();
    std::fs::write(dir.path().join("referrals.csv"), referrals).unwrap();
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[[sources]]\npath = \"customers.csv\"\nentity = \"customers\"\n\
         [[sources]]\npath = \"referrals.csv\"\nentity = \"referrals\"\n",
    )
    .unwrap();
    let (v, err) = run_json(
        &[
            "metrics",
            "--config",
            "cxray.toml",
            "--metric",
            "kfactor,referral_conversion",
            "--by",
            "region",
            "--period",
            "month",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(
        err.contains("converted before the invitation was sent"),
        "{err}"
    );
    assert_eq!(v["input"]["rows_read"], 601 + 400);
    assert_eq!(v["input"]["rows_rejected"], 1);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 2 * 2);
    for r in rows {
        let region = r["segment"]["region"].as_str().unwrap();
        let month = r["period"].as_str().unwrap();
        let refs = &per[&(region.to_string(), month.to_string())];
        let inv: u64 = refs.values().map(|x| x.0).sum();
        let conv: u64 = refs.values().map(|x| x.1).sum();
        let last_day = if month == "2025-01" { 30 } else { 58 };
        let base = (0..400u64)
            .filter(|&i| region_of[i as usize] == region && (i / 10) as i64 <= last_day)
            .count() as f64;
        let value = r["value"].as_f64().unwrap();
        match r["metric"].as_str().unwrap() {
            "kfactor" => {
                assert!(close(value, conv as f64 / base), "{value} vs {conv}/{base}");
                assert_eq!(r["n"].as_f64().unwrap(), base);
                // Per-customer conversions: the t-interval's standard error.
                let sum_sq: f64 = refs.values().map(|x| (x.1 * x.1) as f64).sum();
                let var = (sum_sq - (conv as f64).powi(2) / base) / (base - 1.0);
                assert!(close(r["se"].as_f64().unwrap(), (var / base).sqrt()));
                assert!(close(
                    r["detail"]["invitations_per_customer"].as_f64().unwrap(),
                    inv as f64 / base
                ));
            }
            "referral_conversion" => {
                assert!(close(value, 100.0 * conv as f64 / inv as f64));
                assert_eq!(r["detail"]["referrers"], refs.len());
            }
            other => panic!("unexpected {other}"),
        }
    }
}

#[test]
fn funnel_steps_in_order_and_cart_abandonment() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x0123_4567);
    let steps = ["visit", "cart", "checkout", "purchase"];
    let mut csv = String::from("session_id,customer_id,step,at,device\n");
    // device -> (started, reached per step, carts, carts bought within 24 h)
    let mut acc: BTreeMap<&str, ([u64; 4], u64, u64)> = BTreeMap::new();
    for s in 0..1500u64 {
        let device = ["ios", "android"][rng.below(2) as usize];
        let mut t = rng.below(20 * 86_400) as i64;
        let e = acc.entry(device).or_default();
        let depth = 1 + rng.below(4) as usize;
        let mut late_purchase = false;
        for (k, step) in steps.iter().take(depth).enumerate() {
            if k == 3 && rng.below(5) == 0 {
                // Bought two days after the cart: the cart still counts as abandoned.
                t += 2 * 86_400;
                late_purchase = true;
            }
            csv.push_str(&format!("S{s},C{s},{step},{},{device}\n", ts(t)));
            e.0[k] += 1;
            t += 30 + rng.below(600) as i64;
        }
        if depth >= 2 {
            e.1 += 1;
            e.2 += (depth == 4 && !late_purchase) as u64;
        }
    }
    // A session whose cart comes before its visit reaches only the visit.
    csv.push_str("Z1,,cart,2025-01-03T10:00:00Z,ios\nZ1,,visit,2025-01-03T10:05:00Z,ios\n");
    let z = acc.get_mut("ios").unwrap();
    z.0[0] += 1;
    z.1 += 1;
    csv.push_str(",,visit,2025-01-03T10:05:00Z,ios\n");
    std::fs::write(dir.path().join("journey.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[[sources]]\npath = \"journey.csv\"\nentity = \"journey\"\n\
         [journey]\nsteps = [\"visit\", \"cart\", \"checkout\", \"purchase\"]\n",
    )
    .unwrap();
    let (v, err) = run_json(
        &[
            "metrics",
            "--config",
            "cxray.toml",
            "--metric",
            "funnel,step_conversion,cart_abandonment",
            "--by",
            "device",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert!(
        err.contains("a journey event needs a session_id or a customer_id"),
        "{err}"
    );
    assert_eq!(v["input"]["rows_rejected"], 1);
    let rows = v["rows"].as_array().unwrap();
    // 4 funnel rows and 3 step conversions per device, one cart row per device.
    assert_eq!(rows.len(), 2 * (4 + 3 + 1));
    for r in rows {
        let device = r["segment"]["device"].as_str().unwrap();
        let (reached, carts, bought) = acc[device];
        let value = r["value"].as_f64().unwrap();
        match r["metric"].as_str().unwrap() {
            "funnel" => {
                let k = steps
                    .iter()
                    .position(|s| *s == r["segment"]["step"].as_str().unwrap())
                    .unwrap();
                assert_eq!(r["detail"]["step_index"], k + 1);
                assert!(close(value, 100.0 * reached[k] as f64 / reached[0] as f64));
                assert_eq!(r["n"], reached[0]);
            }
            "step_conversion" => {
                let k = r["detail"]["step_index"].as_u64().unwrap() as usize - 1;
                assert!(close(
                    value,
                    100.0 * reached[k] as f64 / reached[k - 1] as f64
                ));
            }
            "cart_abandonment" => {
                assert_eq!(r["n"], carts);
                assert!(close(value, 100.0 * (carts - bought) as f64 / carts as f64));
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Funnel rows come in funnel order.
    let order: Vec<&str> = rows
        .iter()
        .filter(|r| r["metric"] == "funnel" && r["segment"]["device"] == "ios")
        .map(|r| r["segment"]["step"].as_str().unwrap())
        .collect();
    assert_eq!(order, steps);
}

/// A project of a journey (steps visit, cart) and its customers, from the two files' texts.
fn journey_with_customers(journey: &str, customers: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("journey.csv"), journey).unwrap();
    std::fs::write(dir.path().join("customers.csv"), customers).unwrap();
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[[sources]]\npath = \"journey.csv\"\nentity = \"journey\"\n\
         [[sources]]\npath = \"customers.csv\"\nentity = \"customers\"\n\
         [journey]\nsteps = [\"visit\", \"cart\"]\n",
    )
    .unwrap();
    dir
}

/// A visit whose first events carry no customer id (before logging in) is one unit, with or
/// without segments from the customers: the funnel by plan adds up to the overall funnel.
#[test]
fn a_visit_that_logs_in_midway_is_one_unit() {
    let dir = journey_with_customers(
        "session_id,customer_id,step,at\n\
         S1,,visit,2025-01-03T10:00:00Z\nS1,C1,cart,2025-01-03T10:01:00Z\n\
         S2,C2,visit,2025-01-03T11:00:00Z\n",
        "customer_id,plan\nC1,basic\nC2,basic\n",
    );
    let funnel = |by: &[&str]| {
        let mut args = vec!["metrics", "-c", "cxray.toml", "--metric", "funnel"];
        args.extend_from_slice(by);
        args.extend_from_slice(&["--format", "json"]);
        let (v, _) = run_json(&args, dir.path());
        let mut rows: Vec<(String, String, u64, f64)> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["segment"]["plan"].as_str().unwrap_or("").to_string(),
                    r["segment"]["step"].as_str().unwrap().to_string(),
                    r["n"].as_u64().unwrap(),
                    r["value"].as_f64().unwrap(),
                )
            })
            .collect();
        rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
        rows
    };
    let overall = funnel(&[]);
    let by_plan = funnel(&["--by", "plan"]);
    assert_eq!(
        overall.iter().map(|r| (&r.1, r.2, r.3)).collect::<Vec<_>>(),
        by_plan.iter().map(|r| (&r.1, r.2, r.3)).collect::<Vec<_>>(),
        "overall {overall:?}, by plan {by_plan:?}"
    );
    assert!(by_plan.iter().all(|r| r.0 == "basic"), "{by_plan:?}");
}

#[test]
fn funnel_segments_can_come_from_the_customers() {
    // Two basic customers both reach the cart; of the two premium ones only one does.
    let dir = journey_with_customers(
        "session_id,customer_id,step,at\n\
         S1,C1,visit,2025-01-03T10:00:00Z\nS1,C1,cart,2025-01-03T10:01:00Z\n\
         S2,C2,visit,2025-01-03T11:00:00Z\nS2,C2,cart,2025-01-03T11:01:00Z\n\
         S3,C3,visit,2025-01-04T10:00:00Z\nS3,C3,cart,2025-01-04T10:05:00Z\n\
         S4,C4,visit,2025-01-04T12:00:00Z\n",
        "customer_id,plan\nC1,basic\nC2,basic\nC3,premium\nC4,premium\n",
    );
    let (v, _) = run_json(
        &[
            "metrics",
            "-c",
            "cxray.toml",
            "--metric",
            "funnel",
            "--by",
            "plan",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let cart: Vec<(String, f64)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["segment"]["step"] == "cart")
        .map(|r| {
            (
                r["segment"]["plan"].as_str().unwrap().to_string(),
                r["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cart,
        [("basic".to_string(), 100.0), ("premium".to_string(), 50.0)]
    );
    // Neither a journey nor a customers column: an input error naming both.
    let out = cxray(
        &[
            "metrics",
            "-c",
            "cxray.toml",
            "--metric",
            "funnel",
            "--by",
            "nope",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("customers.plan"));
}

/// Answers joined to the journey step they follow: NPS by `journey_touchpoint` equals an
/// independent as-of join over the same generated rows (latest event of the customer at or
/// before the answer, within the configured 24 h), including the `none` group.
#[test]
fn nps_by_the_journey_touchpoint_an_answer_follows() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x70c4_5eed);
    let steps = ["visit", "cart", "checkout", "purchase"];
    let mut journey = String::from("session_id,customer_id,step,at\n");
    let mut events: BTreeMap<u64, Vec<(i64, &str)>> = BTreeMap::new();
    for c in 0..300u64 {
        for s in 0..rng.below(4) {
            let mut t = rng.below(58 * 86_400) as i64;
            for step in &steps[..1 + rng.below(4) as usize] {
                journey.push_str(&format!("S{c}-{s},C{c},{step},{}\n", ts(t)));
                events.entry(c).or_default().push((t, step));
                t += 60 + rng.below(600) as i64;
            }
        }
    }
    // Events of no customer are not joined.
    journey.push_str(&format!("X1,,checkout,{}\n", ts(100)));
    let mut responses = String::from("response_id,customer_id,submitted_at,metric,score\n");
    // step -> (promoters, detractors, n)
    let mut expected: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for k in 0..900u64 {
        let c = rng.below(300);
        let t = rng.below(59 * 86_400) as i64;
        let score = rng.below(11) as i64;
        responses.push_str(&format!("R{k},C{c},{},nps,{score}\n", ts(t)));
        let step = events
            .get(&c)
            .and_then(|ev| {
                ev.iter()
                    .filter(|(at, _)| *at <= t && t - at <= 24 * 3600)
                    .max_by_key(|(at, s)| (*at, steps.iter().position(|x| x == s)))
            })
            .map_or("none", |(_, s)| s);
        let e = expected.entry(step.to_string()).or_default();
        e.0 += (score >= 9) as i64;
        e.1 += (score <= 6) as i64;
        e.2 += 1;
    }
    std::fs::write(dir.path().join("journey.csv"), journey).unwrap();
    std::fs::write(dir.path().join("responses.csv"), responses).unwrap();
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[[sources]]\npath = \"responses.csv\"\n\
         [[sources]]\npath = \"journey.csv\"\nentity = \"journey\"\n\
         [journey]\nsteps = [\"visit\", \"cart\", \"checkout\", \"purchase\"]\n\
         touchpoint_window_hours = 24\n",
    )
    .unwrap();
    let (v, err) = run_json(
        &[
            "metrics",
            "-c",
            "cxray.toml",
            "--metric",
            "nps",
            "--by",
            "journey_touchpoint",
            "-f",
            "json",
        ],
        dir.path(),
    );
    let none = expected["none"].2;
    assert!(
        err.contains(&format!(
            "{} answers follow a journey step within 24 h, {none} have none",
            900 - none
        )),
        "{err}"
    );
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), expected.len(), "{rows:#?}");
    for r in rows {
        let step = r["segment"]["journey_touchpoint"].as_str().unwrap();
        let (p, d, n) = expected[step];
        assert_eq!(r["n"], n, "{step}");
        let value = r["value"].as_f64().unwrap();
        assert!(
            close(value, 100.0 * (p - d) as f64 / n as f64),
            "{step}: {value}"
        );
    }
    assert!(
        expected.len() >= 4,
        "the fixture covers several steps: {expected:?}"
    );

    // Without a journey source the column cannot exist: a usage error that says what is needed.
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[[sources]]\npath = \"responses.csv\"\n",
    )
    .unwrap();
    let out = cxray(
        &["metrics", "-c", "cxray.toml", "--by", "journey_touchpoint"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a journey source"), "{err}");
}
