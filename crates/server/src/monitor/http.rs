//! The monitoring HTTP server: its own executor thread (not a core), one task
//! per connection, HTTP/1.1 with keep-alive, request heads parsed by
//! `httparse`. A slow or stalled client holds only its own task: the head
//! must arrive within 5 s of its first byte (nats-server's
//! `ReadHeaderTimeout`), a reply must be taken within 10 s, and an idle
//! keep-alive connection is closed after two minutes.
//!
//! It routes the path, counts the request in `http_req_stats` the way
//! nats-server does (some pages before decoding their parameters, some
//! after), and writes nats-server's headers: `Content-Type:
//! application/json` and `Access-Control-Allow-Origin: *` on JSON,
//! `text/plain` 400s and 404s. Pages get the cores' state only through the
//! [`Gatherer`]: nothing here touches a core.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::unix::io::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::hub::{Gatherer, MonitorLink};
use super::query::Target;
use super::sysreq::SysLink;
use super::varz::CpuMeter;
use super::{accstatz, connz, metrics, others, subsz, varz, Ctx, Reply, Static};
use crate::core::Shared;
use crate::rt::{self, CoreHandle, PlainListener, PlainStream};
use crate::BootError;

/// Longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// A request head must be complete this long after its first byte.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A reply (or one write of it) must be taken within this.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// Open monitoring connections beyond which new ones are closed at once.
const MAX_CONNS: usize = 512;

/// The running monitoring listener.
pub struct HttpServer {
    addr: Option<SocketAddr>,
    stop: Arc<AtomicBool>,
    fd: Option<i32>,
    thread: Option<CoreHandle>,
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
        crate::boot::bind_when_free(|| TcpListener::bind(SocketAddr::new(ip, port))).map_err(|e| {
            fail(format!(
                "listen tcp {shown}: bind: {}",
                shoal_go::errno_text(&e)
            ))
        })
    }

    /// Serves `listener` (when monitoring is on) and the system account's
    /// requests (`sys`, when there is a system account) on a new executor
    /// thread until [`HttpServer::stop`].
    pub fn spawn(
        listener: Option<TcpListener>,
        shared: Arc<Shared>,
        info: Static,
        link: MonitorLink,
        sys: Option<SysLink>,
    ) -> Result<HttpServer, BootError> {
        let addr = match &listener {
            Some(l) => Some(
                l.local_addr()
                    .map_err(|e| BootError::Other(format!("monitoring listener: {e}")))?,
            ),
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let fd = listener.as_ref().map(|l| l.as_raw_fd());
        let flag = stop.clone();
        let thread = rt::spawn_named("shoal-monitor", move || {
            serve(listener, shared, info, link, sys, flag)
        })
        .map_err(|e| BootError::Other(format!("cannot start the monitoring thread: {e}")))?;
        Ok(HttpServer {
            addr,
            stop,
            fd,
            thread: Some(thread),
        })
    }

    /// The bound address (the real port when -1 was asked for), if monitoring
    /// is on.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Stops accepting and joins the thread (open connections are dropped).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The listener lives until the thread we join below returns; shutting
        // a listening socket down makes a pending accept return.
        if let Some(fd) = self.fd {
            rt::shutdown_fd(fd);
        }
        if let Some(t) = self.thread.take() {
            t.join();
        }
    }
}

/// What the connection tasks share (on the monitoring executor only).
pub(super) struct State {
    pub shared: Arc<Shared>,
    pub info: Static,
    pub req_stats: RefCell<BTreeMap<String, u64>>,
    pub cpu: RefCell<CpuMeter>,
    pub gatherer: Rc<Gatherer>,
    open: std::cell::Cell<usize>,
}

