//! `/sips`: starting a plan, every command of its lifecycle, and reading it as the caller's unit
//! may see it.
//!
//! Each command has its own route (`POST /sips/{id}/record-consent`, …) so that the OpenAPI
//! document describes each body; any other segment is `404 unknown_command`. Every command runs
//! through [`crate::pipeline`]; the domain's `decide` says who exactly may do what.
//!
//! A unit only ever sees plans it takes part in: for any other plan the answer is the same 404
//! as for a plan that does not exist, so existence is never revealed.

use crate::access_log;
use crate::aggregate::{Aggregate, PersonAggregate};
use crate::auth::Caller;
use crate::commands::sips::{self as command, dto::*, sip_id, staff_unit};
use crate::consistency::{self, ReadParams};
use crate::error::{problem_response, AppError, Problem};
use crate::extract::{ApiQuery, Command, Staff};
use crate::pipeline::{Created, Write, WriteResponse};
use crate::request_id::RequestId;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::person::PersonEvent;
use domain::sip::{self as dsip, SipState};
use domain::{PersonId, SipId, UnitId};
use ulid::Ulid;
use utoipa::OpenApi;

/// Generates one handler per command and the list of them for the router and the OpenAPI
/// document, so a command cannot be routed without being documented or the other way round.
macro_rules! sip_commands {
    ($($handler:ident: $dto:ident => $path:literal, $summary:literal;)+) => {
        $(
            #[doc = $summary]
            #[utoipa::path(
                post,
                path = $path,
                tag = "sips",
                request_body = $dto,
                params(
                    ("id" = String, Path, description = "The plan's id (ULID)"),
                    ("Idempotency-Key" = Option<String>, Header,
                        description = "At most 64 characters; a retry with the same key and body is answered from the first time and appends nothing"),
                    ("If-Match" = Option<String>, Header,
                        description = "The version the client read, e.g. \"7\"; 409 version_conflict when the plan moved on"),
                ),
                responses(
                    (status = 200, description = "The command was recorded", body = WriteResponse),
                    (status = 400, description = "Malformed JSON, unknown field, wrong type or bad header", body = Problem, content_type = "application/problem+json"),
                    (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
                    (status = 403, description = "The caller's role, unit or person may not (e.g. not_coordinator)", body = Problem, content_type = "application/problem+json"),
                    (status = 404, description = "No such plan, or the caller's unit takes no part in it", body = Problem, content_type = "application/problem+json"),
                    (status = 409, description = "version_conflict, or the plan's state forbids it (e.g. plan_closed, consent_missing)", body = Problem, content_type = "application/problem+json"),
                    (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
                    (status = 422, description = "Breaks a domain rule, or idempotency_key_reused", body = Problem, content_type = "application/problem+json"),
                ),
                security(("bearer" = []))
            )]
            async fn $handler(
                State(state): State<AppState>,
                Staff(caller): Staff,
                request_id: RequestId,
                Path(id): Path<String>,
                command: Command<$dto>,
            ) -> Result<Json<WriteResponse>, AppError> {
                let write = Write {
                    caller: &caller,
                    meta: &command.meta,
                    correlation_id: Some(request_id.as_str()),
                };
                let written = command::run(&state, write, &id, command.body).await;
                Ok(Json(written.map_err(|e| e.for_role(caller.role))?))
            }
        )+

        /// The path segments of every SIP command, as `unknown_command` lists them.
        const SIP_COMMANDS: &[&str] = &[$(<$dto as IntoSipCommand>::SEGMENT),+];

        /// Routes of every SIP command.
        fn command_routes() -> Router<AppState> {
            Router::new()
                $(.route(
                    &format!("/sips/{{id}}/{}", <$dto as IntoSipCommand>::SEGMENT),
                    post($handler),
                ))+
        }

        /// The OpenAPI description of the SIP routes.
        #[derive(OpenApi)]
        #[openapi(
            paths(identify_need, get_sip, $($handler),+),
            components(schemas(
                WriteResponse, Problem, SipResponse, IdentifyNeedRequest, NeedContext,
                ConsentGiver, FixedCareContact, Recipient, Representative, Attendee, Responsible,
                InterventionFollowUp, GoalFollowUp, ChangeCoordinatorRequest, HeadingCode,
                $($dto),+
            )),
            tags((name = "sips", description = "SIP — samordnad individuell plan: start, lifecycle commands, the plan as a unit sees it"))
        )]
        pub struct ApiDoc;

        #[cfg(test)]
        const DOCUMENTED_PATHS: &[&str] = &[$($path),+];
    };
}

