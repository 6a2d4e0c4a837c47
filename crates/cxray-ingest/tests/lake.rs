//! The lake: what `cxray ingest` writes reads back as the sources read directly, nothing is
//! lost, files are skipped or appended, and ids already in the lake are rejected.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, UInt16Type};
use cxray_ingest::lake::{IngestReport, Lake, MANIFEST, ingest, read_manifest};
use cxray_ingest::{
    Entity, IngestError, LoadOptions, SourceConfig, Sources, load_entity, load_responses,
};
use cxray_metrics::MetricCatalog;

/// Answers over three months, not in time order, one bad score (line 5), a segment column.
const ANSWERS: &str = "response_id,customer_id,submitted_at,metric,score,comment,region\n\
r1,c1,2025-03-02T10:00:00Z,nps,9,fast,North\n\
r2,c2,2025-01-15T10:00:00Z,nps,3,late again,South\n\
r3,c3,2025-02-28T23:30:00Z,nps,10,,North\n\
r4,c1,2025-01-31T08:00:00Z,nps,eleven,,South\n\
r5,c4,2025-03-31T12:00:00Z,csat,4,ok,\n\
r6,c2,2025-02-01T00:00:00Z,nps,7,fine,South\n";

/// A later export: r6 again (already in the lake), r7 new, and a channel column.
const MORE_ANSWERS: &str = "response_id,customer_id,submitted_at,metric,score,channel\n\
r6,c2,2025-02-01T00:00:00Z,nps,7,web\n\
r7,c5,2025-04-02T09:00:00Z,nps,8,app\n";

const TICKETS: &str = "ticket_id,customer_id,created_at,resolved_at,contacts\n\
t1,c1,2025-01-03T09:00:00Z,2025-01-04T09:00:00Z,1\n\
t2,c2,2025-02-03T09:00:00Z,,2\n\
t2,c3,2025-02-05T09:00:00Z,,1\n";

const CUSTOMERS: &str = "customer_id,signup_at,plan\n\
c1,2024-12-01T00:00:00Z,pro\n\
c2,,basic\n\
c3,2025-01-20T00:00:00Z,pro\n";

fn source(dir: &Path, name: &str, entity: &str, text: &str) -> SourceConfig {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    SourceConfig {
        path,
        entity: Some(entity.into()),
        ..Default::default()
    }
}

fn sources(dir: &Path, list: Vec<SourceConfig>) -> Sources {
    Sources {
        list,
        base_dir: dir.to_path_buf(),
        timezone: "Europe/Amsterdam".into(),
        ..Default::default()
    }
}

/// `ANSWERS` ingested into `lake` in a new folder: the folder, the sources and the lake.
fn answers_in_a_lake() -> (tempfile::TempDir, Sources, std::path::PathBuf) {
    in_a_lake("answers.csv", "responses", ANSWERS)
}

/// One file of `entity` ingested into `lake` in a new folder: the folder, the sources and
/// the lake.
fn in_a_lake(
    name: &str,
    entity: &str,
    text: &str,
) -> (tempfile::TempDir, Sources, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sources(dir.path(), vec![source(dir.path(), name, entity, text)]);
    let lake_dir = dir.path().join("lake");
    into_lake(&cfg, &lake_dir).unwrap();
    (dir, cfg, lake_dir)
}

/// Ingests `cfg` into the lake at `lake` with the built-in metrics and two threads.
fn into_lake(cfg: &Sources, lake: &Path) -> Result<IngestReport, IngestError> {
    ingest(cfg, &MetricCatalog::builtin(), lake, &opts())
}

fn opts() -> LoadOptions {
    LoadOptions {
        threads: 2,
        ..Default::default()
    }
}