async fn serve(
    listener: Option<TcpListener>,
    shared: Arc<Shared>,
    info: Static,
    link: MonitorLink,
    sys: Option<SysLink>,
    stop: Arc<AtomicBool>,
) {
    let gatherer = Gatherer::connect(link).await;
    let st = Rc::new(State {
        shared,
        info,
        req_stats: RefCell::default(),
        cpu: RefCell::new(CpuMeter::new()),
        gatherer,
        open: std::cell::Cell::new(0),
    });
    if let Some(sys) = sys {
        rt::spawn(super::sysreq::serve(st.clone(), sys.requests, sys.answers));
    }
    let Some(listener) = listener else {
        // Nothing to accept: only the stop flag ends this thread (checked on
        // a tick; shutdown is the only thing that waits on it).
        while !stop.load(Ordering::SeqCst) {
            rt::sleep(Duration::from_millis(20)).await;
        }
        return;
    };
    let listener = PlainListener::from_std(listener);
    loop {
        let accepted = listener.accept().await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok(stream) => {
                if st.open.get() >= MAX_CONNS {
                    continue; // dropped: closed at once
                }
                st.open.set(st.open.get() + 1);
                let st = st.clone();
                rt::spawn(async move {
                    if let Err(e) = connection(stream, &st).await {
                        log::debug!("Monitoring connection: {e}");
                    }
                    st.open.set(st.open.get() - 1);
                });
            }
            Err(e) => {
                log::debug!("Monitoring accept failed: {e}");
                rt::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// One client's requests, in order, until it closes, stalls or asks to close.
async fn connection(mut s: PlainStream, st: &State) -> io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        // The head: idle wait for its first byte, then a bounded read.
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if buf.len() > MAX_HEAD {
                let resp = b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large";
                return s.write_all(resp, WRITE_TIMEOUT).await;
            }
            let wait = if buf.is_empty() {
                IDLE_TIMEOUT
            } else {
                HEAD_TIMEOUT
            };
            let n = s.read(&mut chunk, wait).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let parsed = req.parse(&buf[..end]);
        let (method, target, keep_alive, body) = match parsed {
            Ok(httparse::Status::Complete(_)) => {
                let header = |name: &str| {
                    req.headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                };
                let close = header("connection").is_some_and(|v| v.contains("close"));
                let keep = header("connection").is_some_and(|v| v.contains("keep-alive"));
                let keep_alive = match req.version {
                    Some(1) => !close,
                    _ => keep,
                };
                let body = header("content-length")
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                (
                    req.method.unwrap_or("").to_string(),
                    req.path.unwrap_or("").to_string(),
                    keep_alive,
                    body,
                )
            }
            _ => {
                let resp = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";
                return s.write_all(resp, WRITE_TIMEOUT).await;
            }
        };
        buf.drain(..end);
        // A body (pages take none) is read and discarded.
        let mut left = body;
        while left > 0 {
            if !buf.is_empty() {
                let n = left.min(buf.len());
                buf.drain(..n);
                left -= n;
                continue;
            }
            let n = s.read(&mut chunk, HEAD_TIMEOUT).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let reply = match Target::parse(&target) {
            Some(t) => route(st, &t).await,
            None => Reply::BadRequest("invalid URL escape".into()),
        };
        let out = response(reply, method == "HEAD", keep_alive);
        s.write_all(&out, WRITE_TIMEOUT).await?;
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Dispatches one request and keeps nats-server's request counts.
async fn route(st: &State, t: &Target) -> Reply {
    let page = match t.path.as_str() {
        "/" => "/",
        "/varz" => "/varz",
        "/connz" => "/connz",
        "/routez" => "/routez",
        "/leafz" => "/leafz",
        "/subsz" | "/subscriptionsz" => "/subsz",
        "/accountz" => "/accountz",
        "/accstatz" => "/accstatz",
        "/healthz" => "/healthz",
        "/metrics" => "/metrics",
        _ => return Reply::NotFound,
    };
    // Pages that decode their parameters before counting the request.
    let early = match page {
        "/connz" => connz::decode(t).map(|_| ()),
        "/routez" => others::decode_routez(t).map(|_| ()),
        "/leafz" => others::decode_leafz(t).map(|_| ()),
        _ => Ok(()),
    };
    if let Err(e) = early {
        return Reply::BadRequest(e);
    }
    // Shoal's own page is not one nats-server counts.
    if page != "/metrics" {
        *st.req_stats
            .borrow_mut()
            .entry(page.to_string())
            .or_default() += 1;
    }
    render(st, page, t).await
}

/// Builds page `page` (one of [`route`]'s names) for `t`; also what the
/// system account's `$SYS.REQ.SERVER…` requests are answered with.
pub(super) async fn render(st: &State, page: &str, t: &Target) -> Reply {
    let ctx = Ctx {
        shared: &st.shared,
        info: &st.info,
        gatherer: &st.gatherer,
        now: std::cell::Cell::new(SystemTime::now()),
    };
    match page {
        "/" => others::root(),
        "/varz" => {
            let stats = st.req_stats.borrow().clone();
            varz::page(&ctx, &stats, &st.cpu).await
        }
        "/connz" => match connz::decode(t) {
            Ok(p) => connz::page(&ctx, t, p).await,
            Err(e) => Reply::BadRequest(e),
        },
        "/routez" => match others::decode_routez(t) {
            Ok(subs) => others::routez(&ctx, subs).await,
            Err(e) => Reply::BadRequest(e),
        },
        "/leafz" => match others::decode_leafz(t) {
            Ok(q) => others::leafz(&ctx, q).await,
            Err(e) => Reply::BadRequest(e),
        },
        "/subsz" => subsz::page(&ctx, t).await,
        "/accountz" => others::accountz(&ctx, t).await,
        "/accstatz" => accstatz::page(&ctx, t).await,
        "/metrics" => {
            let stats = st.req_stats.borrow().clone();
            metrics::page(&ctx, &stats, &st.cpu).await
        }
        _ => others::healthz(&ctx, t),
    }
}

/// The whole response: status line, nats-server's headers, body.
fn response(reply: Reply, head_only: bool, keep_alive: bool) -> Vec<u8> {
    const JSON: &str = "Access-Control-Allow-Origin: *\r\nContent-Type: application/json\r\n";
    const TEXT: &str = "Content-Type: text/plain; charset=utf-8\r\n";
    const PROM: &str = "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n";
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
        Reply::Prometheus(text) => ("200 OK", PROM, text.into_bytes()),
        Reply::NotFound => (
            "404 Not Found",
            "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n",
            b"404 page not found\n".to_vec(),
        ),
    };
    let connection = if keep_alive {
        ""
    } else {
        "Connection: close\r\n"
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{headers}Date: {}\r\nContent-Length: {}\r\n{connection}\r\n",
        shoal_go::http_date(SystemTime::now()),
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(&body);
    }
    out
}
