//! Explain a change: why did the metric move between two periods?
//!
//! 1. **Is the change real?** The two periods are compared with the metric's own test (NPS: the
//!    Wald z-test of two NPS values; shares: two-proportion z; means: Welch). A change that is
//!    not significant is reported as noise and nothing is singled out.
//! 2. **Which segments?** For every dimension the change is split into mix (segments' shares
//!    of answers shifted) and rate (the metric changed within segments) with the symmetric
//!    Kitagawa / Das Gupta decomposition ([`cxray_stats::decompose`]); each segment's part sums
//!    with the others to the change exactly. Each segment's own change is tested.
//! 3. **Which themes?** Every answer contributes (value − value before)/k to each of the k
//!    themes of its comment, answers without a comment and comments without a theme forming
//!    their own parts; a theme's contribution in a period is the sum over its answers divided
//!    by all answers of the period, so the parts sum to the change exactly. Its change between
//!    the periods is tested by a z-test from the per-answer second moments.
//!
//! All segment and theme tests form one family, adjusted by Benjamini-Hochberg; only
//! significant parts in the direction of the change are ranked as explanations, each with the
//! share of the change it accounts for.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::period::{GroupHistogram, Period};
use cxray_metrics::{EstimateOptions, MetricSpec, ScoreHistogram};
use cxray_stats::decompose::{SegmentPeriods, mix_rate};
use cxray_stats::dist::normal_two_sided_p;
use cxray_stats::{Adjustment, adjust_p_values};
use serde::Serialize;

use crate::report::fmt_p;

/// Label of answers without a value of the dimension.
pub const MISSING: &str = "(missing)";
/// Label of answers without a comment, and of comments without a theme.
pub const NO_COMMENT: &str = "(no comment)";
pub const NO_THEME: &str = crate::themes::NO_THEME;

/// What is explained.
pub struct ExplainInput<'a> {
    pub spec: &'a MetricSpec,
    pub period: Period,
    /// First days of the periods compared: before, and after (one period each, or a window of
    /// several, e.g. the last three months against the three before).
    pub before: Vec<NaiveDate>,
    pub after: Vec<NaiveDate>,
    /// The metric's histograms by period (no segment).
    pub overall: &'a [GroupHistogram],
    /// By period and one dimension's value.
    pub by_dimension: Vec<(String, &'a [GroupHistogram])>,
    /// By period and the comment's theme combination (`a|b`; empty = no theme; missing = no
    /// comment), when comments were analysed.
    pub themes: Option<&'a [GroupHistogram]>,
}

/// Settings of an explanation.
#[derive(Debug, Clone, Copy)]
pub struct ExplainOptions {
    pub estimate: EstimateOptions,
    pub alpha: f64,
    /// Segments with fewer answers than this in either period are not tested.
    pub min_n: u64,
}

/// One segment's part of the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SegmentPart {
    pub segment: String,
    pub n_before: u64,
    pub n_after: u64,
    pub share_before: f64,
    pub share_after: f64,
    pub value_before: Option<f64>,
    pub value_after: Option<f64>,
    /// Points of the change from the segment's share shifting.
    pub mix: f64,
    /// Points of the change from the metric changing within the segment.
    pub rate: f64,
    pub total: f64,
    /// total / overall change.
    pub share_of_change: f64,
    /// Test of the segment's own change (None when too small).
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub significant: bool,
}

/// The change split across one dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionPart {
    pub dimension: String,
    pub mix: f64,
    pub rate: f64,
    /// Segments by |total|, largest first.
    pub segments: Vec<SegmentPart>,
}

/// One theme's part of the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemePart {
    pub theme: String,
    /// Answers mentioning the theme in each period.
    pub n_before: u64,
    pub n_after: u64,
    pub contribution_before: f64,
    pub contribution_after: f64,
    pub change: f64,
    pub share_of_change: f64,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub significant: bool,
}

/// What an explanation of a change is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExplanationKind {
    /// A segment of a dimension.
    Segment,
    /// A comment theme.
    Theme,
    /// A comment theme within the segment the change is concentrated in.
    SegmentTheme,
}

