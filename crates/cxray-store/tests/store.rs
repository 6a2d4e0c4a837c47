//! The store's contract with its callers: a batch is all or nothing, ids make writes
//! idempotent, concurrent batches share commits without sharing failures, and readers see
//! each commit.

use std::sync::Arc;

use cxray_store::{NewAnswer, NewEvent, NewResponse, Record, Store, WriteError};

fn response(id: &str, score: f64) -> Record {
    Record::Response(NewResponse {
        response_id: id.into(),
        customer_id: Some("C1".into()),
        submitted_at: 1_735_689_600_000_000,
        attributes: [("region".to_string(), "North".to_string())].into(),
        answers: vec![
            NewAnswer {
                metric: "nps".into(),
                score: Some(score),
                comment: Some("Delivery was late <again> & \"again\"".into()),
            },
            NewAnswer {
                metric: "csat".into(),
                score: Some(4.0),
                comment: None,
            },
        ],
        ..Default::default()
    })
}

fn event(id: &str) -> Record {
    Record::Event(NewEvent {
        event_id: id.into(),
        session_id: Some("S1".into()),
        step: "checkout".into(),
        at: 1_735_689_500_000_000,
        ..Default::default()
    })
}

#[test]
fn a_batch_is_all_or_nothing_and_ids_make_writes_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let r = store
        .write_blocking(vec![response("R1", 9.0), event("E1")])
        .unwrap();
    assert_eq!((r.stored, r.replayed), (2, 0));
    // R2 is fine, but R1 comes back with another score: nothing of the batch is stored.
    let e = store
        .write_blocking(vec![response("R2", 7.0), response("R1", 3.0)])
        .unwrap_err();
    assert_eq!(
        e,
        WriteError::Conflict {
            index: 1,
            kind: "response",
            id: "R1".into()
        }
    );
    // The same records again: a replay, acknowledged, stored once.
    let r = store
        .write_blocking(vec![event("E1"), response("R1", 9.0)])
        .unwrap();
    assert_eq!((r.stored, r.replayed), (0, 2));
    // An id twice in one batch with the same content is a replay of itself.
    let r = store
        .write_blocking(vec![event("E2"), event("E2")])
        .unwrap();
    assert_eq!((r.stored, r.replayed), (1, 1));
    let reader = store.reader().unwrap();
    let c = reader.counts().unwrap();
    assert_eq!((c.responses, c.answers, c.events), (1, 2, 2));
    let stored = &reader.responses().unwrap()[0];
    assert!(stored.received_at > 1_735_689_600_000_000);
    let stored = &stored.response;
    assert_eq!(stored.response_id, "R1");
    // Answers come back sorted by metric.
    let metrics: Vec<&str> = stored.answers.iter().map(|a| a.metric.as_str()).collect();
    assert_eq!(metrics, ["csat", "nps"]);
    assert_eq!(stored.answers[1].score, Some(9.0));
    assert_eq!(
        stored.answers[1].comment.as_deref(),
        Some("Delivery was late <again> & \"again\""),
        "text is stored as it came; escaping is the renderer's job"
    );
    assert_eq!(stored.attributes["region"], "North");
    // Invalid batches never reach the writer.
    assert!(matches!(
        store.write_blocking(vec![]),
        Err(WriteError::Invalid { .. })
    ));
}

#[test]
fn concurrent_batches_share_commits_and_a_failing_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("s.db")).unwrap());
    store.write_blocking(vec![response("taken", 5.0)]).unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut conflicts = 0;
                for i in 0..40 {
                    let mut batch = vec![
                        response(&format!("R{t}-{i}"), 8.0),
                        event(&format!("E{t}-{i}")),
                    ];
                    // Every tenth batch of every thread also carries a conflicting record.
                    if i % 10 == 0 {
                        batch.push(response("taken", 1.0));
                    }
                    match store.write_blocking(batch) {
                        Ok(r) => assert_eq!(r.stored, 2),
                        Err(WriteError::Conflict { index: 2, .. }) => conflicts += 1,
                        Err(e) => panic!("{e}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    let conflicts: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(conflicts, 16 * 4);
    let c = store.reader().unwrap().counts().unwrap();
    // 16 threads x 36 good batches, plus "taken".
    assert_eq!(c.responses, 16 * 36 + 1);
    assert_eq!(c.events, 16 * 36);
    assert_eq!(c.answers, 2 * c.responses);
    let (commits, batches) = store.stats();
    assert_eq!(batches, 16 * 36 + 1);
    assert!(
        commits < batches,
        "concurrent batches share commits: {commits} commits for {batches} batches"
    );
}

#[test]
fn async_callers_get_their_receipt_after_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("s.db")).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let receipts = rt.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.write(vec![event(&format!("E{i}"))]).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    assert!(
        receipts
            .iter()
            .all(|r| r.as_ref().is_ok_and(|r| r.stored == 1))
    );
    // Acknowledged, so visible to a reader opened afterwards.
    assert_eq!(store.reader().unwrap().counts().unwrap().events, 64);
}

