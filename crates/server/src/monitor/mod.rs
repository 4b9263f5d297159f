//! HTTP monitoring (`-m/--http_port`): nats-server's `/varz`, `/connz`,
//! `/subsz` (`/subscriptionsz`), `/routez`, `/healthz`, `/accountz`, `/accstatz` and the
//! index page, with nats-server 2.15's field names, types, key order and
//! parameter errors, so dashboards and exporters read Shoal unchanged.
//! Shoal's own per-core figures sit under keys no NATS server uses (`/varz`
//! `shoal`, `/connz` `core`).
//!
//! Shape: an executor thread of its own serves HTTP ([`http`]: one task per
//! connection, keep-alive, bounded waits), and learns the cores' state only by
//! asking each core's agent for a snapshot ([`hub`]), which the core builds on
//! itself when asked. Nothing here runs on the message path or takes a lock a
//! core waits on; the message path only bumps `Cell` counters. Pages:
//! [`varz`], [`connz`], [`subsz`], [`accstatz`], [`others`] (routez, healthz, accountz,
//! index), and Shoal's own [`metrics`] (Prometheus text, with the names the
//! prometheus-nats-exporter gives nats-server's figures); Go's spelling of
//! values: [`format`]; query parameters: [`query`].
//!
//! Layering: the cores know nothing of this module; `node.rs` starts each
//! core's agent ([`hub::serve`]) when monitoring is on.

mod accstatz;
mod connz;
pub(crate) mod format;
mod http;
pub mod hub;
mod metrics;
mod others;
mod query;
pub(crate) mod server_info;
mod subsz;
pub mod sysreq;
mod varz;

pub use http::HttpServer;

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::core::Shared;
use crate::records::{CoreSnapshot, Request};
use hub::Gatherer;

/// How long a page waits for the cores.
const GATHER_TIMEOUT: Duration = Duration::from_secs(2);

/// The only account Shoal has (nats-server's global account).
const GLOBAL_ACCOUNT: &str = "$G";

/// Facts about the running server that the pages show and that never change.
pub struct Static {
    /// `http_host` as configured (the client host when not set).
    pub http_host: String,
    /// `http_port` as configured (`-1` stays `-1`, as nats-server shows it).
    pub http_port: i32,
    /// CPUs this process may use (`cores`).
    pub cpus: usize,
    /// Shoal cores running (`gomaxprocs`: the threads that run the server).
    pub cores: usize,
}

/// What a page handler sees.
pub struct Ctx<'a> {
    pub shared: &'a Arc<Shared>,
    pub info: &'a Static,
    gatherer: &'a Gatherer,
    /// When the request was served (`now`); moved to just after the cores
    /// answered, so that no connection looks younger than zero.
    pub now: Cell<SystemTime>,
}

impl Ctx<'_> {
    /// One snapshot per core (cores that did not answer in time left out).
    async fn gather(&self, req: Request) -> Vec<CoreSnapshot> {
        let snaps = self.gatherer.gather(req, GATHER_TIMEOUT).await;
        self.now.set(SystemTime::now());
        snaps
    }

    fn now(&self) -> String {
        format::rfc3339(self.now.get())
    }
}

/// A page's answer.
pub enum Reply {
    /// 200, pretty JSON.
    Json(Vec<u8>),
    /// Compact JSON with this status (`/healthz`).
    JsonStatus(u16, Vec<u8>),
    /// 400 with nats-server's plain-text message.
    BadRequest(String),
    /// The HTML index page.
    Html(String),
    /// Prometheus text exposition (`/metrics`).
    Prometheus(String),
    /// 404.
    NotFound,
}
