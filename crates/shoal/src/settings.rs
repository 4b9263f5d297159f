//! [`Settings`]: every option as the configuration file and the flags give
//! it, before defaults. Plain data, filled by `config.rs` (the file) and
//! `options.rs` (the flags, then defaults and cross-checks), which is why it
//! lives apart from both.

use std::time::Duration;

use crate::accountsconf::AccountSettings;
use crate::authconf::AuthSettings;

/// Values from the file and the flags before defaults: `None` = not set.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub host: Option<String>,
    pub port: Option<i64>,
    pub server_name: Option<String>,
    pub max_payload: Option<i64>,
    pub max_pending: Option<i64>,
    pub max_control_line: Option<i64>,
    pub max_connections: Option<i64>,
    pub max_subscriptions: Option<i64>,
    pub ping_interval: Option<Duration>,
    pub ping_max: Option<i64>,
    pub write_deadline: Option<Duration>,
    pub lame_duck_duration: Option<Duration>,
    pub lame_duck_grace_period: Option<Duration>,
    pub debug: Option<bool>,
    pub trace: Option<bool>,
    pub logtime: Option<bool>,
    pub logtime_utc: Option<bool>,
    pub log_file: Option<String>,
    pub pid_file: Option<String>,
    pub ports_file_dir: Option<String>,
    pub http_host: Option<String>,
    pub http_port: Option<i64>,
    pub no_header_support: Option<bool>,
    pub cores: Option<i64>,
    pub ring_capacity: Option<i64>,
    pub client_advertise: Option<String>,
    pub cluster_name: Option<String>,
    pub max_traced_msg_len: Option<i64>,
    pub trace_headers: Option<bool>,
    pub max_sub_tokens: Option<i64>,
    pub max_closed_clients: Option<i64>,
    pub auth: Option<AuthSettings>,
    pub no_auth_user: Option<String>,
    pub accounts: Option<AccountSettings>,
    /// Top-level `mappings` (the global account's).
    pub mappings: Option<Vec<shoal_server::mappings::Mapping>>,
    /// `operator`, `resolver`, `resolver_preload`, `system_account`.
    pub operator: crate::operatorconf::OperatorSettings,
    /// `--user`, `--pass`, `--auth`: override the block's single user and token.
    pub flag_user: Option<String>,
    pub flag_pass: Option<String>,
    pub flag_token: Option<String>,
    /// `cluster {}`, checked (see `clusterconf.rs`).
    pub cluster: Option<crate::clusterconf::ClusterSettings>,
    /// `--cluster`, `--routes` and the other cluster flags.
    pub flag_cluster: crate::clusterconf::ClusterFlags,
    /// `tls {}`, built.
    pub tls: Option<crate::tlsconf::TlsSettings>,
    /// `leafnodes {}` (see `leafconf.rs`).
    pub leafnodes: Option<crate::leafconf::LeafSettings>,
    /// `websocket {}` (see `wsconf.rs`).
    pub websocket: Option<crate::wsconf::WsSettings>,
    /// `jetstream` (see `jsconf.rs`).
    pub jetstream: Option<crate::jsconf::JsSettings>,
    /// `store_dir` at the top level.
    pub store_dir: Option<String>,
    pub allow_non_tls: Option<bool>,
    /// The `--tls…` flags: `Some(None)` is `-tls=false` (TLS off, whatever
    /// the file says), `Some(Some(o))` replaces the file's certificates.
    pub flag_tls: Option<Option<shoal_tls::TlsOptions>>,
}
