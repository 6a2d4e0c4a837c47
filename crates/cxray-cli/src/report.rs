//! `cxray report`: the CX scorecard as a story, as text, JSON, Markdown or HTML.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, anyhow};
use arrow::array::{Array, AsArray};
use cxray_engine::{Engine, HistogramQuery};
use cxray_ingest::{EntityTable, Loaded};
use cxray_insights::operations::{OperationsOptions, build_operations};
use cxray_insights::{
    ReportInput, ReportOptions, TableOptions, ThemeInput, ThemeOptions, ThemesSection,
    build_report, build_themes,
};
use cxray_metrics::EstimateOptions;
use cxray_metrics::period::GroupHistogram;
use cxray_report::{DataQuality, MissingSegment, ReportDocument, SourceQuality};
use cxray_stats::Confidence;

use crate::Failure;
use crate::args::{ReportArgs, ReportFormat};
use crate::input::{self, Project};
use crate::metrics::{parse_date, period, runtime};
use crate::progress::spinner;

/// Attribute columns with 2 to 12 distinct values: the dimensions worth a breakdown.
pub fn default_dimensions(loaded: &Loaded) -> Vec<String> {
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

fn data_quality(loaded: &Loaded, dims: &[String], tables: &[EntityTable]) -> DataQuality {
    let sources = loaded
        .sources
        .iter()
        .chain(tables.iter().flat_map(|t| &t.sources))
        .map(|s| SourceQuality {
            file: s.file.clone(),
            rows_read: s.counts.read,
            rows_accepted: s.counts.accepted,
            rows_rejected: s.counts.rejected,
            duplicates: s.duplicates,
            first_date: s.first_date.clone(),
            last_date: s.last_date.clone(),
            notes: s.notes.clone(),
        })
        .collect();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for r in loaded
        .rejects
        .iter()
        .chain(tables.iter().flat_map(|t| &t.rejects))
    {
        // Group reasons that differ only in the offending value.
        let generic: String = r
            .reason
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        *reasons
            .entry(format!("{}: {generic}", r.column))
            .or_default() += r.answers;
    }
    let mut reject_reasons: Vec<(String, u64)> = reasons.into_iter().collect();
    reject_reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    reject_reasons.truncate(10);
    let total: u64 = loaded.batches.iter().map(|b| b.num_rows() as u64).sum();
    let missing_segments = dims
        .iter()
        .filter_map(|d| {
            let idx = loaded.schema.index_of(d).ok()?;
            let missing = loaded
                .batches
                .iter()
                .map(|b| b.column(idx).null_count() as u64)
                .sum();
            Some(MissingSegment {
                dimension: d.clone(),
                missing,
                total,
            })
        })
        .filter(|m| m.missing > 0)
        .collect();
    DataQuality {
        sources,
        reject_reasons,
        missing_segments,
    }
}

/// The `--by` columns, or by default every attribute with 2 to 12 distinct values and the
/// journey touchpoint the answers follow (when they were joined to the journey).
pub fn dimensions(project: &Project, by: &[String]) -> Vec<String> {
    if by.is_empty() {
        let mut dims = default_dimensions(&project.loaded);
        let tp = cxray_ingest::touchpoints::TOUCHPOINT_COLUMN;
        if project.touchpoints.is_some() && !dims.iter().any(|d| d == tp) {
            dims.push(tp.to_string());
        }
        dims
    } else {
        by.iter()
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .collect()
    }
}

/// An engine with the project's responses registered.
pub fn responses_engine(project: &Project) -> Result<Engine, Failure> {
    let engine = Engine::new(std::thread::available_parallelism().map_or(1, |n| n.get()));
    engine
        .register_responses(
            project.loaded.schema.clone(),
            project.loaded.batches.clone(),
        )
        .map_err(Failure::runtime)?;
    Ok(engine)
}

/// Unknown columns are usage errors, anything else a runtime failure.
pub fn engine_err(e: cxray_engine::EngineError) -> Failure {
    match e {
        cxray_engine::EngineError::UnknownColumn { .. } => Failure::input(e),
        other => Failure::runtime(other),
    }
}

/// Computes the report document for a loaded project.
pub fn build(project: &Project, a: &ReportArgs) -> Result<ReportDocument, Failure> {
    let confidence = Confidence::new(a.confidence).map_err(Failure::input)?;
    if !(a.alpha > 0.0 && a.alpha < 1.0) {
        return Err(Failure::input(anyhow!(
            "--alpha must be in (0, 1), got {}",
            a.alpha
        )));
    }
    let since = a
        .since
        .as_deref()
        .map(|s| parse_date(s, "--since"))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| parse_date(s, "--until"))
        .transpose()?;
    let p = period(Some(a.period)).expect("a period");
    let dims = dimensions(project, &a.by);
    let engine = responses_engine(project)?;
    let rt = runtime()?;
    let pb = spinner("computing the report");
    let q = |by: Vec<String>| HistogramQuery {
        metrics: vec![],
        by,
        period: Some(p),
        since,
        until,
    };
    // Attribute ratings declared as drivers are analysed in the drivers section, not as
    // scorecard metrics.
    let drivers: Vec<String> = crate::input::driver_metrics(&project.config);
    let kpi = |mut g: Vec<GroupHistogram>| {
        g.retain(|x| !drivers.contains(&x.key.metric));
        g
    };
    let overall = kpi(rt
        .block_on(engine.score_histograms(&q(vec![])))
        .map_err(engine_err)?);
    let mut per_dim = Vec::new();
    for d in &dims {
        per_dim.push((
            d.clone(),
            kpi(rt
                .block_on(engine.score_histograms(&q(vec![d.clone()])))
                .map_err(engine_err)?),
        ));
    }
    pb.finish_and_clear();
    let weighted = project.weighted();
    let min_n = a.min_n.unwrap_or(project.config.project.min_n);
    let opts = ReportOptions {
        table: TableOptions {
            estimate: EstimateOptions {
                confidence,
                weighted,
                ..Default::default()
            },
            period: Some(p),
            min_n,
        },
        period: p,
        alpha: a.alpha,
        segment_window: 3,
        order: ["nps", "csat", "ces", "stars", "task"]
            .map(String::from)
            .to_vec(),
    };
    let input = ReportInput {
        overall: &overall,
        by_dimension: per_dim
            .iter()
            .map(|(d, g)| (d.clone(), g.as_slice()))
            .collect(),
    };
    let t_build = std::time::Instant::now();
    let mut report = build_report(&input, &project.catalog, &opts);
    crate::progress::timing("report statistics", t_build);
    // Histograms by comment theme (overall and with each dimension), kept for the Why section.
    let mut theme_groups: Option<ThemeGroups> = None;
    if let Some(text) = &project.text {
        let pb = spinner("summarising comment themes");
        let t_themes = std::time::Instant::now();
        let themes_col = cxray_ingest::enrich::TEXT_COLUMNS[3].to_string();
        let t_overall = kpi(rt
            .block_on(engine.score_histograms(&q(vec![themes_col.clone()])))
            .map_err(engine_err)?);
        let mut t_dims = Vec::new();
        for d in &dims {
            t_dims.push((
                d.clone(),
                kpi(rt
                    .block_on(engine.score_histograms(&q(vec![d.clone(), themes_col.clone()])))
                    .map_err(engine_err)?),
            ));
        }
        let tin = ThemeInput {
            overall: &t_overall,
            by_dimension: t_dims
                .iter()
                .map(|(d, g)| (d.clone(), g.as_slice()))
                .collect(),
            themes: text.themes.clone(),
            discovered: text.discovered.iter().map(|d| d.label.clone()).collect(),
        };
        let topts = ThemeOptions {
            period: p,
            window: opts.segment_window,
            alpha: a.alpha,
            confidence,
            estimate: opts.table.estimate,
            min_n,
            exclude_period: report.partial_period.clone(),
        };
        if let Some(mut section) = build_themes(&tin, &project.catalog, &topts) {
            fill_examples(&mut section, &project.loaded, 3);
            report.attach_themes(section);
        }
        crate::progress::timing("themes", t_themes);
        pb.finish_and_clear();
        theme_groups = Some((t_overall, t_dims));
    }
    // What happened to customers: every operational entity the project has.
    let req = crate::operational::Request {
        input: &a.input,
        by: &[],
        opts: opts.table,
        since,
        until,
    };
    let parts = crate::operational::report_input(&req, project, &dims, a.alpha)?;
    let (ops, tables) = (parts.operations, parts.tables);
    if !ops.rows.is_empty() || ops.retention.is_some() {
        let current = report
            .trends
            .iter()
            .filter_map(|t| t.points.last().and_then(|p| p.row.period_start))
            .max();
        let section = build_operations(
            &ops,
            &OperationsOptions {
                period: p,
                current,
                alpha: a.alpha,
                confidence,
                window: opts.segment_window,
            },
        );
        report.attach_operations(section);
    }
    // Why: explain the headline change, key drivers, churn linkage, non-response bias.
    let t_insights = std::time::Instant::now();
    let mut insights = cxray_insights::report::InsightsSection {
        linkage: parts.linkage,
        ..Default::default()
    };
    // The headline metric: the first of the display order that has answers.
    let headline = opts
        .order
        .iter()
        .find(|m| overall.iter().any(|g| &g.key.metric == *m));
    if let Some(base) = headline
        && let Some(current) = report
            .current_period
            .as_deref()
            .and_then(cxray_metrics::period::Period::parse_label)
            .map(|x| x.1)
    {
        let starts: Vec<chrono::NaiveDate> = crate::explain::period_sizes(&overall, base)
            .into_iter()
            .map(|x| x.0)
            .filter(|s| *s <= current)
            .collect();
        let w = opts.segment_window.max(1);
        if starts.len() >= 2 * w {
            let after = starts[starts.len() - w..].to_vec();
            let before = starts[starts.len() - 2 * w..starts.len() - w].to_vec();
            insights.change = explain_window(
                project,
                base,
                p,
                [before, after],
                &overall,
                &per_dim,
                theme_groups.as_ref(),
                a,
            )?;
        }
    }
    if !drivers.is_empty()
        && let Some(outcome) = headline
    {
        insights.drivers =
            crate::drivers::analyse(project, outcome, drivers, vec![], 200, confidence).ok();
    }
    if input::has_source(&project.config, cxray_ingest::Entity::Invitations) {
        let nargs = crate::args::NonResponseArgs {
            input: a.input.clone(),
            by: vec![],
            rake_on: vec![],
            window_days: 30,
            confidence: a.confidence,
            alpha: a.alpha,
            out: crate::args::SummaryOut {
                format: crate::args::FormatArg::Json,
                output: None,
            },
        };
        let t0 = std::time::Instant::now();
        insights.nonresponse = crate::nonresponse::build(project, &nargs).ok().map(|x| x.0);
        crate::progress::timing("non-response", t0);
    }
    report.attach_insights(insights);
    crate::progress::timing("insights", t_insights);
    let title = a
        .title
        .clone()
        .or_else(|| project.config.project.name.clone())
        .map(|n| format!("{n}: customer experience report"))
        .unwrap_or_else(|| "Customer experience report".into());
    Ok(ReportDocument {
        title,
        report,
        data_quality: data_quality(&project.loaded, &dims, &tables),
    })
}

