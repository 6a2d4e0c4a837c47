//! # cxray-metrics
//!
//! The survey metrics cxray knows, each defined in one place: its scale (what ingestion accepts),
//! its sufficient statistic (a histogram of scores, with weight sums when weighted — what the
//! engine computes), its estimator and default interval (from `cxray-stats`), and its display name.
//! Adding a metric means adding a [`MetricKind`] arm here and nothing elsewhere.
//!
//! | metric | scale | value reported | default interval |
//! |---|---|---|---|
//! | `nps` | 0-10 | NPS = %promoters (9-10) − %detractors (0-6), -100..100 | Tango score |
//! | `csat` | 1-5 | % satisfied (4-5, "top-2-box"); mean in `detail` | Wilson |
//! | `ces` | 1-7 | mean ease (CES 2.0 agreement scale); % easy (5-7) in `detail` | t |
//! | `stars` | 1-5 | mean rating; distribution and Bayesian average in `detail` | t |
//! | `task` | 0-1 | % of tasks completed | Wilson |
//! | custom | declared | mean on the declared scale | t |
//!
//! ```
//! use cxray_metrics::{MetricCatalog, ScoreHistogram, EstimateOptions};
//! let catalog = MetricCatalog::builtin();
//! let nps = catalog.get("nps").unwrap();
//! assert!(nps.validate(11.0).is_err());
//! let mut h = ScoreHistogram::default();
//! h.add(10.0, 5);
//! h.add(3.0, 5);
//! let e = nps.estimate(&h, &EstimateOptions::default()).unwrap();
//! assert_eq!(e.value, 0.0);
//! ```

pub mod churn;
pub mod journey;
pub mod operational;
pub mod period;
pub mod queue;
pub mod referrals;
pub mod tickets;

use std::collections::BTreeMap;

use cxray_stats::mean::{Moments, bayesian_average, welch_test};
use cxray_stats::weighted::{WeightedLevel, weighted_mean, weighted_nps, weighted_proportion};
use cxray_stats::{
    Comparison, Confidence, DifferenceInterval, Estimate, NpsCounts, NpsInterval, Proportion,
    ProportionInterval, StatsError, nps_difference, two_proportion_test, z_test_from_se,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// What kind of estimator a metric uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Net Promoter Score on 0-10.
    Nps,
    /// Share of answers at or above `good_from` (e.g. CSAT top-2-box); mean in detail.
    TopBox,
    /// Mean score; share at or above `good_from` in detail (e.g. CES % easy).
    MeanWithTopBox,
    /// Mean rating with its distribution and a Bayesian average (star ratings).
    Rating,
    /// Share of successes of a 0/1 outcome (task completion).
    Binary,
    /// Mean on a declared scale.
    Mean,
}

/// One metric: its name, scale and estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    pub name: String,
    pub display_name: String,
    pub kind: MetricKind,
    pub min: f64,
    pub max: f64,
    /// Scores must be whole numbers.
    pub integer: bool,
    /// For top-box metrics: the lowest "good" score (CSAT 4, CES 5).
    pub good_from: Option<f64>,
    /// What the value means, for reports ("% satisfied (4-5 of 1-5)").
    pub value_label: String,
}

impl MetricSpec {
    /// Net Promoter Score.
    pub fn nps() -> Self {
        MetricSpec {
            name: "nps".into(),
            display_name: "Net Promoter Score".into(),
            kind: MetricKind::Nps,
            min: 0.0,
            max: 10.0,
            integer: true,
            good_from: Some(9.0),
            value_label: "NPS (-100..100)".into(),
        }
    }

    /// Customer satisfaction on 1-5, reported as % satisfied (4-5).
    pub fn csat() -> Self {
        MetricSpec {
            name: "csat".into(),
            display_name: "Customer Satisfaction".into(),
            kind: MetricKind::TopBox,
            min: 1.0,
            max: 5.0,
            integer: true,
            good_from: Some(4.0),
            value_label: "% satisfied (4-5 of 1-5)".into(),
        }
    }

    /// Customer Effort Score on the CES 2.0 agreement scale 1-7 ("made it easy"), mean reported.
    pub fn ces() -> Self {
        MetricSpec {
            name: "ces".into(),
            display_name: "Customer Effort Score".into(),
            kind: MetricKind::MeanWithTopBox,
            min: 1.0,
            max: 7.0,
            integer: true,
            good_from: Some(5.0),
            value_label: "mean ease (1-7, higher is easier)".into(),
        }
    }

    /// Star ratings 1-5.
    pub fn stars() -> Self {
        MetricSpec {
            name: "stars".into(),
            display_name: "Star rating".into(),
            kind: MetricKind::Rating,
            min: 1.0,
            max: 5.0,
            integer: true,
            good_from: Some(4.0),
            value_label: "mean stars (1-5)".into(),
        }
    }

