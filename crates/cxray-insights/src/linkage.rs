//! Linkage of customer experience to later behaviour: do detractors churn more than promoters,
//! by how much, and what is the difference worth?
//!
//! Each customer's lifecycle spells (start to churn, or to the end of the data) are joined with
//! their NPS answers. A customer enters the analysis at their first answer inside a spell and
//! carries the category of their **latest** answer from then on (a detractor who later answers
//! 9 counts as a promoter from that day). The time scale is days since the spell started, so
//! customers are compared at the same tenure. From that counting-process data:
//!
//! - the churn rate per category: churns per customer-month at risk with the exact Poisson
//!   interval ([`cxray_stats::rate`]);
//! - the hazard ratio of detractors and of passives against promoters from a Cox model with
//!   the category as a time-varying covariate ([`cxray_stats::cox`], Efron ties), with Wald
//!   intervals and the likelihood-ratio test;
//! - Kaplan-Meier retention from the first answer by the category of that answer, with the
//!   log-rank test ([`crate::retention`]);
//! - when customers carry revenue, mean revenue per customer by latest category, the
//!   promoter − detractor difference (Welch), and what one NPS point is associated with:
//!   moving 1% of customers from detractor to promoter raises NPS by 2 points, so one point is
//!   associated with 0.5% × customers × (mean promoter − mean detractor revenue). This is an
//!   association in observational data, stated as such, and given only when the difference is
//!   significant.

use chrono::NaiveDate;
use cxray_metrics::churn::Spell;
use cxray_stats::cox::{CoxRow, cox};
use cxray_stats::mean::welch_test;
use cxray_stats::rate::poisson_rate;
use cxray_stats::{Confidence, Moments};
use serde::Serialize;

use crate::retention::{Lifetime, Retention, RetentionOptions, retention};

/// NPS categories in reporting order; the first is the reference of the hazard ratios.
pub const CATEGORIES: [&str; 3] = ["promoter", "passive", "detractor"];

/// Days in an average month (365.25 / 12), for rates per customer-month.
const MONTH_DAYS: f64 = 30.4375;

/// The NPS category index of a 0-10 score.
pub fn category(score: f64) -> usize {
    if score >= 9.0 {
        0
    } else if score >= 7.0 {
        1
    } else {
        2
    }
}

/// One customer's spells and NPS answers.
#[derive(Debug, Clone)]
pub struct CustomerLink<'a> {
    pub spells: &'a [Spell],
    /// (day, score) of every NPS answer, in any order.
    pub answers: Vec<(NaiveDate, f64)>,
    pub revenue: Option<f64>,
}

/// Churn of one category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryChurn {
    pub category: String,
    /// Customers who spent any time at risk in the category.
    pub customers: u64,
    pub churned: u64,
    pub customer_months: f64,
    /// Churns per 100 customer-months, with its exact Poisson interval.
    pub monthly_churn_pct: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// A category's churn hazard against the reference category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HazardRatio {
    pub category: String,
    pub reference: String,
    pub hazard_ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    pub significant: bool,
}

/// Revenue by category and what one NPS point is associated with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevenueLink {
    /// (category, customers, mean revenue, ci_low, ci_high).
    pub by_category: Vec<RevenueGroup>,
    /// Mean promoter revenue − mean detractor revenue, with Welch's interval and p.
    pub difference: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p_value: f64,
    /// Revenue associated with one NPS point across the customers linked, when the difference
    /// is significant.
    pub per_nps_point: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevenueGroup {
    pub category: String,
    pub customers: u64,
    pub mean: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

/// The linkage of NPS to churn (and revenue).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Linkage {
    pub metric: String,
    /// The churn definition in words.
    pub definition: String,
    /// How customers enter and carry their category, in words.
    pub design: String,
    pub data_end: NaiveDate,
    pub confidence: f64,
    /// Customers with at least one answer inside a spell.
    pub customers: u64,
    /// Answers that fall outside every spell (before the first start or while churned), not
    /// used.
    pub answers_outside_spells: u64,
    pub categories: Vec<CategoryChurn>,
    /// Cox hazard ratios against promoters (empty when the model cannot be fitted).
    pub hazard_ratios: Vec<HazardRatio>,
    /// Likelihood-ratio test of the category effect on churn.
    pub lr_chi2: Option<f64>,
    pub lr_p_value: Option<f64>,
    /// Why the model could not be fitted.
    pub model_note: Option<String>,
    /// Retention from the first answer by its category.
    pub retention: Retention,
    pub revenue: Option<RevenueLink>,
    /// One sentence that says what the evidence shows (or that it shows nothing).
    pub verdict: String,
}

