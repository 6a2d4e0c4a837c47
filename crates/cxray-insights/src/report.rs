//! The CX scorecard as a story: scorecard, trends with control limits, segment gaps, score
//! distributions and the highlights drawn from them. Everything here is computed from per-group
//! score histograms; outputs only render the [`Report`].
//!
//! Statistical choices:
//! - **Scorecard changes** (current vs previous period, vs the same period a year before) use each
//!   metric's test ([`cxray_metrics::MetricSpec::compare`]); the verdict says "significant" only
//!   below the report's alpha after Benjamini-Hochberg across all scorecard comparisons.
//! - **Trends** carry a control chart with per-period limits centre ± 3·√(v/nᵢ) (v the per-answer
//!   variance pooled over the series), which accounts for the different number of answers per
//!   period, plus the test of each period against the previous one.
//! - **Segments** compare each segment with the rest of the answers over the latest
//!   `segment_window` periods; groups with fewer than `min_n` answers are shown but flagged "too
//!   few answers" and not tested. BH q-values are computed over all segment tests of the report.
//! - **Segment shifts** compare, for every segment, the latest `segment_window` periods pooled
//!   with the same number of periods before them, against the same change in the rest of the
//!   dimension (difference in differences, z-test on the two changes' standard errors; BH over
//!   all segments). That is how a drop that started two months ago in one region is found even
//!   when the latest month is stable, while a segment that merely moves with everyone else is
//!   not reported; the sentence names the largest single-period step, descriptively.
//! - **Highlights** are drawn only from tests significant after correction: whole-metric changes
//!   first, then dated shifts within segments, then gaps between segments, each tier ranked by
//!   effect size relative to the metric's scale; one finding per segment, no gap in a dimension
//!   that already has a finding for the metric, at most two of a kind per metric; among the
//!   gaps, each metric's strongest before any metric's next one; seven in all.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_metrics::{EstimateOptions, MetricCatalog, MetricSpec, ScoreHistogram};
use cxray_stats::control::limits_chart;
use cxray_stats::{Adjustment, adjust_p_values};
use serde::Serialize;

use crate::metrics::{MetricRow, TableOptions, metric_rows};

/// Settings of a report.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    pub table: TableOptions,
    pub period: Period,
    /// False-discovery rate / significance level for verdicts and highlights.
    pub alpha: f64,
    /// Periods pooled for segment comparisons.
    pub segment_window: usize,
    /// Metric display order.
    pub order: Vec<String>,
}

/// Per-group histograms the report is built from.
#[derive(Clone)]
pub struct ReportInput<'a> {
    /// Grouped by metric and period only.
    pub overall: &'a [GroupHistogram],
    /// For each dimension, grouped by metric, period and that dimension.
    pub by_dimension: Vec<(String, &'a [GroupHistogram])>,
}

/// A test of a change or gap, with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Benjamini-Hochberg q-value within its family of tests.
    pub q_value: Option<f64>,
    pub significant: bool,
    pub test: String,
    /// Plain-language verdict.
    pub verdict: String,
}

/// One metric on the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScorecardItem {
    pub metric: String,
    pub display_name: String,
    pub value_label: String,
    pub current: Option<MetricRow>,
    pub previous: Option<MetricRow>,
    pub vs_previous: Option<Change>,
    pub year_ago: Option<MetricRow>,
    pub vs_year_ago: Option<Change>,
    /// All answers of all periods.
    pub all_periods: MetricRow,
}

/// One period of a trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    pub row: MetricRow,
    pub control_low: Option<f64>,
    pub control_high: Option<f64>,
    /// "above" or "below" the control limits.
    pub signal: Option<String>,
    pub vs_previous: Option<Change>,
}

/// A metric over periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    pub metric: String,
    pub center: Option<f64>,
    pub points: Vec<TrendPoint>,
}

/// One segment in a breakdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentRow {
    pub row: MetricRow,
    /// Segment value minus the metric over all answers in the window.
    pub gap_to_overall: Option<f64>,
    /// Test of the segment against the rest of the answers.
    pub vs_rest: Option<Change>,
    pub too_few: bool,
}

/// A metric broken down by one dimension over the latest periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentBreakdown {
    pub metric: String,
    pub dimension: String,
    pub window: String,
    pub overall: Option<MetricRow>,
    /// Sorted by gap to the overall, largest negative first.
    pub rows: Vec<SegmentRow>,
}

/// Score distribution of a metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    pub metric: String,
    pub window: String,
    /// (score, count, category) with category promoter/passive/detractor for NPS, good/other
    /// for top-box metrics.
    pub bars: Vec<(f64, u64, String)>,
}

/// What a highlight reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HighlightKind {
    /// A scorecard metric moved significantly from the previous period.
    Change,
    /// A scorecard metric moved significantly from the same period a year before.
    YearChange,
    /// A metric outside its control limits.
    ControlSignal,
    /// A segment moved against the rest of its dimension.
    SegmentShift,
    /// A segment differs from the rest of its dimension.
    SegmentGap,
    /// A comment theme rose.
    EmergingTheme,
    /// A comment theme goes with a lower (or higher) metric.
    ThemeDriver,
    /// A ticket category's share rose.
    RecurringIssue,
    /// A funnel step converts worse in a segment.
    FrictionPoint,
    /// An operational metric moved.
    OperationalChange,
}

impl HighlightKind {
    /// Whole-metric changes first, then dated shifts in segments, then gaps and the rest.
    fn tier(self) -> u8 {
        match self {
            HighlightKind::Change | HighlightKind::YearChange | HighlightKind::ControlSignal => 0,
            HighlightKind::SegmentShift => 1,
            _ => 2,
        }
    }
}

/// Which way a metric's value moved (or lies against the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    /// Up for a positive difference, down otherwise.
    pub fn of(difference: f64) -> Direction {
        if difference > 0.0 {
            Direction::Up
        } else {
            Direction::Down
        }
    }
}

