//! Resolved options: the runtime's [`Config`] plus what only the binary uses
//! (logging, PID and ports files), built as nats-server builds them:
//!
//! 1. the configuration file (`-c`) fills [`Settings`] (`config.rs`);
//! 2. every flag given on the command line overrides it (nats-server parses its
//!    flags again after the file);
//! 3. unset and zero values take nats-server's defaults (`setBaselineOptions`);
//! 4. cross-checks (`validateOptions`): `max_payload ≤ max_pending`, lame duck
//!    grace < duration, names without spaces.
//!
//! The same path serves a SIGHUP reload, and [`changes`] then says what differs,
//! refusing what nats-server cannot reload.

use std::path::PathBuf;

use std::sync::Arc;
use std::time::Duration;

use shoal_auth::Logins;
use shoal_server::Config;

use crate::config::{self, Report};
use crate::flags::Flags;
use crate::logging;
use crate::settings::Settings;

/// Everything `main` needs to run a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// What the runtime gets. `config.port` is set from [`Options::port`] by
    /// [`listen_port`] just before start, where nats-server reports a bad port.
    pub config: Config,
    /// The client port as given (nats-server's `0` already made 4222).
    pub port: i64,
    pub log: logging::Options,
    pub pid_file: Option<PathBuf>,
    pub ports_file_dir: Option<PathBuf>,
    /// The `-c` file as given, and the digest of what it held.
    pub config_file: Option<String>,
    pub digest: Option<String>,
    /// The trusted operators (for the start-up banner) and the system
    /// account's key in operator mode.
    pub operator: crate::operatorconf::OperatorSettings,
    pub system_account: String,
}

/// Why options could not be built. `main` prints each as nats-server does.
#[derive(Debug)]
pub enum LoadError {
    /// The file is not valid syntax, or cannot be read: `nats-server: <error>`.
    Conf(shoal_conf::Error),
    /// Problems with keys and values, each with its position (warnings first).
    Report(Report),
    /// Options that contradict each other: `nats-server: <message>`.
    Invalid(String),
}

/// Options and the warnings met on the way (printed, but not fatal, unless `-t`).
#[derive(Debug)]
pub struct Loaded {
    pub options: Options,
    pub warnings: Vec<String>,
}

impl Options {
    /// Flags alone (no `-c`), as before the configuration file existed.
    #[cfg(test)]
    pub fn from_flags(f: Flags) -> Result<Options, String> {
        match load(&f) {
            Ok(l) => Ok(l.options),
            Err(LoadError::Invalid(m)) => Err(m),
            Err(e) => Err(format!("{e:?}")),
        }
    }
}

/// Build options from the flags and the file they name.
pub fn load(flags: &Flags) -> Result<Loaded, LoadError> {
    load_keeping(flags, &[])
}

/// [`load`] for a running server whose operator accounts are `known` (their
/// keys in id order): a directory resolver keeps their ids.
pub fn load_keeping(flags: &Flags, known: &[String]) -> Result<Loaded, LoadError> {
    let mut s = Settings::default();
    s.operator.known = known.to_vec();
    let mut warnings = Vec::new();
    let mut digest = None;
    let file = flags
        .config
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    if let Some(path) = &file {
        let map = shoal_conf::parse_file(path).map_err(LoadError::Conf)?;
        let mut report = Report::default();
        if map.is_empty() {
            report
                .errors
                .push(format!("{path}: config has no values or is empty"));
        }
        config::apply(&map, &mut s, &mut report);
        if !report.errors.is_empty() {
            return Err(LoadError::Report(report));
        }
        warnings = report.warnings;
        digest = Some(shoal_conf::digest(&map));
    }
    overlay_flags(flags, &mut s);
    let options = resolve(s, file, digest)?;
    Ok(Loaded { options, warnings })
}

