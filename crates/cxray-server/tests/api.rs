//! The collection API called in process: what is stored, what is refused and why, and that a
//! refused request stores nothing.

mod common;

use axum::http::{Method, StatusCode};
use common::TestServer;
use serde_json::json;

const ONE: &str = r#"{"response_id": "R1", "customer_id": "C1",
  "submitted_at": "2026-03-01T10:00:00+01:00", "channel": "email",
  "attributes": {"region": "North", "plan": 3},
  "answers": [{"metric": "NPS", "score": 9, "comment": "Fast <b>delivery</b>"},
              {"metric": "csat", "score": "4"}]}"#;

#[tokio::test]
async fn a_response_is_stored_once_and_a_changed_replay_conflicts() {
    let s = TestServer::new();
    let a = s.post_json("/api/v1/responses", ONE).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["stored"], 1);
    assert_eq!(a.body["ids"], json!(["R1"]));
    assert_eq!(s.counts(), (1, 2, 0));

    // What was stored is what file ingestion reads: the time in UTC, the metric's own name,
    // the score as a number, attributes as text, the comment unchanged.
    let stored = s.state.store.reader().unwrap().responses().unwrap();
    let r = &stored[0].response;
    assert_eq!(r.submitted_at, 1_772_355_600_000_000, "09:00 UTC");
    assert_eq!(r.answers[0].metric, "csat");
    assert_eq!(r.answers[0].score, Some(4.0));
    assert_eq!(r.answers[1].metric, "nps");
    assert_eq!(
        r.answers[1].comment.as_deref(),
        Some("Fast <b>delivery</b>")
    );
    assert_eq!(r.attributes["plan"], "3");

    // The same request again is a replay: acknowledged (200), not stored twice.
    let again = s.post_json("/api/v1/responses", ONE).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(
        (again.body["stored"].clone(), again.body["replayed"].clone()),
        (json!(0), json!(1))
    );
    // The same id with another score is a conflict, and nothing changes.
    let changed = ONE.replace("\"score\": 9", "\"score\": 3");
    let c = s.post_json("/api/v1/responses", &changed).await;
    assert_eq!(c.status, StatusCode::CONFLICT, "{}", c.text);
    assert_eq!(c.body["error"], "conflict");
    assert_eq!(s.counts(), (1, 2, 0));
}

#[tokio::test]
async fn a_bulk_request_with_one_bad_record_stores_nothing_and_names_it() {
    let s = TestServer::new();
    let lines = [
        r#"{"response_id": "A", "submitted_at": "2026-03-01", "answers": [{"metric": "nps", "score": 10}]}"#,
        r#"{"response_id": "B", "submitted_at": "2026-03-01", "answers": [{"metric": "nps", "score": 11}]}"#,
        r#"{"response_id": "C", "submitted_at": "yesterday", "answers": [{"metric": "csat", "score": 5}]}"#,
        r#"{"response_id": "D", "submitted_at": "2026-03-01", "answers": [{"metric": "loyalty", "score": 5}]}"#,
        r#"{"response_id": "E", "submitted_at": "2026-03-01", "answers": [{"metric": "nps", "score": 7}], "extra": 1}"#,
        r#"{"response_id": "F""#,
    ];
    let a = s.post_ndjson("/api/v1/responses", &lines.join("\n")).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["error"], "invalid_rows");
    assert!(
        a.body["message"]
            .as_str()
            .unwrap()
            .starts_with("5 of 6 records"),
        "{}",
        a.text
    );
    let rows = a.body["rows"].as_array().unwrap();
    let at = |line: u64| {
        rows.iter()
            .find(|r| r["line"] == line)
            .unwrap_or_else(|| panic!("line {line} in {rows:?}"))
    };
    assert_eq!(at(2)["field"], "answers[0].score");
    assert_eq!(at(2)["value"], "11");
    assert!(at(2)["reason"].as_str().unwrap().contains("0"), "{}", at(2));
    assert_eq!(at(3)["field"], "submitted_at");
    assert_eq!(at(4)["field"], "answers[0].metric");
    assert!(
        at(5)["reason"]
            .as_str()
            .unwrap()
            .contains("unknown field `extra`")
    );
    assert!(
        at(6)["reason"]
            .as_str()
            .unwrap()
            .contains("not a JSON object")
    );
    assert!(rows.iter().all(|r| r["line"] != 1));
    assert_eq!(
        s.counts(),
        (0, 0, 0),
        "nothing of a refused request is stored"
    );

    let good: Vec<&str> = lines[..1].to_vec();
    let ok = s.post_ndjson("/api/v1/responses", &good.join("\n")).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    assert_eq!(s.counts(), (1, 1, 0));
}

