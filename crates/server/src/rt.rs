//! The only module that names glommio (pinned 0.9.0). Everything else sees small
//! wrappers: an executor per core, a listener, a connection's socket split into a
//! read half and a write half, the SPSC rings between cores, timers, task spawn.
//!
//! Facts of glommio 0.9.0 this module works around (see design.md):
//! - `TcpStream` has no real vectored write, so [`WriteHalf::send_now`] calls
//!   `sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL)` on the raw fd and only uses glommio to
//!   wait for writability (by writing the first slice through it once `EAGAIN`).
//! - Accepted sockets are in blocking mode: never a plain `write`/`recv` on them,
//!   always `MSG_DONTWAIT`.
//! - Waiting for readability is glommio's `poll_read` into a stack scratch array
//!   (a readiness poll; its io_uring receive path would allocate a DMA buffer).
//! - `TcpListener::bind` sets SO_REUSEPORT only, so listeners are bound here
//!   with socket2 (SO_REUSEADDR too, as Go does) and handed to glommio.
//! - A dropped `Task` is cancelled, so every connection task is detached.
//!
//! Nothing here blocks a core: every wait is an io_uring completion or a timer,
//! and work that takes milliseconds of CPU (a bcrypt check) goes to the core's
//! blocking-thread pool ([`blocking`]), whose threads are not pinned: the
//! kernel runs them wherever there is room, and the core goes on serving.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::os::unix::io::{AsRawFd, FromRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncWrite, AsyncWriteExt};
use glommio::channels::shared_channel::{self, ConnectedReceiver, ConnectedSender};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement, PoolPlacement};

pub use glommio::channels::shared_channel::{SharedReceiver, SharedSender};

/// Most iovecs one `sendmsg` carries (the kernel allows 1024; 128 slices of a
/// coalescing writer are already megabytes).
pub const MAX_IOV: usize = 128;

/// Threads in each executor's blocking pool: how many bcrypt checks one core
/// runs at once (more queue; the core itself never waits for them).
const BLOCKING_THREADS: usize = 2;

/// A running executor thread.
pub struct CoreHandle(glommio::ExecutorJoinHandle<()>);

impl CoreHandle {
    /// Waits for the core's main future to return.
    pub fn join(self) {
        let _ = self.0.join();
    }
}

/// Spawns one executor thread pinned to `cpu` (or unbound), with a small io_memory:
/// socket I/O does not use it, and every MiB of it is locked memory.
pub fn spawn_core<F, Fut>(index: usize, cpu: Option<usize>, body: F) -> io::Result<CoreHandle>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    spawn_executor(&format!("shoal-core-{index}"), cpu, body)
}

/// An executor thread that is not a core (the monitoring server): unpinned.
pub fn spawn_named<F, Fut>(name: &str, body: F) -> io::Result<CoreHandle>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    spawn_executor(name, None, body)
}

fn spawn_executor<F, Fut>(name: &str, cpu: Option<usize>, body: F) -> io::Result<CoreHandle>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + 'static,
{
    let placement = match cpu {
        Some(c) => Placement::Fixed(c),
        None => Placement::Unbound,
    };
    LocalExecutorBuilder::new(placement)
        .name(name)
        .io_memory(64 << 10)
        .preempt_timer(Duration::from_millis(10))
        .blocking_thread_pool_placement(PoolPlacement::Unbound(BLOCKING_THREADS))
        .spawn(body)
        .map(CoreHandle)
        .map_err(|e| io::Error::other(e.to_string()))
}

/// Spawns a detached task on the current core.
pub fn spawn<F>(fut: F)
where
    F: std::future::Future<Output = ()> + 'static,
{
    glommio::spawn_local(fut).detach();
}

/// Sleeps on the current core's timer.
pub async fn sleep(d: Duration) {
    glommio::timer::sleep(d).await;
}

/// Runs `f` on this core's blocking-thread pool and waits for its result; the
/// core runs its other tasks meanwhile. For CPU work of milliseconds (bcrypt),
/// never for anything a core could do in microseconds.
pub async fn blocking<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    glommio::executor().spawn_blocking(f).await
}

