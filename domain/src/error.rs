//! Why the domain refuses a command: one enum with a stable `code` per variant and a Swedish
//! message for staff.
//!
//! The gateway turns a `DomainError` into an RFC 9457 problem response: `kind()` picks the HTTP
//! status, `code()` is the machine-readable `code`, `message()` the Swedish `detail`. Codes are a
//! contract with clients: never rename one.

use crate::context::Role;
use crate::ids::UnitId;
use chrono::{DateTime, Utc};

/// What class of refusal this is; the gateway maps it to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 422: well-formed input that breaks a rule (bad personnummer, chair is also secretary…).
    Validation,
    /// 403: this role, unit or person may not do this (e.g. `not_coordinator`).
    Forbidden,
    /// 409: the plan's (or person's, unit's) state forbids it now (e.g. `plan_closed`).
    State,
    /// 404: the thing does not exist (or is not visible).
    NotFound,
}

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    // ---- input (Validation) ----
    #[error("invalid {what} id: {value:?}")]
    InvalidId { what: &'static str, value: String },
    #[error("invalid role: {0:?}")]
    InvalidRole(String),
    #[error("invalid personal identity number: {message}")]
    InvalidPersonalIdentityNumber { message: String },
    #[error("unknown heading {0:?}")]
    InvalidHeading(String),
    #[error("required field {0} is empty")]
    FieldMissing(&'static str),
    #[error("field {field} is longer than {max} characters")]
    FieldTooLong { field: &'static str, max: usize },
    #[error("known_since is in the future")]
    KnownSinceInFuture,
    #[error("known_since is before the person was born")]
    KnownSinceBeforeBirth { born: chrono::NaiveDate },
    #[error("date or time {0} is in the future")]
    InFuture(&'static str),
    #[error("date or time {0} is in the past")]
    InPast(&'static str),
    #[error("period ends before it starts")]
    InvalidPeriod,
    #[error("track is only used for discharge from inpatient care")]
    TrackWithoutDischarge,
    #[error("unknown unit {0}")]
    UnknownUnit(UnitId),
    #[error("unknown relative {0}")]
    UnknownRelative(String),
    #[error("relative {0} is not a registered guardian")]
    NotAGuardian(String),
    #[error("relative {0} already exists")]
    RelativeExists(String),
    #[error("the relative's personnummer is the person's own")]
    RelativeIsThePerson,
    #[error("guardian consent only applies to children")]
    GuardianConsentForAdult,
    #[error("the person has not accepted the representative")]
    RepresentativeNotAccepted,
    #[error("unknown sub-goal {0}")]
    UnknownSubGoal(String),
    #[error("unknown intervention {0}")]
    UnknownIntervention(String),
    #[error("id {0} is already used in this plan")]
    IdAlreadyUsed(String),
    #[error("chair and secretary are the same person")]
    ChairIsSecretary,
    #[error("the meeting was held before its kallelse was sent")]
    MeetingBeforeInvitation,
    #[error("the follow-up was held before the plan's first meeting")]
    FollowUpBeforeMeeting,
    #[error("the meeting already has that time, form and place")]
    MeetingUnchanged,
    #[error("the meeting has no follow-up date")]
    FollowUpDateMissing,
    #[error("the follow-up date is not after the meeting")]
    FollowUpDateTooEarly,
    /// A närstående (by name) the consent in force does not let the meeting invite.
    #[error("the consent does not cover inviting {0}")]
    RelativeNotCoveredByConsent(String),
    /// Red track: the SIP meeting is held before the patient goes home, at this time.
    #[error("on the red track the meeting is held before the discharge")]
    MeetingAfterDischarge(DateTime<Utc>),
    /// The unit and its name (staff know units by name, not by id).
    #[error("the new coordinator's unit does not use samplan")]
    CoordinatorUnitWithoutSamplan(UnitId, String),
    /// The unit and its name: it neither takes part in the plan nor is covered by valid consent.
    #[error("the new coordinator's unit takes no part and is not covered by consent")]
    CoordinatorNotCoveredByConsent(UnitId, String),
    /// The caller's unit, its name and who coordinates the plan: the consent that speaks no
    /// longer names the unit, so it writes nothing more in the plan (ADR 0053). The same code as
    /// [`DomainError::ActorNotCoveredByConsent`], answered as the unit's own read is: 403.
    #[error("the caller's unit is left out by the consent")]
    UnitLeftOutByConsent(UnitId, String, String),
    /// The unit and its name: before the plan has a coordinator, the unit recording consent is
    /// the one that goes on (the plan basis), so the consent must name it.
    #[error("the unit recording consent before there is a coordinator is not covered by it")]
    RecorderNotCoveredByConsent(UnitId, String),
    #[error("the coordinator is already this person")]
    SameCoordinator,
    #[error("invitation without recipients")]
    NoRecipients,
    #[error("replacement plan is the plan itself")]
    ReplacedBySelf,
    #[error("{0} is not reached by letter for this invitation")]
    NotALetterRecipient(String),

    // ---- who (Forbidden) ----
    #[error("role {role:?} may not do this")]
    RoleNotAllowed { role: Role },
    #[error("the actor acts for no unit")]
    UnitMissing,
    #[error("unit {0} takes no part in this plan")]
    UnitNotParticipating(UnitId),
    #[error("the unit takes part in no plan of the person and did not register them")]
    NoCareRelation,
    #[error("only the coordinator may do this")]
    NotCoordinator,
    #[error("only the responsible actor (or the coordinator for the person and external actors) may document this")]
    NotResponsibleActor,
    #[error("unit {0} is not invited")]
    NotInvited(UnitId),
    #[error("the item belongs to another unit")]
    NotAuthor,
    #[error("a user may only mark messages read for themselves")]
    NotSameUser,

    // ---- state (State) ----
    #[error("the plan is closed")]
    PlanClosed,
    #[error("a plan with this id already exists")]
    SipAlreadyExists,
    #[error("the person is already registered")]
    PersonAlreadyRegistered,
    #[error("the unit is already registered")]
    UnitAlreadyRegistered,
    #[error("no valid consent")]
    ConsentMissing,
    #[error("the consent has expired")]
    ConsentExpired,
    /// The unit and its name (staff know units by name, not by id).
    #[error("consent does not cover unit {0}")]
    ActorNotCoveredByConsent(UnitId, String),
    #[error("a child needs consent from every guardian")]
    ChildNeedsGuardianConsent,
    /// The same rule, naming the registered guardian whose consent is missing (staff may not
    /// know that another unit registered them).
    #[error("a child needs consent from every guardian; {0}'s is missing")]
    GuardianConsentMissing(String),
    /// Consent for a child recorded as given by the child or a representative: the same rule as
    /// [`DomainError::ChildNeedsGuardianConsent`] and the same code, but a command that breaks it
    /// whatever the plan's state (422, where a plan still missing a guardian's consent is 409).
    #[error("a child's consent is given by the guardians")]
    ChildCannotConsent,
    #[error("consent was withdrawn")]
    ConsentWithdrawn,
    #[error("consent is already given")]
    ConsentAlreadyGiven,
    #[error("the plan basis is missing")]
    PlanBasisMissing,
    #[error("the plan basis already exists")]
    PlanBasisExists,
    #[error("no meeting has been held")]
    MeetingNotHeld,
    #[error("invitation is cancelled or its meeting already held")]
    InvitationNotActive,
    #[error("the invitation summons to a SIP meeting, not to a follow-up")]
    InvitationNotForFollowUp,
    #[error("the invitation summons to a follow-up, not to a SIP meeting")]
    InvitationForFollowUp,
    #[error("a discharge needs its track under this policy profile")]
    TrackMissing,
    #[error("{0} is outside the years the calendar covers")]
    DateOutOfRange(&'static str),
    #[error("the plan has not been followed up")]
    FollowUpMissing,
    /// Closing as "målen är uppnådda" while the latest follow-up judged this many goals not
    /// reached.
    #[error("{0} goals were judged not reached at the latest follow-up")]
    GoalsNotMet(usize),
    #[error("the person has protected identity")]
    ProtectedIdentity,
    #[error("the person is deceased")]
    PersonDeceased,
    #[error("the person has moved out of the region")]
    PersonMovedOut,
    #[error("the need is not about discharge from inpatient care")]
    NotADischarge,
    /// The name of the unit that records the discharge: the ward that started the plan for it,
    /// or the coordinator's unit once the consent no longer names the ward.
    #[error("only the unit that started the plan for the discharge records it")]
    NotTheDischargingUnit(String),

    // ---- not found (NotFound) ----
    #[error("no such plan")]
    SipNotFound,
    #[error("no such person")]
    PersonNotFound,
    #[error("no such invitation {0}")]
    InvitationNotFound(String),
}

impl DomainError {
    /// The stable machine-readable code (snake_case).
    pub fn code(&self) -> &'static str {
        use DomainError::*;
        match self {
            InvalidId { .. } => "invalid_id",
            InvalidRole(_) => "invalid_role",
            InvalidPersonalIdentityNumber { .. } => "invalid_personal_identity_number",
            InvalidHeading(_) => "unknown_heading",
            FieldMissing(_) => "field_missing",
            FieldTooLong { .. } => "field_too_long",
            KnownSinceInFuture => "known_since_in_future",
            KnownSinceBeforeBirth { .. } => "known_since_before_birth",
            InFuture(_) => "date_in_future",
            InPast(_) => "date_in_past",
            InvalidPeriod => "invalid_period",
            TrackWithoutDischarge => "track_without_discharge",
            UnknownUnit(_) => "unknown_unit",
            UnknownRelative(_) => "unknown_relative",
            NotAGuardian(_) => "not_a_guardian",
            RelativeExists(_) => "relative_exists",
            RelativeIsThePerson => "relative_is_the_person",
            GuardianConsentForAdult => "guardian_consent_for_adult",
            RepresentativeNotAccepted => "representative_not_accepted",
            UnknownSubGoal(_) => "unknown_sub_goal",
            UnknownIntervention(_) => "unknown_intervention",
            IdAlreadyUsed(_) => "id_already_used",
            ChairIsSecretary => "chair_is_secretary",
            MeetingBeforeInvitation => "meeting_before_invitation",
            FollowUpBeforeMeeting => "follow_up_before_meeting",
            MeetingUnchanged => "meeting_unchanged",
            FollowUpDateMissing => "follow_up_date_missing",
            FollowUpDateTooEarly => "follow_up_date_too_early",
            MeetingAfterDischarge(_) => "meeting_after_discharge",
            RelativeNotCoveredByConsent(_) => "relative_not_covered_by_consent",
            CoordinatorUnitWithoutSamplan(..) => "coordinator_unit_without_samplan",
            CoordinatorNotCoveredByConsent(..) => "coordinator_not_covered_by_consent",
            RecorderNotCoveredByConsent(..) => "recorder_not_covered_by_consent",
            UnitLeftOutByConsent(..) => "actor_not_covered_by_consent",
            SameCoordinator => "same_coordinator",
            NoRecipients => "no_recipients",
            ReplacedBySelf => "replaced_by_self",
            NotALetterRecipient(_) => "not_a_letter_recipient",
            RoleNotAllowed { .. } => "role_not_allowed",
            UnitMissing => "unit_missing",
            UnitNotParticipating(_) => "unit_not_participating",
            NoCareRelation => "no_care_relation",
            NotCoordinator => "not_coordinator",
            NotResponsibleActor => "not_responsible_actor",
            NotInvited(_) => "not_invited",
            NotAuthor => "not_author",
            NotSameUser => "not_same_user",
            PlanClosed => "plan_closed",
            SipAlreadyExists => "sip_already_exists",
            PersonAlreadyRegistered => "person_already_registered",
            UnitAlreadyRegistered => "unit_already_registered",
            ConsentMissing => "consent_missing",
            ConsentExpired => "consent_expired",
            ActorNotCoveredByConsent(..) => "actor_not_covered_by_consent",
            ChildNeedsGuardianConsent | GuardianConsentMissing(_) | ChildCannotConsent => {
                "child_needs_guardian_consent"
            }
            ConsentWithdrawn => "consent_withdrawn",
            ConsentAlreadyGiven => "consent_already_given",
            PlanBasisMissing => "plan_basis_missing",
            PlanBasisExists => "plan_basis_exists",
            MeetingNotHeld => "meeting_not_held",
            InvitationNotActive => "invitation_not_active",
            InvitationNotForFollowUp => "invitation_not_for_follow_up",
            InvitationForFollowUp => "invitation_for_follow_up",
            TrackMissing => "track_missing",
            DateOutOfRange(_) => "date_out_of_range",
            FollowUpMissing => "follow_up_missing",
            GoalsNotMet(_) => "goals_not_met",
            ProtectedIdentity => "protected_identity",
            PersonDeceased => "person_deceased",
            PersonMovedOut => "person_moved_out",
            NotADischarge => "not_a_discharge",
            NotTheDischargingUnit(_) => "not_the_discharging_unit",
            SipNotFound => "sip_not_found",
            PersonNotFound => "person_not_found",
            InvitationNotFound(_) => "invitation_not_found",
        }
    }

    /// Which class of refusal this is (drives the HTTP status).
    pub fn kind(&self) -> ErrorKind {
        use DomainError::*;
        match self {
            RoleNotAllowed { .. }
            | UnitMissing
            | UnitNotParticipating(_)
            | NoCareRelation
            | NotCoordinator
            | NotResponsibleActor
            | NotInvited(_)
            | NotAuthor
            | NotSameUser
            | NotTheDischargingUnit(_)
            | UnitLeftOutByConsent(..) => ErrorKind::Forbidden,
            PlanClosed
            | SipAlreadyExists
            | PersonAlreadyRegistered
            | UnitAlreadyRegistered
            | ConsentMissing
            | ConsentExpired
            | ActorNotCoveredByConsent(..)
            | RelativeNotCoveredByConsent(_)
            | CoordinatorNotCoveredByConsent(..)
            | RecorderNotCoveredByConsent(..)
            | ChildNeedsGuardianConsent
            | GuardianConsentMissing(_)
            | ConsentWithdrawn
            | ConsentAlreadyGiven
            | PlanBasisMissing
            | PlanBasisExists
            | MeetingNotHeld
            | InvitationNotActive
            | FollowUpMissing
            | GoalsNotMet(_)
            | ProtectedIdentity
            | PersonDeceased
            | PersonMovedOut
            | NotADischarge => ErrorKind::State,
            SipNotFound | PersonNotFound | InvitationNotFound(_) => ErrorKind::NotFound,
            _ => ErrorKind::Validation,
        }
    }

    /// What went wrong, in Swedish, for staff.
    pub fn message(&self) -> String {
        use DomainError::*;
        match self {
            InvalidId { what, value } => format!("Ogiltigt id för {what}: \u{201d}{value}\u{201d}."),
            InvalidRole(r) => format!("Okänd roll \u{201d}{r}\u{201d}."),
            InvalidPersonalIdentityNumber { message } => message.clone(),
            InvalidHeading(h) => crate::heading::Heading::parse(h)
                .err()
                .map(|e| e.message())
                .unwrap_or_else(|| format!("Okänd delmålsrubrik \u{201d}{h}\u{201d}.")),
            FieldMissing(field) => format!("Uppgiften \u{201d}{field}\u{201d} måste fyllas i."),
            FieldTooLong { field, max } => {
                format!("Uppgiften \u{201d}{field}\u{201d} får vara högst {max} tecken lång.")
            }
            KnownSinceInFuture => {
                "Tidpunkten då behovet blev känt kan inte ligga i framtiden.".to_string()
            }
            KnownSinceBeforeBirth { born } => format!(
                "Behovet kan inte ha blivit känt innan personen föddes ({}). Kontrollera datumet.",
                crate::time::written_date(*born)
            ),
            InFuture(what) => format!("Tidpunkten för {what} kan inte ligga i framtiden."),
            InPast(what) => format!(
                "Tidpunkten för {what} har redan passerat. Välj en tidpunkt som inte har passerat."
            ),
            InvalidPeriod => "Slutdatumet ligger före startdatumet.".to_string(),
            TrackWithoutDischarge => {
                "Spår (grönt, gult, rött) anges bara vid utskrivning från slutenvård.".to_string()
            }
            UnknownUnit(u) => format!("Enheten \u{201d}{u}\u{201d} finns inte registrerad."),
            UnknownRelative(r) => format!("Närstående \u{201d}{r}\u{201d} finns inte registrerad för personen."),
            NotAGuardian(r) => format!(
                "\u{201d}{r}\u{201d} är inte registrerad som vårdnadshavare för barnet."
            ),
            RelativeExists(r) => format!("Närstående \u{201d}{r}\u{201d} finns redan."),
            RelativeIsThePerson => {
                "Närståendes personnummer är personens eget; en person kan inte vara sin egen närstående."
                    .to_string()
            }
            GuardianConsentForAdult => {
                "Personen är vuxen: samtycket lämnas av personen själv eller av en företrädare som personen har godkänt, inte av en vårdnadshavare.".to_string()
            }
            RepresentativeNotAccepted => {
                "En närstående kan bara vara företrädare om den enskilde har godkänt det: kryssa i \
                 att personen har godkänt företrädaren när samtycket lämnas. Neka eller återkalla \
                 samtycke kan en god man, en förvaltare eller en företrädare som har lämnat \
                 samtycke i planen."
                    .to_string()
            }
            UnknownSubGoal(g) => format!("Delmålet \u{201d}{g}\u{201d} finns inte i planen."),
            UnknownIntervention(i) => format!("Insatsen \u{201d}{i}\u{201d} finns inte i planen."),
            IdAlreadyUsed(id) => format!("Id \u{201d}{id}\u{201d} används redan i planen."),
            ChairIsSecretary => {
                "Mötesledare och mötessekreterare får inte vara samma person.".to_string()
            }
            MeetingBeforeInvitation => {
                "Mötet kan inte ha hållits innan kallelsen till det skickades. Ange när mötet hölls."
                    .to_string()
            }
            FollowUpBeforeMeeting => {
                "Uppföljningen kan inte ha hållits före planens första SIP-möte. Ange dagen då den hölls."
                    .to_string()
            }
            MeetingUnchanged => {
                "Mötet har redan den tiden, formen och platsen: ange det som ändras.".to_string()
            }
            FollowUpDateMissing => {
                "Ange datum för uppföljning: varje SIP ska följas upp och datumet bestäms på mötet.".to_string()
            }
            FollowUpDateTooEarly => "Uppföljningen måste ligga efter mötet.".to_string(),
            RelativeNotCoveredByConsent(name) => format!(
                "Samtycket omfattar inte att {name} bjuds in. Närstående bjuds in om den enskilde \
                 samtycker till det: registrera ett nytt samtycke som tar med {name}, eller ta bort \
                 {name} bland mottagarna."
            ),
            MeetingAfterDischarge(at) => format!(
                "Rött spår: SIP-mötet ska hållas före hemgången, {}. Välj en tid före den, eller \
                 registrera först den nya tiden för utskrivningen.",
                crate::time::written_moment(*at)
            ),
            CoordinatorUnitWithoutSamplan(_, name) => format!(
                "{name} använder inte samplan och kan inte ha samordningsansvaret."
            ),
            SameCoordinator => "Personen är redan samordningsansvarig.".to_string(),
            NoRecipients => "Kallelsen saknar mottagare.".to_string(),
            ReplacedBySelf => "En plan kan inte ersättas av sig själv.".to_string(),
            NotALetterRecipient(who) => {
                format!("{who} får inte kallelsen per brev, så inget brev kan registreras.")
            }
            RoleNotAllowed { role } => {
                format!("Rollen {} får inte göra detta.", role.label())
            }
            UnitMissing => "Du måste vara inloggad för en enhet för att göra detta.".to_string(),
            // Only ever the caller's own unit.
            UnitNotParticipating(_) => "Din enhet deltar inte i denna SIP.".to_string(),
            NoCareRelation => "Din enhet deltar inte i någon SIP för personen som personens samtycke \
                               omfattar, och registrerade inte personen: bara de enheterna får \
                               ändra personens uppgifter."
                .to_string(),
            NotCoordinator => "Bara den samordningsansvarige får göra detta.".to_string(),
            NotResponsibleActor => "Varje aktör dokumenterar sina egna delmål och insatser. Den samordningsansvarige dokumenterar för den enskilde och för aktörer utan samplan.".to_string(),
            NotInvited(_) => "Din enhet är inte kallad till mötet.".to_string(),
            NotAuthor => "Uppgiften tillhör en annan enhet och kan bara ändras av den.".to_string(),
            NotSameUser => "Du kan bara markera meddelanden som lästa för dig själv.".to_string(),
            PlanClosed => "Planen är avslutad och kan inte ändras. Finns behovet kvar: starta \
                           en ny SIP för personen."
                .to_string(),
            SipAlreadyExists => "Det finns redan en SIP med detta id.".to_string(),
            PersonAlreadyRegistered => "Personen är redan registrerad.".to_string(),
            UnitAlreadyRegistered => "Enheten är redan registrerad.".to_string(),
            ConsentMissing => "Samtycke till SIP saknas. Inhämta och registrera samtycke först.".to_string(),
            ConsentExpired => "Samtycket till SIP har gått ut. Inhämta ett nytt samtycke.".to_string(),
            CoordinatorNotCoveredByConsent(_, name) => format!(
                "Samtycket omfattar inte {name}. Den samordningsansvariga enheten måste omfattas \
                 av samtycket: inhämta samtycke som omfattar enheten, eller låt en enhet som \
                 samtycket omfattar samordna planen."
            ),
            UnitLeftOutByConsent(_, name, coordinator) => format!(
                "Samtycket omfattar inte längre {name}, så enheten skriver inte i planen och \
                 planen delas inte längre med den. Ska enheten vara med igen behövs ett nytt \
                 samtycke som omfattar den: kontakta den samordningsansvariga, {coordinator}."
            ),
            RecorderNotCoveredByConsent(_, name) => format!(
                "Samtycket omfattar inte {name}, som registrerar det. Innan planen har en \
                 samordningsansvarig är det den enheten som går vidare med SIP-underlaget, så \
                 samtycket måste omfatta den. Vill personen inte att enheten deltar: avsluta \
                 ärendet och be en enhet som personen vill ha med att starta SIP."
            ),
            ActorNotCoveredByConsent(_, name) => format!(
                "Samtycket omfattar inte {name}. Inhämta samtycke som omfattar enheten innan den \
                 kallas, deltar i mötet eller skriver i planen."
            ),
            ChildNeedsGuardianConsent => "Personen är under 18 år: samtycke krävs från varje registrerad vårdnadshavare.".to_string(),
            GuardianConsentMissing(name) => format!(
                "Personen är under 18 år och samtycke saknas från vårdnadshavaren {name}: \
                 samtycke krävs från varje registrerad vårdnadshavare. Registrera samtycket, eller \
                 se på personsidan om {name} är rätt registrerad."
            ),
            ChildCannotConsent => "Personen är under 18 år: samtycket ges av varje registrerad vårdnadshavare, inte av personen själv eller en företrädare.".to_string(),
            ConsentWithdrawn => "Samtycket har återkallats. Planen ska avslutas.".to_string(),
            ConsentAlreadyGiven => "Samtycke finns redan. Om personen ångrar sig: registrera att samtycket återkallas.".to_string(),
            PlanBasisMissing => "SIP-underlaget saknas. Skapa underlaget först.".to_string(),
            PlanBasisExists => "SIP-underlaget är redan skapat.".to_string(),
            MeetingNotHeld => "Inget SIP-möte är registrerat ännu.".to_string(),
            InvitationNotActive => "Kallelsen är återkallad eller mötet redan genomfört.".to_string(),
            InvitationNotForFollowUp => "Kallelsen gäller ett SIP-möte, inte en uppföljning: registrera mötet som SIP-möte.".to_string(),
            InvitationForFollowUp => "Kallelsen gäller en uppföljning: registrera uppföljningen och ange kallelsen där.".to_string(),
            TrackMissing => "Ange spår för utskrivningen (grönt, gult eller rött): tiden för SIP-mötet räknas efter spåret.".to_string(),
            DateOutOfRange(field) => format!(
                "{field}: datumet ligger utanför åren {}–{} som samplan räknar med. Kontrollera årtalet.",
                crate::calendar::YEARS.start(),
                crate::calendar::YEARS.end()
            ),
            GoalsNotMet(1) => "Vid den senaste uppföljningen bedömdes ett mål som inte uppnått. \
                Registrera en uppföljning där målen bedöms som uppnådda, eller välj ett annat skäl \
                för avslutet."
                .to_string(),
            GoalsNotMet(n) => format!(
                "Vid den senaste uppföljningen bedömdes {n} mål som inte uppnådda. Registrera en \
                 uppföljning där målen bedöms som uppnådda, eller välj ett annat skäl för avslutet."
            ),
            FollowUpMissing => "Planen har inte följts upp. Varje SIP ska följas upp minst en gång innan den avslutas.".to_string(),
            ProtectedIdentity => "Personen har skyddade personuppgifter. SIP kan inte hanteras här.".to_string(),
            PersonDeceased => "Personen är avliden.".to_string(),
            PersonMovedOut => "Personen har flyttat från länet.".to_string(),
            NotADischarge => "Behovet gäller inte utskrivning från slutenvård.".to_string(),
            NotTheDischargingUnit(name) => format!(
                "Utskrivningen registreras av {name}: den avdelning som startade SIP inför \
                 utskrivningen, eller den samordningsansvariga enheten om avdelningen inte längre \
                 är med i planen. Kontakta {name} om tiden har ändrats."
            ),
            SipNotFound => "Planen finns inte.".to_string(),
            PersonNotFound => "Personen finns inte registrerad.".to_string(),
            InvitationNotFound(i) => format!("Kallelsen \u{201d}{i}\u{201d} finns inte."),
        }
    }
}
