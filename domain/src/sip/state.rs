//! The state of one plan, folded from its events. `Default` is "no plan yet".
//!
//! Fields are public for reading (views, projections, the audit API show them); only `evolve`
//! should produce a state.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::types::*;
use crate::context::StaffRef;
use crate::heading::Heading;
use crate::ids::{PersonId, SipId, UnitId};
use crate::person::PersonState;

/// Why and when the need was noticed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    pub identified_by: IdentifiedBy,
    pub reason: String,
    pub known_since: DateTime<Utc>,
    pub context: NeedContext,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// A consent as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub given_by: ConsentGiver,
    pub actors: Vec<UnitId>,
    pub topics: Vec<String>,
    pub valid_until: NaiveDate,
    /// The närstående the consent lets the meeting invite; `None`: it does not say.
    #[serde(default)]
    pub relatives: Option<Vec<String>>,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// A declined or withdrawn consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRefusal {
    pub by: ConsentGiver,
    pub note: Option<String>,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// The SIP-underlag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanBasis {
    pub initiated_by: Option<String>,
    pub fixed_care_contacts: Vec<FixedCareContact>,
    pub created_by: StaffRef,
    pub created_at: DateTime<Utc>,
}

/// One kartläggning entry; visible to every participant at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    pub heading: Heading,
    pub text: String,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// A cancelled invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// An invitation (kallelse) and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub invitation_id: String,
    pub purpose: InvitationPurpose,
    pub scheduled_at: DateTime<Utc>,
    pub form: MeetingForm,
    pub place: Option<String>,
    pub reason: String,
    pub recipients: Vec<InvitationRecipient>,
    pub sent_by: StaffRef,
    pub sent_at: DateTime<Utc>,
    /// Representatives appointed by invited units.
    pub representatives: BTreeMap<UnitId, Representative>,
    pub rescheduled: u32,
    /// When it was last moved.
    #[serde(default)]
    pub rescheduled_at: Option<DateTime<Utc>>,
    pub cancelled: Option<Cancellation>,
    /// Whether the meeting it summoned to was recorded.
    pub held: bool,
    /// Letters printed and posted to the recipients reached by letter, each for the revision of
    /// the invitation it told about (see [`Invitation::revision`]).
    #[serde(default)]
    pub letters: Vec<LetterPosted>,
}

/// A kallelse saved unsent ("Spara"): seen only by the coordinator's unit, summoning nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationDraft {
    pub invitation_id: String,
    pub purpose: InvitationPurpose,
    pub scheduled_at: Option<DateTime<Utc>>,
    pub form: MeetingForm,
    pub place: Option<String>,
    pub reason: Option<String>,
    pub recipients: Vec<Recipient>,
    pub saved_by: StaffRef,
    pub saved_at: DateTime<Utc>,
}

/// A letter posted to one recipient of an invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterPosted {
    pub recipient: Recipient,
    /// The invitation's revision the letter told about.
    pub revision: u32,
    pub recorded_at: DateTime<Utc>,
}

/// Which letter a recipient reached by post is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    /// The invitation itself (kallelse).
    Invitation,
    /// The new time or place after the meeting was moved.
    NewTime,
    /// Word that the meeting will not be held.
    Cancellation,
}

impl Invitation {
    /// Neither cancelled nor held.
    pub fn is_active(&self) -> bool {
        self.cancelled.is_none() && !self.held
    }

    /// Whether the person is called: themselves, or a relative of theirs (a guardian for a
    /// child). A meeting of the units alone is not.
    pub fn calls_the_person(&self) -> bool {
        self.recipients
            .iter()
            .any(|r| matches!(r.recipient, Recipient::Person | Recipient::Relative { .. }))
    }

    /// The units summoned.
    pub fn invited_units(&self) -> impl Iterator<Item = (&UnitId, Delivery)> {
        self.recipients.iter().filter_map(|r| match &r.recipient {
            Recipient::Unit { unit_id } => Some((unit_id, r.delivery)),
            _ => None,
        })
    }

