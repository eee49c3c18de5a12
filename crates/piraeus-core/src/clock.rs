//! Time as Piraeus keeps and reads it. Wall-clock time is Unix milliseconds: the one unit every
//! index backend stores, so leases and cache ages compare across processes and machines.
//! Timestamps are RFC 3339 as Go marshals and parses them; durations are what settings and
//! requests give (`30s`, `10m`, a bare number of seconds).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as i64
}

pub(crate) fn millis(duration: Duration) -> i64 {
    duration.as_millis().min(i64::MAX as u128) as i64
}

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Unix milliseconds as Go's `time.Time` marshals to JSON in UTC: `2019-04-10T19:08:52.997Z`,
/// trailing zeros of the fraction dropped, no fraction at all on a whole second.
pub(crate) fn format_timestamp(millis: i64) -> String {
    let (year, month, day) = civil_from_days(millis.div_euclid(MILLIS_PER_DAY));
    let of_day = millis.rem_euclid(MILLIS_PER_DAY);
    let (hour, minute) = (of_day / 3_600_000, of_day / 60_000 % 60);
    let (second, milli) = (of_day / 1000 % 60, of_day % 1000);
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if milli != 0 {
        let fraction = format!("{milli:03}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    text.push('Z');
    text
}

/// An RFC 3339 date-time (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) as the first Unix
/// millisecond at or after it: entries carry milliseconds, so `since=…52.9971Z` starts at
/// `…52.998Z`. A leap second (`:60`) is refused, as Go's `time.Parse` refuses it.
pub(crate) fn parse_since(text: &str) -> Result<i64, &'static str> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<i64, &'static str> {
        let digits = bytes.get(range).ok_or("it is too short")?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err("a digit is missing");
        }
        Ok(digits
            .iter()
            .fold(0, |n, digit| n * 10 + i64::from(digit - b'0')))
    };
    let separator = |at: usize, allowed: &[u8]| match bytes.get(at) {
        Some(byte) if allowed.contains(byte) => Ok(()),
        _ => Err("a separator is missing or wrong"),
    };
    let year = number(0..4)?;
    separator(4, b"-")?;
    let month = number(5..7)?;
    separator(7, b"-")?;
    let day = number(8..10)?;
    separator(10, b"Tt")?;
    let hour = number(11..13)?;
    separator(13, b":")?;
    let minute = number(14..16)?;
    separator(16, b":")?;
    let second = number(17..19)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err("no such date");
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err("the time of day is out of range");
    }
    // The fraction, as nanoseconds, and whether anything finer than a nanosecond was given.
    let mut at = 19;
    let mut nanos: i64 = 0;
    let mut finer = false;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while let Some(digit) = bytes.get(at).filter(|byte| byte.is_ascii_digit()) {
            let place = at - start;
            if place < 9 {
                nanos += i64::from(digit - b'0') * 10_i64.pow(8 - place as u32);
            } else if *digit != b'0' {
                finer = true;
            }
            at += 1;
        }
        if at == start {
            return Err("the fraction of a second has no digits");
        }
    }
    let offset_minutes = match bytes.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            let hours = number(at + 1..at + 3)?;
            separator(at + 3, b":")?;
            let minutes = number(at + 4..at + 6)?;
            if hours > 23 || minutes > 59 {
                return Err("the UTC offset is out of range");
            }
            at += 6;
            let offset = hours * 60 + minutes;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return Err("the UTC offset (Z or ±HH:MM) is missing"),
    };
    if at != bytes.len() {
        return Err("something follows the UTC offset");
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    let millis = seconds * 1000 + nanos / 1_000_000;
    let partial = nanos % 1_000_000 != 0 || finer;
    Ok(millis + i64::from(partial))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// RFC 3339 (`2025-01-02T03:04:05Z`) as Unix milliseconds, as `GET /index?since=` reads it.
pub fn parse_timestamp(text: &str) -> std::result::Result<i64, String> {
    parse_since(text.trim())
        .map_err(|reason| format!("{text:?} is not an RFC 3339 timestamp ({reason})"))
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
        return text
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text:?} is too many seconds"));
    }
    humantime::parse_duration(text).map_err(|error| match error {
        humantime::DurationError::UnknownUnit { unit, .. } => {
            format!("{text:?} has an unknown unit {unit:?}: use ms, s, m, h or d")
        }
        _ => format!("{text:?} is not a duration like 30s, 10m or 1h"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_as_go_marshals_them() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        // index.golang.org's first entry, at millisecond precision.
        assert_eq!(
            format_timestamp(1_554_923_332_997),
            "2019-04-10T19:08:52.997Z"
        );
        // Trailing zeros of the fraction are dropped; a whole second has none.
        assert_eq!(
            format_timestamp(1_554_923_332_900),
            "2019-04-10T19:08:52.9Z"
        );
        assert_eq!(
            format_timestamp(1_554_923_332_050),
            "2019-04-10T19:08:52.05Z"
        );
        assert_eq!(format_timestamp(1_554_923_332_000), "2019-04-10T19:08:52Z");
        // Leap days and the ends of years and centuries.
        assert_eq!(
            format_timestamp(951_782_400_001),
            "2000-02-29T00:00:00.001Z"
        );
        assert_eq!(
            format_timestamp(1_735_689_599_999),
            "2024-12-31T23:59:59.999Z"
        );
        assert_eq!(format_timestamp(4_107_542_400_000), "2100-03-01T00:00:00Z");
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn timestamps_read_back_to_the_same_millisecond() {
        let mut millis: i64 = -86_400_000;
        while millis < 5_000_000_000_000 {
            let text = format_timestamp(millis);
            assert_eq!(parse_since(&text), Ok(millis), "{text}");
            millis += 7_919_993_017;
        }
    }

    #[test]
    fn since_reads_rfc_3339_and_rounds_up_to_a_millisecond() {
        let base = 1_554_923_332_000;
        assert_eq!(parse_since("2019-04-10T19:08:52Z"), Ok(base));
        assert_eq!(parse_since("2019-04-10t19:08:52z"), Ok(base));
        assert_eq!(parse_since("2019-04-10T19:08:52.997Z"), Ok(base + 997));
        assert_eq!(
            parse_since("2019-04-10T19:08:52.997000000Z"),
            Ok(base + 997)
        );
        // Finer than a millisecond: the first whole millisecond after it.
        assert_eq!(parse_since("2019-04-10T19:08:52.997264Z"), Ok(base + 998));
        assert_eq!(
            parse_since("2019-04-10T19:08:52.9970000001Z"),
            Ok(base + 998)
        );
        assert_eq!(parse_since("2019-04-10T21:08:52.5+02:00"), Ok(base + 500));
        assert_eq!(parse_since("2019-04-10T18:38:52-00:30"), Ok(base));
        assert_eq!(parse_since("1969-12-31T23:59:59.999Z"), Ok(-1));
        assert_eq!(parse_since("0000-01-01T00:00:00Z"), Ok(-62_167_219_200_000));
        for bad in [
            "",
            "2019-04-10",
            "2019-04-10T19:08Z",
            "2019-04-10T19:08:52",
            "2019-04-10 19:08:52Z",
            "2019-04-10T19:08:52.Z",
            "2019-04-10T19:08:52Z ",
            "2019-04-10T19:08:52+0200",
            "2019-04-10T19:08:52+24:00",
            "2019-13-10T19:08:52Z",
            "2019-02-29T19:08:52Z",
            "2019-04-31T19:08:52Z",
            "2019-04-10T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "+2019-04-10T19:08:52Z",
            "1554923332997",
            "yesterday",
        ] {
            assert!(parse_since(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(
            parse_duration("5 fortnights")
                .unwrap_err()
                .contains("unknown unit")
        );
    }
}
