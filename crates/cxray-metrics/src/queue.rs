//! Contact-centre queue metrics (calls and chats offered to agents) from per-group counts and
//! sums.
//!
//! | metric | value | definition |
//! |---|---|---|
//! | `abandonment` | % | (abandoned − short abandons) ÷ (offered − short abandons); a short abandon waited less than the threshold (default 5 s) and is excluded from both sides |
//! | `asa` | seconds | average speed of answer: mean wait of answered contacts (`answered_at − offered_at`, else `wait_seconds`) |
//! | `service_level` | % | answered within the service-level threshold (default 20 s) ÷ (offered − short abandons) |
//!
//! The short-abandon convention follows common contact-centre practice (a caller who hangs up
//! within seconds never gave the centre a chance); the numbers for the reference case are in
//! `crates/cxray-metrics` tests, from `shared/reference/04_contact_center_growth.py`.

use cxray_stats::Proportion;
use cxray_stats::mean::Moments;
use serde_json::json;

use crate::operational::{
    Estimation, Grouped, OperationalStats, OperationalValue, defined, percent,
};

/// Sufficient statistics of a group of offered contacts.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QueueStats {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    /// Abandoned after waiting less than the short-abandon threshold.
    pub short_abandoned: u64,
    /// Answered contacts with a known wait, and the sum and sum of squares of their waits.
    pub wait_n: u64,
    pub wait_sum: f64,
    pub wait_sum_sq: f64,
    /// Answered within the service-level threshold.
    pub answered_within: u64,
}

/// Queue statistics of one (segment, period) group.
pub type QueueGroup = Grouped<QueueStats>;

/// Thresholds of the queue definitions (`[queue]` in cxray.toml).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSettings {
    /// Abandons after a shorter wait are left out of the abandonment rate.
    pub short_abandon_seconds: f64,
    /// Answered within this many seconds counts towards the service level.
    pub service_level_seconds: f64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            short_abandon_seconds: 5.0,
            service_level_seconds: 20.0,
        }
    }
}

impl QueueStats {
    pub fn merge(&mut self, o: &QueueStats) {
        self.offered += o.offered;
        self.answered += o.answered;
        self.abandoned += o.abandoned;
        self.short_abandoned += o.short_abandoned;
        self.wait_n += o.wait_n;
        self.wait_sum += o.wait_sum;
        self.wait_sum_sq += o.wait_sum_sq;
        self.answered_within += o.answered_within;
    }

    /// Offered contacts that count: all but the short abandons.
    pub fn counted(&self) -> u64 {
        self.offered - self.short_abandoned
    }
}

impl OperationalStats for QueueStats {
    type Settings = QueueSettings;

    fn metric(
        &self,
        name: &str,
        settings: &QueueSettings,
        how: &Estimation,
    ) -> Option<OperationalValue> {
        let counts = |mut d: serde_json::Map<String, serde_json::Value>| {
            d.insert("offered".into(), json!(self.offered));
            d.insert("answered".into(), json!(self.answered));
            d.insert("abandoned".into(), json!(self.abandoned));
            d.insert("short_abandoned".into(), json!(self.short_abandoned));
            d.insert(
                "short_abandon_seconds".into(),
                json!(settings.short_abandon_seconds),
            );
            d
        };
        let proportion = |k: u64, n: u64| {
            percent(Proportion::new(k, n).and_then(|p| p.estimate(how.confidence, how.proportion)))
        };
        Some(match name {
            "abandonment" => OperationalValue {
                n: self.counted(),
                estimate: proportion(self.abandoned - self.short_abandoned, self.counted()),
                detail: counts(defined(format!(
                    "(abandoned − abandoned within {} s) ÷ (offered − abandoned within {} s)",
                    settings.short_abandon_seconds, settings.short_abandon_seconds
                ))),
                sampled: true,
            },
            "service_level" => {
                let mut detail = counts(defined(format!(
                    "answered within {} s ÷ (offered − abandoned within {} s)",
                    settings.service_level_seconds, settings.short_abandon_seconds
                )));
                detail.insert("answered_within".into(), json!(self.answered_within));
                detail.insert(
                    "threshold_seconds".into(),
                    json!(settings.service_level_seconds),
                );
                OperationalValue {
                    n: self.counted(),
                    estimate: proportion(self.answered_within, self.counted()),
                    detail,
                    sampled: true,
                }
            }
            "asa" => OperationalValue {
                n: self.wait_n,
                estimate: Moments::from_sums(self.wait_n, self.wait_sum, self.wait_sum_sq)
                    .and_then(|m| m.estimate(how.confidence)),
                detail: counts(defined(
                    "mean seconds from offered_at to answered_at (else wait_seconds) of answered \
                     contacts",
                )),
                sampled: true,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// shared/reference/04_contact_center_growth.py: 1,000 offered, 900 answered, 100
    /// abandoned of which 40 waited under 5 s: raw rate 0.1, excluding short abandons
    /// (100 − 40) / (1000 − 40) = 0.0625.
    #[test]
    fn abandonment_excludes_short_abandons_from_both_sides() {
        let s = QueueStats {
            offered: 1000,
            answered: 900,
            abandoned: 100,
            short_abandoned: 40,
            ..Default::default()
        };
        let m = s
            .metric(
                "abandonment",
                &QueueSettings::default(),
                &Estimation::default(),
            )
            .unwrap();
        assert_eq!(m.n, 960);
        let e = m.estimate.unwrap();
        assert!((e.value - 6.25).abs() < 1e-12);
        // Wilson 95% for 60/960, statsmodels 0.15 proportion_confint(60, 960, method="wilson"):
        // (0.048862854808603, 0.079624520046822).
        let i = e.interval.unwrap();
        assert!(
            (i.low - 4.886_285_480_860_3).abs() < 1e-9
                && (i.high - 7.962_452_004_682_2).abs() < 1e-9,
            "{i:?}"
        );
        assert_eq!(m.detail["short_abandoned"], json!(40));
    }

    #[test]
    fn speed_of_answer_and_service_level() {
        // Waits of answered contacts: 10, 20, 30, 40 s; one within 20 s is two (10, 20).
        let s = QueueStats {
            offered: 5,
            answered: 4,
            abandoned: 1,
            short_abandoned: 0,
            wait_n: 4,
            wait_sum: 100.0,
            wait_sum_sq: 100.0 + 400.0 + 900.0 + 1600.0,
            answered_within: 2,
        };
        let how = Estimation::default();
        let asa = s
            .metric("asa", &QueueSettings::default(), &how)
            .unwrap()
            .estimate
            .unwrap();
        assert_eq!(asa.value, 25.0);
        let sl = s
            .metric("service_level", &QueueSettings::default(), &how)
            .unwrap();
        assert_eq!(sl.estimate.unwrap().value, 40.0);
        assert!(s.metric("fcr", &QueueSettings::default(), &how).is_none());
    }
}
