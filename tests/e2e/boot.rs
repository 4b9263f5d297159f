//! Boot where io_uring is forbidden, as under a container runtime's default
//! seccomp profile: the child gets a seccomp filter that fails `io_uring_setup`
//! with EPERM before it execs Shoal. Shoal must exit 1 with a message naming the
//! cause and the fix, not panic.

#[cfg(target_arch = "x86_64")]
#[test]
fn io_uring_refused_by_seccomp_exits_with_cause_and_fix() {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    const SYS_IO_URING_SETUP: u32 = 425;
    // BPF: load the syscall number; io_uring_setup -> ERRNO(EPERM), else allow.
    let filter = [
        libc::sock_filter {
            code: 0x20,
            jt: 0,
            jf: 0,
            k: 0,
        }, // ld  [nr]
        libc::sock_filter {
            code: 0x15,
            jt: 0,
            jf: 1,
            k: SYS_IO_URING_SETUP,
        }, // jeq
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x0005_0000 | libc::EPERM as u32,
        }, // ret ERRNO
        libc::sock_filter {
            code: 0x06,
            jt: 0,
            jf: 0,
            k: 0x7fff_0000,
        }, // ret ALLOW
    ];
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_shoal"));
    cmd.args(["-a", "127.0.0.1", "-p", "-1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec the closure only calls async-signal-safe
    // prctl(2) on a filter that lives on this (copied) stack until exec.
    unsafe {
        cmd.pre_exec(move || {
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &prog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("runs shoal under the filter");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("io_uring"), "{stderr}");
    assert!(
        stderr.contains("seccomp"),
        "names the likely cause: {stderr}"
    );
    assert!(
        stderr.contains("io_uring_setup, io_uring_enter and io_uring_register"),
        "names the fix: {stderr}"
    );
}
