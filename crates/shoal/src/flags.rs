//! The command line, read the way nats-server's Go `flag` package reads it, so that
//! scripts written for nats-server work unchanged.
//!
//! Go's rules differ from clap's in ways that matter here: one or two dashes are the
//! same (`-port 4222`, `--p=4222`), multi-letter names take one dash (`-DV`, `-js`),
//! a value flag takes the next word whatever it looks like (`-p -1`), a boolean flag
//! never takes the next word (`-D=false` negates), and parsing stops at the first
//! word that is not a flag. So parsing is two steps:
//!
//! 1. [`normalize`] walks argv with Go's rules and rewrites every flag as
//!    `--<long name>=<value>`, rejecting unknown flags, flags Shoal does not
//!    implement yet, and value flags with no value, in Go's words.
//! 2. clap (the [`Flags`] definition below is the one list of flags, their aliases
//!    and their value types) parses the rewritten words. If a value is bad, each
//!    word is parsed alone to find the first bad one and name it as it was typed.
//!
//! This module only reads the command line; turning flags into options and checking
//! them against each other is `options.rs`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches, Parser};

use crate::units;

/// Every flag Shoal accepts. Field docs say what each means; the `-h` text is
/// [`USAGE`], laid out like nats-server's.
#[derive(Parser, Debug)]
#[command(
    name = "shoal",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Flags {
    /// Client listen host (default 0.0.0.0).
    #[arg(short = 'a', long = "addr", alias = "net")]
    pub addr: Option<String>,
    /// Client port; -1 picks a free one, 0 means the default 4222.
    #[arg(short = 'p', long = "port", value_parser = units::parse_int)]
    pub port: Option<i64>,
    /// Server name (default: the server id).
    #[arg(short = 'n', long = "name", alias = "server_name")]
    pub name: Option<String>,
    /// Write the process id to this file.
    #[arg(short = 'P', long = "pid")]
    pub pid: Option<PathBuf>,
    /// Write `<exe>_<pid>.ports` (the client URLs, JSON) into this directory.
    #[arg(long = "ports_file_dir")]
    pub ports_file_dir: Option<PathBuf>,
    /// Configuration file (nats-server's format); flags given here override it.
    #[arg(short = 'c', long = "config")]
    pub config: Option<PathBuf>,
    /// Check the configuration file and exit (warnings count as errors).
    #[arg(long = "t", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub test_config: bool,
    /// Send a signal to a running server: `cmd[=pid|pidfile]`.
    #[arg(long = "signal", alias = "sl")]
    pub signal: Option<String>,
    /// HTTP monitoring port (`-1` picks a free one).
    #[arg(short = 'm', long = "http_port", value_parser = units::parse_int)]
    pub http_port: Option<i64>,

    /// Log to this file (appending) instead of stderr.
    #[arg(short = 'l', long = "log")]
    pub log: Option<PathBuf>,
    /// Timestamp log lines.
    #[arg(short = 'T', long = "logtime", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "true",
          value_parser = units::parse_bool)]
    pub logtime: bool,
    /// Timestamps in UTC rather than local time.
    #[arg(long = "logtime_utc", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub logtime_utc: bool,
    /// Debug logging.
    #[arg(short = 'D', long = "debug", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub debug: bool,
    /// Protocol trace logging.
    #[arg(short = 'V', long = "trace", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub trace: bool,
    /// Verbose trace (nats-server also traces its system account; Shoal has none).
    #[arg(long = "VV", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub verbose_trace: bool,
    /// Debug and trace.
    #[arg(long = "DV", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub debug_trace: bool,
    /// Debug and verbose trace.
    #[arg(long = "DVV", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub debug_verbose_trace: bool,

    /// Number of cores (executors); default: every CPU the process may use.
    #[arg(long = "cores", value_parser = parse_cores)]
    pub cores: Option<usize>,
    /// Largest payload a client may publish (bytes, `1MB` style suffixes allowed).
    #[arg(long = "max_payload", value_parser = units::parse_size)]
    pub max_payload: Option<usize>,
    /// Bytes queued for one client beyond which it is a slow consumer.
    #[arg(long = "max_pending", value_parser = units::parse_size)]
    pub max_pending: Option<usize>,
    /// Longest protocol control line.
    #[arg(long = "max_control_line", value_parser = units::parse_size)]
    pub max_control_line: Option<usize>,
    /// Most client connections, server-wide (0 refuses every client).
    #[arg(long = "max_connections", value_parser = units::parse_count::<usize>)]
    pub max_connections: Option<usize>,
    /// Most subscriptions per connection (0 = unlimited).
    #[arg(long = "max_subscriptions", value_parser = units::parse_count::<usize>)]
    pub max_subscriptions: Option<usize>,
    /// Time between the server's PINGs to an idle client.
    #[arg(long = "ping_interval", value_parser = units::parse_duration)]
    pub ping_interval: Option<Duration>,
    /// Unanswered PINGs before a client is dropped.
    #[arg(long = "ping_max", value_parser = units::parse_count::<u32>)]
    pub ping_max: Option<u32>,
    /// How long a write may make no progress before the client is a slow consumer.
    #[arg(long = "write_deadline", value_parser = units::parse_duration)]
    pub write_deadline: Option<Duration>,
    /// Capacity of each ring between two cores, in batches (a tuning knob).
    #[arg(long = "ring_capacity", value_parser = units::parse_count::<usize>)]
    pub ring_capacity: Option<usize>,
    /// Tell clients (INFO `headers:false`) that message headers are not supported.
    #[arg(long = "no_header_support", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub no_header_support: bool,

    /// Host[:port] clients are told to use (INFO `host`/`port`) instead of the
    /// listen address.
    #[arg(long = "client_advertise")]
    pub client_advertise: Option<String>,
    /// Cluster name (INFO `cluster`, `/varz` `cluster.name`); with no cluster
    /// listener it is only a label, as in nats-server.
    #[arg(long = "cluster_name")]
    pub cluster_name: Option<String>,
    /// Truncate traced payloads to this many bytes (0 = no limit).
    #[arg(long = "max_traced_msg_len", value_parser = units::parse_int)]
    pub max_traced_msg_len: Option<i64>,

    // nats-server flags for features Shoal does not have yet. Each is accepted
    // while its value leaves the feature off, as nats-server then does nothing
    // with it either; [`gate`] refuses any value that would turn it on.
    /// JetStream's storage directory: unused until JetStream is on (`-js`).
    #[arg(long = "store_dir", alias = "sd")]
    pub store_dir: Option<String>,
    /// Enable JetStream (refused when true).
    #[arg(long = "jetstream", alias = "js", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub jetstream: bool,
    /// HTTPS monitoring port (refused unless 0).
    #[arg(long = "https_port", alias = "ms", value_parser = units::parse_int)]
    pub https_port: Option<i64>,
    /// Log to syslog (refused when true).
    #[arg(short = 's', long = "syslog", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub syslog: bool,
    /// Remote syslog address (refused unless empty).
    #[arg(short = 'r', long = "remote_syslog")]
    pub remote_syslog: Option<String>,
    /// Log file size that triggers rotation (refused unless 0).
    #[arg(long = "log_size_limit", value_parser = units::parse_int)]
    pub log_size_limit: Option<i64>,
    /// Client user, password and token (override the configuration file's).
    #[arg(long = "user")]
    pub user: Option<String>,
    #[arg(long = "pass")]
    pub pass: Option<String>,
    #[arg(long = "auth")]
    pub auth: Option<String>,
    /// TLS for clients: refused unless `-tls=false`, which (as in nats-server)
    /// turns every other `-tls…` flag off.
    #[arg(long = "tls", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub tls: bool,
    #[arg(long = "tlscert")]
    pub tlscert: Option<String>,
    #[arg(long = "tlskey")]
    pub tlskey: Option<String>,
    #[arg(long = "tlscacert")]
    pub tlscacert: Option<String>,
    #[arg(long = "tlsverify", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub tlsverify: bool,
    /// Cluster listen URL and solicited routes.
    #[arg(long = "cluster", alias = "cluster_listen")]
    pub cluster: Option<String>,
    #[arg(long = "routes")]
    pub routes: Option<String>,
    /// Cluster settings (used with a cluster listener).
    #[arg(long = "cluster_advertise")]
    pub cluster_advertise: Option<String>,
    #[arg(long = "no_advertise", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub no_advertise: bool,
    #[arg(long = "connect_retries", value_parser = units::parse_int)]
    pub connect_retries: Option<i64>,
    /// Go profiling port (refused unless 0).
    #[arg(long = "profile", value_parser = units::parse_int)]
    pub profile: Option<i64>,
    /// nats-server's TLS help (refused: Shoal has no TLS yet).
    #[arg(long = "help_tls", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub help_tls: bool,

    /// Print the usage text and exit.
    #[arg(short = 'h', long = "help", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub help: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Set, num_args = 0..=1,
          require_equals = true, default_missing_value = "true", default_value = "false",
          value_parser = units::parse_bool)]
    pub version: bool,

    /// The long names of the flags given on the command line: only those override
    /// the configuration file (nats-server parses its flags again after the file).
    #[arg(skip)]
    pub explicit: Vec<String>,
}

