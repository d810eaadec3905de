//! The intake endpoints' bearer token: `Authorization: Bearer <api_token>`, compared in constant
//! time; and, when no `api_token` is configured, the token file the daemon keeps in its data dir.
//! The token never reaches a log.

use std::io::Write;
use std::path::{Path, PathBuf};

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use opsdeck_core::accounts::random_token;
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
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(presented) = presented else {
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
