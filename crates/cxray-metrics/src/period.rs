//! Calendar periods and the keys of grouped statistics.
//!
//! Periods are calendar periods of an answer's local date in the project timezone: day, ISO
//! week (Monday start, labelled by ISO week-year: `2026-W01` may start in December 2025),
//! month, quarter and year.

use chrono::{Datelike, NaiveDate};

use crate::ScoreHistogram;

/// Calendar periods.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 5] = [
        Period::Day,
        Period::Week,
        Period::Month,
        Period::Quarter,
        Period::Year,
    ];

    /// Parses "day", "week", "month", "quarter", "year".
    pub fn parse(s: &str) -> Option<Period> {
        Some(match s {
            "day" | "daily" => Period::Day,
            "week" | "weekly" => Period::Week,
            "month" | "monthly" => Period::Month,
            "quarter" | "quarterly" => Period::Quarter,
            "year" | "yearly" => Period::Year,
            _ => return None,
        })
    }

    /// The `date_trunc` unit of the period.
    pub fn unit(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::Quarter => "quarter",
            Period::Year => "year",
        }
    }

    /// The label of the period starting on `start`: `2025-03-14`, `2025-W09`, `2025-03`,
    /// `2025-Q1`, `2025`.
    pub fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Day => start.format("%Y-%m-%d").to_string(),
            Period::Week => {
                let w = start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => start.format("%Y-%m").to_string(),
            Period::Quarter => format!("{}-Q{}", start.year(), (start.month() - 1) / 3 + 1),
            Period::Year => format!("{}", start.year()),
        }
    }

    /// Reads a period label back: `2025-03-14` (day), `2025-W09` (ISO week), `2025-03`
    /// (month), `2025-Q1` (quarter), `2025` (year). Returns the period and its first day.
    pub fn parse_label(s: &str) -> Option<(Period, NaiveDate)> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Some((Period::Day, d));
        }
        if let Some((y, w)) = s.split_once("-W") {
            let d =
                NaiveDate::from_isoywd_opt(y.parse().ok()?, w.parse().ok()?, chrono::Weekday::Mon)?;
            return Some((Period::Week, d));
        }
        if let Some((y, q)) = s.split_once("-Q") {
            let q: u32 = q.parse().ok()?;
            if !(1..=4).contains(&q) {
                return None;
            }
            return Some((
                Period::Quarter,
                NaiveDate::from_ymd_opt(y.parse().ok()?, 3 * q - 2, 1)?,
            ));
        }
        if let Some((y, m)) = s.split_once('-') {
            return Some((
                Period::Month,
                NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?,
            ));
        }
        if s.len() == 4 {
            return Some((
                Period::Year,
                NaiveDate::from_ymd_opt(s.parse().ok()?, 1, 1)?,
            ));
        }
        None
    }

    /// The first day of the period containing `d`.
    pub fn start_of(self, d: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => d,
            Period::Week => d - chrono::Duration::days(d.weekday().num_days_from_monday() as i64),
            Period::Month => d.with_day(1).unwrap(),
            Period::Quarter => {
                NaiveDate::from_ymd_opt(d.year(), (d.month() - 1) / 3 * 3 + 1, 1).unwrap()
            }
            Period::Year => NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap(),
        }
    }

    /// The first day of the period after the one starting on `start`.
    pub fn next(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Day => start + chrono::Duration::days(1),
            Period::Week => start + chrono::Duration::days(7),
            Period::Month => start.checked_add_months(chrono::Months::new(1)).unwrap(),
            Period::Quarter => start.checked_add_months(chrono::Months::new(3)).unwrap(),
            Period::Year => start.checked_add_months(chrono::Months::new(12)).unwrap(),
        }
    }
}

/// The group a histogram belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    pub metric: String,
    /// First day of the period, when grouped by period.
    pub period_start: Option<NaiveDate>,
    /// Values of the `by` columns, in query order (`None` = missing).
    pub segment: Vec<Option<String>>,
}

/// One group's score histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupHistogram {
    pub key: GroupKey,
    pub histogram: ScoreHistogram,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_labels() {
        let d = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
        assert_eq!(Period::Month.label(d), "2025-03");
        assert_eq!(Period::Quarter.label(d), "2025-Q1");
        assert_eq!(Period::Year.label(d), "2025");
        for p in Period::ALL {
            let start = p.start_of(d);
            assert_eq!(Period::parse_label(&p.label(start)), Some((p, start)));
        }
        assert_eq!(Period::parse_label("2025-Q5"), None);
        assert_eq!(Period::parse_label("2025-13"), None);
        assert_eq!(Period::parse_label("March"), None);
        // ISO week of Monday 29 December 2025 belongs to 2026.
        let m = NaiveDate::from_ymd_opt(2025, 12, 29).unwrap();
        assert_eq!(Period::Week.label(m), "2026-W01");
        assert_eq!(
            Period::Week.start_of(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()),
            m
        );
        assert_eq!(
            Period::Quarter.start_of(NaiveDate::from_ymd_opt(2025, 8, 17).unwrap()),
            NaiveDate::from_ymd_opt(2025, 7, 1).unwrap()
        );
        assert_eq!(
            Period::Month.next(NaiveDate::from_ymd_opt(2025, 12, 1).unwrap()),
            NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        );
    }
}
