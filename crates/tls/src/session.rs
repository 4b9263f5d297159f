//! One connection's TLS state: rustls's connection — the server side, or
//! the client side of a route this server dialled — behind the few calls a
//! connection's reader and writer make. Sans-IO: ciphertext comes in
//! as bytes the reader received and goes out through an `io::Write` the
//! writer supplies (its non-blocking `sendmsg`), so this file never sees a
//! socket and never waits.
//!
//! The writer hands over a whole wake-up's queue at once
//! ([`Session::encrypt`]): rustls cuts it into records of up to 16 KiB that
//! span message boundaries, so a hundred small messages cost one record, one
//! seal and one allocation, and [`Session::write_tls`] gives every pending
//! record to one vectored write.
//!
//! Owned by the connection's core; shared by its reader and writer through
//! the connection (they never hold it across an await).

use std::io::{self, IoSlice, Read, Write};

use bytes::BytesMut;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, Connection, ServerConnection};

use crate::{ClientConfig, ServerConfig};

/// The first byte of a TLS handshake record.
const HANDSHAKE_RECORD: u8 = 0x16;

/// Why a handshake (or a later record) failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// The first bytes are not a TLS record (a plain-text client): closed
    /// without an alert, as Go closes it.
    NotTls,
    /// rustls refused what the peer sent (an alert is queued for it).
    Tls(rustls::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Go's text, which nats-server logs (at debug: a probe).
            HandshakeError::NotTls => {
                f.write_str("tls: first record does not look like a TLS handshake")
            }
            HandshakeError::Tls(e) => write!(f, "{e}"),
        }
    }
}

/// What the monitoring pages show of a connection's TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionInfo {
    /// `1.2` or `1.3`, as nats-server's `tlsVersion` prints it.
    pub version: String,
    /// Go's name of the suite (`TLS_AES_128_GCM_SHA256`).
    pub cipher: String,
    /// The client's certificates, leaf first (DER).
    pub peer_certs: Vec<Vec<u8>>,
    /// Their `/connz` summaries, in the same order.
    pub peers: Vec<crate::identity::PeerCert>,
}

/// See the module header.
pub struct Session {
    /// The server side (an accepted connection) or the client side (a
    /// route this server dialled).
    conn: Connection,
    /// No byte has been fed yet (the first one decides [`HandshakeError::NotTls`]).
    fresh: bool,
    /// The peer sent close_notify.
    closed: bool,
}

impl Session {
    pub fn new(config: &ServerConfig) -> Session {
        let conn =
            ServerConnection::new(config.clone()).expect("a server config makes a connection");
        Session {
            conn: Connection::Server(conn),
            fresh: true,
            closed: false,
        }
    }

    /// The client side of a connection this server dialled, verifying the
    /// peer as `name` (a host name or an IP address). Its ClientHello is
    /// queued at once ([`Session::wants_write`]).
    pub fn client(config: &ClientConfig, name: ServerName<'static>) -> Session {
        let conn = ClientConnection::new(config.clone(), name)
            .expect("a client config makes a connection");
        Session {
            conn: Connection::Client(conn),
            fresh: true,
            closed: false,
        }
    }

    /// Still handshaking.
    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The peer has closed its side (close_notify received).
    pub fn peer_closed(&self) -> bool {
        self.closed
    }

    /// Records (handshake messages, alerts, data) wait to be written.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Ciphertext the reader received: fed to rustls, records processed, and
    /// any plaintext they carry appended to `plain`. Returns the plaintext
    /// byte count. A handshake that fails leaves its alert queued (see
    /// [`Session::wants_write`]) except for a first record that is not TLS.
    pub fn feed(
        &mut self,
        mut cipher: &[u8],
        plain: &mut BytesMut,
    ) -> Result<usize, HandshakeError> {
        if self.fresh && !cipher.is_empty() {
            self.fresh = false;
            if cipher[0] != HANDSHAKE_RECORD {
                return Err(HandshakeError::NotTls);
            }
        }
        let mut got = 0;
        // Each round reads at most one buffer's worth, processes it and
        // drains its plaintext, so rustls's buffers never fill.
        while !cipher.is_empty() {
            match self.conn.read_tls(&mut cipher) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(HandshakeError::Tls(rustls::Error::General(e.to_string()))),
            }
            let state = self
                .conn
                .process_new_packets()
                .map_err(HandshakeError::Tls)?;
            if state.peer_has_closed() {
                self.closed = true;
            }
            got += self.drain(plain, state.plaintext_bytes_to_read())?;
        }
        Ok(got)
    }

    /// Moves the `n` plaintext bytes rustls holds to the end of `plain`
    /// (only those bytes are zeroed first: no big memset per record).
    fn drain(&mut self, plain: &mut BytesMut, n: usize) -> Result<usize, HandshakeError> {
        if n == 0 {
            return Ok(0);
        }
        let at = plain.len();
        plain.resize(at + n, 0);
        let mut got = 0;
        while got < n {
            match self.conn.reader().read(&mut plain[at + got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    plain.truncate(at + got);
                    return Err(HandshakeError::Tls(rustls::Error::General(e.to_string())));
                }
            }
        }
        plain.truncate(at + got);
        Ok(got)
    }

    /// Takes plaintext to send: as much of `slices` as rustls's outgoing
    /// buffer has room for (it is bounded, so a slow reader's backlog stays
    /// in the connection's own queue where `max_pending` sees it). Returns
    /// the bytes taken.
    pub fn encrypt(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        self.conn.writer().write_vectored(slices)
    }

    /// Writes pending records to `w` (one vectored write per call).
    pub fn write_tls(&mut self, w: &mut dyn Write) -> io::Result<usize> {
        self.conn.write_tls(w)
    }

    /// Queues close_notify.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// Version, suite and peer certificates, once the handshake is done.
    pub fn info(&self) -> SessionInfo {
        let version = match self.conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "1.2",
            _ => "",
        };
        let cipher = self
            .conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .map(|n| n.replace("TLS13_", "TLS_"))
            .unwrap_or_default();
        let peer_certs: Vec<Vec<u8>> = self
            .conn
            .peer_certificates()
            .map(|cs| cs.iter().map(|c| c.as_ref().to_vec()).collect())
            .unwrap_or_default();
        let peers = peer_certs
            .iter()
            .map(|c| crate::identity::peer_cert(c))
            .collect();
        SessionInfo {
            version: version.to_string(),
            cipher,
            peer_certs,
            peers,
        }
    }
}

