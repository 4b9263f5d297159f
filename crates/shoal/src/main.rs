//! `shoal`: a drop-in replacement for the `nats-server` command. Same flags, same
//! log lines, same PID and ports files, same signals; behind them the thread-per-core
//! runtime of `shoal-server`.
//!
//! This file is the sequence of a run and the one place where a failure becomes a
//! message and an exit code ([`Failure::report`]). The concerns live beside it:
//! `flags` (the command line, Go `flag` style), `options` (flags → runtime
//! `Config`, nats-server's defaults and cross-checks), `units` (value syntaxes),
//! `logging` (nats-server's log format), `signals` (blocking and waiting for
//! them), `files` (PID and ports files), `goerr` (Go's wording of OS errors).
//!
//! A run: parse flags → start logging → block signals (before any core thread
//! exists, so that every core inherits the mask) → banner, PID file →
//! `Server::start` → `Listening …`, `Server is ready`, ports file → wait for a
//! signal in this thread → shut down → `Server Exiting..`, exit 0.

mod files;
mod flags;
mod goerr;
mod logging;
mod options;
mod signals;
mod units;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

use log::{error, info, warn};
use shoal_server::{BootError, Server, NATS_VERSION, SHOAL_VERSION};

use crate::flags::Parsed;
use crate::options::Options;
use crate::signals::Signal;

/// How nats-server names itself in `-v` and in the errors it prints before its
/// logger exists. Tools parse these lines, so Shoal prints the same name.
const NATS_SERVER: &str = "nats-server";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let exe = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "shoal".to_string());
    match run(&exe, args.get(1..).unwrap_or_default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(&exe),
    }
}

/// Why a run ended early. Every variant exits 1; they differ in how nats-server
/// words and prints them.
enum Failure {
    /// The command line was refused (before logging starts).
    Flags(flags::Error),
    /// Options contradict each other: `nats-server: <msg>` (before logging starts).
    Options(String),
    /// The `-l` file could not be opened: reported like Go's `log.Fatalf`.
    LogFile(PathBuf, io::Error),
    /// Logged as `[FTL] <msg>` (PID file, bad port, signal mask).
    Fatal(String),
    /// The runtime could not start: logged as `[FTL]`.
    Boot(BootError),
}

impl Failure {
    /// Print the failure as nats-server would and give the exit code.
    fn report(self, exe: &str) -> ExitCode {
        match self {
            Failure::Flags(flags::Error::Usage(msg)) => {
                eprintln!("{msg}");
                eprintln!("Run '{exe} -h' for the list of flags.");
            }
            Failure::Flags(flags::Error::NotSupported(flag)) => {
                eprintln!("{flag} is not supported by this version of shoal yet");
            }
            Failure::Flags(flags::Error::UnrecognizedCommand(word)) => {
                eprintln!("{NATS_SERVER}: unrecognized command: {word:?}");
            }
            Failure::Options(msg) => eprintln!("{NATS_SERVER}: {msg}"),
            Failure::LogFile(path, err) => eprintln!(
                "{} error opening file: {}",
                logging::Stamp::at(SystemTime::now(), false).seconds(),
                goerr::go_error("open", &path, &err)
            ),
            Failure::Fatal(msg) => error!(target: logging::FATAL, "{msg}"),
            Failure::Boot(BootError::IoUringUnavailable(why)) => error!(
                target: logging::FATAL,
                "io_uring is unavailable ({why}): if running in a container, allow io_uring \
                 in its seccomp profile (see deploy/); check `sysctl kernel.io_uring_disabled` \
                 (must be 0)"
            ),
            Failure::Boot(BootError::Bind(addr, err)) => {
                error!(target: logging::FATAL, "{}", goerr::listen_error(&addr, &err))
            }
            Failure::Boot(err) => error!(target: logging::FATAL, "{err}"),
        }
        ExitCode::FAILURE
    }
}

fn run(exe: &str, args: &[OsString]) -> Result<(), Failure> {
    let args = args
        .iter()
        .map(|a| {
            a.to_str().map(str::to_string).ok_or_else(|| {
                Failure::Flags(flags::Error::Usage(format!(
                    "argument is not valid UTF-8: {}",
                    a.to_string_lossy()
                )))
            })
        })
        .collect::<Result<Vec<String>, Failure>>()?;
    let flags = match flags::parse(&args).map_err(Failure::Flags)? {
        Parsed::Version => {
            println!("{NATS_SERVER}: v{NATS_VERSION}");
            return Ok(());
        }
        Parsed::Help => {
            println!("{}", flags::USAGE);
            return Ok(());
        }
        Parsed::Run(flags) => flags,
    };
    let mut opts = Options::from_flags(*flags).map_err(Failure::Options)?;
    logging::init(&opts.log)
        .map_err(|e| Failure::LogFile(opts.log.file.clone().unwrap_or_default(), e))?;
    signals::block().map_err(|e| Failure::Fatal(format!("Could not block signals: {e}")))?;

    info!("Starting nats-server");
    info!("  Version:  {NATS_VERSION}");
    info!("  Git:      [not set]");
    if let Some(path) = &opts.pid_file {
        files::write_pid_file(path).map_err(Failure::Fatal)?;
    }
    opts.config.port =
        options::listen_port(&opts.config.host, opts.port).map_err(Failure::Fatal)?;
    let host = opts.config.host.clone();
    let name = opts.config.server_name.clone();

    let server = Server::start(opts.config).map_err(Failure::Boot)?;

    let id = server.server_id();
    info!("  Name:     {}", name.as_deref().unwrap_or(id));
    info!("  ID:       {id}");
    let cores = server.cores();
    let unit = if cores == 1 { "core" } else { "cores" };
    info!("  Shoal:    {SHOAL_VERSION}, {cores} {unit}");
    let addr = server.local_addr();
    info!(
        "Listening for client connections on {}",
        options::join_host_port(&host, &addr.port().to_string())
    );
    // The ports file exists before "Server is ready": tools wait for either.
    let ports_file = opts
        .ports_file_dir
        .as_deref()
        .map(|dir| files::ports_file_path(dir, exe));
    if let Some(path) = &ports_file {
        if let Err(msg) = files::write_ports_file(path, addr) {
            error!("{msg}");
        }
    }
    info!("Server is ready");

    wait_for_shutdown_signal();

    info!("Initiating Shutdown...");
    server.shutdown();
    if let Some(path) = &ports_file {
        if let Err(msg) = files::remove_ports_file(path) {
            error!("{msg}");
        }
    }
    info!("Server Exiting..");
    Ok(())
}

/// Sit in `sigwait` until SIGINT or SIGTERM. The other signals nats-server answers
/// are acknowledged; what they do there comes in later versions.
fn wait_for_shutdown_signal() {
    loop {
        let signal = match signals::wait() {
            Ok(signal) => signal,
            Err(e) => {
                error!("Could not wait for signals ({e}), shutting down");
                return;
            }
        };
        info!("Trapped {:?} signal", signal.go_name());
        match signal {
            Signal::Interrupt | Signal::Terminate => return,
            Signal::Hangup => {
                warn!("Config reload is not supported by this version of shoal yet, ignoring")
            }
            Signal::User1 => {
                warn!("Log file re-open is not supported by this version of shoal yet, ignoring")
            }
            Signal::User2 => {
                warn!("Lame duck mode is not supported by this version of shoal yet, ignoring")
            }
        }
    }
}
