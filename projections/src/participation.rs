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
use tokio_postgres::Transaction;

use crate::error::ProjectionError;
use crate::runner::{decode, Mode, Projection};

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

impl Projection for Participation {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "participation"
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.stream_id.starts_with("sip-")
    }

    async fn apply(
        &self,
        tx: &Transaction<'_>,
        event: &RecordedEvent,
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        let Some(sip_id) = event.stream_id.strip_prefix("sip-") else {
            return Ok(());
        };
        let sip_event = decode(event, SipEvent::decode)?;
        if let SipEvent::NeedIdentified { person_id, .. } = &sip_event {
            tx.execute(
                "INSERT INTO plans (sip_id, person_id) VALUES ($1, $2)
                 ON CONFLICT (sip_id) DO NOTHING",
                &[&sip_id, &person_id.to_string()],
            )
            .await?;
        }
        let units: Vec<String> = domain::sip::units_joining(&sip_event)
            .into_iter()
            .map(|u| u.as_str().to_owned())
            .collect();
        let (_, at) = sip_event.recorded();
        tx.execute(
            "INSERT INTO plan_units (sip_id, unit_id, person_id, since, since_position)
             SELECT $1, u, p.person_id, $3, $4
               FROM unnest($2::text[]) AS u, plans p
              WHERE p.sip_id = $1
             ON CONFLICT (sip_id, unit_id) DO NOTHING",
            &[&sip_id, &units, &at, &event.global_position],
        )
        .await?;
        Ok(())
    }
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
