//! shoal-auth: who may connect, and publish and subscribe to what. Today:
//! nats-server 2.15's permission rules (publish and subscribe allow/deny lists
//! with queue entries, the delivery-time deny filter, `allow_responses`),
//! compiled into subscription indexes and checked per connection with a
//! decision cache; password/token comparison (bcrypt or constant-time); and
//! the login decision for nkey users (the nonce's signature), a users list,
//! a single user, a token and `no_auth_user`. JWTs and accounts come next, here, so that each
//! check can be unit-tested and fuzzed without a socket.
//!
//! Not yet used by the server: a configuration with `authorization` or
//! `accounts` is still refused by name at start-up until the whole security
//! model is wired in.
//!
//! Must never: do I/O, read a clock (callers pass the time), or allocate on a
//! cache hit. Single-threaded by design (one `Rules` per user per core).

#![forbid(unsafe_code)]

mod conn;
pub mod jwt;
mod login;
pub mod nkey;
pub mod operator;
pub mod password;
mod permissions;
pub mod templates;
pub mod times;
mod tokens;
pub mod validate;

#[cfg(test)]
mod jwt_tests;
#[cfg(test)]
mod tests;

pub use conn::ConnPermissions;
pub use login::{AccountLimits, Credentials, Identity, Logins, Override, Plan, User};
pub use nkey::NkeyUser;
pub use operator::{JwtUser, Trust};
pub use permissions::{PermissionSpec, ResponseRule, Rules, SubjectRules};
pub use tokens::{
    has_wildcard, is_subset_match, queue_matches, split_subject_queue, subjects_collide, BadEntry,
};