    /// Task completion 0/1.
    pub fn task() -> Self {
        MetricSpec {
            name: "task".into(),
            display_name: "Task completion".into(),
            kind: MetricKind::Binary,
            min: 0.0,
            max: 1.0,
            integer: true,
            good_from: Some(1.0),
            value_label: "% completed".into(),
        }
    }

    /// Checks a score against the scale; the error is the reason shown to the user.
    pub fn validate(&self, score: f64) -> Result<(), String> {
        if !score.is_finite() {
            return Err(format!("{} score is not a number", self.name));
        }
        if score < self.min || score > self.max {
            return Err(format!(
                "{} score {score} is outside the scale {}-{}",
                self.name, self.min, self.max
            ));
        }
        if self.integer && score.fract() != 0.0 {
            return Err(format!(
                "{} score {score} is not a whole number on the {}-{} scale",
                self.name, self.min, self.max
            ));
        }
        Ok(())
    }

    fn good(&self, score: f64) -> bool {
        score >= self.good_from.unwrap_or(self.max)
    }

    /// Whether values are on a percent scale (NPS -100..100, shares 0..100), so that
    /// differences are in points and values are shown without decimals.
    pub fn on_percent_scale(&self) -> bool {
        matches!(
            self.kind,
            MetricKind::Nps | MetricKind::TopBox | MetricKind::Binary
        )
    }

