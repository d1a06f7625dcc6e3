//! The inbox's apply step: a batch of events in, its rows out.
//!
//! Everything a batch touches is read in a few statements ([`Batch::load`]), every event is
//! applied in memory in global order ([`Batch::apply`]: fold the plan, send its messages, diff
//! its to-dos and ongoing rows), and what changed is written back in one statement per table
//! ([`Batch::write`]). Each change is stamped with the position of the event that made it, and
//! to-dos are diffed after *every* event, never once per batch, so the rows do not depend on how
//! the events were batched: a rebuild gives the live tables.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, SubsecRound, Utc};
use domain::event::DomainEvent;
use domain::inbox::InboxEvent;
use domain::obligations::{
    close_reasons, obligations, Obligation, ObligationKind, ObligationOwner,
};
use domain::person::{PersonEvent, RelativeKind};
use domain::policy::PolicyProfile;
use domain::sip::{self, PersonStatus, SipEvent, SipState};
use domain::unit::UnitEvent;
use domain::UnitId;
use eventstore::RecordedEvent;
use tokio_postgres::types::ToSql;

use super::UnitChanged;
use crate::error::ProjectionError;
use crate::runner::{decode, out_of_order, Tx};

/// One query parameter.
type Param<'a> = [&'a (dyn ToSql + Sync); 1];

/// A statement's parameters, owned, for statements sent together.
type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// A plan as the batch holds it.
struct Plan {
    person_id: String,
    version: i64,
    last_position: i64,
    state: SipState,
    dirty: bool,
}

/// A person as the inbox knows them.
#[derive(Clone)]
struct Person {
    name: String,
    birth_year: i32,
    protected_identity: bool,
    protected_position: Option<i64>,
    deceased_on: Option<NaiveDate>,
    moved_out_on: Option<NaiveDate>,
    /// The 18th birthday (projections migration 15; `None` for rows from before it until the
    /// inbox is rebuilt, and for persons without a personnummer).
    adult_on: Option<NaiveDate>,
    /// The guardians registered now, sorted (projections migration 20; `None` for rows from
    /// before it, until the inbox is rebuilt — its rules were raised with it).
    guardians: Option<Vec<String>>,
    version: i64,
    dirty: bool,
}

impl Person {
    fn status(&self) -> PersonStatus {
        PersonStatus {
            protected_identity: self.protected_identity,
            deceased: self.deceased_on,
            moved_out: self.moved_out_on,
            adult_on: self.adult_on,
            guardians: self.guardians.clone(),
        }
    }
}

struct Unit {
    name: String,
    uses_samplan: bool,
    version: i64,
}

/// A to-do row.
#[derive(Clone)]
struct Todo {
    todo_id: String,
    unit_id: String,
    staff_id: Option<String>,
    /// The name of the staff member who owes it (projections migration 15).
    staff_name: Option<String>,
    sip_id: String,
    person_id: String,
    kind: String,
    reference: String,
    title: String,
    due_at: Option<DateTime<Utc>>,
    shown_from: Option<DateTime<Utc>>,
    letter: Option<String>,
    opened_at: DateTime<Utc>,
    opened_position: i64,
    changed_position: i64,
    ended_at: Option<DateTime<Utc>>,
    ended_position: Option<i64>,
    ended_by: Option<String>,
}

impl Todo {
    /// What identifies an open to-do across events: the same obligation owed by the same owner.
    fn key(&self) -> (String, String, Option<String>, String) {
        (
            self.kind.clone(),
            self.unit_id.clone(),
            self.staff_id.clone(),
            self.reference.clone(),
        )
    }
}

/// An ongoing-plan row's content (its position aside).
#[derive(Clone, PartialEq)]
struct Ongoing {
    person_id: String,
    phase: String,
    coordinator_id: Option<String>,
    coordinator_name: Option<String>,
    coordinator_unit_id: Option<String>,
    next_meeting_at: Option<DateTime<Utc>>,
    next_follow_up_on: Option<NaiveDate>,
    owes_documentation: bool,
    started_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    /// Why the open plan is to be closed, in Swedish (`domain::obligations::close_reasons`;
    /// projections migration 15); then no meeting or follow-up is shown as next.
    to_be_closed: Option<String>,
    /// Where the plan started (`outpatient`, `discharge`), the discharge track, when the person
    /// was ready for discharge and when they go home (projections migration 24).
    discharge: Discharge,
}

/// What Pågående SIP says of a plan started at discharge from inpatient care.
#[derive(Clone, PartialEq, Default)]
struct Discharge {
    care_context: Option<String>,
    track: Option<String>,
    ready_at: Option<DateTime<Utc>>,
    discharged_at: Option<DateTime<Utc>>,
}

struct Message {
    unit_id: UnitId,
    message_id: String,
    position: i64,
    kind: &'static str,
    subject: String,
    body: String,
    sip_id: String,
    person_id: String,
    invitation_id: Option<String>,
    sender_unit_id: String,
    sender_name: String,
    sent_at: DateTime<Utc>,
}

/// Columns of the person of each row: name, birth year (both `None` where the row's unit may
/// not see them) and protected identity.
type PersonCols = (Vec<Option<String>>, Vec<Option<i32>>, Vec<bool>);

struct Read {
    unit_id: String,
    message_id: String,
    user_id: String,
    read_at: DateTime<Utc>,
    position: i64,
}

/// Everything one batch reads, changes and writes.
#[derive(Default)]
struct Batch {
    plans: HashMap<String, Plan>,
    persons: HashMap<String, Person>,
    units: HashMap<String, Unit>,
    new_units: BTreeSet<String>,
    /// Each plan's participating units (plan, unit) and the position they joined at.
    participants: HashMap<(String, String), i64>,
    new_participants: Vec<(String, String, i64)>,
    /// Persons whose identity this batch marked protected, with the marking's position: their
    /// rows already written are updated after the batch's own.
    marked: BTreeMap<String, i64>,
    /// Open to-dos by plan, and every to-do row changed (final state), by id.
    open_todos: HashMap<String, Vec<Todo>>,
    changed_todos: BTreeMap<String, Todo>,
    ongoing: HashMap<(String, String), Ongoing>,
    changed_ongoing: BTreeMap<(String, String), (Ongoing, i64)>,
    /// Ongoing rows (unit, plan) to delete: a plan no longer shared with the unit (ADR 0053).
    removed_ongoing: BTreeSet<(String, String)>,
    messages: Vec<Message>,
    reads: Vec<Read>,
    /// Latest change per unit (before leaving out units without samplan).
    unit_changes: BTreeMap<String, i64>,
}

