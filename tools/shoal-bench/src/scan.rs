//! The subscriber side: a fast MSG frame scanner over a large read buffer, and the
//! bookkeeping that says what arrived — per publisher, lost, duplicated and
//! out-of-order messages, from the 12-byte stamp (publisher id, sequence) that
//! publishers put at the start of every payload of 12 bytes or more.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes at the front of a payload that identify it: u32 publisher, u64 sequence.
pub const STAMP: usize = 12;

pub fn stamp(buf: &mut [u8], publisher: u32, seq: u64) {
    buf[..4].copy_from_slice(&publisher.to_le_bytes());
    buf[4..12].copy_from_slice(&seq.to_le_bytes());
}

/// What one subscriber saw.
#[derive(Default, Clone, Debug)]
pub struct Received {
    pub msgs: u64,
    pub bytes: u64,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
    /// Per publisher: a bitmap of sequences seen (for exactly-once checks).
    pub seen: Vec<Vec<u64>>,
    pub out_of_order: u64,
    pub duplicates: u64,
    /// Per publisher: the highest sequence seen + 1.
    next: Vec<u64>,
}

impl Received {
    fn record(&mut self, payload: &[u8], track: bool) {
        self.msgs += 1;
        self.bytes += payload.len() as u64;
        if !track || payload.len() < STAMP {
            return;
        }
        let p = u32::from_le_bytes(payload[..4].try_into().unwrap()) as usize;
        let seq = u64::from_le_bytes(payload[4..12].try_into().unwrap());
        if p >= self.next.len() {
            self.next.resize(p + 1, 0);
            self.seen.resize(p + 1, Vec::new());
        }
        let words = &mut self.seen[p];
        let (w, bit) = ((seq / 64) as usize, seq % 64);
        if w >= words.len() {
            words.resize(w + 1 + words.len() / 2, 0);
        }
        if words[w] & (1 << bit) != 0 {
            self.duplicates += 1;
        }
        words[w] |= 1 << bit;
        if seq < self.next[p] {
            self.out_of_order += 1;
        } else {
            self.next[p] = seq + 1;
        }
    }
}

/// Reads MSG frames until `expected` (once non-zero) messages have arrived, or
/// nothing has arrived for `idle`. `progress` is bumped as messages arrive.
pub fn receive(
    mut s: crate::tls::Stream,
    expected: Arc<AtomicU64>,
    progress: Arc<AtomicU64>,
    idle: Duration,
    track: bool,
) -> Received {
    let mut r = Received::default();
    let mut buf = vec![0u8; 8 << 20];
    let (mut len, mut pos) = (0usize, 0usize);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut last_data = Instant::now();
    loop {
        let want = expected.load(Ordering::Relaxed);
        if want > 0 && r.msgs >= want {
            break;
        }
        if last_data.elapsed() > idle {
            break;
        }
        if buf.len() - len < (1 << 20) {
            buf.copy_within(pos..len, 0);
            len -= pos;
            pos = 0;
            if buf.len() - len < (1 << 20) {
                buf.resize(buf.len() * 2, 0);
            }
        }
        let n = match s.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(_) => break,
        };
        let now = Instant::now();
        last_data = now;
        r.first.get_or_insert(now);
        len += n;
        let before = r.msgs;
        while let Some(nl) = memchr::memchr(b'\n', &buf[pos..len]) {
            let line = &buf[pos..pos + nl];
            if line.starts_with(b"PING") {
                let _ = std::io::Write::write_all(&mut s, b"PONG\r\n");
                pos += nl + 1;
                continue;
            }
            if !(line.starts_with(b"MSG ") || line.starts_with(b"HMSG ")) {
                pos += nl + 1;
                continue;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let sp = memchr::memrchr(b' ', line).unwrap_or(0);
            let size = parse_num(&line[sp + 1..]);
            let total = nl + 1 + size + 2;
            if len - pos < total {
                break;
            }
            let payload = &buf[pos + nl + 1..pos + nl + 1 + size];
            r.record(payload, track);
            pos += total;
        }
        if r.msgs != before {
            r.last = Some(now);
            progress.fetch_add(r.msgs - before, Ordering::Relaxed);
        }
    }
    r
}

pub fn parse_num(d: &[u8]) -> usize {
    d.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |a, &b| a * 10 + (b - b'0') as usize)
}

/// Merges subscribers' bitmaps: (distinct messages, duplicates across all, missing
/// below each publisher's `sent`).
pub fn exactly_once(all: &[Received], sent: &[u64]) -> (u64, u64, u64) {
    let mut distinct = 0;
    let mut dups = 0;
    let mut missing = 0;
    for (p, &n) in sent.iter().enumerate() {
        let words = (n as usize).div_ceil(64);
        let mut acc = vec![0u64; words];
        for r in all {
            if let Some(bits) = r.seen.get(p) {
                for (i, w) in bits.iter().enumerate().take(words) {
                    dups += (acc[i] & w).count_ones() as u64;
                    acc[i] |= w;
                }
            }
        }
        let got: u64 = acc.iter().map(|w| w.count_ones() as u64).sum();
        distinct += got;
        missing += n - got.min(n);
    }
    (distinct, dups, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookkeeping() {
        let mut r = Received::default();
        let mut p = [0u8; 16];
        for seq in [0u64, 1, 3, 2, 3] {
            stamp(&mut p, 1, seq);
            r.record(&p, true);
        }
        assert_eq!(r.msgs, 5);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.out_of_order, 2);
        let (distinct, dups, missing) = exactly_once(&[r.clone(), r], &[0, 5]);
        assert_eq!(distinct, 4);
        assert_eq!(missing, 1);
        assert_eq!(dups, 4);
    }
}
