//! Operator mode end to end, against nats-server 2.15 side by side: the
//! same operator, accounts and users (minted here with the v2 format
//! nats-io/jwt writes, by `shoal_auth::jwt::encode`), the same CONNECTs,
//! and the bytes each server sends back compared; the start-up checks'
//! messages compared; JWT expiry closing a connection; and a real client
//! (async-nats) logging in with a creds file.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nkeys::KeyPair;
use serde_json::{json, Value};
use shoal_auth::jwt;

use crate::util::{escape, nats_server_conf, shoal_conf, temp_path, Raw, ServerProc};

const DEADLINE: Duration = Duration::from_secs(10);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claim(sub: &str, name: &str, kind: &str, nats: Value) -> Value {
    let mut n = nats;
    n["type"] = json!(kind);
    n["version"] = json!(2);
    json!({"jti": format!("J{name}"), "iat": now() - 60, "sub": sub, "name": name, "nats": n})
}

fn unlimited() -> Value {
    json!({"subs": -1, "data": -1, "payload": -1, "conn": -1, "leaf": -1,
           "imports": -1, "exports": -1, "wildcards": true})
}

/// An operator, its accounts and their users.
struct World {
    op: KeyPair,
    accounts: Vec<(KeyPair, String)>,
}

impl World {
    fn new(accounts: &[Value]) -> World {
        let op = KeyPair::new_operator();
        let accounts = accounts
            .iter()
            .enumerate()
            .map(|(i, nats)| {
                let kp = KeyPair::new_account();
                let c = claim(
                    &kp.public_key(),
                    &format!("acc{i}"),
                    "account",
                    nats.clone(),
                );
                let token = jwt::encode(&c, &op);
                (kp, token)
            })
            .collect();
        World { op, accounts }
    }

    fn conf(&self, extra: &str) -> String {
        let op = jwt::encode(
            &claim(&self.op.public_key(), "op", "operator", json!({})),
            &self.op,
        );
        let mut out = format!("operator: \"{op}\"\nresolver: MEMORY\nresolver_preload: {{\n");
        for (kp, token) in &self.accounts {
            out.push_str(&format!("  {}: \"{token}\"\n", kp.public_key()));
        }
        out.push_str("}\n");
        out.push_str(extra);
        out
    }
}

/// A user JWT for `user`, signed by `signer`, with `nats` as its user
/// fields and `top` merged into the claim (`exp`, `nbf`).
fn user_jwt(user: &KeyPair, signer: &KeyPair, nats: Value, top: Value) -> String {
    let c = with(claim(&user.public_key(), "u", "user", nats), top);
    jwt::encode(&c, signer)
}

