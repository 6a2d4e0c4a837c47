//! Robustness of ingestion against arbitrary input: whatever the bytes, loading never panics,
//! and whenever it succeeds every answer read is either accepted or rejected with a reason.
//! (A coverage-guided fuzz target over the same entry point lives in `fuzz/`.)

use cxray_ingest::{
    Format, Layout, LoadOptions, QuestionConfig, SourceConfig, Sources, load_responses,
};
use cxray_metrics::MetricCatalog;
use proptest::prelude::*;

fn load(
    bytes: &[u8],
    wide: bool,
    threads: usize,
) -> Result<cxray_ingest::Loaded, cxray_ingest::IngestError> {
    let dir = tempfile::tempdir().unwrap();
    load_from(bytes, wide, threads, false, dir.path())
}

/// Loads `bytes` from a file, or with `in_memory` as a source's content (no file written).
fn load_from(
    bytes: &[u8],
    wide: bool,
    threads: usize,
    in_memory: bool,
    dir: &std::path::Path,
) -> Result<cxray_ingest::Loaded, cxray_ingest::IngestError> {
    let path = dir.join("in.csv");
    let mut src = SourceConfig {
        path: path.clone(),
        ..Default::default()
    };
    if in_memory {
        src.content = Some(bytes.to_vec().into());
        src.format = Some(Format::Csv);
    } else {
        std::fs::write(&path, bytes).unwrap();
    }
    if wide {
        src.layout = Layout::Wide;
        src.questions = vec![
            QuestionConfig {
                column: "q1".into(),
                metric: "nps".into(),
                comment: Some("why".into()),
            },
            QuestionConfig {
                column: "q2".into(),
                metric: "csat".into(),
                comment: None,
            },
        ];
        src.columns.insert("response_id".into(), "rid".into());
        src.columns.insert("submitted_at".into(), "date".into());
    }
    let cfg = Sources {
        list: vec![src],
        base_dir: dir.to_path_buf(),
        ..Default::default()
    };
    load_responses(
        &cfg,
        &MetricCatalog::builtin(),
        &LoadOptions {
            strict: false,
            threads,
            attributes: None,
        },
    )
}

fn check(bytes: &[u8], wide: bool) {
    for threads in [1, 3] {
        let dir = tempfile::tempdir().unwrap();
        let from_file = load_from(bytes, wide, threads, false, dir.path());
        // The same bytes held in memory (as the server's request bodies and the store's rows
        // are) are read exactly as the file: same rows, same rejects, same errors.
        let in_memory = load_from(bytes, wide, threads, true, dir.path());
        match (&from_file, &in_memory) {
            (Ok(f), Ok(m)) => {
                assert_eq!(f.batches, m.batches);
                assert_eq!(f.rejects, m.rejects);
                assert_eq!(f.totals, m.totals);
            }
            (Err(f), Err(m)) => assert_eq!(f.to_string(), m.to_string()),
            _ => panic!("file {from_file:?} vs memory {in_memory:?}"),
        }
        if let Ok(l) = from_file {
            let t = l.totals;
            assert_eq!(t.read, t.accepted + t.rejected, "{t:?}");
            let rows: u64 = l.batches.iter().map(|b| b.num_rows() as u64).sum();
            assert_eq!(rows, t.accepted);
            let lost: u64 = l.rejects.iter().map(|r| r.answers).sum();
            assert_eq!(lost, t.rejected);
        }
    }
}

/// `text` with each edit (position, operation, byte) applied: insert, delete, replace or cut.
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for &(pos, op, b) in edits {
        let at = pos % (bytes.len() + 1);
        match op {
            0 => bytes.insert(at, b),
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            2 if at < bytes.len() => bytes[at] = b,
            _ => bytes.truncate(at),
        }
    }
    bytes
}

const LONG: &str = "response_id,submitted_at,metric,score,region,comment\n\
r1,2025-01-05T10:00:00Z,nps,10,North,\"great, \"\"really\"\"\"\n\
r2,2025-01-06,csat,4,South,\n\
r3,2025-02-01 09:00,ces,7,East,\"two\nlines\"\n";

const WIDE: &str = "rid,date,q1,why,q2,region\n\
a,2025-01-05,9,\"fine\",5,North\n\
b,2025-01-06,,,3,South\n\
c,2025-02-01,0 - Not at all likely,\"late\",1,East\n";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&bytes, false);
        check(&bytes, true);
    }

    /// Valid files with random edits: bytes inserted, deleted or replaced by the characters that
    /// matter to a CSV parser.
    #[test]
    fn mutated_files_never_panic(
        wide in any::<bool>(),
        edits in prop::collection::vec((0usize..400, 0u8..4, prop::sample::select(vec![b'"', b',', b'\n', b'\r', b';', 0xff, 0x00, b'9', b' '])), 0..12),
    ) {
        let bytes = mutate(if wide { WIDE } else { LONG }, &edits);
        check(&bytes, wide);
    }
}

