//! Explain-the-change: why a metric moved between two periods, split into segment mix and
//! within-segment rates, and the themes behind it (see `cxray_insights::explain`).

use crate::enrich::TEXT_COLUMNS;
use chrono::NaiveDate;
use cxray_engine::HistogramQuery;
use cxray_insights::explain::{
    ChangeExplanation, ExplainInput, ExplainOptions, drill_down, explain, focus_segment,
};
use cxray_metrics::EstimateOptions;
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_stats::Confidence;
use serde::Serialize;

use crate::answers::dimensions;
use crate::error::{Error, Result};
use crate::project::{Enrich, InputSummary, Project};

/// One period, as a label such as 2025-03 (month), 2025-Q1, 2025-W09, 2025 or 2025-03-14.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodLabel {
    pub period: Period,
    /// The first day of the period.
    pub start: NaiveDate,
}

impl PeriodLabel {
    /// Reads a label; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Self> {
        Period::parse_label(s).map(|(period, start)| PeriodLabel { period, start })
    }

    /// The label again.
    pub fn label(&self) -> String {
        self.period.label(self.start)
    }
}

impl std::str::FromStr for PeriodLabel {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        PeriodLabel::parse(s).ok_or_else(|| {
            format!(
                "expects a period such as 2025-03 (month), 2025-Q1, 2025-W09, 2025 or \
                 2025-03-14, got {s:?}"
            )
        })
    }
}

/// What `explain` computes.
#[derive(Debug, Clone)]
pub struct ExplainRequest {
    /// The metric whose change is explained.
    pub metric: String,
    /// The earlier period (default: the period with data before `to`).
    pub from: Option<PeriodLabel>,
    /// The later period (default: the latest complete period with data).
    pub to: Option<PeriodLabel>,
    /// The kind of period of the defaults when neither `from` nor `to` is given.
    pub period: Period,
    /// Dimensions to split the change across (default: every attribute column with 2 to 12
    /// distinct values).
    pub by: Vec<String>,
    /// Whether comment themes take part (runs the text analysis).
    pub themes: bool,
    pub confidence: Confidence,
    /// False discovery rate of the segment and theme tests.
    pub alpha: f64,
    /// Segments with fewer answers in either period are not tested.
    pub min_n: Option<u64>,
}

impl Default for ExplainRequest {
    fn default() -> Self {
        ExplainRequest {
            metric: "nps".into(),
            from: None,
            to: None,
            period: Period::Month,
            by: vec![],
            themes: true,
            confidence: Confidence::new(0.95).expect("0.95 is a confidence level"),
            alpha: 0.05,
            min_n: None,
        }
    }
}

/// The explanation of a change, with the input behind it.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainOutput {
    pub explanation: ChangeExplanation,
    pub input: InputSummary,
}

/// Answers per period start of a metric, in time order.
pub(crate) fn period_sizes(groups: &[GroupHistogram], metric: &str) -> Vec<(NaiveDate, u64)> {
    let mut starts: Vec<(NaiveDate, u64)> = Vec::new();
    for g in groups.iter().filter(|g| g.key.metric == metric) {
        let Some(s) = g.key.period_start else {
            continue;
        };
        match starts.iter_mut().find(|x| x.0 == s) {
            Some(x) => x.1 += g.histogram.n(),
            None => starts.push((s, g.histogram.n())),
        }
    }
    starts.sort();
    starts
}

/// The latest complete period and the one before: a latest period still in progress is left
/// out by the report's rule (`cxray_insights::report::last_is_partial`).
pub(crate) fn latest_two(starts: &[(NaiveDate, u64)]) -> Option<(NaiveDate, NaiveDate)> {
    let sizes: Vec<u64> = starts.iter().map(|s| s.1).collect();
    let n = starts.len() - cxray_insights::report::last_is_partial(&sizes) as usize;
    (n >= 2).then(|| (starts[n - 2].0, starts[n - 1].0))
}

