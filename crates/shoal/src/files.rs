//! The files nats-server leaves for other programs, written the same way: the PID
//! file (`-P`: the decimal pid, no newline, mode 0600, left in place at exit) and
//! the ports file (`--ports_file_dir`: `<exe>_<pid>.ports`, holding
//! `{"nats":["nats://host:port",…]}`, removed at shutdown), and the messages
//! nats-server logs when it cannot.

use std::ffi::CStr;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::goerr::go_error;

/// Write the PID file. On failure, the message nats-server logs (fatally).
pub fn write_pid_file(path: &Path) -> Result<(), String> {
    let write = || -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        file.write_all(std::process::id().to_string().as_bytes())
    };
    write().map_err(|e| format!("Could not write pidfile: {}", go_error("open", path, &e)))
}

/// `<dir>/<exe>_<pid>.ports`, `exe` being the file name the program was run as.
pub fn ports_file_path(dir: &Path, exe: &str) -> PathBuf {
    dir.join(format!("{exe}_{}.ports", std::process::id()))
}

/// Write the ports file for a client listener bound to `addr`. On failure, the
/// message nats-server logs (as an error; the server keeps running).
pub fn write_ports_file(path: &Path, ports: &Ports) -> Result<(), String> {
    let json = ports.json();
    fs::write(path, json).map_err(|e| {
        format!(
            "Error writing ports file ({}): {}",
            path.display(),
            go_error("open", path, &e)
        )
    })
}

/// Remove the ports file at shutdown. On failure, the message nats-server logs.
pub fn remove_ports_file(path: &Path) -> Result<(), String> {
    fs::remove_file(path).map_err(|e| {
        format!(
            "Error cleaning up ports file {}: {}",
            path.display(),
            go_error("remove", path, &e)
        )
    })
}

/// The listeners a ports file lists, each with whether it speaks TLS.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub nats: (SocketAddr, bool),
    pub monitoring: Option<SocketAddr>,
    pub cluster: Option<(SocketAddr, bool)>,
    pub websocket: Option<(SocketAddr, bool)>,
}

impl Ports {
    /// The JSON nats-server writes (Go's `json.Marshal` of its `Ports`, in
    /// its key order, empty lists left out). URLs hold only characters that
    /// need no escaping.
    fn json(&self) -> String {
        let list = |urls: &[String]| {
            let quoted: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
            quoted.join(",")
        };
        let scheme = |tls: bool, clear: &'static str, secure: &'static str| {
            if tls {
                secure
            } else {
                clear
            }
        };
        let (addr, tls) = self.nats;
        let mut json = format!(
            "{{\"nats\":[{}]",
            list(&urls(scheme(tls, "nats", "tls"), addr))
        );
        let mut add = |key: &str, urls: Vec<String>| {
            json.push_str(&format!(",\"{key}\":[{}]", list(&urls)));
        };
        if let Some(h) = self.monitoring {
            add("monitoring", urls("http", h));
        }
        if let Some((a, tls)) = self.cluster {
            add("cluster", urls(scheme(tls, "nats", "tls"), a));
        }
        if let Some((a, tls)) = self.websocket {
            add("websocket", urls(scheme(tls, "ws", "wss"), a));
        }
        json.push('}');
        json
    }
}

/// The URLs clients can reach a listener on: its own address, or, when it is bound
/// to 0.0.0.0 or `::`, every address of every interface (loopback and link-local
/// included, IPv4 before IPv6 within an interface, interfaces by index) as Go's
/// `net.Interfaces` lists them for nats-server.
fn urls(scheme: &str, addr: SocketAddr) -> Vec<String> {
    let ips = if addr.ip().is_unspecified() {
        interface_addresses()
    } else {
        vec![addr.ip()]
    };
    ips.into_iter()
        .map(|ip| format!("{scheme}://{}", SocketAddr::new(ip, addr.port())))
        .collect()
}

