//! Boot steps that run once on the main thread before any core starts: raise the
//! rlimits that glommio and many connections need, list the CPUs this process may
//! use, and make sure io_uring is usable here, with an error that names the cause
//! and the fix when it is not.

use std::io;

/// Raises the soft RLIMIT_MEMLOCK and RLIMIT_NOFILE to their hard limits.
/// Failures are returned for logging; they are not fatal.
pub fn raise_rlimits() -> Vec<String> {
    let mut warnings = Vec::new();
    for (res, name) in [
        (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
    ] {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
        unsafe {
            if libc::getrlimit(res, &mut r) != 0 {
                warnings.push(format!("getrlimit({name}): {}", io::Error::last_os_error()));
                continue;
            }
            if r.rlim_cur < r.rlim_max {
                r.rlim_cur = r.rlim_max;
                if libc::setrlimit(res, &r) != 0 {
                    warnings.push(format!("setrlimit({name}): {}", io::Error::last_os_error()));
                }
            }
        }
    }
    warnings
}

/// The CPUs this process may run on (sched_getaffinity, which honours cgroups and
/// taskset, unlike sysfs).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it for pid 0 (us).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Creates and closes a tiny io_uring. `Err` explains why io_uring is unusable.
pub fn probe_io_uring() -> Result<(), String> {
    // struct io_uring_params is 120 bytes; the kernel only needs it zeroed.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup(entries, params) writes into the 120-byte params
    // buffer; on success it returns a descriptor we close at once.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd >= 0 {
        // SAFETY: fd was just returned to us.
        unsafe { libc::close(fd as i32) };
        return Ok(());
    }
    let err = io::Error::last_os_error();
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cause = match err.raw_os_error() {
        Some(libc::ENOSYS) => "the kernel has no io_uring support (ENOSYS); Shoal needs Linux 5.8 or newer with io_uring enabled".to_string(),
        Some(libc::EPERM) | Some(libc::EACCES) if disabled != "0" && !disabled.is_empty() => format!(
            "io_uring is disabled by sysctl kernel.io_uring_disabled={disabled}; set it to 0 (sysctl -w kernel.io_uring_disabled=0)"
        ),
        Some(libc::EPERM) | Some(libc::EACCES) => "io_uring_setup was refused (EPERM): a seccomp profile (container runtimes block io_uring by default) forbids it; run with a profile that allows io_uring_setup, io_uring_enter and io_uring_register (see deploy/)".to_string(),
        _ => format!("io_uring_setup failed: {err}"),
    };
    Err(cause)
}

/// The machine's non-loopback interface addresses (what nats-server lists
/// as a server's client URLs when it listens on every address), loopback
/// ones only when there is nothing else.
pub fn interface_ips() -> Vec<std::net::IpAddr> {
    let mut all = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list it allocated; we walk it
    // read-only, copying the addresses out, and free it once with
    // freeifaddrs. Each `ifa_addr` is null or points at a sockaddr of the
    // family its `sa_family` says, read as that type only.
    unsafe {
        if libc::getifaddrs(&mut head) != 0 {
            return all;
        }
        let mut p = head;
        while !p.is_null() {
            let a = (*p).ifa_addr;
            if !a.is_null() {
                match i32::from((*a).sa_family) {
                    libc::AF_INET => {
                        let v4 = &*(a as *const libc::sockaddr_in);
                        all.push(std::net::IpAddr::from(
                            u32::from_be(v4.sin_addr.s_addr).to_be_bytes(),
                        ));
                    }
                    libc::AF_INET6 => {
                        let v6 = &*(a as *const libc::sockaddr_in6);
                        all.push(std::net::IpAddr::from(v6.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            p = (*p).ifa_next;
        }
        libc::freeifaddrs(head);
    }
    let global: Vec<_> = all
        .iter()
        .copied()
        .filter(|ip| {
            !ip.is_loopback()
                && !matches!(ip, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
        })
        .collect();
    if global.is_empty() {
        all.into_iter().filter(|ip| ip.is_loopback()).collect()
    } else {
        global
    }
}

/// A 56-character server id shaped like nats-server's public nkeys (`N` + base32).
pub fn server_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut s = String::with_capacity(56);
    s.push('N');
    for _ in 0..55 {
        s.push(ALPHABET[rand::random::<usize>() % 32] as char);
    }
    s
}

/// How long a bind waits out a port held by a server that just died.
const DYING_LISTENER_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// Runs `bind` until it does not fail with EADDRINUSE, for at most
/// [`DYING_LISTENER_GRACE`]. A killed Shoal's listeners stay in LISTEN for a
/// few milliseconds after its process is gone (measured: 5–10 ms): an io_uring
/// accept in flight holds each one until the kernel tears the dead process's
/// rings down, after it has exited. A harness that kills a server and starts
/// another on the same port at once (nats.py's does) must not fail for that;
/// a port another live server holds still fails, a quarter second later.
pub fn bind_when_free<T>(mut bind: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let start = std::time::Instant::now();
    loop {
        match bind() {
            Err(e)
                if e.kind() == io::ErrorKind::AddrInUse
                    && start.elapsed() < DYING_LISTENER_GRACE =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Whether a listener already holds `addr`: bound without SO_REUSEPORT, so
/// another server's SO_REUSEPORT listeners (Shoal's cores) conflict with it
/// and the port is refused as nats-server refuses it, instead of being
/// shared with that server.
pub fn check_port_free(addr: std::net::SocketAddr) -> io::Result<()> {
    bind_when_free(|| std::net::TcpListener::bind(addr).map(drop))
}

/// Seconds east of UTC of the server's local time at unix time `now` (a user
/// JWT's `times` are in it, as nats-server's are in Go's `time.Local`).
/// glibc's `localtime_r` reads the zone file at its first call only: that
/// call is made at start, before any core runs ([`crate::Server::start`]).
pub fn local_offset(now: i64) -> i32 {
    let t = now as libc::time_t;
    // SAFETY: a zeroed `tm` is a valid value of that plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call, and `localtime_r` is the
    // thread-safe form (it writes only `tm`).
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff as i32
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_shape() {
        let id = server_id();
        assert_eq!(id.len(), 56);
        assert!(id.starts_with('N'));
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    }

    #[test]
    fn cpus_nonempty() {
        assert!(!allowed_cpus().is_empty());
    }
}