/// Applies `events` (in global order) and returns the units whose lists changed.
pub(super) async fn apply(
    tx: &Tx<'_>,
    policy: &PolicyProfile,
    events: &[&RecordedEvent],
) -> Result<Vec<UnitChanged>, ProjectionError> {
    let decoded = events
        .iter()
        .map(|e| decode(e, DomainEvent::decode_text).map(|d| (*e, d)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut batch = Batch::load(tx, &decoded).await?;
    for (event, domain_event) in &decoded {
        batch.apply(policy, event, domain_event)?;
    }
    batch.write(tx).await
}

/// Whether a person event changes what the person's plans oblige: close the plan, or obtain the
/// consent of a guardian registered since consent was recorded (or no longer wait for one removed).
fn changes_status(event: &PersonEvent) -> bool {
    matches!(
        event,
        PersonEvent::ProtectedIdentityMarked { .. }
            | PersonEvent::DeathRegistered { .. }
            | PersonEvent::MovedOutOfRegion { .. }
            | PersonEvent::RelativeAdded {
                kind: RelativeKind::Guardian,
                ..
            }
            | PersonEvent::RelativeRemoved { .. }
    )
}

fn kind_name(kind: ObligationKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn phase_name(phase: sip::SipPhase) -> String {
    serde_json::to_value(phase)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Batch {
    async fn load(
        tx: &Tx<'_>,
        events: &[(&RecordedEvent, DomainEvent)],
    ) -> Result<Batch, ProjectionError> {
        let mut sip_ids = BTreeSet::new();
        let mut person_ids = BTreeSet::new();
        let mut status_persons = BTreeSet::new();
        let mut unit_ids = BTreeSet::new();
        for (event, domain_event) in events {
            match domain_event {
                DomainEvent::Sip(e) => {
                    sip_ids.insert(stream_key(event, "sip-").to_owned());
                    if let SipEvent::NeedIdentified { person_id, .. } = e {
                        person_ids.insert(person_id.to_string());
                    }
                }
                DomainEvent::Person(e) => {
                    let id = stream_key(event, "person-").to_owned();
                    if changes_status(e) {
                        status_persons.insert(id.clone());
                    }
                    person_ids.insert(id);
                }
                DomainEvent::Unit(_) => {
                    unit_ids.insert(stream_key(event, "unit-").to_owned());
                }
                _ => {}
            }
        }
        let mut batch = Batch::default();
        let sip_ids: Vec<String> = sip_ids.into_iter().collect();
        let status_persons: Vec<String> = status_persons.into_iter().collect();
        for row in tx
            .query(
                "SELECT sip_id, person_id, version, last_position, state FROM plans
                  WHERE sip_id = ANY($1) OR person_id = ANY($2)",
                &[&sip_ids, &status_persons],
            )
            .await?
        {
            let sip_id: String = row.get(0);
            let state: SipState = serde_json::from_str(row.get::<_, &str>(4)).map_err(|e| {
                ProjectionError::Decode {
                    position: row.get(3),
                    event_type: "inbox.plans.state".into(),
                    reason: e.to_string(),
                }
            })?;
            person_ids.insert(row.get(1));
            batch.plans.insert(
                sip_id,
                Plan {
                    person_id: row.get(1),
                    version: row.get(2),
                    last_position: row.get(3),
                    state,
                    dirty: false,
                },
            );
        }
        let loaded_sips: Vec<String> = batch.plans.keys().cloned().collect();
        let person_ids: Vec<String> = person_ids.into_iter().collect();
        let unit_ids: Vec<String> = unit_ids.into_iter().collect();
        let (by_person, by_unit, by_sip): (Param, Param, Param) =
            ([&person_ids], [&unit_ids], [&loaded_sips]);
        let (persons, units, todos, participants, ongoing) = futures::try_join!(
            tx.query(
                "SELECT person_id, name, birth_year, protected_identity, protected_position,
                        deceased_on, moved_out_on, version, adult_on, guardians
                   FROM persons WHERE person_id = ANY($1)",
                &by_person,
            ),
            tx.query(
                "SELECT unit_id, name, uses_samplan, version FROM units WHERE unit_id = ANY($1)",
                &by_unit,
            ),
            tx.query(
                "SELECT todo_id, unit_id, staff_id, sip_id, person_id, kind, reference, title,
                        due_at, letter, opened_at, opened_position, changed_position, shown_from,
                        staff_name
                   FROM todos WHERE sip_id = ANY($1) AND ended_position IS NULL
                  ORDER BY todo_id",
                &by_sip,
            ),
            tx.query(
                "SELECT sip_id, unit_id, since_position FROM participants WHERE sip_id = ANY($1)",
                &by_sip,
            ),
            tx.query(
                "SELECT unit_id, sip_id, person_id, phase, coordinator_id, coordinator_name,
                        coordinator_unit_id, next_meeting_at, next_follow_up_on,
                        owes_documentation, started_at, closed_at, to_be_closed,
                        care_context, track, discharge_ready_at, discharged_at
                   FROM ongoing WHERE sip_id = ANY($1)",
                &by_sip,
            ),
        )?;
        for row in persons {
            batch.persons.insert(
                row.get(0),
                Person {
                    name: row.get(1),
                    birth_year: row.get(2),
                    protected_identity: row.get(3),
                    protected_position: row.get(4),
                    deceased_on: row.get(5),
                    moved_out_on: row.get(6),
                    adult_on: row.get(8),
                    guardians: row.get(9),
                    version: row.get(7),
                    dirty: false,
                },
            );
        }
        for row in units {
            batch.units.insert(
                row.get(0),
                Unit {
                    name: row.get(1),
                    uses_samplan: row.get(2),
                    version: row.get(3),
                },
            );
        }
        for row in todos {
            let todo = Todo {
                todo_id: row.get(0),
                unit_id: row.get(1),
                staff_id: row.get(2),
                staff_name: row.get(14),
                sip_id: row.get(3),
                person_id: row.get(4),
                kind: row.get(5),
                reference: row.get(6),
                title: row.get(7),
                due_at: row.get(8),
                shown_from: row.get(13),
                letter: row.get(9),
                opened_at: row.get(10),
                opened_position: row.get(11),
                changed_position: row.get(12),
                ended_at: None,
                ended_position: None,
                ended_by: None,
            };
            batch
                .open_todos
                .entry(todo.sip_id.clone())
                .or_default()
                .push(todo);
        }
        for row in participants {
            batch
                .participants
                .insert((row.get(0), row.get(1)), row.get(2));
        }
        for row in ongoing {
            batch.ongoing.insert(
                (row.get(0), row.get(1)),
                Ongoing {
                    person_id: row.get(2),
                    phase: row.get(3),
                    coordinator_id: row.get(4),
                    coordinator_name: row.get(5),
                    coordinator_unit_id: row.get(6),
                    next_meeting_at: row.get(7),
                    next_follow_up_on: row.get(8),
                    owes_documentation: row.get(9),
                    started_at: row.get(10),
                    closed_at: row.get(11),
                    to_be_closed: row.get(12),
                    discharge: Discharge {
                        care_context: row.get(13),
                        track: row.get(14),
                        ready_at: row.get(15),
                        discharged_at: row.get(16),
                    },
                },
            );
        }
        Ok(batch)
    }

    fn apply(
        &mut self,
        policy: &PolicyProfile,
        event: &RecordedEvent,
        domain_event: &DomainEvent,
    ) -> Result<(), ProjectionError> {
        match domain_event {
            DomainEvent::Sip(e) => self.apply_sip(policy, event, e),
            DomainEvent::Person(e) => self.apply_person(policy, event, e),
            DomainEvent::Unit(UnitEvent::UnitRegistered {
                name, uses_samplan, ..
            }) => {
                let id = stream_key(event, "unit-").to_owned();
                if self.units.get(&id).map_or(0, |u| u.version) != event.stream_version - 1 {
                    return Err(out_of_order(event));
                }
                self.units.insert(
                    id.clone(),
                    Unit {
                        name: name.clone(),
                        uses_samplan: *uses_samplan,
                        version: event.stream_version,
                    },
                );
                self.new_units.insert(id);
                Ok(())
            }
            DomainEvent::Inbox(InboxEvent::MessageRead {
                message_id,
                user,
                read_at,
            }) => {
                let unit_id = stream_key(event, "inbox-").to_owned();
                self.touch(&unit_id, event.global_position);
                self.reads.push(Read {
                    unit_id,
                    message_id: message_id.clone(),
                    user_id: user.to_string(),
                    read_at: *read_at,
                    position: event.global_position,
                });
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The person of each row `(person, plan, unit)` as the row's unit may see them once the
    /// batch is applied: the name and birth year unless the identity is protected and the unit
    /// took part in the plan only from the marking on (ADR 0029), and whether it is protected.
    /// Written into the row, so the lists join nothing to show it; a unit's participation
    /// starts once and never ends and a name never changes, so only a marking changes it, and
    /// [`Batch::write`] then updates the person's rows already written.
    fn persons_seen<'a>(
        &self,
        rows: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> PersonCols {
        let mut cols: PersonCols = (Vec::new(), Vec::new(), Vec::new());
        for (person_id, sip_id, unit_id) in rows {
            let person = self.persons.get(person_id);
            let visible = person.is_some_and(|p| match p.protected_position {
                None => true,
                Some(marked) => self
                    .participants
                    .get(&(sip_id.to_owned(), unit_id.to_owned()))
                    .is_some_and(|since| *since < marked),
            });
            let shown = person.filter(|_| visible);
            cols.0.push(shown.map(|p| p.name.clone()));
            cols.1.push(shown.map(|p| p.birth_year));
            cols.2.push(person.is_some_and(|p| p.protected_identity));
        }
        cols
    }

    fn touch(&mut self, unit_id: &str, position: i64) {
        let at = self.unit_changes.entry(unit_id.to_owned()).or_insert(0);
        *at = (*at).max(position);
    }

    fn apply_person(
        &mut self,
        policy: &PolicyProfile,
        event: &RecordedEvent,
        person_event: &PersonEvent,
    ) -> Result<(), ProjectionError> {
        let id = stream_key(event, "person-").to_owned();
        let expected = self.persons.get(&id).map_or(0, |p| p.version);
        if expected != event.stream_version - 1 {
            return Err(out_of_order(event));
        }
        // A guardian registered or removed (known as one before this event): the coordinators
        // of the person's open plans hear of it, unless their unit did it.
        let guardian_change = match person_event {
            PersonEvent::RelativeAdded {
                kind: RelativeKind::Guardian,
                name,
                recorded_by,
                recorded_at,
                ..
            } => Some((
                sip::messages::GuardianChange::Added(name),
                recorded_by,
                recorded_at,
            )),
            PersonEvent::RelativeRemoved {
                relative_id,
                recorded_by,
                recorded_at,
            } if self
                .persons
                .get(&id)
                .and_then(|p| p.guardians.as_ref())
                .is_some_and(|g| g.contains(relative_id)) =>
            {
                Some((
                    sip::messages::GuardianChange::Removed,
                    recorded_by,
                    recorded_at,
                ))
            }
            _ => None,
        };
        match person_event {
            PersonEvent::PersonRegistered {
                name,
                personal_identity_number,
                ..
            } => {
                self.persons.insert(
                    id.clone(),
                    Person {
                        name: name.clone(),
                        birth_year: personal_identity_number.birth_date().year(),
                        protected_identity: false,
                        protected_position: None,
                        deceased_on: None,
                        moved_out_on: None,
                        adult_on: Some(personal_identity_number.adult_on()),
                        guardians: Some(Vec::new()),
                        version: 0,
                        dirty: true,
                    },
                );
            }
            other => {
                let Some(person) = self.persons.get_mut(&id) else {
                    return Err(out_of_order(event));
                };
                match other {
                    PersonEvent::ProtectedIdentityMarked { .. } if !person.protected_identity => {
                        person.protected_identity = true;
                        person.protected_position = Some(event.global_position);
                        self.marked.insert(id.clone(), event.global_position);
                    }
                    PersonEvent::DeathRegistered { died_on, .. } => {
                        person.deceased_on = Some(*died_on)
                    }
                    PersonEvent::MovedOutOfRegion { moved_on, .. } => {
                        person.moved_out_on = Some(*moved_on)
                    }
                    PersonEvent::RelativeAdded { .. } | PersonEvent::RelativeRemoved { .. } => {
                        PersonStatus::follow_guardians(&mut person.guardians, other)
                    }
                    _ => {}
                }
            }
        }
        if let Some(person) = self.persons.get_mut(&id) {
            person.version = event.stream_version;
            person.dirty = true;
        }
        if changes_status(person_event) {
            let mut sips: Vec<String> = self
                .plans
                .iter()
                .filter(|(_, p)| p.person_id == id)
                .map(|(sip, _)| sip.clone())
                .collect();
            sips.sort();
            for sip_id in sips {
                self.refresh(policy, &sip_id, event);
            }
        }
        if let Some((change, by, at)) = guardian_change {
            let mut told: Vec<(String, sip::messages::Message)> = self
                .plans
                .iter()
                .filter(|(_, p)| p.person_id == id)
                .filter_map(|(sip_id, p)| {
                    sip::messages::guardian_change_message(&p.state, change.clone(), by)
                        .map(|m| (sip_id.clone(), m))
                })
                .collect();
            told.sort_by(|a, b| a.0.cmp(&b.0));
            for (sip_id, message) in told {
                self.touch(message.to.as_str(), event.global_position);
                self.messages.push(Message {
                    unit_id: message.to,
                    // Derived as a to-do's id is: one event may tell about several plans.
                    message_id: todo_id(event, &sip_id, 0).to_string(),
                    position: event.global_position,
                    kind: message.kind.as_str(),
                    subject: message.subject,
                    body: message.body,
                    sip_id,
                    person_id: id.clone(),
                    invitation_id: None,
                    sender_unit_id: by.unit_id.to_string(),
                    sender_name: by.name.clone(),
                    sent_at: *at,
                });
            }
        }
        Ok(())
    }

    fn apply_sip(
        &mut self,
        policy: &PolicyProfile,
        event: &RecordedEvent,
        sip_event: &SipEvent,
    ) -> Result<(), ProjectionError> {
        let sip_id = stream_key(event, "sip-").to_owned();
        let plan = self.plans.entry(sip_id.clone()).or_insert_with(|| Plan {
            person_id: String::new(),
            version: 0,
            last_position: 0,
            state: SipState::default(),
            dirty: false,
        });
        if plan.version != event.stream_version - 1 {
            return Err(out_of_order(event));
        }
        let before = std::mem::take(&mut plan.state);
        let after = sip::evolve(before.clone(), sip_event);
        if let Some(person_id) = after.person_id {
            plan.person_id = person_id.to_string();
        }
        plan.version = event.stream_version;
        plan.last_position = event.global_position;
        plan.dirty = true;
        let person_id = plan.person_id.clone();
        let (by, at) = sip_event.recorded();
        for message in sip::messages::messages(&before, &after, sip_event) {
            // A message alone is a change the unit's live streams must hear of (a contribution
            // published changes no to-do or row of the units told).
            self.touch(message.to.as_str(), event.global_position);
            self.messages.push(Message {
                unit_id: message.to,
                message_id: event.event_id.to_string(),
                position: event.global_position,
                kind: message.kind.as_str(),
                subject: message.subject,
                body: message.body,
                sip_id: sip_id.clone(),
                person_id: person_id.clone(),
                invitation_id: message.invitation_id,
                sender_unit_id: by.unit_id.to_string(),
                sender_name: by.name.clone(),
                sent_at: at,
            });
        }
        for unit in &after.participants {
            let key = (sip_id.clone(), unit.to_string());
            if let Entry::Vacant(joined) = self.participants.entry(key.clone()) {
                joined.insert(event.global_position);
                self.new_participants
                    .push((key.0, key.1, event.global_position));
            }
        }
        if let Some(plan) = self.plans.get_mut(&sip_id) {
            plan.state = after;
        }
        self.refresh(policy, &sip_id, event);
        Ok(())
    }

    /// Brings the plan's to-dos and ongoing rows in line with its state after `event`.
    fn refresh(&mut self, policy: &PolicyProfile, sip_id: &str, event: &RecordedEvent) {
        let Some(plan) = self.plans.get(sip_id) else {
            return;
        };
        let mut state = plan.state.clone();
        let person_id = plan.person_id.clone();
        if let Some(person) = self.persons.get(&person_id) {
            state.person_status = person.status();
        }
        let owed = obligations(&state, policy);
        self.diff_todos(sip_id, &person_id, &owed, event);
        self.diff_ongoing(sip_id, &person_id, &state, &owed, event.global_position);
    }

    fn diff_todos(
        &mut self,
        sip_id: &str,
        person_id: &str,
        owed: &[Obligation],
        event: &RecordedEvent,
    ) {
        let position = event.global_position;
        let mut open = self.open_todos.remove(sip_id).unwrap_or_default();
        let mut still_open = Vec::with_capacity(owed.len());
        let mut touched = Vec::new();
        for (n, o) in owed.iter().enumerate() {
            let wanted = todo_of(o, sip_id, person_id, event, n);
            let key = wanted.key();
            match open.iter().position(|t| t.key() == key) {
                Some(i) => {
                    let mut current = open.swap_remove(i);
                    if (
                        &current.title,
                        current.due_at,
                        current.shown_from,
                        &current.letter,
                    ) != (
                        &wanted.title,
                        wanted.due_at,
                        wanted.shown_from,
                        &wanted.letter,
                    ) || current.staff_name != wanted.staff_name
                    {
                        current.title = wanted.title;
                        current.staff_name = wanted.staff_name;
                        current.due_at = wanted.due_at;
                        current.shown_from = wanted.shown_from;
                        current.letter = wanted.letter;
                        current.changed_position = position;
                        touched.push(current.clone());
                    }
                    still_open.push(current);
                }
                None => {
                    touched.push(wanted.clone());
                    still_open.push(wanted);
                }
            }
        }
        // What is no longer owed was settled by this event.
        for mut ended in open {
            ended.ended_at = Some(event.recorded_at);
            ended.ended_position = Some(position);
            ended.ended_by = Some(event.event_type.clone());
            ended.changed_position = position;
            touched.push(ended);
        }
        for todo in touched {
            self.touch(&todo.unit_id.clone(), position);
            self.changed_todos.insert(todo.todo_id.clone(), todo);
        }
        still_open.sort_by(|a, b| a.todo_id.cmp(&b.todo_id));
        self.open_todos.insert(sip_id.to_owned(), still_open);
    }

    fn diff_ongoing(
        &mut self,
        sip_id: &str,
        person_id: &str,
        state: &SipState,
        owed: &[Obligation],
        position: i64,
    ) {
        let Some(need) = state.need.as_ref() else {
            return;
        };
        // A plan closed or to be closed has no meeting or follow-up ahead: nobody is asked to
        // hold them.
        let reasons = close_reasons(state);
        let to_be_closed = (!reasons.is_empty()).then(|| reasons.join(", "));
        let ahead = to_be_closed.is_none() && !state.is_closed();
        let next_meeting_at = state
            .invitations
            .values()
            .filter(|i| i.is_active() && ahead)
            .map(|i| i.scheduled_at)
            .min();
        let next_follow_up_on = state.next_follow_up_on.filter(|_| ahead);
        let discharge = Discharge {
            care_context: serde_json::to_value(need.context.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            track: need
                .context
                .track
                .and_then(|t| serde_json::to_value(t).ok())
                .and_then(|v| v.as_str().map(str::to_owned)),
            ready_at: need.context.discharge_ready_at.map(as_stored),
            discharged_at: state.discharged_at.map(as_stored),
        };
        for unit in &state.participants {
            let key = (unit.to_string(), sip_id.to_owned());
            // A plan the consent no longer shares with the unit leaves its list (ADR 0053).
            if !state.shared_with(unit) {
                if self.ongoing.remove(&key).is_some() {
                    self.changed_ongoing.remove(&key);
                    self.touch(&key.0, position);
                    self.removed_ongoing.insert(key);
                }
                continue;
            }
            let owes_documentation = owed.iter().any(|o| {
                o.kind == ObligationKind::DocumentContribution
                    && o.owner == ObligationOwner::Unit(unit.clone())
            });
            let row = Ongoing {
                person_id: person_id.to_owned(),
                phase: phase_name(state.phase()),
                coordinator_id: state.coordinator.as_ref().map(|c| c.staff_id.to_string()),
                coordinator_name: state.coordinator.as_ref().map(|c| c.name.clone()),
                coordinator_unit_id: state.coordinator.as_ref().map(|c| c.unit_id.to_string()),
                next_meeting_at: next_meeting_at.map(as_stored),
                next_follow_up_on,
                owes_documentation,
                started_at: as_stored(need.known_since),
                closed_at: state.closed.as_ref().map(|c| as_stored(c.recorded_at)),
                to_be_closed: to_be_closed.clone(),
                discharge: discharge.clone(),
            };
            if self.ongoing.get(&key) != Some(&row) {
                self.removed_ongoing.remove(&key);
                self.ongoing.insert(key.clone(), row.clone());
                self.touch(&key.0, position);
                self.changed_ongoing.insert(key, (row, position));
            }
        }
    }

    /// Writes what the batch changed, one statement per table, and returns the units whose lists
    /// changed (those without samplan have no inbox and are left out).
    async fn write(self, tx: &Tx<'_>) -> Result<Vec<UnitChanged>, ProjectionError> {
        // Units the batch did not load but sends messages or changes to.
        let mut unknown: BTreeSet<String> = self
            .messages
            .iter()
            .map(|m| m.unit_id.to_string())
            .chain(self.unit_changes.keys().cloned())
            .filter(|u| !self.units.contains_key(u))
            .collect();
        let mut units_samplan: HashMap<String, bool> = self
            .units
            .iter()
            .map(|(id, u)| (id.clone(), u.uses_samplan))
            .collect();
        if !unknown.is_empty() {
            let ids: Vec<String> = std::mem::take(&mut unknown).into_iter().collect();
            for row in tx
                .query(
                    "SELECT unit_id, uses_samplan FROM units WHERE unit_id = ANY($1)",
                    &[&ids],
                )
                .await?
            {
                units_samplan.insert(row.get(0), row.get(1));
            }
        }
        let has_inbox = |unit: &str| units_samplan.get(unit).copied().unwrap_or(false);

        let new_units: Vec<(&String, &Unit)> = self
            .new_units
            .iter()
            .filter_map(|id| self.units.get(id).map(|u| (id, u)))
            .collect();
        let unit_cols = (
            new_units
                .iter()
                .map(|(id, _)| (*id).clone())
                .collect::<Vec<_>>(),
            new_units
                .iter()
                .map(|(_, u)| u.name.clone())
                .collect::<Vec<_>>(),
            new_units
                .iter()
                .map(|(_, u)| u.uses_samplan)
                .collect::<Vec<_>>(),
            new_units.iter().map(|(_, u)| u.version).collect::<Vec<_>>(),
        );

        let persons: Vec<(&String, &Person)> =
            self.persons.iter().filter(|(_, p)| p.dirty).collect();
        let person_cols = (
            persons
                .iter()
                .map(|(id, _)| (*id).clone())
                .collect::<Vec<_>>(),
            persons
                .iter()
                .map(|(_, p)| p.name.clone())
                .collect::<Vec<_>>(),
            persons
                .iter()
                .map(|(_, p)| p.birth_year)
                .collect::<Vec<_>>(),
            persons
                .iter()
                .map(|(_, p)| p.protected_identity)
                .collect::<Vec<_>>(),
            persons
                .iter()
                .map(|(_, p)| p.protected_position)
                .collect::<Vec<_>>(),
            persons
                .iter()
                .map(|(_, p)| p.deceased_on)
                .collect::<Vec<_>>(),
            persons
                .iter()
                .map(|(_, p)| p.moved_out_on)
                .collect::<Vec<_>>(),
            persons.iter().map(|(_, p)| p.version).collect::<Vec<_>>(),
            persons.iter().map(|(_, p)| p.adult_on).collect::<Vec<_>>(),
            persons
                .iter()
                // Lists of different lengths do not make a text[][]: each goes as a JSON array.
                .map(|(_, p)| {
                    p.guardians
                        .as_ref()
                        .map(|g| serde_json::json!(g).to_string())
                })
                .collect::<Vec<_>>(),
        );

        let mut plan_cols = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (sip_id, plan) in self.plans.iter().filter(|(_, p)| p.dirty) {
            let state =
                serde_json::to_string(&plan.state).map_err(|e| ProjectionError::Decode {
                    position: plan.last_position,
                    event_type: "inbox.plans.state".into(),
                    reason: e.to_string(),
                })?;
            plan_cols.0.push(sip_id.clone());
            plan_cols.1.push(plan.person_id.clone());
            plan_cols.2.push(plan.version);
            plan_cols.3.push(plan.last_position);
            plan_cols.4.push(state);
        }

        let participant_cols = (
            self.new_participants
                .iter()
                .map(|p| p.0.clone())
                .collect::<Vec<_>>(),
            self.new_participants
                .iter()
                .map(|p| p.1.clone())
                .collect::<Vec<_>>(),
            self.new_participants
                .iter()
                .map(|p| p.2)
                .collect::<Vec<_>>(),
        );

        let messages: Vec<&Message> = self
            .messages
            .iter()
            .filter(|m| has_inbox(m.unit_id.as_str()))
            .collect();
        let message_cols = (
            messages
                .iter()
                .map(|m| m.unit_id.to_string())
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.message_id.clone())
                .collect::<Vec<_>>(),
            messages.iter().map(|m| m.position).collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.kind.to_owned())
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.subject.clone())
                .collect::<Vec<_>>(),
            messages.iter().map(|m| m.body.clone()).collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.sip_id.clone())
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.person_id.clone())
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.invitation_id.clone())
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.sender_unit_id.clone())
                .collect::<Vec<_>>(),
            messages
                .iter()
                .map(|m| m.sender_name.clone())
                .collect::<Vec<_>>(),
            messages.iter().map(|m| m.sent_at).collect::<Vec<_>>(),
        );
        let message_persons = self.persons_seen(
            messages
                .iter()
                .map(|m| (m.person_id.as_str(), m.sip_id.as_str(), m.unit_id.as_str())),
        );

        let read_cols = (
            self.reads
                .iter()
                .map(|r| r.unit_id.clone())
                .collect::<Vec<_>>(),
            self.reads
                .iter()
                .map(|r| r.message_id.clone())
                .collect::<Vec<_>>(),
            self.reads
                .iter()
                .map(|r| r.user_id.clone())
                .collect::<Vec<_>>(),
            self.reads.iter().map(|r| r.read_at).collect::<Vec<_>>(),
            self.reads.iter().map(|r| r.position).collect::<Vec<_>>(),
        );

        let todos: Vec<&Todo> = self.changed_todos.values().collect();
        let todo_cols = (
            todos.iter().map(|t| t.todo_id.clone()).collect::<Vec<_>>(),
            todos.iter().map(|t| t.unit_id.clone()).collect::<Vec<_>>(),
            todos.iter().map(|t| t.staff_id.clone()).collect::<Vec<_>>(),
            todos.iter().map(|t| t.sip_id.clone()).collect::<Vec<_>>(),
            todos
                .iter()
                .map(|t| t.person_id.clone())
                .collect::<Vec<_>>(),
            todos.iter().map(|t| t.kind.clone()).collect::<Vec<_>>(),
            todos
                .iter()
                .map(|t| t.reference.clone())
                .collect::<Vec<_>>(),
            todos.iter().map(|t| t.title.clone()).collect::<Vec<_>>(),
            todos.iter().map(|t| t.due_at).collect::<Vec<_>>(),
            todos.iter().map(|t| t.letter.clone()).collect::<Vec<_>>(),
            todos.iter().map(|t| t.opened_at).collect::<Vec<_>>(),
            todos.iter().map(|t| t.opened_position).collect::<Vec<_>>(),
            todos.iter().map(|t| t.changed_position).collect::<Vec<_>>(),
            todos.iter().map(|t| t.ended_at).collect::<Vec<_>>(),
            todos.iter().map(|t| t.ended_position).collect::<Vec<_>>(),
            todos.iter().map(|t| t.ended_by.clone()).collect::<Vec<_>>(),
        );
        let todo_shown_from: Vec<_> = todos.iter().map(|t| t.shown_from).collect();
        let todo_staff_names: Vec<_> = todos.iter().map(|t| t.staff_name.clone()).collect();
        let todo_persons = self.persons_seen(
            todos
                .iter()
                .map(|t| (t.person_id.as_str(), t.sip_id.as_str(), t.unit_id.as_str())),
        );

        let ongoing: Vec<_> = self.changed_ongoing.iter().collect();
        let ongoing_cols = (
            ongoing.iter().map(|(k, _)| k.0.clone()).collect::<Vec<_>>(),
            ongoing.iter().map(|(k, _)| k.1.clone()).collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.person_id.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.phase.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.coordinator_id.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.coordinator_name.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.coordinator_unit_id.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.next_meeting_at)
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.next_follow_up_on)
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.owes_documentation)
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.started_at)
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.closed_at)
                .collect::<Vec<_>>(),
            ongoing.iter().map(|(_, (_, p))| *p).collect::<Vec<_>>(),
        );
        let ongoing_to_be_closed: Vec<_> = ongoing
            .iter()
            .map(|(_, (o, _))| o.to_be_closed.clone())
            .collect();
        let ongoing_discharge = (
            ongoing
                .iter()
                .map(|(_, (o, _))| o.discharge.care_context.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.discharge.track.clone())
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.discharge.ready_at)
                .collect::<Vec<_>>(),
            ongoing
                .iter()
                .map(|(_, (o, _))| o.discharge.discharged_at)
                .collect::<Vec<_>>(),
        );
        let ongoing_persons = self.persons_seen(
            ongoing
                .iter()
                .map(|(k, (o, _))| (o.person_id.as_str(), k.1.as_str(), k.0.as_str())),
        );

        let changed: Vec<UnitChanged> = self
            .unit_changes
            .iter()
            .filter(|(unit, _)| has_inbox(unit))
            .map(|(unit, position)| UnitChanged {
                unit_id: unit.clone(),
                position: *position,
            })
            .collect();
        let position_cols = (
            changed
                .iter()
                .map(|c| c.unit_id.clone())
                .collect::<Vec<_>>(),
            changed.iter().map(|c| c.position).collect::<Vec<_>>(),
        );

        let mut writes: Vec<(&'static str, Params)> = Vec::new();
        if !unit_cols.0.is_empty() {
            writes.push((
                "INSERT INTO units (unit_id, name, uses_samplan, version)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::bigint[])
                 ON CONFLICT (unit_id) DO UPDATE SET name = excluded.name,
                    uses_samplan = excluded.uses_samplan, version = excluded.version",
                vec![
                    Box::new(unit_cols.0),
                    Box::new(unit_cols.1),
                    Box::new(unit_cols.2),
                    Box::new(unit_cols.3),
                ],
            ));
        }
        if !person_cols.0.is_empty() {
            writes.push((
                "INSERT INTO persons (person_id, name, birth_year, protected_identity,
                        protected_position, deceased_on, moved_out_on, version, adult_on,
                        guardians)
                 SELECT id, name, birth_year, protected, protected_at, deceased, moved, version,
                        adult_on,
                        CASE WHEN guardians IS NOT NULL
                             THEN ARRAY(SELECT jsonb_array_elements_text(guardians::jsonb)) END
                   FROM unnest($1::text[], $2::text[], $3::integer[], $4::boolean[],
                        $5::bigint[], $6::date[], $7::date[], $8::bigint[], $9::date[],
                        $10::text[])
                        AS p(id, name, birth_year, protected, protected_at, deceased, moved,
                             version, adult_on, guardians)
                 ON CONFLICT (person_id) DO UPDATE SET name = excluded.name,
                    birth_year = excluded.birth_year,
                    protected_identity = excluded.protected_identity,
                    protected_position = excluded.protected_position,
                    deceased_on = excluded.deceased_on, moved_out_on = excluded.moved_out_on,
                    version = excluded.version, adult_on = excluded.adult_on,
                    guardians = excluded.guardians",
                vec![
                    Box::new(person_cols.0),
                    Box::new(person_cols.1),
                    Box::new(person_cols.2),
                    Box::new(person_cols.3),
                    Box::new(person_cols.4),
                    Box::new(person_cols.5),
                    Box::new(person_cols.6),
                    Box::new(person_cols.7),
                    Box::new(person_cols.8),
                    Box::new(person_cols.9),
                ],
            ));
        }
        if !plan_cols.0.is_empty() {
            writes.push((
                "INSERT INTO plans (sip_id, person_id, version, last_position, state)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],
                        $5::text[])
                 ON CONFLICT (sip_id) DO UPDATE SET person_id = excluded.person_id,
                    version = excluded.version, last_position = excluded.last_position,
                    state = excluded.state",
                vec![
                    Box::new(plan_cols.0),
                    Box::new(plan_cols.1),
                    Box::new(plan_cols.2),
                    Box::new(plan_cols.3),
                    Box::new(plan_cols.4),
                ],
            ));
        }
        if !participant_cols.0.is_empty() {
            writes.push((
                "INSERT INTO participants (sip_id, unit_id, since_position)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
                 ON CONFLICT (sip_id, unit_id) DO NOTHING",
                vec![
                    Box::new(participant_cols.0),
                    Box::new(participant_cols.1),
                    Box::new(participant_cols.2),
                ],
            ));
        }
        if !message_cols.0.is_empty() {
            writes.push((
                "WITH inserted AS (
                 INSERT INTO messages (unit_id, message_id, position, kind, subject, body,
                        sip_id, person_id, invitation_id, sender_unit_id, sender_name, sent_at,
                        person_name, person_birth_year, person_protected)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[],
                        $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                        $11::text[], $12::timestamptz[], $13::text[], $14::integer[],
                        $15::boolean[])
                 ON CONFLICT (unit_id, message_id) DO NOTHING
                 RETURNING unit_id)
                 INSERT INTO message_counts (unit_id, messages)
                 SELECT unit_id, count(*) FROM inserted GROUP BY unit_id
                 ON CONFLICT (unit_id)
                 DO UPDATE SET messages = message_counts.messages + excluded.messages",
                vec![
                    Box::new(message_cols.0),
                    Box::new(message_cols.1),
                    Box::new(message_cols.2),
                    Box::new(message_cols.3),
                    Box::new(message_cols.4),
                    Box::new(message_cols.5),
                    Box::new(message_cols.6),
                    Box::new(message_cols.7),
                    Box::new(message_cols.8),
                    Box::new(message_cols.9),
                    Box::new(message_cols.10),
                    Box::new(message_cols.11),
                    Box::new(message_persons.0),
                    Box::new(message_persons.1),
                    Box::new(message_persons.2),
                ],
            ));
        }
        if !read_cols.0.is_empty() {
            writes.push((
                "WITH inserted AS (
                 INSERT INTO message_reads (unit_id, message_id, user_id, read_at, position)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                        $5::bigint[])
                 ON CONFLICT (unit_id, message_id, user_id) DO NOTHING
                 RETURNING unit_id, message_id, user_id)
                 INSERT INTO read_counts (unit_id, user_id, reads)
                 SELECT i.unit_id, i.user_id, count(*)
                   FROM inserted i
                   JOIN messages m ON m.unit_id = i.unit_id AND m.message_id = i.message_id
                  GROUP BY i.unit_id, i.user_id
                 ON CONFLICT (unit_id, user_id)
                 DO UPDATE SET reads = read_counts.reads + excluded.reads",
                vec![
                    Box::new(read_cols.0),
                    Box::new(read_cols.1),
                    Box::new(read_cols.2),
                    Box::new(read_cols.3),
                    Box::new(read_cols.4),
                ],
            ));
        }
        if !todo_cols.0.is_empty() {
            writes.push((
                "INSERT INTO todos (todo_id, unit_id, staff_id, sip_id, person_id, kind,
                        reference, title, due_at, letter, opened_at, opened_position,
                        changed_position, ended_at, ended_position, ended_by, person_name,
                        person_birth_year, person_protected, shown_from, staff_name)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                        $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[],
                        $10::text[], $11::timestamptz[], $12::bigint[], $13::bigint[],
                        $14::timestamptz[], $15::bigint[], $16::text[], $17::text[],
                        $18::integer[], $19::boolean[], $20::timestamptz[], $21::text[])
                 ON CONFLICT (todo_id) DO UPDATE SET title = excluded.title,
                    due_at = excluded.due_at, shown_from = excluded.shown_from,
                    staff_name = excluded.staff_name,
                    letter = excluded.letter,
                    changed_position = excluded.changed_position, ended_at = excluded.ended_at,
                    ended_position = excluded.ended_position, ended_by = excluded.ended_by,
                    person_name = excluded.person_name,
                    person_birth_year = excluded.person_birth_year,
                    person_protected = excluded.person_protected",
                vec![
                    Box::new(todo_cols.0),
                    Box::new(todo_cols.1),
                    Box::new(todo_cols.2),
                    Box::new(todo_cols.3),
                    Box::new(todo_cols.4),
                    Box::new(todo_cols.5),
                    Box::new(todo_cols.6),
                    Box::new(todo_cols.7),
                    Box::new(todo_cols.8),
                    Box::new(todo_cols.9),
                    Box::new(todo_cols.10),
                    Box::new(todo_cols.11),
                    Box::new(todo_cols.12),
                    Box::new(todo_cols.13),
                    Box::new(todo_cols.14),
                    Box::new(todo_cols.15),
                    Box::new(todo_persons.0),
                    Box::new(todo_persons.1),
                    Box::new(todo_persons.2),
                    Box::new(todo_shown_from),
                    Box::new(todo_staff_names),
                ],
            ));
        }
        if !ongoing_cols.0.is_empty() {
            writes.push((
                "INSERT INTO ongoing (unit_id, sip_id, person_id, phase, coordinator_id,
                        coordinator_name, coordinator_unit_id, next_meeting_at,
                        next_follow_up_on, owes_documentation, started_at, closed_at,
                        changed_position, person_name, person_birth_year, person_protected,
                        to_be_closed, care_context, track, discharge_ready_at, discharged_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                        $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::date[],
                        $10::boolean[], $11::timestamptz[], $12::timestamptz[], $13::bigint[],
                        $14::text[], $15::integer[], $16::boolean[], $17::text[], $18::text[],
                        $19::text[], $20::timestamptz[], $21::timestamptz[])
                 ON CONFLICT (unit_id, sip_id) DO UPDATE SET person_id = excluded.person_id,
                    phase = excluded.phase, coordinator_id = excluded.coordinator_id,
                    coordinator_name = excluded.coordinator_name,
                    coordinator_unit_id = excluded.coordinator_unit_id,
                    next_meeting_at = excluded.next_meeting_at,
                    next_follow_up_on = excluded.next_follow_up_on,
                    owes_documentation = excluded.owes_documentation,
                    started_at = excluded.started_at, closed_at = excluded.closed_at,
                    changed_position = excluded.changed_position,
                    person_name = excluded.person_name,
                    person_birth_year = excluded.person_birth_year,
                    person_protected = excluded.person_protected,
                    to_be_closed = excluded.to_be_closed,
                    care_context = excluded.care_context, track = excluded.track,
                    discharge_ready_at = excluded.discharge_ready_at,
                    discharged_at = excluded.discharged_at",
                vec![
                    Box::new(ongoing_cols.0),
                    Box::new(ongoing_cols.1),
                    Box::new(ongoing_cols.2),
                    Box::new(ongoing_cols.3),
                    Box::new(ongoing_cols.4),
                    Box::new(ongoing_cols.5),
                    Box::new(ongoing_cols.6),
                    Box::new(ongoing_cols.7),
                    Box::new(ongoing_cols.8),
                    Box::new(ongoing_cols.9),
                    Box::new(ongoing_cols.10),
                    Box::new(ongoing_cols.11),
                    Box::new(ongoing_cols.12),
                    Box::new(ongoing_persons.0),
                    Box::new(ongoing_persons.1),
                    Box::new(ongoing_persons.2),
                    Box::new(ongoing_to_be_closed),
                    Box::new(ongoing_discharge.0),
                    Box::new(ongoing_discharge.1),
                    Box::new(ongoing_discharge.2),
                    Box::new(ongoing_discharge.3),
                ],
            ));
        }
        if !self.removed_ongoing.is_empty() {
            let (units, sips): (Vec<String>, Vec<String>) =
                self.removed_ongoing.iter().cloned().unzip();
            writes.push((
                "DELETE FROM ongoing o USING unnest($1::text[], $2::text[]) AS r(unit_id, sip_id)
                  WHERE o.unit_id = r.unit_id AND o.sip_id = r.sip_id",
                vec![Box::new(units), Box::new(sips)],
            ));
        }
        if !position_cols.0.is_empty() {
            writes.push((
                "INSERT INTO unit_positions (unit_id, position)
                 SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT (unit_id) DO UPDATE
                    SET position = greatest(unit_positions.position, excluded.position)",
                vec![Box::new(position_cols.0), Box::new(position_cols.1)],
            ));
        }
        // A marking, after the batch's own rows: every row of the person already written shows
        // the identity protected, and the name and birth year only to units that took part in
        // the plan before the marking (as `persons_seen` decides for the rows written above).
        for (person_id, at) in &self.marked {
            for table in MARKED_UPDATES {
                writes.push((table, vec![Box::new(person_id.clone()), Box::new(*at)]));
            }
        }
        // Sent together: one round trip for the whole batch.
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = writes
            .iter()
            .map(|(_, params)| {
                params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect()
            })
            .collect();
        // Every statement is prepared before any is sent, so they reach the server, and run,
        // in the order written here: a marking's updates must see the batch's rows, and the
        // reads' counter the batch's messages. (A statement still to be prepared would send its
        // execution only after its own round trip, behind statements sent after it.)
        let statements =
            futures::future::try_join_all(writes.iter().map(|(sql, _)| tx.prepared(sql))).await?;
        futures::future::try_join_all(
            statements
                .iter()
                .zip(&params)
                .map(|(statement, params)| tx.transaction().execute(statement, params)),
        )
        .await?;
        Ok(changed)
    }
}

