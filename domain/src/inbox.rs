//! What only the inbox (Meddelanden) needs, stream `inbox-<unit>`: which user has read which
//! message. Messages themselves are derived by the inbox read model from other streams.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::context::{Context, Role};
use crate::error::DomainError;
use crate::ids::StaffId;

/// Longest message id accepted (the read model's ids are far shorter).
const MESSAGE_ID_LEN_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxCommand {
    MarkMessageRead { message_id: String, user: StaffId },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InboxEvent {
    MessageRead {
        message_id: String,
        user: StaffId,
        read_at: DateTime<Utc>,
    },
}

impl InboxEvent {
    /// Every event type of this stream, as stored.
    pub const TYPES: &'static [&'static str] = &["MessageRead"];

    pub fn event_type(&self) -> &'static str {
        match self {
            InboxEvent::MessageRead { .. } => "MessageRead",
        }
    }
}

/// Read marks of one unit's inbox: (message id, user).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InboxState {
    pub read: BTreeSet<(String, StaffId)>,
}

impl InboxState {
    pub fn is_read(&self, message_id: &str, user: &StaffId) -> bool {
        self.read.contains(&(message_id.to_string(), user.clone()))
    }
}

/// Marks a message read for the caller. Idempotent: reading it again records nothing.
pub fn decide(
    state: &InboxState,
    cmd: &InboxCommand,
    ctx: &Context,
) -> Result<Vec<InboxEvent>, DomainError> {
    if ctx.actor.role != Role::Staff {
        return Err(DomainError::RoleNotAllowed {
            role: ctx.actor.role,
        });
    }
    match cmd {
        InboxCommand::MarkMessageRead { message_id, user } => {
            if user.as_str() != ctx.actor.id {
                return Err(DomainError::NotSameUser);
            }
            let id = message_id.trim();
            if id.is_empty() || id.len() > MESSAGE_ID_LEN_MAX {
                return Err(DomainError::InvalidId {
                    what: "meddelande",
                    value: id.chars().take(MESSAGE_ID_LEN_MAX).collect(),
                });
            }
            if state.is_read(id, user) {
                return Ok(Vec::new());
            }
            Ok(vec![InboxEvent::MessageRead {
                message_id: id.to_string(),
                user: user.clone(),
                read_at: ctx.now,
            }])
        }
    }
}

pub fn evolve(mut state: InboxState, ev: &InboxEvent) -> InboxState {
    match ev {
        InboxEvent::MessageRead {
            message_id, user, ..
        } => {
            state.read.insert((message_id.clone(), user.clone()));
        }
    }
    state
}
