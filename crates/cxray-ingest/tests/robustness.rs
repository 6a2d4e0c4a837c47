//! Robustness of ingestion against arbitrary input: whatever the bytes, loading never panics,
//! and whenever it succeeds every answer read is either accepted or rejected with a reason.
//! (A coverage-guided fuzz target over the same entry point lives in `fuzz/`.)

use cxray_ingest::{
    Layout, LoadOptions, ProjectConfig, QuestionConfig, SourceConfig, load_responses,
};
use cxray_metrics::MetricCatalog;
use proptest::prelude::*;

fn load(
    bytes: &[u8],
    wide: bool,
    threads: usize,
) -> Result<cxray_ingest::Loaded, cxray_ingest::IngestError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    std::fs::write(&path, bytes).unwrap();
    let mut src = SourceConfig {
        path: path.clone(),
        ..Default::default()
    };
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
    let cfg = ProjectConfig {
        sources: vec![src],
        base_dir: dir.path().to_path_buf(),
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
        if let Ok(l) = load(bytes, wide, threads) {
            let t = l.totals;
            assert_eq!(t.read, t.accepted + t.rejected, "{t:?}");
            let rows: u64 = l.batches.iter().map(|b| b.num_rows() as u64).sum();
            assert_eq!(rows, t.accepted);
            let lost: u64 = l.rejects.iter().map(|r| r.answers).sum();
            assert_eq!(lost, t.rejected);
        }
    }
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
        let mut bytes = if wide { WIDE } else { LONG }.as_bytes().to_vec();
        for (pos, op, b) in edits {
            let at = pos % (bytes.len() + 1);
            match op {
                0 => bytes.insert(at, b),
                1 if at < bytes.len() => { bytes.remove(at); }
                2 if at < bytes.len() => bytes[at] = b,
                _ => bytes.truncate(at),
            }
        }
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