    /// The unit of a difference in words: "points" for NPS, "percentage points" for shares;
    /// `None` for means, whose differences are in units of their scale.
    pub fn difference_unit(&self) -> Option<&'static str> {
        match self.kind {
            MetricKind::Nps => Some("points"),
            MetricKind::TopBox | MetricKind::Binary => Some("percentage points"),
            MetricKind::MeanWithTopBox | MetricKind::Rating | MetricKind::Mean => None,
        }
    }

    /// The width of the reporting scale, to compare effects across metrics: 200 for NPS
    /// (-100..100), 100 for shares, max − min for means.
    pub fn reporting_range(&self) -> f64 {
        match self.kind {
            MetricKind::Nps => 200.0,
            MetricKind::TopBox | MetricKind::Binary => 100.0,
            MetricKind::MeanWithTopBox | MetricKind::Rating | MetricKind::Mean => {
                (self.max - self.min).max(1e-9)
            }
        }
    }

    /// What a score is in a distribution: promoter, passive or detractor for NPS, else good
    /// (at or above `good_from`) or other.
    pub fn score_category(&self, score: f64) -> &'static str {
        match self.kind {
            MetricKind::Nps if score >= 9.0 => "promoter",
            MetricKind::Nps if score >= 7.0 => "passive",
            MetricKind::Nps => "detractor",
            _ if self.good(score) => "good",
            _ => "other",
        }
    }

    /// An answer worth a call back: an NPS detractor (0-6), or a score in the bottom quarter
    /// of any other scale (CSAT 1-2 of 5, CES 1-2 of 7).
    pub fn is_unhappy(&self, score: f64) -> bool {
        match self.kind {
            MetricKind::Nps => score < 7.0,
            _ => score <= self.min + 0.25 * (self.max - self.min),
        }
    }

    /// What one answer contributes to the (unweighted) metric, which is the mean of these over
    /// the answers: NPS +100 (promoter), 0 (passive) or -100 (detractor); shares 100 or 0;
    /// means the score itself. Sums of these over parts of the answers split the metric
    /// exactly, as explain-the-change needs.
    pub fn answer_value(&self, score: f64) -> f64 {
        match self.kind {
            MetricKind::Nps => {
                if score >= 9.0 {
                    100.0
                } else if score >= 7.0 {
                    0.0
                } else {
                    -100.0
                }
            }
            MetricKind::TopBox | MetricKind::Binary => {
                if self.good(score) {
                    100.0
                } else {
                    0.0
                }
            }
            MetricKind::MeanWithTopBox | MetricKind::Rating | MetricKind::Mean => score,
        }
    }

    /// Estimates the metric for one group from its score histogram.
    pub fn estimate(
        &self,
        hist: &ScoreHistogram,
        opts: &EstimateOptions,
    ) -> Result<MetricEstimate, StatsError> {
        let mut detail = Map::new();
        let n = hist.n();
        if n == 0 {
            return Err(StatsError::NoObservations {
                what: "a metric estimate",
            });
        }
        let weighted = opts.weighted;
        let estimate = match self.kind {
            MetricKind::Nps => {
                let (mut d, mut pa, mut pr) = (Level::new(-1.0), Level::new(0.0), Level::new(1.0));
                for s in &hist.scores {
                    let l = if s.score >= 9.0 {
                        &mut pr
                    } else if s.score >= 7.0 {
                        &mut pa
                    } else {
                        &mut d
                    };
                    l.add(s);
                }
                let method = opts.interval.for_nps()?;
                let e = if weighted {
                    weighted_nps(d.0, pa.0, pr.0, opts.confidence, method)?
                } else {
                    NpsCounts::new(d.0.count, pa.0.count, pr.0.count)
                        .estimate(opts.confidence, method)?
                };
                let tot = if weighted {
                    d.0.sum_w + pa.0.sum_w + pr.0.sum_w
                } else {
                    n as f64
                };
                let share = |l: &Level| {
                    100.0
                        * if weighted {
                            l.0.sum_w
                        } else {
                            l.0.count as f64
                        }
                        / tot
                };
                detail.insert("promoters".into(), json!(pr.0.count));
                detail.insert("passives".into(), json!(pa.0.count));
                detail.insert("detractors".into(), json!(d.0.count));
                detail.insert("promoters_pct".into(), json!(share(&pr)));
                detail.insert("passives_pct".into(), json!(share(&pa)));
                detail.insert("detractors_pct".into(), json!(share(&d)));
                e
            }
            MetricKind::TopBox | MetricKind::Binary => {
                let (good, bad) = self.split(hist);
                let method = opts.interval.for_proportion()?;
                let e = if weighted {
                    weighted_proportion(good.0, bad.0, opts.confidence, method)?
                } else {
                    Proportion::new(good.0.count, n)?.estimate(opts.confidence, method)?
                }
                .scaled_percent();
                if self.kind == MetricKind::TopBox {
                    let m = self.mean(hist, opts)?;
                    detail.insert("mean".into(), json!(m.value));
                    detail.insert("mean_ci_low".into(), json!(m.interval.map(|i| i.low)));
                    detail.insert("mean_ci_high".into(), json!(m.interval.map(|i| i.high)));
                    detail.insert("satisfied".into(), json!(good.0.count));
                } else {
                    detail.insert("completed".into(), json!(good.0.count));
                    detail.insert("attempts".into(), json!(n));
                }
                e
            }
            MetricKind::MeanWithTopBox | MetricKind::Rating | MetricKind::Mean => {
                let e = self.mean(hist, opts)?;
                if self.kind == MetricKind::MeanWithTopBox {
                    let (good, bad) = self.split(hist);
                    let p = if weighted {
                        weighted_proportion(
                            good.0,
                            bad.0,
                            opts.confidence,
                            ProportionInterval::Wilson,
                        )?
                    } else {
                        Proportion::new(good.0.count, n)?
                            .estimate(opts.confidence, ProportionInterval::Wilson)?
                    }
                    .scaled_percent();
                    detail.insert("pct_easy".into(), json!(p.value));
                    detail.insert("pct_easy_ci_low".into(), json!(p.interval.map(|i| i.low)));
                    detail.insert("pct_easy_ci_high".into(), json!(p.interval.map(|i| i.high)));
                }
                if self.kind == MetricKind::Rating
                    && let Some((prior_mean, prior_weight)) = opts.rating_prior
                {
                    let m = Moments {
                        n,
                        mean: e.value,
                        m2: 0.0,
                    };
                    detail.insert(
                        "bayesian_average".into(),
                        json!(bayesian_average(&m, prior_mean, prior_weight)?),
                    );
                    detail.insert("prior_mean".into(), json!(prior_mean));
                    detail.insert("prior_weight".into(), json!(prior_weight));
                }
                e
            }
        };
        if self.integer && self.max - self.min <= 20.0 {
            let dist: Map<String, Value> = hist
                .scores
                .iter()
                .map(|s| (format_score(s.score), json!(s.count)))
                .collect();
            detail.insert("distribution".into(), Value::Object(dist));
        }
        if weighted {
            detail.insert("sum_weights".into(), json!(hist.sum_w()));
            detail.insert(
                "design_effect".into(),
                json!(n as f64 / estimate.n_effective),
            );
        }
        Ok(MetricEstimate::from_estimate(estimate, detail))
    }

    /// Tests whether the metric differs between two groups (a - b, on the reporting scale):
    /// NPS by the Wald z-test of two independent NPS values, proportions by the pooled
    /// two-proportion z-test, means by Welch's t-test; weighted estimates by a z-test on their
    /// linearisation standard errors.
    pub fn compare(
        &self,
        a: &ScoreHistogram,
        b: &ScoreHistogram,
        opts: &EstimateOptions,
    ) -> Result<Comparison, StatsError> {
        if opts.weighted {
            let ea = self.estimate(a, opts)?;
            let eb = self.estimate(b, opts)?;
            let (Some(sa), Some(sb)) = (ea.se, eb.se) else {
                return Err(StatsError::Undefined("a group has one answer".into()));
            };
            return z_test_from_se(ea.value, sa, eb.value, sb, opts.confidence);
        }
        match self.kind {
            MetricKind::Nps => {
                let c = |h: &ScoreHistogram| {
                    let (mut d, mut pa, mut pr) = (0, 0, 0);
                    for s in &h.scores {
                        if s.score >= 9.0 {
                            pr += s.count
                        } else if s.score >= 7.0 {
                            pa += s.count
                        } else {
                            d += s.count
                        }
                    }
                    NpsCounts::new(d, pa, pr)
                };
                nps_difference(&c(a), &c(b), opts.confidence, NpsInterval::Wald)
            }
            MetricKind::TopBox | MetricKind::Binary => {
                let p = |h: &ScoreHistogram| {
                    let (good, _) = self.split(h);
                    Proportion::new(good.0.count, h.n())
                };
                Ok(two_proportion_test(
                    p(a)?,
                    p(b)?,
                    opts.confidence,
                    DifferenceInterval::Newcombe,
                )?
                .scaled(100.0))
            }
            MetricKind::MeanWithTopBox | MetricKind::Rating | MetricKind::Mean => {
                let m = |h: &ScoreHistogram| {
                    let table: Vec<(f64, u64)> =
                        h.scores.iter().map(|s| (s.score, s.count)).collect();
                    Moments::from_histogram(&table)
                };
                welch_test(&m(a)?, &m(b)?, opts.confidence)
            }
        }
    }

    /// The unweighted value and per-answer variance on the reporting scale (NPS points,
    /// percent, scale units), for control limits σᵢ = √(variance / nᵢ).
    pub fn value_and_unit_variance(&self, hist: &ScoreHistogram) -> Option<(f64, f64)> {
        let n = hist.n() as f64;
        if n == 0.0 {
            return None;
        }
        match self.kind {
            MetricKind::Nps => {
                let share = |f: &dyn Fn(f64) -> bool| {
                    hist.scores
                        .iter()
                        .filter(|s| f(s.score))
                        .map(|s| s.count)
                        .sum::<u64>() as f64
                        / n
                };
                let pp = share(&|s| s >= 9.0);
                let pd = share(&|s| s < 7.0);
                Some((100.0 * (pp - pd), 1e4 * (pp + pd - (pp - pd).powi(2))))
            }
            MetricKind::TopBox | MetricKind::Binary => {
                let (good, _) = self.split(hist);
                let p = good.0.count as f64 / n;
                Some((100.0 * p, 1e4 * p * (1.0 - p)))
            }
            _ => {
                let mean = hist.mean()?;
                let var = hist
                    .scores
                    .iter()
                    .map(|s| s.count as f64 * (s.score - mean).powi(2))
                    .sum::<f64>()
                    / (n - 1.0).max(1.0);
                Some((mean, var))
            }
        }
    }

    fn split(&self, hist: &ScoreHistogram) -> (Level, Level) {
        let (mut good, mut bad) = (Level::new(1.0), Level::new(0.0));
        for s in &hist.scores {
            if self.good(s.score) {
                good.add(s)
            } else {
                bad.add(s)
            }
        }
        (good, bad)
    }

    fn mean(&self, hist: &ScoreHistogram, opts: &EstimateOptions) -> Result<Estimate, StatsError> {
        if opts.weighted {
            let levels: Vec<WeightedLevel> = hist
                .scores
                .iter()
                .map(|s| WeightedLevel {
                    value: s.score,
                    count: s.count,
                    sum_w: s.sum_w,
                    sum_w2: s.sum_w2,
                })
                .collect();
            weighted_mean(&levels, opts.confidence)
        } else {
            let table: Vec<(f64, u64)> = hist.scores.iter().map(|s| (s.score, s.count)).collect();
            Moments::from_histogram(&table)?.estimate(opts.confidence)
        }
    }
}

