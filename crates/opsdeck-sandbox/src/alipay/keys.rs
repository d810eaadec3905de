//! The sandbox key pairs (both private keys published: sandbox keys, not secrets), the fake's
//! signature over what it sends, and the check of a request's signature with the app's key.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};

use super::Shared;

/// The sandbox app's private key (PKCS#8 PEM, RSA 2048), for clients of the fake to sign with.
/// A sandbox key, not a secret.
pub const SANDBOX_APP_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEuwIBADANBgkqhkiG9w0BAQEFAASCBKUwggShAgEAAoIBAQCXq1isHZLGgBkl
CXhC8ydM8c81stx+Ks1aOXHeRyk62MPebEqRTZoXyE6MbeZroqhFhQkwPJrhwwpB
i3Rp3wbzr0WUtvTPpvEXh6uMLItK4xbFH00TQYX2YclcHyCmtipLOJAMDfCChpNZ
vnlbBKiq9PFXqh5QZ7pqQQVUGHaBhNqYBI64YZ7e0sT9UYmYhEI+4Py37nHmEVYq
S+INHZAN9tpejRrRMG5qzno2ZkknmEiY4clszW6lYaboYYMEldnfXqzusYz/8unz
Eo6gT0dNY4oBiI559HY7xkC3tn/+nwEpiVlB7rCdpD03vguauT4A8WAGR/5J8d82
iJHU9pahAgMBAAECgf8rd9P6YjzsMrZv3qkBq66I2D/BnXkmZpxWM81pvZedbDYx
uTgJjh5/b+4WgxkULdt2o31WxSxmAsrotPl+vrREWBpHmoup4IbEDhJxLG2hj331
e/DLSTZZIpLhWr4Ci02J07fSIFspUATGijKkvSPIlYV+iC13w0YcuWSdWg8Nxi8M
0GuZAZDm8IUb8dqqsL7JlRzqjeKpiqbGrD8AVVxXsTI1MDClc0eMVHMqbxZxxdtw
oBGcP1+eFcoPrKi3VqGlQeRxwG6+0cyexJodb5jYMIa5IwkuvnGsl9F6/XhRX/jh
RZjjCfPsoo6Srscazk3zJNJEGHc8vF2ThDsWUmkCgYEA1L3xqTx4gKqIoBhM7Er0
+z5ii1avPgVY9t1Kf7cTlpkOs1LyIRf3Ek1Emi6UnaEuACFuWh/6EO+lVhB4LOaD
obkVy3i8YnRkZwSFwxlgQI45m7CZEhGUzHeUh99Pk3m46oLRCQbP98LMdULKpgpj
MyzCN8MqFQGWyvGHomlCMjUCgYEAtoJUujj3kXxGFq1tjZkOMOAhFOYoZk3i7/d6
HPzPgLF3JBv1kw2ym0PyDuw+Q4Yhoo4xEKIcztpyu/PzgtawMZb7lERs87P6/sfd
1W2+KdC+DzOAYQilevLOVHffYdlt1VNrini/ZcOyx53KujQxfxKl8+wWTjaXgkpD
hG+CID0CgYAaHk/DBUeOFGG9tf4LrJAzIE+c58GQDbwEYtq4n1NqU9Q4M+DCK10M
BCx9+WYJjDZHkdMogXCED8furwryCEL04fJJDsOiGsQQ2b9KWp00j8GG2cGRNFNe
Xvf/Tm1In9MSB4l+YDW8J1BOvSqABBp1t/MIQY+zEITg2ZJbYCzeWQKBgCmz6CZR
JAijS+Scpj7HrV1vqT98Q9j0jRlmBAohnkx6wI2IsflzFM+zm9jbFHMbcA4TzZRO
ZqTBd5wI5yiLY+FA7aV4aSjahEy5YLAHDn/BidwxWXFSp3VLi+fzKCDUrOskz5rp
clqPeAdyv8MCcBjoKvFsjcA7ay1DSOA3FpXFAoGBAKJD3YkzgzxiiZl5/y4b9Awo
m7ABnuua/oW2RUR4PQrLrmYZo1La5V4pMwN9qmowsWxpn69AYh/bysZAdAEw2pA8
a0VXHRI49OvQYVOnPKfGV/8vnzvzmS85s0ekPFa4GL52ngcXcU0lEE5gw7YLyPZN
8ot0HWpGUUQAmztjypAH
-----END PRIVATE KEY-----
";

