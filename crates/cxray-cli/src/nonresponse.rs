//! `cxray nonresponse`: response rates by segment from invitations, whether respondents differ
//! from the invited, and metrics weighted back to the population (see
//! `cxray_insights::nonresponse`).

use std::collections::{BTreeMap, HashMap};

use anyhow::anyhow;
use arrow::array::{Array, AsArray};
use chrono::NaiveDate;
use cxray_ingest::{Entity, EntityTable, Loaded};
use cxray_insights::nonresponse::{
    InvitationCell, NonResponse, NonResponseInput, NonResponseOptions, nonresponse,
};
use cxray_metrics::{EstimateOptions, IntervalChoice, ScoreHistogram};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::{FormatArg, NonResponseArgs};
use crate::input::{self, Project};
use crate::output::InputSummary;

/// Attribute columns of a table with 2 to 12 distinct values.
fn small_dimensions(t: &EntityTable) -> Vec<String> {
    t.attributes
        .iter()
        .filter(|a| {
            let mut seen = std::collections::HashSet::new();
            for v in t.text_column(a).unwrap_or_default().into_iter().flatten() {
                seen.insert(v);
                if seen.len() > 12 {
                    return false;
                }
            }
            seen.len() >= 2
        })
        .cloned()
        .collect()
}

/// Segment values of every invitation for the dimensions: the invitation's own column, or the
/// customer's.
fn invitation_segments(
    inv: &EntityTable,
    customers: Option<&EntityTable>,
    dims: &[String],
) -> Result<Vec<Vec<Option<String>>>, Failure> {
    let ids = inv.text_column("customer_id").expect("customer_id");
    let mut out = vec![vec![None; dims.len()]; inv.rows()];
    for (k, d) in dims.iter().enumerate() {
        if let Some(values) = inv.text_column(d) {
            for (row, v) in values.into_iter().enumerate() {
                out[row][k] = v;
            }
            continue;
        }
        let Some(c) = customers else {
            return Err(Failure::input(anyhow!(
                "unknown column '{d}': not in the invitations, and the project has no customers \
                 table; invitations have: {}",
                inv.attributes.join(", ")
            )));
        };
        let Some(values) = c.text_column(d) else {
            return Err(Failure::input(anyhow!(
                "unknown column '{d}' in invitations and customers; customers have: {}",
                c.attributes.join(", ")
            )));
        };
        let by_id: HashMap<String, Option<String>> = c
            .text_column("customer_id")
            .expect("customer_id")
            .into_iter()
            .zip(values)
            .filter_map(|(id, v)| Some((id?, v)))
            .collect();
        for (row, id) in ids.iter().enumerate() {
            out[row][k] = id.as_ref().and_then(|i| by_id.get(i).cloned().flatten());
        }
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
        let Some(values) = c.text_column(d) else {
            continue;
        };
        let mut counts: BTreeMap<String, f64> = BTreeMap::new();
        for v in values {
            *counts
                .entry(v.unwrap_or_else(|| cxray_insights::nonresponse::MISSING.into()))
                .or_default() += 1.0;
        }
        out.insert(d.clone(), counts);
    }
    (!out.is_empty()).then_some(out)
}

