//! The S2 stream framing a compressed route speaks (klauspost/compress/s2's
//! `Writer` and `Reader`, as nats-server uses them): a stream identifier
//! chunk first (`0xff`, `S2sTwO`), then chunks of a type byte, a 3-byte
//! little-endian length and a body — compressed data (`0x00`: the masked
//! CRC-32C of the uncompressed bytes, then an S2 block) or uncompressed data
//! (`0x01`: the CRC, then the bytes); padding and skippable chunks are
//! skipped. The blocks themselves are `minlz`'s.
//!
//! Sans-IO: the writer turns what a flush hands it into chunks appended to a
//! buffer, the reader turns whatever bytes arrived (any split) into the
//! plain bytes, keeping a partial chunk for the next read. No allocation
//! per message: per flush (the writer) and per chunk (the reader).

use bytes::BytesMut;

/// The stream identifier chunk.
pub const MAGIC: &[u8] = b"\xff\x06\x00\x00S2sTwO";
/// The most uncompressed bytes one chunk carries when this side writes
/// (the S2 writer's default block size).
const BLOCK: usize = 1 << 20;
/// The most a chunk may decompress to (S2's maximum block size).
const MAX_BLOCK: usize = 4 << 20;

/// The framing format's masked CRC-32C of a chunk's plain bytes.
fn checksum(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
        .rotate_right(15)
        .wrapping_add(0xa282_ead8)
}

/// How hard this side compresses (nats-server's `s2_*` modes; `auto` picks
/// one of these from the route's RTT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// S2 framing, data sent as uncompressed chunks.
    Uncompressed,
    Fast,
    Better,
    Best,
}

/// What broke a compressed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S2Error {
    /// The stream does not start with the identifier chunk.
    NoIdentifier,
    /// A chunk of a reserved unskippable type.
    UnknownChunk(u8),
    /// A chunk too short for its checksum, or decompressing past the
    /// block limit, or a block that does not decode.
    Corrupt,
    /// The checksum does not match the bytes.
    Checksum,
}

impl std::fmt::Display for S2Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            S2Error::NoIdentifier => f.write_str("s2: corrupt input (no stream identifier)"),
            S2Error::UnknownChunk(t) => write!(f, "s2: unsupported chunk type {t:#x}"),
            S2Error::Corrupt => f.write_str("s2: corrupt input"),
            S2Error::Checksum => f.write_str("s2: corrupt input, crc mismatch"),
        }
    }
}

impl std::error::Error for S2Error {}

/// Compresses a connection's outgoing bytes.
pub struct S2Writer {
    level: Level,
    started: bool,
    /// The encoder's hash tables, kept from flush to flush.
    enc: minlz::Encoder,
}

impl std::fmt::Debug for S2Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S2Writer")
            .field("level", &self.level)
            .finish()
    }
}

impl S2Writer {
    pub fn new(level: Level) -> S2Writer {
        S2Writer {
            level,
            started: false,
            enc: minlz::Encoder::new(),
        }
    }

    /// Compresses from now on at `level` (the stream goes on).
    pub fn set_level(&mut self, level: Level) {
        self.level = level;
    }

    /// Appends the chunks for `data` (one flush) to `out`, the stream
    /// identifier first on the first call.
    pub fn write(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.started {
            out.extend_from_slice(MAGIC);
            self.started = true;
        }
        for block in data.chunks(BLOCK) {
            let crc = checksum(block);
            let packed = match self.level {
                Level::Uncompressed => None,
                Level::Fast => Some(self.enc.encode(block)),
                Level::Better => Some(self.enc.encode_better(block)),
                Level::Best => Some(self.enc.encode_best(block)),
            };
            // A block that does not shrink goes as it is, as the S2 writer
            // does.
            let (kind, body): (u8, &[u8]) = match &packed {
                Some(p) if p.len() < block.len() => (0x00, p),
                _ => (0x01, block),
            };
            let len = body.len() + 4;
            out.push(kind);
            out.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(body);
        }
    }
}

/// Decompresses a connection's incoming bytes.
#[derive(Debug, Default)]
pub struct S2Reader {
    /// Bytes of a chunk not complete yet.
    partial: Vec<u8>,
    started: bool,
}

impl S2Reader {
    pub fn new() -> S2Reader {
        S2Reader::default()
    }

