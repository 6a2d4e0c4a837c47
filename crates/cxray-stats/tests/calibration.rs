//! The fast subset of the calibration study (`docs/calibration.md`, written by
//! `cargo run --release -p cxray-report --example calibration`): on a fixed seed, the default
//! interval of each quantity covers the truth within 1.5 points of 95% at sample sizes where
//! the full study finds it calibrated, and the default tests reject a true null about 5% of
//! the time. A change that breaks a method's calibration (a wrong quantile, a missing term of a
//! variance) fails here.

use cxray_stats::Adjustment;
use cxray_stats::calibration::{self as cal, Coverage, Plan, Rng};

/// 4,000 samples: the Monte-Carlo standard error of a 95% coverage is 0.34 points, so ±1.5
/// points is over 4 standard errors.
const REPS: u64 = 4_000;

fn at_95<'a>(rows: &'a [Coverage], method: &str) -> &'a Coverage {
    rows.iter()
        .find(|r| r.method == method && r.nominal == 0.95)
        .unwrap_or_else(|| panic!("no 95% row for {method}"))
}

#[track_caller]
fn assert_calibrated(rows: &[Coverage], method: &str) {
    let r = at_95(rows, method);
    assert_eq!(
        r.missing, 0,
        "{} {}: samples without an interval",
        r.study, r.case
    );
    assert!(
        (r.rate() - 0.95).abs() <= 0.015,
        "{} ({}, n = {}, {method}): 95% interval covers {:.1}%",
        r.study,
        r.case,
        r.n,
        r.rate() * 100.0
    );
}

#[test]
fn default_intervals_cover_at_their_level() {
    let plan = Plan {
        reps: REPS,
        levels: vec![0.95],
    };
    let mut rng = Rng::new(20_261_208);
    assert_calibrated(
        &cal::nps(&mut rng, &plan, [0.30, 0.30, 0.40], 200),
        "nps_score_tango",
    );
    assert_calibrated(
        &cal::nps(&mut rng, &plan, [0.10, 0.20, 0.70], 300),
        "nps_score_tango",
    );
    assert_calibrated(&cal::proportion(&mut rng, &plan, 0.8, 300), "wilson");
    let csat = [0.05, 0.05, 0.10, 0.30, 0.50];
    assert_calibrated(&cal::mean(&mut rng, &plan, "CSAT", &csat, 300), "t");
    assert_calibrated(&cal::ratio(&mut rng, &plan, 0.2, 300), "linearization");
    assert_calibrated(&cal::rate(&mut rng, &plan, 0.03, 10_000.0), "poisson-exact");
    assert_calibrated(&cal::quantile(&mut rng, &plan, 0.5, 500), "order-statistic");
    assert_calibrated(&cal::survival(&mut rng, &plan, 6.0, 300), "log-log");
    // The weighted mean's linearisation SE treats the weights as known; raked
    // weights are estimated and reduce the variance, so its interval is conservative (97% in
    // the full study): it must not cover less than its level, nor be wildly wide.
    let group_b = [0.15, 0.20, 0.30, 0.20, 0.15];
    let weighted = cal::weighted(&mut rng, &plan, &csat, &group_b, 300);
    let r = at_95(&weighted, "weighted_linearization");
    assert!(
        (0.945..=0.985).contains(&r.rate()),
        "weighted mean covers {:.1}%",
        r.rate() * 100.0
    );
}