/// The statement that brings `table`'s rows of person `$1`, whose identity was marked protected
/// at position `$2`, in line with the marking: the rows are found through the person's plans and
/// their units, so it reads the rows of those units alone.
macro_rules! marked_update {
    ($table:literal) => {
        concat!(
            "UPDATE ",
            $table,
            " r
                SET person_protected = true,
                    person_name = CASE WHEN v.visible THEN r.person_name END,
                    person_birth_year = CASE WHEN v.visible THEN r.person_birth_year END
               FROM (SELECT pa.sip_id, pa.unit_id, pa.since_position < $2 AS visible
                       FROM participants pa JOIN plans s ON s.sip_id = pa.sip_id
                      WHERE s.person_id = $1) v
              WHERE r.unit_id = v.unit_id AND r.sip_id = v.sip_id AND r.person_id = $1"
        )
    };
}

/// A marking's update of each table whose rows carry their person.
const MARKED_UPDATES: [&str; 3] = [
    marked_update!("messages"),
    marked_update!("todos"),
    marked_update!("ongoing"),
];

/// An instant as PostgreSQL stores it (`timestamptz` keeps microseconds). A row built from the
/// events is compared with the row read back from the table to tell whether it changed; with
/// the nanoseconds of the service's clock the two would always differ, and a live run (which
/// reads rows back at every batch) would stamp changes that a rebuild (one long batch) does not.
fn as_stored(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

/// The id part of a stream id (`sip-01J…` → `01J…`).
fn stream_key<'a>(event: &'a RecordedEvent, prefix: &str) -> &'a str {
    event
        .stream_id
        .strip_prefix(prefix)
        .unwrap_or(&event.stream_id)
}

