//! Provider tokens at rest: AES-256-GCM with a random 96-bit nonce per value, by OpenSSL (already
//! linked for TLS and Alipay's RSA2; no second crypto stack). A stored value reads
//! `v1:<base64(nonce ‖ ciphertext ‖ tag)>`.
//!
//! Where the key comes from: `token_key` in the configuration (a headless host), else the OS
//! keychain (the desktop shell puts it into the configuration before the core starts), else a
//! key file `<data_dir>/token.key` created with mode 0600 (see [`load_or_create_key_file`]).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};
use secrecy::{ExposeSecret, SecretString};

const VERSION: &str = "v1:";
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

    pub fn encrypt(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce).expect("the system random generator");
        let mut tag = [0u8; TAG_LEN];
        let sealed = encrypt_aead(Cipher::aes_256_gcm(), &self.key, Some(&nonce), b"", plain.as_bytes(), &mut tag)
            .expect("AES-256-GCM encryption");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&tag);
        format!("{VERSION}{}", STANDARD.encode(out))
    }

    /// The plain text back; an error (never the value) when the key is wrong or the value was
    /// altered.
    pub fn decrypt(&self, stored: &str) -> Result<SecretString, String> {
        let body = stored.strip_prefix(VERSION).ok_or("unknown token format")?;
        let raw = STANDARD.decode(body).map_err(|_| "damaged token (not base64)")?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err("damaged token (too short)".into());
        }
        let (nonce, rest) = raw.split_at(NONCE_LEN);
        let (sealed, tag) = rest.split_at(rest.len() - TAG_LEN);
        let plain = decrypt_aead(Cipher::aes_256_gcm(), &self.key, Some(nonce), b"", sealed, tag)
            .map_err(|_| "the token does not decrypt with this key (a different key, or altered data)")?;
        String::from_utf8(plain).map(SecretString::from).map_err(|_| "damaged token (not text)".into())
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
    fn round_trip_and_tamper() {
        let cipher = TokenCipher::from_base64(TokenCipher::generate_key().expose_secret()).unwrap();
        let stored = cipher.encrypt("2.00abc_token");
        assert!(stored.starts_with("v1:"));
        assert!(!stored.contains("2.00abc_token"));
        assert_eq!(cipher.decrypt(&stored).unwrap().expose_secret(), "2.00abc_token");
        // Two encryptions of one value differ (fresh nonce).
        assert_ne!(cipher.encrypt("x"), cipher.encrypt("x"));
        let other = TokenCipher::from_base64(TokenCipher::generate_key().expose_secret()).unwrap();
        assert!(other.decrypt(&stored).is_err());
        let mut raw = STANDARD.decode(&stored[3..]).unwrap();
        raw[NONCE_LEN] ^= 1;
        assert!(cipher.decrypt(&format!("v1:{}", STANDARD.encode(raw))).is_err());
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(TokenCipher::from_base64("not base64!").unwrap_err().contains("base64"));
        assert!(TokenCipher::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err().contains("16 bytes"));
    }
}
