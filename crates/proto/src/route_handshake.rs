//! The decisions of a route handshake, as nats-server makes them
//! (`processRouteConnect`, `processRouteInfo`; spec/cluster.md §2, §2.4),
//! apart from the connection that carries them: what to answer a peer's
//! CONNECT and INFO — accept, close with which `-ERR` and close reason, or
//! take the peer's cluster name when this server's was generated.
//!
//! Pure: the caller owns the connection and the cluster's state (its name,
//! whether it was generated, the peers already connected).

use crate::route_info::{PeerInfo, RouteConnect};

/// This server's side of the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local<'a> {
    pub server_id: &'a str,
    pub cluster: &'a str,
    /// The cluster name was generated (none configured): a peer's
    /// configured (or greater) name is taken instead.
    pub dynamic: bool,
    /// `cluster.authorization`'s user and password, if any.
    pub auth: Option<(&'a str, &'a str)>,
    /// The peer's certificate decided (`verify_and_map`,
    /// `verify_cert_and_check_known_urls`): whether it is admitted, in
    /// place of the user and password.
    pub cert_admitted: Option<bool>,
}

/// What to do with the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (take `adopt` as the cluster's name first, if any).
    Accept { adopt: Option<String> },
    /// Send `err` (when there is one, as `-ERR '<err>'`) and close with
    /// nats-server's reason.
    Close { err: Option<String>, reason: Reason },
}

/// Why a route connection was closed, in `/connz`'s words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    WrongPort,
    WrongGateway,
    AuthViolation,
    ClusterNameConflict,
    DuplicateRoute,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::WrongPort => "Incorrect Port",
            Reason::WrongGateway => "Wrong Gateway",
            Reason::AuthViolation => "Authentication Failure",
            Reason::ClusterNameConflict => "Cluster Name Conflict",
            Reason::DuplicateRoute => "Duplicate Route",
        }
    }
}

fn close(err: Option<String>, reason: Reason) -> Verdict {
    Verdict::Close { err, reason }
}

/// Whether to take the peer's cluster name: ours was generated, and theirs
/// was configured or sorts after ours.
fn adopt(local: &Local, theirs: &str, their_dynamic: bool) -> bool {
    local.dynamic && (!their_dynamic || local.cluster < theirs)
}

/// The acceptor's check of a peer's CONNECT (`lang`: a client on the route
/// port).
pub fn on_connect(local: &Local, c: &RouteConnect) -> Verdict {
    if !c.lang.is_empty() {
        return close(
            Some("attempted to connect to route port".into()),
            Reason::WrongPort,
        );
    }
    if !c.gateway.is_empty() {
        return close(
            Some(format!(
                "Rejecting connection from gateway {:?} on the Route port",
                c.gateway
            )),
            Reason::WrongGateway,
        );
    }
    if local.cert_admitted == Some(false) {
        return close(
            Some("Authorization Violation".into()),
            Reason::AuthViolation,
        );
    }
    if let (None, Some((user, pass))) = (local.cert_admitted, local.auth) {
        // The password in constant time, as nats-server's comparePasswords.
        if c.user != user || !same_secret(c.pass.as_bytes(), pass.as_bytes()) {
            return close(
                Some("Authorization Violation".into()),
                Reason::AuthViolation,
            );
        }
    }
    if c.cluster != local.cluster {
        if adopt(local, &c.cluster, c.cluster_dynamic) {
            return Verdict::Accept {
                adopt: Some(c.cluster.clone()),
            };
        }
        return close(
            Some(format!(
                "Rejecting connection, cluster name {:?} does not match {:?}",
                c.cluster, local.cluster
            )),
            Reason::ClusterNameConflict,
        );
    }
    Verdict::Accept { adopt: None }
}