sip_commands! {
    record_consent: RecordConsentRequest => "/api/v1/sips/{id}/record-consent", "Samtycke: consent was given (RecordConsent → ConsentGiven).";
    decline_consent: DeclineConsentRequest => "/api/v1/sips/{id}/decline-consent", "Consent was declined (DeclineConsent → ConsentDeclined).";
    withdraw_consent: WithdrawConsentRequest => "/api/v1/sips/{id}/withdraw-consent", "Consent was withdrawn (WithdrawConsent → ConsentWithdrawn).";
    create_plan_basis: CreatePlanBasisRequest => "/api/v1/sips/{id}/create-plan-basis", "SIP-underlag; the caller becomes coordinator (CreatePlanBasis → PlanBasisCreated).";
    change_coordinator: ChangeCoordinatorRequest => "/api/v1/sips/{id}/change-coordinator", "Hands the coordinator role on (ChangeCoordinator → CoordinatorChanged).";
    document_mapping: DocumentMappingRequest => "/api/v1/sips/{id}/document-mapping", "Kartläggning under a heading (DocumentMapping → MappingDocumented).";
    send_invitation: SendInvitationRequest => "/api/v1/sips/{id}/send-invitation", "Kallelse to a meeting or follow-up (SendInvitation → InvitationSent).";
    save_invitation_draft: SaveInvitationDraftRequest => "/api/v1/sips/{id}/save-invitation-draft", "Spara: a kallelse saved unsent, seen only by the coordinator's unit; send it later with send-invitation and the same invitation_id (SaveInvitationDraft → InvitationDraftSaved).";
    respond_to_invitation: RespondToInvitationRequest => "/api/v1/sips/{id}/respond-to-invitation", "The invited unit appoints its representative (RespondToInvitation → RepresentativeAppointed).";
    cancel_invitation: CancelInvitationRequest => "/api/v1/sips/{id}/cancel-invitation", "Cancels an invitation (CancelInvitation → InvitationCancelled).";
    reschedule_meeting: RescheduleMeetingRequest => "/api/v1/sips/{id}/reschedule-meeting", "Moves a meeting (RescheduleMeeting → MeetingRescheduled).";
    record_meeting: RecordMeetingRequest => "/api/v1/sips/{id}/record-meeting", "The SIP meeting was held (RecordMeeting → MeetingHeld).";
    document_main_goal: DocumentMainGoalRequest => "/api/v1/sips/{id}/document-main-goal", "Huvudmål (DocumentMainGoal → MainGoalDocumented).";
    document_sub_goal: DocumentSubGoalRequest => "/api/v1/sips/{id}/document-sub-goal", "Delmål (DocumentSubGoal → SubGoalDocumented).";
    document_intervention: DocumentInterventionRequest => "/api/v1/sips/{id}/document-intervention", "Insats (DocumentIntervention → InterventionDocumented).";
    publish_contribution: PublishContributionRequest => "/api/v1/sips/{id}/publish-contribution", "Spara & dela ut: publishes the unit's drafts (PublishContribution → ContributionPublished).";
    schedule_follow_up: ScheduleFollowUpRequest => "/api/v1/sips/{id}/schedule-follow-up", "Schedules the follow-up (ScheduleFollowUp → FollowUpScheduled).";
    record_follow_up: RecordFollowUpRequest => "/api/v1/sips/{id}/record-follow-up", "Uppföljning (RecordFollowUp → FollowUpRecorded).";
    close_plan: ClosePlanRequest => "/api/v1/sips/{id}/close-plan", "Avslut; afterwards the plan accepts no command (ClosePlan → SipClosed).";
    record_discharge: RecordDischargeRequest => "/api/v1/sips/{id}/record-discharge", "When the patient is (planned to be) discharged from inpatient care (RecordDischarge).";
    record_letters_posted: RecordLettersPostedRequest => "/api/v1/sips/{id}/record-letters-posted", "The letters an invitation owes were printed and posted (RecordLettersPosted → LettersPosted).";
}