/// Histograms by theme combination: overall, and with each dimension.
type ThemeGroups = (Vec<GroupHistogram>, Vec<(String, Vec<GroupHistogram>)>);

/// Explains the change of `metric` from the `before` window to the `after` window across the
/// report's dimensions and themes, from the histograms the report already computed.
#[allow(clippy::too_many_arguments)]
fn explain_window(
    project: &Project,
    metric: &str,
    p: cxray_metrics::period::Period,
    [before, after]: [Vec<chrono::NaiveDate>; 2],
    overall: &[GroupHistogram],
    per_dim: &[(String, Vec<GroupHistogram>)],
    themes: Option<&ThemeGroups>,
    a: &ReportArgs,
) -> Result<Option<cxray_insights::explain::ChangeExplanation>, Failure> {
    use cxray_insights::explain::{
        ExplainInput, ExplainOptions, drill_down, explain, focus_segment,
    };
    let Some(spec) = project.catalog.get(metric).ok() else {
        return Ok(None);
    };
    let opts = ExplainOptions {
        estimate: EstimateOptions {
            confidence: Confidence::new(a.confidence).map_err(Failure::input)?,
            ..Default::default()
        },
        alpha: a.alpha,
        min_n: a.min_n.unwrap_or(project.config.project.min_n),
    };
    let input = ExplainInput {
        spec,
        period: p,
        before,
        after,
        overall,
        by_dimension: per_dim
            .iter()
            .map(|(d, g)| (d.clone(), g.as_slice()))
            .collect(),
        themes: themes.map(|t| t.0.as_slice()),
    };
    let Some(mut e) = explain(&input, &opts) else {
        return Ok(None);
    };
    if let Some((_, by_dim)) = themes
        && let Some((dim, _)) = focus_segment(&e)
        && let Some((_, groups)) = by_dim.iter().find(|(d, _)| *d == dim)
    {
        drill_down(&mut e, spec, groups, &opts);
    }
    Ok(Some(e))
}