/// `fut`, or `None` once `d` has passed first.
pub async fn timeout<T>(d: Duration, fut: impl Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        sleep(d).await;
        None
    })
    .await
}

/// Lets every other runnable task of this core run once before continuing.
pub async fn yield_now() {
    futures_lite::future::yield_now().await;
}

/// A ring from one core to another: bounded, single producer, single consumer.
pub fn ring<T: Send + 'static>(capacity: usize) -> (SharedSender<T>, SharedReceiver<T>) {
    shared_channel::new_bounded(capacity)
}

/// How often a ring's connect is polled while its peer has not connected.
const CONNECT_TICK: Duration = Duration::from_millis(1);

/// Polls `fut` itself, once per [`CONNECT_TICK`], until it is ready. glommio's
/// channel connect waits for its peer through a waker that can be lost: seen as
/// a start-up that never finished (one core asleep in `io_uring_enter` with its
/// connects pending, the peer core connected), 4–5 times in 900 starts of a
/// 2-core server under load; 0 in 900 with this tick. Only at start-up: never
/// on a message path.
async fn poll_on_a_tick<F: Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    loop {
        let step = std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
            std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await;
        if let Some(v) = step {
            return v;
        }
        sleep(CONNECT_TICK).await;
    }
}

type Connecting<'a, O> = (usize, Pin<Box<dyn Future<Output = O> + 'a>>);

/// Polls every connect in `pending` once, moving the finished ones to `done`.
fn poll_all<O>(pending: &mut Vec<Connecting<'_, O>>, done: &mut Vec<(usize, O)>, cx: &mut Context) {
    let mut i = 0;
    while i < pending.len() {
        if let Poll::Ready(v) = pending[i].1.as_mut().poll(cx) {
            done.push((pending.swap_remove(i).0, v));
        } else {
            i += 1;
        }
    }
}

/// Connects all of a core's ring ends at once (each connect waits for its peer
/// core to connect the other end), polled by the calling task itself on a
/// [`CONNECT_TICK`]. No task is spawned per connect: a core's main task that
/// awaited spawned connect tasks could sleep forever with every connect done
/// (2 hangs in 600 starts of a 2-core server under load, both cores asleep in
/// `io_uring_enter`, nothing pending but those joins); polled here: 0 in 900.
pub async fn connect_rings<T: Send + 'static>(
    txs: Vec<(usize, SharedSender<T>)>,
    rxs: Vec<(usize, SharedReceiver<T>)>,
) -> (Vec<(usize, RingTx<T>)>, Vec<(usize, RingRx<T>)>) {
    let mut tx_wait: Vec<Connecting<ConnectedSender<T>>> = txs
        .into_iter()
        .map(|(c, s)| (c, Box::pin(s.connect()) as Pin<Box<dyn Future<Output = _>>>))
        .collect();
    let mut rx_wait: Vec<Connecting<ConnectedReceiver<T>>> = rxs
        .into_iter()
        .map(|(c, r)| (c, Box::pin(r.connect()) as Pin<Box<dyn Future<Output = _>>>))
        .collect();
    let (mut tx, mut rx) = (Vec::new(), Vec::new());
    loop {
        std::future::poll_fn(|cx| {
            poll_all(&mut tx_wait, &mut tx, cx);
            poll_all(&mut rx_wait, &mut rx, cx);
            Poll::Ready(())
        })
        .await;
        if tx_wait.is_empty() && rx_wait.is_empty() {
            break;
        }
        sleep(CONNECT_TICK).await;
    }
    let tx = tx.into_iter().map(|(c, s)| (c, RingTx(s))).collect();
    let rx = rx.into_iter().map(|(c, r)| (c, RingRx(r))).collect();
    (tx, rx)
}

/// The producing end of a ring, connected on its core.
pub struct RingTx<T: Send + 'static>(ConnectedSender<T>);
/// The consuming end of a ring, connected on its core.
pub struct RingRx<T: Send + 'static>(ConnectedReceiver<T>);

