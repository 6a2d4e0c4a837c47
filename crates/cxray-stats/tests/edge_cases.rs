//! Degenerate input: empty samples, single answers, zero variance, collinear drivers,
//! impossible raking margins. Each gives a typed error or a flagged estimate, never a panic
//! or a silent NaN.

use cxray_stats::decompose::{SegmentPeriods, mix_rate};
use cxray_stats::mean::{Moments, welch_test};
use cxray_stats::raking::{Margin, RakeControl, RakingCell, rake};
use cxray_stats::regression::{
    BinomialRow, CrossProducts, logistic, ols, relative_weights, shapley_r2,
};
use cxray_stats::survival::{SurvivalData, SurvivalInterval, kaplan_meier, log_rank};
use cxray_stats::weighted::{WeightedLevel, weighted_mean};
use cxray_stats::*;

fn c95() -> Confidence {
    Confidence::default()
}

fn no_nan(e: &Estimate) {
    assert!(e.value.is_finite());
    if let Some(s) = e.se {
        assert!(s.is_finite());
    }
    if let Some(i) = e.interval {
        assert!(i.low.is_finite() && i.high.is_finite() && i.low <= i.high);
    }
}

#[test]
fn confidence_outside_unit_interval_is_rejected() {
    for bad in [0.0, 1.0, -0.5, 1.5, f64::NAN] {
        assert!(matches!(
            Confidence::new(bad),
            Err(StatsError::InvalidArgument(_))
        ));
    }
}

#[test]
fn nps_edge_cases() {
    assert!(matches!(
        NpsCounts::new(0, 0, 0).estimate(c95(), NpsInterval::Score),
        Err(StatsError::NoObservations { .. })
    ));
    for method in [
        NpsInterval::Score,
        NpsInterval::AdjustedWald,
        NpsInterval::Wald,
    ] {
        // One response, all promoters, all detractors.
        for counts in [
            NpsCounts::new(0, 0, 1),
            NpsCounts::new(1, 0, 0),
            NpsCounts::new(0, 1, 0),
            NpsCounts::new(0, 0, 250),
            NpsCounts::new(250, 0, 0),
        ] {
            let e = counts.estimate(c95(), method).unwrap();
            no_nan(&e);
            let i = e.interval.unwrap();
            assert!(i.low >= -100.0 && i.high <= 100.0);
            assert!(e.note.is_some(), "zero-variance answers are flagged");
        }
    }
    let all_promoters = NpsCounts::new(0, 0, 10)
        .estimate(c95(), NpsInterval::Score)
        .unwrap();
    assert_eq!(all_promoters.value, 100.0);
    assert!(
        all_promoters.interval.unwrap().low < 50.0,
        "score interval is informative"
    );
    let hist = [1, 0, 0, 0, 0, 0, 2, 3, 0, 4, 5];
    let c = NpsCounts::from_histogram(&hist);
    assert_eq!((c.detractors, c.passives, c.promoters), (3.0, 3.0, 9.0));
    assert!(NpsCounts::from_totals(-1.0, 0.0, 1.0).is_err());
    assert!(NpsCounts::from_totals(f64::NAN, 0.0, 1.0).is_err());
    // Two samples with zero variance and the same NPS: no difference, p = 1.
    let d = nps_difference(
        &NpsCounts::new(0, 0, 5),
        &NpsCounts::new(0, 0, 9),
        c95(),
        NpsInterval::Wald,
    )
    .unwrap();
    assert_eq!((d.difference, d.p_value), (0.0, 1.0));
    // ... and different NPS: undefined test, not NaN.
    assert!(matches!(
        nps_difference(
            &NpsCounts::new(0, 0, 5),
            &NpsCounts::new(5, 0, 0),
            c95(),
            NpsInterval::Wald
        ),
        Err(StatsError::Undefined(_))
    ));
}

#[test]
fn proportion_edge_cases() {
    assert!(Proportion::new(3, 2).is_err());
    assert!(matches!(
        Proportion::new(0, 0)
            .unwrap()
            .estimate(c95(), ProportionInterval::Wilson),
        Err(StatsError::NoObservations { .. })
    ));
    for (k, n) in [(0, 1), (1, 1), (0, 40), (40, 40)] {
        let e = Proportion::new(k, n)
            .unwrap()
            .estimate(c95(), ProportionInterval::Wilson)
            .unwrap();
        no_nan(&e);
        assert!(e.note.is_some());
    }
    let t = two_proportion_test(
        Proportion::new(10, 10).unwrap(),
        Proportion::new(5, 5).unwrap(),
        c95(),
        DifferenceInterval::Newcombe,
    )
    .unwrap();
    assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
}

