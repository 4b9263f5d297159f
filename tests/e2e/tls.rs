//! TLS for clients, end to end, against Shoal and nats-server 2.15 side by
//! side: certificates made at test time (rcgen: a CA, a server certificate
//! for 127.0.0.1/localhost, client certificates from that CA and from
//! another), a rustls client that reads the clear-text INFO and upgrades (or
//! does TLS first), and the exact bytes after the handshake; every failure
//! path (clear text, garbage, a stalled ClientHello, a missing or foreign
//! client certificate, an unpinned key) followed by a good client on the same
//! core; verify_and_map; the monitoring fields; a reload with new files;
//! configuration errors in nats-server's words; async-nats over `tls://`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

use crate::monitor::{get, http_port};
use crate::util::{escape, nats_server_conf, shoal_conf, temp_path, Raw, ServerProc};

const DEADLINE: Duration = Duration::from_secs(10);

/// A certificate authority made for one test.
pub struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
    pub pem: PathBuf,
}

/// A certificate and its key, as PEM files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub der: Vec<u8>,
}

impl Ca {
    pub fn new(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        let pem = temp_path("pem");
        std::fs::write(&pem, cert.pem()).unwrap();
        Ca { cert, key, pem }
    }

    /// The server's certificate: 127.0.0.1 and localhost.
    pub fn server(&self) -> Pair {
        self.leaf(
            &[(DnType::CommonName, "localhost")],
            vec![
                SanType::DnsName("localhost".try_into().unwrap()),
                SanType::IpAddress("127.0.0.1".parse().unwrap()),
            ],
            vec![ExtendedKeyUsagePurpose::ServerAuth],
        )
    }

    /// A cluster node's certificate (127.0.0.1 and localhost): a server's
    /// and a client's at once, as routes present it both ways.
    pub fn node(&self) -> Pair {
        self.node_with(vec![])
    }

    /// The same with more SANs (an e-mail name for `verify_and_map`).
    pub fn node_with(&self, more: Vec<SanType>) -> Pair {
        let mut sans = vec![
            SanType::DnsName("localhost".try_into().unwrap()),
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
        ];
        sans.extend(more);
        self.leaf(
            &[(DnType::CommonName, "node")],
            sans,
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        )
    }

    /// A client certificate with this subject and these SANs.
    pub fn client(&self, dn: &[(DnType, &str)], sans: Vec<SanType>) -> Pair {
        self.leaf(dn, sans, vec![ExtendedKeyUsagePurpose::ClientAuth])
    }

    fn leaf(
        &self,
        dn: &[(DnType, &str)],
        sans: Vec<SanType>,
        eku: Vec<ExtendedKeyUsagePurpose>,
    ) -> Pair {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        for (t, v) in dn {
            p.distinguished_name.push(t.clone(), *v);
        }
        p.subject_alt_names = sans;
        p.extended_key_usages = eku;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        let (c, k) = (temp_path("pem"), temp_path("pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        Pair {
            cert: c,
            key: k,
            der: cert.der().to_vec(),
        }
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A `tls {}` block for the server pair, plus `extra` lines inside it.
pub fn tls_block(srv: &Pair, extra: &str) -> String {
    format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  {extra}\n}}\n",
        s(&srv.cert),
        s(&srv.key)
    )
}

/// A rustls client configuration trusting `ca`, with a client certificate.
pub fn client_config(ca: &Ca, me: Option<&Pair>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert.der().to_vec()))
        .unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match me {
        None => b.with_no_client_auth(),
        Some(p) => {
            let key = PrivateKeyDer::from_pem_file(&p.key).unwrap();
            b.with_client_auth_cert(vec![CertificateDer::from(p.der.clone())], key)
                .unwrap()
        }
    };
    Arc::new(cfg)
}

use rustls::pki_types::pem::PemObject;

/// A client speaking TLS to a server.
pub struct TlsRaw {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    buf: Vec<u8>,
}

/// How a read ended without the wanted bytes.
#[derive(Debug)]
pub enum End {
    Closed,
    TimedOut,
}

