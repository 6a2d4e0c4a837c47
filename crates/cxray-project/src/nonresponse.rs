//! Non-response: response rates by segment from invitations, whether respondents differ from
//! the invited, and metrics weighted back to the population by raking (see
//! `cxray_insights::nonresponse`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, AsArray};
use chrono::NaiveDate;
use cxray_ingest::{Entity, EntityTable, Loaded};
use cxray_insights::nonresponse::{
    InvitationCell, NonResponse, NonResponseInput, NonResponseOptions, nonresponse,
};
use cxray_metrics::{EstimateOptions, ScoreHistogram};
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::{AnswerColumns, trimmed};
use crate::error::{Error, Result};
use crate::observe::phase;
use crate::project::{InputSummary, Project};

/// What `nonresponse` computes.
#[derive(Debug, Clone)]
pub struct NonResponseRequest {
    /// Segment columns (of invitations or customers) to compare (default: the invitations'
    /// columns with 2 to 12 distinct values).
    pub by: Vec<String>,
    /// Rake on these columns (default: those whose response rates differ significantly).
    pub rake_on: Vec<String>,
    /// An answer belongs to the latest invitation sent at most this many days before it.
    pub window_days: i64,
    pub confidence: Confidence,
    /// False discovery rate of the tests.
    pub alpha: f64,
}

impl Default for NonResponseRequest {
    fn default() -> Self {
        NonResponseRequest {
            by: vec![],
            rake_on: vec![],
            window_days: 30,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            alpha: 0.05,
        }
    }
}

/// The non-response analysis, with the input behind it.
#[derive(Debug, Clone, Serialize)]
pub struct NonResponseOutput {
    pub nonresponse: NonResponse,
    /// Answers of invited surveys that match no invitation within the window.
    pub unmatched_answers: u64,
    pub window_days: i64,
    pub input: InputSummary,
}

/// A text column as codes into its distinct values (`None` for blanks), without a string per
/// row.
struct Coded {
    codes: Vec<u32>,
    labels: Vec<Option<String>>,
}

fn coded(t: &EntityTable, name: &str) -> Option<Coded> {
    let i = t.schema.index_of(name).ok()?;
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut labels: Vec<Option<String>> = vec![None];
    let mut codes = Vec::with_capacity(t.rows());
    for b in &t.batches {
        let c = arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8).ok()?;
        let c = c.as_string::<i32>();
        for r in 0..c.len() {
            if c.is_null(r) {
                codes.push(0);
                continue;
            }
            let v = c.value(r);
            let code = match index.get(v) {
                Some(&k) => k,
                None => {
                    let k = labels.len() as u32;
                    labels.push(Some(v.to_string()));
                    index.insert(v.to_string(), k);
                    k
                }
            };
            codes.push(code);
        }
    }
    Some(Coded { codes, labels })
}

/// A text column's values per row, borrowed from its batches cast to text.
fn texts(t: &EntityTable, name: &str) -> Option<Vec<arrow::array::ArrayRef>> {
    let i = t.schema.index_of(name).ok()?;
    t.batches
        .iter()
        .map(|b| arrow::compute::cast(b.column(i), &arrow::datatypes::DataType::Utf8).ok())
        .collect()
}

fn values(arrays: &[arrow::array::ArrayRef]) -> Vec<Option<&str>> {
    let mut out = Vec::new();
    for a in arrays {
        let s = a.as_string::<i32>();
        out.extend((0..s.len()).map(|r| (!s.is_null(r)).then(|| s.value(r))));
    }
    out
}

/// Attribute columns of a table with 2 to 12 distinct values, coded.
fn small_dimensions(t: &EntityTable) -> Vec<(String, Coded)> {
    t.attributes
        .iter()
        .filter_map(|a| Some((a.clone(), coded(t, a)?)))
        .filter(|(_, c)| (3..=13).contains(&c.labels.len()))
        .collect()
}