#[test]
fn mean_edge_cases() {
    assert!(matches!(
        Moments::default().estimate(c95()),
        Err(StatsError::NoObservations { .. })
    ));
    let one = Moments::from_values(&[4.0])
        .unwrap()
        .estimate(c95())
        .unwrap();
    assert_eq!(one.value, 4.0);
    assert!(one.se.is_none() && one.interval.is_none() && one.note.is_some());
    let flat = Moments::from_values(&[3.0; 20])
        .unwrap()
        .estimate(c95())
        .unwrap();
    assert_eq!(flat.se, Some(0.0));
    assert!(flat.note.is_some());
    assert!(Moments::from_values(&[1.0, f64::NAN]).is_err());
    let a = Moments::from_values(&[3.0, 3.0]).unwrap();
    let b = Moments::from_values(&[4.0, 4.0]).unwrap();
    assert!(matches!(
        welch_test(&a, &b, c95()),
        Err(StatsError::Undefined(_))
    ));
    assert!(matches!(
        welch_test(&a, &Moments::from_values(&[1.0]).unwrap(), c95()),
        Err(StatsError::TooFewObservations { .. })
    ));
    // Merging equals one pass; from_sums equals from_values.
    let x: Vec<f64> = (0..50).map(|i| (i * 7 % 11) as f64).collect();
    let whole = Moments::from_values(&x).unwrap();
    let merged = Moments::from_values(&x[..17])
        .unwrap()
        .merge(Moments::from_values(&x[17..]).unwrap());
    assert!((whole.mean - merged.mean).abs() < 1e-12 && (whole.m2 - merged.m2).abs() < 1e-9);
    let sums = Moments::from_sums(50, x.iter().sum(), x.iter().map(|v| v * v).sum()).unwrap();
    assert!((sums.m2 - whole.m2).abs() < 1e-9);
}

#[test]
fn weighted_edge_cases() {
    assert!(weighted_mean(&[], c95()).is_err());
    let zero = WeightedLevel {
        value: 1.0,
        count: 3,
        sum_w: 0.0,
        sum_w2: 0.0,
    };
    assert!(matches!(
        weighted_mean(&[zero], c95()),
        Err(StatsError::NoObservations { .. })
    ));
    let one = WeightedLevel {
        value: 1.0,
        count: 1,
        sum_w: 2.0,
        sum_w2: 4.0,
    };
    let e = weighted_mean(&[one], c95()).unwrap();
    assert!(e.se.is_none() && e.note.is_some());
    let neg = WeightedLevel { sum_w: -1.0, ..one };
    assert!(weighted_mean(&[neg], c95()).is_err());
}

fn two_margins(age: Vec<f64>, region: Vec<f64>) -> Vec<Margin> {
    vec![
        Margin {
            name: "age".into(),
            labels: (0..age.len()).map(|i| format!("a{i}")).collect(),
            targets: age,
        },
        Margin {
            name: "region".into(),
            labels: (0..region.len()).map(|i| format!("r{i}")).collect(),
            targets: region,
        },
    ]
}

fn cell(a: usize, r: usize, n: u64) -> RakingCell {
    RakingCell {
        levels: vec![a, r],
        count: n,
        base_weight: n as f64,
    }
}

#[test]
fn raking_errors_are_clear() {
    let cells = vec![
        cell(0, 0, 10),
        cell(0, 1, 10),
        cell(1, 0, 10),
        cell(1, 1, 10),
    ];
    // Totals differ.
    let err = rake(
        &cells,
        &two_margins(vec![50.0, 50.0], vec![60.0, 50.0]),
        RakeControl::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, StatsError::InconsistentMargins(m) if m.contains("region")),
        "{err}"
    );
    // A level with a target but nobody in the sample.
    let err = rake(
        &cells,
        &two_margins(vec![40.0, 40.0, 20.0], vec![50.0, 50.0]),
        RakeControl::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, StatsError::InconsistentMargins(m) if m.contains("a2")),
        "{err}"
    );
    // Structural zeros that make the margins impossible: only (0,0) and (1,1) are observed, so
    // age and region shares must be equal, but the targets differ.
    let diag = vec![cell(0, 0, 10), cell(1, 1, 10)];
    let err = rake(
        &diag,
        &two_margins(vec![70.0, 30.0], vec![40.0, 60.0]),
        RakeControl::default(),
    )
    .unwrap_err();
    assert!(matches!(err, StatsError::NotConverged(_)), "{err}");
    assert!(
        rake(
            &[],
            &two_margins(vec![1.0], vec![1.0]),
            RakeControl::default()
        )
        .is_err()
    );
}

#[test]
fn raking_trims_weights() {
    // A tiny cell that needs a huge weight.
    let cells = vec![
        cell(0, 0, 100),
        cell(0, 1, 100),
        cell(1, 0, 100),
        cell(1, 1, 2),
    ];
    let margins = two_margins(vec![500.0, 500.0], vec![500.0, 500.0]);
    let untrimmed = rake(&cells, &margins, RakeControl::default()).unwrap();
    let max_untrimmed = untrimmed
        .respondent_weights
        .iter()
        .cloned()
        .fold(0.0, f64::max);
    let mean = 1000.0 / 302.0;
    assert!(max_untrimmed > 5.0 * mean);
    let control = RakeControl {
        trim: Some((0.2, 5.0)),
        tolerance: 1e-6,
        ..RakeControl::default()
    };
    match rake(&cells, &margins, control) {
        Ok(t) => {
            let max_w = t.respondent_weights.iter().cloned().fold(0.0, f64::max);
            assert!(
                max_w <= 5.0 * mean * (1.0 + 1e-6),
                "max {max_w} > cap {}",
                5.0 * mean
            );
            assert!(t.n_effective > untrimmed.n_effective);
        }
        // Trimming may make the margins unreachable; that must be a clear error.
        Err(e) => assert!(matches!(e, StatsError::NotConverged(_)), "{e}"),
    }
}