impl Flags {
    /// Whether the flag with this long name was on the command line.
    pub fn given(&self, long: &str) -> bool {
        self.explicit.iter().any(|l| l == long)
    }
}

/// Refuses a flag whose value would turn on a feature Shoal does not have yet
/// (TLS, clustering, JetStream, syslog, log rotation, HTTPS monitoring,
/// profiling): accepting it silently would leave a server running without what
/// its operator asked for. Values that leave the feature off are accepted, as
/// nats-server accepts them and does nothing (the async-nats test harness
/// passes `--store_dir` to every server). Judged on the final values, so
/// `-js -js=false` is accepted; the flag is named as typed, in argv order.
fn gate(f: &Flags, tokens: &[Token]) -> Result<(), Error> {
    let set = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    let nonzero = |v: Option<i64>| v.is_some_and(|n| n != 0);
    for t in tokens {
        let long = t.long();
        let on = match long {
            "https_port" => nonzero(f.https_port),
            "syslog" => f.syslog,
            "remote_syslog" => set(&f.remote_syslog),
            "log_size_limit" => nonzero(f.log_size_limit),
            "profile" => nonzero(f.profile),
            _ => false,
        };
        if on {
            return Err(Error::NotSupported(t.typed.clone()));
        }
    }
    Ok(())
}

