//! Logging a client in, on its core: the login a CONNECT (or, with
//! `no_auth_user`, the first other op) asks for, decided with `shoal-auth`'s
//! [`Logins`]; the bcrypt comparison it may need run on the core's blocking
//! pool, so the core serves its other connections meanwhile; the refusal in
//! nats-server's words (`[ERR] <client> - authentication error - User "x"`,
//! `-ERR 'Authorization Violation'`, closed as `Authentication Failure`); and
//! the user's permissions, compiled once per user on this core and shared by
//! its connections here.
//!
//! Invariants: a connection's reader waits for its own login and nothing
//! else does; nothing the client sent after the CONNECT is looked at before
//! the login is decided, so nothing it pipelined behind a refused CONNECT is
//! ever acted on.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shoal_auth::{ConnPermissions, Identity, Logins, Rules};
use shoal_proto::encode;

use crate::client::{Client, CloseReason, Creds, Expiry, LoginLimits};
use crate::config::Config;
use crate::rt;

/// What the cores count per account, together (see `Shared::accounts`).
pub struct AccountCounts {
    pub conns: Box<[AtomicI64]>,
    /// A login has used the account: nats-server loads an operator's
    /// accounts on first use, and `/accountz` lists only those.
    pub used: Box<[AtomicBool]>,
    /// Logins refused because their account is not pinned (`/varz`
    /// `pinned_account_fails`).
    pub pinned_fails: std::sync::atomic::AtomicU64,
}

impl AccountCounts {
    pub fn new(n: usize) -> AccountCounts {
        AccountCounts {
            conns: (0..n).map(|_| AtomicI64::new(0)).collect(),
            used: (0..n).map(|_| AtomicBool::new(false)).collect(),
            pinned_fails: Default::default(),
        }
    }
}

/// This core's logins and the permissions compiled for their users.
pub struct Auth {
    logins: RefCell<Arc<Logins>>,
    /// WebSocket clients' logins and auth timeout (`websocket {}`).
    ws: RefCell<Option<Arc<crate::config::Websocket>>>,
    /// Whether any user has permissions: without, the delivery path skips
    /// the per-subscriber deny checks altogether.
    any_permissions: std::cell::Cell<bool>,
    timeout: std::cell::Cell<Duration>,
    /// `users[i]`'s compiled permissions and the entries they skipped (built
    /// at the first login of that user on this core), and the nkey users'.
    rules: RefCell<Vec<Option<Compiled>>>,
    nkey_rules: RefCell<Vec<Option<Compiled>>>,
    /// Per account, across cores (`Shared::accounts`).
    counts: Arc<AccountCounts>,
}

#[derive(Clone)]
struct Compiled {
    rules: Rc<RefCell<Rules>>,
    problems: Rc<[String]>,
}

impl Auth {
    pub fn new(cfg: &Config, counts: Arc<AccountCounts>) -> Auth {
        Auth {
            logins: RefCell::new(cfg.logins.clone()),
            ws: RefCell::new(cfg.websocket.clone()),
            any_permissions: std::cell::Cell::new(has_permissions(&cfg.logins)),
            timeout: std::cell::Cell::new(cfg.auth_timeout),
            rules: RefCell::default(),
            nkey_rules: RefCell::default(),
            counts,
        }
    }