/// A finding in one sentence, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Highlight {
    pub kind: HighlightKind,
    pub metric: String,
    pub dimension: Option<String>,
    pub segment: Option<String>,
    /// For the metric's value.
    pub direction: Direction,
    pub text: String,
    pub change: Change,
    pub n: u64,
    /// Anchor of the section holding the chart.
    pub section: String,
    /// |difference| / scale range, the ranking key.
    pub importance: f64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub period: Period,
    /// The latest period, left out because it has less than half the usual answers (in
    /// progress); `--until` includes it explicitly.
    pub partial_period: Option<String>,
    pub current_period: Option<String>,
    pub previous_period: Option<String>,
    pub year_ago_period: Option<String>,
    pub confidence: f64,
    pub alpha: f64,
    pub min_n: u64,
    pub dimensions: Vec<String>,
    pub scorecard: Vec<ScorecardItem>,
    pub trends: Vec<Trend>,
    pub segments: Vec<SegmentBreakdown>,
    pub distributions: Vec<Distribution>,
    pub highlights: Vec<Highlight>,
    /// What the comments talk about (when the responses have comments).
    pub themes: Option<crate::themes::ThemesSection>,
    /// What happened to customers: tickets, queue, referrals, journeys, churn and retention
    /// (when the project has such data).
    pub operations: Option<crate::operations::OperationsSection>,
    /// Why: explain-the-change, key drivers, CX linked to churn, non-response bias.
    pub insights: Option<InsightsSection>,
}

/// The analyses that say why (each present when the data allows it).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct InsightsSection {
    /// The headline metric's change from the previous window to the current one.
    pub change: Option<crate::explain::ChangeExplanation>,
    pub drivers: Option<crate::drivers::Drivers>,
    pub linkage: Option<crate::linkage::Linkage>,
    pub nonresponse: Option<crate::nonresponse::NonResponse>,
    /// One finding per analysis that found something significant, with the anchor of its
    /// evidence; analyses that found nothing significant add none.
    pub findings: Vec<Finding>,
}

/// Which analysis of the insights section a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingKind {
    Change,
    Drivers,
    Linkage,
    Nonresponse,
}

/// A finding of the insights section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub text: String,
    /// Anchor of the part of the section with the evidence (and chart).
    pub section: String,
}

impl InsightsSection {
    /// Writes the findings from the analyses present: only significant results become
    /// findings.
    pub fn settle(&mut self) {
        let mut f = Vec::new();
        if let Some(c) = &self.change
            && !c.explanations.is_empty()
        {
            f.push(Finding {
                kind: FindingKind::Change,
                text: c.summary.clone(),
                section: "insights-change".into(),
            });
        }
        if let Some(d) = &self.drivers
            && d.drivers
                .first()
                .is_some_and(|t| t.ci_low > 1.0 / d.drivers.len() as f64)
        {
            f.push(Finding {
                kind: FindingKind::Drivers,
                text: d.verdict.clone(),
                section: "insights-drivers".into(),
            });
        }
        if let Some(l) = &self.linkage
            && l.hazard_ratios.iter().any(|h| h.significant)
        {
            f.push(Finding {
                kind: FindingKind::Linkage,
                text: l.verdict.clone(),
                section: "insights-linkage".into(),
            });
        }
        if let Some(n) = &self.nonresponse
            && n.dimensions.iter().any(|d| d.significant)
        {
            f.push(Finding {
                kind: FindingKind::Nonresponse,
                text: n.verdict.clone(),
                section: "insights-nonresponse".into(),
            });
        }
        self.findings = f;
    }
}

/// Most highlights of a report, with those of the themes and operations sections.
const MAX_HIGHLIGHTS: usize = 9;

impl Report {
    /// Adds the themes section and its highlights (placed after the dated shifts, before the
    /// gaps between segments).
    pub fn attach_themes(&mut self, section: crate::themes::ThemesSection) {
        self.insert_before_gaps(crate::themes::theme_highlights(&section));
        self.themes = Some(section);
    }

    /// Adds the insights section (its findings written).
    pub fn attach_insights(&mut self, mut section: InsightsSection) {
        section.settle();
        self.insights = Some(section);
    }

    /// Adds the operations section and at most two of its findings (recurring ticket issues
    /// first, then significant changes), placed before the gaps between segments.
    pub fn attach_operations(&mut self, section: crate::operations::OperationsSection) {
        let mut extra = crate::operations::operations_highlights(&section);
        extra.truncate(2);
        self.insert_before_gaps(extra);
        self.operations = Some(section);
    }

    /// Adds findings of another section before the gaps between segments (which rank last),
    /// keeping at most [`MAX_HIGHLIGHTS`].
    fn insert_before_gaps(&mut self, extra: Vec<Highlight>) {
        let at = self
            .highlights
            .iter()
            .position(|h| h.kind == HighlightKind::SegmentGap)
            .unwrap_or(self.highlights.len());
        self.highlights.splice(at..at, extra);
        self.highlights.truncate(MAX_HIGHLIGHTS);
    }
}

fn merge_where<'a>(
    groups: impl Iterator<Item = &'a GroupHistogram>,
    pred: impl Fn(&GroupHistogram) -> bool,
) -> ScoreHistogram {
    let mut h = ScoreHistogram::default();
    for g in groups.filter(|g| pred(g)) {
        h.merge(&g.histogram);
    }
    h
}

fn row_for(
    metric: &str,
    period: Option<NaiveDate>,
    segment: Vec<Option<String>>,
    by: &[String],
    hist: ScoreHistogram,
    catalog: &MetricCatalog,
    opts: &TableOptions,
) -> Option<MetricRow> {
    if hist.n() == 0 {
        return None;
    }
    let g = GroupHistogram {
        key: cxray_metrics::period::GroupKey {
            metric: metric.to_string(),
            period_start: period,
            segment,
        },
        histogram: hist,
    };
    let mut t = *opts;
    if period.is_none() {
        t.period = None;
    }
    metric_rows(std::slice::from_ref(&g), by, catalog, &t, &[])
        .into_iter()
        .next()
}

