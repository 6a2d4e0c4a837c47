//! Calibration by simulation: how often each interval cxray reports covers the truth, and how
//! often its tests call noise a change, at the sample sizes CX teams have.
//!
//! Matching R and Python to many digits shows the arithmetic is right; it does not show that a
//! "95%" interval covers the truth 95% of the time for a region with 40 answers. Each study
//! here draws many samples from a known truth with a seeded generator, computes cxray's
//! estimate on each with every method and confidence level asked, and counts how often the
//! interval holds the truth, how often it misses on each side, and its mean width. The test
//! studies count rejections: under a true null their rate is the type-I error, under a planted
//! effect it is the power. `cargo run --release -p cxray-report --example calibration` writes
//! `docs/calibration.md`; `tests/calibration.rs` keeps a fast subset in CI.

use serde::Serialize;

use crate::dist::normal_quantile;
use crate::estimate::{Confidence, Interval};
use crate::mean::{Moments, welch_test};
use crate::multiple::{Adjustment, adjust_p_values};
use crate::nps::{NpsCounts, NpsInterval, nps_difference};
use crate::proportion::{DifferenceInterval, Proportion, ProportionInterval, two_proportion_test};
use crate::quantile::DdSketch;
use crate::rate::poisson_rate;
use crate::ratio::RatioSums;
use crate::survival::{SurvivalData, SurvivalInterval, kaplan_meier};
use crate::weighted::{WeightedLevel, weighted_mean};

/// A seeded generator: xoshiro256++ (Blackman and Vigna, "Scrambled linear pseudorandom number
/// generators", 2021), its state filled by SplitMix64 from the seed. The same seed gives the
/// same draws on every machine.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut split_mix = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Rng {
            s: [split_mix(), split_mix(), split_mix(), split_mix()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform on [0, 1), 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Exponential with the given rate.
    pub fn exponential(&mut self, rate: f64) -> f64 {
        -(1.0 - self.uniform()).ln() / rate
    }

    /// An index drawn with the given probabilities (summing to 1).
    pub fn categorical(&mut self, probs: &[f64]) -> usize {
        let u = self.uniform();
        let mut acc = 0.0;
        for (i, p) in probs.iter().enumerate() {
            acc += p;
            if u < acc {
                return i;
            }
        }
        probs.len() - 1
    }

    /// Counts of `n` draws over `probs`.
    pub fn multinomial(&mut self, n: u64, probs: &[f64]) -> Vec<u64> {
        let mut counts = vec![0u64; probs.len()];
        for _ in 0..n {
            counts[self.categorical(probs)] += 1;
        }
        counts
    }

    /// Successes in `n` trials of probability `p`.
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        (0..n).filter(|_| self.uniform() < p).count() as u64
    }

    /// Poisson with the given mean: Knuth's product of uniforms, over pieces of mean ≤ 30 (a
    /// sum of independent Poissons is Poisson) so that e^-mean does not underflow.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        let mut rest = mean;
        let mut k = 0;
        while rest > 0.0 {
            let m = rest.min(30.0);
            rest -= m;
            let limit = (-m).exp();
            let mut p = self.uniform();
            while p > limit {
                k += 1;
                p *= self.uniform();
            }
        }
        k
    }
}

/// How one interval method did over the samples of one truth at one confidence level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// The quantity, e.g. `"nps"`.
    pub study: &'static str,
    /// The truth the samples were drawn from, in words.
    pub case: String,
    /// Observations per sample (answers, customers, clusters).
    pub n: u64,
    pub method: &'static str,
    pub nominal: f64,
    pub truth: f64,
    /// Samples drawn.
    pub reps: u64,
    /// Samples for which the method gave no interval (too few values, no variance).
    pub missing: u64,
    pub covered: u64,
    /// Intervals wholly below the truth (the estimate understated it).
    pub below: u64,
    /// Intervals wholly above the truth.
    pub above: u64,
    pub width_sum: f64,
}

impl Coverage {
    /// The share of intervals that hold the truth, among the samples with one.
    pub fn rate(&self) -> f64 {
        self.covered as f64 / (self.reps - self.missing).max(1) as f64
    }

