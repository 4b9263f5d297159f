//! `shoal`: a drop-in replacement for the `nats-server` command. Same flags, same
//! log lines, same PID and ports files, same signals; behind them the thread-per-core
//! runtime of `shoal-server`.
//!
//! This file is the sequence of a run and the one place where a failure becomes a
//! message and an exit code ([`Failure::report`]). The concerns live beside it:
//! `flags` (the command line, Go `flag` style), `config` (configuration file keys),
//! `options` (file + flags → runtime `Config`, nats-server's defaults,
//! cross-checks and what a reload may change), `units` (value syntaxes),
//! `logging` (nats-server's log format), `signals` (blocking, waiting, sending),
//! `files` (PID and ports files), `goerr` (Go's wording of OS errors).
//!
//! A run: parse flags (`--signal` sends and exits; `-t` checks the file and
//! exits) → load the file and apply the flags over it → start logging → block
//! signals (before any core thread exists, so that every core inherits the mask)
//! → banner, PID file → `Server::start` → `Listening …`, `Server is ready`, ports
//! file → answer signals in this thread (`run_signals`: HUP reloads, USR1 reopens
//! the log, USR2 enters lame duck mode, INT and TERM stop) → shut down →
//! `Server Exiting..`, exit 0.

mod accountsconf;
mod authconf;
mod clusterconf;
mod config;
mod dirresolver;
mod files;
mod flags;
mod goerr;
mod importsconf;
mod jsconf;
mod leafconf;
mod logging;
mod mappingsconf;
mod operatorconf;
mod options;
mod perms;
mod report;
mod settings;
mod signals;
mod tlsconf;
mod units;
mod wsconf;

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use log::{error, info, warn};
use shoal_server::{BootError, Server, NATS_VERSION, SHOAL_VERSION};

use crate::config::Report;
use crate::flags::{Flags, Parsed};
use crate::options::{LoadError, Options};
use crate::signals::Signal;

// The allocator: jemalloc, with its background threads purging freed memory
// after one second (dirty, then muzzy, pages).
//
// Why not glibc's malloc: with its defaults, the 64 KiB read and output
// buffers allocated and freed at message rate under large payloads became page
// faults and munmaps on every pass; tuned not to trim (as Shoal first ran), it
// never gave memory back: RSS stayed at the peak of a flood of 5000
// connections with 100k subscriptions (181 MB) long after they closed, and
// malloc_trim would lock every core's arena to fix that. jemalloc keeps freed
// memory warm for a second, so steady traffic reuses it, then returns it from
// its own threads, never a core's: the same flood falls back to ~21 MB within
// three seconds (perf/runs/2026-12-01-vm-alloc has the side-by-side rates).
// mimalloc was tried too: its purging runs on the allocating thread, so an
// idle core never returned anything (578 MB peak, kept).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options (read at its first allocation): background
/// purging threads (created with every signal blocked, so a process signal
/// always reaches the signal loop), one-second decay.
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:1000\0";

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
    let code = match run(&exe, args.get(1..).unwrap_or_default()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(&exe),
    };
    // Log lines are written by the logging thread: let it finish (bounded).
    logging::flush();
    code
}