fn format_score(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

struct Level(WeightedLevel);

impl Level {
    fn new(value: f64) -> Self {
        Level(WeightedLevel {
            value,
            ..Default::default()
        })
    }
    fn add(&mut self, s: &ScoreCount) {
        self.0.count += s.count;
        self.0.sum_w += s.sum_w;
        self.0.sum_w2 += s.sum_w2;
    }
}

trait Percent {
    fn scaled_percent(self) -> Estimate;
}

impl Percent for Estimate {
    fn scaled_percent(mut self) -> Estimate {
        self.value *= 100.0;
        self.se = self.se.map(|s| s * 100.0);
        self.interval = self.interval.map(|mut i| {
            i.low *= 100.0;
            i.high *= 100.0;
            i
        });
        self
    }
}

/// Sufficient statistics of one score value within a group.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreCount {
    pub score: f64,
    pub count: u64,
    /// Σw (equals `count` when unweighted).
    pub sum_w: f64,
    /// Σw² (equals `count` when unweighted).
    pub sum_w2: f64,
}

/// The sufficient statistic of every survey metric: the histogram of its scores.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Sorted by score, one entry per distinct score.
    pub scores: Vec<ScoreCount>,
}

impl ScoreHistogram {
    /// Adds `count` unweighted answers with `score`.
    pub fn add(&mut self, score: f64, count: u64) {
        self.add_weighted(ScoreCount {
            score,
            count,
            sum_w: count as f64,
            sum_w2: count as f64,
        });
    }

