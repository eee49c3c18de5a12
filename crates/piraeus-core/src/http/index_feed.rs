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

use axum::extract::{Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::log::{self, RequestFacts};
use super::{JSON, NO_STORE, error_response};
use crate::clock::{format_timestamp, parse_since};
use crate::error::Error;
use crate::golang::path;
use crate::index::{FeedCursor, StoredVersion};
use crate::proxy::Proxy;

/// Entries per answer when `limit` is not given, and the most one answer holds: a larger
/// `limit` is lowered to it, as index.golang.org does.
pub(super) const MAX_LIMIT: usize = 2000;

const ROUTE: &str = "index";

/// `GET /index`: see the module documentation.
pub(super) async fn index_feed(State(proxy): State<Arc<Proxy>>, request: Request) -> Response {
    let query = match FeedQuery::parse(request.uri().query().unwrap_or_default()) {
        Ok(query) => query,
        Err(error) => return error_response(&error, ROUTE),
    };
    // A scoped token sees only its modules.
    let client = super::auth::scoped_client(&request);
    let shown = |module: &str| client.as_ref().is_none_or(|client| client.may_read(module));
    let page = match proxy.feed(query.start().as_ref(), query.limit, shown).await {
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

/// A query value, percent-decoded as strictly as a path (every `%` starts a valid escape; the
/// result is UTF-8 without control characters). A `+` stays a `+` (it is never a space here:
/// no valid value has one), so an offset like `+02:00` may be sent as it is or as `%2B02:00`.
fn percent_decode(name: &str, value: &str) -> Result<String, Error> {
    path::percent_decode(value)
        .map(|decoded| decoded.into_owned())
        .map_err(|_| {
            Error::invalid(format!(
                "the {name} parameter is not validly percent-encoded"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