/// Quotes up to `k` distinct comments per theme from the section's window, in the base metric:
/// from the segment where the theme is emerging when it is, comments about that theme alone
/// before comments that mix themes, and then for a theme that pulls a metric down the most
/// negative comments, otherwise the most clearly worded ones (largest |sentiment|).
fn fill_examples(section: &mut ThemesSection, loaded: &Loaded, k: usize) {
    use arrow::datatypes::{DataType, Date32Type, Float64Type};
    let Ok(start) = chrono::NaiveDate::parse_from_str(&section.window_start, "%Y-%m-%d") else {
        return;
    };
    let start_days =
        (start - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32;
    let negative: Vec<bool> = section
        .themes
        .iter()
        .map(|t| {
            section
                .impacts
                .iter()
                .find(|i| i.theme == t.theme)
                .is_some_and(|i| i.impact < 0.0)
        })
        .collect();
    let focus: Vec<Option<(String, String)>> = section
        .themes
        .iter()
        .map(|t| {
            section
                .emerging
                .iter()
                .find(|e| e.theme == t.theme && e.segment.is_some())
                .map(|e| {
                    (
                        e.dimension.clone().unwrap_or_default(),
                        e.segment.clone().unwrap_or_default(),
                    )
                })
        })
        .collect();
    // Per theme: (in focus segment, only this theme, sentiment key, text), best kept.
    type Candidate = (bool, bool, f64, String);
    let better =
        |a: &Candidate, b: &Candidate| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.total_cmp(&a.2));
    let mut cands: Vec<Vec<Candidate>> = vec![Vec::new(); section.themes.len()];
    for b in &loaded.batches {
        let col = |name: &str| {
            b.column_by_name(name)
                .and_then(|c| arrow::compute::cast(c, &DataType::Utf8).ok())
        };
        let (Some(comments), Some(themes), Some(metric)) =
            (col("comment"), col("comment_themes"), col("metric"))
        else {
            continue;
        };
        let (comments, themes, metric) = (
            comments.as_string::<i32>(),
            themes.as_string::<i32>(),
            metric.as_string::<i32>(),
        );
        let Some(sent) = b
            .column_by_name("comment_sentiment")
            .and_then(|c| c.as_primitive_opt::<Float64Type>())
        else {
            continue;
        };
        let Some(days) = b
            .column_by_name("local_date")
            .and_then(|c| c.as_primitive_opt::<Date32Type>())
        else {
            continue;
        };
        let dims: Vec<Option<arrow::array::ArrayRef>> = focus
            .iter()
            .map(|f| f.as_ref().and_then(|(d, _)| col(d)))
            .collect();
        for r in 0..b.num_rows() {
            if themes.is_null(r)
                || days.value(r) < start_days
                || metric.value(r) != section.base_metric
            {
                continue;
            }
            let combo = themes.value(r);
            let alone = !combo.contains(cxray_ingest::enrich::THEME_SEPARATOR);
            for (i, t) in section.themes.iter().enumerate() {
                if !cxray_ingest::enrich::split_themes(combo).any(|x| x == t.theme) {
                    continue;
                }
                let in_focus = match (&focus[i], &dims[i]) {
                    (Some((_, v)), Some(c)) => {
                        let c = c.as_string::<i32>();
                        !c.is_null(r) && c.value(r) == v
                    }
                    _ => true,
                };
                let s = sent.value(r);
                let key = if negative[i] { -s } else { s.abs() };
                let text = comments.value(r);
                let list = &mut cands[i];
                if list.iter().any(|c| c.3 == text) {
                    continue;
                }
                list.push((in_focus, alone, key, text.to_string()));
                if list.len() > 4 * k {
                    list.sort_by(better);
                    list.truncate(k);
                }
            }
        }
    }
    for (t, mut list) in section.themes.iter_mut().zip(cands) {
        list.sort_by(better);
        t.examples = list.into_iter().take(k).map(|c| clip(&c.3, 280)).collect();
    }
}

fn clip(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// Renders a document in a format.
pub fn render(doc: &ReportDocument, format: ReportFormat) -> anyhow::Result<String> {
    Ok(match format {
        ReportFormat::Text => cxray_report::render_text(doc),
        ReportFormat::Md => cxray_report::render_markdown(doc),
        ReportFormat::Html => cxray_report::render_html(doc),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(doc)?;
            s.push('\n');
            s
        }
    })
}

pub fn write_out(text: &str, path: Option<&Path>) -> Result<(), Failure> {
    match path {
        Some(p) => std::fs::write(p, text)
            .with_context(|| format!("cannot write {}", p.display()))
            .map_err(Failure::runtime),
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).map_err(Failure::runtime)
        }
    }
}

pub fn run(a: ReportArgs) -> Result<(), Failure> {
    let mut project = input::load(&a.input, None)?;
    project.enrich_text();
    project.join_touchpoints(&a.input)?;
    let doc = build(&project, &a)?;
    let text = render(&doc, a.format).map_err(Failure::runtime)?;
    write_out(&text, a.output.as_deref())
}
