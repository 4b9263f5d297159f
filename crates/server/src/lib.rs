//! The Shoal runtime: boot, one glommio executor per core, connections, rings and
//! routing. The binary (`crates/shoal`) hands it a [`Config`] and gets back a
//! [`Server`] handle; everything below that handle is thread-per-core.

mod config;

pub use config::Config;

use std::net::SocketAddr;

/// The version of nats-server whose behaviour Shoal reproduces; clients gate
/// features on INFO's `version`, so this is what INFO and `-v` report.
pub const NATS_VERSION: &str = "2.15.1";
/// Shoal's own version.
pub const SHOAL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the server could not start.
#[derive(Debug)]
pub enum BootError {
    /// io_uring cannot be used here (seccomp, `kernel.io_uring_disabled`, old kernel).
    IoUringUnavailable(String),
    /// The listen address could not be bound.
    Bind(String, std::io::Error),
    /// Any other start-up failure (CPU affinity, thread spawn, bad option).
    Other(String),
}

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BootError::IoUringUnavailable(why) => write!(f, "io_uring is unavailable: {why}"),
            BootError::Bind(addr, e) => write!(f, "Error listening on port: {addr}, {e:?}"),
            BootError::Other(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for BootError {}

/// A running server: its cores, its bound address, and the way to stop it.
pub struct Server {
    _priv: (),
}

impl Server {
    /// Boot: raise rlimits, probe io_uring, spawn one executor per core, bind the
    /// listeners. Returns once every core is accepting.
    pub fn start(_config: Config) -> Result<Server, BootError> {
        unimplemented!()
    }
    /// The address clients connect to (the real port when `-1`/`0` was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        unimplemented!()
    }
    /// The generated server id (56 chars, starting with `N`).
    pub fn server_id(&self) -> &str {
        unimplemented!()
    }
    /// Number of cores running.
    pub fn cores(&self) -> usize {
        unimplemented!()
    }
    /// Stop accepting, flush what is queued (bounded), close every connection and
    /// join the cores. Returns when every core has stopped.
    pub fn shutdown(self) {
        unimplemented!()
    }
}