/// Every pending record, as bytes (tests' in-memory peer).
#[cfg(test)]
fn to_vec(s: &mut Session) -> Vec<u8> {
    let mut out = Vec::new();
    while s.wants_write() {
        if s.write_tls(&mut out).is_err() {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use rcgen::CertifiedKey;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    fn server() -> (ServerConfig, CertificateDer<'static>) {
        let CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let der = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap();
        (Arc::new(cfg), der)
    }

    fn client(ca: CertificateDer<'static>) -> rustls::ClientConnection {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).unwrap();
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from("localhost").unwrap())
            .unwrap()
    }

    fn client_out(c: &mut rustls::ClientConnection) -> Vec<u8> {
        let mut out = Vec::new();
        while c.wants_write() {
            c.write_tls(&mut out).unwrap();
        }
        out
    }

    #[test]
    fn a_handshake_then_many_messages_in_few_records() {
        let (cfg, ca) = server();
        let mut s = Session::new(&cfg);
        let mut c = client(ca);
        let mut plain = BytesMut::new();
        for _ in 0..4 {
            let hello = client_out(&mut c);
            if !hello.is_empty() {
                s.feed(&hello, &mut plain).unwrap();
            }
            let back = to_vec(&mut s);
            if !back.is_empty() {
                c.read_tls(&mut &back[..]).unwrap();
                c.process_new_packets().unwrap();
            }
        }
        assert!(!s.handshaking() && !c.is_handshaking());
        assert_eq!(s.info().version, "1.3");
        assert!(s.info().cipher.starts_with("TLS_"), "{}", s.info().cipher);

        // 200 messages of 128 bytes in one call: records of up to 16 KiB.
        let msg = [b'x'; 128];
        let slices: Vec<IoSlice> = (0..200).map(|_| IoSlice::new(&msg)).collect();
        let mut taken = 0;
        while taken < 200 * 128 {
            let n = s.encrypt(&slices[taken / 128..]).unwrap();
            assert!(n > 0);
            taken += n;
        }
        let wire = to_vec(&mut s);
        let records = count_records(&wire);
        assert!(records <= 3, "{records} records for 25,600 bytes");
        let (mut rest, mut got) = (&wire[..], Vec::new());
        while !rest.is_empty() {
            c.read_tls(&mut rest).unwrap();
            c.process_new_packets().unwrap();
            c.reader().read_to_end(&mut got).ok();
        }
        assert_eq!(got.len(), 200 * 128);

        // The client's data comes out as plaintext.
        c.writer().write_all(b"PING\r\n").unwrap();
        let rec = client_out(&mut c);
        plain.clear();
        assert_eq!(s.feed(&rec, &mut plain).unwrap(), 6);
        assert_eq!(&plain[..], b"PING\r\n");
    }

    fn count_records(mut wire: &[u8]) -> usize {
        let mut n = 0;
        while wire.len() >= 5 {
            let len = u16::from_be_bytes([wire[3], wire[4]]) as usize;
            wire = &wire[5 + len..];
            n += 1;
        }
        n
    }

    #[test]
    fn plain_text_is_not_tls() {
        let (cfg, _) = server();
        let mut s = Session::new(&cfg);
        let mut plain = BytesMut::new();
        assert!(matches!(
            s.feed(b"CONNECT {}\r\n", &mut plain),
            Err(HandshakeError::NotTls)
        ));
    }

    #[test]
    fn garbage_after_a_record_header_is_a_tls_error() {
        let (cfg, _) = server();
        let mut s = Session::new(&cfg);
        let mut plain = BytesMut::new();
        let r = s.feed(&[0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5], &mut plain);
        assert!(matches!(r, Err(HandshakeError::Tls(_))), "{r:?}");
    }
}