#[test]
fn large_fields_and_many_columns() {
    // A 1 MB comment and a row with 5,000 columns.
    let mut s = String::from("response_id,submitted_at,metric,score,comment\n");
    s.push_str(&format!(
        "r1,2025-01-01,nps,9,\"{}\"\n",
        "x".repeat(1 << 20)
    ));
    s.push_str(&format!(
        "r2,2025-01-01,nps,9,{}\n",
        vec!["y"; 5000].join(",")
    ));
    s.push_str("r3,2025-01-01,nps,9,ok,,,\n");
    let l = load(s.as_bytes(), false, 2).unwrap();
    // The long comment is kept; the row with extra non-empty fields is rejected, trailing empty
    // fields are not a problem.
    assert_eq!(
        (l.totals.read, l.totals.accepted, l.totals.rejected),
        (3, 2, 1)
    );
    assert!(
        l.rejects[0]
            .reason
            .contains("5004 fields but the header has 5"),
        "{:?}",
        l.rejects[0]
    );
}

/// An operational entity loaded from bytes (as the only source of that entity).
fn load_entity(
    bytes: &[u8],
    entity: cxray_ingest::Entity,
    threads: usize,
) -> Result<Option<cxray_ingest::EntityTable>, cxray_ingest::IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, bytes).unwrap();
    let cfg = Sources {
        list: vec![SourceConfig {
            path,
            entity: Some(entity.name().to_string()),
            ..Default::default()
        }],
        base_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    cxray_ingest::load_entity(&cfg, entity, threads)
}

fn check_entity(bytes: &[u8], entity: cxray_ingest::Entity) {
    for threads in [1, 3] {
        if let Ok(Some(t)) = load_entity(bytes, entity, threads) {
            let c = t.totals;
            assert_eq!(c.read, c.accepted + c.rejected, "{c:?}");
            assert_eq!(t.rows() as u64, c.accepted);
            assert_eq!(t.rejects.len() as u64, c.rejected, "{:?}", t.rejects);
            for b in &t.batches {
                assert_eq!(b.schema(), t.schema);
            }
        }
    }
}

/// Valid files of each entity that has rules across columns, to mutate.
const ENTITIES: [(cxray_ingest::Entity, &str); 4] = [
    (
        cxray_ingest::Entity::Tickets,
        "ticket_id,created_at,first_response_at,resolved_at,contacts,reopened,reopened_at,\
         handle_seconds,channel\n\
         t1,2025-01-05T10:00:00Z,2025-01-05T11:00:00Z,2025-01-06,1,false,,300,email\n\
         t2,2025-01-06,,,2,yes,2025-01-08,\" 12 \",\"chat, web\"\n\
         t1,2025-02-01 09:00,2025-02-01 09:30,2025-02-02,1,,,,phone\n",
    ),
    (
        cxray_ingest::Entity::Contacts,
        "offered_at,answered_at,abandoned,wait_seconds,channel\n\
         2025-01-05T10:00:00Z,2025-01-05T10:01:00Z,false,60,phone\n\
         2025-01-05T11:00:00Z,,,3,chat\n",
    ),
    (
        cxray_ingest::Entity::Journey,
        "session_id,customer_id,step,at,device\n\
         s1,c1,visit,2025-01-05T10:00:00Z,ios\n\
         ,c2,cart,2025-01-05T10:05:00Z,\n\
         s2,,purchase,2025-01-06,android\n",
    ),
    (
        cxray_ingest::Entity::Lifecycle,
        "customer_id,event,at\nc1,start,2025-01-01\nc1,order,2025-02-01\nc2,cancel,2025-03-01\n",
    ),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    /// Entities validated column by column: whatever the edits, nothing panics and every row
    /// read is accepted or rejected with a reason.
    #[test]
    fn mutated_entity_files_never_panic(
        which in 0usize..4,
        edits in prop::collection::vec((0usize..400, 0u8..4, prop::sample::select(vec![b'"', b',', b'\n', b'\r', b'-', 0xff, 0x00, b'9', b' ', b'x'])), 0..12),
    ) {
        let (entity, text) = ENTITIES[which];
        check_entity(&mutate(text, &edits), entity);
    }

    #[test]
    fn arbitrary_bytes_as_tickets_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut b = b"ticket_id,created_at,resolved_at,contacts,reopened\n".to_vec();
        b.extend(bytes);
        check_entity(&b, cxray_ingest::Entity::Tickets);
    }
}

/// The unmutated entity files: exact counts, so the checks above run on files that load.
#[test]
fn entity_fixtures_load_with_the_expected_rejections() {
    let expect = [(3, 2, 1), (2, 2, 0), (3, 3, 0), (3, 3, 0)];
    for ((entity, text), (read, accepted, rejected)) in ENTITIES.iter().zip(expect) {
        let t = load_entity(text.as_bytes(), *entity, 2).unwrap().unwrap();
        let c = t.totals;
        assert_eq!(
            (c.read, c.accepted, c.rejected),
            (read, accepted, rejected),
            "{entity:?}: {:?}",
            t.rejects
        );
    }
}
