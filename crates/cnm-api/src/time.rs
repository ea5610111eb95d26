//! Go-compatible time handling: RFC 3339 output as Docker writes it, Go's `time.Time.String()` form,
//! the `until` filter parser (moby's `GetTimestamp`), Go durations, and go-units' `HumanDuration`.
//!
//! Everything is UTC: values without a zone in [`parse_go_time`] are read as UTC (moby reads them in
//! the daemon's local zone, which is UTC on cnm's hosts).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::ApiError;

/// Go's zero `time.Time` as Docker prints it (`FinishedAt` of a running container).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

const NANOS_PER_SEC: i128 = 1_000_000_000;
/// Unix seconds of 0001-01-01T00:00:00Z.
const ZERO_UNIX_SECS: i64 = -62_135_596_800;

/// An instant as Go's `time.Time` in UTC: unix seconds plus nanoseconds (`0 ≤ nanos < 1e9`).
/// Unlike `SystemTime` it has a printable zero value (year 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoTime {
    /// Seconds since the unix epoch (negative before 1970).
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

impl Default for GoTime {
    fn default() -> Self {
        GoTime::ZERO
    }
}

impl GoTime {
    /// Go's zero time, 0001-01-01T00:00:00Z.
    pub const ZERO: GoTime = GoTime {
        secs: ZERO_UNIX_SECS,
        nanos: 0,
    };

    /// From unix seconds and nanoseconds (nanoseconds ≥ 1e9 carry into the seconds).
    pub fn from_unix(secs: i64, nanos: u32) -> Self {
        let total = i128::from(secs) * NANOS_PER_SEC + i128::from(nanos);
        Self::from_unix_nanos(total)
    }

    fn from_unix_nanos(total: i128) -> Self {
        let secs = total.div_euclid(NANOS_PER_SEC);
        let nanos = total.rem_euclid(NANOS_PER_SEC);
        GoTime {
            secs: i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX }),
            nanos: u32::try_from(nanos).unwrap_or(0),
        }
    }

    fn unix_nanos(self) -> i128 {
        i128::from(self.secs) * NANOS_PER_SEC + i128::from(self.nanos)
    }

    /// Whether this is Go's zero time.
    pub fn is_zero(self) -> bool {
        self == GoTime::ZERO
    }

    /// This instant as a `SystemTime` (`None` if the platform cannot represent it).
    pub fn to_system_time(self) -> Option<SystemTime> {
        if self.secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(self.secs.unsigned_abs(), self.nanos))
        } else {
            UNIX_EPOCH
                .checked_sub(Duration::from_secs(self.secs.unsigned_abs()))?
                .checked_add(Duration::from_nanos(u64::from(self.nanos)))
        }
    }

    /// RFC 3339 in UTC with nanoseconds, trailing zeros of the fraction removed and no fraction when
    /// it is zero: `2026-11-22T20:04:03.56245682Z` (Go's `time.RFC3339Nano`).
    pub fn to_rfc3339_nano(self) -> String {
        let (date, time) = self.civil();
        format!("{date}T{time}{}Z", fraction(self.nanos))
    }

    /// Go's `time.Time.String()` of a UTC time, as the docker CLI shows `CreatedAt`:
    /// `2026-11-22 20:04:03.578599719 +0000 UTC`.
    pub fn to_go_string(self) -> String {
        let (date, time) = self.civil();
        format!("{date} {time}{} +0000 UTC", fraction(self.nanos))
    }

    fn civil(self) -> (String, String) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let year = if y < 0 {
            format!("-{:04}", -y)
        } else {
            format!("{y:04}")
        };
        (
            format!("{year}-{m:02}-{d:02}"),
            format!("{:02}:{:02}:{:02}", sod / 3600, sod % 3600 / 60, sod % 60),
        )
    }

    /// Parses RFC 3339 (`2026-11-22T20:04:03.56245682Z`, `…+01:00`), as Docker's JSON holds it.
    pub fn parse_rfc3339(s: &str) -> Result<GoTime, TimeParseError> {
        let p = parse_date_time(s).ok_or_else(|| TimeParseError(s.to_string()))?;
        if !p.has_time || p.time_parts != 3 || !p.has_zone {
            return Err(TimeParseError(s.to_string()));
        }
        Ok(p.time)
    }
}

impl From<SystemTime> for GoTime {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => GoTime::from_unix_nanos(d.as_nanos() as i128),
            Err(e) => GoTime::from_unix_nanos(-(e.duration().as_nanos() as i128)),
        }
    }
}

