//! Retention curves: Kaplan-Meier survival with Greenwood intervals, median survival, and the
//! log-rank test between cohorts or segments (Kaplan & Meier 1958; Greenwood 1926; Mantel 1966).
//! Reference implementations: Python `lifelines`, R `survival`.
//!
//! Input is the sufficient statistic of right-censored data: for each distinct time, the number
//! of events (churns) and of censored customers (still active at the end of data). At each event
//! time tⱼ with nⱼ at risk and dⱼ events: Ŝ(t) = Π_{tⱼ ≤ t}(1 - dⱼ/nⱼ), Greenwood
//! Var Ŝ = Ŝ²·Σ dⱼ/(nⱼ(nⱼ-dⱼ)).
//!
//! Interval types ([`SurvivalInterval`]):
//! - `LogLog` (default; lifelines' "exponential Greenwood", R `conf.type = "log-log"`): bounds
//!   exp(-exp(log(-log Ŝ) ± z·σ/|log Ŝ|)) with σ² = Σ dⱼ/(nⱼ(nⱼ-dⱼ)); always inside (0, 1).
//! - `Log` (R's default): Ŝ·exp(±z·σ), upper clipped at 1.
//! - `Plain`: Ŝ ± z·Ŝσ, clipped to [0, 1].
//!
//! Median survival is the first time with Ŝ(t) ≤ 0.5 (as lifelines); its interval is the set of
//! times whose pointwise band contains 0.5 (Brookmeyer & Crowley 1982, as R prints it):
//! [first time the lower band ≤ 0.5, first time the upper band ≤ 0.5], either end `None` when
//! the band never falls that low.

use serde::Serialize;

use crate::dist::chi2_sf;
use crate::error::{Result, StatsError, check_finite, invalid};
use crate::estimate::Confidence;

/// Events and censorings at one time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeCount {
    pub time: f64,
    pub events: u64,
    pub censored: u64,
}

/// Right-censored durations summarised by distinct time, sorted by time.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SurvivalData {
    pub times: Vec<TimeCount>,
}

impl SurvivalData {
    /// From individual durations and event flags (`true` = churned, `false` = censored).
    pub fn from_durations(durations: &[f64], events: &[bool]) -> Result<Self> {
        if durations.len() != events.len() {
            return Err(invalid("durations and events must have the same length"));
        }
        let mut rows: Vec<(f64, bool)> = Vec::with_capacity(durations.len());
        for (&t, &e) in durations.iter().zip(events) {
            check_finite("duration", t)?;
            if t < 0.0 {
                return Err(invalid(format!("durations must be non-negative, got {t}")));
            }
            rows.push((t, e));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut times: Vec<TimeCount> = Vec::new();
        for (t, e) in rows {
            match times.last_mut() {
                Some(last) if last.time == t => {
                    if e {
                        last.events += 1
                    } else {
                        last.censored += 1
                    }
                }
                _ => times.push(TimeCount {
                    time: t,
                    events: e as u64,
                    censored: (!e) as u64,
                }),
            }
        }
        Ok(SurvivalData { times })
    }

    /// From per-time counts in any order (merging equal times).
    pub fn from_counts(mut counts: Vec<TimeCount>) -> Result<Self> {
        for c in &counts {
            check_finite("time", c.time)?;
        }
        counts.sort_by(|a, b| a.time.total_cmp(&b.time));
        let mut times: Vec<TimeCount> = Vec::with_capacity(counts.len());
        for c in counts {
            match times.last_mut() {
                Some(last) if last.time == c.time => {
                    last.events += c.events;
                    last.censored += c.censored;
                }
                _ => times.push(c),
            }
        }
        Ok(SurvivalData { times })
    }

    /// Total subjects.
    pub fn n(&self) -> u64 {
        self.times.iter().map(|t| t.events + t.censored).sum()
    }
}

/// Confidence band transformation for Kaplan-Meier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SurvivalInterval {
    #[default]
    LogLog,
    Log,
    Plain,
}

/// One step of the Kaplan-Meier curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KmPoint {
    pub time: f64,
    pub at_risk: u64,
    pub events: u64,
    pub censored: u64,
    pub survival: f64,
    /// Greenwood standard error of Ŝ.
    pub se: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A Kaplan-Meier curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KaplanMeier {
    pub n: u64,
    pub events: u64,
    pub points: Vec<KmPoint>,
    pub confidence: f64,
    pub interval: SurvivalInterval,
}

/// Median survival with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MedianSurvival {
    pub median: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// Fits the Kaplan-Meier curve.
pub fn kaplan_meier(
    data: &SurvivalData,
    confidence: Confidence,
    interval: SurvivalInterval,
) -> Result<KaplanMeier> {
    let n = data.n();
    if n == 0 {
        return Err(StatsError::NoObservations {
            what: "a Kaplan-Meier curve",
        });
    }
    let z = confidence.z();
    let mut at_risk = n;
    let mut s = 1.0f64;
    let mut green = 0.0f64; // Σ d/(n(n-d))
    let mut points = Vec::with_capacity(data.times.len());
    for t in &data.times {
        let d = t.events as f64;
        let r = at_risk as f64;
        if t.events > 0 {
            s *= 1.0 - d / r;
            green += if at_risk > t.events {
                d / (r * (r - d))
            } else {
                f64::INFINITY
            };
        }
        let (lower, upper) = band(s, green, z, interval);
        points.push(KmPoint {
            time: t.time,
            at_risk,
            events: t.events,
            censored: t.censored,
            survival: s,
            se: if green.is_finite() {
                s * green.sqrt()
            } else {
                0.0
            },
            lower,
            upper,
        });
        at_risk -= t.events + t.censored;
    }
    Ok(KaplanMeier {
        n,
        events: data.times.iter().map(|t| t.events).sum(),
        points,
        confidence: confidence.level(),
        interval,
    })
}

