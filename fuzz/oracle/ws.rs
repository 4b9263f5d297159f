//! Oracle for the WebSocket frame decoder (`shoal_proto::ws::Decoder`),
//! shared by the `ws` fuzz target and `crates/proto/tests/fuzz_corpus.rs`.
//!
//! The first byte chooses the decoder's options (bit 0: masking required,
//! bit 1: compression negotiated) and a read size (its upper six bits + 1);
//! the rest is the stream. The stream decoded in one call and decoded in
//! reads of that size must give the same data bytes, control frames,
//! compressed messages, close and error: frames may be cut anywhere. The
//! data never outgrows the input, and nothing panics.

use bytes::BytesMut;
use shoal_proto::ws::{Control, Decoder};

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    data: Vec<u8>,
    controls: Vec<Control>,
    compressed: Vec<Vec<u8>>,
    closed: bool,
    error: Option<String>,
}

fn run(input: &[u8], require_mask: bool, compression: bool, read: usize) -> Outcome {
    let mut d = Decoder::new(require_mask, compression, 1 << 16);
    let mut data = BytesMut::new();
    let mut o = Outcome {
        data: Vec::new(),
        controls: Vec::new(),
        compressed: Vec::new(),
        closed: false,
        error: None,
    };
    for chunk in input.chunks(read.max(1)) {
        let mut c = chunk.to_vec();
        match d.decode(&mut c, &mut data) {
            Ok(out) => {
                o.controls.extend(out.controls);
                o.compressed.extend(out.compressed);
                if out.closed {
                    o.closed = true;
                    break;
                }
            }
            Err(e) => {
                o.error = Some(e.0);
                break;
            }
        }
    }
    o.data = data.to_vec();
    assert!(o.data.len() <= input.len(), "more data than input");
    o
}

pub fn check(data: &[u8]) {
    let Some((&opts, input)) = data.split_first() else {
        return;
    };
    let (mask, comp) = (opts & 1 != 0, opts & 2 != 0);
    let read = usize::from(opts >> 2) + 1;
    let whole = run(input, mask, comp, input.len());
    let pieces = run(input, mask, comp, read);
    assert_eq!(whole, pieces, "read size {read}");
}
