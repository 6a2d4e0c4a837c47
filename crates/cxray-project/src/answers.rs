//! Reading the canonical answers: their typed columns, and the dimensions worth a breakdown.

use crate::touchpoints::TOUCHPOINT_COLUMN;
use arrow::array::{Array, AsArray, RecordBatch};
use cxray_ingest::Loaded;

use crate::project::Responses;

/// The canonical columns of one batch of loaded answers, typed.
pub(crate) struct AnswerColumns<'a> {
    pub response_id: &'a arrow::array::StringArray,
    pub customer_id: &'a arrow::array::StringArray,
    /// Microseconds since the epoch, UTC.
    pub submitted_at: &'a arrow::array::TimestampMicrosecondArray,
    pub local_date: &'a arrow::array::Date32Array,
    pub score: &'a arrow::array::Float64Array,
    /// The metric name as plain text.
    pub metric: arrow::array::StringArray,
}

impl<'a> AnswerColumns<'a> {
    pub fn of(b: &'a RecordBatch) -> Self {
        let metric = arrow::compute::cast(
            b.column_by_name("metric").expect("metric"),
            &arrow::datatypes::DataType::Utf8,
        )
        .expect("metric as text");
        Self::with_metric(b, metric.as_string::<i32>().clone())
    }

    /// The columns without the metric as text (left empty), for callers that read the
    /// dictionary-encoded metric column themselves.
    pub fn of_ids(b: &'a RecordBatch) -> Self {
        Self::with_metric(b, arrow::array::StringArray::new_null(0))
    }

    fn with_metric(b: &'a RecordBatch, metric: arrow::array::StringArray) -> Self {
        let col = |n: &str| b.column_by_name(n).expect("a canonical column");
        AnswerColumns {
            response_id: col("response_id").as_string::<i32>(),
            customer_id: col("customer_id").as_string::<i32>(),
            submitted_at: col("submitted_at")
                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>(),
            local_date: col("local_date").as_primitive::<arrow::datatypes::Date32Type>(),
            score: col("score").as_primitive::<arrow::datatypes::Float64Type>(),
            metric,
        }
    }

    /// The local day of row `r`.
    pub fn day(&self, r: usize) -> chrono::NaiveDate {
        chrono::NaiveDate::from_num_days_from_ce_opt(self.local_date.value(r) + 719_163)
            .expect("a date in range")
    }
}

/// Attribute columns with 2 to 12 distinct values: the dimensions worth a breakdown.
pub(crate) fn default_dimensions(loaded: &Loaded) -> Vec<String> {
    let fixed = cxray_ingest::FIXED_COLUMNS.len();
    let mut out = Vec::new();
    for (k, name) in loaded.attributes.iter().enumerate() {
        let mut values: std::collections::BTreeSet<String> = Default::default();
        for b in &loaded.batches {
            let col = b.column(fixed + k);
            if let Some(d) = col.as_any_dictionary_opt() {
                let v = d.values();
                let s = v.as_string::<i32>();
                for i in 0..s.len() {
                    values.insert(s.value(i).to_string());
                }
            }
            if values.len() > 12 {
                break;
            }
        }
        if (2..=12).contains(&values.len()) {
            out.push(name.clone());
        }
    }
    out
}

/// The columns given, or by default every attribute with 2 to 12 distinct values and, with
/// `touchpoint`, the journey touchpoint the answers follow (when they were joined to the
/// journey).
pub(crate) fn dimensions(responses: &Responses, by: &[String], touchpoint: bool) -> Vec<String> {
    if by.is_empty() {
        let mut dims = default_dimensions(&responses.loaded);
        if touchpoint
            && responses.touchpoints.is_some()
            && !dims.iter().any(|d| d == TOUCHPOINT_COLUMN)
        {
            dims.push(TOUCHPOINT_COLUMN.to_string());
        }
        dims
    } else {
        trimmed(by)
    }
}

/// Names with blanks around them removed and empty ones dropped.
pub(crate) fn trimmed(names: &[String]) -> Vec<String> {
    names
        .iter()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect()
}