impl TlsRaw {
    /// Reads the clear-text INFO, then upgrades.
    pub fn connect(port: u16, cfg: Arc<rustls::ClientConfig>) -> (TlsRaw, Value) {
        let (raw, info) = Raw::connect(port);
        let (sock, rest) = raw.into_parts();
        assert!(rest.is_empty(), "bytes after INFO: {}", escape(&rest));
        (TlsRaw::upgrade(sock, cfg), info)
    }

    /// TLS at once (handshake_first), then the encrypted INFO.
    pub fn connect_first(port: u16, cfg: Arc<rustls::ClientConfig>) -> (TlsRaw, Value) {
        let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut t = TlsRaw::upgrade(sock, cfg);
        let line = t.read_until(b"\r\n").expect("an INFO");
        (t, info_json(&line))
    }

    pub fn upgrade(sock: TcpStream, cfg: Arc<rustls::ClientConfig>) -> TlsRaw {
        sock.set_nodelay(true).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let conn = rustls::ClientConnection::new(cfg, name).unwrap();
        TlsRaw {
            tls: rustls::StreamOwned::new(conn, sock),
            buf: Vec::new(),
        }
    }

    /// Completes the handshake (the client's first write would, too);
    /// a refusal comes back as the error.
    pub fn handshake(&mut self) -> std::io::Result<()> {
        self.tls.sock.set_read_timeout(Some(DEADLINE)).unwrap();
        while self.tls.conn.is_handshaking() {
            self.tls.conn.complete_io(&mut self.tls.sock)?;
        }
        Ok(())
    }

    pub fn send(&mut self, b: &[u8]) {
        self.tls.write_all(b).unwrap();
        self.tls.flush().unwrap();
    }

    /// Reads until `want` has arrived; returns everything up to its end.
    pub fn read_until(&mut self, want: &[u8]) -> Result<Vec<u8>, End> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(at) = self.buf.windows(want.len()).position(|w| w == want) {
                return Ok(self.buf.drain(..at + want.len()).collect());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(End::TimedOut);
            }
            self.tls.sock.set_read_timeout(Some(left)).unwrap();
            let mut chunk = [0u8; 65536];
            match self.tls.read(&mut chunk) {
                Ok(0) => return Err(End::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(End::TimedOut)
                }
                Err(_) => return Err(End::Closed),
            }
        }
    }

    /// CONNECT, PING, and the PONG back.
    pub fn login(&mut self, connect: &str) -> Vec<u8> {
        self.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
        match self.read_until(b"\r\n") {
            Ok(l) => l,
            Err(e) => panic!("no answer to CONNECT: {e:?}"),
        }
    }

    /// Whether the server refuses this client: its handshake fails, or (in
    /// TLS 1.3, where the client learns of a refused certificate only at
    /// its first read) nothing comes back for its CONNECT and PING.
    pub fn refused(&mut self) -> bool {
        self.handshake().is_err() || {
            self.send(b"CONNECT {}\r\nPING\r\n");
            self.read_until(b"PONG\r\n").is_err()
        }
    }

    /// A full round trip on a logged-in connection.
    pub fn ping_pong(&mut self) {
        self.send(b"PING\r\n");
        self.read_until(b"PONG\r\n").expect("PONG");
    }
}

fn info_json(line: &[u8]) -> Value {
    let json = line
        .strip_prefix(b"INFO ")
        .unwrap_or_else(|| panic!("not INFO: {}", escape(line)));
    serde_json::from_slice(json.trim_ascii_end()).unwrap()
}

/// Shoal and nats-server with the same configuration (one core, monitoring).
fn pair(conf: &str) -> (ServerProc, ServerProc) {
    (
        shoal_conf(conf, &["--cores", "1", "-m", "-1"]),
        nats_server_conf(conf, &["-m", "-1"]),
    )
}

/// The conversation after the handshake, byte for byte.
const OPS: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":true,\"headers\":true}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n";