impl fmt::Display for GoTime {
    /// Same as [`GoTime::to_rfc3339_nano`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_nano())
    }
}

/// Error of [`GoTime::parse_rfc3339`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {0:?} as RFC 3339 time")]
pub struct TimeParseError(pub String);

fn fraction(nanos: u32) -> String {
    if nanos == 0 {
        return String::new();
    }
    let s = format!(".{nanos:09}");
    s.trim_end_matches('0').to_string()
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as u32, d as u32)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

/// `format_go_time(t)` = [`GoTime::to_rfc3339_nano`] of `t`: `2026-11-22T20:04:03.56245682Z`.
pub fn format_go_time(t: SystemTime) -> String {
    GoTime::from(t).to_rfc3339_nano()
}

/// The CLI's `network ls --format json` `CreatedAt` form: `2026-11-22 20:04:03.578599719 +0000 UTC`.
pub fn format_go_time_string(t: SystemTime) -> String {
    GoTime::from(t).to_go_string()
}

struct ParsedDateTime {
    time: GoTime,
    has_time: bool,
    time_parts: u8,
    has_zone: bool,
}

fn digits(s: &str, n: usize) -> Option<(u32, &str)> {
    if s.len() < n || !s.as_bytes()[..n].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((s[..n].parse().ok()?, &s[n..]))
}

/// `YYYY-MM-DD[THH[:MM[:SS[.frac]]]][Z|±HH:MM]`.
fn parse_date_time(s: &str) -> Option<ParsedDateTime> {
    let (year, rest) = digits(s, 4)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = digits(rest, 2)?;
    let rest = rest.strip_prefix('-')?;
    let (day, mut rest) = digits(rest, 2)?;
    let year = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let (mut h, mut mi, mut sec, mut nanos) = (0u32, 0u32, 0u32, 0u32);
    let mut has_time = false;
    let mut time_parts = 0u8;
    if let Some(r) = rest.strip_prefix('T') {
        has_time = true;
        let (v, r) = digits(r, 2)?;
        h = v;
        time_parts = 1;
        rest = r;
        if let Some(r) = rest.strip_prefix(':') {
            let (v, r) = digits(r, 2)?;
            mi = v;
            time_parts = 2;
            rest = r;
            if let Some(r) = rest.strip_prefix(':') {
                let (v, r) = digits(r, 2)?;
                sec = v;
                time_parts = 3;
                rest = r;
                if let Some(r) = rest.strip_prefix('.') {
                    let n = r.bytes().take_while(u8::is_ascii_digit).count();
                    if n == 0 {
                        return None;
                    }
                    let frac = &r[..n.min(9)];
                    nanos = frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32);
                    rest = &r[n..];
                }
            }
        }
        if h > 23 || mi > 59 || sec > 59 {
            return None;
        }
    }
    let mut offset: i64 = 0;
    let mut has_zone = false;
    if !rest.is_empty() {
        has_zone = true;
        if rest == "Z" || rest == "z" {
            rest = "";
        } else {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, r) = digits(&rest[1..], 2)?;
            let r = r.strip_prefix(':')?;
            let (om, r) = digits(r, 2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            offset = sign * (i64::from(oh) * 3600 + i64::from(om) * 60);
            rest = r;
        }
        if !rest.is_empty() {
            return None;
        }
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(sec)
        - offset;
    Some(ParsedDateTime {
        time: GoTime { secs, nanos },
        has_time,
        time_parts,
        has_zone,
    })
}

/// Parses a Go duration (`10m`, `1h30m`, `1.5h`, `-90s`, `300ms`, `0`) into signed nanoseconds.
pub fn parse_go_duration(s: &str) -> Option<i128> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut exact: i128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(r) = rest.strip_prefix('.') {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &r[..n];
            rest = &r[n..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: i128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: i128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().ok()?
        };
        exact = exact.checked_add(whole.checked_mul(scale)?)?;
        if !frac_part.is_empty() {
            let f: f64 = format!("0.{frac_part}").parse().ok()?;
            total += f * scale as f64;
        }
    }
    let nanos = exact + total as i128;
    Some(if neg { -nanos } else { nanos })
}

