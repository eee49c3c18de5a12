//! Log set-up shared by `piraeus` and the Lambda functions: one line per event on stderr,
//! filtered by `PIRAEUS_LOG` (like `RUST_LOG`; default `info`).

use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::LazyLock;

use super::format::Lines;

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

/// stderr as a plain file (a duplicate of descriptor 2). The formatter writes each line with one
/// `write_all`, so lines do not interleave; going around `std::io::Stderr` avoids its lock, on
/// which the runtime's worker threads contended at every request line, handing the lock back
/// and forth at a cost greater than the write itself.
static STDERR: LazyLock<Option<File>> = LazyLock::new(|| {
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .ok()
        .map(File::from)
});

/// Where each log line goes: unlocked stderr when it could be duplicated, else `Stderr`.
enum LogWriter {
    Unlocked(&'static File),
    Locked(std::io::Stderr),
}

fn stderr_writer() -> LogWriter {
    match STDERR.as_ref() {
        Some(file) => LogWriter::Unlocked(file),
        None => LogWriter::Locked(std::io::stderr()),
    }
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            LogWriter::Unlocked(file) => file.write(buf),
            LogWriter::Locked(stderr) => stderr.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            LogWriter::Unlocked(file) => file.write_all(buf),
            LogWriter::Locked(stderr) => stderr.write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIRAEUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a terminal: log files, pipes and Lambda get plain text.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stderr_writer)
        .with_ansi(colours && format == LogFormat::Human)
        .event_format(Lines(format))
        .fmt_fields(Lines(format))
        .init();
}