#[test]
fn info_first_then_the_handshake_like_nats_server() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let (shoal, nats) = pair(&tls_block(&srv, ""));
    let cfg = client_config(&ca, None);
    let mut replies = Vec::new();
    for p in [&shoal, &nats] {
        let (mut c, info) = TlsRaw::connect(p.port, cfg.clone());
        assert_eq!(info["tls_required"], true, "{info}");
        assert!(info.get("tls_verify").is_none() && info.get("tls_available").is_none());
        c.send(OPS);
        replies.push(c.read_until(b"PONG\r\n").unwrap());
        let conns = get(http_port(p), "/connz").json();
        let c0 = &conns["connections"][0];
        assert_eq!(c0["tls_version"], "1.3", "{c0}");
        assert_eq!(c0["tls_cipher_suite"], "TLS_AES_128_GCM_SHA256", "{c0}");
        let varz = get(http_port(p), "/varz").json();
        assert_eq!(varz["tls_required"], true);
        assert_eq!(varz["tls_timeout"], 2);
        assert!(varz.get("tls_verify").is_none());
    }
    assert_eq!(escape(&replies[0]), escape(&replies[1]));
    assert_eq!(
        replies[0],
        b"MSG foo 1 5\r\nhello\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n"
    );
    assert!(shoal.wait_for_log("TLS required for client connections", DEADLINE));
}

/// What a connection sees before the server closes it: nothing after INFO.
fn closed_without_a_word(mut c: Raw) {
    c.expect_closed();
}

