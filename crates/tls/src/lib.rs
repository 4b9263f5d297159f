//! TLS for client connections, with no sockets and no runtime in sight:
//!
//! * [`build`]: nats-server's `tls {}` options (already parsed, see
//!   [`TlsOptions`]) → a rustls server configuration, loading the certificate,
//!   key and CA files with nats-server's error texts. Runs once, at start-up
//!   or on a reload, on the main thread (it reads files).
//! * [`build_route`]: a `cluster { tls {} }` block → both sides of a
//!   route's TLS (accepting and dialling, mutual either way).
//! * [`Session`]: one connection's rustls state, driven by the connection's
//!   reader (ciphertext in, plaintext out) and writer (plaintext in, records
//!   out). Sans-IO: it never touches a socket and never blocks.
//! * [`identity`]: what a client certificate says about who it is, in the
//!   forms nats-server's `verify_and_map` looks users up by, and its pinned
//!   key digest.
//!
//! Must never: read a file or a clock outside [`build`], or allocate per
//! message (the session encrypts a wake-up's worth of messages at a time).

mod config;
pub mod dn;
pub mod identity;
mod route;
mod session;

pub use config::{
    build, cipher_names, cipher_suite, curve, BuildError, CipherError, TlsOptions, TlsVersion,
    CURVE_NAMES,
};
pub use route::{build_client, build_route, server_name, RouteConfigs};
pub use rustls::pki_types::ServerName;
pub use session::{HandshakeError, Session, SessionInfo};

/// The shared, immutable server configuration every connection's session is
/// made from.
pub type ServerConfig = std::sync::Arc<rustls::ServerConfig>;

/// The same for the connections this server dials (routes).
pub type ClientConfig = std::sync::Arc<rustls::ClientConfig>;