/// The flags given on the command line override the file.
fn overlay_flags(f: &Flags, s: &mut Settings) {
    let given = |name: &str| f.given(name);
    if given("jetstream") {
        s.jetstream.get_or_insert_with(Default::default).enabled = f.jetstream;
    }
    if given("store_dir") {
        let js = s.jetstream.get_or_insert_with(Default::default);
        js.store_dir = f.store_dir.clone();
    }
    let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
    if given("addr") {
        s.host = f.addr.clone();
    }
    if given("port") {
        s.port = f.port;
    }
    if given("name") {
        s.server_name = f.name.clone();
    }
    if given("pid") {
        s.pid_file = path(&f.pid);
    }
    if given("ports_file_dir") {
        s.ports_file_dir = path(&f.ports_file_dir);
    }
    if given("log") {
        s.log_file = path(&f.log);
    }
    if given("http_port") {
        s.http_port = f.http_port;
    }
    for (name, value, debug, trace) in [
        ("debug", f.debug, true, false),
        ("trace", f.trace, false, true),
        ("VV", f.verbose_trace, false, true),
        ("DV", f.debug_trace, true, true),
        ("DVV", f.debug_verbose_trace, true, true),
    ] {
        if given(name) {
            if debug {
                s.debug = Some(value);
            }
            if trace {
                s.trace = Some(value);
            }
        }
    }
    if given("logtime") {
        s.logtime = Some(f.logtime);
    }
    if given("logtime_utc") {
        s.logtime_utc = Some(f.logtime_utc);
    }
    if given("no_header_support") {
        s.no_header_support = Some(f.no_header_support);
    }
    let int = |v: Option<usize>| v.map(|n| n as i64);
    if given("cores") {
        s.cores = int(f.cores);
    }
    if given("max_payload") {
        s.max_payload = int(f.max_payload);
    }
    if given("max_pending") {
        s.max_pending = int(f.max_pending);
    }
    if given("max_control_line") {
        s.max_control_line = int(f.max_control_line);
    }
    if given("max_connections") {
        s.max_connections = int(f.max_connections);
    }
    if given("max_subscriptions") {
        s.max_subscriptions = int(f.max_subscriptions);
    }
    if given("ping_interval") {
        s.ping_interval = f.ping_interval;
    }
    if given("ping_max") {
        s.ping_max = f.ping_max.map(i64::from);
    }
    if given("write_deadline") {
        s.write_deadline = f.write_deadline;
    }
    if given("ring_capacity") {
        s.ring_capacity = int(f.ring_capacity);
    }
    if given("client_advertise") {
        s.client_advertise = f.client_advertise.clone();
    }
    if given("cluster_name") {
        s.cluster_name = f.cluster_name.clone();
    }
    if given("cluster") {
        s.flag_cluster.listen = Some(f.cluster.clone().unwrap_or_default());
    }
    if given("routes") {
        s.flag_cluster.routes = Some(f.routes.clone().unwrap_or_default());
    }
    if given("cluster_advertise") {
        s.flag_cluster.advertise = f.cluster_advertise.clone();
    }
    if given("no_advertise") {
        s.flag_cluster.no_advertise = Some(f.no_advertise);
    }
    if given("connect_retries") {
        s.flag_cluster.connect_retries = f.connect_retries;
    }
    if given("max_traced_msg_len") {
        s.max_traced_msg_len = f.max_traced_msg_len;
    }
    if given("user") {
        s.flag_user = f.user.clone();
    }
    if given("pass") {
        s.flag_pass = f.pass.clone();
    }
    if given("auth") {
        s.flag_token = f.auth.clone();
    }
    // nats-server: `-tls=false` turns TLS off (and the other `-tls…` flags
    // with it); any other `-tls…` flag replaces the file's certificates,
    // its other TLS settings (timeout, handshake_first, …) staying.
    let tls_flags = ["tls", "tlscert", "tlskey", "tlscacert", "tlsverify"];
    if given("tls") && !f.tls {
        s.flag_tls = Some(None);
    } else if tls_flags.iter().any(|n| given(n)) {
        let base = s
            .tls
            .as_ref()
            .map(|t| t.options.clone())
            .unwrap_or_default();
        s.flag_tls = Some(Some(shoal_tls::TlsOptions {
            cert_file: f.tlscert.clone().unwrap_or_default(),
            key_file: f.tlskey.clone().unwrap_or_default(),
            ca_file: f.tlscacert.clone().unwrap_or_default(),
            verify: f.tlsverify,
            certs: Vec::new(),
            ciphers: None,
            curves: None,
            min_version: None,
            ..base
        }));
    }
}

