//! The directory read model: persons (with relatives) and units, as "Sök patient", the person
//! card and the unit list need them. Tables in schema `directory`, see
//! `migrations/0001_directory.sql`.
//!
//! [`Directory`] is a [`Projection`] on the runner (`crate::runner`), which follows the store and
//! applies `person-*` and `unit-*` events here in commit order, exactly once. Each row also
//! carries its stream's version, and an event is applied only onto the version before it: an
//! event applied twice or out of order stops the projection instead of silently corrupting the
//! rows.
//!
//! The rows are a function of the events alone (no clock, no random ids), so `runner::rebuild`
//! gives the same tables as the live run.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use domain::person::{PersonEvent, RelativeKind};
use domain::unit::{PrincipalKind, UnitEvent};
use eventstore::RecordedEvent;
use serde::Serialize;
use tokio_postgres::types::ToSql;

use crate::error::ProjectionError;
use crate::runner::{decode, out_of_order, Mode, Projection, Tx};

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "directory";

/// The directory's tables, as migration 1 creates them (a test compares the two), for a rebuild.
/// Names are unqualified: the runner sets the schema.
const TABLES_SQL: &str = "
CREATE TABLE persons (
    person_id                text        PRIMARY KEY,
    personal_identity_number text        NOT NULL,
    name                     text        NOT NULL,
    phone                    text,
    address                  text,
    protected_identity       boolean     NOT NULL DEFAULT false,
    deceased_on              date,
    moved_out_on             date,
    moved_to_region          text,
    registered_at            timestamptz NOT NULL,
    version                  bigint      NOT NULL,
    last_position            bigint      NOT NULL,
    protected_position       bigint,
    name_folded              text        NOT NULL
);
CREATE INDEX persons_pin_idx ON persons (personal_identity_number);
CREATE INDEX persons_name_folded_trgm_idx ON persons USING gin (name_folded public.gin_trgm_ops);
CREATE TABLE relatives (
    person_id   text NOT NULL REFERENCES persons (person_id),
    relative_id text NOT NULL,
    kind        text NOT NULL,
    name        text NOT NULL,
    phone       text,
    address     text,
    note        text,
    personal_identity_number text,
    PRIMARY KEY (person_id, relative_id)
);
CREATE INDEX relatives_pin_idx ON relatives (personal_identity_number)
    WHERE personal_identity_number IS NOT NULL;
CREATE TABLE units (
    unit_id        text        PRIMARY KEY,
    name           text        NOT NULL,
    principal_kind text        NOT NULL,
    principal_name text        NOT NULL,
    uses_samplan   boolean     NOT NULL,
    address        text,
    phone          text,
    registered_at  timestamptz NOT NULL,
    version        bigint      NOT NULL,
    last_position  bigint      NOT NULL
);
";

/// A person as the directory knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRow {
    pub person_id: String,
    /// Canonical twelve digits `YYYYMMDDNNNC`.
    pub personal_identity_number: String,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// Skyddade personuppgifter.
    pub protected_identity: bool,
    pub deceased_on: Option<NaiveDate>,
    pub moved_out_on: Option<NaiveDate>,
    pub moved_to_region: Option<String>,
    pub registered_at: DateTime<Utc>,
    /// The person stream's version this row reflects.
    pub version: i64,
    /// Global position of the last event applied to this row.
    pub last_position: i64,
    /// Where protected identity was marked.
    pub protected_position: Option<i64>,
    /// Whether the reading unit may see the name: always, unless the person has protected
    /// identity and the unit took part in none of their plans before it was marked.
    pub name_visible: bool,
}

/// A relative, god man, förvaltare or guardian of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RelativeRow {
    pub relative_id: String,
    /// `relative`, `trustee`, `administrator` or `guardian`.
    pub kind: String,
    pub name: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub note: Option<String>,
    /// The relative's own personnummer (canonical), when recorded and the viewer may see it.
    pub personal_identity_number: Option<String>,
    /// The relative is a registered person with protected identity: their phone, address and note
    /// are withheld (`None`), and their name and personnummer too where the viewer's unit may not
    /// see their name (`name_hidden`).
    pub protected_identity: bool,
    /// The name is [`HIDDEN_RELATIVE_NAME`] and the personnummer withheld.
    pub name_hidden: bool,
}

/// What a relative whose name the viewer may not see is called instead.
pub const HIDDEN_RELATIVE_NAME: &str = "Skyddade personuppgifter";

