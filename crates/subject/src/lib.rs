//! shoal-subject: subject validation, wildcard matching and the subscription
//! index (token trie + queue groups + match cache) that serves both a core's
//! local subscriptions and its interest summary of peer cores; and the
//! bookkeeping of interest told to and learned from cluster routes (`routes`).
//!
//! Owns: the subject rules of protocol.md §1.2 and the matching/fan-out grouping
//! of §4.1 (which entries match, and in which order: nats-server's sublist
//! order, visible on the wire when one message matches several subscriptions of
//! one connection; not which group member is picked).
//!
//! Must never: do I/O, depend on the runtime, or panic on user input. All types
//! are single-threaded (`Rc`), one per core, by design: no locks on the hot path.

#![forbid(unsafe_code)]

mod cache;
mod index;
mod matches;
mod ordered;
pub mod routes;
mod transform;
mod trie;
mod validate;

#[cfg(test)]
mod prop_tests;

pub use index::{Found, Index, IndexStats, DEFAULT_CACHE_CAPACITY};
pub use matches::{Group, Match, MatchScratch};
pub use transform::{Transform, TransformError};
pub use validate::{
    is_valid_publish_subject, is_valid_subscribe_subject, subject_matches, subjects_collide, tokens,
};