fn full_limits() -> Value {
    json!({"subs": -1, "data": -1, "payload": -1})
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

/// One case: the user key that signs the nonce, and its JWT.
struct Case {
    user: KeyPair,
    token: String,
    /// Sign the nonce (false: send no `sig`).
    sign: bool,
    /// Send the CONNECT alone and read until the server closes (a login
    /// nats-server closes by itself: what it sends is racy otherwise).
    alone: bool,
}

fn cases(w: &World) -> Vec<Case> {
    let (a, _) = &w.accounts[0];
    let (b, _) = &w.accounts[1];
    let (nolimits, _) = &w.accounts[2];
    let mut out = Vec::new();
    let mut add = |signer: &KeyPair, nats: Value, top: Value, sign: bool| {
        let user = KeyPair::new_user();
        let token = user_jwt(&user, signer, nats, top);
        out.push(Case {
            user,
            token,
            sign,
            alone: false,
        });
    };
    let all = full_limits;
    // 0: a plain user of A (A limits subs to 2 and payloads to 8).
    add(a, all(), json!({}), true);
    // 1: no signature; 2: expired; 3: not yet valid.
    add(a, all(), json!({}), false);
    add(a, all(), json!({"exp": now() - 5}), true);
    add(a, all(), json!({"nbf": now() + 3600}), true);
    // 4: permissions of its own.
    let perms = json!({"pub": {"allow": ["p.>"]}, "sub": {"deny": ["s"]}});
    add(a, with(all(), perms), json!({}), true);
    // 5: a bearer token without a signature.
    add(
        a,
        with(all(), json!({"bearer_token": true})),
        json!({}),
        false,
    );
    // 6: websocket only; 7: from 10/8 only; 8: from loopback.
    let ws = json!({"allowed_connection_types": ["WEBSOCKET"]});
    add(a, with(all(), ws), json!({}), true);
    add(
        a,
        with(all(), json!({"src": ["10.0.0.0/8"]})),
        json!({}),
        true,
    );
    add(
        a,
        with(all(), json!({"src": "127.0.0.1/32"})),
        json!({}),
        true,
    );
    // 9: limits of its own, lower than A's; 10: no limits written (v2: 0).
    let low = json!({"subs": 1, "payload": 4, "data": -1});
    add(a, low, json!({}), true);
    add(a, json!({}), json!({}), true);
    // 11: a user of B, which has default permissions.
    add(b, all(), json!({}), true);
    // 12: a user of the account whose JWT writes no limits.
    add(nolimits, all(), json!({}), true);
    // 13: signed by a key the account does not have.
    add(&KeyPair::new_account(), all(), json!({}), true);
    // 14: connect times around now (UTC); 15: an hour from now, for a
    // second; 16: a zone the database does not know; 17: the same range in
    // the server's local time (no zone).
    let sod = now().rem_euclid(86_400);
    let times = |from: i64, to: i64, zone: &str| {
        let hms = |t: i64| {
            let t = t.rem_euclid(86_400);
            format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
        };
        let mut v = json!({"times": [{"start": hms(from), "end": hms(to)}]});
        if !zone.is_empty() {
            v["times_location"] = json!(zone);
        }
        with(all(), v)
    };
    add(a, times(sod - 3600, sod + 3600, "UTC"), json!({}), true);
    add(a, times(sod + 3600, sod + 3601, "UTC"), json!({}), true);
    add(
        a,
        times(sod - 3600, sod + 3600, "Nowhere/Atlantis"),
        json!({}),
        true,
    );
    add(a, times(sod - 3600, sod + 3600, ""), json!({}), true);
    out[10].alone = true;
    out[15].alone = true;
    out[16].alone = true;
    out
}

fn accounts() -> Vec<Value> {
    let a = with(unlimited(), json!({"subs": 2, "payload": 8}));
    vec![
        json!({ "limits": a }),
        json!({"limits": unlimited(), "default_permissions": {"pub": {"deny": ["p.>"]}}}),
        json!({}),
    ]
}

/// What each case's connection receives for the same ops.
fn conversations(s: &ServerProc, cases: &[Case]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let (mut c, info) = Raw::connect(s.port);
        assert_eq!(info["auth_required"], true, "{info}");
        let nonce = info["nonce"].as_str().expect("a nonce").to_string();
        let sig = if case.sign {
            let s = case.user.sign(nonce.as_bytes()).unwrap();
            format!(r#","sig":"{}""#, data_encoding::BASE64URL_NOPAD.encode(&s))
        } else {
            String::new()
        };
        if case.alone {
            c.send(format!("CONNECT {{\"jwt\":\"{}\"{sig}}}\r\n", case.token).as_bytes());
            let got = c.read_until_closed(DEADLINE);
            out.push(format!("{i}: {}<closed>", escape(&got)));
            continue;
        }
        c.send(
            format!(
                "CONNECT {{\"verbose\":true,\"jwt\":\"{}\"{sig}}}\r\nSUB p.1 1\r\nSUB s 2\r\nSUB t 3\r\nPUB p.1 3\r\nabc\r\nPUB q 1\r\nx\r\nPING\r\n",
                case.token
            )
            .as_bytes(),
        );
        let mut got = Vec::new();
        loop {
            match c.read_frame(Instant::now() + DEADLINE) {
                Ok(f) if f == b"PONG\r\n" => {
                    got.extend_from_slice(b"PONG|");
                    c.send(b"PUB p.1 9\r\n123456789\r\nPING\r\n");
                    match c.read_frame(Instant::now() + DEADLINE) {
                        Ok(f) => got.extend_from_slice(&f),
                        Err(_) => got.extend_from_slice(b"<closed>"),
                    }
                    break;
                }
                Ok(f) => got.extend_from_slice(&f),
                Err(_) => {
                    got.extend_from_slice(b"<closed>");
                    break;
                }
            }
        }
        out.push(format!("{i}: {}", escape(&got)));
    }
    out
}

/// nats-server says "maximum subscriptions exceeded" to a login that allows
/// none from a goroutine of its own (`applyAccountLimits`), so that `-ERR`
/// and the CONNECT's `+OK` reach the client in either order there: such a
/// conversation (it ends closed) is compared with its lines sorted.
fn unraced(conversations: Vec<String>) -> Vec<String> {
    conversations
        .into_iter()
        .map(|c| {
            if !(c.contains("-ERR 'maximum subscriptions exceeded'") && c.ends_with("<closed>")) {
                return c;
            }
            let (case, body) = c.split_once(": ").expect("numbered");
            let body = body.strip_suffix("<closed>").expect("closed");
            format!("{case}: {}<closed>", crate::util::lines_sorted(body))
        })
        .collect()
}

#[test]
fn user_jwts_log_in_and_are_limited_like_nats_server() {
    let w = World::new(&accounts());
    let cases = cases(&w);
    let conf = w.conf("");
    let want = unraced(conversations(&nats_server_conf(&conf, &[]), &cases));
    let got = unraced(conversations(&shoal_conf(&conf, &[]), &cases));
    assert_eq!(got, want);
    assert!(want[0].contains("+OK"), "{want:?}");
    // Connect times: inside, outside, an unknown zone (local time: as
    // nats-server, whatever the machine's zone).
    assert!(want[14].contains("PONG"), "{}", want[14]);
    assert!(want[15].contains("Authorization Violation"), "{}", want[15]);
    assert!(want[16].contains("Authorization Violation"), "{}", want[16]);
}

/// Runs `bin -c <conf> -p 0` expecting it to refuse the configuration:
/// its exit status and first line of output.
fn refusal(bin: &std::path::Path, conf: &str) -> String {
    let path = temp_path("conf");
    std::fs::write(&path, conf).unwrap();
    let mut child = std::process::Command::new(bin)
        .args(["-c", path.to_str().unwrap(), "-p", "-1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{} accepted {conf}", bin.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let path_text = path.to_str().unwrap();
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .replace(path_text, "<conf>");
    format!("{:?}: {first}", out.status.code())
}

#[test]
fn operator_configurations_are_checked_like_nats_server() {
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let (acc, token) = &w.accounts[0];
    let base = w.conf("");
    let op_line = base.lines().next().unwrap().to_string();
    let preload = format!(
        "resolver_preload: {{ {}: \"{token}\" }}\n",
        acc.public_key()
    );
    let configs = [
        format!("{base}authorization {{ users: [ {{user: a, password: b}} ] }}\n"),
        format!("{base}accounts {{ A: {{}} }}\n"),
        format!("{op_line}\nresolver: MEMORY\nresolver_preload: {{ AAA: \"eyJx\" }}\n"),
        format!(
            "{base}system_account: {}\n",
            KeyPair::new_account().public_key()
        ),
        "operator: /nonexistent/op.jwt\nresolver: MEMORY\n".to_string(),
        "operator: eyJhbc\nresolver: MEMORY\n".to_string(),
        format!("{op_line}\n{preload}"),
        format!("{base}trusted: [\"{}\"]\n", w.op.public_key()),
        format!("trusted: [\"NOPE\"]\nresolver: MEMORY\n{preload}"),
        format!("{base}resolver_pinned_accounts: 5\n"),
        "default_sentinel: eyJx\n".to_string(),
        format!("{base}default_sentinel: garbage\n"),
        format!("{base}default_sentinel: \"{}\"\n", {
            let u = KeyPair::new_user();
            user_jwt(&u, acc, full_limits(), json!({}))
        }),
    ];
    let shoal_bin = std::path::Path::new(env!("CARGO_BIN_EXE_shoal"));
    for conf in &configs {
        assert_eq!(
            refusal(shoal_bin, conf),
            refusal(crate::util::reference_bin(), conf),
            "{conf}"
        );
    }
}

/// The start-up lines about operators, as each server logs them.
fn banner(s: &ServerProc) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    while !s.log().iter().any(|l| l.contains("Server is ready")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    s.log()
        .iter()
        .filter_map(|l| {
            let at = l.find("[INF] ").or_else(|| l.find("[WRN] "))?;
            Some(l[at + 6..].to_string())
        })
        .filter(|l| {
            [
                "Trusted Operators",
                "  System  :",
                "  Operator:",
                "  Issued  :",
                "  Expires :",
                "Account [",
                "  - ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect()
}

#[test]
fn the_start_up_banner_names_the_operators() {
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let conf = w.conf("");
    let want = banner(&nats_server_conf(&conf, &[]));
    let got = banner(&shoal_conf(&conf, &[]));
    assert_eq!(got, want);
    assert_eq!(want.len(), 6, "{want:?}");
}

#[test]
fn an_account_jwt_with_validation_issues_refuses_its_users_like_nats_server() {
    // A local subject that drops one of the import's wildcards, and a
    // mapping over 100%: nats-io/jwt's blocking issues.
    let w = World::new(&[
        json!({ "limits": unlimited(), "exports": [{"subject": "e.>", "type": "stream"}] }),
        json!({ "limits": unlimited(),
                "imports": [{"subject": "e.*.*", "account": "ADUMMY", "type": "stream", "local_subject": "l.$1"}],
                "mappings": {"m": [{"subject": "x", "weight": 60}, {"subject": "y", "weight": 50}]} }),
    ]);
    let conf = w.conf("");
    let run = |s: &ServerProc| {
        let mut out = banner(s);
        out.retain(|l| l.starts_with("Account [") || l.starts_with("  - "));
        for (kp, _) in &w.accounts {
            let user = KeyPair::new_user();
            let token = user_jwt(&user, kp, full_limits(), json!({}));
            let mut c = jwt_login(s.port, &user, &token, "");
            let mut got = Vec::new();
            loop {
                match c.read_frame(Instant::now() + DEADLINE) {
                    Ok(f) if f == b"PONG\r\n" => break,
                    Ok(f) => got.extend_from_slice(&f),
                    Err(_) => break,
                }
            }
            out.push(escape(&got));
        }
        out
    };
    let want = run(&nats_server_conf(&conf, &[]));
    let got = run(&shoal_conf(&conf, &[]));
    assert_eq!(got, want);
    assert_eq!(
        want.last().map(String::as_str),
        Some("-ERR 'Authorization Violation'\\r\\n"),
        "{want:?}"
    );
}

/// Connects and sends a signed JWT login, `extra` JSON fields first, then
/// a PING: the connection, nothing read after INFO.
fn jwt_login(port: u16, user: &KeyPair, token: &str, extra: &str) -> Raw {
    let (mut c, info) = Raw::connect(port);
    let nonce = info["nonce"].as_str().expect("a nonce").to_string();
    let sig = data_encoding::BASE64URL_NOPAD.encode(&user.sign(nonce.as_bytes()).unwrap());
    c.send(
        format!("CONNECT {{\"verbose\":false,{extra}\"jwt\":\"{token}\",\"sig\":\"{sig}\"}}\r\nPING\r\n")
            .as_bytes(),
    );
    c
}

/// Logs in with a user JWT and waits for the server to end the login: what
/// the connection received.
fn until_expired(s: &ServerProc, user: &KeyPair, token: &str) -> String {
    let mut c = jwt_login(s.port, user, token, "");
    escape(&c.read_until_closed(DEADLINE))
}

#[test]
fn an_expiring_jwt_ends_its_connection_like_nats_server() {
    // A user JWT that expires in 2 s, and an account JWT that does.
    let user = KeyPair::new_user();
    let soon = now() + 2;
    let w = World::new(&[
        json!({ "limits": unlimited() }),
        json!({ "limits": unlimited() }),
    ]);
    let mut accounts = w.accounts;
    let (acc_kp, _) = &accounts[1];
    let expiring = with(
        claim(
            &acc_kp.public_key(),
            "acc1",
            "account",
            json!({ "limits": unlimited() }),
        ),
        json!({ "exp": soon }),
    );
    accounts[1].1 = jwt::encode(&expiring, &w.op);
    let w = World { op: w.op, accounts };
    let conf = w.conf("");
    let by_user = user_jwt(
        &user,
        &w.accounts[0].0,
        full_limits(),
        json!({ "exp": soon }),
    );
    let by_account = user_jwt(&user, &w.accounts[1].0, full_limits(), json!({}));
    // A user whose connect times (UTC) end in 2 s.
    let hms = |t: i64| {
        let t = t.rem_euclid(86_400);
        format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
    };
    let range =
        json!({"times": [{"start": hms(now() - 60), "end": hms(soon)}], "times_location": "UTC"});
    let by_times = user_jwt(
        &user,
        &w.accounts[0].0,
        with(full_limits(), range),
        json!({}),
    );
    // The logins at once, before any expiry.
    let run = |s: ServerProc| {
        std::thread::scope(|t| {
            let a = t.spawn(|| until_expired(&s, &user, &by_account));
            let b = t.spawn(|| until_expired(&s, &user, &by_times));
            (
                until_expired(&s, &user, &by_user),
                a.join().unwrap(),
                b.join().unwrap(),
            )
        })
    };
    // Both servers at once: the 2 s pass for both.
    let want = std::thread::scope(|t| {
        let h = t.spawn(|| run(nats_server_conf(&conf, &[])));
        let got = run(shoal_conf(&conf, &[]));
        (h.join().unwrap(), got)
    });
    let (want, got) = want;
    assert_eq!(got, want);
    assert!(want.0.contains("User Authentication Expired"), "{want:?}");
    assert!(want.2.contains("User Authentication Expired"), "{want:?}");
}

#[test]
fn async_nats_logs_in_with_a_creds_file() {
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let user = KeyPair::new_user();
    let token = user_jwt(&user, &w.accounts[0].0, full_limits(), json!({}));
    let creds = temp_path("creds");
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{token}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().unwrap()
        ),
    )
    .unwrap();
    let s = shoal_conf(&w.conf(""), &[]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let nc = async_nats::ConnectOptions::with_credentials_file(&creds)
            .await
            .unwrap()
            .connect(format!("127.0.0.1:{}", s.port))
            .await
            .expect("creds login");
        let mut sub = nc.subscribe("jwt.x").await.unwrap();
        nc.publish("jwt.x", "hi".into()).await.unwrap();
        let m = tokio::time::timeout(DEADLINE, futures::StreamExt::next(&mut sub))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&m.payload[..], b"hi");
    });
    // Monitoring names the JWT's user and account by their keys.
    let _ = std::fs::remove_file(&creds);
}

/// What `/connz?auth=1` shows of JWT logins: a user signed by its account,
/// one signed by a signing key with tags, a bearer token.
fn monitored_jwts(s: &ServerProc, users: &[(KeyPair, String)]) -> Vec<Value> {
    let mut conns = Vec::new();
    for (i, (user, token)) in users.iter().enumerate() {
        let mut c = jwt_login(s.port, user, token, &format!("\"name\":\"c{i}\","));
        c.expect(b"PONG\r\n");
        conns.push(c);
    }
    let http = crate::monitor::http_port(s);
    let page = crate::monitor::get(http, "/connz?auth=1").json();
    let mut out: Vec<Value> = page["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            json!({"name": c["name"], "authorized_user": c["authorized_user"], "account": c["account"],
                   "jwt": c["jwt"], "issuer_key": c["issuer_key"], "name_tag": c["name_tag"], "tags": c["tags"]})
        })
        .collect();
    out.sort_by_key(|v| v["name"].to_string());
    out
}

