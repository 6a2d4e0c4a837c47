//! Building blocks shared by the plans of operational entities: the `--by` check, the date
//! filter, segment and period group expressions, conditional counts, and reading keys and
//! values back from result batches.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Column;
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions::math::expr_fn::{ceil, ln};
use datafusion::logical_expr::{Expr, col, lit, when};
use datafusion::prelude::{DataFrame, SessionContext};

use crate::{EngineError, Period, date_to_days, days_to_date};

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
    /// The rows of table `name` in the date range. Segment columns the table lacks come from
    /// the customer of each row (a left join on `customer_id` with the table `customers`,
    /// whose ids are unique), e.g. tickets by the customer's region.
    pub(crate) async fn table(
        &self,
        ctx: &SessionContext,
        name: &str,
    ) -> Result<DataFrame, EngineError> {
        let mut df = ctx.table(name).await?;
        let has = |df: &DataFrame, b: &str| df.schema().field_with_unqualified_name(b).is_ok();
        let missing: Vec<&String> = self.by.iter().filter(|b| !has(&df, b)).collect();
        if !missing.is_empty()
            && has(&df, "customer_id")
            && let Ok(customers) = ctx.table("customers").await
        {
            if missing.iter().all(|b| has(&customers, b)) {
                let segments = customers.select(
                    std::iter::once(col("customer_id").alias("segment_customer_id"))
                        .chain(missing.iter().map(|b| col(b.as_str())))
                        .collect::<Vec<_>>(),
                )?;
                df = df.join(
                    segments,
                    datafusion::common::JoinType::Left,
                    &["customer_id"],
                    &["segment_customer_id"],
                    None,
                )?;
            } else {
                let mut available = column_names(&df);
                available.extend(
                    column_names(&customers)
                        .into_iter()
                        .map(|n| format!("customers.{n}")),
                );
                let name = missing
                    .iter()
                    .find(|b| !has(&customers, b))
                    .expect("one is missing");
                return Err(EngineError::UnknownColumn {
                    name: name.to_string(),
                    available: available.join(", "),
                });
            }
        }
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
}

/// Statistics per (segment, period), filled from aggregation results batch by batch. Rows are
/// matched to their group by the borrowed values of the batch, so each group's key is copied
/// once, not once per row (a 10M-ticket run has ~650k result rows of duration buckets: keys
/// built per row and looked up in a `BTreeMap` took 0.8 s).
pub(crate) struct Groups<S> {
    index: HashMap<SegmentPeriod, usize>,
    keys: Vec<SegmentPeriod>,
    items: Vec<S>,
}

impl<S> Groups<S> {
    pub(crate) fn new() -> Self {
        Groups {
            index: HashMap::new(),
            keys: Vec::new(),
            items: Vec::new(),
        }
    }