    /// Adds weighted sums for a score.
    pub fn add_weighted(&mut self, c: ScoreCount) {
        match self
            .scores
            .binary_search_by(|s| s.score.total_cmp(&c.score))
        {
            Ok(i) => {
                let s = &mut self.scores[i];
                s.count += c.count;
                s.sum_w += c.sum_w;
                s.sum_w2 += c.sum_w2;
            }
            Err(i) => self.scores.insert(i, c),
        }
    }

    /// Merges another group's histogram (e.g. to get the overall from segments).
    pub fn merge(&mut self, o: &ScoreHistogram) {
        for &c in &o.scores {
            self.add_weighted(c);
        }
    }

    /// Number of answers.
    pub fn n(&self) -> u64 {
        self.scores.iter().map(|s| s.count).sum()
    }

    /// Sum of weights.
    pub fn sum_w(&self) -> f64 {
        self.scores.iter().map(|s| s.sum_w).sum()
    }

    /// Unweighted mean score.
    pub fn mean(&self) -> Option<f64> {
        let n = self.n();
        (n > 0).then(|| {
            self.scores
                .iter()
                .map(|s| s.score * s.count as f64)
                .sum::<f64>()
                / n as f64
        })
    }
}

/// The interval a user asked for; each metric maps it to its own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalChoice {
    /// Each metric's recommended interval (score for NPS, Wilson for proportions, t for means).
    #[default]
    Default,
    Wald,
    /// Score-type: Tango for NPS, Wilson for proportions.
    Score,
    /// Adjusted Wald: Rocks' for NPS, Agresti-Coull for proportions.
    AdjustedWald,
    /// Clopper-Pearson exact (proportions only).
    Exact,
    /// Jeffreys (proportions only).
    Jeffreys,
}

impl IntervalChoice {
    /// Parses a command-line value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "default" => IntervalChoice::Default,
            "wald" => IntervalChoice::Wald,
            "score" | "wilson" | "tango" => IntervalChoice::Score,
            "adjusted-wald" | "adjusted_wald" | "agresti-coull" | "agresti_coull" => {
                IntervalChoice::AdjustedWald
            }
            "exact" | "clopper-pearson" | "clopper_pearson" => IntervalChoice::Exact,
            "jeffreys" => IntervalChoice::Jeffreys,
            _ => return None,
        })
    }

    fn for_nps(self) -> Result<NpsInterval, StatsError> {
        Ok(match self {
            IntervalChoice::Default | IntervalChoice::Score => NpsInterval::Score,
            IntervalChoice::Wald => NpsInterval::Wald,
            IntervalChoice::AdjustedWald => NpsInterval::AdjustedWald,
            IntervalChoice::Exact | IntervalChoice::Jeffreys => {
                return Err(StatsError::InvalidArgument(
                    "NPS intervals are score (default), adjusted-wald or wald".into(),
                ));
            }
        })
    }

    pub fn for_proportion(self) -> Result<ProportionInterval, StatsError> {
        Ok(match self {
            IntervalChoice::Default | IntervalChoice::Score => ProportionInterval::Wilson,
            IntervalChoice::Wald => ProportionInterval::Wald,
            IntervalChoice::AdjustedWald => ProportionInterval::AgrestiCoull,
            IntervalChoice::Exact => ProportionInterval::ClopperPearson,
            IntervalChoice::Jeffreys => ProportionInterval::Jeffreys,
        })
    }
}

/// Settings shared by all estimates of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateOptions {
    pub confidence: Confidence,
    pub interval: IntervalChoice,
    /// Use the weight sums of the histogram (case weights) instead of counts.
    pub weighted: bool,
    /// Prior (mean, weight) for the Bayesian average of ratings.
    pub rating_prior: Option<(f64, f64)>,
}

