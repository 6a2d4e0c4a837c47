//! Retention curves by cohort and segment: Kaplan-Meier survival of each customer's first spell
//! (churn is the event, a spell still active at the end of the data is censored there), the
//! retention at chosen horizons with log-log intervals (lifelines' default), the median
//! lifetime, and the log-rank test of whether the groups' curves differ.
//!
//! Customers whose first spell started before churn could be observed are left out by the
//! caller (see [`Retention::observed_from`]): counting them would make cohorts look immortal
//! during the months before the data (left truncation).
//!
//! Customer lifetime value, when customers carry revenue, is reported per group as the mean
//! revenue per customer with its t-interval beside the retention figures — observed value to
//! date, not a forecast.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use cxray_metrics::period::Period;
use cxray_stats::survival::{
    KaplanMeier, SurvivalData, SurvivalInterval, TimeCount, kaplan_meier, log_rank,
};
use cxray_stats::{Confidence, Moments};
use serde::Serialize;

/// One customer's first spell, for retention.
#[derive(Debug, Clone, PartialEq)]
pub struct Lifetime {
    /// Segment values, in `by` order.
    pub segment: Vec<Option<String>>,
    /// First day of the first spell.
    pub start: NaiveDate,
    /// Days from the start to churn, or to the end of the data when still active.
    pub days: f64,
    pub churned: bool,
    /// Revenue from the customer, when known.
    pub revenue: Option<f64>,
}

/// Retention at one horizon.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HorizonPoint {
    pub days: f64,
    /// Share still retained (0..1); null beyond the longest observed lifetime of the group.
    pub retained: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// Customers still observed (at risk) at the horizon.
    pub at_risk: u64,
}

/// A point of the curve (a step of the Kaplan-Meier estimate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    pub days: f64,
    pub retained: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub at_risk: u64,
}

/// Retention of one group of customers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetentionGroup {
    /// Signup cohort label (`2025-03`), when grouped by cohort.
    pub cohort: Option<String>,
    pub cohort_start: Option<NaiveDate>,
    pub segment: BTreeMap<String, Option<String>>,
    pub customers: u64,
    pub churned: u64,
    /// Days until half the group has churned; null while more than half remain.
    pub median_days: Option<f64>,
    pub median_ci_low: Option<f64>,
    pub median_ci_high: Option<f64>,
    pub horizons: Vec<HorizonPoint>,
    /// Mean revenue per customer to date, with its t-interval, when revenue is known.
    pub revenue_per_customer: Option<f64>,
    pub revenue_ci_low: Option<f64>,
    pub revenue_ci_high: Option<f64>,
    /// Customers of the group with a revenue value.
    pub revenue_n: u64,
    pub curve: Vec<CurvePoint>,
}

/// The log-rank test across the groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupTest {
    pub test: &'static str,
    pub chi2: f64,
    pub df: usize,
    pub p_value: f64,
    pub verdict: String,
}

/// Retention analysis of every group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Retention {
    /// The churn definition in words.
    pub definition: String,
    pub data_end: NaiveDate,
    pub confidence: f64,
    pub by: Vec<String>,
    pub cohort_period: Option<Period>,
    pub groups: Vec<RetentionGroup>,
    /// Whether the curves differ (null with one group).
    pub log_rank: Option<GroupTest>,
    /// The first day churn could be observed (the first cancel, renewal or activity); customers
    /// whose first spell started earlier are left out, because their early months — when they
    /// could have churned unseen — are not in the data (they would look immortal).
    pub observed_from: Option<NaiveDate>,
    /// Customers left out for that reason.
    pub left_out: u64,
}

/// Settings of a retention analysis.
#[derive(Debug, Clone)]
pub struct RetentionOptions {
    pub by: Vec<String>,
    pub cohort: Option<Period>,
    pub horizons: Vec<f64>,
    pub confidence: Confidence,
    /// Significance level of the verdict.
    pub alpha: f64,
}

