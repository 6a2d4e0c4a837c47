//! The touchpoint an answer follows: every answer with a `customer_id` gets the journey step of
//! that customer's latest journey event at or before the answer, within a window (`[journey]
//! touchpoint_window_hours`, default 48 h, the usual delay of a transactional survey). The
//! column [`TOUCHPOINT_COLUMN`] then works like any segment: `cxray metrics --by
//! journey_touchpoint`, and the report compares every touchpoint with the rest of the answers
//! (worst first, tested, Benjamini-Hochberg).
//!
//! | value | meaning |
//! |---|---|
//! | a step name | the customer's latest journey event in the window before the answer was this step |
//! | [`NO_TOUCHPOINT`] | the answer names a customer, who has no journey event in the window |
//! | null | the answer has no `customer_id`: it cannot be joined |
//!
//! Events at the same instant are ordered by the funnel (`[journey] steps`), so a purchase
//! recorded in the same second as its checkout is the later of the two.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int32Builder, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimestampMicrosecondType};

use cxray_ingest::{EntityTable, Loaded};

/// Name of the column [`join_touchpoints`] adds to the answers, and the value of answers whose
/// customer has no journey event in the window.
pub use cxray_metrics::journey::{NO_TOUCHPOINT, TOUCHPOINT_COLUMN};

/// What the join did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TouchpointSummary {
    pub window_hours: f64,
    /// Answers given a step.
    pub matched: u64,
    /// Answers with a customer but no journey event in the window.
    pub without_step: u64,
    /// Answers without a customer id.
    pub without_customer: u64,
}

/// The journey events of the customers of one hash partition, time-ordered per customer:
/// customer `c`'s events are `events[offsets[c]..offsets[c + 1]]`, as (time in µs, step index).
struct Timeline<'a> {
    customers: cxray_kernels::IdIndex<'a>,
    offsets: Vec<usize>,
    events: Vec<(i64, u32)>,
}

type Fast = BuildHasherDefault<cxray_kernels::IdHasher>;

/// Step index of every event (`u32::MAX` for an event without a step), per batch. Steps are
/// interned into `names` after the funnel's, so that ties in time go to the later funnel step.
fn step_codes(journey: &EntityTable, names: &mut Vec<String>) -> Vec<Vec<u32>> {
    let mut index: HashMap<String, u32, Fast> = names
        .iter()
        .enumerate()
        .map(|(k, s)| (s.clone(), k as u32))
        .collect();
    journey
        .batches
        .iter()
        .map(|b| {
            let Some(step) = b
                .column_by_name("step")
                .and_then(|c| c.as_string_opt::<i32>())
            else {
                return vec![u32::MAX; b.num_rows()];
            };
            let mut last: Option<(&str, u32)> = None;
            (0..b.num_rows())
                .map(|r| {
                    if step.is_null(r) {
                        return u32::MAX;
                    }
                    let name = step.value(r);
                    match last {
                        Some((n, k)) if n == name => k,
                        _ => {
                            let k = match index.get(name) {
                                Some(k) => *k,
                                None => {
                                    names.push(name.to_string());
                                    let k = names.len() as u32 - 1;
                                    index.insert(name.to_string(), k);
                                    k
                                }
                            };
                            last = Some((name, k));
                            k
                        }
                    }
                })
                .collect()
        })
        .collect()
}

