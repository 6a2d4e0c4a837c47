//! The request parsers against arbitrary bodies: they never panic, refuse with a 4xx, and
//! what they accept the store accepts too. (`fuzz/fuzz_targets/api_body.rs` runs the same
//! invariants coverage-guided.)

use cxray_server::fuzzing::{check_body, verify_customer_token, verify_link};
use proptest::prelude::*;

fn check(events: bool, content_type: &str, key: Option<&str>, body: &[u8]) {
    match check_body(events, content_type, key, body) {
        Ok(records) => {
            assert!(!records.is_empty());
            cxray_store::check_records(&records).expect("the store takes what the API accepts");
        }
        Err(status) => assert!((400..500).contains(&status), "{status}"),
    }
}

const RESPONSE: &str = r#"{"response_id": "R1", "customer_id": 7, "submitted_at": "2026-03-01T10:00:00Z", "attributes": {"region": "North"}, "answers": [{"metric": "nps", "score": 9, "comment": "ok"}, {"metric": "csat", "score": "4"}]}"#;
const EVENT: &str =
    r#"{"event_id": "E1", "session_id": "S1", "step": "cart", "at": "2026-03-01 10:00"}"#;

/// `text` with each edit (position, operation, byte) applied.
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_bodies_are_answered(bytes in prop::collection::vec(any::<u8>(), 0..300), events in any::<bool>(), ndjson in any::<bool>()) {
        let ct = if ndjson { "application/x-ndjson" } else { "application/json" };
        check(events, ct, None, &bytes);
    }

    #[test]
    fn mutated_records_are_answered(
        events in any::<bool>(),
        lines in 1usize..4,
        edits in prop::collection::vec((0usize..400, 0u8..4, prop::sample::select(vec![b'"', b',', b'{', b'}', b'[', b':', b'\n', 0xff, 0x00, b'9', b'#', b' '])), 0..8),
        key in prop::option::of("[ -~]{0,20}"),
    ) {
        let one = if events { EVENT } else { RESPONSE };
        let body = mutate(&vec![one; lines].join("\n"), &edits);
        check(events, "application/x-ndjson", key.as_deref(), &body);
        check(events, "application/json", key.as_deref(), &body);
    }

    #[test]
    fn arbitrary_tokens_are_refused(token in "[A-Za-z0-9_.-]{0,200}") {
        prop_assert!(!verify_link(&token));
    }

    #[test]
    fn arbitrary_customer_tokens_are_refused(
        customer in "\\PC{0,40}",
        expires in "[0-9+-]{0,25}",
        tag in "[0-9a-fA-F\\PC]{0,70}",
    ) {
        // Shaped like a token (three parts, a dot between), and the bytes alone.
        let token = format!("{customer}.{expires}.{tag}");
        prop_assert!(!verify_customer_token(&token));
        prop_assert!(!verify_customer_token(&customer));
    }
}

#[test]
fn the_unmutated_records_are_accepted() {
    assert_eq!(
        check_body(false, "application/json", None, RESPONSE.as_bytes())
            .unwrap()
            .len(),
        1
    );
    let two = format!("{EVENT}\n{}", EVENT.replace("E1", "E2"));
    assert_eq!(
        check_body(true, "application/x-ndjson", None, two.as_bytes())
            .unwrap()
            .len(),
        2
    );
}