impl Default for EstimateOptions {
    fn default() -> Self {
        EstimateOptions {
            confidence: Confidence::default(),
            interval: IntervalChoice::Default,
            weighted: false,
            rating_prior: None,
        }
    }
}

/// A metric estimate in the shape outputs use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricEstimate {
    pub n: u64,
    pub n_effective: f64,
    pub value: f64,
    pub se: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub interval_method: &'static str,
    pub note: Option<String>,
    pub detail: Map<String, Value>,
}

impl MetricEstimate {
    fn from_estimate(e: Estimate, detail: Map<String, Value>) -> Self {
        MetricEstimate {
            n: e.n,
            n_effective: e.n_effective,
            value: e.value,
            se: e.se,
            ci_low: e.interval.map(|i| i.low),
            ci_high: e.interval.map(|i| i.high),
            interval_method: e.method,
            note: e.note,
            detail,
        }
    }
}

/// Error for an unknown or badly declared metric.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error(
        "unknown metric '{name}'; known metrics: {known}. Declare custom metrics in cxray.toml under [metrics.NAME] with a scale"
    )]
    Unknown { name: String, known: String },
    #[error("metric '{name}': {reason}")]
    Invalid { name: String, reason: String },
}

/// The metrics of a project: the built-ins plus custom ones from `cxray.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricCatalog {
    specs: BTreeMap<String, MetricSpec>,
}

/// How a project declares or adjusts a metric in `cxray.toml` (`[metrics.NAME]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricDeclaration {
    /// [min, max] of the scale.
    pub scale: Option<[f64; 2]>,
    /// Lowest "good" score (satisfied / easy).
    pub good_from: Option<f64>,
    /// Display name.
    pub name: Option<String>,
    /// Whether scores must be whole numbers (default true).
    pub integer: Option<bool>,
    /// An attribute rating that drives an outcome (e.g. "delivery" or "value for money"):
    /// analysed by `cxray drivers` and the report's key drivers, not on the scorecard.
    #[serde(default)]
    pub driver: bool,
}

impl MetricCatalog {
    /// The five built-in metrics.
    pub fn builtin() -> Self {
        let specs = [
            MetricSpec::nps(),
            MetricSpec::csat(),
            MetricSpec::ces(),
            MetricSpec::stars(),
            MetricSpec::task(),
        ]
        .into_iter()
        .map(|s| (s.name.clone(), s))
        .collect();
        MetricCatalog { specs }
    }

    /// What validating answers depends on: each metric's name, scale and whether scores are
    /// whole ("ces 1-7 whole", "csat 1-5 whole", …), in name order. A lake records them, so
    /// that answers validated against other scales are not read as if validated against these.
    pub fn validation_rules(&self) -> Vec<String> {
        self.specs
            .values()
            .map(|s| {
                format!(
                    "{} {}-{}{}",
                    s.name,
                    s.min,
                    s.max,
                    if s.integer { " whole" } else { "" }
                )
            })
            .collect()
    }

    /// Applies a project's declarations: adjusts built-ins (e.g. a CES on 1-5) and adds custom
    /// mean metrics.
    pub fn with_declarations(
        mut self,
        decls: &BTreeMap<String, MetricDeclaration>,
    ) -> Result<Self, CatalogError> {
        for (name, d) in decls {
            let invalid = |reason: String| CatalogError::Invalid {
                name: name.clone(),
                reason,
            };
            let mut spec = match self.specs.get(name) {
                Some(s) => s.clone(),
                None => {
                    let Some([min, max]) = d.scale else {
                        return Err(invalid(
                            "a custom metric needs a scale, e.g. scale = [1, 10]".into(),
                        ));
                    };
                    MetricSpec {
                        name: name.clone(),
                        display_name: name.clone(),
                        kind: if d.good_from.is_some() {
                            MetricKind::MeanWithTopBox
                        } else {
                            MetricKind::Mean
                        },
                        min,
                        max,
                        integer: true,
                        good_from: d.good_from,
                        value_label: format!("mean ({min}-{max})"),
                    }
                }
            };
            if name == "nps" && (d.scale.is_some() || d.good_from.is_some()) {
                return Err(invalid(
                    "the NPS scale is fixed at 0-10 with promoters 9-10".into(),
                ));
            }
            if let Some([min, max]) = d.scale {
                if !(min.is_finite() && max.is_finite() && min < max) {
                    return Err(invalid(format!("scale [{min}, {max}] must have min < max")));
                }
                spec.min = min;
                spec.max = max;
            }
            if let Some(g) = d.good_from {
                if g < spec.min || g > spec.max {
                    return Err(invalid(format!(
                        "good_from {g} is outside the scale {}-{}",
                        spec.min, spec.max
                    )));
                }
                spec.good_from = Some(g);
            }
            if let Some(i) = d.integer {
                spec.integer = i;
            }
            if let Some(n) = &d.name {
                spec.display_name = n.clone();
            }
            self.specs.insert(name.clone(), spec);
        }
        Ok(self)
    }

