//! Answers scanned from Parquet files (a lake's parts), with answers in memory besides, give
//! the histograms of the same answers held in memory; and the SQL written for a warehouse
//! computes them too.

use std::path::PathBuf;
use std::sync::Arc;

use cxray_engine::{Engine, HistogramQuery, Period, SqlDialect};
use cxray_ingest::responses_schema;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, DictionaryArray, Float64Array, StringArray,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type, Int64Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;

/// `n` answers from row `start` on: nps and csat, three months of 2025 (day 20,089 is
/// 2025-01-01), weights of halves (sums exact in any order), some regions missing.
fn answers(start: usize, n: usize, attributes: &[&str]) -> RecordBatch {
    let names: Vec<String> = attributes.iter().map(|a| a.to_string()).collect();
    let schema = responses_schema(&names);
    let rows: Vec<usize> = (start..start + n).collect();
    let metric = |r: usize| if r.is_multiple_of(3) { "csat" } else { "nps" };
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| format!("r{r}")),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| format!("c{}", r % 97)),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                rows.iter()
                    .map(|r| (20_089 + (r * 7 % 90) as i64) * 86_400_000_000),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| 20_089 + (r * 7 % 90) as i32),
        )),
        Arc::new(DictionaryArray::<Int32Type>::from_iter(
            rows.iter().map(|r| Some(metric(*r))),
        )),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(
            |r| match metric(*r) {
                "csat" => (1 + r % 5) as f64,
                _ => ((r * 13) % 11) as f64,
            },
        ))),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|r| 0.5 * (1 + r % 4) as f64),
        )),
        Arc::new(StringArray::from_iter(rows.iter().map(|_| None::<&str>))),
    ];
    for a in attributes {
        let values: Vec<Option<String>> = rows
            .iter()
            .map(|r| match *a {
                "region" => (!r.is_multiple_of(7)).then(|| ["North", "South"][r % 2].to_string()),
                _ => Some(["basic", "plus", "premium"][r % 3].to_string()),
            })
            .collect();
        cols.push(Arc::new(DictionaryArray::<Int32Type>::from_iter(
            values.iter().map(|v| v.as_deref()),
        )));
    }
    RecordBatch::try_new(schema, cols).unwrap()
}

/// `b` with the columns of `schema` (missing ones null), as the lake conforms its parts.
fn conform(b: &RecordBatch, schema: &Arc<Schema>) -> RecordBatch {
    let cols = schema
        .fields()
        .iter()
        .map(|f| match b.column_by_name(f.name()) {
            Some(c) => c.clone(),
            None => datafusion::arrow::array::new_null_array(f.data_type(), b.num_rows()),
        })
        .collect();
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

fn write_parquet(path: &PathBuf, batches: &[&RecordBatch]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batches[0].schema(), None).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(f)
}

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

    let queries = [
        HistogramQuery::default(),
        HistogramQuery {
            metrics: vec!["nps".into()],
            by: vec!["region".into(), "plan".into()],
            period: Some(Period::Month),
            ..Default::default()
        },
        HistogramQuery {
            by: vec!["plan".into()],
            period: Some(Period::Week),
            since: chrono::NaiveDate::from_ymd_opt(2025, 2, 1),
            until: chrono::NaiveDate::from_ymd_opt(2025, 2, 28),
            ..Default::default()
        },
    ];
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