/// Groups the lifetimes and estimates every group's curve, and tests the groups against each
/// other.
pub fn retention(
    lifetimes: &[Lifetime],
    definition: String,
    data_end: NaiveDate,
    opts: &RetentionOptions,
) -> Retention {
    type Key = (Option<NaiveDate>, Vec<Option<String>>);
    let mut groups: BTreeMap<Key, (Vec<TimeCount>, Moments)> = BTreeMap::new();
    for l in lifetimes {
        let key = (opts.cohort.map(|p| p.start_of(l.start)), l.segment.clone());
        let g = groups.entry(key).or_default();
        g.0.push(TimeCount {
            time: l.days,
            events: l.churned as u64,
            censored: (!l.churned) as u64,
        });
        if let Some(r) = l.revenue.filter(|r| r.is_finite()) {
            g.1.push(r);
        }
    }
    let mut out = Vec::new();
    let mut data = Vec::new();
    for ((cohort_start, segment), (counts, revenue)) in groups {
        let Ok(sd) = SurvivalData::from_counts(counts) else {
            continue;
        };
        let Ok(km) = kaplan_meier(&sd, opts.confidence, SurvivalInterval::LogLog) else {
            continue;
        };
        let rev = revenue.estimate(opts.confidence).ok();
        out.push(group_of(
            &km,
            cohort_start,
            opts,
            &segment,
            rev.as_ref(),
            revenue.n,
        ));
        data.push(sd);
    }
    let log_rank = (data.len() > 1)
        .then(|| log_rank(&data).ok())
        .flatten()
        .map(|t| GroupTest {
            test: "log_rank",
            chi2: t.chi2,
            df: t.df,
            p_value: t.p_value,
            verdict: if t.p_value <= opts.alpha {
                format!(
                    "the {} groups retain customers differently (log-rank χ² = {:.1}, df = {}, p {})",
                    data.len(),
                    t.chi2,
                    t.df,
                    crate::report::with_op(t.p_value)
                )
            } else {
                format!(
                    "no significant difference between the {} groups' retention (p {}); the \
                     gaps could be noise",
                    data.len(),
                    crate::report::with_op(t.p_value)
                )
            },
        });
    Retention {
        definition,
        data_end,
        confidence: opts.confidence.level(),
        by: opts.by.clone(),
        cohort_period: opts.cohort,
        groups: out,
        log_rank,
        observed_from: None,
        left_out: 0,
    }
}

