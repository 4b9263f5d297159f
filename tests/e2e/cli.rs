//! The `shoal` command as a drop-in for `nats-server`: flags, `-v`/`-h`, errors and
//! exit codes, log lines, PID and ports files, signals. Each test runs the real
//! binary with `std::process::Command` (on its own, not through `util`), with a
//! deadline on every wait so that a server that starts when it should have refused
//! fails the test instead of hanging it. The messages are compared with the
//! reference nats-server's own (a missing reference fails the test).

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");
/// Longest a command that should exit at once (or a server start) may take.
const DEADLINE: Duration = Duration::from_secs(15);

/// What a finished command left.
struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Run `bin args`, which must exit on its own within [`DEADLINE`].
fn run_bin(bin: &str, args: &[&str]) -> Outcome {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let Some(status) = wait_with_deadline(&mut child) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{bin} {args:?} still running after {DEADLINE:?}; stderr:\n{}",
            err.join().unwrap()
        )
    };
    Outcome {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

fn shoal(args: &[&str]) -> Outcome {
    run_bin(SHOAL, args)
}

fn wait_with_deadline(child: &mut Child) -> Option<ExitStatus> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// `shoal args` must exit 1, print nothing on stdout, and say `want` on stderr.
fn refused(args: &[&str], want: &str) -> Outcome {
    let out = shoal(args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} exit status; stderr:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(want),
        "{args:?}: stderr lacks {want:?}:\n{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "{args:?} wrote to stdout");
    out
}

/// The reference nats-server 2.15 (`$NATS_SERVER_BIN`, which test.sh sets, or the
/// one util finds or installs); there is no skipping when it is missing.
fn reference() -> String {
    let bin = crate::util::reference_bin();
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run the reference {}: {e}", bin.display()));
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.contains("v2.15."),
        "{} is not nats-server 2.15: {version}",
        bin.display()
    );
    bin.to_str().expect("UTF-8 path").to_owned()
}

/// A fresh empty directory under cargo's temp dir.
fn temp_dir() -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn version_prints_the_nats_server_line() {
    for args in [
        &["-v"][..],
        &["--version"],
        &["version"],
        &["-D", "VERSION"],
    ] {
        let out = shoal(args);
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert_eq!(
            out.stdout.lines().next(),
            Some("nats-server: v2.15.1"),
            "{args:?}"
        );
        assert_eq!(out.stderr, "", "{args:?}");
    }
}

#[test]
fn help_lists_the_flags() {
    for args in [&["-h"][..], &["--help"], &["help"]] {
        let out = shoal(args);
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        for flag in [
            "Usage: shoal [options]",
            "--port",
            "--addr",
            "--ports_file_dir",
            "-DVV",
        ] {
            assert!(out.stdout.contains(flag), "{args:?}: help lacks {flag}");
        }
    }
}

#[test]
fn unknown_flags_exit_1_with_go_wording() {
    let out = refused(&["-x"], "flag provided but not defined: -x");
    assert!(
        out.stderr.contains("-h"),
        "no hint to use -h:\n{}",
        out.stderr
    );
    refused(&["--nope=1"], "flag provided but not defined: -nope");
    refused(&["--port"], "flag needs an argument: -port");
}

#[test]
fn bad_values_exit_1() {
    refused(
        &["-p", "4x"],
        "invalid value \"4x\" for flag -p: parse error",
    );
    refused(
        &["--port=4x"],
        "invalid value \"4x\" for flag -port: parse error",
    );
    refused(
        &["-D=maybe"],
        "invalid boolean value \"maybe\" for -D: parse error",
    );
    refused(
        &["--ping_interval", "soon"],
        "invalid value \"soon\" for flag -ping_interval",
    );
    refused(&["--cores", "0"], "invalid value \"0\" for flag -cores");
}

#[test]
fn unsupported_nats_server_flags_exit_1() {
    for (args, flag) in [
        (&["--https_port", "8443"][..], "--https_port"),
        (&["-ms", "8222"], "-ms"),
    ] {
        refused(
            args,
            &format!("{flag} is not supported by this version of shoal yet"),
        );
    }
}

