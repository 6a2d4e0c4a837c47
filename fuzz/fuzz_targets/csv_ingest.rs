//! Coverage-guided fuzzing of CSV ingestion, long and wide layouts:
//! `cargo fuzz run csv_ingest --sanitizer none` (see fuzz/README.md).
#![no_main]

use cxray_ingest::{Layout, LoadOptions, QuestionConfig, SourceConfig, Sources, load_responses};
use cxray_metrics::MetricCatalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    let dir = std::env::temp_dir().join(format!("cxray-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("in.csv");
    std::fs::write(&path, bytes).unwrap();
    let mut src = SourceConfig { path, ..Default::default() };
    if mode & 1 == 1 {
        src.layout = Layout::Wide;
        src.questions = vec![
            QuestionConfig { column: "q1".into(), metric: "nps".into(), comment: Some("why".into()) },
            QuestionConfig { column: "q2".into(), metric: "csat".into(), comment: None },
        ];
        src.columns.insert("submitted_at".into(), "date".into());
    }
    if mode & 2 == 2 {
        src.skip_rows_after_header = 1;
    }
    let cfg = Sources { list: vec![src], base_dir: dir, ..Default::default() };
    let threads = 1 + (mode as usize >> 2) % 3;
    if let Ok(l) = load_responses(&cfg, &MetricCatalog::builtin(), &LoadOptions { strict: false, threads, attributes: None }) {
        let t = l.totals;
        assert_eq!(t.read, t.accepted + t.rejected);
    }
});
