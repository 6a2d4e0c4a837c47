//! What customers write about: theme shares, emerging themes and each theme's impact on the
//! metrics, from score histograms grouped by the `comment_themes` column (the sorted set of a
//! comment's themes, `|`-separated; empty when none, missing when there is no comment).
//!
//! Statistical choices:
//! - **Shares** count comments of one *base* metric (the metric with the most comments), so a
//!   respondent whose comment is attached to several answers counts once. Intervals are Wilson.
//! - **Emerging themes** compare the share of comments mentioning a theme in the latest window
//!   of periods with the same number of periods before it (two-proportion z-test, BH across all
//!   themes). Within a dimension, a segment is reported only when its rise is larger than the
//!   rise in the rest of the comments (difference-in-differences z-test, BH across all themes
//!   and segments): a theme that grows everywhere is not a finding about any one segment.
//! - **Impact**: each metric among comments with the theme vs comments without it, over the
//!   window, with the metric's own test (BH across themes and metrics). `impact` is
//!   `share × (value with − value without)`: how much higher the metric among commenters would be
//!   if the theme's comments had scored like the others (negative: the theme pulls it down).
//!   Exact for NPS, means and proportions, which are all averages of per-answer values.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::period::{GroupHistogram, GroupKey, Period};
use cxray_metrics::{EstimateOptions, MetricCatalog, MetricSpec, ScoreHistogram};
use cxray_stats::{
    Confidence, DifferenceInterval, Proportion, ProportionInterval, two_proportion_test,
    z_test_from_se,
};
use serde::Serialize;

use crate::report::{
    Change, Direction, Highlight, HighlightKind, adjust_family, fmt_pq, fmt_value, span_words,
};

/// Segment label of answers whose comment has no theme.
pub const NO_THEME: &str = "(no theme)";

/// Splits the `comment_themes` key of grouped histograms into one group per theme, so a
/// comment with two themes counts in both ("NPS by theme" overlaps). `idx` is the position of
/// the themes column in the segment key. Comments without a theme become [`NO_THEME`]; answers
/// without a comment keep a missing key.
pub fn explode_themes(groups: &[GroupHistogram], idx: usize) -> Vec<GroupHistogram> {
    type Key = (String, Option<NaiveDate>, Vec<Option<String>>);
    let mut out: BTreeMap<Key, ScoreHistogram> = BTreeMap::new();
    for g in groups {
        let mut add = |v: Option<String>| {
            let mut seg = g.key.segment.clone();
            seg[idx] = v;
            out.entry((g.key.metric.clone(), g.key.period_start, seg))
                .or_default()
                .merge(&g.histogram);
        };
        match g.key.segment.get(idx).cloned().flatten() {
            None => add(None),
            Some(combo) if combo.is_empty() => add(Some(NO_THEME.to_string())),
            Some(combo) => {
                for t in combo.split('|').filter(|t| !t.is_empty()) {
                    add(Some(t.to_string()));
                }
            }
        }
    }
    out.into_iter()
        .map(
            |((metric, period_start, segment), histogram)| GroupHistogram {
                key: GroupKey {
                    metric,
                    period_start,
                    segment,
                },
                histogram,
            },
        )
        .collect()
}

/// Histograms the themes section is built from.
pub struct ThemeInput<'a> {
    /// Grouped by metric, period and `comment_themes`.
    pub overall: &'a [GroupHistogram],
    /// For each dimension, grouped by metric, period, that dimension and `comment_themes`.
    pub by_dimension: Vec<(String, &'a [GroupHistogram])>,
    /// Theme names, taxonomy first.
    pub themes: Vec<String>,
    /// Names of the themes discovered in the comments.
    pub discovered: Vec<String>,
}

/// Settings of the themes section.
#[derive(Debug, Clone)]
pub struct ThemeOptions {
    pub period: Period,
    /// Periods in the window (and in the comparison window before it).
    pub window: usize,
    pub alpha: f64,
    pub confidence: Confidence,
    pub estimate: EstimateOptions,
    /// Fewer comments than this in a scope: no test.
    pub min_n: u64,
    /// A period label to leave out (in progress).
    pub exclude_period: Option<String>,
}