impl<T: Send + 'static> RingTx<T> {
    pub async fn connect(s: SharedSender<T>) -> Self {
        RingTx(poll_on_a_tick(s.connect()).await)
    }
    /// Never waits: `Err(item)` when the ring is full.
    pub fn try_send(&self, item: T) -> Result<(), T> {
        self.0.try_send(item).map_err(|e| match e {
            glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(t)) => t,
            glommio::GlommioError::Closed(glommio::ResourceType::Channel(t)) => t,
            other => panic!("unexpected ring error: {other}"),
        })
    }
    /// Waits for room. Only one task per ring may wait here (glommio keeps a single
    /// waker per channel), which is why each ring has exactly one flusher.
    pub async fn send(&self, item: T) -> Result<(), T> {
        self.0.send(item).await.map_err(|e| match e {
            glommio::GlommioError::Closed(glommio::ResourceType::Channel(t)) => t,
            glommio::GlommioError::WouldBlock(glommio::ResourceType::Channel(t)) => t,
            other => panic!("unexpected ring error: {other}"),
        })
    }
}

impl<T: Send + 'static> RingRx<T> {
    pub async fn connect(r: SharedReceiver<T>) -> Self {
        RingRx(poll_on_a_tick(r.connect()).await)
    }
    /// The next item; `None` once the producer is gone.
    pub async fn recv(&self) -> Option<T> {
        self.0.recv().await
    }
}

/// A client listener: one per core on the same port (SO_REUSEPORT).
pub struct Listener(TcpListener, RawFd);

/// Takes a listening socket off its port now. Closing the descriptor is not
/// enough: an io_uring accept still in flight holds the socket, and the ring
/// that holds it is torn down by the kernel after the process exits, so the
/// port could still be in LISTEN when a restarted server binds it (EADDRINUSE
/// even with SO_REUSEADDR). `shutdown` on a listener unhashes it at once.
fn unlisten(fd: RawFd) {
    // SAFETY: `fd` is the listener's own open descriptor (it is closed only
    // after this, when the glommio listener drops); shutdown only changes the
    // socket's state.
    unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
}

impl Drop for Listener {
    fn drop(&mut self) {
        unlisten(self.1);
    }
}

/// Pending connections the kernel queues per listener (capped by
/// `net.core.somaxconn`, which is what Go's listeners ask for too).
const BACKLOG: i32 = 4096;

