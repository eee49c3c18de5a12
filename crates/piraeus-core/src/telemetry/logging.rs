//! Log set-up shared by `piraeus` and the Lambda functions: one line per event on stderr,
//! filtered by `PIRAEUS_LOG` (like `RUST_LOG`; default `info`).

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::sync::LazyLock;

use super::format::Lines;
pub use super::format::LogFormat;

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

fn write_stderr(buf: &[u8]) -> std::io::Result<()> {
    match STDERR.as_ref() {
        Some(mut file) => file.write_all(buf),
        None => std::io::stderr().write_all(buf),
    }
}

/// Lines from a runtime worker wait here until the worker runs out of work, so that a busy
/// server writes many request lines with one `write` instead of one each (a tenth of the CPU of
/// a hit went to those writes). `None` on threads that have never parked: the main thread, the
/// blocking pool and every thread of a process that does not hand [`worker_parking`] to its
/// runtime (the Lambda functions, whose lines must be out before the invocation returns).
struct Batch {
    lines: Vec<u8>,
}

/// A worker that never parks (every task it polls wakes another) still writes this often.
const BATCH_BYTES: usize = 32 * 1024;

impl Batch {
    fn write_out(&mut self) {
        if !self.lines.is_empty() {
            // Nowhere to report a failed log write.
            let _ = write_stderr(&self.lines);
            self.lines.clear();
        }
    }
}

/// A worker that stops (the runtime shutting down) writes what it held as its thread-locals go.
impl Drop for Batch {
    fn drop(&mut self) {
        self.write_out();
    }
}

thread_local! {
    static BATCH: RefCell<Option<Batch>> = const { RefCell::new(None) };
}

/// For tokio's `on_thread_park`: this thread is a worker that has run out of work. It writes
/// the lines it holds, and from now on holds its lines until it parks again: a line reaches
/// the log microseconds after the request that logged it, unless the worker has more to do.
pub fn worker_parking() {
    let _ = BATCH.try_with(|batch| {
        let Ok(mut batch) = batch.try_borrow_mut() else {
            return;
        };
        match batch.as_mut() {
            Some(batch) => batch.write_out(),
            None => {
                *batch = Some(Batch {
                    lines: Vec::with_capacity(BATCH_BYTES),
                })
            }
        }
    });
}

/// Where each log line goes: held in this thread's batch (request lines and other routine
/// events on a worker), or written at once. Warnings and errors are written at once, after
/// whatever this thread held, so an alarm is never waiting in memory when the process dies.
enum LogWriter {
    Batched,
    Direct,
}

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        let held = BATCH
            .try_with(|batch| {
                let Ok(mut batch) = batch.try_borrow_mut() else {
                    return false;
                };
                let Some(batch) = batch.as_mut() else {
                    return false;
                };
                if matches!(self, LogWriter::Direct) {
                    batch.write_out();
                    return false;
                }
                batch.lines.extend_from_slice(buf);
                if batch.lines.len() >= BATCH_BYTES {
                    batch.write_out();
                }
                true
            })
            .unwrap_or(false);
        if held { Ok(()) } else { write_stderr(buf) }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Chooses, per event, whether its line may wait in the thread's batch.
struct Stderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = LogWriter;

    fn make_writer(&'a self) -> LogWriter {
        LogWriter::Direct
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> LogWriter {
        // tracing orders levels by verbosity: INFO and below-in-severity are "greater".
        if *meta.level() >= tracing::Level::INFO {
            LogWriter::Batched
        } else {
            LogWriter::Direct
        }
    }
}

pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIRAEUS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a terminal: log files, pipes and Lambda get plain text.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Stderr)
        .with_ansi(colours && format == LogFormat::Human)
        .event_format(Lines(format))
        .fmt_fields(Lines(format))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held() -> usize {
        BATCH.with(|batch| batch.borrow().as_ref().map_or(0, |batch| batch.lines.len()))
    }

    #[test]
    fn a_worker_holds_routine_lines_until_it_parks_and_never_holds_a_warning() {
        std::thread::spawn(|| {
            LogWriter::Batched.write_all(b"").unwrap();
            assert_eq!(held(), 0, "a thread that never parked writes at once");
            worker_parking();
            LogWriter::Batched.write_all(b"held\n").unwrap();
            assert_eq!(held(), 5, "a worker holds a routine line");
            LogWriter::Direct.write_all(b"").unwrap();
            assert_eq!(held(), 0, "a warning first writes what was held");
            LogWriter::Batched.write_all(b"held\n").unwrap();
            worker_parking();
            assert_eq!(held(), 0, "parking writes what was held");
            LogWriter::Batched
                .write_all(&vec![b' '; BATCH_BYTES])
                .unwrap();
            assert_eq!(held(), 0, "a full batch is written without waiting to park");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn info_and_more_verbose_levels_are_batched_warnings_and_errors_are_not() {
        // make_writer_for relies on tracing ordering levels by verbosity.
        assert!(tracing::Level::DEBUG > tracing::Level::INFO);
        assert!(tracing::Level::WARN < tracing::Level::INFO);
        assert!(tracing::Level::ERROR < tracing::Level::INFO);
    }
}