/// The SIP routes, mounted under `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sips", post(identify_need))
        .route("/sips/{id}", get(get_sip))
        .merge(command_routes())
        // Static segments win over this capture, so only unknown commands land here.
        .route("/sips/{id}/{command}", post(unknown_command))
}

/// `POST /sips` — IdentifyNeed: starts a plan for a registered person.
#[utoipa::path(
    post,
    path = "/api/v1/sips",
    tag = "sips",
    request_body = IdentifyNeedRequest,
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "At most 64 characters; a retry with the same key and body gets the same plan id and creates nothing"),
    ),
    responses(
        (status = 201, description = "The plan was started; `id` is the new SIP id", body = WriteResponse,
            headers(("Location" = String, description = "The new plan's address, `/api/v1/sips/{id}`"))),
        (status = 400, description = "Malformed JSON, unknown field or wrong type", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "person_not_found", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The person's state forbids a plan (protected identity, deceased, moved out)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Breaks a rule (known_since in the future, track without discharge…) or idempotency_key_reused", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn identify_need(
    State(state): State<AppState>,
    Staff(caller): Staff,
    request_id: RequestId,
    command: Command<IdentifyNeedRequest>,
) -> Result<Created, AppError> {
    let write = Write {
        caller: &caller,
        meta: &command.meta,
        correlation_id: Some(request_id.as_str()),
    };
    // The new plan's id is drawn here, at the edge; a replayed request gets the first id back
    // from the pipeline.
    let sip_id = SipId::from_ulid(Ulid::generate());
    let response = command::start(&state, write, sip_id, command.body).await?;
    Ok(Created {
        collection: "/api/v1/sips",
        response,
    })
}

/// Any `POST /sips/{id}/{command}` that names no command: 404 with its own code, so a client
/// can tell a typo in the command from a plan it may not see. The caller is checked first, like
/// on every other route: no token is 401 and a role other than staff is 403.
async fn unknown_command(
    _caller: Staff,
    Path((_, command)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let code = "unknown_command";
    // As a person's unknown command is answered: the same title, and the commands there are.
    Ok(problem_response(&Problem {
        kind: format!("urn:samplan:problem:{code}"),
        title: "Okänt kommando".into(),
        status: StatusCode::NOT_FOUND.as_u16(),
        detail: format!(
            "Kommandot \u{201d}{}\u{201d} finns inte för en SIP. Giltiga kommandon: {}.",
            // Shown without control characters (a path may carry `%1B`).
            command
                .chars()
                .filter(|c| crate::text::is_allowed(*c))
                .take(64)
                .collect::<String>(),
            SIP_COMMANDS.join(", ")
        ),
        code: code.into(),
        current_version: None,
    }))
}

/// `GET /sips/{id}`: the plan as the caller's unit may see it, with the version to send back as
/// `If-Match`.
#[derive(Debug, serde::Serialize)]
pub struct SipResponse {
    /// The plan's version (the number of its events).
    pub version: i64,
    /// The plan: published content, the unit's own drafts, state and deadlines.
    #[serde(flatten)]
    pub view: dsip::SipView,
}

/// The view is the domain's `SipView` (which knows nothing of OpenAPI), so its schema is written
/// here: every top-level field with what it holds; nested objects keep the domain's field names.
impl utoipa::PartialSchema for SipResponse {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type,
        };
        use utoipa::openapi::KnownFormat;
        let typed = |t: Type, description: &str| {
            ObjectBuilder::new()
                .schema_type(t)
                .description(Some(description))
        };
        // What the domain's view holds as an `Option`: serialised as null when absent.
        let nullable = |t: Type, description: &str| {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([t, Type::Null]))
                .description(Some(description))
        };
        let object = |description: &str| nullable(Type::Object, description);
        let list = |description: &str| {
            ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::Object))
                .description(Some(description))
        };
        let phases = [
            "not_started",
            "awaiting_consent",
            "consent_declined",
            "consent_withdrawn",
            "awaiting_plan_basis",
            "preparing",
            "invited",
            "meeting_held",
            "followed_up",
            "closed",
        ];
        ObjectBuilder::new()
            .description(Some(
                "The plan as the caller's unit may see it: published content of every unit, the \
                 unit's own drafts, state and deadlines. Drafts of other units are left out.",
            ))
            .property(
                "version",
                typed(Type::Integer, "The plan's version; send it as If-Match"),
            )
            .property(
                "sip_id",
                nullable(Type::String, "The plan's id (ULID)").pattern(Some(crate::openapi::ULID_PATTERN)),
            )
            .property(
                "person_id",
                nullable(Type::String, "The person's id (ULID)")
                    .pattern(Some(crate::openapi::ULID_PATTERN)),
            )
            .property(
                "phase",
                typed(Type::String, "Where the plan stands").enum_values(Some(phases)),
            )
            .property(
                "need",
                object("Why and when the need was noticed, by whom, in which care context"),
            )
            .property(
                "consent",
                typed(
                    Type::Object,
                    "Consent status, valid_until, covered actors and topics, history",
                ),
            )
            .property(
                "discharged_at",
                nullable(Type::String, "Discharge from inpatient care")
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .property(
                "basis",
                object("The plan basis (SIP-underlag): initiated_by, fixed care contacts"),
            )
            .property(
                "coordinator",
                object("The coordinator: staff_id, name, unit_id"),
            )
            .property("former_coordinators", list("Earlier coordinators"))
            .property(
                "participants",
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("Unit ids taking part")),
            )
            .property(
                "mappings",
                list("Kartläggning entries: mapping_id, heading, text"),
            )
            .property(
                "invitations",
                list("Invitations with recipients, delivery and representatives"),
            )
            .property(
                "invitation_drafts",
                list("Kallelser saved unsent (Spara), for the coordinator's unit only; empty for any other unit"),
            )
            .property(
                "meetings",
                list("Meetings held: attendees, chair, secretary, follow-up date"),
            )
            .property(
                "main_goal",
                object("Huvudmål as an item (id, author_unit, published, content)"),
            )
            .property(
                "sub_goals",
                list("Delmål items (published, or the unit's own drafts)"),
            )
            .property(
                "interventions",
                list("Insatser items (published, or the unit's own drafts)"),
            )
            .property(
                "next_follow_up_on",
                nullable(Type::String, "The next follow-up")
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))),
            )
            .property("follow_ups", list("Follow-ups recorded"))
            .property("closed", object("Avslut: reason, note, replaced_by"))
            .property(
                "offer_sip_survey",
                typed(Type::Boolean, "Offer SIP-kollen at the end of the meeting"),
            )
            .property(
                "deadlines",
                list("To-dos of the plan with due time and whether overdue"),
            )
            // The view serialises every field, absent ones as null.
            .required("version")
            .required("sip_id")
            .required("person_id")
            .required("phase")
            .required("consent")
            .required("participants")
            .required("deadlines")
            .into()
    }
}

