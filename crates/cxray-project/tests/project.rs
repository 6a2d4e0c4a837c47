//! The project layer in-process: each source is read once and shared between analyses, a
//! project can be reloaded, and a report section that cannot be computed is named in the
//! report with its reason instead of disappearing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cxray_project::{
    ErrorKind, LinkageRequest, MetricsRequest, Observer, OpenOptions, Project, ProjectSource,
    ReportRequest, RetentionRequest, SourcesRead,
};

/// A small demo project (fewer customers than the default, same planted effects).
fn demo(dir: &Path) -> PathBuf {
    let opts = cxray_demo::DemoOptions {
        dir: dir.join("demo"),
        customers: 1500,
        months: 12,
        ..Default::default()
    };
    cxray_demo::generate(&opts).unwrap().config
}

/// Counts how often each kind of row was read.
#[derive(Default)]
struct Reads(Mutex<BTreeMap<String, usize>>);

impl Observer for Reads {
    fn sources_read(&self, read: SourcesRead<'_>) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(read.noun.to_string())
            .or_default() += 1;
    }
}

impl Reads {
    fn counts(&self) -> BTreeMap<String, usize> {
        self.0.lock().unwrap().clone()
    }
}

fn open(config: &Path, reads: &Arc<Reads>) -> Project {
    Project::open(&ProjectSource::config(config), OpenOptions::default())
        .unwrap()
        .observed_by(reads.clone())
}

#[test]
fn each_source_is_read_once_and_shared_between_analyses() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    let reads = Arc::new(Reads::default());
    let project = open(&config, &reads);
    assert!(reads.counts().is_empty(), "opening reads no data");
    let report = project.report(&ReportRequest::default()).unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let after_report = reads.counts();
    // The report reads every entity of the demo except mentions, each once, though customers
    // serve referrals, the journey, churn and non-response.
    for noun in [
        "answers",
        "customers",
        "invitations",
        "tickets",
        "lifecycle events",
        "queued contacts",
        "journey events",
        "referrals",
    ] {
        assert_eq!(after_report.get(noun), Some(&1), "{noun}: {after_report:?}");
    }
    // Later analyses of the same project read nothing again.
    let m = project
        .metrics(&MetricsRequest {
            metrics: vec!["nps".into(), "fcr".into(), "churn".into()],
            period: Some(cxray_metrics::period::Period::Quarter),
            ..Default::default()
        })
        .unwrap();
    assert!(m.rows.iter().any(|r| r.metric == "fcr"));
    project.linkage(&LinkageRequest::default()).unwrap();
    project.retention(&RetentionRequest::default()).unwrap();
    assert_eq!(reads.counts(), after_report);
    // A reload forgets the tables: the next analysis reads its sources again.
    project.reload();
    project.retention(&RetentionRequest::default()).unwrap();
    let again = reads.counts();
    assert_eq!(again["lifecycle events"], 2);
    assert_eq!(again["answers"], 1, "retention does not read the answers");
}

#[test]
fn a_failing_report_section_is_named_with_its_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    // The lifecycle file loses its event column: churn, retention and the NPS-churn linkage
    // cannot be computed; everything else can.
    let lifecycle = config.parent().unwrap().join("data/lifecycle.csv");
    let text = std::fs::read_to_string(&lifecycle).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    assert_eq!(header, "customer_id,event,at");
    std::fs::write(&lifecycle, format!("customer_id,what,at\n{body}")).unwrap();
    let reads = Arc::new(Reads::default());
    let project = open(&config, &reads);
    let doc = project.report(&ReportRequest::default()).unwrap();
    let sections: Vec<&str> = doc.warnings.iter().map(|w| w.section.as_str()).collect();
    assert_eq!(
        sections,
        ["Churn and retention", "NPS linked to churn"],
        "{:?}",
        doc.warnings
    );
    let w = &doc.warnings[0];
    assert_eq!(w.section, "Churn and retention");
    assert!(
        w.message.contains("lifecycle.csv") && w.message.contains("event"),
        "{}",
        w.message
    );
    // The rest of the report is there: the scorecard and the ticket metrics.
    assert!(!doc.report.scorecard.is_empty());
    let ops = doc.report.operations.as_ref().expect("operations section");
    assert!(ops.retention.is_none());
    let json = serde_json::to_value(&doc).unwrap();
    assert_eq!(json["warnings"][0]["section"], "Churn and retention");
    // Every format shows it, escaped in HTML.
    let html = cxray_report::render_html(&doc);
    assert!(html.contains("Not in this report"));
    assert!(html.contains("<strong>Churn and retention</strong>"));
    let md = cxray_report::render_markdown(&doc);
    assert!(md.contains("## Not in this report") && md.contains("**Churn and retention**"));
    let text = cxray_report::render_text(&doc);
    assert!(text.contains("Not in this report") && text.contains("! Churn and retention"));
    // Asked for directly, the same failure is an error of the input.
    let e = project.retention(&RetentionRequest::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
}

