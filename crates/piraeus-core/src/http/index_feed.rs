//! `GET /index?since=RFC3339&limit=N`: the stored versions in the order they were stored, in
//! index.golang.org's format, so tools written for that feed (mirrors, scanners, pkgsite-like
//! indexers) can follow this proxy too.
//!
//! One JSON object per line, `{"Path":...,"Version":...,"Timestamp":...}`: the module path and
//! version as the go command writes them (not case-encoded), and when the version was stored,
//! in UTC with the fraction of a second Go prints (`time.RFC3339Nano`: trailing zeros dropped,
//! none when zero; milliseconds here). Entries with the same timestamp come in module, then
//! version order, so the order never changes between requests.
//!
//! `since` is inclusive, as on index.golang.org: a client that pages with the last `Timestamp`
//! it read gets that entry (and any others stored in the same millisecond) again, and must skip
//! what it has already seen.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::log::{self, RequestFacts};
use super::{JSON, NO_STORE, error_response};
use crate::error::Error;
use crate::index::{FeedCursor, StoredVersion};
use crate::proxy::Proxy;

/// Entries per answer when `limit` is not given, and the most one answer holds: a larger
/// `limit` is lowered to it, as index.golang.org does.
pub(super) const MAX_LIMIT: usize = 2000;

const ROUTE: &str = "index";

/// `GET /index`: see the module documentation.
pub(super) async fn index_feed(State(proxy): State<Arc<Proxy>>, uri: Uri) -> Response {
    let query = match FeedQuery::parse(uri.query().unwrap_or_default()) {
        Ok(query) => query,
        Err(error) => return error_response(&error, ROUTE),
    };
    let page = match proxy.feed(query.start().as_ref(), query.limit).await {
        Ok(page) => page,
        Err(error) => return error_response(&error, ROUTE),
    };
    let mut body = String::with_capacity(page.len() * 96);
    for record in &page {
        body.push_str(&entry_line(record));
    }
    let response = (
        [
            (header::CONTENT_TYPE, JSON),
            // New versions are stored at any moment: never cache a page.
            (header::CACHE_CONTROL, NO_STORE),
        ],
        body,
    )
        .into_response();
    log::note(RequestFacts {
        route: ROUTE,
        outcome: None,
    });
    response
}

/// One line of the feed, newline included.
fn entry_line(record: &StoredVersion) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry<'a> {
        path: &'a str,
        version: &'a str,
        timestamp: String,
    }
    let entry = Entry {
        path: &record.module,
        version: &record.version,
        timestamp: format_timestamp(record.fetched_at),
    };
    let mut line = serde_json::to_string(&entry).expect("strings always serialize");
    line.push('\n');
    line
}

/// The request's `since` and `limit`.
#[derive(Debug, PartialEq, Eq)]
struct FeedQuery {
    /// The first Unix millisecond wanted (inclusive); `None` for the beginning.
    since: Option<i64>,
    limit: usize,
}

impl FeedQuery {
    /// Unknown parameters are ignored; an empty value is the same as none; the first of a
    /// repeated parameter counts.
    fn parse(query: &str) -> Result<Self, Error> {
        let mut since = None;
        let mut limit = None;
        for pair in query.split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match name {
                "since" => &mut since,
                "limit" => &mut limit,
                _ => continue,
            };
            if slot.is_none() && !value.is_empty() {
                *slot = Some(percent_decode(name, value)?);
            }
        }
        let since = since
            .map(|text| {
                parse_since(&text).map_err(|reason| {
                    Error::invalid(format!(
                        "since={text:?} is not an RFC 3339 timestamp like \
                         2019-04-10T19:08:52.997264Z: {reason}"
                    ))
                })
            })
            .transpose()?;
        let limit = limit.map(|text| parse_limit(&text)).transpose()?;
        Ok(Self {
            since,
            limit: limit.unwrap_or(MAX_LIMIT),
        })
    }

    /// The feed cursor that starts at `since`, inclusive. The index continues strictly after a
    /// cursor and orders by (`fetched_at`, module, version); every module path is longer than
    /// the empty string, so after (`since`, "", "") comes exactly what was stored at `since` or
    /// later. (In DynamoDB's feed key, `#` sorts before every character a module path may
    /// start with, to the same effect.)
    fn start(&self) -> Option<FeedCursor> {
        self.since.map(|fetched_at| FeedCursor {
            fetched_at,
            module: String::new(),
            version: String::new(),
        })
    }
}