/// The two periods: as asked, or the latest complete period and the one before.
fn periods(
    req: &ExplainRequest,
    by_period: &[GroupHistogram],
    metric: &str,
) -> Result<(Period, NaiveDate, NaiveDate)> {
    match (req.from, req.to) {
        (Some(f), Some(t)) => {
            if f.period != t.period {
                return Err(Error::usage(format!(
                    "{} and {} are different kinds of period",
                    f.label(),
                    t.label()
                ))
                .about("from"));
            }
            if f.start >= t.start {
                return Err(Error::usage(format!(
                    "the earlier period {} must be before the later {}",
                    f.label(),
                    t.label()
                ))
                .about("from"));
            }
            Ok((f.period, f.start, t.start))
        }
        (from, to) => {
            let p = from.or(to).map_or(req.period, |x| x.period);
            let starts = period_sizes(by_period, metric);
            if let Some(f) = from {
                let next = starts.iter().find(|s| s.0 > f.start).ok_or_else(|| {
                    Error::not_found(format!("no {metric} answers after {}", f.label()))
                        .about("from")
                })?;
                return Ok((p, f.start, next.0));
            }
            if let Some(t) = to {
                let prev = starts.iter().rev().find(|s| s.0 < t.start).ok_or_else(|| {
                    Error::not_found(format!("no {metric} answers before {}", t.label()))
                        .about("to")
                })?;
                return Ok((p, prev.0, t.start));
            }
            let (prev, last) = latest_two(&starts).ok_or_else(|| {
                Error::not_found(format!(
                    "explain needs {metric} answers in at least two {}s",
                    p.unit()
                ))
            })?;
            Ok((p, prev, last))
        }
    }
}

impl Project {
    /// Why `metric` changed between two periods: segments (mix and rate) and themes.
    pub fn explain(&self, req: &ExplainRequest) -> Result<ExplainOutput> {
        check_alpha(req.alpha)?;
        let responses = self.responses_with(Enrich {
            text: req.themes,
            touchpoints: false,
        })?;
        let spec = self
            .catalog()
            .get(&req.metric)
            .map_err(|e| Error::usage(e).about("metric"))?;
        let dims = dimensions(&responses, &req.by, false);
        let engine = crate::engine::with_responses(self, &responses.loaded)?;
        let run = |p: Period, by: Vec<String>, since, until| {
            crate::engine::run(
                self,
                "computing the explanation",
                engine.score_histograms(&HistogramQuery {
                    metrics: vec![spec.name.clone()],
                    by,
                    period: Some(p),
                    since,
                    until,
                }),
            )
        };
        // The period kind `periods` settles on: that of `from` (or `to`), else `period`. The
        // overall histograms by that period find the default periods and are the
        // explanation's overall input too (it takes the two periods it needs from them).
        let kind = req.from.or(req.to).map_or(req.period, |x| x.period);
        let overall = run(kind, vec![], None, None)?;
        let (p, before, after) = periods(req, &overall, &spec.name)?;
        debug_assert_eq!(p, kind);
        let (since, until) = (
            Some(before),
            Some(p.next(after) - chrono::Duration::days(1)),
        );
        let mut per_dim = Vec::new();
        for d in &dims {
            per_dim.push((d.clone(), run(p, vec![d.clone()], since, until)?));
        }
        // Themes take part only when asked for (the comments may have been analysed for
        // another analysis of the same project).
        let with_themes = req.themes && responses.text.is_some();
        let themes = match with_themes {
            true => Some(run(p, vec![TEXT_COLUMNS[3].to_string()], since, until)?),
            false => None,
        };
        let input = ExplainInput {
            spec,
            period: p,
            before: vec![before],
            after: vec![after],
            overall: &overall,
            by_dimension: per_dim
                .iter()
                .map(|(d, g)| (d.clone(), g.as_slice()))
                .collect(),
            themes: themes.as_deref(),
        };
        let opts = ExplainOptions {
            estimate: EstimateOptions {
                confidence: req.confidence,
                weighted: self.weighted(),
                ..Default::default()
            },
            alpha: req.alpha,
            min_n: self.min_n(req.min_n),
        };
        let mut e = explain(&input, &opts).ok_or_else(|| {
            Error::not_found(format!(
                "no {} answers in {} or {}",
                spec.name,
                p.label(before),
                p.label(after)
            ))
        })?;
        // The themes behind the segment the change is most concentrated in.
        if with_themes && let Some((dim, _)) = focus_segment(&e) {
            let groups = run(p, vec![dim, TEXT_COLUMNS[3].to_string()], since, until)?;
            drill_down(&mut e, spec, &groups, &opts);
        }
        Ok(ExplainOutput {
            explanation: e,
            input: InputSummary::of_responses(&responses.loaded),
        })
    }
}

/// A false discovery rate or significance level must be in (0, 1).
pub(crate) fn check_alpha(alpha: f64) -> Result<()> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "the significance level must be in (0, 1), got {alpha}"
        ))
        .about("alpha"))
    }
}
