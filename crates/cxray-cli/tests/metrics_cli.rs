//! End-to-end tests of `cxray metrics`: the built binary on files written by the tests,
//! checked against an independent computation and exact reject counts.

mod common;
use common::cxray;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "exit {:?}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A deterministic pseudo-random sequence (xorshift), so fixtures are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One respondent of the wide export.
struct Respondent {
    id: u64,
    region: &'static str,
    nps: Option<u8>,
    csat: Option<u8>,
    ces: Option<u8>,
    month: u32,
}

fn respondents(n: usize) -> Vec<Respondent> {
    let mut rng = Rng(0x5eed_cafe);
    let regions = ["North", "South", "East"];
    (0..n)
        .map(|i| {
            let region = regions[rng.below(3) as usize];
            // North scores lower, to make the segments differ.
            let shift = if region == "North" { 3 } else { 0 };
            let nps = (rng.below(10) != 0)
                .then(|| (rng.below(11) as u8).saturating_sub(rng.below(shift + 1) as u8));
            let csat = (rng.below(8) != 0).then(|| 1 + rng.below(5) as u8);
            let ces = (rng.below(6) != 0).then(|| 1 + rng.below(7) as u8);
            Respondent {
                id: 100_000 + i as u64,
                region,
                nps,
                csat,
                ces,
                month: 1 + rng.below(3) as u32,
            }
        })
        .collect()
}

const NPS_Q: &str = "How likely is it that you would recommend Acme to a friend or colleague?";
const WHY_Q: &str = "What is the primary reason for your score?";
const CSAT_Q: &str = "Overall, how satisfied or dissatisfied are you with Acme?";
const CES_Q: &str = "Acme made it easy for me to handle my issue.";

