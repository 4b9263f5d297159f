//! Shoal's one end-to-end test binary (ripgrep style): every module starts the
//! real `shoal` binary (and, for differential tests, the reference nats-server
//! 2.15) on loopback ports it picks, and talks to it over real sockets.

mod util;

mod auth;
mod boot;
mod cli;
mod client;
mod cluster;
mod cluster_events;
mod cluster_pool;
mod cluster_tls;
mod config;
mod crosscore;
mod differential;
mod hostile;
mod jetstream;
mod leaf;
mod leaf_cluster;
mod lifecycle;
mod metrics;
mod monitor;
mod operator;
mod python;
mod raw;
mod route_wire;
mod slow;
mod sysreq;
mod tls;
mod trace;
mod websocket;
mod websocket_clients;
