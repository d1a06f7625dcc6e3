//! The patient read model: each plan as the person reads it on Min plan (the 1177 mirror), and
//! what the access rules need to know of persons and their guardians. Tables in schema
//! `patient` (`migrations/0006_patient.sql`).
//!
//! A plan's row is `domain::sip::patient::patient_plan` of the plan as it stood after the event
//! applied: published content only, so no draft is ever stored here. The plan is folded from its
//! stream as the store held it at that event's position
//! (`EventStore::read_streams_until`), never from a table of its own, so the projection keeps
//! no state with drafts in it and a rebuild folds exactly what the live run folded.

use std::collections::BTreeMap;

use deadpool_postgres::Pool;
use domain::event::DomainEvent;
use domain::person::{PersonEvent, RelativeKind};
use domain::sip::patient::{patient_plan_of, PatientPlan};
use eventstore::{EventStore, RecordedEvent};
use tokio_postgres::types::ToSql;

use crate::error::ProjectionError;
use crate::runner::{decode, out_of_order, Mode, Projection, Tx};

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "patient";

const TABLES_SQL: &str = include_str!("tables.sql");

/// The patient projection; it reads the plans' streams from `store`.
#[derive(Clone)]
pub struct Patient {
    store: EventStore,
}

impl Patient {
    pub fn new(store: EventStore) -> Patient {
        Patient { store }
    }
}

/// The version of the rules this read model's rows are written by: raise it with any change
/// that would write other rows for events already applied, and every projector rebuilds the
/// read model on its next start (ADR 0034). 2: a unit named only in a draft is not among the
/// participants. 3: a meeting the person is not called to (the units' own) is not shown. 4: a
/// plan keeps which guardians consented to it (ADR 0050). 5: a plan whose consent is withdrawn
/// tells of no next follow-up. 6: a unit the consent no longer names is not among the
/// participants (ADR 0053). 7: a plan whose consent is withdrawn shows no meeting ahead, a
/// closed plan's reason is worded for the person, a person keeps their day of death, and a plan
/// when what the person reads last changed (`changed_at`). 8: a plan keeps the units its
/// consent leaves out (`left_out`), whose goals and interventions the person is told of as such.
const RULES: u32 = 8;

impl Projection for Patient {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "patient"
    }

    fn built_by(&self) -> String {
        format!("rules {RULES}")
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.stream_id.starts_with("sip-") || event.stream_id.starts_with("person-")
    }

    async fn apply(
        &self,
        tx: &Tx<'_>,
        event: &RecordedEvent,
        mode: Mode,
    ) -> Result<(), ProjectionError> {
        self.apply_all(tx, &[event], mode).await
    }

    async fn apply_all(
        &self,
        tx: &Tx<'_>,
        events: &[&RecordedEvent],
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        // Plans: each touched plan's document as of the last of its events in the batch.
        let mut last_of_plan: BTreeMap<&str, &RecordedEvent> = BTreeMap::new();
        for event in events {
            if event.stream_id.starts_with("sip-") {
                last_of_plan.insert(event.stream_id.as_str(), event);
            }
        }
        if !last_of_plan.is_empty() {
            let mut by_stream =
                crate::history::plan_histories(&self.store, events, &last_of_plan).await?;
            let mut rows = PlanRows::default();
            for (stream, last) in &last_of_plan {
                let history = by_stream.remove(stream).unwrap_or_default();
                if let Some(plan) = patient_plan_of(&history) {
                    rows.push(&plan, document_text(&plan, last)?, last);
                }
            }
            rows.write(tx).await?;
        }
        let mut writes: Writes = Vec::new();
        // Persons and their guardians, in event order.
        for event in events {
            let Some(person_id) = event.stream_id.strip_prefix("person-") else {
                continue;
            };
            let DomainEvent::Person(person_event) = decode(event, DomainEvent::decode_text)? else {
                continue;
            };
            let first = writes.len();
            // When the person's record last changed, by the clock a plan's changes use: the
            // FHIR Patient's part of the export's `lastUpdated` (a death, contact details).
            let at = person_event.recorded_at();
            person_writes(&mut writes, person_id, event, person_event);
            writes.push(Write::new(
                "UPDATE persons SET changed_at = $2 WHERE person_id = $1",
                vec![Box::new(person_id.to_owned()), Box::new(at)],
            ));
            for w in &mut writes[first..] {
                w.row = person_id.to_owned();
            }
        }
        // Each row's statements in order; different rows pipelined: one round trip per
        // statement of the busiest row, not per statement of the batch. (A join over all the
        // statements at once would not keep their order.)
        let mut by_row: BTreeMap<&str, Vec<&Write>> = BTreeMap::new();
        for w in &writes {
            by_row.entry(w.row.as_str()).or_default().push(w);
        }
        let counted = futures::future::try_join_all(by_row.into_values().map(|row| async move {
            let mut counts = Vec::with_capacity(row.len());
            for w in row {
                let params: Vec<&(dyn ToSql + Sync)> = w
                    .params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                counts.push((w, tx.execute(w.sql, &params).await?));
            }
            Ok::<_, tokio_postgres::Error>(counts)
        }))
        .await?;
        // A person row moves only from the version before the event's.
        for (w, count) in counted.into_iter().flatten() {
            if let Some(event) = w.moves_one.filter(|_| count != 1) {
                return Err(out_of_order(event));
            }
        }
        Ok(())
    }
}