/// Parses the value of an `until` filter like moby's `GetTimestamp` + `ParseTimestamps`:
/// a Go duration relative to `now` (`10m`, `24h`; whole seconds, like moby), an RFC 3339 time
/// with or without fraction and zone, a date `2006-01-02`, `2006-01-02T15`, `2006-01-02T15:04`, or
/// unix seconds with an optional fraction (`1700000000.5`). Errors are 400.
pub fn parse_go_time(value: &str, now: SystemTime) -> Result<GoTime, ApiError> {
    if value != "0" {
        if let Some(d) = parse_go_duration(value) {
            let at = GoTime::from(now).unix_nanos() - d;
            return Ok(GoTime {
                secs: GoTime::from_unix_nanos(at).secs,
                nanos: 0,
            });
        }
    }
    if let Some(p) = parse_date_time(value) {
        return Ok(p.time);
    }
    if value.contains('-') {
        return Err(ApiError::bad_request(format!(
            "parsing time {value:?}: cannot parse as a time"
        )));
    }
    parse_unix_timestamp(value).ok_or_else(|| {
        ApiError::bad_request(format!(
            "failed to parse value as time or duration: {value:?}"
        ))
    })
}

fn parse_unix_timestamp(value: &str) -> Option<GoTime> {
    let (s, frac) = match value.split_once('.') {
        Some((s, f)) => (s, Some(f)),
        None => (value, None),
    };
    let secs: i64 = s.parse().ok()?;
    let nanos = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let f = &f[..f.len().min(9)];
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
    };
    Some(GoTime::from_unix(secs, nanos))
}