    /// The Monte-Carlo standard error of [`Coverage::rate`].
    pub fn monte_carlo_se(&self) -> f64 {
        let r = self.rate();
        (r * (1.0 - r) / (self.reps - self.missing).max(1) as f64).sqrt()
    }

    pub fn mean_width(&self) -> f64 {
        self.width_sum / (self.reps - self.missing).max(1) as f64
    }

    fn record(&mut self, interval: Option<(f64, f64)>) {
        self.reps += 1;
        match interval.filter(|(l, h)| l.is_finite() && h.is_finite()) {
            None => self.missing += 1,
            Some((low, high)) => {
                self.width_sum += high - low;
                if high < self.truth {
                    self.below += 1;
                } else if low > self.truth {
                    self.above += 1;
                } else {
                    self.covered += 1;
                }
            }
        }
    }
}

/// The interval (low, high) a method gives for a sample at a level; `None` when it gives none.
pub type IntervalOf<'a, S> = Box<dyn Fn(&S, Confidence) -> Option<(f64, f64)> + 'a>;

/// An interval method: its name, and the interval it gives for a sample at a level.
pub struct Method<'a, S> {
    pub name: &'static str,
    pub interval: IntervalOf<'a, S>,
}

impl<'a, S> Method<'a, S> {
    pub fn new(
        name: &'static str,
        interval: impl Fn(&S, Confidence) -> Option<(f64, f64)> + 'a,
    ) -> Self {
        Method {
            name,
            interval: Box::new(interval),
        }
    }
}

/// The sizes of one study: samples drawn, and the confidence levels checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub reps: u64,
    pub levels: Vec<f64>,
}

impl Plan {
    /// 90, 95 and 99%.
    pub fn new(reps: u64) -> Plan {
        Plan {
            reps,
            levels: vec![0.90, 0.95, 0.99],
        }
    }
}

/// Draws `plan.reps` samples and records every method's interval at every level; one row per
/// method and level, in that order.
pub fn coverage<S>(
    rng: &mut Rng,
    plan: &Plan,
    (study, case, n, truth): (&'static str, String, u64, f64),
    mut draw: impl FnMut(&mut Rng) -> S,
    methods: &[Method<'_, S>],
) -> Vec<Coverage> {
    let levels: Vec<Confidence> = plan
        .levels
        .iter()
        .map(|&l| Confidence::new(l).expect("a level in (0, 1)"))
        .collect();
    let mut rows: Vec<Coverage> = methods
        .iter()
        .flat_map(|m| {
            levels.iter().map(|l| Coverage {
                study,
                case: case.clone(),
                n,
                method: m.name,
                nominal: l.level(),
                truth,
                reps: 0,
                missing: 0,
                covered: 0,
                below: 0,
                above: 0,
                width_sum: 0.0,
            })
        })
        .collect();
    for _ in 0..plan.reps {
        let sample = draw(rng);
        let mut row = rows.iter_mut();
        for m in methods {
            for &l in &levels {
                let r = row.next().expect("a row per method and level");
                r.record((m.interval)(&sample, l));
            }
        }
    }
    rows
}

/// Method `m` of an estimator taking a method (NPS, proportions) as a [`Method`].
fn method_of<'a, S: 'a, M: Copy + 'a>(
    name: &'static str,
    m: M,
    estimate: impl Fn(&S, Confidence, M) -> crate::Result<crate::Estimate> + 'a,
) -> Method<'a, S> {
    Method::new(name, move |s: &S, l| {
        estimate(s, l, m).ok().and_then(|e| bounds(e.interval))
    })
}

fn bounds(i: Option<Interval>) -> Option<(f64, f64)> {
    i.map(|i| (i.low, i.high))
}