/// One theme's share of comments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeShare {
    pub theme: String,
    /// Discovered in the comments rather than taken from the taxonomy.
    pub discovered: bool,
    /// Comments mentioning the theme in the window.
    pub mentions: u64,
    /// Share of the window's comments (0..1) with its Wilson interval.
    pub share: f64,
    pub share_low: f64,
    pub share_high: f64,
    /// Share in the window before.
    pub share_before: Option<f64>,
    /// Mentions and comments per period, oldest first: (period label, mentions, comments).
    pub series: Vec<(String, u64, u64)>,
    /// Comments quoted verbatim (filled in by the caller, which has the text).
    pub examples: Vec<String>,
}

/// A theme whose share of comments rose significantly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmergingTheme {
    pub theme: String,
    /// Set when the rise is concentrated in one segment.
    pub dimension: Option<String>,
    pub segment: Option<String>,
    pub share_before: f64,
    pub share_now: f64,
    pub mentions_now: u64,
    pub comments_now: u64,
    /// Segment findings: the rise in the rest of the comments.
    pub rest_before: Option<f64>,
    pub rest_now: Option<f64>,
    /// The test (share difference in points, or difference-in-differences for a segment).
    pub change: Change,
    pub text: String,
}

/// A theme's association with a metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemeImpact {
    pub theme: String,
    pub metric: String,
    pub n_with: u64,
    pub n_without: u64,
    pub value_with: f64,
    pub value_without: f64,
    /// with − without, tested.
    pub change: Change,
    /// share × (with − without), in the metric's units.
    pub impact: f64,
    pub text: String,
}

/// The themes section of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThemesSection {
    /// The metric whose comments are counted for shares.
    pub base_metric: String,
    pub window: String,
    /// First day of the window (YYYY-MM-DD).
    pub window_start: String,
    pub before: String,
    /// Comments (of the base metric) in the window.
    pub comments: u64,
    /// Every theme with at least one mention in the window, most mentioned first.
    pub themes: Vec<ThemeShare>,
    /// Significant rises, largest first.
    pub emerging: Vec<EmergingTheme>,
    /// Significant associations, most negative impact first (the drivers of detractors lead).
    pub impacts: Vec<ThemeImpact>,
}

/// Comments and per-theme mentions of one scope and period.
#[derive(Debug, Clone, Default)]
struct Tally {
    comments: u64,
    mentions: Vec<u64>,
}

fn tally_of(
    groups: &[GroupHistogram],
    metric: &str,
    theme_idx: usize,
    scope: impl Fn(&GroupHistogram) -> Option<Option<String>>,
    themes: &[String],
) -> BTreeMap<(Option<String>, NaiveDate), Tally> {
    let mut out: BTreeMap<(Option<String>, NaiveDate), Tally> = BTreeMap::new();
    for g in groups.iter().filter(|g| g.key.metric == metric) {
        let (Some(p), Some(Some(combo))) = (g.key.period_start, g.key.segment.get(theme_idx))
        else {
            continue;
        };
        let Some(s) = scope(g) else { continue };
        let t = out.entry((s, p)).or_insert_with(|| Tally {
            comments: 0,
            mentions: vec![0; themes.len()],
        });
        let n = g.histogram.n();
        t.comments += n;
        for name in combo.split('|') {
            if let Some(i) = themes.iter().position(|x| x == name) {
                t.mentions[i] += n;
            }
        }
    }
    out
}

fn sum_over(
    t: &BTreeMap<(Option<String>, NaiveDate), Tally>,
    scope: &Option<String>,
    periods: &[NaiveDate],
    themes: usize,
) -> Tally {
    let mut out = Tally {
        comments: 0,
        mentions: vec![0; themes],
    };
    for p in periods {
        if let Some(x) = t.get(&(scope.clone(), *p)) {
            out.comments += x.comments;
            for (a, b) in out.mentions.iter_mut().zip(&x.mentions) {
                *a += b;
            }
        }
    }
    out
}