#[test]
fn the_writer_finishes_what_is_queued_when_the_store_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store = Store::open(&path).unwrap();
    let pending: Vec<_> = (0..100)
        .map(|i| store.submit(vec![event(&format!("E{i}"))]).unwrap())
        .collect();
    drop(store);
    for p in pending {
        assert_eq!(p.wait().unwrap().stored, 1);
    }
    let reader = cxray_store::Reader::open_file(&path).unwrap();
    assert_eq!(reader.counts().unwrap().events, 100);
}

#[test]
fn a_survey_page_revises_its_response_answer_by_answer() {
    use cxray_store::{NewAnswer, NewResponse, Record, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let page = |answers: Vec<NewAnswer>| {
        Record::Revision(NewResponse {
            response_id: "inv-1".into(),
            survey: Some("checkout".into()),
            submitted_at: 10,
            answers,
            ..Default::default()
        })
    };
    let score = |m: &str, s: f64| NewAnswer {
        metric: m.into(),
        score: Some(s),
        comment: None,
    };
    store
        .write_blocking(vec![page(vec![score("nps", 3.0)])])
        .unwrap();
    // The follow-up sets the comment of the NPS answer and keeps its score.
    let reason = NewAnswer {
        metric: "nps".into(),
        score: None,
        comment: Some("late".into()),
    };
    store.write_blocking(vec![page(vec![reason])]).unwrap();
    store
        .write_blocking(vec![page(vec![score("csat", 2.0)])])
        .unwrap();
    // Answering the first question again changes the score, never adds a response.
    store
        .write_blocking(vec![page(vec![score("nps", 6.0)])])
        .unwrap();
    let r = store.reader().unwrap().responses().unwrap();
    assert_eq!(r.len(), 1);
    let a = &r[0].response.answers;
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[1].metric.as_str(), a[1].score, a[1].comment.as_deref()),
        ("nps", Some(6.0), Some("late"))
    );
    assert_eq!(a[0].score, Some(2.0));
    // A response of another survey (or one sent whole through the API) is not revised.
    let mut other = page(vec![score("nps", 9.0)]);
    if let Record::Revision(r) = &mut other {
        r.survey = Some("onboarding".into());
    }
    assert!(matches!(
        store.write_blocking(vec![other]),
        Err(cxray_store::WriteError::Conflict { .. })
    ));
    let mut unnamed = page(vec![score("nps", 9.0)]);
    if let Record::Revision(r) = &mut unnamed {
        r.survey = None;
    }
    assert!(store.write_blocking(vec![unnamed]).is_err());
    assert_eq!(
        store.reader().unwrap().responses().unwrap()[0]
            .response
            .answers[1]
            .score,
        Some(6.0)
    );
}