/// A ranked explanation: a significant segment or theme in the direction of the change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub kind: ExplanationKind,
    pub dimension: Option<String>,
    pub name: String,
    pub points: f64,
    pub share_of_change: f64,
    pub q_value: f64,
    pub text: String,
}

/// The explanation of a change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeExplanation {
    pub metric: String,
    pub before_period: String,
    pub after_period: String,
    /// First days of the periods before and after.
    #[serde(skip)]
    pub starts: [Vec<NaiveDate>; 2],
    pub n_before: u64,
    pub n_after: u64,
    pub value_before: f64,
    pub value_after: f64,
    pub change: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub significant: bool,
    pub confidence: f64,
    pub dimensions: Vec<DimensionPart>,
    pub themes: Vec<ThemePart>,
    /// The themes behind the change of the segment it is most concentrated in.
    pub focus: Option<FocusThemes>,
    /// Significant parts (in the direction of the change when it is real), largest first.
    pub explanations: Vec<Explanation>,
    pub summary: String,
}

fn hist_of<'a>(
    groups: &'a [GroupHistogram],
    metric: &'a str,
    starts: &'a [NaiveDate],
) -> impl Iterator<Item = &'a GroupHistogram> {
    groups.iter().filter(move |g| {
        g.key.metric == metric && g.key.period_start.is_some_and(|s| starts.contains(&s))
    })
}

/// The label of one period or a window of them.
fn span_label(p: Period, starts: &[NaiveDate]) -> String {
    match (starts.iter().min(), starts.iter().max()) {
        (Some(a), Some(b)) if a == b => p.label(*a),
        (Some(a), Some(b)) => format!("{}–{}", p.label(*a), p.label(*b)),
        _ => String::new(),
    }
}

