//! Retention periods: the ISO 8601 duration subset regulations are written in (`P7Y`, `P6Y`,
//! `P3M`, `P90D`, `P1Y6M`), added to an entry's `time` on the calendar, so "seven years" ends
//! on the same date seven years later whatever the leap days in between.

use time::{Date, Month, OffsetDateTime};

use crate::entry::Timestamp;
use crate::error::{Error, Result};

/// Years, months and days, each added on the calendar (in that order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    /// Calendar years.
    pub years: u32,
    /// Calendar months.
    pub months: u32,
    /// Days of 24 hours.
    pub days: u32,
}

impl Period {
    /// Parses `P[nY][nM][nD]` (at least one part, each at most 10,000 units; no weeks or
    /// times: retention is a matter of dates). Anything else is [`Error::Malformed`].
    pub fn parse(text: &str) -> Result<Period> {
        let bad = || {
            Error::malformed(
                "retention period",
                format!("{text:?}: expected an ISO 8601 period of years, months and days, e.g. P7Y, P90D, P1Y6M"),
            )
        };
        let mut rest = text.strip_prefix('P').ok_or_else(bad)?;
        let mut p = Period::default();
        let mut seen = 0;
        for (unit, slot) in [('Y', 0), ('M', 1), ('D', 2)] {
            let Some(end) = rest.find(unit) else { continue };
            let digits = &rest[..end];
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            let n: u32 = digits.parse().map_err(|_| bad())?;
            if n > 10_000 {
                return Err(bad());
            }
            match slot {
                0 => p.years = n,
                1 => p.months = n,
                _ => p.days = n,
            }
            seen += 1;
            rest = &rest[end + 1..];
        }
        if seen == 0 || !rest.is_empty() {
            return Err(bad());
        }
        Ok(p)
    }

    /// `t` plus this period: years and months on the calendar (a day past the end of the
    /// month lands on its last day: 29 February plus one year is 28 February), then days.
    pub fn after(&self, t: Timestamp) -> Timestamp {
        let Ok(at) = OffsetDateTime::from_unix_timestamp_nanos(t.unix_nanos()) else {
            return Timestamp::from_unix_nanos(i128::MAX);
        };
        let months = at.month() as i64 - 1 + i64::from(self.months) + 12 * i64::from(self.years);
        let year = i64::from(at.year()) + months.div_euclid(12);
        let month = Month::try_from((months.rem_euclid(12) + 1) as u8).unwrap_or(Month::December);
        let Ok(year) = i32::try_from(year) else {
            return Timestamp::from_unix_nanos(i128::MAX);
        };
        let day = at.day().min(month.length(year));
        let Ok(date) = Date::from_calendar_date(year, month, day) else {
            return Timestamp::from_unix_nanos(i128::MAX);
        };
        let moved = at.replace_date(date).unix_timestamp_nanos();
        Timestamp::from_unix_nanos(moved + i128::from(self.days) * 86_400 * 1_000_000_000)
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P")?;
        if self.years > 0 {
            write!(f, "{}Y", self.years)?;
        }
        if self.months > 0 {
            write!(f, "{}M", self.months)?;
        }
        if self.days > 0 || (self.years == 0 && self.months == 0) {
            write!(f, "{}D", self.days)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn periods_parse_and_print() {
        for (text, want) in [
            ("P7Y", (7, 0, 0)),
            ("P90D", (0, 0, 90)),
            ("P1Y6M", (1, 6, 0)),
            ("P1Y2M3D", (1, 2, 3)),
            ("P0D", (0, 0, 0)),
        ] {
            let p = Period::parse(text).unwrap();
            assert_eq!((p.years, p.months, p.days), want, "{text}");
            assert_eq!(p.to_string(), text);
        }
        for bad in [
            "", "P", "7Y", "P7", "PY", "P1W", "PT1H", "P1D1Y", "P-1Y", "P99999Y", "P1Y ",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn periods_are_added_on_the_calendar() {
        let p = |s| Period::parse(s).unwrap();
        assert_eq!(
            p("P7Y").after(t("2020-02-29T10:00:00Z")),
            t("2027-02-28T10:00:00Z")
        );
        assert_eq!(
            p("P4Y").after(t("2020-02-29T10:00:00Z")),
            t("2024-02-29T10:00:00Z")
        );
        assert_eq!(
            p("P1M").after(t("2026-01-31T00:00:00Z")),
            t("2026-02-28T00:00:00Z")
        );
        assert_eq!(
            p("P13M").after(t("2026-12-15T00:00:00Z")),
            t("2028-01-15T00:00:00Z")
        );
        assert_eq!(
            p("P90D").after(t("2026-01-01T00:00:00.5Z")),
            t("2026-04-01T00:00:00.5Z")
        );
        assert_eq!(
            p("P1Y1D").after(t("2026-12-31T23:00:00Z")),
            t("2028-01-01T23:00:00Z")
        );
    }
}