    /// Recipients reached by a printed letter.
    pub fn letter_recipients(&self) -> Vec<&InvitationRecipient> {
        self.recipients
            .iter()
            .filter(|r| r.delivery == Delivery::Letter)
            .collect()
    }

    /// What a letter must tell: 0 for the invitation as sent, one more for every new time and
    /// for the cancellation. A letter posted for an older revision is out of date.
    pub fn revision(&self) -> u32 {
        self.rescheduled
            .saturating_add(u32::from(self.cancelled.is_some()))
    }

    /// The letters still to print and post, with what each must tell: while the invitation is
    /// active, every letter recipient without a letter of the current revision; once it is
    /// cancelled, those who were told of the meeting by letter and not yet of the cancellation.
    /// Nothing once the meeting was held.
    pub fn letters_owed(&self) -> Vec<(&InvitationRecipient, LetterKind)> {
        if self.held {
            return Vec::new();
        }
        let revision = self.revision();
        let posted = |r: &InvitationRecipient, rev: Option<u32>| {
            self.letters
                .iter()
                .any(|l| l.recipient == r.recipient && rev.is_none_or(|v| l.revision == v))
        };
        self.letter_recipients()
            .into_iter()
            .filter(|r| !posted(r, Some(revision)))
            .filter_map(|r| {
                // News only to someone who was told of the meeting: a cancellation, or a new
                // time; whoever has had no letter yet gets the kallelse itself, at its time now.
                let told = posted(r, None);
                let kind = if self.cancelled.is_some() {
                    told.then_some(LetterKind::Cancellation)?
                } else if self.rescheduled > 0 && told {
                    LetterKind::NewTime
                } else {
                    LetterKind::Invitation
                };
                Some((r, kind))
            })
            .collect()
    }
}

/// A held meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    pub invitation_id: String,
    pub held_at: DateTime<Utc>,
    pub attendees: Vec<Attendee>,
    pub chair: String,
    pub secretary: String,
    pub coordinator: StaffRef,
    pub follow_up_on: NaiveDate,
    pub sip_survey_offered: Option<bool>,
}

/// Something a unit documents: a private draft until published ("Spara & dela ut").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drafted<T> {
    /// The unit whose draft this is (or who last published it).
    pub author_unit: UnitId,
    /// Seen only by `author_unit`.
    pub draft: Option<T>,
    /// Seen by every participant and by the person.
    pub published: Option<T>,
    pub published_at: Option<DateTime<Utc>>,
}

/// Huvudmål.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MainGoal {
    pub text: String,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// Delmål.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubGoal {
    pub heading: Heading,
    pub text: String,
    pub responsible: Responsible,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// Insats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intervention {
    pub sub_goal_id: String,
    pub what: String,
    pub responsible: Responsible,
    pub responsible_person: Option<String>,
    pub performer: Option<String>,
    pub contact: Option<String>,
    pub from: NaiveDate,
    pub to: Option<NaiveDate>,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// A recorded follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub follow_up_id: String,
    pub held_on: NaiveDate,
    /// The follow-up kallelse whose meeting this was, if one was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<String>,
    pub by_coordinator: bool,
    pub interventions: Vec<InterventionFollowUp>,
    pub goals: Vec<GoalFollowUp>,
    pub next_follow_up_on: Option<NaiveDate>,
    pub note: Option<String>,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// A publication by a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    pub unit_id: UnitId,
    pub recorded_at: DateTime<Utc>,
}

/// Avslut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closure {
    pub reason: CloseReason,
    pub note: Option<String>,
    pub replaced_by: Option<SipId>,
    pub recorded_by: StaffRef,
    pub recorded_at: DateTime<Utc>,
}