#[test]
fn monitoring_shows_jwt_logins_like_nats_server() {
    let w = World::new(&[json!({})]);
    let sk = KeyPair::new_account();
    let (acc, _) = &w.accounts[0];
    let nats = json!({ "limits": unlimited(), "signing_keys": [sk.public_key()] });
    let token = jwt::encode(&claim(&acc.public_key(), "acc0", "account", nats), &w.op);
    let w = World {
        op: w.op,
        accounts: vec![(KeyPair::from_seed(&acc.seed().unwrap()).unwrap(), token)],
    };
    let acc = &w.accounts[0].0;
    let mut users = Vec::new();
    let plain = KeyPair::new_user();
    users.push((
        KeyPair::from_seed(&plain.seed().unwrap()).unwrap(),
        user_jwt(&plain, acc, full_limits(), json!({})),
    ));
    let tagged = KeyPair::new_user();
    let nats = with(
        full_limits(),
        json!({"issuer_account": acc.public_key(), "tags": ["t1", "t2"]}),
    );
    users.push((
        KeyPair::from_seed(&tagged.seed().unwrap()).unwrap(),
        user_jwt(&tagged, &sk, nats, json!({})),
    ));
    let bearer = KeyPair::new_user();
    let nats = with(full_limits(), json!({"bearer_token": true}));
    users.push((
        KeyPair::from_seed(&bearer.seed().unwrap()).unwrap(),
        user_jwt(&bearer, acc, nats, json!({})),
    ));
    let conf = w.conf("");
    let want = monitored_jwts(&nats_server_conf(&conf, &["-m", "-1"]), &users);
    let got = monitored_jwts(&shoal_conf(&conf, &["-m", "-1"]), &users);
    assert_eq!(got, want);
    assert_eq!(want.len(), 3);
    assert!(
        want[0]["jwt"].is_string() && want[2]["jwt"].is_null(),
        "{want:?}"
    );
    assert_eq!(want[1]["tags"], json!(["t1", "t2"]));
    assert_eq!(want[1]["issuer_key"], json!(sk.public_key()));
}