/// Settings of a linkage analysis.
#[derive(Debug, Clone, Copy)]
pub struct LinkageOptions {
    pub confidence: Confidence,
    pub alpha: f64,
}

/// Links NPS answers to churn. `definition` is the churn definition in words.
pub fn linkage(
    customers: &[CustomerLink],
    definition: String,
    data_end: NaiveDate,
    opts: &LinkageOptions,
) -> Linkage {
    let mut rows: Vec<CoxRow> = Vec::new();
    let mut exposure = [0.0f64; 3];
    let mut events = [0u64; 3];
    let mut seen = [0u64; 3];
    let mut lifetimes: Vec<Lifetime> = Vec::new();
    let mut revenue: [Moments; 3] = Default::default();
    let mut linked = 0u64;
    let mut outside = 0u64;
    let mut answers: Vec<(NaiveDate, usize)> = Vec::new();
    for c in customers {
        answers.clear();
        answers.extend(c.answers.iter().map(|(d, s)| (*d, category(*s))));
        answers.sort_by_key(|a| a.0);
        let mut used = 0usize;
        let mut latest: Option<usize> = None;
        let mut first_lifetime = true;
        for s in c.spells {
            let end = s.churned.unwrap_or(data_end).min(data_end);
            let inside: Vec<(NaiveDate, usize)> = answers
                .iter()
                .filter(|(d, _)| *d >= s.from && *d < end.max(s.from + chrono::Duration::days(1)))
                .copied()
                .collect();
            if inside.is_empty() {
                continue;
            }
            used += inside.len();
            let churned = s.churned.is_some_and(|c| c <= data_end);
            let day = |d: NaiveDate| (d - s.from).num_days() as f64;
            let t_end = day(end);
            let mut in_cat = [false; 3];
            for (k, &(d, cat)) in inside.iter().enumerate() {
                let start = day(d);
                let last = k + 1 == inside.len();
                let stop = if last {
                    // Churn on the day of the answer still happens after it.
                    t_end.max(start + 0.5)
                } else {
                    day(inside[k + 1].0)
                };
                latest = Some(cat);
                if stop <= start {
                    continue; // a later answer on the same day replaces this one
                }
                let event = last && churned;
                let mut x = vec![0.0; 2];
                if cat > 0 {
                    x[cat - 1] = 1.0;
                }
                rows.push(CoxRow {
                    start,
                    stop,
                    event,
                    x,
                });
                exposure[cat] += stop - start;
                events[cat] += event as u64;
                in_cat[cat] = true;
            }
            for (k, &b) in in_cat.iter().enumerate() {
                seen[k] += b as u64;
            }
            if first_lifetime {
                first_lifetime = false;
                let (d0, cat0) = inside[0];
                lifetimes.push(Lifetime {
                    segment: vec![Some(CATEGORIES[cat0].to_string())],
                    start: d0,
                    days: (end - d0).num_days().max(0) as f64,
                    churned,
                    revenue: c.revenue,
                });
            }
        }
        outside += (answers.len() - used) as u64;
        if let Some(cat) = latest {
            linked += 1;
            if let Some(r) = c.revenue.filter(|r| r.is_finite()) {
                revenue[cat].push(r);
            }
        }
    }
    let categories: Vec<CategoryChurn> = (0..3)
        .filter(|&k| exposure[k] > 0.0)
        .map(|k| {
            let months = exposure[k] / MONTH_DAYS;
            let e = poisson_rate(events[k], months, opts.confidence).expect("positive exposure");
            let i = e.interval.expect("an exact interval");
            CategoryChurn {
                category: CATEGORIES[k].into(),
                customers: seen[k],
                churned: events[k],
                customer_months: months,
                monthly_churn_pct: 100.0 * e.value,
                ci_low: 100.0 * i.low,
                ci_high: 100.0 * i.high,
            }
        })
        .collect();
    let names = ["passive".to_string(), "detractor".to_string()];
    // Fit only the categories present: a dummy without any rows cannot be estimated.
    let present: Vec<usize> = (0..2).filter(|&j| exposure[j + 1] > 0.0).collect();
    let mut hazard_ratios = Vec::new();
    let (mut lr_chi2, mut lr_p_value, mut model_note) = (None, None, None);
    if exposure[0] > 0.0 && !present.is_empty() {
        let sub: Vec<CoxRow> = rows
            .iter()
            .map(|r| CoxRow {
                x: present.iter().map(|&j| r.x[j]).collect(),
                ..r.clone()
            })
            .collect();
        let sub_names: Vec<String> = present.iter().map(|&j| names[j].clone()).collect();
        match cox(&sub, &sub_names, opts.confidence) {
            Ok(fit) => {
                for (j, name) in sub_names.iter().enumerate() {
                    hazard_ratios.push(HazardRatio {
                        category: name.clone(),
                        reference: CATEGORIES[0].into(),
                        hazard_ratio: fit.hazard_ratios[j],
                        ci_low: fit.hazard_ratio_lower[j],
                        ci_high: fit.hazard_ratio_upper[j],
                        p_value: fit.p_values[j],
                        significant: fit.p_values[j] < opts.alpha,
                    });
                }
                lr_chi2 = Some(fit.lr_chi2);
                lr_p_value = Some(fit.lr_p_value);
            }
            Err(e) => model_note = Some(format!("no hazard ratios: {e}")),
        }
    } else {
        model_note =
            Some("no hazard ratios: promoters and at least one other category are needed".into());
    }
    let retention = retention(
        &lifetimes,
        definition.clone(),
        data_end,
        &RetentionOptions {
            by: vec!["nps_category".into()],
            cohort: None,
            horizons: vec![90.0, 180.0, 365.0],
            confidence: opts.confidence,
            alpha: opts.alpha,
        },
    );
    let revenue = revenue_link(&revenue, linked, opts);
    let verdict = verdict(&hazard_ratios, &categories, linked, opts);
    Linkage {
        metric: "nps".into(),
        definition,
        design: "customers enter at their first NPS answer inside a customer spell and carry the \
                 category of their latest answer; time is tenure in days (Cox model with the \
                 category as a time-varying covariate, Efron ties)"
            .into(),
        data_end,
        confidence: opts.confidence.level(),
        customers: linked,
        answers_outside_spells: outside,
        categories,
        hazard_ratios,
        lr_chi2,
        lr_p_value,
        model_note,
        retention,
        revenue,
        verdict,
    }
}

