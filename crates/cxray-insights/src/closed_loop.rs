//! The closed loop's own figures: is the team following up its unhappy customers in time, and
//! do the customers it follows up come back happier?
//!
//! - **Closed within target**: among the cases whose due time has passed (or that are closed),
//!   the share closed by their due time; Wilson interval.
//! - **Time to first contact**: Kaplan-Meier median (hours) with its log-log interval; a case
//!   not contacted yet counts as censored at `now`, so slow cases still open pull the median up
//!   instead of being left out (the median of the contacted alone flatters a slow team).
//! - **Later NPS**: the first NPS a case's customer gave after the case was opened, for
//!   customers who were contacted against those who were not; Tango score intervals and a
//!   z-test of the difference. It is an association, not proof: teams contact the customers
//!   they can reach, and those may differ from the rest.

use cxray_stats::survival::{SurvivalData, SurvivalInterval, kaplan_meier};
use cxray_stats::{
    Comparison, Confidence, Estimate, NpsCounts, NpsInterval, Proportion, ProportionInterval,
    nps_difference,
};
use serde::Serialize;

/// One case, as the figures need it (times in µs since the Unix epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct LoopCase {
    pub opened_at: i64,
    pub due_at: i64,
    pub contacted_at: Option<i64>,
    /// Resolved or won't fix: when.
    pub closed_at: Option<i64>,
    /// The first NPS (0-10) the customer gave after the case was opened.
    pub later_nps: Option<u8>,
}

/// The loop's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoopFigures {
    pub cases: u64,
    pub open: u64,
    /// Open past their due time.
    pub overdue: u64,
    /// Share (%) of the cases due by now that were closed by their due time.
    pub closed_within_target: Option<Estimate>,
    /// Median hours from the answer's case to the first contact (Kaplan-Meier).
    pub first_contact_hours: Option<MedianHours>,
    /// Later NPS of customers contacted.
    pub later_nps_contacted: Option<Estimate>,
    /// Later NPS of customers not contacted.
    pub later_nps_not_contacted: Option<Estimate>,
    /// Contacted minus not contacted, NPS points.
    pub later_nps_difference: Option<Comparison>,
    pub note: &'static str,
}

/// A median with its interval, in hours.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MedianHours {
    pub median: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Cases contacted (events) of all cases.
    pub contacted: u64,
    pub n: u64,
}

const HOUR: f64 = 3_600_000_000.0;