/// Explains the change of a metric between two periods; `None` when either period has no
/// answers.
pub fn explain(input: &ExplainInput, opts: &ExplainOptions) -> Option<ChangeExplanation> {
    let spec = input.spec;
    let merged = |starts: &[NaiveDate]| {
        let mut h = ScoreHistogram::default();
        for g in hist_of(input.overall, &spec.name, starts) {
            h.merge(&g.histogram);
        }
        h
    };
    let (hb, ha) = (merged(&input.before), merged(&input.after));
    let (nb, na) = (hb.n(), ha.n());
    let (vb, _) = spec.value_and_unit_variance(&hb)?;
    let (va, _) = spec.value_and_unit_variance(&ha)?;
    let change = va - vb;
    let cmp = spec.compare(&ha, &hb, &opts.estimate).ok();
    let (ci_low, ci_high, p_value) = cmp.as_ref().map_or((f64::NAN, f64::NAN, 1.0), |c| {
        (c.interval.low, c.interval.high, c.p_value)
    });
    let significant = p_value < opts.alpha;
    let share = |x: f64| if change != 0.0 { x / change } else { 0.0 };

    // Segments of every dimension.
    let mut dimensions = Vec::new();
    for (dim, groups) in &input.by_dimension {
        let mut seg: BTreeMap<String, [ScoreHistogram; 2]> = BTreeMap::new();
        for (k, starts) in [&input.before, &input.after].into_iter().enumerate() {
            for g in hist_of(groups, &spec.name, starts) {
                let name = g
                    .key
                    .segment
                    .first()
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| MISSING.to_string());
                seg.entry(name).or_default()[k].merge(&g.histogram);
            }
        }
        // A dimension with one value for this metric (say, the survey that asks it) splits
        // nothing: its one segment would "explain" the whole change.
        if seg.len() < 2 {
            continue;
        }
        let names: Vec<&String> = seg.keys().collect();
        let periods: Vec<SegmentPeriods> = seg
            .values()
            .map(|[b, a]| SegmentPeriods {
                size_before: b.n() as f64,
                rate_before: spec.value_and_unit_variance(b).map(|v| v.0),
                size_after: a.n() as f64,
                rate_after: spec.value_and_unit_variance(a).map(|v| v.0),
            })
            .collect();
        let Ok(d) = mix_rate(&periods) else { continue };
        let mut segments: Vec<SegmentPart> = names
            .iter()
            .zip(seg.values())
            .zip(&d.segments)
            .map(|((name, [b, a]), c)| {
                let testable = b.n() >= opts.min_n.max(2) && a.n() >= opts.min_n.max(2);
                let p = testable
                    .then(|| spec.compare(a, b, &opts.estimate).ok().map(|c| c.p_value))
                    .flatten();
                SegmentPart {
                    segment: (*name).clone(),
                    n_before: b.n(),
                    n_after: a.n(),
                    share_before: c.share_before,
                    share_after: c.share_after,
                    value_before: spec.value_and_unit_variance(b).map(|v| v.0),
                    value_after: spec.value_and_unit_variance(a).map(|v| v.0),
                    mix: c.mix,
                    rate: c.rate,
                    total: c.total,
                    share_of_change: share(c.total),
                    p_value: p,
                    q_value: None,
                    significant: false,
                }
            })
            .collect();
        segments.sort_by(|a, b| b.total.abs().total_cmp(&a.total.abs()));
        dimensions.push(DimensionPart {
            dimension: dim.clone(),
            mix: d.mix,
            rate: d.rate,
            segments,
        });
    }

    // Themes: per theme, sums of g and g² with g = (value − value before)/k.
    let themes = match input.themes {
        Some(groups) => theme_parts(
            spec,
            groups,
            |_| true,
            [&input.before, &input.after],
            vb,
            [nb, na],
            opts.min_n,
        ),
        None => Vec::new(),
    };
    let mut e = ChangeExplanation {
        metric: spec.name.clone(),
        before_period: span_label(input.period, &input.before),
        after_period: span_label(input.period, &input.after),
        starts: [input.before.clone(), input.after.clone()],
        n_before: nb,
        n_after: na,
        value_before: vb,
        value_after: va,
        change,
        ci_low,
        ci_high,
        p_value,
        significant,
        confidence: opts.estimate.confidence.level(),
        dimensions,
        themes,
        focus: None,
        explanations: Vec::new(),
        summary: String::new(),
    };
    // One family of tests: every segment and theme (not the parts for missing values).
    {
        let mut qs: Vec<(&mut Option<f64>, &mut bool)> = Vec::new();
        let mut raw = Vec::new();
        for d in &mut e.dimensions {
            for s in &mut d.segments {
                if let Some(p) = s.p_value {
                    raw.push(p);
                    qs.push((&mut s.q_value, &mut s.significant));
                }
            }
        }
        settle_themes(&mut e.themes, &mut raw, &mut qs);
        if let Ok(q) = adjust_p_values(&raw, Adjustment::BenjaminiHochberg) {
            for ((qv, sig), q) in qs.into_iter().zip(q) {
                *qv = Some(q);
                *sig = q <= opts.alpha;
            }
        }
    }
    summarize(&mut e, spec, opts);
    Some(e)
}

/// Adds the themes' tests to a family (not the parts without comment or theme).
fn settle_themes<'a>(
    themes: &'a mut [ThemePart],
    raw: &mut Vec<f64>,
    qs: &mut Vec<(&'a mut Option<f64>, &'a mut bool)>,
) {
    for t in themes {
        if t.theme == NO_COMMENT || t.theme == NO_THEME {
            continue;
        }
        if let Some(p) = t.p_value {
            raw.push(p);
            qs.push((&mut t.q_value, &mut t.significant));
        }
    }
}

