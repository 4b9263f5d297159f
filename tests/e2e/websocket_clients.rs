//! Real WebSocket clients against Shoal's WebSocket listener, each run
//! beside nats-server 2.15 with the same script: nats.ws (the NATS
//! JavaScript client for browsers) under Node, and a page in headless
//! Chromium that uses nats.ws. The npm packages are installed into the
//! cargo temp dir on first use; Chromium is the system's (`test.sh`
//! installs it with `tests/js/install-chromium.sh`).

use std::path::Path;
use std::process::Command;

use crate::cluster::Kind;
use crate::util::npm_install;
use crate::websocket::{server, ws_port};

const PACKAGES: &[&str] = &["nats.ws@1.30.3", "ws@8.18.3", "puppeteer-core@24.31.0"];

fn run_script(script: &str, url: &str, deps: &Path) -> String {
    let path = format!("{}/tests/js/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("node")
        .arg(&path)
        .arg(url)
        .env("JS_DEPS", deps)
        .output()
        .expect("running node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{script} against {url}: {text}");
    assert!(text.starts_with("ok"), "{script} against {url}: {text}");
    text
}

#[test]
fn nats_ws_under_node() {
    let deps = npm_install(PACKAGES, "js-deps");
    for ws in ["no_tls: true", "no_tls: true\n  compression: true"] {
        for kind in [Kind::Shoal, Kind::Nats] {
            let p = server(kind, ws, "");
            run_script(
                "nats_ws_smoke.mjs",
                &format!("ws://127.0.0.1:{}", ws_port(&p)),
                &deps,
            );
        }
    }
}

#[test]
fn a_page_in_headless_chromium() {
    let deps = npm_install(PACKAGES, "js-deps");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "no /usr/bin/chromium: tests/js/install-chromium.sh installs it"
    );
    for ws in ["no_tls: true", "no_tls: true\n  compression: true"] {
        for kind in [Kind::Shoal, Kind::Nats] {
            let p = server(kind, ws, "");
            let out = run_script(
                "browser.mjs",
                &format!("ws://127.0.0.1:{}", ws_port(&p)),
                &deps,
            );
            assert!(out.contains("HeadlessChrome"), "{out}");
        }
    }
}