/// NPS on -100..100 from answers that are detractors, passives and promoters with
/// probabilities `mix`: Tango's score interval (cxray's default), adjusted Wald and Wald.
pub fn nps(rng: &mut Rng, plan: &Plan, mix: [f64; 3], n: u64) -> Vec<Coverage> {
    let truth = (mix[2] - mix[0]) * 100.0;
    let case = mix_name(mix);
    let method = |m: NpsInterval| method_of(m.name(), m, NpsCounts::estimate);
    coverage(
        rng,
        plan,
        ("nps", case, n, truth),
        |rng| {
            let c = rng.multinomial(n, &mix);
            NpsCounts::new(c[0], c[1], c[2])
        },
        &[
            method(NpsInterval::Score),
            method(NpsInterval::AdjustedWald),
            method(NpsInterval::Wald),
        ],
    )
}

/// "30% detractors, 40% promoters".
fn mix_name(mix: [f64; 3]) -> String {
    format!(
        "{:.0}% detractors, {:.0}% promoters",
        mix[0] * 100.0,
        mix[2] * 100.0
    )
}

/// A proportion (% satisfied, task completion, first-contact resolution) with every method.
pub fn proportion(rng: &mut Rng, plan: &Plan, p: f64, n: u64) -> Vec<Coverage> {
    let method = |m: ProportionInterval| method_of(m.name(), m, Proportion::estimate);
    coverage(
        rng,
        plan,
        ("proportion", format!("p = {p}"), n, p),
        |rng| Proportion::new(rng.binomial(n, p), n).expect("successes ≤ trials"),
        &[
            method(ProportionInterval::Wilson),
            method(ProportionInterval::AgrestiCoull),
            method(ProportionInterval::ClopperPearson),
            method(ProportionInterval::Jeffreys),
            method(ProportionInterval::Wald),
        ],
    )
}

/// The mean of a score on 1..=k answered with probabilities `probs` (CSAT 1-5, CES 1-7), with
/// the t interval.
pub fn mean(rng: &mut Rng, plan: &Plan, name: &str, probs: &[f64], n: u64) -> Vec<Coverage> {
    let truth: f64 = probs
        .iter()
        .enumerate()
        .map(|(i, p)| (i + 1) as f64 * p)
        .sum();
    coverage(
        rng,
        plan,
        ("mean", name.to_string(), n, truth),
        |rng| {
            let counts = rng.multinomial(n, probs);
            let table: Vec<(f64, u64)> = counts
                .iter()
                .enumerate()
                .map(|(i, &c)| ((i + 1) as f64, c))
                .collect();
            Moments::from_histogram(&table).expect("n > 0")
        },
        &[Method::new("t", |m: &Moments, l| {
            m.estimate(l).ok().and_then(|e| bounds(e.interval))
        })],
    )
}

/// A weighted mean after raking on two margins, as cxray corrects non-response: the
/// population is half group A and half group B, 60% web and 40% phone; A answers three times
/// as often as B and web twice as often as phone, so the sample is about 75% A and 75% web.
/// The cells (group × channel) are raked to both margins ([`crate::raking::rake`]); the
/// outcome depends on the group only, so the raked mean is unbiased. The interval uses the
/// linearisation SE (its n is Kish's effective n).
pub fn weighted(
    rng: &mut Rng,
    plan: &Plan,
    probs_a: &[f64],
    probs_b: &[f64],
    n: u64,
) -> Vec<Coverage> {
    use crate::raking::{Margin, RakeControl, RakingCell, rake};
    let mean_of =
        |p: &[f64]| -> f64 { p.iter().enumerate().map(|(i, p)| (i + 1) as f64 * p).sum() };
    let truth = 0.5 * mean_of(probs_a) + 0.5 * mean_of(probs_b);
    let total = n as f64;
    let margins = [
        Margin {
            name: "group".into(),
            labels: vec!["A".into(), "B".into()],
            targets: vec![0.5 * total, 0.5 * total],
        },
        Margin {
            name: "channel".into(),
            labels: vec!["web".into(), "phone".into()],
            targets: vec![0.6 * total, 0.4 * total],
        },
    ];
    let draw = |rng: &mut Rng| {
        // Respondents per (group, channel) cell: A with probability 0.75, web 0.75.
        let mut counts = [0u64; 4];
        for _ in 0..n {
            let group = usize::from(rng.uniform() >= 0.75);
            let channel = usize::from(rng.uniform() >= 0.75);
            counts[group * 2 + channel] += 1;
        }
        let cells: Vec<RakingCell> = (0..4)
            .map(|c| RakingCell {
                levels: vec![c / 2, c % 2],
                count: counts[c],
                base_weight: counts[c] as f64,
            })
            .collect();
        // A sample without a level of a margin cannot be raked: no estimate.
        let raked = rake(&cells, &margins, RakeControl::default()).ok()?;
        let mut levels = Vec::new();
        for (c, &count) in counts.iter().enumerate().filter(|(_, k)| **k > 0) {
            let w = raked.respondent_weights[c];
            let probs = if c / 2 == 0 { probs_a } else { probs_b };
            for (i, k) in rng.multinomial(count, probs).into_iter().enumerate() {
                levels.push(WeightedLevel {
                    value: (i + 1) as f64,
                    count: k,
                    sum_w: k as f64 * w,
                    sum_w2: k as f64 * w * w,
                });
            }
        }
        Some(levels)
    };
    coverage(
        rng,
        plan,
        (
            "weighted mean",
            "raked on group and channel".to_string(),
            n,
            truth,
        ),
        draw,
        &[Method::new(
            "weighted_linearization",
            |levels: &Option<Vec<WeightedLevel>>, l| {
                weighted_mean(levels.as_ref()?, l)
                    .ok()
                    .and_then(|e| bounds(e.interval))
            },
        )],
    )
}

