//! Resolved options: the runtime's [`Config`] plus what only the binary uses
//! (logging, PID and ports files), built from the flags with nats-server's
//! defaults and cross-checks (`setBaselineOptions`, `validateOptions`). When the
//! configuration file arrives it feeds the same structure, flags applied last.

use std::path::PathBuf;

use shoal_server::Config;

use crate::flags::Flags;
use crate::logging;

/// Everything `main` needs to run a server.
#[derive(Debug)]
pub struct Options {
    /// What the runtime gets. `config.port` is set from [`Options::port`] by
    /// [`listen_port`] just before start, where nats-server reports a bad port.
    pub config: Config,
    /// The client port as given (nats-server's `0` already made 4222).
    pub port: i64,
    pub log: logging::Options,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
}

impl Options {
    /// Apply the flags over the defaults. The error is the message nats-server
    /// prints (after `nats-server: `) for options that contradict each other.
    pub fn from_flags(f: Flags) -> Result<Options, String> {
        let defaults = Config::default();
        // nats-server treats 0 as "unset" for these and falls back to the default.
        let or_default = |v: Option<usize>, d: usize| v.filter(|&v| v != 0).unwrap_or(d);
        let config = Config {
            host: f.addr.filter(|h| !h.is_empty()).unwrap_or(defaults.host),
            port: defaults.port,
            server_name: f.name.filter(|n| !n.is_empty()),
            cores: f.cores,
            max_payload: or_default(f.max_payload, defaults.max_payload),
            max_pending: or_default(f.max_pending, defaults.max_pending),
            max_control_line: or_default(f.max_control_line, defaults.max_control_line),
            max_connections: f.max_connections.unwrap_or(defaults.max_connections),
            max_subscriptions: f.max_subscriptions.unwrap_or(defaults.max_subscriptions),
            ping_interval: f
                .ping_interval
                .filter(|d| !d.is_zero())
                .unwrap_or(defaults.ping_interval),
            ping_max: f.ping_max.filter(|&n| n != 0).unwrap_or(defaults.ping_max),
            write_deadline: f
                .write_deadline
                .filter(|d| !d.is_zero())
                .unwrap_or(defaults.write_deadline),
            no_header_support: f.no_header_support,
            ring_capacity: or_default(f.ring_capacity, defaults.ring_capacity),
            ..defaults
        };
        if config
            .server_name
            .as_deref()
            .is_some_and(|n| n.contains(' '))
        {
            return Err("server name cannot contain spaces".to_string());
        }
        if config.max_payload > config.max_pending {
            return Err(format!(
                "max_payload ({}) cannot be higher than max_pending ({})",
                config.max_payload, config.max_pending
            ));
        }
        Ok(Options {
            config,
            port: match f.port {
                None | Some(0) => i64::from(defaults.port),
                Some(p) => p,
            },
            log: logging::Options {
                file: f.log.filter(|p| !p.as_os_str().is_empty()),
                debug: f.debug || f.debug_trace || f.debug_verbose_trace,
                trace: f.trace || f.verbose_trace || f.debug_trace || f.debug_verbose_trace,
                logtime: f.logtime,
                utc: f.logtime_utc,
            },
            pid_file: f.pid.filter(|p| !p.as_os_str().is_empty()),
            ports_file_dir: f.ports_file_dir.filter(|p| !p.as_os_str().is_empty()),
        })
    }
}

/// The port for [`Config::port`]: a real port, or `-1` for "any free port". Other
/// values fail as nats-server's listen does, with the message it logs (fatally).
pub fn listen_port(host: &str, port: i64) -> Result<i32, String> {
    match port {
        -1..=65535 => Ok(port as i32),
        _ => Err(format!(
            "Error listening on port: {}, \"listen tcp: address {port}: invalid port\"",
            join_host_port(host, &port.to_string())
        )),
    }
}

/// Go's `net.JoinHostPort`: brackets around hosts that contain a colon (IPv6).
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{parse, Parsed};
    use std::time::Duration;

    fn options(words: &[&str]) -> Result<Options, String> {
        let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        match parse(&args) {
            Ok(Parsed::Run(flags)) => Options::from_flags(*flags),
            other => panic!("{words:?}: {other:?}"),
        }
    }

    #[test]
    fn no_flags_means_nats_server_defaults() {
        let o = options(&[]).unwrap();
        assert_eq!(o.config.host, "0.0.0.0");
        assert_eq!(o.port, 4222);
        assert_eq!(o.config.server_name, None);
        assert_eq!(o.config.max_payload, 1 << 20);
        assert!(o.log.logtime && !o.log.debug && !o.log.trace && o.log.file.is_none());
        assert!(o.pid_file.is_none() && o.ports_file_dir.is_none());
    }

    #[test]
    fn flags_reach_the_config() {
        let o = options(&[
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
            "-n",
            "srv",
            "--max_pending",
            "2MB",
            "--max_payload",
            "1MB",
            "--max_connections",
            "0",
            "--ping_interval",
            "5",
            "-VV",
        ])
        .unwrap();
        assert_eq!(o.config.host, "127.0.0.1");
        assert_eq!(o.port, -1);
        assert_eq!(o.config.server_name.as_deref(), Some("srv"));
        assert_eq!(o.config.max_pending, 2 << 20);
        assert_eq!(o.config.max_connections, 0);
        assert_eq!(o.config.ping_interval, Duration::from_secs(5));
        assert!(o.log.trace && !o.log.debug);
        assert!(options(&["-DV"]).unwrap().log.debug);
        assert_eq!(options(&["-p", "0"]).unwrap().port, 4222);
        assert_eq!(options(&["-a", ""]).unwrap().config.host, "0.0.0.0");
    }

    #[test]
    fn contradictions_are_refused_in_nats_server_words() {
        assert_eq!(
            options(&["-n", "a b"]).unwrap_err(),
            "server name cannot contain spaces"
        );
        assert_eq!(
            options(&["--max_payload", "100MB"]).unwrap_err(),
            "max_payload (104857600) cannot be higher than max_pending (67108864)"
        );
    }

    #[test]
    fn ports_are_checked_like_a_go_listen() {
        assert_eq!(listen_port("0.0.0.0", 4222), Ok(4222));
        assert_eq!(listen_port("0.0.0.0", -1), Ok(-1));
        assert_eq!(
            listen_port("0.0.0.0", 70000).unwrap_err(),
            "Error listening on port: 0.0.0.0:70000, \"listen tcp: address 70000: invalid port\""
        );
        assert_eq!(
            listen_port("::", -2).unwrap_err(),
            "Error listening on port: [::]:-2, \"listen tcp: address -2: invalid port\""
        );
    }
}