#[test]
fn clear_text_garbage_and_a_stalled_hello_close_only_that_connection() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let (shoal, nats) = pair(&tls_block(&srv, "timeout: 0.5"));
    let cfg = client_config(&ca, None);
    for p in [&shoal, &nats] {
        let (mut good, _) = TlsRaw::connect(p.port, cfg.clone());
        good.login("{\"verbose\":false}");
        // A clear-text CONNECT: closed at once, no NATS line, no alert.
        let (mut plain, _) = Raw::connect(p.port);
        plain.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        closed_without_a_word(plain);
        good.ping_pong();
        // A record header and garbage: closed (an alert may come, no NATS line).
        let (mut junk, _) = Raw::connect(p.port);
        junk.send(&[0x16, 3, 1, 0, 8, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
        let got = junk.read_until_closed(DEADLINE);
        assert!(
            !got.starts_with(b"-ERR") && !got.contains(&b'\n'),
            "{}",
            escape(&got)
        );
        good.ping_pong();
        // Three bytes of a ClientHello, then nothing: closed at the TLS timeout.
        let (mut slow, _) = Raw::connect(p.port);
        slow.send(&[0x16, 3, 1]);
        let t = Instant::now();
        let got = slow.read_until_closed(DEADLINE);
        assert!(
            t.elapsed() >= Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
        assert!(!got.contains(&b'\n'), "{}", escape(&got));
        good.ping_pong();
        // nats-server files them as TLS Handshake Failure.
        let port = http_port(p);
        let deadline = Instant::now() + DEADLINE;
        let closed = loop {
            let c = get(port, "/connz?state=closed").json();
            if c["connections"].as_array().unwrap().len() >= 3 || Instant::now() > deadline {
                break c;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let reasons: Vec<&str> = closed["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, ["TLS Handshake Failure"; 3], "{closed}");
    }
}

#[test]
fn handshake_first_and_its_fallback() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let cfg = client_config(&ca, None);
    let (shoal, nats) = pair(&tls_block(&srv, "handshake_first: true"));
    for p in [&shoal, &nats] {
        let (mut c, info) = TlsRaw::connect_first(p.port, cfg.clone());
        assert_eq!(info["tls_required"], true, "{info}");
        c.login("{\"verbose\":false}");
        let conns = get(http_port(p), "/connz").json();
        assert_eq!(conns["connections"][0]["tls_first"], true, "{conns}");
        // A client waiting for a clear-text INFO gets none.
        let mut plain = Raw::connect_no_info(p.port);
        let r = plain.fill(Instant::now() + Duration::from_millis(300));
        assert!(r.is_err(), "a clear-text INFO came");
        assert!(plain.take_buffered().is_empty());
    }
    assert!(shoal.wait_for_log(
        "Clients that are not using \"TLS Handshake First\" option will fail to connect",
        DEADLINE
    ));
    // With a fallback delay, a client that says nothing gets INFO in clear.
    let (shoal, nats) = pair(&tls_block(&srv, "handshake_first: \"100ms\""));
    for p in [&shoal, &nats] {
        let t = Instant::now();
        let (mut c, info) = TlsRaw::connect(p.port, cfg.clone());
        assert!(
            t.elapsed() >= Duration::from_millis(90),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(info["tls_required"], true, "{info}");
        c.login("{\"verbose\":false}");
        let (mut first, _) = TlsRaw::connect_first(p.port, cfg.clone());
        first.login("{\"verbose\":false}");
    }
}

#[test]
fn allow_non_tls_takes_both() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let conf = format!("allow_non_tls: true\n{}", tls_block(&srv, ""));
    let (shoal, nats) = pair(&conf);
    for p in [&shoal, &nats] {
        let (mut plain, info) = Raw::connect(p.port);
        assert_eq!(info["tls_available"], true, "{info}");
        assert!(info.get("tls_required").is_none(), "{info}");
        plain.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n");
        plain.expect(b"PONG\r\n");
        let (mut t, _) = TlsRaw::connect(p.port, client_config(&ca, None));
        t.login("{\"verbose\":false}");
        let varz = get(http_port(p), "/varz").json();
        assert!(varz.get("tls_required").is_none(), "{varz}");
    }
    assert!(shoal.wait_for_log("TLS available for client connections", DEADLINE));
}

#[test]
fn client_certificates_are_verified() {
    let ca = Ca::new("test ca");
    let other = Ca::new("other ca");
    let srv = ca.server();
    let good = ca.client(&[(DnType::CommonName, "app")], vec![]);
    let foreign = other.client(&[(DnType::CommonName, "app")], vec![]);
    let conf = tls_block(
        &srv,
        &format!("ca_file: \"{}\"\n  verify: true", s(&ca.pem)),
    );
    let (shoal, nats) = pair(&conf);
    let mut subjects = Vec::new();
    for p in [&shoal, &nats] {
        // No certificate, or one from another CA: refused.
        for me in [None, Some(&foreign)] {
            let (mut c, info) = TlsRaw::connect(p.port, client_config(&ca, me));
            assert_eq!(info["tls_verify"], true, "{info}");
            assert!(c.refused(), "a client without a good certificate got in");
        }
        let (mut c, _) = TlsRaw::connect(p.port, client_config(&ca, Some(&good)));
        c.login("{\"verbose\":false}");
        let conns = get(http_port(p), "/connz?auth=1").json();
        let certs = &conns["connections"][0]["tls_peer_certs"];
        assert_eq!(
            certs[0]["spki_sha256"].as_str().unwrap().len(),
            64,
            "{conns}"
        );
        subjects.push(certs.clone());
        let varz = get(http_port(p), "/varz").json();
        assert_eq!(varz["tls_verify"], true);
    }
    assert_eq!(subjects[0], subjects[1], "tls_peer_certs differ");
}

#[test]
fn verify_and_map_names_the_user() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let alice = ca.client(
        &[(DnType::CommonName, "alice")],
        vec![SanType::Rfc822Name("alice@example.com".try_into().unwrap())],
    );
    let bob = ca.client(
        &[
            (DnType::CountryName, "US"),
            (DnType::OrganizationName, "Acme"),
            (DnType::CommonName, "bob"),
        ],
        vec![],
    );
    let nobody = ca.client(&[(DnType::CommonName, "nobody")], vec![]);
    let conf = format!(
        "{}authorization {{ users: [\n  {{user: \"alice@example.com\", permissions: {{publish: \"a.>\"}}}}\n  {{user: \"CN=bob,O=Acme,C=US\"}}\n] }}\n",
        tls_block(&srv, &format!("ca_file: \"{}\"\n  verify_and_map: true", s(&ca.pem)))
    );
    let (shoal, nats) = pair(&conf);
    for p in [&shoal, &nats] {
        let (mut a, info) = TlsRaw::connect(p.port, client_config(&ca, Some(&alice)));
        assert_eq!(info["auth_required"], true, "{info}");
        assert_eq!(a.login("{\"verbose\":false}"), b"PONG\r\n");
        a.send(b"PUB b.x 1\r\nx\r\nPING\r\n");
        let got = a.read_until(b"PONG\r\n").unwrap();
        assert_eq!(
            escape(&got),
            escape(b"-ERR 'Permissions Violation for Publish to \"b.x\"'\r\nPONG\r\n")
        );
        let (mut b, _) = TlsRaw::connect(p.port, client_config(&ca, Some(&bob)));
        assert_eq!(
            b.login("{\"verbose\":false,\"user\":\"ignored\"}"),
            b"PONG\r\n"
        );
        let (mut n, _) = TlsRaw::connect(p.port, client_config(&ca, Some(&nobody)));
        assert_eq!(
            n.login("{\"verbose\":false}"),
            b"-ERR 'Authorization Violation'\r\n"
        );
        let conns = get(http_port(p), "/connz?auth=1").json();
        let mut users: Vec<&str> = conns["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["authorized_user"].as_str().unwrap_or(""))
            .collect();
        users.sort();
        assert_eq!(
            users,
            ["CN=bob,O=Acme,C=US", "alice@example.com"],
            "{conns}"
        );
    }
    assert!(!shoal
        .log()
        .iter()
        .any(|l| l.contains("Plaintext passwords")));
    // A mapped user of an account logs in to that account.
    let conf = format!(
        "{}accounts {{ A: {{ users: [{{user: \"alice@example.com\"}}] }} }}\n",
        tls_block(
            &srv,
            &format!("ca_file: \"{}\"\n  verify_and_map: true", s(&ca.pem))
        )
    );
    let (shoal, nats) = pair(&conf);
    for p in [&shoal, &nats] {
        let (mut a, _) = TlsRaw::connect(p.port, client_config(&ca, Some(&alice)));
        assert_eq!(a.login("{\"verbose\":false}"), b"PONG\r\n");
        let conns = get(http_port(p), "/connz?auth=1").json();
        assert_eq!(conns["connections"][0]["account"], "A", "{conns}");
    }
}

#[test]
fn pinned_certs_admit_only_their_keys() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let a = ca.client(&[(DnType::CommonName, "a")], vec![]);
    let b = ca.client(&[(DnType::CommonName, "b")], vec![]);
    let digest = {
        let conns_probe = shoal_tls::identity::spki_sha256(&a.der).unwrap();
        conns_probe
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let conf = tls_block(
        &srv,
        &format!(
            "ca_file: \"{}\"\n  verify: true\n  pinned_certs: [\"{digest}\"]",
            s(&ca.pem)
        ),
    );
    let (shoal, nats) = pair(&conf);
    for p in [&shoal, &nats] {
        let (mut ok, _) = TlsRaw::connect(p.port, client_config(&ca, Some(&a)));
        ok.login("{\"verbose\":false}");
        let (mut no, _) = TlsRaw::connect(p.port, client_config(&ca, Some(&b)));
        assert!(no.refused(), "an unpinned key got in");
        ok.ping_pong();
    }
    assert!(shoal.wait_for_log("TLS handshake error: certificate not pinned", DEADLINE));
}

#[test]
fn a_reload_brings_new_certificates_to_new_connections() {
    let ca = Ca::new("first ca");
    let next = Ca::new("second ca");
    let (one, two) = (ca.server(), next.server());
    let conf_path = temp_path("conf");
    std::fs::write(&conf_path, tls_block(&one, "")).unwrap();
    let p = crate::util::shoal(&["-c", s(&conf_path), "--cores", "1"]);
    let (mut old, _) = TlsRaw::connect(p.port, client_config(&ca, None));
    old.login("{\"verbose\":false}");
    // The same paths, new files (a rotation).
    std::fs::copy(&two.cert, &one.cert).unwrap();
    std::fs::copy(&two.key, &one.key).unwrap();
    p.signal(libc::SIGHUP);
    assert!(
        p.wait_for_log("Reloaded: tls = enabled", DEADLINE),
        "{:?}",
        p.log()
    );
    let (mut new, _) = TlsRaw::connect(p.port, client_config(&next, None));
    new.login("{\"verbose\":false}");
    let (mut stale, _) = TlsRaw::connect(p.port, client_config(&ca, None));
    assert!(
        stale.handshake().is_err(),
        "the old certificate is still served"
    );
    old.ping_pong();
}

/// `-t` with each bad `tls` block: the same message as nats-server's.
#[test]
fn configuration_errors_in_nats_server_words() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let (c, k) = (s(&srv.cert), s(&srv.key));
    let cases = [
        format!("tls {{ cert_file: \"{c}\" }}"),
        format!("tls {{ key_file: \"{k}\" }}"),
        format!("tls {{ cert_file: \"/nonexistent/c.pem\", key_file: \"{k}\" }}"),
        format!("tls {{ cert_file: \"{k}\", key_file: \"{k}\" }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", ca_file: \"{k}\" }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", bogus: 1 }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", cipher_suites: [] }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", cipher_suites: [\"NOPE\"] }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", curve_preferences: [\"CurveX\"] }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", min_version: \"1.1\" }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", handshake_first: \"sometimes\" }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", verify: \"yes\" }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", timeout: true }}"),
        format!("tls {{ cert_file: \"{c}\", key_file: \"{k}\", pinned_certs: [\"abc\"] }}"),
        format!(
            "tls {{ cert_file: \"{c}\", key_file: \"{k}\", cipher_suites: [\"TLS_RSA_WITH_RC4_128_SHA\"] }}"
        ),
    ];
    let mut diffs = Vec::new();
    for conf in cases {
        let path = temp_path("conf");
        std::fs::write(&path, &conf).unwrap();
        let out = |bin: &Path| {
            let o = std::process::Command::new(bin)
                .args(["-t", "-c", s(&path)])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stderr).replace(s(&path), "F");
            (
                o.status.success(),
                text.trim()
                    .replace("nats-server: ", "")
                    .replace("shoal: ", ""),
            )
        };
        let shoal = out(Path::new(env!("CARGO_BIN_EXE_shoal")));
        let nats = out(crate::util::reference_bin());
        if shoal != nats {
            diffs.push(format!("{conf}\n  shoal: {shoal:?}\n  nats:  {nats:?}"));
        }
    }
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}

#[test]
fn flags_like_nats_server() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let shoal = crate::util::shoal(&[
        "--tlscert",
        s(&srv.cert),
        "--tlskey",
        s(&srv.key),
        "--cores",
        "1",
    ]);
    let (mut c, info) = TlsRaw::connect(shoal.port, client_config(&ca, None));
    assert_eq!(info["tls_required"], true);
    c.login("{\"verbose\":false}");
    let off = crate::util::shoal(&["--tlscert", s(&srv.cert), "-tls=false"]);
    let (_, info) = Raw::connect(off.port);
    assert!(info.get("tls_required").is_none(), "{info}");
    for (args, want) in [
        (
            vec!["--tls"],
            "TLS Server certificate must be present and valid",
        ),
        (
            vec!["--tlscert", s(&srv.cert)],
            "TLS Server private key must be present and valid",
        ),
    ] {
        for bin in [
            Path::new(env!("CARGO_BIN_EXE_shoal")),
            crate::util::reference_bin(),
        ] {
            let o = std::process::Command::new(bin)
                .args(["-a", "127.0.0.1", "-p", "-1"])
                .args(&args)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&o.stderr);
            assert!(text.contains(want), "{} {args:?}: {text}", bin.display());
            assert!(!o.status.success());
        }
    }
}