#[test]
fn request_errors_carry_their_kind_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    let project = Project::open(&ProjectSource::config(&config), OpenOptions::default()).unwrap();
    let e = project
        .metrics(&MetricsRequest {
            by: vec!["no_such_column".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert_eq!(e.field(), Some("by"));
    assert!(e.message().contains("no_such_column"), "{e}");
    assert!(!e.message().contains("--"), "no flag names: {e}");
    let e = project.customer("nobody").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = Project::open(
        &ProjectSource::config(tmp.path().join("missing.toml")),
        OpenOptions::default(),
    )
    .err()
    .unwrap();
    assert_eq!(e.kind(), ErrorKind::BadInput);
}

/// Ticket metrics by a customer segment: each ticket counts in its customer's region; a ticket
/// without a known customer is in the missing segment, so nothing is lost.
#[test]
fn ticket_metrics_by_a_segment_of_the_customer() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("customers.csv"),
        "customer_id,region\nC1,North\nC2,South\nC3,North\n",
    )
    .unwrap();
    // C1: two tickets (one resolved in one contact), C2: one, C3: none; T4 names no customer,
    // T5 a customer not in the table.
    std::fs::write(
        d.join("tickets.csv"),
        "ticket_id,customer_id,created_at,resolved_at,contacts,reopened\n\
         T1,C1,2025-01-02T10:00:00Z,2025-01-02T12:00:00Z,1,false\n\
         T2,C1,2025-01-03T10:00:00Z,2025-01-04T12:00:00Z,2,false\n\
         T3,C2,2025-01-03T10:00:00Z,2025-01-03T11:00:00Z,1,false\n\
         T4,,2025-01-05T10:00:00Z,,1,false\n\
         T5,C9,2025-01-05T10:00:00Z,2025-01-05T11:00:00Z,1,false\n",
    )
    .unwrap();
    std::fs::write(
        d.join("cxray.toml"),
        "[[sources]]\npath = \"customers.csv\"\nentity = \"customers\"\n\
         [[sources]]\npath = \"tickets.csv\"\nentity = \"tickets\"\n",
    )
    .unwrap();
    let project = Project::open(
        &ProjectSource::config(d.join("cxray.toml")),
        OpenOptions::default(),
    )
    .unwrap();
    let out = project
        .metrics(&MetricsRequest {
            metrics: vec!["tickets".into(), "fcr".into()],
            by: vec!["region".into()],
            ..Default::default()
        })
        .unwrap();
    let get = |metric: &str, region: Option<&str>| {
        out.rows
            .iter()
            .find(|r| r.metric == metric && r.segment["region"].as_deref() == region)
            .map(|r| (r.n, r.value.unwrap()))
    };
    assert_eq!(get("tickets", Some("North")), Some((2, 2.0)));
    assert_eq!(get("tickets", Some("South")), Some((1, 1.0)));
    assert_eq!(
        get("tickets", None),
        Some((2, 2.0)),
        "T4 and T5: {:#?}",
        out.rows
    );
    // FCR among resolved tickets: North 1 of 2.
    assert_eq!(get("fcr", Some("North")), Some((2, 50.0)));
    let total: u64 = out
        .rows
        .iter()
        .filter(|r| r.metric == "tickets")
        .map(|r| r.n)
        .sum();
    assert_eq!(total, 5, "every ticket in one segment");
    // A column neither tickets nor customers have is named with both tables' columns.
    let e = project
        .metrics(&MetricsRequest {
            metrics: vec!["fcr".into()],
            by: vec!["plan".into()],
            ..Default::default()
        })
        .unwrap_err();
    assert!(e.message().contains("customers.region"), "{e}");
}

