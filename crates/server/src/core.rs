//! One core's state: everything a glommio executor owns, single-threaded and
//! lock-free — its connections, its subscription [`Registry`] (its own
//! subscriptions and the interest summary of its peers), its [`Links`] to the
//! peer cores, the [`CoreEnv`] its connections share (limits, counters, pass
//! clock), its lifecycle flags — and the operations that must keep those
//! parts consistent with each other: subscribing and unsubscribing (registry,
//! peers and the client's barrier flag together), and ending a pass (rings
//! flushed, touched writers woken once).
//!
//! Invariants: nothing here is shared with another thread except through the
//! rings and [`Shared`], which is off the message path. Fields are private:
//! the message path reaches them through the methods below, each file of the
//! runtime owning one part (router: delivery; peers: links; ticker: life).
//! No socket, no glommio: a `Core` can be built and driven in a unit test.

use std::cell::{Cell, RefCell, RefMut};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use ahash::AHashMap;
use bytes::Bytes;

use crate::auth::{AccountCounts, Auth};
use crate::client::{Client, CoreEnv};
use crate::config::{Config, Live};
use crate::event::Event;
use crate::peers::Links;
use crate::records::{Clock, ClosedRing};
use crate::registry::Registry;
use crate::ring::{Holder, Item, QueueId};
use crate::routes::Routes;

/// What every core shares, read-mostly, across threads (never on the message path).
/// The core every leaf connection lives on (see `leaf/mod.rs`).
pub const LEAF_CORE: usize = 0;

pub struct Shared {
    pub cfg: Config,
    pub server_id: String,
    pub server_name: String,
    /// The host and port INFO gives clients: the listen address, or
    /// `client_advertise`.
    pub info_host: String,
    pub info_port: u16,
    pub connections: AtomicUsize,
    pub stop: AtomicBool,
    /// Lame duck mode requested (SIGUSR2).
    pub lame_duck: AtomicBool,
    /// A stop was asked for: core 0 announces it in the system account
    /// (`$SYS.SERVER.<id>.SHUTDOWN`) and sets `shutdown_told` once that
    /// event has reached every core (the routes carry it before they go).
    pub shutdown_asked: AtomicBool,
    pub shutdown_told: AtomicBool,
    /// Bumped by each reload; cores pick up `reloaded` when it changes.
    pub reload_gen: AtomicU64,
    pub reloaded: Mutex<Option<Config>>,
    /// A reload's bookkeeping: connections still to close to fall within a
    /// lowered `max_connections` (each core takes what it can from it), how
    /// many the cores closed, and how many cores have applied the reload.
    pub reload_excess: AtomicUsize,
    pub reload_closed: AtomicUsize,
    pub reload_applied: AtomicUsize,
    /// Boot clocks (monitoring's wall-clock times).
    pub clock: Clock,
    /// When the configuration was last loaded (boot, then each reload).
    pub config_load: Mutex<SystemTime>,
    /// Whether monitoring is on (cores keep closed connections only then).
    pub monitoring: bool,
    /// The sequence of the server's events (`server.seq` in their JSON).
    pub event_seq: AtomicU64,
    /// Per account id: open client connections (account connection limits)
    /// and whether any login has used it; the accounts are fixed while the
    /// server runs.
    pub accounts: Arc<AccountCounts>,
    /// The cluster this server is a node of, if any.
    pub mesh: Option<Arc<crate::mesh::Mesh>>,
    /// The WebSocket listener, if any.
    pub ws: Option<WsListen>,
    /// The leaf listener of a hub, bound by the leaf core.
    pub leaf: Option<LeafListenAddr>,
    /// The leaf cluster names met so far (origins of leaf interest).
    pub origins: crate::origins::Origins,
}

/// The bound WebSocket listener and what its clients' INFO says.
#[derive(Debug, Clone)]
pub struct WsListen {
    pub listen: SocketAddr,
    /// The configured host and the bound port (INFO `host`/`port` of a
    /// WebSocket client, as nats-server gives them).
    pub host: String,
    pub port: u16,
    pub tls: bool,
    /// `ws_connect_urls`: `advertise`, else the listen address (every
    /// interface address when it is unspecified).
    pub urls: Vec<String>,
}