/// A SurveyMonkey-style export: question texts as headers, a second header row of answer
/// types, US dates with AM/PM, choice labels on the scale ends.
fn survey_export(rs: &[Respondent]) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Respondent ID,Collector ID,Start Date,End Date,IP Address,Region,\"{NPS_Q}\",\"{WHY_Q}\",\"{CSAT_Q}\",\"{CES_Q}\"\n"
    ));
    s.push_str(",,,,,,Response,Open-Ended Response,Response,Response\n");
    for r in rs {
        let nps = match r.nps {
            Some(10) => "10 - Extremely likely".to_string(),
            Some(0) => "0 - Not at all likely".to_string(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let why = if r.nps.is_some_and(|v| v <= 6) {
            "\"Delivery was late, and nobody called back.\nVery disappointing\""
        } else {
            ""
        };
        s.push_str(&format!(
            "{},42,{:02}/14/2025 09:0{}:00 AM,{:02}/14/2025 11:15:00 PM,10.0.0.1,{},{nps},{why},{},{}\n",
            r.id,
            r.month,
            r.id % 10,
            r.month,
            r.region,
            r.csat.map(|v| v.to_string()).unwrap_or_default(),
            r.ces.map(|v| v.to_string()).unwrap_or_default()
        ));
    }
    s
}

/// `cxray metrics FILE --rejects rejects.csv -f json` in `dir`: the JSON and the rejects CSV.
fn metrics_with_rejects(dir: &Path, file: &str) -> (Value, String) {
    let out = cxray(
        &["metrics", file, "--rejects", "rejects.csv", "-f", "json"],
        dir,
    );
    let doc = json(&out);
    (
        doc,
        std::fs::read_to_string(dir.join("rejects.csv")).unwrap(),
    )
}

/// The run read `read` rows and rejected exactly the `expect`ed ones: the JSON's counts, and
/// one row each in the rejects CSV after its header, with its (line, column, value, reason)
/// (an empty value: any).
fn assert_rejects(
    doc: &Value,
    rejects: &str,
    file: &str,
    read: u64,
    expect: &[(u64, &str, &str, &str)],
) {
    let rejected = expect.len() as u64;
    assert_eq!(doc["input"]["rows_read"], read);
    assert_eq!(doc["input"]["rows_rejected"], rejected);
    assert_eq!(doc["input"]["rows_accepted"], read - rejected);
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "file,line,column,value,reason,answers");
    assert_eq!(lines.len() as u64, 1 + rejected, "{rejects}");
    for (line, col, value, reason) in expect {
        let row = rejects
            .lines()
            .find(|l| l.contains(&format!("{file},{line},")))
            .unwrap_or_else(|| panic!("no reject for line {line}: {rejects}"));
        assert!(row.contains(&format!(",{col},")), "{row}");
        assert!(row.contains(reason), "line {line}: {row}");
        if !value.is_empty() {
            assert!(row.contains(&format!(",{value},")), "{row}");
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn config_for(file: &str, extra: &str) -> String {
    format!(
        r#"[project]
timezone = "America/New_York"

[[sources]]
path = "{file}"
layout = "wide"
skip_rows_after_header = 1
timestamp_format = "%m/%d/%Y %I:%M:%S %p"
{extra}
[sources.columns]
response_id = "Respondent ID"
submitted_at = "End Date"

[[sources.questions]]
column = "{NPS_Q}"
metric = "nps"
comment = "{WHY_Q}"

[[sources.questions]]
column = "{CSAT_Q}"
metric = "csat"

[[sources.questions]]
column = "{CES_Q}"
metric = "ces"
"#
    )
}

/// Expected values computed directly from the generated answers.
fn expected(rs: &[Respondent]) -> BTreeMap<(String, String), (u64, f64)> {
    let mut out = BTreeMap::new();
    for region in ["East", "North", "South"] {
        let sel: Vec<&Respondent> = rs.iter().filter(|r| r.region == region).collect();
        let nps: Vec<u8> = sel.iter().filter_map(|r| r.nps).collect();
        let p = nps.iter().filter(|&&v| v >= 9).count() as f64;
        let d = nps.iter().filter(|&&v| v <= 6).count() as f64;
        out.insert(
            ("nps".into(), region.into()),
            (nps.len() as u64, 100.0 * (p - d) / nps.len() as f64),
        );
        let csat: Vec<u8> = sel.iter().filter_map(|r| r.csat).collect();
        let sat = csat.iter().filter(|&&v| v >= 4).count() as f64;
        out.insert(
            ("csat".into(), region.into()),
            (csat.len() as u64, 100.0 * sat / csat.len() as f64),
        );
        let ces: Vec<u8> = sel.iter().filter_map(|r| r.ces).collect();
        let mean = ces.iter().map(|&v| v as f64).sum::<f64>() / ces.len() as f64;
        out.insert(("ces".into(), region.into()), (ces.len() as u64, mean));
    }
    out
}

fn check_against_expected(doc: &Value, rs: &[Respondent]) {
    let want = expected(rs);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "one row per metric and region");
    for r in rows {
        let key = (
            r["metric"].as_str().unwrap().to_string(),
            r["segment"]["Region"].as_str().unwrap().to_string(),
        );
        let (n, value) = want[&key];
        assert_eq!(r["n"].as_u64().unwrap(), n, "{key:?}");
        let got = r["value"].as_f64().unwrap();
        assert!((got - value).abs() < 1e-9, "{key:?}: {got} vs {value}");
        let (lo, hi) = (
            r["ci_low"].as_f64().unwrap(),
            r["ci_high"].as_f64().unwrap(),
        );
        assert!(
            lo <= got && got <= hi,
            "{key:?} interval contains the value"
        );
    }
    let answers: u64 = want.values().map(|(n, _)| n).sum();
    assert_eq!(doc["input"]["rows_read"].as_u64().unwrap(), answers);
    assert_eq!(doc["input"]["rows_accepted"].as_u64().unwrap(), answers);
    assert_eq!(doc["input"]["rows_rejected"].as_u64().unwrap(), 0);
}

#[test]
fn wide_survey_export_matches_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let rs = respondents(600);
    let text = survey_export(&rs);
    // UTF-8 with a byte-order mark, as Excel saves it.
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    write(dir.path(), "export.csv", &bom);
    write(
        dir.path(),
        "cxray.toml",
        config_for("export.csv", "").as_bytes(),
    );
    let out = cxray(
        &[
            "metrics",
            "--config",
            "cxray.toml",
            "--by",
            "Region",
            "--format",
            "json",
        ],
        dir.path(),
    );
    let doc = json(&out);
    check_against_expected(&doc, &rs);
    // The comment of detractors is kept with its embedded newline; blank answers are counted.
    let src = &doc["input"]["sources"][0];
    assert_eq!(src["counts"]["records"].as_u64().unwrap(), 600);
    let blank: u64 = rs
        .iter()
        .map(|r| {
            [r.nps.is_none(), r.csat.is_none(), r.ces.is_none()]
                .iter()
                .filter(|b| **b)
                .count() as u64
        })
        .sum();
    assert_eq!(src["counts"]["blank"].as_u64().unwrap(), blank);

    // The same export as UTF-16LE, tab-separated ("Unicode text" from Excel), gives the same
    // numbers with the delimiter detected.
    let mut tsv = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                tsv.push('\t');
                continue;
            }
            _ => {}
        }
        tsv.push(c);
    }
    let mut utf16 = vec![0xFF, 0xFE];
    for u in tsv.encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    write(dir.path(), "export.txt", &utf16);
    write(
        dir.path(),
        "cxray16.toml",
        config_for("export.txt", "").as_bytes(),
    );
    let out = cxray(
        &[
            "metrics",
            "-c",
            "cxray16.toml",
            "--by",
            "Region",
            "-f",
            "json",
        ],
        dir.path(),
    );
    check_against_expected(&json(&out), &rs);
}