/// The client listener's TLS: the file's, or the flags' (`overrideTLS`,
/// with its texts), with a digest of the files it loaded.
fn tls(s: &Settings) -> Result<Option<Arc<shoal_server::Tls>>, LoadError> {
    let (options, config) = match &s.flag_tls {
        Some(None) => return Ok(None),
        Some(Some(o)) => {
            if o.cert_file.is_empty() {
                return Err(LoadError::Invalid(
                    "TLS Server certificate must be present and valid".into(),
                ));
            }
            if o.key_file.is_empty() {
                return Err(LoadError::Invalid(
                    "TLS Server private key must be present and valid".into(),
                ));
            }
            let config = shoal_tls::build(o).map_err(|e| LoadError::Invalid(e.0))?;
            (o.clone(), config)
        }
        None => match &s.tls {
            Some(t) => (t.options.clone(), t.config.clone()),
            None => return Ok(None),
        },
    };
    Ok(Some(Arc::new(shoal_server::Tls {
        digest: crate::tlsconf::files_digest(&options),
        options,
        config,
        allow_non_tls: s.allow_non_tls.unwrap_or(false),
    })))
}

/// The logins the file and the flags configure, with nats-server's checks of
/// `no_auth_user` (`validateNoAuthUser`), and the authorization timeout.
/// An operator's accounts' stream imports and mappings (from their JWTs).
type JwtRewrites = (
    shoal_server::imports::StreamImports,
    shoal_server::mappings::Mappings,
    shoal_server::services::ServiceImports,
);