#[test]
fn async_nats_over_tls_with_a_client_certificate() {
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let me = ca.client(&[(DnType::CommonName, "app")], vec![]);
    let conf = tls_block(
        &srv,
        &format!("ca_file: \"{}\"\n  verify: true", s(&ca.pem)),
    );
    let p = shoal_conf(&conf, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let nc = async_nats::ConnectOptions::new()
            .require_tls(true)
            .add_root_certificates(ca.pem.clone())
            .add_client_certificate(me.cert.clone(), me.key.clone())
            .connect(format!("tls://localhost:{}", p.port))
            .await
            .expect("async-nats connects over TLS");
        let mut sub = nc.subscribe("t.>").await.unwrap();
        let big = vec![7u8; 200_000];
        nc.publish("t.small", "hi".into()).await.unwrap();
        nc.publish("t.big", big.clone().into()).await.unwrap();
        nc.flush().await.unwrap();
        use futures::StreamExt;
        let a = sub.next().await.unwrap();
        let b = sub.next().await.unwrap();
        assert_eq!(&a.payload[..], b"hi");
        assert_eq!(b.payload.len(), big.len());
        assert!(b.payload.iter().all(|&x| x == 7));
    });
    // handshake_first: async-nats's tls_first.
    let conf = tls_block(&srv, "handshake_first: true");
    let p = shoal_conf(&conf, &[]);
    rt.block_on(async {
        let nc = async_nats::ConnectOptions::new()
            .require_tls(true)
            .tls_first()
            .add_root_certificates(ca.pem.clone())
            .connect(format!("tls://localhost:{}", p.port))
            .await
            .expect("async-nats connects with TLS first");
        let rep = nc.request("nobody", "x".into()).await;
        assert!(rep.is_err(), "no responders");
    });
}

