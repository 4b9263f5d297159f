//! ping: the cost of the smallest round trip the protocol has, with nothing else
//! in the way. One connection sends CONNECT, then a writer thread pipelines
//! `--msgs` PINGs in 64 KiB writes as fast as the socket takes them while the
//! reader counts PONGs. No subjects, no payloads, no fan-out: what is left is
//! the server's per-command parse, reply and write path, and whether it batches
//! its replies. Stops after `--duration` (default 30 s) and reports how many
//! PONGs had arrived by then.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::{dial, read_until};
use crate::{Args, Report};

const PING: &[u8] = b"PING\r\n";

fn fail(what: &str, e: std::io::Error) -> ! {
    eprintln!("shoal-bench: ping: {what}: {e}");
    std::process::exit(1);
}

/// Writes `total` PINGs (or until `deadline` or `stop`), and a PONG for each
/// server PING the reader counts in `owed`, between whole PINGs; returns the
/// error that ended it early, if any. `sent` counts PING bytes written.
fn writer(
    mut s: std::net::TcpStream,
    total: u64,
    deadline: Instant,
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    owed: Arc<AtomicU64>,
) -> Option<std::io::Error> {
    let chunk: Vec<u8> = PING.repeat(64 * 1024 / PING.len());
    let total = total * PING.len() as u64;
    // A short write timeout so a server that stops reading cannot keep the writer
    // past the deadline.
    if let Err(e) = s.set_write_timeout(Some(Duration::from_millis(100))) {
        return Some(e);
    }
    let mut done = 0u64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        if done.is_multiple_of(PING.len() as u64) && owed.load(Ordering::Relaxed) > 0 {
            owed.fetch_sub(1, Ordering::Relaxed);
            if let Err(e) = s.write_all(b"PONG\r\n") {
                return Some(e);
            }
        }
        if done >= total {
            // All sent; stay to answer server PINGs until the reader is done.
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let off = (done % chunk.len() as u64) as usize;
        let end = chunk.len().min(off + (total - done) as usize);
        match s.write(&chunk[off..end]) {
            Ok(0) => return Some(ErrorKind::WriteZero.into()),
            Ok(k) => {
                done += k as u64;
                sent.store(done, Ordering::Relaxed);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Some(e),
        }
    }
    None
}

pub fn run(a: &Args, r: &mut Report) {
    let n = a.msgs.max(1);
    let limit = a.duration.unwrap_or(Duration::from_secs(30));
    let mut s = dial(&a.url, Duration::from_secs(5)).unwrap_or_else(|e| fail("connect", e));
    let mut info = Vec::new();
    read_until(
        &mut s,
        &mut info,
        b"\r\n",
        Instant::now() + Duration::from_secs(5),
    )
    .unwrap_or_else(|e| fail("waiting for INFO", e));
    s.write_all(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n")
        .unwrap_or_else(|e| fail("CONNECT", e));
    // Anything after INFO's line in the first read was not a PONG (nothing has
    // been asked yet), so it is dropped.
    let wstream = s.try_clone().unwrap_or_else(|e| fail("clone socket", e));

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let owed = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let deadline = t0 + limit;
    let w = {
        let (stop, sent, owed) = (stop.clone(), sent.clone(), owed.clone());
        std::thread::spawn(move || writer(wstream, n, deadline, stop, sent, owed))
    };

    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = vec![0u8; 1 << 20];
    let (mut len, mut pos) = (0usize, 0usize);
    let (mut pongs, mut server_pings) = (0u64, 0u64);
    let mut last = t0;
    let mut error: Option<String> = None;
    'read: while pongs < n {
        if Instant::now() >= deadline {
            break;
        }
        if pos > 0 {
            buf.copy_within(pos..len, 0);
            len -= pos;
            pos = 0;
        }
        let k = match s.read(&mut buf[len..]) {
            Ok(0) => {
                error = Some("server closed the connection".into());
                break;
            }
            Ok(k) => k,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        };
        len += k;
        let before = pongs;
        while let Some(nl) = memchr::memchr(b'\n', &buf[pos..len]) {
            let line = &buf[pos..pos + nl];
            if line.starts_with(b"PONG") {
                pongs += 1;
            } else if line.starts_with(b"PING") {
                server_pings += 1;
                owed.fetch_add(1, Ordering::Relaxed);
            } else if line.starts_with(b"-ERR") {
                error = Some(String::from_utf8_lossy(line).trim_end().to_string());
                break 'read;
            }
            pos += nl + 1;
        }
        if pongs != before {
            last = Instant::now();
        }
        if len == buf.len() && pos == 0 {
            error = Some("a line longer than the read buffer".into());
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(e) = w.join().unwrap_or(None) {
        error.get_or_insert_with(|| format!("writing PINGs: {e}"));
    }
    let complete = pongs >= n;
    let secs = if complete {
        last.duration_since(t0).as_secs_f64().max(1e-9)
    } else {
        t0.elapsed().as_secs_f64()
    };
    r.num(
        "pings_sent",
        (sent.load(Ordering::Relaxed) / PING.len() as u64) as f64,
    );
    r.num("pongs", pongs as f64);
    r.num("secs", (secs * 1000.0).round() / 1000.0);
    r.num("pongs_per_s", (pongs as f64 / secs).round());
    r.text("complete", if complete { "yes" } else { "no" });
    if server_pings > 0 {
        r.num("server_pings", server_pings as f64);
    }
    if let Some(e) = error {
        r.text("error", &e);
    }
}
