//! A single-core wake-up primitive: tasks wait until a condition they check may
//! have changed, and whoever changes it calls [`Event::notify`]. Used for
//! interest-sync acknowledgements, ring backpressure and shutdown. Core-local
//! (`!Send`), no locks; spurious wake-ups are allowed, so waiters re-check.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

#[derive(Default)]
pub struct Event {
    waiters: RefCell<Vec<Waker>>,
    generation: std::cell::Cell<u64>,
}

impl Event {
    /// Wakes every task currently waiting.
    pub fn notify(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        for w in self.waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }

    /// Completes at the next [`notify`](Self::notify) after this call.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            ev: self,
            seen: self.generation.get(),
        }
    }
}

pub struct Wait<'a> {
    ev: &'a Event,
    seen: u64,
}

impl Future for Wait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.ev.generation.get() != self.seen {
            return Poll::Ready(());
        }
        let mut w = self.ev.waiters.borrow_mut();
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