/// Matches every answer to the latest invitation of the same customer (and survey, when the
/// responses name it) sent at most `window` days before; returns which invitations were
/// answered, the answers by invitation, and the answers of invited surveys left unmatched.
fn match_answers(
    inv: &EntityTable,
    loaded: &Loaded,
    window: i64,
) -> (Vec<bool>, Vec<(usize, String, f64)>, u64) {
    let ids = inv.text_column("customer_id").expect("customer_id");
    let surveys = inv
        .text_column("survey")
        .unwrap_or_else(|| vec![None; inv.rows()]);
    let dates = inv.local_dates();
    let by_survey = loaded.schema.index_of("survey").is_ok();
    let invited_surveys: std::collections::HashSet<String> =
        surveys.iter().flatten().cloned().collect();
    let mut index: HashMap<(String, String), Vec<(NaiveDate, usize)>> = HashMap::new();
    for (row, id) in ids.iter().enumerate() {
        let (Some(id), Some(d)) = (id, dates[row]) else {
            continue;
        };
        let survey = if by_survey {
            surveys[row].clone().unwrap_or_default()
        } else {
            String::new()
        };
        index
            .entry((id.clone(), survey))
            .or_default()
            .push((d, row));
    }
    for v in index.values_mut() {
        v.sort();
    }
    let mut answered = vec![false; inv.rows()];
    let mut answers = Vec::new();
    let mut unmatched = 0u64;
    for b in &loaded.batches {
        let c = crate::input::AnswerColumns::of(b);
        let (cids, scores, metric) = (c.customer_id, c.score, &c.metric);
        let survey = b
            .column_by_name("survey")
            .and_then(|c| arrow::compute::cast(c, &arrow::datatypes::DataType::Utf8).ok());
        for r in 0..b.num_rows() {
            let s = match &survey {
                Some(c) => {
                    let c = c.as_string::<i32>();
                    if c.is_null(r) || !invited_surveys.contains(c.value(r)) {
                        continue; // not an invited survey (e.g. transactional)
                    }
                    c.value(r).to_string()
                }
                None => String::new(),
            };
            if cids.is_null(r) {
                unmatched += 1;
                continue;
            }
            let day = c.day(r);
            let found = index.get(&(cids.value(r).to_string(), s)).and_then(|v| {
                let k = v.partition_point(|(d, _)| *d <= day);
                (k > 0)
                    .then(|| v[k - 1])
                    .filter(|(d, _)| (day - *d).num_days() <= window)
            });
            match found {
                Some((_, row)) => {
                    answered[row] = true;
                    answers.push((row, metric.value(r).to_string(), scores.value(r)));
                }
                None => unmatched += 1,
            }
        }
    }
    (answered, answers, unmatched)
}

#[derive(serde::Serialize)]
struct NonResponseOutput {
    nonresponse: NonResponse,
    /// Answers of invited surveys that match no invitation within the window.
    unmatched_answers: u64,
    window_days: i64,
    input: InputSummary,
}

/// The analysis for a loaded project.
pub fn build(
    project: &Project,
    a: &NonResponseArgs,
) -> Result<(NonResponse, u64, Vec<EntityTable>), Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    let (_, inv) = input::load_entity(&a.input, Entity::Invitations)?;
    let customers = if input::has_source(&project.config, Entity::Customers) {
        Some(input::load_entity(&a.input, Entity::Customers)?.1)
    } else {
        None
    };
    let dims: Vec<String> = if a.by.is_empty() {
        let mut d = small_dimensions(&inv);
        if d.is_empty()
            && let Some(c) = &customers
        {
            d = small_dimensions(c);
        }
        d
    } else {
        a.by.iter()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect()
    };
    if dims.is_empty() {
        return Err(Failure::input(anyhow!(
            "no segment columns to compare: give --by, with columns of the invitations or the \
             customers"
        )));
    }
    let segments = invitation_segments(&inv, customers.as_ref(), &dims)?;
    let (answered, answers, unmatched) = match_answers(&inv, &project.loaded, a.window_days);
    let mut cells: BTreeMap<Vec<Option<String>>, (u64, u64)> = BTreeMap::new();
    for (row, seg) in segments.iter().enumerate() {
        let e = cells.entry(seg.clone()).or_default();
        e.0 += 1;
        e.1 += answered[row] as u64;
    }
    let mut hist: BTreeMap<(String, Vec<Option<String>>), ScoreHistogram> = BTreeMap::new();
    // Attribute ratings declared as drivers are not headline metrics: left out here.
    let drivers: Vec<String> = crate::input::driver_metrics(&project.config);
    for (row, metric, score) in answers {
        if drivers.contains(&metric) {
            continue;
        }
        hist.entry((metric, segments[row].clone()))
            .or_default()
            .add(score, 1);
    }
    let rake_on = (!a.rake_on.is_empty()).then(|| {
        a.rake_on
            .iter()
            .map(|r| r.trim().to_string())
            .collect::<Vec<_>>()
    });
    if let Some(r) = &rake_on
        && let Some(bad) = r.iter().find(|r| !dims.contains(r))
    {
        return Err(Failure::input(anyhow!(
            "--rake-on {bad} is not one of the compared dimensions ({})",
            dims.join(", ")
        )));
    }
    let input = NonResponseInput {
        population: population(customers.as_ref(), &dims),
        dims,
        cells: cells
            .into_iter()
            .map(|(segment, (invited, answered))| InvitationCell {
                segment,
                invited,
                answered,
            })
            .collect(),
        answers: hist.into_iter().map(|((m, s), h)| (m, s, h)).collect(),
        catalog: &project.catalog,
    };
    let opts = NonResponseOptions {
        estimate: EstimateOptions {
            confidence,
            interval: IntervalChoice::Default,
            weighted: false,
            rating_prior: None,
        },
        alpha: a.alpha,
        rake_on,
    };
    let tables = std::iter::once(inv).chain(customers).collect();
    Ok((nonresponse(&input, &opts), unmatched, tables))
}