/// 100 clients do their TLS handshakes at once on a one-core server while a
/// TLS client on that core publishes to itself and waits for each message
/// and a PONG. Each handshake flight is processed when it arrives, between
/// the core's other tasks: the pair's longest round trip stays a small part
/// of the storm.
#[test]
fn a_handshake_storm_does_not_stall_the_core() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ca = Ca::new("test ca");
    let srv = ca.server();
    let p = shoal_conf(&tls_block(&srv, "timeout: 10"), &["--cores", "1"]);
    let port = p.port;
    let cfg = client_config(&ca, None);
    let (mut pair, _) = TlsRaw::connect(port, cfg.clone());
    pair.login("{\"verbose\":false}");
    pair.send(b"SUB flow 1\r\nPING\r\n");
    pair.read_until(b"PONG\r\n").unwrap();
    let over = Arc::new(AtomicBool::new(false));
    let flow = {
        let over = over.clone();
        std::thread::spawn(move || {
            let (mut longest, mut trips) = (Duration::ZERO, 0u64);
            while !over.load(Ordering::Relaxed) {
                let t = Instant::now();
                pair.send(b"PUB flow 1\r\nx\r\nPING\r\n");
                let got = pair.read_until(b"PONG\r\n").unwrap();
                assert_eq!(got, b"MSG flow 1 1\r\nx\r\nPONG\r\n");
                longest = longest.max(t.elapsed());
                trips += 1;
            }
            (longest, trips)
        })
    };
    // Four clients at a time (a client's side of a handshake costs about
    // what the server's does: more threads would measure this machine's
    // scheduler, not the server's core).
    let started = Instant::now();
    let storm: Vec<_> = (0..4)
        .map(|_| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                (0..25)
                    .map(|_| {
                        let (mut c, _) = TlsRaw::connect(port, cfg.clone());
                        c.login("{\"verbose\":false}");
                        c
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let conns: Vec<TlsRaw> = storm.into_iter().flat_map(|t| t.join().unwrap()).collect();
    let took = started.elapsed();
    over.store(true, Ordering::Relaxed);
    let (longest, trips) = flow.join().unwrap();
    eprintln!(
        "TLS storm: 100 handshakes and logins in {took:?}; the pair made {trips} round trips, the longest {longest:?}"
    );
    assert_eq!(conns.len(), 100);
    assert!(trips > 10, "only {trips} round trips during {took:?}");
    assert!(
        longest < took / 2,
        "the pair stalled for {longest:?} of {took:?}"
    );
}
