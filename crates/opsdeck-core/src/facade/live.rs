//! `Ops::events`: a subscriber's live events (issue 18; being built).

use opsdeck_api::EventStream;

use super::Core;
use super::session::Caller;
use crate::error::{ApiError, ErrorCode};

impl Core {
    /// The events after `last_event_id` for `caller`'s session.
    pub(crate) async fn live_events(
        &self,
        caller: Caller,
        last_event_id: Option<String>,
    ) -> Result<EventStream, ApiError> {
        let _ = (caller, last_event_id);
        Err(ApiError::coded(ErrorCode::Internal, "live events are not built yet"))
    }
}
