//! `cxray serve` as a process on 127.0.0.1: keys made with `cxray key`, answers posted over
//! HTTP, analyses of the store; and the durability test: the server is killed with SIGKILL
//! under load from 32 clients, and every acknowledged record must be stored exactly once and
//! whole.

mod common;
use common::{cxray, ok};

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running `cxray serve` and its address.
struct Served {
    child: Child,
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cxray serve --db cxray.db` on a free port of 127.0.0.1 and waits until it listens.
fn serve(dir: &Path, extra: &[&str]) -> Served {
    serve_with(dir, &[&["--db", "cxray.db"], extra].concat())
}

/// Starts `cxray serve` with `args` on a free port of 127.0.0.1.
fn serve_with(dir: &Path, args: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxray"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cxray serve starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let first = lines.next().expect("a line").expect("text");
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served { child, addr }
}

/// One HTTP/1.1 request on its own connection: (status, body).
fn http(
    addr: &str,
    method: &str,
    path: &str,
    key: &str,
    ctype: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let status = out
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {out:?}")))?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// Posts one response as JSON: (status, body).
fn post_one(addr: &str, key: &str, body: &str) -> (u16, String) {
    http(
        addr,
        "POST",
        "/api/v1/responses",
        key,
        "application/json",
        body,
    )
    .unwrap()
}

fn add_key(dir: &Path, scope: &str) -> String {
    let out = cxray(
        &[
            "key", "add", "--db", "cxray.db", "--name", "test", "--scope", scope,
        ],
        dir,
    );
    ok(&out).trim().to_string()
}

#[test]
fn answers_posted_over_http_are_counted_by_the_analyses() {
    let dir = tempfile::tempdir().unwrap();
    let collect = add_key(dir.path(), "collect");
    let read = add_key(dir.path(), "read,admin");
    let listed = ok(&cxray(&["key", "list", "--db", "cxray.db"], dir.path()));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        !listed.contains(&collect[13..]),
        "the list never shows a key"
    );
    let server = serve(dir.path(), &[]);
    // 6 promoters, 2 passives, 4 detractors: NPS = (6 - 4) / 12 = 16.7.
    let body: Vec<String> = [10, 9, 9, 10, 9, 10, 7, 8, 0, 3, 6, 5]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                r#"{{"response_id": "H{i}", "submitted_at": "2026-03-02T12:00:00Z", "answers": [{{"metric": "nps", "score": {s}}}]}}"#
            )
        })
        .collect();
    let (status, text) = http(
        &server.addr,
        "POST",
        "/api/v1/responses",
        &collect,
        "application/x-ndjson",
        &body.join("\n"),
    )
    .unwrap();
    assert_eq!(status, 201, "{text}");
    let (status, text) = http(&server.addr, "GET", "/api/v1/counts", &read, "", "").unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"answers\":12"), "{text}");
    // A collect key cannot read; a revoked key is refused by the running server within a
    // second.
    let (status, _) = http(&server.addr, "GET", "/api/v1/counts", &collect, "", "").unwrap();
    assert_eq!(status, 403);
    ok(&cxray(
        &["key", "revoke", "--db", "cxray.db", &collect[..12]],
        dir.path(),
    ));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = http(
            &server.addr,
            "POST",
            "/api/v1/responses",
            &collect,
            "application/json",
            "{}",
        )
        .unwrap();
        if status == 401 {
            break;
        }
        assert!(Instant::now() < deadline, "revoked key still accepted");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(server);
    // The store is a source like a file.
    let out = ok(&cxray(
        &["metrics", "cxray.db", "--metric", "nps", "-f", "json"],
        dir.path(),
    ));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["rows"][0]["n"], 12);
    assert!((v["rows"][0]["value"].as_f64().unwrap() - 200.0 / 12.0).abs() < 1e-9);
}

#[test]
fn the_demo_serves_its_store_and_reports_what_is_posted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let d = dir.to_str().unwrap();
    let out = cxray(
        &[
            "demo",
            "--dir",
            d,
            "--customers",
            "800",
            "--months",
            "3",
            "--no-report",
        ],
        tmp.path(),
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cxray.db:"));
    let key = add_key(&dir, "collect,read");
    let stars = |dir: &Path| -> u64 {
        let out = ok(&cxray(&["metrics", "--metric", "stars", "-f", "json"], dir));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["rows"][0]["n"].as_u64().unwrap()
    };
    let before = stars(&dir);
    assert!(
        before > 10,
        "the demo's store holds checkout answers: {before}"
    );
    // In the demo folder, `cxray serve` finds cxray.toml and its store by itself.
    let server = serve_with(&dir, &[]);
    let (status, text) = http(
        &server.addr,
        "GET",
        "/api/v1/metrics?metric=stars",
        &key,
        "",
        "",
    )
    .unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&format!("\"n\":{before}")), "{text}");
    let body = r#"{"customer_id": "C0000001", "submitted_at": "2025-12-30T12:00:00Z", "survey": "checkout", "answers": [{"metric": "stars", "score": 5, "comment": "Quick & easy <3"}]}"#;
    let (status, text) = post_one(&server.addr, &key, body);
    assert_eq!(status, 201, "{text}");
    // The demo's trigger decides purchases posted as events, and says why.
    let event = r#"{"event_id": "P1", "customer_id": "C0000001", "step": "purchase"}"#;
    let (status, text) = http(
        &server.addr,
        "POST",
        "/api/v1/events",
        &key,
        "application/json",
        event,
    )
    .unwrap();
    assert_eq!(status, 201, "{text}");
    assert!(text.contains("\"decisions\":[{"), "{text}");
    drop(server);
    assert_eq!(
        stars(&dir),
        before + 1,
        "the report counts the posted answer"
    );
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let key = add_key(dir.path(), "collect");
    let mut server = serve(dir.path(), &[]);
    let body = r#"{"response_id": "G1", "answers": [{"metric": "nps", "score": 8}]}"#;
    let (status, _) = post_one(&server.addr, &key, body);
    assert_eq!(status, 201);
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "{code:?}");
    // It no longer listens, and what it acknowledged is stored.
    assert!(TcpStream::connect(&server.addr).is_err());
    let c = cxray_store::Reader::open_file(dir.path().join("cxray.db"))
        .unwrap()
        .counts()
        .unwrap();
    assert_eq!(c.responses, 1);
}

#[test]
fn key_commands_refuse_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = cxray(
        &[
            "key", "add", "--db", "cxray.db", "--name", "x", "--scope", "write",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("use collect, read or admin"));
    let out = cxray(
        &["key", "revoke", "--db", "cxray.db", "cxk_00000000"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = cxray(&["key", "list", "--db", "missing.db"], dir.path());
    assert_eq!(out.status.code(), Some(2));
}

/// One raw HTTP/1.1 request with extra headers: (status, headers, body).
fn raw(addr: &str, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (
        head[9..12].parse().unwrap(),
        head.to_string(),
        body.to_string(),
    )
}

/// The value of cookie `name` set by a response's headers.
fn set_cookie(head: &str, name: &str) -> Option<String> {
    head.lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|c| c.split(';').next()?.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
        .next()
}

#[test]
fn members_made_with_the_cli_log_in_to_the_app_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let made = cxray(
        &["user", "add", "ana@example.com", "--role", "analyst"],
        dir.path(),
    );
    let password = ok(&made).trim().to_string();
    assert_eq!(password.len(), 24);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cxray"))
        .args(["user", "add", "bo", "--role", "viewer", "--password-stdin"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"bo's long passphrase\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "a given password is not printed");
    ok(&cxray(&["user", "unlock", "bo"], dir.path()));
    assert_eq!(
        cxray(&["user", "unlock", "nobody"], dir.path())
            .status
            .code(),
        Some(2)
    );
    let list = ok(&cxray(&["user", "list"], dir.path()));
    assert!(list.contains("ana@example.com\tanalyst"), "{list}");
    assert!(list.contains("bo\tviewer"), "{list}");
    // Refused: a short password, a second member of the same name, an unknown role.
    for args in [
        &["user", "add", "cy", "--role", "viewer", "--password-stdin"][..],
        &["user", "add", "bo", "--role", "viewer"][..],
        &["user", "add", "cy", "--role", "owner"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_cxray"))
            .args(args)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
    let served = serve(dir.path(), &[]);
    let addr = &served.addr;
    let (status, head, body) = raw(
        addr,
        &format!("GET /app/login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 200);
    let pre = set_cookie(&head, "cxray_login").expect("the login form's cookie");
    let token = body
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let form =
        format!("token={token}&next=%2Fapp%2Fcases&name=ana%40example.com&password={password}");
    let (status, head, _) = raw(
        addr,
        &format!(
            "POST /app/login HTTP/1.1\r\nHost: {addr}\r\nCookie: cxray_login={pre}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{form}",
            form.len()
        ),
    );
    assert_eq!(status, 303, "{head}");
    assert!(head.contains("location: /app/cases"), "{head}");
    let session = set_cookie(&head, "cxray_session").expect("a session");
    let (status, _, body) = raw(
        addr,
        &format!(
            "GET /app/cases HTTP/1.1\r\nHost: {addr}\r\nCookie: cxray_session={session}\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 200);
    assert!(body.contains("ana@example.com · analyst"), "{body}");
    drop(served);
    // Removing a member ends their sessions.
    ok(&cxray(&["user", "remove", "ana@example.com"], dir.path()));
    assert_eq!(
        cxray(&["user", "remove", "ana@example.com"], dir.path())
            .status
            .code(),
        Some(2)
    );
    let served = serve(dir.path(), &[]);
    let addr = &served.addr;
    let (status, head, _) = raw(
        addr,
        &format!(
            "GET /app/cases HTTP/1.1\r\nHost: {addr}\r\nCookie: cxray_session={session}\r\n\
             Connection: close\r\n\r\n"
        ),
    );
    assert_eq!(status, 303, "{head}");
}

/// Records acknowledged by the server: response ids (each with two answers) and event ids.
#[derive(Default)]
struct Acked {
    responses: Mutex<HashSet<String>>,
    events: Mutex<HashSet<String>>,
}

/// 32 clients post until `stop` or until the server is gone; every acknowledged id is kept.
fn load(
    addr: &str,
    key: &str,
    round: usize,
    acked: &Arc<Acked>,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..32)
        .map(|t| {
            let (addr, key, acked, stop) = (addr.to_string(), key.to_string(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let id = format!("r{round}-t{t}-{i}");
                    let event = i % 3 == 2;
                    let response = |id: &str| {
                        format!(
                            r#"{{"response_id": "{id}", "customer_id": "C{t}", "submitted_at": "2026-03-01T10:00:00Z", "answers": [{{"metric": "nps", "score": {}}}, {{"metric": "csat", "score": 4, "comment": "line\nbreak"}}]}}"#,
                            i % 11
                        )
                    };
                    // Every fourth client sends 20 responses per request: larger commits, more
                    // acknowledgements waiting on one sync when the server dies.
                    if t % 4 == 3 {
                        let ids: Vec<String> = (0..20).map(|k| format!("{id}-{k}")).collect();
                        let body: Vec<String> = ids.iter().map(|id| response(id)).collect();
                        match http(&addr, "POST", "/api/v1/responses", &key, "application/x-ndjson", &body.join("\n")) {
                            Ok((201, _)) => acked.responses.lock().unwrap().extend(ids),
                            Ok((status, text)) => panic!("{status} {text}"),
                            Err(_) => return,
                        }
                        continue;
                    }
                    let (path, body) = if event {
                        (
                            "/api/v1/events",
                            format!(r#"{{"event_id": "{id}", "customer_id": "C{t}", "step": "visit", "at": "2026-03-01T10:00:00Z"}}"#),
                        )
                    } else {
("/api/v1/responses", response(&id))
                    };
                    match http(&addr, "POST", path, &key, "application/json", &body) {
                        Ok((201, _)) => {
                            let set = if event { &acked.events } else { &acked.responses };
                            set.lock().unwrap().insert(id);
                        }
                        Ok((status, text)) => panic!("{status} {text}"),
                        // The server was killed: this request may or may not have been stored.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect()
}

#[test]
fn acknowledged_records_survive_kill_9_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let key = add_key(dir.path(), "collect");
    let acked = Arc::new(Acked::default());
    let total = Arc::new(AtomicU64::new(0));
    for round in 0..5 {
        let mut server = serve(dir.path(), &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let before = acked.responses.lock().unwrap().len() + acked.events.lock().unwrap().len();
        let clients = load(&server.addr, &key, round, &acked, &stop);
        // Kill once a few hundred records were acknowledged in this round (at most 5 s).
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let now = acked.responses.lock().unwrap().len() + acked.events.lock().unwrap().len();
            if now >= before + 500 {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        server.child.kill().expect("SIGKILL"); // std's kill is SIGKILL on Unix
        server.child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("no client saw an unexpected answer");
        }
        let now = acked.responses.lock().unwrap().len() + acked.events.lock().unwrap().len();
        assert!(now > before, "round {round}: nothing was acknowledged");
        total.store(now as u64, Ordering::Relaxed);
    }
    // Opening the store again recovers it; every acknowledged record is there, once, whole.
    drop(cxray_store::Store::open(dir.path().join("cxray.db")).unwrap());
    let reader = cxray_store::Reader::open_file(dir.path().join("cxray.db")).unwrap();
    let responses = reader.responses().unwrap();
    let stored: HashSet<&str> = responses
        .iter()
        .map(|r| r.response.response_id.as_str())
        .collect();
    assert_eq!(stored.len(), responses.len(), "a response stored twice");
    for r in &responses {
        assert_eq!(r.response.answers.len(), 2, "half a response: {r:?}");
        assert_eq!(
            r.response.answers[0].comment.as_deref(),
            Some("line\nbreak")
        );
    }
    let acked_responses = acked.responses.lock().unwrap();
    let lost: Vec<&String> = acked_responses
        .iter()
        .filter(|id| !stored.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged responses lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    let events: HashSet<String> = reader
        .events()
        .unwrap()
        .into_iter()
        .map(|e| e.event.event_id)
        .collect();
    let acked_events = acked.events.lock().unwrap();
    assert!(
        acked_events.iter().all(|id| events.contains(id)),
        "an acknowledged event was lost"
    );
    // Records in flight when the server died may be stored without their acknowledgement,
    // never the reverse.
    assert!(responses.len() >= acked_responses.len());
    eprintln!(
        "acknowledged {} responses and {} events over 5 kills; stored {} and {}",
        acked_responses.len(),
        acked_events.len(),
        responses.len(),
        events.len()
    );
}
