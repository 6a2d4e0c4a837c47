//! `cxray ingest` and `--lake` end to end on the demo: the lake holds every file source, a
//! second ingest skips them, analyses of the lake give the figures of the files, a changed
//! file is noted, `--show-sql` writes the histograms' SQL, and `[lake] path` makes the lake
//! the project's source.

mod common;
use common::{cxray, ok};

use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn ingest_then_analyse_the_lake() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    ok(&cxray(
        &["demo", "--dir", dir.to_str().unwrap(), "--no-report"],
        tmp.path(),
    ));
    let first = json(&ok(&cxray(
        &["ingest", "-c", "cxray.toml", "--lake", "lake", "-f", "json"],
        &dir,
    )));
    let sources = first["sources"].as_array().unwrap();
    let status = |s: &Value| s["status"].as_str().unwrap().to_string();
    assert_eq!(sources.iter().filter(|s| status(s) == "added").count(), 9);
    // The store changes while it serves: it is read live, not ingested.
    let live: Vec<&Value> = sources.iter().filter(|s| status(s) == "live").collect();
    assert_eq!(live.len(), 1);
    assert!(live[0]["file"].as_str().unwrap().contains("cxray.db"));
    for s in sources {
        let c = &s["counts"];
        assert_eq!(
            c["read"].as_u64(),
            Some(c["accepted"].as_u64().unwrap() + c["rejected"].as_u64().unwrap())
        );
    }
    assert_eq!(first["files_in_lake"], 9);
    assert!(dir.join("lake/manifest.json").exists());

    let again = ok(&cxray(
        &["ingest", "-c", "cxray.toml", "--lake", "lake"],
        &dir,
    ));
    assert_eq!(again.matches("skipped").count(), 9, "{again}");

    // The same figures from the lake as from the files (the store's answers in both).
    let metrics = |extra: &[&str]| {
        let mut args = vec![
            "metrics",
            "-c",
            "cxray.toml",
            "--metric",
            "nps,csat,fcr,churn",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--by", "region", "-f", "json"]);
        let out = cxray(&args, &dir);
        (
            json(&ok(&out)),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (files, _) = metrics(&[]);
    let (lake, notes) = metrics(&["--lake", "lake"]);
    assert_eq!(files["rows"], lake["rows"]);
    assert!(!notes.contains("changed after"), "{notes}");
    // A period: the lake reads only its months, the figures are those of the files.
    let period = [
        "--since",
        "2025-06-10",
        "--until",
        "2025-08-20",
        "--period",
        "month",
    ];
    let (files, _) = metrics(&period);
    let mut args = period.to_vec();
    args.extend_from_slice(&["--lake", "lake"]);
    let (lake, _) = metrics(&args);
    assert_eq!(files["rows"], lake["rows"]);
    assert!(files["rows"].as_array().unwrap().len() >= 3);

    // A file changed after the ingest is named when the lake is read.
    let answers = dir.join("data/responses.csv");
    let mut text = std::fs::read_to_string(&answers).unwrap();
    let last = text.lines().last().unwrap().to_string();
    let fields: Vec<&str> = last.split(',').collect();
    text.push_str(&format!("R9999999,{}\n", fields[1..].join(",")));
    std::fs::write(&answers, text).unwrap();
    let (_, notes) = metrics(&["--lake", "lake"]);
    assert!(
        notes.contains("responses.csv changed after it was ingested"),
        "{notes}"
    );

    // Ingested again, only the new answer is added: the others are the earlier version's
    // rows, already in the lake (neither read again nor rejected).
    let third = json(&ok(&cxray(
        &[
            "ingest",
            "-c",
            "cxray.toml",
            "--lake",
            "lake",
            "-f",
            "json",
            "--rejects",
            "rejects.csv",
        ],
        &dir,
    )));
    let added: Vec<&Value> = third["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| status(s) == "added")
        .collect();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["counts"]["read"], 1);
    assert_eq!(added[0]["counts"]["accepted"], 1);
    assert_eq!(added[0]["duplicates_in_lake"], 0);
    let rejects = std::fs::read_to_string(dir.join("rejects.csv")).unwrap();
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    // The lake and the grown file agree, counts of the data-quality section included.
    let (files, _) = metrics(&[]);
    let (lake, notes) = metrics(&["--lake", "lake"]);
    assert_eq!(files["rows"], lake["rows"]);
    // The same but for the lake's note on the earlier version.
    let notes_of = |v: &Value| v["input"]["sources"][0]["notes"].clone();
    assert_eq!(notes_of(&files), serde_json::json!([]));
    assert!(
        notes_of(&lake)[0]
            .as_str()
            .unwrap()
            .contains("earlier version")
    );
    let without_notes = |mut v: Value| {
        for s in v["input"]["sources"].as_array_mut().unwrap() {
            s["notes"] = serde_json::json!([]);
        }
        v["input"].clone()
    };
    assert_eq!(without_notes(files.clone()), without_notes(lake.clone()));
    assert!(!notes.contains("changed after"), "{notes}");

    // The SQL of the histograms behind those metrics, for a warehouse; a dialect we do not
    // write is a usage error.
    let sql = ok(&cxray(
        &[
            "metrics",
            "-c",
            "cxray.toml",
            "--lake",
            "lake",
            "--metric",
            "nps",
            "--by",
            "region",
            "--period",
            "month",
            "--show-sql=duckdb",
        ],
        &dir,
    ));
    assert!(sql.starts_with("SELECT"), "{sql}");
    for part in [
        "FROM\n  \"responses\"",
        "GROUP BY",
        "\"region\" AS \"by_1\"",
        "sum_w2",
    ] {
        assert!(sql.contains(part), "{part}: {sql}");
    }
    let out = cxray(&["metrics", "-c", "cxray.toml", "--show-sql=oracle"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown SQL dialect"));

    // `[lake] path`: every analysis of the project reads the lake.
    let mut config = std::fs::read_to_string(dir.join("cxray.toml")).unwrap();
    config.push_str("\n[lake]\npath = \"lake\"\n");
    std::fs::write(dir.join("cxray.toml"), config).unwrap();
    std::fs::write(dir.join("data/tickets.csv"), b"changed").unwrap();
    let (_, notes) = metrics(&[]);
    assert!(
        notes.contains("tickets.csv changed after it was ingested"),
        "{notes}"
    );

    // Files and a lake at once: a usage error.
    let out = cxray(&["metrics", "data/responses.csv", "--lake", "lake"], &dir);
    assert_eq!(out.status.code(), Some(2));
}
