//! Invariants that must hold for any input: intervals contain the estimate, widen with
//! confidence and shrink with n; decompositions add up; raked weights meet their margins;
//! the quantile sketch keeps its error bound.

use cxray_stats::decompose::{SegmentPeriods, mix_rate};
use cxray_stats::quantile::{DdSketch, quantile_sorted};
use cxray_stats::raking::{Margin, RakeControl, RakingCell, rake};
use cxray_stats::*;
use proptest::prelude::*;

const NPS_METHODS: [NpsInterval; 3] = [
    NpsInterval::Score,
    NpsInterval::AdjustedWald,
    NpsInterval::Wald,
];
const P_METHODS: [ProportionInterval; 5] = [
    ProportionInterval::Wilson,
    ProportionInterval::AgrestiCoull,
    ProportionInterval::ClopperPearson,
    ProportionInterval::Jeffreys,
    ProportionInterval::Wald,
];

fn width(i: Interval) -> f64 {
    i.high - i.low
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn nps_interval_contains_estimate_and_widens(d in 0u64..200, pa in 0u64..200, pr in 0u64..200,
                                                 lvl in 0.5f64..0.99) {
        prop_assume!(d + pa + pr > 0);
        let c = NpsCounts::new(d, pa, pr);
        let lo = Confidence::new(lvl).unwrap();
        let hi = Confidence::new((lvl + 0.005).min(0.999)).unwrap();
        for m in NPS_METHODS {
            let a = c.estimate(lo, m).unwrap();
            let b = c.estimate(hi, m).unwrap();
            let (ia, ib) = (a.interval.unwrap(), b.interval.unwrap());
            prop_assert!(ia.low >= -100.0 && ia.high <= 100.0);
            if m != NpsInterval::AdjustedWald {
                // The adjusted-Wald interval is centred on the adjusted NPS, not the raw one.
                prop_assert!(ia.low <= a.value + 1e-9 && a.value <= ia.high + 1e-9, "{m:?} {ia:?} {}", a.value);
            }
            prop_assert!(width(ib) >= width(ia) - 1e-9, "{m:?} narrows with confidence");
        }
    }

    #[test]
    fn nps_interval_shrinks_with_n(d in 1u64..50, pa in 1u64..50, pr in 1u64..50, k in 2u64..20) {
        let small = NpsCounts::new(d, pa, pr);
        let large = NpsCounts::new(d * k, pa * k, pr * k);
        for m in NPS_METHODS {
            let a = small.estimate(Confidence::default(), m).unwrap().interval.unwrap();
            let b = large.estimate(Confidence::default(), m).unwrap().interval.unwrap();
            prop_assert!(width(b) < width(a), "{m:?}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn proportion_intervals_behave(k in 0u64..500, extra in 0u64..500, lvl in 0.5f64..0.99, mult in 2u64..10) {
        let n = k + extra;
        prop_assume!(n > 0);
        let p = Proportion::new(k, n).unwrap();
        let big = Proportion::new(k * mult, n * mult).unwrap();
        let c1 = Confidence::new(lvl).unwrap();
        let c2 = Confidence::new((lvl + 0.005).min(0.999)).unwrap();
        for m in P_METHODS {
            let e = p.estimate(c1, m).unwrap();
            let i = e.interval.unwrap();
            prop_assert!(0.0 <= i.low && i.high <= 1.0);
            prop_assert!(i.low <= e.value + 1e-12 && e.value <= i.high + 1e-12, "{m:?}");
            let wider = p.estimate(c2, m).unwrap().interval.unwrap();
            prop_assert!(width(wider) >= width(i) - 1e-12, "{m:?} widens with confidence");
            if k > 0 && extra > 0 {
                let narrower = big.estimate(c1, m).unwrap().interval.unwrap();
                prop_assert!(width(narrower) < width(i), "{m:?} shrinks with n");
            }
        }
    }

    #[test]
    fn mean_interval_behaves(values in prop::collection::vec(1u8..=5, 2..200), lvl in 0.5f64..0.99) {
        let v: Vec<f64> = values.iter().map(|&x| x as f64).collect();
        let m = Moments::from_values(&v).unwrap();
        let e = m.estimate(Confidence::new(lvl).unwrap()).unwrap();
        let i = e.interval.unwrap();
        prop_assert!(i.low <= e.value && e.value <= i.high);
        let wide = m.estimate(Confidence::new((lvl + 0.005).min(0.999)).unwrap()).unwrap().interval.unwrap();
        prop_assert!(width(wide) >= width(i));
        let doubled: Vec<f64> = v.iter().chain(v.iter()).copied().collect();
        let d = Moments::from_values(&doubled).unwrap().estimate(Confidence::new(lvl).unwrap()).unwrap();
        prop_assert!(width(d.interval.unwrap()) <= width(i) + 1e-12);
    }

    #[test]
    fn mix_and_rate_add_up(segs in prop::collection::vec((0.0f64..1000.0, -100.0f64..100.0, 0.0f64..1000.0, -100.0f64..100.0), 1..12)) {
        let s: Vec<SegmentPeriods> = segs.iter().map(|&(a, r1, b, r2)| SegmentPeriods {
            size_before: a, rate_before: Some(r1), size_after: b, rate_after: Some(r2),
        }).collect();
        prop_assume!(segs.iter().map(|x| x.0).sum::<f64>() > 0.0 && segs.iter().map(|x| x.2).sum::<f64>() > 0.0);
        let d = mix_rate(&s).unwrap();
        prop_assert!((d.mix + d.rate - d.change).abs() < 1e-9);
        let by_segment: f64 = d.segments.iter().map(|x| x.total).sum();
        prop_assert!((by_segment - d.change).abs() < 1e-9);
    }

    #[test]
    fn raked_weights_meet_margins(counts in prop::collection::vec(1u64..60, 6),
                                  a in prop::collection::vec(1.0f64..100.0, 3),
                                  r in prop::collection::vec(1.0f64..100.0, 2)) {
        // Every cell of a 3x2 table is non-empty, so IPF always converges.
        let total: f64 = a.iter().sum();
        let rs: f64 = r.iter().sum();
        let r: Vec<f64> = r.iter().map(|x| x * total / rs).collect();
        let cells: Vec<RakingCell> = (0..6).map(|i| RakingCell {
            levels: vec![i / 2, i % 2], count: counts[i], base_weight: counts[i] as f64,
        }).collect();
        let margins = vec![
            Margin { name: "a".into(), labels: vec!["0".into(), "1".into(), "2".into()], targets: a.clone() },
            Margin { name: "r".into(), labels: vec!["0".into(), "1".into()], targets: r.clone() },
        ];
        let res = rake(&cells, &margins, RakeControl::default()).unwrap();
        for (lvl, &t) in a.iter().enumerate() {
            let got: f64 = (0..6).filter(|i| i / 2 == lvl).map(|i| res.cell_weights[i]).sum();
            prop_assert!((got - t).abs() <= 1e-8 * t);
        }
        for (lvl, &t) in r.iter().enumerate() {
            let got: f64 = (0..6).filter(|i| i % 2 == lvl).map(|i| res.cell_weights[i]).sum();
            prop_assert!((got - t).abs() <= 1e-8 * t);
        }
        prop_assert!(res.n_effective <= counts.iter().sum::<u64>() as f64 + 1e-9);
    }

    #[test]
    fn ddsketch_relative_error_bound(values in prop::collection::vec(0.0f64..1e6, 1..400),
                                     alpha in 0.001f64..0.05, q in 0.0f64..=1.0) {
        let mut s = DdSketch::new(alpha).unwrap();
        for &v in &values { s.add(v).unwrap(); }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = (q * (sorted.len() - 1) as f64).floor() as usize;
        let exact = sorted[rank];
        let est = s.quantile(q).unwrap();
        prop_assert!((est - exact).abs() <= alpha * exact + 1e-12, "{est} vs {exact}");
        // The type-7 quantile lies between neighbouring order statistics.
        let t7 = quantile_sorted(&sorted, q).unwrap();
        prop_assert!(t7 >= sorted[rank] && t7 <= sorted[(rank + 1).min(sorted.len() - 1)]);
    }

    #[test]
    fn adjusted_p_values_are_monotone_and_bounded(p in prop::collection::vec(0.0f64..=1.0, 1..40)) {
        for m in [Adjustment::BenjaminiHochberg, Adjustment::BenjaminiYekutieli, Adjustment::Holm, Adjustment::Bonferroni] {
            let q = adjust_p_values(&p, m).unwrap();
            for (a, b) in p.iter().zip(&q) {
                prop_assert!(*b >= *a - 1e-15 && *b <= 1.0);
            }
            let mut idx: Vec<usize> = (0..p.len()).collect();
            idx.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
            for w in idx.windows(2) {
                prop_assert!(q[w[0]] <= q[w[1]] + 1e-15);
            }
        }
    }
}
