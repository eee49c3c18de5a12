//! Conditional and range requests on stored artifacts (RFC 9110 §13 and §14). An artifact never
//! changes, so its validators are fixed at ingest: the `h1:` sum as the entity tag and the time
//! it was stored as `Last-Modified`. A client or cache that already has it gets `304`; an
//! interrupted zip download resumes with `Range` and gets `206` with the rest.

use std::ops::Range;
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderValue, header};

use crate::proxy::Validators;

/// What a request for an artifact of `length` bytes asks for, given its headers.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Wanted {
    Full,
    /// `206` with these bytes.
    Partial(Range<u64>),
    /// `304`: the client's copy is current.
    NotModified,
    /// `416`: no byte of the range exists.
    Unsatisfiable,
}

/// Evaluates the preconditions in the order RFC 9110 §13.2.2 gives (`If-None-Match`, else
/// `If-Modified-Since`; then `Range`, subject to `If-Range`). Only GET and HEAD reach here;
/// ranges are defined for GET alone, so `ranges` is false for HEAD.
pub(super) fn evaluate(
    headers: &HeaderMap,
    validators: &Validators,
    length: u64,
    ranges: bool,
) -> Wanted {
    if let Some(value) = headers.get(header::IF_NONE_MATCH) {
        if matches_any(value, &validators.etag) {
            return Wanted::NotModified;
        }
    } else if let Some(since) = header_date(headers.get(header::IF_MODIFIED_SINCE))
        && validators.modified <= since
    {
        return Wanted::NotModified;
    }
    // An empty artifact has no byte to range over; the whole of it is the answer.
    let Some(range) = headers.get(header::RANGE).filter(|_| ranges && length > 0) else {
        return Wanted::Full;
    };
    if let Some(condition) = headers.get(header::IF_RANGE)
        && !if_range_holds(condition, validators)
    {
        return Wanted::Full;
    }
    match parse_range(range.as_bytes(), length) {
        RangeRequest::Ignored => Wanted::Full,
        RangeRequest::Satisfiable(range) if range.start == 0 && range.end == length => Wanted::Full,
        RangeRequest::Satisfiable(range) => Wanted::Partial(range),
        RangeRequest::Unsatisfiable => Wanted::Unsatisfiable,
    }
}

/// `Content-Range` of a partial answer.
pub(super) fn content_range(range: &Range<u64>, length: u64) -> HeaderValue {
    let value = format!("bytes {}-{}/{length}", range.start, range.end - 1);
    HeaderValue::try_from(value).expect("digits make a valid header value")
}

/// `Content-Range` of a `416`.
pub(super) fn unsatisfied_range(length: u64) -> HeaderValue {
    HeaderValue::try_from(format!("bytes */{length}")).expect("digits make a valid header value")
}

/// `If-None-Match`: `*`, or a list of entity tags compared weakly (`W/` ignored).
fn matches_any(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(text) = value.to_str() else {
        return false;
    };
    let ours = etag.as_bytes();
    text.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate).as_bytes() == ours
    })
}

/// `If-Range`: the range applies only if the client's copy is this one. An entity tag must
/// match strongly; a date must equal `Last-Modified` exactly (§13.1.5).
fn if_range_holds(condition: &HeaderValue, validators: &Validators) -> bool {
    let bytes = condition.as_bytes();
    if bytes.starts_with(b"\"") {
        return bytes == validators.etag.as_bytes();
    }
    if bytes.starts_with(b"W/") {
        return false;
    }
    header_date(Some(condition)) == Some(validators.modified)
}

fn header_date(value: Option<&HeaderValue>) -> Option<SystemTime> {
    httpdate::parse_http_date(value?.to_str().ok()?).ok()
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Not a single byte range we serve (unknown unit, bad syntax, several ranges): the whole
    /// artifact, which RFC 9110 §14.2 allows.
    Ignored,
    Satisfiable(Range<u64>),
    Unsatisfiable,
}

