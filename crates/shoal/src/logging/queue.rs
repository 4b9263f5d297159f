//! The way a log line travels from the thread that logs it to the sink, built
//! so that no core thread ever waits for the sink.
//!
//! Every thread that logs owns a *lane*: a bounded single-producer,
//! single-consumer byte ring (`rtrb`), created on its first line. Logging is:
//! format the message into the thread's scratch buffer, copy the record (length,
//! time, level, text) into the lane, and return. One writer thread drains every
//! lane, formats the stamp and `[PID] … [TAG]` prefix, and does the blocking
//! writes. A stalled sink (a pipe nobody reads, a full disk) therefore stalls
//! only the writer: lanes fill up, and further lines are dropped and counted;
//! when the writer next drains that lane, the lines it had are followed by a
//! warning saying how many were lost after them.
//!
//! Invariants: a lane has one producer (its thread) and one consumer (the
//! writer); only whole records are committed, so the readable part of a lane is
//! always a sequence of whole records. Lines of one thread stay in order;
//! lines of different threads are written in the order the writer meets them.
//! The producer side never locks (except once, to register its lane), never
//! allocates after its scratch buffer has grown, and never makes a syscall
//! except to wake a sleeping writer.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtrb::{Consumer, Producer, RingBuffer};

/// Bytes one thread may have queued before its lines are dropped.
const LANE_BYTES: usize = 1 << 20;
/// Longest message text kept; longer ones are cut (a traced 1 MiB payload
/// would not fit a lane otherwise).
const MAX_TEXT: usize = 256 << 10;
/// Record header: total length (u32), microseconds since the epoch (u64), tag.
const HEADER: usize = 4 + 8 + 1;
/// How often a writer that just ran dry looks again. Producers never wake a
/// napping writer: under load a wake-up per line would be a syscall per line.
const NAP: Duration = Duration::from_millis(1);
/// Naps in a row after which the writer sleeps until a producer wakes it (one
/// syscall, for the first line after a quiet spell).
const NAPS_BEFORE_SLEEP: u32 = 50;
/// A sleeping writer's backstop (a producer wakes it for the first line).
const IDLE_PARK: Duration = Duration::from_secs(1);

/// A level as the writer prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    Ftl,
    Err,
    Wrn,
    Inf,
    Dbg,
    Trc,
}

impl Tag {
    pub fn text(self) -> &'static str {
        match self {
            Tag::Ftl => "FTL",
            Tag::Err => "ERR",
            Tag::Wrn => "WRN",
            Tag::Inf => "INF",
            Tag::Dbg => "DBG",
            Tag::Trc => "TRC",
        }
    }

    fn from_u8(b: u8) -> Tag {
        match b {
            0 => Tag::Ftl,
            1 => Tag::Err,
            2 => Tag::Wrn,
            3 => Tag::Inf,
            4 => Tag::Dbg,
            _ => Tag::Trc,
        }
    }
}

/// What the writer needs to turn records into lines and write them.
pub trait Sink: Send + Sync + 'static {
    /// Writes formatted lines (blocking is allowed: this is the writer thread).
    fn write(&self, bytes: &[u8]);
    fn flush(&self);
    /// `[PID] <stamp> [TAG] text\n` for one record.
    fn format(&self, out: &mut Vec<u8>, at: Duration, tag: Tag, text: &[u8]);
}

/// The process-wide queue: lanes waiting to be adopted by the writer, and the
/// handshakes for waking it and for flushing.
pub struct Queue {
    new_lanes: Mutex<Vec<(Consumer<u8>, Arc<AtomicU64>)>>,
    writer: OnceLock<Thread>,
    sleeping: AtomicBool,
    flush_asked: AtomicU64,
    flush_done: Mutex<u64>,
    flushed: Condvar,
    /// Lines lost because a thread could not create its lane (at thread exit).
    orphans: AtomicU64,
}

static QUEUE: Queue = Queue {
    new_lanes: Mutex::new(Vec::new()),
    writer: OnceLock::new(),
    sleeping: AtomicBool::new(false),
    flush_asked: AtomicU64::new(0),
    flush_done: Mutex::new(0),
    flushed: Condvar::new(),
    orphans: AtomicU64::new(0),
};

/// Starts the writer thread (once). Lines logged before it exist are queued.
pub fn start(sink: &'static dyn Sink) -> std::io::Result<()> {
    if QUEUE.writer.get().is_some() {
        return Ok(());
    }
    // The writer must never take a process signal (SIGTERM's default action
    // would end the process before the signal loop sees it): it is spawned
    // with every signal blocked, and inherits that mask.
    let old = block_all_signals();
    let spawned = std::thread::Builder::new()
        .name("shoal-log".into())
        .spawn(move || Writer::default().run(sink));
    restore_signals(&old);
    let _ = QUEUE.writer.set(spawned?.thread().clone());
    Ok(())
}

/// Blocks every signal in the calling thread; returns the previous mask.
fn block_all_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigfillset and pthread_sigmask only write
    // the sets we pass, and changing this thread's mask is always allowed.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        old
    }
}

fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` is a mask returned by pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

/// One thread's producing end.
struct Lane {
    tx: Producer<u8>,
    scratch: Vec<u8>,
    /// Lines dropped because the lane was full, not yet reported (the writer
    /// reports and resets it).
    lost: Arc<AtomicU64>,
}

thread_local! {
    static LANE: RefCell<Option<Lane>> = const { RefCell::new(None) };
}

/// Queues one line. Never blocks: when the thread's lane is full the line is
/// dropped and counted.
pub fn push(tag: Tag, at: SystemTime, args: &fmt::Arguments) {
    let queued = LANE.try_with(|cell| {
        // A line logged while formatting another one (a Display impl that
        // logs) finds the lane borrowed: drop it rather than deadlock.
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return false;
        };
        let lane = slot.get_or_insert_with(register);
        lane.push(tag, at, args);
        true
    });
    if queued != Ok(true) {
        QUEUE.orphans.fetch_add(1, Ordering::Relaxed);
    }
    // Only the first line after the writer went to sleep wakes it.
    if QUEUE.sleeping.load(Ordering::SeqCst) && QUEUE.sleeping.swap(false, Ordering::SeqCst) {
        if let Some(t) = QUEUE.writer.get() {
            t.unpark();
        }
    }
}

fn register() -> Lane {
    let (tx, rx) = RingBuffer::new(LANE_BYTES);
    let lost = Arc::new(AtomicU64::new(0));
    QUEUE
        .new_lanes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((rx, lost.clone()));
    Lane {
        tx,
        scratch: Vec::with_capacity(256),
        lost,
    }
}

impl Lane {
    fn push(&mut self, tag: Tag, at: SystemTime, args: &fmt::Arguments) {
        let micros = at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as u64;
        self.scratch.clear();
        encode(&mut self.scratch, micros, tag, args);
        if self.tx.push_entire_slice(&self.scratch).is_err() {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        // A huge line leaves a huge buffer: give it back.
        if self.scratch.capacity() > 64 << 10 {
            self.scratch = Vec::with_capacity(256);
        }
    }
}

/// Appends one record to `buf`: header, then the message text (cut at
/// [`MAX_TEXT`]).
fn encode(buf: &mut Vec<u8>, micros: u64, tag: Tag, args: &fmt::Arguments) {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    let mut w = Capped {
        buf,
        left: MAX_TEXT,
    };
    let _ = w.write_fmt(*args);
    let len = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 12].copy_from_slice(&micros.to_le_bytes());
    buf[start + 12] = tag as u8;
}

/// A `fmt::Write` into a byte buffer that stops (with `...`) at a limit.
struct Capped<'a> {
    buf: &'a mut Vec<u8>,
    left: usize,
}

impl fmt::Write for Capped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.buf.extend_from_slice(s.as_bytes());
            self.left -= s.len();
            return Ok(());
        }
        let mut cut = self.left;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf.extend_from_slice(&s.as_bytes()[..cut]);
        self.buf.extend_from_slice(b"...");
        self.left = 0;
        Err(fmt::Error)
    }
}

/// Asks the writer to write everything queued so far and waits for it, at most
/// `timeout` (a stalled sink must not keep the process from exiting).
pub fn flush(timeout: Duration) -> bool {
    let Some(writer) = QUEUE.writer.get() else {
        return true;
    };
    let want = QUEUE.flush_asked.fetch_add(1, Ordering::SeqCst) + 1;
    writer.unpark();
    let deadline = Instant::now() + timeout;
    let mut done = QUEUE.flush_done.lock().unwrap_or_else(|e| e.into_inner());
    while *done < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        done = QUEUE
            .flushed
            .wait_timeout(done, left)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    true
}

/// The writer thread's state.
#[derive(Default)]
struct Writer {
    lanes: Vec<(Consumer<u8>, Arc<AtomicU64>)>,
    staging: Vec<u8>,
    out: Vec<u8>,
    orphans_seen: u64,
}

impl Writer {
    fn run(mut self, sink: &'static dyn Sink) {
        let mut naps = 0u32;
        loop {
            let asked = QUEUE.flush_asked.load(Ordering::SeqCst);
            self.adopt();
            let wrote = self.drain(sink);
            if asked > *QUEUE.flush_done.lock().unwrap_or_else(|e| e.into_inner()) {
                sink.flush();
                *QUEUE.flush_done.lock().unwrap_or_else(|e| e.into_inner()) = asked;
                QUEUE.flushed.notify_all();
            }
            if wrote {
                naps = 0;
                continue;
            }
            if naps < NAPS_BEFORE_SLEEP && QUEUE.flush_asked.load(Ordering::SeqCst) == asked {
                naps += 1;
                std::thread::park_timeout(NAP);
                continue;
            }
            QUEUE.sleeping.store(true, Ordering::SeqCst);
            // Re-check after announcing sleep: a producer that pushed before
            // seeing the flag is caught here, one that pushes after unparks us.
            let idle = self.lanes.iter().all(|(l, _)| l.is_empty())
                && QUEUE.new_lanes.lock().map_or(true, |v| v.is_empty())
                && QUEUE.flush_asked.load(Ordering::SeqCst) == asked;
            if idle {
                std::thread::park_timeout(IDLE_PARK);
                // Stay asleep until a line comes: no more naps while idle.
                naps = NAPS_BEFORE_SLEEP;
            }
            QUEUE.sleeping.store(false, Ordering::SeqCst);
        }
    }

    fn adopt(&mut self) {
        let mut new = QUEUE.new_lanes.lock().unwrap_or_else(|e| e.into_inner());
        self.lanes.append(&mut new);
    }

    /// Writes what every lane holds; drops lanes whose thread is gone.
    fn drain(&mut self, sink: &'static dyn Sink) -> bool {
        let mut wrote = false;
        let orphans = QUEUE.orphans.load(Ordering::Relaxed);
        if orphans != self.orphans_seen {
            let n = orphans - self.orphans_seen;
            self.orphans_seen = orphans;
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let text = format!("{n} log line(s) dropped: logged while a thread was exiting");
            sink.format(&mut self.out, at, Tag::Wrn, text.as_bytes());
        }
        for (lane, lost) in &mut self.lanes {
            let n = lane.slots();
            if n == 0 {
                // Drops since the last drain, with nothing queued after them.
                if report_lost(sink, &mut self.out, lost) {
                    wrote = true;
                }
                continue;
            }
            let chunk = lane.read_chunk(n).expect("n slots are readable");
            let (a, b) = chunk.as_slices();
            self.staging.clear();
            self.staging.extend_from_slice(a);
            self.staging.extend_from_slice(b);
            chunk.commit_all();
            let mut rest = &self.staging[..];
            while rest.len() >= HEADER {
                let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
                let micros = u64::from_le_bytes(rest[4..12].try_into().expect("8 bytes"));
                let tag = Tag::from_u8(rest[12]);
                sink.format(
                    &mut self.out,
                    Duration::from_micros(micros),
                    tag,
                    &rest[HEADER..len],
                );
                rest = &rest[len..];
                if self.out.len() >= 64 << 10 {
                    sink.write(&self.out);
                    self.out.clear();
                }
            }
            // Lines dropped came after everything this lane still held.
            report_lost(sink, &mut self.out, lost);
            wrote = true;
        }
        if !self.out.is_empty() {
            sink.write(&self.out);
            self.out.clear();
            wrote = true;
        }
        self.lanes.retain(|(l, lost)| {
            !(l.is_abandoned() && l.is_empty() && lost.load(Ordering::Relaxed) == 0)
        });
        if self.staging.capacity() > LANE_BYTES {
            self.staging = Vec::new();
        }
        wrote
    }
}

/// Writes the "lines dropped" warning for a lane, if it dropped any.
fn report_lost(sink: &'static dyn Sink, out: &mut Vec<u8>, lost: &AtomicU64) -> bool {
    let n = lost.swap(0, Ordering::Relaxed);
    if n == 0 {
        return false;
    }
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let text = format!(
        "{n} log line(s) dropped: the log output did not keep up (lines are queued, never waited for)"
    );
    sink.format(out, at, Tag::Wrn, text.as_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_cut_long_text() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, Tag::Dbg, &format_args!("hello {}", 1));
        let long = "x".repeat(MAX_TEXT + 10);
        encode(&mut buf, 8, Tag::Trc, &format_args!("{long}"));
        let len = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
        assert_eq!(&buf[HEADER..len], b"hello 1");
        assert_eq!(Tag::from_u8(buf[12]), Tag::Dbg);
        let second = &buf[len..];
        let len2 = u32::from_le_bytes(second[..4].try_into().unwrap()) as usize;
        assert_eq!(len2, HEADER + MAX_TEXT + 3);
        assert!(second[HEADER..len2].ends_with(b"x..."));
        assert_eq!(len + len2, buf.len());
    }

    #[test]
    fn a_full_lane_drops_and_counts() {
        let (tx, mut rx) = RingBuffer::new(256);
        let lost = Arc::new(AtomicU64::new(0));
        let mut lane = Lane {
            tx,
            scratch: Vec::new(),
            lost: lost.clone(),
        };
        let at = UNIX_EPOCH + Duration::from_secs(1);
        lane.push(Tag::Inf, at, &format_args!("{}", "a".repeat(200)));
        lane.push(Tag::Inf, at, &format_args!("{}", "b".repeat(200)));
        lane.push(Tag::Inf, at, &format_args!("{}", "c".repeat(200)));
        assert_eq!(lost.load(Ordering::Relaxed), 2, "two lines did not fit");
        let chunk = rx.read_chunk(rx.slots()).unwrap();
        chunk.commit_all();
        lane.push(Tag::Inf, at, &format_args!("d"));
        assert_eq!(rx.slots(), HEADER + 1, "room again after the drain");
    }
}
