//! Registering the person a plan is for (den enskilde) and changing what is known about them:
//! the request bodies of `/persons` and their commands on the `person-<ulid>` stream, and the
//! claim of a personal identity number in its register stream that makes the number unique.

use crate::aggregate::{self, PersonAggregate, RegistryAggregate, SipAggregate};
use crate::error::AppError;
use crate::pipeline::{self, Start, Target, Write, WriteMeta, WriteResponse};
use crate::state::AppState;
use chrono::NaiveDate;
use domain::context::Context;
use domain::error::DomainError;
use domain::ids::PersonId;
use domain::person::{
    self, AddRelative, ChangeContactDetails, PersonCommand, PersonState, RegisterDeath,
    RegisterMovedOut, RegisterPerson, RelativeKind, RemoveRelative,
};
use domain::personnummer::PersonalIdentityNumber;
use domain::registry::{self, RegistryCommand};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;

/// `POST /persons` (RegisterPerson).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPersonRequest {
    /// Personnummer or samordningsnummer in any usual form: `YYYYMMDD-NNNN`, `YYYYMMDDNNNN`,
    /// `YYMMDD-NNNN`, `YYMMDD+NNNN` (100 years or older).
    #[schema(example = "19121212-1212")]
    #[schema(pattern = "^(\\d{8}-?|\\d{6}[-+]?)\\d{4}$")]
    pub personal_identity_number: String,
    #[schema(min_length = 1, max_length = 500)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
}

/// `change-contact-details`: the new phone and address (absent: none known).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeContactDetailsRequest {
    #[serde(default)]
    #[schema(max_length = 500)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
}

/// How a relative stands to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelativeKindDto {
    /// Närstående.
    Relative,
    /// God man.
    Trustee,
    /// Förvaltare.
    Administrator,
    /// Vårdnadshavare: gives consent for a child.
    Guardian,
}

impl From<RelativeKindDto> for RelativeKind {
    fn from(k: RelativeKindDto) -> Self {
        match k {
            RelativeKindDto::Relative => RelativeKind::Relative,
            RelativeKindDto::Trustee => RelativeKind::Trustee,
            RelativeKindDto::Administrator => RelativeKind::Administrator,
            RelativeKindDto::Guardian => RelativeKind::Guardian,
        }
    }
}

/// `add-relative`: a närstående, god man, förvaltare or vårdnadshavare.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddRelativeRequest {
    /// Chosen by the client so it can refer to the relative later; a new ULID when absent.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub relative_id: Option<String>,
    pub kind: RelativeKindDto,
    #[schema(min_length = 1, max_length = 500)]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub address: Option<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
    /// The relative's own personnummer (any accepted form). For a guardian (vårdnadshavare) it
    /// lets the guardian read a young child's plan on Min plan, signed in as themselves.
    #[serde(default)]
    #[schema(pattern = "^(\\d{8}-?|\\d{6}[-+]?)\\d{4}$")]
    pub personal_identity_number: Option<String>,
}

/// `remove-relative`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRelativeRequest {
    #[schema(min_length = 1)]
    pub relative_id: String,
}

/// `mark-protected-identity`: no fields (an empty body is accepted).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkProtectedIdentityRequest {}

/// `register-death`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeathRequest {
    /// The day of death (not in the future).
    pub died_on: NaiveDate,
}

/// `register-moved-out`: the person moved out of the region.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterMovedOutRequest {
    pub moved_on: NaiveDate,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub to_region: Option<String>,
}