/// The sandbox app's public key (SPKI PEM): the fake verifies requests with it.
pub const SANDBOX_APP_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAl6tYrB2SxoAZJQl4QvMn
TPHPNbLcfirNWjlx3kcpOtjD3mxKkU2aF8hOjG3ma6KoRYUJMDya4cMKQYt0ad8G
869FlLb0z6bxF4erjCyLSuMWxR9NE0GF9mHJXB8gprYqSziQDA3wgoaTWb55WwSo
qvTxV6oeUGe6akEFVBh2gYTamASOuGGe3tLE/VGJmIRCPuD8t+5x5hFWKkviDR2Q
DfbaXo0a0TBuas56NmZJJ5hImOHJbM1upWGm6GGDBJXZ316s7rGM//Lp8xKOoE9H
TWOKAYiOefR2O8ZAt7Z//p8BKYlZQe6wnaQ9N74Lmrk+APFgBkf+SfHfNoiR1PaW
oQIDAQAB
-----END PUBLIC KEY-----
";

/// The fake Alipay's public key (SPKI PEM), for clients to verify its answers and notifies.
pub const SANDBOX_ALIPAY_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArG6x47f1lLh7R/EsrIXb
CDxUrbDBq+VBa9cz9TYuLxsyst/LQ5a4mixDJrZj0evDgktqKyOylGQdPGPhJebY
fIk2X+B6gO9QfhTieSRVJFe07xMfmE18FRPCmJd4ZvpDVWuM1PGZesK9hoXc5h/R
I19EXeABn+wr0mpEmYU/3aF5bx2XAnV8tnpC/zX4g50Lin8vejAkRMMalir6VPie
bUEWHhsPhDcS42zbEZ/dPuZLzK1ocJlDtpz9fL4fFgEfhFIOooxGjgK+hVYhPaoq
suMOqwCzjb/f6JPcLlufvhI1VvE2KuLxVYX+/JOhUSBrdoBbSQLAvw/U0tbE0Wsw
SwIDAQAB
-----END PUBLIC KEY-----
";