#[test]
fn wide_export_is_recognised_without_a_config() {
    // Question texts are recognised as NPS/CSAT/CES; the column "Respondent ID" as the id.
    let dir = tempfile::tempdir().unwrap();
    let rs = respondents(200);
    write(dir.path(), "export.csv", survey_export(&rs).as_bytes());
    let out = cxray(
        &[
            "metrics",
            "export.csv",
            "--skip-rows",
            "1",
            "--map",
            "submitted_at=End Date",
            "--timestamp-format",
            "%m/%d/%Y %I:%M:%S %p",
            "--by",
            "Region",
            "-f",
            "json",
        ],
        dir.path(),
    );
    let doc = json(&out);
    check_against_expected(&doc, &rs);
    let err = stderr(&out);
    assert!(err.contains("read as nps"), "{err}");
    assert!(err.contains("read as the comment"), "{err}");
}

const LONG_WITH_BAD_ROWS: &str = "\
response_id,submitted_at,metric,score,region,comment
r1,2025-01-05T10:00:00Z,nps,10,North,great
r2,2025-01-06 11:00:00,nps,3,North,\"late, again\"
r3,2025-01-07,nps,11,South,
r4,2025-01-08,nps,abc,South,
r5,2025-01-09,nps,,South,
r6,yesterday,nps,9,South,
r7,2025-01-10,loyalty,9,South,
r8,2025-01-11,nps
r2,2025-01-12,nps,8,North,duplicate id
r9,2025-01-13,csat,4,North,
r10,2025-01-14,csat,0,North,
r11,2025-02-01,csat,5,South,
r12,2025-02-02,nps,7.5,South,
r13,2025-02-03,ces,7,East,
,2025-02-04,ces,6,East,
r15,2025-02-05,task,1,East,
r16,2025-02-06,task,2,East,
";

