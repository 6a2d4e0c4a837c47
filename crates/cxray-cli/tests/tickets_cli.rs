//! End-to-end tests of ticket metrics: `cxray metrics tickets.csv --metric fcr,…` on a file the
//! test writes, checked against an independent computation over the same generated tickets,
//! and the exact rejections of impossible rows.

mod common;
use common::cxray;

use std::collections::BTreeMap;

use serde_json::Value;

/// One generated ticket (times in minutes after 2025-01-01 00:00 UTC).
struct Ticket {
    id: u32,
    channel: &'static str,
    created: i64,
    first_response: Option<i64>,
    resolved: Option<i64>,
    contacts: u32,
    reopened: bool,
    handle: u32,
}

fn tickets(n: u32) -> Vec<Ticket> {
    let mut x: u64 = 0x7153_7ca7;
    let mut next = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    (0..n)
        .map(|id| {
            let channel = ["email", "chat", "phone"][next(3) as usize];
            let created = next(60 * 24 * 59) as i64; // January and February
            let fr = (next(10) != 0).then(|| created + 1 + next(600) as i64);
            let resolved = match fr {
                Some(f) if next(5) != 0 => Some(f + next(5000) as i64),
                _ => None,
            };
            Ticket {
                id,
                channel,
                created,
                first_response: fr,
                resolved,
                contacts: 1 + (next(4) == 0) as u32 + (next(8) == 0) as u32,
                reopened: next(12) == 0,
                handle: 60 + next(900) as u32,
            }
        })
        .collect()
}

fn ts(minutes: i64) -> String {
    let t = chrono::DateTime::from_timestamp(1_735_689_600 + minutes * 60, 0).unwrap();
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn write(dir: &std::path::Path, ts_list: &[Ticket]) {
    let mut s = String::from(
        "ticket_id,created_at,first_response_at,resolved_at,contacts,reopened,channel,handle_seconds\n",
    );
    for t in ts_list {
        s.push_str(&format!(
            "T{},{},{},{},{},{},{},{}\n",
            t.id,
            ts(t.created),
            t.first_response.map(ts).unwrap_or_default(),
            t.resolved.map(ts).unwrap_or_default(),
            t.contacts,
            t.reopened,
            t.channel,
            t.handle
        ));
    }
    // Impossible rows, each rejected with its reason.
    s.push_str("X1,2025-01-05T10:00:00Z,,2025-01-04T10:00:00Z,1,false,email,100\n");
    s.push_str("X2,2025-01-05T10:00:00Z,,,1,false,email,-5\n");
    s.push_str("X3,2025-01-05T10:00:00Z,,,0,false,email,100\n");
    s.push_str("T0,2025-01-05T10:00:00Z,,,1,false,email,100\n");
    std::fs::write(dir.join("tickets.csv"), s).unwrap();
}

fn rows(v: &Value) -> Vec<&Value> {
    v["rows"].as_array().unwrap().iter().collect()
}

#[test]
fn ticket_metrics_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let ts_list = tickets(3000);
    write(dir.path(), &ts_list);
    let out = cxray(
        &[
            "metrics",
            "tickets.csv",
            "--metric",
            "tickets,fcr,reopen,aht,frt,ttr",
            "--by",
            "channel",
            "--period",
            "month",
            "--format",
            "json",
            "--rejects",
            "rejects.csv",
        ],
        dir.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["input"]["rows_read"], 3004);
    assert_eq!(v["input"]["rows_accepted"], 3000);
    assert_eq!(v["input"]["rows_rejected"], 4);
    let rejects = std::fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
    for reason in [
        "ticket resolved before it was created",
        "negative handle seconds: must be 0 or more",
        "contacts must be at least 1",
        "duplicate ticket_id (first seen on line 2); the first is kept",
    ] {
        assert!(rejects.contains(reason), "{reason} in {rejects}");
    }

    // Independent computation per (metric, channel, month).
    #[derive(Default)]
    struct Acc {
        n: u64,
        resolved: u64,
        fcr: u64,
        reopened: u64,
        handle: Vec<f64>,
        frt: Vec<f64>,
        ttr: Vec<f64>,
    }
    let mut acc: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for t in &ts_list {
        let month = if t.created < 31 * 24 * 60 {
            "2025-01"
        } else {
            "2025-02"
        };
        let a = acc
            .entry((t.channel.to_string(), month.to_string()))
            .or_default();
        a.n += 1;
        a.handle.push(t.handle as f64);
        if let Some(f) = t.first_response {
            a.frt.push(((f - t.created) * 60) as f64);
        }
        if let Some(r) = t.resolved {
            a.resolved += 1;
            a.ttr.push(((r - t.created) * 60) as f64);
            a.reopened += t.reopened as u64;
            a.fcr += (t.contacts == 1 && !t.reopened) as u64;
        }
    }
    let rows = rows(&v);
    assert_eq!(rows.len(), 6 * 6, "6 metrics × 3 channels × 2 months");
    let lower_quantile = |v: &[f64], q: f64| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[(q * (s.len() - 1) as f64).floor() as usize]
    };
    for r in rows {
        let key = (
            r["segment"]["channel"].as_str().unwrap().to_string(),
            r["period"].as_str().unwrap().to_string(),
        );
        let a = &acc[&key];
        let value = r["value"].as_f64().unwrap();
        let n = r["n"].as_u64().unwrap();
        match r["metric"].as_str().unwrap() {
            "tickets" => assert_eq!((value, n), (a.n as f64, a.n)),
            "fcr" => {
                assert_eq!(n, a.resolved);
                assert!((value - 100.0 * a.fcr as f64 / a.resolved as f64).abs() < 1e-9);
                assert!(r["ci_low"].as_f64().unwrap() < value);
            }
            "reopen" => {
                assert!((value - 100.0 * a.reopened as f64 / a.resolved as f64).abs() < 1e-9)
            }
            "aht" => {
                let mean = a.handle.iter().sum::<f64>() / a.handle.len() as f64;
                assert!((value - mean).abs() < 1e-9);
            }
            "frt" => {
                assert_eq!(n, a.frt.len() as u64);
                let exact = lower_quantile(&a.frt, 0.5);
                assert!(
                    (value - exact).abs() <= exact * 0.005 + 1e-9,
                    "{value} vs {exact}"
                );
                let p90 = r["detail"]["p90"].as_f64().unwrap();
                let exact90 = lower_quantile(&a.frt, 0.9);
                assert!((p90 - exact90).abs() <= exact90 * 0.005 + 1e-9);
                assert!(r["ci_low"].as_f64().unwrap() <= value);
                assert!(r["ci_high"].as_f64().unwrap() >= value);
            }
            "ttr" => {
                let exact = lower_quantile(&a.ttr, 0.5);
                assert!(
                    (value - exact).abs() <= exact * 0.005 + 1e-9,
                    "{value} vs {exact}"
                );
            }
            other => panic!("unexpected metric {other}"),
        }
    }
}

