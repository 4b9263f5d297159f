//! nats-server's configuration file format, in full: `key: value`, `key = value`
//! and `key value`; maps, arrays, `#` and `//` comments; quoted, unquoted and
//! block strings; integers with size suffixes, floats, booleans
//! (`true/false/yes/no/on/off`), Zulu datetimes; `$variables` (earlier keys, then
//! the environment); `include` (relative to the including file); a top-level
//! `{ … }` (so JSON is a valid configuration).
//!
//! The crate only reads the format; what the keys mean is the server's business.
//! It reproduces nats-server 2.15's lexer and parser, quirks included (unquoted
//! `2m` is the integer 2,000,000; `[1]` is a syntax error; the first line's
//! columns are 0-based), because a file must mean the same thing to both servers.
//! Errors are worded as nats-server words them ([`Error`]); every value carries
//! the position nats-server would report ([`Pos`]); [`digest`] is the checksum
//! `nats-server -t` prints.
//!
//! ```
//! let map = shoal_conf::parse_str("port: 4222\nmax_payload: 1MB\n", "x.conf").unwrap();
//! assert_eq!(map.get("max_payload").unwrap().as_i64(), Some(1 << 20));
//! assert_eq!(map.get("port").unwrap().pos.to_string(), "x.conf:1:0");
//! ```
//!
//! Pure apart from reading the files it is asked to read and the environment
//! variables a configuration names.

#![forbid(unsafe_code)]

mod digest;
mod error;
mod lex;
mod parse;
mod value;

pub use digest::{digest, go_json};
pub use error::Error;
pub use value::{Kind, Map, Pos, Value};

/// How deep includes may nest. nats-server has no limit and overflows its stack
/// on an include cycle; Shoal stops with [`Error::IncludeDepth`].
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// Read and parse the configuration file `path`, named in positions and messages
/// exactly as given (as nats-server does with its `-c` argument).
pub fn parse_file(path: &str) -> Result<Map, Error> {
    parse::parse_file(path, Vec::new(), 0)
}

/// Parse configuration text; `file` names it in positions and is the directory
/// base for includes.
pub fn parse_str(text: &str, file: &str) -> Result<Map, Error> {
    parse::parse(text.as_bytes(), file, Vec::new(), 0)
}
