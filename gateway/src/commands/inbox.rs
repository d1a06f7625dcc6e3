//! The one inbox write: marking a message of the caller's unit read for the caller, which appends
//! `MessageRead` to the stream `inbox-<unit>`. Marking a message read twice records nothing the
//! second time; a message the unit's inbox does not have is 404.

use crate::aggregate::InboxAggregate;
use crate::error::AppError;
use crate::pipeline::{self, Start, Target, Write, WriteResponse};
use crate::state::AppState;
use domain::ids::StaffId;
use domain::inbox::{self, InboxCommand};
use serde::Deserialize;
use utoipa::ToSchema;

/// `POST /inbox/messages/{id}/read`: no fields (an empty body is accepted).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkMessageReadRequest {}

/// Marks `message_id` read for the caller (staff).
pub async fn mark_read(
    state: &AppState,
    write: Write<'_>,
    message_id: &str,
) -> Result<WriteResponse, AppError> {
    let caller = write.caller;
    let unit = caller.staff_unit()?.clone();
    crate::text::check_str("id", message_id)?;
    let user = StaffId::parse(&caller.sub)?;
    // Only a message the unit has: the ids come from its inbox, which is where it is looked up.
    // (An id that cannot be one is refused by the domain, below, with its own code.)
    let trimmed = message_id.trim();
    if (1..=128).contains(&trimmed.len())
        && !projections::inbox::message_exists(state.store.pool(), unit.as_str(), trimmed).await?
    {
        return Err(AppError::NotFound);
    }
    let cmd = InboxCommand::MarkMessageRead {
        message_id: message_id.to_owned(),
        user,
    };
    pipeline::execute::<InboxAggregate>(
        state,
        write,
        "MarkMessageRead",
        Target {
            stream_id: &unit.inbox_stream_id(),
            response_id: message_id.trim(),
            start: Start::Load,
        },
        |current, ctx| inbox::decide(current, &cmd, ctx),
    )
    .await
}