/// A unit as the directory knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitRow {
    pub unit_id: String,
    pub name: String,
    /// `region`, `municipality` or `external`.
    pub principal_kind: String,
    pub principal_name: String,
    pub uses_samplan: bool,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub version: i64,
    pub last_position: i64,
}

/// What "Sök patient" searches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PersonQuery {
    /// Exactly this personnummer, canonical twelve digits (parse the input first).
    PersonalIdentityNumber(String),
    /// A case-insensitive part of the name.
    Name(String),
}

/// The directory projection: persons with their relatives, and units.
#[derive(Debug, Clone, Copy, Default)]
pub struct Directory;

/// The version of the rules this read model's rows are written by: raise it with any change
/// that would write other rows for events already applied, and every projector rebuilds the
/// read model on its next start (ADR 0034).
/// 2: `name_folded`, the name lowercased by samplan (migration 22).
const RULES: u32 = 2;

impl Projection for Directory {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "directory"
    }

    fn built_by(&self) -> String {
        format!("rules {RULES}")
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        domain::ids::is_person_or_unit_stream(&event.stream_id)
    }

    async fn apply(
        &self,
        tx: &Tx<'_>,
        event: &RecordedEvent,
        mode: Mode,
    ) -> Result<(), ProjectionError> {
        self.apply_all(tx, &[event], mode).await
    }

    /// Every event becomes one or two statements; the statements of a whole batch are sent at
    /// once (pipelined, in order, on the transaction's connection) instead of one round trip
    /// each, and their row counts are checked when all have answered. This is what makes a
    /// rebuild fast; a failed check rolls the batch back as before.
    async fn apply_all(
        &self,
        tx: &Tx<'_>,
        events: &[&RecordedEvent],
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        let mut steps: Vec<Step> = Vec::new();
        for event in events {
            if let Some(person_id) = event.stream_id.strip_prefix("person-") {
                person_steps(
                    &mut steps,
                    person_id,
                    event,
                    decode(event, PersonEvent::decode_text)?,
                );
            } else if let Some(unit_id) = event.stream_id.strip_prefix("unit-") {
                unit_steps(
                    &mut steps,
                    unit_id,
                    event,
                    decode(event, UnitEvent::decode_text)?,
                );
            }
        }
        // Each step's statement (prepared once per connection), then every step sent.
        let mut prepared = Vec::with_capacity(steps.len());
        for step in &steps {
            prepared.push(tx.prepared(step.sql).await?);
        }
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = steps
            .iter()
            .map(|step| {
                step.params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                    .collect()
            })
            .collect();
        let sends = prepared
            .iter()
            .zip(&params)
            .map(|(statement, params)| tx.transaction().execute(statement, params));
        let counts = futures::future::try_join_all(sends).await?;
        for (step, count) in steps.iter().zip(counts) {
            if step.expect_one && count != 1 {
                return Err(out_of_order(step.event));
            }
        }
        Ok(())
    }
}

/// One statement of the directory's apply step, with its parameters, and whether it must change
/// exactly one row (an event applied onto the version before it).
struct Step<'e> {
    sql: &'static str,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
    expect_one: bool,
    event: &'e RecordedEvent,
}

fn step<'e>(
    event: &'e RecordedEvent,
    sql: &'static str,
    expect_one: bool,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
) -> Step<'e> {
    Step {
        sql,
        params,
        expect_one,
        event,
    }
}

fn relative_kind(kind: RelativeKind) -> &'static str {
    match kind {
        RelativeKind::Relative => "relative",
        RelativeKind::Trustee => "trustee",
        RelativeKind::Administrator => "administrator",
        RelativeKind::Guardian => "guardian",
    }
}

fn principal_kind(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Region => "region",
        PrincipalKind::Municipality => "municipality",
        PrincipalKind::External => "external",
    }
}

/// Moves a person row to the event's version (`$1`, position `$2`, person `$3`), only from the
/// version before it, and sets what the event changes (from `$4` on).
const BUMP: &str = "UPDATE persons SET version = $1::bigint, last_position = $2::bigint
     WHERE person_id = $3 AND version = $1::bigint - 1";
const BUMP_CONTACT: &str = "UPDATE persons SET version = $1::bigint, last_position = $2::bigint,
         phone = $4, address = $5
     WHERE person_id = $3 AND version = $1::bigint - 1";