/// A rejected lifecycle event takes no part in churn and retention: not even as the last day of
/// the data. And the grouped events, freed between analyses and grouped again from the checked
/// table, give the same figures every time.
#[test]
fn rejected_lifecycle_events_take_no_part_and_grouping_again_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // C9's cancel comes before any start (rejected) and is the latest event of the file.
    std::fs::write(
        d.join("lifecycle.csv"),
        "customer_id,event,at\n\
         C1,start,2025-01-01\nC1,cancel,2025-03-01\n\
         C2,start,2025-01-15\nC2,activity,2025-04-20\n\
         C3,start,2025-02-01\nC3,activity,2025-05-01\n\
         C9,cancel,2025-06-30\n",
    )
    .unwrap();
    std::fs::write(
        d.join("cxray.toml"),
        "[[sources]]\npath = \"lifecycle.csv\"\nentity = \"lifecycle\"\n",
    )
    .unwrap();
    let project = Project::open(
        &ProjectSource::config(d.join("cxray.toml")),
        OpenOptions::default(),
    )
    .unwrap();
    let first = project.retention(&RetentionRequest::default()).unwrap();
    assert_eq!(first.input.rows_rejected, 1);
    assert_eq!(
        first.retention.data_end,
        chrono::NaiveDate::from_ymd_opt(2025, 5, 1).unwrap(),
        "the rejected cancel of 2025-06-30 is not the end of the data"
    );
    let churn = || {
        serde_json::to_value(
            project
                .metrics(&MetricsRequest {
                    metrics: vec!["churn".into()],
                    ..Default::default()
                })
                .unwrap()
                .rows,
        )
        .unwrap()
    };
    let c1 = churn();
    let second = project.retention(&RetentionRequest::default()).unwrap();
    assert_eq!(
        serde_json::to_value(&first.retention).unwrap(),
        serde_json::to_value(&second.retention).unwrap()
    );
    assert_eq!(c1, churn());
}

/// Sections that use a source only in passing go on without it: a broken customers file
/// costs the customer segments (named in a warning) and the K-factor, not the funnel, churn or
/// linkage; a missing journey costs the touchpoints and the funnel, not the report.
#[test]
fn a_broken_optional_source_costs_only_what_needs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    let data = config.parent().unwrap().join("data");
    let customers = std::fs::read_to_string(data.join("customers.csv")).unwrap();
    let (_, body) = customers.split_once('\n').unwrap();
    std::fs::write(
        data.join("customers.csv"),
        format!(
            "id,signup_at,revenue,region,plan,age_band,device,preferred_channel,language\n{body}"
        ),
    )
    .unwrap();
    std::fs::remove_file(data.join("journey.csv")).unwrap();
    let project = Project::open(&ProjectSource::config(&config), OpenOptions::default()).unwrap();
    let doc = project.report(&ReportRequest::default()).unwrap();
    let sections: Vec<&str> = doc.warnings.iter().map(|w| w.section.as_str()).collect();
    assert_eq!(
        sections,
        [
            "Answers by journey touchpoint",
            "Customer segments and revenue",
            "Referrals",
            "Journey funnel",
        ],
        "{:#?}",
        doc.warnings
    );
    assert!(doc.warnings[0].message.contains("journey.csv"));
    assert!(doc.warnings[1].message.contains("customer_id"));
    let insights = doc.report.insights.as_ref().unwrap();
    assert!(
        insights.linkage.is_some(),
        "linkage goes on without revenue"
    );
    assert!(doc.report.operations.as_ref().unwrap().retention.is_some());
}

/// In strict mode a rejected row fails the report, as it fails every command, instead of
/// becoming a warning.
#[test]
fn strict_mode_fails_the_report_on_a_rejected_row() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    let lifecycle = config.parent().unwrap().join("data/lifecycle.csv");
    let mut text = std::fs::read_to_string(&lifecycle).unwrap();
    text.push_str("CX404,cancel,2025-06-01T00:00:00Z\n");
    std::fs::write(&lifecycle, text).unwrap();
    let open = |strict| {
        Project::open(
            &ProjectSource::config(&config),
            OpenOptions {
                strict,
                ..Default::default()
            },
        )
        .unwrap()
    };
    let doc = open(false).report(&ReportRequest::default()).unwrap();
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    let e = open(true).report(&ReportRequest::default()).unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::BadInput, Some("strict")));
    assert!(
        e.message().contains("CX404") || e.message().contains("cancel"),
        "{e}"
    );
}