/// The cluster flags' own checks, in nats-server's words (`overrideCluster`
/// and `validateOptions`), compared with the reference's exit and text.
#[test]
fn cluster_flags_are_checked_like_nats_server() {
    let reference = reference();
    for args in [
        &["--routes", "nats://h:6222"][..],
        &["--cluster", "nats://h"],
        &["--cluster", "nats://u@127.0.0.1:6222"],
        &["--cluster", "::bad"],
        &["--cluster", "nats://127.0.0.1:x"],
    ] {
        let ours = shoal(args);
        let theirs = run_bin(&reference, args);
        assert_eq!(
            (ours.status.code(), ours.stderr.trim_end()),
            (theirs.status.code(), theirs.stderr.trim_end()),
            "{args:?}"
        );
    }
}

#[test]
fn only_version_or_help_may_follow_the_flags() {
    refused(&["foo"], "unrecognized command: \"foo\"");
    refused(&["-p", "4222", "extra"], "unrecognized command: \"extra\"");
    // A boolean flag does not take the next word.
    refused(&["-D", "false"], "unrecognized command: \"false\"");
}

#[test]
fn contradicting_options_exit_1() {
    refused(
        &["-n", "a b"],
        "nats-server: server name cannot contain spaces",
    );
    refused(
        &["--max_payload", "2MB", "--max_pending", "1MB"],
        "nats-server: max_payload (2097152) cannot be higher than max_pending (1048576)",
    );
    refused(
        &["-a", "127.0.0.1", "-p", "70000"],
        "[FTL] Error listening on port: 127.0.0.1:70000",
    );
    refused(
        &["-l", "/nonexistent-shoal-dir/log"],
        "error opening file: open /nonexistent-shoal-dir/log: no such file or directory",
    );
}

/// The same mistakes draw the same words from both servers.
#[test]
fn error_lines_match_the_reference() {
    let reference = reference();
    let first_line = |text: &str| text.lines().next().unwrap_or("").to_string();
    for args in [
        &["-x"][..],
        &["-p", "4x"],
        &["--port=4x"],
        &["--port"],
        &["-D=maybe"],
        &["foo"],
        &["-p", "1", "extra"],
    ] {
        let ours = shoal(args);
        let theirs = run_bin(&reference, args);
        assert_eq!(
            first_line(&ours.stderr),
            first_line(&theirs.stderr),
            "{args:?}"
        );
    }
    assert_eq!(shoal(&["-v"]).stdout, run_bin(&reference, &["-v"]).stdout);
}