fn group_of(
    km: &KaplanMeier,
    cohort_start: Option<NaiveDate>,
    opts: &RetentionOptions,
    segment: &[Option<String>],
    revenue: Option<&cxray_stats::Estimate>,
    revenue_n: u64,
) -> RetentionGroup {
    let last = km.points.last().map_or(0.0, |p| p.time);
    let horizons = opts
        .horizons
        .iter()
        .map(|&h| {
            let at_risk = km
                .points
                .iter()
                .find(|p| p.time >= h)
                .map_or(0, |p| p.at_risk);
            if h > last {
                return HorizonPoint {
                    days: h,
                    retained: None,
                    ci_low: None,
                    ci_high: None,
                    at_risk,
                };
            }
            let (s, lo, hi) = km
                .point_at(h)
                .map_or((1.0, 1.0, 1.0), |p| (p.survival, p.lower, p.upper));
            HorizonPoint {
                days: h,
                retained: Some(s),
                ci_low: Some(lo),
                ci_high: Some(hi),
                at_risk,
            }
        })
        .collect();
    let median = km.median();
    RetentionGroup {
        cohort: cohort_start.map(|d| opts.cohort.expect("cohort period").label(d)),
        cohort_start,
        segment: opts
            .by
            .iter()
            .cloned()
            .zip(segment.iter().cloned())
            .collect(),
        customers: km.n,
        churned: km.events,
        median_days: median.median,
        median_ci_low: median.lower,
        median_ci_high: median.upper,
        horizons,
        revenue_per_customer: revenue.map(|e| e.value),
        revenue_ci_low: revenue.and_then(|e| e.interval.map(|i| i.low)),
        revenue_ci_high: revenue.and_then(|e| e.interval.map(|i| i.high)),
        revenue_n,
        curve: km
            .points
            .iter()
            .filter(|p| p.events > 0)
            .map(|p| CurvePoint {
                days: p.time,
                retained: p.survival,
                ci_low: p.lower,
                ci_high: p.upper,
                at_risk: p.at_risk,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn life(seg: &str, start: &str, days: f64, churned: bool) -> Lifetime {
        Lifetime {
            segment: vec![Some(seg.into())],
            start: d(start),
            days,
            churned,
            revenue: Some(days),
        }
    }

    /// Group A: lifetimes 2, 3+, 5, 8 (censored 3); B: 4, 6, 7+, 9. Reference: lifelines 0.30.3
    /// `KaplanMeierFitter().fit([2,3,5,8],[1,0,1,1])`: S(5) = 0.375 with the exponential
    /// Greenwood band (0.010971, 0.808001), median 5; `logrank_test([2,3,5,8],[4,6,7,9],
    /// [1,0,1,1],[1,1,0,1])`: χ² = 0.899009422565837, p = 0.3430474602705823.
    const LOW: f64 = 0.010_971_121_574_844_577;
    const HIGH: f64 = 0.808_001_072_481_343_6;

    #[test]
    fn curves_horizons_and_log_rank_match_lifelines() {
        let ls = vec![
            life("A", "2025-01-05", 2.0, true),
            life("A", "2025-01-06", 3.0, false),
            life("A", "2025-02-01", 5.0, true),
            life("A", "2025-02-03", 8.0, true),
            life("B", "2025-01-05", 4.0, true),
            life("B", "2025-01-09", 6.0, true),
            life("B", "2025-02-11", 7.0, false),
            life("B", "2025-02-12", 9.0, true),
        ];
        let opts = RetentionOptions {
            by: vec!["plan".into()],
            cohort: None,
            horizons: vec![5.0, 100.0],
            confidence: Confidence::default(),
            alpha: 0.05,
        };
        let r = retention(&ls, "test".into(), d("2025-06-01"), &opts);
        assert_eq!(r.groups.len(), 2);
        let a = &r.groups[0];
        assert_eq!((a.customers, a.churned), (4, 3));
        let h = &a.horizons[0];
        assert!((h.retained.unwrap() - 0.375).abs() < 1e-12);
        assert!((h.ci_low.unwrap() - LOW).abs() < 1e-9, "{h:?}");
        assert!((h.ci_high.unwrap() - HIGH).abs() < 1e-9, "{h:?}");
        assert_eq!(a.horizons[1].retained, None, "beyond the data");
        assert_eq!(a.median_days, Some(5.0));
        assert!((a.revenue_per_customer.unwrap() - 4.5).abs() < 1e-12);
        let t = r.log_rank.unwrap();
        assert!((t.chi2 - 0.899_009_422_565_837).abs() < 1e-9, "{t:?}");
        assert!((t.p_value - 0.343_047_460_270_582_3).abs() < 1e-9);
        assert!(t.verdict.contains("no significant difference"));
        // By cohort: January and February starts.
        let unsegmented: Vec<Lifetime> = ls
            .iter()
            .map(|l| Lifetime {
                segment: vec![],
                ..l.clone()
            })
            .collect();
        let by_cohort = retention(
            &unsegmented,
            "test".into(),
            d("2025-06-01"),
            &RetentionOptions {
                by: vec![],
                cohort: Some(Period::Month),
                ..opts
            },
        );
        let labels: Vec<_> = by_cohort
            .groups
            .iter()
            .map(|g| g.cohort.clone().unwrap())
            .collect();
        assert_eq!(labels, ["2025-01", "2025-02"]);
    }
}
