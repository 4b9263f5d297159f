//! `permessage-deflate` (RFC 7692) as nats-server negotiates it: with
//! `server_no_context_takeover` and `client_no_context_takeover`, so every
//! message is compressed and inflated on its own. A message's raw DEFLATE
//! data ends with a sync flush whose `00 00 ff ff` tail is left off on the
//! wire; inflating puts it back, followed (as nats-server's
//! `compressLastBlock`) by an empty final block.
//!
//! Pure (miniz_oxide); the compressor's state (a few hundred KiB) is kept
//! and reset per message by its owner, one per connection that compresses.

use miniz_oxide::deflate::core::CompressorOxide;
use miniz_oxide::deflate::stream::deflate;
use miniz_oxide::inflate::decompress_to_vec_with_limit;
use miniz_oxide::{DataFormat, MZFlush, MZStatus};

/// The sync-flush tail, then an empty final stored block.
const LAST_BLOCK: [u8; 9] = [0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff];

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates to more than the limit.
    TooBig,
    /// It is not DEFLATE data.
    Corrupt,
}

/// Inflates one message's payload (as received, tail left off), to at most
/// `limit` bytes.
pub fn inflate(compressed: &[u8], limit: usize) -> Result<Vec<u8>, InflateError> {
    let mut input = Vec::with_capacity(compressed.len() + LAST_BLOCK.len());
    input.extend_from_slice(compressed);
    input.extend_from_slice(&LAST_BLOCK);
    decompress_to_vec_with_limit(&input, limit).map_err(|e| match e.status {
        miniz_oxide::inflate::TINFLStatus::HasMoreOutput => InflateError::TooBig,
        _ => InflateError::Corrupt,
    })
}

/// A connection's compressor: each [`Deflater::compress`] is one message,
/// independent of the ones before (no context takeover).
pub struct Deflater {
    state: Box<CompressorOxide>,
}

impl Default for Deflater {
    fn default() -> Deflater {
        Deflater::new()
    }
}

impl Deflater {
    pub fn new() -> Deflater {
        let mut state = Box::<CompressorOxide>::default();
        // Go's flate.BestSpeed, which nats-server uses.
        state.set_format_and_level(DataFormat::Raw, 1);
        Deflater { state }
    }

    /// Appends `message` compressed to `out`, the sync tail left off.
    pub fn compress(&mut self, message: &[u8], out: &mut Vec<u8>) {
        self.compress_parts(&[message], out);
    }

    /// [`Deflater::compress`] of one message given in parts (a writer's
    /// queued slices), without joining them first.
    pub fn compress_parts(&mut self, parts: &[&[u8]], out: &mut Vec<u8>) {
        self.state.reset();
        let start = out.len();
        let mut chunk = [0u8; 16 * 1024];
        for (i, part) in parts.iter().enumerate() {
            // Only the last part ends with the sync flush.
            let flush = if i + 1 == parts.len() {
                MZFlush::Sync
            } else {
                MZFlush::None
            };
            let mut input: &[u8] = part;
            loop {
                let r = deflate(&mut self.state, input, &mut chunk, flush);
                input = &input[r.bytes_consumed..];
                out.extend_from_slice(&chunk[..r.bytes_written]);
                let done = matches!(r.status, Ok(MZStatus::Ok))
                    && input.is_empty()
                    && r.bytes_written < chunk.len();
                if done || r.status.is_err() {
                    break;
                }
            }
        }
        if out.len() >= start + 4 && out[out.len() - 4..] == [0x00, 0x00, 0xff, 0xff] {
            out.truncate(out.len() - 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_each_on_its_own() {
        let mut d = Deflater::new();
        let a = b"MSG foo 1 11\r\nhello world\r\n".repeat(50);
        let mut wire = Vec::new();
        d.compress(&a, &mut wire);
        assert!(wire.len() < a.len() / 5, "{} bytes", wire.len());
        assert!(!wire.ends_with(&[0x00, 0x00, 0xff, 0xff]));
        assert_eq!(inflate(&wire, 1 << 20).unwrap(), a);
        // The next message needs nothing of the first.
        let b = vec![7u8; 100_000];
        let mut wire2 = Vec::new();
        d.compress(&b, &mut wire2);
        assert_eq!(inflate(&wire2, 1 << 20).unwrap(), b);
        assert_eq!(inflate(&wire2, 1000), Err(InflateError::TooBig));
        assert_eq!(
            inflate(&[0xff, 0xff, 0xff], 1000),
            Err(InflateError::Corrupt)
        );
    }

    #[test]
    fn a_message_in_parts_inflates_whole() {
        let a = b"MSG foo 1 11\r\nhello world\r\n".repeat(40);
        let b = vec![b'x'; 70_000];
        let mut d = Deflater::new();
        let mut wire = Vec::new();
        d.compress_parts(&[&a, &b, b"PONG\r\n"], &mut wire);
        let mut whole = a.clone();
        whole.extend_from_slice(&b);
        whole.extend_from_slice(b"PONG\r\n");
        assert_eq!(inflate(&wire, 1 << 20).unwrap(), whole);
    }

    #[test]
    fn what_a_browser_sends_inflates() {
        // "Hello" compressed by a permessage-deflate client (RFC 7692 §7.2.3.1).
        let wire = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate(&wire, 100).unwrap(), b"Hello");
    }
}
