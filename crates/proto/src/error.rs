//! Protocol errors found while parsing client input. Each variant knows whether
//! nats-server answers it with a `-ERR` (and which exact text) or closes silently;
//! every one of them ends the connection. Errors that keep the connection open
//! (invalid subject, permissions) are decided by the server, not the parser.

/// A parse failure. All of them close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtoError {
    /// Bad op name, or the two bytes after a payload are not CRLF.
    UnknownOp,
    /// The argument part of a control line is longer than `max_control_line`.
    MaxControlLine,
    /// PUB/HPUB size above `max_payload` (checked on the control line).
    MaxPayload,
    /// Wrong argument count, an invalid size, header size above total, HPUB on a
    /// connection without headers, invalid JSON: nats-server closes without `-ERR`.
    Violation,
    /// The client sent `-ERR`: nats-server logs it and closes.
    ClientErr,
}

impl ProtoError {
    /// The exact `-ERR` line nats-server sends before closing, if any.
    pub fn err_line(self) -> Option<&'static [u8]> {
        match self {
            ProtoError::UnknownOp => Some(b"-ERR 'Unknown Protocol Operation'\r\n"),
            ProtoError::MaxControlLine => Some(b"-ERR 'maximum control line exceeded'\r\n"),
            ProtoError::MaxPayload => Some(b"-ERR 'Maximum Payload Violation'\r\n"),
            ProtoError::Violation | ProtoError::ClientErr => None,
        }
    }

    /// The reason recorded for the closed connection (nats-server's words).
    pub fn close_reason(self) -> &'static str {
        match self {
            ProtoError::MaxPayload => "Maximum Payload Exceeded",
            ProtoError::MaxControlLine => "Maximum Control Line Exceeded",
            ProtoError::ClientErr => "Client Closed",
            ProtoError::UnknownOp | ProtoError::Violation => "Parse Error",
        }
    }
}

impl std::fmt::Display for ProtoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ProtoError::UnknownOp => "Unknown Protocol Operation",
            ProtoError::MaxControlLine => "maximum control line exceeded",
            ProtoError::MaxPayload => "Maximum Payload Violation",
            ProtoError::Violation => "protocol violation",
            ProtoError::ClientErr => "client sent -ERR",
        })
    }
}

impl std::error::Error for ProtoError {}
