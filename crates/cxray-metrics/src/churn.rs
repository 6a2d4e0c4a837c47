//! Churn, retention and reactivation from customer lifecycle events.
//!
//! Two definitions, because businesses differ:
//!
//! - **Subscription** (events `start`, `cancel`, optionally `renew`): a customer is active from a
//!   start until the next cancel; a start after a cancel is a reactivation.
//! - **Inactivity window** (any dated activity — orders, bookings, visits): a customer is active
//!   from an activity until `window_days` have passed without another one. The churn date is
//!   `last activity + window_days`; an activity after that date is a **reactivation** (the
//!   customer comes back), not a new customer; a customer whose last activity is fewer than
//!   `window_days` before the end of the data is **not churned yet** (censored). An activity
//!   exactly `window_days` after the previous one still counts as continuous (churn needs a gap
//!   longer than the window).
//!
//! Each customer's history becomes *spells* (active from, churned at or still active). Period
//! rates follow from the spells:
//!
//! | rate | numerator | denominator |
//! |---|---|---|
//! | churn rate | customers active at the start of the period whose spell ends in it | customers active at the start of the period |
//! | reactivation rate | lapsed customers (churned before the period) who start a new spell in it | customers lapsed at the start of the period |
//!
//! New customers (first spell starting in the period) are not in the churn denominator: they
//! were not customers at the start; they are counted separately, and a new customer who churns
//! within the same period (possible only with a window shorter than the period or a
//! subscription cancelled within it) is counted in `new_churned`, not in the rate.

use chrono::{Duration, NaiveDate};
use cxray_stats::{Estimate, Proportion, StatsError};
use serde::Serialize;

use crate::operational::{
    Estimation, Grouped, OperationalStats, OperationalValue, defined, percent,
};

/// How churn is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnDefinition {
    /// Explicit start and cancel events.
    Subscription,
    /// Churned after this many days without activity.
    Inactivity { window_days: i64 },
}

impl ChurnDefinition {
    /// The definition in words, for outputs.
    pub fn describe(&self) -> String {
        match self {
            ChurnDefinition::Subscription => {
                "churned = cancelled; active from a start until the next cancel; a start after a \
                 cancel is a reactivation"
                    .into()
            }
            ChurnDefinition::Inactivity { window_days } => format!(
                "churned = no activity for more than {window_days} days (churn date = last activity + \
                 {window_days} days); activity after that is a reactivation; customers whose last \
                 activity is within {window_days} days of the end of the data are not churned yet"
            ),
        }
    }
}

/// A lifecycle event of one customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LifecycleEvent {
    Start,
    Renew,
    Activity,
    Cancel,
}

impl LifecycleEvent {
    /// Parses an event name (case-insensitive); `None` for names cxray does not know.
    pub fn parse(s: &str) -> Option<LifecycleEvent> {
        const NAMES: [(&str, LifecycleEvent); 14] = [
            ("start", LifecycleEvent::Start),
            ("signup", LifecycleEvent::Start),
            ("subscribe", LifecycleEvent::Start),
            ("join", LifecycleEvent::Start),
            ("renew", LifecycleEvent::Renew),
            ("renewal", LifecycleEvent::Renew),
            ("activity", LifecycleEvent::Activity),
            ("order", LifecycleEvent::Activity),
            ("purchase", LifecycleEvent::Activity),
            ("booking", LifecycleEvent::Activity),
            ("visit", LifecycleEvent::Activity),
            ("login", LifecycleEvent::Activity),
            ("cancel", LifecycleEvent::Cancel),
            ("cancellation", LifecycleEvent::Cancel),
        ];
        let s = s.trim();
        // No allocation: this runs for every lifecycle event.
        NAMES
            .iter()
            .chain(&[
                ("churn", LifecycleEvent::Cancel),
                ("unsubscribe", LifecycleEvent::Cancel),
            ])
            .find(|(n, _)| n.eq_ignore_ascii_case(s))
            .map(|(_, e)| *e)
    }
}