    /// The group of every row of a result batch: its `by_i` columns of `q` and its period,
    /// from `periods` when given (one per row) or else the batch's `period` column. A group
    /// seen for the first time starts as `init()`.
    pub(crate) fn rows(
        &mut self,
        q: &GroupQuery,
        b: &RecordBatch,
        periods: Option<&[Option<NaiveDate>]>,
        init: impl Fn() -> S,
    ) -> Result<Vec<usize>, EngineError> {
        let segs = (0..q.by.len())
            .map(|i| {
                let name = format!("by_{}", i + 1);
                let c = b
                    .column_by_name(&name)
                    .ok_or_else(|| EngineError::Shape(format!("missing column {name}")))?;
                cast(c, &DataType::Utf8View).map_err(|e| EngineError::Shape(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let segs: Vec<_> = segs.iter().map(|c| c.as_string_view()).collect();
        let own = match periods {
            None if q.period.is_some() => Some(dates(b, "period")?),
            _ => None,
        };
        let periods = periods.or(own.as_deref());
        let mut seen: HashMap<(Vec<Option<&str>>, Option<NaiveDate>), usize> = HashMap::new();
        let mut out = Vec::with_capacity(b.num_rows());
        for r in 0..b.num_rows() {
            let key = (
                segs.iter()
                    .map(|a| a.is_valid(r).then(|| a.value(r)))
                    .collect::<Vec<_>>(),
                periods.and_then(|p| p[r]),
            );
            let g = match seen.get(&key) {
                Some(g) => *g,
                None => {
                    let owned: SegmentPeriod =
                        (key.0.iter().map(|s| s.map(str::to_string)).collect(), key.1);
                    let g = match self.index.get(&owned) {
                        Some(g) => *g,
                        None => {
                            self.index.insert(owned.clone(), self.items.len());
                            self.keys.push(owned);
                            self.items.push(init());
                            self.items.len() - 1
                        }
                    };
                    seen.insert(key, g);
                    g
                }
            };
            out.push(g);
        }
        Ok(out)
    }

    pub(crate) fn at(&mut self, g: usize) -> &mut S {
        &mut self.items[g]
    }

    pub(crate) fn key(&self, g: usize) -> &SegmentPeriod {
        &self.keys[g]
    }

    pub(crate) fn into_map(self) -> BTreeMap<SegmentPeriod, S> {
        self.keys.into_iter().zip(self.items).collect()
    }
}

/// A period start and a DDSketch bucket as one whole number, so that bucket aggregations group
/// by one integer column instead of a timestamp and a float (10M tickets: the two duration
/// aggregations 3.0 -> 2.4 s): `seconds of the period start × 2^16 + bucket + 2^15`, with 0 in
/// the low part for the zero bucket (null) and [`NO_PERIOD`] seconds without a period. Plain
/// arithmetic, so the plan stays portable SQL. `period` is the period-start expression (a
/// [`period_of`]) or none. Read back with [`split_period_bucket`].
pub(crate) fn period_bucket(period: Option<Expr>, bucket: Expr) -> Expr {
    let code = coalesce(vec![
        datafusion::logical_expr::cast(bucket, DataType::Int64) + lit(BUCKET_OFFSET),
        lit(0i64),
    ]);
    let start = match period {
        Some(p) => coalesce(vec![
            datafusion::logical_expr::cast(p, DataType::Int64),
            lit(NO_PERIOD),
        ]),
        None => lit(NO_PERIOD),
    };
    start * lit(BUCKET_SPAN) + code
}

const BUCKET_SPAN: i64 = 1 << 16;
/// Buckets of durations from a microsecond to 300,000 years at 0.1% accuracy lie within ±2^15.
const BUCKET_OFFSET: i64 = 1 << 15;
/// Period start, in seconds, that stands for "no period": 2^40 s before 1970, no real date.
const NO_PERIOD: i64 = -(1 << 40);

/// The period start and bucket of each [`period_bucket`] value.
pub(crate) fn split_period_bucket(code: Option<i64>) -> (Option<NaiveDate>, Option<i32>) {
    let Some(code) = code else {
        return (None, None);
    };
    let (start, low) = (code.div_euclid(BUCKET_SPAN), code.rem_euclid(BUCKET_SPAN));
    let bucket = (low != 0).then(|| (low - BUCKET_OFFSET) as i32);
    let period = (start != NO_PERIOD)
        .then(|| chrono::DateTime::from_timestamp(start, 0).map(|t| t.date_naive()))
        .flatten();
    (period, bucket)
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
    period_trunc().call(vec![
        lit(p.unit()),
        datafusion::logical_expr::cast(date, DataType::Timestamp(TimeUnit::Second, None)),
    ])
}

/// DataFusion's `date_trunc` with a fast path for what [`period_of`] asks of it: day, week,
/// month, quarter or year of a `Timestamp(Second)` without time zone, computed on day numbers
/// (the built-in converts every value through a calendar library and was 4% of the
/// 1M-customer report's CPU). It keeps the built-in's name, signature and return type, and
/// hands every other call to it, so plans stay plain `date_trunc` for Ballista and for
/// unparsing to SQL, where the built-in gives the same results.
pub(crate) fn period_trunc() -> datafusion::logical_expr::ScalarUDF {
    datafusion::logical_expr::ScalarUDF::new_from_impl(DayTrunc {
        inner: datafusion::functions::datetime::date_trunc(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DayTrunc {
    inner: std::sync::Arc<datafusion::logical_expr::ScalarUDF>,
}

impl datafusion::logical_expr::ScalarUDFImpl for DayTrunc {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        self.inner.signature()
    }

    fn return_type(&self, args: &[DataType]) -> datafusion::error::Result<DataType> {
        self.inner.return_type(args)
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> datafusion::error::Result<datafusion::arrow::datatypes::FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn output_ordering(
        &self,
        input: &[datafusion::logical_expr::sort_properties::ExprProperties],
    ) -> datafusion::error::Result<datafusion::logical_expr::sort_properties::SortProperties> {
        self.inner.output_ordering(input)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        use datafusion::arrow::datatypes::TimestampSecondType;
        use datafusion::logical_expr::ColumnarValue;
        use datafusion::scalar::ScalarValue;
        // The exact unit names only ("monthly" is ours, not the built-in's).
        let period = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(u))) => {
                Period::ALL.into_iter().find(|p| p.unit() == u)
            }
            _ => None,
        };
        match (period, &args.args[1]) {
            (Some(period), ColumnarValue::Array(a))
                if a.data_type() == &DataType::Timestamp(TimeUnit::Second, None) =>
            {
                // Neighbouring rows mostly share a period: the last period's bounds, in
                // seconds, answer them without calendar arithmetic.
                // Days beyond ±246,000 years go to the built-in (which rejects what the
                // calendar library cannot hold); null slots are not computed.
                let bounds = std::cell::Cell::new((0i64, 0i64));
                let out = a
                    .as_primitive::<TimestampSecondType>()
                    .try_unary::<_, TimestampSecondType, ()>(|t| {
                        let (lo, hi) = bounds.get();
                        if lo <= t && t < hi {
                            return Ok(lo);
                        }
                        let d = t.div_euclid(86_400);
                        if d.abs() > MAX_FAST_DAYS {
                            return Err(());
                        }
                        let start = period_start(period, d as i32);
                        let lo = i64::from(start) * 86_400;
                        bounds.set((lo, i64::from(next_period_start(period, start)) * 86_400));
                        Ok(lo)
                    });
                match out {
                    Ok(out) => Ok(ColumnarValue::Array(std::sync::Arc::new(out))),
                    Err(()) => self.inner.invoke_with_args(args),
                }
            }
            _ => self.inner.invoke_with_args(args),
        }
    }

    fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
        self.inner.documentation()
    }
}

/// Largest |day number| [`DayTrunc`] computes itself (about 246,000 years, inside the
/// calendar library's range).
pub(crate) const MAX_FAST_DAYS: i64 = 90_000_000;

/// The first day (days since 1970-01-01) of the period holding day `d`; weeks start on Monday.
/// The same as [`Period::start_of`] on day numbers: answers are not in date order, so a new
/// period comes often, and going through `NaiveDate` there made the report's theme histograms
/// 10-60% slower (2.0-2.1 -> 2.3-3.4 s).
pub(crate) fn period_start(p: Period, d: i32) -> i32 {
    match p {
        Period::Day => d,
        // 1970-01-01 was a Thursday, three days after a Monday.
        Period::Week => d - (d + 3).rem_euclid(7),
        Period::Month | Period::Quarter | Period::Year => {
            let (y, m, _) = civil_from_days(d);
            let m = match p {
                Period::Month => m,
                Period::Quarter => (m - 1) / 3 * 3 + 1,
                _ => 1,
            };
            days_from_civil(y, m, 1)
        }
    }
}

/// The first day of the period after the one starting on day `start`.
pub(crate) fn next_period_start(p: Period, start: i32) -> i32 {
    let months = match p {
        Period::Day => return start + 1,
        Period::Week => return start + 7,
        Period::Month => 1,
        Period::Quarter => 3,
        Period::Year => 12,
    };
    let (y, m, _) = civil_from_days(start);
    let m0 = i64::from(m) - 1 + months;
    days_from_civil(y + m0.div_euclid(12), (m0.rem_euclid(12) + 1) as u32, 1)
}

/// (year, month, day) of a day number in the proleptic Gregorian calendar, by era
/// arithmetic (an era of 400 years is 146,097 days; the method Howard Hinnant describes in
/// "chrono-Compatible Low-Level Date Algorithms").
fn civil_from_days(d: i32) -> (i64, u32, u32) {
    let z = i64::from(d) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// The day number of (year, month, day); the inverse of [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as i32
}

/// Checks that every `--by` column exists.
/// The columns of a table a segment can be, for messages.
fn column_names(df: &DataFrame) -> Vec<String> {
    df.schema()
        .fields()
        .iter()
        .filter(|f| {
            !matches!(
                f.name().as_str(),
                "source_line" | "source_file" | "local_date"
            )
        })
        .map(|f| f.name().clone())
        .collect()
}

fn check_by(df: &DataFrame, by: &[String]) -> Result<(), EngineError> {
    for b in by {
        if df.schema().field_with_unqualified_name(b).is_err() {
            return Err(EngineError::UnknownColumn {
                name: b.clone(),
                available: column_names(df).join(", "),
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray};
    use datafusion::functions::datetime::expr_fn::date_trunc;
    use std::sync::Arc;

    /// Period starts agree with DataFusion's built-in `date_trunc` (the reference) over
    /// 1860-2243 and on runs of consecutive days (forwards and backwards), for every period,
    /// at midnight and at the day's last second, and nulls stay null.
    #[tokio::test]
    async fn period_start_matches_date_trunc() {
        let days: Vec<Option<i32>> = (-40_000..100_000)
            .step_by(37)
            .chain([-1, 0, 1, 59, 60, 11_016])
            // Consecutive days, and back again: periods reused from the row before.
            .chain((19_700..20_500).chain((19_690..19_760).rev()))
            .map(Some)
            .chain([None])
            .collect();
        let batch = RecordBatch::try_from_iter([(
            "d",
            Arc::new(Date32Array::from(days.clone())) as ArrayRef,
        )])
        .unwrap();
        let ctx = SessionContext::new();
        for p in Period::ALL {
            let reference = date_trunc(
                lit(p.unit()),
                datafusion::logical_expr::cast(
                    col("d"),
                    DataType::Timestamp(TimeUnit::Second, None),
                ),
            );
            // A time of day within the day truncates to the same period.
            let late = period_trunc().call(vec![
                lit(p.unit()),
                datafusion::logical_expr::cast(
                    datafusion::logical_expr::cast(
                        datafusion::logical_expr::cast(
                            col("d"),
                            DataType::Timestamp(TimeUnit::Second, None),
                        ),
                        DataType::Int64,
                    ) + lit(86_399i64),
                    DataType::Timestamp(TimeUnit::Second, None),
                ),
            ]);
            let out = ctx
                .read_batch(batch.clone())
                .unwrap()
                .select(vec![
                    period_of(p, col("d")).alias("ours"),
                    reference.alias("reference"),
                    late.alias("late"),
                ])
                .unwrap()
                .collect()
                .await
                .unwrap();
            let ours = column_i64(&out[0], "ours").unwrap();
            let reference = column_i64(&out[0], "reference").unwrap();
            assert_eq!(ours.len(), days.len());
            assert_eq!(ours, reference, "{p:?}");
            assert_eq!(column_i64(&out[0], "late").unwrap(), reference, "{p:?}");
            assert_eq!(ours.last(), Some(&None));
        }
    }

    /// Units that are not exactly ours ("monthly") and days beyond the fast range are the
    /// built-in's: the same answer, or the same error.
    #[tokio::test]
    async fn other_units_and_far_dates_go_to_the_built_in() {
        let secs = datafusion::arrow::array::TimestampSecondArray::from(vec![
            Some(1_700_000_000i64),
            Some(-1_700_000_000),
            // Beyond the calendar library's range (about 95.7M days): the built-in's error,
            // which the fast path alone would not give.
            Some(100_000_000 * 86_400),
            None,
        ]);
        let batch = RecordBatch::try_from_iter([("t", Arc::new(secs) as ArrayRef)]).unwrap();
        let ctx = SessionContext::new();
        for unit in ["monthly", "hour", "month", "week"] {
            let run = |e: Expr| {
                let df = ctx.read_batch(batch.clone()).unwrap();
                async move {
                    match df.select(vec![e.alias("x")]).unwrap().collect().await {
                        Ok(b) => Ok(column_i64(&b[0], "x").unwrap()),
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            let ours = run(period_trunc().call(vec![lit(unit), col("t")])).await;
            let reference = run(date_trunc(lit(unit), col("t"))).await;
            assert_eq!(ours, reference, "{unit}");
            // No 'monthly' in the built-in; no month or week 270,000 years ahead in the
            // calendar (hours are plain arithmetic).
            assert_eq!(ours.is_err(), unit != "hour", "{unit}: {ours:?}");
        }
    }

    /// The packed key computed by DataFusion reads back as the period and bucket it packed,
    /// for periods before and after 1970, no period, and zero, negative and large buckets.
    #[tokio::test]
    async fn period_bucket_round_trips() {
        let days = [-40_000, -1, 0, 19_700, 100_000];
        let buckets: [Option<i64>; 5] = [None, Some(-20_000), Some(0), Some(1), Some(30_000)];
        let mut d = Vec::new();
        let mut b = Vec::new();
        for x in days.iter().map(|x| Some(*x)).chain([None]) {
            for y in buckets {
                d.push(x);
                b.push(y);
            }
        }
        let batch = RecordBatch::try_from_iter([
            (
                "local_date",
                Arc::new(Date32Array::from(d.clone())) as ArrayRef,
            ),
            ("bucket", Arc::new(Int64Array::from(b.clone())) as ArrayRef),
        ])
        .unwrap();
        let ctx = SessionContext::new();
        for period in [Some(Period::Month), Some(Period::Day), None] {
            let out = ctx
                .read_batch(batch.clone())
                .unwrap()
                .select(vec![
                    period_bucket(
                        period.map(|p| period_of(p, col("local_date"))),
                        col("bucket"),
                    )
                    .alias("k"),
                ])
                .unwrap()
                .collect()
                .await
                .unwrap();
            let k = column_i64(&out[0], "k").unwrap();
            for (i, code) in k.into_iter().enumerate() {
                let want_period = match (period, d[i]) {
                    (Some(p), Some(x)) => Some(p.start_of(days_to_date(x))),
                    _ => None,
                };
                let want = (want_period, b[i].map(|x| x as i32));
                assert_eq!(split_period_bucket(code), want, "row {i}, {period:?}");
            }
        }
    }

    /// Rows of several batches land in one group per (segment, period), nulls included, and
    /// the groups read back with their keys.
    #[test]
    fn groups_match_rows_by_segment_and_period() {
        let q = GroupQuery {
            by: vec!["channel".into()],
            period: Some(Period::Month),
            ..GroupQuery::default()
        };
        let batch = |seg: Vec<Option<&str>>, days: Vec<Option<i32>>| {
            RecordBatch::try_from_iter([
                ("by_1", Arc::new(StringArray::from(seg)) as ArrayRef),
                ("period", Arc::new(Date32Array::from(days)) as ArrayRef),
            ])
            .unwrap()
        };
        let mut g: Groups<u32> = Groups::new();
        let a = batch(
            vec![Some("mail"), Some("chat"), Some("mail"), None],
            vec![Some(0), Some(0), Some(0), Some(31)],
        );
        let rows = g.rows(&q, &a, None, || 0).unwrap();
        assert_eq!(rows, [0, 1, 0, 2]);
        let b = batch(
            vec![None, Some("mail"), Some("mail")],
            vec![Some(31), Some(31), None],
        );
        let rows_b = g.rows(&q, &b, None, || 0).unwrap();
        assert_eq!(rows_b, [2, 3, 4]);
        for r in rows.into_iter().chain(rows_b) {
            *g.at(r) += 1;
        }
        let m = g.into_map();
        let day = |x| Some(days_to_date(x));
        assert_eq!(m[&(vec![Some("mail".into())], day(0))], 2);
        assert_eq!(m[&(vec![Some("chat".into())], day(0))], 1);
        assert_eq!(m[&(vec![None], day(31))], 2);
        assert_eq!(m[&(vec![Some("mail".into())], day(31))], 1);
        assert_eq!(m[&(vec![Some("mail".into())], None)], 1);
        assert_eq!(m.len(), 5);
    }
}
