//! Which units take part in which person's plans, and since when: what the auditors' access
//! review (HSLF-FS 2016:40 4 kap. 9 §) compares every read with, to find reads of a person by a
//! unit without a care relation at the time. Tables in schema `participation`
//! (`migrations/0003_participation.sql`).
//!
//! A unit takes part from the first event that makes it a participant (`sip::units_joining`:
//! it recorded something, coordinates, was invited, attended, or is responsible for a goal or an
//! intervention), at that event's time; participation never ends, as in the plan itself.

use deadpool_postgres::Pool;
use domain::sip::SipEvent;
use eventstore::RecordedEvent;

use crate::error::ProjectionError;
use crate::runner::{decode, Mode, Projection, Tx};

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "participation";

/// The tables, as migration 3 creates them, for a rebuild. Names are unqualified.
const TABLES_SQL: &str = "
CREATE TABLE plans (
    sip_id    text PRIMARY KEY,
    person_id text NOT NULL
);
CREATE TABLE plan_units (
    sip_id         text        NOT NULL,
    unit_id        text        NOT NULL,
    person_id      text        NOT NULL,
    since          timestamptz NOT NULL,
    since_position bigint      NOT NULL,
    PRIMARY KEY (sip_id, unit_id)
);
CREATE INDEX plan_units_person_idx ON plan_units (person_id, unit_id, since);
";

/// The participation projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct Participation;

/// The version of the rules this read model's rows are written by: raise it with any change
/// that would write other rows for events already applied, and every projector rebuilds the
/// read model on its next start (ADR 0034).
const RULES: u32 = 1;

impl Projection for Participation {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "participation"
    }

    fn built_by(&self) -> String {
        format!("rules {RULES}")
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.stream_id.starts_with("sip-")
    }

    async fn apply(
        &self,
        tx: &Tx<'_>,
        event: &RecordedEvent,
        mode: Mode,
    ) -> Result<(), ProjectionError> {
        self.apply_all(tx, &[event], mode).await
    }

    /// Set-based: the plans and the units of a whole batch in two statements, rows in event
    /// order, the first time a unit joins a plan winning (`ON CONFLICT DO NOTHING` keeps what is
    /// there and what an earlier row of the same statement inserted).
    async fn apply_all(
        &self,
        tx: &Tx<'_>,
        events: &[&RecordedEvent],
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        let (mut plan_sips, mut plan_persons) = (Vec::new(), Vec::new());
        let (mut sips, mut units, mut since, mut positions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for event in events {
            let Some(sip_id) = event.stream_id.strip_prefix("sip-") else {
                continue;
            };
            let sip_event = decode(event, SipEvent::decode_text)?;
            if let SipEvent::NeedIdentified { person_id, .. } = &sip_event {
                plan_sips.push(sip_id.to_owned());
                plan_persons.push(person_id.to_string());
            }
            let (_, at) = sip_event.recorded();
            for unit in domain::sip::units_joining(&sip_event) {
                sips.push(sip_id.to_owned());
                units.push(unit.as_str().to_owned());
                since.push(at);
                positions.push(event.global_position);
            }
        }
        if !plan_sips.is_empty() {
            tx.execute(
                "INSERT INTO plans (sip_id, person_id)
                 SELECT * FROM unnest($1::text[], $2::text[])
                 ON CONFLICT (sip_id) DO NOTHING",
                &[&plan_sips, &plan_persons],
            )
            .await?;
        }
        if !sips.is_empty() {
            tx.execute(
                "INSERT INTO plan_units (sip_id, unit_id, person_id, since, since_position)
                 SELECT u.sip_id, u.unit_id, p.person_id, u.since, u.position
                   FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[])
                        WITH ORDINALITY AS u(sip_id, unit_id, since, position, ord)
                   JOIN plans p ON p.sip_id = u.sip_id
                  ORDER BY u.ord
                 ON CONFLICT (sip_id, unit_id) DO NOTHING",
                &[&sips, &units, &since, &positions],
            )
            .await?;
        }
        Ok(())
    }
}

/// Every plan of `person_id`, oldest first.
pub async fn plans_of_person(pool: &Pool, person_id: &str) -> Result<Vec<String>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT sip_id FROM participation.plans WHERE person_id = $1 ORDER BY sip_id",
            &[&person_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The plans of `person_id` that `unit` has taken part in, oldest first.
pub async fn plans_of_person_with_unit(
    pool: &Pool,
    person_id: &str,
    unit_id: &str,
) -> Result<Vec<String>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT sip_id FROM participation.plan_units
              WHERE person_id = $1 AND unit_id = $2 ORDER BY since_position",
            &[&person_id, &unit_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The units that took part in a plan of `person_id` at `at`.
pub async fn units_of_person_at(
    pool: &Pool,
    person_id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<String>, ProjectionError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT DISTINCT unit_id FROM participation.plan_units
              WHERE person_id = $1 AND since <= $2 ORDER BY unit_id",
            &[&person_id, &at],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
