//! The keys as a configuration holds them (PKCS#8 or PKCS#1, PEM or Alipay's bare base64), and
//! the built-in fake's published key, trusted only for a gateway on this machine.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Rsa;

/// SHA-256 of the DER form of the built-in fake's Alipay public key, which is published in this
/// repository (`opsdeck-sandbox`): anyone can sign an answer or a notify that verifies with it.
/// A client with this key is refused unless its gateway is on this machine (the fake's).
const PUBLISHED_SANDBOX_KEY_SHA256: &str = "933f3e17ad636bcf9b4ba988d11754a88eea8b63c585bb592379eec33dc02845";

/// PEM lines as a config file may hold them (indented, CRLF): trimmed, blank lines dropped.
fn tidy_pem(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.is_empty()).collect();
    lines.join("\n") + "\n"
}

/// Bare base64 (Alipay's form of a key), whitespace ignored.
fn bare_der(text: &str) -> Result<Vec<u8>, String> {
    let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if joined.is_empty() {
        return Err("empty".into());
    }
    STANDARD.decode(joined).map_err(|_| "neither PEM nor base64".to_string())
}

const KEY_FORMS: &str = "PKCS#8 or PKCS#1, PEM or bare base64";

pub(super) fn private_key(text: &str) -> Result<PKey<Private>, String> {
    let text = text.trim();
    let parsed =
        if text.starts_with("-----BEGIN RSA PRIVATE KEY-----") || text.starts_with("-----BEGIN PRIVATE KEY-----") {
            // OpenSSL reads both PKCS#1 and PKCS#8 PEM.
            PKey::private_key_from_pem(tidy_pem(text).as_bytes()).map_err(|e| e.to_string())
        } else if text.starts_with("-----") {
            Err("not a PEM private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)".into())
        } else {
            let der = bare_der(text)?;
            PKey::private_key_from_pkcs8(&der)
                .or_else(|e| Rsa::private_key_from_der(&der).and_then(PKey::from_rsa).map_err(|_| e))
                .map_err(|e| e.to_string())
        };
    let key = parsed.map_err(|e| format!("not an RSA private key ({KEY_FORMS}): {e}"))?;
    // A damaged key may still parse: OpenSSL's consistency check catches it before any signing.
    let consistent = key.rsa().map_err(|_| format!("not an RSA key ({KEY_FORMS})"))?.check_key().unwrap_or(false);
    if !consistent {
        return Err(format!("not a consistent RSA private key ({KEY_FORMS})"));
    }
    Ok(key)
}

pub(super) fn public_key(text: &str) -> Result<PKey<Public>, String> {
    let text = text.trim();
    let parsed = if text.starts_with("-----BEGIN RSA PUBLIC KEY-----") {
        Rsa::public_key_from_pem_pkcs1(tidy_pem(text).as_bytes()).and_then(PKey::from_rsa).map_err(|e| e.to_string())
    } else if text.starts_with("-----BEGIN PUBLIC KEY-----") {
        PKey::public_key_from_pem(tidy_pem(text).as_bytes()).map_err(|e| e.to_string())
    } else if text.starts_with("-----") {
        Err("not a PEM public key (BEGIN PUBLIC KEY or BEGIN RSA PUBLIC KEY)".into())
    } else {
        let der = bare_der(text)?;
        PKey::public_key_from_der(&der)
            .or_else(|e| Rsa::public_key_from_der_pkcs1(&der).and_then(PKey::from_rsa).map_err(|_| e))
            .map_err(|e| e.to_string())
    };
    let key = parsed.map_err(|e| format!("not an RSA public key (SPKI or PKCS#1, PEM or bare base64): {e}"))?;
    key.rsa().map_err(|_| "not an RSA key (SPKI or PKCS#1, PEM or bare base64)".to_string())?;
    Ok(key)
}

pub(super) fn is_published_sandbox_key(key: &PKey<Public>) -> bool {
    key.public_key_to_der().is_ok_and(|der| {
        let digest = openssl::sha::sha256(&der);
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>() == PUBLISHED_SANDBOX_KEY_SHA256
    })
}

/// A gateway on loopback (the built-in fake's, or a test's).
pub(super) fn on_this_machine(gateway_url: &str) -> bool {
    match url::Url::parse(gateway_url).ok().and_then(|u| u.host().map(|h| h.to_owned())) {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}