/// Segment codes of every invitation for each dimension (from the invitation's own column, or
/// the customer's), with the labels of the codes.
/// `known` are invitation columns already coded (they are not coded again).
fn invitation_segments(
    inv: &EntityTable,
    customers: Option<&EntityTable>,
    dims: &[String],
    mut known: Vec<(String, Coded)>,
) -> Result<Vec<Coded>> {
    let id_arrays = texts(inv, "customer_id").expect("customer_id");
    let ids = values(&id_arrays);
    let mut out = Vec::new();
    for d in dims {
        if let Some(k) = known.iter().position(|(n, _)| n == d) {
            out.push(known.swap_remove(k).1);
            continue;
        }
        if let Some(c) = coded(inv, d) {
            out.push(c);
            continue;
        }
        let Some(c) = customers else {
            return Err(Error::usage(format!(
                "unknown column '{d}': not in the invitations, and the project has no customers \
                 table; invitations have: {}",
                inv.attributes.join(", ")
            ))
            .about("by"));
        };
        let Some(col) = coded(c, d) else {
            return Err(Error::usage(format!(
                "unknown column '{d}' in invitations and customers; customers have: {}",
                c.attributes.join(", ")
            ))
            .about("by"));
        };
        let cid_arrays = texts(c, "customer_id").expect("customer_id");
        let mut by_id: HashMap<&str, u32> = HashMap::new();
        for (id, code) in values(&cid_arrays).into_iter().zip(&col.codes) {
            if let Some(id) = id {
                by_id.entry(id).or_insert(*code);
            }
        }
        let codes = ids
            .iter()
            .map(|id| id.and_then(|i| by_id.get(i).copied()).unwrap_or(0))
            .collect();
        out.push(Coded {
            codes,
            labels: col.labels,
        });
    }
    Ok(out)
}

/// Population counts per dimension and level from the customers table.
fn population(
    customers: Option<&EntityTable>,
    dims: &[String],
) -> Option<BTreeMap<String, BTreeMap<String, f64>>> {
    let c = customers?;
    let mut out = BTreeMap::new();
    for d in dims {
        let Some(col) = coded(c, d) else {
            continue;
        };
        let mut n = vec![0u64; col.labels.len()];
        for &k in &col.codes {
            n[k as usize] += 1;
        }
        let counts: BTreeMap<String, f64> = col
            .labels
            .iter()
            .zip(n)
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| {
                (
                    l.clone()
                        .unwrap_or_else(|| cxray_insights::nonresponse::MISSING.into()),
                    n as f64,
                )
            })
            .collect();
        out.insert(d.clone(), counts);
    }
    (!out.is_empty()).then_some(out)
}

/// The answers matched to invitations by [`match_answers`].
struct Matched {
    /// Whether each invitation was answered.
    answered: Vec<bool>,
    /// (invitation row, metric index, score) of every matched answer.
    answers: Vec<(u32, u32, f64)>,
    /// Metric names, by index (of all answers, matched or not).
    metrics: Vec<String>,
    /// Answers of invited surveys that match no invitation within the window.
    unmatched: u64,
}