/// One `bytes=` range: `first-last`, `first-` or `-suffix`, clipped to the length.
fn parse_range(value: &[u8], length: u64) -> RangeRequest {
    let Some(spec) = std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.trim().strip_prefix("bytes="))
    else {
        return RangeRequest::Ignored;
    };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Ignored;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            None => RangeRequest::Ignored,
            Some(0) => RangeRequest::Unsatisfiable,
            Some(suffix) => RangeRequest::Satisfiable(length.saturating_sub(suffix)..length),
        },
        (first, last) => {
            let Some(start) = number(first) else {
                return RangeRequest::Ignored;
            };
            let end = match last {
                "" => length,
                last => match number(last) {
                    Some(last) if last >= start => last.saturating_add(1).min(length),
                    _ => return RangeRequest::Ignored,
                },
            };
            if start >= length {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Satisfiable(start..end)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::StoredVersion;
    use crate::store::ArtifactKind;

    fn record() -> StoredVersion {
        StoredVersion {
            module: "example.com/m".into(),
            version: "v1.0.0".into(),
            time: "2024-01-01T00:00:00Z".into(),
            zip_hash: "h1:Zip+Sum/=".into(),
            mod_hash: "h1:ModSum=".into(),
            zip_size: 1000,
            mod_size: 20,
            info_size: 30,
            origin: "direct".into(),
            // 2024-03-01T12:00:00.750Z
            fetched_at: 1_709_294_400_750,
        }
    }

    fn request(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn validators_come_from_the_record() {
        let zip = Validators::of(&record(), ArtifactKind::Zip);
        assert_eq!(zip.etag, "\"h1:Zip+Sum/=\"");
        assert_eq!(zip.last_modified, "Fri, 01 Mar 2024 12:00:00 GMT");
        assert_eq!(
            Validators::of(&record(), ArtifactKind::Mod).etag,
            "\"h1:ModSum=\""
        );
        assert_eq!(
            Validators::of(&record(), ArtifactKind::Info).etag,
            "\"info-h1:Zip+Sum/=\""
        );
    }

    #[test]
    fn not_modified() {
        let v = Validators::of(&record(), ArtifactKind::Zip);
        let wanted =
            |pairs: &[(header::HeaderName, &str)]| evaluate(&request(pairs), &v, 1000, true);
        assert_eq!(wanted(&[]), Wanted::Full);
        assert_eq!(
            wanted(&[(header::IF_NONE_MATCH, "\"h1:Zip+Sum/=\"")]),
            Wanted::NotModified
        );
        assert_eq!(
            wanted(&[(header::IF_NONE_MATCH, "\"other\", W/\"h1:Zip+Sum/=\"")]),
            Wanted::NotModified
        );
        assert_eq!(wanted(&[(header::IF_NONE_MATCH, "*")]), Wanted::NotModified);
        assert_eq!(
            wanted(&[(header::IF_NONE_MATCH, "\"other\"")]),
            Wanted::Full
        );
        let same = "Fri, 01 Mar 2024 12:00:00 GMT";
        let later = "Fri, 01 Mar 2024 12:00:01 GMT";
        let earlier = "Fri, 01 Mar 2024 11:59:59 GMT";
        assert_eq!(
            wanted(&[(header::IF_MODIFIED_SINCE, same)]),
            Wanted::NotModified
        );
        assert_eq!(
            wanted(&[(header::IF_MODIFIED_SINCE, later)]),
            Wanted::NotModified
        );
        assert_eq!(
            wanted(&[(header::IF_MODIFIED_SINCE, earlier)]),
            Wanted::Full
        );
        assert_eq!(
            wanted(&[(header::IF_MODIFIED_SINCE, "yesterday")]),
            Wanted::Full
        );
        // If-None-Match decides alone when present (§13.2.2).
        assert_eq!(
            wanted(&[
                (header::IF_NONE_MATCH, "\"other\""),
                (header::IF_MODIFIED_SINCE, later)
            ]),
            Wanted::Full
        );
    }

    #[test]
    fn ranges() {
        let v = Validators::of(&record(), ArtifactKind::Zip);
        let wanted =
            |pairs: &[(header::HeaderName, &str)]| evaluate(&request(pairs), &v, 1000, true);
        let range = |text| wanted(&[(header::RANGE, text)]);
        assert_eq!(range("bytes=0-99"), Wanted::Partial(0..100));
        assert_eq!(range("bytes=900-"), Wanted::Partial(900..1000));
        assert_eq!(range("bytes=990-5000"), Wanted::Partial(990..1000));
        assert_eq!(range("bytes=-10"), Wanted::Partial(990..1000));
        assert_eq!(range("bytes=-5000"), Wanted::Full);
        assert_eq!(range("bytes=0-"), Wanted::Full);
        assert_eq!(range("bytes=1000-"), Wanted::Unsatisfiable);
        assert_eq!(range("bytes=-0"), Wanted::Unsatisfiable);
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-",
            "bytes=-",
            "0-1",
        ] {
            assert_eq!(range(ignored), Wanted::Full, "{ignored}");
        }
        let current = [
            (header::RANGE, "bytes=10-"),
            (header::IF_RANGE, "\"h1:Zip+Sum/=\""),
        ];
        assert_eq!(wanted(&current), Wanted::Partial(10..1000));
        let stale = [(header::RANGE, "bytes=10-"), (header::IF_RANGE, "\"old\"")];
        assert_eq!(wanted(&stale), Wanted::Full);
        let weak = [
            (header::RANGE, "bytes=10-"),
            (header::IF_RANGE, "W/\"h1:Zip+Sum/=\""),
        ];
        assert_eq!(wanted(&weak), Wanted::Full);
        let dated = [
            (header::RANGE, "bytes=10-"),
            (header::IF_RANGE, "Fri, 01 Mar 2024 12:00:00 GMT"),
        ];
        assert_eq!(wanted(&dated), Wanted::Partial(10..1000));
        let headers = request(&[(header::RANGE, "bytes=-1")]);
        assert_eq!(
            evaluate(&headers, &v, 0, true),
            Wanted::Full,
            "nothing to range over"
        );
        assert_eq!(
            evaluate(&headers, &v, 1000, false),
            Wanted::Full,
            "HEAD ignores ranges"
        );
    }

    #[test]
    fn content_ranges() {
        assert_eq!(content_range(&(0..100), 1000), "bytes 0-99/1000");
        assert_eq!(unsatisfied_range(1000), "bytes */1000");
    }
}
