//! A core's clock, every 100 ms: the stop flag, configuration reloads (the
//! reloadable limits become live on this core; a lowered `max_connections`
//! closes this core's share of the excess; every login is checked again,
//! see `reauth.rs`), lame duck mode (stop
//! accepting, tell protocol-1 clients with INFO `ldm:true`, wait the grace
//! period, then close this core's clients one at a time, spread so the whole
//! server finishes within `lame_duck_duration`), auth timeouts, keepalive PINGs
//! and stale connections, and giving idle connections' output buffers back.
//!
//! Only the owning core touches its clients; the cross-thread signals are the
//! `Shared` atomics and the reloaded configuration behind its mutex, read once
//! per tick. The tick is also a periodic wake-up, so a missed glommio wake-up
//! cannot stall the core for long.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::client::CloseReason;
use crate::config::Live;
use crate::core::Core;
use crate::info::{info_line, InfoKind};
use crate::rt;

/// How often the ticker runs.
pub const TICK: Duration = Duration::from_millis(100);

/// Runs until the core is stopping and has no clients left.
pub async fn run(core: Rc<Core>) {
    loop {
        rt::sleep(TICK).await;
        let life = core.life();
        if core.id() == 0 && core.shared().shutdown_asked.load(Ordering::Acquire) {
            announce_shutdown(&core);
        }
        if core.shared().stop.load(Ordering::Relaxed) && !life.stopping.get() {
            life.stopping.set(true);
            life.stop_ev.notify();
        }
        let now = Instant::now();
        apply_reload(&core);
        lame_duck_step(&core, now);
        check_clients(&core, now);
        core.end_pass();
        if life.stopping.get() && core.client_count() == 0 {
            return;
        }
    }
}

/// Core 0, once: the stop is announced in the system account, and told
/// done when that event has reached every core (the barrier: what was
/// published before it is in every core's queues, the routes' too).
fn announce_shutdown(core: &Rc<Core>) {
    let life = core.life();
    if life.shutdown_announced.replace(true) {
        return;
    }
    crate::events::server_going(core, true);
    core.end_pass();
    let core = core.clone();
    rt::spawn(async move {
        core.barrier().await;
        core.shared().shutdown_told.store(true, Ordering::Release);
    });
}

/// Applies a reload if the server has one this core has not seen.
fn apply_reload(core: &Rc<Core>) {
    let shared = core.shared();
    let gen = shared.reload_gen.load(Ordering::Acquire);
    let life = core.life();
    if gen == life.seen_reload.get() {
        return;
    }
    life.seen_reload.set(gen);
    if let Some(c) = shared
        .reloaded
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        core.env().live.set(Live::from(c));
        core.auth().replace(c);
        core.set_tls(c.tls.clone());
        core.replace_routing(c);
        crate::user_info::subscribe_all(core, core.user_info_accounts());
        crate::sys_relay::subscribe_accounts(core);
        // As nats-server, every reload checks the connections' logins again.
        crate::reauth::after_reload(core);
    }
    close_over_max_connections(core);
    shared.reload_applied.fetch_add(1, Ordering::SeqCst);
}

/// After a reload lowered `max_connections`: takes as many of the closes still
/// owed as this core has connections, and closes that many of its own, as
/// nats-server's reload does (`-ERR 'maximum connections exceeded'`, closed
/// as `Maximum Connections Exceeded`).
fn close_over_max_connections(core: &Core) {
    let shared = core.shared();
    let mine = core.client_list();
    let Ok(owed) = shared
        .reload_excess
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |e| {
            (e > 0).then(|| e.saturating_sub(mine.len()))
        })
    else {
        return;
    };
    let take = owed.min(mine.len());
    for c in mine.iter().take(take) {
        c.send_err(shoal_proto::encode::ERR_MAX_CONNECTIONS);
        crate::reader::log_max_connections(c);
        c.close_after_flush(CloseReason::MaxConnections);
    }
    core.end_pass();
    shared.reload_closed.fetch_add(take, Ordering::SeqCst);
}

/// One lame-duck step.
fn lame_duck_step(core: &Core, now: Instant) {
    let shared = core.shared();
    if !shared.lame_duck.load(Ordering::Acquire) {
        return;
    }
    let life = core.life();
    let cfg = core.cfg();
    let Some(from) = life.closing_from.get() else {
        // Entering: the accept loop stops on this event; tell the clients
        // (and, from core 0, the system account).
        life.closing_from
            .set(Some(now + cfg.lame_duck_grace_period));
        life.stop_ev.notify();
        if core.id() == 0 {
            crate::events::server_going(core, false);
        }
        for c in core.client_list() {
            if c.sent_connect_info.get() && c.opts.get().protocol >= 1 {
                let line = info_line(core, &c, InfoKind::LameDuck);
                c.send(&line);
            }
        }
        return;
    };
    if now < from || life.next_close.get().is_some_and(|t| now < t) {
        return;
    }
    if let Some(c) = core.any_client() {
        c.close_after_flush(CloseReason::ServerShutdown);
        // Pause: what is left of the duration over every client still connected
        // server-wide, capped at 1 s, randomised to 50–100 % (nats-server's rule).
        let total = shared.connections.load(Ordering::Relaxed).max(1) as u32;
        let left = (from
            + cfg
                .lame_duck_duration
                .saturating_sub(cfg.lame_duck_grace_period))
        .saturating_duration_since(now);
        let pause = (left / total).min(Duration::from_secs(1));
        let pause = pause.mul_f64(0.5 + core.rand(500) as f64 / 1000.0);
        life.next_close.set(Some(now + pause));
    }
}

/// Keepalive PINGs, stale connections, and idle output buffers.
fn check_clients(core: &Core, now: Instant) {
    core.replies().expire(now);
    let live = core.live();
    for c in core.client_list() {
        let interval = core.ping_interval_of(&c);
        c.out.borrow_mut().release_if_idle();
        if c.auth_deadline.get().is_some_and(|t| now >= t) && c.is_open() {
            crate::auth::timed_out(&c);
            continue;
        }
        if let Some((at, why)) = c.expires.get() {
            if now >= at && c.is_open() {
                crate::auth::expired(&c, why);
                continue;
            }
        }
        let p = &c.ping;
        if now < p.next_at.get() || !c.is_open() {
            continue;
        }
        p.next_at.set(now + interval);
        log::debug!("{} - Client Ping Timer", c.log_prefix());
        let since = now.duration_since(p.last_activity.get());
        if p.rtt_known.get() && since < interval {
            log::debug!(
                "{} - Delaying PING due to remote client data or ping {} ago",
                c.log_prefix(),
                shoal_go::duration(shoal_go::round(since, Duration::from_secs(1)))
            );
            continue;
        }
        if p.outstanding.get() + 1 > live.ping_max {
            c.send(shoal_proto::encode::ERR_STALE_CONNECTION);
            core.env().stats.stale();
            log::debug!("{} - Stale Client Connection - Closing", c.log_prefix());
            c.close_after_flush(CloseReason::StaleConnection);
            continue;
        }
        p.outstanding.set(p.outstanding.get() + 1);
        p.last_sent.set(now);
        if crate::trace::on() {
            crate::trace::outbound(&c.log_prefix(), "PING");
        }
        c.send(shoal_proto::encode::PING);
    }
}
