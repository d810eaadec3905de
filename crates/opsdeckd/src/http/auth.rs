//! The intake endpoints' bearer token: `Authorization: Bearer <api_token>`, compared in constant
//! time; and, when no `api_token` is configured, the token file the daemon keeps in its data dir.
//! The token never reaches a log.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use opsdeck_core::random_token;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::HttpError;

/// The file under the data dir that holds the generated token.
pub const TOKEN_FILE: &str = "api-token";

/// Proof that the request carried the API token; a handler that takes it is authenticated
/// (before its body is read).
#[derive(Debug, Clone, Copy)]
pub struct Authorized;

impl FromRequestParts<AppState> for Authorized {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Authorized, HttpError> {
        let Some(presented) = bearer(parts) else {
            return Err(HttpError::unauthenticated("this endpoint needs `Authorization: Bearer <api_token>`"));
        };
        if token_matches(presented, &state.settings.token) {
            Ok(Authorized)
        } else {
            tracing::debug!(path = %parts.uri.path(), "a request with a wrong API token was refused");
            Err(HttpError::unauthenticated("the bearer token is not the API token"))
        }
    }
}

/// Proof that the request may read `/metrics`: it carried the `metrics_token`, or the API token
/// when no `metrics_token` is configured.
#[derive(Debug, Clone, Copy)]
pub struct MetricsReader;

impl FromRequestParts<AppState> for MetricsReader {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<MetricsReader, HttpError> {
        let expected = state.settings.metrics_token.as_ref().unwrap_or(&state.settings.token);
        match bearer(parts) {
            Some(presented) if token_matches(presented, expected) => Ok(MetricsReader),
            Some(_) => Err(HttpError::unauthenticated("the bearer token is not the metrics token")),
            None => Err(HttpError::unauthenticated(
                "/metrics needs `Authorization: Bearer <metrics_token>` (the API token when no metrics_token is configured)",
            )),
        }
    }
}

/// Whether the request carried the API token or the metrics token; never refuses (an open
/// route that tells more to a caller with a token: `/healthz`).
#[derive(Debug, Clone, Copy)]
pub struct WithToken(pub bool);

impl FromRequestParts<AppState> for WithToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<WithToken, Self::Rejection> {
        let settings = &state.settings;
        let valid = bearer(parts).is_some_and(|presented| {
            token_matches(presented, &settings.token)
                | settings.metrics_token.as_ref().is_some_and(|token| token_matches(presented, token))
        });
        Ok(WithToken(valid))
    }
}

/// The token of `Authorization: Bearer <token>`, if the request has one.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}

/// Constant time in the token's content (a length mismatch fails at once; the length is no
/// secret).
pub fn token_matches(presented: &str, expected: &SecretString) -> bool {
    bool::from(presented.as_bytes().ct_eq(expected.expose_secret().as_bytes()))
}

/// The API token kept in `<data_dir>/api-token`: read when the file exists, else generated
/// (32 random bytes, URL-safe base64) and written with mode 0600. Two daemons starting at once
/// on one data dir end up with the same token (the file is published with a hard link, which
/// refuses to replace one that appeared meanwhile). Returns the token and the file's path.
pub fn token_from_file(data_dir: &Path) -> std::io::Result<(SecretString, PathBuf)> {
    let path = data_dir.join(TOKEN_FILE);
    if let Some(token) = read_token(&path)? {
        return Ok((token, path));
    }
    std::fs::create_dir_all(data_dir)?;
    let temp = data_dir.join(format!(".{TOKEN_FILE}.{}.tmp", std::process::id()));
    let token = random_token();
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&temp)?;
        file.write_all(token.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
    }
    let published = std::fs::hard_link(&temp, &path);
    let _ = std::fs::remove_file(&temp);
    match published {
        Ok(()) => Ok((SecretString::from(token), path)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let token = read_token(&path)?.ok_or_else(|| empty_file(&path))?;
            Ok((token, path))
        }
        Err(e) => Err(e),
    }
}

/// The token in `path`; None when there is no such file.
fn read_token(path: &Path) -> std::io::Result<Option<SecretString>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let token = text.trim();
            if token.is_empty() {
                return Err(empty_file(path));
            }
            warn_if_readable_by_others(path);
            Ok(Some(SecretString::from(token.to_string())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn empty_file(path: &Path) -> std::io::Error {
    std::io::Error::other(format!("{} is empty: delete it to have a new token generated", path.display()))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the API token file is readable by others: chmod 600 it");
        }
    }
}
