//! HTTPS: `opsdeckd run --listen` with `tls_cert` and `tls_key` (a throwaway CA and server
//! certificate made here by rcgen) serves the API over TLS only: a client trusting that CA reaches
//! `/healthz` and the console with a staff session; plain HTTP to the port and a client that does
//! not trust the CA get nothing. A bad certificate or key file stops the start naming the key and
//! the path (exit 2). A client that stalls its handshake is dropped after the header timeout, and
//! its connection slot comes back. Plain HTTP on an address other machines reach is warned about.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use opsdeck_core::TlsFiles;
use opsdeckd::http::Tls;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::io::AsyncReadExt;

use crate::World;
use crate::daemon::{Daemon, bare};

/// A throwaway CA and a server certificate it signed (SAN 127.0.0.1 and localhost), in PEM
/// files in `dir`; plus a key that is not the certificate's.
struct TestCa {
    ca_pem: String,
    cert: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
}

fn test_ca(dir: &Path) -> TestCa {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "OpsDeck test CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    server.distinguished_name.push(DnType::CommonName, "opsdeckd");
    let cert = server.signed_by(&key, &issuer).unwrap();
    let write = |name: &str, body: &str| {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    std::fs::write(dir.join("ca.pem"), &ca_pem).unwrap();
    TestCa {
        cert: write("server.pem", &cert.pem()),
        key: write("server.key", &key.serialize_pem()),
        other_key: write("other.key", &KeyPair::generate().unwrap().serialize_pem()),
        ca_pem,
    }
}

/// A client that trusts the test CA and nothing else.
fn trusting(ca: &TestCa) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder().tls_certs_only([ca]).build().unwrap()
}

/// An error and its causes, as one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn with_a_certificate_and_key_the_daemon_serves_https_only() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let prefix = crate::unique("tls");
    let (cert, key) = (ca.cert.display().to_string(), ca.key.display().to_string());
    let tls_env = [("OPSDECK_TLS_CERT", cert.as_str()), ("OPSDECK_TLS_KEY", key.as_str())];
    let mut daemon = Daemon::start_with(dir.path(), &prefix, Some("tls-token-0123456789abcdef"), &tls_env);
    let line = daemon.wait_for("HTTP API listening");
    assert!(line.contains("serving https on 127.0.0.1:"), "the scheme and address are logged: {line}");
    let addr = line.split_whitespace().find_map(|w| w.strip_prefix("addr=")).expect("addr= in the line");
    let port = addr.rsplit(':').next().unwrap();

    let https = trusting(&ca);
    for host in ["127.0.0.1", "localhost"] {
        let health = https.get(format!("https://{host}:{port}/healthz")).send().await.unwrap();
        assert_eq!(health.status().as_u16(), 200, "{host}: {}", health.text().await.unwrap());
    }

    // The console over HTTPS: a viewer's session, made by the command line on the same data.
    let out = bare(dir.path())
        .env("OPSDECK_REDIS_URL", crate::redis_url())
        .env("OPSDECK_REDIS_PREFIX", &prefix)
        .args(["staff", "token", "--name", "tls-viewer", "--role", "viewer"])
        .output()
        .unwrap();
    assert!(out.status.success(), "staff token: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().expect("the token is the last line").trim().to_string();
    let session_url = format!("https://localhost:{port}/api/v1/session");
    let (status, me) = crate::json(https.get(&session_url).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!((status, me["role"].as_str()), (200, Some("viewer")), "{me}");
    let refused = https.get(&session_url).send().await.unwrap();
    crate::expect_error(refused, 401, "unauthenticated").await;

    // Plain HTTP to the TLS port: no answer (the server wanted a handshake).
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/healthz")).send().await;
    assert!(plain.is_err(), "plain HTTP was answered: {:?}", plain.map(|r| r.status()));
    // A client with the system's roots only: the certificate is refused.
    let untrusting = reqwest::Client::new().get(format!("https://localhost:{port}/healthz")).send().await;
    let e = untrusting.expect_err("a client not trusting the test CA connected");
    assert!(e.is_connect(), "{}", chain(&e));
    assert!(chain(&e).to_lowercase().contains("certificate"), "a certificate error: {}", chain(&e));

    let log = daemon.terminate();
    assert!(!log.iter().any(|l| l.contains(&token)), "the session token is never logged");
    assert!(!log.iter().any(|l| l.contains("unencrypted")), "no plain-HTTP warning with TLS");
}

#[test]
fn a_bad_certificate_or_key_stops_the_start_naming_the_key_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let absent = dir.path().join("absent.key");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let cases: [(&Path, &Path, &str, &Path, &str); 4] = [
        (&ca.cert, &absent, "`tls_key`", &absent, "cannot read the file"),
        (&ca.cert, &ca.other_key, "`tls_key`", &ca.other_key, "not the key of the first certificate"),
        (&not_pem, &ca.key, "`tls_cert`", &not_pem, "no certificate in the file"),
        (&ca.cert, &ca.cert, "`tls_key`", &ca.cert, "no private key in the file"),
    ];
    for (cert, key, named, path, why) in cases {
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let env = [("OPSDECK_TLS_CERT", cert.as_str()), ("OPSDECK_TLS_KEY", key.as_str())];
        let prefix = crate::unique("tls_bad");
        let (status, log) = Daemon::start_with(dir.path(), &prefix, Some("tls-token-0123456789abcdef"), &env).exits();
        let text = log.join("\n");
        assert_eq!(status.code(), Some(2), "{named} {why}: {text}");
        let path = path.display().to_string();
        assert!(text.contains(named) && text.contains(&path) && text.contains(why), "{named} {path} {why}: {text}");
        assert!(!text.contains("HTTP API listening") && !text.contains("core started"), "nothing started: {text}");
    }
    // Only one of the two: refused by the configuration itself.
    let cert = ca.cert.display().to_string();
    let (status, log) =
        Daemon::start_with(dir.path(), &crate::unique("tls_bad"), None, &[("OPSDECK_TLS_CERT", cert.as_str())]).exits();
    assert_eq!(status.code(), Some(2), "{log:?}");
    assert!(log.join("\n").contains("tls_key is not set"), "{log:?}");
}