/// A hub's leaf listener, resolved at boot.
pub struct LeafListenAddr {
    pub listen: SocketAddr,
    /// INFO `host`/`port`, as nats-server gives them.
    pub host: String,
    pub port: u16,
    /// `leafnode_urls`: `advertise`, else the listen address (every
    /// interface address when it is unspecified); none with
    /// `no_advertise`.
    pub urls: Vec<String>,
}

impl Shared {
    /// The shared state of server `server_id` booting with `cfg`, telling
    /// clients `info_host:info_port`.
    pub fn new(
        cfg: Config,
        server_id: String,
        (info_host, info_port): (String, u16),
        monitoring: bool,
    ) -> Shared {
        let clock = Clock::now();
        let cfg_accounts = cfg.logins.accounts().len().max(cfg.max_accounts);
        Shared {
            info_host,
            info_port,
            server_name: cfg.server_name.clone().unwrap_or_else(|| server_id.clone()),
            server_id,
            cfg,
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            lame_duck: AtomicBool::new(false),
            shutdown_asked: AtomicBool::new(false),
            shutdown_told: AtomicBool::new(false),
            reload_gen: AtomicU64::new(0),
            reloaded: Mutex::new(None),
            reload_excess: AtomicUsize::new(0),
            reload_closed: AtomicUsize::new(0),
            reload_applied: AtomicUsize::new(0),
            clock,
            config_load: Mutex::new(clock.boot_wall()),
            monitoring,
            accounts: Arc::new(AccountCounts::new(cfg_accounts.max(1))),
            event_seq: AtomicU64::new(0),
            mesh: None,
            ws: None,
            leaf: None,
            origins: Default::default(),
        }
    }

    /// The configuration in force: the last reloaded one, else the boot one.
    pub fn config(&self) -> Config {
        let reloaded = self.reloaded.lock().unwrap_or_else(|e| e.into_inner());
        reloaded.clone().unwrap_or_else(|| self.cfg.clone())
    }
}

/// Where a core is in its life: stopping, reloads seen, lame duck progress.
#[derive(Default)]
pub struct Life {
    pub stopping: Cell<bool>,
    pub stop_ev: Event,
    pub seen_reload: Cell<u64>,
    /// Lame duck: when the grace period ends (set on entering).
    pub closing_from: Cell<Option<Instant>>,
    /// Lame duck: when the next client may be closed.
    pub next_close: Cell<Option<Instant>>,
    /// Core 0 has published the stop in the system account.
    pub shutdown_announced: Cell<bool>,
}

/// The router's reusable buffers (one publish at a time uses them).
#[derive(Default)]
pub struct RouteScratch {
    /// Per peer core: whether it wants the message, and the queue groups
    /// (its ids) picked for it.
    pub peers: Vec<PeerPlan>,
    /// Subscriptions that reached their UNSUB max during this message.
    pub expired: Vec<u32>,
    /// Local queue members picked for this message.
    pub picks: Vec<u32>,
    /// The cluster routes this message goes out on (the first `n_routes`
    /// entries; the rest keep their vectors for the next message).
    pub routes: Vec<RouteTarget>,
    pub n_routes: usize,
}

/// One route a message leaves on: once, with the queue groups for which
/// that peer was picked.
#[derive(Default)]
pub struct RouteTarget {
    pub link: Option<Rc<Client>>,
    pub queues: Vec<Bytes>,
}

#[derive(Default)]
pub struct PeerPlan {
    pub wanted: bool,
    pub queues: Vec<QueueId>,
}