/// The to-do row for obligation `o`, opened by `event` as its `n`-th.
/// The id of the `n`th to-do `event` opens on plan `sip_id`: a ULID with the event's time and, as
/// its 80 random bits, `n` (16 bits, so one event's to-dos on a plan sort in the order the plan
/// owes them, which lists use between to-dos due at the same moment) and 64 bits of a SHA-256
/// over the event's id and the plan — the same whenever the event is applied (a rebuild gives
/// the same ids), and distinct for the plans one event touches (a death closes every plan of the
/// person: one to-do each).
fn todo_id(event: &RecordedEvent, sip_id: &str, n: usize) -> ulid::Ulid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}/{sip_id}", event.event_id).as_bytes());
    let mut random = [0u8; 16];
    random[6..8].copy_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
    random[8..].copy_from_slice(&digest[..8]);
    ulid::Ulid::from_parts(event.event_id.timestamp_ms(), u128::from_be_bytes(random))
}

fn todo_of(o: &Obligation, sip_id: &str, person_id: &str, event: &RecordedEvent, n: usize) -> Todo {
    let (unit_id, staff_id) = match &o.owner {
        ObligationOwner::Unit(unit) => (unit.to_string(), None),
        ObligationOwner::User { unit, staff_id } => (unit.to_string(), Some(staff_id.to_string())),
    };
    Todo {
        todo_id: todo_id(event, sip_id, n).to_string(),
        unit_id,
        staff_id,
        staff_name: o.owner_name.clone(),
        sip_id: sip_id.to_owned(),
        person_id: person_id.to_owned(),
        kind: kind_name(o.kind),
        reference: o.reference.clone().unwrap_or_default(),
        title: o.title.clone(),
        due_at: o.due_at.map(as_stored),
        shown_from: o.shown_from.map(as_stored),
        letter: o
            .letter
            .as_ref()
            .and_then(|l| serde_json::to_string(l).ok()),
        opened_at: event.recorded_at,
        opened_position: event.global_position,
        changed_position: event.global_position,
        ended_at: None,
        ended_position: None,
        ended_by: None,
    }
}
