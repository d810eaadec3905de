//! The window's staff session, as the shell holds it: only the token the core issued at sign-in
//! (`Ops::sign_in_complete` → `SignInResult::SignedIn`). The shell never decides who is signed
//! in: it names the token to every operation and the core answers (or refuses).
//!
//! The token is kept in memory and where `vault.rs` says (embedded: `<data_dir>/session.token`;
//! remote: the OS keychain, else `<data_dir>/server-session.json`), so a restart of the app keeps
//! the session until it ends (expiry, sign-out or an admin's revoke).

mod vault;

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use opsdeck_api::accounts::Staff;
use opsdeck_api::{ErrorBody, ErrorCode, Ops, SessionToken};
use tokio::sync::watch;

use vault::Vault;
pub use vault::{KEYCHAIN_SERVICE, Keychain, OsKeychain, SERVER_SESSION_FILE, TOKEN_FILE};
pub(crate) use vault::{server_file_names, write_private};

/// The session token this window holds, if any.
pub struct SessionStore {
    vault: Vault,
    token: Mutex<Option<SessionToken>>,
    /// Bumped whenever the token held changes (kept or forgotten): the event bridge follows it.
    changes: watch::Sender<u64>,
}

impl SessionStore {
    /// The embedded core's store over `data_dir`, with the token an earlier run kept there (if any).
    pub fn open(data_dir: &Path) -> SessionStore {
        SessionStore::over(Vault::local(data_dir))
    }

    /// A server's store: its session kept in `keychain` (none: no keychain here), else in
    /// `<data_dir>/server-session.json`; with the token an earlier run kept for `server_url`.
    pub fn for_server(data_dir: &Path, server_url: &str, keychain: Option<Arc<dyn Keychain>>) -> SessionStore {
        SessionStore::over(Vault::server(data_dir, server_url, keychain))
    }

    fn over(vault: Vault) -> SessionStore {
        let token = vault.load();
        SessionStore { vault, token: Mutex::new(token), changes: watch::channel(0).0 }
    }

    /// Follows the token held: a new value whenever it is kept or forgotten.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// Where the token is kept.
    pub fn path(&self) -> &Path {
        self.vault.path()
    }

    /// The token to name to an operation: the one held, or none (the core refuses it).
    pub fn token(&self) -> SessionToken {
        self.token.lock().expect("session lock").clone().unwrap_or_else(SessionToken::none)
    }

    /// The token held, if any.
    pub(crate) fn held(&self) -> Option<SessionToken> {
        self.token.lock().expect("session lock").clone()
    }

    /// True while a token is held (whether the core still honours it is the core's to say).
    pub fn holds(&self) -> bool {
        self.token.lock().expect("session lock").is_some()
    }

    /// Keeps a token the core just issued, in memory and in its vault. In memory even when it
    /// cannot be kept (the session then ends with the app); the error says why.
    pub fn keep(&self, token: SessionToken) -> io::Result<()> {
        *self.token.lock().expect("session lock") = Some(token.clone());
        self.changed();
        self.vault.store(&token)
    }

    /// Forgets the token, in memory and in its vault.
    pub fn forget(&self) {
        *self.token.lock().expect("session lock") = None;
        self.vault.clear();
        self.changed();
    }

    /// Forgets `token` if it is still the one held (a newer sign-in's is left alone); true when
    /// it was.
    pub(crate) fn forget_if(&self, token: &SessionToken) -> bool {
        let mut held = self.token.lock().expect("session lock");
        if held.as_ref() != Some(token) {
            return false;
        }
        *held = None;
        drop(held);
        self.vault.clear();
        self.changed();
        true
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
pub(crate) fn refused(e: &ErrorBody) -> bool {
    matches!(e.code, ErrorCode::Unauthenticated | ErrorCode::Forbidden)
}