fn document_text(plan: &PatientPlan, event: &RecordedEvent) -> Result<String, ProjectionError> {
    serde_json::to_string(plan).map_err(|e| ProjectionError::Decode {
        position: event.global_position,
        event_type: event.event_type.clone(),
        reason: e.to_string(),
    })
}

/// The touched plans' rows of a batch, one column each: written by one statement, however many
/// plans the batch touched (a plan has one row and at most one entry here, so order does not
/// matter between them).
#[derive(Default)]
struct PlanRows {
    sip_ids: Vec<String>,
    person_ids: Vec<String>,
    visible: Vec<bool>,
    documents: Vec<String>,
    versions: Vec<i64>,
    positions: Vec<i64>,
}

impl PlanRows {
    fn push(&mut self, plan: &PatientPlan, document: String, last: &RecordedEvent) {
        self.sip_ids.push(plan.sip_id.to_string());
        self.person_ids.push(plan.person_id.to_string());
        self.visible.push(plan.visible());
        self.documents.push(document);
        self.versions.push(last.stream_version);
        self.positions.push(last.global_position);
    }

    async fn write(&self, tx: &Tx<'_>) -> Result<(), tokio_postgres::Error> {
        if self.sip_ids.is_empty() {
            return Ok(());
        }
        tx.execute(
            "INSERT INTO plans (sip_id, person_id, visible, document, version, last_position)
             SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[], $4::text[],
                                  $5::bigint[], $6::bigint[])
             ON CONFLICT (sip_id) DO UPDATE SET person_id = excluded.person_id,
                visible = excluded.visible, document = excluded.document,
                version = excluded.version, last_position = excluded.last_position",
            &[
                &self.sip_ids,
                &self.person_ids,
                &self.visible,
                &self.documents,
                &self.versions,
                &self.positions,
            ],
        )
        .await?;
        Ok(())
    }
}

/// One statement of a batch about a person, and the event whose row it must move (exactly one
/// row), if any.
struct Write<'e> {
    sql: &'static str,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
    moves_one: Option<&'e RecordedEvent>,
    /// The person whose rows the statement writes: statements of one person run in
    /// order, those of different persons are pipelined.
    row: String,
}

