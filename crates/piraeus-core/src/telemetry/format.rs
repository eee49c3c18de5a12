//! The two log line formats, written straight into the line buffer. tracing-subscriber's own
//! formatters build intermediate maps and strings for every event (and its human format
//! `Debug`-formats each string field); with one line per request that was a fifth of a hit's
//! cost (docs/performance.md). The lines read as theirs did:
//!
//! - JSON: `{"timestamp":…,"level":…,<event fields>,"target":…,"spans":[{<fields>,"name":…}]}`
//! - human: `<timestamp> <LEVEL> <span>{<fields>}: <target>: <message> key=value …`, strings
//!   quoted as `Debug` quotes them.

use std::cell::Cell;
use std::fmt::{self, Write};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The two formats, as `--log-format` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line, for log pipelines and CloudWatch Logs.
    Json,
}

impl LogFormat {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        match text {
            "human" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is neither \"human\" nor \"json\"")),
        }
    }
}

/// Formats events and span fields in one format; set as both the event format and the
/// field format, so a span's fields are stored ready to be copied into each line.
pub(super) struct Lines(pub LogFormat);

impl<'writer> FormatFields<'writer> for Lines {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut visitor = Fields::new(&mut writer, self.0, false);
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let continued = !current.fields.is_empty();
        let mut writer = current.as_writer();
        let mut visitor = Fields::new(&mut writer, self.0, continued);
        fields.record(&mut visitor);
        visitor.result
    }
}

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        match self.0 {
            LogFormat::Json => {
                writer.write_str("{\"timestamp\":\"")?;
                timestamp(&mut writer)?;
                write!(writer, "\",\"level\":\"{}\"", metadata.level())?;
                let mut fields = Fields::new(&mut writer, LogFormat::Json, true);
                event.record(&mut fields);
                fields.result?;
                writer.write_str(",\"target\":")?;
                json_string(&mut writer, metadata.target())?;
                let mut spans = 0;
                if let Some(scope) = context.event_scope() {
                    for span in scope.from_root() {
                        writer.write_str(if spans == 0 { ",\"spans\":[{" } else { ",{" })?;
                        spans += 1;
                        let extensions = span.extensions();
                        if let Some(fields) = extensions.get::<FormattedFields<N>>()
                            && !fields.is_empty()
                        {
                            writer.write_str(fields)?;
                            writer.write_char(',')?;
                        }
                        writer.write_str("\"name\":")?;
                        json_string(&mut writer, span.name())?;
                        writer.write_char('}')?;
                    }
                }
                if spans > 0 {
                    writer.write_char(']')?;
                }
                writer.write_str("}\n")
            }
            LogFormat::Human => {
                timestamp(&mut writer)?;
                writer.write_char(' ')?;
                level(&mut writer, metadata.level())?;
                writer.write_char(' ')?;
                if let Some(scope) = context.event_scope() {
                    for span in scope.from_root() {
                        writer.write_str(span.name())?;
                        let extensions = span.extensions();
                        if let Some(fields) = extensions.get::<FormattedFields<N>>()
                            && !fields.is_empty()
                        {
                            write!(writer, "{{{}}}", fields.fields)?;
                        }
                        writer.write_str(": ")?;
                    }
                }
                write!(writer, "{}: ", metadata.target())?;
                let mut fields = Fields::new(&mut writer, LogFormat::Human, false);
                event.record(&mut fields);
                fields.result?;
                writer.write_char('\n')
            }
        }
    }
}

/// The time as RFC 3339 in UTC with microseconds, as tracing-subscriber writes it
/// (`2026-11-22T00:54:25.038522Z`). Lines come thousands a second: each thread formats the
/// date and time of day once per second and appends the microseconds.
fn timestamp(writer: &mut impl Write) -> fmt::Result {
    thread_local! {
        static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (second, mut text) = SECOND.get();
    if second != now.as_secs() {
        let whole = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.as_secs());
        let formatted = humantime::format_rfc3339_seconds(whole).to_string();
        text.copy_from_slice(&formatted.as_bytes()[..19]);
        SECOND.set((now.as_secs(), text));
    }
    let mut micros = now.subsec_micros();
    let mut fraction = *b".000000Z";
    for digit in fraction[1..7].iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    writer.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)?;
    writer.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

