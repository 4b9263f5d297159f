//! The signals nats-server answers (INT, TERM, HUP, USR1, USR2), received
//! synchronously in the main thread.
//!
//! glommio installs no handlers, and a handler running on a core thread could only
//! do async-signal-safe work anyway. So `main` blocks these signals with
//! `pthread_sigmask` *before* `Server::start` spawns any core thread (threads
//! inherit the mask, so no core is ever interrupted), and then sits in
//! [`wait`] (`sigtimedwait`) while the cores run. What each signal does is `main`'s
//! business; this module names them as Go does in `Trapped "<name>" signal`, and
//! sends them for `--signal` ([`send`], [`Command`]).

use std::io;

/// A signal `main` acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: shut down.
    Interrupt,
    /// SIGTERM: shut down.
    Terminate,
    /// SIGHUP: nats-server reloads its configuration.
    Hangup,
    /// SIGUSR1: nats-server reopens its log file.
    User1,
    /// SIGUSR2: nats-server enters lame duck mode.
    User2,
}

const HANDLED: [(libc::c_int, Signal); 5] = [
    (libc::SIGINT, Signal::Interrupt),
    (libc::SIGTERM, Signal::Terminate),
    (libc::SIGHUP, Signal::Hangup),
    (libc::SIGUSR1, Signal::User1),
    (libc::SIGUSR2, Signal::User2),
];

impl Signal {
    /// The name Go's `os.Signal` prints, as in nats-server's
    /// `Trapped "terminated" signal`.
    pub fn go_name(self) -> &'static str {
        match self {
            Signal::Interrupt => "interrupt",
            Signal::Terminate => "terminated",
            Signal::Hangup => "hangup",
            Signal::User1 => "user defined signal 1",
            Signal::User2 => "user defined signal 2",
        }
    }
}

fn handled_set() -> io::Result<libc::sigset_t> {
    // SAFETY: `sigemptyset` initialises the set before anything reads it, and
    // `sigaddset` is given valid signal numbers and that initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        if libc::sigemptyset(&mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        for (signo, _) in HANDLED {
            if libc::sigaddset(&mut set, signo) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(set)
    }
}

/// Block the handled signals in the calling thread, and so in every thread it
/// starts afterwards. Call it before `Server::start`.
pub fn block() -> io::Result<()> {
    let set = handled_set()?;
    // SAFETY: `set` is an initialised signal set; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Wait for the next handled signal. The signals must be blocked ([`block`]) or
/// they would be delivered the default way (killing the process) instead.
#[cfg(test)]
pub fn wait() -> io::Result<Signal> {
    loop {
        if let Some(signal) = wait_timeout(std::time::Duration::from_secs(3600))? {
            return Ok(signal);
        }
    }
}

/// Wait at most `timeout` for a handled signal; `Ok(None)` when none came.
pub fn wait_timeout(timeout: std::time::Duration) -> io::Result<Option<Signal>> {
    let set = handled_set()?;
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `set` and `ts` are initialised; a null siginfo pointer is allowed.
    let signo = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    if signo < 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(None),
            _ => Err(err),
        };
    }
    Ok(HANDLED
        .iter()
        .find(|(n, _)| *n == signo)
        .map(|&(_, signal)| signal))
}

/// A `--signal` command and the signal it sends (nats-server's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    pub name: &'static str,
    pub signo: libc::c_int,
}

const COMMANDS: [Command; 6] = [
    Command {
        name: "stop",
        signo: libc::SIGKILL,
    },
    Command {
        name: "quit",
        signo: libc::SIGINT,
    },
    Command {
        name: "term",
        signo: libc::SIGTERM,
    },
    Command {
        name: "reopen",
        signo: libc::SIGUSR1,
    },
    Command {
        name: "reload",
        signo: libc::SIGHUP,
    },
    Command {
        name: "ldm",
        signo: libc::SIGUSR2,
    },
];

impl Command {
    /// The command called `name`, if it is one.
    pub fn named(name: &str) -> Option<Command> {
        COMMANDS.iter().copied().find(|c| c.name == name)
    }
}

/// `kill(pid, signo)`.
pub fn send(pid: i32, signo: libc::c_int) -> io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signo) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_signal_is_received_by_wait() {
        // Runs in its own thread: the mask is per thread, and the signal is sent to
        // this thread only, so the rest of the test binary is unaffected.
        std::thread::spawn(|| {
            block().unwrap();
            // SAFETY: signals this very thread, whose mask blocks SIGUSR2.
            let rc = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGUSR2) };
            assert_eq!(rc, 0);
            assert_eq!(wait().unwrap(), Signal::User2);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn names_are_gos() {
        assert_eq!(Signal::Interrupt.go_name(), "interrupt");
        assert_eq!(Signal::Terminate.go_name(), "terminated");
        assert_eq!(Signal::User1.go_name(), "user defined signal 1");
    }
}