impl<'e> Write<'e> {
    fn new(sql: &'static str, params: Vec<Box<dyn ToSql + Sync + Send>>) -> Write<'e> {
        Write {
            sql,
            params,
            moves_one: None,
            row: String::new(),
        }
    }
}

type Writes<'e> = Vec<Write<'e>>;

fn person_writes<'e>(
    writes: &mut Writes<'e>,
    person_id: &str,
    event: &'e RecordedEvent,
    ev: PersonEvent,
) {
    let id = person_id.to_owned();
    let bump = |sql: &'static str, mut more: Vec<Box<dyn ToSql + Sync + Send>>| {
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> =
            vec![Box::new(id.clone()), Box::new(event.stream_version)];
        params.append(&mut more);
        Write {
            sql,
            params,
            moves_one: Some(event),
            row: String::new(),
        }
    };
    match ev {
        PersonEvent::PersonRegistered {
            personal_identity_number,
            name,
            phone,
            address,
            ..
        } => writes.push(Write::new(
            "INSERT INTO persons (person_id, personal_identity_number, name, phone, address,
                    version)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (person_id) DO NOTHING",
            vec![
                Box::new(id.clone()),
                Box::new(personal_identity_number.as_str().to_owned()),
                Box::new(name),
                Box::new(phone),
                Box::new(address),
                Box::new(event.stream_version),
            ],
        )),
        PersonEvent::ContactDetailsChanged { phone, address, .. } => writes.push(bump(
            "UPDATE persons SET version = $2::bigint, phone = $3, address = $4
              WHERE person_id = $1 AND version = $2::bigint - 1",
            vec![Box::new(phone), Box::new(address)],
        )),
        PersonEvent::ProtectedIdentityMarked { .. } => writes.push(bump(
            "UPDATE persons SET version = $2::bigint, protected_identity = true
              WHERE person_id = $1 AND version = $2::bigint - 1",
            vec![],
        )),
        PersonEvent::RelativeAdded {
            relative_id,
            kind,
            name,
            personal_identity_number,
            ..
        } => {
            writes.push(bump(
                "UPDATE persons SET version = $2::bigint WHERE person_id = $1 AND version = $2::bigint - 1",
                vec![],
            ));
            if let (RelativeKind::Guardian, Some(pin)) = (kind, personal_identity_number) {
                writes.push(Write::new(
                    "INSERT INTO guardians (person_id, relative_id, personal_identity_number,
                            name)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (person_id, relative_id) DO NOTHING",
                    vec![
                        Box::new(id.clone()),
                        Box::new(relative_id),
                        Box::new(pin.as_str().to_owned()),
                        Box::new(name),
                    ],
                ));
            }
        }
        PersonEvent::RelativeRemoved { relative_id, .. } => {
            writes.push(bump(
                "UPDATE persons SET version = $2::bigint WHERE person_id = $1 AND version = $2::bigint - 1",
                vec![],
            ));
            writes.push(Write::new(
                "DELETE FROM guardians WHERE person_id = $1 AND relative_id = $2",
                vec![Box::new(id.clone()), Box::new(relative_id)],
            ));
        }
        PersonEvent::DeathRegistered { died_on, .. } => writes.push(bump(
            "UPDATE persons SET version = $2::bigint, died_on = $3
              WHERE person_id = $1 AND version = $2::bigint - 1",
            vec![Box::new(died_on)],
        )),
        PersonEvent::MovedOutOfRegion { .. } => writes.push(bump(
            "UPDATE persons SET version = $2::bigint WHERE person_id = $1 AND version = $2::bigint - 1",
            vec![],
        )),
    }
}

/// A person as Min plan knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub person_id: String,
    /// Canonical twelve digits.
    pub personal_identity_number: String,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub protected_identity: bool,
    /// The day of death, when one is registered.
    pub died_on: Option<chrono::NaiveDate>,
    /// When the person's own record last changed (their stream's latest event).
    pub changed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The personnummer recorded on the person's guardians.
    pub guardians: Vec<String>,
    /// The relative ids under which the reader's personnummer is recorded as a guardian of the
    /// person (usually one; none for the reader's own row): which consents to a plan are theirs.
    pub reader_guardian_ids: Vec<String>,
}