/// `limit`: a positive decimal integer; more than [`MAX_LIMIT`] (however many digits) is
/// lowered to it.
fn parse_limit(text: &str) -> Result<usize, Error> {
    let invalid = || Error::invalid(format!("limit={text:?} is not a positive integer"));
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let digits = text.trim_start_matches('0');
    if digits.is_empty() {
        return Err(invalid());
    }
    Ok(digits
        .parse::<usize>()
        .map_or(MAX_LIMIT, |n| n.min(MAX_LIMIT)))
}

/// A query value, percent-decoded strictly (every `%` starts a valid escape; the result is
/// UTF-8). A `+` stays a `+` (it is never a space here: no valid value has one), so an offset
/// like `+02:00` may be sent as it is or as `%2B02:00`.
fn percent_decode(name: &str, value: &str) -> Result<String, Error> {
    let invalid = || {
        Error::invalid(format!(
            "the {name} parameter is not validly percent-encoded"
        ))
    };
    let bytes = value.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or_else(invalid)?;
            let hex = std::str::from_utf8(hex).map_err(|_| invalid())?;
            decoded.push(u8::from_str_radix(hex, 16).map_err(|_| invalid())?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).map_err(|_| invalid())?;
    if decoded.chars().any(char::is_control) {
        return Err(invalid());
    }
    Ok(decoded)
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
    fn query_parameters() {
        let parse = |query: &str| FeedQuery::parse(query).map_err(|e| e.message().to_string());
        assert_eq!(
            parse(""),
            Ok(FeedQuery {
                since: None,
                limit: MAX_LIMIT
            })
        );
        assert_eq!(
            parse("limit=10&since=2019-04-10T19:08:52.997Z&other=x"),
            Ok(FeedQuery {
                since: Some(1_554_923_332_997),
                limit: 10
            })
        );
        assert_eq!(parse("limit=2001").unwrap().limit, MAX_LIMIT);
        assert_eq!(
            parse("limit=99999999999999999999999").unwrap().limit,
            MAX_LIMIT
        );
        assert_eq!(parse("limit=007").unwrap().limit, 7);
        assert_eq!(parse("limit=").unwrap().limit, MAX_LIMIT);
        assert_eq!(parse("limit=3&limit=5").unwrap().limit, 3);
        // An offset's `+`, literal or escaped.
        let plus = parse("since=2019-04-10T21:08:52%2B02:00").unwrap().since;
        assert_eq!(plus, Some(1_554_923_332_000));
        assert_eq!(
            parse("since=2019-04-10T21:08:52+02:00").unwrap().since,
            plus
        );
        assert_eq!(parse("since=2019-04-10T19%3A08%3A52Z").unwrap().since, plus);
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=1.5",
            "limit=ten",
            "limit=+5",
            "limit=%201",
        ] {
            let message = parse(bad).unwrap_err();
            assert!(message.contains("positive integer"), "{bad}: {message}");
        }
        for bad in [
            "since=yesterday",
            "since=2019-04-10",
            "since=%zz",
            "since=%ff",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("since=2019-04-10").unwrap_err().contains("RFC 3339"));
    }

    #[test]
    fn entries_are_index_golang_org_lines() {
        let record = StoredVersion {
            module: "github.com/BurntSushi/toml".into(),
            version: "v2.0.0+incompatible".into(),
            time: "2019-01-01T00:00:00Z".into(),
            zip_hash: "h1:zip".into(),
            mod_hash: "h1:mod".into(),
            zip_size: 1,
            mod_size: 1,
            info_size: 1,
            origin: "direct".into(),
            fetched_at: 1_554_923_332_997,
        };
        assert_eq!(
            entry_line(&record),
            "{\"Path\":\"github.com/BurntSushi/toml\",\"Version\":\"v2.0.0+incompatible\",\
             \"Timestamp\":\"2019-04-10T19:08:52.997Z\"}\n"
        );
    }
}
