//! Durable answers per second through `POST /api/v1/responses` over real HTTP on 127.0.0.1,
//! with the latency of each acknowledgement (sent after the commit). Figures go to
//! bench/RESULTS.md, beside the store's own ceiling (`-p cxray-store --example
//! write_throughput`: the same rows through a plain rusqlite loop).
//!
//! `cargo run --release -p cxray-server --example http_load [DIR]`
//!
//! The server runs in this process on its own runtime (2 worker threads, as on the 2-core
//! machine); the clients are OS threads with keep-alive connections and a minimal HTTP/1.1
//! writer and reader, so that the client costs little next to the server. Phases:
//! - one answer per request, 64 clients as fast as they can;
//! - NDJSON bulk, 1,000 responses per request, 4 clients;
//! - an open loop at 1,000 requests/s for 10 s (latency from each request's scheduled time, so
//!   a stall is not hidden by the clients waiting: no coordinated omission);
//! - a survey page (`GET /s/{token}`, question 1 with the saved answer looked up) at 500
//!   requests/s.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cxray_server::{AppState, ServerConfig};

/// A keep-alive connection.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            reader: BufReader::new(s.try_clone().unwrap()),
            writer: s,
        }
    }

    /// Sends one request and reads the answer: its status.
    fn request(&mut self, method: &str, path: &str, key: &str, ctype: &str, body: &[u8]) -> u16 {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line[9..12].parse().unwrap();
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).unwrap();
        status
    }
}

fn response(id: &str, i: usize) -> String {
    format!(
        r#"{{"response_id": "{id}", "customer_id": "C{:07}", "submitted_at": "2026-03-01T10:00:00Z", "channel": "web", "answers": [{{"metric": "nps", "score": {}{}}}]}}"#,
        i % 100_000,
        i % 11,
        if i.is_multiple_of(4) {
            r#", "comment": "The delivery was late again""#
        } else {
            ""
        }
    )
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn report(name: &str, rows: usize, elapsed: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "{name:<44} {rows:>8} rows {:>9.0} rows/s  p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms",
        rows as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
}

/// `clients` connections each send `per_client` requests of `batch` responses.
fn closed_loop(
    addr: SocketAddr,
    key: &str,
    tag: &str,
    clients: usize,
    per_client: usize,
    batch: usize,
) {
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let key = key.to_string();
            let tag = tag.to_string();
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let mut lat = Vec::with_capacity(per_client);
                for k in 0..per_client {
                    let lines: Vec<String> = (0..batch)
                        .map(|b| {
                            let i = (c * per_client + k) * batch + b;
                            response(&format!("{tag}-{i}"), i)
                        })
                        .collect();
                    let (ctype, body) = if batch == 1 {
                        ("application/json", lines.concat())
                    } else {
                        ("application/x-ndjson", lines.join("\n"))
                    };
                    let t = Instant::now();
                    let status =
                        conn.request("POST", "/api/v1/responses", &key, ctype, body.as_bytes());
                    assert_eq!(status, 201);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let lat: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let elapsed = t0.elapsed();
    report(
        &format!("{clients} clients, {batch} per request"),
        clients * per_client * batch,
        elapsed,
        lat,
    );
}

/// `rate` requests per second for `seconds`, spread over `clients` connections; latency from
/// each request's scheduled start.
fn open_loop(
    addr: SocketAddr,
    key: &str,
    tag: &str,
    clients: usize,
    rate: f64,
    seconds: f64,
    get: Option<&str>,
) {
    let total = (rate * seconds) as usize;
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now() + Duration::from_millis(50);
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (key, tag, next) = (key.to_string(), tag.to_string(), next.clone());
            let get = get.map(str::to_string);
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return lat;
                    }
                    let due = t0 + Duration::from_secs_f64(i as f64 / rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let status = if let Some(path) = &get {
                        conn.request("GET", path, "", "text/plain", b"")
                    } else {
                        let body = response(&format!("{tag}-{i}"), i);
                        conn.request(
                            "POST",
                            "/api/v1/responses",
                            &key,
                            "application/json",
                            body.as_bytes(),
                        )
                    };
                    assert!(status == 201 || status == 200, "{status}");
                    lat.push(due.elapsed());
                }
            })
        })
        .collect();
    let lat: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let elapsed = t0.elapsed();
    let what = match get {
        Some(p) if p.starts_with("/s/") => "GET survey page",
        Some(p) => p,
        None => "POST, 1 per request",
    };
    report(
        &format!("open loop {rate:.0}/s, {what}"),
        total,
        elapsed,
        lat,
    );
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("cxray-http-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("cxray.db");
    let key = cxray_store::Keys::open(&db)
        .unwrap()
        .add("bench", &[cxray_store::Scope::Collect])
        .unwrap()
        .secret;
    let mut config = ServerConfig::new(&db);
    let project: cxray_project::ProjectConfig = toml::from_str(
        "[[surveys]]\nid = \"checkout\"\nlanguages = [\"en\", \"nl\"]\n\
         [[surveys.questions]]\nmetric = \"nps\"\n[[surveys.questions]]\nreason_for = \"nps\"\n",
    )
    .unwrap();
    config.project = Some((project, dir.join("cxray.toml")));
    // One address sends everything here: no per-address limit on the public pages.
    config.limits.public = cxray_server::Rate {
        per_second: 1e9,
        burst: 1e9,
    };
    let state = AppState::open(config).unwrap();
    let (page, _) = state
        .personal_link(
            "checkout",
            Some("C1".into()),
            Some("I1".into()),
            Some("nl".into()),
        )
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(cxray_server::serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    println!("store {} on {addr}", db.display());
    closed_loop(addr, &key, "warm", 8, 200, 1);
    closed_loop(addr, &key, "one", 64, 400, 1);
    closed_loop(addr, &key, "bulk", 4, 25, 1000);
    open_loop(addr, &key, "paced", 64, 1000.0, 10.0, None);
    open_loop(addr, &key, "", 32, 500.0, 10.0, Some("/healthz"));
    open_loop(addr, &key, "", 32, 500.0, 10.0, Some(&page));
    let (commits, batches) = state.store.stats();
    println!("store: {batches} requests acknowledged in {commits} commits");
    let _ = stop.send(());
    runtime.block_on(server).unwrap().unwrap();
    drop(state);
    let _ = std::fs::remove_dir_all(&dir);
}