impl<'a> Timeline<'a> {
    /// The timeline of the customers in hash partition `part` of `parts`.
    fn of(journey: &'a EntityTable, codes: &[Vec<u32>], part: usize, parts: usize) -> Self {
        let mut customers = cxray_kernels::IdIndex::default();
        // Pass 1: per usable event of the partition (customer, time, step), and the events
        // per customer.
        let mut rows: Vec<(u32, i64, u32)> = Vec::with_capacity(journey.rows() / parts + 16);
        let mut counts: Vec<usize> = Vec::new();
        for (b, codes) in journey.batches.iter().zip(codes) {
            let (Some(customer), Some(at)) = (
                b.column_by_name("customer_id")
                    .and_then(|c| c.as_string_opt::<i32>()),
                b.column_by_name("at")
                    .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()),
            ) else {
                continue;
            };
            // Events of one session come together: the customer of the row before is checked
            // before the hash (None: another partition's customer).
            let mut last: Option<(&'a str, Option<u32>)> = None;
            for (r, &k) in codes.iter().enumerate() {
                if customer.is_null(r) || k == u32::MAX || at.is_null(r) {
                    continue;
                }
                let id = customer.value(r);
                let c = match last {
                    Some((n, c)) if n == id => c,
                    _ => {
                        let hash = cxray_kernels::IdIndex::hash(id);
                        let c = (parts == 1 || cxray_kernels::IdIndex::part(hash, parts) == part)
                            .then(|| customers.insert_hashed(id, hash).0);
                        last = Some((id, c));
                        c
                    }
                };
                let Some(c) = c else { continue };
                if c as usize == counts.len() {
                    counts.push(0);
                }
                counts[c as usize] += 1;
                rows.push((c, at.value(r), k));
            }
        }
        // Pass 2: a counting sort by customer, then each customer's few events by time.
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        let mut total = 0;
        offsets.push(0);
        for n in &counts {
            total += n;
            offsets.push(total);
        }
        let mut fill = offsets.clone();
        let mut events = vec![(0i64, 0u32); total];
        for (c, at, k) in rows {
            events[fill[c as usize]] = (at, k);
            fill[c as usize] += 1;
        }
        for w in offsets.windows(2) {
            events[w[0]..w[1]].sort_unstable();
        }
        Timeline {
            customers,
            offsets,
            events,
        }
    }

    /// The step of customer `c`'s latest event at or before `t`, no more than `window` before.
    fn step_before(&self, c: u32, t: i64, window: i64) -> Option<u32> {
        let c = c as usize;
        let ev = &self.events[self.offsets[c]..self.offsets[c + 1]];
        let k = ev.partition_point(|(at, _)| *at <= t);
        let (at, s) = *ev.get(k.checked_sub(1)?)?;
        (t - at <= window).then_some(s)
    }
}

/// The timelines of all customers, one per hash partition, built in parallel.
struct Timelines<'a> {
    parts: Vec<Timeline<'a>>,
}

impl<'a> Timelines<'a> {
    fn of(journey: &'a EntityTable, names: &mut Vec<String>, threads: usize) -> Self {
        let codes = step_codes(journey, names);
        let parts = threads.clamp(1, 8);
        let parts =
            cxray_kernels::parallel(parts, parts, |p| Timeline::of(journey, &codes, p, parts));
        Timelines { parts }
    }

    /// Where a customer's events are: (partition, customer index).
    fn customer(&self, id: &str) -> Option<(usize, u32)> {
        let hash = cxray_kernels::IdIndex::hash(id);
        let p = cxray_kernels::IdIndex::part(hash, self.parts.len());
        self.parts[p].customers.get_hashed(id, hash).map(|c| (p, c))
    }

    fn step_before(&self, (p, c): (usize, u32), t: i64, window: i64) -> Option<u32> {
        self.parts[p].step_before(c, t, window)
    }
}