impl Listener {
    /// Binds with SO_REUSEPORT (every core binds the port) and SO_REUSEADDR, as
    /// Go's listeners do. SO_REUSEADDR matters after exit: accepted sockets
    /// inherit it, so the ones the server closed (FIN_WAIT/TIME_WAIT, which
    /// outlive the process) do not keep a new SO_REUSEADDR listener off the
    /// port. Without it a client's test suite that stops the server and binds
    /// the port for a mock server fails with EADDRINUSE.
    pub fn bind(addr: std::net::SocketAddr) -> io::Result<Listener> {
        use socket2::{Domain, Protocol, Socket, Type};
        let domain = if addr.is_ipv6() {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        let s = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.set_reuse_port(true)?;
        s.bind(&addr.into())?;
        s.listen(BACKLOG)?;
        let fd = std::os::unix::io::IntoRawFd::into_raw_fd(s);
        // SAFETY: `fd` is a bound, listening socket whose ownership we just
        // released from `s`; the TcpListener becomes its only owner.
        Ok(Listener(unsafe { TcpListener::from_raw_fd(fd) }, fd))
    }
    /// Accepts one connection and splits it into its two halves.
    ///
    /// The peer's address comes from the accept itself, as Go's does: a
    /// client that connects and resets at once is still accepted (its reader
    /// then sees the reset), where asking `getpeername` afterwards would fail
    /// with ENOTCONN. Only when nothing is pending does glommio wait (an
    /// io_uring accept); a connection reset before that wait returns it has no
    /// address left and gets the unspecified one.
    pub async fn accept(&self) -> io::Result<(ReadHalf, WriteHalf, std::net::SocketAddr)> {
        let (s, peer) = match self.accept_now()? {
            Some(accepted) => accepted,
            None => {
                let s = self.0.accept().await.map_err(glommio_io)?;
                let peer = s.peer_addr().unwrap_or_else(|_| {
                    std::net::SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
                });
                (s, peer)
            }
        };
        let _ = s.set_nodelay(true);
        let fd = s.as_raw_fd();
        let s = Rc::new(RefCell::new(s));
        Ok((ReadHalf { s: s.clone(), fd }, WriteHalf { s, fd }, peer))
    }

    /// [`Listener::accept`], or `None` once `stop` completes first (a
    /// core's accept loops end on its stop event).
    pub async fn accept_or(
        &self,
        stop: impl Future<Output = ()>,
    ) -> Option<io::Result<(ReadHalf, WriteHalf, std::net::SocketAddr)>> {
        futures_lite::future::or(async { Some(self.accept().await) }, async {
            stop.await;
            None
        })
        .await
    }

    /// `accept4` without waiting (the listener is made non-blocking for the
    /// call, as glommio's own first attempt does), with the peer's address.
    /// `Ok(None)` when nothing is pending (or the pending one was aborted).
    fn accept_now(&self) -> io::Result<Option<(TcpStream, std::net::SocketAddr)>> {
        let lfd = self.1;
        // SAFETY: sockaddr_storage is plain data, large enough for any
        // address; fcntl and accept4 only read and write the values we pass,
        // on a listening descriptor this listener owns.
        let (fd, storage, len) = unsafe {
            let mut storage: libc::sockaddr_storage = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            let flags = libc::fcntl(lfd, libc::F_GETFL);
            libc::fcntl(lfd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            let fd = libc::accept4(
                lfd,
                &mut storage as *mut _ as *mut libc::sockaddr,
                &mut len,
                libc::SOCK_CLOEXEC,
            );
            let err = io::Error::last_os_error();
            libc::fcntl(lfd, libc::F_SETFL, flags);
            if fd < 0 {
                return match err.raw_os_error() {
                    Some(libc::EAGAIN | libc::ECONNABORTED | libc::EINTR) => Ok(None),
                    _ => Err(err),
                };
            }
            (fd, storage, len)
        };
        // SAFETY: the kernel filled `len` bytes of `storage` with the address.
        let addr = unsafe { socket2::SockAddr::new(storage, len) }
            .as_socket()
            .unwrap_or_else(|| std::net::SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0)));
        // SAFETY: `fd` is the fresh descriptor accept4 returned; nobody else
        // owns it.
        Ok(Some((unsafe { TcpStream::from_raw_fd(fd) }, addr)))
    }
}

/// Dials `addr` (an io_uring connect, bounded by `timeout`): the halves of
/// the new connection, as [`Listener::accept`] gives them.
pub async fn connect(
    addr: std::net::SocketAddr,
    timeout_after: Duration,
) -> io::Result<(ReadHalf, WriteHalf)> {
    let s = match timeout(timeout_after, TcpStream::connect(addr)).await {
        Some(r) => r.map_err(glommio_io)?,
        None => return Err(io::Error::from(io::ErrorKind::TimedOut)),
    };
    let _ = s.set_nodelay(true);
    let fd = s.as_raw_fd();
    let s = Rc::new(RefCell::new(s));
    Ok((ReadHalf { s: s.clone(), fd }, WriteHalf { s, fd }))
}