/// Why a run ended early. Every variant exits 1; they differ in how nats-server
/// words and prints them.
enum Failure {
    /// The command line was refused (before logging starts).
    Flags(flags::Error),
    /// Options contradict each other: `nats-server: <msg>` (before logging starts).
    Options(String),
    /// The configuration file is not valid syntax or cannot be read.
    Conf(shoal_conf::Error),
    /// Keys or values of the configuration file were refused (with `-t`,
    /// warnings too): one line each, with file, line and column.
    Report(Vec<String>),
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
            Failure::Conf(err) => eprintln!("{NATS_SERVER}: {err}"),
            Failure::Report(lines) => {
                // nats-server's processConfigErr: every line ends with a newline,
                // and the message is printed with one more.
                let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
                eprintln!("{NATS_SERVER}: {text}");
            }
            Failure::LogFile(path, err) => eprintln!(
                "{} error opening file: {}",
                logging::Stamp::at(SystemTime::now(), false).seconds(),
                goerr::go_error("open", &path, &err)
            ),
            Failure::Fatal(msg) => error!(target: logging::FATAL, "{msg}"),
            // The runtime's text names the cause and its fix.
            Failure::Boot(BootError::IoUringUnavailable(why)) => {
                error!(target: logging::FATAL, "io_uring is unavailable: {why}")
            }
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
        Parsed::HelpTls => {
            print!("{}", flags::tls_usage());
            return Ok(());
        }
        Parsed::Run(flags) => flags,
    };
    if flags.signal.is_some() {
        return send_signal(exe, &flags);
    }
    if flags.test_config {
        return test_config(&flags);
    }
    let loaded = options::load(&flags).map_err(load_failure)?;
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    let mut opts = loaded.options;
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
    // A directory resolver: the store the server asks for pushed claims,
    // which has this thread rebuild the accounts.
    let claims = opts.operator.dir_resolver.clone().map(|d| {
        let (tx, rx) = std::sync::mpsc::channel();
        let store = dirresolver::DirStore::new(d, opts.operator.operators.first(), tx);
        opts.config.claims = Some(shoal_server::claims::Claims(Arc::new(store)));
        rx
    });

    let server = Server::start(opts.config.clone()).map_err(Failure::Boot)?;

    let id = server.server_id();
    if let Some(cluster) = &opts.config.cluster_name {
        info!("  Cluster:  {cluster}");
    }
    info!("  Name:     {}", name.as_deref().unwrap_or(id));
    info!("  ID:       {id}");
    if opts.config.logins.plaintext() {
        warn!("Plaintext passwords detected, use nkeys or bcrypt");
    }
    if let (Some(file), Some(digest)) = (&opts.config_file, &opts.digest) {
        info!("Using configuration file: {file} ({digest})");
    }
    let (lines, warnings) = operatorconf::banner(&opts.operator, &opts.system_account);
    for line in lines {
        info!("{line}");
    }
    for w in warnings {
        warn!("{w}");
    }
    if let Some(sys) = opts.config.logins.system_account() {
        // Not silently: the account and its connection events exist, the
        // rest of its server traffic does not yet.
        warn!(
            "System account {sys:?}: of its requests only $SYS.REQ.SERVER.PING, the server kinds IDZ, STATSZ, VARZ, SUBSZ, CONNZ, ROUTEZ, HEALTHZ and ACCOUNTZ, $SYS.REQ.ACCOUNT.PING.STATZ and (with a directory resolver) the claims requests are answered, and of its events only CONNECT and DISCONNECT are sent, by this version of shoal"
        );
    }
    let cores = server.cores();
    let unit = if cores == 1 { "core" } else { "cores" };
    info!("  Shoal:    {SHOAL_VERSION}, {cores} {unit}");
    if let Some(js) = &opts.config.jetstream {
        jetstream_banner(js);
    }
    if let Some(http) = server.http_addr() {
        let http_host = opts.config.http_host.as_deref().unwrap_or(&host);
        let port = http.port().to_string();
        info!(
            "Starting http monitor on {}",
            options::join_host_port(http_host, &port)
        );
    }
    if let (Some(listen), Some(l)) = (
        server.leafnode(),
        opts.config.leaf.as_ref().and_then(|l| l.listen.as_ref()),
    ) {
        info!(
            "Listening for leafnode connections on {}",
            options::join_host_port(&l.host, &listen.port().to_string())
        );
    }
    if let (Some((listen, tls)), Some(w)) = (server.websocket(), &opts.config.websocket) {
        let scheme = if tls { "wss" } else { "ws" };
        info!(
            "Listening for websocket clients on {scheme}://{}",
            options::join_host_port(&w.host, &listen.port().to_string())
        );
        if !tls {
            warn!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
        }
    }
    let addr = server.local_addr();
    info!(
        "Listening for client connections on {}",
        options::join_host_port(&host, &addr.port().to_string())
    );
    if let Some(tls) = &opts.config.tls {
        let first_only = tls.options.handshake_first && tls.options.fallback.is_none();
        if tls.allow_non_tls && !first_only {
            info!("TLS available for client connections");
        } else {
            info!("TLS required for client connections");
        }
        if first_only {
            log::warn!(
                "Clients that are not using \"TLS Handshake First\" option will fail to connect"
            );
        }
    }
    if let Some((listen, name, dynamic)) = server.cluster() {
        info!("Cluster name is {name}");
        if dynamic {
            warn!("Cluster name was dynamically generated, consider setting one");
        }
        let host = opts.config.cluster.as_ref().map_or("", |c| c.host.as_str());
        info!(
            "Listening for route connections on {}",
            options::join_host_port(host, &listen.port().to_string())
        );
    }
    // The ports file exists before "Server is ready": tools wait for either.
    let ports_file = opts
        .ports_file_dir
        .as_deref()
        .map(|dir| files::ports_file_path(dir, exe));
    if let Some(path) = &ports_file {
        if let Err(msg) = files::write_ports_file(path, &ports_of(&server, &opts)) {
            error!("{msg}");
        }
    }
    info!("Server is ready");

    let mut running = Running {
        exe: exe.to_string(),
        flags: *flags,
        opts,
        server: Arc::new(server),
        ports_file,
        lame_duck: None,
        claims,
    };
    running.run_signals();
    running.stop();
    Ok(())
}

