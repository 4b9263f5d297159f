//! The monitoring HTTP server: a std `TcpListener` on its own thread, one
//! request at a time, one request per connection (`Connection: close`). It
//! reads the request head, routes the path, counts it in `http_req_stats` the
//! way nats-server does (some pages before decoding their parameters, some
//! after), and writes nats-server's headers: `Content-Type: application/json`
//! and `Access-Control-Allow-Origin: *` on JSON, `text/plain` 400s and 404s.
//!
//! Never touches a core's state: pages ask the cores through
//! [`super::snapshot::Hub`]. Stopped by [`HttpServer::stop`], which shuts the
//! listening socket down (waking the blocked `accept`) and joins the thread.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::format::http_date;
use super::query::Target;
use super::varz::CpuMeter;
use super::{connz, others, subsz, varz, Ctx, Reply, Static};
use crate::core::Shared;
use crate::BootError;

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// The running monitoring listener.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    fd: i32,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `host:port` (`port` -1 = any free port) as nats-server's
    /// `startMonitoring` does, with its error text on failure.
    pub fn bind(host: &str, port: i32) -> Result<TcpListener, BootError> {
        let fail = |why: String| {
            BootError::Other(format!(
                "Can't start monitoring: can't listen to the monitor port: {why}"
            ))
        };
        let port = match port {
            -1 => 0,
            0..=65535 => port as u16,
            _ => return Err(fail(format!("listen tcp: address {port}: invalid port"))),
        };
        let shown = shoal_go::join_host_port(host, port);
        let ip: IpAddr = match host.parse() {
            Ok(ip) => ip,
            Err(_) => (host, port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .map(|a| a.ip())
                .ok_or_else(|| fail(format!("listen tcp: lookup {host}: no such host")))?,
        };
        TcpListener::bind(SocketAddr::new(ip, port)).map_err(|e| {
            fail(format!(
                "listen tcp {shown}: bind: {}",
                shoal_go::errno_text(&e)
            ))
        })
    }

    /// Serves `listener` on a new thread until [`HttpServer::stop`].
    pub fn spawn(
        listener: TcpListener,
        shared: Arc<Shared>,
        info: Static,
    ) -> Result<HttpServer, BootError> {
        let addr = listener
            .local_addr()
            .map_err(|e| BootError::Other(format!("monitoring listener: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let fd = listener.as_raw_fd();
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("shoal-monitor".into())
            .spawn(move || serve(listener, shared, info, flag))
            .map_err(|e| BootError::Other(format!("cannot start the monitoring thread: {e}")))?;
        Ok(HttpServer {
            addr,
            stop,
            fd,
            thread: Some(thread),
        })
    }

    /// The bound address (the real port when -1 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and joins the thread (after the request in progress).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // SAFETY: the listener is alive until the thread we join below returns;
        // shutting a listening socket down makes a blocked accept return.
        unsafe { libc::shutdown(self.fd, libc::SHUT_RDWR) };
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the thread keeps between requests.
struct State {
    shared: Arc<Shared>,
    info: Static,
    req_stats: BTreeMap<String, u64>,
    cpu: CpuMeter,
}

fn serve(listener: TcpListener, shared: Arc<Shared>, info: Static, stop: Arc<AtomicBool>) {
    let mut st = State {
        shared,
        info,
        req_stats: BTreeMap::new(),
        cpu: CpuMeter::new(),
    };
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, _)) => {
                if let Err(e) = handle(&mut st, stream) {
                    log::debug!("Monitoring request failed: {e}");
                }
            }
            Err(e) => {
                log::debug!("Monitoring accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Reads up to the end of the request head. `None`: the peer closed first.
fn read_head(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.truncate(end);
            return Ok(Some(buf));
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
        match stream.read(&mut chunk)? {
            0 => return Ok(None),
            n => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn handle(st: &mut State, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let Some(head) = read_head(&mut stream)? else {
        return Ok(());
    };
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or("");
    let mut parts = line.split(' ');
    let (method, target) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) if v.starts_with("HTTP/") && !m.is_empty() => (m, t),
        _ => {
            let resp = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";
            return stream.write_all(resp);
        }
    };
    let reply = match Target::parse(target) {
        Some(t) => route(st, &t),
        None => Reply::BadRequest("invalid URL escape".into()),
    };
    write_reply(&mut stream, reply, method == "HEAD")
}

/// Dispatches one request and keeps nats-server's request counts.
fn route(st: &mut State, t: &Target) -> Reply {
    let page = match t.path.as_str() {
        "/" => "/",
        "/varz" => "/varz",
        "/connz" => "/connz",
        "/routez" => "/routez",
        "/subsz" | "/subscriptionsz" => "/subsz",
        "/accountz" => "/accountz",
        "/healthz" => "/healthz",
        _ => return Reply::NotFound,
    };
    // Pages that decode their parameters before counting the request.
    let mut connz_params = None;
    let early = match page {
        "/connz" => connz::decode(t).map(|p| connz_params = Some(p)),
        "/routez" => others::decode_routez(t),
        _ => Ok(()),
    };
    if let Err(e) = early {
        return Reply::BadRequest(e);
    }
    *st.req_stats.entry(page.to_string()).or_default() += 1;
    let ctx = Ctx {
        shared: &st.shared,
        info: &st.info,
        now: std::cell::Cell::new(SystemTime::now()),
    };
    match page {
        "/" => others::root(),
        "/varz" => varz::page(&ctx, &st.req_stats, &mut st.cpu),
        "/connz" => match connz_params {
            Some(p) => connz::page(&ctx, t, p),
            None => unreachable!("/connz parameters are decoded above"),
        },
        "/routez" => others::routez(&ctx),
        "/subsz" => subsz::page(&ctx, t),
        "/accountz" => others::accountz(&ctx, t),
        _ => others::healthz(&ctx, t),
    }
}

fn write_reply(stream: &mut TcpStream, reply: Reply, head_only: bool) -> io::Result<()> {
    const JSON: &str = "Access-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n";
    const TEXT: &str = "Content-Type: text/plain; charset=utf-8\r\n";
    let (status, headers, body): (&str, &str, Vec<u8>) = match reply {
        Reply::Json(b) => ("200 OK", JSON, b),
        Reply::JsonStatus(200, b) => ("200 OK", JSON, b),
        Reply::JsonStatus(500, b) => ("500 Internal Server Error", JSON, b),
        Reply::JsonStatus(503, b) => ("503 Service Unavailable", JSON, b),
        Reply::JsonStatus(_, b) => ("400 Bad Request", JSON, b),
        Reply::BadRequest(msg) => ("400 Bad Request", TEXT, msg.into_bytes()),
        Reply::Html(html) => (
            "200 OK",
            "Content-Type: text/html; charset=utf-8\r\n",
            html.into_bytes(),
        ),
        Reply::NotFound => (
            "404 Not Found",
            "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n",
            b"404 page not found\n".to_vec(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{headers}Date: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        http_date(SystemTime::now()),
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&body);
    }
    stream.write_all(&out)?;
    stream.flush()
}
