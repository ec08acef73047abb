//! Date-times on the wire: UTC `yyyy-MM-dd HH:mm:ss`, the platform's format.
//!
//! Kept as seconds since the Unix epoch; the calendar arithmetic is Howard Hinnant's `days_from_civil`, small
//! enough to own rather than pull a date crate into the core.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The rule, in the words every error uses.
pub const DATE_TIME_RULE: &str = "must be a UTC date-time yyyy-MM-dd HH:mm:ss";

/// A UTC instant with whole-second precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(i64);

impl DateTime {
    /// The current time, truncated to the second.
    pub fn now() -> Self {
        let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(before) => -(before.duration().as_secs() as i64),
        };
        DateTime(secs)
    }

    /// The instant `secs` seconds after 1970-01-01 00:00:00 UTC.
    pub fn from_unix(secs: i64) -> Self {
        DateTime(secs)
    }

    /// Seconds since 1970-01-01 00:00:00 UTC.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// Parses `yyyy-MM-dd HH:mm:ss` (years 0001-9999), rejecting impossible dates such as `2024-02-30`.
    ///
    /// ```
    /// use openframe_core::DateTime;
    /// let t = DateTime::parse("2024-11-04 21:45:00").unwrap();
    /// assert_eq!(t.to_string(), "2024-11-04 21:45:00");
    /// assert!(DateTime::parse("2024-11-04T21:45:00Z").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 19
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b' '
            || b[13] != b':'
            || b[16] != b':'
        {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<i64> {
            b[from..to].iter().try_fold(0i64, |acc, &d| {
                d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
            })
        };
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(DateTime(
            days * 86_400 + hour * 3_600 + minute * 60 + second,
        ))
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
            secs / 3_600,
            secs % 3_600 / 60,
            secs % 60
        )
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(DateTime::parse("1970-01-01 00:00:00"), Some(DateTime(0)));
        assert_eq!(
            DateTime::parse("2024-11-04 21:45:00").map(DateTime::unix),
            Some(1_730_756_700)
        );
        assert_eq!(DateTime(951_782_400).to_string(), "2000-02-29 00:00:00");
    }

    #[test]
    fn rejects_impossible_and_other_formats() {
        for bad in [
            "2024-02-30 00:00:00",
            "2023-02-29 00:00:00",
            "2100-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-00-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 23:60:00",
            "2024-01-01 23:59:60",
            "0000-01-01 00:00:00",
            "2024-1-01 00:00:00",
            "2024-01-01T00:00:00",
            "2024-01-01 00:00:00Z",
            "2024-01-01",
            "",
            "２０２４-01-01 00:00:00",
        ] {
            assert_eq!(DateTime::parse(bad), None, "{bad:?}");
        }
        assert!(DateTime::parse("2000-02-29 12:00:00").is_some());
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in -62_135_596_800i64..253_402_300_799) {
            let t = DateTime(secs);
            prop_assert_eq!(DateTime::parse(&t.to_string()), Some(t));
        }

        #[test]
        fn parse_then_format_round_trips(
            y in 1i64..=9999, m in 1i64..=12, d in 1i64..=31, h in 0i64..24, mi in 0i64..60, s in 0i64..60
        ) {
            let text = format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}");
            match DateTime::parse(&text) {
                Some(t) => prop_assert_eq!(t.to_string(), text),
                None => prop_assert!(d > days_in_month(y, m)),
            }
        }
    }
}