/// Theme contributions over the groups whose segment key (after the theme combination, which
/// is last) passes `keep`. `base` is the value before; `n` the answers of each period.
fn theme_parts(
    spec: &MetricSpec,
    groups: &[GroupHistogram],
    keep: impl Fn(&[Option<String>]) -> bool,
    starts: [&[NaiveDate]; 2],
    base: f64,
    n: [u64; 2],
    min_n: u64,
) -> Vec<ThemePart> {
    #[derive(Default, Clone, Copy)]
    struct Acc {
        n: u64,
        s: f64,
        q: f64,
    }
    let mut acc: BTreeMap<String, [Acc; 2]> = BTreeMap::new();
    for (k, start) in starts.into_iter().enumerate() {
        for g in hist_of(groups, &spec.name, start) {
            let Some((combo, rest)) = g.key.segment.split_last() else {
                continue;
            };
            if !keep(rest) {
                continue;
            }
            let parts: Vec<String> = match combo {
                None => vec![NO_COMMENT.to_string()],
                Some(c) if c.is_empty() => vec![NO_THEME.to_string()],
                Some(c) => c
                    .split(THEME_SEPARATOR)
                    .filter(|t| !t.is_empty())
                    .map(String::from)
                    .collect(),
            };
            let kf = parts.len().max(1) as f64;
            for t in parts {
                let a = &mut acc.entry(t).or_default()[k];
                for s in &g.histogram.scores {
                    let x = (spec.answer_value(s.score) - base) / kf;
                    a.n += s.count;
                    a.s += s.count as f64 * x;
                    a.q += s.count as f64 * x * x;
                }
            }
        }
    }
    let mut out: Vec<ThemePart> = Vec::new();
    for (theme, [b, a]) in acc {
        let c = |x: &Acc, n: u64| -> (f64, f64) {
            if n == 0 {
                return (0.0, 0.0);
            }
            let n = n as f64;
            let m = x.s / n;
            (m, ((x.q / n - m * m).max(0.0)) / n)
        };
        let (cb, varb) = c(&b, n[0]);
        let (ca, vara) = c(&a, n[1]);
        let se = (varb + vara).sqrt();
        // The contribution is a mean over all answers of the period: tested when both periods
        // have enough answers and the theme is mentioned at least 5 times.
        let testable = n[0].min(n[1]) >= min_n.max(2) && b.n.max(a.n) >= 5 && se > 0.0;
        out.push(ThemePart {
            theme,
            n_before: b.n,
            n_after: a.n,
            contribution_before: cb,
            contribution_after: ca,
            change: ca - cb,
            share_of_change: 0.0,
            p_value: testable.then(|| normal_two_sided_p((ca - cb) / se)),
            q_value: None,
            significant: false,
        });
    }
    let total: f64 = out.iter().map(|t| t.change).sum();
    for t in &mut out {
        t.share_of_change = if total != 0.0 { t.change / total } else { 0.0 };
    }
    out.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()));
    out
}

/// The segment the change is most concentrated in, for a drill-down by theme: the significant
/// segment with the largest rate effect (in the change's direction when the change is real).
pub fn focus_segment(e: &ChangeExplanation) -> Option<(String, String)> {
    e.dimensions
        .iter()
        .flat_map(|d| d.segments.iter().map(move |s| (d, s)))
        .filter(|(_, s)| s.significant && s.segment != MISSING)
        .filter(|(_, s)| !e.significant || s.rate * e.change > 0.0)
        .max_by(|a, b| a.1.rate.abs().total_cmp(&b.1.rate.abs()))
        .map(|(d, s)| (d.dimension.clone(), s.segment.clone()))
}

/// Themes behind one segment's own change (the drill-down of [`focus_segment`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FocusThemes {
    pub dimension: String,
    pub segment: String,
    /// The segment's change.
    pub change: f64,
    pub themes: Vec<ThemePart>,
}

/// Adds the themes behind the focus segment's change. `groups` are histograms keyed by
/// [segment value, theme combination] for the focus dimension.
pub fn drill_down(
    e: &mut ChangeExplanation,
    spec: &MetricSpec,
    groups: &[GroupHistogram],
    opts: &ExplainOptions,
) {
    let Some((dim, seg)) = focus_segment(e) else {
        return;
    };
    let Some(part) = e
        .dimensions
        .iter()
        .find(|d| d.dimension == dim)
        .and_then(|d| d.segments.iter().find(|s| s.segment == seg))
    else {
        return;
    };
    let (Some(vb), Some(va)) = (part.value_before, part.value_after) else {
        return;
    };
    let starts = e.starts.clone();
    let mut themes = theme_parts(
        spec,
        groups,
        |rest| rest.first().cloned().flatten().as_deref() == Some(seg.as_str()),
        [&starts[0], &starts[1]],
        vb,
        [part.n_before, part.n_after],
        opts.min_n,
    );
    let mut raw = Vec::new();
    let mut qs = Vec::new();
    settle_themes(&mut themes, &mut raw, &mut qs);
    if let Ok(q) = adjust_p_values(&raw, Adjustment::BenjaminiHochberg) {
        for ((qv, sig), q) in qs.into_iter().zip(q) {
            *qv = Some(q);
            *sig = q <= opts.alpha;
        }
    }
    e.focus = Some(FocusThemes {
        dimension: dim,
        segment: seg,
        change: va - vb,
        themes,
    });
    summarize(e, spec, opts);
}