/// A segment's change from `before` to `after` against the change in the rest of its
/// dimension over the same periods: the difference in differences (Δ segment − Δ rest) with a
/// z-test on the two independent changes' standard errors. A segment that only moves with
/// everyone else is not a finding about the segment.
fn shift_vs_rest(
    spec: &MetricSpec,
    (before, after): (&ScoreHistogram, &ScoreHistogram),
    (rest_before, rest_after): (&ScoreHistogram, &ScoreHistogram),
    opts: &EstimateOptions,
) -> Option<Change> {
    let seg = spec.compare(after, before, opts).ok()?;
    let rest = spec.compare(rest_after, rest_before, opts).ok()?;
    let did = cxray_stats::z_test_from_se(
        seg.difference,
        seg.se,
        rest.difference,
        rest.se,
        opts.confidence,
    )
    .ok()?;
    Some(Change::untested(&did, 1.0, "difference_in_differences"))
}

fn change(
    spec: &MetricSpec,
    a: &ScoreHistogram,
    b: &ScoreHistogram,
    opts: &EstimateOptions,
) -> Option<Change> {
    let c = spec.compare(a, b, opts).ok()?;
    Some(Change::untested(&c, 1.0, c.method))
}

impl Change {
    /// A comparison not yet judged within its family, its difference and interval multiplied
    /// by `scale` (100 for proportions shown in points).
    pub fn untested(c: &cxray_stats::Comparison, scale: f64, test: &str) -> Change {
        Change {
            difference: scale * c.difference,
            ci_low: scale * c.interval.low,
            ci_high: scale * c.interval.high,
            p_value: c.p_value,
            q_value: None,
            significant: false,
            test: test.to_string(),
            verdict: String::new(),
        }
    }
}

/// Benjamini-Hochberg q-values for a family of changes; sets `q_value` and `significant`.
pub(crate) fn adjust_family(changes: &mut [&mut Change], alpha: f64) {
    let p: Vec<f64> = changes.iter().map(|c| c.p_value).collect();
    let q = adjust_p_values(&p, Adjustment::BenjaminiHochberg).unwrap_or_else(|_| p.clone());
    for (c, q) in changes.iter_mut().zip(q) {
        c.q_value = Some(q);
        c.significant = q <= alpha;
    }
}

/// Applies BH to a family of changes and writes verdicts.
fn settle(changes: &mut [&mut Change], alpha: f64, unit: &[String]) {
    adjust_family(changes, alpha);
    for (c, u) in changes.iter_mut().zip(unit) {
        c.verdict = if c.significant {
            format!(
                "{} {} {u}: significant (p {}, q {})",
                if c.difference > 0.0 { "up" } else { "down" },
                fmt_abs(c.difference),
                with_op(c.p_value),
                with_op(c.q_value.unwrap_or(c.p_value))
            )
        } else {
            format!(
                "{} {} {u}: not significant, could be noise (p {})",
                if c.difference > 0.0 {
                    "up"
                } else if c.difference < 0.0 {
                    "down"
                } else {
                    "unchanged,"
                },
                fmt_abs(c.difference),
                with_op(c.p_value)
            )
        };
    }
}

/// A p-value for sentences.
/// A dimension as a heading: its column name, except the journey touchpoint joined to answers.
pub fn dimension_label(dimension: &str) -> &str {
    if dimension == cxray_metrics::journey::TOUCHPOINT_COLUMN {
        "journey step before the answer"
    } else {
        dimension
    }
}

/// A segment in a sentence: "for region North"; answers by the journey step they follow read
/// "after the journey step checkout" (or "with no journey step shortly before").
pub fn segment_words(dimension: &str, segment: &str) -> String {
    use cxray_metrics::journey::{NO_TOUCHPOINT, TOUCHPOINT_COLUMN};
    match (dimension, segment) {
        (TOUCHPOINT_COLUMN, NO_TOUCHPOINT) => "with no journey step shortly before".into(),
        (TOUCHPOINT_COLUMN, s) => format!("after the journey step {s}"),
        (d, s) => format!("for {d} {s}"),
    }
}

pub fn fmt_p(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".into()
    } else {
        format!("{p:.3}")
    }
}

pub(crate) fn fmt_abs(x: f64) -> String {
    let a = x.abs();
    if a >= 10.0 {
        format!("{a:.0}")
    } else {
        format!("{a:.1}")
    }
}