/// One period of being a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spell {
    pub from: NaiveDate,
    /// Churn date; `None` while still active at the end of the data.
    pub churned: Option<NaiveDate>,
}

/// Why an event history cannot be used as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventProblem {
    /// Index of the offending event in the input.
    pub index: usize,
    pub reason: String,
}

/// Spells of one customer. Events need not be sorted. With the subscription definition a
/// cancel while not active (before any start, or a second cancel) is a problem and is left
/// out; a renew or activity while not active starts nothing. Events after `data_end` are
/// problems too.
pub fn spells(
    events: &[(NaiveDate, LifecycleEvent)],
    definition: ChurnDefinition,
    data_end: NaiveDate,
) -> (Vec<Spell>, Vec<EventProblem>) {
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| (events[i].0, events[i].1, i));
    let mut out: Vec<Spell> = Vec::new();
    let mut problems = Vec::new();
    for &i in &order {
        if events[i].0 > data_end {
            problems.push(EventProblem {
                index: i,
                reason: format!(
                    "event on {} is after the end of the data ({data_end})",
                    events[i].0
                ),
            });
        }
    }
    let order: Vec<usize> = order
        .into_iter()
        .filter(|&i| events[i].0 <= data_end)
        .collect();
    match definition {
        ChurnDefinition::Subscription => {
            let mut active: Option<NaiveDate> = None;
            for &i in &order {
                let (d, e) = events[i];
                match (e, active) {
                    (LifecycleEvent::Start, None) => active = Some(d),
                    (LifecycleEvent::Start, Some(_))
                    | (LifecycleEvent::Renew | LifecycleEvent::Activity, _) => {}
                    (LifecycleEvent::Cancel, Some(from)) => {
                        out.push(Spell {
                            from,
                            churned: Some(d),
                        });
                        active = None;
                    }
                    (LifecycleEvent::Cancel, None) => problems.push(EventProblem {
                        index: i,
                        reason: if out.is_empty() {
                            "cancel before any start".into()
                        } else {
                            "cancel while already cancelled".into()
                        },
                    }),
                }
            }
            if let Some(from) = active {
                out.push(Spell {
                    from,
                    churned: None,
                });
            }
        }
        ChurnDefinition::Inactivity { window_days } => {
            let window = Duration::days(window_days);
            let mut cur: Option<(NaiveDate, NaiveDate)> = None; // (from, last activity)
            for &i in &order {
                let d = events[i].0;
                cur = match cur {
                    None => Some((d, d)),
                    Some((from, last)) if d - last > window => {
                        out.push(Spell {
                            from,
                            churned: Some(last + window),
                        });
                        Some((d, d))
                    }
                    Some((from, last)) => Some((from, last.max(d))),
                };
            }
            if let Some((from, last)) = cur {
                let churn_at = last + window;
                out.push(Spell {
                    from,
                    churned: (churn_at < data_end).then_some(churn_at),
                });
            }
        }
    }
    problems.sort_by_key(|p| p.index);
    (out, problems)
}

/// Customer counts of one period `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct PeriodCounts {
    /// Active at the start of the period.
    pub active_at_start: u64,
    /// Of those, churned during the period.
    pub churned: u64,
    /// First spell started in the period.
    pub new: u64,
    /// New in the period and churned in it too.
    pub new_churned: u64,
    /// Lapsed (had a spell, none active) at the start of the period.
    pub lapsed_at_start: u64,
    /// Of those, started a new spell in the period.
    pub reactivated: u64,
    /// Active at the end of the period.
    pub active_at_end: u64,
}