#[tokio::test]
async fn a_stalled_handshake_is_dropped_after_the_header_timeout_and_frees_its_slot() {
    let dir = tempfile::tempdir().unwrap();
    let ca = test_ca(dir.path());
    let tls = Tls::load(&TlsFiles { cert: ca.cert.clone(), key: ca.key.clone() }).unwrap();
    // Four connections in all: one per peer, so the stalled one holds this peer's only slot.
    let world = World::start_with_api(&[], |api| {
        api.tls = Some(tls);
        api.limits.header_read_timeout = Duration::from_millis(300);
        api.limits.max_connections = 4;
    })
    .await;
    let addr = world.base.trim_start_matches("http://").to_string();
    let port = addr.rsplit(':').next().unwrap().to_string();
    // Connects and sends nothing: no ClientHello.
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 256];
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the stalled handshake was not closed within 15 s");
    // The slot is given back right after the close: a bounded poll for the next connection.
    let https = trusting(&ca);
    let url = format!("https://localhost:{port}/healthz");
    crate::until("an HTTPS request after the stalled handshake", || {
        let request = https.get(&url).send();
        async move { request.await.ok().filter(|r| r.status().as_u16() == 200) }
    })
    .await;
    world.stop().await;
}

#[test]
fn plain_http_on_an_address_other_machines_reach_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bare(dir.path())
        .env("OPSDECK_REDIS_URL", crate::redis_url())
        .env("OPSDECK_REDIS_PREFIX", crate::unique("tls_plain"))
        .env("OPSDECK_API_TOKEN", "tls-token-0123456789abcdef")
        .env("OPSDECK_SCHEDULER_ENABLED", "false")
        .env("NO_COLOR", "1")
        // Every address of this machine; the test itself only reads the log.
        .args(["run", "--listen", "0.0.0.0:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let listening = loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains("HTTP API listening") => break line,
            Ok(line) => seen.push(line),
            Err(e) => {
                let _ = child.kill();
                panic!("no start-up line within 30 s ({e}): {seen:#?}");
            }
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening.contains("serving http on 0.0.0.0:"), "{listening}");
    let warning = seen.iter().find(|l| l.contains("WARN") && l.contains("unencrypted"));
    let warning = warning.unwrap_or_else(|| panic!("a warning about plain HTTP: {seen:#?}"));
    assert!(warning.contains("staff sessions") && warning.contains("tls_cert"), "{warning}");
}
