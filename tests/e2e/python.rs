//! The stock Python client, nats-py, against Shoal: the script in tests/py does
//! pub/sub, a queue group, request/reply, headers and no-responders. nats-py is
//! installed from PyPI into the cargo temp dir on first use.

use std::path::Path;
use std::process::Command;

use crate::util::{pip_install, shoal};

#[test]
fn nats_py_smoke() {
    let has_nats = |dir: &Path| {
        Command::new("python3")
            .args(["-c", "import nats"])
            .env("PYTHONPATH", dir)
            .status()
            .is_ok_and(|s| s.success())
    };
    let deps = pip_install("nats-py==2.16.0", "py-deps", &has_nats);
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