/// `--help_tls`: nats-server's text, with the suites and curves Shoal honours.
pub fn tls_usage() -> String {
    let mut s = String::from(TLS_USAGE);
    for n in shoal_tls::cipher_names() {
        s.push_str(&format!("    {n}\n"));
    }
    s.push_str("\nAvailable curve preferences include:\n");
    for n in shoal_tls::CURVE_NAMES {
        s.push_str(&format!("    {n}\n"));
    }
    s
}

const TLS_USAGE: &str = "
TLS configuration is specified in the tls section of a configuration file:

e.g.

    tls {
        cert_file:      \"./certs/server-cert.pem\"
        key_file:       \"./certs/server-key.pem\"
        ca_file:        \"./certs/ca.pem\"
        verify:         true
        verify_and_map: true

        cipher_suites: [
            \"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\",
            \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"
        ]
        curve_preferences: [
            \"CurveP256\",
            \"CurveP384\"
        ]
    }

Available cipher suites include:
";

/// The `-h` text: nats-server's layout, listing what Shoal supports.
pub const USAGE: &str = "
Usage: shoal [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for a random port)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to nats-server process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/nats-server.pid)
        --client_advertise <string>  Client URL to advertise (INFO host and port)
        --ports_file_dir <dir>       Creates a ports file in the specified directory (<executable_name>_<pid>.ports).

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --logtime_utc                Timestamps in UTC instead of local timezone (default: false)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace (same as -V: Shoal has no system account)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace
        --max_traced_msg_len <len>   Maximum printable length for traced messages (default: unlimited)