/// A ratio of sums over clusters (K-factor, referral conversion: successes over invitations
/// per customer): `n` customers each with 1 + Poisson(1.5) invitations, each converting with
/// the customer's own probability, uniform on [0, 2p] (customers differ, so answers of one
/// customer are correlated).
pub fn ratio(rng: &mut Rng, plan: &Plan, p: f64, n: u64) -> Vec<Coverage> {
    assert!(
        p <= 0.5,
        "customers' own probabilities are uniform on [0, 2p]"
    );
    coverage(
        rng,
        plan,
        ("clustered ratio", format!("p = {p}"), n, p),
        |rng| {
            let mut sums = RatioSums::default();
            for _ in 0..n {
                let x = 1 + rng.poisson(1.5);
                let own = 2.0 * p * rng.uniform();
                sums.push(x as f64, rng.binomial(x, own) as f64);
            }
            sums
        },
        &[Method::new("linearization", |s: &RatioSums, l| {
            s.estimate(l, true).ok().and_then(|e| bounds(e.interval))
        })],
    )
}

/// Events per unit of exposure (churns per customer-month) with the exact Poisson interval.
pub fn rate(rng: &mut Rng, plan: &Plan, rate: f64, exposure: f64) -> Vec<Coverage> {
    coverage(
        rng,
        plan,
        (
            "poisson rate",
            format!("{rate} per unit, exposure {exposure}"),
            exposure as u64,
            rate,
        ),
        |rng| rng.poisson(rate * exposure),
        &[Method::new("poisson-exact", move |&k: &u64, l| {
            poisson_rate(k, exposure, l)
                .ok()
                .and_then(|e| bounds(e.interval))
        })],
    )
}

/// The q-quantile of a log-normal duration (resolution times: log-normal with σ = 1) from a
/// DDSketch (1% relative accuracy) with the order-statistic interval.
pub fn quantile(rng: &mut Rng, plan: &Plan, q: f64, n: u64) -> Vec<Coverage> {
    let (mu, sigma) = (3.0, 1.0);
    let truth = (mu + sigma * normal_quantile(q)).exp();
    coverage(
        rng,
        plan,
        ("quantile", format!("q = {q} of a log-normal"), n, truth),
        |rng| {
            let mut s = DdSketch::new(0.01).expect("a valid accuracy");
            for _ in 0..n {
                s.add((mu + sigma * rng.normal()).exp()).expect("positive");
            }
            s
        },
        &[Method::new("order-statistic", move |s: &DdSketch, l| {
            s.estimate(q, l).ok().and_then(|e| bounds(e.interval))
        })],
    )
}