/// A reload whose account JWT now revokes a connected user: what that
/// user's connection and another user's receive.
fn revoked_on_reload(start: &dyn Fn(&str) -> ServerProc) -> (String, String) {
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let acc = &w.accounts[0].0;
    let (gone, stays) = (KeyPair::new_user(), KeyPair::new_user());
    let gone_jwt = user_jwt(&gone, acc, full_limits(), json!({}));
    let stays_jwt = user_jwt(&stays, acc, full_limits(), json!({}));
    let path = temp_path("conf");
    std::fs::write(&path, w.conf("")).unwrap();
    let s = start(path.to_str().unwrap());
    let login = |user: &KeyPair, token: &str| {
        let mut c = jwt_login(s.port, user, token, "");
        c.expect(b"PONG\r\n");
        c
    };
    let mut a = login(&gone, &gone_jwt);
    let mut b = login(&stays, &stays_jwt);
    let revoking = json!({ "limits": unlimited(), "revocations": { gone.public_key(): now() } });
    let token = jwt::encode(
        &claim(&acc.public_key(), "acc0", "account", revoking),
        &w.op,
    );
    let w = World {
        op: w.op,
        accounts: vec![(KeyPair::from_seed(&acc.seed().unwrap()).unwrap(), token)],
    };
    std::fs::write(&path, w.conf("")).unwrap();
    s.signal(libc::SIGHUP);
    assert!(
        s.wait_for_log("Reloaded server configuration", DEADLINE),
        "{:?}",
        s.log()
    );
    let a_got = escape(&a.read_until_closed(Duration::from_secs(3)));
    b.send(b"PING\r\n");
    let b_got = escape(&b.read_until_pong());
    let _ = std::fs::remove_file(&path);
    (a_got, b_got)
}

#[test]
fn a_reload_closes_revoked_users_like_nats_server() {
    let want = revoked_on_reload(&|p| crate::util::nats_server(&["-c", p]));
    let got = revoked_on_reload(&|p| crate::util::shoal(&["-c", p]));
    assert_eq!(got, want);
}

