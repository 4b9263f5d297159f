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
//! crates (glommio) show warnings and errors only. Lines go to stderr, or appended
//! to the `-l` file, one `write` per line. A reload changes levels, stamps and the
//! file while running ([`reconfigure`]); SIGUSR1 reopens the file ([`reopen`]).

use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// The process-wide logger. Levels and stamps are atomics (read on every record);
/// the output sits behind a mutex taken only to write a line, swapped by
/// [`reconfigure`] (SIGHUP) and [`reopen`] (SIGUSR1).
struct NatsLogger {
    debug: AtomicBool,
    trace: AtomicBool,
    logtime: AtomicBool,
    utc: AtomicBool,
    out: Mutex<Output>,
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
    };
    if LOGGER.set(logger).is_err() {
        return reconfigure(opts);
    }
    let logger = LOGGER.get().expect("just set");
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
        let stamp = self
            .logtime
            .load(Ordering::Relaxed)
            .then(|| Stamp::at(SystemTime::now(), self.utc.load(Ordering::Relaxed)));
        let mut line = Vec::with_capacity(128);
        let _ = write_line(
            &mut line,
            std::process::id(),
            stamp,
            tag(record),
            record.args(),
        );
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.sink.write_all(&line);
    }

    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let _ = out.sink.flush();
    }
}

/// nats-server's three-letter level.
fn tag(record: &Record) -> &'static str {
    match record.level() {
        Level::Error if record.target() == FATAL => "FTL",
        Level::Error => "ERR",
        Level::Warn => "WRN",
        Level::Info => "INF",
        Level::Debug => "DBG",
        Level::Trace => "TRC",
    }
}

/// One whole line, `[PID] <stamp> [TAG] message\n`.
fn write_line(
    out: &mut dyn Write,
    pid: u32,
    stamp: Option<Stamp>,
    tag: &str,
    msg: &fmt::Arguments,
) -> io::Result<()> {
    match stamp {
        Some(stamp) => writeln!(out, "[{pid}] {stamp} [{tag}] {msg}"),
        None => writeln!(out, "[{pid}] [{tag}] {msg}"),
    }
}

/// A wall-clock time broken down as Go's `log` package prints it:
/// `2026/11/29 01:18:50.500914` (with microseconds) or `2026/11/29 01:18:50`.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    tm: libc::tm,
    micros: Option<u32>,
}

impl Stamp {
    /// `time` in local time (or UTC), with microseconds.
    pub fn at(time: SystemTime, utc: bool) -> Stamp {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs() as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value (integers, and a null zone name
        // that is never read here).
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call; the
        // re-entrant variants write only into `tm`. On failure `tm` stays zeroed.
        unsafe {
            if utc {
                libc::gmtime_r(&secs, &mut tm);
            } else {
                libc::localtime_r(&secs, &mut tm);
            }
        }
        Stamp {
            tm,
            micros: Some(since.subsec_micros()),
        }
    }

    /// The same instant to the second, as Go's standard `log` prefix
    /// (`log.LstdFlags`) prints it.
    pub fn seconds(self) -> Stamp {
        Stamp {
            micros: None,
            ..self
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tm = &self.tm;
        write!(
            f,
            "{:04}/{:02}/{:02} {:02}:{:02}:{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        )?;
        match self.micros {
            Some(us) => write!(f, ".{us:06}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn line(stamp: Option<Stamp>, tag: &str, msg: fmt::Arguments) -> String {
        let mut out = Vec::new();
        write_line(&mut out, 42, stamp, tag, &msg).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn stamps_look_like_go_log() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_915_130_500_914);
        assert_eq!(Stamp::at(t, true).to_string(), "2026/11/29 01:18:50.500914");
        assert_eq!(
            Stamp::at(t, true).seconds().to_string(),
            "2026/11/29 01:18:50"
        );
        let early = UNIX_EPOCH + Duration::from_micros(1_000_007);
        assert_eq!(
            Stamp::at(early, true).to_string(),
            "1970/01/01 00:00:01.000007"
        );
    }

    #[test]
    fn lines_look_like_nats_server() {
        let t = UNIX_EPOCH + Duration::from_micros(1_795_915_130_500_914);
        assert_eq!(
            line(
                Some(Stamp::at(t, true)),
                "INF",
                format_args!("Starting nats-server")
            ),
            "[42] 2026/11/29 01:18:50.500914 [INF] Starting nats-server\n"
        );
        assert_eq!(
            line(None, "WRN", format_args!("x {}", 1)),
            "[42] [WRN] x 1\n"
        );
    }

    #[test]
    fn levels_map_to_nats_tags() {
        let tag_of = |level, target| {
            tag(&Record::builder()
                .level(level)
                .target(target)
                .args(format_args!(""))
                .build())
        };
        assert_eq!(tag_of(Level::Error, FATAL), "FTL");
        assert_eq!(tag_of(Level::Error, "shoal"), "ERR");
        assert_eq!(tag_of(Level::Warn, "shoal"), "WRN");
        assert_eq!(tag_of(Level::Info, "shoal"), "INF");
        assert_eq!(tag_of(Level::Debug, "shoal"), "DBG");
        assert_eq!(tag_of(Level::Trace, "shoal_server"), "TRC");
    }
}
