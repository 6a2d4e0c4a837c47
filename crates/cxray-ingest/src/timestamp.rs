//! Timestamps: ISO 8601 by a fast hand-written parser (survey exports hold millions of them),
//! any other layout by an explicit chrono `strftime` format. Timestamps without an offset are
//! local times in the source's timezone. Every parse yields the UTC instant and the local
//! calendar date in the project's timezone, which is what periods are built from.
//!
//! Daylight-saving edge cases: a local time that occurs twice (clocks go back) takes the earlier
//! instant; one that does not exist (clocks go forward) is read as the same wall time after the
//! jump, i.e. one hour later, as most survey tools record it.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

const MICROS_PER_SEC: i64 = 1_000_000;
/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

/// Parses an IANA timezone name ("UTC", "Europe/Amsterdam").
pub fn parse_tz(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        format!("unknown timezone '{name}'; use an IANA name such as 'UTC' or 'Europe/Amsterdam'")
    })
}

/// A parsed timestamp: the instant (UTC microseconds) and its local date (days since 1970-01-01)
/// in the project timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub utc_micros: i64,
    pub local_days: i32,
}

/// Converts timestamp strings of one source.
#[derive(Debug, Clone)]
pub struct TimeParser {
    format: Option<String>,
    /// Timezone of naive timestamps.
    source_tz: Tz,
    /// Timezone of periods.
    project_tz: Tz,
    /// Offset (seconds) of the source timezone per local date, when constant all day.
    local_offsets: HashMap<i32, Option<i32>>,
    /// Offset (seconds) of the project timezone per UTC hour.
    project_offsets: HashMap<i64, i32>,
    /// The date part of the last ISO timestamp read and its days since 1970-01-01.
    last_date: Option<([u8; 10], i64)>,
}

impl TimeParser {
    /// A parser for timestamps in `format` (ISO 8601 when `None`).
    pub fn new(format: Option<String>, source_tz: Tz, project_tz: Tz) -> Self {
        TimeParser {
            format,
            source_tz,
            project_tz,
            local_offsets: HashMap::new(),
            project_offsets: HashMap::new(),
            last_date: None,
        }
    }

    /// Parses one value; the error is the reason shown in the rejects report.
    pub fn parse(&mut self, s: &str) -> Result<Parsed, String> {
        let s = crate::rows::trimmed(s);
        if s.is_empty() {
            return Err("timestamp is empty".into());
        }
        if self.format.is_none()
            && let Some(p) = self.fast_iso(s)
        {
            return Ok(p);
        }
        let (naive, offset) = match &self.format {
            None => parse_iso(s).ok_or_else(|| {
                "not an ISO 8601 timestamp (e.g. 2025-03-14 09:26:53 or 2025-03-14T09:26:53Z); \
                 set timestamp_format for other layouts"
                    .to_string()
            })?,
            Some(fmt) => parse_with_format(s, fmt)?,
        };
        self.resolve(naive, offset)
    }

    /// The common exports `YYYY-MM-DDTHH:MM:SS[Z|±HH:MM]` and `YYYY-MM-DD HH:MM:SS`, read without
    /// building calendar types when the result is an instant (an offset is given, or the source
    /// timezone is UTC). `None` hands the value to the general parser.
    fn fast_iso(&mut self, s: &str) -> Option<Parsed> {
        let b = s.as_bytes();
        if b.len() < 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let offset: i64 = match &b[19..] {
            [] if self.source_tz == Tz::UTC => 0,
            [b'Z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let d = |c: &u8| c.is_ascii_digit().then(|| (c - b'0') as i64);
                let v = (d(h1)? * 10 + d(h2)?) * 3600 + (d(m1)? * 10 + d(m2)?) * 60;
                if *sign == b'-' { -v } else { v }
            }
            _ => return None,
        };
        // Digits as values, checked all at once (a non-digit wraps to more than 9).
        let d = |i: usize| b[i].wrapping_sub(b'0') as i64;
        let pair = |i: usize| d(i) * 10 + d(i + 1);
        let date: [u8; 10] = b[..10].try_into().expect("length checked");
        let days = match self.last_date {
            // Exports are often sorted by time: most rows repeat the previous row's date.
            Some((prev, days)) if prev == date => days,
            _ => {
                if !all_digits(b, &[0, 1, 2, 3, 5, 6, 8, 9]) {
                    return None;
                }
                let (y, mo, day) = (pair(0) * 100 + pair(2), pair(5), pair(8));
                if !(1..=12).contains(&mo) || day < 1 || day > days_in_month(y, mo) {
                    return None;
                }
                let days = civil_days(y, mo, day);
                self.last_date = Some((date, days));
                days
            }
        };
        if !all_digits(b, &[11, 12, 14, 15, 17, 18]) {
            return None;
        }
        let (h, mi, sec) = (pair(11), pair(14), pair(17));
        if h > 23 || mi > 59 || sec > 59 {
            return None;
        }
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
        Some(Parsed {
            utc_micros: secs * MICROS_PER_SEC,
            local_days: self.local_days(secs),
        })
    }