fn band(s: f64, green: f64, z: f64, kind: SurvivalInterval) -> (f64, f64) {
    if s >= 1.0 || green == 0.0 {
        return (s, s);
    }
    if s <= 0.0 || !green.is_finite() {
        return (0.0, 0.0);
    }
    let sigma = green.sqrt();
    match kind {
        SurvivalInterval::Plain => ((s - z * s * sigma).max(0.0), (s + z * s * sigma).min(1.0)),
        SurvivalInterval::Log => (s * (-z * sigma).exp(), (s * (z * sigma).exp()).min(1.0)),
        SurvivalInterval::LogLog => {
            let ls = s.ln();
            let theta = (-ls).ln();
            let se = sigma / ls.abs();
            (
                (-(theta + z * se).exp()).exp(),
                (-(theta - z * se).exp()).exp(),
            )
        }
    }
}

impl KaplanMeier {
    /// Ŝ(t): the survival just after time t (1 before the first event).
    pub fn survival_at(&self, t: f64) -> f64 {
        self.point_at(t).map_or(1.0, |p| p.survival)
    }

    /// The curve's step in force at time t, if any.
    pub fn point_at(&self, t: f64) -> Option<&KmPoint> {
        let idx = self.points.partition_point(|p| p.time <= t);
        (idx > 0).then(|| &self.points[idx - 1])
    }

    /// Median survival time and its interval.
    pub fn median(&self) -> MedianSurvival {
        let first = |f: &dyn Fn(&KmPoint) -> f64| {
            self.points
                .iter()
                .find(|p| p.events > 0 && f(p) <= 0.5)
                .map(|p| p.time)
        };
        MedianSurvival {
            median: first(&|p| p.survival),
            lower: first(&|p| p.lower),
            upper: first(&|p| p.upper),
        }
    }
}

/// Result of a log-rank test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRank {
    pub chi2: f64,
    pub df: usize,
    pub p_value: f64,
    /// Observed events per group.
    pub observed: Vec<f64>,
    /// Expected events per group under equal hazards.
    pub expected: Vec<f64>,
}

/// Log-rank (Mantel-Cox) test that two or more groups share one survival curve.
pub fn log_rank(groups: &[SurvivalData]) -> Result<LogRank> {
    let g = groups.len();
    if g < 2 {
        return Err(invalid("a log-rank test needs at least two groups"));
    }
    for d in groups {
        if d.n() == 0 {
            return Err(StatsError::NoObservations {
                what: "every group of a log-rank test",
            });
        }
    }
    let mut times: Vec<f64> = groups
        .iter()
        .flat_map(|d| d.times.iter().map(|t| t.time))
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let mut at_risk: Vec<f64> = groups.iter().map(|d| d.n() as f64).collect();
    let mut idx = vec![0usize; g];
    let mut observed = vec![0.0; g];
    let mut expected = vec![0.0; g];
    let mut cov = nalgebra::DMatrix::<f64>::zeros(g, g);
    for &t in &times {
        let mut d = vec![0.0; g];
        let mut c = vec![0.0; g];
        for k in 0..g {
            if let Some(tc) = groups[k].times.get(idx[k])
                && tc.time == t
            {
                d[k] = tc.events as f64;
                c[k] = tc.censored as f64;
                idx[k] += 1;
            }
        }
        let n: f64 = at_risk.iter().sum();
        let dt: f64 = d.iter().sum();
        if dt > 0.0 && n > 0.0 {
            for k in 0..g {
                observed[k] += d[k];
                expected[k] += at_risk[k] * dt / n;
            }
            if n > 1.0 {
                let f = dt * (n - dt) / (n * n * (n - 1.0));
                for a in 0..g {
                    for b in 0..g {
                        let delta = if a == b { at_risk[a] * n } else { 0.0 };
                        cov[(a, b)] += f * (delta - at_risk[a] * at_risk[b]);
                    }
                }
            }
        }
        for k in 0..g {
            at_risk[k] -= d[k] + c[k];
        }
    }
    // Drop the last group: the O-E vector sums to zero.
    let m = g - 1;
    let diff = nalgebra::DVector::from_iterator(m, (0..m).map(|k| observed[k] - expected[k]));
    let v = cov.view((0, 0), (m, m)).into_owned();
    let chi2 = match v.clone().cholesky() {
        Some(ch) => diff.dot(&ch.solve(&diff)),
        None => {
            return Err(StatsError::Undefined(
                "the log-rank variance is singular: no events, or groups without any time at risk \
                 in common"
                    .into(),
            ));
        }
    };
    Ok(LogRank {
        chi2,
        df: m,
        p_value: chi2_sf(chi2, m as f64),
        observed,
        expected,
    })
}
