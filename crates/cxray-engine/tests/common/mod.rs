//! Answers for the engine's tests, written as Parquet files as a lake's parts are.
#![allow(dead_code)] // each test file uses some of the helpers

use std::path::Path;
use std::sync::Arc;

use cxray_ingest::responses_schema;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, DictionaryArray, Float64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{Int32Type, Schema};
use datafusion::arrow::record_batch::RecordBatch;

/// `n` answers from row `start` on: nps and csat, three months of 2025 (day 20,089 is
/// 2025-01-01), weights of halves (sums exact in any order), some regions missing.
pub fn answers(start: usize, n: usize, attributes: &[&str]) -> RecordBatch {
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
pub fn conform(b: &RecordBatch, schema: &Arc<Schema>) -> RecordBatch {
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

pub fn write_parquet(path: &Path, batches: &[&RecordBatch]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batches[0].schema(), None).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

pub fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(f)
}

/// Histogram queries over these answers: every metric; nps by two segments and month; every
/// metric by plan and ISO week within February.
pub fn queries() -> [cxray_engine::HistogramQuery; 3] {
    use cxray_engine::{HistogramQuery, Period};
    [
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
    ]
}