pub struct Core {
    id: usize,
    n: usize,
    /// A leaf node that is not a cluster node: every route-like entry is a
    /// leaf's, and queue members behind a leaf are taken only when no
    /// client of this server can take the message.
    leaf_only: bool,
    /// A cluster node that accepts leaf connections: the leaf core's
    /// route-held interest may then be a leaf's, which a route's message
    /// may reach (see `router::routed`).
    hub_in_cluster: bool,
    /// Leaf cluster names this core has looked up (see `origins.rs`).
    origin_names: RefCell<crate::origins::Cache>,
    /// JetStream, on the JetStream core of a server that has it.
    js: std::cell::OnceCell<crate::js::state::Js>,
    cfg: Config,
    shared: Arc<Shared>,
    env: Rc<CoreEnv>,
    registry: Registry,
    links: Links,
    clients: RefCell<AHashMap<u64, Rc<Client>>>,
    life: Life,
    next_cid: Cell<u64>,
    rng: Cell<u64>,
    route: RefCell<RouteScratch>,
    closed: RefCell<ClosedRing>,
    auth: Auth,
    /// Whether accounts exist (subjects are then keyed by account).
    namespaced: bool,
    /// Where a publish builds its key.
    key_buf: RefCell<Vec<u8>>,
    /// The server's own publisher (system account events, service
    /// responses), made at first use.
    internal: std::cell::OnceCell<Rc<Client>>,
    /// Service requests rewritten here, waiting for their responses.
    replies: crate::services::Replies,
    /// The client listener's TLS in force (replaced by a reload: new
    /// connections use the new certificates, open ones keep theirs).
    tls: RefCell<Option<Arc<crate::config::Tls>>>,
    /// `$SYS.REQ.SERVER…` requests delivered to the server's own
    /// subscriptions (core 0 only), waiting for the monitoring thread.
    sys_requests: RefCell<std::collections::VecDeque<crate::records::SysRequest>>,
    sys_ready: crate::event::Event,
    /// The accounts' mappings and imports in force (replaced by a reload),
    /// and whether there are none at all (the publish path then skips them
    /// without a borrow).
    routing: RefCell<Routing>,
    plain_routing: Cell<bool>,
    /// How many accounts have this core's `$SYS.REQ.USER.INFO` subscription,
    /// and (core 0) its subscriptions to the system's account services.
    user_info_accounts: Cell<usize>,
    sys_accounts: Cell<usize>,
    /// The cluster routes this core owns and the interest they are told.
    routes: Routes,
}

/// What routes a message between and within accounts besides the
/// subscriptions: subject mappings, stream imports, service imports. Read
/// by every publish on this core (a `RefCell` borrow), replaced only by the
/// ticker when a reload arrives, never during a routing.
pub struct Routing {
    pub mappings: Arc<crate::mappings::Mappings>,
    pub imports: Arc<crate::imports::StreamImports>,
    pub services: Arc<crate::services::ServiceImports>,
}

impl Routing {
    fn of(cfg: &Config) -> Routing {
        Routing {
            mappings: cfg.mappings.clone(),
            imports: cfg.imports.clone(),
            services: cfg.services.clone(),
        }
    }

    fn is_plain(&self) -> bool {
        self.mappings.is_empty() && self.imports.is_empty() && self.services.is_empty()
    }
}

impl Core {
    pub fn new(id: usize, n: usize, shared: Arc<Shared>) -> Core {
        let live = Live::from(&shared.cfg);
        let auth = Auth::new(&shared.cfg, shared.accounts.clone());
        let namespaced = !shared.cfg.logins.accounts().is_empty();
        let routing = Routing::of(&shared.cfg);
        let plain_routing = Cell::new(routing.is_plain());
        let routing = RefCell::new(routing);
        let tls = RefCell::new(shared.cfg.tls.clone());
        // Leaf connections are told the server's client interest as
        // routes are: the same table, kept when either is configured.
        let cluster = shared.cfg.cluster.is_some();
        let hub = shared.cfg.leaf.as_ref().is_some_and(|l| l.listen.is_some());
        let routes = Routes::new(
            (
                cluster || shared.cfg.leaf.is_some(),
                cluster,
                cluster && hub && id == LEAF_CORE,
            ),
            shared
                .cfg
                .cluster
                .as_ref()
                .and_then(|c| c.permissions.as_ref()),
            shared
                .cfg
                .cluster
                .as_ref()
                .map_or(&[][..], |c| &c.pinned[..]),
        );
        Core {
            id,
            n,
            leaf_only: shared.cfg.leaf.is_some() && shared.cfg.cluster.is_none(),
            hub_in_cluster: cluster && hub,
            origin_names: RefCell::default(),
            js: std::cell::OnceCell::new(),
            cfg: shared.cfg.clone(),
            shared,
            env: CoreEnv::new(live),
            registry: Registry::default(),
            links: Links::new(id, n),
            clients: RefCell::default(),
            life: Life::default(),
            next_cid: Cell::new(id as u64 + 1),
            rng: Cell::new(rand::random::<u64>() | 1),
            route: RefCell::new(RouteScratch {
                peers: (0..n).map(|_| PeerPlan::default()).collect(),
                ..Default::default()
            }),
            closed: RefCell::default(),
            auth,
            namespaced,
            tls,
            key_buf: RefCell::default(),
            internal: std::cell::OnceCell::new(),
            replies: crate::services::Replies::default(),
            sys_requests: RefCell::default(),
            sys_ready: crate::event::Event::default(),
            routing,
            plain_routing,
            user_info_accounts: Cell::new(0),
            sys_accounts: Cell::new(0),
            routes,
        }
    }