const BUMP_PROTECTED: &str = "UPDATE persons SET version = $1::bigint, last_position = $2::bigint,
         protected_identity = true, protected_position = coalesce(protected_position, $2::bigint)
     WHERE person_id = $3 AND version = $1::bigint - 1";
const BUMP_DEATH: &str =
    "UPDATE persons SET version = $1::bigint, last_position = $2::bigint, deceased_on = $4
     WHERE person_id = $3 AND version = $1::bigint - 1";
const BUMP_MOVED: &str = "UPDATE persons SET version = $1::bigint, last_position = $2::bigint,
         moved_out_on = $4, moved_to_region = $5
     WHERE person_id = $3 AND version = $1::bigint - 1";
const INSERT_PERSON: &str = "INSERT INTO persons (person_id, personal_identity_number, name,
         phone, address, registered_at, version, last_position, name_folded)
     SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::bigint,
            $8::bigint, $9::text
      WHERE $7::bigint = 1
     ON CONFLICT (person_id) DO NOTHING";
const INSERT_RELATIVE: &str = "INSERT INTO relatives (person_id, relative_id, kind, name, phone,
         address, note, personal_identity_number)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const DELETE_RELATIVE: &str = "DELETE FROM relatives WHERE person_id = $1 AND relative_id = $2";
const INSERT_UNIT: &str = "INSERT INTO units (unit_id, name, principal_kind, principal_name,
         uses_samplan, address, phone, registered_at, version, last_position)
     SELECT $1::text, $2::text, $3::text, $4::text, $5::boolean, $6::text, $7::text,
            $8::timestamptz, $9::bigint, $10::bigint
      WHERE $9::bigint = 1
     ON CONFLICT (unit_id) DO NOTHING";

fn person_steps<'e>(
    steps: &mut Vec<Step<'e>>,
    person_id: &str,
    event: &'e RecordedEvent,
    person_event: PersonEvent,
) {
    let id = person_id.to_owned();
    let bump = |sql: &'static str, mut more: Vec<Box<dyn ToSql + Sync + Send>>| {
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![
            Box::new(event.stream_version),
            Box::new(event.global_position),
            Box::new(id.clone()),
        ];
        params.append(&mut more);
        step(event, sql, true, params)
    };
    match person_event {
        PersonEvent::PersonRegistered {
            personal_identity_number,
            name,
            phone,
            address,
            recorded_at,
            ..
        } => steps.push(step(
            event,
            INSERT_PERSON,
            true,
            vec![
                Box::new(id.clone()),
                Box::new(personal_identity_number.as_str().to_owned()),
                Box::new(name.clone()),
                Box::new(phone),
                Box::new(address),
                Box::new(recorded_at),
                Box::new(event.stream_version),
                Box::new(event.global_position),
                Box::new(fold_name(&name)),
            ],
        )),
        PersonEvent::ContactDetailsChanged { phone, address, .. } => {
            steps.push(bump(BUMP_CONTACT, vec![Box::new(phone), Box::new(address)]));
        }
        PersonEvent::RelativeAdded {
            relative_id,
            kind,
            name,
            phone,
            address,
            note,
            personal_identity_number,
            ..
        } => {
            steps.push(bump(BUMP, vec![]));
            steps.push(step(
                event,
                INSERT_RELATIVE,
                false,
                vec![
                    Box::new(id.clone()),
                    Box::new(relative_id),
                    Box::new(relative_kind(kind)),
                    Box::new(name),
                    Box::new(phone),
                    Box::new(address),
                    Box::new(note),
                    Box::new(personal_identity_number.map(|p| p.as_str().to_owned())),
                ],
            ));
        }
        PersonEvent::RelativeRemoved { relative_id, .. } => {
            steps.push(bump(BUMP, vec![]));
            steps.push(step(
                event,
                DELETE_RELATIVE,
                false,
                vec![Box::new(id.clone()), Box::new(relative_id)],
            ));
        }
        PersonEvent::ProtectedIdentityMarked { .. } => steps.push(bump(BUMP_PROTECTED, vec![])),
        PersonEvent::DeathRegistered { died_on, .. } => {
            steps.push(bump(BUMP_DEATH, vec![Box::new(died_on)]));
        }
        PersonEvent::MovedOutOfRegion {
            moved_on,
            to_region,
            ..
        } => steps.push(bump(
            BUMP_MOVED,
            vec![Box::new(moved_on), Box::new(to_region)],
        )),
    }
}

