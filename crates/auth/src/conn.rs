//! One connection's use of its user's [`Rules`]: the cache of publish
//! decisions (hits allocate nothing), the reply subjects `allow_responses`
//! lets it answer, and the delivery-time deny filter its wildcard or queue
//! subscriptions may switch on.
//!
//! As nats-server 2.15 keeps them per client: at most 128 cached publish
//! decisions and 256 delivery decisions (33 dropped when full, as its prune
//! loop does); a denied
//! publish is not cached while reply permissions exist (a reply may become
//! allowed); reply permissions are pruned after 4,096 new ones or when a
//! second has passed since the last prune.
//!
//! Lives on the connection's core with the `Rules` it shares with the user's
//! other connections there. Must never: read a clock (callers pass `now`), or
//! allocate on a cache hit.

use std::cell::RefCell;
use std::hash::{BuildHasher, Hash, Hasher};
use std::rc::Rc;
use std::time::{Duration, Instant};

use ahash::{AHashMap, RandomState};

use crate::permissions::Rules;

const MAX_PUB_CACHE: usize = 128;
const MAX_DENY_CACHE: usize = 256;
const PRUNE: usize = 32;
const REPLY_PRUNE_AFTER: u32 = 4096;
const REPLY_PRUNE_EVERY: Duration = Duration::from_secs(1);

/// One cached decision: the (subject, queue) it is for, and the answer.
struct Decision {
    subject: Box<[u8]>,
    queue: Box<[u8]>,
    allowed: bool,
}

/// Decisions keyed by (subject, queue) through their hash; the key bytes are
/// kept to tell a collision from a hit, so a hit reads and allocates nothing.
struct DecisionCache {
    hasher: RandomState,
    map: AHashMap<u64, Decision>,
    max: usize,
}

impl DecisionCache {
    fn new(max: usize) -> DecisionCache {
        DecisionCache {
            hasher: RandomState::new(),
            map: AHashMap::new(),
            max,
        }
    }

    fn hash(&self, subject: &[u8], queue: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        subject.hash(&mut h);
        queue.hash(&mut h);
        h.finish()
    }

    fn get(&self, subject: &[u8], queue: &[u8]) -> Option<bool> {
        let d = self.map.get(&self.hash(subject, queue))?;
        (same(&d.subject, subject) && same(&d.queue, queue)).then_some(d.allowed)
    }

    fn put(&mut self, subject: &[u8], queue: &[u8], v: bool) {
        if self.map.len() >= self.max {
            let mut n = 0;
            self.map.retain(|_, _| {
                n += 1;
                n > PRUNE + 1
            });
        }
        let k = self.hash(subject, queue);
        self.map.insert(
            k,
            Decision {
                subject: subject.into(),
                queue: queue.into(),
                allowed: v,
            },
        );
    }
}

/// Byte equality without a call into libc's `memcmp` for short keys: on the
/// publish path the cached subject is compared once per message, and the
/// library call (measured: ~19 % of a core at 128 B pub/sub) costs more than
/// the bytes do.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x = 0u64;
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (p, q) in ca.zip(cb) {
        let p = u64::from_ne_bytes(p.try_into().expect("8 bytes"));
        let q = u64::from_ne_bytes(q.try_into().expect("8 bytes"));
        x |= p ^ q;
    }
    for (p, q) in ra.iter().zip(rb) {
        x |= u64::from(p ^ q);
    }
    x == 0
}

/// The last publish decision, kept inline: a publisher mostly repeats its
/// subject, and this answers it with one comparison, before the cache's hash
/// and probe (which cost ~8 % of a core at 128 B pub/sub). Holds only what
/// the cache would hold; subjects longer than its buffer skip it.
#[derive(Clone, Copy)]
struct LastDecision {
    len: usize,
    bytes: [u8; LAST_MAX],
    allowed: bool,
}

const LAST_MAX: usize = 64;

impl LastDecision {
    const EMPTY: LastDecision = LastDecision {
        len: usize::MAX,
        bytes: [0; LAST_MAX],
        allowed: false,
    };

    #[inline]
    fn get(&self, subject: &[u8]) -> Option<bool> {
        (self.len == subject.len() && same(&self.bytes[..self.len], subject))
            .then_some(self.allowed)
    }

    fn set(&mut self, subject: &[u8], allowed: bool) {
        if subject.len() <= LAST_MAX {
            self.bytes[..subject.len()].copy_from_slice(subject);
            self.len = subject.len();
            self.allowed = allowed;
        }
    }
}

/// A reply subject this connection received and may answer.
struct Reply {
    at: Instant,
    sent: i64,
}

/// See the module header.
pub struct ConnPermissions {
    rules: Rc<RefCell<Rules>>,
    last_pub: LastDecision,
    pub_cache: DecisionCache,
    replies: AHashMap<Box<[u8]>, Reply>,
    replies_since_prune: u32,
    last_prune: Instant,
    /// Set once a subscription can overlap a deny entry.
    filter: bool,
    deny_cache: DecisionCache,
    /// What the rules say once and for all (they do not change under a
    /// connection: a reload gives it new `ConnPermissions`), so that the
    /// per-message checks need no borrow of them: publishing is not
    /// restricted; the `allow_responses` rule.
    pub_unrestricted: bool,
    responses: Option<crate::ResponseRule>,
}