/// Kaplan-Meier survival at `t0` for exponential lifetimes with hazard 0.05 a month, each
/// customer censored at an exponential time of hazard 0.02 or at 24 months: the log-log band
/// (cxray's default) and the log and plain bands.
pub fn survival(rng: &mut Rng, plan: &Plan, t0: f64, n: u64) -> Vec<Coverage> {
    let hazard = 0.05;
    let truth = (-hazard * t0).exp();
    let method = |m: SurvivalInterval, name: &'static str| {
        Method::new(name, move |d: &SurvivalData, l| {
            let km = kaplan_meier(d, l, m).ok()?;
            let p = km.point_at(t0)?;
            Some((p.lower, p.upper))
        })
    };
    coverage(
        rng,
        plan,
        ("kaplan-meier", format!("S({t0}) = {truth:.3}"), n, truth),
        |rng| {
            let (mut durations, mut events) = (Vec::new(), Vec::new());
            for _ in 0..n {
                let life = rng.exponential(hazard);
                let censor = rng.exponential(0.02).min(24.0);
                durations.push(life.min(censor));
                events.push(life <= censor);
            }
            SurvivalData::from_durations(&durations, &events).expect("valid durations")
        },
        &[
            method(SurvivalInterval::LogLog, "log-log"),
            method(SurvivalInterval::Log, "log"),
            method(SurvivalInterval::Plain, "plain"),
        ],
    )
}

/// How often a test rejected at `alpha` over samples of one truth: its type-I error when the
/// truth is the null, its power against a planted effect otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejections {
    pub test: &'static str,
    pub case: String,
    /// Observations in each of the two samples.
    pub n: u64,
    pub alpha: f64,
    /// The planted effect (0 under the null).
    pub effect: f64,
    pub reps: u64,
    pub rejected: u64,
}

impl Rejections {
    pub fn rate(&self) -> f64 {
        self.rejected as f64 / self.reps.max(1) as f64
    }
}

fn rejections(
    rng: &mut Rng,
    reps: u64,
    (test, case, n, alpha, effect): (&'static str, String, u64, f64, f64),
    mut p_value: impl FnMut(&mut Rng) -> Option<f64>,
) -> Rejections {
    let mut rejected = 0;
    for _ in 0..reps {
        if p_value(rng).is_some_and(|p| p < alpha) {
            rejected += 1;
        }
    }
    Rejections {
        test,
        case,
        n,
        alpha,
        effect,
        reps,
        rejected,
    }
}

/// The two-proportion z-test between segments of `n` answers each with shares `p` and `p +
/// effect`.
pub fn two_proportions(
    rng: &mut Rng,
    reps: u64,
    p: f64,
    effect: f64,
    n: u64,
    alpha: f64,
) -> Rejections {
    let conf = Confidence::new(1.0 - alpha).expect("alpha in (0, 1)");
    rejections(
        rng,
        reps,
        ("two-proportion z", format!("p = {p}"), n, alpha, effect),
        |rng| {
            let a = Proportion::new(rng.binomial(n, p), n).ok()?;
            let b = Proportion::new(rng.binomial(n, p + effect), n).ok()?;
            two_proportion_test(a, b, conf, DifferenceInterval::Newcombe)
                .ok()
                .map(|c| c.p_value)
        },
    )
}

/// The NPS difference z-test between segments of `n` answers: one with `mix`, the other with
/// `effect` NPS points moved from detractors to promoters.
pub fn nps_change(
    rng: &mut Rng,
    reps: u64,
    mix: [f64; 3],
    effect: f64,
    n: u64,
    alpha: f64,
) -> Rejections {
    let conf = Confidence::new(1.0 - alpha).expect("alpha in (0, 1)");
    let moved = effect / 200.0;
    assert!(
        mix[0] >= moved,
        "the effect moves more detractors than there are"
    );
    let other = [mix[0] - moved, mix[1], mix[2] + moved];
    rejections(
        rng,
        reps,
        ("nps difference z", mix_name(mix), n, alpha, effect),
        |rng| {
            let a = rng.multinomial(n, &mix);
            let b = rng.multinomial(n, &other);
            let a = NpsCounts::new(a[0], a[1], a[2]);
            let b = NpsCounts::new(b[0], b[1], b[2]);
            nps_difference(&a, &b, conf, NpsInterval::Wald)
                .ok()
                .map(|c| c.p_value)
        },
    )
}

/// Welch's t-test between the mean scores (1..=k) of segments of `n` answers: one answering
/// with `probs`, the other with `effect` of probability moved from the lowest to the highest
/// score (the mean rises by `effect` × (k - 1)).
pub fn mean_change(
    rng: &mut Rng,
    reps: u64,
    probs: &[f64],
    effect: f64,
    n: u64,
    alpha: f64,
) -> Rejections {
    let conf = Confidence::new(1.0 - alpha).expect("alpha in (0, 1)");
    let k = probs.len();
    assert!(
        probs[0] >= effect,
        "the effect moves more answers than score 1 has"
    );
    let mut other = probs.to_vec();
    other[0] -= effect;
    other[k - 1] += effect;
    let moments = |rng: &mut Rng, p: &[f64]| {
        let table: Vec<(f64, u64)> = rng
            .multinomial(n, p)
            .into_iter()
            .enumerate()
            .map(|(i, c)| ((i + 1) as f64, c))
            .collect();
        Moments::from_histogram(&table)
    };
    rejections(
        rng,
        reps,
        (
            "welch t",
            format!("1-{k} scale"),
            n,
            alpha,
            effect * (k - 1) as f64,
        ),
        |rng| {
            let a = moments(rng, probs).ok()?;
            let b = moments(rng, &other).ok()?;
            welch_test(&a, &b, conf).ok().map(|c| c.p_value)
        },
    )
}

/// Errors of a family of comparisons after a multiple-comparison adjustment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FamilyErrors {
    pub adjustment: &'static str,
    pub family: usize,
    /// Comparisons with a planted effect.
    pub effects: usize,
    pub alpha: f64,
    pub reps: u64,
    /// Mean share of false discoveries among discoveries (0 when none): the FDR.
    pub false_discovery_rate: f64,
    /// Share of families with at least one false discovery.
    pub familywise_error: f64,
    /// Mean share of the planted effects found.
    pub power: f64,
}

