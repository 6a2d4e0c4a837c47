//! Support-ticket metrics from per-group sufficient statistics.
//!
//! | metric | value | definition |
//! |---|---|---|
//! | `tickets` | count | tickets created in the group (volume) |
//! | `fcr` | % | first contact resolution: resolved tickets with exactly one contact that were not reopened within the window (default 7 days), ÷ resolved tickets whose contact count is known |
//! | `frt` | seconds | first response time `first_response_at − created_at`: median, p90 in detail |
//! | `ttr` | seconds | time to resolution `resolved_at − created_at`: median, p90 in detail |
//! | `aht` | seconds | average handle time: mean of `handle_seconds` |
//! | `reopen` | % | reopened ÷ resolved tickets (reopened at any time) |
//!
//! Everything is a count, a sum or a histogram, so groups merge and the engine computes them
//! with GROUP BY. Durations use a DDSketch (relative accuracy [`DURATION_ACCURACY`]); their
//! intervals are distribution-free order-statistic intervals.

use cxray_stats::mean::Moments;
use cxray_stats::quantile::DdSketch;
use cxray_stats::{Confidence, Proportion};
use serde_json::json;

use crate::operational::{
    Estimation, Grouped, OperationalStats, OperationalValue, count_estimate, defined, percent,
};

/// Relative accuracy of duration quantiles (±0.5%).
pub const DURATION_ACCURACY: f64 = 0.005;

/// Sufficient statistics of a group of tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketStats {
    pub tickets: u64,
    pub resolved: u64,
    /// Resolved tickets whose contact count is known (the FCR denominator).
    pub fcr_eligible: u64,
    /// Of those, one contact and not reopened within the window.
    pub fcr: u64,
    /// Resolved tickets whose reopened flag is known (the reopen denominator).
    pub reopen_eligible: u64,
    pub reopened: u64,
    /// Tickets with a handle time, its sum and sum of squares.
    pub handle_n: u64,
    pub handle_sum: f64,
    pub handle_sum_sq: f64,
    /// First response time and time to resolution, seconds.
    pub frt: DdSketch,
    pub ttr: DdSketch,
}

impl Default for TicketStats {
    fn default() -> Self {
        TicketStats {
            tickets: 0,
            resolved: 0,
            fcr_eligible: 0,
            fcr: 0,
            reopen_eligible: 0,
            reopened: 0,
            handle_n: 0,
            handle_sum: 0.0,
            handle_sum_sq: 0.0,
            frt: DdSketch::new(DURATION_ACCURACY).expect("valid accuracy"),
            ttr: DdSketch::new(DURATION_ACCURACY).expect("valid accuracy"),
        }
    }
}

/// Ticket statistics of one (segment, period) group; `key.metric` is `"tickets"`.
pub type TicketGroup = Grouped<TicketStats>;

/// Settings of the ticket definitions.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketSettings {
    /// A reopen later than this after resolution does not undo first contact resolution.
    pub reopen_window_days: u32,
    /// Business hours of response and resolution times, described; `None`: calendar time.
    /// The durations themselves are the columns [`BUSINESS_FRT`] and [`BUSINESS_TTR`], added
    /// at ingestion.
    pub business_hours: Option<String>,
}

impl Default for TicketSettings {
    fn default() -> Self {
        TicketSettings {
            reopen_window_days: 7,
            business_hours: None,
        }
    }
}

/// Column of first response time in business seconds (when business hours are set).
pub const BUSINESS_FRT: &str = "frt_business_seconds";
/// Column of time to resolution in business seconds (when business hours are set).
pub const BUSINESS_TTR: &str = "ttr_business_seconds";

impl TicketStats {
    pub fn merge(&mut self, o: &TicketStats) {
        self.tickets += o.tickets;
        self.resolved += o.resolved;
        self.fcr_eligible += o.fcr_eligible;
        self.fcr += o.fcr;
        self.reopen_eligible += o.reopen_eligible;
        self.reopened += o.reopened;
        self.handle_n += o.handle_n;
        self.handle_sum += o.handle_sum;
        self.handle_sum_sq += o.handle_sum_sq;
        self.frt.merge(&o.frt).expect("same accuracy");
        self.ttr.merge(&o.ttr).expect("same accuracy");
    }
}

