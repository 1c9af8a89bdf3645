//! RFC 3339 UTC timestamps and ISO 8601 durations, parsed strictly by our own code.
//!
//! Both have exactly one accepted spelling per value class so that the signed bytes
//! say one thing: timestamps are `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 §5.6 with `Z`,
//! no fraction, no offset, no leap second), durations are ISO 8601 §4.4.3.2 with
//! integer components from weeks down to seconds. Years and months are rejected
//! because they have no fixed length, and every claim duration must be comparable.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::types::deserialize_parsed;

/// Seconds since the Unix epoch of an instant written `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "String")]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `seconds` after 1970-01-01T00:00:00Z, if it lies in years 0001..=9999.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        (MIN_UNIX..=MAX_UNIX)
            .contains(&seconds)
            .then_some(Self(seconds))
    }

    /// Seconds since the Unix epoch (negative before 1970).
    pub fn unix(self) -> i64 {
        self.0
    }

    /// This instant plus `seconds`, or `None` past year 9999.
    pub fn checked_add_seconds(self, seconds: u64) -> Option<Self> {
        Self::from_unix(self.0.checked_add(i64::try_from(seconds).ok()?)?)
    }

    /// Whole seconds from `earlier` to `self` (negative if `self` is earlier).
    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        // Both lie in years 0001..=9999, so the difference fits easily in i64.
        self.0 - earlier.0
    }

    /// Parses the one accepted spelling, `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid timestamp {text:?}: want YYYY-MM-DDTHH:MM:SSZ (UTC)");
        let b = text.as_bytes();
        if b.len() != 20
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'Z'
        {
            return Err(bad());
        }
        let num = |from: usize, to: usize| -> Result<i64, String> {
            b[from..to].iter().try_fold(0i64, |acc, &c| {
                if c.is_ascii_digit() {
                    Ok(acc * 10 + i64::from(c - b'0'))
                } else {
                    Err(bad())
                }
            })
        };
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if year == 0
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(bad());
        }
        let days = days_from_civil(year, month, day);
        Ok(Self(days * 86_400 + hour * 3600 + minute * 60 + second))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(86_400);
        let secs = self.0.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Self::parse)
    }
}

impl TryFrom<String> for Timestamp {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Timestamp> for String {
    fn from(t: Timestamp) -> String {
        t.to_string()
    }
}

/// An ISO 8601 duration such as `PT72H`, `P30D`, `P2W` or `P1DT12H`, kept with its
/// spelling (for display) and its length in seconds (for comparison).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
pub struct IsoDuration {
    text: String,
    seconds: u64,
}

impl IsoDuration {
    /// Its length in seconds.
    pub fn seconds(&self) -> u64 {
        self.seconds
    }

    /// The spelling it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Parses `PnW` or `P[nD][T[nH][nM][nS]]` with at least one component,
    /// integer values without leading zeros.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid duration {text:?}: {why}");
        let Some(rest) = text.strip_prefix('P') else {
            return Err(bad("must start with P"));
        };
        let mut seconds: u64 = 0;
        let mut in_time = false;
        let mut any = false;
        let mut last_rank = 0u8; // components must appear in order, each at most once
        // The digits of the current component are `rest[start..i]`: a slice of
        // the text, not a buffer, so parsing allocates only the kept spelling.
        let mut start = 0;
        let mut weeks = false;
        for (i, c) in rest.char_indices() {
            if c.is_ascii_digit() {
                continue;
            }
            let digits = &rest[start..i];
            start = i + c.len_utf8();
            if c == 'T' {
                if in_time || !digits.is_empty() {
                    return Err(bad("misplaced T"));
                }
                in_time = true;
                continue;
            }
            let (rank, unit) = match (in_time, c) {
                (false, 'W') => (1, 604_800),
                (false, 'D') => (2, 86_400),
                (true, 'H') => (3, 3600),
                (true, 'M') => (4, 60),
                (true, 'S') => (5, 1),
                (false, 'Y' | 'M') => {
                    return Err(bad(
                        "years and months have no fixed length; use weeks or days",
                    ));
                }
                _ => return Err(bad("unexpected character")),
            };
            if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
                return Err(bad("each component needs an integer without leading zeros"));
            }
            if rank <= last_rank {
                return Err(bad("components out of order or repeated"));
            }
            let value: u64 = digits.parse().map_err(|_| bad("component too large"))?;
            seconds = value
                .checked_mul(unit)
                .and_then(|s| seconds.checked_add(s))
                .filter(|&s| s <= MAX_DURATION_SECONDS)
                .ok_or_else(|| bad("longer than 10000 years"))?;
            weeks |= rank == 1;
            last_rank = rank;
            any = true;
        }
        if start < rest.len() {
            return Err(bad("number without a unit"));
        }
        if !any || (in_time && last_rank < 3) {
            return Err(bad(
                "needs at least one component (after T, if T is present)",
            ));
        }
        if weeks && last_rank != 1 {
            // ISO 8601 only allows the week form on its own.
            return Err(bad("weeks cannot be combined with other components"));
        }
        Ok(Self {
            text: text.to_owned(),
            seconds,
        })
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for IsoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_parsed(d, Self::parse)
    }
}