Shoal Options:
        --cores <n>                  Number of cores to run (default: every CPU the process may use)
        --max_payload <size>         Maximum message payload (default: 1MB)
        --max_pending <size>         Bytes queued for a client before it is a slow consumer (default: 64MB)
        --max_control_line <size>    Maximum protocol control line (default: 4KB)
        --max_connections <n>        Maximum client connections (default: 65536)
        --max_subscriptions <n>      Maximum subscriptions per connection (default: 0, unlimited)
        --ping_interval <duration>   Interval between server pings (default: 2m)
        --ping_max <n>               Unanswered pings before a client is dropped (default: 2)
        --write_deadline <duration>  Stalled write time before a slow consumer is dropped (default: 10s)
        --no_header_support          Do not offer message headers to clients (default: false)
        --ring_capacity <n>          Batches each ring between two cores holds (default: 256)
    Sizes take suffixes (1KB = 1024, 1K = 1000, MB, GB); durations are Go's (500ms, 2s, 1m30s), a bare number is seconds.

Features this version of shoal does not have yet. Each flag is accepted while its
value leaves the feature off (nats-server then ignores it too); a value that would
turn the feature on stops start-up with an error naming the flag:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory
    -ms,--https_port <port>          HTTPS monitoring (0 accepted)
    -s, --syslog                     Syslog (-s=false accepted)
    -r, --remote_syslog <addr>       Remote syslog (empty accepted)
        --log_size_limit <limit>     Log file rotation (0 accepted)
        --user <user>                Authorization (empty accepted)
        --pass <password>
        --auth <token>
        --tls                        TLS (-tls=false accepted, and turns the other -tls flags off)
        --tlscert <file>
        --tlskey <file>
        --tlsverify
        --tlscacert <file>
        --routes <rurl-1, rurl-2>    Routes to solicit and connect
        --cluster <cluster-url>      Cluster URL for solicited routes
        --cluster_name <string>      Cluster Name, if not set one will be dynamically generated
        --no_advertise <bool>        Do not advertise known cluster information to clients
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   For implicit routes, number of connect retries
        --cluster_listen <url>       Cluster url from which members can solicit routes
        --profile <port>             Profiling (0 accepted)
        --help_tls                   TLS help

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

/// What the command line asks for.
#[derive(Debug)]
pub enum Parsed {
    /// `-v`, `--version` or the word `version`.
    Version,
    /// `-h`, `--help` or the word `help`.
    Help,
    /// `--help_tls`.
    HelpTls,
    /// Run a server with these flags.
    Run(Box<Flags>),
}

/// Why the command line was refused. `main` words and prints these.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// Malformed flags, in the words of Go's `flag` package
    /// (`flag provided but not defined: -x`).
    Usage(String),
    /// A nats-server flag Shoal does not implement yet, as typed (`--config`).
    NotSupported(String),
    /// A word after the flags other than `version` or `help`.
    UnrecognizedCommand(String),
}

/// One flag from argv, rewritten for clap.
#[derive(Debug, PartialEq, Eq)]
struct Token {
    /// The name as typed, without dashes (`p`, `port`): Go's errors quote it.
    name: String,
    /// The name with its dashes as typed (`-js`, `--tls`), for refusals.
    typed: String,
    /// The value as typed (or `true` for a bare boolean flag).
    value: String,
    /// Whether the flag is boolean (Go words its errors differently).
    boolean: bool,
    /// `--<long name>=<value>`, what clap sees.
    arg: String,
}

impl Token {
    /// The flag's long name (`port` for `-p`).
    fn long(&self) -> &str {
        self.arg
            .strip_prefix("--")
            .and_then(|a| a.split_once('='))
            .map_or("", |(long, _)| long)
    }
}