/// A load failure as a reload reports it.
fn load_text(e: LoadError) -> String {
    match e {
        LoadError::Conf(e) => e.to_string(),
        LoadError::Report(r) => report_text(&r),
        LoadError::Invalid(m) => m,
    }
}

/// A load failure as `main` reports it.
fn load_failure(err: LoadError) -> Failure {
    match err {
        LoadError::Conf(e) => Failure::Conf(e),
        LoadError::Report(r) => Failure::Report(r.lines().cloned().collect()),
        LoadError::Invalid(m) => Failure::Options(m),
    }
}

/// `-t`: check the file as a start would, print nats-server's verdict, exit.
/// Warnings fail the check. Shoal also applies the start-up cross-checks
/// (`max_payload ≤ max_pending`, lame duck grace), which nats-server's `-t`
/// skips although its start then fails: a file that passes `-t` starts.
fn test_config(flags: &Flags) -> Result<(), Failure> {
    let Some(path) = &flags.config else {
        return Err(Failure::Options(
            "must specify [-c, --config] option to check configuration file syntax".into(),
        ));
    };
    let loaded = options::load(flags).map_err(load_failure)?;
    if !loaded.warnings.is_empty() {
        return Err(Failure::Report(loaded.warnings));
    }
    eprintln!(
        "{NATS_SERVER}: configuration file {} is valid ({})",
        path.display(),
        loaded.options.digest.unwrap_or_default()
    );
    Ok(())
}

/// `--signal cmd[=pid|pidfile]`: send `cmd`'s signal to a running server. The pid
/// comes from the argument (a number, or a file holding one), else from `-P` or
/// the configuration file's `pid_file`, else from the one process running under
/// this program's name.
fn send_signal(exe: &str, flags: &Flags) -> Result<(), Failure> {
    let spec = flags.signal.as_deref().unwrap_or_default();
    let (name, target) = match spec.split_once('=') {
        Some((name, target)) => (name, Some(target.to_string())),
        None => (spec, None),
    };
    let pid_text = match target {
        Some(t) => read_pid_arg(&t),
        None => match pid_file_of(flags)? {
            Some(path) => read_pid_arg(&path.to_string_lossy()),
            None => running_pid(exe)?,
        },
    };
    let pid: i32 = pid_text
        .parse()
        .map_err(|_| Failure::Options(format!("invalid pid: {pid_text}")))?;
    let command = signals::Command::named(name)
        .ok_or_else(|| Failure::Options(format!("unknown signal {name:?}")))?;
    signals::send(pid, command.signo).map_err(|e| {
        Failure::Options(format!(
            "\nsignal {:?} {pid}: {}",
            command.name,
            goerr::errno_text(&e)
        ))
    })
}

/// nats-server reads a pid argument that names a file as that file's text.
fn read_pid_arg(arg: &str) -> String {
    match std::fs::read_to_string(arg) {
        Ok(text) => text,
        Err(_) => arg.to_string(),
    }
}

/// `-P`, else the configuration file's `pid_file`.
fn pid_file_of(flags: &Flags) -> Result<Option<PathBuf>, Failure> {
    if let Some(pid) = flags.pid.clone().filter(|p| !p.as_os_str().is_empty()) {
        return Ok(Some(pid));
    }
    if flags.config.is_none() {
        return Ok(None);
    }
    let loaded = options::load(flags).map_err(load_failure)?;
    Ok(loaded.options.pid_file)
}

/// The pid of the one other process running as `exe` (nats-server asks `pgrep`).
fn running_pid(exe: &str) -> Result<String, Failure> {
    let me = std::process::id().to_string();
    let comm: String = exe.chars().take(15).collect();
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .map_err(|e| Failure::Options(e.to_string()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()) && *pid != me)
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() == comm)
        })
        .filter_map(|pid| pid.parse().ok())
        .collect();
    pids.sort_unstable();
    match pids.as_slice() {
        [] => Err(Failure::Options(format!("no {exe} processes running"))),
        [pid] => Ok(pid.to_string()),
        many => {
            let list: Vec<String> = many.iter().map(u32::to_string).collect();
            Err(Failure::Options(format!(
                "multiple {exe} processes running:\n{}",
                list.join("\n")
            )))
        }
    }
}