/// Equal bytes, compared without stopping at the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Either side's check of the peer's (first) INFO. `connected` says whether
/// a route to that server already exists.
pub fn on_info(local: &Local, p: &PeerInfo, connected: bool) -> Verdict {
    if p.server_id == local.server_id {
        // A route to self: closed without a word.
        return close(None, Reason::DuplicateRoute);
    }
    if !p.cluster.is_empty() && p.cluster != local.cluster {
        if adopt(local, &p.cluster, p.cluster_dynamic) {
            return Verdict::Accept {
                adopt: Some(p.cluster.clone()),
            };
        }
        return close(None, Reason::ClusterNameConflict);
    }
    if connected {
        return close(None, Reason::DuplicateRoute);
    }
    Verdict::Accept { adopt: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Local = Local {
        server_id: "ME",
        cluster: "C1",
        dynamic: false,
        auth: None,
        cert_admitted: None,
    };

    fn connect(cluster: &str) -> RouteConnect {
        RouteConnect {
            name: "PEER".into(),
            cluster: cluster.into(),
            ..RouteConnect::default()
        }
    }

    #[test]
    fn connect_checks_in_nats_server_order() {
        assert_eq!(
            on_connect(&L, &connect("C1")),
            Verdict::Accept { adopt: None }
        );
        let mut client = connect("C1");
        client.lang = "go".into();
        assert_eq!(
            on_connect(&L, &client),
            close(
                Some("attempted to connect to route port".into()),
                Reason::WrongPort
            )
        );
        let mut gw = connect("C1");
        gw.gateway = "B".into();
        assert_eq!(
            on_connect(&L, &gw),
            close(
                Some("Rejecting connection from gateway \"B\" on the Route port".into()),
                Reason::WrongGateway
            )
        );
        assert_eq!(
            on_connect(&L, &connect("C2")),
            close(
                Some("Rejecting connection, cluster name \"C2\" does not match \"C1\"".into()),
                Reason::ClusterNameConflict
            )
        );
        let auth = Local {
            auth: Some(("ru", "rp")),
            ..L
        };
        assert!(matches!(
            on_connect(&auth, &connect("C1")),
            Verdict::Close {
                reason: Reason::AuthViolation,
                ..
            }
        ));
        let mut good = connect("C1");
        (good.user, good.pass) = ("ru".into(), "rp".into());
        assert_eq!(on_connect(&auth, &good), Verdict::Accept { adopt: None });
        // A certificate that decides replaces the password check.
        let by_cert = |admitted| Local {
            cert_admitted: Some(admitted),
            ..auth.clone()
        };
        assert_eq!(
            on_connect(&by_cert(true), &connect("C1")),
            Verdict::Accept { adopt: None }
        );
        assert!(matches!(
            on_connect(&by_cert(false), &good),
            Verdict::Close {
                reason: Reason::AuthViolation,
                ..
            }
        ));
    }

    #[test]
    fn a_generated_name_gives_way() {
        let dynamic = Local {
            cluster: "abc",
            dynamic: true,
            ..L
        };
        assert_eq!(
            on_connect(&dynamic, &connect("C1")),
            Verdict::Accept {
                adopt: Some("C1".into())
            }
        );
        let mut theirs_dynamic = connect("abb");
        theirs_dynamic.cluster_dynamic = true;
        assert!(
            matches!(on_connect(&dynamic, &theirs_dynamic), Verdict::Close { .. }),
            "ours sorts after"
        );
    }

    #[test]
    fn info_detects_self_duplicates_and_conflicts() {
        let p = |id: &str, cluster: &str| PeerInfo {
            server_id: id.into(),
            cluster: cluster.into(),
            ..PeerInfo::default()
        };
        assert_eq!(
            on_info(&L, &p("ME", "C1"), false),
            close(None, Reason::DuplicateRoute)
        );
        assert_eq!(
            on_info(&L, &p("P", "C1"), true),
            close(None, Reason::DuplicateRoute)
        );
        assert_eq!(
            on_info(&L, &p("P", "C2"), false),
            close(None, Reason::ClusterNameConflict)
        );
        assert_eq!(
            on_info(&L, &p("P", "C1"), false),
            Verdict::Accept { adopt: None }
        );
    }
}