    /// A typed timestamp that is already an instant (UTC microseconds), e.g. from Parquet.
    pub fn from_utc_micros(&mut self, micros: i64) -> Parsed {
        Parsed {
            utc_micros: micros,
            local_days: self.local_days(micros.div_euclid(MICROS_PER_SEC)),
        }
    }

    /// A typed wall-clock timestamp without a timezone, read in the source's timezone.
    pub fn from_wall(&mut self, naive: NaiveDateTime) -> Result<Parsed, String> {
        self.resolve(naive, None)
    }

    fn resolve(&mut self, naive: NaiveDateTime, offset: Option<i32>) -> Result<Parsed, String> {
        let utc_secs = match offset {
            Some(off) => naive.and_utc().timestamp() - off as i64,
            None => self.local_to_utc(naive),
        };
        let micros = utc_secs
            .checked_mul(MICROS_PER_SEC)
            .and_then(|m| m.checked_add(naive.and_utc().timestamp_subsec_micros() as i64))
            .ok_or_else(|| "timestamp out of range".to_string())?;
        let local_days = self.local_days(utc_secs);
        Ok(Parsed {
            utc_micros: micros,
            local_days,
        })
    }

    fn local_to_utc(&mut self, naive: NaiveDateTime) -> i64 {
        if self.source_tz == Tz::UTC {
            return naive.and_utc().timestamp();
        }
        let day = days_from_ce(naive.date());
        let tz = self.source_tz;
        let cached = *self.local_offsets.entry(day).or_insert_with(|| {
            let d = naive.date();
            let start = tz
                .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
                .earliest();
            let end = tz
                .from_local_datetime(&d.and_hms_opt(23, 59, 59).unwrap())
                .latest();
            match (start, end) {
                (Some(a), Some(b)) if a.offset().fix() == b.offset().fix() => {
                    Some(a.offset().fix().local_minus_utc())
                }
                _ => None,
            }
        });
        match cached {
            Some(off) => naive.and_utc().timestamp() - off as i64,
            None => {
                let r = tz.from_local_datetime(&naive);
                match r.earliest() {
                    Some(dt) => dt.timestamp(),
                    // Skipped by a DST jump: the same wall time one hour later.
                    None => tz
                        .from_local_datetime(&(naive + chrono::Duration::hours(1)))
                        .earliest()
                        .map(|dt| dt.timestamp())
                        .unwrap_or_else(|| naive.and_utc().timestamp()),
                }
            }
        }
    }

    fn local_days(&mut self, utc_secs: i64) -> i32 {
        let off = if self.project_tz == Tz::UTC {
            0
        } else {
            let hour = utc_secs.div_euclid(3600);
            let tz = self.project_tz;
            *self.project_offsets.entry(hour).or_insert_with(|| {
                DateTime::<Utc>::from_timestamp(hour * 3600, 0)
                    .map(|dt| {
                        tz.offset_from_utc_datetime(&dt.naive_utc())
                            .fix()
                            .local_minus_utc()
                    })
                    .unwrap_or(0)
            })
        };
        (utc_secs + off as i64).div_euclid(86_400) as i32
    }
}

fn days_from_ce(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// Days since 1970-01-01 of a calendar date.
pub fn date_to_days(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - UNIX_EPOCH_CE_DAYS
}

/// Calendar date of days since 1970-01-01.
pub fn days_to_date(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_CE_DAYS).expect("date in range")
}