#[test]
fn accountz_shows_preloaded_accounts_like_nats_server() {
    // The third account is the system account: listed from the start.
    let w = World::new(&[
        json!({ "limits": unlimited() }),
        json!({ "limits": unlimited() }),
        json!({ "limits": unlimited() }),
    ]);
    let user = KeyPair::new_user();
    let acc = w.accounts[0].0.public_key();
    let token = user_jwt(&user, &w.accounts[0].0, full_limits(), json!({}));
    let conf = w.conf(&format!(
        "system_account: {}\n",
        w.accounts[2].0.public_key()
    ));
    let run = |s: ServerProc| {
        let mut c = jwt_login(s.port, &user, &token, "");
        c.expect(b"PONG\r\n");
        crate::auth::accountz_view(&s, &acc, c)
    };
    let mut want = run(nats_server_conf(&conf, &["-m", "-1"]));
    let mut got = run(shoal_conf(&conf, &["-m", "-1"]));
    let (_, ours) = (want.pop(), got.pop().unwrap());
    assert_eq!(got, want);
    assert_eq!(ours, 2);
    assert!(want[1]["jwt"].is_string(), "{want:?}");
}

#[test]
fn system_account_settings_are_checked_like_nats_server() {
    let shoal_bin = std::path::Path::new(env!("CARGO_BIN_EXE_shoal"));
    let conf = "accounts { A: {} }\nsystem_account: NOPE\n";
    assert_eq!(
        refusal(shoal_bin, conf),
        refusal(crate::util::reference_bin(), conf)
    );
    // The documentation's shape runs, and monitoring names the account.
    let conf = "accounts {\n  SYS: { users: [ {user: admin, password: x} ] }\n  APP: { users: [ {user: app, password: y} ] }\n}\nsystem_account: SYS\n";
    let view = |s: ServerProc| {
        let mut c = Raw::connect(s.port).0;
        c.send(b"CONNECT {\"verbose\":false,\"user\":\"admin\",\"pass\":\"x\"}\r\nPING\r\n");
        c.expect(b"PONG\r\n");
        let http = crate::monitor::http_port(&s);
        let page = crate::monitor::get(http, "/accountz").json();
        let detail = crate::monitor::get(http, "/accountz?acc=SYS").json();
        (
            page["system_account"].clone(),
            detail["account_detail"]["is_system"].clone(),
        )
    };
    let want = view(nats_server_conf(conf, &["-m", "-1"]));
    let got = view(shoal_conf(conf, &["-m", "-1"]));
    assert_eq!(got, want);
    assert_eq!(want, (json!("SYS"), json!(true)));
}

/// What B's subscriber and A's receive when A publishes, with B importing
/// A's exported stream and A mapping a subject (all in the account JWTs).
fn jwt_rewrites(s: &ServerProc, a: &(KeyPair, String), b: &(KeyPair, String)) -> Vec<String> {
    let mut sub = jwt_login(s.port, &b.0, &b.1, "");
    sub.expect(b"PONG\r\n");
    sub.send(b"SUB > 1\r\nPING\r\n");
    sub.expect(b"PONG\r\n");
    let mut own = jwt_login(s.port, &a.0, &a.1, "");
    own.expect(b"PONG\r\n");
    own.send(
        b"SUB m.> 1\r\nPUB events.x 2\r\nhi\r\nPUB m.in 1\r\nz\r\nPUB other 1\r\no\r\nPING\r\n",
    );
    let mine = escape(&own.read_until_pong());
    sub.send(b"PING\r\n");
    let mut out = vec![mine, escape(&sub.read_until_pong())];
    // B's request through its service import of A, answered in A.
    own.send(b"SUB svc.time 2\r\nPING\r\n");
    own.expect(b"PONG\r\n");
    sub.send(b"PUB time _INBOX.x 1\r\nq\r\nPING\r\n");
    sub.read_until_pong();
    let req = own
        .read_frame(Instant::now() + DEADLINE)
        .expect("the request");
    let text = String::from_utf8_lossy(&req).to_string();
    let reply = text.split(' ').nth(3).unwrap_or("").to_string();
    out.push(text.replace(&reply, "<reply>"));
    own.send(format!("PUB {reply} 2\r\nok\r\nPING\r\n").as_bytes());
    own.expect(b"PONG\r\n");
    sub.send(b"PING\r\n");
    out.push(escape(&sub.read_until_pong()));
    out
}

#[test]
fn account_jwt_imports_and_mappings_like_nats_server() {
    let a_kp = KeyPair::new_account();
    let b_kp = KeyPair::new_account();
    let a_nats = json!({"limits": unlimited(),
        "exports": [{"subject": "events.>", "type": "stream"}, {"subject": "svc.>", "type": "service"}],
        // nats-server skips a mapping it cannot build (nats-io/jwt does not
        // check references); the server starts without it.
        "mappings": {"m.in": [{"subject": "m.out", "weight": 100}],
                     "bad.*": [{"subject": "x.$3", "weight": 100}]}});
    let b_nats = json!({"limits": unlimited(),
        "imports": [{"subject": "events.>", "account": a_kp.public_key(), "type": "stream", "to": "from_a"},
                    {"subject": "events.x", "account": a_kp.public_key(), "type": "stream", "local_subject": "mapped.x"},
                    {"subject": "svc.time", "account": a_kp.public_key(), "type": "service", "local_subject": "time"}]});
    let op = KeyPair::new_operator();
    let a_jwt = jwt::encode(&claim(&a_kp.public_key(), "A", "account", a_nats), &op);
    let b_jwt = jwt::encode(&claim(&b_kp.public_key(), "B", "account", b_nats), &op);
    let w = World {
        op,
        accounts: vec![(a_kp, a_jwt), (b_kp, b_jwt)],
    };
    let (ua, ub) = (KeyPair::new_user(), KeyPair::new_user());
    let ja = user_jwt(&ua, &w.accounts[0].0, full_limits(), json!({}));
    let jb = user_jwt(&ub, &w.accounts[1].0, full_limits(), json!({}));
    let conf = w.conf("");
    let (a, b) = ((ua, ja), (ub, jb));
    let want = jwt_rewrites(&nats_server_conf(&conf, &[]), &a, &b);
    let got = jwt_rewrites(&shoal_conf(&conf, &[]), &a, &b);
    assert_eq!(got, want);
    assert!(want[1].contains("from_a.events.x"), "{want:?}");
    assert!(want[3].contains("MSG _INBOX.x 1 2"), "{want:?}");
}

