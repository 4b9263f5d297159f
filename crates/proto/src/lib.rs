//! The NATS client protocol, pure: an incremental parser over `&[u8]` and the
//! encoders for what a server sends (INFO, MSG/HMSG, +OK, -ERR, PING, PONG);
//! the route protocol's parser (`route`, which also reads a leaf node
//! connection's `LS+`/`LS-`/`LMSG`), the JSON of route and leaf node
//! handshakes (`route_info`, `leaf_info`); and WebSocket framing (`ws`),
//! its compression (`ws_deflate`) and the opening handshake's decisions
//! (`ws_handshake`).
//! No I/O, no allocation on the parse path; the runtime owns buffers and sockets.

#![forbid(unsafe_code)]

pub mod encode;
mod error;
mod info;
pub mod leaf_info;
mod parser;
pub mod route;
pub mod route_handshake;
pub mod route_info;
pub mod s2;
pub mod ws;
pub mod ws_deflate;
pub mod ws_handshake;

pub use error::ProtoError;
pub use info::{ConnectOptions, ServerInfo};
pub use parser::{control_line, parse, parse_size, Limits, Op, Parsed, Span};