/// A family of `family` segments, each compared on % satisfied with its own previous period
/// (`n` answers in each, p = 0.8): `effects` of them truly fell by `effect`; the p-values are
/// adjusted together (`None`: left as they are), as cxray adjusts a table of segment changes.
#[allow(clippy::too_many_arguments)]
pub fn family(
    rng: &mut Rng,
    reps: u64,
    family: usize,
    effects: usize,
    effect: f64,
    n: u64,
    alpha: f64,
    adjustment: Option<Adjustment>,
) -> FamilyErrors {
    let conf = Confidence::new(1.0 - alpha).expect("alpha in (0, 1)");
    let p = 0.8;
    let (mut fdp, mut any_false, mut found) = (0.0, 0u64, 0.0);
    for _ in 0..reps {
        let ps: Vec<f64> = (0..family)
            .map(|i| {
                let now = if i < effects { p - effect } else { p };
                let before = Proportion::new(rng.binomial(n, p), n).expect("≤ n");
                let after = Proportion::new(rng.binomial(n, now), n).expect("≤ n");
                two_proportion_test(after, before, conf, DifferenceInterval::Newcombe)
                    .map_or(1.0, |c| c.p_value)
            })
            .collect();
        let adjusted = match adjustment {
            Some(a) => adjust_p_values(&ps, a).expect("p-values in [0, 1]"),
            None => ps,
        };
        let found_true = adjusted[..effects].iter().filter(|&&q| q < alpha).count();
        let found_false = adjusted[effects..].iter().filter(|&&q| q < alpha).count();
        if found_true + found_false > 0 {
            fdp += found_false as f64 / (found_true + found_false) as f64;
        }
        any_false += u64::from(found_false > 0);
        if effects > 0 {
            found += found_true as f64 / effects as f64;
        }
    }
    FamilyErrors {
        adjustment: adjustment.map_or("none", Adjustment::name),
        family,
        effects,
        alpha,
        reps,
        false_discovery_rate: fdp / reps as f64,
        familywise_error: any_false as f64 / reps as f64,
        power: found / reps as f64,
    }
}

