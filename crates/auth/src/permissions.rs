//! A user's permissions as written in the configuration ([`PermissionSpec`])
//! and compiled for checking ([`Rules`]): publish and subscribe allow/deny
//! lists held in subscription indexes, the deny entries kept for the
//! delivery-time filter, and the response permission.
//!
//! The semantics are nats-server 2.15's for client connections
//! (`setPermissions`, `pubAllowedFullCheck`, `canSubscribeInternal`,
//! `checkDenySub`; their `$MQTT.` and leaf-node branches are not here):
//! * Publish: the subject is matched *as a literal* against the allow list
//!   (no allow list: everything; an empty one: nothing), then
//!   the deny list; deny wins. `PUB secret.*` is not stopped by a deny of
//!   `secret.x` (it is a different literal subject).
//! * Subscribe: the SUB subject, wildcards and all, is matched as a literal
//!   against the allow list — an allow of `foo.*` admits `SUB foo.*` and also
//!   `SUB foo.>` (its `*` matches the token `>`), not `SUB foo.bar.>` — then
//!   the deny list. Entries `"<subject> <queue>"` restrict queue subscriptions: an
//!   allow `foo v1` admits only queue `v1` (not plain `SUB foo`); a deny `foo
//!   v1` refuses only queue `v1`. Here (unlike publish) an empty allow list
//!   means no allow list.
//! * Bad entries are skipped and reported in nats-server's words (it logs
//!   them when the connection's permissions are set).
//!
//! A `Rules` lives on one core (the indexes are single-threaded); the
//! per-connection state that uses it (decision cache, reply permissions, the
//! delivery filter) is [`crate::ConnPermissions`].
//!
//! Must never: do I/O or read a clock (callers pass the time).

use std::time::Duration;

use shoal_subject::{is_valid_subscribe_subject, Index, Match, MatchScratch};

use crate::tokens::{queue_matches, split_subject_queue, subjects_collide};

/// Go's `%q`.
fn q(s: &str) -> String {
    shoal_go::quote(s.as_bytes())
}

/// One direction's lists as configured: `publish: "x"`, `publish: [..]` and
/// `publish: { allow: .., deny: .. }` all end up here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectRules {
    /// `None`: no allow list. `Some(empty)` allows nothing, which only
    /// `allow_responses` without a publish list produces: a configured
    /// `allow: []` is no list in nats-server 2.15 (checked: `publish: {allow:
    /// []}` publishes anywhere), so the configuration maps it to `None`.
    pub allow: Option<Vec<String>>,
    pub deny: Vec<String>,
}

/// `allow_responses`: after receiving a message with a reply subject, the
/// user may publish to that subject `max_msgs` times (negative: unlimited)
/// within `expires` (`None`: no expiry; `Some(0)` expires at once — the
/// configuration maps a 0 to the defaults, as nats-server does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRule {
    pub max_msgs: i64,
    pub expires: Option<Duration>,
}

impl Default for ResponseRule {
    /// nats-server's defaults: one response within two minutes.
    fn default() -> Self {
        ResponseRule {
            max_msgs: 1,
            expires: Some(Duration::from_secs(120)),
        }
    }
}

/// A user's (or `default_permissions`') permissions as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSpec {
    pub publish: Option<SubjectRules>,
    pub subscribe: Option<SubjectRules>,
    pub responses: Option<ResponseRule>,
}

impl PermissionSpec {
    /// What nats-server makes of a spec when it loads it: with
    /// `allow_responses` on and no publish allow list, the allow list is empty
    /// (publishing is allowed only to reply subjects).
    pub fn normalized(mut self) -> PermissionSpec {
        if self.responses.is_some() {
            let p = self.publish.get_or_insert_with(SubjectRules::default);
            p.allow.get_or_insert_with(Vec::new);
        }
        self
    }
}

/// A list compiled into an index; `()` keys, the queue part of an entry is the
/// index's queue group.
struct List {
    index: Index<u32>,
}

impl List {
    fn new() -> List {
        // Decisions are cached per connection; the index's own cache would
        // only duplicate that.
        List {
            index: Index::with_cache_capacity(0),
        }
    }

    fn insert(&mut self, subject: &str, queue: Option<&str>) {
        let n = self.index.len() as u32;
        self.index
            .insert(subject.as_bytes(), queue.map(str::as_bytes), n);
    }
}

/// Compiled permissions (see the module header for the rules).
pub struct Rules {
    pub_allow: Option<List>,
    pub_deny: Option<List>,
    sub_allow: Option<List>,
    sub_deny: Option<List>,
    /// The subscribe deny entries, for deciding whether a subscription needs
    /// the delivery-time filter.
    deny_entries: Vec<String>,
    responses: Option<ResponseRule>,
    scratch: MatchScratch<u32>,
}