#[test]
fn bad_rows_are_counted_and_reported_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = LONG_WITH_BAD_ROWS.as_bytes().to_vec();
    // A row with bytes that are not UTF-8 in the comment... and in the score.
    bytes.extend_from_slice(b"r17,2025-02-07,nps,\xff9,East,\n");
    write(dir.path(), "responses.csv", &bytes);
    let (doc, rejects) = metrics_with_rejects(dir.path(), "responses.csv");
    // 18 rows read; accepted: r1 r2 r9 r11 r13 r15.
    let expect = [
        (4, "score", "11", "outside the scale 0-10"),
        (5, "score", "abc", "not a number"),
        (6, "score", "", "score is empty"),
        (7, "submitted_at", "yesterday", "not an ISO 8601 timestamp"),
        (8, "metric", "loyalty", "unknown metric 'loyalty'"),
        (9, "score", "", "row has 3 field(s) but the header has 6"),
        (12, "score", "0", "outside the scale 1-5"),
        (14, "score", "7.5", "not a whole number"),
        (16, "response_id", "", "response_id is empty"),
        (18, "score", "2", "outside the scale 0-1"),
        (19, "score", "", "not valid UTF-8"),
        (
            10,
            "response_id",
            "r2",
            "duplicate response_id (first seen on line 3)",
        ),
    ];
    assert_rejects(&doc, &rejects, "responses.csv", 18, &expect);
    // Accepted rows give the expected NPS: r1 (10) and r2 (3): one promoter, one detractor.
    let nps = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "nps")
        .unwrap();
    assert_eq!(nps["n"], 2);
    assert_eq!(nps["value"].as_f64().unwrap(), 0.0);
    assert_eq!(nps["small_sample"], true);
    // --strict turns any rejection into exit code 2.
    let out = cxray(&["metrics", "responses.csv", "--strict"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--strict"), "{}", stderr(&out));
    // The duplicate policy "fail" stops with the id and both lines.
    let out = cxray(
        &["metrics", "responses.csv", "--duplicates", "fail"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("'r2'") && e.contains("line 10") && e.contains("line 3"),
        "{e}"
    );
}

#[test]
fn input_errors_name_the_file_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
        ("missing.csv", vec![], vec![], "file not found"),
        ("empty.csv", b"".to_vec(), vec![], "the file is empty"),
        (
            "header.csv",
            b"response_id,submitted_at,metric,score\n".to_vec(),
            vec![],
            "header but no rows",
        ),
        (
            "semicolon.csv",
            b"response_id;submitted_at;metric;score\nr1;2025-01-01;nps;9\n".to_vec(),
            vec!["--delimiter", ","],
            "delimiter is probably ';'",
        ),
        (
            "latin1.csv",
            b"response_id,submitted_at,metric,score,city\nr1,2025-01-01,nps,9,M\xfcnster\n"
                .to_vec(),
            vec![],
            "windows-1252",
        ),
        (
            "nometric.csv",
            b"response_id,submitted_at,score\nr1,2025-01-01,9\n".to_vec(),
            vec![],
            "metric",
        ),
        (
            "ok.csv",
            b"response_id,submitted_at,metric,score\nr1,2025-01-01,nps,9\n".to_vec(),
            vec!["--metric", "loyalty"],
            "unknown metric 'loyalty'",
        ),
        (
            "ok2.csv",
            b"response_id,submitted_at,metric,score\nr1,2025-01-01,nps,9\n".to_vec(),
            vec!["--by", "region"],
            "unknown column 'region'",
        ),
        (
            "ok3.csv",
            b"response_id,submitted_at,metric,score\nr1,2025-01-01,nps,9\n".to_vec(),
            vec!["--period", "fortnight"],
            "invalid value 'fortnight'",
        ),
    ];
    for (name, bytes, extra, message) in cases {
        if name != "missing.csv" {
            write(d, name, &bytes);
        }
        let mut args = vec!["metrics", name];
        args.extend(extra);
        let out = cxray(&args, d);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
        let e = stderr(&out);
        assert!(e.contains(message), "{name}: expected {message:?} in {e}");
        if !name.starts_with("ok") {
            assert!(e.contains(name), "{name}: the message names the file: {e}");
        }
    }
    // Conflicting mappings in a config.
    write(d, "c.toml", b"[[sources]]\npath = \"ok.csv\"\n[sources.columns]\nresponse_id = \"score\"\nscore = \"score\"\n");
    let out = cxray(&["metrics", "--config", "c.toml"], d);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("mapped to both"), "{}", stderr(&out));
}