/// Parse the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Parsed, Error> {
    let mut cmd = Flags::command();
    cmd.build();
    let (tokens, rest) = normalize(&cmd, args)?;
    let argv = std::iter::once("shoal").chain(tokens.iter().map(|t| t.arg.as_str()));
    let matches = match cmd.clone().try_get_matches_from(argv) {
        Ok(matches) => matches,
        Err(e) => return Err(first_bad_value(&cmd, &tokens).unwrap_or(Error::Usage(e.to_string()))),
    };
    let mut flags = Flags::from_arg_matches(&matches).map_err(|e| Error::Usage(e.to_string()))?;
    flags.explicit = tokens.iter().map(|t| t.long().to_string()).collect();
    // nats-server's order: -v, then -h, then the positional word.
    if flags.version {
        return Ok(Parsed::Version);
    }
    if flags.help {
        return Ok(Parsed::Help);
    }
    if flags.help_tls {
        return Ok(Parsed::HelpTls);
    }
    match rest.first() {
        None => {
            gate(&flags, &tokens)?;
            Ok(Parsed::Run(Box::new(flags)))
        }
        Some(word) => match word.to_lowercase().as_str() {
            "version" => Ok(Parsed::Version),
            "help" => Ok(Parsed::Help),
            _ => Err(Error::UnrecognizedCommand(word.clone())),
        },
    }
}

/// Go's `flag.FlagSet.Parse` over `args`: returns the flags rewritten as
/// `--<long>=<value>` and the words left after the flags.
fn normalize<'a>(cmd: &Command, args: &'a [String]) -> Result<(Vec<Token>, &'a [String]), Error> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let word = &args[i];
        if word.len() < 2 || !word.starts_with('-') {
            break; // the first non-flag ends the flags ("-" alone is a word too)
        }
        let dashes = if word.starts_with("--") { 2 } else { 1 };
        if word == "--" {
            i += 1;
            break;
        }
        let body = &word[dashes..];
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(Error::Usage(format!("bad flag syntax: {word}")));
        }
        i += 1;
        let (name, inline_value) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(arg) = lookup(cmd, name) else {
            return Err(Error::Usage(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let boolean = is_boolean(arg);
        let value = match inline_value {
            Some(value) => value.to_string(),
            None if boolean => "true".to_string(),
            None => match args.get(i) {
                Some(next) => {
                    i += 1;
                    next.clone()
                }
                None => return Err(Error::Usage(format!("flag needs an argument: -{name}"))),
            },
        };
        let long = arg.get_long().expect("every Shoal flag has a long name");
        tokens.push(Token {
            name: name.to_string(),
            typed: word[..dashes + name.len()].to_string(),
            arg: format!("--{long}={value}"),
            value,
            boolean,
        });
    }
    Ok((tokens, &args[i..]))
}

/// The flag called `name` (long name, alias, or one-letter short name).
fn lookup<'c>(cmd: &'c Command, name: &str) -> Option<&'c Arg> {
    let mut chars = name.chars();
    let short = match (chars.next(), chars.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    };
    cmd.get_arguments().find(|arg| {
        arg.get_long() == Some(name)
            || arg.get_all_aliases().is_some_and(|a| a.contains(&name))
            || (short.is_some() && arg.get_short() == short)
    })
}

/// A flag whose value may be left out is a Go boolean flag (see the `Flags` fields
/// declared with `num_args = 0..=1`).
fn is_boolean(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.min_values() == 0)
}

/// Clap refused the rewritten words: find the first flag whose value its parser
/// refuses on its own, and word the error as Go does for the name as typed.
fn first_bad_value(cmd: &Command, tokens: &[Token]) -> Option<Error> {
    tokens.iter().find_map(|t| {
        let err = cmd
            .clone()
            .try_get_matches_from(["shoal", t.arg.as_str()])
            .err()?;
        let reason = std::error::Error::source(&err)
            .map(|s| s.to_string())
            .unwrap_or_else(|| units::PARSE_ERROR.to_string());
        Some(Error::Usage(if t.boolean {
            format!(
                "invalid boolean value {:?} for -{}: {reason}",
                t.value, t.name
            )
        } else {
            format!("invalid value {:?} for flag -{}: {reason}", t.value, t.name)
        }))
    })
}