    /// Feeds `input` (any part of the stream); the plain bytes of every
    /// chunk it completes are appended to `out`.
    pub fn read(&mut self, input: &[u8], out: &mut BytesMut) -> Result<(), S2Error> {
        let owned;
        let mut data: &[u8] = if self.partial.is_empty() {
            input
        } else {
            self.partial.extend_from_slice(input);
            owned = std::mem::take(&mut self.partial);
            &owned
        };
        loop {
            if data.len() < 4 {
                break;
            }
            let kind = data[0];
            let len = u32::from_le_bytes([data[1], data[2], data[3], 0]) as usize;
            if !self.started && (kind != 0xff || len != MAGIC.len() - 4) {
                // Known from the header: no waiting for a body that is not one.
                return Err(S2Error::NoIdentifier);
            }
            if data.len() < 4 + len {
                break;
            }
            let body = &data[4..4 + len];
            data = &data[4 + len..];
            if !self.started {
                if kind != 0xff || body != &MAGIC[4..] {
                    return Err(S2Error::NoIdentifier);
                }
                self.started = true;
                continue;
            }
            match kind {
                0xff => {
                    // A second identifier (streams may be concatenated).
                    if body != &MAGIC[4..] {
                        return Err(S2Error::NoIdentifier);
                    }
                }
                0x00 | 0x01 => {
                    if body.len() < 4 {
                        return Err(S2Error::Corrupt);
                    }
                    let crc = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                    let start = out.len();
                    if kind == 0x00 {
                        let (n, _) = minlz::decode_len(&body[4..]).map_err(|_| S2Error::Corrupt)?;
                        if n > MAX_BLOCK {
                            return Err(S2Error::Corrupt);
                        }
                        out.resize(start + n, 0);
                        minlz::decode_into(&mut out[start..], &body[4..])
                            .map_err(|_| S2Error::Corrupt)?;
                    } else {
                        if body.len() - 4 > MAX_BLOCK {
                            return Err(S2Error::Corrupt);
                        }
                        out.extend_from_slice(&body[4..]);
                    }
                    if checksum(&out[start..]) != crc {
                        return Err(S2Error::Checksum);
                    }
                }
                // Padding, the stream index, and the skippable range.
                0x80..=0xfe => {}
                t => return Err(S2Error::UnknownChunk(t)),
            }
        }
        self.partial.extend_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_any_split() {
        let msg = b"RMSG $G foo 5\r\nhello\r\n".repeat(2000);
        for level in [Level::Uncompressed, Level::Fast, Level::Better, Level::Best] {
            let mut w = S2Writer::new(level);
            let mut wire = Vec::new();
            w.write(&msg, &mut wire);
            w.write(b"PING\r\n", &mut wire);
            assert!(wire.starts_with(MAGIC));
            if level != Level::Uncompressed {
                assert!(wire.len() < msg.len() / 4, "{level:?} compresses");
            }
            for split in [1, 3, 7, 1000, wire.len()] {
                let mut r = S2Reader::new();
                let mut out = BytesMut::new();
                for part in wire.chunks(split) {
                    r.read(part, &mut out).unwrap();
                }
                let mut want = msg.clone();
                want.extend_from_slice(b"PING\r\n");
                assert_eq!(&out[..], &want[..], "{level:?} split {split}");
            }
        }
    }

    #[test]
    fn big_flushes_are_cut_into_blocks() {
        let data: Vec<u8> = (0..3 * BLOCK + 5).map(|i| (i * 7 % 251) as u8).collect();
        let mut wire = Vec::new();
        S2Writer::new(Level::Fast).write(&data, &mut wire);
        let mut out = BytesMut::new();
        S2Reader::new().read(&wire, &mut out).unwrap();
        assert_eq!(&out[..], &data[..]);
    }

    #[test]
    fn the_checksum_is_minlz_s() {
        let data = b"RMSG $G foo 5\r\nhello\r\n".repeat(50);
        assert_eq!(checksum(&data), minlz::crc::crc(&data));
        assert_eq!(checksum(b""), minlz::crc::crc(b""));
    }

    #[test]
    fn broken_streams_are_refused() {
        let mut out = BytesMut::new();
        assert_eq!(
            S2Reader::new().read(b"PING\r\nPONG\r\n", &mut out),
            Err(S2Error::NoIdentifier)
        );
        let mut wire = Vec::new();
        S2Writer::new(Level::Fast).write(&b"x".repeat(100), &mut wire);
        let last = wire.len() - 1;
        wire[last] ^= 0xff;
        assert!(S2Reader::new().read(&wire, &mut out).is_err());
        let mut bad = MAGIC.to_vec();
        bad.extend_from_slice(&[0x02, 0, 0, 0]);
        assert_eq!(
            S2Reader::new().read(&bad, &mut out),
            Err(S2Error::UnknownChunk(2))
        );
    }
}