#[test]
fn a_backup_taken_while_writing_is_a_consistent_store_that_can_be_served() {
    use cxray_store::{NewAnswer, NewResponse, Record, Store};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let store = Arc::new(Store::open(&db).unwrap());
    let response = |i: usize| {
        Record::Response(NewResponse {
            response_id: format!("R{i}"),
            submitted_at: i as i64,
            answers: vec![
                NewAnswer {
                    metric: "nps".into(),
                    score: Some((i % 11) as f64),
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
    };
    for i in 0..200 {
        store.write_blocking(vec![response(i)]).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 200;
            while !stop.load(Ordering::Relaxed) {
                store.write_blocking(vec![response(i)]).unwrap();
                i += 1;
            }
            i
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(30));
    let copy = dir.path().join("backup.db");
    let counts = cxray_store::backup(&db, &copy).unwrap();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().unwrap();
    // A snapshot: at least what was there before, never a response without both answers.
    assert!(
        counts.responses >= 200 && counts.responses <= written as u64,
        "{counts:?}"
    );
    assert_eq!(counts.answers, 2 * counts.responses);
    // Restoring is opening the copy as a store: it takes writes and reads back.
    let restored = Store::open(&copy).unwrap();
    restored.write_blocking(vec![response(1_000_000)]).unwrap();
    assert_eq!(
        restored.reader().unwrap().counts().unwrap().responses,
        counts.responses + 1
    );
    // A backup never overwrites a file.
    let e = cxray_store::backup(&db, &copy).unwrap_err();
    assert!(e.to_string().contains("never overwrites"), "{e}");
}

#[test]
fn an_export_to_parquet_has_typed_columns_and_every_row() {
    use arrow::array::{Array, AsArray};
    use cxray_store::{ExportFormat, NewAnswer, NewEvent, NewResponse, Record, Store};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("s.db")).unwrap();
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("region".to_string(), "North".to_string());
    store
        .write_blocking(vec![
            Record::Response(NewResponse {
                response_id: "R1".into(),
                submitted_at: 1_735_689_600_123_456,
                attributes,
                answers: vec![
                    NewAnswer {
                        metric: "nps".into(),
                        score: Some(9.0),
                        comment: Some("é, \"ok\"\nyes".into()),
                    },
                    NewAnswer {
                        metric: "csat".into(),
                        score: None,
                        comment: Some("only words".into()),
                    },
                ],
                ..Default::default()
            }),
            Record::Event(NewEvent {
                event_id: "E1".into(),
                customer_id: Some("C1".into()),
                step: "visit".into(),
                at: 1_735_689_600_000_000,
                ..Default::default()
            }),
        ])
        .unwrap();
    let out = dir.path().join("out");
    let files = store
        .reader()
        .unwrap()
        .export(&out, ExportFormat::Parquet)
        .unwrap();
    assert_eq!(
        files.iter().map(|f| f.rows).collect::<Vec<_>>(),
        vec![0, 2, 1]
    );
    let read = |name: &str| {
        let f = std::fs::File::open(out.join(name)).unwrap();
        let r = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap();
        r.map(|b| b.unwrap()).collect::<Vec<_>>()
    };
    let b = &read("responses.parquet")[0];
    assert_eq!(b.num_rows(), 2);
    let at = b
        .column_by_name("submitted_at")
        .unwrap()
        .as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    assert_eq!(at.value(0), 1_735_689_600_123_456);
    let score = b
        .column_by_name("score")
        .unwrap()
        .as_primitive::<arrow::datatypes::Float64Type>();
    // Answers sorted by metric: csat (no score) first.
    assert!(score.is_null(0));
    assert_eq!(score.value(1), 9.0);
    let comment = b.column_by_name("comment").unwrap().as_string::<i32>();
    assert_eq!(comment.value(1), "é, \"ok\"\nyes");
    assert_eq!(
        b.column_by_name("region")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "North"
    );
    assert!(b.column_by_name("survey").unwrap().is_null(0));
    assert_eq!(read("journey.parquet")[0].num_rows(), 1);
}

#[cfg(unix)]
#[test]
fn the_store_and_its_backups_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = cxray_store::Store::open(&db).unwrap();
    let copy = dir.path().join("copy.db");
    cxray_store::backup(&db, &copy).unwrap();
    drop(store);
    for f in [&db, &copy] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

#[test]
fn forgetting_a_customer_leaves_nothing_of_them_in_the_files() {
    use cxray_store::{NewAnswer, NewEvent, NewResponse, Record, Store};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = Store::open(&db).unwrap();
    let secret = "Zed-Private-Customer-4711";
    let response = |id: &str, customer: &str, comment: &str| {
        Record::Response(NewResponse {
            response_id: id.into(),
            customer_id: Some(customer.into()),
            submitted_at: 1,
            answers: vec![NewAnswer {
                metric: "nps".into(),
                score: Some(3.0),
                comment: Some(comment.into()),
            }],
            ..Default::default()
        })
    };
    let event = |id: &str, customer: &str| {
        Record::Event(NewEvent {
            event_id: id.into(),
            customer_id: Some(customer.into()),
            step: "visit".into(),
            at: 1,
            ..Default::default()
        })
    };
    store
        .write_blocking(vec![
            response("R1", secret, "my address is Secret Lane 12"),
            response("R2", "C2", "kept"),
            event("E1", secret),
            event("E2", "C2"),
        ])
        .unwrap();
    let mine = store.reader().unwrap().customer_data(secret).unwrap();
    assert_eq!((mine.responses.len(), mine.events.len()), (1, 1));
    drop(store);
    let erased = cxray_store::forget_customer(&db, secret).unwrap();
    assert_eq!(
        (
            erased.responses,
            erased.answers,
            erased.events,
            erased.invitations
        ),
        (1, 1, 1, 0)
    );
    assert!(erased.log_truncated);
    // Nothing of them in any table, nor in the bytes of the file and its log.
    let reader = cxray_store::Reader::open_file(&db).unwrap();
    let left = reader.customer_data(secret).unwrap();
    assert!(left.responses.is_empty() && left.events.is_empty());
    assert_eq!(reader.counts().unwrap().responses, 1);
    assert_eq!(reader.counts().unwrap().events, 1);
    drop(reader);
    for file in ["s.db", "s.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        for needle in [secret.as_bytes(), b"Secret Lane 12".as_slice()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{file} still holds it"
            );
        }
    }
    // The erasure is logged, without the id.
    let reader = cxray_store::Reader::open_file(&db).unwrap();
    let log = reader.erasures().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].1, log[0].2, log[0].3), (1, 1, 1));
    // Forgetting someone unknown erases nothing and is no error.
    assert_eq!(
        cxray_store::forget_customer(&db, "nobody")
            .unwrap()
            .responses,
        0
    );
    assert!(cxray_store::forget_customer(&db, " ").is_err());
}