/// False alarms of a trend under the null: how often a stable NPS series shows a
/// "significant" period-over-period change, or a control-chart signal, somewhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendErrors {
    pub periods: usize,
    /// Answers a period.
    pub n: u64,
    pub reps: u64,
    /// Series with at least one period-over-period change significant at 5% after
    /// Benjamini-Hochberg across the series' changes (as the report's trend marks them).
    pub changes: f64,
    /// The same without the adjustment.
    pub changes_unadjusted: f64,
    /// Series with at least one point outside the 3-sigma control limits around the pooled
    /// value (as the report's trend chart flags them).
    pub chart_signals: f64,
}

/// A stable NPS (`mix` every period) over `periods` periods of `n` answers, as the report's
/// trend tests it.
pub fn trend(rng: &mut Rng, reps: u64, mix: [f64; 3], periods: usize, n: u64) -> TrendErrors {
    use crate::control::limits_chart;
    let conf = Confidence::new(0.95).expect("a level");
    let (mut changes, mut raw, mut signals) = (0u64, 0u64, 0u64);
    for _ in 0..reps {
        let series: Vec<NpsCounts> = (0..periods)
            .map(|_| {
                let c = rng.multinomial(n, &mix);
                NpsCounts::new(c[0], c[1], c[2])
            })
            .collect();
        let p: Vec<f64> = series
            .windows(2)
            .map(|w| {
                nps_difference(&w[1], &w[0], conf, NpsInterval::Wald).map_or(1.0, |c| c.p_value)
            })
            .collect();
        let q = adjust_p_values(&p, Adjustment::BenjaminiHochberg).expect("p in [0, 1]");
        changes += u64::from(q.iter().any(|&q| q < 0.05));
        raw += u64::from(p.iter().any(|&p| p < 0.05));
        let pooled = series.iter().fold(NpsCounts::default(), |a, b| a.merge(*b));
        let (Ok(center), Ok(var)) = (pooled.nps_unit(), pooled.variance_unit()) else {
            continue;
        };
        let points: Vec<(f64, f64)> = series
            .iter()
            .map(|c| (c.nps_unit().unwrap_or(f64::NAN), (var / c.n()).sqrt()))
            .collect();
        signals += u64::from(!limits_chart(&points, center, 3.0).signals().is_empty());
    }
    let share = |k: u64| k as f64 / reps.max(1) as f64;
    TrendErrors {
        periods,
        n,
        reps,
        changes: share(changes),
        changes_unadjusted: share(raw),
        chart_signals: share(signals),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator's moments match its distributions' (200,000 draws: within 5 standard
    /// errors), and a seed gives the same draws again.
    #[test]
    fn draws_have_the_moments_of_their_distributions() {
        let mut rng = Rng::new(42);
        let n = 200_000;
        let check = |name: &str, xs: Vec<f64>, mean: f64, var: f64| {
            let k = xs.len() as f64;
            let m = xs.iter().sum::<f64>() / k;
            let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (k - 1.0);
            let se = (var / k).sqrt();
            assert!(
                (m - mean).abs() < 5.0 * se,
                "{name}: mean {m}, expected {mean}"
            );
            assert!(
                (v / var - 1.0).abs() < 0.05,
                "{name}: variance {v}, expected {var}"
            );
        };
        check(
            "uniform",
            (0..n).map(|_| rng.uniform()).collect(),
            0.5,
            1.0 / 12.0,
        );
        check("normal", (0..n).map(|_| rng.normal()).collect(), 0.0, 1.0);
        check(
            "exponential",
            (0..n).map(|_| rng.exponential(2.0)).collect(),
            0.5,
            0.25,
        );
        for mean in [0.7, 12.0, 95.0] {
            check(
                "poisson",
                (0..n).map(|_| rng.poisson(mean) as f64).collect(),
                mean,
                mean,
            );
        }
        check(
            "binomial",
            (0..n / 20)
                .map(|_| rng.binomial(40, 0.3) as f64)
                .collect::<Vec<_>>(),
            12.0,
            8.4,
        );
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }
}
