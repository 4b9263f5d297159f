//! A core's reaction to the server's life events, driven from its ticker: a config
//! reload (the reloadable limits become live on this core) and lame duck mode
//! (stop accepting, tell protocol-1 clients with INFO `ldm:true`, wait the grace
//! period, then close this core's clients one at a time, spread so the whole
//! server finishes within `lame_duck_duration`).
//!
//! Only the owning core touches its clients; the cross-thread signals are the
//! `Shared` atomics and the reloaded config behind its mutex, read once per tick.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::client::{Client, CloseReason};
use crate::config::Config;
use crate::core::Core;

/// The limits a reload may change, copied into each core (`Cell`, no locks on the
/// paths that read them).
#[derive(Clone, Copy, Debug)]
pub struct Live {
    pub max_payload: usize,
    pub max_control_line: usize,
    pub max_connections: usize,
    pub ping_interval: Duration,
    pub ping_max: u32,
    pub write_deadline: Duration,
}

impl Live {
    pub fn from(c: &Config) -> Live {
        Live {
            max_payload: c.max_payload,
            max_control_line: c.max_control_line,
            max_connections: c.max_connections,
            ping_interval: c.ping_interval,
            ping_max: c.ping_max,
            write_deadline: c.write_deadline,
        }
    }
}

/// Lame duck progress on one core.
#[derive(Default)]
pub struct LameDuck {
    /// When the grace period ends (set on entering).
    pub closing_from: Cell<Option<Instant>>,
    /// When the next client may be closed.
    pub next_close: Cell<Option<Instant>>,
}

impl Core {
    /// Applies a reload if the server has one this core has not seen.
    pub fn apply_reload(&self) {
        let gen = self.shared.reload_gen.load(Ordering::Acquire);
        if gen == self.seen_reload.get() {
            return;
        }
        self.seen_reload.set(gen);
        if let Some(c) = self.shared.reloaded.lock().unwrap().as_ref() {
            self.live.set(Live::from(c));
        }
    }

    /// One lame-duck step; returns true while lame duck mode is on for this core.
    pub fn lame_duck_step(&self, now: Instant) -> bool {
        if !self.shared.lame_duck.load(Ordering::Acquire) {
            return false;
        }
        let ld = &self.lame;
        let cfg = &self.cfg;
        let Some(from) = ld.closing_from.get() else {
            // Entering: the accept loop stops on this event; tell the clients.
            ld.closing_from.set(Some(now + cfg.lame_duck_grace_period));
            self.stop_ev.notify();
            let clients: Vec<Rc<Client>> = self.clients.borrow().values().cloned().collect();
            for c in clients {
                if c.sent_connect_info.get() && c.opts.get().protocol >= 1 {
                    let line = crate::reader::info_line(
                        self,
                        c.cid,
                        &c.peer.ip().to_string(),
                        crate::reader::InfoKind::LameDuck,
                    );
                    c.send(&line);
                }
            }
            return true;
        };
        if now < from {
            return true;
        }
        if ld.next_close.get().is_some_and(|t| now < t) {
            return true;
        }
        let next = self.clients.borrow().values().next().cloned();
        if let Some(c) = next {
            c.close_after_flush(CloseReason::ServerShutdown);
            // Pause: what is left of the duration over every client still connected
            // server-wide, capped at 1 s, randomised to 50–100 % (nats-server's rule).
            let total = self.shared.connections.load(Ordering::Relaxed).max(1) as u32;
            let left = (from
                + cfg
                    .lame_duck_duration
                    .saturating_sub(cfg.lame_duck_grace_period))
            .saturating_duration_since(now);
            let pause = (left / total).min(Duration::from_secs(1));
            let pause = pause.mul_f64(0.5 + self.rand(500) as f64 / 1000.0);
            ld.next_close.set(Some(now + pause));
        }
        true
    }
}