#[test]
fn default_tests_reject_a_true_null_at_their_level() {
    let mut rng = Rng::new(7);
    let within = |rate: f64, what: &str| {
        assert!(
            (0.035..=0.065).contains(&rate),
            "{what}: a true null rejected {:.1}% of the time at 5%",
            rate * 100.0
        );
    };
    within(
        cal::two_proportions(&mut rng, REPS, 0.8, 0.0, 200, 0.05).rate(),
        "two-proportion z",
    );
    within(
        cal::nps_change(&mut rng, REPS, [0.30, 0.30, 0.40], 0.0, 200, 0.05).rate(),
        "NPS difference",
    );
    within(
        cal::mean_change(
            &mut rng,
            REPS,
            &[0.05, 0.05, 0.10, 0.30, 0.50],
            0.0,
            100,
            0.05,
        )
        .rate(),
        "Welch t",
    );
    // Benjamini-Hochberg over 20 segment changes, 4 of them real: the false discovery rate
    // stays under 5% (it promises 5% × 16/20), and it still finds real changes (32% of them
    // with 200 answers a period on this seed).
    let f = cal::family(
        &mut rng,
        1_000,
        20,
        4,
        0.10,
        200,
        0.05,
        Some(Adjustment::BenjaminiHochberg),
    );
    assert!(
        f.false_discovery_rate <= 0.055,
        "FDR {}",
        f.false_discovery_rate
    );
    assert!(f.power >= 0.25, "power {}", f.power);
}

/// Below the sizes where the study finds coverage under 93%, the estimate says so; above, it
/// does not.
#[test]
fn estimates_under_the_calibrated_sizes_carry_a_note() {
    use cxray_stats::estimate::small_sample;
    use cxray_stats::ratio::RatioSums;
    use cxray_stats::weighted::{WeightedLevel, weighted_mean};
    use cxray_stats::{Confidence, Moments, Proportion, ProportionInterval};
    let conf = Confidence::new(0.95).unwrap();
    let flagged =
        |note: &Option<String>| note.as_deref().is_some_and(|n| n.contains("calibration"));
    let scores = |n: u64| Moments::from_histogram(&[(4.0, n / 2), (5.0, n - n / 2)]).unwrap();
    assert!(flagged(
        &scores(small_sample::MEAN - 1).estimate(conf).unwrap().note
    ));
    assert!(!flagged(
        &scores(small_sample::MEAN).estimate(conf).unwrap().note
    ));
    let share = |s, n| {
        Proportion::new(s, n)
            .unwrap()
            .estimate(conf, ProportionInterval::Wilson)
    };
    assert!(flagged(&share(19, 20).unwrap().note));
    assert!(flagged(&share(18, 20).unwrap().note) && flagged(&share(2, 20).unwrap().note));
    assert!(!flagged(&share(15, 20).unwrap().note));
    assert!(!flagged(&share(38, 40).unwrap().note));
    let clusters = |m: u64| {
        let mut s = RatioSums::default();
        for i in 0..m {
            s.push(2.0, (i % 3) as f64 / 2.0);
        }
        s.estimate(conf, true).unwrap()
    };
    assert!(flagged(&clusters(small_sample::CLUSTERS - 1).note));
    assert!(!flagged(&clusters(small_sample::CLUSTERS).note));
    // Twenty answers weighted 1 and 3: Kish's effective n is 16.
    let weighted = |k: u64| {
        let level = |value, w: f64| WeightedLevel {
            value,
            count: k,
            sum_w: k as f64 * w,
            sum_w2: k as f64 * w * w,
        };
        weighted_mean(&[level(4.0, 1.0), level(5.0, 3.0)], conf).unwrap()
    };
    assert!(flagged(&weighted(10).note));
    assert!(!flagged(&weighted(40).note));
}

/// A stable NPS over 24 months of 200 answers: the report's period-over-period changes,
/// adjusted together, flag a false change in about 5% of series, and the 3-sigma chart about
/// as often as Shewhart's 1 − 0.9973²⁴ = 6.3%.
#[test]
fn a_stable_trend_rarely_shows_a_change() {
    let mut rng = Rng::new(11);
    let t = cal::trend(&mut rng, 2_000, [0.30, 0.30, 0.40], 24, 200);
    assert!(
        t.changes <= 0.07,
        "BH-adjusted changes in {:.1}% of series",
        t.changes * 100.0
    );
    assert!(
        t.changes_unadjusted > 0.3,
        "unadjusted: {}",
        t.changes_unadjusted
    );
    assert!(
        (0.03..=0.09).contains(&t.chart_signals),
        "signals {}",
        t.chart_signals
    );
}