/// The full directory resolver, on one server: what a system-account user
/// and the accounts' users see, normalised where runs differ (the server's
/// identity, times, sequence numbers; the JWT decoder's error texts).
/// Account A's JWT is a file in the directory at start, the system
/// account's a preload; B's is pushed while the server runs.
fn directory_resolver_run(s: &ServerProc, w: &World, dir: &std::path::Path) -> Vec<Value> {
    let (sys, a, b) = (&w.accounts[0], &w.accounts[1], &w.accounts[2]);
    let sys_user = KeyPair::new_user();
    let sys_token = user_jwt(&sys_user, &sys.0, full_limits(), json!({}));
    let mut admin = jwt_login(s.port, &sys_user, &sys_token, "\"headers\":true,");
    admin.expect(b"PONG\r\n");
    admin.send(b"SUB _INBOX.c 1\r\nPING\r\n");
    admin.expect(b"PONG\r\n");
    let mut ask = |subject: &str, body: &str| -> Value {
        admin.send(format!("PUB {subject} _INBOX.c {}\r\n{body}\r\n", body.len()).as_bytes());
        let f = admin
            .read_frame(Instant::now() + DEADLINE)
            .expect("an answer");
        let text = String::from_utf8_lossy(&f).to_string();
        let (head, payload) = text.split_once("\r\n").unwrap();
        let payload = payload.trim_end_matches("\r\n");
        match serde_json::from_str::<Value>(payload) {
            Ok(mut v) => {
                if v.get("server").is_some() {
                    v["server"] = json!("<norm>");
                }
                // The decoder's own words differ; the prefix is the server's.
                let unreadable = v["error"]["account"] == "n/a";
                if let Some(d) = v.pointer_mut("/error/description") {
                    let text = d.as_str().unwrap_or("").to_string();
                    if unreadable && text.starts_with("jwt update resulted in error - ") {
                        *d = json!("jwt update resulted in error - <decoder error>");
                    }
                }
                v
            }
            Err(_) => json!({"head": head.split(' ').next(), "raw": payload}),
        }
    };
    let mut out = Vec::new();
    let login = |(kp, _): &(KeyPair, String)| {
        let user = KeyPair::new_user();
        let token = user_jwt(&user, kp, full_limits(), json!({}));
        let mut c = jwt_login(s.port, &user, &token, "");
        let got = c.read_until_pong_or_closed(DEADLINE);
        escape(&got)
    };
    out.push(json!({"a_login": login(a), "b_login_before": login(b)}));
    let mut list = ask("$SYS.REQ.CLAIMS.LIST", "");
    if let Some(ids) = list["data"].as_array_mut() {
        ids.sort_by_key(|v| v.to_string());
    }
    out.push(list);
    out.push(ask("$SYS.REQ.CLAIMS.UPDATE", &b.1));
    out.push(json!({"b_login_after": login(b)}));
    let lookup = ask(
        &format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.LOOKUP", b.0.public_key()),
        "",
    );
    out.push(json!({"lookup_is_b": lookup["raw"] == json!(b.1)}));
    out.push(ask("$SYS.REQ.CLAIMS.UPDATE", "garbage"));
    out.push(ask(
        &format!("$SYS.REQ.ACCOUNT.{}.CLAIMS.UPDATE", a.0.public_key()),
        &b.1,
    ));
    let delete = jwt::encode(
        &claim(
            &w.op.public_key(),
            "del",
            "generic",
            json!({"accounts": [b.0.public_key()]}),
        ),
        &w.op,
    );
    out.push(ask("$SYS.REQ.CLAIMS.DELETE", &delete));
    let mut list = ask("$SYS.REQ.CLAIMS.LIST", "");
    if let Some(ids) = list["data"].as_array_mut() {
        ids.sort_by_key(|v| v.to_string());
    }
    out.push(list);
    let stored = std::fs::read_to_string(dir.join(format!("{}.jwt", b.0.public_key())));
    out.push(json!({"b_file_is_b": stored.map(|t| t.trim() == b.1).unwrap_or(false)}));
    // A's JWT pushed again, newer, revoking a user logged in now: that
    // connection is closed; another user of A logs in still.
    let doomed = KeyPair::new_user();
    let doomed_token = user_jwt(&doomed, &a.0, full_limits(), json!({}));
    let mut c = jwt_login(s.port, &doomed, &doomed_token, "");
    c.expect(b"PONG\r\n");
    let mut revoking = claim(
        &a.0.public_key(),
        "acc1",
        "account",
        json!({"limits": unlimited(), "revocations": {doomed.public_key(): now() + 5}}),
    );
    revoking["iat"] = json!(now());
    revoking["jti"] = json!("Jacc1-revoking");
    out.push(ask(
        "$SYS.REQ.CLAIMS.UPDATE",
        &jwt::encode(&revoking, &w.op),
    ));
    out.push(json!({"revoked": escape(&c.read_until_closed(DEADLINE)), "a_login_after": login(a)}));
    out
}

