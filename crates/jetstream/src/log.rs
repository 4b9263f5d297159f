//! A file stream's log: the records its store's changes are written as,
//! appended in order, replayed at start-up. Each record is
//! `len u32 | crc32c u32 | kind u8 | body` (little endian; `len` counts
//! kind and body, the CRC covers them): a message (`seq u64, ts i64,
//! subject u16-prefixed, header u32-prefixed, payload u32-prefixed`), a
//! removal (`seq u64`), or the bounds after a purge past the end
//! (`first u64, last u64`).
//!
//! Invariants: a record is whole or it is the torn end of the log — replay
//! stops at the first record that is short or fails its CRC, and says how
//! many bytes were good (the rest is cut off when the log is rewritten).
//! Pure bytes in and out: the runtime does the I/O. Knows no store (the
//! store writes and reads its records through it).

use bytes::Bytes;

const MSG: u8 = 1;
const REMOVED: u8 = 2;
const BOUNDS: u8 = 3;

/// One stored message, as the store keeps it and its record holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMsg {
    pub subject: Bytes,
    pub hdr: Bytes,
    pub data: Bytes,
    /// Nanoseconds since the epoch.
    pub ts: i64,
}

/// One replayed record.
#[derive(Debug, PartialEq, Eq)]
pub enum Rec {
    Msg(u64, StoredMsg),
    Removed(u64),
    Bounds(u64, u64),
}

fn frame(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    let len = (body.len() + 1) as u32;
    let mut crc = crc32c::crc32c(&[kind]);
    crc = crc32c::crc32c_append(crc, body);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
}

/// Appends message `seq`'s record (its time, subject, header block and
/// payload).
pub fn put_msg(out: &mut Vec<u8>, seq: u64, ts: i64, subject: &[u8], hdr: &[u8], data: &[u8]) {
    let mut b = Vec::with_capacity(30 + subject.len() + hdr.len() + data.len());
    b.extend_from_slice(&seq.to_le_bytes());
    b.extend_from_slice(&ts.to_le_bytes());
    b.extend_from_slice(&(subject.len() as u16).to_le_bytes());
    b.extend_from_slice(subject);
    b.extend_from_slice(&(hdr.len() as u32).to_le_bytes());
    b.extend_from_slice(hdr);
    b.extend_from_slice(&(data.len() as u32).to_le_bytes());
    b.extend_from_slice(data);
    frame(out, MSG, &b);
}

/// Appends a removal's record.
pub fn put_removed(out: &mut Vec<u8>, seq: u64) {
    frame(out, REMOVED, &seq.to_le_bytes());
}

/// Appends the bounds' record.
pub fn put_bounds(out: &mut Vec<u8>, first: u64, last: u64) {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&first.to_le_bytes());
    b[8..].copy_from_slice(&last.to_le_bytes());
    frame(out, BOUNDS, &b);
}

/// A little-endian reader over a record's body.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn decode(kind: u8, body: &[u8]) -> Option<Rec> {
    let mut c = Cursor(body);
    match kind {
        MSG => {
            let seq = c.u64()?;
            let ts = c.u64()? as i64;
            let n = c.u16()? as usize;
            let subject = Bytes::copy_from_slice(c.take(n)?);
            let n = c.u32()? as usize;
            let hdr = Bytes::copy_from_slice(c.take(n)?);
            let n = c.u32()? as usize;
            let data = Bytes::copy_from_slice(c.take(n)?);
            Some(Rec::Msg(
                seq,
                StoredMsg {
                    subject,
                    hdr,
                    data,
                    ts,
                },
            ))
        }
        REMOVED => Some(Rec::Removed(c.u64()?)),
        BOUNDS => Some(Rec::Bounds(c.u64()?, c.u64()?)),
        _ => None,
    }
}

/// The records of `log`, up to the first torn or corrupt one, and how many
/// bytes of it were good.
pub fn replay(log: &[u8]) -> (Vec<Rec>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    while log.len() - at >= 9 {
        let len = u32::from_le_bytes(log[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(log[at + 4..at + 8].try_into().expect("4 bytes"));
        if len == 0 || log.len() - at - 8 < len {
            break;
        }
        let rec = &log[at + 8..at + 8 + len];
        if crc32c::crc32c(rec) != crc {
            break;
        }
        let Some(r) = decode(rec[0], &rec[1..]) else {
            break;
        };
        out.push(r);
        at += 8 + len;
    }
    (out, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(out: &mut Vec<u8>, seq: u64, s: &str, h: &str, d: &str, ts: i64) {
        put_msg(out, seq, ts, s.as_bytes(), h.as_bytes(), d.as_bytes());
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let mut log = Vec::new();
        put(&mut log, 1, "a", "", "x", 5);
        put(&mut log, 2, "b", "NATS/1.0\r\n\r\n", "yy", 6);
        put_removed(&mut log, 1);
        put_bounds(&mut log, 10, 9);
        let good = log.len();
        let (recs, n) = replay(&log);
        assert_eq!(n, good);
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[2], Rec::Removed(1));
        assert_eq!(recs[3], Rec::Bounds(10, 9));
        // A record cut anywhere is not replayed, nor anything after it.
        put(&mut log, 3, "c", "", "zzz", 7);
        for cut in good + 1..log.len() {
            let (recs, n) = replay(&log[..cut]);
            assert_eq!((recs.len(), n), (4, good), "cut at {cut}");
        }
        // A flipped byte fails the CRC.
        let mut bad = log.clone();
        bad[good + 12] ^= 1;
        assert_eq!(replay(&bad).1, good);
    }
}