impl utoipa::ToSchema for SipResponse {}

/// `GET /sips/{id}` — the plan as the caller's unit may see it; the read is logged.
#[utoipa::path(
    get,
    path = "/api/v1/sips/{id}",
    tag = "sips",
    params(
        ("id" = String, Path, description = "The plan's id (ULID)"),
        ("min_position" = Option<i64>, Query,
            description = "Wait (up to 5 s) until the store has reached this position, to read one's own write"),
    ),
    responses(
        (status = 200, description = "The plan as the caller's unit may see it", body = SipResponse,
            headers(
                ("X-Samplan-Position" = i64, description = "The store's position when the plan was read"),
                ("ETag" = String, description = "The plan's version as an entity tag, e.g. \"7\": send it back as If-Match"),
            )),
        (status = 401, description = "No or bad token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not staff; or `actor_not_covered_by_consent`: the caller's unit took part, but the newest consent no longer names it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan, or the caller's unit takes no part in it", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
async fn get_sip(
    State(state): State<AppState>,
    Staff(caller): Staff,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ReadParams>,
) -> Result<Response, AppError> {
    let unit = staff_unit(&caller)?;
    let sip_id = sip_id(&id)?;
    // The plan is read from its stream, where the caller's own committed write already is: a
    // `min_position` is checked, and waited for by nothing (a writer of events left open
    // elsewhere must not hold this read).
    consistency::stream_read(params.min_position)?;
    let (version, position, sip, person_id) = plan_of_unit(&state, &caller, &unit, &sip_id)
        .await
        .map_err(|e| e.for_role(caller.role))?;
    access_log::record(
        &state,
        &caller,
        &person_id,
        access_log::action::READ_SIP,
        Some(&sip_id),
    )
    .await?;
    // Plans are not tied to a municipality yet, so the deployment's profile applies.
    let policy = state.policy.for_municipality(None);
    let view = dsip::view_for_unit(&sip, &unit, policy, state.clock.now());
    let etag = format!("\"{version}\"");
    let mut response = consistency::with_position(
        Json(SipResponse { version, view }).into_response(),
        position,
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&etag) {
        response.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(response)
}

/// The plan as it stands now — its version, the store's position it was read at, state and
/// person — when it is shared with `unit` ([`SipState::shared_with`]); 403
/// `actor_not_covered_by_consent` when `unit` took part but the consent no longer names it
/// (ADR 0053: it knows the plan exists, and is told why it may not read it); otherwise 404, as
/// for a plan that does not exist. The API's `GET /sips/{id}` and the web's plan page and
/// letters read plans through this one function (and log the read themselves, once they know
/// they will answer). `caller`'s attempt on a plan that exists but is not shared with `unit` is
/// logged as such (`sip.refused`), beside the answer: it read nothing, but a log review on
/// suspicion wants to see a unit trying plan ids.
pub(crate) async fn plan_of_unit(
    state: &AppState,
    caller: &Caller,
    unit: &UnitId,
    sip_id: &SipId,
) -> Result<(i64, i64, SipState, PersonId), AppError> {
    let (version, position, sip) = current_plan(state, sip_id).await?;
    match sip.person_id() {
        Some(person_id) if sip.shared_with(unit) => Ok((version, position, sip, person_id)),
        Some(person_id) => {
            let attempt = access_log::action::REFUSED_SIP;
            access_log::record_refused(state, caller, person_id, attempt, *sip_id);
            if sip.participates(unit) {
                // Told whom to ask, as a refused write is (ADR 0053; an outside review found
                // the read's refusal naming nobody).
                let ask = match sip.coordinator() {
                    Some(c) => {
                        let facts = state
                            .facts
                            .load(&state.store, None, [c.unit_id.clone()])
                            .await?;
                        let unit_name = facts
                            .units
                            .get(&c.unit_id)
                            .and_then(|u| u.unit.as_ref())
                            .map_or_else(|| c.unit_id.to_string(), |u| u.name.clone());
                        format!("kontakta den samordningsansvariga, {}, {unit_name}", c.name)
                    }
                    None => "kontakta den som samordnar planen".to_string(),
                };
                return Err(AppError::Forbidden {
                    code: "actor_not_covered_by_consent",
                    detail: format!(
                        "Det senaste samtycket till planen omfattar inte er enhet, så planen \
                         delas inte längre med er. Ska enheten vara med igen behövs ett nytt \
                         samtycke som omfattar den: {ask}."
                    ),
                });
            }
            Err(AppError::NotFound)
        }
        None => Err(AppError::NotFound),
    }
}

/// The plan as the store has it now, with its person's status observed, and its version and
/// position: the inbox's snapshot of it, brought up to date with the events the snapshot has
/// not seen yet (of the plan and of the person), read straight from the store. As current as
/// reading the whole stream, at the cost of reading only its tail.
async fn current_plan(state: &AppState, sip_id: &SipId) -> Result<(i64, i64, SipState), AppError> {
    let plan_stream = sip_id.stream_id();
    // The snapshot and both tails in one statement.
    let current = projections::inbox::current_plan(
        state.store.pool(),
        &sip_id.to_string(),
        &plan_stream,
        PersonId::STREAM_PREFIX,
    )
    .await?;
    let (mut sip, mut version, mut position, person_version) = match current.snapshot {
        Some(s) => {
            let mut sip = s.state;
            sip.person_status = s.person_status;
            (sip, s.version, s.position, s.person_version)
        }
        None => (SipState::default(), 0, 0, 0),
    };
    let known_person = sip.person_id();
    for tail in &current.plan_tail {
        sip = dsip::evolve(sip, &decode_tail::<dsip::SipEvent>(&plan_stream, tail)?);
        version = tail.stream_version;
        position = tail.global_position;
    }
    match sip.person_id() {
        // A plan's person is set by its first event and never changes: the statement read the
        // person's tail after the version the snapshot holds.
        Some(person_id) if Some(person_id) == known_person => {
            let stream = person_id.stream_id();
            for tail in &current.person_tail {
                sip.person_status
                    .apply(&decode_tail::<PersonEvent>(&stream, tail)?);
            }
        }
        // The inbox has not seen the plan yet: the person's whole stream, from the store.
        Some(person_id) => {
            for recorded in state
                .store
                .read_stream(&person_id.stream_id(), person_version + 1)
                .await?
            {
                sip.person_status
                    .apply(&PersonAggregate::decode(&recorded)?);
            }
        }
        None => {}
    }
    // The plan was read as the store stood at its last position then, which is what a reader
    // compares its `min_position` with; the plan's own last event may be far behind it.
    Ok((version, position.max(current.store_position), sip))
}

/// Decodes a stored event read with a snapshot (upcasting old schema versions, as
/// `Aggregate::decode` does); a stored event we cannot read is our bug, never the client's.
fn decode_tail<E: DecodeText>(
    stream: &str,
    tail: &projections::inbox::TailEvent,
) -> Result<E, AppError> {
    E::decode_text(&tail.event_type, tail.schema_version, &tail.data).map_err(|e| {
        AppError::internal(format!(
            "cannot decode {} v{} at {stream}#{}: {e}",
            tail.event_type, tail.schema_version, tail.stream_version
        ))
    })
}

/// The domain's events that can be read from their stored JSON text.
trait DecodeText: Sized {
    fn decode_text(
        event_type: &str,
        schema_version: i32,
        data: &str,
    ) -> Result<Self, domain::event::DecodeError>;
}

impl DecodeText for dsip::SipEvent {
    fn decode_text(
        event_type: &str,
        schema_version: i32,
        data: &str,
    ) -> Result<Self, domain::event::DecodeError> {
        dsip::SipEvent::decode_text(event_type, schema_version, data)
    }
}

impl DecodeText for PersonEvent {
    fn decode_text(
        event_type: &str,
        schema_version: i32,
        data: &str,
    ) -> Result<Self, domain::event::DecodeError> {
        PersonEvent::decode_text(event_type, schema_version, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_of_the_api_is_documented() {
        let doc = ApiDoc::openapi();
        for path in DOCUMENTED_PATHS {
            assert!(doc.paths.paths.contains_key(*path), "{path} not in ApiDoc");
        }
        for command in [
            "record-consent",
            "decline-consent",
            "withdraw-consent",
            "create-plan-basis",
            "change-coordinator",
            "document-mapping",
            "send-invitation",
            "respond-to-invitation",
            "cancel-invitation",
            "reschedule-meeting",
            "record-meeting",
            "document-main-goal",
            "document-sub-goal",
            "document-intervention",
            "publish-contribution",
            "schedule-follow-up",
            "record-follow-up",
            "close-plan",
        ] {
            let path = format!("/api/v1/sips/{{id}}/{command}");
            assert!(doc.paths.paths.contains_key(&path), "{path} missing");
        }
    }
}