#[test]
fn answers_are_browsed_newest_first_through_every_filter_and_exported() {
    use cxray_project::AnswersQuery;
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("answers.csv");
    std::fs::write(
        &csv,
        "response_id,customer_id,submitted_at,metric,score,comment,region\n\
         R1,C1,2026-01-05T10:00:00Z,nps,2,The parcel came late and broken,North\n\
         R2,C2,2026-01-06T10:00:00Z,nps,9,Fast delivery,North\n\
         R3,C3,2026-02-01T10:00:00Z,nps,0,late again: 100% useless,South\n\
         R4,C4,2026-02-02T10:00:00Z,csat,1,,South\n\
         R5,C5,2026-02-03T10:00:00Z,nps,10,Friendly staff,South\n",
    )
    .unwrap();
    let project = Project::open(&ProjectSource::files([&csv]), OpenOptions::default()).unwrap();
    let ids = |q: AnswersQuery| -> Vec<String> {
        project
            .answers(&q)
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r.response_id)
            .collect()
    };
    assert_eq!(ids(AnswersQuery::default()), ["R5", "R4", "R3", "R2", "R1"]);
    let page = project
        .answers(&AnswersQuery {
            offset: 1,
            limit: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!((page.total, page.all), (5, 5));
    let got: Vec<&str> = page.rows.iter().map(|r| r.response_id.as_str()).collect();
    assert_eq!(got, ["R4", "R3"]);
    assert_eq!(page.rows[1].attributes["region"], "South");
    assert_eq!(page.facets["region"], ["North", "South"]);
    assert_eq!(page.facets["metric"], ["csat", "nps"]);
    assert_eq!(
        ids(AnswersQuery {
            metric: Some("nps".into()),
            max_score: Some(6.0),
            ..Default::default()
        }),
        ["R3", "R1"]
    );
    assert_eq!(
        ids(AnswersQuery {
            text: Some("LATE".into()),
            ..Default::default()
        }),
        ["R3", "R1"]
    );
    // A percent sign is searched for, not a wildcard.
    assert_eq!(
        ids(AnswersQuery {
            text: Some("100%".into()),
            ..Default::default()
        }),
        ["R3"]
    );
    assert_eq!(
        ids(AnswersQuery {
            equals: vec![("region".into(), "North".into())],
            since: chrono::NaiveDate::from_ymd_opt(2026, 1, 6),
            ..Default::default()
        }),
        ["R2"]
    );
    assert_eq!(
        ids(AnswersQuery {
            with_comment: true,
            until: chrono::NaiveDate::from_ymd_opt(2026, 2, 2),
            ..Default::default()
        }),
        ["R3", "R2", "R1"]
    );
    // The comments' analysis: the late parcels are negative, and about delivery.
    let negative = ids(AnswersQuery {
        sentiment: Some("negative".into()),
        ..Default::default()
    });
    assert!(negative.contains(&"R1".to_string()), "{negative:?}");
    assert!(!negative.contains(&"R5".to_string()), "{negative:?}");
    let delivery = ids(AnswersQuery {
        theme: Some("delivery".into()),
        ..Default::default()
    });
    assert!(delivery.contains(&"R2".to_string()), "{delivery:?}");
    // Bad filters are usage errors that say what there is.
    let e = project
        .answers(&AnswersQuery {
            equals: vec![("planet".into(), "Mars".into())],
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(e.to_string().contains("region"), "{e}");
    assert!(
        project
            .answers(&AnswersQuery {
                sentiment: Some("angry".into()),
                ..Default::default()
            })
            .is_err()
    );
    // The export holds the selected rows with every column.
    let table = project
        .answers_table(&AnswersQuery {
            metric: Some("nps".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(table.iter().map(|b| b.num_rows()).sum::<usize>(), 4);
    assert!(
        table[0]
            .schema()
            .column_with_name("comment_label")
            .is_some()
    );
    let csv = String::from_utf8(
        cxray_project::write_answers(&table, cxray_project::AnswersFormat::Csv).unwrap(),
    )
    .unwrap();
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("response_id,customer_id,submitted_at,local_date,metric,score"));
    assert!(header.contains("region") && header.contains("comment_themes"));
    assert_eq!(lines.clone().count(), 4);
    assert!(
        csv.contains("R1,C1,2026-01-05T10:00:00Z,2026-01-05,nps,2"),
        "{csv}"
    );
    assert!(
        csv.contains("\"late again: 100% useless\"") || csv.contains("late again: 100% useless")
    );
    let parquet =
        cxray_project::write_answers(&table, cxray_project::AnswersFormat::Parquet).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(parquet),
    )
    .unwrap()
    .build()
    .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, 4);
}

/// Whether two JSON values are equal, numbers within a relative 1e-9 (sums in another order);
/// the path of the first difference otherwise.
fn same_json(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0) {
                Ok(())
            } else {
                Err(format!("{path}: {x} vs {y}"))
            }
        }
        (V::Array(x), V::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .try_for_each(|(i, (u, v))| same_json(u, v, &format!("{path}/{i}"))),
        (V::Object(x), V::Object(y)) if x.len() == y.len() => x.iter().try_for_each(|(k, u)| {
            let v = y.get(k).ok_or(format!("{path}/{k}: missing"))?;
            same_json(u, v, &format!("{path}/{k}"))
        }),
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} vs {b}")),
    }
}

