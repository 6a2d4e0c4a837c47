//! End-to-end tests of `cxray text`: awkward input is analysed without a panic, every row comes
//! back with the line it started on, and the results make sense.

mod common;
use common::cxray;

use std::process::Output;

use serde_json::Value;

fn rows(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v.as_array().expect("an array").clone()
}

#[test]
fn awkward_comments_are_analysed_with_their_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv: Vec<u8> = b"id,comment\n".to_vec();
    csv.extend_from_slice(b"1,\n"); // empty
    csv.extend_from_slice(b"2,\"   \"\n"); // whitespace
    csv.extend_from_slice(b"3,\"<p>The <b>delivery</b> was late!</p>\"\n"); // markup
    csv.extend_from_slice(b"4,\"@acme see https://acme.example/x great support\"\n");
    csv.extend_from_slice(b"5,\"Bad \xff\xfe bytes but excellent staff\"\n"); // invalid UTF-8
    csv.extend_from_slice(b"6,\"two\nlines: terrible price\"\n"); // quoted newline
    let big = "slow delivery and terrible service again ".repeat(26_000); // ~1 MB
    csv.extend_from_slice(format!("7,\"{big}\"\n").as_bytes());
    csv.extend_from_slice("8,送货太慢了，很失望\n".as_bytes());
    std::fs::write(tmp.path().join("c.csv"), &csv).unwrap();
    let r = rows(&cxray(&["text", "c.csv", "--format", "json"], tmp.path()));
    assert_eq!(r.len(), 8, "every row comes back");
    let lines: Vec<u64> = r.iter().map(|x| x["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7, 9, 10], "row 6 spans two lines");
    let get = |i: usize, k: &str| r[i][k].clone();
    // Empty and blank: unknown language, neutral, no themes.
    for i in [0, 1] {
        assert_eq!(get(i, "language"), "unknown");
        assert_eq!(get(i, "label"), "neutral");
        assert_eq!(get(i, "themes"), serde_json::json!([]));
    }
    assert_eq!(get(2, "themes"), serde_json::json!(["delivery"]));
    assert_eq!(
        get(2, "label"),
        "negative",
        "markup is stripped, late is negative"
    );
    assert_eq!(get(3, "label"), "positive", "URL and @mention ignored");
    assert!(get(4, "text").as_str().unwrap().contains('\u{fffd}'));
    assert_eq!(get(4, "label"), "positive");
    assert_eq!(get(5, "label"), "negative");
    assert_eq!(get(6, "label"), "negative");
    assert_eq!(get(6, "language"), "en");
    assert_eq!(get(7, "language"), "zh");
    assert_eq!(get(7, "label"), "negative");
    // The same texts as NDJSON give the same results.
    let mut nd = String::new();
    for x in &r[2..4] {
        nd.push_str(&serde_json::json!({"comment": x["text"], "n": 1}).to_string());
        nd.push('\n');
    }
    std::fs::write(tmp.path().join("c.ndjson"), nd).unwrap();
    let r2 = rows(&cxray(
        &["text", "c.ndjson", "--format", "json"],
        tmp.path(),
    ));
    assert_eq!(r2.len(), 2);
    for (a, b) in r2.iter().zip(&r[2..4]) {
        assert_eq!(a["sentiment"], b["sentiment"]);
        assert_eq!(a["themes"], b["themes"]);
    }
    // A missing column is a clear input error.
    let out = cxray(&["text", "c.csv", "--column", "nope"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
}