/// A server child whose stderr lines arrive on a channel (and are kept).
struct Running {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(SHOAL)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting shoal");
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Read lines until one contains `want`; returns it.
    fn wait_for(&mut self, want: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(want) {
                        return line;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("no {want:?} ({e}); log so far:\n{}", self.seen.join("\n"));
                }
            }
        }
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    }

    /// Wait for exit and collect the rest of the log.
    fn exit(&mut self) -> ExitStatus {
        let status = wait_with_deadline(&mut self.child).unwrap_or_else(|| {
            let _ = self.child.kill();
            panic!("shoal did not exit; log:\n{}", self.seen.join("\n"))
        });
        // The reader thread ends (and the channel with it) when stderr closes.
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "stderr still open after exit; log:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn runs_writes_its_files_and_stops_on_sigterm() {
    let dir = temp_dir();
    let pid_file = dir.join("shoal.pid");
    let mut server = Running::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--cores",
        "1",
        "-P",
        pid_file.to_str().unwrap(),
        "--ports_file_dir",
        dir.to_str().unwrap(),
    ]);
    let pid = server.child.id();
    let listening = server.wait_for("Listening for client connections on ");
    let port: u16 = listening.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    server.wait_for("Server is ready");

    // nats-server's banner, in order, each line `[PID] <date> <time> [INF] ...`.
    let banner = [
        "[INF] Starting nats-server",
        "[INF]   Version:  2.15.1",
        "[INF]   Git:      [not set]",
        "[INF]   Name:     N",
        "[INF]   ID:       N",
        "[INF]   Shoal:    ",
        "[INF] Listening for client connections on 127.0.0.1:",
        "[INF] Server is ready",
    ];
    let mut at = 0;
    for want in banner {
        let found = server.seen[at..]
            .iter()
            .position(|l| l.contains(want))
            .unwrap_or_else(|| panic!("no {want:?} in order:\n{}", server.seen.join("\n")));
        at += found + 1;
    }
    for line in &server.seen {
        let prefix = format!("[{pid}] ");
        assert!(line.starts_with(&prefix), "{line:?}");
        let stamp = &line[prefix.len()..];
        // `2026/11/29 01:18:50.500914 [INF] `
        let b = stamp.as_bytes();
        assert!(
            b.len() > 34 && b[4] == b'/' && b[7] == b'/' && b[10] == b' ',
            "{line:?}"
        );
        assert!(b[19] == b'.' && b[26] == b' ' && b[27] == b'[', "{line:?}");
    }

    assert_eq!(fs::read_to_string(&pid_file).unwrap(), pid.to_string());
    let ports_file = dir.join(format!("shoal_{pid}.ports"));
    assert_eq!(
        fs::read_to_string(&ports_file).unwrap(),
        format!("{{\"nats\":[\"nats://127.0.0.1:{port}\"]}}")
    );

    // It serves: a client gets INFO.
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut info = [0u8; 5];
    conn.read_exact(&mut info).unwrap();
    assert_eq!(&info, b"INFO ");

    // Without a configuration file there is nothing to reload (nats-server's words).
    server.signal(libc::SIGHUP);
    server.wait_for("Trapped \"hangup\" signal");
    server.wait_for(
        "[ERR] Failed to reload server configuration: can only reload config when a file is provided using -c or --config",
    );

    server.signal(libc::SIGTERM);
    let status = server.exit();
    assert_eq!(status.code(), Some(0), "log:\n{}", server.seen.join("\n"));
    let log = server.seen.join("\n");
    for want in [
        "[INF] Trapped \"terminated\" signal",
        "[INF] Initiating Shutdown...",
        "[INF] Server Exiting..",
    ] {
        assert!(log.contains(want), "no {want:?} in:\n{log}");
    }
    assert!(!ports_file.exists(), "ports file left behind");
    assert!(pid_file.exists(), "nats-server leaves its pid file");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn logs_to_a_file_without_timestamps_and_stops_on_sigint() {
    let dir = temp_dir();
    let log_file = dir.join("shoal.log");
    let mut server = Running::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--cores",
        "1",
        "-T=false",
        "-l",
        log_file.to_str().unwrap(),
    ]);
    let pid = server.child.id();
    let deadline = Instant::now() + DEADLINE;
    while !fs::read_to_string(&log_file).is_ok_and(|l| l.contains("Server is ready")) {
        assert!(
            Instant::now() < deadline,
            "no `Server is ready` in {log_file:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
    server.signal(libc::SIGINT);
    assert_eq!(server.exit().code(), Some(0));
    assert!(
        server.seen.is_empty(),
        "stderr is not empty: {:?}",
        server.seen
    );
    let log = fs::read_to_string(&log_file).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines[0], format!("[{pid}] [INF] Starting nats-server"));
    assert!(lines.contains(&format!("[{pid}] [INF] Trapped \"interrupt\" signal").as_str()));
    assert_eq!(
        lines.last().copied(),
        Some(format!("[{pid}] [INF] Server Exiting..").as_str())
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_port_in_use_is_fatal() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = refused(
        &["-a", "127.0.0.1", "-p", &port, "--cores", "1"],
        &format!(
            "[FTL] Error listening on port: 127.0.0.1:{port}, \
             \"listen tcp 127.0.0.1:{port}: bind: address already in use\""
        ),
    );
    assert!(
        out.stderr.contains("[INF] Starting nats-server"),
        "{}",
        out.stderr
    );
}