#[test]
fn a_report_from_the_lake_equals_the_report_from_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    let lake = tmp.path().join("lake");
    let source = ProjectSource::config(&config);
    let ingested = cxray_project::ingest(
        &source.clone().with_lake(&lake),
        OpenOptions::default(),
        &cxray_project::Silent,
    )
    .unwrap();
    // Every entity of the demo's files.
    let added = ingested.0.sources.iter().filter(|s| s.status == "added");
    assert_eq!(added.count(), 9);

    let direct = Project::open(&source, OpenOptions::default()).unwrap();
    let reads = Arc::new(Reads::default());
    let from_lake = Project::open(&source.clone().with_lake(&lake), OpenOptions::default())
        .unwrap()
        .observed_by(reads.clone());
    assert!(from_lake.lake().is_some());
    let a = serde_json::to_value(direct.report(&ReportRequest::default()).unwrap()).unwrap();
    let b = serde_json::to_value(from_lake.report(&ReportRequest::default()).unwrap()).unwrap();
    same_json(&a, &b, "").unwrap();
    // The lake's answers and the store's were read as one source of answers.
    assert_eq!(reads.counts().get("answers"), Some(&1));
    // The data-quality section names the files read, with their counts, as a direct read.
    let sources = b["data_quality"]["sources"].as_array().unwrap();
    assert!(sources.len() >= 7, "{sources:?}");
    assert!(
        sources[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("responses.csv")
    );
    assert!(sources[0]["rows_accepted"].as_u64().unwrap() > 1000);

    // Files and a lake together are refused, as is a folder that is no lake.
    let both = ProjectSource::files(["x.csv"]).with_lake(&lake);
    let e = Project::open(&both, OpenOptions::default()).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Usage);
    let none = source.with_lake(tmp.path());
    assert!(Project::open(&none, OpenOptions::default()).is_err());
}

/// NPS and CSAT by region, plan and month.
fn by_region_plan_month() -> MetricsRequest {
    MetricsRequest {
        metrics: vec!["nps".into(), "csat".into()],
        by: vec!["region".into(), "plan".into()],
        period: Some(cxray_metrics::period::Period::Month),
        ..Default::default()
    }
}

/// Records the phases of work a project begins.
#[derive(Default)]
struct Phases(Mutex<Vec<String>>);

impl Observer for Phases {
    fn started(&self, phase: &str) {
        self.0.lock().unwrap().push(phase.to_string());
    }
}

/// The demo read from its files, and from a lake of them (watched for its phases of work).
fn demo_and_its_lake(dir: &Path) -> (Project, Project, Arc<Phases>) {
    let config = demo(dir);
    let lake = dir.join("lake");
    let source = ProjectSource::config(&config);
    cxray_project::ingest(
        &source.clone().with_lake(&lake),
        OpenOptions::default(),
        &cxray_project::Silent,
    )
    .unwrap();
    let direct = Project::open(&source, OpenOptions::default()).unwrap();
    let phases = Arc::new(Phases::default());
    let from_lake = Project::open(&source.with_lake(&lake), OpenOptions::default())
        .unwrap()
        .observed_by(phases.clone());
    (direct, from_lake, phases)
}

