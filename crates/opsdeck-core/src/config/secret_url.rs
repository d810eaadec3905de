//! [`SecretUrl`]: a connection URL whose printed forms mask its password and secret parameters.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// A connection URL that may hold a password: printing it (Debug or Display) masks the password
/// of the userinfo and the value of every query parameter whose name says it is a secret
/// ([`is_secret_parameter`]: `password`, `pass`, `token`, `secret`, `key`, …).
#[derive(Clone)]
pub struct SecretUrl {
    secret: SecretString,
    masked: String,
    scheme: String,
}

impl SecretUrl {
    pub fn parse(raw: &str) -> Result<SecretUrl, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let mut shown = url.clone();
        if url.password().is_some() {
            // Only fails for cannot-be-a-base URLs, which have no password to mask.
            let _ = shown.set_password(Some("****"));
        }
        if url.query_pairs().any(|(name, _)| is_secret_parameter(&name)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(name, value)| {
                    let value = if is_secret_parameter(&name) { "****".to_string() } else { value.into_owned() };
                    (name.into_owned(), value)
                })
                .collect();
            shown.query_pairs_mut().clear().extend_pairs(pairs);
        }
        Ok(SecretUrl {
            secret: SecretString::from(raw.to_string()),
            masked: shown.to_string(),
            scheme: url.scheme().to_string(),
        })
    }

    /// The real URL, for the one place that connects with it.
    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }
}

/// Whether a URL's query parameter of this name holds a secret (case and `-`/`_` ignored): any
/// name containing `pass` (`password`, `passwd`, `redis_pass`), `pwd`, `token`, `secret`, `key`
/// (`api_key`, `sslkey`: a path, masked all the same), `auth`, `credential` or `signature`.
pub fn is_secret_parameter(name: &str) -> bool {
    let name: String = name.chars().filter(|c| !matches!(c, '-' | '_' | '.')).collect::<String>().to_ascii_lowercase();
    ["pass", "pwd", "token", "secret", "key", "auth", "credential", "signature"].iter().any(|word| name.contains(word))
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked)
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.masked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_string_secrets_are_masked() {
        let url = SecretUrl::parse(
            "mysql://opsdeck:hunter2@db.example:3306/shop?ssl-mode=REQUIRED&password=s3cr3t&Pass=p1&auth_token=t0k&api-key=k3y&client_secret=c5",
        )
        .unwrap();
        let shown = url.to_string();
        for secret in ["hunter2", "s3cr3t", "p1", "t0k", "k3y", "c5"] {
            assert!(!shown.contains(secret), "{secret} printed in {shown}");
            assert!(!format!("{url:?}").contains(secret), "{secret} printed by Debug");
        }
        assert!(shown.contains("ssl-mode=REQUIRED"), "other parameters stay: {shown}");
        assert!(shown.contains("password=****") && shown.contains("api-key=****"), "{shown}");
        assert!(url.expose().contains("password=s3cr3t"), "the connection still gets the real URL");
    }

    #[test]
    fn a_url_without_secrets_prints_as_given() {
        let url = SecretUrl::parse("redis://127.0.0.1:6379/0?protocol=resp3").unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379/0?protocol=resp3");
        let url = SecretUrl::parse("redis://127.0.0.1:6379/0?pass=x%20y").unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379/0?pass=****");
    }

    #[test]
    fn secret_parameter_names() {
        for name in
            ["password", "PASSWORD", "pass", "passwd", "pwd", "token", "access_token", "secret", "key", "sslkey"]
        {
            assert!(is_secret_parameter(name), "{name}");
        }
        for name in ["mode", "ssl-mode", "timeout", "charset", "protocol", "db"] {
            assert!(!is_secret_parameter(name), "{name}");
        }
    }
}