#[tokio::test]
async fn records_without_ids_take_the_idempotency_key() {
    let s = TestServer::new();
    let body = r#"{"answers": [{"metric": "ces", "score": 6}]}"#;
    let post = |key: &'static str| {
        let s = &s;
        async move {
            let req = axum::http::Request::builder()
                .method(Method::POST)
                .uri("/api/v1/responses")
                .header("authorization", format!("Bearer {}", s.collect))
                .header("content-type", "application/json")
                .header("idempotency-key", key)
                .body(axum::body::Body::from(body))
                .unwrap();
            let r = tower::ServiceExt::oneshot(s.app.clone(), req)
                .await
                .unwrap();
            let status = r.status();
            let b = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&b).unwrap(),
            )
        }
    };
    let (st, first) = post("retry-42").await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(first["ids"], json!(["retry-42"]));
    // A client retrying after a lost answer stores nothing twice; the time the server gave
    // the first attempt (the record has none of its own) does not make the retry a conflict.
    std::thread::sleep(std::time::Duration::from_millis(2));
    let (st, again) = post("retry-42").await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["replayed"], 1);
    assert_eq!(s.counts(), (1, 1, 0));
    // Without either, each record gets a random id.
    let a = s.post_json("/api/v1/responses", body).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["ids"][0].as_str().unwrap().len(), 32);
}