/// Metrics from a lake are aggregated as its Parquet parts are scanned, without reading the
/// answers into memory; the figures, counts and SQL are those of the files read into memory,
/// and stay so once the answers are in memory. (The store's answers scanned with the parts:
/// `lake_cli.rs` and the engine's tests.)
#[test]
fn metrics_streamed_from_the_lake_equal_those_from_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (direct, from_lake, phases) = demo_and_its_lake(tmp.path());
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let requests = [
        MetricsRequest::default(),
        by_region_plan_month(),
        MetricsRequest {
            metrics: vec!["nps".into(), "fcr".into()],
            by: vec!["channel".into()],
            period: Some(cxray_metrics::period::Period::Week),
            since: day("2025-03-05"),
            until: day("2025-05-20"),
            ..Default::default()
        },
    ];
    let json = |p: &Project, r: &MetricsRequest| serde_json::to_value(p.metrics(r).unwrap());
    for r in &requests {
        let a = json(&direct, r).unwrap();
        let b = json(&from_lake, r).unwrap();
        assert!(a["rows"].as_array().unwrap().len() > 3, "{r:?}");
        same_json(&a, &b, "").unwrap();
        let sql = |p: &Project| p.metrics_sql(r, cxray_project::SqlDialect::DuckDb);
        if r.metrics.iter().all(|m| m != "fcr") {
            assert_eq!(sql(&direct).unwrap(), sql(&from_lake).unwrap());
        }
    }
    let read = |p: &Phases| {
        (p.0.lock().unwrap().iter())
            .filter(|s| *s == "reading responses")
            .count()
    };
    assert_eq!(read(&phases), 0, "{:?}", phases.0.lock().unwrap());
    // Once the answers are in memory (a report, a browse), metrics use them: one read.
    from_lake.responses().unwrap();
    for r in &requests {
        same_json(
            &json(&direct, r).unwrap(),
            &json(&from_lake, r).unwrap(),
            "",
        )
        .unwrap();
    }
    assert_eq!(read(&phases), 1);
    // Operational metrics have no SQL of answers; nor has a breakdown cxray adds.
    let only_fcr = MetricsRequest {
        metrics: vec!["fcr".into()],
        ..Default::default()
    };
    let e = (from_lake.metrics_sql(&only_fcr, Default::default())).unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::Usage, Some("metrics")));
    let by_theme = MetricsRequest {
        by: vec!["theme".into()],
        ..Default::default()
    };
    let e = (from_lake.metrics_sql(&by_theme, Default::default())).unwrap_err();
    assert_eq!((e.kind(), e.field()), (ErrorKind::Usage, Some("by")));
}

/// One request per operational family the lake streams (tickets with the backlog and a
/// segment of the customer, queue, journey by a customer segment, referrals), by period and
/// within dates.
fn operational_requests() -> Vec<MetricsRequest> {
    use cxray_metrics::operational::{Family, OPERATIONAL_METRICS};
    use cxray_metrics::period::Period;
    let of = |f: Family| -> Vec<String> {
        (OPERATIONAL_METRICS.iter())
            .filter(|d| d.family == f)
            .map(|d| d.name.to_string())
            .collect()
    };
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    vec![
        MetricsRequest {
            metrics: of(Family::Tickets),
            by: vec!["region".into()],
            period: Some(Period::Month),
            since: day("2025-03-10"),
            until: day("2025-09-20"),
            ..Default::default()
        },
        MetricsRequest {
            metrics: of(Family::Tickets),
            ..Default::default()
        },
        MetricsRequest {
            metrics: of(Family::Queue),
            period: Some(Period::Week),
            since: day("2025-04-01"),
            ..Default::default()
        },
        MetricsRequest {
            metrics: of(Family::Journey),
            by: vec!["plan".into()],
            period: Some(Period::Month),
            ..Default::default()
        },
        MetricsRequest {
            metrics: of(Family::Referrals),
            by: vec!["plan".into()],
            period: Some(Period::Quarter),
            ..Default::default()
        },
    ]
}