impl PeriodCounts {
    /// Adds one customer's spells.
    pub fn add(&mut self, spells: &[Spell], start: NaiveDate, end: NaiveDate) {
        let Some(first) = spells.first() else { return };
        let in_p = |d: NaiveDate| d >= start && d < end;
        let covers = |s: &Spell, d: NaiveDate| s.from < d && s.churned.is_none_or(|c| c >= d);
        let active_start = spells.iter().any(|s| covers(s, start));
        if active_start {
            self.active_at_start += 1;
            let sp = spells.iter().find(|s| covers(s, start)).expect("found");
            if sp.churned.is_some_and(in_p) {
                self.churned += 1;
            }
        }
        if in_p(first.from) {
            self.new += 1;
            if first.churned.is_some_and(in_p) {
                self.new_churned += 1;
            }
        }
        let lapsed = !active_start && first.from < start;
        if lapsed {
            self.lapsed_at_start += 1;
            if spells.iter().skip(1).any(|s| in_p(s.from)) {
                self.reactivated += 1;
            }
        }
        if spells.iter().any(|s| covers(s, end)) {
            self.active_at_end += 1;
        }
    }

    pub fn merge(&mut self, o: &PeriodCounts) {
        self.active_at_start += o.active_at_start;
        self.churned += o.churned;
        self.new += o.new;
        self.new_churned += o.new_churned;
        self.lapsed_at_start += o.lapsed_at_start;
        self.reactivated += o.reactivated;
        self.active_at_end += o.active_at_end;
    }

    /// Churn rate (0..1): churned during the period ÷ active at its start.
    pub fn churn_rate(&self, how: &Estimation) -> Result<Estimate, StatsError> {
        Proportion::new(self.churned, self.active_at_start)?
            .estimate(how.confidence, how.proportion)
    }

    /// Reactivation rate (0..1): lapsed customers who started again ÷ lapsed at the start.
    pub fn reactivation_rate(&self, how: &Estimation) -> Result<Estimate, StatsError> {
        Proportion::new(self.reactivated, self.lapsed_at_start)?
            .estimate(how.confidence, how.proportion)
    }
}

/// Churn metrics: `churn` (% of customers active at the start of the period who churned in it)
/// and `reactivation` (% of lapsed customers who came back).
impl OperationalStats for PeriodCounts {
    type Settings = ChurnDefinition;

    fn metric(
        &self,
        name: &str,
        definition: &ChurnDefinition,
        how: &Estimation,
    ) -> Option<OperationalValue> {
        let (estimate, n) = match name {
            "churn" => (self.churn_rate(how), self.active_at_start),
            "reactivation" => (self.reactivation_rate(how), self.lapsed_at_start),
            _ => return None,
        };
        let mut detail = defined(definition.describe());
        for (k, v) in [
            ("active_at_start", self.active_at_start),
            ("churned", self.churned),
            ("new", self.new),
            ("new_churned", self.new_churned),
            ("lapsed_at_start", self.lapsed_at_start),
            ("reactivated", self.reactivated),
            ("active_at_end", self.active_at_end),
        ] {
            detail.insert(k.into(), serde_json::Value::from(v));
        }
        Some(OperationalValue {
            n,
            estimate: percent(estimate),
            detail,
            sampled: true,
        })
    }
}

/// One customer's events: (date, event, index of the event's row in the input).
pub type History = Vec<(NaiveDate, LifecycleEvent, usize)>;

/// Period counts of every (segment, period) group, and the events that could not be used.
#[derive(Debug, Clone, PartialEq)]
pub struct ChurnTable {
    pub groups: Vec<Grouped<PeriodCounts>>,
    /// (input row, reason) of events left out (e.g. a cancel before any start).
    pub problems: Vec<(usize, String)>,
    pub definition: ChurnDefinition,
    pub data_end: NaiveDate,
}

/// The definition to use when the project does not say: subscription when any cancel event
/// exists, otherwise an inactivity window of `window_days`.
pub fn auto_definition<'a>(
    events: impl IntoIterator<Item = &'a LifecycleEvent>,
    window_days: i64,
) -> ChurnDefinition {
    if events.into_iter().any(|e| *e == LifecycleEvent::Cancel) {
        ChurnDefinition::Subscription
    } else {
        ChurnDefinition::Inactivity { window_days }
    }
}

