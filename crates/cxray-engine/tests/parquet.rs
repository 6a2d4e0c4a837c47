//! Answers scanned from Parquet files (a lake's parts), with answers in memory besides, give
//! the histograms of the same answers held in memory; and the SQL written for a warehouse
//! computes them too.

mod common;
use common::{answers, conform, queries, run, write_parquet};

use cxray_engine::{Engine, HistogramQuery, Period, SqlDialect};
use cxray_ingest::responses_schema;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;

#[test]
fn parquet_parts_and_live_answers_give_the_histograms_of_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let schema = responses_schema(&["region".to_string(), "plan".to_string()]);
    // Two files as two exports: the second has no plan column; the live answers (the store's)
    // have neither segment.
    let a1 = answers(0, 3_000, &["region", "plan"]);
    let a2 = answers(3_000, 2_000, &["region", "plan"]);
    let b = answers(5_000, 2_500, &["region"]);
    let live = answers(7_500, 400, &[]);
    let files = vec![tmp.path().join("a.parquet"), tmp.path().join("b.parquet")];
    write_parquet(&files[0], &[&a1, &a2]);
    write_parquet(&files[1], &[&b]);

    let memory = Engine::new(2);
    let all: Vec<RecordBatch> = [&a1, &a2, &b, &live]
        .iter()
        .map(|x| conform(x, &schema))
        .collect();
    memory.register_responses(schema.clone(), all).unwrap();
    let streamed = Engine::new(2);
    streamed
        .register_responses_parquet(schema.clone(), &files, vec![conform(&live, &schema)])
        .unwrap();
    let files_only = Engine::new(2);
    files_only
        .register_responses_parquet(schema.clone(), &files, vec![])
        .unwrap();

    let queries = queries();
    for q in &queries {
        let want = run(memory.score_histograms(q)).unwrap();
        let got = run(streamed.score_histograms(q)).unwrap();
        assert!(want.len() > 1, "{q:?}");
        assert_eq!(got, want, "{q:?}");
        // Without the live answers, fewer: the union is not a no-op.
        let files: u64 = run(files_only.score_histograms(q))
            .unwrap()
            .iter()
            .map(|g| g.histogram.scores.iter().map(|s| s.count).sum::<u64>())
            .sum();
        let total: u64 = want
            .iter()
            .map(|g| g.histogram.scores.iter().map(|s| s.count).sum::<u64>())
            .sum();
        assert!(files < total, "{q:?}");
    }
    // The rows without a plan (the second file, the live answers) form their own group.
    let by_plan = run(streamed.score_histograms(&queries[2])).unwrap();
    assert!(by_plan.iter().any(|g| g.key.segment == vec![None]));
}

/// The SQL of a histogram query, run by DataFusion's SQL engine over the table `responses`,
/// gives the counts and weight sums of the plan itself, group by group.
#[test]
fn the_sql_of_a_histogram_query_computes_the_histograms() {
    let tmp = tempfile::tempdir().unwrap();
    let schema = responses_schema(&["region".to_string(), "plan".to_string()]);
    let a = answers(0, 4_000, &["region", "plan"]);
    let file = tmp.path().join("a.parquet");
    write_parquet(&file, &[&a]);
    let engine = Engine::new(2);
    engine
        .register_responses_parquet(schema, &[file], vec![])
        .unwrap();
    let q = HistogramQuery {
        metrics: vec!["nps".into(), "csat".into()],
        by: vec!["region".into()],
        period: Some(Period::Month),
        since: chrono::NaiveDate::from_ymd_opt(2025, 1, 15),
        until: None,
    };
    let want = run(engine.score_histograms(&q)).unwrap();
    for dialect in [
        SqlDialect::Generic,
        SqlDialect::Postgres,
        SqlDialect::DuckDb,
    ] {
        let sql = run(engine.histogram_sql(&q, dialect)).unwrap();
        let from = sql.split("FROM").nth(1).unwrap().split_whitespace().next();
        assert!(matches!(from, Some("responses" | "\"responses\"")), "{sql}");
        assert!(sql.contains("date_trunc('month'"), "{sql}");
        if dialect != SqlDialect::Generic {
            continue;
        }
        let batches = run(async {
            engine
                .context()
                .sql(&sql)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
        });
        let mut got: Vec<(String, Option<String>, i64, i64, f64)> = vec![];
        for b in &batches {
            let text = |name: &str| {
                let c = datafusion::arrow::compute::cast(
                    b.column_by_name(name).unwrap(),
                    &DataType::Utf8,
                )
                .unwrap();
                let c = c.as_string::<i32>().clone();
                (0..c.len())
                    .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
                    .collect::<Vec<_>>()
            };
            let metric = text("metric");
            let region = text("by_1");
            let period = text("period");
            let score = b
                .column_by_name("score")
                .unwrap()
                .as_primitive::<Float64Type>();
            let n = b.column_by_name("n").unwrap().as_primitive::<Int64Type>();
            let sw = b
                .column_by_name("sum_w")
                .unwrap()
                .as_primitive::<Float64Type>();
            for i in 0..b.num_rows() {
                got.push((
                    format!(
                        "{}|{}",
                        metric[i].clone().unwrap(),
                        &period[i].clone().unwrap()[..10]
                    ),
                    region[i].clone(),
                    score.value(i) as i64,
                    n.value(i),
                    sw.value(i),
                ));
            }
        }
        let mut expected: Vec<(String, Option<String>, i64, i64, f64)> = vec![];
        for g in &want {
            for s in &g.histogram.scores {
                expected.push((
                    format!("{}|{}", g.key.metric, g.key.period_start.unwrap()),
                    g.key.segment[0].clone(),
                    s.score as i64,
                    s.count as i64,
                    s.sum_w,
                ));
            }
        }
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert!(expected.len() > 50);
        assert_eq!(got, expected);
    }
}