/// Facts about the person that oblige the coordinator to close the plan or to obtain consent anew.
/// They live on the person stream; whoever computes obligations copies them in with [`SipState::observe_person`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonStatus {
    pub protected_identity: bool,
    pub deceased: Option<NaiveDate>,
    pub moved_out: Option<NaiveDate>,
    /// The person's 18th birthday, from the personnummer: from that day a guardian's consent no
    /// longer counts (`decide::consent_cover`). `None` without a personnummer. Snapshots stored
    /// before it existed read as `None` until the person is observed again.
    #[serde(default)]
    pub adult_on: Option<NaiveDate>,
    /// The guardians registered on the person now (relative ids, sorted): a child's consent needs
    /// every one of them, as `decide::consent_cover` asks, so a guardian registered after consent
    /// was recorded is asked for theirs and one removed is no longer waited for. `None` where the
    /// person was not observed with it (snapshots from before it): then the guardians registered
    /// when consent was recorded count.
    #[serde(default)]
    pub guardians: Option<Vec<String>>,
}

impl PersonStatus {
    /// Folds one person event into the status (events that change none of it change nothing).
    pub fn apply(&mut self, event: &crate::person::PersonEvent) {
        use crate::person::PersonEvent;
        match event {
            PersonEvent::PersonRegistered {
                personal_identity_number,
                ..
            } => {
                self.adult_on = Some(personal_identity_number.adult_on());
                self.guardians = Some(Vec::new());
            }
            PersonEvent::RelativeAdded { .. } | PersonEvent::RelativeRemoved { .. } => {
                Self::follow_guardians(&mut self.guardians, event)
            }
            PersonEvent::ProtectedIdentityMarked { .. } => self.protected_identity = true,
            PersonEvent::DeathRegistered { died_on, .. } => self.deceased = Some(*died_on),
            PersonEvent::MovedOutOfRegion { moved_on, .. } => self.moved_out = Some(*moved_on),
            _ => {}
        }
    }

    /// Keeps `guardians` (sorted relative ids; `None`, unknown, stays so) in step with a relative
    /// added or removed.
    pub fn follow_guardians(
        guardians: &mut Option<Vec<String>>,
        event: &crate::person::PersonEvent,
    ) {
        use crate::person::{PersonEvent, RelativeKind};
        let Some(guardians) = guardians else {
            return;
        };
        match event {
            PersonEvent::RelativeAdded {
                relative_id,
                kind: RelativeKind::Guardian,
                ..
            } => {
                if let Err(at) = guardians.binary_search(relative_id) {
                    guardians.insert(at, relative_id.clone());
                }
            }
            PersonEvent::RelativeRemoved { relative_id, .. } => {
                guardians.retain(|g| g != relative_id)
            }
            _ => {}
        }
    }
}

/// Why and when the consent on record stops holding ([`SipState::consent_ends`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentEnd {
    /// Valid through this day.
    Expires(NaiveDate),
    /// The child turns 18 on this day: from then the person consents themselves.
    ComesOfAge(NaiveDate),
}

/// Where the plan stands, for lists and views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SipPhase {
    NotStarted,
    AwaitingConsent,
    ConsentDeclined,
    ConsentWithdrawn,
    AwaitingPlanBasis,
    Preparing,
    Invited,
    MeetingHeld,
    FollowedUp,
    Closed,
}

impl SipPhase {
    /// Where the plan stands, in the words of the staff client.
    pub fn label(&self) -> &'static str {
        match self {
            SipPhase::NotStarted => "Ej påbörjad",
            SipPhase::AwaitingConsent => "Inväntar samtycke",
            SipPhase::ConsentDeclined => "Samtycke nekat",
            SipPhase::ConsentWithdrawn => "Samtycket återkallat",
            SipPhase::AwaitingPlanBasis => "Inväntar SIP-underlag",
            SipPhase::Preparing => "Förberedelse och kartläggning",
            SipPhase::Invited => "Kallelse skickad",
            SipPhase::MeetingHeld => "SIP-möte hållet",
            SipPhase::FollowedUp => "Uppföljd",
            SipPhase::Closed => "Avslutad",
        }
    }
}