pub fn run(a: NonResponseArgs) -> Result<(), Failure> {
    let project = input::load(&a.input, None)?;
    let (nr, unmatched, tables) = build(&project, &a)?;
    let input = std::iter::once(InputSummary::of_responses(&project.loaded))
        .chain(tables.iter().map(InputSummary::of_entity))
        .reduce(InputSummary::and)
        .expect("responses");
    let mut buf = Vec::new();
    match a.format {
        FormatArg::Json => {
            let out = NonResponseOutput {
                nonresponse: nr,
                unmatched_answers: unmatched,
                window_days: a.window_days,
                input,
            };
            serde_json::to_writer_pretty(&mut buf, &out).map_err(Failure::runtime)?;
            buf.push(b'\n');
        }
        FormatArg::Table | FormatArg::Csv => {
            write_table(&mut buf, &nr, unmatched, a.window_days).map_err(Failure::runtime)?
        }
    }
    crate::output::emit(&buf, a.output.as_deref()).map_err(Failure::runtime)
}

fn write_table(
    w: &mut Vec<u8>,
    r: &NonResponse,
    unmatched: u64,
    window: i64,
) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(
        w,
        "Response rate {:.1}% ({} of {} invitations answered within {window} days; {:.0}% CI \
         {:.1}–{:.1}%)",
        r.response_rate,
        r.answered,
        r.invited,
        100.0 * r.confidence,
        r.ci_low,
        r.ci_high
    )?;
    for d in &r.dimensions {
        writeln!(w)?;
        writeln!(
            w,
            "{}: χ² {:.1}, df {}, q {}{}",
            d.dimension,
            d.chi2,
            d.df,
            cxray_insights::report::fmt_p(d.q_value),
            if d.significant { "  (differs)" } else { "" }
        )?;
        for s in &d.segments {
            writeln!(
                w,
                "  {:<18} {:>8} invited {:>7} answered {:>6.1}%  ({:.1}–{:.1}%)",
                crate::output::truncate(&s.segment, 18),
                s.invited,
                s.answered,
                s.response_rate,
                s.ci_low,
                s.ci_high
            )?;
        }
    }
    if let Some(wt) = &r.weighting {
        writeln!(w)?;
        writeln!(
            w,
            "Raked on {} to {} margins: weights {:.2}–{:.2} × mean, design effect {:.2}, \
             effective n {:.0}",
            wt.raked_on.join(", "),
            wt.margins_from,
            wt.min_weight,
            wt.max_weight,
            wt.design_effect,
            wt.n_effective
        )?;
        writeln!(
            w,
            "  {:<8} {:>7} {:>11} {:>11} {:>8} {:>7}",
            "metric", "n", "unweighted", "weighted", "bias", "deff"
        )?;
        for m in &wt.metrics {
            writeln!(
                w,
                "  {:<8} {:>7} {:>11.1} {:>11.1} {:>+8.1} {:>7.2}",
                m.metric, m.n, m.unweighted, m.weighted, m.bias, m.design_effect
            )?;
        }
    } else if let Some(n) = &r.weighting_note {
        writeln!(w)?;
        writeln!(w, "{n}")?;
    }
    writeln!(w)?;
    writeln!(w, "{}", r.verdict)?;
    if unmatched > 0 {
        writeln!(
            w,
            "{unmatched} answers of invited surveys match no invitation sent in the {window} \
             days before them and are not counted"
        )?;
    }
    Ok(())
}
