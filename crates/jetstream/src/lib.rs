//! JetStream's logic, without the runtime: what a stream is configured
//! with ([`config`]), how its messages are kept ([`store`]), what a publish
//! into it checks and answers ([`stream`]), and the `$JS.API` requests an
//! account's streams answer ([`api`]), each as nats-server 2.15 does it
//! (spec/jetstream.md; the real server where the page is silent).
//!
//! Invariants: nothing here knows sockets, cores or files; the runtime
//! owns a [`api::Account`] per JetStream account on the core that owns
//! JetStream, hands it each request and each captured message with the
//! time, and routes what it answers. Every answer is Go's JSON byte for
//! byte (key order, `<>&` escaped), so the differential tests compare
//! replies with nats-server's after normalising times and ids.
//!
//! Never blocks, never does I/O; allocates per stored message (the store
//! owns its copy) and per request, never per delivery.

pub mod api;
pub mod config;
pub mod errors;
pub mod headers;
pub mod json;
pub mod log;
pub mod store;
pub mod stream;

pub use api::{Account, Ctx, Outcome};
pub use errors::ApiError;

/// The JetStream API level nats-server 2.15 announces.
pub const API_LEVEL: u32 = 5;

/// The version nats-server's metadata names (`_nats.ver`).
pub const VERSION: &str = "2.15.1";