/// Rows as sortable text, one string per row, every column.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        // Instants as microseconds (formatting a zone name needs chrono-tz in arrow).
        let plain: Vec<arrow::array::ArrayRef> = b
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                arrow::datatypes::DataType::Timestamp(..) => {
                    arrow::compute::cast(c, &arrow::datatypes::DataType::Int64).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let cols: Vec<_> = plain
            .iter()
            .map(|c| arrow::util::display::ArrayFormatter::try_new(c.as_ref(), &Default::default()))
            .collect::<Result<_, _>>()
            .unwrap();
        for r in 0..b.num_rows() {
            out.push(
                cols.iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn the_lake_reads_back_what_a_direct_read_gives() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sources(
        dir.path(),
        vec![
            source(dir.path(), "answers.csv", "responses", ANSWERS),
            source(dir.path(), "tickets.csv", "tickets", TICKETS),
            source(dir.path(), "customers.csv", "customers", CUSTOMERS),
        ],
    );
    let lake_dir = dir.path().join("lake");
    let report = into_lake(&cfg, &lake_dir).unwrap();
    assert_eq!(report.files_in_lake, 3);
    let statuses: Vec<&str> = report.sources.iter().map(|s| s.status).collect();
    assert_eq!(statuses, ["added", "added", "added"]);
    // Answers: 6 read, the bad score rejected; tickets: the repeated t2 rejected.
    assert_eq!(
        (
            report.sources[0].counts.read,
            report.sources[0].counts.accepted
        ),
        (6, 5)
    );
    assert_eq!(report.sources[1].counts.rejected, 1);
    assert_eq!(
        report.totals.read,
        report.totals.accepted + report.totals.rejected
    );

    // One part per local month: 23:30 UTC on 28 February is 1 March in Amsterdam.
    let m = read_manifest(&lake_dir).unwrap().unwrap();
    let months: Vec<_> = m.files[0].parts.iter().map(|p| p.month.clone()).collect();
    assert_eq!(
        months,
        [
            Some("2025-01".into()),
            Some("2025-02".into()),
            Some("2025-03".into())
        ]
    );
    assert_eq!(
        m.files[0].parts.iter().map(|p| p.rows).collect::<Vec<_>>(),
        [1, 1, 3]
    );
    // A customer without a signup date is kept, in a part without a month.
    assert!(
        m.files[2]
            .parts
            .iter()
            .any(|p| p.month.is_none() && p.rows == 1)
    );

    let lake = Lake::open(&lake_dir).unwrap();
    let direct = load_responses(&cfg, &MetricCatalog::builtin(), &opts()).unwrap();
    let stored = lake.responses(&opts()).unwrap().unwrap();
    assert_eq!(stored.schema, direct.schema);
    assert_eq!(rows(&stored.batches), rows(&direct.batches));
    assert_eq!(stored.totals, direct.totals);
    assert_eq!(stored.rejects, direct.rejects);
    assert_eq!(stored.rejects[0].line, 5);

    // Only the months asked for are read (February alone: r6; r3 is 1 March locally).
    let feb = lake
        .responses_between(
            &opts(),
            chrono::NaiveDate::from_ymd_opt(2025, 2, 10),
            chrono::NaiveDate::from_ymd_opt(2025, 2, 20),
        )
        .unwrap()
        .unwrap();
    let ids: Vec<String> = rows(&feb.batches)
        .iter()
        .map(|r| r.split('|').next().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["r6"]);
    assert_eq!(feb.totals, direct.totals);

    for entity in [Entity::Tickets, Entity::Customers] {
        let direct = load_entity(&cfg, entity, 2).unwrap().unwrap();
        let stored = lake.entity(entity, 2).unwrap().unwrap();
        assert_eq!(stored.schema, direct.schema);
        assert_eq!(stored.rejects, direct.rejects);
        assert_eq!(stored.totals, direct.totals);
        // Rows equal but for the file index, which is the file's place in the manifest.
        let file_col = stored.schema.index_of("source_file").unwrap();
        for b in &stored.batches {
            for f in b.column(file_col).as_primitive::<UInt16Type>().values() {
                assert!(stored.files[*f as usize].ends_with(&format!("{}.csv", entity.name())));
            }
        }
        let strip = |bs: &[RecordBatch]| {
            let keep: Vec<usize> = (0..bs[0].num_columns())
                .filter(|c| *c != file_col)
                .collect();
            rows(
                &bs.iter()
                    .map(|b| b.project(&keep).unwrap())
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(strip(&stored.batches), strip(&direct.batches));
    }
    assert!(lake.entity(Entity::Journey, 2).unwrap().is_none());
}

#[test]
fn ingesting_again_skips_known_content_and_rejects_ids_already_in_the_lake() {
    let dir = tempfile::tempdir().unwrap();
    let first = source(dir.path(), "answers.csv", "responses", ANSWERS);
    let lake_dir = dir.path().join("lake");
    into_lake(&sources(dir.path(), vec![first.clone()]), &lake_dir).unwrap();

    // The same content under another name is skipped; the new export is appended.
    std::fs::copy(dir.path().join("answers.csv"), dir.path().join("copy.csv")).unwrap();
    let copy = SourceConfig {
        path: dir.path().join("copy.csv"),
        ..first.clone()
    };
    let more = source(dir.path(), "more.csv", "responses", MORE_ANSWERS);
    let cfg = sources(dir.path(), vec![first, copy, more]);
    let report = into_lake(&cfg, &lake_dir).unwrap();
    let statuses: Vec<&str> = report.sources.iter().map(|s| s.status).collect();
    assert_eq!(statuses, ["skipped", "skipped", "added"]);
    assert!(
        report.sources[1]
            .same_as
            .as_ref()
            .unwrap()
            .ends_with("answers.csv")
    );
    let added = &report.sources[2];
    assert_eq!(
        (
            added.counts.read,
            added.counts.accepted,
            added.counts.rejected
        ),
        (2, 1, 1)
    );
    assert_eq!(added.duplicates_in_lake, 1);
    let dup = &report.rejects[0];
    assert_eq!((dup.line, dup.value.as_str()), (2, "r6"));
    assert!(dup.reason.contains("already in the lake from") && dup.reason.contains("answers.csv"));
    assert_eq!(report.files_in_lake, 2);
    // Each file's ids are in the lake's id index, not in memory.
    for k in 0..2 {
        assert!(
            lake_dir
                .join(format!("ids/responses/part-0000{k}.ids"))
                .exists()
        );
    }

    // A lake written before the index existed (or one that lost it): the index is built
    // again from the parts, and an id of either earlier file is still caught.
    std::fs::remove_dir_all(lake_dir.join("ids")).unwrap();
    let third = source(
        dir.path(),
        "third.csv",
        "responses",
        "response_id,customer_id,submitted_at,metric,score\n\
         r8,c6,2025-05-01T00:00:00Z,nps,10\n\
         r7,c5,2025-04-02T09:00:00Z,nps,8\n\
         r1,c1,2025-01-02T09:00:00Z,nps,9\n",
    );
    let mut list = cfg.list.clone();
    list.push(third);
    let report = into_lake(&sources(dir.path(), list), &lake_dir).unwrap();
    let added = &report.sources[3];
    assert_eq!(
        (
            added.status,
            added.counts.accepted,
            added.duplicates_in_lake
        ),
        ("added", 1, 2)
    );
    let origins: Vec<(u64, &str, bool)> = report
        .rejects
        .iter()
        .map(|r| (r.line, r.value.as_str(), r.reason.contains("more.csv")))
        .collect();
    assert_eq!(origins, [(3, "r7", true), (4, "r1", false)]);
    for k in 0..3 {
        assert!(
            lake_dir
                .join(format!("ids/responses/part-0000{k}.ids"))
                .exists()
        );
    }
    let report = into_lake(&sources(dir.path(), cfg.list.clone()), &lake_dir).unwrap();
    assert!(report.sources.iter().all(|s| s.status == "skipped"));

    // Both files read as one table: the union of their segment columns, r6 once.
    let lake = Lake::open(&lake_dir).unwrap();
    let all = lake.responses(&opts()).unwrap().unwrap();
    assert_eq!(all.attributes, ["region", "channel"]);
    assert_eq!(all.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 7);
    assert_eq!(all.totals.read, 11);
    assert_eq!(all.totals.read, all.totals.accepted + all.totals.rejected);
    assert_eq!(all.rejects.len(), 4);
    // Only the segment columns asked for are read.
    let some = lake
        .responses(&LoadOptions {
            attributes: Some(vec!["channel".into()]),
            ..opts()
        })
        .unwrap()
        .unwrap();
    assert_eq!(some.attributes, ["channel"]);
    assert_eq!(some.schema.fields().len(), 9);
    let scores: f64 = some
        .batches
        .iter()
        .flat_map(|b| b.column(5).as_primitive::<Float64Type>().values().to_vec())
        .sum();
    assert_eq!(scores, 9.0 + 3.0 + 10.0 + 4.0 + 7.0 + 8.0 + 10.0);
    let channels: Vec<Option<String>> = some
        .batches
        .iter()
        .flat_map(|b| {
            let c = arrow::compute::cast(b.column(8), &arrow::datatypes::DataType::Utf8).unwrap();
            let c = c.as_string::<i32>();
            (0..c.len())
                .map(|r| c.is_valid(r).then(|| c.value(r).to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(channels.iter().filter(|c| c.is_none()).count(), 6);
    assert!(channels.contains(&Some("app".into())));
}

#[test]
fn parts_of_an_interrupted_ingest_are_removed_and_the_timezone_is_kept() {
    let (dir, cfg, lake_dir) = answers_in_a_lake();
    // A part the manifest does not list (an ingest stopped before writing it), and files
    // of the user's that are not the lake's parts, one named like a Spark export's.
    let stray = lake_dir.join("responses/month=2025-01/part-00001.parquet");
    std::fs::write(&stray, b"half written").unwrap();
    let notes = lake_dir.join("responses/README.txt");
    std::fs::write(&notes, b"mine").unwrap();
    let spark = lake_dir.join("responses/part-00000-4f1c.parquet");
    std::fs::write(&spark, b"theirs").unwrap();
    // The id runs of that stopped ingest: one written, one half written.
    let run = lake_dir.join("ids/responses/part-00000.ids");
    let stray_run = lake_dir.join("ids/responses/part-00001.ids");
    let half_run = lake_dir.join("ids/responses/part-00001.ids.tmp");
    assert!(run.exists());
    std::fs::write(&stray_run, b"CXIDS").unwrap();
    std::fs::write(&half_run, b"CX").unwrap();
    let report = into_lake(&cfg, &lake_dir).unwrap();
    assert_eq!(report.sources[0].status, "skipped");
    assert!(!stray.exists() && !stray_run.exists() && !half_run.exists());
    assert!(run.exists());
    assert!(notes.exists() && spark.exists());
    // A folder with files but no manifest is not taken for a lake.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir_all(foreign.join("responses")).unwrap();
    std::fs::write(foreign.join("responses/part-00000.parquet"), b"theirs").unwrap();
    let e = into_lake(&cfg, &foreign).unwrap_err().to_string();
    assert!(e.contains("no lake"), "{e}");
    assert!(foreign.join("responses/part-00000.parquet").exists());
    // The lake still reads.
    let all = Lake::open(&lake_dir)
        .unwrap()
        .responses(&opts())
        .unwrap()
        .unwrap();
    assert_eq!(all.batches.iter().map(|b| b.num_rows()).sum::<usize>(), 5);

    // Months were cut in Amsterdam time: another timezone is refused, nothing written.
    let before = std::fs::read(lake_dir.join(MANIFEST)).unwrap();
    let utc = Sources {
        timezone: "UTC".into(),
        ..cfg.clone()
    };
    let e = into_lake(&utc, &lake_dir).unwrap_err().to_string();
    assert!(e.contains("Europe/Amsterdam") && e.contains("UTC"), "{e}");
    assert_eq!(std::fs::read(lake_dir.join(MANIFEST)).unwrap(), before);

    // Strict mode: a file with a rejected row is not added.
    let strict = LoadOptions {
        strict: true,
        ..opts()
    };
    let other = dir.path().join("strict-lake");
    assert!(ingest(&cfg, &MetricCatalog::builtin(), &other, &strict).is_err());
    assert!(read_manifest(&other).unwrap().is_none());
}

#[test]
fn a_folder_without_a_manifest_or_with_a_foreign_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = Lake::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("cxray ingest"), "{e}");
    std::fs::write(dir.path().join(MANIFEST), b"{\"format\": \"other\"}").unwrap();
    assert!(Lake::open(dir.path()).is_err());
    std::fs::write(
        dir.path().join(MANIFEST),
        br#"{"format":"cxray-lake","schema_version":99,"timezone":"UTC","files":[]}"#,
    )
    .unwrap();
    let e = Lake::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains("version 99"), "{e}");
}

#[test]
fn a_changed_file_without_ids_is_refused_rather_than_counted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let events = "customer_id,event,at\nc1,start,2025-01-01T00:00:00Z\n";
    let cfg = sources(
        dir.path(),
        vec![source(dir.path(), "lifecycle.csv", "lifecycle", events)],
    );
    let lake_dir = dir.path().join("lake");
    into_lake(&cfg, &lake_dir).unwrap();
    let grown = format!("{events}c1,cancel,2025-03-01T00:00:00Z\n");
    std::fs::write(dir.path().join("lifecycle.csv"), grown).unwrap();
    let e = into_lake(&cfg, &lake_dir).unwrap_err().to_string();
    assert!(e.contains("no id"), "{e}");
    let lake = Lake::open(&lake_dir).unwrap();
    assert_eq!(lake.manifest().files.len(), 1);
    assert_eq!(
        lake.entity(Entity::Lifecycle, 1).unwrap().unwrap().rows(),
        1
    );
}

#[test]
fn answers_without_ids_are_not_taken_for_duplicates_of_another_file() {
    // Two monthly exports of the same name in two folders, without a response id column: the
    // ids cxray makes (file name and line) repeat, the answers do not.
    let dir = tempfile::tempdir().unwrap();
    let text = "customer_id,submitted_at,metric,score\nc1,2025-01-02T00:00:00Z,nps,9\n";
    let later = "customer_id,submitted_at,metric,score\nc2,2025-02-02T00:00:00Z,nps,3\n";
    for (folder, t) in [("jan", text), ("feb", later)] {
        std::fs::create_dir_all(dir.path().join(folder)).unwrap();
        std::fs::write(dir.path().join(folder).join("answers.csv"), t).unwrap();
    }
    let list = ["jan", "feb"]
        .iter()
        .map(|f| SourceConfig {
            path: dir.path().join(f).join("answers.csv"),
            ..Default::default()
        })
        .collect();
    let lake_dir = dir.path().join("lake");
    let report = into_lake(&sources(dir.path(), list), &lake_dir).unwrap();
    assert_eq!(report.totals.accepted, 2);
    assert!(report.rejects.is_empty());

    // The same content read with other settings is refused, not skipped.
    let other = vec![SourceConfig {
        path: dir.path().join("jan/answers.csv"),
        timestamp_format: Some("%Y-%m-%dT%H:%M:%SZ".into()),
        ..Default::default()
    }];
    let e = into_lake(&sources(dir.path(), other), &lake_dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("other settings"), "{e}");
}

#[test]
fn a_part_that_does_not_match_its_manifest_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = sources(
        dir.path(),
        vec![
            source(dir.path(), "answers.csv", "responses", ANSWERS),
            source(dir.path(), "tickets.csv", "tickets", TICKETS),
        ],
    );
    let lake_dir = dir.path().join("lake");
    into_lake(&cfg, &lake_dir).unwrap();
    let m = read_manifest(&lake_dir).unwrap().unwrap();
    // A tickets part put in place of an answers part.
    let answers_part = lake_dir.join(&m.files[0].parts[0].path);
    std::fs::copy(lake_dir.join(&m.files[1].parts[0].path), &answers_part).unwrap();
    let lake = Lake::open(&lake_dir).unwrap();
    let e = lake.responses(&opts()).unwrap_err().to_string();
    assert!(e.contains("does not match its manifest"), "{e}");
    // A part that is no Parquet at all.
    std::fs::write(&answers_part, b"not parquet").unwrap();
    assert!(lake.responses(&opts()).is_err());
    // Ingesting another answers file reads the lake's ids: an error too, no panic.
    let more = source(dir.path(), "more.csv", "responses", MORE_ANSWERS);
    let cfg = sources(dir.path(), vec![more]);
    assert!(into_lake(&cfg, &lake_dir).is_err());
    // A missing part: an error for a query engine's scan too, which would list it as an empty
    // folder and lose its rows.
    assert!(lake.responses_parts(&opts(), None, None).unwrap().is_some());
    std::fs::remove_file(&answers_part).unwrap();
    let e = lake
        .responses_parts(&opts(), None, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("is missing"), "{e}");
}

/// A lake records the metric scales its answers were validated against: ingesting into it,
/// or reading it, with other scales (a changed `[metrics]` declaration) is refused with both
/// named, and nothing is written; the same scales pass.
#[test]
fn answers_validated_against_other_scales_are_refused() {
    let (dir, _, lake_dir) = answers_in_a_lake();
    let builtin = MetricCatalog::builtin();
    let manifest = read_manifest(&lake_dir).unwrap().unwrap();
    assert_eq!(manifest.metrics, Some(builtin.validation_rules()));
    manifest.check_metrics(&builtin, &lake_dir).unwrap();
    // CSAT declared on 1-10: answers the lake rejected would now be accepted.
    let decl = cxray_metrics::MetricDeclaration {
        scale: Some([1.0, 10.0]),
        ..Default::default()
    };
    let wider = MetricCatalog::builtin()
        .with_declarations(&[("csat".to_string(), decl)].into_iter().collect())
        .unwrap();
    let before = std::fs::read(lake_dir.join(MANIFEST)).unwrap();
    let more = sources(
        dir.path(),
        vec![source(dir.path(), "more.csv", "responses", MORE_ANSWERS)],
    );
    let e = ingest(&more, &wider, &lake_dir, &opts())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("csat 1-5 whole") && e.contains("csat 1-10"),
        "{e}"
    );
    assert_eq!(std::fs::read(lake_dir.join(MANIFEST)).unwrap(), before);
    let e = manifest
        .check_metrics(&wider, &lake_dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("new lake"), "{e}");
    // A lake written before the scales were recorded holds answers validated against scales
    // no one wrote down: a later ingest does not stamp today's on them.
    let mut old: serde_json::Value = serde_json::from_slice(&before).unwrap();
    old.as_object_mut().unwrap().remove("metrics");
    std::fs::write(lake_dir.join(MANIFEST), serde_json::to_vec(&old).unwrap()).unwrap();
    ingest(&more, &wider, &lake_dir, &opts()).unwrap();
    assert_eq!(read_manifest(&lake_dir).unwrap().unwrap().metrics, None);
}

/// An entity's rejects are read from the lake's CSV files once per opened lake: every
/// analysis that scans the entity gets them, without reading the files again.
#[test]
fn an_entitys_rejects_are_read_once_per_opened_lake() {
    let (_dir, _, lake_dir) = in_a_lake("tickets.csv", "tickets", TICKETS);
    let lake = Lake::open(&lake_dir).unwrap();
    let (first, _) = lake
        .entity_parts(Entity::Tickets, None, None)
        .unwrap()
        .unwrap();
    // The repeated ticket t2 is the reject, with its line.
    assert_eq!(first.rejects.len(), 1);
    assert_eq!(first.rejects[0].line, 4);
    let manifest = read_manifest(&lake_dir).unwrap().unwrap();
    let csv = lake_dir.join(manifest.files[0].rejects.as_ref().unwrap());
    std::fs::remove_file(&csv).unwrap();
    let (again, _) = lake
        .entity_parts(Entity::Tickets, None, None)
        .unwrap()
        .unwrap();
    assert_eq!(again.rejects, first.rejects);
    // A lake opened anew reads them anew (and says the file is missing).
    assert!(
        Lake::open(&lake_dir)
            .unwrap()
            .entity_parts(Entity::Tickets, None, None)
            .is_err()
    );
}
