//! Values sealed at rest: AES-256-GCM with a random 96-bit nonce per value, by OpenSSL (already
//! linked for TLS and Alipay's RSA2; no second crypto stack). Nothing is sealed today: OpsDeck
//! stores no provider token, since no feature uses one. A feature that must keep a secret seals
//! it with [`TokenCipher::seal`], which binds it to where it is kept (associated data such as
//! `oauth_accounts:weibo:5678001:access_token`, so a value moved to another row or column does not
//! open) and names the key (`v2:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>`, the key id the first
//! 8 bytes of the key's SHA-256, hex), so several keys can be told apart during a rotation.
//!
//! Where the key comes from: `token_key` in the configuration (a headless host), else the OS
//! keychain (the desktop shell puts it into the configuration before the core starts), else a
//! key file `<data_dir>/token.key` created with mode 0600 (see [`load_or_create_key_file`]).

// Nothing seals a value yet (see above): only the tests exercise this module until a feature does.
#![cfg_attr(not(feature = "internals"), allow(dead_code))]

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use secrecy::{ExposeSecret, SecretString};

const VERSION: &str = "v2:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Encrypts and decrypts tokens with one 256-bit key.
#[derive(Clone)]
pub struct TokenCipher {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(****)")
    }
}

impl TokenCipher {
    /// A key given as base64 of exactly 32 bytes.
    pub fn from_base64(key: &str) -> Result<TokenCipher, String> {
        let bytes = STANDARD.decode(key.trim()).map_err(|_| {
            "is not base64 (expected 32 random bytes in base64, e.g. `openssl rand -base64 32`)".to_string()
        })?;
        let key: [u8; 32] =
            bytes.try_into().map_err(|b: Vec<u8>| format!("is {} bytes long; an AES-256 key is 32 bytes", b.len()))?;
        Ok(TokenCipher { key })
    }

    /// A fresh random key, base64.
    pub fn generate_key() -> SecretString {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key).expect("the system random generator");
        SecretString::from(STANDARD.encode(key))
    }

    /// The key's id: the first 8 bytes of its SHA-256, hex.
    pub fn key_id(&self) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(self.key)[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Seals `plain` for the place `context` names (e.g. `table:provider:uid:column`).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce).expect("the system random generator");
        let mut tag = [0u8; TAG_LEN];
        let sealed = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            context.as_bytes(),
            plain.as_bytes(),
            &mut tag,
        )
        .expect("AES-256-GCM encryption");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&tag);
        format!("{VERSION}{}:{}", self.key_id(), STANDARD.encode(out))
    }

    /// The plain text back, if `stored` was sealed with this key for `context`; an error (never
    /// the value) when it names another key, was sealed for another place, or was altered.
    pub fn open(&self, stored: &str, context: &str) -> Result<SecretString, String> {
        let rest = stored.strip_prefix(VERSION).ok_or("unknown sealed format")?;
        let (key_id, body) = rest.split_once(':').ok_or("unknown sealed format")?;
        if key_id != self.key_id() {
            return Err(format!("sealed with another key (id {key_id})"));
        }
        let raw = STANDARD.decode(body).map_err(|_| "damaged value (not base64)")?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err("damaged value (too short)".into());
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
        let plain = decrypt_aead(Cipher::aes_256_gcm(), &self.key, Some(nonce), context.as_bytes(), sealed, tag)
            .map_err(|_| "the value does not open here (sealed for another place, or altered)")?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| "damaged value (not text)".into())
    }
}

/// The key file of a host without a keychain or a configured key: read it, or create it with a
/// fresh key readable by the owner only.
pub fn load_or_create_key_file(path: &Path) -> std::io::Result<SecretString> {
    match std::fs::read_to_string(path) {
        Ok(key) => return Ok(SecretString::from(key.trim().to_string())),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let key = TokenCipher::generate_key();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write;
            file.write_all(key.expose_secret().as_bytes())?;
            file.sync_all()?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(SecretString::from(std::fs::read_to_string(path)?.trim().to_string()))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_place_key_and_tamper() {
        let cipher = TokenCipher::from_base64(TokenCipher::generate_key().expose_secret()).unwrap();
        let here = "oauth_accounts:weibo:5678001:access_token";
        let stored = cipher.seal("2.00abc_token", here);
        assert!(stored.starts_with(&format!("v2:{}:", cipher.key_id())), "{stored}");
        assert!(!stored.contains("2.00abc_token"));
        assert_eq!(cipher.open(&stored, here).unwrap().expose_secret(), "2.00abc_token");
        // Two seals of one value differ (fresh nonce).
        assert_ne!(cipher.seal("x", here), cipher.seal("x", here));
        // Moved to another row or column: it does not open.
        assert!(cipher.open(&stored, "oauth_accounts:weibo:5678002:access_token").is_err());
        assert!(cipher.open(&stored, "oauth_accounts:weibo:5678001:refresh_token").is_err());
        // Another key: named as such.
        let other = TokenCipher::from_base64(TokenCipher::generate_key().expose_secret()).unwrap();
        assert!(other.open(&stored, here).unwrap_err().contains("another key"));
        // Altered.
        let body = stored.rsplit_once(':').unwrap().1;
        let mut raw = STANDARD.decode(body).unwrap();
        raw[NONCE_LEN] ^= 1;
        let altered = format!("v2:{}:{}", cipher.key_id(), STANDARD.encode(raw));
        assert!(cipher.open(&altered, here).is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(TokenCipher::from_base64("not base64!").unwrap_err().contains("base64"));
        assert!(TokenCipher::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err().contains("16 bytes"));
    }
}
