//! `cxray explain`: why a metric changed between two periods (see
//! `cxray_insights::explain`).

use anyhow::anyhow;
use chrono::NaiveDate;
use cxray_engine::HistogramQuery;
use cxray_insights::explain::{
    ChangeExplanation, ExplainInput, ExplainOptions, drill_down, explain, focus_segment,
};
use cxray_metrics::EstimateOptions;
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::ExplainArgs;
use crate::input::{self, Project};
use crate::metrics::{period, runtime};
use crate::output::InputSummary;

fn label(s: &str, flag: &str) -> Result<(Period, NaiveDate), Failure> {
    Period::parse_label(s).ok_or_else(|| {
        Failure::input(anyhow!(
            "{flag} expects a period such as 2025-03 (month), 2025-Q1, 2025-W09, 2025 or \
             2025-03-14, got {s:?}"
        ))
    })
}

/// Answers per period start of a metric, in time order.
pub fn period_sizes(groups: &[GroupHistogram], metric: &str) -> Vec<(NaiveDate, u64)> {
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
pub fn latest_two(starts: &[(NaiveDate, u64)]) -> Option<(NaiveDate, NaiveDate)> {
    let sizes: Vec<u64> = starts.iter().map(|s| s.1).collect();
    let n = starts.len() - cxray_insights::report::last_is_partial(&sizes) as usize;
    (n >= 2).then(|| (starts[n - 2].0, starts[n - 1].0))
}

/// The two periods: from the flags, or the latest complete period and the one before.
fn periods(
    a: &ExplainArgs,
    by_period: &[GroupHistogram],
    metric: &str,
) -> Result<(Period, NaiveDate, NaiveDate), Failure> {
    match (a.from.as_deref(), a.to.as_deref()) {
        (Some(f), Some(t)) => {
            let (pf, df) = label(f, "--from")?;
            let (pt, dt) = label(t, "--to")?;
            if pf != pt {
                return Err(Failure::input(anyhow!(
                    "--from {f} and --to {t} are different kinds of period"
                )));
            }
            if df >= dt {
                return Err(Failure::input(anyhow!(
                    "--from {f} must be before --to {t}"
                )));
            }
            Ok((pf, df, dt))
        }
        (from, to) => {
            let p = from
                .or(to)
                .map(|s| label(s, if from.is_some() { "--from" } else { "--to" }).map(|x| x.0))
                .transpose()?
                .unwrap_or(period(Some(a.period)).expect("a period"));
            let starts = period_sizes(by_period, metric);
            if let Some(f) = from {
                let d = label(f, "--from")?.1;
                let next = starts.iter().find(|s| s.0 > d).ok_or_else(|| {
                    Failure::input(anyhow!("no {metric} answers after --from {f}"))
                })?;
                return Ok((p, d, next.0));
            }
            if let Some(t) = to {
                let d = label(t, "--to")?.1;
                let prev = starts.iter().rev().find(|s| s.0 < d).ok_or_else(|| {
                    Failure::input(anyhow!("no {metric} answers before --to {t}"))
                })?;
                return Ok((p, prev.0, d));
            }
            let (prev, last) = latest_two(&starts).ok_or_else(|| {
                Failure::input(anyhow!(
                    "explain needs {metric} answers in at least two {}s",
                    p.unit()
                ))
            })?;
            Ok((p, prev, last))
        }
    }
}

/// Explains the change of `metric` in a loaded project (text enriched when themes are wanted).
pub fn build(project: &Project, a: &ExplainArgs) -> Result<ChangeExplanation, Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(Failure::input(anyhow!(
            "--alpha must be in (0, 1), got {}",
            a.alpha
        )));
    }
    let spec = project.catalog.get(&a.metric).map_err(Failure::input)?;
    let dims = crate::report::dimensions(project, &a.by);
    let engine = crate::report::responses_engine(project)?;
    let rt = runtime()?;
    let engine_err = crate::report::engine_err;
    let run = |p: Period, by: Vec<String>, since, until| {
        rt.block_on(engine.score_histograms(&HistogramQuery {
            metrics: vec![spec.name.clone()],
            by,
            period: Some(p),
            since,
            until,
        }))
        .map_err(engine_err)
    };
    // The period kind `periods` settles on: that of --from (or --to), else --period. The
    // overall histograms by that period find the default periods and are the explanation's
    // overall input too (it takes the two periods it needs from them).
    let kind = a
        .from
        .as_deref()
        .or(a.to.as_deref())
        .and_then(Period::parse_label)
        .map_or(period(Some(a.period)).expect("a period"), |x| x.0);
    let overall = run(kind, vec![], None, None)?;
    let (p, before, after) = periods(a, &overall, &spec.name)?;
    debug_assert_eq!(p, kind);
    let (since, until) = (
        Some(before),
        Some(p.next(after) - chrono::Duration::days(1)),
    );
    let mut per_dim = Vec::new();
    for d in &dims {
        per_dim.push((d.clone(), run(p, vec![d.clone()], since, until)?));
    }
    let themes = match &project.text {
        Some(_) => Some(run(
            p,
            vec![cxray_ingest::enrich::TEXT_COLUMNS[3].to_string()],
            since,
            until,
        )?),
        None => None,
    };
    let min_n = a.min_n.unwrap_or(project.config.project.min_n);
    let weighted = project.weighted();
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
            confidence,
            weighted,
            ..Default::default()
        },
        alpha: a.alpha,
        min_n,
    };
    let mut e = explain(&input, &opts).ok_or_else(|| {
        Failure::input(anyhow!(
            "no {} answers in {} or {}",
            spec.name,
            p.label(before),
            p.label(after)
        ))
    })?;
    // The themes behind the segment the change is most concentrated in.
    if project.text.is_some()
        && let Some((dim, _)) = focus_segment(&e)
    {
        let groups = run(
            p,
            vec![dim, cxray_ingest::enrich::TEXT_COLUMNS[3].to_string()],
            since,
            until,
        )?;
        drill_down(&mut e, spec, &groups, &opts);
    }
    Ok(e)
}