/// Adds [`TOUCHPOINT_COLUMN`] to the answers. Returns `None` (and adds nothing) when the column
/// is already there or the journey has no `customer_id` column.
pub fn join_touchpoints(
    loaded: &mut Loaded,
    journey: &EntityTable,
    window_hours: f64,
    steps: &[String],
    threads: usize,
) -> Option<TouchpointSummary> {
    if loaded.schema.index_of(TOUCHPOINT_COLUMN).is_ok() {
        return None;
    }
    journey.schema.index_of("customer_id").ok()?;
    let mut names: Vec<String> = steps.to_vec();
    let timeline = Timelines::of(journey, &mut names, threads);
    let window = (window_hours * 3_600_000_000.0).round() as i64;
    let schema = with_column(&loaded.schema);
    let batches = std::mem::take(&mut loaded.batches);
    // Batches are joined in parallel, each to (batch, matched, without step, without customer).
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: std::sync::Mutex<Vec<(usize, RecordBatch, [u64; 3])>> = Default::default();
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, batches.len().max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(b) = batches.get(i) else { break };
                    let (b, counts) = join_batch(b, &timeline, &names, window, &schema);
                    done.lock()
                        .expect("no panics while locked")
                        .push((i, b, counts));
                }
            });
        }
    });
    let mut done = done.into_inner().expect("no panics while locked");
    done.sort_by_key(|d| d.0);
    let mut summary = TouchpointSummary {
        window_hours,
        ..Default::default()
    };
    loaded.batches = done
        .into_iter()
        .map(|(_, b, [m, w, c])| {
            summary.matched += m;
            summary.without_step += w;
            summary.without_customer += c;
            b
        })
        .collect();
    loaded.schema = schema;
    Some(summary)
}

fn join_batch(
    b: &RecordBatch,
    timeline: &Timelines<'_>,
    names: &[String],
    window: i64,
    schema: &Arc<Schema>,
) -> (RecordBatch, [u64; 3]) {
    let customer = b
        .column_by_name("customer_id")
        .and_then(|c| c.as_string_opt::<i32>());
    let at = b
        .column_by_name("submitted_at")
        .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>());
    let mut counts = [0u64; 3];
    // Keys into the dictionary [steps…, none]; null without a customer.
    let none = names.len() as i32;
    let mut keys = Int32Builder::with_capacity(b.num_rows());
    let mut last: Option<(&str, Option<(usize, u32)>)> = None;
    for r in 0..b.num_rows() {
        let (Some(c), Some(t)) = (customer, at) else {
            keys.append_null();
            counts[2] += 1;
            continue;
        };
        if c.is_null(r) || t.is_null(r) {
            keys.append_null();
            counts[2] += 1;
            continue;
        }
        // The answers of one submission come together: one lookup for all of them.
        let id = c.value(r);
        let cust = match last {
            Some((n, k)) if n == id => k,
            _ => {
                let k = timeline.customer(id);
                last = Some((id, k));
                k
            }
        };
        match cust.and_then(|k| timeline.step_before(k, t.value(r), window)) {
            Some(s) => {
                counts[0] += 1;
                keys.append_value(s as i32);
            }
            None => {
                counts[1] += 1;
                keys.append_value(none);
            }
        }
    }
    let values = StringArray::from_iter_values(
        names
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(NO_TOUCHPOINT)),
    );
    let column = DictionaryArray::<Int32Type>::try_new(keys.finish(), Arc::new(values))
        .expect("keys index the values");
    let mut cols: Vec<ArrayRef> = b.columns().to_vec();
    cols.push(Arc::new(column));
    (
        RecordBatch::try_new(schema.clone(), cols).expect("columns match the schema"),
        counts,
    )
}

