//! Log lines in nats-server's exact format, through the `log` facade, so that
//! whatever reads nats-server's logs (people, grep, log shippers) reads Shoal's:
//!
//! ```text
//! [PID] 2026/11/29 01:18:50.500914 [INF] Starting nats-server
//! [PID] [INF] Starting nats-server                       (with -T=false)
//! ```
//!
//! Time is local (`localtime_r`) or UTC (`--logtime_utc`), with microseconds.
//! Levels: `FTL` (an error logged to [`FATAL`]; the process exits after it), `ERR`,
//! `WRN`, `INF`, `DBG` (shown with `-D`) and `TRC` (`log::Level::Trace`, shown with
//! `-V`). As in nats-server, debug and trace are independent: `-V` alone shows
//! trace lines but not debug lines.
//!
//! Only Shoal's own crates (targets starting `shoal`) log below warning; other
//! crates (glommio) show warnings and errors only. A reload changes levels,
//! stamps and the file while running ([`reconfigure`]); SIGUSR1 reopens the
//! file ([`reopen`]).
//!
//! No thread that logs ever writes: a line is queued on the logging thread's
//! own lane and one writer thread writes it, to stderr or appended to the `-l`
//! file ([`queue`]). A core whose sink stalls loses log lines (counted, and
//! said in the next line that gets through), never time. [`line`] formats.

mod line;
mod queue;

pub use line::Stamp;

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use line::StampCache;
use queue::Tag;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Log target whose error records are printed as `[FTL]`:
/// `log::error!(target: logging::FATAL, "...")`.
pub const FATAL: &str = "shoal::fatal";

/// How and where to log (from `-l`, `-T`, `--logtime_utc`, `-D`, `-V` or the
/// configuration file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Append to this file instead of writing to stderr.
    pub file: Option<PathBuf>,
    pub debug: bool,
    pub trace: bool,
    /// Timestamps on each line (nats-server default: on).
    pub logtime: bool,
    /// Timestamps in UTC rather than local time.
    pub utc: bool,
}

/// The process-wide logger. Levels and stamps are atomics (levels read by the
/// thread that logs, stamps by the writer); the output sits behind a mutex
/// that only the writer thread takes to write, swapped by [`reconfigure`]
/// (SIGHUP) and [`reopen`] (SIGUSR1).
struct NatsLogger {
    debug: AtomicBool,
    trace: AtomicBool,
    logtime: AtomicBool,
    utc: AtomicBool,
    out: Mutex<Output>,
    pid: u32,
    /// The writer's stamp cache (only the writer thread formats).
    stamps: Mutex<StampCache>,
}

struct Output {
    file: Option<PathBuf>,
    sink: Box<dyn Write + Send>,
}

static LOGGER: OnceLock<NatsLogger> = OnceLock::new();

fn open(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o660)
        .open(path)?;
    Ok(Box::new(file))
}

fn output(opts: &Options) -> io::Result<Output> {
    let sink: Box<dyn Write + Send> = match &opts.file {
        Some(path) => open(path)?,
        None => Box::new(io::stderr()),
    };
    Ok(Output {
        file: opts.file.clone(),
        sink,
    })
}

/// Install the process-wide logger. Fails only when the log file cannot be opened.
pub fn init(opts: &Options) -> io::Result<()> {
    let logger = NatsLogger {
        debug: AtomicBool::new(opts.debug),
        trace: AtomicBool::new(opts.trace),
        logtime: AtomicBool::new(opts.logtime),
        utc: AtomicBool::new(opts.utc),
        out: Mutex::new(output(opts)?),
        pid: std::process::id(),
        stamps: Mutex::new(StampCache::default()),
    };
    if LOGGER.set(logger).is_err() {
        return reconfigure(opts);
    }
    let logger = LOGGER.get().expect("just set");
    queue::start(logger)?;
    log::set_logger(logger).map_err(io::Error::other)?;
    set_max_level(opts);
    Ok(())
}

