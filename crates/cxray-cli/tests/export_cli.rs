//! `cxray export`: what a store holds becomes files the analyses read; bad stores are input
//! errors.

mod common;
use common::{cxray, ok};

use cxray_store::{NewAnswer, NewResponse, Record, Store};
use serde_json::Value;

#[test]
fn collected_answers_are_counted_by_the_analyses_after_export() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path().join("cxray.db")).unwrap();
        // 6 promoters, 2 passives, 4 detractors: NPS = (6 - 4) / 12 = 16.7.
        let scores = [
            10.0, 9.0, 9.0, 10.0, 9.0, 10.0, 7.0, 8.0, 0.0, 3.0, 6.0, 5.0,
        ];
        let batch = scores
            .iter()
            .enumerate()
            .map(|(i, s)| {
                Record::Response(NewResponse {
                    response_id: format!("R{i}"),
                    customer_id: Some(format!("C{i}")),
                    submitted_at: 1_735_729_200_000_000 + i as i64,
                    answers: vec![
                        NewAnswer {
                            metric: "nps".into(),
                            score: Some(*s),
                            comment: None,
                        },
                        NewAnswer {
                            metric: "csat".into(),
                            score: Some(4.0),
                            comment: None,
                        },
                    ],
                    ..Default::default()
                })
            })
            .collect();
        store.write_blocking(batch).unwrap();
    }
    let out = cxray(&["export", "--db", "cxray.db", "-o", "out"], dir.path());
    let listed = ok(&out);
    assert!(
        listed.lines().any(|l| l.ends_with("responses.csv")),
        "{listed}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("responses.csv: 24 answers"), "{err}");

    let out = cxray(
        &[
            "metrics",
            "out/responses.csv",
            "--metric",
            "nps",
            "-f",
            "json",
        ],
        dir.path(),
    );
    let v: Value = serde_json::from_str(&ok(&out)).unwrap();
    let nps = &v["rows"][0];
    assert_eq!(nps["metric"], "nps");
    assert_eq!(nps["n"], 12);
    assert!(
        (nps["value"].as_f64().unwrap() - 200.0 / 12.0).abs() < 1e-9,
        "{nps}"
    );
    assert_eq!(v["input"]["rows_rejected"], 0);

    // The store itself is a source like a file: the same answers, and the same NPS, with the
    // store's table named in the input report; alongside a file, both are read.
    let direct = cxray(
        &["metrics", "cxray.db", "--metric", "nps", "-f", "json"],
        dir.path(),
    );
    let d: Value = serde_json::from_str(&ok(&direct)).unwrap();
    assert_eq!(d["rows"][0]["n"], 12);
    assert_eq!(d["rows"][0]["value"], nps["value"]);
    let file = d["input"]["sources"][0]["file"].as_str().unwrap();
    assert!(file.ends_with("cxray.db#responses"), "{file}");
    std::fs::write(
        dir.path().join("more.csv"),
        "response_id,submitted_at,metric,score\nF1,2025-01-02,nps,10\n",
    )
    .unwrap();
    let both = cxray(
        &[
            "metrics", "cxray.db", "more.csv", "--metric", "nps", "-f", "json",
        ],
        dir.path(),
    );
    let b: Value = serde_json::from_str(&ok(&both)).unwrap();
    assert_eq!(b["rows"][0]["n"], 13);

    // A Parquet export and a backup are read by the analyses like the store itself.
    ok(&cxray(
        &["export", "--db", "cxray.db", "-o", "pq", "-f", "parquet"],
        dir.path(),
    ));
    let out = ok(&cxray(
        &[
            "metrics",
            "pq/responses.parquet",
            "--metric",
            "nps",
            "-f",
            "json",
        ],
        dir.path(),
    ));
    let p: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["rows"][0]["value"], nps["value"]);
    let copied = cxray(&["backup", "copy.db", "--db", "cxray.db"], dir.path());
    ok(&copied);
    assert!(String::from_utf8_lossy(&copied.stderr).contains("12 responses (24 answers)"));
    let out = ok(&cxray(
        &["metrics", "copy.db", "--metric", "nps", "-f", "json"],
        dir.path(),
    ));
    let c: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(c["rows"][0]["n"], 12);
    let again = cxray(&["backup", "copy.db", "--db", "cxray.db"], dir.path());
    assert_eq!(again.status.code(), Some(2), "a backup never overwrites");

    // A customer forgotten is gone from the analyses.
    let gone = cxray(&["forget", "C0", "--db", "cxray.db"], dir.path());
    ok(&gone);
    assert!(
        String::from_utf8_lossy(&gone.stderr).contains("erased 1 responses (2 answers)"),
        "{}",
        String::from_utf8_lossy(&gone.stderr)
    );
    let out = ok(&cxray(
        &["metrics", "cxray.db", "--metric", "nps", "-f", "json"],
        dir.path(),
    ));
    let f: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(f["rows"][0]["n"], 11);
}

#[test]
fn a_missing_or_foreign_store_is_an_input_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = cxray(&["export", "--db", "missing.db"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such store"));
    std::fs::write(
        dir.path().join("answers.csv"),
        "response_id,score\nR1,9\n".repeat(50),
    )
    .unwrap();
    let out = cxray(&["export", "--db", "answers.csv"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a SQLite file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!dir.path().join("cxray-export").exists());
}
