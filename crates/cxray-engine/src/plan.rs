//! Building blocks shared by the plans of operational entities: the `--by` check, the date
//! filter, segment and period group expressions, conditional counts, and reading keys and
//! values back from result batches.

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Column;
use datafusion::functions::datetime::expr_fn::date_trunc;
use datafusion::functions::math::expr_fn::{ceil, ln};
use datafusion::logical_expr::{Expr, col, lit, when};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::{EngineError, Period, as_utf8, date_to_days, days_to_date};

/// Microseconds per second.
pub(crate) const MICROS: i64 = 1_000_000;

/// Which groups of an operational entity to compute: segment columns, period, date range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupQuery {
    /// Segment columns to group by (canonical columns such as `channel`, or attributes).
    pub by: Vec<String>,
    pub period: Option<Period>,
    /// First and last local date included (of the entity's main timestamp).
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
}

/// Segment values and period start of a result group.
pub(crate) type SegmentPeriod = (Vec<Option<String>>, Option<NaiveDate>);

impl GroupQuery {
    /// The table `name`, checked for the `--by` columns and filtered to the date range.
    pub(crate) async fn table(
        &self,
        ctx: &SessionContext,
        name: &str,
    ) -> Result<DataFrame, EngineError> {
        let df = ctx.table(name).await?;
        check_by(&df, &self.by)?;
        Ok(match date_range(self.since, self.until) {
            Some(f) => df.filter(f)?,
            None => df,
        })
    }

    /// Group expressions `by_1 … by_k` and `period` (of `local_date`).
    pub(crate) fn group(&self) -> Vec<Expr> {
        let mut group: Vec<Expr> = self
            .by
            .iter()
            .enumerate()
            .map(|(i, b)| segment_key(b).alias(format!("by_{}", i + 1)))
            .collect();
        if let Some(p) = self.period {
            group.push(period_of(p, col("local_date")).alias("period"));
        }
        group
    }

    /// The (segment, period) of every row of a result batch.
    pub(crate) fn keys(&self, b: &RecordBatch) -> Result<Vec<SegmentPeriod>, EngineError> {
        let segs: Vec<Vec<Option<String>>> = (0..self.by.len())
            .map(|i| as_utf8(b, &format!("by_{}", i + 1)))
            .collect::<Result<_, _>>()?;
        let period = if self.period.is_some() {
            Some(dates(b, "period")?)
        } else {
            None
        };
        Ok((0..b.num_rows())
            .map(|i| {
                (
                    segs.iter().map(|s| s[i].clone()).collect(),
                    period.as_ref().and_then(|p| p[i]),
                )
            })
            .collect())
    }
}

/// A segment column as a group key. Text columns are grouped as `Utf8View`: a view holds short
/// values (≤ 12 bytes, as segment values are) inline, so grouping compares them without a
/// string comparison (10M tickets by channel and category: the engine's largest cost was
/// `memcmp`).
pub(crate) fn segment_key(name: &str) -> Expr {
    datafusion::logical_expr::cast(
        Expr::Column(Column::from_name(name.to_string())),
        DataType::Utf8View,
    )
}

/// The first day of the period of a Date32 expression.
pub(crate) fn period_of(p: Period, date: Expr) -> Expr {
    date_trunc(
        lit(p.unit()),
        datafusion::logical_expr::cast(date, DataType::Timestamp(TimeUnit::Second, None)),
    )
}

/// Checks that every `--by` column exists.
fn check_by(df: &DataFrame, by: &[String]) -> Result<(), EngineError> {
    let schema = df.schema();
    for b in by {
        if schema.field_with_unqualified_name(b).is_err() {
            let available: Vec<String> = schema
                .fields()
                .iter()
                .filter(|f| !matches!(f.name().as_str(), "source_line" | "source_file"))
                .map(|f| f.name().clone())
                .collect();
            return Err(EngineError::UnknownColumn {
                name: b.clone(),
                available: available.join(", "),
            });
        }
    }
    Ok(())
}

/// A Date32 literal.
pub(crate) fn day(d: NaiveDate) -> Expr {
    lit(datafusion::scalar::ScalarValue::Date32(Some(date_to_days(
        d,
    ))))
}

/// `local_date` within [since, until].
fn date_range(since: Option<NaiveDate>, until: Option<NaiveDate>) -> Option<Expr> {
    let a = since.map(|s| col("local_date").gt_eq(day(s)));
    let b = until.map(|u| col("local_date").lt_eq(day(u)));
    match (a, b) {
        (Some(a), Some(b)) => Some(a.and(b)),
        (a, b) => a.or(b),
    }
}

/// 1 where `cond` holds, else 0 (for sums of conditions).
pub(crate) fn indicator(cond: Expr) -> Expr {
    when(cond, lit(1i64))
        .otherwise(lit(0i64))
        .expect("a complete CASE")
}

/// Microseconds since the epoch of a timestamp column.
pub(crate) fn micros(name: &str) -> Expr {
    datafusion::logical_expr::cast(col(name), DataType::Int64)
}

/// Seconds from timestamp column `from` to `to`, as a float.
pub(crate) fn seconds_between(from: &str, to: &str) -> Expr {
    datafusion::logical_expr::cast(micros(to) - micros(from), DataType::Float64)
        / lit(MICROS as f64)
}

/// The DDSketch bucket of a duration in seconds: `ceil(ln(seconds) / ln γ)`, null for zero
/// (the sketch's zero bucket).
pub(crate) fn sketch_bucket(seconds: Expr, ln_gamma: f64) -> Expr {
    when(
        seconds.clone().gt(lit(0.0)),
        ceil(ln(seconds) / lit(ln_gamma)),
    )
    .end()
    .expect("a CASE")
}

/// A whole-number column, nulls kept.
pub(crate) fn column_i64(b: &RecordBatch, name: &str) -> Result<Vec<Option<i64>>, EngineError> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| EngineError::Shape(format!("missing column {name}")))?;
    let c = cast(c, &DataType::Int64).map_err(|e| EngineError::Shape(e.to_string()))?;
    let c = c.as_primitive::<Int64Type>();
    Ok((0..c.len())
        .map(|i| (!c.is_null(i)).then(|| c.value(i)))
        .collect())
}

/// A count column (null = 0).
pub(crate) fn column_u64(b: &RecordBatch, name: &str) -> Result<Vec<u64>, EngineError> {
    Ok(column_i64(b, name)?
        .into_iter()
        .map(|v| v.unwrap_or(0).max(0) as u64)
        .collect())
}

/// A float column (null = 0, as for sums over no rows).
pub(crate) fn column_f64(b: &RecordBatch, name: &str) -> Result<Vec<f64>, EngineError> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| EngineError::Shape(format!("missing column {name}")))?;
    let c = cast(c, &DataType::Float64).map_err(|e| EngineError::Shape(e.to_string()))?;
    let c = c.as_primitive::<Float64Type>();
    Ok((0..c.len())
        .map(|i| if c.is_null(i) { 0.0 } else { c.value(i) })
        .collect())
}

/// A date column.
pub(crate) fn dates(b: &RecordBatch, name: &str) -> Result<Vec<Option<NaiveDate>>, EngineError> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| EngineError::Shape(format!("missing column {name}")))?;
    let d = cast(c, &DataType::Date32).map_err(|e| EngineError::Shape(e.to_string()))?;
    let d = d.as_primitive::<Date32Type>();
    Ok((0..d.len())
        .map(|i| (!d.is_null(i)).then(|| days_to_date(d.value(i))))
        .collect())
}