#[tokio::test]
async fn events_are_checked_as_journey_rows() {
    let s = TestServer::new();
    let body = [
        r#"{"event_id": "E1", "customer_id": "C1", "step": "checkout", "at": "2026-03-01T10:00:00Z", "attributes": {"device": "phone"}}"#,
        r#"{"event_id": "E2", "session_id": 77, "step": "visit", "at": "2026-03-01 11:00"}"#,
    ]
    .join("\n");
    let a = s.post_ndjson("/api/v1/events", &body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    assert_eq!(a.body["stored"], 2);
    let events = s.state.store.reader().unwrap().events().unwrap();
    assert_eq!(events[1].event.session_id.as_deref(), Some("77"));
    assert_eq!(events[1].event.at, 1_772_362_800_000_000);

    let bad = [
        r#"{"event_id": "E3", "customer_id": "C1", "step": "visit", "at": "31/02/2026"}"#,
        r#"{"event_id": "E4", "step": "visit", "at": "2026-03-01"}"#,
        r#"{"event_id": "E5", "customer_id": "C1", "step": "visit", "attributes": {"step": "x"}}"#,
    ]
    .join("\n");
    let a = s.post_ndjson("/api/v1/events", &bad).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    let rows = a.body["rows"].as_array().unwrap();
    assert_eq!(
        rows.iter().filter(|r| r["line"] == 1).count(),
        1,
        "{rows:?}"
    );
    assert_eq!(rows.iter().find(|r| r["line"] == 1).unwrap()["field"], "at");
    assert!(
        rows.iter().any(|r| r["line"] == 2),
        "no customer nor session: {rows:?}"
    );
    assert_eq!(
        rows.iter().find(|r| r["line"] == 3).unwrap()["field"],
        "attributes.step"
    );
    assert_eq!(s.counts(), (0, 0, 2));
}

/// The API accepts a value exactly when file ingestion accepts it in a CSV row, and stores
/// what ingestion reads (one implementation of the rules).
#[tokio::test]
async fn the_api_accepts_what_a_file_row_would() {
    let s = TestServer::new();
    let cases: &[(&str, &str, &str)] = &[
        ("2026-03-01T10:00:00Z", "nps", "10"),
        ("2026-03-01", "nps", "0"),
        ("2026-03-01 10:00", "NPS", "9.0"),
        ("2026-03-01", "nps", "10.5"),
        ("2026-03-01", "nps", "-1"),
        ("2026-03-01", "csat", "0"),
        ("2026-03-01", "csat", "5"),
        ("2026-03-01", "ces", "7"),
        ("2026-03-01", "ces", "8"),
        ("2026-02-30", "nps", "5"),
        ("01.03.2026", "nps", "5"),
        ("2026-03-01", "stars", "3"),
        ("2026-03-01", "nps", "nine"),
        ("2026-03-01", "unknown_metric", "3"),
        ("2026-03-01T25:00:00Z", "nps", "5"),
    ];
    for (i, (at, metric, score)) in cases.iter().enumerate() {
        let csv = format!("response_id,submitted_at,metric,score\nX{i},{at},{metric},{score}\n");
        let file = s.dir.path().join(format!("case{i}.csv"));
        std::fs::write(&file, csv).unwrap();
        let sources = cxray_ingest::Sources {
            list: vec![cxray_ingest::SourceConfig {
                path: file,
                ..Default::default()
            }],
            ..Default::default()
        };
        let loaded = cxray_ingest::load_responses(
            &sources,
            &cxray_metrics::MetricCatalog::builtin(),
            &cxray_ingest::LoadOptions::default(),
        )
        .unwrap();
        let file_accepts = loaded.totals.accepted == 1;
        let body = json!({"response_id": format!("X{i}"), "submitted_at": at,
                          "answers": [{"metric": metric, "score": score}]});
        let a = s.post_json("/api/v1/responses", &body.to_string()).await;
        assert_eq!(
            a.status == StatusCode::CREATED,
            file_accepts,
            "{at} {metric} {score}: API {} {} vs file {:?}",
            a.status,
            a.text,
            loaded.rejects
        );
        if file_accepts {
            use arrow::array::AsArray;
            let b = &loaded.batches[0];
            let t = b
                .column(2)
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                .value(0);
            let v = b
                .column(5)
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(0);
            let stored = s.state.store.reader().unwrap().responses().unwrap();
            let r = stored
                .iter()
                .find(|r| r.response.response_id == format!("X{i}"))
                .unwrap();
            assert_eq!(
                (r.response.submitted_at, r.response.answers[0].score),
                (t, Some(v))
            );
        }
    }
    // Both kinds of outcome were exercised.
    let (stored, _, _) = s.counts();
    assert!(stored >= 5 && stored < cases.len() as u64, "{stored}");
}

#[tokio::test]
async fn bodies_that_are_not_records_are_refused_and_store_nothing() {
    let s = TestServer::with_limits(cxray_server::Limits {
        max_body: 2048,
        ..Default::default()
    });
    let path = "/api/v1/responses";
    let cases: Vec<(Option<&str>, Vec<u8>, StatusCode)> = vec![
        (
            Some("application/json"),
            b"{".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/json"),
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/json"),
            b"42".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/json"),
            b"[]".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/json"),
            b"{\"answers\": \"nps\"}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            b"{\"answers\": []}".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            b"{\"answers\": [{\"metric\": \"nps\", \"score\": \"\xff\"}]}".to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        (
            Some("application/x-ndjson"),
            b"{\"answers\": [{\"metric\": \"nps\", \"score\": \"\xfe\"}]}\n".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("text/csv"),
            b"response_id,score\nR,9\n".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            None,
            ONE.as_bytes().to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            Some("application/json"),
            vec![b' '; 4096],
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            Some("application/json"),
            format!(
                "{{\"response_id\": \"{}\", \"answers\": [{{\"metric\": \"nps\", \"score\": 1}}]}}",
                "x".repeat(300)
            )
            .into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            br#"{"response_id": "a#b", "answers": [{"metric": "nps", "score": 1}]}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            br#"{"answers": [{"metric": "nps", "score": 1}], "attributes": {"score": "1"}}"#
                .to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("application/json"),
            br#"{"answers": [{"metric": "nps", "score": 1}], "attributes": {"x": [1]}}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ];
    for (ct, body, want) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let a = s.call(Method::POST, path, Some(&s.collect), ct, body).await;
        assert_eq!(a.status, want, "{ct:?} {shown}: {}", a.text);
        assert!(
            a.body["error"].is_string() && a.body["message"].is_string(),
            "{}",
            a.text
        );
        let e = s
            .call(
                Method::POST,
                "/api/v1/events",
                Some(&s.collect),
                Some("application/json"),
                "{\"step\": 5}",
            )
            .await;
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", e.text);
    }
    assert_eq!(s.counts(), (0, 0, 0));
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_unknown_routes_are_404() {
    let s = TestServer::new();
    for (method, path, key) in [
        (Method::GET, "/healthz", None),
        (Method::GET, "/nowhere", None),
        (Method::POST, "/api/v1/responses", None),
        (Method::GET, "/api/v1/counts", Some(s.read.as_str())),
    ] {
        let a = s.call(method, path, key, None, "").await;
        for h in [
            "x-content-type-options",
            "content-security-policy",
            "x-frame-options",
            "referrer-policy",
        ] {
            assert!(a.headers.contains_key(h), "{path}: {h} missing");
        }
        assert_eq!(a.headers["x-content-type-options"], "nosniff");
        if path == "/nowhere" {
            assert_eq!(a.status, StatusCode::NOT_FOUND);
            assert_eq!(a.body["error"], "not_found");
        }
    }
}

#[tokio::test]
async fn a_key_over_its_rate_is_told_when_to_retry() {
    let s = TestServer::with_limits(cxray_server::Limits {
        api: cxray_server::Rate {
            per_second: 0.5,
            burst: 2.0,
        },
        ..Default::default()
    });
    for _ in 0..2 {
        let a = s.get("/api/v1/counts", &s.read).await;
        assert_eq!(a.status, StatusCode::OK);
    }
    let a = s.get("/api/v1/counts", &s.read).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.headers["retry-after"], "2");
    // Another key has its own budget.
    let b = s
        .call(Method::GET, "/api/v1/keys", Some(&s.admin), None, "")
        .await;
    assert_eq!(b.status, StatusCode::OK);
}

#[tokio::test]
async fn collected_answers_are_analysed_through_the_project_layer() {
    let s = TestServer::new();
    let empty = s.get("/api/v1/metrics", &s.read).await;
    assert_eq!(empty.status, StatusCode::NOT_FOUND, "{}", empty.text);
    // 6 promoters, 2 passives, 4 detractors: NPS = (6 - 4) / 12 = 16.7.
    let scores = [10, 9, 9, 10, 9, 10, 7, 8, 0, 3, 6, 5];
    let body: Vec<String> = scores
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({"response_id": format!("R{i}"), "submitted_at": "2026-03-02T12:00:00Z",
                   "attributes": {"region": if i % 2 == 0 { "North" } else { "South" }},
                   "answers": [{"metric": "nps", "score": v}]})
            .to_string()
        })
        .collect();
    let a = s.post_ndjson("/api/v1/responses", &body.join("\n")).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let m = s.get("/api/v1/metrics?metric=nps", &s.read).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert_eq!(m.body["rows"][0]["n"], 12);
    let v = m.body["rows"][0]["value"].as_f64().unwrap();
    assert!((v - 200.0 / 12.0).abs() < 1e-9, "{v}");
    let by = s.get("/api/v1/metrics?metric=nps&by=region", &s.read).await;
    assert_eq!(by.body["rows"].as_array().unwrap().len(), 2, "{}", by.text);
    // A new answer is seen by the next analysis.
    let one = json!({"response_id": "R99", "submitted_at": "2026-03-02T12:00:00Z",
                     "answers": [{"metric": "nps", "score": 10}]});
    s.post_json("/api/v1/responses", &one.to_string()).await;
    let m = s.get("/api/v1/metrics?metric=nps", &s.read).await;
    assert_eq!(m.body["rows"][0]["n"], 13);
    let bad = s.get("/api/v1/metrics?by=nonexistent", &s.read).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    let report = s.get("/api/v1/report", &s.read).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
}

#[tokio::test]
async fn health_and_prometheus_counters() {
    let s = TestServer::new();
    s.post_json("/api/v1/responses", ONE).await;
    let h = s.call(Method::GET, "/healthz", None, None, "").await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.body["status"], "ok");
    assert_eq!(h.body["store"]["requests_acknowledged"], 1);
    assert_eq!(
        s.call(Method::GET, "/metrics", None, None, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    let m = s.get("/metrics", &s.read).await;
    assert!(
        m.text.contains("cxray_answers_stored_total 1"),
        "{}",
        m.text
    );
    assert!(
        m.text
            .contains("cxray_http_requests_total{route=\"/api/v1/responses\",status=\"201\"} 1"),
        "{}",
        m.text
    );
    assert!(m.text.contains("cxray_api_keys 3"), "{}", m.text);
}

#[tokio::test]
async fn attributes_and_ids_that_would_corrupt_the_analyses_are_refused() {
    let s = TestServer::new();
    let with = |extra: &str| {
        format!(
            r#"{{"submitted_at": "2026-03-01", "answers": [{{"metric": "nps", "score": 9}}]{extra}}}"#
        )
    };
    let many: String = (0..51)
        .map(|i| format!(r#""a{i}": "x""#))
        .collect::<Vec<_>>()
        .join(", ");
    for (body, field) in [
        // Would be read back as the weight (or the id, or the date) of every answer.
        (
            with(r#", "attributes": {"Weight": "1000000"}"#),
            "attributes.Weight",
        ),
        (with(r#", "attributes": {"ID": "x"}"#), "attributes.ID"),
        (
            with(r#", "attributes": {" region": "x"}"#),
            "attributes. region",
        ),
        (
            with(&format!(r#", "attributes": {{{many}}}"#)),
            "attributes",
        ),
        (
            with(&format!(
                r#", "attributes": {{"note": "{}"}}"#,
                "x".repeat(501)
            )),
            "attributes.note",
        ),
        // Ids of survey-link responses are not the API's.
        (with(r#", "response_id": "inv-123""#), ""),
        (
            r#"{"answers": [{"metric": "loyalty", "comment": "no score, unknown metric"}]}"#
                .to_string(),
            "answers[0].metric",
        ),
    ] {
        let a = s.post_json("/api/v1/responses", &body).await;
        assert_eq!(
            a.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            a.text
        );
        assert_eq!(a.body["rows"][0]["field"], field, "{}", a.text);
    }
    // The same id twice in one request.
    let twice = [
        with(r#", "response_id": "D1""#),
        with(r#", "response_id": "D1""#),
    ]
    .join("\n");
    let a = s.post_ndjson("/api/v1/responses", &twice).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["rows"][0]["line"], 2);
    let e = s
        .post_json(
            "/api/v1/events",
            r#"{"customer_id": "C1", "step": "visit", "attributes": {"AT": "x"}}"#,
        )
        .await;
    assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", e.text);
    assert_eq!(s.counts(), (0, 0, 0));
    // Padded ids and metric names keep their scores (ingestion trims them).
    let a = s
        .post_json(
            "/api/v1/responses",
            r#"{"response_id": " P1 ", "submitted_at": "2026-03-01", "answers": [{"metric": "NPS ", "score": 9}]}"#,
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let r = s.state.store.reader().unwrap().responses().unwrap();
    assert_eq!(
        (
            r[0].response.answers[0].metric.as_str(),
            r[0].response.answers[0].score
        ),
        ("nps", Some(9.0))
    );
}

#[test]
fn behind_a_trusted_proxy_the_client_is_the_address_it_added() {
    let dir = tempfile::tempdir().unwrap();
    let project: cxray_project::ProjectConfig =
        toml::from_str("[serve]\nclient_address_header = \"X-Forwarded-For\"\n").unwrap();
    let config = cxray_server::ServerConfig::for_project(
        Some((project, dir.path().join("cxray.toml"))),
        Some(dir.path().join("s.db")),
    )
    .unwrap();
    let state = cxray_server::AppState::open(config).unwrap();
    let mut h = axum::http::HeaderMap::new();
    let peer: std::net::IpAddr = "10.0.0.2".parse().unwrap();
    assert_eq!(state.client_address(Some(peer), &h), peer);
    h.append("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
    assert_eq!(
        state.client_address(Some(peer), &h).to_string(),
        "203.0.113.7"
    );
    // Without the setting the header is not believed.
    let plain =
        cxray_server::AppState::open(cxray_server::ServerConfig::new(dir.path().join("t.db")))
            .unwrap();
    assert_eq!(plain.client_address(Some(peer), &h), peer);
    let bad: cxray_project::ProjectConfig =
        toml::from_str("[serve]\nclient_address_header = \"not a header\"\n").unwrap();
    assert!(
        cxray_server::ServerConfig::for_project(Some((bad, dir.path().join("c.toml"))), None)
            .is_err()
    );
}

#[tokio::test]
async fn a_customer_can_get_their_data_and_be_forgotten() {
    let s = TestServer::new();
    let body = [
        r#"{"response_id": "F1", "customer_id": "C-forget", "submitted_at": "2026-03-01", "answers": [{"metric": "nps", "score": 2, "comment": "call me at 555-0100"}]}"#,
        r#"{"response_id": "F2", "customer_id": "C-keep", "submitted_at": "2026-03-01", "answers": [{"metric": "nps", "score": 10}]}"#,
    ]
    .join("\n");
    assert_eq!(
        s.post_ndjson("/api/v1/responses", &body).await.status,
        StatusCode::CREATED
    );
    let e = s
        .post_json(
            "/api/v1/events",
            r#"{"event_id": "V1", "customer_id": "C-forget", "step": "visit", "at": "2026-03-01"}"#,
        )
        .await;
    assert_eq!(e.status, StatusCode::CREATED);
    assert_eq!(
        s.get("/api/v1/metrics?metric=nps", &s.read).await.body["rows"][0]["n"],
        2
    );

    let x = s.get("/api/v1/customers/C-forget/export", &s.admin).await;
    assert_eq!(x.status, StatusCode::OK, "{}", x.text);
    assert_eq!(
        x.body["responses"][0]["answers"][0]["comment"],
        "call me at 555-0100"
    );
    assert_eq!(x.body["events"][0]["event_id"], "V1");

    let d = s
        .call(
            Method::DELETE,
            "/api/v1/customers/C-forget",
            Some(&s.admin),
            None,
            "",
        )
        .await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    assert_eq!(
        (d.body["responses"].clone(), d.body["events"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(
        s.get("/api/v1/customers/C-forget/export", &s.admin)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The analyses see the erasure at once (it was not made by the server's writer).
    assert_eq!(
        s.get("/api/v1/metrics?metric=nps", &s.read).await.body["rows"][0]["n"],
        1
    );
    assert_eq!(s.counts(), (1, 1, 0));
}

#[tokio::test]
async fn an_answer_without_a_score_is_refused_as_a_file_row_would_be() {
    let s = TestServer::new();
    // A long-layout file row needs its score; the API reads answers as such rows.
    let body = r#"{"response_id": "T1", "submitted_at": "2026-03-01 10:00", "answers": [{"metric": "nps", "comment": "only words"}]}"#;
    let a = s.post_json("/api/v1/responses", body).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.body["rows"][0]["field"], "answers[0].score");
    assert_eq!(a.body["rows"][0]["reason"], "nps score is empty");
    assert_eq!(s.counts(), (0, 0, 0));
}