    /// Counts `client` against `account`'s connection limit (-1: none):
    /// false when the account is full. A connection counts once, against
    /// its latest account.
    fn admit(&self, client: &Client, account: u16, limit: i64) -> bool {
        if client.counted.get() == Some(account) {
            return true;
        }
        self.release(client);
        let i = usize::from(account);
        let Some(n) = self.counts.conns.get(i) else {
            return true;
        };
        self.counts.used[i].store(true, Ordering::Relaxed);
        let before = n.fetch_add(1, Ordering::Relaxed);
        if limit != -1 && before >= limit {
            n.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        client.counted.set(Some(account));
        true
    }

    /// A closing (or re-logged-in) connection stops counting against its
    /// account.
    pub fn release(&self, client: &Client) {
        if let Some(a) = client.counted.take() {
            if let Some(n) = self.counts.conns.get(usize::from(a)) {
                n.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether deliveries must consult subscribers' permissions.
    #[inline]
    pub fn any_permissions(&self) -> bool {
        self.any_permissions.get()
    }

    /// The logins of a WebSocket client (`ws`) or of any other.
    pub fn logins_for(&self, ws: bool) -> Arc<Logins> {
        match (&*self.ws.borrow(), ws) {
            (Some(w), true) => w.logins.clone(),
            _ => self.logins.borrow().clone(),
        }
    }

    /// Whether a client must log in before anything else.
    pub fn required(&self, ws: bool) -> bool {
        self.logins_for(ws).required()
    }

    /// INFO's `auth_required`: false when `no_auth_user` lets a client in
    /// without credentials, as in nats-server; to a WebSocket client, also
    /// true when its listener has its own logins (whatever they are).
    pub fn info_required(&self, ws: bool) -> bool {
        let l = self.logins.borrow().clone();
        let base = l.required() && l.no_auth_user_name().is_none();
        let over = ws && self.ws.borrow().as_ref().is_some_and(|w| w.auth_override);
        base || over
    }

    /// Whether INFO carries a nonce for nkey users to sign.
    pub fn nonce_required(&self, ws: bool) -> bool {
        self.logins_for(ws).nonce_required()
    }

    /// Whether the first op may be something other than CONNECT (the client
    /// is then the `no_auth_user`).
    pub fn has_no_auth_user(&self, ws: bool) -> bool {
        self.logins_for(ws).no_auth_user().is_some()
    }

    /// How long a client has to log in (the WebSocket listener may say
    /// otherwise for its clients).
    pub fn timeout(&self, ws: bool) -> Duration {
        let own = self.ws.borrow().as_ref().and_then(|w| w.auth_timeout);
        match own {
            Some(t) if ws => t,
            _ => self.timeout.get(),
        }
    }

    /// A reload's logins: new connections use them at once.
    pub fn replace(&self, cfg: &Config) {
        *self.logins.borrow_mut() = cfg.logins.clone();
        *self.ws.borrow_mut() = cfg.websocket.clone();
        // Connections keep their old permissions until their check: stay on
        // if any were on.
        self.any_permissions
            .set(self.any_permissions.get() || has_permissions(&cfg.logins));
        self.timeout.set(cfg.auth_timeout);
        self.rules.borrow_mut().clear();
        self.nkey_rules.borrow_mut().clear();
    }

    /// The system account's id, when it is one of the accounts.
    pub fn system_account_id(&self) -> Option<u16> {
        let logins = self.logins.borrow();
        let name = logins.system_account()?;
        let i = logins.accounts().iter().position(|a| a == name)?;
        u16::try_from(i).ok()
    }

    /// The ids of every account this server has (`$G` alone without an
    /// `accounts {}` block).
    pub fn account_ids(&self) -> Vec<u16> {
        let n = self.logins.borrow().accounts().len().max(1);
        (0..n).filter_map(|i| u16::try_from(i).ok()).collect()
    }

    /// The name of account `id` (`$G` for 0).
    pub fn account_name(&self, id: u16) -> String {
        self.logins.borrow().account_name(id).to_string()
    }

    /// The id of account `name` (`$G` is 0), if this server has it.
    pub fn account_id(&self, name: &[u8]) -> Option<u16> {
        let logins = self.logins.borrow();
        let accounts = logins.accounts();
        if accounts.is_empty() {
            return (name == b"$G").then_some(0);
        }
        accounts
            .iter()
            .position(|a| a.as_bytes() == name)
            .and_then(|i| u16::try_from(i).ok())
    }

    /// Account `id`'s name tag: its JWT's name in operator mode, else its
    /// name (nats-server's `getNameTag`).
    pub fn account_tag(&self, id: u16) -> String {
        let logins = self.logins.borrow();
        let name = logins.account_name(id);
        logins
            .trust()
            .and_then(|t| t.account(name))
            .map(|(_, a)| a.claims.name.as_str())
            .filter(|n| !n.is_empty())
            .unwrap_or(name)
            .to_string()
    }

    /// The logins in force (a reload replaces them).
    pub fn logins(&self) -> Arc<Logins> {
        self.logins.borrow().clone()
    }

    /// The permissions `who` logs in with, compiled once per core.
    fn compiled(&self, who: &Identity) -> Option<Compiled> {
        let logins = self.logins.borrow();
        let (spec, cache, i) = match *who {
            Identity::User(i) => (logins.user(i).permissions.as_ref()?, &self.rules, i),
            Identity::Nkey(i) => (
                logins.nkey_user(i).permissions.as_ref()?,
                &self.nkey_rules,
                i,
            ),
            Identity::Jwt(ref u) => {
                // A JWT's permissions are its own: compiled per login.
                let (r, problems) = Rules::compile(u.permissions.as_ref()?);
                return Some(Compiled {
                    rules: Rc::new(RefCell::new(r)),
                    problems: problems.into(),
                });
            }
            Identity::Token | Identity::SingleUser => return None,
        };
        let mut rules = cache.borrow_mut();
        if rules.len() <= i {
            rules.resize(i + 1, None);
        }
        Some(
            rules[i]
                .get_or_insert_with(|| {
                    let (r, problems) = Rules::compile(spec);
                    Compiled {
                        rules: Rc::new(RefCell::new(r)),
                        problems: problems.into(),
                    }
                })
                .clone(),
        )
    }
}

fn has_permissions(l: &Logins) -> bool {
    l.users().iter().any(|u| u.permissions.is_some())
        || l.nkeys().iter().any(|u| u.permissions.is_some())
        // Any user JWT may carry permissions.
        || l.trust().is_some()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Logs `client` in with `creds` (see the module header). Logged in (true),
/// its permissions, account and credentials are set; refused (false), it has
/// been told and is closing.
pub async fn login(auth: &Auth, client: &Rc<Client>, creds: &Creds) -> bool {
    login_as(auth, client, creds, false).await
}

/// A reload's check of a connection already in: as [`login`], except that a
/// JWT user its account now revokes is told `User Authentication Revoked`
/// and closed as `Credentials Revoked` (nats-server's account claims
/// update).
pub async fn recheck(auth: &Auth, client: &Rc<Client>, creds: &Creds) -> bool {
    login_as(auth, client, creds, true).await
}

async fn login_as(auth: &Auth, client: &Rc<Client>, creds: &Creds, again: bool) -> bool {
    loop {
        let ws = client.websocket.get();
        let logins = auth.logins_for(ws);
        let nonce = client.nonce.get();
        let mut asked = creds.as_credentials(nonce.as_ref().map_or(&[], |n| &n[..]));
        asked.now = unix_now();
        asked.local_offset = crate::boot::local_offset(asked.now);
        asked.peer = Some(client.peer.ip());
        // verify_and_map: the client certificate names the user.
        let cert = if logins.tls_map() {
            let der = client
                .tls_info
                .borrow()
                .as_ref()
                .and_then(|t| t.peer_certs.first().cloned());
            let id = der.as_deref().and_then(shoal_tls::identity::identity);
            match &id {
                None if der.is_none() => log::debug!(
                    "{} - User required in cert, no peer certificates found",
                    client.log_prefix()
                ),
                None => log::debug!(
                    "{} - User required in cert, none found",
                    client.log_prefix()
                ),
                Some(i) => match logins.map_certificate(i) {
                    Some((_, how)) => log::debug!("{} - {how}", client.log_prefix()),
                    None => log::debug!(
                        "{} - User in cert [{}], not found",
                        client.log_prefix(),
                        shoal_go::quote(i.subject.as_bytes())
                    ),
                },
            }
            id
        } else {
            None
        };
        asked.cert = cert.as_ref();
        let plan = logins.plan(&asked);
        let decided = if plan.needs_blocking() {
            // bcrypt's tens of milliseconds, or a JWT chain's Ed25519
            // verifications: not on the core.
            rt::blocking(move || plan.decide_why()).await
        } else {
            plan.decide_why()
        };
        // A reload replaced the logins while bcrypt ran: the decision was
        // against the old list, so it is made again against the new one.
        if !Arc::ptr_eq(&logins, &auth.logins_for(ws)) {
            continue;
        }
        return match decided {
            Ok(id) => grant(auth, client, id, creds),
            Err(why) if again && why == shoal_auth::operator::REVOKED => {
                log::debug!("{} - User Authentication Revoked", client.log_prefix());
                client.send_err(b"-ERR 'User Authentication Revoked'\r\n");
                client.close_after_flush(CloseReason::Revoked);
                false
            }
            Err(why) => {
                if why.ends_with(shoal_auth::operator::NOT_PINNED) {
                    auth.counts.pinned_fails.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(line) = why.strip_prefix("Bad src Ip") {
                    log::error!("{} - Bad src Ip{line}", client.log_prefix());
                } else if why == shoal_auth::operator::OUTSIDE_TIMES {
                    log::error!("{} - {why}", client.log_prefix());
                } else if !why.is_empty() {
                    log::debug!("{} - {why}", client.log_prefix());
                }
                refuse(auth, client, creds);
                false
            }
        };
    }
}

/// Sets what `who` logs in with: its permissions, its account, and the
/// credentials the connection keeps (for a later CONNECT and a reload's
/// check): the no_auth_user's name and password for a client that sent none,
/// as nats-server rewrites its options.
fn grant(auth: &Auth, client: &Rc<Client>, who: Identity, creds: &Creds) -> bool {
    let perms = auth.compiled(&who).map(|c| {
        // nats-server logs the entries it skips each time it sets a
        // connection's permissions.
        for p in c.problems.iter() {
            log::error!("{} - {p}", client.log_prefix());
        }
        ConnPermissions::new(c.rules, Instant::now())
    });
    *client.perms.borrow_mut() = perms;
    let logins = auth.logins_for(client.websocket.get());
    *client.perm_spec.borrow_mut() = match &who {
        Identity::User(i) => logins.user(*i).permissions.clone(),
        Identity::Nkey(i) => logins.nkey_user(*i).permissions.clone(),
        Identity::Jwt(u) => u.permissions.clone(),
        Identity::Token | Identity::SingleUser => None,
    }
    .map(|p| p.normalized());
    client.account.set(match &who {
        Identity::User(i) => logins.user(*i).account,
        Identity::Nkey(i) => logins.nkey_user(*i).account,
        Identity::Token | Identity::SingleUser => 0,
        Identity::Jwt(u) => u.account,
    });
    let mut kept = creds.clone();
    if let (Identity::User(i), true) = (&who, creds.user.is_empty() || logins.tls_map()) {
        let u = logins.user(*i);
        if logins.tls_map() && !creds.user.is_empty() {
            log::warn!(
                "User {} found in connect proto, but user required from cert",
                shoal_go::quote(creds.user.as_bytes())
            );
        }
        (kept.user, kept.pass) = (u.name.clone(), u.password.clone());
    }
    client.login_limits.set(LoginLimits::NONE);
    client.expires.set(None);
    if let Identity::User(_) | Identity::Nkey(_) = &who {
        // A configured account's limits.
        let account = client.account.get();
        let l = logins.account_limits(account);
        client.login_limits.set(LoginLimits {
            subs: l.subs,
            payload: l.payload,
        });
        if !auth.admit(client, account, l.conn) {
            drop(logins);
            too_many_in_account(client);
            return false;
        }
    }
    if let Identity::Jwt(u) = &who {
        if !auth.admit(client, u.account, u.account_conns) {
            drop(logins);
            too_many_in_account(client);
            return false;
        }
        kept.jwt_user.clone_from(&u.key);
        kept.jwt_issuer.clone_from(&u.issuer);
        kept.jwt_bearer = u.bearer;
        kept.jwt_tags.clone_from(&u.tags);
        kept.jwt_name.clone_from(&u.name);
        client.login_limits.set(LoginLimits {
            subs: u.limits.subs,
            payload: u.limits.payload,
        });
        client.expires.set(expiry(u.expires, u.account_expires));
    }
    *client.creds.borrow_mut() = (!kept.is_empty()).then(|| Box::new(kept));
    drop(logins);
    true
}

/// nats-server's `maxAccountConnExceeded`.
fn too_many_in_account(client: &Rc<Client>) {
    log::error!(
        "{} - maximum account active connections exceeded",
        client.log_prefix()
    );
    client.send_err(b"-ERR 'maximum account active connections exceeded'\r\n");
    client.close_after_flush(CloseReason::MaxAccountConnections);
}

/// When a JWT login must end: the earlier of the user's and the account's
/// expiry (unix seconds, 0: never), as an instant, and whether it is the
/// account's.
fn expiry(user: i64, account: i64) -> Option<(Instant, Expiry)> {
    let now = unix_now();
    let at = |t: i64| Instant::now() + Duration::from_secs(t.saturating_sub(now).max(0) as u64);
    match (user, account) {
        (0, 0) => None,
        (u, 0) => Some((at(u), Expiry::User)),
        (0, a) => Some((at(a), Expiry::Account)),
        (u, a) if a < u => Some((at(a), Expiry::Account)),
        (u, _) => Some((at(u), Expiry::User)),
    }
}

/// After a login's `+OK`: nats-server's `applyAccountLimits` finds a login
/// whose subscription limit is 0 already at it, says so, and closes the
/// connection 20 ms later (what the client sent meanwhile is still served).
pub fn after_login(client: &Rc<Client>) {
    if client.login_limits.get().subs == 0 {
        log::error!("{} - maximum subscriptions exceeded", client.log_prefix());
        client.send_err(encode::ERR_MAX_SUBSCRIPTIONS);
        client.expires.set(Some((
            Instant::now() + Duration::from_millis(20),
            Expiry::NoSubscriptions,
        )));
    }
}

/// A JWT login's time is up: nats-server's `authExpired` (or
/// `accountAuthExpired`).
pub fn expired(client: &Rc<Client>, why: Expiry) {
    client.expires.set(None);
    let account = match why {
        Expiry::NoSubscriptions => {
            client.close_after_flush(CloseReason::MaxSubscriptions);
            return;
        }
        Expiry::Account => true,
        Expiry::User => false,
    };
    let err: &[u8] = if account {
        b"-ERR 'Account Authentication Expired'\r\n"
    } else {
        b"-ERR 'User Authentication Expired'\r\n"
    };
    log::debug!(
        "{} - {}",
        client.log_prefix(),
        if account {
            "Account Authentication Expired"
        } else {
            "User Authentication Expired"
        }
    );
    client.send_err(err);
    client.close_after_flush(CloseReason::AuthExpired);
}

/// nats-server's `authViolation`: the error log line, `-ERR 'Authorization
/// Violation'`, and the close.
pub fn refuse(auth: &Auth, client: &Rc<Client>, creds: &Creds) {
    let text = auth
        .logins
        .borrow()
        .failure_text(&creds.as_credentials(&[]));
    log::error!("{} - {text}", client.log_prefix());
    client.send_err(encode::ERR_AUTH_VIOLATION);
    client.close_after_flush(CloseReason::AuthViolation);
}

/// The auth timer fired: `-ERR 'Authentication Timeout'` and the close.
pub fn timed_out(client: &Rc<Client>) {
    client.auth_deadline.set(None);
    log::debug!("{} - Authentication Timeout", client.log_prefix());
    client.send_err(encode::ERR_AUTH_TIMEOUT);
    client.close_after_flush(CloseReason::AuthTimeout);
}
