//! Coverage-guided fuzzing of the server's request parsers: the bodies of
//! `POST /api/v1/responses` and `/api/v1/events` (JSON and NDJSON) up to the store, and survey
//! link tokens. `cargo fuzz run api_body --sanitizer none` (see fuzz/README.md).
#![no_main]

use cxray_server::fuzzing::{check_body, verify_link};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else { return };
    let events = mode & 1 == 1;
    let content_type = if mode & 2 == 2 { "application/x-ndjson" } else { "application/json" };
    let key = (mode & 4 == 4).then_some("retry-1");
    match check_body(events, content_type, key, body) {
        Ok(records) => {
            assert!(!records.is_empty());
            cxray_store::check_records(&records).expect("the store takes what the API accepts");
        }
        Err(status) => assert!((400..500).contains(&status), "{status}"),
    }
    if let Ok(token) = std::str::from_utf8(body) {
        assert!(!verify_link(token));
    }
});