    /// Looks up a metric by name.
    pub fn get(&self, name: &str) -> Result<&MetricSpec, CatalogError> {
        self.specs.get(name).ok_or_else(|| CatalogError::Unknown {
            name: name.to_string(),
            known: self.specs.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// All metrics, by name.
    pub fn iter(&self) -> impl Iterator<Item = &MetricSpec> {
        self.specs.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the report, explain and alerts read from a spec: each metric kind in its place.
    #[test]
    fn the_spec_says_how_a_metric_reads() {
        let (nps, csat, ces) = (MetricSpec::nps(), MetricSpec::csat(), MetricSpec::ces());
        assert!(nps.is_unhappy(6.0) && !nps.is_unhappy(7.0));
        // Bottom quarter: CSAT 1-2 of 5, CES 1-2.5 of 7.
        assert!(csat.is_unhappy(2.0) && !csat.is_unhappy(3.0));
        assert!(ces.is_unhappy(2.0) && !ces.is_unhappy(3.0));
        assert_eq!(
            [0.0, 7.0, 9.0].map(|x| nps.score_category(x)),
            ["detractor", "passive", "promoter"]
        );
        assert_eq!(
            [3.0, 4.0].map(|x| csat.score_category(x)),
            ["other", "good"]
        );
        assert_eq!(nps.difference_unit(), Some("points"));
        assert_eq!(
            MetricSpec::task().difference_unit(),
            Some("percentage points")
        );
        assert_eq!(ces.difference_unit(), None);
        assert_eq!(
            [
                nps.reporting_range(),
                csat.reporting_range(),
                ces.reporting_range()
            ],
            [200.0, 100.0, 6.0]
        );
        assert!(nps.on_percent_scale() && !MetricSpec::stars().on_percent_scale());
    }

    fn hist(pairs: &[(f64, u64)]) -> ScoreHistogram {
        let mut h = ScoreHistogram::default();
        for &(s, c) in pairs {
            h.add(s, c);
        }
        h
    }

    #[test]
    fn csat_value_is_top_two_box_with_mean_in_detail() {
        // 02_csat_ces_proportions.py (statsmodels): counts 5,10,20,40,25 -> 65% satisfied,
        // Wilson (0.5525444329688796, 0.7363575175690247), mean 3.7.
        let h = hist(&[(1.0, 5), (2.0, 10), (3.0, 20), (4.0, 40), (5.0, 25)]);
        let e = MetricSpec::csat()
            .estimate(&h, &EstimateOptions::default())
            .unwrap();
        assert!((e.value - 65.0).abs() < 1e-12);
        assert!((e.ci_low.unwrap() - 55.25444329688796).abs() < 1e-9);
        assert!((e.ci_high.unwrap() - 73.63575175690247).abs() < 1e-9);
        assert!((e.detail["mean"].as_f64().unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(e.detail["distribution"]["4"], 40);
        assert_eq!(e.interval_method, "wilson");
    }

    #[test]
    fn ces_value_is_mean_with_pct_easy() {
        // Same source: CES 1-7 counts 2,3,5,10,20,35,25 -> mean 5.48, 80% agree (5-7).
        let h = hist(&[
            (1.0, 2),
            (2.0, 3),
            (3.0, 5),
            (4.0, 10),
            (5.0, 20),
            (6.0, 35),
            (7.0, 25),
        ]);
        let e = MetricSpec::ces()
            .estimate(&h, &EstimateOptions::default())
            .unwrap();
        assert!((e.value - 5.48).abs() < 1e-12);
        assert!((e.detail["pct_easy"].as_f64().unwrap() - 80.0).abs() < 1e-12);
        assert!((e.detail["pct_easy_ci_low"].as_f64().unwrap() - 71.11708344068411).abs() < 1e-9);
    }

    #[test]
    fn interval_choice_maps_per_metric() {
        let h = hist(&[(10.0, 50), (7.0, 30), (3.0, 20)]);
        let wald = EstimateOptions {
            interval: IntervalChoice::Wald,
            ..Default::default()
        };
        let e = MetricSpec::nps().estimate(&h, &wald).unwrap();
        assert_eq!(e.interval_method, "nps_wald");
        assert!((e.ci_low.unwrap() - 14.69219192495733).abs() < 1e-9);
        let t = hist(&[(1.0, 7), (0.0, 3)]);
        let e = MetricSpec::task().estimate(&t, &wald).unwrap();
        assert_eq!(e.interval_method, "wald");
        // statsmodels normal: (0.41597423491067453, 0.9840257650893254)
        assert!((e.ci_low.unwrap() - 41.597_423_491_067_45).abs() < 1e-9);
        let exact = EstimateOptions {
            interval: IntervalChoice::Exact,
            ..Default::default()
        };
        assert!(MetricSpec::nps().estimate(&h, &exact).is_err());
    }

    #[test]
    fn validation_names_the_scale() {
        let nps = MetricSpec::nps();
        assert!(nps.validate(0.0).is_ok() && nps.validate(10.0).is_ok());
        assert!(nps.validate(11.0).unwrap_err().contains("0-10"));
        assert!(nps.validate(7.5).unwrap_err().contains("whole number"));
        assert!(nps.validate(f64::NAN).is_err());
        assert!(MetricSpec::csat().validate(0.0).is_err());
    }

    #[test]
    fn catalog_declarations() {
        let mut decls = BTreeMap::new();
        decls.insert(
            "ces".to_string(),
            MetricDeclaration {
                scale: Some([1.0, 5.0]),
                good_from: Some(4.0),
                ..Default::default()
            },
        );
        decls.insert(
            "effort10".to_string(),
            MetricDeclaration {
                scale: Some([0.0, 10.0]),
                ..Default::default()
            },
        );
        let c = MetricCatalog::builtin().with_declarations(&decls).unwrap();
        assert_eq!(c.get("ces").unwrap().max, 5.0);
        assert_eq!(c.get("effort10").unwrap().kind, MetricKind::Mean);
        let err = c.get("nope").unwrap_err().to_string();
        assert!(err.contains("unknown metric 'nope'") && err.contains("csat"));
        let mut bad = BTreeMap::new();
        bad.insert("x".to_string(), MetricDeclaration::default());
        assert!(MetricCatalog::builtin().with_declarations(&bad).is_err());
    }

    #[test]
    fn comparisons_use_each_metrics_test() {
        // NPS A vs B of 01_nps.R (R NPS): delta 25, p = 0.0257879796225.
        let a = hist(&[(10.0, 50), (7.0, 30), (3.0, 20)]);
        let b = hist(&[(10.0, 35), (7.0, 35), (3.0, 30)]);
        let c = MetricSpec::nps()
            .compare(&a, &b, &EstimateOptions::default())
            .unwrap();
        assert!((c.difference - 25.0).abs() < 1e-10 && (c.p_value - 0.0257879796225).abs() < 1e-9);
        // 650/1000 vs 610/1000 satisfied (R prop.test): p = 0.06394448699.
        let a = hist(&[(5.0, 650), (2.0, 350)]);
        let b = hist(&[(4.0, 610), (1.0, 390)]);
        let c = MetricSpec::csat()
            .compare(&a, &b, &EstimateOptions::default())
            .unwrap();
        assert!((c.difference - 4.0).abs() < 1e-10 && (c.p_value - 0.06394448699).abs() < 1e-9);
        // Means: Welch (scipy ttest_ind): [1,2,3,4] vs [2,4,6,8] -> t = -1.7320508, p = 0.1590
        let a = hist(&[(1.0, 1), (2.0, 1), (3.0, 1), (4.0, 1)]);
        let b = hist(&[(2.0, 1), (4.0, 1), (6.0, 1), (8.0, 1)]);
        let spec = MetricSpec {
            min: 0.0,
            max: 10.0,
            ..MetricSpec::stars()
        };
        let c = spec.compare(&a, &b, &EstimateOptions::default()).unwrap();
        assert!(
            (c.statistic + 1.7320508075688772).abs() < 1e-9,
            "{}",
            c.statistic
        );
        let (v, var) = MetricSpec::nps()
            .value_and_unit_variance(&hist(&[(10.0, 50), (7.0, 30), (3.0, 20)]))
            .unwrap();
        assert!((v - 30.0).abs() < 1e-12 && (var - 6100.0).abs() < 1e-9);
    }

    #[test]
    fn weighted_nps_uses_weights() {
        let mut h = ScoreHistogram::default();
        h.add_weighted(ScoreCount {
            score: 10.0,
            count: 10,
            sum_w: 30.0,
            sum_w2: 90.0,
        });
        h.add_weighted(ScoreCount {
            score: 2.0,
            count: 10,
            sum_w: 10.0,
            sum_w2: 10.0,
        });
        let opts = EstimateOptions {
            weighted: true,
            ..Default::default()
        };
        let e = MetricSpec::nps().estimate(&h, &opts).unwrap();
        assert!((e.value - 50.0).abs() < 1e-12);
        // Kish: 40^2 / 100 = 16.
        assert!((e.n_effective - 16.0).abs() < 1e-12);
    }
}