/// The persons a signed-in citizen may have a relation to: the one with id `person_id` or
/// personnummer `pin`, and the children whose guardian has personnummer `pin`.
pub async fn candidates(
    pool: &Pool,
    person_id: Option<&str>,
    pin: Option<&str>,
) -> Result<Vec<PersonRow>, ProjectionError> {
    let client = pool.get().await?;
    // Three look-ups by index, joined by key. Written as one WHERE with OR and a sub-select,
    // the planner could not combine the indexes and walked every person (6.7 ms against
    // 0.14 ms at 50 000 persons, generic plan).
    let stmt = client
        .prepare_cached(
            "SELECT p.person_id, p.personal_identity_number, p.name, p.phone, p.address,
                    p.protected_identity,
                    coalesce((SELECT array_agg(g.personal_identity_number ORDER BY g.relative_id)
                                FROM patient.guardians g WHERE g.person_id = p.person_id),
                             '{}'),
                    coalesce((SELECT array_agg(g.relative_id ORDER BY g.relative_id)
                                FROM patient.guardians g
                               WHERE g.person_id = p.person_id
                                 AND g.personal_identity_number = $2::text),
                             '{}'),
                    p.died_on, p.changed_at
               FROM patient.persons p
              WHERE p.person_id IN (
                    SELECT $1::text
                    UNION SELECT person_id FROM patient.persons
                           WHERE personal_identity_number = $2::text
                    UNION SELECT g.person_id FROM patient.guardians g
                           WHERE g.personal_identity_number = $2::text)
              ORDER BY p.person_id",
        )
        .await?;
    let rows = client.query(&stmt, &[&person_id, &pin]).await?;
    Ok(rows
        .iter()
        .map(|r| PersonRow {
            person_id: r.get(0),
            personal_identity_number: r.get(1),
            name: r.get(2),
            phone: r.get(3),
            address: r.get(4),
            protected_identity: r.get(5),
            guardians: r.get(6),
            reader_guardian_ids: r.get(7),
            died_on: r.get(8),
            changed_at: r.get(9),
        })
        .collect())
}

/// The visible plans of these persons, newest first.
pub async fn plans_of(
    pool: &Pool,
    person_ids: &[String],
) -> Result<Vec<PatientPlan>, ProjectionError> {
    let client = pool.get().await?;
    // The persons are `(SELECT $1)`, which the planner does not look into: given the array, it
    // finds a plan for its one or two persons cheaper than the generic plan and plans every read
    // again, which took longer than the read itself. Unseen, the generic plan (the same index
    // scan) is kept.
    let stmt = client
        .prepare_cached(
            "SELECT document, last_position FROM patient.plans
              WHERE person_id = ANY((SELECT $1::text[])::text[]) AND visible
              ORDER BY last_position DESC",
        )
        .await?;
    let rows = client.query(&stmt, &[&person_ids]).await?;
    rows.iter().map(plan_of_row).collect()
}

/// One plan, if it is visible to its person at all.
pub async fn plan(pool: &Pool, sip_id: &str) -> Result<Option<PatientPlan>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(
            "SELECT document, last_position FROM patient.plans WHERE sip_id = $1 AND visible",
        )
        .await?;
    let row = client.query_opt(&stmt, &[&sip_id]).await?;
    row.as_ref().map(plan_of_row).transpose()
}

fn plan_of_row(row: &tokio_postgres::Row) -> Result<PatientPlan, ProjectionError> {
    serde_json::from_str(row.get::<_, &str>(0)).map_err(|e| ProjectionError::Decode {
        position: row.get(1),
        event_type: "patient.plans.document".into(),
        reason: e.to_string(),
    })
}
