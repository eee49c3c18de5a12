//! Parsing of the settings shared by the command line and the Lambda functions' environment.

use std::time::Duration;

/// `90s`, `10m`, `1h`, `500ms`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 10m or 1h"))?;
    let duration = match unit {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" => Duration::from_secs(number * 60),
        "h" => Duration::from_secs(number * 3600),
        _ => return Err(format!("{text:?} has an unknown unit: use ms, s, m or h")),
    };
    Ok(duration)
}

/// Accepts what the go command accepts in GOPROXY: `direct`, `off`, and http(s)/file URLs,
/// separated by `,` or `|`.
pub fn parse_upstream(text: &str) -> Result<String, String> {
    let entries: Vec<&str> = text.split([',', '|']).map(str::trim).collect();
    for entry in &entries {
        let known = matches!(*entry, "direct" | "off")
            || ["https://", "http://", "file://"]
                .iter()
                .any(|scheme| entry.starts_with(scheme) && entry.len() > scheme.len());
        if !known {
            return Err(format!(
                "{entry:?} is not a GOPROXY entry: use direct, off, or an http(s):// or file:// URL"
            ));
        }
    }
    Ok(text.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }

    #[test]
    fn upstreams() {
        assert!(parse_upstream("https://proxy.golang.org,direct").is_ok());
        assert!(parse_upstream("http://a.example|https://b.example,off").is_ok());
        assert!(parse_upstream("direct").is_ok());
        assert!(parse_upstream("proxy.golang.org").is_err());
        assert!(parse_upstream("").is_err());
        assert!(parse_upstream("https://").is_err());
    }
}
