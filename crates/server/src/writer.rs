//! A connection's writer task: the only code that writes a client's socket.
//!
//! It sleeps until producers (this core's readers and ring drains) have queued
//! bytes and woken it — once per producer pass, never per message — then
//! writes everything queued with one `sendmsg` (the iovecs built on the stack
//! inside a synchronous call, so they are not part of the task's state). Only a
//! full socket makes it wait, holding a refcount on the oldest slice and
//! nothing else; a wait that makes no progress for `write_deadline` makes the
//! client a slow consumer. The producers never wait for any of this.
//!
//! On a TLS connection the pass hands the queue to the session instead
//! (`tls.rs`): one wake-up's messages become as few records as their size
//! allows, sent with one `sendmsg`.
//!
//! Core-local; never borrows the queue across an await.

use std::rc::Rc;

use crate::client::{Client, CloseReason};
use crate::outbound::OutState;
use crate::rt::{self, WriteHalf, WriteOutcome};

/// Runs until the connection is closed or dead; ends by shutting the socket
/// down, which also ends the reader.
pub async fn run_writer(client: Rc<Client>, mut w: WriteHalf) {
    let env = client.env();
    let tls = client.tls.borrow().is_some();
    let deadline_now = || {
        client
            .write_deadline
            .get()
            .unwrap_or(env.live.get().write_deadline)
    };
    let mut deadline = deadline_now();
    w.set_deadline(deadline);
    loop {
        let state = std::future::poll_fn(|cx| client.out.borrow_mut().poll_work(cx)).await;
        if state == OutState::Dead {
            break;
        }
        // A reload may have changed the deadline.
        if deadline_now() != deadline {
            deadline = deadline_now();
            w.set_deadline(deadline);
        }
        // A route may turn compression on after its handshake (on a TLS
        // route the session encrypts what the compressor makes).
        let s2 = crate::compress::on(&client);
        let ws = crate::ws::out::on(&client);
        let now = {
            let mut o = client.out.borrow_mut();
            o.take_kick();
            let records = (tls && crate::tls::wants_write(&client))
                || (s2 && crate::compress::wants_write(&client))
                || (ws && crate::ws::out::wants_write(&client));
            if o.pending() == 0 && !records {
                if o.state == OutState::Open {
                    // Kicked with nothing left to do.
                    continue;
                }
                // Closing and everything is flushed: a WebSocket client
                // is sent its close frame first.
                if ws && o.state == OutState::Closing && crate::ws::out::closing(&client) {
                    o.kick();
                    continue;
                }
                break;
            }
            o.seal();
            if tls {
                // The session takes the bytes off the queue as it seals them.
                crate::tls::send_now(&client, &mut o, &w).map(|(taken, blocked)| {
                    env.stats.out_bytes_written(taken);
                    (!blocked).then_some(0)
                })
            } else if s2 {
                crate::compress::send_now(&client, &mut o, &w).map(|(taken, blocked)| {
                    env.stats.out_bytes_written(taken);
                    (!blocked).then_some(0)
                })
            } else if ws {
                crate::ws::out::send_now(&client, &mut o, &w).map(|(taken, blocked)| {
                    env.stats.out_bytes_written(taken);
                    (!blocked).then_some(0)
                })
            } else {
                w.send_now(o.slices())
            }
        };
        let res = match now {
            Ok(Some(n)) => Ok(WriteOutcome::Wrote(n)),
            Ok(None) if tls => crate::tls::flush(&client, &w).await,
            Ok(None) if s2 => crate::compress::flush(&client, &mut w).await,
            Ok(None) if ws => crate::ws::out::flush(&client, &mut w).await,
            Ok(None) => {
                let first = client.out.borrow().front();
                match first {
                    Some(first) => w.send_when_writable(&first).await,
                    None => Ok(WriteOutcome::Wrote(0)),
                }
            }
            Err(e) => Err(e),
        };
        match res {
            Ok(WriteOutcome::Wrote(n)) => {
                let mut o = client.out.borrow_mut();
                o.consume(n);
                env.stats.out_bytes_written(n);
                // Framed or compressed bytes the session or socket did not
                // take yet (a TLS session takes a bounded amount per pass):
                // the next pass goes on with them even if nothing new is
                // queued.
                if (ws && crate::ws::out::wants_write(&client))
                    || (s2 && crate::compress::wants_write(&client))
                {
                    o.kick();
                }
            }
            Ok(WriteOutcome::TimedOut) => {
                let (pending, chunks) = {
                    let o = client.out.borrow();
                    (o.pending(), o.chunks().max(1))
                };
                env.stats.slow_consumer();
                // A notice in nats-server (`[INF]`), the deadline in Go's form.
                log::info!(
                    "{} - Slow Consumer Detected: WriteDeadline of {} exceeded with {} chunks of {} total bytes.",
                    client.log_prefix(),
                    shoal_go::duration(deadline),
                    chunks,
                    pending
                );
                client.set_close_reason(CloseReason::SlowConsumerWriteDeadline);
                break;
            }
            Err(e) => {
                log::debug!("{} - Write error: {e}", client.log_prefix());
                client.set_close_reason(CloseReason::WriteError);
                break;
            }
        }
    }
    let clean = client.out.borrow().state == OutState::Closing;
    {
        let mut o = client.out.borrow_mut();
        o.state = OutState::Dead;
        o.clear();
    }
    if tls && clean {
        // A closing TLS connection says so (close_notify), as Go's
        // tls.Conn.Close does, if the socket takes it now.
        crate::tls::close_notify(&client, &w);
    }
    rt::shutdown_fd(w.fd());
    client.writer_done.set(true);
    client.done.notify();
}