/// A started server and what the signal loop needs to run it.
struct Running {
    exe: String,
    /// The command line, applied again over the file on every reload.
    flags: Flags,
    /// The options in force.
    opts: Options,
    server: Arc<Server>,
    ports_file: Option<PathBuf>,
    /// The thread waiting in `Server::lame_duck`, once SIGUSR2 came.
    lame_duck: Option<JoinHandle<()>>,
    /// A directory resolver's requests to rebuild the accounts.
    claims: Option<std::sync::mpsc::Receiver<dirresolver::Apply>>,
}

impl Running {
    /// Answer signals until the server should stop: SIGINT, SIGTERM (ignored
    /// during lame duck mode), or the end of lame duck mode.
    fn run_signals(&mut self) {
        loop {
            if self.lame_duck.as_ref().is_some_and(|t| t.is_finished()) {
                return;
            }
            let waited = signals::wait_timeout(Duration::from_millis(100));
            self.apply_claims();
            let signal = match waited {
                Ok(Some(signal)) => signal,
                Ok(None) => continue,
                Err(e) => {
                    error!("Could not wait for signals ({e}), shutting down");
                    return;
                }
            };
            info!("Trapped {:?} signal", signal.go_name());
            match signal {
                Signal::Interrupt => {
                    if self.lame_duck.is_some() {
                        // The lame duck thread holds the server: leave at once,
                        // as nats-server does on SIGINT.
                        info!("Initiating Shutdown...");
                        self.remove_ports_file();
                        info!("Server Exiting..");
                        log::logger().flush();
                        std::process::exit(0);
                    }
                    return;
                }
                Signal::Terminate if self.lame_duck.is_some() => {}
                Signal::Terminate => return,
                Signal::Hangup => self.reload(),
                Signal::User1 => match logging::reopen() {
                    Ok(true) => info!("File log re-opened"),
                    Ok(false) => info!("File log re-open ignored, not a file logger"),
                    Err(e) => error!("Unable to re-open the log file: {e}"),
                },
                Signal::User2 => {
                    if self.lame_duck.is_none() {
                        info!("Entering lame duck mode, stop accepting new clients");
                        let server = Arc::clone(&self.server);
                        self.lame_duck = Some(std::thread::spawn(move || server.lame_duck()));
                    }
                }
            }
        }
    }

    /// SIGHUP: read the file again, apply the flags over it, refuse what cannot
    /// change while running, apply the rest.
    fn reload(&mut self) {
        if let Err(why) = self.try_reload() {
            error!("Failed to reload server configuration: {why}");
        }
    }

    /// The operator accounts' keys in id order (a reload keeps their ids).
    fn known_accounts(&self) -> Vec<String> {
        let accounts = self.opts.config.logins.accounts();
        accounts.iter().skip(1).cloned().collect()
    }

    /// Claims a directory resolver saved: the accounts rebuilt from the
    /// directory and put in force (as a reload puts them, without touching
    /// anything else), then each waiting update told.
    fn apply_claims(&mut self) {
        let Some(rx) = &self.claims else {
            return;
        };
        let waiting: Vec<dirresolver::Apply> = rx.try_iter().collect();
        if waiting.is_empty() {
            return;
        }
        let result = self.rebuild_accounts();
        if let Err(e) = &result {
            error!("DirResolver - Update resulted in error {e}");
        }
        for w in waiting {
            let _ = w.send(result.clone());
        }
    }

    fn rebuild_accounts(&mut self) -> Result<(), String> {
        let loaded =
            options::load_keeping(&self.flags, &self.known_accounts()).map_err(load_text)?;
        let new = loaded.options.config;
        let mut config = self.opts.config.clone();
        if new.logins.accounts().len() > config.max_accounts.max(1) {
            return Err("too many accounts".into());
        }
        config.logins = new.logins;
        config.imports = new.imports;
        config.mappings = new.mappings;
        config.services = new.services;
        self.server.reload(config.clone());
        self.opts.config = config;
        Ok(())
    }