fn logins(s: &Settings) -> Result<(Logins, Option<f64>, Option<JwtRewrites>), LoadError> {
    let a = s.auth.clone().unwrap_or_default();
    let has_users = !(a.users.as_ref().is_none_or(Vec::is_empty)
        && a.nkeys.is_empty()
        && s.accounts.as_ref().is_none_or(|x| x.users_pos.is_none()));
    let has_accounts = s.accounts.as_ref().is_some_and(|x| !x.names.is_empty());
    if let Some(op) = crate::operatorconf::trust(&s.operator, has_users, has_accounts)
        .map_err(LoadError::Invalid)?
    {
        // Operator mode: every login is a user JWT of a preloaded account.
        let accounts = std::iter::once("$G".to_string()).chain(op.keys).collect();
        let system = op.trust.system_account.clone();
        let logins = Logins::default()
            .with_trust(op.trust)
            .with_accounts(accounts)
            .with_system_account(system);
        return Ok((
            logins,
            a.timeout,
            Some((op.imports, op.mappings, op.services)),
        ));
    }
    // `system_account` names a configured account, or `$SYS` itself
    // (nats-server's default; `no_system_account` does not stop a named one).
    let system = s.operator.system_account.clone().filter(|x| !x.is_empty());
    if let Some(name) = &system {
        let configured = s.accounts.as_ref().is_some_and(|x| x.names.contains(name));
        if !(configured || name == "$SYS") {
            return Err(LoadError::Invalid(
                "error resolving system account: account missing".into(),
            ));
        }
    }
    let pick = |flag: &Option<String>, file: Option<String>| flag.clone().or(file);
    let user = pick(&s.flag_user, a.user).unwrap_or_default();
    let pass = pick(&s.flag_pass, a.password).unwrap_or_default();
    let token = pick(&s.flag_token, a.token);
    let no_auth_user = s.no_auth_user.clone().filter(|u| !u.is_empty());
    if let Some(u) = &no_auth_user {
        let in_accounts = s.accounts.as_ref().is_some_and(|x| {
            x.users.iter().any(|y| &y.name == u) || x.nkeys.iter().any(|y| &y.key == u)
        });
        let account_users = s
            .accounts
            .as_ref()
            .is_some_and(|x| !(x.users.is_empty() && x.nkeys.is_empty()));
        match &a.users {
            _ if in_accounts => {}
            None if account_users => {
                return Err(LoadError::Invalid(format!(
                    "no_auth_user: {u:?} not present as user or nkey in authorization block or account configuration"
                )))
            }
            None => {
                return Err(LoadError::Invalid(format!(
                    "no_auth_user: {u:?} present, but users/nkeys are not defined"
                )))
            }
            Some(users) if !users.iter().any(|x| &x.name == u) && !a.nkeys.iter().any(|k| &k.key == u) => {
                return Err(LoadError::Invalid(format!(
                    "no_auth_user: {u:?} not present as user or nkey in authorization block or account configuration"
                )))
            }
            Some(_) => {}
        }
    }
    // The accounts' users join the list, each in its account (ids from 1).
    let acc = s.accounts.clone().unwrap_or_default();
    let has_account_users = !(acc.users.is_empty() && acc.nkeys.is_empty());
    let mut users = a.users.clone();
    if has_account_users {
        users.get_or_insert_with(Vec::new).extend(acc.users);
    }
    let mut nkeys = a.nkeys;
    nkeys.extend(acc.nkeys);
    let logins = match users {
        // A users list (even empty) is the only way in, as in nats-server.
        Some(users) if !users.is_empty() || !nkeys.is_empty() => {
            Logins::new(users, None, None, no_auth_user).with_nkeys(nkeys)
        }
        Some(_) => Logins::new(Vec::new(), None, None, None),
        None => Logins::new(Vec::new(), Some((user, pass)), token, None),
    };
    let logins = match s.accounts.as_ref() {
        Some(acc) if !acc.names.is_empty() => logins
            .with_accounts(
                std::iter::once("$G".to_string())
                    .chain(acc.names.iter().cloned())
                    .collect(),
            )
            .with_account_limits(acc.limits.clone())
            .with_retired(acc.retired.clone()),
        _ => logins,
    };
    let logins = match system {
        Some(name) => logins.with_system_account(name),
        None => logins,
    };
    Ok((logins, a.timeout, None))
}

