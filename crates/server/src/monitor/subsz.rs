//! `/subsz` (alias `/subscriptionsz`): the subscription index statistics summed
//! over the cores' local indexes (the peers' interest summaries are routing
//! state, not subscriptions), and with `subs=1` the subscriptions themselves,
//! optionally only those a publish on `test` would reach.

use serde::Serialize;
use shoal_subject::{is_valid_publish_subject, subject_matches, IndexStats};

use super::connz::{SubDetail, DEFAULT_LIST_SIZE};
use super::format::{go_float, to_json};
use super::query::{decode_bool, decode_int, BadParam, Target};
use super::{Ctx, Reply, GLOBAL_ACCOUNT};
use crate::records::{CoreSnapshot, Request};

/// nats-server's `SublistStats`, inlined in `/subsz` and `/accountz`.
#[derive(Serialize)]
pub(super) struct SublistStats {
    num_subscriptions: u64,
    num_cache: u64,
    num_inserts: u64,
    num_removes: u64,
    num_matches: u64,
    #[serde(serialize_with = "go_float")]
    cache_hit_rate: f64,
    max_fanout: u64,
    #[serde(serialize_with = "go_float")]
    avg_fanout: f64,
}

impl SublistStats {
    /// One account's share of an index that holds every account: its
    /// subscription count (the cache figures are the index's, not its own).
    pub(super) fn counting(subscriptions: u64) -> SublistStats {
        SublistStats {
            num_subscriptions: subscriptions,
            num_cache: 0,
            num_inserts: 0,
            num_removes: 0,
            num_matches: 0,
            cache_hit_rate: 0.0,
            max_fanout: 0,
            avg_fanout: 0.0,
        }
    }

    /// The cores' index statistics combined as nats-server combines accounts'.
    pub(super) fn of(snaps: &[CoreSnapshot]) -> SublistStats {
        let mut t = IndexStats::default();
        for s in snaps {
            let i = &s.index;
            t.entries += i.entries;
            t.cached += i.cached;
            t.inserts += i.inserts;
            t.removes += i.removes;
            t.matches += i.matches;
            t.cache_hits += i.cache_hits;
            t.max_fanout = t.max_fanout.max(i.max_fanout);
            t.total_fanout += i.total_fanout;
        }
        SublistStats {
            num_subscriptions: t.entries as u64,
            num_cache: t.cached as u64,
            num_inserts: t.inserts,
            num_removes: t.removes,
            num_matches: t.matches,
            cache_hit_rate: if t.matches > 0 {
                t.cache_hits as f64 / t.matches as f64
            } else {
                0.0
            },
            max_fanout: t.max_fanout as u64,
            avg_fanout: if t.total_fanout > 0 {
                t.total_fanout as f64 / t.cached as f64
            } else {
                0.0
            },
        }
    }

    fn zero() -> SublistStats {
        SublistStats::of(&[])
    }
}

#[derive(Serialize)]
struct Subsz<'a> {
    server_id: &'a str,
    now: String,
    #[serde(flatten)]
    stats: SublistStats,
    total: usize,
    offset: i64,
    limit: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    subscriptions_list: Vec<SubDetail<'a>>,
}

struct Params {
    subs: bool,
    offset: i64,
    limit: i64,
}

fn decode(t: &Target) -> Result<Params, BadParam> {
    Ok(Params {
        subs: decode_bool(t, "subs")?,
        offset: decode_int(t, "offset")?,
        limit: decode_int(t, "limit")?,
    })
}

/// Answers (nats-server counts the request before decoding its parameters).
pub async fn page(ctx: &Ctx<'_>, t: &Target) -> Reply {
    let p = match decode(t) {
        Ok(p) => p,
        Err(e) => return Reply::BadRequest(e),
    };
    let offset = p.offset.max(0);
    let limit = if p.limit <= 0 {
        DEFAULT_LIST_SIZE
    } else {
        p.limit
    };
    let test = t.get("test");
    if !test.is_empty() && !is_valid_publish_subject(test.as_bytes()) {
        return Reply::BadRequest(format!(
            "invalid test subject, must be valid publish subject: {test}"
        ));
    }
    let acc = t.get("acc");
    let other_account = !acc.is_empty() && acc != GLOBAL_ACCOUNT;
    let snaps = if other_account {
        Vec::new()
    } else {
        ctx.gather(Request {
            all_subs: p.subs,
            ..Request::default()
        })
        .await
    };
    let stats = if other_account {
        SublistStats::zero()
    } else {
        SublistStats::of(&snaps)
    };
    let mut total = 0;
    let mut list = Vec::new();
    if p.subs {
        let matching: Vec<_> = snaps
            .iter()
            .flat_map(|s| &s.subs)
            .filter(|s| test.is_empty() || subject_matches(s.subject.as_bytes(), test.as_bytes()))
            .collect();
        total = matching.len();
        let from = (offset as usize).min(total);
        let to = (offset.saturating_add(limit) as usize).min(total);
        list = matching[from..to]
            .iter()
            .map(|s| SubDetail::of(s, true))
            .collect();
    }
    let subsz = Subsz {
        server_id: &ctx.shared.server_id,
        now: ctx.now(),
        stats,
        total,
        offset,
        limit,
        subscriptions_list: list,
    };
    Reply::Json(to_json(&subsz, true))
}