impl Rules {
    /// Compiles `spec`; entries nats-server would refuse are skipped, each
    /// with its error line.
    pub fn compile(spec: &PermissionSpec) -> (Rules, Vec<String>) {
        let mut problems = Vec::new();
        let mut r = Rules {
            pub_allow: None,
            pub_deny: None,
            sub_allow: None,
            sub_deny: None,
            deny_entries: Vec::new(),
            responses: spec.responses,
            scratch: MatchScratch::new(),
        };
        if let Some(p) = &spec.publish {
            if let Some(allow) = &p.allow {
                let mut l = List::new();
                for s in allow {
                    if is_valid_subscribe_subject(s.as_bytes()) {
                        l.insert(s, None);
                    } else {
                        problems.push(format!("invalid publish subject {}", q(s)));
                    }
                }
                r.pub_allow = Some(l);
            }
            if !p.deny.is_empty() {
                let mut l = List::new();
                for s in &p.deny {
                    if is_valid_subscribe_subject(s.as_bytes()) {
                        l.insert(s, None);
                    } else {
                        match split_subject_queue(s) {
                            // A queue means nothing to publish: keep the
                            // subject's scope, as nats-server does.
                            Ok((subject, _)) => {
                                problems.push(format!(
                                    "queue qualifier is not valid for publish deny subject {}",
                                    q(s)
                                ));
                                l.insert(subject, None);
                            }
                            Err(_) => {
                                problems.push(format!("invalid publish deny subject {}", q(s)))
                            }
                        }
                    }
                }
                r.pub_deny = Some(l);
            }
        }
        if let Some(sp) = &spec.subscribe {
            if let Some(allow) = sp.allow.as_ref().filter(|a| !a.is_empty()) {
                let mut l = List::new();
                for s in allow {
                    match split_subject_queue(s) {
                        Ok((subject, queue)) => l.insert(subject, queue),
                        Err(e) => problems.push(e.0),
                    }
                }
                r.sub_allow = Some(l);
            }
            if !sp.deny.is_empty() {
                let mut l = List::new();
                for s in &sp.deny {
                    match split_subject_queue(s) {
                        Ok((subject, queue)) => {
                            l.insert(subject, queue);
                            r.deny_entries.push(subject.to_owned());
                        }
                        Err(e) => problems.push(e.0),
                    }
                }
                r.sub_deny = Some(l);
            }
        }
        (r, problems)
    }

    /// True when nothing restricts publishing (no lists at all).
    pub fn publish_unrestricted(&self) -> bool {
        self.pub_allow.is_none() && self.pub_deny.is_none()
    }

    pub fn responses(&self) -> Option<ResponseRule> {
        self.responses
    }

    /// Runs `f` on what `subject` matches in `list` (built into the scratch:
    /// no allocation once the scratch has grown).
    fn with_match<R>(
        list: &mut List,
        scratch: &mut MatchScratch<u32>,
        subject: &[u8],
        f: impl FnOnce(&Match<u32>) -> R,
    ) -> R {
        f(&list.index.lookup(subject, scratch))
    }

    /// The static publish decision (before reply permissions).
    pub fn publish_allowed(&mut self, subject: &[u8]) -> bool {
        let mut allowed = true;
        if let Some(l) = &mut self.pub_allow {
            allowed = Self::with_match(l, &mut self.scratch, subject, |m| !m.plain.is_empty());
        }
        if allowed {
            if let Some(l) = &mut self.pub_deny {
                allowed = Self::with_match(l, &mut self.scratch, subject, |m| m.plain.is_empty());
            }
        }
        allowed
    }

    /// May this connection `SUB subject [queue]`?
    pub fn subscribe_allowed(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let queue = queue.filter(|q| !q.is_empty());
        let mut allowed = true;
        if let Some(l) = &mut self.sub_allow {
            allowed = Self::with_match(l, &mut self.scratch, subject, |m| match queue {
                Some(q) if !m.groups.is_empty() => queue_matches(q, names(m)),
                _ => !m.plain.is_empty(),
            });
        }
        if allowed {
            if let Some(l) = &mut self.sub_deny {
                allowed = Self::with_match(l, &mut self.scratch, subject, |m| match queue {
                    _ if !m.plain.is_empty() => false,
                    Some(q) if !m.groups.is_empty() => !queue_matches(q, names(m)),
                    _ => true,
                });
            }
        }
        allowed
    }

    /// Whether an allowed subscription can receive messages a deny entry
    /// covers, so deliveries to this connection must be filtered: a wildcard
    /// subscription (or a queue one) that collides with a deny entry.
    pub fn needs_delivery_filter(&self, subject: &[u8], has_queue: bool) -> bool {
        (has_queue || crate::tokens::has_wildcard(subject))
            && self
                .deny_entries
                .iter()
                .any(|d| subjects_collide(d.as_bytes(), subject))
    }

    /// The delivery-time check: is a message on `subject` (for a subscription
    /// in `queue`, if any) denied to this connection?
    pub fn delivery_denied(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let Some(l) = &mut self.sub_deny else {
            return false;
        };
        let queue = queue.filter(|q| !q.is_empty());
        Self::with_match(l, &mut self.scratch, subject, |m| match queue {
            _ if !m.plain.is_empty() => true,
            Some(q) if !m.groups.is_empty() => queue_matches(q, names(m)),
            _ => false,
        })
    }
}

/// The queue names of a match's groups.
fn names(m: &Match<u32>) -> impl Iterator<Item = &[u8]> {
    m.groups.iter().map(|g| &g.name[..])
}