/// Every interface address, grouped by interface index (`getifaddrs` lists all the
/// IPv4 addresses before all the IPv6 ones; Go lists interface by interface).
fn interface_addresses() -> Vec<IpAddr> {
    let mut found: Vec<(u32, IpAddr)> = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points at a sockaddr whose family says
        // which larger sockaddr it is.
        let ip = unsafe {
            match i32::from((*ifa.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            }
        };
        found.push((interface_index(ifa.ifa_name), ip));
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    found.sort_by_key(|&(index, _)| index); // stable: keeps v4 before v6
    found.into_iter().map(|(_, ip)| ip).collect()
}

/// The index of the interface an address belongs to; IPv4 alias labels
/// (`eth0:1`) are looked up by their interface's name.
fn interface_index(name: *const libc::c_char) -> u32 {
    if name.is_null() {
        return u32::MAX;
    }
    // SAFETY: getifaddrs gives a NUL-terminated name that outlives this call.
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    let base = name.split(|&b| b == b':').next().unwrap_or(name);
    let Ok(base) = std::ffi::CString::new(base) else {
        return u32::MAX;
    };
    // SAFETY: `base` is a valid NUL-terminated string.
    match unsafe { libc::if_nametoindex(base.as_ptr()) } {
        0 => u32::MAX,
        index => index,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_json_matches_nats_server() {
        let addr: SocketAddr = "127.0.0.1:14222".parse().unwrap();
        let mut p = Ports {
            nats: (addr, false),
            monitoring: None,
            cluster: None,
            websocket: None,
        };
        assert_eq!(p.json(), r#"{"nats":["nats://127.0.0.1:14222"]}"#);
        p.monitoring = Some("127.0.0.1:18222".parse().unwrap());
        assert_eq!(
            p.json(),
            r#"{"nats":["nats://127.0.0.1:14222"],"monitoring":["http://127.0.0.1:18222"]}"#
        );
        p.nats.1 = true;
        p.cluster = Some(("127.0.0.1:6222".parse().unwrap(), true));
        p.websocket = Some(("127.0.0.1:8080".parse().unwrap(), false));
        assert_eq!(
            p.json(),
            r#"{"nats":["tls://127.0.0.1:14222"],"monitoring":["http://127.0.0.1:18222"],"cluster":["tls://127.0.0.1:6222"],"websocket":["ws://127.0.0.1:8080"]}"#
        );
        let v6: SocketAddr = "[::1]:4222".parse().unwrap();
        assert_eq!(urls("nats", v6), ["nats://[::1]:4222"]);
    }

    #[test]
    fn unspecified_hosts_list_every_interface_address() {
        let urls = urls("nats", "0.0.0.0:4222".parse().unwrap());
        assert!(
            urls.contains(&"nats://127.0.0.1:4222".to_string()),
            "{urls:?}"
        );
        assert!(urls.iter().all(|u| u.ends_with(":4222")));
        // Loopback (index 1) comes first.
        assert_eq!(urls[0], "nats://127.0.0.1:4222");
    }

    #[test]
    fn pid_and_ports_files_round_trip() {
        let dir = std::env::temp_dir().join(format!("shoal-files-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let pid = dir.join("pid");
        write_pid_file(&pid).unwrap();
        assert_eq!(
            fs::read_to_string(&pid).unwrap(),
            std::process::id().to_string()
        );
        let ports = ports_file_path(&dir, "shoal");
        assert!(ports.ends_with(format!("shoal_{}.ports", std::process::id())));
        let listed = Ports {
            nats: ("127.0.0.1:1".parse().unwrap(), false),
            monitoring: None,
            cluster: None,
            websocket: None,
        };
        write_ports_file(&ports, &listed).unwrap();
        remove_ports_file(&ports).unwrap();
        assert!(remove_ports_file(&ports)
            .unwrap_err()
            .ends_with(": no such file or directory"));
        let missing = Path::new("/nonexistent-shoal-dir/pid");
        assert_eq!(
            write_pid_file(missing).unwrap_err(),
            "Could not write pidfile: open /nonexistent-shoal-dir/pid: no such file or directory"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