#[test]
fn regression_edge_cases() {
    let names: Vec<String> = ["ease", "speed", "ease_copy", "nps"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut cp = CrossProducts::new(4);
    for i in 0..40 {
        let a = (i % 7) as f64;
        let b = (i * 3 % 5) as f64;
        cp.push(&[a, b, 2.0 * a + 1.0, a + b + (i % 2) as f64])
            .unwrap();
    }
    for r in [
        ols(&cp, &names).map(|_| ()),
        shapley_r2(&cp, &names).map(|_| ()),
        relative_weights(&cp, &names).map(|_| ()),
    ] {
        match r {
            Err(StatsError::Collinear(m)) => {
                assert!(m.contains("'ease'") && m.contains("'ease_copy'"), "{m}")
            }
            other => panic!("expected collinearity error, got {other:?}"),
        }
    }
    // A constant driver.
    let mut cp = CrossProducts::new(3);
    for i in 0..20 {
        cp.push(&[5.0, (i % 4) as f64, (i % 3) as f64]).unwrap();
    }
    let names: Vec<String> = ["price", "speed", "csat"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(matches!(ols(&cp, &names), Err(StatsError::Collinear(m)) if m.contains("price")));
    // Too few rows.
    let mut cp = CrossProducts::new(3);
    cp.push(&[1.0, 2.0, 3.0]).unwrap();
    assert!(matches!(
        ols(&cp, &names),
        Err(StatsError::TooFewObservations { .. })
    ));
    // Logistic: outcome constant, perfect separation.
    let rows: Vec<BinomialRow> = (0..10)
        .map(|i| BinomialRow {
            x: vec![i as f64],
            successes: 0.0,
            trials: 1.0,
        })
        .collect();
    assert!(matches!(
        logistic(&rows, &[], c95()),
        Err(StatsError::Undefined(_))
    ));
    let rows: Vec<BinomialRow> = (0..10)
        .map(|i| BinomialRow {
            x: vec![i as f64],
            successes: (i >= 5) as u8 as f64,
            trials: 1.0,
        })
        .collect();
    let r = logistic(&rows, &["ease".into()], c95());
    assert!(matches!(r, Err(StatsError::NotConverged(_))), "{r:?}");
}

#[test]
fn survival_edge_cases() {
    assert!(kaplan_meier(&SurvivalData::default(), c95(), SurvivalInterval::LogLog).is_err());
    assert!(SurvivalData::from_durations(&[-1.0], &[true]).is_err());
    let censored = SurvivalData::from_durations(&[1.0, 2.0], &[false, false]).unwrap();
    let km = kaplan_meier(&censored, c95(), SurvivalInterval::LogLog).unwrap();
    assert_eq!(km.median().median, None);
    assert!(
        km.points
            .iter()
            .all(|p| p.survival == 1.0 && p.lower == 1.0)
    );
    // Log-rank with no events at all: a clear error.
    assert!(matches!(
        log_rank(&[censored.clone(), censored]),
        Err(StatsError::Undefined(_))
    ));
    assert!(log_rank(&[SurvivalData::from_durations(&[1.0], &[true]).unwrap()]).is_err());
}

#[test]
fn decomposition_edge_cases() {
    assert!(mix_rate(&[]).is_err());
    // A segment that only exists after: its contribution is all mix.
    let d = mix_rate(&[
        SegmentPeriods {
            size_before: 10.0,
            rate_before: Some(20.0),
            size_after: 10.0,
            rate_after: Some(20.0),
        },
        SegmentPeriods {
            size_before: 0.0,
            rate_before: None,
            size_after: 10.0,
            rate_after: Some(-40.0),
        },
    ])
    .unwrap();
    assert_eq!(d.segments[1].rate, 0.0);
    assert!((d.mix + d.rate - d.change).abs() < 1e-12);
    assert!((d.change - (-10.0 - 20.0)).abs() < 1e-12);
    assert!(
        mix_rate(&[SegmentPeriods {
            size_before: 5.0,
            rate_before: None,
            size_after: 5.0,
            rate_after: Some(1.0)
        }])
        .is_err()
    );
}

#[test]
fn multiple_comparison_edge_cases() {
    assert!(
        adjust_p_values(&[], Adjustment::BenjaminiHochberg)
            .unwrap()
            .is_empty()
    );
    assert!(adjust_p_values(&[0.5, f64::NAN], Adjustment::Holm).is_err());
    assert!(adjust_p_values(&[1.2], Adjustment::Holm).is_err());
}
