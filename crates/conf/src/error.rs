//! Why a configuration could not be read, worded exactly as nats-server 2.15 words
//! it, so that an operator (or a script grepping for it) sees the same text.
//!
//! The lexer's errors carry only a line (`Parse error on line N: '...'`) and value
//! conversion errors none at all, as in nats-server; errors about keys and values
//! that the *server* finds (unknown field, bad type) are the caller's, positioned
//! with [`crate::Pos`].

use std::fmt;
use std::io;

/// A configuration that could not be turned into a tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The file could not be read: Go's `<op> <path>: <reason>`
    /// (`open x.conf: no such file or directory`, `read d: is a directory`).
    Io {
        op: &'static str,
        path: String,
        reason: String,
    },
    /// The lexer stopped: `Parse error on line N: '<message>'`.
    Parse {
        line: u32,
        message: String,
    },
    /// An integer that does not fit in 64 bits.
    IntegerRange(String),
    /// Text lexed as an integer that is not one.
    NotInteger(String),
    /// A float that does not fit in 64 bits.
    FloatRange(String),
    NotFloat(String),
    NotBool(String),
    /// `YYYY-MM-DDTHH:MM:SSZ` with a field out of range.
    DateTime(String),
    /// `$name` with no earlier key of that name in scope and no such environment
    /// variable.
    VariableNotFound {
        name: String,
        line: u32,
    },
    /// `$name` from the environment whose text is not a valid value.
    VariableUnparsable {
        name: String,
        line: u32,
        cause: Box<Error>,
    },
    /// An environment variable whose value refers back to itself.
    VariableCycle(String),
    /// An included file failed (`path` as written after `include`).
    Include {
        path: String,
        cause: Box<Error>,
    },
    /// Includes nested deeper than [`crate::MAX_INCLUDE_DEPTH`] (an include cycle;
    /// nats-server overflows its stack instead).
    IncludeDepth(String),
    /// Input ended right after a key: `config is invalid (<file>:<line>:<col>)`.
    Invalid {
        file: String,
        line: u32,
        col: i64,
    },
}

impl Error {
    /// An I/O error on `path`, in Go's words.
    pub fn io(op: &'static str, path: &str, err: &io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_string(),
            reason: shoal_go::errno_text(err),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { op, path, reason } => write!(f, "{op} {path}: {reason}"),
            Error::Parse { line, message } => write!(f, "Parse error on line {line}: '{message}'"),
            Error::IntegerRange(v) => write!(f, "integer '{v}' is out of the range"),
            Error::NotInteger(v) => write!(f, "expected integer, but got '{v}'"),
            Error::FloatRange(v) => write!(f, "float '{v}' is out of the range"),
            Error::NotFloat(v) => write!(f, "expected float, but got '{v}'"),
            Error::NotBool(v) => write!(f, "expected boolean value, but got '{v}'"),
            Error::DateTime(v) => write!(f, "expected Zulu formatted DateTime, but got '{v}'"),
            Error::VariableNotFound { name, line } => write!(
                f,
                "variable reference for '{name}' on line {line} can not be found"
            ),
            Error::VariableUnparsable { name, line, cause } => write!(
                f,
                "variable reference for '{name}' on line {line} could not be parsed: {cause}"
            ),
            Error::VariableCycle(name) => write!(f, "variable reference cycle for '{name}'"),
            Error::Include { path, cause } => {
                write!(f, "error parsing include file '{path}', {cause}")
            }
            Error::IncludeDepth(path) => write!(
                f,
                "include of '{path}' nested more than {} levels deep (an include cycle?)",
                crate::MAX_INCLUDE_DEPTH
            ),
            Error::Invalid { file, line, col } => {
                write!(f, "config is invalid ({file}:{line}:{col})")
            }
        }
    }
}

impl std::error::Error for Error {}