/// Defaults for what is unset or zero, then the cross-checks.
fn resolve(
    s: Settings,
    config_file: Option<String>,
    digest: Option<String>,
) -> Result<Options, LoadError> {
    let d = Config::default();
    let size = |v: Option<i64>, default: usize| match v {
        Some(n) if n > 0 => n as usize,
        _ => default,
    };
    let nonempty = |v: Option<String>| v.filter(|x| !x.is_empty());
    let (logins, auth_timeout, jwt_rewrites) = logins(&s)?;
    let tls = tls(&s)?;
    if let Some(c) = &s.cluster {
        crate::clusterconf::validate(c).map_err(LoadError::Invalid)?;
    }
    let cluster = crate::clusterconf::resolve(
        s.cluster.as_ref(),
        &s.flag_cluster,
        s.cluster_name.as_deref().filter(|n| !n.is_empty()),
        (s.ping_interval, s.ping_max),
        s.operator
            .system_account
            .as_deref()
            .filter(|x| !x.is_empty())
            .unwrap_or("$SYS"),
    )
    .map_err(LoadError::Invalid)?
    .map(Arc::new);
    let logins = logins.with_tls_map(tls.as_ref().is_some_and(|t| t.options.map));
    if let Some(w) = &s.websocket {
        crate::wsconf::validate(w, &logins, logins.trust().is_some())
            .map_err(LoadError::Invalid)?;
    }
    let host = nonempty(s.host).unwrap_or(d.host.clone());
    let (imports, mappings, services) = match jwt_rewrites {
        Some(r) => r,
        None => {
            let mut mappings = shoal_server::mappings::Mappings::default();
            if let Some(m) = s.mappings.clone() {
                mappings.set(0, m);
            }
            if let Some(acc) = &s.accounts {
                for (i, m) in acc.mappings.iter().enumerate() {
                    mappings.set(i as u16 + 1, m.clone());
                }
            }
            let imports = s
                .accounts
                .as_ref()
                .map(|a| a.stream_imports.clone())
                .unwrap_or_default();
            let services = s
                .accounts
                .as_ref()
                .map(|a| a.service_imports.clone())
                .unwrap_or_default();
            (imports, mappings, services)
        }
    };
    // A directory resolver may add accounts while the server runs, up to
    // what an account id can number.
    // Configured accounts may be added by a reload: room for as many again
    // and a thousand more (ids are never reused).
    let max_accounts = match (&s.operator.dir_resolver, &s.accounts) {
        (Some(_), _) => usize::from(u16::MAX),
        (None, Some(a)) if !a.names.is_empty() => {
            (2 * a.names.len() + 1024).min(usize::from(u16::MAX))
        }
        _ => 0,
    };
    let websocket = crate::wsconf::resolve(s.websocket.as_ref(), &logins);
    let account_names: Vec<String> = s
        .accounts
        .as_ref()
        .map(|a| a.names.clone())
        .unwrap_or_default();
    let leaf = crate::leafconf::resolve(s.leafnodes.as_ref(), &account_names)
        .map_err(LoadError::Invalid)?;
    // JetStream keeps its data in `<store_dir>/jetstream`; without a
    // store directory, nats-server's `<os tmp>/nats/jetstream`.
    let jetstream = s.jetstream.as_ref().filter(|j| j.enabled).map(|j| {
        let base = j
            .store_dir
            .clone()
            .or(s.store_dir.clone())
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("nats"));
        let accounts = match &s.accounts {
            Some(a) if !a.names.is_empty() => a.jetstream.clone(),
            _ => vec!["$G".to_string()],
        };
        Arc::new(shoal_server::JetStream {
            dir: base.join("jetstream"),
            accounts,
        })
    });
    let config = Config {
        claims: None,
        max_accounts,
        mappings: Arc::new(mappings),
        imports: Arc::new(imports),
        services: Arc::new(services),
        http_host: s
            .http_port
            .map(|_| nonempty(s.http_host).unwrap_or(host.clone())),
        http_port: s.http_port.map(|p| p as i32),
        host,
        port: d.port,
        server_name: nonempty(s.server_name),
        cores: s.cores.map(|n| n.max(1) as usize),
        max_payload: size(s.max_payload, d.max_payload),
        max_pending: size(s.max_pending, d.max_pending),
        max_control_line: size(s.max_control_line, d.max_control_line),
        // 0 in a file or a flag means "accept no client" in nats-server.
        max_connections: s
            .max_connections
            .map_or(d.max_connections, |n| n.max(0) as usize),
        max_subscriptions: s.max_subscriptions.map_or(0, |n| n.max(0) as usize),
        ping_interval: s
            .ping_interval
            .filter(|x| !x.is_zero())
            .unwrap_or(d.ping_interval),
        ping_max: s
            .ping_max
            .filter(|&n| n > 0)
            .map_or(d.ping_max, |n| n.min(i64::from(u32::MAX)) as u32),
        write_deadline: s
            .write_deadline
            .filter(|x| !x.is_zero())
            .unwrap_or(d.write_deadline),
        no_header_support: s.no_header_support.unwrap_or(false),
        ring_capacity: size(s.ring_capacity, d.ring_capacity),
        client_advertise: nonempty(s.client_advertise),
        cluster_name: nonempty(s.cluster_name),
        max_traced_msg_len: s.max_traced_msg_len.map_or(0, |n| n.max(0) as usize),
        trace_headers: s.trace_headers.unwrap_or(false),
        max_sub_tokens: s.max_sub_tokens.map_or(0, |n| n.clamp(0, 255) as usize),
        max_closed_clients: size(s.max_closed_clients, d.max_closed_clients),
        logins: Arc::new(logins),
        // 0 or unset: nats-server's default (2 s; with TLS, the TLS
        // timeout and a second more).
        auth_timeout: auth_timeout
            .filter(|&t| t > 0.0)
            .and_then(|t| Duration::try_from_secs_f64(t).ok())
            .unwrap_or(match &tls {
                Some(t) => t.options.timeout() + Duration::from_secs(1),
                None => d.auth_timeout,
            }),
        websocket,
        tls,
        cluster,
        leaf,
        jetstream,
        lame_duck_duration: s
            .lame_duck_duration
            .filter(|x| !x.is_zero())
            .unwrap_or(d.lame_duck_duration),
        lame_duck_grace_period: s
            .lame_duck_grace_period
            .filter(|x| !x.is_zero())
            .unwrap_or(d.lame_duck_grace_period),
    };
    if config
        .server_name
        .as_deref()
        .is_some_and(|n| n.contains(' '))
    {
        return Err(LoadError::Invalid(
            "server name cannot contain spaces".to_string(),
        ));
    }
    if config
        .cluster_name
        .as_deref()
        .is_some_and(|n| n.contains(' '))
    {
        return Err(LoadError::Invalid(
            "cluster name cannot contain spaces".to_string(),
        ));
    }
    if config.max_payload > config.max_pending {
        return Err(LoadError::Invalid(format!(
            "max_payload ({}) cannot be higher than max_pending ({})",
            config.max_payload, config.max_pending
        )));
    }
    if config.lame_duck_grace_period >= config.lame_duck_duration {
        return Err(LoadError::Invalid(format!(
            "lame duck grace period ({}) should be strictly lower than lame duck duration ({})",
            shoal_go::duration(config.lame_duck_grace_period),
            shoal_go::duration(config.lame_duck_duration)
        )));
    }
    let path = |v: Option<String>| nonempty(v).map(PathBuf::from);
    let system_account = config
        .logins
        .trust()
        .map_or(String::new(), |t| t.system_account.clone());
    Ok(Options {
        config,
        port: match s.port {
            None | Some(0) => i64::from(d.port),
            Some(p) => p,
        },
        log: logging::Options {
            file: path(s.log_file),
            debug: s.debug.unwrap_or(false),
            trace: s.trace.unwrap_or(false),
            logtime: s.logtime.unwrap_or(true),
            utc: s.logtime_utc.unwrap_or(false),
        },
        pid_file: path(s.pid_file),
        ports_file_dir: path(s.ports_file_dir),
        config_file,
        digest,
        operator: s.operator,
        system_account,
    })
}