impl TryFrom<String> for IsoDuration {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<IsoDuration> for String {
    fn from(d: IsoDuration) -> String {
        d.text
    }
}

/// 0001-01-01T00:00:00Z.
const MIN_UNIX: i64 = -62_135_596_800;
/// 9999-12-31T23:59:59Z.
const MAX_UNIX: i64 = 253_402_300_799;
/// Ten thousand years of 365 days: longer than any instant range we accept.
const MAX_DURATION_SECONDS: u64 = 10_000 * 365 * 86_400;

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

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timestamps_known_answers() {
        let t = Timestamp::parse("2026-01-15T08:00:00Z").unwrap();
        assert_eq!(t.unix(), 1_768_464_000);
        assert_eq!(t.to_string(), "2026-01-15T08:00:00Z");
        assert_eq!(Timestamp::parse("1970-01-01T00:00:00Z").unwrap().unix(), 0);
        assert_eq!(
            Timestamp::parse("2024-02-29T23:59:59Z").unwrap().unix(),
            1_709_251_199
        );
        assert_eq!(
            Timestamp::parse("0001-01-01T00:00:00Z").unwrap().unix(),
            MIN_UNIX
        );
        assert_eq!(
            Timestamp::parse("9999-12-31T23:59:59Z").unwrap().unix(),
            MAX_UNIX
        );
    }

    #[test]
    fn timestamps_rejected() {
        for bad in [
            "2026-01-15T08:00:00+00:00",
            "2026-01-15T08:00:00.5Z",
            "2026-01-15t08:00:00Z",
            "2026-01-15 08:00:00Z",
            "2026-1-15T08:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-15T24:00:00Z",
            "2026-01-15T23:60:00Z",
            "2016-12-31T23:59:60Z",
            "0000-01-01T00:00:00Z",
            "+026-01-15T08:00:00Z",
            "２026-01-15T08:00:00Z",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duration_errors_name_the_fault() {
        for (text, why) in [
            ("P1DT2", "number without a unit"),
            ("P12", "number without a unit"),
            ("P1T1H", "misplaced T"),
            ("PTT1H", "misplaced T"),
            (
                "P07D",
                "each component needs an integer without leading zeros",
            ),
            (
                "PTH",
                "each component needs an integer without leading zeros",
            ),
            ("PT1é", "unexpected character"),
            ("Pé1D", "unexpected character"),
            ("PT1S1H", "components out of order or repeated"),
            ("P1W1D", "weeks cannot be combined with other components"),
        ] {
            assert_eq!(
                IsoDuration::parse(text),
                Err(format!("invalid duration {text:?}: {why}")),
                "{text}"
            );
        }
    }

    #[test]
    fn durations_known_answers() {
        for (text, secs) in [
            ("PT72H", 259_200),
            ("P30D", 2_592_000),
            ("P2W", 1_209_600),
            ("P1DT12H", 129_600),
            ("PT0S", 0),
            ("PT1H30M5S", 5405),
            ("PT90M", 5400),
        ] {
            let d = IsoDuration::parse(text).unwrap();
            assert_eq!(d.seconds(), secs, "{text}");
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn durations_rejected() {
        for bad in [
            "P",
            "PT",
            "P1Y",
            "P1M",
            "P1DT",
            "P07D",
            "PT1.5H",
            "PT1,5H",
            "P1H",
            "PT1D",
            "P1D1D",
            "PT1S1H",
            "P-1D",
            "p1D",
            "P1W1D",
            "30D",
            "P1DT2",
            "PT72h",
            "P99999999999999999999D",
            "P4000000D",
            "P1D ",
            "",
        ] {
            assert!(IsoDuration::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn timestamp_round_trips(secs in MIN_UNIX..=MAX_UNIX) {
            let t = Timestamp::from_unix(secs).unwrap();
            prop_assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        }

        #[test]
        fn duration_components_add_up(d in 0u64..400, h in 0u64..100, m in 0u64..100, s in 0u64..100) {
            let text = format!("P{d}DT{h}H{m}M{s}S");
            let parsed = IsoDuration::parse(&text).unwrap();
            prop_assert_eq!(parsed.seconds(), d * 86_400 + h * 3600 + m * 60 + s);
        }
    }
}