#[test]
fn directory_resolver_takes_pushed_claims_like_nats_server() {
    let w = World::new(&[
        json!({ "limits": unlimited() }),
        json!({ "limits": unlimited() }),
        json!({ "limits": unlimited() }),
    ]);
    let op = jwt::encode(
        &claim(&w.op.public_key(), "op", "operator", json!({})),
        &w.op,
    );
    let (sys, a) = (&w.accounts[0], &w.accounts[1]);
    let run = |start: &dyn Fn(&str) -> ServerProc| {
        let dir = temp_path("jwt");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{}.jwt", a.0.public_key())), &a.1).unwrap();
        let conf = format!(
            "operator: \"{op}\"\nsystem_account: {sys_key}\nresolver {{ type: full, dir: \"{}\" }}\nresolver_preload: {{ {sys_key}: \"{}\" }}\n",
            dir.display(),
            sys.1,
            sys_key = sys.0.public_key(),
        );
        let s = start(&conf);
        let managing = "Managing all jwt in exclusive directory ";
        assert!(s.wait_for_log(managing, DEADLINE), "{:?}", s.log());
        let line = s.log().into_iter().find(|l| l.contains(managing)).unwrap();
        let at = line.find(managing).unwrap();
        let mut out = vec![json!(
            line[at..].replace(&dir.display().to_string(), "<dir>")
        )];
        out.extend(directory_resolver_run(&s, &w, &dir));
        out
    };
    let want = run(&|c| nats_server_conf(c, &[]));
    let got = run(&|c| shoal_conf(c, &["--cores", "2"]));
    for (g, n) in got.iter().zip(&want) {
        assert_eq!(g, n);
    }
    assert_eq!(got.len(), want.len());
    assert_eq!(
        want[0],
        json!("Managing all jwt in exclusive directory <dir>")
    );
    assert_eq!(want[3]["data"]["message"], "jwt updated", "{want:?}");
    let last = want.last().unwrap();
    assert!(
        last["revoked"].as_str().unwrap().contains("Revoked"),
        "{last}"
    );
    assert!(
        last["a_login_after"]
            .as_str()
            .unwrap()
            .ends_with("PONG\\r\\n"),
        "{last}"
    );
    assert!(
        want[4]["b_login_after"].as_str().unwrap().contains("PONG"),
        "{want:?}"
    );
}

/// `trusted_keys` (the operator's key without its JWT) and
/// `resolver_pinned_accounts`: a user of a pinned account logs in, one of
/// another is refused and counted in `/varz` `pinned_account_fails`, and
/// `/varz` shows the system account (and no operator JWTs); as nats-server.
#[test]
fn trusted_keys_and_pinned_accounts_like_nats_server() {
    let w = World::new(&[
        json!({ "limits": unlimited() }),
        json!({ "limits": unlimited() }),
    ]);
    let (a, b) = (&w.accounts[0], &w.accounts[1]);
    let conf = format!(
        "trusted_keys: [\"{}\"]\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{}\"\n  {}: \"{}\"\n}}\nsystem_account: {}\nresolver_pinned_accounts: [\"{}\"]\n",
        w.op.public_key(),
        a.0.public_key(),
        a.1,
        b.0.public_key(),
        b.1,
        a.0.public_key(),
        a.0.public_key(),
    );
    let run = |s: ServerProc| -> Value {
        let mut seen = Vec::new();
        for (kp, _) in [a, b] {
            let user = KeyPair::new_user();
            let token = user_jwt(&user, kp, full_limits(), json!({}));
            let mut c = jwt_login(s.port, &user, &token, "");
            let got = c.read_until_pong_or_closed(DEADLINE);
            seen.push(escape(&got));
        }
        let varz = crate::monitor::get(crate::monitor::http_port(&s), "/varz").json();
        json!({
            "seen": seen,
            "pinned_account_fails": varz["pinned_account_fails"],
            "system_account": varz["system_account"],
            "trusted_operators_jwt": varz["trusted_operators_jwt"],
        })
    };
    let want = run(nats_server_conf(&conf, &["-m", "-1"]));
    let got = run(shoal_conf(&conf, &["-m", "-1"]));
    assert_eq!(got, want);
    assert_eq!(want["pinned_account_fails"], 1, "{want}");
}

/// `/varz` in operator mode: the operators' JWTs, their claims (JSON-equal:
/// nats-server indents them, Shoal shows them as the JWT carries them) and
/// the system account, as nats-server shows them.
#[test]
fn varz_shows_trusted_operators_like_nats_server() {
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let conf = w.conf(&format!(
        "system_account: {}\n",
        w.accounts[0].0.public_key()
    ));
    let run = |s: ServerProc| -> Value {
        let varz = crate::monitor::get(crate::monitor::http_port(&s), "/varz").json();
        json!({
            "jwt": varz["trusted_operators_jwt"],
            "claim": varz["trusted_operators_claim"],
            "system_account": varz["system_account"],
        })
    };
    let want = run(nats_server_conf(&conf, &["-m", "-1"]));
    let got = run(shoal_conf(&conf, &["-m", "-1"]));
    assert_eq!(got, want);
    assert!(want["claim"][0]["sub"].is_string(), "{want}");
}