/// `--cores`: a positive count.
fn parse_cores(s: &str) -> Result<usize, String> {
    match units::parse_count::<usize>(s)? {
        0 => Err(units::RANGE_ERROR.to_string()),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn rewrite(words: &[&str]) -> Result<(Vec<String>, Vec<String>), Error> {
        let mut cmd = Flags::command();
        cmd.build();
        let argv = args(words);
        let (tokens, rest) = normalize(&cmd, &argv)?;
        Ok((tokens.into_iter().map(|t| t.arg).collect(), rest.to_vec()))
    }

    fn run(words: &[&str]) -> Flags {
        match parse(&args(words)) {
            Ok(Parsed::Run(flags)) => *flags,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn error(words: &[&str]) -> Error {
        match parse(&args(words)) {
            Err(e) => e,
            Ok(other) => panic!("{words:?} parsed: {other:?}"),
        }
    }

    #[test]
    fn dashes_and_equals_are_interchangeable() {
        for form in [
            &["-p", "4222"][..],
            &["-p=4222"],
            &["--p", "4222"],
            &["--port=4222"],
            &["-port", "4222"],
            &["--port", "4222"],
        ] {
            assert_eq!(rewrite(form).unwrap().0, ["--port=4222"], "{form:?}");
        }
    }

    #[test]
    fn aliases_map_to_long_names() {
        assert_eq!(rewrite(&["-net", "h"]).unwrap().0, ["--addr=h"]);
        assert_eq!(rewrite(&["-a", "h"]).unwrap().0, ["--addr=h"]);
        assert_eq!(rewrite(&["-server_name", "x"]).unwrap().0, ["--name=x"]);
        assert_eq!(rewrite(&["-n=x"]).unwrap().0, ["--name=x"]);
        assert_eq!(rewrite(&["-P", "f"]).unwrap().0, ["--pid=f"]);
        assert_eq!(rewrite(&["-l", "f"]).unwrap().0, ["--log=f"]);
    }

    #[test]
    fn booleans_never_take_the_next_word() {
        assert_eq!(
            rewrite(&["-D", "false"]).unwrap(),
            (args(&["--debug=true"]), args(&["false"]))
        );
        assert_eq!(rewrite(&["-D=false"]).unwrap().0, ["--debug=false"]);
        assert_eq!(rewrite(&["-T=false"]).unwrap().0, ["--logtime=false"]);
        assert_eq!(
            rewrite(&["-DV", "-VV", "-DVV"]).unwrap().0,
            ["--DV=true", "--VV=true", "--DVV=true"]
        );
        assert_eq!(rewrite(&["--DV"]).unwrap().0, ["--DV=true"]);
    }

    #[test]
    fn value_flags_take_the_next_word_whatever_it_is() {
        assert_eq!(rewrite(&["-p", "-1"]).unwrap().0, ["--port=-1"]);
        assert_eq!(rewrite(&["-n", "-D"]).unwrap().0, ["--name=-D"]);
        assert_eq!(rewrite(&["-n", "a=b"]).unwrap().0, ["--name=a=b"]);
        assert_eq!(rewrite(&["-n=a=b"]).unwrap().0, ["--name=a=b"]);
    }

    #[test]
    fn flags_stop_at_the_first_word() {
        assert_eq!(
            rewrite(&["-D", "version", "-p", "1"]).unwrap(),
            (args(&["--debug=true"]), args(&["version", "-p", "1"]))
        );
        assert_eq!(
            rewrite(&["-D", "--", "-p"]).unwrap(),
            (args(&["--debug=true"]), args(&["-p"]))
        );
        assert_eq!(rewrite(&["-"]).unwrap(), (vec![], args(&["-"])));
    }

    #[test]
    fn syntax_errors_in_go_words() {
        assert_eq!(
            rewrite(&["-x"]).unwrap_err(),
            Error::Usage("flag provided but not defined: -x".into())
        );
        assert_eq!(
            rewrite(&["--nope=1"]).unwrap_err(),
            Error::Usage("flag provided but not defined: -nope".into())
        );
        // Go has no clustered short flags other than the names it defines.
        assert_eq!(
            rewrite(&["-p4222"]).unwrap_err(),
            Error::Usage("flag provided but not defined: -p4222".into())
        );
        assert_eq!(
            rewrite(&["--port"]).unwrap_err(),
            Error::Usage("flag needs an argument: -port".into())
        );
        assert_eq!(
            rewrite(&["---p"]).unwrap_err(),
            Error::Usage("bad flag syntax: ---p".into())
        );
        assert_eq!(
            rewrite(&["-=1"]).unwrap_err(),
            Error::Usage("bad flag syntax: -=1".into())
        );
    }

    #[test]
    fn flags_that_turn_on_missing_features_are_named_as_typed() {
        for (words, typed) in [
            (&["--https_port", "8443"][..], "--https_port"),
            (&["-ms=1"], "-ms"),
            (&["-s"], "-s"),
            (&["-r", "udp://h:514"], "-r"),
            (&["--log_size_limit", "1048576"], "--log_size_limit"),
            (&["--profile", "6060"], "--profile"),
        ] {
            assert_eq!(error(words), Error::NotSupported(typed.into()), "{words:?}");
        }
    }

    #[test]
    fn flags_that_leave_missing_features_off_are_accepted() {
        // The async-nats test harness's command line.
        let f = run(&["--store_dir", "/tmp/sd", "-p", "-1", "-l", "l", "-P", "p"]);
        assert_eq!(f.store_dir.as_deref(), Some("/tmp/sd"));
        for words in [
            &["-sd", "/tmp/sd"][..],
            &["-js=false"],
            &["-js", "-js=false"],
            &["--https_port", "0"],
            &["-s=false"],
            &["-r", ""],
            &["--log_size_limit", "0"],
            &["--user", "", "--pass", "", "--auth", ""],
            &["--user", "u", "--pass", "p"],
            &["-auth", "t"],
            &["-tls=false", "--tlscert", "c.pem", "--tlsverify"],
            &["--tlscert", "c.pem", "-tls=false"],
            &["--routes", "", "--cluster", ""],
            &[
                "--no_advertise",
                "--cluster_advertise",
                "h:1",
                "--connect_retries",
                "3",
            ],
            &["--profile", "0"],
            &["--routes", "nats://h:1", "--cluster_listen", "nats://h:2"],
            &["--cluster_name", "c1", "--client_advertise", "h:5"],
            &["--max_traced_msg_len", "10"],
        ] {
            run(words);
        }
        // Bad values are still bad values.
        assert_eq!(
            error(&["-js=maybe"]),
            Error::Usage("invalid boolean value \"maybe\" for -js: parse error".into())
        );
    }

    #[test]
    fn bad_values_name_the_flag_as_typed() {
        assert_eq!(
            error(&["-p", "4x"]),
            Error::Usage("invalid value \"4x\" for flag -p: parse error".into())
        );
        assert_eq!(
            error(&["-a", "h", "--port=4x"]),
            Error::Usage("invalid value \"4x\" for flag -port: parse error".into())
        );
        assert_eq!(
            error(&["-p", "99999999999999999999"]),
            Error::Usage(
                "invalid value \"99999999999999999999\" for flag -p: value out of range".into()
            )
        );
        assert_eq!(
            error(&["-D=maybe"]),
            Error::Usage("invalid boolean value \"maybe\" for -D: parse error".into())
        );
        assert_eq!(
            error(&["--ping_interval", "soon"]),
            Error::Usage("invalid value \"soon\" for flag -ping_interval: parse error".into())
        );
        assert_eq!(
            error(&["--cores", "0"]),
            Error::Usage("invalid value \"0\" for flag -cores: value out of range".into())
        );
    }

    #[test]
    fn typed_values_and_defaults() {
        let f = run(&[]);
        assert!(f.logtime && !f.debug && !f.trace && !f.help && !f.version);
        assert_eq!((f.port, f.addr.as_deref()), (None, None));

        let f = run(&[
            "-p",
            "-1",
            "-a",
            "127.0.0.1",
            "-T=false",
            "-DV",
            "--cores",
            "2",
            "--max_payload",
            "2MB",
            "--ping_interval",
            "1m30s",
            "--ping_max=3",
            "--write_deadline",
            "500ms",
            "--no_header_support",
            "--logtime_utc",
        ]);
        assert_eq!(f.port, Some(-1));
        assert_eq!(f.addr.as_deref(), Some("127.0.0.1"));
        assert!(!f.logtime && f.logtime_utc && f.debug_trace && f.no_header_support);
        assert_eq!(f.cores, Some(2));
        assert_eq!(f.max_payload, Some(2 << 20));
        assert_eq!(f.ping_interval, Some(Duration::from_secs(90)));
        assert_eq!(f.ping_max, Some(3));
        assert_eq!(f.write_deadline, Some(Duration::from_millis(500)));
    }

    #[test]
    fn the_last_occurrence_wins() {
        let f = run(&["-p", "1", "--port", "2", "-D", "-D=false"]);
        assert_eq!(f.port, Some(2));
        assert!(!f.debug);
        assert_eq!(run(&["-a="]).addr.as_deref(), Some(""));
    }

    #[test]
    fn version_help_and_positional_words() {
        assert!(matches!(parse(&args(&["-v"])), Ok(Parsed::Version)));
        assert!(matches!(
            parse(&args(&["--version=true"])),
            Ok(Parsed::Version)
        ));
        assert!(matches!(parse(&args(&["-h"])), Ok(Parsed::Help)));
        assert!(matches!(parse(&args(&["-help"])), Ok(Parsed::Help)));
        assert!(matches!(parse(&args(&["-h", "-v"])), Ok(Parsed::Version)));
        assert!(matches!(parse(&args(&["version"])), Ok(Parsed::Version)));
        assert!(matches!(parse(&args(&["-D", "HELP"])), Ok(Parsed::Help)));
        assert!(matches!(parse(&args(&["-v", "foo"])), Ok(Parsed::Version)));
        assert_eq!(error(&["foo"]), Error::UnrecognizedCommand("foo".into()));
        assert_eq!(
            error(&["-p", "4222", "extra"]),
            Error::UnrecognizedCommand("extra".into())
        );
    }

    /// Whether USAGE names `flag` as a whole word (`--port`, not `--ports_file_dir`).
    fn mentions(flag: &str) -> bool {
        USAGE.match_indices(flag).any(|(at, _)| {
            let next = USAGE[at + flag.len()..].chars().next();
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    }

    #[test]
    fn usage_lists_every_flag_and_every_flag_is_defined() {
        let mut cmd = Flags::command();
        cmd.build();
        for arg in cmd.get_arguments() {
            let long = arg.get_long().unwrap();
            let shown = if long.chars().next().unwrap().is_uppercase() || long.len() == 1 {
                format!("-{long}")
            } else {
                format!("--{long}")
            };
            assert!(mentions(&shown), "usage lacks {shown}");
            for alias in arg.get_all_aliases().unwrap_or_default() {
                assert!(
                    mentions(&format!("--{alias}")) || mentions(&format!("-{alias},")),
                    "usage lacks --{alias}"
                );
            }
            if let Some(short) = arg.get_short() {
                assert!(
                    USAGE.contains(&format!("-{short}, ")),
                    "usage lacks -{short}"
                );
            }
        }
    }
}