#[test]
fn table_output_names_ticket_metrics() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &tickets(200));
    let out = cxray(
        &["metrics", "tickets.csv", "--metric", "fcr,frt"],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("First contact resolution"), "{text}");
    assert!(text.contains("First response time"), "{text}");
    assert!(
        text.contains("204 rows read, 200 accepted, 4 rejected"),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("read 204 tickets: 200 accepted, 4 rejected"),
        "{err}"
    );
}

#[test]
fn a_reopen_after_the_window_keeps_first_contact_resolution() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.csv"),
        "ticket_id,created_at,resolved_at,contacts,reopened_at\n\
         A,2025-03-01T10:00:00Z,2025-03-01T12:00:00Z,1,2025-03-03T12:00:00Z\n\
         B,2025-03-01T10:00:00Z,2025-03-01T12:00:00Z,1,2025-03-11T12:00:00Z\n\
         C,2025-03-01T10:00:00Z,2025-03-01T12:00:00Z,1,\n\
         D,2025-03-01T10:00:00Z,2025-03-01T12:00:00Z,1,2025-03-01T11:00:00Z\n",
    )
    .unwrap();
    let out = cxray(
        &[
            "metrics",
            "t.csv",
            "--metric",
            "fcr,reopen",
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
    let rows = rows(&v);
    // A reopened within 7 days: not FCR; B reopened after 10 days: FCR; C: FCR. D is rejected
    // (reopened before it was resolved).
    assert_eq!(rows[0]["metric"], "fcr");
    assert!((rows[0]["value"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert!((rows[1]["value"].as_f64().unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(v["input"]["rows_rejected"], 1);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ticket reopened before it was resolved")
    );
}

#[test]
fn business_hours_measure_response_and_resolution_in_open_hours() {
    let dir = tempfile::tempdir().unwrap();
    // Amsterdam local times (UTC+1 in March): created Friday 16:00, answered Monday 10:00,
    // resolved Tuesday 10:00. Monday is a holiday: the answer took 1 business hour (Friday
    // 16-17), the resolution 2 (Friday 16-17 and Tuesday 9-10).
    std::fs::write(
        dir.path().join("t.csv"),
        "ticket_id,created_at,first_response_at,resolved_at\n\
         A,2024-03-01T15:00:00Z,2024-03-04T09:00:00Z,2024-03-05T09:00:00Z\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[project]\ntimezone = \"Europe/Amsterdam\"\n\
         [tickets]\nbusiness_hours = \"Mon-Fri 09:00-17:00\"\nholidays = [\"2024-03-04\"]\n\
         [[sources]]\npath = \"t.csv\"\nentity = \"tickets\"\n",
    )
    .unwrap();
    let out = cxray(
        &[
            "metrics",
            "-c",
            "cxray.toml",
            "--metric",
            "frt,ttr",
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
    let rows = rows(&v);
    let frt = rows[0]["value"].as_f64().unwrap();
    assert!((frt - 3600.0).abs() <= 3600.0 * 0.005, "{frt}");
    let ttr = rows[1]["value"].as_f64().unwrap();
    assert!((ttr - 2.0 * 3600.0).abs() <= 7200.0 * 0.005, "{ttr}");
    assert!(
        rows[0]["detail"]["definition"]
            .as_str()
            .unwrap()
            .contains("business seconds (Mon,Tue,Wed,Thu,Fri 09:00-17:00, 1 holidays)")
    );
    // A bad calendar is a clear input error.
    std::fs::write(
        dir.path().join("cxray.toml"),
        "[tickets]\nbusiness_hours = \"weekdays\"\n[[sources]]\npath = \"t.csv\"\nentity = \"tickets\"\n",
    )
    .unwrap();
    let out = cxray(
        &["metrics", "-c", "cxray.toml", "--metric", "frt"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Mon-Fri 09:00-17:00"));
}

#[test]
fn backlog_counts_tickets_open_at_the_end_of_each_period() {
    let dir = tempfile::tempdir().unwrap();
    // Open at the end of January: B, C; February: C, D (F opened and closed in February);
    // March: C, E, G (D resolved on 1 March).
    std::fs::write(
        dir.path().join("t.csv"),
        "ticket_id,created_at,resolved_at\n\
         A,2025-01-10T10:00:00Z,2025-01-20T10:00:00Z\n\
         B,2025-01-15T10:00:00Z,2025-02-05T10:00:00Z\n\
         C,2025-01-20T10:00:00Z,\n\
         D,2025-02-10T10:00:00Z,2025-03-01T10:00:00Z\n\
         F,2025-02-12T10:00:00Z,2025-02-13T10:00:00Z\n\
         E,2025-03-05T10:00:00Z,\n\
         G,2025-03-06T10:00:00Z,\n",
    )
    .unwrap();
    let backlog = |extra: &[&str]| -> Vec<(Option<String>, u64, Value)> {
        let mut args = vec![
            "metrics", "t.csv", "--metric", "backlog", "--format", "json",
        ];
        args.extend_from_slice(extra);
        let out = cxray(&args, dir.path());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        rows(&v)
            .into_iter()
            .map(|r| {
                (
                    r["period"].as_str().map(String::from),
                    r["value"].as_f64().unwrap() as u64,
                    r["detail"].clone(),
                )
            })
            .collect()
    };
    let monthly = backlog(&["--period", "month"]);
    let values: Vec<(Option<&str>, u64)> =
        monthly.iter().map(|(p, v, _)| (p.as_deref(), *v)).collect();
    assert_eq!(
        values,
        [
            (Some("2025-01"), 2),
            (Some("2025-02"), 2),
            (Some("2025-03"), 3)
        ]
    );
    let feb = &monthly[1].2;
    assert_eq!(
        (
            feb["open_at_start"].as_u64(),
            feb["created"].as_u64(),
            feb["resolved"].as_u64()
        ),
        (Some(2), Some(2), Some(2))
    );
    // From February on, January's open tickets still count at the start of February.
    let since = backlog(&["--period", "month", "--since", "2025-02-01"]);
    assert_eq!(since[0].0.as_deref(), Some("2025-02"));
    assert_eq!(since[0].2["open_at_start"], 2);
    // Without periods: open at the end of the data.
    let all = backlog(&[]);
    assert_eq!((all[0].0.as_deref(), all[0].1), (None, 3));

    // A ticket resolved at 23:30 UTC on 31 January is resolved on 1 February in Amsterdam:
    // still open at the end of January there, not in UTC.
    std::fs::write(
        dir.path().join("t.csv"),
        "ticket_id,created_at,resolved_at\n\
         H,2025-01-10T10:00:00Z,2025-01-31T23:30:00Z\n",
    )
    .unwrap();
    let utc = backlog(&["--period", "month"]);
    let amsterdam = backlog(&["--period", "month", "--timezone", "Europe/Amsterdam"]);
    assert_eq!((utc[0].0.as_deref(), utc[0].1), (Some("2025-01"), 0));
    assert_eq!(
        (amsterdam[0].0.as_deref(), amsterdam[0].1),
        (Some("2025-01"), 1)
    );
}