/// A scoped signing key whose template names the user, the account and
/// their tags: what users it signs may publish and subscribe to, byte for
/// byte as nats-server expands the templates (a tag the user lacks: its
/// allow entry dropped; in a deny entry: the login refused).
#[test]
fn scope_templates_expand_like_nats_server() {
    let w = World::new(&[json!({})]);
    let scoped = KeyPair::new_account();
    let (acc, _) = &w.accounts[0];
    let template = json!({
        "pub": {"allow": ["in.{{name()}}.>", "t.{{tag(dept)}}", "a.{{account-name()}}", "s.{{subject()}}"],
                "deny": ["in.{{name()}}.secret"]},
        "sub": {"allow": ["out.{{account-subject()}}", "_INBOX.>"], "deny": ["out.{{tag(dept)}}"]},
        "subs": -1, "data": -1, "payload": -1
    });
    let nats = json!({ "limits": unlimited(), "tags": ["region:eu"],
        "signing_keys": [{"kind": "user_scope", "key": scoped.public_key(), "role": "r", "template": template}] });
    let token = jwt::encode(&claim(&acc.public_key(), "acme", "account", nats), &w.op);
    let w = World {
        op: w.op,
        accounts: vec![(KeyPair::from_seed(&acc.seed().unwrap()).unwrap(), token)],
    };
    let acc = &w.accounts[0].0;
    let conf = w.conf("");
    let user = |tags: Value| {
        let u = KeyPair::new_user();
        let nats = json!({"issuer_account": acc.public_key(), "tags": tags});
        let c = claim(&u.public_key(), "bob", "user", {
            let mut n = nats;
            n["type"] = json!("user");
            n["version"] = json!(2);
            n
        });
        let t = jwt::encode(&c, &scoped);
        (u, t)
    };
    let tagged = user(json!(["dept:eng", "dept:ops"]));
    let untagged = user(json!([]));
    let run = |s: ServerProc| -> Vec<String> {
        let mut out = Vec::new();
        for (u, t) in [&tagged, &untagged] {
            let mut c = jwt_login(s.port, u, t, "\"verbose\":true,");
            // The login's own answer first (its PONG, or the refusal), so
            // that the ops' answers are read after it whatever the reads'
            // sizes.
            let mut got = c.read_until_pong_or_closed(DEADLINE);
            if !got.ends_with(b"PONG\r\n") {
                out.push(escape(&got).replace(&u.public_key(), "<user>"));
                continue;
            }
            let ops = format!(
                "PUB in.bob.x 1\r\n1\r\nPUB in.bob.secret 1\r\n2\r\nPUB t.eng 1\r\n3\r\nPUB t.ops 1\r\n4\r\nPUB a.acme 1\r\n5\r\nPUB s.{} 1\r\n6\r\nPUB other 1\r\n7\r\nSUB out.{} 1\r\nSUB out.eng 2\r\nPING\r\n",
                u.public_key(),
                acc.public_key()
            );
            c.send(ops.as_bytes());
            got.extend(c.read_until_pong_or_closed(DEADLINE));
            out.push(escape(&got).replace(&u.public_key(), "<user>"));
        }
        out
    };
    let want = run(nats_server_conf(&conf, &[]));
    let got = run(shoal_conf(&conf, &[]));
    assert_eq!(got, want);
    assert!(want[0].contains("Publish to \"other\""), "{want:?}");
    assert!(want[1].contains("Authorization Violation"), "{want:?}");
}

/// `default_sentinel`: a client that sends no user JWT logs in as the
/// sentinel (a bearer user with its own permissions); one that sends a JWT
/// logs in as itself; as nats-server.
#[test]
fn default_sentinel_logs_in_clients_without_a_jwt_like_nats_server() {
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let acc = &w.accounts[0].0;
    let sentinel = {
        let u = KeyPair::new_user();
        let nats = with(
            full_limits(),
            json!({"bearer_token": true, "pub": {"allow": ["open.>"]}}),
        );
        user_jwt(&u, acc, nats, json!({}))
    };
    let conf = w.conf(&format!("default_sentinel: \"{sentinel}\"\n"));
    let run = |s: ServerProc| -> Vec<String> {
        let mut out = Vec::new();
        let (mut anon, _) = Raw::connect(s.port);
        anon.send(
            b"CONNECT {\"verbose\":true}\r\nPUB open.x 1\r\n1\r\nPUB closed 1\r\n2\r\nPING\r\n",
        );
        out.push(escape(&anon.read_until_pong()));
        let user = KeyPair::new_user();
        let token = user_jwt(&user, acc, full_limits(), json!({}));
        let mut named = jwt_login(s.port, &user, &token, "\"verbose\":true,");
        named.send(b"PUB closed 1\r\n3\r\nPING\r\n");
        let mut got = named.read_until_pong();
        got.extend(named.read_until_pong());
        out.push(escape(&got));
        out
    };
    let want = run(nats_server_conf(&conf, &[]));
    let got = run(shoal_conf(&conf, &[]));
    assert_eq!(got, want);
    assert!(want[0].contains("Publish to \"closed\""), "{want:?}");
}

/// A leaf remote with a credentials file logs in to an operator-mode hub
/// (Shoal or nats-server) as that JWT user: the link binds the user's
/// account, and the hub's clients of that account reach the spoke's.
#[test]
fn a_leaf_remote_logs_in_with_a_creds_file() {
    use crate::cluster::{await_interest, read_msgs, with_conf, Kind};
    let w = World::new(&[json!({ "limits": unlimited() })]);
    let leaf_user = KeyPair::new_user();
    let leaf_token = user_jwt(&leaf_user, &w.accounts[0].0, full_limits(), json!({}));
    let creds = temp_path("creds");
    std::fs::write(
        &creds,
        format!(
            "-----BEGIN NATS USER JWT-----\n{leaf_token}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            leaf_user.seed().unwrap()
        ),
    )
    .unwrap();
    let hub_user = KeyPair::new_user();
    let hub_token = user_jwt(&hub_user, &w.accounts[0].0, full_limits(), json!({}));
    for (hk, kind) in [
        (Kind::Nats, Kind::Shoal),
        (Kind::Shoal, Kind::Nats),
        (Kind::Shoal, Kind::Shoal),
        (Kind::Nats, Kind::Nats),
    ] {
        let what = format!("{hk:?} hub, {kind:?} spoke");
        let h = with_conf(hk, &w.conf("leafnodes { port: -1 }\n"), &[]);
        let port = crate::leaf::leaf_port(&h);
        let s = with_conf(
            kind,
            &format!(
                "leafnodes {{ remotes: [ {{ url: \"nats-leaf://127.0.0.1:{port}\", credentials: \"{}\" }} ] }}\n",
                creds.display()
            ),
            &[],
        );
        let mut on_spoke = crate::cluster::client(&s);
        on_spoke.send(b"SUB j.> 1\r\n");
        let mut on_hub = jwt_login(h.port, &hub_user, &hub_token, "\"headers\":true,");
        on_hub.read_until_pong();
        await_interest(&mut on_hub, &mut on_spoke, "creds");
        on_hub.send(b"PUB j.1 1\r\nx\r\n");
        on_hub.ping_pong();
        assert_eq!(
            read_msgs(&mut on_spoke, 1)[0],
            "MSG j.1 1 1\r\nx\r\n",
            "{what}"
        );
    }
}