fn share_change(now: Proportion, before: Proportion, conf: Confidence) -> Option<Change> {
    let c = two_proportion_test(now, before, conf, DifferenceInterval::Newcombe).ok()?;
    Some(Change::untested(&c, 100.0, c.method))
}

fn pct(x: f64) -> String {
    format!("{:.0}%", 100.0 * x)
}

fn settle(changes: &mut [&mut Change], alpha: f64) {
    adjust_family(changes, alpha);
    for c in changes.iter_mut() {
        c.verdict = format!(
            "{}: p {}",
            if c.significant {
                "significant"
            } else {
                "not significant"
            },
            fmt_pq(c)
        );
    }
}

/// Builds the themes section; `None` when there are no comments with periods.
pub fn build_themes(
    input: &ThemeInput<'_>,
    catalog: &MetricCatalog,
    opts: &ThemeOptions,
) -> Option<ThemesSection> {
    let themes = &input.themes;
    let k = themes.len();
    // The base metric: most comments.
    let mut per_metric: BTreeMap<&str, u64> = BTreeMap::new();
    for g in input.overall {
        if g.key.segment.first().is_some_and(Option::is_some) {
            *per_metric.entry(&g.key.metric).or_default() += g.histogram.n();
        }
    }
    let base = per_metric
        .iter()
        .max_by_key(|(m, n)| (**n, std::cmp::Reverse(**m)))
        .map(|(m, _)| m.to_string())?;
    let mut periods: Vec<NaiveDate> = input
        .overall
        .iter()
        .filter_map(|g| g.key.period_start)
        .filter(|p| opts.exclude_period.as_deref() != Some(&opts.period.label(*p)))
        .collect();
    periods.sort();
    periods.dedup();
    if periods.is_empty() {
        return None;
    }
    let w = opts.window.max(1).min(periods.len());
    let window: Vec<NaiveDate> = periods[periods.len() - w..].to_vec();
    let before: Vec<NaiveDate> =
        periods[periods.len().saturating_sub(2 * w)..periods.len() - w].to_vec();
    let overall = tally_of(input.overall, &base, 0, |_| Some(None), themes);
    let now = sum_over(&overall, &None, &window, k);
    let prev = sum_over(&overall, &None, &before, k);
    if now.comments == 0 {
        return None;
    }

    // Shares, and overall emerging themes.
    let mut shares = Vec::new();
    let mut emerging: Vec<EmergingTheme> = Vec::new();
    for (i, t) in themes.iter().enumerate() {
        let m = now.mentions[i];
        if m == 0 {
            continue;
        }
        let p = Proportion {
            successes: m,
            trials: now.comments,
        };
        let est = p
            .estimate(opts.confidence, ProportionInterval::Wilson)
            .ok()?;
        let share_before =
            (prev.comments > 0).then(|| prev.mentions[i] as f64 / prev.comments as f64);
        let series = periods
            .iter()
            .map(|d| {
                let x = overall.get(&(None, *d));
                (
                    opts.period.label(*d),
                    x.map_or(0, |x| x.mentions[i]),
                    x.map_or(0, |x| x.comments),
                )
            })
            .collect();
        shares.push(ThemeShare {
            theme: t.clone(),
            discovered: input.discovered.contains(t),
            mentions: m,
            share: est.value,
            share_low: est.interval.map_or(est.value, |x| x.low),
            share_high: est.interval.map_or(est.value, |x| x.high),
            share_before,
            series,
            examples: vec![],
        });
        if now.comments >= opts.min_n && prev.comments >= opts.min_n {
            let b = Proportion {
                successes: prev.mentions[i],
                trials: prev.comments,
            };
            if let Some(c) = share_change(p, b, opts.confidence) {
                emerging.push(EmergingTheme {
                    theme: t.clone(),
                    dimension: None,
                    segment: None,
                    share_before: prev.mentions[i] as f64 / prev.comments as f64,
                    share_now: m as f64 / now.comments as f64,
                    mentions_now: m,
                    comments_now: now.comments,
                    rest_before: None,
                    rest_now: None,
                    change: c,
                    text: String::new(),
                });
            }
        }
    }
    shares.sort_by(|a, b| b.mentions.cmp(&a.mentions).then(a.theme.cmp(&b.theme)));

    // Segment-concentrated rises: difference in differences against the rest.
    let mut seg_emerging: Vec<EmergingTheme> = Vec::new();
    for (dim, groups) in &input.by_dimension {
        let t = tally_of(groups, &base, 1, |g| Some(g.key.segment[0].clone()), themes);
        let values: Vec<Option<String>> = {
            let mut v: Vec<Option<String>> = t.keys().map(|(s, _)| s.clone()).collect();
            v.dedup();
            v.into_iter().filter(Option::is_some).collect()
        };
        if values.len() < 2 {
            continue;
        }
        for v in &values {
            let s_now = sum_over(&t, v, &window, k);
            let s_prev = sum_over(&t, v, &before, k);
            if s_now.comments < opts.min_n || s_prev.comments < opts.min_n {
                continue;
            }
            let r_now_c = now.comments - s_now.comments;
            let r_prev_c = prev.comments - s_prev.comments;
            if r_now_c < opts.min_n || r_prev_c < opts.min_n {
                continue;
            }
            for (i, th) in themes.iter().enumerate() {
                let share = |m: u64, n: u64| m as f64 / n as f64;
                let var = |p: f64, n: u64| p * (1.0 - p) / n as f64;
                let (a1, a0) = (
                    share(s_now.mentions[i], s_now.comments),
                    share(s_prev.mentions[i], s_prev.comments),
                );
                let (b1, b0) = (
                    share(now.mentions[i] - s_now.mentions[i], r_now_c),
                    share(prev.mentions[i] - s_prev.mentions[i], r_prev_c),
                );
                let se_a = (var(a1, s_now.comments) + var(a0, s_prev.comments)).sqrt();
                let se_b = (var(b1, r_now_c) + var(b0, r_prev_c)).sqrt();
                let Ok(c) = z_test_from_se(a1 - a0, se_a, b1 - b0, se_b, opts.confidence) else {
                    continue;
                };
                seg_emerging.push(EmergingTheme {
                    theme: th.clone(),
                    dimension: Some(dim.clone()),
                    segment: v.clone(),
                    share_before: a0,
                    share_now: a1,
                    mentions_now: s_now.mentions[i],
                    comments_now: s_now.comments,
                    rest_before: Some(b0),
                    rest_now: Some(b1),
                    change: Change::untested(&c, 100.0, "difference_in_differences_z"),
                    text: String::new(),
                });
            }
        }
    }
    {
        let mut fam: Vec<&mut Change> = emerging.iter_mut().map(|e| &mut e.change).collect();
        settle(&mut fam, opts.alpha);
        let mut fam: Vec<&mut Change> = seg_emerging.iter_mut().map(|e| &mut e.change).collect();
        settle(&mut fam, opts.alpha);
    }
    let window_words = span_words(opts.period, &window);
    let before_words = span_words(opts.period, &before);
    emerging.append(&mut seg_emerging);
    emerging.retain(|e| e.change.significant && e.change.difference > 0.0);
    for e in &mut emerging {
        e.text = match (&e.dimension, &e.segment) {
            (Some(d), Some(s)) => format!(
                "Comments about {} rose in {d} {s}: {} of comments in {before_words}, {} in {window_words} \
                 (elsewhere {} → {}; {}).",
                e.theme,
                pct(e.share_before),
                pct(e.share_now),
                pct(e.rest_before.unwrap_or(0.0)),
                pct(e.rest_now.unwrap_or(0.0)),
                short_pq(&e.change),
            ),
            _ => format!(
                "Comments about {} rose from {} of comments in {before_words} to {} in {window_words} ({}).",
                e.theme,
                pct(e.share_before),
                pct(e.share_now),
                short_pq(&e.change),
            ),
        };
    }
    emerging.sort_by(|a, b| b.change.difference.total_cmp(&a.change.difference));

    // Impact on each metric, over the window, among comments.
    let mut impacts: Vec<ThemeImpact> = Vec::new();
    for metric in per_metric.keys() {
        let Ok(spec) = catalog.get(metric) else {
            continue;
        };
        let in_window = |g: &&GroupHistogram| {
            &g.key.metric == metric && g.key.period_start.is_some_and(|p| window.contains(&p))
        };
        let mut all = ScoreHistogram::default();
        for g in input.overall.iter().filter(in_window) {
            if g.key.segment[0].is_some() {
                all.merge(&g.histogram);
            }
        }
        for th in themes {
            let mut with = ScoreHistogram::default();
            let mut without = ScoreHistogram::default();
            for g in input.overall.iter().filter(in_window) {
                let Some(combo) = &g.key.segment[0] else {
                    continue;
                };
                if combo.split('|').any(|x| x == th) {
                    with.merge(&g.histogram);
                } else {
                    without.merge(&g.histogram);
                }
            }
            if with.n() < opts.min_n || without.n() < opts.min_n {
                continue;
            }
            let (Ok(c), Ok(ew), Ok(eo)) = (
                spec.compare(&with, &without, &opts.estimate),
                spec.estimate(&with, &opts.estimate),
                spec.estimate(&without, &opts.estimate),
            ) else {
                continue;
            };
            let share = with.n() as f64 / all.n() as f64;
            impacts.push(ThemeImpact {
                theme: th.clone(),
                metric: metric.to_string(),
                n_with: with.n(),
                n_without: without.n(),
                value_with: ew.value,
                value_without: eo.value,
                change: Change::untested(&c, 1.0, c.method),
                impact: share * c.difference,
                text: String::new(),
            });
        }
    }
    {
        let mut fam: Vec<&mut Change> = impacts.iter_mut().map(|e| &mut e.change).collect();
        settle(&mut fam, opts.alpha);
    }
    impacts.retain(|i| i.change.significant);
    for i in &mut impacts {
        let spec = catalog.get(&i.metric).expect("known");
        let name = &spec.display_name;
        i.text = format!(
            "{name} is {} among comments about {} ({} vs {} in other comments, {} in {window_words}; \
             n = {}): it {} {name} among commenters by {}.",
            if i.change.difference < 0.0 {
                "lower"
            } else {
                "higher"
            },
            i.theme,
            fmt_value(spec, i.value_with),
            fmt_value(spec, i.value_without),
            short_pq(&i.change),
            i.n_with,
            if i.impact < 0.0 {
                "pulls down"
            } else {
                "lifts"
            },
            fmt_units(spec, i.impact.abs()),
        );
    }
    impacts.sort_by(|a, b| {
        metric_rank(&a.metric)
            .cmp(&metric_rank(&b.metric))
            .then(a.impact.total_cmp(&b.impact))
    });
    Some(ThemesSection {
        base_metric: base,
        window: window_words,
        window_start: window[0].format("%Y-%m-%d").to_string(),
        before: before_words,
        comments: now.comments,
        themes: shares,
        emerging,
        impacts,
    })
}

