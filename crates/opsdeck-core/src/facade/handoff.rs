//! A desktop's sign-in through the server (RFC 8252 with PKCE; issue 18; being built).

use opsdeck_api::SignInResult;
use opsdeck_api::accounts::ProviderKey;
use opsdeck_api::ops::{DesktopSignInStartArgs, SignInExchangeArgs};

use super::Core;
use crate::error::{ApiError, ErrorCode};

impl Core {
    pub(crate) async fn handoff_start(&self, args: DesktopSignInStartArgs) -> Result<String, ApiError> {
        let _ = args;
        Err(ApiError::coded(ErrorCode::Internal, "desktop sign-in is not built yet"))
    }

    pub(crate) async fn handoff_callback(&self, provider: ProviderKey, callback_url: &str) -> Result<String, ApiError> {
        let _ = (provider, callback_url);
        Err(ApiError::coded(ErrorCode::Internal, "desktop sign-in is not built yet"))
    }

    pub(crate) async fn handoff_exchange(&self, args: SignInExchangeArgs) -> Result<SignInResult, ApiError> {
        let _ = args;
        Err(ApiError::coded(ErrorCode::Internal, "desktop sign-in is not built yet"))
    }
}