fn set_max_level(opts: &Options) {
    log::set_max_level(if opts.trace {
        LevelFilter::Trace
    } else if opts.debug {
        LevelFilter::Debug
    } else {
        LevelFilter::Info
    });
}

/// Apply new logging options (a reload): levels, stamps, and the file if it
/// changed. On failure to open a new file the old output stays.
pub fn reconfigure(opts: &Options) -> io::Result<()> {
    let Some(logger) = LOGGER.get() else {
        return init(opts);
    };
    // Lines logged before the change are written the old way.
    flush();
    {
        let mut out = logger.out.lock().unwrap_or_else(|e| e.into_inner());
        if out.file != opts.file {
            *out = output(opts)?;
        }
    }
    logger.debug.store(opts.debug, Ordering::Relaxed);
    logger.trace.store(opts.trace, Ordering::Relaxed);
    logger.logtime.store(opts.logtime, Ordering::Relaxed);
    logger.utc.store(opts.utc, Ordering::Relaxed);
    set_max_level(opts);
    Ok(())
}

/// Reopen the log file (after rotation). `Ok(false)` when logging to stderr.
pub fn reopen() -> io::Result<bool> {
    let Some(logger) = LOGGER.get() else {
        return Ok(false);
    };
    // Lines logged before the reopen belong in the old (rotated) file.
    flush();
    let mut out = logger.out.lock().unwrap_or_else(|e| e.into_inner());
    let Some(path) = out.file.clone() else {
        return Ok(false);
    };
    out.sink = open(&path)?;
    Ok(true)
}

impl Log for NatsLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let ours = metadata.target().starts_with("shoal");
        match metadata.level() {
            Level::Error | Level::Warn => true,
            Level::Info => ours,
            // As in nats-server, debug and trace are independent: `-V` alone shows
            // trace lines but not debug lines.
            Level::Debug => ours && self.debug.load(Ordering::Relaxed),
            Level::Trace => ours && self.trace.load(Ordering::Relaxed),
        }
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        queue::push(tag(record), SystemTime::now(), record.args());
    }

    /// Writes everything queued so far (at most one second: a stalled sink
    /// must not keep the process from exiting).
    fn flush(&self) {
        flush();
    }
}

impl queue::Sink for NatsLogger {
    fn write(&self, bytes: &[u8]) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.sink.write_all(bytes);
    }

    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.sink.flush();
    }

    fn format(&self, buf: &mut Vec<u8>, at: Duration, tag: Tag, text: &[u8]) {
        let stamp = self.logtime.load(Ordering::Relaxed).then(|| {
            let utc = self.utc.load(Ordering::Relaxed);
            self.stamps
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stamp(at, utc)
        });
        let _ = line::write_line(buf, self.pid, stamp, tag.text(), text);
    }
}

/// Writes what is queued, waiting at most a second; false if the sink did not
/// take it in time.
pub fn flush() -> bool {
    queue::flush(Duration::from_secs(1))
}

/// nats-server's three-letter level.
fn tag(record: &Record) -> Tag {
    match record.level() {
        Level::Error if record.target() == FATAL => Tag::Ftl,
        Level::Error => Tag::Err,
        Level::Warn => Tag::Wrn,
        Level::Info => Tag::Inf,
        Level::Debug => Tag::Dbg,
        Level::Trace => Tag::Trc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_nats_tags() {
        let tag_of = |level, target| {
            tag(&Record::builder()
                .level(level)
                .target(target)
                .args(format_args!(""))
                .build())
            .text()
        };
        assert_eq!(tag_of(Level::Error, FATAL), "FTL");
        assert_eq!(tag_of(Level::Error, "shoal"), "ERR");
        assert_eq!(tag_of(Level::Warn, "shoal"), "WRN");
        assert_eq!(tag_of(Level::Info, "shoal"), "INF");
        assert_eq!(tag_of(Level::Debug, "shoal"), "DBG");
        assert_eq!(tag_of(Level::Trace, "shoal_server"), "TRC");
    }
}