/// One plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SipState {
    pub sip_id: Option<SipId>,
    pub person_id: Option<PersonId>,
    pub need: Option<Need>,
    /// Every consent given, oldest first.
    pub consents: Vec<Consent>,
    /// Guardians (relative ids) whose consent is needed, as registered when consent was last
    /// recorded for a child; empty for an adult.
    pub guardians_required: Vec<String>,
    /// The latest refusal, unless consent was given after it.
    pub consent_declined: Option<ConsentRefusal>,
    pub consent_withdrawn: Option<ConsentRefusal>,
    pub discharged_at: Option<DateTime<Utc>>,
    pub basis: Option<PlanBasis>,
    pub coordinator: Option<StaffRef>,
    pub former_coordinators: Vec<StaffRef>,
    pub mappings: BTreeMap<String, Mapping>,
    pub invitations: BTreeMap<String, Invitation>,
    /// Kallelser saved but not yet sent, by id; gone once sent.
    #[serde(default)]
    pub invitation_drafts: BTreeMap<String, InvitationDraft>,
    pub meetings: Vec<Meeting>,
    pub main_goal: Option<Drafted<MainGoal>>,
    pub sub_goals: BTreeMap<String, Drafted<SubGoal>>,
    pub interventions: BTreeMap<String, Drafted<Intervention>>,
    pub publications: Vec<Publication>,
    /// The next agreed follow-up date.
    pub next_follow_up_on: Option<NaiveDate>,
    pub follow_ups: Vec<FollowUp>,
    pub closed: Option<Closure>,
    /// Units taking part: see [`SipState::participates`].
    pub participants: BTreeSet<UnitId>,
    /// The participants that joined by what they or others did in the open — recorded something,
    /// coordinated, were invited, attended — rather than only by being named responsible in a
    /// sub-goal or intervention: see [`SipState::shown_participants`]. Absent from snapshots
    /// written before it was kept (the inbox's rules were raised with it, so they are rebuilt).
    #[serde(default)]
    pub acting: BTreeSet<UnitId>,
    pub person_status: PersonStatus,
}

impl SipState {
    /// Whether the plan exists (a need was identified).
    pub fn exists(&self) -> bool {
        self.sip_id.is_some()
    }

    pub fn sip_id(&self) -> Option<SipId> {
        self.sip_id
    }

