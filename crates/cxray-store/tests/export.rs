//! What the store exports, cxray reads back through the validation every file goes through:
//! every answer and event accepted, none rejected, values unchanged (text with commas, quotes,
//! line breaks and any script; comments without a score; attributes as segment columns).

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float64Type;
use cxray_ingest::{Entity, LoadOptions, SourceConfig, Sources};
use cxray_store::{NewAnswer, NewEvent, NewResponse, Record, Store, WriteError};

#[test]
fn the_exported_columns_are_cxrays_canonical_names() {
    // The store writes its own header (it does not depend on the reader); every column but
    // the invitation is one cxray maps by name. invitation_id is read as an attribute (with a
    // value per response, never a default report dimension, which needs 2 to 12 values).
    for c in cxray_store::RESPONSE_COLUMNS {
        assert!(
            cxray_ingest::CANONICAL.contains(&c) || c == "invitation_id",
            "{c} is not a canonical response column"
        );
    }
}

#[test]
fn exported_files_pass_cxrays_own_validation_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("cxray.db")).unwrap();
    let comment = "Late, again: \"never\" —\nzašto? 为什么";
    store
        .write_blocking(vec![
            Record::Response(NewResponse {
                response_id: "R1".into(),
                customer_id: Some("C1".into()),
                submitted_at: 1_735_729_200_123_456, // 2025-01-01T11:00:00.123456Z
                channel: Some("email".into()),
                attributes: [("region".to_string(), "North".to_string())].into(),
                answers: vec![
                    NewAnswer {
                        metric: "nps".into(),
                        score: Some(3.0),
                        comment: Some(comment.into()),
                    },
                    NewAnswer {
                        metric: "csat".into(),
                        score: Some(2.0),
                        comment: None,
                    },
                ],
                ..Default::default()
            }),
            Record::Response(NewResponse {
                response_id: "R2".into(),
                submitted_at: 1_735_815_600_000_000,
                answers: vec![NewAnswer {
                    metric: "nps".into(),
                    score: Some(10.0),
                    comment: None,
                }],
                ..Default::default()
            }),
            Record::Event(NewEvent {
                event_id: "E1".into(),
                customer_id: Some("C1".into()),
                step: "delivery".into(),
                at: 1_735_700_000_000_000,
                attributes: [("device".to_string(), "ios".to_string())].into(),
                ..Default::default()
            }),
        ])
        .unwrap();
    let out = dir.path().join("export");
    let files = store.reader().unwrap().export_csv(&out).unwrap();
    assert_eq!(
        files.iter().map(|f| (f.entity, f.rows)).collect::<Vec<_>>(),
        [("invitations", 0), ("responses", 3), ("journey", 1)]
    );

    let sources = Sources {
        list: files
            .iter()
            .filter(|f| f.rows > 0)
            .map(|f| SourceConfig {
                path: f.path.clone(),
                entity: Some(f.entity.into()),
                ..Default::default()
            })
            .collect(),
        base_dir: out.clone(),
        ..Default::default()
    };
    let catalog = cxray_metrics::MetricCatalog::builtin();
    let loaded = cxray_ingest::load_responses(&sources, &catalog, &LoadOptions::default()).unwrap();
    assert_eq!(
        (
            loaded.totals.read,
            loaded.totals.accepted,
            loaded.totals.rejected
        ),
        (3, 3, 0),
        "{:?}",
        loaded.rejects
    );
    assert!(loaded.attributes.contains(&"region".to_string()));
    let b = arrow::compute::concat_batches(&loaded.schema, &loaded.batches).unwrap();
    let col = |name: &str| b.column_by_name(name).unwrap().clone();
    let text = |name: &str| {
        let c = arrow::compute::cast(&col(name), &arrow::datatypes::DataType::Utf8).unwrap();
        let s = c.as_string::<i32>().clone();
        (0..s.len())
            .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
            .collect::<Vec<_>>()
    };
    let ids = text("response_id");
    let metrics = text("metric");
    let row = |id: &str, m: &str| {
        (0..b.num_rows())
            .find(|&i| {
                ids[i].as_deref() == Some(&format!("{id}#{m}")) && metrics[i].as_deref() == Some(m)
            })
            .unwrap()
    };
    let scores = col("score");
    let scores = scores.as_primitive::<Float64Type>();
    let r = row("R1", "nps");
    assert_eq!(scores.value(r), 3.0);
    assert_eq!(text("comment")[r].as_deref(), Some(comment));
    assert_eq!(text("region")[r].as_deref(), Some("North"));
    assert_eq!(text("customer_id")[r].as_deref(), Some("C1"));
    assert_eq!(scores.value(row("R1", "csat")), 2.0);
    let r2 = row("R2", "nps");
    assert_eq!(scores.value(r2), 10.0);
    assert_eq!(text("customer_id")[r2], None);

    let journey = cxray_ingest::load_entity(&sources, Entity::Journey, 1)
        .unwrap()
        .unwrap();
    assert_eq!((journey.totals.accepted, journey.totals.rejected), (1, 0));
    assert!(journey.attributes.contains(&"device".to_string()));

    // An attribute named like a column of the record is refused before it is stored.
    let clash = store.write_blocking(vec![Record::Response(NewResponse {
        response_id: "R3".into(),
        submitted_at: 1,
        attributes: [("channel".to_string(), "web".to_string())].into(),
        answers: vec![NewAnswer {
            metric: "nps".into(),
            score: Some(1.0),
            comment: None,
        }],
        ..Default::default()
    })]);
    assert!(
        matches!(&clash, Err(WriteError::Invalid { reason, .. }) if reason.contains("\"channel\"")),
        "{clash:?}"
    );
}