/// Matches every answer to the latest invitation of the same customer (and survey, when the
/// responses name it) sent at most `window` days before, on every core (answer batches split
/// between threads).
fn match_answers(inv: &EntityTable, loaded: &Loaded, window: i64, threads: usize) -> Matched {
    let id_arrays = texts(inv, "customer_id").expect("customer_id");
    let ids = values(&id_arrays);
    let survey_arrays = texts(inv, "survey");
    let surveys: Vec<Option<&str>> = match &survey_arrays {
        Some(a) => values(a),
        None => vec![None; inv.rows()],
    };
    let dates = inv.local_dates();
    let by_survey = loaded.schema.index_of("survey").is_ok();
    let mut invited_surveys: Vec<&str> = surveys.iter().flatten().copied().collect();
    invited_surveys.sort_unstable();
    invited_surveys.dedup();
    // Invitations sorted by (hash of customer and survey, day): the invitations of one key
    // are a run, found by binary search; the strings are compared to rule out collisions.
    let key = |id: &str, survey: &str| -> u64 {
        use std::hash::Hasher;
        let mut h = cxray_kernels::IdHasher::default();
        h.write(id.as_bytes());
        h.write_u8(0xff);
        h.write(survey.as_bytes());
        h.finish()
    };
    let survey_of = |row: usize| {
        if by_survey {
            surveys[row].unwrap_or_default()
        } else {
            ""
        }
    };
    let mut index: Vec<(u64, NaiveDate, u32)> = Vec::with_capacity(inv.rows());
    for (row, id) in ids.iter().enumerate() {
        let (Some(id), Some(d)) = (id, dates[row]) else {
            continue;
        };
        index.push((key(id, survey_of(row)), d, row as u32));
    }
    index.sort_unstable();
    // Where each key's run starts and ends.
    type Fast = std::hash::BuildHasherDefault<cxray_kernels::IdHasher>;
    let mut runs: HashMap<u64, (u32, u32), Fast> =
        HashMap::with_capacity_and_hasher(index.len() / 2, Fast::default());
    let mut start = 0;
    while start < index.len() {
        let k = index[start].0;
        let mut end = start + 1;
        while end < index.len() && index[end].0 == k {
            end += 1;
        }
        runs.insert(k, (start as u32, end as u32));
        start = end;
    }
    // The metric names of all batches, and each batch's dictionary values as their indices
    // (the metric column is dictionary encoded: no text per row).
    let mut metrics: Vec<String> = Vec::new();
    let batches: Vec<(&arrow::record_batch::RecordBatch, Vec<u32>)> = loaded
        .batches
        .iter()
        .map(|b| {
            let dict = b
                .column_by_name("metric")
                .expect("a metric column")
                .as_dictionary::<arrow::datatypes::Int32Type>();
            let values = dict.values().as_string::<i32>();
            let slots = (0..values.len())
                .map(|v| {
                    let name = values.value(v);
                    let m = match metrics.iter().position(|n| n == name) {
                        Some(m) => m,
                        None => {
                            metrics.push(name.to_string());
                            metrics.len() - 1
                        }
                    };
                    m as u32
                })
                .collect();
            (b, slots)
        })
        .collect();
    // One part of the answer batches: (answers, unmatched count).
    let part = |batches: &[(&arrow::record_batch::RecordBatch, Vec<u32>)]| {
        let mut answers: Vec<(u32, u32, f64)> = Vec::new();
        let mut unmatched = 0u64;
        for (b, slots) in batches {
            let c = AnswerColumns::of_ids(b);
            let (cids, scores) = (c.customer_id, c.score);
            let metric = b
                .column_by_name("metric")
                .expect("a metric column")
                .as_dictionary::<arrow::datatypes::Int32Type>()
                .keys();
            let survey = b
                .column_by_name("survey")
                .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok());
            for r in 0..b.num_rows() {
                let s = match &survey {
                    Some(c) => {
                        let c = c.as_string::<i32>();
                        if c.is_null(r) || invited_surveys.binary_search(&c.value(r)).is_err() {
                            continue; // not an invited survey (e.g. transactional)
                        }
                        c.value(r)
                    }
                    None => "",
                };
                if cids.is_null(r) {
                    unmatched += 1;
                    continue;
                }
                let day = c.day(r);
                let (id, h) = (cids.value(r), key(cids.value(r), s));
                // The last invitation of this key sent on or before the day.
                let Some(&(lo, hi)) = runs.get(&h) else {
                    unmatched += 1;
                    continue;
                };
                let run = &index[lo as usize..hi as usize];
                let end = run.partition_point(|(_, d, _)| *d <= day);
                let found = (end > 0).then(|| run[end - 1]).filter(|(k, d, row)| {
                    *k == h
                        && (day - *d).num_days() <= window
                        && ids[*row as usize] == Some(id)
                        && survey_of(*row as usize) == s
                });
                let Some((_, _, row)) = found else {
                    unmatched += 1;
                    continue;
                };
                answers.push((row, slots[metric.value(r) as usize], scores.value(r)));
            }
        }
        (answers, unmatched)
    };
    let mut out = Matched {
        answered: vec![false; inv.rows()],
        answers: Vec::new(),
        metrics,
        unmatched: 0,
    };
    for (answers, unmatched) in cxray_kernels::parallel_chunks(&batches, threads, part) {
        for &(row, _, _) in &answers {
            out.answered[row as usize] = true;
        }
        out.answers.extend(answers);
        out.unmatched += unmatched;
    }
    out
}

impl Project {
    /// Response rates by segment, the bias of who answers, and metrics raked back to the
    /// population.
    pub fn nonresponse(&self, req: &NonResponseRequest) -> Result<NonResponseOutput> {
        crate::explain::check_alpha(req.alpha)?;
        let responses = self.responses()?;
        let (nr, unmatched, tables) = analyse(self, &responses.loaded, req)?;
        let input = std::iter::once(InputSummary::of_responses(&responses.loaded))
            .chain(tables.iter().map(|t| InputSummary::of_entity(t)))
            .reduce(InputSummary::and)
            .expect("responses");
        Ok(NonResponseOutput {
            nonresponse: nr,
            unmatched_answers: unmatched,
            window_days: req.window_days,
            input,
        })
    }
}