fn unit(spec: &MetricSpec) -> &'static str {
    spec.difference_unit().unwrap_or("points on the scale")
}

/// Ranks the explanations and writes the summary.
fn summarize(e: &mut ChangeExplanation, spec: &MetricSpec, opts: &ExplainOptions) {
    let fmt = |x: f64| crate::report::fmt_value(spec, x);
    let unit = unit(spec);
    let name = spec.name.to_uppercase();
    let mut explanations = Vec::new();
    for d in &e.dimensions {
        for s in &d.segments {
            let aligned = !e.significant || s.total * e.change > 0.0;
            if !(s.significant && aligned && s.segment != MISSING) {
                continue;
            }
            let share = if e.significant {
                format!(" ({:.0}% of the change)", 100.0 * s.share_of_change)
            } else {
                String::new()
            };
            explanations.push(Explanation {
                kind: ExplanationKind::Segment,
                dimension: Some(d.dimension.clone()),
                name: s.segment.clone(),
                points: s.total,
                share_of_change: s.share_of_change,
                q_value: s.q_value.unwrap_or(1.0),
                text: format!(
                    "{} {}: {:+.1} {unit} of the overall {name}{share}; within it {name} went \
                     from {} to {} (rate {:+.1}, mix {:+.1}; n {} → {}, q {})",
                    d.dimension,
                    s.segment,
                    s.total,
                    s.value_before.map_or("—".into(), fmt),
                    s.value_after.map_or("—".into(), fmt),
                    s.rate,
                    s.mix,
                    s.n_before,
                    s.n_after,
                    fmt_p(s.q_value.unwrap_or(1.0))
                ),
            });
        }
    }
    for t in &e.themes {
        if t.significant && (!e.significant || t.change * e.change > 0.0) {
            let share = if e.significant {
                format!(" ({:.0}% of the change)", 100.0 * t.share_of_change)
            } else {
                String::new()
            };
            explanations.push(Explanation {
                kind: ExplanationKind::Theme,
                dimension: None,
                name: t.theme.clone(),
                points: t.change,
                share_of_change: t.share_of_change,
                q_value: t.q_value.unwrap_or(1.0),
                text: format!(
                    "comments on \"{}\": {:+.1} {unit}{share} (in {} → {} answers, q {})",
                    t.theme,
                    t.change,
                    t.n_before,
                    t.n_after,
                    fmt_p(t.q_value.unwrap_or(1.0))
                ),
            });
        }
    }
    if let Some(f) = &e.focus {
        for t in &f.themes {
            if t.significant && t.change * f.change > 0.0 {
                explanations.push(Explanation {
                    kind: ExplanationKind::SegmentTheme,
                    dimension: Some(f.dimension.clone()),
                    name: t.theme.clone(),
                    points: t.change,
                    share_of_change: t.share_of_change,
                    q_value: t.q_value.unwrap_or(1.0),
                    text: format!(
                        "in {} {}, comments on \"{}\" account for {:+.1} of its {:+.1} {unit} \
                         ({:.0}%; in {} → {} answers, q {})",
                        f.dimension,
                        f.segment,
                        t.theme,
                        t.change,
                        f.change,
                        100.0 * t.share_of_change,
                        t.n_before,
                        t.n_after,
                        fmt_p(t.q_value.unwrap_or(1.0))
                    ),
                });
            }
        }
    }
    explanations.sort_by(|a, b| b.points.abs().total_cmp(&a.points.abs()));
    let pct = 100.0 * opts.estimate.confidence.level();
    let (bp, ap) = (&e.before_period, &e.after_period);
    let mut s = if e.significant {
        format!(
            "{name} {} {:.1} {unit} from {bp} to {ap} ({} → {}; {pct:.0}% CI of the change \
             {:+.1} to {:+.1}, p {}).",
            if e.change < 0.0 { "fell" } else { "rose" },
            e.change.abs(),
            fmt(e.value_before),
            fmt(e.value_after),
            e.ci_low,
            e.ci_high,
            fmt_p(e.p_value)
        )
    } else {
        format!(
            "Overall {name} changed by {:+.1} {unit} from {bp} to {ap} ({} → {}; p {}), within \
             noise.",
            e.change,
            fmt(e.value_before),
            fmt(e.value_after),
            fmt_p(e.p_value)
        )
    };
    let best = |k: ExplanationKind| explanations.iter().find(|x| x.kind == k);
    let picked: Vec<&Explanation> = [
        best(ExplanationKind::Segment),
        best(ExplanationKind::SegmentTheme),
        best(ExplanationKind::Theme),
    ]
    .into_iter()
    .flatten()
    .collect();
    if picked.is_empty() {
        s.push_str(if e.significant {
            " No single segment or theme changed significantly: the change is spread across them."
        } else {
            " No segment or theme changed significantly either."
        });
    } else if !e.significant {
        s.push_str(" But parts of it moved significantly (offset elsewhere):");
    }
    for x in picked {
        s.push(' ');
        let mut t = x.text.clone();
        if let Some(c) = t.get_mut(0..1) {
            c.make_ascii_uppercase();
        }
        s.push_str(&t);
        s.push('.');
    }
    e.explanations = explanations;
    e.summary = s;
}