fn with_column(schema: &Schema) -> Arc<Schema> {
    let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(TOUCHPOINT_COLUMN, dict, true));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::TimestampMicrosecondArray;
    use cxray_ingest::Entity;

    const H: i64 = 3_600_000_000;

    fn time_field(name: &str) -> Field {
        let unit = arrow::datatypes::TimeUnit::Microsecond;
        Field::new(name, DataType::Timestamp(unit, Some("UTC".into())), false)
    }

    fn times(t: impl Iterator<Item = i64>) -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(t.collect::<Vec<_>>()).with_timezone("UTC"))
    }

    fn answers(rows: &[(Option<&str>, i64)]) -> Loaded {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, true),
            time_field("submitted_at"),
        ]));
        let c = StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let t = times(rows.iter().map(|r| r.1));
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(c), t]).unwrap();
        Loaded {
            schema,
            batches: vec![b],
            rejects: vec![],
            sources: vec![],
            totals: Default::default(),
            attributes: vec![],
        }
    }

    fn journey(rows: &[(&str, &str, i64)]) -> EntityTable {
        let schema = Arc::new(Schema::new(vec![
            Field::new("customer_id", DataType::Utf8, true),
            Field::new("step", DataType::Utf8, false),
            time_field("at"),
        ]));
        let c = StringArray::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let s = StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let t = times(rows.iter().map(|r| r.2));
        let b = RecordBatch::try_new(schema.clone(), vec![Arc::new(c), Arc::new(s), t]).unwrap();
        EntityTable {
            entity: Entity::Journey,
            schema,
            batches: vec![b],
            rejects: vec![],
            sources: vec![],
            totals: Default::default(),
            attributes: vec![],
            files: vec![],
        }
    }

    fn column(l: &Loaded) -> Vec<Option<String>> {
        let b = &l.batches[0];
        let d = b
            .column_by_name(TOUCHPOINT_COLUMN)
            .unwrap()
            .as_dictionary::<Int32Type>();
        let v = d.values().as_string::<i32>();
        (0..b.num_rows())
            .map(|r| (!d.is_null(r)).then(|| v.value(d.keys().value(r) as usize).to_string()))
            .collect()
    }

    /// Hand-worked cases: the latest event before the answer, not one after it; the window's
    /// edge is inside; a step older than the window is no touchpoint; unknown customers and
    /// answers without a customer; ties in time go to the later funnel step.
    #[test]
    fn each_answer_gets_the_latest_step_before_it_within_the_window() {
        let j = journey(&[
            ("a", "checkout", 10 * H),
            ("a", "visit", 9 * H),
            ("a", "purchase", 30 * H), // after a's first answer
            ("b", "visit", 0),
            ("c", "purchase", 5 * H),
            ("c", "checkout", 5 * H), // same instant: purchase is later in the funnel
        ]);
        let mut l = answers(&[
            (Some("a"), 12 * H),     // checkout, 2 h before
            (Some("a"), 31 * H),     // purchase, 1 h before
            (Some("b"), 48 * H),     // visit exactly 48 h before: inside
            (Some("b"), 48 * H + 1), // just outside
            (Some("z"), 12 * H),     // never in the journey
            (None, 12 * H),          // no customer id
            (Some("c"), 6 * H),
            (Some("a"), 9 * H), // at the instant of the visit: it counts
        ]);
        let steps: Vec<String> = ["visit", "cart", "checkout", "purchase"]
            .map(String::from)
            .to_vec();
        let s = join_touchpoints(&mut l, &j, 48.0, &steps, 2).unwrap();
        let o = |x: &str| Some(x.to_string());
        assert_eq!(
            column(&l),
            vec![
                o("checkout"),
                o("purchase"),
                o("visit"),
                o("none"),
                o("none"),
                None,
                o("purchase"),
                o("visit"),
            ]
        );
        assert_eq!(
            (s.matched, s.without_step, s.without_customer),
            (5, 2, 1),
            "{s:?}"
        );
        assert_eq!(l.schema.fields().len(), 3);
        // A second join adds nothing.
        assert!(join_touchpoints(&mut l, &j, 48.0, &steps, 2).is_none());
        assert_eq!(l.batches[0].num_columns(), 3);
    }

    #[test]
    fn a_journey_without_customers_cannot_be_joined() {
        let mut j = journey(&[("a", "visit", 0)]);
        j.schema = Arc::new(Schema::new(vec![Field::new("step", DataType::Utf8, false)]));
        let mut l = answers(&[(Some("a"), H)]);
        assert!(join_touchpoints(&mut l, &j, 48.0, &[], 2).is_none());
        assert_eq!(l.batches[0].num_columns(), 2);
    }
}