fn parse_with_format(s: &str, fmt: &str) -> Result<(NaiveDateTime, Option<i32>), String> {
    if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
        return Ok((dt.naive_local(), Some(dt.offset().local_minus_utc())));
    }
    if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
        return Ok((dt, None));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
        return Ok((d.and_hms_opt(0, 0, 0).unwrap(), None));
    }
    Err(format!("does not match timestamp_format '{fmt}'"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-compatible
/// low-level date algorithms").
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// First year of [`MONTH_STARTS`].
const TABLE_FROM: i64 = 1900;
/// Days since 1970-01-01 of the first of every month from 1900 to 2199.
static MONTH_STARTS: std::sync::LazyLock<Vec<i32>> = std::sync::LazyLock::new(|| {
    (0..300 * 12)
        .map(|k| days_from_civil(TABLE_FROM + k / 12, k % 12 + 1, 1) as i32)
        .collect()
});

/// [`days_from_civil`] by table lookup for the years of real data.
#[inline]
fn civil_days(y: i64, m: i64, d: i64) -> i64 {
    match MONTH_STARTS.get(((y - TABLE_FROM) * 12 + m - 1) as usize) {
        Some(&start) if y >= TABLE_FROM => start as i64 + d - 1,
        _ => days_from_civil(y, m, d),
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Whether the bytes at `at` are all ASCII digits, without a branch per byte.
#[inline(always)]
fn all_digits<const N: usize>(b: &[u8], at: &[usize; N]) -> bool {
    let mut bad = 0u8;
    for &i in at {
        bad |= (b[i].wrapping_sub(b'0') > 9) as u8;
    }
    bad == 0
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let part = b.get(at..at + n)?;
    let mut v = 0u32;
    for &c in part {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// ISO 8601 / RFC 3339 and the common "YYYY-MM-DD HH:MM[:SS[.ffffff]]" export layout, with an
/// optional `Z` or `±HH[:MM]` offset. Returns the wall time and the offset in seconds if given.
pub fn parse_iso(s: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    if b.get(7) != Some(&b'-') {
        return None;
    }
    let day = digits(b, 8, 2)?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)?;
    if b.len() == 10 {
        return Some((date.and_hms_opt(0, 0, 0)?, None));
    }
    if !matches!(b.get(10), Some(b'T') | Some(b' ') | Some(b't')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    let mut micros = 0u32;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2)?;
        i += 3;
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 6 {
                    micros = micros * 10 + (b[i] - b'0') as u32;
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return None;
            }
            for _ in n..6 {
                micros *= 10;
            }
        }
    }
    let time = chrono::NaiveTime::from_hms_micro_opt(hour, minute, second, micros)?;
    let naive = date.and_time(time);
    let rest = &b[i..];
    let offset = match rest {
        [] => None,
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), ..] => {
            let r = &rest[1..];
            let (h, m) = match r.len() {
                2 => (digits(r, 0, 2)?, 0),
                4 => (digits(r, 0, 2)?, digits(r, 2, 2)?),
                5 if r[2] == b':' => (digits(r, 0, 2)?, digits(r, 3, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60) as i32;
            Some(if *sign == b'-' { -secs } else { secs })
        }
        _ => return None,
    };
    Some((naive, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(tz: &str, s: &str) -> Parsed {
        let tz = parse_tz(tz).unwrap();
        TimeParser::new(None, tz, tz).parse(s).unwrap()
    }

    #[test]
    fn iso_variants() {
        let a = p("UTC", "2025-03-14T09:26:53Z");
        assert_eq!(a.utc_micros, 1_741_944_413_000_000);
        assert_eq!(p("UTC", "2025-03-14 09:26:53").utc_micros, a.utc_micros);
        assert_eq!(
            p("UTC", "2025-03-14T10:26:53+01:00").utc_micros,
            a.utc_micros
        );
        assert_eq!(
            p("UTC", "2025-03-14T10:26:53+0100").utc_micros,
            a.utc_micros
        );
        assert_eq!(
            p("UTC", "2025-03-14T09:26:53.250Z").utc_micros,
            a.utc_micros + 250_000
        );
        assert_eq!(
            p("UTC", "2025-03-14").local_days,
            date_to_days(NaiveDate::from_ymd_opt(2025, 3, 14).unwrap())
        );
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "14/03/2025",
            "2025-03-14T25:00",
            "yesterday",
            "2025-03-14T09:26:53+1",
            "",
        ] {
            assert!(
                TimeParser::new(None, Tz::UTC, Tz::UTC).parse(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn local_dates_follow_the_project_timezone() {
        // 23:30 UTC on 31 March is 1 April in Amsterdam (CEST, +2).
        let ams = parse_tz("Europe/Amsterdam").unwrap();
        let mut tp = TimeParser::new(None, Tz::UTC, ams);
        let v = tp.parse("2025-03-31T23:30:00Z").unwrap();
        assert_eq!(
            days_to_date(v.local_days),
            NaiveDate::from_ymd_opt(2025, 4, 1).unwrap()
        );
        // Naive local times in Amsterdam around the DST change (30 March 2025, 02:00 -> 03:00).
        let mut tp = TimeParser::new(None, ams, ams);
        assert_eq!(
            tp.parse("2025-03-30 01:30").unwrap().utc_micros,
            p("UTC", "2025-03-30T00:30:00Z").utc_micros
        );
        assert_eq!(
            tp.parse("2025-03-30 03:30").unwrap().utc_micros,
            p("UTC", "2025-03-30T01:30:00Z").utc_micros
        );
        // 02:30 does not exist; read as 03:30 CEST.
        assert_eq!(
            tp.parse("2025-03-30 02:30").unwrap().utc_micros,
            p("UTC", "2025-03-30T01:30:00Z").utc_micros
        );
        // 02:30 on 26 October happens twice; the earlier (CEST, +2) instant is taken.
        assert_eq!(
            tp.parse("2025-10-26 02:30").unwrap().utc_micros,
            p("UTC", "2025-10-26T00:30:00Z").utc_micros
        );
    }

    #[test]
    fn fast_path_agrees_with_chrono() {
        let ams = parse_tz("Europe/Amsterdam").unwrap();
        let mut fast = TimeParser::new(None, Tz::UTC, ams);
        for s in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "2000-03-01 12:00:00",
            "1999-12-31T23:00:00-05:30",
            "2100-02-28T01:02:03+14:00",
        ] {
            let got = fast.fast_iso(s).unwrap();
            let (naive, off) = parse_iso(s).unwrap();
            let want = fast.resolve(naive, off.or(Some(0))).unwrap();
            assert_eq!(got, want, "{s}");
        }
        for s in [
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00+1",
            "2024-01-01T0a:00:00Z",
            "2024-01-0/T00:00:00Z",
        ] {
            assert!(fast.fast_iso(s).is_none(), "{s}");
        }
        // A repeated date reuses the previous row's day; the time is still checked.
        let a = fast.fast_iso("2024-03-31T23:59:59Z").unwrap();
        let b = fast.fast_iso("2024-03-31T00:00:01Z").unwrap();
        assert_eq!(a.utc_micros - b.utc_micros, 86_398 * MICROS_PER_SEC);
        assert!(fast.fast_iso("2024-03-31T00:60:00Z").is_none());
        assert!(fast.fast_iso("2024-03-31T0:000:00Z").is_none());
        assert_eq!(
            fast.fast_iso("2024-04-01T00:00:00Z").unwrap().utc_micros,
            a.utc_micros + MICROS_PER_SEC
        );
    }

    #[test]
    fn month_table_agrees_with_chrono() {
        for y in [1, 1600, 1899, 1900, 1970, 2024, 2100, 2199, 2200, 9999] {
            for m in 1..=12 {
                for d in [1, days_in_month(y, m)] {
                    let want = NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32).unwrap();
                    assert_eq!(civil_days(y, m, d), date_to_days(want) as i64, "{want}");
                }
            }
        }
    }

    #[test]
    fn explicit_formats() {
        let mut tp = TimeParser::new(Some("%d/%m/%Y %H:%M".into()), Tz::UTC, Tz::UTC);
        assert_eq!(
            tp.parse("14/03/2025 09:26").unwrap().utc_micros,
            p("UTC", "2025-03-14T09:26:00Z").utc_micros
        );
        assert!(
            tp.parse("2025-03-14")
                .unwrap_err()
                .contains("timestamp_format")
        );
        let mut tp = TimeParser::new(Some("%m/%d/%Y".into()), Tz::UTC, Tz::UTC);
        assert_eq!(
            tp.parse("03/14/2025").unwrap().local_days,
            p("UTC", "2025-03-14").local_days
        );
    }
}