impl ConnPermissions {
    pub fn new(rules: Rc<RefCell<Rules>>, now: Instant) -> ConnPermissions {
        let (pub_unrestricted, responses) = {
            let r = rules.borrow();
            (r.publish_unrestricted(), r.responses())
        };
        ConnPermissions {
            pub_unrestricted,
            responses,
            rules,
            last_pub: LastDecision::EMPTY,
            pub_cache: DecisionCache::new(MAX_PUB_CACHE),
            replies: AHashMap::new(),
            replies_since_prune: 0,
            last_prune: now,
            filter: false,
            deny_cache: DecisionCache::new(MAX_DENY_CACHE),
        }
    }

    /// May this connection publish to `subject` (a PUB's or HPUB's subject)?
    /// The repeated-subject answer is inlined into the caller's publish path
    /// (the call itself was half of this check's cost); the rest is not.
    #[inline]
    pub fn may_publish(&mut self, subject: &[u8], now: Instant) -> bool {
        if self.pub_unrestricted {
            return true;
        }
        match self.last_pub.get(subject) {
            Some(v) => v,
            None => self.may_publish_uncached(subject, now),
        }
    }

    /// [`Self::may_publish`] for a subject other than the last one.
    #[inline(never)]
    fn may_publish_uncached(&mut self, subject: &[u8], now: Instant) -> bool {
        let mut rules = self.rules.borrow_mut();
        if let Some(v) = self.pub_cache.get(subject, b"") {
            self.last_pub.set(subject, v);
            return v;
        }
        let allowed = rules.publish_allowed(subject);
        let responses = rules.responses();
        drop(rules);
        match responses {
            Some(rule) if !allowed => self.answer(subject, now, rule.max_msgs, rule.expires),
            _ => {
                self.pub_cache.put(subject, b"", allowed);
                self.last_pub.set(subject, allowed);
                allowed
            }
        }
    }

    /// A reply permission used once more, or refused (spent or expired).
    fn answer(
        &mut self,
        subject: &[u8],
        now: Instant,
        max: i64,
        expires: Option<Duration>,
    ) -> bool {
        let Some(r) = self.replies.get_mut(subject) else {
            return false;
        };
        r.sent += 1;
        let spent = max > 0 && r.sent > max;
        let expired = expires.is_some_and(|e| now.saturating_duration_since(r.at) > e);
        if spent || expired {
            self.replies.remove(subject);
            return false;
        }
        true
    }

    /// A message with reply subject `reply` was delivered to this connection:
    /// with `allow_responses`, it may now publish there.
    pub fn delivered_reply(&mut self, reply: &[u8], now: Instant) {
        let Some(rule) = self.responses else {
            return;
        };
        if reply.is_empty() || self.may_publish(reply, now) {
            return;
        }
        self.replies
            .insert(reply.into(), Reply { at: now, sent: 0 });
        self.replies_since_prune += 1;
        if self.replies_since_prune > REPLY_PRUNE_AFTER
            || now.saturating_duration_since(self.last_prune) > REPLY_PRUNE_EVERY
        {
            self.replies.retain(|_, r| {
                let spent = rule.max_msgs > 0 && r.sent >= rule.max_msgs;
                let expired = rule
                    .expires
                    .is_some_and(|e| now.saturating_duration_since(r.at) > e);
                !(spent || expired)
            });
            self.replies_since_prune = 0;
            self.last_prune = now;
        }
    }

    /// How many publish decisions are cached (at most 128).
    pub fn publish_cache_len(&self) -> usize {
        self.pub_cache.map.len()
    }

    /// How many reply permissions are held (for tests and monitoring).
    pub fn replies_held(&self) -> usize {
        self.replies.len()
    }

    /// May this connection `SUB subject [queue]`? An allowed wildcard or queue
    /// subscription that could receive a denied subject switches the
    /// delivery filter on.
    pub fn may_subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut rules = self.rules.borrow_mut();
        if !rules.subscribe_allowed(subject, queue) {
            return false;
        }
        let has_queue = queue.is_some_and(|q| !q.is_empty());
        if !self.filter && rules.needs_delivery_filter(subject, has_queue) {
            self.filter = true;
        }
        true
    }

    /// Must a message on `subject`, matched by a subscription in `queue` (if
    /// any), be withheld from this connection?
    pub fn delivery_denied(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        if !self.filter {
            return false;
        }
        let q = queue.unwrap_or_default();
        if let Some(v) = self.deny_cache.get(subject, q) {
            return v;
        }
        let denied = self.rules.borrow_mut().delivery_denied(subject, queue);
        self.deny_cache.put(subject, q, denied);
        denied
    }
}