/// A value for sentences, with the precision of its scale.
pub fn fmt_value(spec: &MetricSpec, x: f64) -> String {
    if spec.on_percent_scale() {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn unit(spec: &MetricSpec) -> String {
    spec.difference_unit().unwrap_or("(scale units)").into()
}

/// A period label for sentences: "Sep 2025" for months, the plain label otherwise.
pub fn period_words(p: Period, start: NaiveDate) -> String {
    match p {
        Period::Month => start.format("%b %Y").to_string(),
        _ => p.label(start),
    }
}

/// Whether the last of these per-period answer counts (in time order) is a period still in
/// progress: at least three periods, and fewer than half the median answers of the up to six
/// periods before it. The report, `cxray explain` and `cxray alerts` all skip such a period.
pub fn last_is_partial(sizes: &[u64]) -> bool {
    let n = sizes.len();
    if n < 3 {
        return false;
    }
    let mut before: Vec<u64> = sizes[n.saturating_sub(7)..n - 1].to_vec();
    before.sort();
    let median = before[before.len() / 2];
    (sizes[n - 1] as f64) < 0.5 * median as f64
}

/// Builds the report.
pub fn build_report(
    input: &ReportInput<'_>,
    catalog: &MetricCatalog,
    opts: &ReportOptions,
) -> Report {
    let eo = opts.table.estimate;
    let mut periods: Vec<NaiveDate> = input
        .overall
        .iter()
        .filter_map(|g| g.key.period_start)
        .collect();
    periods.sort();
    periods.dedup();
    // A last period with less than half the usual answers is still in progress: leave it out.
    let answers_in = |p: NaiveDate| -> u64 {
        input
            .overall
            .iter()
            .filter(|g| g.key.period_start == Some(p))
            .map(|g| g.histogram.n())
            .sum()
    };
    let mut partial_period = None;
    let sizes: Vec<u64> = periods.iter().map(|&p| answers_in(p)).collect();
    if last_is_partial(&sizes) {
        let last = periods.pop().expect("non-empty");
        partial_period = Some(opts.period.label(last));
    }
    let input_overall: Vec<GroupHistogram> = input
        .overall
        .iter()
        .filter(|g| g.key.period_start.is_none_or(|p| periods.contains(&p)))
        .cloned()
        .collect();
    let input = &ReportInput {
        overall: &input_overall,
        by_dimension: input.by_dimension.clone(),
    };
    let current = periods.last().copied();
    let previous = periods.len().checked_sub(2).map(|i| periods[i]);
    let year_ago = current.and_then(|c| {
        let y = c.checked_sub_months(chrono::Months::new(12))?;
        periods.contains(&y).then_some(y)
    });
    let mut metrics: Vec<String> = input.overall.iter().map(|g| g.key.metric.clone()).collect();
    metrics.sort_by_key(|m| {
        (
            opts.order.iter().position(|o| o == m).unwrap_or(usize::MAX),
            m.clone(),
        )
    });
    metrics.dedup();
    let window_start = periods.len().saturating_sub(opts.segment_window.max(1));
    let window: Vec<NaiveDate> = periods[window_start..].to_vec();
    let window_label = match (window.first(), window.last()) {
        (Some(a), Some(b)) if a == b => opts.period.label(*a),
        (Some(a), Some(b)) => format!("{} to {}", opts.period.label(*a), opts.period.label(*b)),
        _ => String::new(),
    };
    let hist_at = |m: &str, p: NaiveDate| {
        merge_where(input.overall.iter(), |g| {
            g.key.metric == m && g.key.period_start == Some(p)
        })
    };

    // Scorecard.
    let mut scorecard = Vec::new();
    for m in &metrics {
        let Ok(spec) = catalog.get(m) else { continue };
        let all = merge_where(input.overall.iter(), |g| &g.key.metric == m);
        let Some(all_row) = row_for(m, None, vec![], &[], all, catalog, &opts.table) else {
            continue;
        };
        let cur = current.map(|p| hist_at(m, p));
        let prev = previous.map(|p| hist_at(m, p));
        let yago = year_ago.map(|p| hist_at(m, p));
        let row = |h: &Option<ScoreHistogram>, p: Option<NaiveDate>| {
            h.clone()
                .and_then(|h| row_for(m, p, vec![], &[], h, catalog, &opts.table))
        };
        let test = |a: &Option<ScoreHistogram>, b: &Option<ScoreHistogram>| match (a, b) {
            (Some(a), Some(b)) if a.n() >= 2 && b.n() >= 2 => change(spec, a, b, &eo),
            _ => None,
        };
        scorecard.push(ScorecardItem {
            metric: m.clone(),
            display_name: spec.display_name.clone(),
            value_label: spec.value_label.clone(),
            current: row(&cur, current),
            previous: row(&prev, previous),
            vs_previous: test(&cur, &prev),
            year_ago: row(&yago, year_ago),
            vs_year_ago: test(&cur, &yago),
            all_periods: all_row,
        });
    }
    {
        let units: Vec<String> = scorecard
            .iter()
            .flat_map(|s| {
                let u = unit(catalog.get(&s.metric).expect("known"));
                [
                    s.vs_previous.as_ref().map(|_| u.clone()),
                    s.vs_year_ago.as_ref().map(|_| u),
                ]
            })
            .flatten()
            .collect();
        let mut fam: Vec<&mut Change> = scorecard
            .iter_mut()
            .flat_map(|s| [s.vs_previous.as_mut(), s.vs_year_ago.as_mut()])
            .flatten()
            .collect();
        settle(&mut fam, opts.alpha, &units);
    }

    // Trends.
    let mut trends = Vec::new();
    for m in &metrics {
        let Ok(spec) = catalog.get(m) else { continue };
        let all = merge_where(input.overall.iter(), |g| &g.key.metric == m);
        let pooled = spec.value_and_unit_variance(&all);
        let mut points = Vec::new();
        let mut chart_in = Vec::new();
        let mut prev_hist: Option<ScoreHistogram> = None;
        for &p in &periods {
            let h = hist_at(m, p);
            if h.n() == 0 {
                prev_hist = None;
                continue;
            }
            let Some(row) = row_for(m, Some(p), vec![], &[], h.clone(), catalog, &opts.table)
            else {
                continue;
            };
            let vs_previous = prev_hist
                .as_ref()
                .filter(|ph| ph.n() >= 2 && h.n() >= 2)
                .and_then(|ph| change(spec, &h, ph, &eo));
            if let (Some((_, var)), Some((v, _))) = (pooled, spec.value_and_unit_variance(&h)) {
                chart_in.push((v, (var / h.n() as f64).sqrt()));
            } else {
                chart_in.push((f64::NAN, f64::NAN));
            }
            points.push(TrendPoint {
                row,
                control_low: None,
                control_high: None,
                signal: None,
                vs_previous,
            });
            prev_hist = Some(h);
        }
        let center = pooled.map(|(v, _)| v);
        if let Some(c) = center {
            let chart = limits_chart(&chart_in, c, 3.0);
            for (tp, cp) in points.iter_mut().zip(&chart.points) {
                if cp.lower.is_finite() {
                    tp.control_low = Some(cp.lower);
                    tp.control_high = Some(cp.upper);
                    if cp.signal && tp.row.n >= opts.table.min_n {
                        tp.signal = Some(
                            if cp.value < cp.lower {
                                "below"
                            } else {
                                "above"
                            }
                            .into(),
                        );
                    }
                }
            }
        }
        let u = unit(spec);
        let units = vec![u; points.iter().filter(|p| p.vs_previous.is_some()).count()];
        let mut fam: Vec<&mut Change> = points
            .iter_mut()
            .filter_map(|p| p.vs_previous.as_mut())
            .collect();
        settle(&mut fam, opts.alpha, &units);
        trends.push(Trend {
            metric: m.clone(),
            center,
            points,
        });
    }

    // Segments over the window, and shifts per segment over the latest periods.
    let mut segments = Vec::new();
    let mut shifts: Vec<Shift> = Vec::new();
    let before: Vec<NaiveDate> =
        periods[periods.len().saturating_sub(2 * window.len())..window_start].to_vec();
    let before_label = span_words(opts.period, &before);
    let window_words = span_words(opts.period, &window);
    for (dim, groups) in &input.by_dimension {
        for m in &metrics {
            let Ok(spec) = catalog.get(m) else { continue };
            let in_window = |g: &GroupHistogram| {
                &g.key.metric == m && g.key.period_start.is_some_and(|p| window.contains(&p))
            };
            let total = merge_where(groups.iter(), in_window);
            if total.n() == 0 {
                continue;
            }
            let overall_row = row_for(m, None, vec![], &[], total.clone(), catalog, &opts.table);
            let mut values: Vec<Option<String>> = groups
                .iter()
                .filter(|g| &g.key.metric == m)
                .map(|g| g.key.segment[0].clone())
                .collect();
            values.sort();
            values.dedup();
            if values.len() < 2 {
                continue;
            }
            let mut rows = Vec::new();
            for v in &values {
                let seg = merge_where(groups.iter(), |g| in_window(g) && g.key.segment[0] == *v);
                if seg.n() == 0 {
                    continue;
                }
                let rest = merge_where(groups.iter(), |g| in_window(g) && g.key.segment[0] != *v);
                let too_few = seg.n() < opts.table.min_n;
                let row = row_for(
                    m,
                    None,
                    vec![v.clone()],
                    std::slice::from_ref(dim),
                    seg.clone(),
                    catalog,
                    &opts.table,
                );
                let Some(row) = row else { continue };
                let gap = match (row.value, overall_row.as_ref().and_then(|o| o.value)) {
                    (Some(a), Some(b)) => Some(a - b),
                    _ => None,
                };
                let vs_rest = if too_few || rest.n() < opts.table.min_n {
                    None
                } else {
                    change(spec, &seg, &rest, &eo)
                };
                rows.push(SegmentRow {
                    row,
                    gap_to_overall: gap,
                    vs_rest,
                    too_few,
                });
                // Shift: the window against the window before it.
                if before.len() == window.len() && !window.is_empty() {
                    let seg_in = |ps: &[NaiveDate]| {
                        merge_where(groups.iter(), |g| {
                            &g.key.metric == m
                                && g.key.segment[0] == *v
                                && g.key.period_start.is_some_and(|p| ps.contains(&p))
                        })
                    };
                    let rest_in = |ps: &[NaiveDate]| {
                        merge_where(groups.iter(), |g| {
                            &g.key.metric == m
                                && g.key.segment[0] != *v
                                && g.key.period_start.is_some_and(|p| ps.contains(&p))
                        })
                    };
                    let (a, b) = (seg_in(&before), seg_in(&window));
                    let (ra, rb) = (rest_in(&before), rest_in(&window));
                    if a.n() >= opts.table.min_n
                        && b.n() >= opts.table.min_n
                        && ra.n() >= opts.table.min_n
                        && rb.n() >= opts.table.min_n
                        && let Some(c) = shift_vs_rest(spec, (&a, &b), (&ra, &rb), &eo)
                    {
                        // The largest single step in the direction of the change (descriptive).
                        let span: Vec<(NaiveDate, f64)> = periods
                            [periods.len() - window.len() - 1..]
                            .iter()
                            .filter_map(|&p| {
                                let h = seg_in(&[p]);
                                (h.n() * 2 >= opts.table.min_n)
                                    .then(|| spec.value_and_unit_variance(&h).map(|(v, _)| (p, v)))
                                    .flatten()
                            })
                            .collect();
                        let step = span
                            .windows(2)
                            .map(|w| (w[0].0, w[1].0, w[1].1 - w[0].1))
                            .filter(|x| x.2 * c.difference > 0.0)
                            .max_by(|x, y| x.2.abs().total_cmp(&y.2.abs()))
                            .map(|x| (x.0, x.1));
                        shifts.push(Shift {
                            metric: m.clone(),
                            dimension: dim.clone(),
                            segment: v.clone().unwrap_or_default(),
                            before: a,
                            after: b,
                            rest_before: ra,
                            rest_after: rb,
                            change: c,
                            step,
                        });
                    }
                }
            }
            rows.sort_by(|a, b| {
                a.gap_to_overall
                    .unwrap_or(0.0)
                    .total_cmp(&b.gap_to_overall.unwrap_or(0.0))
            });
            segments.push(SegmentBreakdown {
                metric: m.clone(),
                dimension: dim.clone(),
                window: window_label.clone(),
                overall: overall_row,
                rows,
            });
        }
    }
    {
        let units: Vec<String> = segments
            .iter()
            .flat_map(|s| {
                let u = unit(catalog.get(&s.metric).expect("known"));
                s.rows
                    .iter()
                    .filter(|r| r.vs_rest.is_some())
                    .map(move |_| u.clone())
            })
            .collect();
        let mut fam: Vec<&mut Change> = segments
            .iter_mut()
            .flat_map(|s| s.rows.iter_mut().filter_map(|r| r.vs_rest.as_mut()))
            .collect();
        settle(&mut fam, opts.alpha, &units);
        let units: Vec<String> = shifts
            .iter()
            .map(|s| unit(catalog.get(&s.metric).expect("known")))
            .collect();
        let mut fam: Vec<&mut Change> = shifts.iter_mut().map(|s| &mut s.change).collect();
        settle(&mut fam, opts.alpha, &units);
    }

    // Distributions over the window.
    let mut distributions = Vec::new();
    for m in &metrics {
        let Ok(spec) = catalog.get(m) else { continue };
        let h = merge_where(input.overall.iter(), |g| {
            &g.key.metric == m && g.key.period_start.is_some_and(|p| window.contains(&p))
        });
        if h.n() == 0 {
            continue;
        }
        let bars = h
            .scores
            .iter()
            .map(|s| (s.score, s.count, spec.score_category(s.score).to_string()))
            .collect();
        distributions.push(Distribution {
            metric: m.clone(),
            window: window_label.clone(),
            bars,
        });
    }

    let highlights = highlights(
        &scorecard,
        &trends,
        &segments,
        &shifts,
        catalog,
        opts,
        current,
        previous,
        year_ago,
        &before_label,
        &window_words,
    );
    Report {
        period: opts.period,
        partial_period,
        current_period: current.map(|p| opts.period.label(p)),
        previous_period: previous.map(|p| opts.period.label(p)),
        year_ago_period: year_ago.map(|p| opts.period.label(p)),
        confidence: opts.table.estimate.confidence.level(),
        alpha: opts.alpha,
        min_n: opts.table.min_n,
        dimensions: input.by_dimension.iter().map(|(d, _)| d.clone()).collect(),
        scorecard,
        trends,
        segments,
        distributions,
        highlights,
        themes: None,
        operations: None,
        insights: None,
    }
}

fn pm(row: &MetricRow) -> String {
    match (row.ci_low, row.ci_high) {
        (Some(l), Some(h)) => {
            let half = (h - l) / 2.0;
            if half >= 1.0 {
                format!(" (±{half:.0})")
            } else {
                format!(" (±{half:.2})")
            }
        }
        _ => String::new(),
    }
}

/// A segment's metric in the latest window against the window before it.
struct Shift {
    metric: String,
    dimension: String,
    segment: String,
    before: ScoreHistogram,
    after: ScoreHistogram,
    rest_before: ScoreHistogram,
    rest_after: ScoreHistogram,
    /// The segment's change minus the change in the rest of the dimension, tested.
    change: Change,
    /// The largest single-period step in the direction of the change.
    step: Option<(NaiveDate, NaiveDate)>,
}

/// "Jul–Sep 2025" for months, "2025-W01–2025-W03" otherwise.
pub(crate) fn span_words(p: Period, span: &[NaiveDate]) -> String {
    match (span.first(), span.last()) {
        (Some(a), Some(b)) if a == b => period_words(p, *a),
        (Some(a), Some(b))
            if p == Period::Month && a.format("%Y").to_string() == b.format("%Y").to_string() =>
        {
            format!("{}–{}", a.format("%b"), b.format("%b %Y"))
        }
        (Some(a), Some(b)) => format!("{}–{}", period_words(p, *a), period_words(p, *b)),
        _ => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn highlights(
    scorecard: &[ScorecardItem],
    trends: &[Trend],
    segments: &[SegmentBreakdown],
    shifts: &[Shift],
    catalog: &MetricCatalog,
    opts: &ReportOptions,
    current: Option<NaiveDate>,
    previous: Option<NaiveDate>,
    year_ago: Option<NaiveDate>,
    before_label: &str,
    window_words: &str,
) -> Vec<Highlight> {
    let mut out: Vec<Highlight> = Vec::new();
    let words = |d: Option<NaiveDate>| d.map(|d| period_words(opts.period, d)).unwrap_or_default();
    for s in scorecard {
        let spec = catalog.get(&s.metric).expect("known");
        for (c, other, when) in [
            (&s.vs_previous, &s.previous, previous),
            (&s.vs_year_ago, &s.year_ago, year_ago),
        ] {
            let (Some(c), Some(cur), Some(o)) = (c, &s.current, other) else {
                continue;
            };
            if !c.significant {
                continue;
            }
            let (Some(v1), Some(v0)) = (cur.value, o.value) else {
                continue;
            };
            out.push(Highlight {
                kind: if when == year_ago {
                    HighlightKind::YearChange
                } else {
                    HighlightKind::Change
                },
                metric: s.metric.clone(),
                dimension: None,
                segment: None,
                direction: Direction::of(c.difference),
                text: format!(
                    "{} {} from {}{} in {} to {}{} in {}; significant (p {}).",
                    spec.display_name,
                    if c.difference > 0.0 { "rose" } else { "fell" },
                    fmt_value(spec, v0),
                    pm(o),
                    words(when),
                    fmt_value(spec, v1),
                    pm(cur),
                    words(current),
                    fmt_pq(c)
                ),
                change: c.clone(),
                n: cur.n + o.n,
                section: format!("trend-{}", s.metric),
                importance: c.difference.abs() / spec.reporting_range(),
            });
        }
    }
    for t in trends {
        let spec = catalog.get(&t.metric).expect("known");
        for p in &t.points {
            if let (Some(sig), Some(v), Some(center)) = (&p.signal, p.row.value, t.center) {
                // A signal is evidence only with the period-over-period test behind it.
                let Some(c) = &p.vs_previous else { continue };
                if !c.significant {
                    continue;
                }
                out.push(Highlight {
                    kind: HighlightKind::ControlSignal,
                    metric: t.metric.clone(),
                    dimension: None,
                    segment: None,
                    direction: if sig == "below" {
                        Direction::Down
                    } else {
                        Direction::Up
                    },
                    text: format!(
                        "{} in {} was {}{}, {} its control limits around {}; the change from the period before is significant (p {}).",
                        spec.display_name,
                        p.row.period.clone().unwrap_or_default(),
                        fmt_value(spec, v),
                        pm(&p.row),
                        sig,
                        fmt_value(spec, center),
                        fmt_pq(c)
                    ),
                    change: c.clone(),
                    n: p.row.n,
                    section: format!("trend-{}", t.metric),
                    importance: (v - center).abs() / spec.reporting_range(),
                });
            }
        }
    }
    for s in segments {
        let spec = catalog.get(&s.metric).expect("known");
        for r in &s.rows {
            let (Some(c), Some(v)) = (&r.vs_rest, r.row.value) else {
                continue;
            };
            if !c.significant {
                continue;
            }
            let rest = v - c.difference;
            let seg = r
                .row
                .segment
                .get(&s.dimension)
                .cloned()
                .flatten()
                .unwrap_or_else(|| "(missing)".into());
            out.push(Highlight {
                kind: HighlightKind::SegmentGap,
                metric: s.metric.clone(),
                dimension: Some(s.dimension.clone()),
                segment: Some(seg.clone()),
                direction: Direction::of(c.difference),
                text: format!(
                    "{} {} is {}{} in {}, {}{} {} than the rest ({}); significant (p {}).",
                    spec.display_name,
                    segment_words(&s.dimension, &seg),
                    fmt_value(spec, v),
                    pm(&r.row),
                    window_words,
                    fmt_abs(c.difference),
                    spec.difference_unit()
                        .map(|u| format!(" {u}"))
                        .unwrap_or_default(),
                    if c.difference > 0.0 {
                        "higher"
                    } else {
                        "lower"
                    },
                    fmt_value(spec, rest),
                    fmt_pq(c)
                ),
                change: c.clone(),
                n: r.row.n,
                section: format!("segments-{}-{}", s.metric, s.dimension),
                importance: c.difference.abs() / spec.reporting_range(),
            });
        }
    }
    for sh in shifts {
        let c = &sh.change;
        if !c.significant {
            continue;
        }
        let m = &sh.metric;
        let spec = catalog.get(m).expect("known");
        let ra = row_for(
            m,
            None,
            vec![],
            &[],
            sh.before.clone(),
            catalog,
            &opts.table,
        );
        let rb = row_for(m, None, vec![], &[], sh.after.clone(), catalog, &opts.table);
        let (Some(ra), Some(rb)) = (ra, rb) else {
            continue;
        };
        let (Some(va), Some(vb)) = (ra.value, rb.value) else {
            continue;
        };
        let value = |h: &ScoreHistogram| {
            row_for(m, None, vec![], &[], h.clone(), catalog, &opts.table).and_then(|r| r.value)
        };
        let rest = match (value(&sh.rest_before), value(&sh.rest_after)) {
            (Some(x), Some(y)) => format!(
                " (the rest of {}: {} → {})",
                sh.dimension,
                fmt_value(spec, x),
                fmt_value(spec, y)
            ),
            _ => String::new(),
        };
        let step = sh
            .step
            .map(|(a, b)| {
                format!(
                    ", the largest step from {} to {}",
                    period_words(opts.period, a),
                    period_words(opts.period, b)
                )
            })
            .unwrap_or_default();
        out.push(Highlight {
            kind: HighlightKind::SegmentShift,
            metric: m.clone(),
            dimension: Some(sh.dimension.clone()),
            segment: Some(sh.segment.clone()),
            direction: Direction::of(c.difference),
            text: format!(
                "{} {} {} from {}{} in {} to {}{} in {}{rest}{step}; significant against \
                 the rest (p {}).",
                spec.display_name,
                segment_words(&sh.dimension, &sh.segment),
                if vb > va { "rose" } else { "fell" },
                fmt_value(spec, va),
                pm(&ra),
                before_label,
                fmt_value(spec, vb),
                pm(&rb),
                window_words,
                fmt_pq(c)
            ),
            change: c.clone(),
            n: ra.n + rb.n,
            section: format!("segments-{m}-{}", sh.dimension),
            importance: c.difference.abs() / spec.reporting_range(),
        });
    }
    // Whole-metric changes first, then dated shifts in segments, then gaps between segments;
    // by effect size within each tier.
    out.sort_by(|a, b| {
        a.kind
            .tier()
            .cmp(&b.kind.tier())
            .then(b.importance.total_cmp(&a.importance))
    });
    // One finding per segment (a shift says more than a gap); no gap in a dimension that already
    // has a finding for the metric (the other segments differ from "the rest" because the rest
    // holds the segment that moved); at most two of a kind per metric.
    //
    // A shift against the rest has a mirror image: when one segment falls, the others rise
    // against a rest that holds it, so no shift opposite to an earlier one in its dimension.
    let mut seen_segment: BTreeMap<(String, Option<String>, Option<String>), ()> = BTreeMap::new();
    let mut seen_dimension: BTreeMap<(String, Option<String>), ()> = BTreeMap::new();
    let mut shift_direction: BTreeMap<(String, Option<String>), Direction> = BTreeMap::new();
    let mut per_kind: BTreeMap<(String, HighlightKind), usize> = BTreeMap::new();
    out.retain(|h| {
        if h.kind == HighlightKind::SegmentShift {
            let d = shift_direction
                .entry((h.metric.clone(), h.dimension.clone()))
                .or_insert(h.direction);
            if *d != h.direction {
                return false;
            }
        }
        if seen_segment
            .insert(
                (h.metric.clone(), h.dimension.clone(), h.segment.clone()),
                (),
            )
            .is_some()
        {
            return false;
        }
        let had_dimension = seen_dimension
            .insert((h.metric.clone(), h.dimension.clone()), ())
            .is_some();
        if h.kind == HighlightKind::SegmentGap && had_dimension {
            return false;
        }
        let k = per_kind.entry((h.metric.clone(), h.kind)).or_default();
        *k += 1;
        *k <= 2
    });
    // Among the gaps, every metric's strongest before any metric's next one, so that one
    // metric with many segments apart does not crowd out the only finding of another.
    let mut findings: BTreeMap<String, usize> = BTreeMap::new();
    let mut rank: Vec<usize> = Vec::with_capacity(out.len());
    for h in &out {
        let n = findings.entry(h.metric.clone()).or_default();
        rank.push(if h.kind.tier() == 2 { *n } else { 0 });
        *n += 1;
    }
    let mut ranked: Vec<(usize, Highlight)> = rank.into_iter().zip(out).collect();
    // Stable: tiers stay in order, and within a rank the effect size decides as before.
    ranked.sort_by_key(|(r, h)| (h.kind.tier(), *r));
    let mut out: Vec<Highlight> = ranked.into_iter().map(|(_, h)| h).collect();
    out.truncate(7);
    out
}

pub(crate) fn fmt_pq(c: &Change) -> String {
    match c.q_value {
        Some(q) => format!("{}, q {}", with_op(c.p_value), with_op(q)),
        None => with_op(c.p_value),
    }
}

/// `= 0.012` or `< 0.001`: a p-value after its comparison sign.
pub(crate) fn with_op(p: f64) -> String {
    let s = fmt_p(p);
    if s.starts_with('<') {
        s
    } else {
        format!("= {s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_metrics::period::GroupKey;

    fn nps(pr: u64, pa: u64, de: u64) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        h.add(10.0, pr);
        h.add(7.0, pa);
        h.add(3.0, de);
        h
    }

    fn g(month: u32, seg: Option<&str>, h: ScoreHistogram) -> GroupHistogram {
        GroupHistogram {
            key: GroupKey {
                metric: "nps".into(),
                period_start: NaiveDate::from_ymd_opt(2025, month, 1),
                segment: seg.map(|s| vec![Some(s.to_string())]).unwrap_or_default(),
            },
            histogram: h,
        }
    }

    fn opts() -> ReportOptions {
        ReportOptions {
            table: TableOptions {
                estimate: EstimateOptions::default(),
                period: Some(Period::Month),
                min_n: 30,
            },
            period: Period::Month,
            alpha: 0.05,
            segment_window: 3,
            order: vec!["nps".into()],
        }
    }

    /// Regions A and B answer identically every month; C drops in the last three months. The
    /// report finds C's drop, dated, and says nothing about A or B.
    #[test]
    fn planted_drop_is_found_and_identical_segments_are_not() {
        let mut by_region = Vec::new();
        let mut overall = Vec::new();
        for month in 1..=6 {
            let c = if month <= 3 {
                nps(40, 35, 25)
            } else {
                nps(20, 30, 50)
            };
            let mut all = ScoreHistogram::default();
            for (name, h) in [("A", nps(40, 35, 25)), ("B", nps(40, 35, 25)), ("C", c)] {
                all.merge(&h);
                by_region.push(g(month, Some(name), h));
            }
            overall.push(g(month, None, all));
        }
        let input = ReportInput {
            overall: &overall,
            by_dimension: vec![("region".into(), &by_region)],
        };
        let r = build_report(&input, &MetricCatalog::builtin(), &opts());
        assert_eq!(r.current_period.as_deref(), Some("2025-06"));
        assert_eq!(r.partial_period, None);
        let about: Vec<&Highlight> = r
            .highlights
            .iter()
            .filter(|h| h.dimension.is_some())
            .collect();
        assert_eq!(about.len(), 1, "{:#?}", r.highlights);
        let h = about[0];
        assert_eq!(
            (h.kind, h.segment.as_deref(), h.direction),
            (HighlightKind::SegmentShift, Some("C"), Direction::Down)
        );
        // NPS of C: 15 in Jan-Mar, -30 in Apr-Jun; the largest step is Mar to Apr.
        assert!((h.change.difference + 45.0).abs() < 1e-9, "{h:?}");
        assert!(
            h.text.contains("Jan–Mar 2025") && h.text.contains("Apr–Jun 2025"),
            "{}",
            h.text
        );
        assert!(h.text.contains("from Mar 2025 to Apr 2025"), "{}", h.text);
        // Overall, the drop is diluted by A and B: NPS 15 -> 0 between March and April,
        // p < 0.05 on its own but not after correcting for the five month-to-month tests.
        let t = &r.trends[0];
        let apr = t.points[3].vs_previous.as_ref().unwrap();
        assert!((apr.difference + 15.0).abs() < 1e-9);
        assert!(apr.p_value < 0.05 && !apr.significant, "{apr:?}");
        assert_eq!(t.points[4].vs_previous.as_ref().unwrap().difference, 0.0);
        // Segment rows are sorted by gap: C first (lowest).
        let seg = &r.segments[0];
        assert_eq!(seg.rows[0].row.segment["region"].as_deref(), Some("C"));
    }

    /// Every region drops alike: the drop is a whole-metric finding, not a finding about any
    /// region (each region's change equals the change in the rest).
    #[test]
    fn a_drop_shared_by_every_segment_is_not_a_segment_shift() {
        let mut by_region = Vec::new();
        let mut overall = Vec::new();
        for month in 1..=6 {
            let h = if month <= 3 {
                nps(120, 105, 75)
            } else {
                nps(60, 90, 150)
            };
            let mut all = ScoreHistogram::default();
            for name in ["A", "B", "C"] {
                all.merge(&h);
                by_region.push(g(month, Some(name), h.clone()));
            }
            overall.push(g(month, None, all));
        }
        let input = ReportInput {
            overall: &overall,
            by_dimension: vec![("region".into(), &by_region)],
        };
        let r = build_report(&input, &MetricCatalog::builtin(), &opts());
        assert!(
            r.highlights
                .iter()
                .all(|h| h.kind != HighlightKind::SegmentShift),
            "{:#?}",
            r.highlights
        );
        assert!(
            r.highlights.iter().any(|h| h.dimension.is_none()),
            "the overall drop is reported: {:#?}",
            r.highlights
        );
    }

    #[test]
    fn a_thin_last_period_is_left_out() {
        let mut overall = Vec::new();
        for month in 1..=5 {
            overall.push(g(month, None, nps(40, 35, 25)));
        }
        overall.push(g(6, None, nps(4, 3, 2)));
        let input = ReportInput {
            overall: &overall,
            by_dimension: vec![],
        };
        let r = build_report(&input, &MetricCatalog::builtin(), &opts());
        assert_eq!(r.partial_period.as_deref(), Some("2025-06"));
        assert_eq!(r.current_period.as_deref(), Some("2025-05"));
        // Identical periods: nothing to report.
        assert!(r.highlights.is_empty(), "{:#?}", r.highlights);
    }

    #[test]
    fn a_last_period_with_under_half_the_median_is_partial() {
        assert!(!last_is_partial(&[100, 40]));
        assert!(last_is_partial(&[100, 90, 110, 40]));
        assert!(!last_is_partial(&[100, 90, 110, 50]));
        // The median of the six periods before, not the one just before: after one unusually
        // busy month a normal month is not taken for a partial one.
        assert!(!last_is_partial(&[100, 100, 100, 100, 100, 250, 90]));
        assert!(last_is_partial(&[100, 100, 100, 100, 100, 100, 49]));
    }
}