/// The level, right-aligned to five characters, coloured on a terminal as tracing colours it.
fn level(writer: &mut Writer<'_>, level: &Level) -> fmt::Result {
    let (name, colour) = match *level {
        Level::ERROR => ("ERROR", "31"),
        Level::WARN => (" WARN", "33"),
        Level::INFO => (" INFO", "32"),
        Level::DEBUG => ("DEBUG", "34"),
        Level::TRACE => ("TRACE", "35"),
    };
    if writer.has_ansi_escapes() {
        write!(writer, "\x1b[{colour}m{name}\x1b[0m")
    } else {
        writer.write_str(name)
    }
}

/// Writes fields as `,"key":value` (JSON; `continued` puts a comma before the first too) or
/// ` key=value` (human; the message bare and first).
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    style: LogFormat,
    continued: bool,
    result: fmt::Result,
}

impl<'a, 'w> Fields<'a, 'w> {
    fn new(writer: &'a mut Writer<'w>, style: LogFormat, continued: bool) -> Self {
        Self {
            writer,
            style,
            continued,
            result: Ok(()),
        }
    }

    /// Writes the separator and key, then the value with `value`, keeping the first error.
    fn field(
        &mut self,
        field: &Field,
        value: impl FnOnce(&mut Writer<'w>, LogFormat) -> fmt::Result,
    ) {
        if self.result.is_err() {
            return;
        }
        let continued = std::mem::replace(&mut self.continued, true);
        self.result = (|| {
            let name = field.name();
            match self.style {
                LogFormat::Json => {
                    if continued {
                        self.writer.write_char(',')?;
                    }
                    json_string(self.writer, name)?;
                    self.writer.write_char(':')?;
                }
                LogFormat::Human if name == "message" => {
                    if continued {
                        self.writer.write_char(' ')?;
                    }
                }
                LogFormat::Human => {
                    if continued {
                        self.writer.write_char(' ')?;
                    }
                    self.writer.write_str(name)?;
                    self.writer.write_char('=')?;
                }
            }
            value(self.writer, self.style)
        })();
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let bare = self.style == LogFormat::Human && field.name() == "message";
        self.field(field, |writer, style| match style {
            _ if bare => ControlEscaped(writer).write_str(value),
            LogFormat::Json => json_string(writer, value),
            LogFormat::Human => debug_quoted(writer, value),
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, |writer, _| write!(writer, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, |writer, _| write!(writer, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.field(field, |writer, style| match style {
            _ if value.is_finite() => writer.write_str(ryu::Buffer::new().format_finite(value)),
            // JSON has no NaN or infinity.
            LogFormat::Json => writer.write_str("null"),
            LogFormat::Human => write!(writer, "{value}"),
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, |writer, _| write!(writer, "{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.field(field, |writer, style| match style {
            LogFormat::Json => {
                writer.write_char('"')?;
                write!(JsonEscaped(&mut *writer), "{value:?}")?;
                writer.write_char('"')
            }
            // `%` fields and messages come here: upstream text (an error body) among them.
            LogFormat::Human => write!(ControlEscaped(&mut *writer), "{value:?}"),
        });
    }
}

/// Escapes control characters (a newline above all) for the human format, so that text from
/// outside (an upstream's error body) cannot start a log line of its own or drive a terminal.
struct ControlEscaped<W>(W);

impl<W: Write> Write for ControlEscaped<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, c) in text.char_indices() {
            if !c.is_control() {
                continue;
            }
            self.0.write_str(&text[plain..at])?;
            match c {
                '\n' => self.0.write_str("\\n")?,
                '\r' => self.0.write_str("\\r")?,
                '\t' => self.0.write_str("\\t")?,
                _ => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            plain = at + c.len_utf8();
        }
        self.0.write_str(&text[plain..])
    }
}

/// `text` quoted as `Debug` quotes it. Most strings need no escape, and then copying them
/// between quotes is far cheaper than `Debug`'s character-by-character escaping.
fn debug_quoted(writer: &mut impl Write, text: &str) -> fmt::Result {
    if text
        .bytes()
        .all(|byte| (b' '..=b'~').contains(&byte) && byte != b'"' && byte != b'\\')
    {
        writer.write_char('"')?;
        writer.write_str(text)?;
        writer.write_char('"')
    } else {
        write!(writer, "{text:?}")
    }
}

/// `text` as a JSON string, quotes included.
fn json_string(writer: &mut impl Write, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    JsonEscaped(&mut *writer).write_str(text)?;
    writer.write_char('"')
}

/// Escapes what it is given for the inside of a JSON string.
struct JsonEscaped<W>(W);

impl<W: Write> Write for JsonEscaped<W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// What one event inside a span logs in `style`.
    fn log_in(style: LogFormat) -> String {
        logged(style, || {
            let span =
                tracing::info_span!("fetch", request_id = "r-1", attempt = tracing::field::Empty);
            span.record("attempt", 2);
            let _entered = span.enter();
            tracing::info!(
                target: "piraeus::request",
                path = "/a \"b\"\n\\c",
                status = 200u16,
                ms = 0.25,
                bad = f64::NAN,
                ok = true,
                method = ?"GET",
                "request {}",
                7
            );
            tracing::warn!("bare");
        })
    }

    /// What `events` log in `style`.
    fn logged(style: LogFormat, events: impl FnOnce()) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_ansi(false)
            .event_format(Lines(style))
            .fmt_fields(Lines(style))
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn json_lines_parse_with_every_field() {
        let text = log_in(LogFormat::Json);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
            .collect();
        let line = &lines[0];
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["message"], "request 7");
        assert_eq!(line["path"], "/a \"b\"\n\\c");
        assert_eq!(line["status"], 200);
        assert_eq!(line["ms"], 0.25);
        assert_eq!(line["bad"], serde_json::Value::Null);
        assert_eq!(line["ok"], true);
        assert_eq!(line["method"], "\"GET\"");
        assert_eq!(line["target"], "piraeus::request");
        assert_eq!(
            line["spans"],
            serde_json::json!([{"request_id": "r-1", "attempt": 2, "name": "fetch"}])
        );
        let timestamp = line["timestamp"].as_str().unwrap();
        assert!(
            timestamp.ends_with('Z') && timestamp.contains('T'),
            "{timestamp}"
        );
        assert_eq!(lines[1]["level"], "WARN");
        assert_eq!(lines[1]["message"], "bare");
    }

    #[test]
    fn human_lines_read_as_tracing_writes_them() {
        let text = log_in(LogFormat::Human);
        let first = text.lines().next().unwrap();
        let (_, rest) = first.split_once(' ').unwrap();
        assert_eq!(
            rest,
            " INFO fetch{request_id=\"r-1\" attempt=2}: piraeus::request: request 7 \
             path=\"/a \\\"b\\\"\\n\\\\c\" status=200 ms=0.25 bad=NaN ok=true method=\"GET\""
        );
        let second = text.lines().nth(1).unwrap();
        assert!(
            second.ends_with(
                " WARN fetch{request_id=\"r-1\" attempt=2}: \
                 piraeus_core::telemetry::format::tests: bare"
            ),
            "{second}"
        );
    }

    #[test]
    fn upstream_text_cannot_start_a_human_line_of_its_own() {
        let body =
            "not found\n2026-12-07T00:00:00.000000Z  INFO piraeus::request: forged\r\u{1b}[2J";
        let text = logged(LogFormat::Human, || {
            tracing::warn!(error = %body, "upstream said {body}");
        });
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(
            text.ends_with(
                "upstream said not found\\n2026-12-07T00:00:00.000000Z  INFO piraeus::request: \
                 forged\\r\\u{1b}[2J error=not found\\n2026-12-07T00:00:00.000000Z  INFO \
                 piraeus::request: forged\\r\\u{1b}[2J\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds() {
        for _ in 0..3 {
            let mut text = String::new();
            timestamp(&mut text).unwrap();
            assert_eq!(text.len(), "2026-11-22T00:54:25.038522Z".len(), "{text}");
            let parsed = humantime::parse_rfc3339(&text).unwrap();
            let off = std::time::SystemTime::now()
                .duration_since(parsed)
                .unwrap_or_default();
            assert!(off < std::time::Duration::from_secs(2), "{text}");
        }
    }

    #[test]
    fn quoting_matches_debug() {
        for text in [
            "plain",
            "",
            "a b/c@v1.0.0",
            "q\"uote",
            "back\\slash",
            "nl\n",
            "é",
            "\u{1}",
        ] {
            let mut quoted = String::new();
            debug_quoted(&mut quoted, text).unwrap();
            assert_eq!(quoted, format!("{text:?}"));
        }
    }
}
