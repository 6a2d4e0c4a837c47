//! Durable writes per second through the store, side by side with a plain rusqlite loop that
//! writes the same rows with the same durability (WAL, `synchronous = FULL`), the store's own
//! ceiling on this machine. Figures go to bench/RESULTS.md.
//!
//! `cargo run --release -p cxray-store --example write_throughput [DIR]` (DIR: where the
//! files go, default the system's temporary folder; use the disk the server would use).

use std::sync::Arc;
use std::time::{Duration, Instant};

use cxray_store::{NewAnswer, NewResponse, Record, Store};

fn response(id: String, i: usize) -> Record {
    Record::Response(NewResponse {
        response_id: id,
        customer_id: Some(format!("C{:07}", i % 100_000)),
        submitted_at: 1_735_689_600_000_000 + i as i64 * 1_000_000,
        channel: Some(["email", "web", "app"][i % 3].into()),
        answers: vec![NewAnswer {
            metric: "nps".into(),
            score: Some((i % 11) as f64),
            comment: i
                .is_multiple_of(4)
                .then(|| "The delivery was late again".into()),
        }],
        ..Default::default()
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// `clients` threads each write `per_client` batches of `batch` responses; answers per second
/// and the latency of each acknowledgement.
fn through_store(dir: &std::path::Path, clients: usize, per_client: usize, batch: usize) {
    let path = dir.join(format!("store-{clients}-{batch}.db"));
    let store = Arc::new(Store::open(&path).unwrap());
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut lat = Vec::with_capacity(per_client);
                for k in 0..per_client {
                    let records = (0..batch)
                        .map(|j| {
                            let i = (c * per_client + k) * batch + j;
                            response(format!("R{c}-{k}-{j}"), i)
                        })
                        .collect();
                    let t = Instant::now();
                    store.write_blocking(records).unwrap();
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let wall = t0.elapsed();
    lat.sort();
    let rows = clients * per_client * batch;
    let (commits, batches) = store.stats();
    println!(
        "store   {clients:>3} clients x {batch:>4} per request: {:>8.0} answers/s  \
         p50 {:>6.2} ms  p99 {:>6.2} ms  ({} requests in {} commits)",
        rows as f64 / wall.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        batches,
        commits
    );
}

/// The same rows written by one rusqlite connection, `per_tx` responses per transaction.
fn plain_loop(dir: &std::path::Path, rows: usize, per_tx: usize) {
    let path = dir.join(format!("plain-{per_tx}.db"));
    drop(Store::open(&path).unwrap()); // the same schema
    let mut conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    let t0 = Instant::now();
    for start in (0..rows).step_by(per_tx) {
        let tx = conn.transaction().unwrap();
        for i in start..(start + per_tx).min(rows) {
            let Record::Response(r) = response(format!("R{i}"), i) else {
                unreachable!()
            };
            tx.prepare_cached(
                "INSERT INTO responses (response_id, customer_id, submitted_at, channel,
                    attributes, digest, received_at) VALUES (?1, ?2, ?3, ?4, '{}', x'00', 0)",
            )
            .unwrap()
            .execute(rusqlite::params![
                r.response_id,
                r.customer_id,
                r.submitted_at,
                r.channel
            ])
            .unwrap();
            let id = tx.last_insert_rowid();
            let a = &r.answers[0];
            tx.prepare_cached(
                "INSERT INTO answers (response, metric, score, comment) VALUES (?1, ?2, ?3, ?4)",
            )
            .unwrap()
            .execute(rusqlite::params![id, a.metric, a.score, a.comment])
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let wall = t0.elapsed();
    println!(
        "rusqlite loop, {per_tx:>4} per transaction:        {:>8.0} answers/s",
        rows as f64 / wall.as_secs_f64()
    );
}

fn main() {
    let dir = tempfile::tempdir_in(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| std::env::temp_dir().display().to_string()),
    )
    .unwrap();
    plain_loop(dir.path(), 5_000, 1);
    through_store(dir.path(), 1, 2_000, 1);
    through_store(dir.path(), 8, 1_000, 1);
    through_store(dir.path(), 64, 500, 1);
    plain_loop(dir.path(), 200_000, 1_000);
    through_store(dir.path(), 8, 25, 1_000);
}
