//! Entry times: UTC instants with nanoseconds, written in one RFC 3339 spelling.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The ledger's `time`: nanoseconds since the Unix epoch, UTC, written as RFC 3339 with
/// exactly nine fractional digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i128);

impl Timestamp {
    /// 1970-01-01T00:00:00.000000000Z
    pub const EPOCH: Timestamp = Timestamp(0);

    /// The current time.
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc().unix_timestamp_nanos())
    }

    /// From nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i128) -> Self {
        Timestamp(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(self) -> i128 {
        self.0
    }

    /// The later of `self` and `floor`: the rule that a `time` is never earlier than the
    /// previous entry's, whatever the wall clock says.
    pub fn at_least(self, floor: Timestamp) -> Self {
        self.max(floor)
    }

    /// Parse an RFC 3339 time (any offset; stored as UTC).
    pub fn parse(s: &str) -> Result<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Timestamp(t.unix_timestamp_nanos()))
            .map_err(|e| Error::malformed("time", format!("{s:?}: {e}")))
    }
}

impl Timestamp {
    /// The RFC 3339 form of a time in the years 0000 to 9999, written by hand (the ledger
    /// writes one per entry): `YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ`. `None` for other years.
    fn rfc3339_digits(self) -> Option<[u8; 30]> {
        const NANOS: i128 = 1_000_000_000;
        const FIRST: i128 = -62_167_219_200 * NANOS; // 0000-01-01T00:00:00Z
        const END: i128 = 253_402_300_800 * NANOS; // 10000-01-01T00:00:00Z
        if !(FIRST..END).contains(&self.0) {
            return None;
        }
        // Seconds fit an i64 easily; dividing an i64 (years 1678 to 2261) is much cheaper
        // than dividing an i128.
        let (secs, nanos) = match i64::try_from(self.0) {
            Ok(n) => (
                n.div_euclid(1_000_000_000),
                n.rem_euclid(1_000_000_000) as u32,
            ),
            Err(_) => (
                self.0.div_euclid(NANOS) as i64,
                self.0.rem_euclid(NANOS) as u32,
            ),
        };
        let days = secs.div_euclid(86_400);
        let day_secs = secs.rem_euclid(86_400) as u32;
        // Days to the civil date (H. Hinnant's `civil_from_days`), eras of 400 years
        // starting on March 1st.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097) as u32;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = (i64::from(yoe) + era * 400 + i64::from(month <= 2)) as u32;

        let mut b = *b"0000-00-00T00:00:00.000000000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, day_secs / 3600);
        put(14, 2, day_secs / 60 % 60);
        put(17, 2, day_secs % 60);
        put(20, 9, nanos);
        Some(b)
    }

    /// Appends the RFC 3339 form (as [`Display`](std::fmt::Display) writes it) to `out`.
    pub(super) fn write_rfc3339(self, out: &mut Vec<u8>) {
        match self.rfc3339_digits() {
            Some(b) => out.extend_from_slice(&b),
            None => out.extend_from_slice(self.to_string().as_bytes()),
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(b) = self.rfc3339_digits() {
            // ASCII digits and separators only.
            return f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?);
        }
        // Years before 0000 (and times beyond the `time` crate's range, shown as the epoch).
        let t =
            OffsetDateTime::from_unix_timestamp_nanos(self.0).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond()
        )
    }
}
