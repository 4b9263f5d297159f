//! A core-local, first-come-first-served limit on how many tasks do a thing
//! at once (the TLS handshake's flights, `tls.rs`): a task takes a
//! [`Place`] and gives it back by dropping it; while none is free it waits
//! in line, costing nothing, and a freed place wakes exactly the first in
//! line. A waiter that gives up (its future dropped, say by a timeout)
//! leaves the line, and passes the wake-up on if it had it.
//!
//! Core-local (`Rc`, no locks); never blocks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// See the module header.
pub struct Places {
    free: Cell<usize>,
    next: Cell<u64>,
    line: RefCell<VecDeque<(u64, Waker)>>,
}

impl Places {
    pub fn new(n: usize) -> Rc<Places> {
        Rc::new(Places {
            free: Cell::new(n),
            next: Cell::new(0),
            line: RefCell::new(VecDeque::new()),
        })
    }

    /// Waits for a place.
    pub fn acquire(self: &Rc<Self>) -> Acquire {
        Acquire {
            places: self.clone(),
            ticket: None,
            done: false,
        }
    }

    /// Wakes whoever is first in line, if a place is free for it.
    fn wake_first(&self) {
        if self.free.get() > 0 {
            if let Some((_, w)) = self.line.borrow().front() {
                w.wake_by_ref();
            }
        }
    }
}

/// A place taken; given back when dropped.
pub struct Place(Rc<Places>);

impl Drop for Place {
    fn drop(&mut self) {
        self.0.free.set(self.0.free.get() + 1);
        self.0.wake_first();
    }
}

/// The wait for a place ([`Places::acquire`]).
pub struct Acquire {
    places: Rc<Places>,
    ticket: Option<u64>,
    done: bool,
}

impl Future for Acquire {
    type Output = Place;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Place> {
        let p = self.places.clone();
        let first = {
            let line = p.line.borrow();
            match self.ticket {
                None => line.is_empty(),
                Some(t) => line.front().is_some_and(|(f, _)| *f == t),
            }
        };
        if first && p.free.get() > 0 {
            if self.ticket.is_some() {
                p.line.borrow_mut().pop_front();
            }
            p.free.set(p.free.get() - 1);
            self.done = true;
            self.ticket = None;
            // Another place may be free for the next in line.
            p.wake_first();
            return Poll::Ready(Place(p.clone()));
        }
        let mut line = p.line.borrow_mut();
        match self.ticket {
            Some(t) => {
                if let Some(slot) = line.iter_mut().find(|(x, _)| *x == t) {
                    slot.1 = cx.waker().clone();
                }
            }
            None => {
                let t = p.next.get();
                p.next.set(t + 1);
                line.push_back((t, cx.waker().clone()));
                self.ticket = Some(t);
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let Some(t) = self.ticket {
            let was_first = {
                let mut line = self.places.line.borrow_mut();
                let first = line.front().is_some_and(|(f, _)| *f == t);
                line.retain(|(x, _)| *x != t);
                first
            };
            if was_first {
                self.places.wake_first();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn poll(a: &mut Acquire, w: &Arc<Count>) -> Option<Place> {
        let waker = Waker::from(w.clone());
        match Pin::new(a).poll(&mut Context::from_waker(&waker)) {
            Poll::Ready(p) => Some(p),
            Poll::Pending => None,
        }
    }

    #[test]
    fn first_come_first_served_and_one_wake_per_place() {
        let places = Places::new(1);
        let (wa, wb, wc) = (
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
            Arc::new(Count(AtomicUsize::new(0))),
        );
        let mut a = places.acquire();
        let held = poll(&mut a, &wa).expect("a free place");
        let (mut b, mut c) = (places.acquire(), places.acquire());
        assert!(poll(&mut b, &wb).is_none());
        assert!(poll(&mut c, &wc).is_none());
        drop(held);
        assert_eq!(
            wb.0.load(Ordering::Relaxed),
            1,
            "the first in line is woken"
        );
        assert_eq!(wc.0.load(Ordering::Relaxed), 0, "and only it");
        // A newcomer does not jump the line.
        let mut d = places.acquire();
        assert!(poll(&mut d, &wa).is_none());
        assert!(poll(&mut c, &wc).is_none(), "c is not first");
        let got = poll(&mut b, &wb).expect("b's turn");
        drop(got);
        assert_eq!(wc.0.load(Ordering::Relaxed), 1);
        // c gives up: the wake-up passes to d.
        drop(c);
        assert!(wa.0.load(Ordering::Relaxed) >= 1, "d was woken");
        assert!(poll(&mut d, &wa).is_some());
    }
}
