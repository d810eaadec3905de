//! The window's staff session, as the shell holds it: only the token the core issued at sign-in
//! (`Ops::sign_in_complete` → `SignInResult::SignedIn`). The shell never decides who is signed
//! in: it names the token to every operation and the core answers (or refuses).
//!
//! The token is kept in memory and in `<data_dir>/session.token` (mode 0600, written atomically,
//! removed at sign-out), so a restart of the app keeps the session until it ends (expiry, sign-out
//! or an admin's revoke). The next issue moves it to the OS keychain; until then the file is
//! readable by its owner only, like the rest of the data dir's secrets.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use opsdeck_api::accounts::Staff;
use opsdeck_api::{ErrorBody, ErrorCode, Ops, SessionToken};

/// The file the token is kept in, inside the data dir.
pub const TOKEN_FILE: &str = "session.token";

/// The session token this window holds, if any.
pub struct SessionStore {
    path: PathBuf,
    token: Mutex<Option<SessionToken>>,
}

impl SessionStore {
    /// The store over `data_dir`, with the token an earlier run kept there (if any). An
    /// unreadable file counts as no session (the user signs in again).
    pub fn open(data_dir: &Path) -> SessionStore {
        let path = data_dir.join(TOKEN_FILE);
        let token = match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Some(SessionToken::new(text.trim())),
            Ok(_) => None,
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "cannot read the kept session; sign in again");
                None
            }
        };
        SessionStore { path, token: Mutex::new(token) }
    }

    /// Where the token is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The token to name to an operation: the one held, or none (the core refuses it).
    pub fn token(&self) -> SessionToken {
        self.token.lock().expect("session lock").clone().unwrap_or_else(SessionToken::none)
    }

    /// True while a token is held (whether the core still honours it is the core's to say).
    pub fn holds(&self) -> bool {
        self.token.lock().expect("session lock").is_some()
    }

    /// Keeps a token the core just issued, in memory and on disk. In memory even when the file
    /// cannot be written (the session then ends with the app); the error says why.
    pub fn keep(&self, token: SessionToken) -> io::Result<()> {
        *self.token.lock().expect("session lock") = Some(token.clone());
        write_private(&self.path, token.expose())
    }

    /// Forgets the token, in memory and on disk.
    pub fn forget(&self) {
        *self.token.lock().expect("session lock") = None;
        self.remove_file();
    }

    /// Forgets `token` if it is still the one held (a newer sign-in's is left alone).
    fn forget_if(&self, token: &SessionToken) {
        let mut held = self.token.lock().expect("session lock");
        if held.as_ref() == Some(token) {
            *held = None;
            self.remove_file();
        }
    }

    fn remove_file(&self) {
        if let Err(e) = std::fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(error = %e, path = %self.path.display(), "cannot remove the kept session");
        }
    }

    /// The signed-in staff member, as the core answers for the token held (the role as it is
    /// now); none when no token is held. A token the core refuses (`unauthenticated`: expired,
    /// revoked, user gone; `forbidden`: the role removed) is forgotten.
    pub async fn staff(&self, ops: &dyn Ops) -> Result<Option<Staff>, ErrorBody> {
        if !self.holds() {
            return Ok(None);
        }
        let token = self.token();
        match ops.session_staff(&token).await {
            Ok(staff) => Ok(Some(staff)),
            Err(e) if refused(&e) => {
                self.forget_if(&token);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Ends the session at the core and forgets it. A session the core no longer honours is
    /// forgotten all the same; any other failure (the database down) keeps it, so signing out
    /// can be tried again.
    pub async fn sign_out(&self, ops: &dyn Ops) -> Result<(), ErrorBody> {
        if !self.holds() {
            return Ok(());
        }
        let token = self.token();
        match ops.sign_out(&token).await {
            Ok(()) => {}
            Err(e) if refused(&e) => {}
            Err(e) => return Err(e),
        }
        self.forget_if(&token);
        Ok(())
    }
}

/// A refusal for who is asking: the session is over.
fn refused(e: &ErrorBody) -> bool {
    matches!(e.code, ErrorCode::Unauthenticated | ErrorCode::Forbidden)
}

/// Writes `text` to `path` readable by its owner only, atomically: a temporary file beside it
/// (created 0600), synced, then renamed over it.
fn write_private(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or(TOKEN_FILE);
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let written = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
