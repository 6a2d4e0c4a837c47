//! `cxray linkage`: do detractors churn more than promoters? NPS answers joined to lifecycle
//! spells (and revenue from customers), see `cxray_insights::linkage`.

use std::collections::HashMap;

use anyhow::anyhow;
use arrow::array::Array;
use chrono::NaiveDate;
use cxray_ingest::Loaded;
use cxray_insights::linkage::{CustomerLink, Linkage, LinkageOptions, linkage};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::LinkageArgs;
use crate::churn::Lifecycle;
use crate::input;
use crate::output::InputSummary;

/// NPS answers per customer: (day, score).
pub fn nps_answers(loaded: &Loaded) -> HashMap<String, Vec<(NaiveDate, f64)>> {
    let mut out: HashMap<String, Vec<(NaiveDate, f64)>> = HashMap::new();
    for b in &loaded.batches {
        let c = crate::input::AnswerColumns::of(b);
        for r in 0..b.num_rows() {
            if c.customer_id.is_null(r) || c.metric.value(r) != "nps" {
                continue;
            }
            out.entry(c.customer_id.value(r).to_string())
                .or_default()
                .push((c.day(r), c.score.value(r)));
        }
    }
    out
}

/// Links the loaded NPS answers to the lifecycle's spells.
pub fn link(
    lifecycle: &Lifecycle,
    loaded: &Loaded,
    opts: &LinkageOptions,
) -> Result<Linkage, Failure> {
    let t0 = std::time::Instant::now();
    let mut answers = nps_answers(loaded);
    crate::progress::timing("linkage: answers by customer", t0);
    if answers.is_empty() {
        return Err(Failure::input(anyhow!(
            "no NPS answers with a customer_id: linkage needs responses (metric nps) that name \
             the customer"
        )));
    }
    let revenue = lifecycle.revenues();
    let customers: Vec<CustomerLink> = lifecycle
        .spells_by_customer()
        .filter_map(|(id, spells)| {
            Some(CustomerLink {
                spells,
                answers: answers.remove(id)?,
                revenue: revenue.get(id).copied(),
            })
        })
        .collect();
    let Some(end) = lifecycle.last_day() else {
        return Err(Failure::input(anyhow!(
            "the lifecycle data has no usable events"
        )));
    };
    let t0 = std::time::Instant::now();
    let mut l = linkage(&customers, lifecycle.definition_words(), end, opts);
    crate::progress::timing("linkage: model", t0);
    // Answers of customers without any lifecycle history are not linked either.
    l.answers_outside_spells += answers.values().map(|v| v.len() as u64).sum::<u64>();
    Ok(l)
}

#[derive(serde::Serialize)]
struct LinkageOutput<'a> {
    linkage: &'a Linkage,
    input: InputSummary,
}

pub fn run(a: LinkageArgs) -> Result<(), Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    let project = input::load(&a.input, Some(vec![]))?;
    let lifecycle = Lifecycle::load(&a.input, &[], true)?;
    let l = link(
        &lifecycle,
        &project.loaded,
        &LinkageOptions {
            confidence,
            alpha: a.alpha,
        },
    )?;
    let input = std::iter::once(InputSummary::of_responses(&project.loaded))
        .chain(lifecycle.tables().iter().map(InputSummary::of_entity))
        .reduce(InputSummary::and)
        .expect("responses");
    let json = LinkageOutput { linkage: &l, input };
    crate::output::emit_summary(&a.out, &json, |w| write_table(w, &l))
}

fn write_table(w: &mut Vec<u8>, l: &Linkage) -> std::io::Result<()> {
    use std::io::Write;
    let pct = 100.0 * l.confidence;
    writeln!(w, "NPS and churn ({} customers linked)", l.customers)?;
    writeln!(w, "churn: {}", l.definition)?;
    writeln!(w, "design: {}", l.design)?;
    writeln!(w)?;
    writeln!(
        w,
        "{:<10} {:>9} {:>8} {:>10} {:>10} {:>17}",
        "category",
        "customers",
        "churned",
        "cust-mo",
        "churn/mo",
        format!("{pct:.0}% CI")
    )?;
    for c in &l.categories {
        writeln!(
            w,
            "{:<10} {:>9} {:>8} {:>10.0} {:>9.2}% {:>17}",
            c.category,
            c.customers,
            c.churned,
            c.customer_months,
            c.monthly_churn_pct,
            format!("{:.2}–{:.2}%", c.ci_low, c.ci_high)
        )?;
    }
    writeln!(w)?;
    for h in &l.hazard_ratios {
        writeln!(
            w,
            "hazard ratio {} vs {}: {:.2} ({pct:.0}% CI {:.2}–{:.2}, p {})",
            h.category,
            h.reference,
            h.hazard_ratio,
            h.ci_low,
            h.ci_high,
            cxray_insights::report::fmt_p(h.p_value)
        )?;
    }
    if let Some(n) = &l.model_note {
        writeln!(w, "{n}")?;
    }
    if let Some(r) = &l.revenue {
        writeln!(w)?;
        for g in &r.by_category {
            writeln!(
                w,
                "revenue {:<10} n={:<7} mean {:.2}",
                g.category, g.customers, g.mean
            )?;
        }
        writeln!(
            w,
            "promoter − detractor: {:.2} ({pct:.0}% CI {:.2}–{:.2}, p {})",
            r.difference,
            r.ci_low,
            r.ci_high,
            cxray_insights::report::fmt_p(r.p_value)
        )?;
        if let Some(v) = r.per_nps_point {
            writeln!(w, "one NPS point is associated with {v:.0} in revenue")?;
        }
    }
    writeln!(w)?;
    writeln!(w, "{}", l.verdict)?;
    if l.answers_outside_spells > 0 {
        writeln!(
            w,
            "{} NPS answers fall outside any customer spell (before a start, while churned or \
             without lifecycle history) and are not linked",
            l.answers_outside_spells
        )?;
    }
    Ok(())
}
