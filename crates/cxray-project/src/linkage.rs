//! CX linked to churn and revenue: NPS answers joined to customers' lifecycle spells (and
//! revenue from the customers table), see `cxray_insights::linkage`.

use std::collections::HashMap;

use arrow::array::Array;
use chrono::NaiveDate;
use cxray_ingest::Loaded;
use cxray_insights::linkage::{CustomerLink, Linkage, LinkageOptions, linkage};
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::AnswerColumns;
use crate::error::{Error, Result};
use crate::lifecycle::Lifecycle;
use crate::observe::phase;
use crate::project::{InputSummary, Project};

/// What `linkage` computes.
#[derive(Debug, Clone, Copy)]
pub struct LinkageRequest {
    pub confidence: Confidence,
    /// Significance level of the verdict.
    pub alpha: f64,
}

impl Default for LinkageRequest {
    fn default() -> Self {
        LinkageRequest {
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            alpha: 0.05,
        }
    }
}

/// NPS linked to churn, with the input behind it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkageOutput {
    pub linkage: Linkage,
    pub input: InputSummary,
}

/// NPS answers per customer: (day, score).
fn nps_answers(loaded: &Loaded) -> HashMap<String, Vec<(NaiveDate, f64)>> {
    let mut out: HashMap<String, Vec<(NaiveDate, f64)>> = HashMap::new();
    for b in &loaded.batches {
        let c = AnswerColumns::of(b);
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

/// Links the NPS answers to the lifecycle's spells.
pub(crate) fn link(
    project: &Project,
    lifecycle: &Lifecycle,
    loaded: &Loaded,
    opts: &LinkageOptions,
) -> Result<Linkage> {
    let mut answers = phase(project.observer(), "linkage: answers by customer", || {
        nps_answers(loaded)
    });
    if answers.is_empty() {
        return Err(Error::bad_input(
            "no NPS answers with a customer_id: linkage needs responses (metric nps) that name \
             the customer",
        ));
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
        return Err(Error::bad_input("the lifecycle data has no usable events"));
    };
    let mut l = phase(project.observer(), "linkage: model", || {
        linkage(&customers, lifecycle.definition_words(), end, opts)
    });
    // Answers of customers without any lifecycle history are not linked either.
    l.answers_outside_spells += answers.values().map(|v| v.len() as u64).sum::<u64>();
    Ok(l)
}

impl Project {
    /// Do detractors churn more than promoters? Churn rate and hazard ratio by NPS category,
    /// and revenue by category when customers have it.
    pub fn linkage(&self, req: &LinkageRequest) -> Result<LinkageOutput> {
        crate::explain::check_alpha(req.alpha)?;
        let responses = self.responses()?;
        let lifecycle = Lifecycle::load(self, &[], true)?;
        let l = link(
            self,
            &lifecycle,
            &responses.loaded,
            &LinkageOptions {
                confidence: req.confidence,
                alpha: req.alpha,
            },
        )?;
        let input = std::iter::once(InputSummary::of_responses(&responses.loaded))
            .chain(
                lifecycle
                    .tables()
                    .iter()
                    .map(|t| InputSummary::of_entity(t)),
            )
            .reduce(InputSummary::and)
            .expect("responses");
        Ok(LinkageOutput { linkage: l, input })
    }
}