    pub fn person_id(&self) -> Option<PersonId> {
        self.person_id
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    pub fn coordinator(&self) -> Option<&StaffRef> {
        self.coordinator.as_ref()
    }

    /// Each giver's newest consent still valid on `today`, of the givers `counts` picks: a
    /// renewal speaks for its giver instead of what they agreed to before (the plan page's
    /// "consent in force"), so a unit or närstående it leaves out is left out.
    pub fn consents_in_force(
        &self,
        today: NaiveDate,
        counts: impl Fn(&ConsentGiver) -> bool,
    ) -> Vec<&Consent> {
        let mut newest: Vec<&Consent> = Vec::new();
        for c in self.consents.iter().rev() {
            if counts(&c.given_by)
                && c.valid_until >= today
                && !newest.iter().any(|n| n.given_by == c.given_by)
            {
                newest.push(c);
            }
        }
        newest.reverse();
        newest
    }

    /// A unit the person's consent no longer names: on record in an earlier consent, or taking
    /// part, but not named by the consent that speaks now (whatever its dates: an expired
    /// consent is renewed, not read as leaving everyone out) — for a child, by every guardian's
    /// newest. It shares nothing more into the plan, answers no kallelse and is owed nothing;
    /// what it shared stays, as the plan's history does.
    pub fn left_out_by_consent(&self, unit: &UnitId) -> bool {
        // Whose consent speaks as the newest consent left it: a child's guardians each (only
        // what every one names), or else the person's own voice, its newest consent.
        let speaking: Vec<&Consent> = if self.guardians_required.is_empty() {
            self.consents
                .iter()
                .rev()
                .find(|c| !matches!(c.given_by, ConsentGiver::Guardian { .. }))
                .into_iter()
                .collect()
        } else {
            self.consents_in_force(NaiveDate::MIN, |giver| {
                matches!(giver, ConsentGiver::Guardian { relative_id }
                    if self.guardians_required.contains(relative_id))
            })
        };
        !speaking.is_empty() && !speaking.iter().all(|c| c.actors.contains(unit))
    }

    /// Whether `relative_id` consented on this plan as the person's representative: the person
    /// accepted them as företrädare then (`record-consent` asks), so they may also decline or
    /// withdraw for the person.
    pub fn accepted_representative(&self, relative_id: &str) -> bool {
        self.consents.iter().any(|c| {
            matches!(&c.given_by, ConsentGiver::Representative { relative_id: r } if r == relative_id)
        })
    }

    /// Whether `unit` takes part: it identified the need, recorded consent, coordinates or
    /// coordinated, was invited, attended, documented, or is responsible for a goal or
    /// intervention. It stays a participant for good, as the plan's history does; whether the
    /// plan is still shared with it is [`SipState::shared_with`].
    pub fn participates(&self, unit: &UnitId) -> bool {
        self.participants.contains(unit)
    }

    /// Whether the plan is shared with `unit` now: it takes part and the consent that speaks
    /// still names it ([`SipState::left_out_by_consent`]). Only such a unit reads the plan, is
    /// told what happens to it and lists it among its plans (ADR 0053); a later consent that
    /// names it again shares the plan with it again.
    pub fn shared_with(&self, unit: &UnitId) -> bool {
        self.participates(unit) && !self.left_out_by_consent(unit)
    }

    /// The units others may be told take part — the person on Min plan and in FHIR, other units
    /// on the plan: those that joined in the open ([`SipState::acting`]) and those responsible
    /// for published content. A unit named only in a draft is left out, since the draft is its
    /// author's alone until published (DESIGN: drafts are seen only by their own unit), and that
    /// a Försäkringskassan or a school is being written into the plan is itself not yet agreed.
    pub fn shown_participants(&self) -> BTreeSet<UnitId> {
        let published_units = self
            .sub_goals
            .values()
            .filter_map(|d| d.published.as_ref().map(|g| &g.responsible))
            .chain(
                self.interventions
                    .values()
                    .filter_map(|d| d.published.as_ref().map(|i| &i.responsible)),
            )
            .filter_map(|r| match r {
                Responsible::Unit { unit_id } => Some(unit_id.clone()),
                Responsible::Person => None,
            });
        // A unit the consent left out is not said to take part, though what it published
        // still names it as responsible (ADR 0053).
        self.acting
            .iter()
            .cloned()
            .chain(published_units)
            .filter(|u| !self.left_out_by_consent(u))
            .collect()
    }

    /// The staff member responsible for moving the plan on: the coordinator, or before there is
    /// one, whoever identified the need ("den personen blir initialt samordningsansvarig", 002).
    pub fn responsible_staff(&self) -> Option<&StaffRef> {
        self.coordinator
            .as_ref()
            .or(self.need.as_ref().map(|n| &n.recorded_by))
    }

    /// The last meeting held.
    pub fn last_meeting(&self) -> Option<&Meeting> {
        self.meetings.last()
    }

    pub fn meeting_held(&self) -> bool {
        !self.meetings.is_empty()
    }

    /// Whether the coordinator has recorded a follow-up of the whole plan.
    pub fn followed_up(&self) -> bool {
        self.follow_ups.iter().any(|f| f.by_coordinator)
    }

    /// Whether consent is on record from whoever must give it (the person or a representative;
    /// for a child every guardian registered now, see [`SipState::guardians_to_consent`]) and not
    /// withdrawn. Validity dates are not checked here (there is no clock); `decide` checks them.
    pub fn consent_complete(&self) -> bool {
        if self.consent_withdrawn.is_some() || self.consents.is_empty() {
            return false;
        }
        match self.guardians_to_consent() {
            None => self
                .consents
                .iter()
                .any(|c| !matches!(c.given_by, ConsentGiver::Guardian { .. })),
            Some(guardians) => {
                !guardians.is_empty()
                    && guardians.iter().all(|g| {
                        self.consents.iter().any(|c| {
                            matches!(&c.given_by, ConsentGiver::Guardian { relative_id } if relative_id == g)
                        })
                    })
            }
        }
    }

    /// For a plan whose consent was recorded while the person was a child: the guardians whose
    /// consent it needs — those registered on the person now when the person was observed
    /// ([`PersonStatus::guardians`]), else those registered when consent was recorded. `None`
    /// when consent is the person's own (or a representative's).
    pub fn guardians_to_consent(&self) -> Option<&[String]> {
        if self.guardians_required.is_empty() {
            return None;
        }
        Some(
            self.person_status
                .guardians
                .as_deref()
                .unwrap_or(&self.guardians_required),
        )
    }

    /// Copies the person's protected identity, death, moving out, coming of age and guardians
    /// into the plan, so that `obligations` can ask the coordinator to close it, or for the
    /// consent of a guardian registered since consent was recorded.
    pub fn observe_person(&mut self, person: &PersonState) {
        self.person_status = PersonStatus {
            protected_identity: person.protected_identity,
            deceased: person.deceased,
            moved_out: person.moved_out.as_ref().map(|m| m.moved_on),
            adult_on: person.adult_on(),
            guardians: Some({
                let mut ids: Vec<String> = person
                    .guardians()
                    .iter()
                    .map(|g| g.relative_id.clone())
                    .collect();
                ids.sort();
                ids
            }),
        };
    }

    /// When the consent on record stops holding, and why, while the plan is open and consent
    /// complete: after the latest `valid_until` of the person's (or their representative's)
    /// consents; for a child, after the earliest among the guardians' latest, or on the 18th
    /// birthday when that comes first. Consent is time-limited ("Samtycket är
    /// tidsbegränsat", `003_b47277a6b8e59a80.txt`); `decide` refuses what needs it after this day.
    pub fn consent_ends(&self) -> Option<ConsentEnd> {
        if self.is_closed() || !self.consent_complete() {
            return None;
        }
        let latest = |giver: &dyn Fn(&ConsentGiver) -> bool| {
            self.consents
                .iter()
                .filter(|c| giver(&c.given_by))
                .map(|c| c.valid_until)
                .max()
        };
        let Some(guardians) = self.guardians_to_consent() else {
            let last = latest(&|g| !matches!(g, ConsentGiver::Guardian { .. }))?;
            return Some(ConsentEnd::Expires(last));
        };
        let last = guardians
            .iter()
            .map(|id| {
                latest(
                    &|g| matches!(g, ConsentGiver::Guardian { relative_id } if relative_id == id),
                )
            })
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()?;
        match self.person_status.adult_on {
            Some(adult_on) if adult_on <= last => {
                // The young person's own consent, given in the weeks before (`decide`), holds
                // from the birthday on: then it is what runs out.
                match latest(&|g| !matches!(g, ConsentGiver::Guardian { .. })) {
                    Some(own) if own >= adult_on => Some(ConsentEnd::Expires(own)),
                    _ => Some(ConsentEnd::ComesOfAge(adult_on)),
                }
            }
            _ => Some(ConsentEnd::Expires(last)),
        }
    }

    /// Where the plan stands.
    pub fn phase(&self) -> SipPhase {
        if !self.exists() {
            SipPhase::NotStarted
        } else if self.is_closed() {
            SipPhase::Closed
        } else if self.consent_withdrawn.is_some() {
            SipPhase::ConsentWithdrawn
        } else if self.followed_up() {
            SipPhase::FollowedUp
        } else if self.meeting_held() {
            SipPhase::MeetingHeld
        } else if self.invitations.values().any(|i| i.is_active()) {
            SipPhase::Invited
        } else if self.basis.is_some() {
            SipPhase::Preparing
        } else if self.consent_declined.is_some() {
            SipPhase::ConsentDeclined
        } else if self.consent_complete() {
            SipPhase::AwaitingPlanBasis
        } else {
            SipPhase::AwaitingConsent
        }
    }
}