    /// The cluster routes this core owns.
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// How many accounts have core 0's subscriptions to the system
    /// account's services (`sys_relay`).
    pub fn sys_accounts(&self) -> &Cell<usize> {
        &self.sys_accounts
    }

    /// How many accounts have this core's `$SYS.REQ.USER.INFO` subscription.
    pub fn user_info_accounts(&self) -> &Cell<usize> {
        &self.user_info_accounts
    }

    /// The mappings and imports in force.
    pub fn routing(&self) -> std::cell::Ref<'_, Routing> {
        self.routing.borrow()
    }

    /// Whether no account has mappings, stream or service imports.
    #[inline]
    pub fn plain_routing(&self) -> bool {
        self.plain_routing.get()
    }

    /// A reload's mappings and imports, for the publishes after this.
    pub fn replace_routing(&self, cfg: &Config) {
        let r = Routing::of(cfg);
        self.plain_routing.set(r.is_plain());
        *self.routing.borrow_mut() = r;
    }

    /// Files a request for the server (copied: it is answered after this
    /// routing, on another thread). Bounded: a flood of requests drops the
    /// newest, as nats-server's internal queue drops when full.
    pub fn queue_sys_request(
        &self,
        subject: &[u8],
        reply: &[u8],
        body: &[u8],
        sid: &[u8],
        account: u16,
    ) {
        const MAX_WAITING: usize = 1024;
        let mut q = self.sys_requests.borrow_mut();
        if q.len() >= MAX_WAITING {
            return;
        }
        q.push_back(crate::records::SysRequest {
            subject: String::from_utf8_lossy(subject).into_owned(),
            reply: String::from_utf8_lossy(reply).into_owned(),
            pattern: String::from_utf8_lossy(sid).into_owned(),
            account,
            account_name: self.auth.account_name(account),
            body: body.to_vec(),
        });
        self.sys_ready.notify();
    }

    /// The next request filed by [`Core::queue_sys_request`].
    pub async fn next_sys_request(&self) -> crate::records::SysRequest {
        loop {
            let wait = self.sys_ready.wait();
            if let Some(r) = self.sys_requests.borrow_mut().pop_front() {
                return r;
            }
            wait.await;
        }
    }

    /// This core's pending service replies.
    pub fn replies(&self) -> &crate::services::Replies {
        &self.replies
    }

    /// The server's own publisher on this core: no socket, no subscriptions.
    pub fn internal_publisher(&self) -> Rc<Client> {
        self.internal
            .get_or_init(|| {
                let addr = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
                let mut c = Client::new(0, addr, self.env.clone(), None);
                c.internal = true;
                Rc::new(c)
            })
            .clone()
    }

    pub fn id(&self) -> usize {
        self.id
    }

    /// Number of cores.
    pub fn cores(&self) -> usize {
        self.n
    }

    /// The boot configuration (fixed settings; reloadable ones are [`Core::live`]).
    pub fn cfg(&self) -> &Config {
        &self.cfg
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// What this core's connections share (limits, counters, pass clock).
    pub fn env(&self) -> &Rc<CoreEnv> {
        &self.env
    }

    /// See the field.
    #[inline]
    pub fn leaf_only(&self) -> bool {
        self.leaf_only
    }

    /// See the field.
    #[inline]
    pub fn hub_in_cluster(&self) -> bool {
        self.hub_in_cluster
    }

    /// JetStream, if this core has it.
    #[inline]
    pub fn js(&self) -> Option<&crate::js::state::Js> {
        self.js.get()
    }

    /// Gives this core its JetStream (once).
    pub fn set_js(&self, js: crate::js::state::Js) -> bool {
        self.js.set(js).is_ok()
    }

    /// Leaf cluster `id`'s name (empty for none).
    pub fn origin_name(&self, id: u16) -> Bytes {
        self.origin_names
            .borrow_mut()
            .name(&self.shared.origins, id)
    }

    /// The reloadable limits in force on this core.
    pub fn live(&self) -> Live {
        self.env.live.get()
    }

    /// How often `c` is pinged: the WebSocket listener's `ping_interval`
    /// for its clients, else the server's.
    pub fn ping_interval_of(&self, c: &Client) -> std::time::Duration {
        let ws = c
            .websocket
            .get()
            .then(|| {
                self.shared
                    .cfg
                    .websocket
                    .as_ref()
                    .and_then(|w| w.ping_interval)
            })
            .flatten();
        ws.unwrap_or(self.live().ping_interval)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Runs `f` with `account`'s key for `subject` (see `accounts.rs`): the
    /// subject itself on a server without accounts.
    #[inline]
    pub fn keyed<R>(&self, account: u16, subject: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
        if !self.namespaced {
            return f(subject);
        }
        let mut buf = self.key_buf.take();
        crate::accounts::key_into(account, subject, &mut buf);
        let r = f(&buf);
        *self.key_buf.borrow_mut() = buf;
        r
    }

    /// `account`'s key for `subject`, owned (for a subscription).
    pub fn key(&self, account: u16, subject: &[u8]) -> Bytes {
        self.keyed(account, subject, Bytes::copy_from_slice)
    }

    /// The client listener's TLS in force (`None`: clear text).
    pub fn tls(&self) -> Option<Arc<crate::config::Tls>> {
        self.tls.borrow().clone()
    }

    /// A reload's TLS.
    pub fn set_tls(&self, tls: Option<Arc<crate::config::Tls>>) {
        *self.tls.borrow_mut() = tls;
    }

    /// Who may log in on this core, and what their users may do.
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    pub fn life(&self) -> &Life {
        &self.life
    }

    /// The router's buffers.
    pub fn route_scratch(&self) -> RefMut<'_, RouteScratch> {
        self.route.borrow_mut()
    }

    /// Client ids are allocated per core so that `(cid - 1) % cores == core`: the
    /// core that owns a connection is visible from INFO's `client_id`.
    pub fn next_cid(&self) -> u64 {
        let c = self.next_cid.get();
        self.next_cid.set(c + self.n as u64);
        c
    }

    /// A uniform number in `0..n` (xorshift64*; not for secrets).
    pub fn rand(&self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) % n
    }

    // ---- connections ----

    pub fn add_client(&self, c: Rc<Client>) {
        self.clients.borrow_mut().insert(c.cid, c);
    }

    pub fn remove_client(&self, cid: u64) {
        self.clients.borrow_mut().remove(&cid);
    }

    pub fn client_count(&self) -> usize {
        self.clients.borrow().len()
    }

    /// The open connections (a copy of the handles: callers may close them).
    pub fn client_list(&self) -> Vec<Rc<Client>> {
        self.clients.borrow().values().cloned().collect()
    }

    /// Some open connection (lame duck closes them one at a time).
    pub fn any_client(&self) -> Option<Rc<Client>> {
        self.clients.borrow().values().next().cloned()
    }

    // ---- interest ----

    /// Adds a subscription of `client` (validated by the caller, sid new):
    /// registered here, announced to every peer, and the client's next PING
    /// waits for the barrier that makes it visible there.
    pub fn subscribe(
        &self,
        client: &Rc<Client>,
        sid: Bytes,
        subject: Bytes,
        queue: Option<&[u8]>,
    ) -> u32 {
        let (key, queue) = self.registry.add(client, sid, subject.clone(), queue);
        client.needs_barrier.set(true);
        if self.n > 1 {
            self.links.broadcast(|| Item::Interest {
                pattern: subject.clone(),
                queue: queue.clone(),
                add: true,
                holder: Holder::Client,
                weight: 1,
            });
        }
        let name = queue.as_ref().map(|(_, n)| &n[..]);
        let imports = self.routing.borrow().imports.clone();
        self.routes
            .client_interest(&self.auth, &imports, &subject, name, true);
        self.env.stats.subs_changed(1);
        key
    }

    /// Adds a cluster peer's or a leaf's interest, held by its connection
    /// `link` on this core (`sid` names it among the link's entries), worth
    /// `weight` queue members (`origin`: a route's entry for the leaf
    /// cluster behind the peer): registered here, told to this core's
    /// links that hear it, and announced to every peer core as the link's
    /// (see [`Holder`]).
    pub fn route_subscribe(
        &self,
        link: &Rc<Client>,
        sid: Bytes,
        key: Bytes,
        (queue, weight): (Option<&[u8]>, u32),
        origin: u16,
    ) -> u32 {
        let (slot, queue) = self
            .registry
            .add_weighted(link, sid, key.clone(), queue, weight);
        self.registry.with_sub(slot, |s| s.origin.set(origin));
        let holder = Holder::of(link, origin);
        self.tell_links(link, holder, &key, &queue, true, weight.max(1));
        if self.n > 1 {
            self.links.broadcast(|| Item::Interest {
                pattern: key.clone(),
                queue: queue.clone(),
                add: true,
                holder,
                weight: weight.max(1),
            });
        }
        slot
    }

    /// A route's queue interest now counts `weight` members.
    pub fn route_reweight(&self, slot: u32, weight: u32) {
        let Some(old) = self.registry.reweight(slot, weight) else {
            return;
        };
        let weight = weight.max(1);
        if old == weight {
            return;
        }
        let Some((pattern, queue, link, origin)) = self.registry.with_sub(slot, |s| {
            (
                s.subject.clone(),
                s.queue.clone(),
                s.client.clone(),
                s.origin.get(),
            )
        }) else {
            return;
        };
        let (add, by) = if weight > old {
            (true, weight - old)
        } else {
            (false, old - weight)
        };
        let holder = Holder::of(&link, origin);
        self.tell_links(&link, holder, &pattern, &queue, add, by);
        if self.n > 1 {
            self.links.broadcast(|| Item::Interest {
                pattern: pattern.clone(),
                queue: queue.clone(),
                add,
                holder,
                weight: by,
            });
        }
    }

    /// A route's or leaf's (`holder`'s) interest in `key` changed by
    /// `weight` members: this core's links that hear it are told.
    fn tell_links(
        &self,
        link: &Client,
        holder: Holder,
        key: &[u8],
        queue: &Option<(QueueId, Bytes)>,
        add: bool,
        weight: u32,
    ) {
        let name = queue.as_ref().map(|(_, n)| &n[..]);
        if link.leaf {
            self.routes
                .leaf_interest(&self.auth, link, key, name, add, weight);
        }
        self.tell_routes_and_leaves(holder, key, name, add, weight);
    }

    /// What this core's routes hear of a hub-side leaf's interest, and its
    /// leaves of a route's (the leaves' own interest among themselves is
    /// `leaf_interest`'s, on the leaf core).
    fn tell_routes_and_leaves(
        &self,
        holder: Holder,
        key: &[u8],
        name: Option<&[u8]>,
        add: bool,
        weight: u32,
    ) {
        match holder {
            Holder::Client | Holder::Leaf { hub: false, .. } => {}
            Holder::Leaf { hub: true, origin } => {
                let o = self.origin_name(origin);
                self.routes
                    .hub_leaf_interest(&self.auth, key, name, (origin, &o), add, weight);
            }
            Holder::Route { origin } => self
                .routes
                .route_interest(&self.auth, key, name, origin, add, weight),
        }
    }

    /// Registers leaf `link` with this core's routes: it is told the
    /// account's client interest and the other leaves' (all on this core,
    /// the leaf core), then every change.
    pub fn register_leaf(&self, link: &Rc<Client>) {
        let mut leaves = Vec::new();
        for other in self.routes.links().iter().filter(|l| l.leaf) {
            let slots: Vec<u32> = other.subs.borrow().values().copied().collect();
            for slot in slots {
                let entry = self.registry.with_sub(slot, |s| {
                    (
                        s.subject.clone(),
                        s.queue.as_ref().map(|(_, n)| n.clone()),
                        s.weight.get(),
                    )
                });
                if let Some((key, queue, weight)) = entry {
                    leaves.push((key, queue, weight, other.clone()));
                }
            }
        }
        self.routes.add_leaf(&self.auth, link, leaves);
    }

    /// Applies a peer core's interest change: to the summary, and to what
    /// this core's routes and leaves are told (a client's to both, a
    /// hub-side leaf's to the routes, a route's to the leaves).
    pub fn apply_peer_interest(
        &self,
        src: u16,
        pattern: &[u8],
        queue: &Option<(QueueId, Bytes)>,
        add: bool,
        (holder, weight): (Holder, u32),
    ) {
        self.registry
            .apply_interest(src, pattern, queue, add, (holder.is_link(), weight));
        let name = queue.as_ref().map(|(_, n)| &n[..]);
        if holder == Holder::Client {
            let imports = self.routing.borrow().imports.clone();
            self.routes
                .client_interest(&self.auth, &imports, pattern, name, add);
        } else {
            self.tell_routes_and_leaves(holder, pattern, name, add, weight.max(1));
        }
    }

    /// A subscription of this core alone: its interest is not sent to the
    /// other cores (the server's own per-core services).
    pub fn subscribe_local(&self, client: &Rc<Client>, sid: Bytes, subject: Bytes) -> u32 {
        let (key, _) = self.registry.add(client, sid, subject, None);
        self.env.stats.subs_changed(1);
        key
    }

    /// Removes a subscription everywhere (registry, peers), traced as
    /// `<-> [DELSUB sid]` when `trace` (a closing connection traces its
    /// removals after its close line, as nats-server does).
    pub fn unsubscribe(&self, key: u32, trace: bool) {
        let Some(sub) = self.registry.remove(key) else {
            return;
        };
        if trace {
            crate::trace::delsub(&sub.client.log_prefix(), &sub.sid);
        }
        sub.client.needs_barrier.set(true);
        let route = sub.client.route;
        let holder = Holder::of(&sub.client, sub.origin.get());
        if route {
            self.tell_links(
                &sub.client,
                holder,
                &sub.subject,
                &sub.queue,
                false,
                sub.weight.get().max(1),
            );
        }
        if self.n > 1 {
            self.links.broadcast(|| Item::Interest {
                pattern: sub.subject.clone(),
                queue: sub.queue.clone(),
                add: false,
                holder,
                weight: sub.weight.get(),
            });
        }
        if route {
            return;
        }
        let name = sub.queue.as_ref().map(|(_, n)| &n[..]);
        let imports = self.routing.borrow().imports.clone();
        self.routes
            .client_interest(&self.auth, &imports, &sub.subject, name, false);
        self.env.stats.subs_changed(-1);
    }

    /// Removes every subscription of `client`, without tracing (its sids are
    /// returned, for a trace after the close line).
    pub fn unsubscribe_all(&self, client: &Client) -> Vec<Bytes> {
        let subs: Vec<(Bytes, u32)> = client
            .subs
            .borrow()
            .iter()
            .map(|(sid, &k)| (sid.clone(), k))
            .collect();
        for (_, k) in &subs {
            self.unsubscribe(*k, false);
        }
        subs.into_iter().map(|(sid, _)| sid).collect()
    }

    // ---- passes ----

    /// Ends a pass: outboxes into their rings, touched writers woken once.
    pub fn end_pass(&self) {
        self.links.flush(&self.env.stats);
        self.env.wake_touched();
    }

    /// The PING barrier (see `Links::barrier`); writers touched so far are
    /// woken first, so they do not wait for it.
    pub async fn barrier(&self) {
        self.env.wake_touched();
        self.links.barrier(&self.env.stats).await;
    }

    // ---- monitoring ----

    /// The closed-connection ring (`/connz?state=closed`).
    pub fn closed(&self) -> RefMut<'_, ClosedRing> {
        self.closed.borrow_mut()
    }
}