fn unit_steps<'e>(
    steps: &mut Vec<Step<'e>>,
    unit_id: &str,
    event: &'e RecordedEvent,
    unit_event: UnitEvent,
) {
    match unit_event {
        UnitEvent::UnitRegistered {
            name,
            principal,
            uses_samplan,
            address,
            phone,
            registered_at,
            ..
        } => steps.push(step(
            event,
            INSERT_UNIT,
            true,
            vec![
                Box::new(unit_id.to_owned()),
                Box::new(name),
                Box::new(principal_kind(principal.kind)),
                Box::new(principal.name),
                Box::new(uses_samplan),
                Box::new(address),
                Box::new(phone),
                Box::new(registered_at),
                Box::new(event.stream_version),
                Box::new(event.global_position),
            ],
        )),
    }
}

const PERSON_COLUMNS: &str = "p.person_id, p.personal_identity_number, p.name, p.phone, \
     p.address, p.protected_identity, p.deceased_on, p.moved_out_on, p.moved_to_region, \
     p.registered_at, p.version, p.last_position, p.protected_position";

/// Whether the unit `$1` may see the name of person `p`: unless the person has protected
/// identity, always; otherwise only when the unit took part in one of their plans before it was
/// marked (participation is the participation read model's; a unit that joins later never sees
/// the name).
const NAME_VISIBLE: &str = "(NOT p.protected_identity OR EXISTS (
        SELECT 1 FROM participation.plan_units pu
         WHERE pu.person_id = p.person_id AND pu.unit_id = $1
           AND pu.since_position < coalesce(p.protected_position, 0)))";

fn person_row(r: &tokio_postgres::Row) -> PersonRow {
    PersonRow {
        person_id: r.get(0),
        personal_identity_number: r.get(1),
        name: r.get(2),
        phone: r.get(3),
        address: r.get(4),
        protected_identity: r.get(5),
        deceased_on: r.get(6),
        moved_out_on: r.get(7),
        moved_to_region: r.get(8),
        registered_at: r.get(9),
        version: r.get(10),
        last_position: r.get(11),
        protected_position: r.get(12),
        name_visible: r.get(13),
    }
}

/// Escapes `%`, `_` and `\` so user input matches literally inside a LIKE pattern.
fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A name as "Sök patient" compares it: lowercased by Unicode's rules here, not by the
/// database's locale (under the C locale PostgreSQL's `lower` leaves Å, Ä and Ö as they are).
fn fold_name(name: &str) -> String {
    name.to_lowercase()
}

/// Most words of a name query that each must match.
const NAME_WORDS_MAX: usize = 4;

/// Persons matching `query` as unit `viewer` may find them, by name then id, at most `limit`.
/// A person with protected identity is found by name only by a unit that may see the name; by
/// personnummer (which the searcher already knows) by anyone, without the name.
pub async fn search_persons(
    pool: &Pool,
    viewer: &str,
    query: &PersonQuery,
    limit: i64,
) -> Result<Vec<PersonRow>, ProjectionError> {
    let client = pool.get().await?;
    let rows = match query {
        PersonQuery::PersonalIdentityNumber(pin) => {
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {PERSON_COLUMNS}, {NAME_VISIBLE} FROM directory.persons p
                      WHERE p.personal_identity_number = $2
                      ORDER BY p.name, p.person_id LIMIT $3"
                ))
                .await?;
            client.query(&stmt, &[&viewer, pin, &limit]).await?
        }
        PersonQuery::Name(part) => {
            // Each word of the query somewhere in the name, in any order: "holm lars" finds
            // Lars Holm as staff type surnames first (at most four words, each its own LIKE
            // on the trigram index).
            let lowered = fold_name(part);
            let mut words: Vec<String> = lowered
                .split_whitespace()
                .take(NAME_WORDS_MAX)
                .map(|w| format!("%{}%", like_literal(w)))
                .collect();
            if words.is_empty() {
                words.push(format!("%{}%", like_literal(&lowered)));
            }
            let each: Vec<String> = (0..words.len())
                .map(|i| format!("p.name_folded LIKE ${}", i + 3))
                .collect();
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT {PERSON_COLUMNS}, {NAME_VISIBLE} FROM directory.persons p
                      WHERE {} AND {NAME_VISIBLE}
                      ORDER BY p.name, p.person_id LIMIT $2",
                    each.join(" AND ")
                ))
                .await?;
            let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&viewer, &limit];
            params.extend(
                words
                    .iter()
                    .map(|w| w as &(dyn tokio_postgres::types::ToSql + Sync)),
            );
            client.query(&stmt, &params).await?
        }
    };
    Ok(rows.iter().map(person_row).collect())
}