/// Keeps the OS error (and its errno) of a glommio error when it has one.
fn glommio_io(e: glommio::GlommioError<()>) -> io::Error {
    match e {
        glommio::GlommioError::IoError(e) => e,
        glommio::GlommioError::EnhancedIoError { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

/// The reading side of a connection: owned by its reader task.
///
/// Both halves share one glommio stream (and one descriptor: a connection
/// costs one fd, not two). glommio keeps a stream's read and write waits in
/// separate slots, and each half borrows the stream only inside a poll, so
/// the reader waiting for data and the writer waiting for room never
/// conflict (one thread, polls never nest).
pub struct ReadHalf {
    s: Rc<RefCell<TcpStream>>,
    fd: RawFd,
}

/// The scratch array a reader waits with: big enough for a typical request
/// (it is read into without a second syscall), small because it is part of
/// every connection's task, idle or not.
const WAIT_SCRATCH: usize = 512;

impl ReadHalf {
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Reads what is available into `buf` (after reserving `min_room` bytes of
    /// room). Returns 0 at end of stream.
    ///
    /// When `buf` has no storage (the reader drops it between passes when no
    /// partial op is left: an idle connection holds no read buffer), the wait
    /// comes first: glommio's `poll_read` (a non-blocking receive, then a
    /// readiness poll) into a small scratch array, whose bytes are appended —
    /// a request-sized message costs one receive and one small copy — and
    /// whatever else is already there is received straight into `buf`. A
    /// buffer holding a partial op is read into directly.
    pub async fn read(&mut self, buf: &mut BytesMut, min_room: usize) -> io::Result<usize> {
        if buf.capacity() > 0 {
            if let Some(n) = self.recv_now(buf, min_room)? {
                return Ok(n);
            }
        }
        // The socket is empty: an empty buffer goes back while we wait.
        if buf.is_empty() {
            *buf = BytesMut::new();
        }
        let mut scratch = [0u8; WAIT_SCRATCH];
        let n = std::future::poll_fn(|cx| {
            std::pin::Pin::new(&mut *self.s.borrow_mut()).poll_read(cx, &mut scratch)
        })
        .await?;
        if n == 0 {
            return Ok(0);
        }
        buf.reserve(min_room.max(n));
        buf.extend_from_slice(&scratch[..n]);
        if n < scratch.len() {
            return Ok(n);
        }
        Ok(n + self.recv_now(buf, 0)?.unwrap_or(0))
    }

    /// One non-blocking `recv` into `buf`'s spare room; `None` when the socket
    /// is empty.
    fn recv_now(&mut self, buf: &mut BytesMut, min_room: usize) -> io::Result<Option<usize>> {
        if min_room > 0 {
            buf.reserve(min_room);
        }
        loop {
            let spare = buf.spare_capacity_mut();
            if spare.is_empty() {
                return Ok(Some(0));
            }
            // SAFETY: recv writes at most `spare.len()` bytes into the spare
            // capacity; `set_len` below covers only the `n` bytes it reported.
            let n = unsafe {
                libc::recv(
                    self.fd,
                    spare.as_mut_ptr() as *mut libc::c_void,
                    spare.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n >= 0 {
                let n = n as usize;
                // SAFETY: the kernel initialised exactly `n` bytes past len.
                unsafe { buf.set_len(buf.len() + n) };
                return Ok(Some(n));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return Ok(None),
                io::ErrorKind::Interrupted => {}
                _ => return Err(err),
            }
        }
    }
}

/// The writing side of a connection: owned by its writer task (the stream
/// is shared with the [`ReadHalf`]).
pub struct WriteHalf {
    s: Rc<RefCell<TcpStream>>,
    fd: RawFd,
}

/// How a batched write ended.
pub enum WriteOutcome {
    /// Bytes written (maybe fewer than offered).
    Wrote(usize),
    /// No progress within the write deadline.
    TimedOut,
}

impl WriteHalf {
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Sets how long a write may make no progress before [`WriteOutcome::TimedOut`].
    pub fn set_deadline(&self, d: Duration) {
        let _ = self.s.borrow().set_write_timeout(Some(d));
    }

    /// One non-blocking `sendmsg` of up to [`MAX_IOV`] slices. `Ok(None)` when
    /// the socket is full. Synchronous, so the iovec array never outlives the
    /// call (it is not part of the writer task's state).
    pub fn send_now<'a>(
        &self,
        slices: impl Iterator<Item = &'a [u8]>,
    ) -> io::Result<Option<usize>> {
        let mut io: [libc::iovec; MAX_IOV] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; MAX_IOV];
        let mut cnt = 0;
        for (slot, b) in io.iter_mut().zip(slices) {
            slot.iov_base = b.as_ptr() as *mut libc::c_void;
            slot.iov_len = b.len();
            cnt += 1;
        }
        // SAFETY: msghdr is plain data; zeroed is a valid "no name, no control" value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = io.as_mut_ptr();
        msg.msg_iovlen = cnt as _;
        loop {
            // SAFETY: every iovec points into a slice borrowed for this call;
            // the kernel only reads from them.
            let n =
                unsafe { libc::sendmsg(self.fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
            if n >= 0 {
                return Ok(Some(n as usize));
            }
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => return Ok(None),
                _ => return Err(err),
            }
        }
    }

    /// glommio's write of `buf` as a poll: the TLS writer's wait for a full
    /// socket, given the first pending record (the same bytes on every poll
    /// until it is written, as rustls keeps them until told otherwise).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.s.borrow_mut()).poll_write(cx, buf)
    }

    /// Waits for the full socket to take bytes again, by letting glommio write
    /// `first` (the oldest queued slice), up to the deadline.
    pub async fn send_when_writable(&mut self, first: &[u8]) -> io::Result<WriteOutcome> {
        let wrote = std::future::poll_fn(|cx| {
            std::pin::Pin::new(&mut *self.s.borrow_mut()).poll_write(cx, first)
        })
        .await;
        match wrote {
            Ok(n) => Ok(WriteOutcome::Wrote(n)),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(WriteOutcome::TimedOut),
            Err(e) => Err(e),
        }
    }
}

/// A listener for a server that is not a core (monitoring): takes an already
/// bound std listener.
pub struct PlainListener(TcpListener, RawFd);

impl Drop for PlainListener {
    fn drop(&mut self) {
        unlisten(self.1);
    }
}

impl PlainListener {
    pub fn from_std(l: std::net::TcpListener) -> PlainListener {
        let fd = std::os::unix::io::IntoRawFd::into_raw_fd(l);
        // SAFETY: `fd` is a bound, listening socket whose ownership we just
        // released from the std listener.
        PlainListener(unsafe { TcpListener::from_raw_fd(fd) }, fd)
    }

    pub async fn accept(&self) -> io::Result<PlainStream> {
        let s = self.0.accept().await.map_err(glommio_io)?;
        let _ = s.set_nodelay(true);
        Ok(PlainStream(s))
    }
}

/// A connection of the monitoring server: reads and writes with deadlines.
pub struct PlainStream(TcpStream);

impl PlainStream {
    /// Reads what is available, waiting at most `timeout`
    /// (`ErrorKind::TimedOut` after it).
    pub async fn read(&mut self, buf: &mut [u8], timeout: Duration) -> io::Result<usize> {
        let _ = self.0.set_read_timeout(Some(timeout));
        futures_lite::AsyncReadExt::read(&mut self.0, buf).await
    }

    /// Writes all of `buf`, each write making progress within `timeout`.
    pub async fn write_all(&mut self, buf: &[u8], timeout: Duration) -> io::Result<()> {
        let _ = self.0.set_write_timeout(Some(timeout));
        self.0.write_all(buf).await
    }
}

/// Shuts a socket down in both directions: wakes its reader with end-of-stream and
/// makes further writes fail. Safe to call more than once.
pub fn shutdown_fd(fd: RawFd) {
    // SAFETY: shutdown on a descriptor we own; errors (already closed) are ignored.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

/// Shuts down only the reading direction (used to stop a reader while its writer
/// still flushes).
pub fn shutdown_read(fd: RawFd) {
    // SAFETY: as above.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RD);
    }
}

/// An append-only file on io_uring (glommio's buffered file): each append
/// is in the kernel's page cache once it completes, so a process that dies
/// after it loses nothing of it (a sync makes it durable on the device).
pub struct AppendFile {
    file: glommio::io::BufferedFile,
    pos: u64,
}

impl AppendFile {
    /// Opens (creating it if need be) `path` for appending at its end.
    pub async fn open(path: &std::path::Path) -> io::Result<AppendFile> {
        let file = glommio::io::OpenOptions::new()
            .write(true)
            .create(true)
            .buffered_open(path)
            .await
            .map_err(glommio_io)?;
        let pos = file.file_size().await.map_err(glommio_io)?;
        Ok(AppendFile { file, pos })
    }

    /// Writes `bytes` at the end.
    /// A short write (a full disk) is an error, and the file's end stays
    /// where it was: the next append writes over the torn part, so the log
    /// never holds a torn record before a whole one.
    pub async fn append(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        let len = bytes.len();
        let n = self
            .file
            .write_at(bytes, self.pos)
            .await
            .map_err(glommio_io)?;
        if n == len {
            self.pos += n as u64;
        } else {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write: {n} of {len} bytes"),
            ));
        }
        Ok(())
    }
}