    fn try_reload(&mut self) -> Result<(), String> {
        if self.opts.config_file.is_none() {
            return Err(
                "can only reload config when a file is provided using -c or --config".into(),
            );
        }
        let loaded =
            options::load_keeping(&self.flags, &self.known_accounts()).map_err(load_text)?;
        for warning in &loaded.warnings {
            warn!("{warning}");
        }
        let mut new = loaded.options;
        if new.operator.dir_resolver != self.opts.operator.dir_resolver {
            return Err("config reload not supported for AccountResolver".into());
        }
        new.config.claims = self.opts.config.claims.clone();
        // The room for accounts was made at start.
        new.config.max_accounts = self.opts.config.max_accounts;
        let port = self.server.local_addr().port();
        let lines = options::changes(&self.opts, &new, port)?;
        new.config.port = self.opts.config.port;
        // The server applies the new settings first: a lowered max_connections
        // closes connections, which nats-server reports before that option's
        // `Reloaded:` line.
        let closed = self.server.reload(new.config.clone());
        for line in &lines {
            if closed > 0 && line.starts_with("Reloaded: max_connections ") {
                info!("Closed {closed} connections to fall within max_connections");
            }
            info!("{line}");
        }
        if new.pid_file != self.opts.pid_file {
            if let Some(path) = &new.pid_file {
                if let Err(msg) = files::write_pid_file(path) {
                    error!("{msg}");
                }
            }
        }
        if new.ports_file_dir != self.opts.ports_file_dir {
            self.remove_ports_file();
            self.ports_file = new
                .ports_file_dir
                .as_deref()
                .map(|dir| files::ports_file_path(dir, &self.exe));
            if let Some(path) = &self.ports_file {
                if let Err(msg) = files::write_ports_file(path, &ports_of(&self.server, &new)) {
                    error!("{msg}");
                }
            }
        }
        if let Err(e) = logging::reconfigure(&new.log) {
            error!("Unable to apply the new log settings: {e}");
        }
        info!(
            "Reloaded server configuration ({})",
            new.digest.clone().unwrap_or_default()
        );
        self.opts = new;
        Ok(())
    }

    fn remove_ports_file(&mut self) {
        if let Some(path) = self.ports_file.take() {
            if let Err(msg) = files::remove_ports_file(&path) {
                error!("{msg}");
            }
        }
    }

    /// Shut the server down (after lame duck mode, once its thread is done).
    fn stop(mut self) {
        if let Some(thread) = self.lame_duck.take() {
            let _ = thread.join();
        }
        info!("Initiating Shutdown...");
        match Arc::try_unwrap(self.server) {
            Ok(server) => server.shutdown(),
            Err(_) => error!("The server is still in use; exiting without a clean shutdown"),
        }
        if let Some(path) = &self.ports_file {
            if let Err(msg) = files::remove_ports_file(path) {
                error!("{msg}");
            }
        }
        info!("Server Exiting..");
    }
}

/// A report as one error text (for a failed reload's log line).
/// The listeners the ports file lists.
fn ports_of(server: &Server, opts: &Options) -> files::Ports {
    files::Ports {
        nats: (
            server.local_addr(),
            opts.config.tls.as_ref().is_some_and(|t| !t.allow_non_tls),
        ),
        monitoring: server.http_addr(),
        cluster: server.cluster().map(|(listen, _, _)| {
            let tls = opts
                .config
                .cluster
                .as_ref()
                .is_some_and(|c| c.tls.is_some());
            (listen, tls)
        }),
        websocket: server.websocket(),
    }
}

fn report_text(r: &Report) -> String {
    r.lines().cloned().collect::<Vec<_>>().join("\n")
}

/// nats-server's JetStream start-up lines, and what this version keeps of
/// them: the store directory is made, streams are kept in memory.
fn jetstream_banner(js: &shoal_server::JetStream) {
    info!("Starting JetStream");
    for line in [
        "    _ ___ _____ ___ _____ ___ ___   _   __  __",
        " _ | | __|_   _/ __|_   _| _ \\ __| /_\\ |  \\/  |",
        "| || | _|  | | \\__ \\ | | |   / _| / _ \\| |\\/| |",
        " \\__/|___| |_| |___/ |_| |_|_\\___/_/ \\_\\_|  |_|",
        "",
        "         https://docs.nats.io/jetstream",
        "",
        "---------------- JETSTREAM ----------------",
    ] {
        info!("{line}");
    }
    info!("  Strict:          true");
    info!("  Store Directory: {:?}", js.dir.to_string_lossy());
    info!("  API Level:       {}", shoal_server::JS_API_LEVEL);
    info!("-------------------------------------------");
    if let Err(e) = std::fs::create_dir_all(&js.dir) {
        warn!("Could not create the JetStream store directory: {e}");
    }
    warn!(
        "JetStream in this version of shoal: streams (file streams are written as they are acknowledged, and left to the kernel to sync), no consumers"
    );
}