fn metric_rank(m: &str) -> usize {
    ["nps", "csat", "ces", "stars", "task"]
        .iter()
        .position(|x| *x == m)
        .unwrap_or(usize::MAX)
}

fn fmt_units(spec: &MetricSpec, x: f64) -> String {
    if spec.on_percent_scale() {
        format!("{x:.1} points")
    } else {
        format!("{x:.2}")
    }
}

fn short_pq(c: &Change) -> String {
    format!("p {}", fmt_pq(c))
}

/// Highlights from the themes section: the strongest emerging theme (a segment finding when
/// there is one) and the theme that pulls the first metric down most.
pub fn theme_highlights(section: &ThemesSection) -> Vec<Highlight> {
    let mut out = Vec::new();
    let best = section
        .emerging
        .iter()
        .find(|e| e.segment.is_some())
        .or_else(|| section.emerging.first());
    if let Some(e) = best {
        out.push(Highlight {
            kind: HighlightKind::EmergingTheme,
            metric: section.base_metric.clone(),
            dimension: e.dimension.clone(),
            segment: e.segment.clone(),
            direction: Direction::Down,
            text: e.text.clone(),
            change: e.change.clone(),
            n: e.comments_now,
            section: "themes".into(),
            importance: e.change.difference / 100.0,
        });
    }
    if let Some(i) = section.impacts.iter().find(|i| i.impact < 0.0) {
        out.push(Highlight {
            kind: HighlightKind::ThemeDriver,
            metric: i.metric.clone(),
            dimension: None,
            segment: Some(i.theme.clone()),
            direction: Direction::Down,
            text: i.text.clone(),
            change: i.change.clone(),
            n: i.n_with,
            section: "themes".into(),
            importance: i.impact.abs(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cxray_metrics::ScoreCount;

    fn g(
        metric: &str,
        month: u32,
        seg: Vec<Option<&str>>,
        scores: &[(f64, u64)],
    ) -> GroupHistogram {
        GroupHistogram {
            key: GroupKey {
                metric: metric.into(),
                period_start: NaiveDate::from_ymd_opt(2025, month, 1),
                segment: seg.into_iter().map(|s| s.map(String::from)).collect(),
            },
            histogram: ScoreHistogram {
                scores: scores
                    .iter()
                    .map(|&(score, count)| ScoreCount {
                        score,
                        count,
                        sum_w: count as f64,
                        sum_w2: count as f64,
                    })
                    .collect(),
            },
        }
    }

    #[test]
    fn explode_splits_combinations_and_keeps_missing() {
        let groups = vec![
            g("nps", 1, vec![Some("a|b")], &[(9.0, 2)]),
            g("nps", 1, vec![Some("a")], &[(9.0, 1), (3.0, 1)]),
            g("nps", 1, vec![Some("")], &[(5.0, 4)]),
            g("nps", 1, vec![None], &[(10.0, 7)]),
        ];
        let e = explode_themes(&groups, 0);
        let n = |v: Option<&str>| {
            e.iter()
                .find(|x| x.key.segment[0].as_deref() == v)
                .map(|x| x.histogram.n())
        };
        assert_eq!(n(Some("a")), Some(4));
        assert_eq!(n(Some("b")), Some(2));
        assert_eq!(n(Some(NO_THEME)), Some(4));
        assert_eq!(n(None), Some(7));
        assert_eq!(e.len(), 4);
    }

    fn opts() -> ThemeOptions {
        ThemeOptions {
            period: Period::Month,
            window: 2,
            alpha: 0.05,
            confidence: Confidence::new(0.95).unwrap(),
            estimate: EstimateOptions::default(),
            min_n: 30,
            exclude_period: None,
        }
    }

    /// Four months; "late" rises from 10% to 40% of comments in region N only, and comments
    /// about it score 2 instead of 9. Region S and the device split are pure noise.
    fn planted() -> (
        Vec<GroupHistogram>,
        Vec<GroupHistogram>,
        Vec<GroupHistogram>,
    ) {
        let mut overall = Vec::new();
        let mut region = Vec::new();
        let mut device = Vec::new();
        for month in 1..=4u32 {
            for (r, late) in [("N", if month >= 3 { 80 } else { 20 }), ("S", 20u64)] {
                for dev in ["ios", "android"] {
                    let late = late / 2;
                    let other = 100 - late;
                    // "late": 4/5 detractors (2), 1/5 promoters (9); other comments: 4/5
                    // promoters (9), 1/5 passives (7).
                    for (combo, h) in [
                        ("late", [(2.0, late - late / 5), (9.0, late / 5)]),
                        ("", [(7.0, other / 5), (9.0, other - other / 5)]),
                    ] {
                        overall.push(g("nps", month, vec![Some(combo)], &h));
                        region.push(g("nps", month, vec![Some(r), Some(combo)], &h));
                        device.push(g("nps", month, vec![Some(dev), Some(combo)], &h));
                    }
                    // Answers without a comment do not count as comments.
                    overall.push(g("nps", month, vec![None], &[(7.0, 50)]));
                }
            }
        }
        (overall, region, device)
    }

    #[test]
    fn planted_rise_in_one_region_is_found_and_device_is_not() {
        let (overall, region, device) = planted();
        let input = ThemeInput {
            overall: &overall,
            by_dimension: vec![("region".into(), &region), ("device".into(), &device)],
            themes: vec!["late".into(), "price".into()],
            discovered: vec![],
        };
        let s = build_themes(&input, &MetricCatalog::builtin(), &opts()).unwrap();
        assert_eq!(s.base_metric, "nps");
        // Per month 400 comments (2 regions × 2 devices × 100); in Mar–Apr N has 2×40 "late"
        // and S 2×10 a month: 200 of 800. Before: 40 of 400 a month.
        assert_eq!(s.comments, 800);
        let late = &s.themes[0];
        assert_eq!((late.theme.as_str(), late.mentions), ("late", 200));
        assert!((late.share - 0.25).abs() < 1e-12);
        assert!((late.share_before.unwrap() - 0.1).abs() < 1e-12);
        assert!(late.share_low < 0.25 && late.share_high > 0.25);
        assert_eq!(late.series.len(), 4);
        assert_eq!(late.series[2], ("2025-03".to_string(), 100, 400));
        // Emerging: overall and concentrated in N; never S, never a device.
        assert!(
            s.emerging
                .iter()
                .any(|e| e.segment.is_none() && e.theme == "late")
        );
        let n = s
            .emerging
            .iter()
            .find(|e| e.segment.as_deref() == Some("N"))
            .expect("N found");
        assert!((n.share_before - 0.1).abs() < 1e-12 && (n.share_now - 0.4).abs() < 1e-12);
        assert_eq!(n.rest_now, Some(0.1));
        assert!(n.text.contains("region N"), "{}", n.text);
        assert!(
            s.emerging
                .iter()
                .all(|e| e.dimension.as_deref() != Some("device")
                    && e.segment.as_deref() != Some("S"))
        );
        // Impact over Mar–Apr: "late" has 160 detractors and 40 promoters of 200 (NPS -60);
        // the other 600 comments 480 promoters and 120 passives (NPS 80); share 0.25, so the
        // impact is 0.25 × (-60 - 80) = -35 points.
        let i = &s.impacts[0];
        assert_eq!((i.theme.as_str(), i.metric.as_str()), ("late", "nps"));
        assert_eq!((i.n_with, i.n_without), (200, 600));
        assert!((i.value_with + 60.0).abs() < 1e-9 && (i.value_without - 80.0).abs() < 1e-9);
        assert!((i.impact + 35.0).abs() < 1e-9);
        assert!(i.text.contains("pulls down"), "{}", i.text);
        let h = theme_highlights(&s);
        assert_eq!(h.len(), 2);
        assert_eq!(h[0].segment.as_deref(), Some("N"));
        assert_eq!(h[1].kind, HighlightKind::ThemeDriver);
    }

    #[test]
    fn no_change_no_emerging() {
        let mut overall = Vec::new();
        for month in 1..=4u32 {
            overall.push(g("nps", month, vec![Some("late")], &[(9.0, 30), (3.0, 10)]));
            overall.push(g("nps", month, vec![Some("")], &[(9.0, 90), (3.0, 30)]));
        }
        let input = ThemeInput {
            overall: &overall,
            by_dimension: vec![],
            themes: vec!["late".into()],
            discovered: vec![],
        };
        let s = build_themes(&input, &MetricCatalog::builtin(), &opts()).unwrap();
        assert!(s.emerging.is_empty());
        assert!(
            s.impacts.is_empty(),
            "same score mix with and without the theme"
        );
        assert!(theme_highlights(&s).is_empty());
    }

    #[test]
    fn no_comments_no_section() {
        let overall = vec![g("nps", 1, vec![None], &[(9.0, 30)])];
        let input = ThemeInput {
            overall: &overall,
            by_dimension: vec![],
            themes: vec!["late".into()],
            discovered: vec![],
        };
        assert!(build_themes(&input, &MetricCatalog::builtin(), &opts()).is_none());
    }
}
