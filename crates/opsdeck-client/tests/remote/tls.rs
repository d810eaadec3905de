//! HTTPS: the daemon serving TLS with a throwaway CA's certificate (made here by rcgen) is
//! refused by a client trusting only the system's roots, and reached by one given the CA as
//! `server_ca` (the system's roots still trusted besides it).

use std::path::{Path, PathBuf};

use opsdeck_api::accounts::Role;
use opsdeck_api::{ErrorCode, LinkState, Ops};
use opsdeck_core::TlsFiles;
use opsdeckd::http::Tls;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::world::World;

/// A throwaway CA (`ca.pem`) and the server's certificate and key it signed (SAN 127.0.0.1 and
/// localhost), in `dir`; the server's side loaded.
fn test_ca(dir: &Path) -> (PathBuf, Tls) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name.push(DnType::CommonName, "OpsDeck client test CA");
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
    let files = TlsFiles { cert: write("server.pem", &cert.pem()), key: write("server.key", &key.serialize_pem()) };
    (write("ca.pem", &ca_pem), Tls::load(&files).expect("the test certificate and key"))
}

#[tokio::test]
async fn https_is_refused_with_an_untrusted_certificate_and_reached_with_server_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, tls) = test_ca(dir.path());
    let world = World::start_tls(tls).await;
    assert!(world.url.starts_with("https://localhost:"), "{}", world.url);

    let untrusting = world.client();
    let e = untrusting.health().await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerUnreachable, "{e:?}");
    assert!(e.message.to_lowercase().contains("certificate"), "says it is the certificate: {}", e.message);
    assert!(matches!(*untrusting.link().borrow(), LinkState::Reconnecting { .. }));

    let trusting = world.client_trusting(Some(&ca));
    assert!(trusting.health().await.is_ok());
    let viewer = world.staff(Role::Viewer).await;
    assert_eq!(trusting.session_staff(&viewer).await.unwrap().role, Role::Viewer);
    assert_eq!(*trusting.link().borrow(), LinkState::Connected);
    world.stop().await;
}
