//! The stock Python client, nats-py, against Shoal: the script in tests/py does
//! pub/sub, a queue group, request/reply, headers and no-responders. nats-py is
//! installed from PyPI into the cargo temp dir on first use.

use std::path::Path;
use std::process::Command;

use crate::util::{pip_install, shoal};

/// nats-py, installed once from PyPI into the cargo temp dir.
fn nats_py() -> std::path::PathBuf {
    let has_nats = |dir: &Path| {
        Command::new("python3")
            .args(["-c", "import nats"])
            .env("PYTHONPATH", dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    pip_install("nats-py==2.16.0", "py-deps", &has_nats)
}

#[test]
fn nats_py_smoke() {
    let deps = nats_py();
    let s = shoal(&["--cores", "2"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/nats_py_smoke.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(format!("nats://127.0.0.1:{}", s.port))
        .env("PYTHONPATH", &deps)
        .output()
        .expect("running python3");
    assert!(
        out.status.success(),
        "nats-py smoke failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// nats-py, given one node of a two-node Shoal cluster, learns the other
/// from INFO and fails over to it when the first is killed.
#[test]
fn nats_py_fails_over_within_a_cluster() {
    use std::io::{BufRead, BufReader, Write};
    let deps = nats_py();
    let a = crate::cluster::node(crate::cluster::Kind::Shoal, &[], &[]);
    let b = crate::cluster::node(
        crate::cluster::Kind::Shoal,
        &[crate::cluster::route_port(&a)],
        &[],
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/nats_py_failover.py");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(format!("nats://127.0.0.1:{}", a.port))
        .arg(format!("nats://127.0.0.1:{}", b.port))
        .env("PYTHONPATH", &deps)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running python3");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    if line.trim() == "READY" {
        drop(a); // killed
        writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        status.success() && rest.contains("OK"),
        "nats-py failover failed: {line}{rest}\n{err}"
    );
}