/// Registers a person under `person_id` (drawn by the caller), staff only. A personal identity
/// number belongs to one person (ADR 0013): the number is claimed first, in its register stream
/// (`pin-<keyed digest>`) with "no stream yet" expected, and the person is registered under the
/// id the number belongs to. So:
///
/// - a number registered before is refused (409 `person_already_registered`), whichever process
///   registered it: the store's unique key lets only one claim be the first;
/// - a registration that stopped between claiming and registering (a crash) is completed by the
///   next registration of the number, under the id it claimed; two registrations racing for it
///   meet at the person stream, where again only one can be first;
/// - a retry of a registration that succeeded (same `Idempotency-Key`) gets its first answer,
///   before the number, claimed by then, would refuse it; so does a twin sent at the same moment,
///   which finds the number claimed and then finds the first one's answer.
///
/// A number that does not parse, or a request the domain would refuse for another reason, claims
/// nothing: the domain is asked first, and refuses with the precise reason.
pub async fn register(
    state: &AppState,
    write: Write<'_>,
    person_id: PersonId,
    body: RegisterPersonRequest,
) -> Result<WriteResponse, AppError> {
    write.caller.staff_unit()?;
    if let Some(first) =
        pipeline::replayed(state, write, &person_id.stream_id(), &person_id.to_string()).await?
    {
        return Ok(first);
    }
    let register = |person_id| {
        PersonCommand::RegisterPerson(RegisterPerson {
            person_id,
            personal_identity_number: body.personal_identity_number.clone(),
            name: body.name.clone(),
            phone: body.phone.clone(),
            address: body.address.clone(),
        })
    };
    let ctx = Context {
        actor: write.caller.actor(),
        now: state.clock.now(),
    };
    person::decide(&PersonState::default(), &register(person_id), &ctx)?;
    let today = domain::time::local_date(ctx.now);
    let pin =
        PersonalIdentityNumber::parse(&body.personal_identity_number, today).map_err(|e| {
            DomainError::InvalidPersonalIdentityNumber {
                message: e.message(),
            }
        })?;
    let person_id = match claim(state, write, &pin, person_id).await {
        Ok(id) => id,
        Err(refused) => {
            // A twin of this request (same key, same body) sent at the same moment may have
            // registered the number since the replay check above: it gets that answer too.
            return match pipeline::replayed(
                state,
                write,
                &person_id.stream_id(),
                &person_id.to_string(),
            )
            .await?
            {
                Some(first) => Ok(first),
                None => Err(refused),
            };
        }
    };
    let cmd = register(person_id);
    pipeline::execute::<PersonAggregate>(
        state,
        write,
        cmd.name(),
        Target {
            stream_id: &person_id.stream_id(),
            response_id: &person_id.to_string(),
            // Read, not assumed empty: the id may be one a stopped registration claimed.
            start: Start::Load,
        },
        |current, ctx| person::decide(current, &cmd, ctx),
    )
    .await
}

/// Claims `pin` for `person_id` and returns the person the number belongs to now: `person_id`,
/// or the one an earlier registration claimed if it never got as far as registering the person.
/// A number whose person is registered is refused.
async fn claim(
    state: &AppState,
    write: Write<'_>,
    pin: &PersonalIdentityNumber,
    person_id: PersonId,
) -> Result<PersonId, AppError> {
    let stream = state.keys.register_stream(state.store.pool(), pin).await?;
    // The claim is not the request's write: the Idempotency-Key belongs to the registration.
    let meta = WriteMeta::default();
    let claim_write = Write {
        meta: &meta,
        ..write
    };
    let cmd = RegistryCommand::Claim { person_id };
    pipeline::execute::<RegistryAggregate>(
        state,
        claim_write,
        "ClaimPersonalIdentityNumber",
        Target {
            stream_id: &stream,
            response_id: &person_id.to_string(),
            start: Start::Load,
        },
        |current, ctx| registry::decide(current, &cmd, ctx),
    )
    .await?;
    let owner = aggregate::load::<RegistryAggregate>(&state.store, &stream)
        .await?
        .state
        .person_id
        .ok_or_else(|| AppError::internal("a claimed number has no owner"))?;
    if owner == person_id {
        return Ok(person_id);
    }
    let registered = aggregate::load::<PersonAggregate>(&state.store, &owner.stream_id())
        .await?
        .version
        > 0;
    if registered {
        // The refusal tells the caller that the person is in samplan, as a search would: it is
        // logged as a read of the person, so that trying numbers leaves a trace.
        crate::access_log::record(
            state,
            write.caller,
            &owner,
            crate::access_log::action::REGISTRATION_REFUSED,
            None,
        )
        .await?;
        Err(DomainError::PersonAlreadyRegistered.into())
    } else {
        Ok(owner)
    }
}

/// A request body of one person command: the path segment naming it and the domain command it
/// becomes.
pub trait PersonCommandRequest: DeserializeOwned {
    /// The last segment of `POST /persons/{id}/{command}`.
    const SEGMENT: &'static str;
    /// The domain command the request asks for.
    fn into_command(self) -> PersonCommand;
}

impl PersonCommandRequest for ChangeContactDetailsRequest {
    const SEGMENT: &'static str = "change-contact-details";
    fn into_command(self) -> PersonCommand {
        PersonCommand::ChangeContactDetails(ChangeContactDetails {
            phone: self.phone,
            address: self.address,
        })
    }
}

impl PersonCommandRequest for AddRelativeRequest {
    const SEGMENT: &'static str = "add-relative";
    fn into_command(self) -> PersonCommand {
        PersonCommand::AddRelative(AddRelative {
            relative_id: self
                .relative_id
                .unwrap_or_else(|| Ulid::generate().to_string()),
            kind: self.kind.into(),
            name: self.name,
            phone: self.phone,
            address: self.address,
            note: self.note,
            personal_identity_number: self.personal_identity_number,
        })
    }
}

