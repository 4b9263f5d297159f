//! The permission rules as nats-server 2.15 applies them (spec:
//! server-behaviour.md §5.3, "Checked against 2.15.1"), through the
//! per-connection API the server will call.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::{ConnPermissions, PermissionSpec, ResponseRule, Rules, SubjectRules};

fn list(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn rules(allow: Option<&[&str]>, deny: &[&str]) -> SubjectRules {
    SubjectRules {
        allow: allow.map(list),
        deny: list(deny),
    }
}

fn conn(spec: PermissionSpec) -> (ConnPermissions, Vec<String>, Instant) {
    let (r, problems) = Rules::compile(&spec.normalized());
    let now = Instant::now();
    (
        ConnPermissions::new(Rc::new(RefCell::new(r)), now),
        problems,
        now,
    )
}

fn publish(allow: Option<&[&str]>, deny: &[&str]) -> (ConnPermissions, Vec<String>, Instant) {
    conn(PermissionSpec {
        publish: Some(rules(allow, deny)),
        ..Default::default()
    })
}

fn subscribe(allow: Option<&[&str]>, deny: &[&str]) -> ConnPermissions {
    conn(PermissionSpec {
        subscribe: Some(rules(allow, deny)),
        ..Default::default()
    })
    .0
}

#[test]
fn no_permissions_allow_everything() {
    let (mut c, problems, now) = conn(PermissionSpec::default());
    assert!(problems.is_empty());
    assert!(c.may_publish(b"anything", now));
    assert!(c.may_subscribe(b">", None));
    assert!(!c.delivery_denied(b"x", None));
}

#[test]
fn publish_allow_then_deny_and_deny_wins() {
    let (mut c, _, now) = publish(Some(&["orders.>", "req.*"]), &["orders.secret"]);
    assert!(c.may_publish(b"orders.new", now));
    assert!(c.may_publish(b"orders.a.b", now));
    assert!(c.may_publish(b"req.x", now));
    assert!(!c.may_publish(b"req.x.y", now));
    assert!(!c.may_publish(b"orders.secret", now), "deny wins");
    assert!(!c.may_publish(b"other", now));
    // Cached decisions give the same answers.
    assert!(c.may_publish(b"orders.new", now));
    assert!(!c.may_publish(b"orders.secret", now));
}

#[test]
fn publish_deny_only() {
    let (mut c, _, now) = publish(None, &["secret.x"]);
    assert!(c.may_publish(b"anything", now));
    assert!(!c.may_publish(b"secret.x", now));
    // The literal subject is checked: a deny of secret.x does not stop
    // PUB secret.* or secret.> (different literal subjects).
    assert!(c.may_publish(b"secret.*", now));
    assert!(c.may_publish(b"secret.>", now));
}

/// (What `allow_responses` without a publish list compiles to; a configured
/// `allow: []` is `None`, see `SubjectRules::allow`.)
#[test]
fn an_empty_publish_allow_list_allows_nothing() {
    let (mut c, _, now) = publish(Some(&[]), &[]);
    assert!(!c.may_publish(b"foo", now));
}

#[test]
fn an_empty_subscribe_allow_list_is_no_list() {
    let mut c = subscribe(Some(&[]), &[]);
    assert!(c.may_subscribe(b"foo", None));
}

/// With a deny list only, nats-server 2.15 lets `PUB foo..bar` through
/// (checked, pedantic off); an allow list never matches an empty token.
#[test]
fn publish_with_an_empty_token_is_denied_by_an_allow_list() {
    let (mut c, _, now) = publish(Some(&[">"]), &[]);
    assert!(c.may_publish(b"foo.bar", now));
    assert!(!c.may_publish(b"foo..bar", now));
}

#[test]
fn bad_entries_are_skipped_and_reported_in_nats_server_words() {
    let (mut c, problems, now) = publish(Some(&["ok.>", "bad..subject"]), &["d v1", "a b c"]);
    assert_eq!(
        problems,
        [
            "invalid publish subject \"bad..subject\"",
            "queue qualifier is not valid for publish deny subject \"d v1\"",
            "invalid publish deny subject \"a b c\"",
        ]
    );
    assert!(c.may_publish(b"ok.1", now));
    let (r, problems) = Rules::compile(&PermissionSpec {
        subscribe: Some(rules(Some(&["x y z"]), &["..", "fine"])),
        ..Default::default()
    });
    drop(r);
    assert_eq!(
        problems,
        [
            "invalid subject-queue \"x y z\"",
            "invalid subject-queue \"..\""
        ]
    );
    // The deny's subject keeps its scope although its queue is meaningless.
    let (mut d, _, now) = publish(None, &["d v1"]);
    assert!(!d.may_publish(b"d", now));
    assert!(d.may_publish(b"e", now));
}

#[test]
fn subscribe_subjects_are_literals_against_the_allow_list() {
    let mut c = subscribe(Some(&["foo.*", "bar.>"]), &[]);
    assert!(c.may_subscribe(b"foo.x", None));
    assert!(c.may_subscribe(b"foo.*", None));
    assert!(
        c.may_subscribe(b"foo.>", None),
        "the allow's * matches the token >"
    );
    assert!(!c.may_subscribe(b"foo.x.y", None));
    assert!(!c.may_subscribe(b"foo.>.x", None));
    assert!(c.may_subscribe(b"bar.>", None));
    assert!(c.may_subscribe(b"bar.a.*", None));
    assert!(!c.may_subscribe(b"*.x", None), "* is not a subset of foo");
    assert!(!c.may_subscribe(b">", None));
    let mut exact = subscribe(Some(&["foo.bar"]), &[]);
    assert!(!exact.may_subscribe(b"foo.*", None));
}

#[test]
fn queue_entries_restrict_queue_subscriptions() {
    // allow "foo": plain and any queue.
    let mut c = subscribe(Some(&["foo"]), &[]);
    assert!(c.may_subscribe(b"foo", None));
    assert!(c.may_subscribe(b"foo", Some(b"any")));
    // allow "foo v1": only queue v1, no plain subscription.
    let mut c = subscribe(Some(&["foo v1"]), &[]);
    assert!(!c.may_subscribe(b"foo", None));
    assert!(c.may_subscribe(b"foo", Some(b"v1")));
    assert!(!c.may_subscribe(b"foo", Some(b"v2")));
    // Queue names match by whole tokens.
    let mut c = subscribe(Some(&["foo g.*"]), &[]);
    assert!(c.may_subscribe(b"foo", Some(b"g.1")));
    assert!(!c.may_subscribe(b"foo", Some(b"g")));
    assert!(!c.may_subscribe(b"foo", Some(b"g.1.2")));
    let mut c = subscribe(Some(&["foo g*"]), &[]);
    assert!(!c.may_subscribe(b"foo", Some(b"g1")), "g* is a literal");
    assert!(c.may_subscribe(b"foo", Some(b"g*")));
    // deny "foo v1": refuses only queue v1.
    let mut c = subscribe(None, &["foo v1"]);
    assert!(c.may_subscribe(b"foo", None));
    assert!(c.may_subscribe(b"foo", Some(b"v2")));
    assert!(!c.may_subscribe(b"foo", Some(b"v1")));
    // An empty queue name is no queue.
    assert!(c.may_subscribe(b"foo", Some(b"")));
}

#[test]
fn subscribe_deny_wins() {
    let mut c = subscribe(Some(&["updates.*"]), &["updates.hidden"]);
    assert!(c.may_subscribe(b"updates.x", None));
    assert!(!c.may_subscribe(b"updates.hidden", None));
    assert!(
        c.may_subscribe(b"updates.*", None),
        "a wildcard over a denied subject is allowed"
    );
}

#[test]
fn wildcard_subscriptions_never_receive_denied_subjects() {
    let mut c = subscribe(None, &["updates.hidden"]);
    assert!(
        !c.delivery_denied(b"updates.hidden", None),
        "no filter before a colliding SUB"
    );
    assert!(c.may_subscribe(b"updates.x", None));
    assert!(
        !c.delivery_denied(b"updates.hidden", None),
        "a literal SUB does not switch it on"
    );
    assert!(c.may_subscribe(b"other.*", None));
    assert!(
        !c.delivery_denied(b"updates.hidden", None),
        "nor one that cannot collide"
    );
    assert!(c.may_subscribe(b"updates.*", None));
    assert!(c.delivery_denied(b"updates.hidden", None));
    assert!(c.delivery_denied(b"updates.hidden", None), "cached");
    assert!(!c.delivery_denied(b"updates.shown", None));
}

#[test]
fn queue_subscriptions_switch_the_filter_on_for_queue_denies() {
    let mut c = subscribe(None, &["work v1"]);
    assert!(c.may_subscribe(b"work", Some(b"v2")));
    assert!(!c.delivery_denied(b"work", Some(b"v2")));
    assert!(c.delivery_denied(b"work", Some(b"v1")));
    assert!(!c.delivery_denied(b"work", None));
}

fn responder(max_msgs: i64, expires: Option<Duration>) -> (ConnPermissions, Instant) {
    let (c, _, now) = conn(PermissionSpec {
        responses: Some(ResponseRule { max_msgs, expires }),
        ..Default::default()
    });
    (c, now)
}

#[test]
fn allow_responses_alone_denies_publishing_except_replies() {
    let (mut c, now) = responder(1, Some(Duration::from_secs(120)));
    assert!(!c.may_publish(b"anything", now));
    c.delivered_reply(b"_INBOX.abc", now);
    assert!(c.may_publish(b"_INBOX.abc", now), "one response");
    assert!(!c.may_publish(b"_INBOX.abc", now), "max 1 (the default)");
    assert!(!c.may_publish(b"_INBOX.other", now));
}

#[test]
fn responses_up_to_max_within_expires() {
    let (mut c, now) = responder(3, Some(Duration::from_secs(60)));
    c.delivered_reply(b"r.1", now);
    for _ in 0..3 {
        assert!(c.may_publish(b"r.1", now));
    }
    assert!(!c.may_publish(b"r.1", now));
    c.delivered_reply(b"r.2", now);
    assert!(
        !c.may_publish(b"r.2", now + Duration::from_secs(61)),
        "expired"
    );
    let (mut c, now) = responder(-1, None);
    c.delivered_reply(b"r.3", now);
    for i in 0..100 {
        assert!(
            c.may_publish(b"r.3", now + Duration::from_secs(3600 * i)),
            "unlimited"
        );
    }
}

#[test]
fn an_explicit_publish_allow_list_stays_with_responses() {
    let (mut c, _, now) = conn(PermissionSpec {
        publish: Some(rules(Some(&["svc.>"]), &[])),
        responses: Some(ResponseRule::default()),
        ..Default::default()
    });
    assert!(c.may_publish(b"svc.status", now));
    assert!(!c.may_publish(b"other", now));
    c.delivered_reply(b"svc.reply", now);
    assert_eq!(c.replies_held(), 0, "already allowed: nothing to track");
}

#[test]
fn reply_permissions_are_pruned() {
    let (mut c, now) = responder(1, Some(Duration::from_millis(500)));
    for i in 0..100 {
        c.delivered_reply(format!("r.{i}").as_bytes(), now);
    }
    assert_eq!(c.replies_held(), 100);
    // More than a second later the next one prunes the expired.
    c.delivered_reply(b"r.new", now + Duration::from_secs(2));
    assert_eq!(c.replies_held(), 1);
}

#[test]
fn the_publish_cache_stays_bounded_and_right() {
    let (mut c, _, now) = publish(Some(&["ok.*"]), &[]);
    for i in 0..10_000 {
        let s = format!("ok.{i}");
        assert!(c.may_publish(s.as_bytes(), now));
        let s = format!("no.{i}");
        assert!(!c.may_publish(s.as_bytes(), now));
        assert!(c.publish_cache_len() <= 128);
    }
}