#[derive(serde::Serialize)]
struct ExplainOutput<'a> {
    explanation: &'a ChangeExplanation,
    input: InputSummary,
}

pub fn run(a: ExplainArgs) -> Result<(), Failure> {
    let mut project = input::load(&a.input, None)?;
    if !a.no_themes {
        project.enrich_text();
    }
    let t0 = std::time::Instant::now();
    let e = build(&project, &a)?;
    crate::progress::timing("explain", t0);
    let json = ExplainOutput {
        explanation: &e,
        input: InputSummary::of_responses(&project.loaded),
    };
    crate::output::emit_summary(&a.out, &json, |w| write_table(w, &e))
}

fn write_table(w: &mut Vec<u8>, e: &ChangeExplanation) -> std::io::Result<()> {
    use std::io::Write;
    writeln!(w, "{}", e.summary)?;
    if !e.explanations.is_empty() {
        writeln!(w)?;
        writeln!(w, "What explains it (significant, largest first):")?;
        for x in &e.explanations {
            writeln!(w, "  - {}", x.text)?;
        }
    }
    for d in &e.dimensions {
        writeln!(w)?;
        writeln!(w, "{}: mix {:+.1}, rate {:+.1}", d.dimension, d.mix, d.rate)?;
        writeln!(
            w,
            "  {:<18} {:>6} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>8}",
            "segment", "n0", "n1", "before", "after", "mix", "rate", "total", "q"
        )?;
        for s in d.segments.iter().take(8) {
            let v = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.1}"));
            writeln!(
                w,
                "  {:<18} {:>6} {:>6} {:>8} {:>8} {:>+7.1} {:>+7.1} {:>+7.1} {:>8}",
                crate::output::truncate(&s.segment, 18),
                s.n_before,
                s.n_after,
                v(s.value_before),
                v(s.value_after),
                s.mix,
                s.rate,
                s.total,
                s.q_value
                    .map_or("—".to_string(), cxray_insights::report::fmt_p)
            )?;
        }
    }
    if let Some(f) = &e.focus {
        writeln!(w)?;
        writeln!(
            w,
            "themes within {} {} (its change {:+.1}):",
            f.dimension, f.segment, f.change
        )?;
        theme_rows(w, &f.themes, 8)?;
    }
    if !e.themes.is_empty() {
        writeln!(w)?;
        writeln!(w, "themes (contribution to the change):")?;
        theme_rows(w, &e.themes, 10)?;
    }
    Ok(())
}

fn theme_rows(
    w: &mut Vec<u8>,
    themes: &[cxray_insights::explain::ThemePart],
    k: usize,
) -> std::io::Result<()> {
    use std::io::Write;
    for t in themes.iter().take(k) {
        writeln!(
            w,
            "  {:<28} {:>6} {:>6} {:>+7.1} {:>8}",
            crate::output::truncate(&t.theme, 28),
            t.n_before,
            t.n_after,
            t.change,
            t.q_value
                .map_or("—".to_string(), cxray_insights::report::fmt_p)
        )?;
    }
    Ok(())
}