/// What a reload changes: the `Reloaded: <option> = <value>` lines, in
/// nats-server's order, or the first option that cannot change while running,
/// worded as nats-server's `config reload not supported for <Field>: old=…, new=…`.
/// `bound_port` is the port actually listened on (nats-server compares with it).
///
/// Which server settings are fixed and which reload is the server's to say
/// ([`Config::reload_changes`]); this adds what the binary owns (logging,
/// the pid and ports files) in the places nats-server logs them.
pub fn changes(old: &Options, new: &Options, bound_port: u16) -> Result<Vec<String>, String> {
    let server = old
        .config
        .reload_changes(&new.config, (bound_port, new.port))?;
    let path = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    };
    let (ol, nl) = (&old.log, &new.log);
    let logging = [
        ("trace", ol.trace.to_string(), nl.trace.to_string()),
        ("debug", ol.debug.to_string(), nl.debug.to_string()),
        ("logtime", ol.logtime.to_string(), nl.logtime.to_string()),
        ("logtime_utc", ol.utc.to_string(), nl.utc.to_string()),
    ];
    let files = [
        ("pid_file", path(&old.pid_file), path(&new.pid_file)),
        (
            "ports_file_dir",
            path(&old.ports_file_dir),
            path(&new.ports_file_dir),
        ),
        ("log_file", path(&ol.file), path(&nl.file)),
    ];
    let changed = |list: &[(&'static str, String, String)]| -> Vec<(&'static str, String)> {
        list.iter()
            .filter(|(_, a, b)| a != b)
            .map(|(name, _, now)| (*name, now.clone()))
            .collect()
    };
    // nats-server's order: logging, the limits, the files, write_deadline last.
    let (deadline, limits): (Vec<_>, Vec<_>) = server
        .into_iter()
        .partition(|(name, _)| *name == "write_deadline");
    Ok(changed(&logging)
        .into_iter()
        .chain(limits)
        .chain(changed(&files))
        .chain(deadline)
        .map(|(name, now)| match now.is_empty() {
            // Authorization changes are logged without their secrets.
            true => format!("Reloaded: {name}"),
            false => format!("Reloaded: {name} = {now}"),
        })
        .collect())
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
    shoal_go::join_host_port(host, port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{parse, Parsed};
    use std::time::Duration;

    fn flags(words: &[&str]) -> Flags {
        let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        match parse(&args) {
            Ok(Parsed::Run(flags)) => *flags,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn options(words: &[&str]) -> Result<Options, String> {
        Options::from_flags(flags(words))
    }

    /// A config file in the temp dir with `text`; returns its path.
    fn conf(name: &str, text: &str) -> String {
        let path =
            std::env::temp_dir().join(format!("shoal-opt-{}-{name}.conf", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
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
    fn flags_given_override_the_file_and_only_those() {
        let path = conf(
            "override",
            "port: 4333\nmax_payload: 2KB\ndebug: true\nlogtime: false\nhttp_port: 8222\n",
        );
        let o = load(&flags(&["-c", &path, "-p", "5000", "-D=false"]))
            .unwrap()
            .options;
        assert_eq!(o.port, 5000);
        assert_eq!(o.config.max_payload, 2048);
        assert!(!o.log.debug && !o.log.logtime);
        assert_eq!(o.config.http_port, Some(8222));
        assert_eq!(o.config.http_host.as_deref(), Some("0.0.0.0"));
        assert!(o.digest.unwrap().starts_with("sha256:"));
    }

    #[test]
    fn file_cross_checks() {
        let path = conf(
            "ld",
            "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"30s\"\n",
        );
        match load(&flags(&["-c", &path])) {
            Err(LoadError::Invalid(m)) => assert_eq!(
                m,
                "lame duck grace period (30s) should be strictly lower than lame duck duration (30s)"
            ),
            other => panic!("{other:?}"),
        }
        let path = conf("empty", "# nothing\n");
        match load(&flags(&["-c", &path])) {
            Err(LoadError::Report(r)) => {
                assert_eq!(
                    r.errors,
                    [format!("{path}: config has no values or is empty")]
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reload_changes_in_nats_server_words() {
        let a = load(&flags(&["-c", &conf("r1", "port: 4333\n")]))
            .unwrap()
            .options;
        let b = load(&flags(&[
            "-c",
            &conf("r2", "port: 4333\nmax_payload: 2KB\ndebug: true\n"),
        ]))
        .unwrap()
        .options;
        assert_eq!(
            changes(&a, &b, 4333).unwrap(),
            [
                "Reloaded: debug = true",
                "Reloaded: authorization users",
                "Reloaded: accounts",
                "Reloaded: max_payload = 2048"
            ]
        );
        let c = load(&flags(&["-c", &conf("r3", "port: 4334\n")]))
            .unwrap()
            .options;
        assert_eq!(
            changes(&a, &c, 4333).unwrap_err(),
            "config reload not supported for Port: old=4333, new=4334"
        );
        let r = load(&flags(&["-c", &conf("r4", "port: -1\n")]))
            .unwrap()
            .options;
        // nats-server reloads its users and accounts whatever changed.
        assert_eq!(
            changes(&r, &r, 39999).unwrap(),
            ["Reloaded: authorization users", "Reloaded: accounts"]
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