/// Ticket, queue, journey and referral metrics from a lake are computed as the plans scan its
/// Parquet parts (no entity is read into memory), and equal those from the files.
#[test]
fn operational_metrics_streamed_from_the_lake_equal_those_from_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (direct, from_lake, phases) = demo_and_its_lake(tmp.path());
    for r in &operational_requests() {
        let a = serde_json::to_value(direct.metrics(r).unwrap()).unwrap();
        let b = serde_json::to_value(from_lake.metrics(r).unwrap()).unwrap();
        let rows = a["rows"].as_array().unwrap();
        assert!(rows.len() > 3, "{r:?}");
        // Every metric asked for has rows.
        for m in &r.metrics {
            assert!(rows.iter().any(|x| &x["metric"] == m), "{m}: {r:?}");
        }
        same_json(&a, &b, "").unwrap();
    }
    let ran = phases.0.lock().unwrap().clone();
    assert!(
        ran.iter().all(|p| !p.starts_with("reading ")),
        "nothing is read into memory: {ran:?}"
    );
    for p in ["ticket", "queue", "journey", "referral"] {
        let what = format!("computing {p} metrics");
        assert!(ran.contains(&what), "{what}: {ran:?}");
    }
}

/// `[engine] url`: survey metrics streamed from the lake run on a Ballista cluster (a
/// scheduler and two executors started in this process, on loopback) and equal the embedded
/// engine's figure for figure.
#[cfg(feature = "cluster")]
#[test]
fn metrics_on_a_ballista_cluster_equal_the_embedded_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let config = demo(tmp.path());
    let source = ProjectSource::config(&config).with_lake(tmp.path().join("lake"));
    cxray_project::ingest(&source, OpenOptions::default(), &cxray_project::Silent).unwrap();
    // The cluster runs on this runtime's threads for the rest of the test.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(cxray_engine::standalone_cluster(2, 2)).unwrap();
    let embedded = Project::open(&source, OpenOptions::default()).unwrap();
    let phases = Arc::new(Phases::default());
    let on_cluster = Project::open(
        &source,
        OpenOptions {
            engine_url: Some(url),
            ..Default::default()
        },
    )
    .unwrap()
    .observed_by(phases.clone());
    let requests = [MetricsRequest::default(), by_region_plan_month()];
    for r in &requests {
        let a = serde_json::to_value(embedded.metrics(r).unwrap()).unwrap();
        let b = serde_json::to_value(on_cluster.metrics(r).unwrap()).unwrap();
        assert!(a["rows"].as_array().unwrap().len() > 3);
        same_json(&a, &b, "").unwrap();
    }
    let ran = phases.0.lock().unwrap().clone();
    assert_eq!(
        ran.iter()
            .filter(|p| *p == "computing metrics on the cluster")
            .count(),
        2,
        "{ran:?}"
    );
    // The ticket, queue, journey and referral metrics: their plans over the lake's parts.
    for r in &operational_requests() {
        let a = serde_json::to_value(embedded.metrics(r).unwrap()).unwrap();
        let b = serde_json::to_value(on_cluster.metrics(r).unwrap()).unwrap();
        same_json(&a, &b, "").unwrap();
    }
    let ran = phases.0.lock().unwrap().clone();
    for p in ["ticket", "queue", "journey", "referral"] {
        let what = format!("computing {p} metrics on the cluster");
        assert!(ran.contains(&what), "{what}: {ran:?}");
    }
    assert!(ran.iter().all(|p| !p.starts_with("reading ")), "{ran:?}");
    // The report: its histograms by columns of the lake from the cluster (the others, by what
    // cxray adds to the answers, here), and the same document.
    let on_the_cluster = |ran: &[String]| {
        (ran.iter())
            .filter(|p| *p == "computing metrics on the cluster")
            .count()
    };
    let before = on_the_cluster(&ran);
    let a = serde_json::to_value(embedded.report(&ReportRequest::default()).unwrap()).unwrap();
    let b = serde_json::to_value(on_cluster.report(&ReportRequest::default()).unwrap()).unwrap();
    same_json(&a, &b, "").unwrap();
    let ran = phases.0.lock().unwrap().clone();
    // Overall and by each stored dimension of the demo (region, plan, channel at least).
    assert!(on_the_cluster(&ran) >= before + 4, "{ran:?}");
}