/// The figures of `cases` at `now` (µs).
pub fn loop_figures(cases: &[LoopCase], now: i64, confidence: Confidence) -> LoopFigures {
    let open = cases.iter().filter(|c| c.closed_at.is_none()).count() as u64;
    let overdue = cases
        .iter()
        .filter(|c| c.closed_at.is_none() && c.due_at < now)
        .count() as u64;
    let due: Vec<&LoopCase> = cases
        .iter()
        .filter(|c| c.due_at <= now || c.closed_at.is_some())
        .collect();
    let in_time = due
        .iter()
        .filter(|c| c.closed_at.is_some_and(|t| t <= c.due_at))
        .count() as u64;
    let closed_within_target = Proportion::new(in_time, due.len() as u64)
        .and_then(|p| p.estimate(confidence, ProportionInterval::Wilson))
        .map(|e| e.scaled(100.0))
        .ok();
    let durations: Vec<f64> = cases
        .iter()
        .map(|c| (c.contacted_at.unwrap_or(now).max(c.opened_at) - c.opened_at) as f64 / HOUR)
        .collect();
    let events: Vec<bool> = cases.iter().map(|c| c.contacted_at.is_some()).collect();
    let first_contact_hours = SurvivalData::from_durations(&durations, &events)
        .and_then(|d| kaplan_meier(&d, confidence, SurvivalInterval::LogLog))
        .ok()
        .map(|km| {
            let m = km.median();
            MedianHours {
                median: m.median,
                lower: m.lower,
                upper: m.upper,
                contacted: km.events,
                n: km.n,
            }
        });
    let counts = |contacted: bool| {
        let mut h = [0u64; 11];
        for c in cases {
            if c.contacted_at.is_some() == contacted
                && let Some(s) = c.later_nps.filter(|s| *s <= 10)
            {
                h[s as usize] += 1;
            }
        }
        NpsCounts::from_histogram(&h)
    };
    let (a, b) = (counts(true), counts(false));
    let estimate = |c: &NpsCounts| {
        (c.n() > 0.0)
            .then(|| c.estimate(confidence, NpsInterval::Score).ok())
            .flatten()
    };
    LoopFigures {
        cases: cases.len() as u64,
        open,
        overdue,
        closed_within_target,
        first_contact_hours,
        later_nps_contacted: estimate(&a),
        later_nps_not_contacted: estimate(&b),
        later_nps_difference: (a.n() > 0.0 && b.n() > 0.0)
            .then(|| nps_difference(&a, &b, confidence, NpsInterval::Score).ok())
            .flatten(),
        note: "later NPS of contacted and not contacted customers is an association, not proof \
               that contacting them raised it: the customers a team reaches may differ from the \
               rest",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    fn case(contact_h: Option<i64>, close_h: Option<i64>, later: Option<u8>) -> LoopCase {
        LoopCase {
            opened_at: 0,
            due_at: 48 * H,
            contacted_at: contact_h.map(|h| h * H),
            closed_at: close_h.map(|h| h * H),
            later_nps: later,
        }
    }

    #[test]
    fn figures_follow_their_definitions() {
        let cases = vec![
            case(Some(2), Some(10), Some(9)),
            case(Some(4), Some(60), Some(10)),
            case(Some(30), None, Some(3)),
            case(None, None, Some(2)),
            case(None, None, None),
        ];
        let f = loop_figures(&cases, 100 * H, Confidence::new(0.95).unwrap());
        assert_eq!((f.cases, f.open, f.overdue), (5, 3, 3));
        // All five are due; one was closed by its due time.
        let w = f.closed_within_target.unwrap();
        assert!((w.value - 20.0).abs() < 1e-9);
        assert_eq!(w.n, 5);
        // Wilson 95% for 1/5, from statsmodels 0.14:
        // proportion_confint(1, 5, alpha=0.05, method="wilson") = (0.0362241, 0.6244654).
        let i = w.interval.unwrap();
        assert!((i.low - 3.62241).abs() < 1e-4, "{}", i.low);
        assert!((i.high - 62.44654).abs() < 1e-4, "{}", i.high);
        // Kaplan-Meier: contacts at 2, 4, 30 h of 5 at risk, two censored at 100 h.
        // S = 0.8, 0.6, 0.4: the median is 30 h.
        let m = f.first_contact_hours.unwrap();
        // lifelines 0.30 KaplanMeierFitter on durations [2, 4, 30, 100, 100], events
        // [1, 1, 1, 0, 0]: median 30, its 95% interval (log-log) from 2 to infinity.
        assert_eq!(m.median, Some(30.0));
        assert_eq!((m.lower, m.upper), (Some(2.0), None));
        assert_eq!((m.contacted, m.n), (3, 5));
        // Later NPS: contacted 9, 10, 3 → (2 − 1)/3 = 33.3; not contacted: 2 → −100.
        let a = f.later_nps_contacted.unwrap();
        assert!((a.value - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(f.later_nps_not_contacted.unwrap().value, -100.0);
        let d = f.later_nps_difference.unwrap();
        assert!((d.difference - (100.0 / 3.0 + 100.0)).abs() < 1e-9);
        assert!(f.note.contains("not proof"));
    }

    #[test]
    fn no_cases_give_no_figures_rather_than_zeros() {
        let f = loop_figures(&[], 0, Confidence::new(0.95).unwrap());
        assert_eq!(f.cases, 0);
        assert!(f.closed_within_target.is_none());
        assert!(f.first_contact_hours.is_none());
        assert!(f.later_nps_difference.is_none());
        // Not yet due and open: no share within target yet.
        let f = loop_figures(&[case(None, None, None)], H, Confidence::new(0.95).unwrap());
        assert!(f.closed_within_target.is_none());
        assert_eq!(f.first_contact_hours.unwrap().median, None);
    }
}
