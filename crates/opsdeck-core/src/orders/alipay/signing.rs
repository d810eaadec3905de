//! RSA2 signing (SHA256withRSA, PKCS#1 v1.5, by OpenSSL): the text Alipay signs, a request's
//! parameters signed with the app's key, and a signature checked with Alipay's public key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, Utc};
use openssl::hash::MessageDigest;
use openssl::sign::{Signer, Verifier};

use super::{AlipayClient, AlipayError};

impl AlipayClient {
    /// The request's parameters, `sign` last.
    pub(super) fn signed_params(
        &self,
        method: &str,
        biz_content: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, AlipayError> {
        let timestamp = now.with_timezone(&gmt8()).format("%Y-%m-%d %H:%M:%S").to_string();
        let mut params: Vec<(String, String)> = [
            ("app_id", self.app_id.as_str()),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", &timestamp),
            ("version", "1.0"),
            ("biz_content", biz_content),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let content = signing_content(&params, false);
        let signature = Signer::new(MessageDigest::sha256(), &self.signing_key)
            .and_then(|mut signer| {
                signer.update(content.as_bytes())?;
                signer.sign_to_vec()
            })
            .map_err(|e| AlipayError::Config(format!("cannot sign with app_private_key: {e}")))?;
        params.push(("sign".into(), STANDARD.encode(signature)));
        Ok(params)
    }

    /// Alipay's own SDK tolerates answers whose text escapes `/` as `\/` while the signature
    /// covers the unescaped form; so does this.
    pub(super) fn verifies_answer(&self, raw: &str, sign: &str) -> bool {
        self.verifies(raw.as_bytes(), sign)
            || (raw.contains("\\/") && self.verifies(raw.replace("\\/", "/").as_bytes(), sign))
    }

    pub(super) fn verifies(&self, content: &[u8], sign: &str) -> bool {
        let Ok(signature) = STANDARD.decode(sign.trim()) else { return false };
        Verifier::new(MessageDigest::sha256(), &self.verifying_key)
            .and_then(|mut verifier| {
                verifier.update(content)?;
                verifier.verify(&signature)
            })
            .unwrap_or(false)
    }
}

fn gmt8() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("GMT+8 is a valid offset")
}

/// The text Alipay signs: every parameter but `sign` (and `sign_type` when
/// `exclude_sign_type`: notifies exclude it, requests include it), empty values dropped, sorted
/// by key (ASCII), joined raw (not URL-encoded) as `k=v&k2=v2`.
pub fn signing_content(params: &[(String, String)], exclude_sign_type: bool) -> String {
    let mut kept: Vec<&(String, String)> = params
        .iter()
        .filter(|(key, value)| !value.is_empty() && key != "sign" && !(exclude_sign_type && key == "sign_type"))
        .collect();
    kept.sort();
    let pairs: Vec<String> = kept.iter().map(|(key, value)| format!("{key}={value}")).collect();
    pairs.join("&")
}