impl PersonCommandRequest for RemoveRelativeRequest {
    const SEGMENT: &'static str = "remove-relative";
    fn into_command(self) -> PersonCommand {
        PersonCommand::RemoveRelative(RemoveRelative {
            relative_id: self.relative_id,
        })
    }
}

impl PersonCommandRequest for MarkProtectedIdentityRequest {
    const SEGMENT: &'static str = "mark-protected-identity";
    fn into_command(self) -> PersonCommand {
        PersonCommand::MarkProtectedIdentity
    }
}

impl PersonCommandRequest for RegisterDeathRequest {
    const SEGMENT: &'static str = "register-death";
    fn into_command(self) -> PersonCommand {
        PersonCommand::RegisterDeath(RegisterDeath {
            died_on: self.died_on,
        })
    }
}

impl PersonCommandRequest for RegisterMovedOutRequest {
    const SEGMENT: &'static str = "register-moved-out";
    fn into_command(self) -> PersonCommand {
        PersonCommand::RegisterMovedOut(RegisterMovedOut {
            moved_on: self.moved_on,
            to_region: self.to_region,
        })
    }
}

/// Runs one command of `D` on the person `id` (staff of a unit with a care relation, see
/// [`require_care_relation`]); an id that cannot exist is simply not found.
pub async fn run<D: PersonCommandRequest>(
    state: &AppState,
    write: Write<'_>,
    id: &str,
    body: D,
) -> Result<WriteResponse, AppError> {
    let unit = write.caller.staff_unit()?.clone();
    let cmd = body.into_command();
    let person_id = PersonId::parse(id).map_err(|_| AppError::NotFound)?;
    require_care_relation(state, &unit, &person_id).await?;
    pipeline::execute::<PersonAggregate>(
        state,
        write,
        cmd.name(),
        Target {
            stream_id: &person_id.stream_id(),
            response_id: &person_id.to_string(),
            start: Start::Load,
        },
        |current, ctx| person::decide(current, &cmd, ctx),
    )
    .await
}

/// Only a unit with a care relation to the person changes what is known about them: one that
/// takes part in a plan of theirs, or that registered them (before any plan). Any staff member
/// may find and read a person (logged, and followed up by the access review), but a unit with no
/// plan for the person adding a "guardian" with a personnummer would give that citizen the
/// child's plans on Min plan, and marking them dead or protected would stop others' plans.
async fn require_care_relation(
    state: &AppState,
    unit: &domain::ids::UnitId,
    person_id: &PersonId,
) -> Result<(), AppError> {
    if care_relation(state, unit, person_id, true).await? {
        Ok(())
    } else {
        Err(DomainError::NoCareRelation.into())
    }
}

/// Whether `unit` has a care relation to the person (see [`require_care_relation`]); an unknown
/// person is [`DomainError::PersonNotFound`].
///
/// A unit that takes part in a plan of the person has one while that plan is shared with it:
/// one the person's consent has left out has none through that plan (ADR 0053), though it may
/// through another. The unit that registered the person has one until it takes part in a plan
/// of theirs; from then on the plans decide.
///
/// Taking part is read from the participation read model. A plan started a moment ago may not be
/// there yet: with `wait`, a unit not found there is looked for once more after the read model
/// has caught up with the store (bounded by the wait limit) — for a command; a page showing what
/// the unit may do does not wait.
pub async fn care_relation(
    state: &AppState,
    unit: &domain::ids::UnitId,
    person_id: &PersonId,
    wait: bool,
) -> Result<bool, AppError> {
    let registered = state.store.read_stream(&person_id.stream_id(), 1).await?;
    let Some(first) = registered.first() else {
        return Err(DomainError::PersonNotFound.into());
    };
    let registrar = first.metadata.unit.as_deref() == Some(unit.as_str());
    let pool = state.store.pool();
    let person = person_id.to_string();
    let plans = || async {
        projections::participation::plans_of_person_with_unit(pool, &person, unit.as_str()).await
    };
    let mut sips = plans().await?;
    if sips.is_empty() && wait && !registrar {
        let head = state.store.head_position().await?;
        projections::runner::wait_for(
            pool,
            projections::participation::PROJECTION,
            head,
            state.limits.wait_ms_max,
        )
        .await?;
        sips = plans().await?;
    }
    if sips.is_empty() {
        return Ok(registrar);
    }
    for sip in sips {
        let Ok(sip_id) = domain::SipId::parse(&sip) else {
            continue;
        };
        let plan = aggregate::load::<SipAggregate>(&state.store, &sip_id.stream_id()).await?;
        if plan.state.shared_with(unit) {
            return Ok(true);
        }
    }
    Ok(false)
}