#[test]
fn periods_since_until_wald_and_csv_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = String::from("response_id,submitted_at,metric,score\n");
    // 20 answers a month, Jan-Apr 2025, late on the last evening of each month in New York,
    // which is already the next month in UTC.
    let mut id = 0;
    for month in 1..=4 {
        for k in 0..20 {
            id += 1;
            let score = [10, 9, 8, 3][k % 4];
            s.push_str(&format!(
                "r{id},2025-{month:02}-15T12:00:00-05:00,nps,{score}\n"
            ));
        }
    }
    s.push_str("late,2025-01-31T22:00:00-05:00,nps,0\n");
    write(dir.path(), "r.csv", s.as_bytes());
    let run = |extra: &[&str]| {
        let mut args = vec!["metrics", "r.csv", "-f", "json", "--period", "month"];
        args.extend_from_slice(extra);
        json(&cxray(&args, dir.path()))
    };
    let doc = run(&["--timezone", "America/New_York"]);
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["period"], "2025-01");
    assert_eq!(rows[0]["n"], 21, "22:00 in New York on 31 Jan is January");
    let utc = run(&[]);
    assert_eq!(utc["rows"][0]["n"], 20, "in UTC it is 1 February");
    assert_eq!(utc["rows"][1]["n"], 21);
    let doc = run(&[
        "--since",
        "2025-02-01",
        "--until",
        "2025-03-31",
        "--timezone",
        "America/New_York",
    ]);
    let labels: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["period"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["2025-02", "2025-03"]);
    // --interval wald selects the Wald interval: 50% promoters, 25% detractors, n = 20.
    let doc = run(&[
        "--interval",
        "wald",
        "--since",
        "2025-03-01",
        "--until",
        "2025-03-31",
    ]);
    let r = &doc["rows"][0];
    assert_eq!(r["interval_method"], "nps_wald");
    let se = ((0.5 + 0.25 - 0.0625) / 20.0f64).sqrt() * 100.0;
    assert!((r["ci_high"].as_f64().unwrap() - (25.0 + 1.959963984540054 * se)).abs() < 1e-9);
    // CSV output has one line per group plus the header.
    let out = cxray(
        &["metrics", "r.csv", "-f", "csv", "--period", "quarter"],
        dir.path(),
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("metric,period,n,n_effective,value"));
    assert_eq!(lines.len(), 1 + 2);
    // 60 answers in Q1 plus the late one (1 February in UTC, still Q1).
    assert!(lines[1].starts_with("nps,2025-Q1,61,"), "{}", lines[1]);
    // The table fits in 80 columns.
    let out = cxray(&["metrics", "r.csv", "--period", "week"], dir.path());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    assert!(text.contains("2025-W03"));
}