/// The analysis, with the count of unmatched answers and the tables read.
pub(crate) fn analyse(
    project: &Project,
    loaded: &Loaded,
    req: &NonResponseRequest,
) -> Result<(NonResponse, u64, Vec<Arc<EntityTable>>)> {
    let obs = project.observer();
    let inv = project.entity(Entity::Invitations)?;
    // Customers give segments the invitations lack and the population margins; asked for
    // by name, they must be readable.
    let customers = if project.has(Entity::Customers) {
        crate::operational::optional_customers(project, !req.by.is_empty())?
    } else {
        None
    };
    let mut known = Vec::new();
    let dims: Vec<String> = if req.by.is_empty() {
        phase(obs, "non-response: dimensions", || {
            known = small_dimensions(&inv);
            let mut d: Vec<String> = known.iter().map(|(n, _)| n.clone()).collect();
            if d.is_empty()
                && let Some(c) = &customers
            {
                d = small_dimensions(c).into_iter().map(|(n, _)| n).collect();
            }
            d
        })
    } else {
        trimmed(&req.by)
    };
    if dims.is_empty() {
        return Err(Error::usage(
            "no segment columns to compare: name columns of the invitations or the customers",
        )
        .about("by"));
    }
    let segments = phase(obs, "non-response: segments", || {
        invitation_segments(&inv, customers.as_deref(), &dims, known)
    })?;
    let Matched {
        answered,
        answers,
        metrics,
        unmatched,
    } = phase(obs, "non-response: matching", || {
        match_answers(&inv, loaded, req.window_days, project.threads())
    });
    if segments
        .iter()
        .try_fold(1u64, |acc, c| acc.checked_mul(c.labels.len() as u64))
        .is_none()
    {
        return Err(Error::usage(format!(
            "the columns {} have too many combinations of values to compare; compare fewer or \
             coarser columns",
            dims.join(", ")
        ))
        .about("by"));
    }
    // Each invitation's cell as one number (mixed radix over the dimensions' codes).
    let cell_of = |row: usize| -> u64 {
        segments.iter().fold(0u64, |acc, c| {
            acc * c.labels.len() as u64 + c.codes[row] as u64
        })
    };
    let segment_of = |mut key: u64| -> Vec<Option<String>> {
        let mut seg = vec![None; segments.len()];
        for (k, c) in segments.iter().enumerate().rev() {
            let n = c.labels.len() as u64;
            seg[k] = c.labels[(key % n) as usize].clone();
            key /= n;
        }
        seg
    };
    let mut cells: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (row, &done) in answered.iter().enumerate() {
        let e = cells.entry(cell_of(row)).or_default();
        e.0 += 1;
        e.1 += done as u64;
    }
    // Attribute ratings declared as drivers are not headline metrics: left out here.
    let drivers = project.driver_metrics();
    let skip: Vec<bool> = metrics.iter().map(|m| drivers.contains(m)).collect();
    let mut by_index: HashMap<(u32, u64), ScoreHistogram> = HashMap::new();
    for (row, metric, score) in answers {
        if skip[metric as usize] {
            continue;
        }
        by_index
            .entry((metric, cell_of(row as usize)))
            .or_default()
            .add(score, 1);
    }
    let hist: BTreeMap<(String, u64), ScoreHistogram> = by_index
        .into_iter()
        .map(|((m, cell), h)| ((metrics[m as usize].clone(), cell), h))
        .collect();
    let rake_on = (!req.rake_on.is_empty()).then(|| {
        req.rake_on
            .iter()
            .map(|r| r.trim().to_string())
            .collect::<Vec<_>>()
    });
    if let Some(r) = &rake_on
        && let Some(bad) = r.iter().find(|r| !dims.contains(r))
    {
        return Err(Error::usage(format!(
            "{bad} is not one of the compared dimensions ({})",
            dims.join(", ")
        ))
        .about("rake_on"));
    }
    // Margins from the config override the customers table's counts for their columns.
    let mut pop = population(customers.as_deref(), &dims).unwrap_or_default();
    let mut from_config = Vec::new();
    for (col, levels) in &project.config().margins {
        if !dims.contains(col) {
            return Err(Error::bad_input(format!(
                "[margins] names '{col}', which is not one of the compared columns ({}); \
                 compare it too",
                dims.join(", ")
            )));
        }
        if let Some((l, v)) = levels.iter().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
            return Err(Error::bad_input(format!(
                "[margins.{col}] {l} = {v}: shares and counts must be 0 or more"
            )));
        }
        pop.insert(col.clone(), levels.clone());
        from_config.push(col.clone());
    }
    let input = NonResponseInput {
        population: (!pop.is_empty()).then_some(pop),
        margins_from_config: from_config,
        dims,
        cells: cells
            .into_iter()
            .map(|(key, (invited, answered))| InvitationCell {
                segment: segment_of(key),
                invited,
                answered,
            })
            .collect(),
        answers: hist
            .into_iter()
            .map(|((m, key), h)| (m, segment_of(key), h))
            .collect(),
        catalog: project.catalog(),
    };
    let opts = NonResponseOptions {
        estimate: EstimateOptions {
            confidence: req.confidence,
            ..Default::default()
        },
        alpha: req.alpha,
        rake_on,
    };
    let tables = std::iter::once(inv).chain(customers).collect();
    let r = phase(obs, "non-response: analysis", || nonresponse(&input, &opts));
    Ok((r, unmatched, tables))
}
