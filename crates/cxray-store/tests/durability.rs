//! An acknowledged write survives `kill -9`: a child process (this test binary again, running
//! `child_writer`) writes from 32 threads and prints the id of every batch the store
//! acknowledged; the parent kills it with SIGKILL mid-load, three times over the same file,
//! and checks after each kill that every acknowledged batch is stored exactly once and that
//! no batch is stored in part. Bounded: each round stops after 1,500 acknowledgements or 30 s.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cxray_store::{NewAnswer, NewEvent, NewResponse, Reader, Record, Store};

const CHILD_DB: &str = "CXRAY_STORE_CHILD_DB";
const CHILD_ROUND: &str = "CXRAY_STORE_CHILD_ROUND";
const ACKS_PER_ROUND: usize = 1500;

/// Batch `i` of a writer: a response with 1 + i % 4 answers and, for even `i`, a journey
/// event: what must be stored together or not at all.
fn batch(id: &str, i: usize) -> Vec<Record> {
    let answers = (0..1 + i % 4)
        .map(|k| NewAnswer {
            metric: ["nps", "csat", "ces", "delivery"][k].into(),
            score: Some((i % 5) as f64 + 1.0),
            comment: (k == 0).then(|| format!("comment of {id}")),
        })
        .collect();
    let mut batch = vec![Record::Response(NewResponse {
        response_id: id.into(),
        customer_id: Some(format!("C{}", i % 97)),
        submitted_at: 1_735_689_600_000_000 + i as i64,
        answers,
        ..Default::default()
    })];
    if i.is_multiple_of(2) {
        batch.push(Record::Event(NewEvent {
            event_id: format!("E-{id}"),
            customer_id: Some(format!("C{}", i % 97)),
            step: "checkout".into(),
            at: 1_735_689_600_000_000 + i as i64,
            ..Default::default()
        }));
    }
    batch
}

/// The writing process; does nothing unless started by the test below.
#[test]
#[ignore = "the child process of acknowledged_writes_survive_kill_9"]
fn child_writer() {
    let (Ok(path), Ok(round)) = (std::env::var(CHILD_DB), std::env::var(CHILD_ROUND)) else {
        return;
    };
    let store = Arc::new(Store::open(&path).expect("the store opens"));
    let out = Arc::new(Mutex::new(std::io::stdout()));
    let writers: Vec<_> = (0..32)
        .map(|t| {
            let (store, out, round) = (store.clone(), out.clone(), round.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let id = format!("r{round}-t{t}-{i}");
                    let r = store.write_blocking(batch(&id, i));
                    let mut o = out.lock().unwrap();
                    match r {
                        Ok(_) => writeln!(o, "ack {id}").unwrap(),
                        Err(e) => writeln!(o, "error {id}: {e}").unwrap(),
                    }
                    o.flush().unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cxray.db");
    let mut all_acked: BTreeSet<String> = BTreeSet::new();
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_writer", "--ignored", "--nocapture"])
            .env(CHILD_DB, &path)
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut acked = Vec::new();
        let mut errors = Vec::new();
        let mut note = |line: String, acked: &mut Vec<String>| {
            if let Some(id) = line.strip_prefix("ack ") {
                acked.push(id.to_string());
            } else if line.starts_with("error ") {
                errors.push(line);
            }
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.len() < ACKS_PER_ROUND && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => note(line, &mut acked),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        // SIGKILL, mid-load: no destructor, no flush, the writer possibly inside a commit.
        child.kill().unwrap();
        child.wait().unwrap();
        // Acknowledgements printed before the kill are still in the pipe.
        lines.join().unwrap();
        while let Ok(line) = rx.try_recv() {
            note(line, &mut acked);
        }
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(
            acked.len() >= ACKS_PER_ROUND,
            "round {round}: only {} acknowledgements; child stderr: {stderr}",
            acked.len()
        );
        assert!(errors.is_empty(), "{errors:?}");
        all_acked.extend(acked);

        // Every acknowledged batch is there once, complete; no batch is there in part.
        let reader = Reader::open_file(&path).unwrap();
        let responses = reader.responses().unwrap();
        let events: BTreeSet<String> = reader
            .events()
            .unwrap()
            .into_iter()
            .map(|e| e.event.event_id)
            .collect();
        let mut stored: BTreeMap<&str, usize> = BTreeMap::new();
        for r in responses.iter().map(|r| &r.response) {
            *stored.entry(r.response_id.as_str()).or_default() += 1;
            let i: usize = r.response_id.rsplit('-').next().unwrap().parse().unwrap();
            assert_eq!(r.answers.len(), 1 + i % 4, "{} in part", r.response_id);
            assert_eq!(
                events.contains(&format!("E-{}", r.response_id)),
                i.is_multiple_of(2),
                "{}: its event without it, or it without its event",
                r.response_id
            );
        }
        assert!(stored.values().all(|n| *n == 1));
        assert_eq!(
            events.len(),
            responses
                .iter()
                .filter(|r| events.contains(&format!("E-{}", r.response.response_id)))
                .count(),
            "an event stored without its response"
        );
        let lost: Vec<&String> = all_acked
            .iter()
            .filter(|id| !stored.contains_key(id.as_str()))
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged, not stored: {lost:?}"
        );
    }
}