#[test]
fn weights_and_ndjson_and_parquet_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Weighted NPS: promoters weigh 3, detractors 1: (3*10 - 1*10)/(3*10+1*10) = 50.
    let mut csv = String::from("response_id,submitted_at,metric,score,w\n");
    let mut nd = String::new();
    for i in 0..20 {
        let (score, w) = if i < 10 { (10, 3.0) } else { (2, 1.0) };
        csv.push_str(&format!("r{i},2025-05-01,nps,{score},{w}\n"));
        nd.push_str(&format!(
            "{{\"response_id\":\"r{i}\",\"submitted_at\":\"2025-05-01\",\"metric\":\"nps\",\"score\":{score},\"w\":{w}}}\n"
        ));
    }
    nd.push_str("{not json\n");
    write(d, "w.csv", csv.as_bytes());
    write(d, "w.ndjson", nd.as_bytes());
    let doc = json(&cxray(
        &["metrics", "w.csv", "--weight", "w", "-f", "json"],
        d,
    ));
    let r = &doc["rows"][0];
    assert!((r["value"].as_f64().unwrap() - 50.0).abs() < 1e-12);
    // Kish: (40)^2 / (10*9 + 10*1) = 16.
    assert!((r["n_effective"].as_f64().unwrap() - 16.0).abs() < 1e-12);
    // Without the weights (the engine then counts instead of summing weights): 10 promoters and
    // 10 detractors, NPS 0, every answer a full one.
    let doc = json(&cxray(&["metrics", "w.csv", "-f", "json"], d));
    let r = &doc["rows"][0];
    assert_eq!(r["value"].as_f64().unwrap(), 0.0);
    assert_eq!(r["n_effective"].as_f64().unwrap(), 20.0);
    assert_eq!(r["n"], 20);
    let doc = json(&cxray(
        &["metrics", "w.ndjson", "--weight", "w", "-f", "json"],
        d,
    ));
    assert!((doc["rows"][0]["value"].as_f64().unwrap() - 50.0).abs() < 1e-12);
    assert_eq!(
        doc["input"]["rows_rejected"], 1,
        "the line that is not JSON"
    );
    assert_eq!(doc["input"]["rows_read"], 21);

    // Parquet with typed columns (integer scores, a real timestamp type, float weights).
    use arrow::array::{Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
    use std::sync::Arc;
    let schema = Arc::new(Schema::new(vec![
        Field::new("response_id", DataType::Utf8, false),
        Field::new(
            "submitted_at",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
        Field::new("metric", DataType::Utf8, false),
        Field::new("score", DataType::Int64, true),
        Field::new("w", DataType::Float64, false),
    ]));
    let ids: Vec<String> = (0..21).map(|i| format!("r{i}")).collect();
    let scores: Vec<Option<i64>> = (0..21)
        .map(|i| {
            if i == 20 {
                None
            } else if i < 10 {
                Some(10)
            } else {
                Some(2)
            }
        })
        .collect();
    let weights: Vec<f64> = (0..21).map(|i| if i < 10 { 3.0 } else { 1.0 }).collect();
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(
                TimestampMillisecondArray::from(vec![1_746_057_600_000i64; 21])
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(vec!["nps"; 21])),
            Arc::new(Int64Array::from(scores)),
            Arc::new(Float64Array::from(weights)),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(d.join("w.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let doc = json(&cxray(
        &[
            "metrics",
            "w.parquet",
            "--weight",
            "w",
            "-f",
            "json",
            "--period",
            "month",
        ],
        d,
    ));
    let r = &doc["rows"][0];
    assert!((r["value"].as_f64().unwrap() - 50.0).abs() < 1e-12);
    assert_eq!(r["period"], "2025-05");
    assert_eq!(doc["input"]["rows_rejected"], 1, "the row without a score");
}

#[test]
fn parquet_text_columns_with_bad_rows_are_reported_like_csv() {
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let text = |name: &str| Field::new(name, DataType::Utf8, true);
    let schema = Arc::new(Schema::new(vec![
        text("response_id"),
        text("submitted_at"),
        text("metric"),
        Field::new("score", DataType::Int64, true),
        text("region"),
    ]));
    let t = "2025-01-07T00:00:00Z";
    let rows: [(Option<&str>, &str, &str, Option<i64>); 9] = [
        (Some("r1"), "2025-01-05T10:00:00Z", "nps", Some(10)),
        (Some("r2"), "2025-01-06", "csat", Some(4)),
        (Some("r3"), "yesterday", "nps", Some(9)),
        (Some("r4"), " ", "nps", Some(9)),
        (Some("r5"), t, "loyalty", Some(5)),
        (Some("r6"), t, "nps", Some(11)),
        (Some("r7"), t, "nps", None),
        (Some("r1"), t, "nps", Some(3)),
        (None, t, "nps", Some(3)),
    ];
    let batch = arrow::record_batch::RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(rows.map(|r| r.0).to_vec())),
            Arc::new(StringArray::from(rows.map(|r| r.1).to_vec())),
            Arc::new(StringArray::from(rows.map(|r| r.2).to_vec())),
            Arc::new(Int64Array::from(rows.map(|r| r.3).to_vec())),
            Arc::new(StringArray::from(vec!["North"; 9])),
        ],
    )
    .unwrap();
    let f = std::fs::File::create(dir.path().join("r.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let (doc, rejects) = metrics_with_rejects(dir.path(), "r.parquet");
    // 9 rows read; accepted: r1 and r2.
    let expect = [
        (3, "submitted_at", "yesterday", "not an ISO 8601 timestamp"),
        (4, "submitted_at", "", "timestamp is empty"),
        (5, "metric", "loyalty", "unknown metric 'loyalty'"),
        (6, "score", "11", "outside the scale 0-10"),
        (7, "score", "", "score is empty"),
        (
            8,
            "response_id",
            "r1",
            "duplicate response_id (first seen on line 1)",
        ),
        (9, "response_id", "", "response_id is empty"),
    ];
    assert_rejects(&doc, &rejects, "r.parquet", 9, &expect);
    assert_eq!(rejects.lines().count(), 1 + 7, "{rejects}");
}

#[test]
fn nps_by_theme_counts_every_comment_under_each_of_its_themes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    let out = cxray(
        &[
            "demo",
            "--dir",
            dir.to_str().unwrap(),
            "--customers",
            "800",
            "--months",
            "6",
            "--no-report",
        ],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    // Only the built-in taxonomy, so the library's default analyser is the reference.
    let cfg = dir.join("cxray.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[text]\ndiscover = 0\n")).unwrap();
    let doc = json(&cxray(
        &[
            "metrics",
            "-c",
            dir.join("cxray.toml").to_str().unwrap(),
            "--metric",
            "nps",
            "--by",
            "theme",
            "--format",
            "json",
        ],
        tmp.path(),
    ));
    // Independent count: analyse every NPS comment of the file with the library.
    let analyzer = cxray_text::Analyzer::default();
    let mut rd = csv::Reader::from_path(dir.join("data/responses.csv")).unwrap();
    let h = rd.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (metric, comment) = (col("metric"), col("comment"));
    let mut per_theme: BTreeMap<String, u64> = BTreeMap::new();
    let (mut without_comment, mut without_theme) = (0u64, 0u64);
    for r in rd.records() {
        let r = r.unwrap();
        if &r[metric] != "nps" {
            continue;
        }
        let c = &r[comment];
        if c.trim().is_empty() {
            without_comment += 1;
            continue;
        }
        let a = analyzer.analyze(c);
        if a.themes.is_empty() {
            without_theme += 1;
        }
        for t in a.themes {
            *per_theme.entry(t).or_default() += 1;
        }
    }
    let rows = doc["rows"].as_array().unwrap();
    let n_of = |theme: Option<&str>| {
        rows.iter()
            .find(|r| r["segment"]["theme"].as_str() == theme)
            .map(|r| r["n"].as_u64().unwrap())
    };
    assert!(per_theme.get("delivery").copied().unwrap_or(0) > 30);
    for (t, n) in &per_theme {
        assert_eq!(n_of(Some(t)), Some(*n), "theme {t}");
    }
    assert_eq!(
        n_of(Some("(no theme)")),
        Some(without_theme).filter(|n| *n > 0)
    );
    assert_eq!(
        n_of(None),
        Some(without_comment),
        "answers without a comment"
    );
    // Without comments there is nothing to group by.
    let plain = write(
        tmp.path(),
        "plain.csv",
        b"response_id,submitted_at,metric,score\nr1,2025-01-01,nps,9\n",
    );
    let out = cxray(
        &["metrics", plain.to_str().unwrap(), "--by", "theme"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs comments"), "{}", stderr(&out));
}