/// Churn, new and reactivation counts of each customer in each period `[start, end)`, summed
/// per segment. `customers` yields each customer's segment values and events.
pub fn churn_table(
    customers: impl IntoIterator<Item = (Vec<Option<String>>, History)>,
    definition: ChurnDefinition,
    data_end: NaiveDate,
    periods: &[(Option<NaiveDate>, NaiveDate, NaiveDate)],
) -> ChurnTable {
    let mut problems = Vec::new();
    let mut events: Vec<(NaiveDate, LifecycleEvent)> = Vec::new();
    let mut all: Vec<(Vec<Option<String>>, Vec<Spell>)> = Vec::new();
    for (segment, history) in customers {
        events.clear();
        events.extend(history.iter().map(|(d, e, _)| (*d, *e)));
        let (sp, probs) = spells(&events, definition, data_end);
        for p in probs {
            problems.push((history[p.index].2, p.reason));
        }
        if !periods.is_empty() {
            all.push((segment, sp));
        }
    }
    problems.sort();
    ChurnTable {
        groups: count_periods(all.iter().map(|(s, sp)| (s, sp.as_slice())), periods),
        problems,
        definition,
        data_end,
    }
}

/// Period counts of every (segment, period) group from each customer's spells.
pub fn count_periods<'a>(
    customers: impl IntoIterator<Item = (&'a Vec<Option<String>>, &'a [Spell])>,
    periods: &[(Option<NaiveDate>, NaiveDate, NaiveDate)],
) -> Vec<Grouped<PeriodCounts>> {
    use std::collections::{BTreeMap, HashMap};
    // Per segment, one row of counts per period (a map lookup per customer, not per period).
    let mut by_segment: HashMap<&Vec<Option<String>>, Vec<PeriodCounts>> = HashMap::new();
    for (segment, sp) in customers {
        let row = by_segment
            .entry(segment)
            .or_insert_with(|| vec![PeriodCounts::default(); periods.len()]);
        for (c, &(_, start, end)) in row.iter_mut().zip(periods) {
            c.add(sp, start, end);
        }
    }
    let mut groups: BTreeMap<(Vec<Option<String>>, Option<NaiveDate>), PeriodCounts> =
        BTreeMap::new();
    for (segment, row) in by_segment {
        for (c, &(label, _, _)) in row.into_iter().zip(periods) {
            if c != PeriodCounts::default() {
                groups.insert((segment.clone(), label), c);
            }
        }
    }
    groups
        .into_iter()
        .map(|((segment, period_start), stats)| Grouped {
            key: crate::period::GroupKey {
                metric: "churn".into(),
                period_start,
                segment,
            },
            stats,
        })
        .collect()
}