/// go-units' `HumanDuration`: `Less than a second`, `1 second`, `N seconds`, `About a minute`,
/// `N minutes`, `About an hour`, `N hours` (rounded), `N days` (below 2 weeks), `N weeks` (below
/// 60 days), `N months` (30-day months, below 2 years), `N years`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 1 {
        return "Less than a second".to_string();
    }
    if seconds == 1 {
        return "1 second".to_string();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = seconds / 60;
    if minutes == 1 {
        return "About a minute".to_string();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go: int(d.Hours() + 0.5)
    let whole_hours = seconds / 3600;
    let rem_nanos = d.as_nanos() - u128::from(whole_hours) * 3_600_000_000_000;
    let hours_f = whole_hours as f64 + rem_nanos as f64 / 3.6e12;
    let hours = (hours_f + 0.5) as u64;
    if hours == 1 {
        return "About an hour".to_string();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", whole_hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, nanos: u32) -> SystemTime {
        GoTime::from_unix(secs, nanos)
            .to_system_time()
            .expect("representable")
    }

    #[test]
    fn rfc3339_formatting() {
        // 2026-11-22T20:04:03Z
        let base = days_from_civil(2026, 11, 22) * 86_400 + 20 * 3600 + 4 * 60 + 3;
        assert_eq!(
            format_go_time(at(base, 562_456_820)),
            "2026-11-22T20:04:03.56245682Z"
        );
        assert_eq!(
            format_go_time(at(base, 578_599_719)),
            "2026-11-22T20:04:03.578599719Z"
        );
        assert_eq!(format_go_time(at(base, 0)), "2026-11-22T20:04:03Z");
        assert_eq!(
            format_go_time(at(base, 500_000_000)),
            "2026-11-22T20:04:03.5Z"
        );
        assert_eq!(
            format_go_time(at(base, 1)),
            "2026-11-22T20:04:03.000000001Z"
        );
        assert_eq!(
            format_go_time_string(at(base, 578_599_719)),
            "2026-11-22 20:04:03.578599719 +0000 UTC"
        );
        assert_eq!(
            format_go_time_string(at(base, 562_456_820)),
            "2026-11-22 20:04:03.56245682 +0000 UTC"
        );
        assert_eq!(format_go_time(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(GoTime::ZERO.to_rfc3339_nano(), ZERO_TIME);
        assert!(GoTime::default().is_zero());
        assert_eq!(format_go_time(at(951_782_400, 0)), "2000-02-29T00:00:00Z");
        assert_eq!(format_go_time(at(-1, 0)), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn rfc3339_parsing() {
        let t = GoTime::parse_rfc3339("2026-11-22T20:04:03.56245682Z").expect("parse");
        assert_eq!(t.to_rfc3339_nano(), "2026-11-22T20:04:03.56245682Z");
        assert_eq!(t.to_go_string(), "2026-11-22 20:04:03.56245682 +0000 UTC");
        let t = GoTime::parse_rfc3339("2026-11-22T21:04:03+01:00").expect("parse");
        assert_eq!(t.to_rfc3339_nano(), "2026-11-22T20:04:03Z");
        assert_eq!(
            GoTime::parse_rfc3339(ZERO_TIME).expect("zero"),
            GoTime::ZERO
        );
        assert!(GoTime::parse_rfc3339("2026-11-22").is_err());
        assert!(GoTime::parse_rfc3339("2026-02-30T00:00:00Z").is_err());
        assert!(GoTime::parse_rfc3339("2026-11-22T20:04:03").is_err());
        let st = SystemTime::now();
        let round = GoTime::from(st).to_system_time().expect("st");
        assert_eq!(round, st);
    }

    #[test]
    fn until_values() {
        let now = at(1_800_000_000, 700_000_000);
        assert_eq!(
            parse_go_time("10m", now).expect("dur"),
            GoTime::from_unix(1_800_000_000 - 600, 0)
        );
        assert_eq!(
            parse_go_time("24h", now).expect("dur"),
            GoTime::from_unix(1_800_000_000 - 86_400, 0)
        );
        assert_eq!(
            parse_go_time("1h30m", now).expect("dur").secs,
            1_800_000_000 - 5400
        );
        assert_eq!(
            parse_go_time("1700000000", now).expect("unix"),
            GoTime::from_unix(1_700_000_000, 0)
        );
        assert_eq!(
            parse_go_time("1700000000.5", now).expect("unix"),
            GoTime::from_unix(1_700_000_000, 500_000_000)
        );
        assert_eq!(
            parse_go_time("0", now).expect("zero"),
            GoTime::from_unix(0, 0)
        );
        assert_eq!(
            parse_go_time("2026-11-22T20:04:03.5Z", now)
                .expect("rfc")
                .to_rfc3339_nano(),
            "2026-11-22T20:04:03.5Z"
        );
        assert_eq!(
            parse_go_time("2026-11-22", now)
                .expect("date")
                .to_rfc3339_nano(),
            "2026-11-22T00:00:00Z"
        );
        assert_eq!(
            parse_go_time("2026-11-22T20", now)
                .expect("hour")
                .to_rfc3339_nano(),
            "2026-11-22T20:00:00Z"
        );
        assert_eq!(
            parse_go_time("2026-11-22T20:04-01:00", now)
                .expect("zone")
                .to_rfc3339_nano(),
            "2026-11-22T21:04:00Z"
        );
        let e = parse_go_time("bogus", now).expect_err("bad");
        assert_eq!(
            (e.status, e.message.as_str()),
            (400, "failed to parse value as time or duration: \"bogus\"")
        );
        assert_eq!(
            parse_go_time("2026-13-01", now).expect_err("bad").status,
            400
        );
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_go_duration("-90s"), Some(-90_000_000_000));
        assert_eq!(parse_go_duration("300ms"), Some(300_000_000));
        assert_eq!(
            parse_go_duration("2h45m10.5s"),
            Some(((2 * 3600 + 45 * 60) as i128) * 1_000_000_000 + 10_500_000_000)
        );
        assert_eq!(parse_go_duration("1µs"), Some(1000));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("1d"), None);
        assert_eq!(parse_go_duration(".s"), None);
    }

    #[test]
    fn human_duration_thresholds() {
        let s = Duration::from_secs;
        let cases: &[(Duration, &str)] = &[
            (Duration::ZERO, "Less than a second"),
            (Duration::from_millis(999), "Less than a second"),
            (s(1), "1 second"),
            (Duration::from_millis(1999), "1 second"),
            (s(2), "2 seconds"),
            (s(59), "59 seconds"),
            (s(60), "About a minute"),
            (s(119), "About a minute"),
            (s(120), "2 minutes"),
            (s(3599), "59 minutes"),
            (s(3600), "About an hour"),
            (s(3600 + 1799), "About an hour"),
            (s(3600 + 1800), "2 hours"),
            (s(47 * 3600 + 1799), "47 hours"),
            (s(47 * 3600 + 1800), "2 days"),
            (s(13 * 86_400), "13 days"),
            (s(14 * 86_400), "2 weeks"),
            (s(59 * 86_400), "8 weeks"),
            (s(60 * 86_400), "2 months"),
            (s(729 * 86_400), "24 months"),
            (s(730 * 86_400), "2 years"),
            (s(3 * 365 * 86_400 + 100), "3 years"),
        ];
        for (d, want) in cases {
            assert_eq!(human_duration(*d), *want, "{d:?}");
        }
    }
}
