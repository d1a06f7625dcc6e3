//! Starting a plan and every command of its lifecycle on the `sip-<ulid>` stream. The domain's
//! `decide` says who exactly may do what; this module adds what only the edge can: a unit only
//! ever reaches a plan it takes part in (any other plan is the same 404 as one that does not
//! exist, so existence is never revealed), and the facts the rules consult (the person, the units
//! named) come from the fact cache.

pub mod dto;

use crate::aggregate::{self, SipAggregate};
use crate::auth::Caller;
use crate::error::AppError;
use crate::pipeline::{self, Start, Target, Write, WriteResponse};
use crate::state::AppState;
use domain::context::Role;
use domain::error::DomainError;
use domain::ids::{SipId, UnitId};
use domain::sip::{self as dsip, SipCommand, SipState};
use dto::{CreatePlanBasisRequest, IdentifyNeedRequest, IntoSipCommand};

/// The unit a staff caller acts for; every SIP command is for staff.
pub fn staff_unit(caller: &Caller) -> Result<UnitId, AppError> {
    caller.require_role(Role::Staff)?;
    Ok(caller.staff_unit()?.clone())
}

/// The plan named by `id`; an id that is not a ULID names no plan.
pub fn sip_id(id: &str) -> Result<SipId, AppError> {
    SipId::parse(id).map_err(|_| AppError::NotFound)
}

/// IdentifyNeed: starts plan `sip_id` (drawn by the caller) for a registered person.
pub async fn start(
    state: &AppState,
    write: Write<'_>,
    sip_id: SipId,
    request: IdentifyNeedRequest,
) -> Result<WriteResponse, AppError> {
    let unit = staff_unit(write.caller)?;
    let need = request.into_command(sip_id)?;
    // Plans are not tied to a municipality yet, so the deployment's profile applies.
    let facts = state
        .facts
        .load(&state.store, Some(need.person_id), [unit])
        .await?
        .under(state.policy.for_municipality(None));
    let cmd = SipCommand::IdentifyNeed(need);
    pipeline::execute::<SipAggregate>(
        state,
        write,
        cmd.name(),
        Target {
            stream_id: &sip_id.stream_id(),
            response_id: &sip_id.to_string(),
            // The id was drawn for this request: nothing to read, nobody else writes it.
            start: Start::New,
        },
        |sip, ctx| dsip::decide(sip, &cmd, &facts, ctx),
    )
    .await
}

/// The one way into a plan besides taking part already: while a plan started at discharge has
/// no basis, a unit the person's consent names may create it (and so coordinate), as the
/// domain allows a region's öppenvård (the fast vårdkontakt calls to the SIP, lag 2017:612).
/// Any other plan, or once the basis exists, the unit is outside like any other, and a try
/// says nothing about the plan.
fn may_take_up<D: IntoSipCommand>(sip: &SipState, unit: &UnitId) -> bool {
    D::SEGMENT == CreatePlanBasisRequest::SEGMENT
        && sip.basis.is_none()
        && sip
            .need
            .as_ref()
            .is_some_and(|n| n.context.kind == dsip::CareContextKind::Discharge)
        && sip.consents.iter().any(|c| c.actors.contains(unit))
}

/// Runs one lifecycle command on the existing plan `id`.
pub async fn run<D: IntoSipCommand>(
    state: &AppState,
    write: Write<'_>,
    id: &str,
    body: D,
) -> Result<WriteResponse, AppError> {
    let unit = staff_unit(write.caller)?;
    let sip_id = sip_id(id)?;
    let stream_id = sip_id.stream_id();
    // The plan's turn first: the plan read next is the one the command is decided on, unless
    // another process writes it meanwhile.
    let turn = state.turns.take(&stream_id).await?;
    let loaded = aggregate::load::<SipAggregate>(&state.store, &stream_id).await?;
    // Visibility first, on the current state and before the body is interpreted: a unit outside
    // the plan learns nothing about it, not even whether it exists (a body the domain would
    // refuse is a 404 too for such a unit, never a 422 that would tell the plan is there).
    // Participation never shrinks, so a later reload inside the pipeline cannot make this check
    // wrong. An invited unit participates from the invitation on, which is what lets it respond.
    let sip = &loaded.state;
    let taking_up = !sip.participates(&unit);
    // A unit trying a plan it is not in is logged as a refused read is (a review on suspicion
    // looks for a unit trying plan ids; an outside review found the API's attempts untraced).
    let refused = |person_id: Option<domain::PersonId>| {
        if let Some(person_id) = person_id {
            let attempt = crate::access_log::action::REFUSED_SIP;
            crate::access_log::record_refused(state, write.caller, person_id, attempt, sip_id);
        }
        AppError::NotFound
    };
    if !sip.exists() {
        return Err(AppError::NotFound);
    }
    if taking_up && !may_take_up::<D>(sip, &unit) {
        return Err(refused(sip.person_id()));
    }
    let cmd = body.into_command()?;
    let mut units = cmd.referenced_units();
    units.push(unit);
    // Refusals name the units they point to (the ward that registers a discharge, the
    // coordinator's unit) by name, not by id.
    units.extend(sip.need.as_ref().map(|n| n.recorded_by.unit_id.clone()));
    units.extend(sip.coordinator.as_ref().map(|c| c.unit_id.clone()));
    let person_id = sip.person_id();
    let facts = state
        .facts
        .load(&state.store, person_id, units)
        .await?
        .under(state.policy.for_municipality(None));
    let written = pipeline::execute::<SipAggregate>(
        state,
        write,
        cmd.name(),
        Target {
            stream_id: &stream_id,
            response_id: &sip_id.to_string(),
            start: Start::Loaded(turn, loaded),
        },
        |sip, ctx| dsip::decide(sip, &cmd, &facts, ctx),
    )
    .await;
    // A unit outside the plan that may not take it up after all (not a region's, or not in
    // the consent that speaks) learns no more than any outsider (ADR 0054).
    match written {
        Err(AppError::Domain(DomainError::UnitNotParticipating(_))) if taking_up => {
            Err(refused(person_id))
        }
        other => other,
    }
}
