//! Who is acting and when: the context every `decide` receives.
//!
//! The gateway builds it from the verified token and its clock; the domain never reads either.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::ids::{StaffId, UnitId};
use crate::time::local_date;

/// The role claim of the caller's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Staff at a unit (HSA-id as subject).
    Staff,
    /// The person the plan is for, or a guardian, reading their own plan.
    Citizen,
    /// Replays history and reads the access log.
    Auditor,
    /// Reads anonymous reporting figures.
    Reporting,
    /// Registers units.
    Admin,
}

impl Role {
    /// Parses the token's `role` claim.
    pub fn parse(s: &str) -> Result<Role, DomainError> {
        match s {
            "staff" => Ok(Role::Staff),
            "citizen" => Ok(Role::Citizen),
            "auditor" => Ok(Role::Auditor),
            "reporting" => Ok(Role::Reporting),
            "admin" => Ok(Role::Admin),
            other => Err(DomainError::InvalidRole(other.chars().take(32).collect())),
        }
    }

    /// The role in Swedish words, as messages name it.
    pub fn label(&self) -> &'static str {
        match self {
            Role::Staff => "personal",
            Role::Citizen => "invånare",
            Role::Auditor => "granskare",
            Role::Reporting => "uppföljning",
            Role::Admin => "administratör",
        }
    }

    /// The claim value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Staff => "staff",
            Role::Citizen => "citizen",
            Role::Auditor => "auditor",
            Role::Reporting => "reporting",
            Role::Admin => "admin",
        }
    }
}

/// The acting user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Staff: HSA-id; citizen: the person's id.
    pub id: String,
    /// Display name, recorded in events so that letters and the audit trail can name them.
    pub name: String,
    /// The unit a staff member acts for.
    pub unit: Option<UnitId>,
    pub role: Role,
}

/// Everything a decision may know besides the state and the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub actor: Actor,
    /// The time of the decision, from the gateway's clock.
    pub now: DateTime<Utc>,
}

impl Context {
    /// The Swedish calendar date of `now`: ages and validity dates are counted in it.
    pub fn today(&self) -> NaiveDate {
        local_date(self.now)
    }
}

/// A staff member as recorded in events: who did it, for which unit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StaffRef {
    pub staff_id: StaffId,
    pub name: String,
    pub unit_id: UnitId,
}

impl StaffRef {
    /// The acting staff member, or why they may not act as staff: wrong role, no unit, or an id
    /// that is not an HSA-id.
    pub fn from_context(ctx: &Context) -> Result<StaffRef, DomainError> {
        if ctx.actor.role != Role::Staff {
            return Err(DomainError::RoleNotAllowed {
                role: ctx.actor.role,
            });
        }
        let unit_id = ctx.actor.unit.clone().ok_or(DomainError::UnitMissing)?;
        Ok(StaffRef {
            staff_id: StaffId::parse(&ctx.actor.id)?,
            name: ctx.actor.name.clone(),
            unit_id,
        })
    }
}