fn revenue_link(m: &[Moments; 3], linked: u64, opts: &LinkageOptions) -> Option<RevenueLink> {
    if m.iter().all(|x| x.n == 0) {
        return None;
    }
    let by_category = (0..3)
        .filter(|&k| m[k].n > 0)
        .map(|k| {
            let ci = m[k].estimate(opts.confidence).ok().and_then(|e| e.interval);
            RevenueGroup {
                category: CATEGORIES[k].into(),
                customers: m[k].n,
                mean: m[k].mean,
                ci_low: ci.map(|i| i.low),
                ci_high: ci.map(|i| i.high),
            }
        })
        .collect();
    let cmp = welch_test(&m[0], &m[2], opts.confidence).ok()?;
    let (low, high) = (cmp.interval.low, cmp.interval.high);
    let significant = cmp.p_value < opts.alpha;
    Some(RevenueLink {
        by_category,
        difference: cmp.difference,
        ci_low: low,
        ci_high: high,
        p_value: cmp.p_value,
        per_nps_point: significant.then_some(0.005 * linked as f64 * cmp.difference),
    })
}

fn verdict(hr: &[HazardRatio], cats: &[CategoryChurn], n: u64, opts: &LinkageOptions) -> String {
    let rate = |c: &str| cats.iter().find(|x| x.category == c);
    match hr.iter().find(|h| h.category == "detractor") {
        Some(h) if h.significant => {
            let (d, p) = (rate("detractor"), rate("promoter"));
            let rates = match (d, p) {
                (Some(d), Some(p)) => format!(
                    " ({:.2}% vs {:.2}% a month)",
                    d.monthly_churn_pct, p.monthly_churn_pct
                ),
                _ => String::new(),
            };
            format!(
                "Detractors churn at {:.1}× the rate of promoters{rates}: hazard ratio {:.2}, \
                 {:.0}% CI {:.2}–{:.2}, p {}, n {} customers.",
                h.hazard_ratio,
                h.hazard_ratio,
                100.0 * opts.confidence.level(),
                h.ci_low,
                h.ci_high,
                crate::report::fmt_p(h.p_value),
                n
            )
        }
        Some(h) => format!(
            "No evidence that detractors churn at a different rate from promoters (hazard ratio \
             {:.2}, {:.0}% CI {:.2}–{:.2}, p {}).",
            h.hazard_ratio,
            100.0 * opts.confidence.level(),
            h.ci_low,
            h.ci_high,
            crate::report::fmt_p(h.p_value)
        ),
        None => "Not enough linked customers to compare churn between NPS categories.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn opts() -> LinkageOptions {
        LinkageOptions {
            confidence: Confidence::default(),
            alpha: 0.05,
        }
    }

    #[test]
    fn category_carries_the_latest_answer_and_exposure_is_split() {
        // Spell from Jan 1; answers 3 (detractor) on Jan 11 and 9 (promoter) on Jan 31; churn
        // on Mar 1. Detractor exposure 20 days, promoter 29 days ending in churn.
        let spells = vec![Spell {
            from: d("2025-01-01"),
            churned: Some(d("2025-03-01")),
        }];
        let other = vec![Spell {
            from: d("2025-01-01"),
            churned: None,
        }];
        let c = vec![
            CustomerLink {
                spells: &spells,
                answers: vec![(d("2025-01-31"), 9.0), (d("2025-01-11"), 3.0)],
                revenue: None,
            },
            CustomerLink {
                spells: &other,
                answers: vec![(d("2024-12-01"), 2.0), (d("2025-02-01"), 8.0)],
                revenue: None,
            },
        ];
        let l = linkage(&c, "test".into(), d("2025-06-30"), &opts());
        assert_eq!(l.customers, 2);
        // The second customer's December answer is before their spell.
        assert_eq!(l.answers_outside_spells, 1);
        let get = |k: &str| l.categories.iter().find(|c| c.category == k).unwrap();
        assert!((get("detractor").customer_months * MONTH_DAYS - 20.0).abs() < 1e-9);
        assert!((get("promoter").customer_months * MONTH_DAYS - 29.0).abs() < 1e-9);
        assert_eq!(get("promoter").churned, 1);
        assert_eq!(get("detractor").churned, 0);
        // Passive from Feb 1 to the end of the data (Jun 30): 149 days, censored.
        assert!((get("passive").customer_months * MONTH_DAYS - 149.0).abs() < 1e-9);
        // Retention starts at the first answer, with that answer's category.
        let groups: Vec<_> = l.retention.groups.iter().map(|g| g.customers).collect();
        assert_eq!(groups.iter().sum::<u64>(), 2);
    }

    #[test]
    fn revenue_per_nps_point() {
        // 40 promoters with revenue 190-210, 40 detractors with 90-110, all active.
        let spell = vec![Spell {
            from: d("2025-01-01"),
            churned: None,
        }];
        let mut c = Vec::new();
        for i in 0..80 {
            let promoter = i % 2 == 0;
            c.push(CustomerLink {
                spells: &spell,
                answers: vec![(d("2025-02-01"), if promoter { 10.0 } else { 2.0 })],
                revenue: Some(if promoter { 190.0 } else { 90.0 } + (i % 21) as f64),
            });
        }
        let l = linkage(&c, "test".into(), d("2025-06-30"), &opts());
        let r = l.revenue.unwrap();
        assert!(r.p_value < 1e-6);
        // The difference of the two groups' mean revenue, computed here from the inputs.
        let mean = |even: bool| {
            let v: Vec<f64> = (0..80)
                .filter(|i| (i % 2 == 0) == even)
                .map(|i| if even { 190.0 } else { 90.0 } + (i % 21) as f64)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        let diff = mean(true) - mean(false);
        assert!((r.difference - diff).abs() < 1e-9);
        assert_eq!(
            (r.by_category[0].customers, r.by_category[1].customers),
            (40, 40)
        );
        assert!((r.per_nps_point.unwrap() - 0.005 * 80.0 * diff).abs() < 1e-9);
        // No churn at all: no hazard ratios, and the verdict says so.
        assert!(l.hazard_ratios.is_empty());
        assert!(l.model_note.is_some());
    }
}