/// The fake Alipay's private key (PKCS#8 PEM): it signs answers and notifies.
pub(super) const SANDBOX_ALIPAY_PRIVATE_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCsbrHjt/WUuHtH
8SyshdsIPFStsMGr5UFr1zP1Ni4vGzKy38tDlriaLEMmtmPR68OCS2orI7KUZB08
Y+El5th8iTZf4HqA71B+FOJ5JFUkV7TvEx+YTXwVE8KYl3hm+kNVa4zU8Zl6wr2G
hdzmH9EjX0Rd4AGf7CvSakSZhT/doXlvHZcCdXy2ekL/NfiDnQuKfy96MCREwxqW
KvpU+J5tQRYeGw+ENxLjbNsRn90+5kvMrWhwmUO2nP18vh8WAR+EUg6ijEaOAr6F
ViE9qiqy4w6rALONv9/ok9wuW5++EjVW8TYq4vFVhf78k6FRIGt2gFtJAsC/D9TS
1sTRazBLAgMBAAECggEAEoYnzSdnlg0FjXJ+0p/kqmtUy34IKE/OKegqGEc0SfI5
jZbWLtIjzchAhImmipgx3i783lqM5j0lGOY/+0Lj8ekJst4aOvy6oHjc5Ze+H9Pe
R6q9w65bTKZdSuhG0oVDM4uEyyGTU+lU0/1QgFZdsNecsBsPAZ+tC4NIEFgMxuHT
N9xhNwmbEIEhv/ID4qKgdIo/+cE+Q8PArChmfI17eKmSiiGuiX0Hl9FBVer0gTmP
EZp1+M25wXl+IMJvV8X+U74C+YukHK0GARf4iX+MT4uRAqw2sIdhhRqsy/nTKatq
rwpYL1DATYW22PY5EXDbJ2qKmQJQJVjUpNxRKaG5PQKBgQDh0Q7Mv7zF88h4cPHQ
OXLLntY+qUXkUgnmKwUFngEoPWYsoNnlPI5TfAe4bP0srGQUzrBB9GkIC+PicJcF
Z6F2NSnMrxfPAqPkcw16pRGasXtLD6S4Q2XHKYU3Qslgj9TlFUJ3Bpo3PlML43Vr
ureNfFQ1uqmhQCCjATQaVtMjJQKBgQDDevKW3gavvSRtqynkhoF6AFLfnfvBxmYR
R2Jv8aw2KwR7zHosVABWpzt/EQ24p/WYj6Zx1XKW/6Khe7lugQBDtTXd8BZb3LSM
XRRSjHLBBEztd8pAYsQNDokOq7wqgnLll81/+g2U1CqzS9bQNPuiklFz4DyJoMBA
uE+1FHpirwKBgDGt3oWpAQzDryzgHDLlEJ4/WX77moa6jbb3a+lqc3K430ueL5HB
Gsa/GKu4PpKfcn0pY5l+/cRpaT8d6fukat8onwOK2cAPIqNVtHdw7UiNF0TSMjjf
ivqf5dDcfpUhz4J+hNrOtwrESVzqM6D5uPwFiDkx0bPJ+eQilaXdyCGJAoGAQjkS
md2ZskuHXcfQp2SR1Hzrlmn08g5+YXgndvkOeENWf4IkGYRToQeCdmeWmGn+H7L6
ljHTYig0NjSt+yukpUtsdkVxrak1WR/nVJfUAGOuk/wy/mD3Pd0gvWGcm2IZ/oHQ
0nwpwbOmy5rzqRFp9gdPpMvgdleJCePmzNelJm0CgYBBbAmCHj5COGOHu+hgLAum
XIL5NJdQzFviNaV2KfGrpR443hu5UCoJwabtTbM2SXqDytwNnMXQXtFGSL3wMIzg
wrrR6lSYMbxS7O5UslnD6RNTJXr02BgOF9St4dJY8hkHuht/Anw46+rYoiLs4qJ1
2nYp5gXcep7QeBAI4ZmIgQ==
-----END PRIVATE KEY-----
";

/// The sandbox shop's Alipay account, named in the fake's notifies.
pub const SANDBOX_SELLER_ID: &str = "2088101117955611";

/// RSA2 (SHA256withRSA, PKCS#1 v1.5) by OpenSSL, as the client does.
pub(super) struct Keys {
    pub(super) app: PKey<Public>,
    pub(super) alipay: PKey<Private>,
}

impl Shared {
    pub(super) fn sign(&self, content: &str) -> String {
        let signature = Signer::new(MessageDigest::sha256(), &self.keys.alipay)
            .and_then(|mut signer| {
                signer.update(content.as_bytes())?;
                signer.sign_to_vec()
            })
            .expect("the sandbox's own key signs");
        STANDARD.encode(signature)
    }
}

pub(super) fn request_signature_verifies(shared: &Shared, params: &[(String, String)], sign: &str) -> bool {
    let signed: BTreeMap<&str, &str> =
        params.iter().filter(|(k, v)| k != "sign" && !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let content: Vec<String> = signed.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let Ok(signature) = STANDARD.decode(sign) else { return false };
    Verifier::new(MessageDigest::sha256(), &shared.keys.app)
        .and_then(|mut verifier| {
            verifier.update(content.join("&").as_bytes())?;
            verifier.verify(&signature)
        })
        .unwrap_or(false)
}