/// Median (p90 in detail) of a duration sketch.
pub fn duration_metric(
    sketch: &DdSketch,
    definition: &str,
    confidence: Confidence,
) -> OperationalValue {
    let mut detail = defined(definition);
    if let Ok(p90) = sketch.estimate(0.9, confidence) {
        detail.insert("p90".into(), json!(p90.value));
        detail.insert("p90_ci_low".into(), json!(p90.interval.map(|i| i.low)));
        detail.insert("p90_ci_high".into(), json!(p90.interval.map(|i| i.high)));
    }
    detail.insert("relative_accuracy".into(), json!(sketch.alpha()));
    OperationalValue {
        n: sketch.count(),
        estimate: sketch.estimate(0.5, confidence),
        detail,
        sampled: true,
    }
}

impl OperationalStats for TicketStats {
    type Settings = TicketSettings;

    fn metric(
        &self,
        name: &str,
        settings: &TicketSettings,
        how: &Estimation,
    ) -> Option<OperationalValue> {
        let proportion = |k: u64, n: u64| {
            percent(Proportion::new(k, n).and_then(|p| p.estimate(how.confidence, how.proportion)))
        };
        Some(match name {
            "tickets" => {
                let mut detail = defined("tickets created in the period (volume)");
                detail.insert("resolved".into(), json!(self.resolved));
                detail.insert("open".into(), json!(self.tickets - self.resolved));
                OperationalValue {
                    n: self.tickets,
                    estimate: Ok(count_estimate(self.tickets)),
                    detail,
                    sampled: false,
                }
            }
            "fcr" => {
                let mut detail = defined(format!(
                    "resolved with one contact and not reopened within {} days, of resolved \
                     tickets whose number of contacts is known",
                    settings.reopen_window_days
                ));
                detail.insert("resolved_first_contact".into(), json!(self.fcr));
                detail.insert("resolved_with_contacts".into(), json!(self.fcr_eligible));
                OperationalValue {
                    n: self.fcr_eligible,
                    estimate: proportion(self.fcr, self.fcr_eligible),
                    detail,
                    sampled: true,
                }
            }
            "reopen" => {
                let mut detail = defined("reopened tickets of resolved tickets");
                detail.insert("reopened".into(), json!(self.reopened));
                detail.insert("resolved".into(), json!(self.reopen_eligible));
                OperationalValue {
                    n: self.reopen_eligible,
                    estimate: proportion(self.reopened, self.reopen_eligible),
                    detail,
                    sampled: true,
                }
            }
            "aht" => OperationalValue {
                n: self.handle_n,
                estimate: Moments::from_sums(self.handle_n, self.handle_sum, self.handle_sum_sq)
                    .and_then(|m| m.estimate(how.confidence)),
                detail: defined("mean handle time in seconds (handle_seconds)"),
                sampled: true,
            },
            "frt" | "ttr" => {
                let (sketch, what) = if name == "frt" {
                    (
                        &self.frt,
                        "from created_at to first_response_at (tickets with a response)",
                    )
                } else {
                    (
                        &self.ttr,
                        "from created_at to resolved_at (resolved tickets)",
                    )
                };
                let definition = match &settings.business_hours {
                    Some(b) => format!("median business seconds ({b}) {what}"),
                    None => format!("median seconds {what}"),
                };
                duration_metric(sketch, &definition, how.confidence)
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Five hand-checked tickets:
    /// | id | resolved | contacts | reopened | handle | frt s | ttr s |
    /// | 1 | yes | 1 | no  | 300 | 60   | 3600 |
    /// | 2 | yes | 1 | yes | 200 | 120  | 7200 |
    /// | 3 | yes | 2 | no  | 400 | 0    | 600  |
    /// | 4 | yes | –  | no  | –   | 30   | 60   |
    /// | 5 | no  | 1 | –   | 100 | –    | –    |
    /// FCR = 1 of 3 resolved with known contacts (ticket 1); reopen = 1 of 4; AHT = 250 s.
    fn five() -> TicketStats {
        let mut s = TicketStats {
            tickets: 5,
            resolved: 4,
            fcr_eligible: 3,
            fcr: 1,
            reopen_eligible: 4,
            reopened: 1,
            handle_n: 4,
            handle_sum: 1000.0,
            handle_sum_sq: 300f64.powi(2) + 200f64.powi(2) + 400f64.powi(2) + 100f64.powi(2),
            ..Default::default()
        };
        for x in [60.0, 120.0, 0.0, 30.0] {
            s.frt.add(x).unwrap();
        }
        for x in [3600.0, 7200.0, 600.0, 60.0] {
            s.ttr.add(x).unwrap();
        }
        s
    }

    fn get(s: &TicketStats, m: &str) -> OperationalValue {
        s.metric(m, &TicketSettings::default(), &Estimation::default())
            .unwrap()
    }

    #[test]
    fn hand_computed_ticket_metrics() {
        let s = five();
        let fcr = get(&s, "fcr").estimate.unwrap();
        assert!((fcr.value - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(fcr.n, 3);
        let reopen = get(&s, "reopen").estimate.unwrap();
        assert!((reopen.value - 25.0).abs() < 1e-9);
        let aht = get(&s, "aht").estimate.unwrap();
        assert!((aht.value - 250.0).abs() < 1e-9);
        // scipy: t.ppf(.975, 3) * std([300, 200, 400, 100], ddof=1) / 2 = 205.42602567605.
        let i = aht.interval.unwrap();
        assert!((i.high - 250.0 - 205.426_025_676_05).abs() < 1e-9, "{i:?}");
        // DDSketch lower median of {0, 30, 60, 120}: x(⌊0.5·3⌋) = x(1) = 30 (±0.5%).
        let frt = get(&s, "frt").estimate.unwrap();
        assert!((frt.value - 30.0).abs() <= 30.0 * DURATION_ACCURACY);
        let ttr = get(&s, "ttr").estimate.unwrap();
        assert!((ttr.value - 600.0).abs() <= 600.0 * DURATION_ACCURACY);
        assert!(
            ttr.interval.is_none(),
            "4 values are too few for a 95% median interval"
        );
        assert_eq!(get(&s, "tickets").estimate.unwrap().value, 5.0);
        assert_eq!(get(&s, "tickets").detail["open"], json!(1));
        assert!(
            s.metric("nps", &TicketSettings::default(), &Estimation::default())
                .is_none()
        );
        assert!(!get(&s, "tickets").sampled && get(&s, "fcr").sampled);
        assert_eq!(get(&s, "frt").n, 4);
    }

    #[test]
    fn merging_groups_equals_one_group() {
        let mut a = five();
        a.merge(&five());
        assert_eq!(a.tickets, 10);
        assert_eq!(a.frt.count(), 8);
        let fcr = get(&a, "fcr").estimate.unwrap();
        assert!((fcr.value - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(fcr.n, 6);
    }
}

/// Business hours for response and resolution times: the open days of the week, opening and
/// closing time (local time of the project), and holidays. Elapsed business time counts only
/// the open hours of open days that are not holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessCalendar {
    /// Monday first.
    pub open_days: [bool; 7],
    pub open: chrono::NaiveTime,
    pub close: chrono::NaiveTime,
    pub holidays: std::collections::BTreeSet<chrono::NaiveDate>,
}

impl BusinessCalendar {
    /// Parses `"Mon-Fri 09:00-17:00"` (days as a range or a comma list, English three-letter
    /// names) with a list of holidays as `YYYY-MM-DD`.
    pub fn parse(spec: &str, holidays: &[String]) -> Result<Self, String> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let bad = || {
            format!(
                "business_hours {spec:?}: expected days and hours such as \"Mon-Fri 09:00-17:00\""
            )
        };
        let (days, hours) = spec.trim().split_once(' ').ok_or_else(bad)?;
        let day = |d: &str| {
            let d = d.trim().to_ascii_lowercase();
            DAYS.iter().position(|x| d.starts_with(x)).ok_or_else(bad)
        };
        let mut open_days = [false; 7];
        for part in days.split(',') {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    if a > b {
                        return Err(bad());
                    }
                    open_days[a..=b].iter_mut().for_each(|d| *d = true);
                }
                None => open_days[day(part)?] = true,
            }
        }
        let (open, close) = hours.trim().split_once('-').ok_or_else(bad)?;
        let time =
            |t: &str| chrono::NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| bad());
        let (open, close) = (time(open)?, time(close)?);
        if close <= open {
            return Err(format!(
                "business_hours {spec:?}: closing must be after opening"
            ));
        }
        let holidays = holidays
            .iter()
            .map(|h| {
                chrono::NaiveDate::parse_from_str(h.trim(), "%Y-%m-%d")
                    .map_err(|_| format!("holiday {h:?} is not a date as YYYY-MM-DD"))
            })
            .collect::<Result<_, _>>()?;
        Ok(BusinessCalendar {
            open_days,
            open,
            close,
            holidays,
        })
    }

    /// "Mon-Fri 09:00-17:00, 3 holidays" style description for definitions.
    pub fn describe(&self) -> String {
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let days: Vec<&str> = DAYS
            .iter()
            .zip(self.open_days)
            .filter(|(_, o)| *o)
            .map(|(d, _)| *d)
            .collect();
        format!(
            "{} {}-{}{}",
            days.join(","),
            self.open.format("%H:%M"),
            self.close.format("%H:%M"),
            match self.holidays.len() {
                0 => String::new(),
                n => format!(", {n} holidays"),
            }
        )
    }

    /// Seconds of business time between two local times (0 when `to` is not after `from`).
    /// Reference: shared/reference/04_contact_center_growth.py, Mon-Fri 09:00-17:00: Friday
    /// 16:00 to Monday 10:00 is 2 business hours.
    pub fn seconds_between(&self, from: chrono::NaiveDateTime, to: chrono::NaiveDateTime) -> f64 {
        use chrono::Datelike;
        if to <= from || self.close <= self.open {
            return 0.0;
        }
        let mut total = 0i64;
        let mut day = from.date();
        while day <= to.date() {
            let weekday = day.weekday().num_days_from_monday() as usize;
            if self.open_days[weekday] && !self.holidays.contains(&day) {
                let start = from.max(day.and_time(self.open));
                let end = to.min(day.and_time(self.close));
                if end > start {
                    total += (end - start).num_seconds();
                }
            }
            day = day.succ_opt().expect("a date before the end of time");
        }
        total as f64
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    fn cal(holidays: &[&str]) -> BusinessCalendar {
        BusinessCalendar {
            open_days: [true, true, true, true, true, false, false],
            open: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
            holidays: holidays
                .iter()
                .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap())
                .collect(),
        }
    }

    fn t(s: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn parses_the_config_form() {
        let c = BusinessCalendar::parse("Mon-Fri 09:00-17:00", &["2024-03-04".into()]).unwrap();
        assert_eq!(c, cal(&["2024-03-04"]));
        assert_eq!(c.describe(), "Mon,Tue,Wed,Thu,Fri 09:00-17:00, 1 holidays");
        let w = BusinessCalendar::parse("sat,sun 10:00-14:00", &[]).unwrap();
        assert_eq!(w.open_days, [false, false, false, false, false, true, true]);
        for bad in [
            "Mon-Fri",
            "Fri-Mon 09:00-17:00",
            "Mon 17:00-09:00",
            "Xyz 09:00-10:00",
        ] {
            assert!(BusinessCalendar::parse(bad, &[]).is_err(), "{bad}");
        }
        assert!(BusinessCalendar::parse("Mon 09:00-10:00", &["25/12/2025".into()]).is_err());
    }

    #[test]
    fn business_seconds_skip_nights_weekends_and_holidays() {
        // shared/reference/04_contact_center_growth.py: Friday 16:00 -> Monday 10:00 is 2 h.
        let c = cal(&[]);
        assert_eq!(
            c.seconds_between(t("2024-03-01 16:00"), t("2024-03-04 10:00")),
            2.0 * 3600.0
        );
        // Within one day, and before opening to after closing.
        assert_eq!(
            c.seconds_between(t("2024-03-04 10:15"), t("2024-03-04 11:00")),
            45.0 * 60.0
        );
        assert_eq!(
            c.seconds_between(t("2024-03-04 07:00"), t("2024-03-04 20:00")),
            8.0 * 3600.0
        );
        // Monday a holiday: Friday 16:00 -> Tuesday 10:00 is still 2 h.
        let h = cal(&["2024-03-04"]);
        assert_eq!(
            h.seconds_between(t("2024-03-01 16:00"), t("2024-03-05 10:00")),
            2.0 * 3600.0
        );
        // A ticket answered over the weekend takes no business time.
        assert_eq!(
            c.seconds_between(t("2024-03-02 10:00"), t("2024-03-03 12:00")),
            0.0
        );
        assert_eq!(
            c.seconds_between(t("2024-03-04 12:00"), t("2024-03-04 11:00")),
            0.0
        );
    }
}

/// The ticket backlog of one period: tickets open at its start and end, and the flow between.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BacklogStats {
    pub open_at_start: u64,
    /// Created in the period.
    pub created: u64,
    /// Resolved in the period (by resolution date, whenever created).
    pub resolved: u64,
    pub open_at_end: u64,
}

impl OperationalStats for BacklogStats {
    type Settings = ();

    fn metric(&self, name: &str, _: &(), _: &Estimation) -> Option<OperationalValue> {
        if name != "backlog" {
            return None;
        }
        let mut detail = defined(
            "tickets open at the end of the period: created by then and not resolved by then",
        );
        detail.insert("open_at_start".into(), json!(self.open_at_start));
        detail.insert("created".into(), json!(self.created));
        detail.insert("resolved".into(), json!(self.resolved));
        Some(OperationalValue {
            n: self.open_at_end,
            estimate: Ok(count_estimate(self.open_at_end)),
            detail,
            sampled: false,
        })
    }
}

/// Tickets of one segment created in one period and resolved in another (`None`: still open).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketFlow {
    pub segment: Vec<Option<String>>,
    pub created: chrono::NaiveDate,
    pub resolved: Option<chrono::NaiveDate>,
    pub tickets: u64,
}

/// The backlog of every segment in every period from `first` to `last` (period starts), from
/// ticket counts by creation and resolution period: open at the end of P = created in or
/// before P and not resolved in or before P.
pub fn backlog(
    flows: &[TicketFlow],
    period: crate::period::Period,
    first: chrono::NaiveDate,
    last: chrono::NaiveDate,
) -> Vec<Grouped<BacklogStats>> {
    use std::collections::BTreeMap;
    let mut by_segment: BTreeMap<&[Option<String>], Vec<&TicketFlow>> = BTreeMap::new();
    for f in flows {
        by_segment.entry(&f.segment).or_default().push(f);
    }
    let mut out = Vec::new();
    for (segment, fs) in by_segment {
        let mut p = period.start_of(first);
        while p <= last {
            let open_at = |end: chrono::NaiveDate, inclusive: bool| -> u64 {
                // Open at the end of the period before `end` (inclusive = at the end of `end`).
                fs.iter()
                    .filter(|f| {
                        if inclusive {
                            f.created <= end
                        } else {
                            f.created < end
                        }
                    })
                    .filter(|f| match f.resolved {
                        None => true,
                        Some(r) => {
                            if inclusive {
                                r > end
                            } else {
                                r >= end
                            }
                        }
                    })
                    .map(|f| f.tickets)
                    .sum()
            };
            let stats = BacklogStats {
                open_at_start: open_at(p, false),
                created: fs
                    .iter()
                    .filter(|f| f.created == p)
                    .map(|f| f.tickets)
                    .sum(),
                resolved: fs
                    .iter()
                    .filter(|f| f.resolved == Some(p))
                    .map(|f| f.tickets)
                    .sum(),
                open_at_end: open_at(p, true),
            };
            out.push(Grouped {
                key: crate::period::GroupKey {
                    metric: "backlog".into(),
                    period_start: Some(p),
                    segment: segment.to_vec(),
                },
                stats,
            });
            p = period.next(p);
        }
    }
    out
}

#[cfg(test)]
mod backlog_tests {
    use super::*;
    use chrono::NaiveDate;

    fn m(month: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, month, 1).unwrap()
    }

    /// January: 10 created, 6 of them resolved in January, 3 in February, 1 still open.
    /// February: 5 created, 2 resolved in March. Backlog: end of Jan 4, end of Feb 1 + 5 - 2
    /// (the February ones resolved in March are still open) = 1 + 5 = 6, end of March 4.
    #[test]
    fn backlog_follows_the_flow_of_tickets() {
        let f = |c: u32, r: Option<u32>, n: u64| TicketFlow {
            segment: vec![],
            created: m(c),
            resolved: r.map(m),
            tickets: n,
        };
        let flows = vec![
            f(1, Some(1), 6),
            f(1, Some(2), 3),
            f(1, None, 1),
            f(2, Some(3), 2),
            f(2, None, 3),
        ];
        let b = backlog(&flows, crate::period::Period::Month, m(1), m(3));
        let s: Vec<BacklogStats> = b.iter().map(|g| g.stats).collect();
        assert_eq!(
            s[0],
            BacklogStats {
                open_at_start: 0,
                created: 10,
                resolved: 6,
                open_at_end: 4
            }
        );
        assert_eq!(
            (
                s[1].open_at_start,
                s[1].created,
                s[1].resolved,
                s[1].open_at_end
            ),
            (4, 5, 3, 6)
        );
        assert_eq!(
            (s[2].open_at_start, s[2].resolved, s[2].open_at_end),
            (6, 2, 4)
        );
        // Conservation: open at start + created − resolved = open at end.
        for x in &s {
            assert_eq!(x.open_at_start + x.created - x.resolved, x.open_at_end);
        }
        let v = b[1]
            .stats
            .metric("backlog", &(), &Estimation::default())
            .unwrap();
        assert_eq!((v.n, v.sampled), (6, false));
    }
}