#[test]
fn the_outbox_keeps_an_email_until_it_is_sent_refused_or_past_its_link() {
    use cxray_store::{Keys, OutboxEmail};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let mut keys = Keys::open(&db).unwrap();
    let email = |id: &str, customer: &str, not_before: i64, expires_at: i64| OutboxEmail {
        invitation_id: id.into(),
        customer_id: Some(customer.into()),
        recipient: format!("{customer}@example.test"),
        subject: "How did we do?".into(),
        text_body: format!("text of {customer}"),
        html_body: format!("<p>html of {customer}</p>"),
        unsubscribe: Some(format!("https://x.test/u/{id}")),
        not_before,
        expires_at,
    };
    let batch = keys.decision_batch().unwrap();
    batch.queue_email(&email("I1", "C1", 100, 1_000)).unwrap();
    batch.queue_email(&email("I2", "C2", 200, 1_000)).unwrap();
    batch.queue_email(&email("I3", "C3", 300, 350)).unwrap();
    // Queued twice (a replay): kept once, as first queued.
    batch.queue_email(&email("I1", "C9", 100, 1_000)).unwrap();
    batch.commit().unwrap();
    // Only what is due, soonest first.
    let due = keys.due_emails(250, 10).unwrap();
    assert_eq!(
        due.iter()
            .map(|q| q.email.invitation_id.as_str())
            .collect::<Vec<_>>(),
        ["I1", "I2"]
    );
    assert_eq!(due[0].email.customer_id.as_deref(), Some("C1"));
    keys.email_attempted("I1", 260, Ok(())).unwrap();
    keys.email_attempted("I2", 260, Err(("451 busy", Some(500))))
        .unwrap();
    assert_eq!(keys.next_email_due().unwrap(), Some(300));
    // Past its link's expiry before it could go: expired, never sent.
    assert_eq!(keys.expire_emails(400).unwrap(), 1);
    assert!(keys.due_emails(499, 10).unwrap().is_empty());
    keys.email_attempted("I2", 500, Err(("550 no such mailbox", None)))
        .unwrap();
    // An attempt recorded for an email no longer pending changes nothing.
    keys.email_attempted("I1", 600, Err(("late", None)))
        .unwrap();
    let reader = cxray_store::Reader::open_file(&db).unwrap();
    let all = reader.outbox(None, None).unwrap();
    let state: Vec<_> = all
        .iter()
        .map(|q| {
            (
                q.email.invitation_id.as_str(),
                q.status.as_str(),
                q.attempts,
                q.last_error.as_deref(),
                q.sent_at,
            )
        })
        .collect();
    assert_eq!(
        state,
        [
            ("I1", "sent", 1, None, Some(260)),
            ("I2", "failed", 2, Some("550 no such mailbox"), None),
            ("I3", "expired", 0, None, None),
        ]
    );
    assert_eq!(
        reader.outbox_counts().unwrap(),
        [
            ("expired".to_string(), 1),
            ("failed".to_string(), 1),
            ("sent".to_string(), 1)
        ]
    );
    drop((reader, keys));
    // Forgetting a customer erases their email, text and address.
    let erased = cxray_store::forget_customer(&db, "C2").unwrap();
    assert_eq!(erased.outbox, 1);
    let reader = cxray_store::Reader::open_file(&db).unwrap();
    assert_eq!(reader.outbox(None, None).unwrap().len(), 2);
    assert!(reader.outbox(Some("C2"), None).unwrap().is_empty());
    drop(reader);
    let bytes = std::fs::read(&db).unwrap();
    for needle in [b"C2@example.test".as_slice(), b"html of C2"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the file still holds {}",
            String::from_utf8_lossy(needle)
        );
    }
}