/// The separator of theme combinations in the grouped key (as `cxray-ingest` writes them).
const THEME_SEPARATOR: char = '|';

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_metrics::period::GroupKey;
    use cxray_stats::Confidence;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn g(start: &str, seg: Option<&str>, counts: &[(f64, u64)]) -> GroupHistogram {
        let mut h = ScoreHistogram::default();
        for &(s, c) in counts {
            h.add(s, c);
        }
        GroupHistogram {
            key: GroupKey {
                metric: "nps".into(),
                period_start: Some(d(start)),
                segment: vec![seg.map(String::from)],
            },
            histogram: h,
        }
    }

    fn opts() -> ExplainOptions {
        ExplainOptions {
            estimate: EstimateOptions {
                confidence: Confidence::default(),
                ..Default::default()
            },
            alpha: 0.05,
            min_n: 30,
        }
    }

    #[test]
    fn a_segment_drop_is_found_and_parts_add_up() {
        // North: 100 answers each month; NPS +40 (60 promoters, 20 detractors) in January,
        // -40 in February. South: 300 answers, NPS +20 both months.
        let region = vec![
            g(
                "2025-01-01",
                Some("North"),
                &[(10.0, 60), (8.0, 20), (3.0, 20)],
            ),
            g(
                "2025-02-01",
                Some("North"),
                &[(10.0, 20), (8.0, 20), (3.0, 60)],
            ),
            g(
                "2025-01-01",
                Some("South"),
                &[(9.0, 120), (7.0, 120), (5.0, 60)],
            ),
            g(
                "2025-02-01",
                Some("South"),
                &[(9.0, 120), (7.0, 120), (5.0, 60)],
            ),
        ];
        let mut overall = region.clone();
        for x in &mut overall {
            x.key.segment.clear();
        }
        // Themes: in February 50 North detractors mention "delivery" alone, 10 with "price".
        let themes = vec![
            g(
                "2025-01-01",
                None,
                &[(10.0, 180), (8.0, 140), (5.0, 60), (3.0, 20)],
            ),
            g(
                "2025-02-01",
                None,
                &[(10.0, 20), (9.0, 120), (8.0, 20), (7.0, 120), (5.0, 60)],
            ),
            g("2025-02-01", Some("delivery"), &[(3.0, 50)]),
            g("2025-02-01", Some("delivery|price"), &[(3.0, 10)]),
        ];
        // Every answer comes from one survey: that dimension explains nothing.
        let mut survey = overall.clone();
        for x in &mut survey {
            x.key.segment = vec![Some("relationship".into())];
        }
        let spec = MetricSpec::nps();
        let e = explain(
            &ExplainInput {
                spec: &spec,
                period: Period::Month,
                before: vec![d("2025-01-01")],
                after: vec![d("2025-02-01")],
                overall: &overall,
                by_dimension: vec![("survey".into(), &survey), ("region".into(), &region)],
                themes: Some(&themes),
            },
            &opts(),
        )
        .unwrap();
        assert!(e.dimensions.iter().all(|d| d.dimension != "survey"));
        // Overall: (40 + 60)/400 → +25 before; (-40 + 60)/400 → +5 after.
        assert!((e.value_before - 25.0).abs() < 1e-9);
        assert!((e.value_after - 5.0).abs() < 1e-9);
        assert!(e.significant);
        let dim = &e.dimensions[0];
        let north = dim.segments.iter().find(|s| s.segment == "North").unwrap();
        // Shares unchanged (25%): all rate, 0.25 × -80 = -20 points.
        assert!((north.rate + 20.0).abs() < 1e-9 && north.mix.abs() < 1e-12);
        assert!((dim.mix + dim.rate - e.change).abs() < 1e-9);
        assert!(north.significant);
        let south = dim.segments.iter().find(|s| s.segment == "South").unwrap();
        assert!(!south.significant && south.total.abs() < 1e-12);
        // Theme parts add up to the change; delivery takes 50 + 10/2 detractors at
        // (-100 - 25) each over 400 answers.
        let sum: f64 = e.themes.iter().map(|t| t.change).sum();
        assert!((sum - e.change).abs() < 1e-9);
        let delivery = e.themes.iter().find(|t| t.theme == "delivery").unwrap();
        assert!((delivery.change - 55.0 * -125.0 / 400.0).abs() < 1e-9);
        assert!(delivery.significant);
        assert_eq!(e.explanations[0].name, "North");
        assert!(e.summary.contains("North") && e.summary.contains("delivery"));
        // Drill-down: within North (before +40), delivery's 55 detractor-equivalents at
        // (-100 - 40) over North's 100 answers.
        let seg = |start: &str, region: &str, combo: Option<&str>, counts: &[(f64, u64)]| {
            let mut x = g(start, combo, counts);
            x.key.segment.insert(0, Some(region.to_string()));
            x
        };
        let by_region_theme = vec![
            seg(
                "2025-01-01",
                "North",
                None,
                &[(10.0, 60), (8.0, 20), (3.0, 20)],
            ),
            seg("2025-02-01", "North", None, &[(10.0, 20), (8.0, 20)]),
            seg("2025-02-01", "North", Some("delivery"), &[(3.0, 50)]),
            seg("2025-02-01", "North", Some("delivery|price"), &[(3.0, 10)]),
            seg("2025-02-01", "South", Some("delivery"), &[(3.0, 60)]),
        ];
        let mut e = e;
        drill_down(&mut e, &spec, &by_region_theme, &opts());
        let f = e.focus.as_ref().unwrap();
        assert_eq!(
            (f.dimension.as_str(), f.segment.as_str()),
            ("region", "North")
        );
        let delivery = f.themes.iter().find(|t| t.theme == "delivery").unwrap();
        assert!((delivery.change - 55.0 * -140.0 / 100.0).abs() < 1e-9);
        let sum: f64 = f.themes.iter().map(|t| t.change).sum();
        assert!((sum - f.change).abs() < 1e-9);
        assert!(
            e.explanations
                .iter()
                .any(|x| x.kind == ExplanationKind::SegmentTheme && x.name == "delivery")
        );
    }

    #[test]
    fn a_change_within_noise_singles_nothing_out() {
        let overall = vec![
            g("2025-01-01", None, &[(10.0, 50), (8.0, 30), (3.0, 20)]),
            g("2025-02-01", None, &[(10.0, 48), (8.0, 31), (3.0, 21)]),
        ];
        let spec = MetricSpec::nps();
        let e = explain(
            &ExplainInput {
                spec: &spec,
                period: Period::Month,
                before: vec![d("2025-01-01")],
                after: vec![d("2025-02-01")],
                overall: &overall,
                by_dimension: vec![("all".into(), &overall)],
                themes: None,
            },
            &opts(),
        )
        .unwrap();
        assert!(!e.significant);
        assert!(e.explanations.is_empty());
        assert!(e.summary.contains("within noise"));
        assert!(e.summary.contains("No segment or theme"));
    }
}