/// Duration (days) and event flag of each customer's first spell, for Kaplan-Meier retention:
/// churn is the event; a spell still active at `data_end` is censored there.
pub fn first_spell_duration(spells: &[Spell], data_end: NaiveDate) -> Option<(f64, bool)> {
    let s = spells.first()?;
    Some(match s.churned {
        Some(c) => ((c - s.from).num_days() as f64, true),
        None => ((data_end - s.from).num_days() as f64, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleEvent::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const YEAR: ChurnDefinition = ChurnDefinition::Inactivity { window_days: 365 };

    #[test]
    fn returns_after_13_months_churned_then_reactivated() {
        let ev = [(d("2023-01-10"), Activity), (d("2024-02-10"), Activity)];
        let (s, p) = spells(&ev, YEAR, d("2025-01-01"));
        assert!(p.is_empty());
        assert_eq!(
            s,
            vec![
                Spell {
                    from: d("2023-01-10"),
                    churned: Some(d("2024-01-10")),
                },
                // Back on 2024-02-10; its own window ends 2025-02-09, after the data: active.
                Spell {
                    from: d("2024-02-10"),
                    churned: None,
                },
            ]
        );
        // January 2024: churned in the period; February 2024: reactivated.
        let mut jan = PeriodCounts::default();
        jan.add(&s, d("2024-01-01"), d("2024-02-01"));
        assert_eq!((jan.active_at_start, jan.churned, jan.new), (1, 1, 0));
        let mut feb = PeriodCounts::default();
        feb.add(&s, d("2024-02-01"), d("2024-03-01"));
        assert_eq!(
            (
                feb.active_at_start,
                feb.lapsed_at_start,
                feb.reactivated,
                feb.new
            ),
            (0, 1, 1, 0),
            "a returning customer is reactivated, not new"
        );
        assert_eq!(feb.active_at_end, 1);
    }

    #[test]
    fn returns_after_11_months_never_churned() {
        let ev = [(d("2023-01-10"), Activity), (d("2023-12-10"), Activity)];
        let (s, _) = spells(&ev, YEAR, d("2025-06-01"));
        assert_eq!(
            s,
            vec![Spell {
                from: d("2023-01-10"),
                churned: Some(d("2024-12-09")),
            }]
        );
        let mut dec = PeriodCounts::default();
        dec.add(&s, d("2023-12-01"), d("2024-01-01"));
        assert_eq!(
            (dec.active_at_start, dec.churned, dec.reactivated),
            (1, 0, 0)
        );
    }

    #[test]
    fn last_activity_inside_the_window_at_the_end_is_not_churned_yet() {
        let ev = [(d("2024-09-01"), Activity)];
        let (s, _) = spells(&ev, YEAR, d("2025-06-30"));
        assert_eq!(
            s,
            vec![Spell {
                from: d("2024-09-01"),
                churned: None,
            }]
        );
        assert_eq!(
            first_spell_duration(&s, d("2025-06-30")),
            Some((302.0, false)),
            "censored at the end of the data"
        );
    }

    #[test]
    fn exactly_the_window_is_continuous() {
        let ev = [(d("2023-01-01"), Activity), (d("2024-01-01"), Activity)];
        let (s, _) = spells(&ev, YEAR, d("2024-06-01"));
        assert_eq!(
            s.len(),
            1,
            "365 days later is still inside a 365-day window"
        );
        let ev = [(d("2023-01-01"), Activity), (d("2024-01-02"), Activity)];
        assert_eq!(spells(&ev, YEAR, d("2024-06-01")).0.len(), 2);
    }

    #[test]
    fn subscription_cancel_before_start_is_a_problem() {
        let ev = [
            (d("2024-03-01"), Start),
            (d("2024-01-05"), Cancel),
            (d("2024-06-01"), Cancel),
            (d("2024-07-01"), Cancel),
            (d("2024-09-01"), Start),
            (d("2030-01-01"), Activity),
        ];
        let (s, p) = spells(&ev, ChurnDefinition::Subscription, d("2025-01-01"));
        assert_eq!(
            s,
            vec![
                Spell {
                    from: d("2024-03-01"),
                    churned: Some(d("2024-06-01")),
                },
                Spell {
                    from: d("2024-09-01"),
                    churned: None,
                },
            ]
        );
        let reasons: Vec<(usize, &str)> = p.iter().map(|p| (p.index, p.reason.as_str())).collect();
        assert_eq!(reasons[0], (1, "cancel before any start"));
        assert_eq!(reasons[1], (3, "cancel while already cancelled"));
        assert_eq!(reasons[2].0, 5);
        assert!(reasons[2].1.contains("after the end of the data"));
        assert_eq!(p.len(), 3);
    }

    /// A hand-computed cohort for one month (2024-03):
    /// A active since 2023, churns 2024-03-15 (cancel); B active, stays; C new on 2024-03-10;
    /// D churned in 2023, restarts 2024-03-20; E churned in 2023, stays away;
    /// F new 2024-03-02 and cancels 2024-03-25.
    #[test]
    fn period_counts_and_rates_by_hand() {
        let sub = ChurnDefinition::Subscription;
        let end = d("2024-12-31");
        let people: Vec<Vec<(NaiveDate, LifecycleEvent)>> = vec![
            vec![(d("2023-05-01"), Start), (d("2024-03-15"), Cancel)],
            vec![(d("2023-06-01"), Start)],
            vec![(d("2024-03-10"), Start)],
            vec![
                (d("2023-01-01"), Start),
                (d("2023-08-01"), Cancel),
                (d("2024-03-20"), Start),
            ],
            vec![(d("2023-02-01"), Start), (d("2023-09-01"), Cancel)],
            vec![(d("2024-03-02"), Start), (d("2024-03-25"), Cancel)],
        ];
        let mut c = PeriodCounts::default();
        for p in &people {
            let (s, probs) = spells(p, sub, end);
            assert!(probs.is_empty());
            c.add(&s, d("2024-03-01"), d("2024-04-01"));
        }
        assert_eq!(
            c,
            PeriodCounts {
                active_at_start: 2, // A, B
                churned: 1,         // A
                new: 2,             // C, F
                new_churned: 1,     // F
                lapsed_at_start: 2, // D, E
                reactivated: 1,     // D
                active_at_end: 3,   // B, C, D
            }
        );
        let how = Estimation::default();
        assert_eq!(c.churn_rate(&how).unwrap().value, 0.5);
        assert_eq!(c.reactivation_rate(&how).unwrap().value, 0.5);
        // Nobody at the start: no rate, a clear error.
        assert!(PeriodCounts::default().churn_rate(&how).is_err());
        // As a metric: percent, with the counts and the definition stated.
        let m = c.metric("churn", &YEAR, &how).unwrap();
        assert_eq!(m.estimate.unwrap().value, 50.0);
        assert_eq!((m.n, m.detail["reactivated"].as_u64()), (2, Some(1)));
        assert!(
            m.detail["definition"]
                .as_str()
                .unwrap()
                .contains("365 days")
        );
        assert!(c.metric("nps", &YEAR, &how).is_none());
    }

    #[test]
    fn event_names() {
        assert_eq!(LifecycleEvent::parse(" Cancel "), Some(Cancel));
        assert_eq!(LifecycleEvent::parse("order"), Some(Activity));
        assert_eq!(LifecycleEvent::parse("pause"), None);
        assert!(YEAR.describe().contains("365 days"));
    }

    #[test]
    fn churn_table_sums_customers_per_segment_and_reports_problems() {
        let feb = (Some(d("2025-02-01")), d("2025-02-01"), d("2025-03-01"));
        let customers = vec![
            (
                vec![Some("North".to_string())],
                vec![(d("2025-01-05"), Start, 0), (d("2025-02-10"), Cancel, 1)],
            ),
            (
                vec![Some("North".to_string())],
                vec![(d("2025-01-01"), Start, 2)],
            ),
            (
                vec![Some("South".to_string())],
                vec![(d("2025-01-03"), Cancel, 3), (d("2025-02-03"), Start, 4)],
            ),
        ];
        let t = churn_table(
            customers,
            ChurnDefinition::Subscription,
            d("2025-02-28"),
            &[feb],
        );
        assert_eq!(t.problems, vec![(3, "cancel before any start".to_string())]);
        assert_eq!(t.groups.len(), 2);
        let (north, c) = (&t.groups[0].key, &t.groups[0].stats);
        assert_eq!(north.segment, vec![Some("North".to_string())]);
        assert_eq!((c.active_at_start, c.churned, c.new), (2, 1, 0));
        let r = c.churn_rate(&Estimation::default()).unwrap();
        assert_eq!(r.value, 0.5);
        let s = &t.groups[1].stats;
        assert_eq!((s.active_at_start, s.new, s.active_at_end), (0, 1, 1));
    }

    #[test]
    fn auto_definition_follows_the_events() {
        assert_eq!(
            auto_definition(&[Start, Cancel], 365),
            ChurnDefinition::Subscription
        );
        assert_eq!(
            auto_definition(&[Activity, Start], 200),
            ChurnDefinition::Inactivity { window_days: 200 }
        );
    }
}