/// One person as unit `viewer` may see them, if the directory knows them.
pub async fn person(
    pool: &Pool,
    viewer: &str,
    person_id: &str,
) -> Result<Option<PersonRow>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {PERSON_COLUMNS}, {NAME_VISIBLE} FROM directory.persons p
              WHERE p.person_id = $2"
        ))
        .await?;
    let row = client.query_opt(&stmt, &[&viewer, &person_id]).await?;
    Ok(row.as_ref().map(person_row))
}

/// A person's relatives, god man, förvaltare and guardians, by kind then name, as `viewer` (a
/// unit) may see them. A relative is often a registered person too (a guardian, linked by their
/// personnummer): one with protected identity is shown as that person is — no phone, address or
/// note, and neither name nor personnummer to a unit that may not see their name — so the
/// relative record does not lead to them (REFERENCES.md, skyddade personuppgifter).
pub async fn relatives(
    pool: &Pool,
    viewer: &str,
    person_id: &str,
) -> Result<Vec<RelativeRow>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT r.relative_id, r.kind,
                    CASE WHEN v.visible THEN r.name ELSE '{HIDDEN_RELATIVE_NAME}' END,
                    CASE WHEN v.protected THEN NULL ELSE r.phone END,
                    CASE WHEN v.protected THEN NULL ELSE r.address END,
                    CASE WHEN v.protected THEN NULL ELSE r.note END,
                    CASE WHEN v.visible THEN r.personal_identity_number END,
                    v.protected, NOT v.visible
               FROM directory.relatives r
               LEFT JOIN directory.persons p
                 ON p.personal_identity_number = r.personal_identity_number
               CROSS JOIN LATERAL (
                 SELECT coalesce(p.protected_identity, false) AS protected,
                        (p.person_id IS NULL OR {NAME_VISIBLE}) AS visible) v
              WHERE r.person_id = $2
              ORDER BY r.kind, r.name, r.relative_id"
        ))
        .await?;
    let rows = client.query(&stmt, &[&viewer, &person_id]).await?;
    Ok(rows
        .iter()
        .map(|r| RelativeRow {
            relative_id: r.get(0),
            kind: r.get(1),
            name: r.get(2),
            phone: r.get(3),
            address: r.get(4),
            note: r.get(5),
            personal_identity_number: r.get(6),
            protected_identity: r.get(7),
            name_hidden: r.get(8),
        })
        .collect())
}

const UNIT_COLUMNS: &str = "unit_id, name, principal_kind, principal_name, uses_samplan, address, \
     phone, registered_at, version, last_position";

fn unit_row(r: &tokio_postgres::Row) -> UnitRow {
    UnitRow {
        unit_id: r.get(0),
        name: r.get(1),
        principal_kind: r.get(2),
        principal_name: r.get(3),
        uses_samplan: r.get(4),
        address: r.get(5),
        phone: r.get(6),
        registered_at: r.get(7),
        version: r.get(8),
        last_position: r.get(9),
    }
}

/// One unit, if the directory knows it.
pub async fn unit(pool: &Pool, unit_id: &str) -> Result<Option<UnitRow>, ProjectionError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {UNIT_COLUMNS} FROM directory.units WHERE unit_id = $1"),
            &[&unit_id],
        )
        .await?;
    Ok(row.as_ref().map(unit_row))
}

/// The units with these ids that the directory knows, in one statement.
pub async fn units_by_id(
    pool: &Pool,
    unit_ids: &[String],
) -> Result<Vec<UnitRow>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {UNIT_COLUMNS} FROM directory.units WHERE unit_id = ANY($1) ORDER BY unit_id"
        ))
        .await?;
    let rows = client.query(&stmt, &[&unit_ids]).await?;
    Ok(rows.iter().map(unit_row).collect())
}

/// Every unit, by principal then name.
pub async fn units(pool: &Pool) -> Result<Vec<UnitRow>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {UNIT_COLUMNS} FROM directory.units
                  ORDER BY principal_name, name, unit_id"
            ),
            &[],
        )
        .await?;
    Ok(rows.iter().map(unit_row).collect())
}
