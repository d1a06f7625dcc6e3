//! The inbox read model: what a unit's staff read every morning and afternoon (DESIGN.md, "Read
//! models"). Tables in schema `inbox` (`migrations/0004_inbox.sql`):
//!
//! - **Meddelanden** (`messages`, `message_reads`): one message per thing that arrived for a unit
//!   (`domain::sip::messages`), read or unread per user.
//! - **Att göra** (`todos`): exactly what `domain::obligations` returns after each event, the
//!   person's protected identity, death and moving out observed, with due times from the
//!   deployment's policy profile; a to-do ends (and keeps its row) when the event that settles
//!   it arrives.
//! - **Pågående SIP** (`ongoing`): every plan each unit takes part in.
//! - Each plan folded (`plans`): the snapshot `GET /sips/{id}` starts from.
//!
//! The three lists are one projection because they change together: a command that sends a
//! message opens or ends to-dos in the same transaction, so a unit never sees one without the
//! other, and one live push carries both. Every change to a unit's lists is stamped with the
//! global position of the event that made it; [`changes_since`] is what changed for a unit after
//! a position, which is how live pushes resume without a gap (ADR 0017). After a live batch
//! commits, the projection rings the gateways' doorbell on NATS ([`DOORBELL_SUBJECT`]); a
//! rebuild rings nothing.
//!
//! The rows are a function of the events and the policy profile alone. Changing
//! `SAMPLAN_POLICY` changes due times: rebuild the projection then (`samplan rebuild --projection
//! inbox`).

mod apply;
pub mod live;
mod queries;

use std::sync::{Arc, Mutex};

use domain::policy::PolicyProfile;
use eventstore::RecordedEvent;

use crate::error::ProjectionError;
use crate::runner::{Mode, Projection, Tx};

pub use queries::*;

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "inbox";

/// The NATS subject the projection rings after every live batch (a JSON [`Doorbell`]), unless
/// configured otherwise. Core NATS, not JetStream: a doorbell is worth nothing once rung.
pub const DOORBELL_SUBJECT: &str = "samplan.inbox.changed";

/// The tables, as migration 4 creates them (a test compares the two), for a rebuild.
const TABLES_SQL: &str = include_str!("tables.sql");

/// Which units' lists changed, and the position of each one's latest change. Gateways read what
/// changed from the tables ([`changes_since`]); the doorbell only says where to look.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Doorbell {
    pub units: Vec<UnitChanged>,
}

/// One unit whose lists changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitChanged {
    pub unit_id: String,
    pub position: i64,
}

/// The inbox projection.
#[derive(Clone)]
pub struct Inbox {
    policy: Arc<PolicyProfile>,
    nats: Option<(async_nats::Client, String)>,
    /// What the batch being applied changed, rung out once it commits.
    pending: Arc<Mutex<Vec<UnitChanged>>>,
}

impl Inbox {
    /// The inbox with due times from `policy`, ringing no doorbell (a rebuild, tests).
    pub fn new(policy: PolicyProfile) -> Inbox {
        Inbox {
            policy: Arc::new(policy),
            nats: None,
            pending: Arc::default(),
        }
    }

    /// Rings the doorbell on `nats`, subject `subject`, after every live batch.
    pub fn with_doorbell(mut self, nats: async_nats::Client, subject: impl Into<String>) -> Inbox {
        self.nats = Some((nats, subject.into()));
        self
    }
}

/// The version of the rules this read model's rows are written by: raise it with any change
/// that would write other rows for events already applied, and every projector rebuilds the
/// read model on its next start (ADR 0034). 2: the plans' snapshots keep `SipState::acting`;
/// 3: a reason in a message ends its sentence; 4: on Örebro's red track the kallelse is due from
/// the need, not the discharge-ready notice; 5: a child's consent needs every guardian
/// registered now (projections migration 20); 6: the unit that called the meeting owes its part
/// after handing the coordinator's role on; 7: a closed plan's row shows no meeting or follow-up
/// ahead; 8: a meeting given another place or form at the same time is not said to be moved;
/// 9: a plan closed, or to be closed, still owes the letters calling off its meetings; 10: a
/// documentation to-do kept by a sub-goal without intervention says so; 11: a to-do's id is a
/// ULID of its event, plan and place (one event's to-dos on several plans had one id); 12: on
/// the red track the SIP-möte is due before going home under every profile; 13: a guardian
/// registered or removed by another unit is told to the coordinator of the person's open plans;
/// 14: a unit the consent that speaks leaves out is owed no documentation and no representative,
/// nor told a meeting's new time; the red track's kallelse is due by the discharge, and a
/// red-track meeting booked after a discharge says to move it; 15: a plan the consent no longer
/// shares with a unit leaves its list, tells it so once and nothing more (ADR 0053); 16: a unit
/// named again by a consent is told so, every unit hears of a discharge registered or moved, and
/// a red-track meeting booked after the discharge says to hold it soon if the person has gone
/// home; 17: the coordinator hears when an invited unit names its representative, a kallelse
/// says its "Syfte", a red-track discharge before the booked meeting says so to everyone, and
/// Pågående SIP keeps a plan's discharge: its track, readiness and day home (migration 24), and
/// the ward hears when the fast vårdkontakt takes up the plan it started.
const RULES: u32 = 17;

impl Projection for Inbox {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "inbox"
    }

    fn built_by(&self) -> String {
        format!("rules {RULES}; policy {}", self.policy.name)
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        let s = event.stream_id.as_str();
        s.starts_with("sip-")
            || s.starts_with("person-")
            || s.starts_with("unit-")
            || s.starts_with("inbox-")
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
        mode: Mode,
    ) -> Result<(), ProjectionError> {
        let changed = apply::apply(tx, &self.policy, events).await?;
        if mode == Mode::Live && self.nats.is_some() {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            *pending = changed;
        }
        Ok(())
    }

    async fn committed(&self) {
        let Some((nats, subject)) = &self.nats else {
            return;
        };
        let units = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if units.is_empty() {
            return;
        }
        let payload = match serde_json::to_vec(&Doorbell { units }) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::warn!(error = %e, "inbox doorbell not encoded");
                return;
            }
        };
        // A doorbell lost (NATS away) delays a push until the gateway's next look at the
        // tables; it never loses a change, which the tables hold.
        if let Err(e) = nats.publish(subject.clone(), payload.into()).await {
            tracing::warn!(error = %e, "inbox doorbell not rung");
        }
    }
}
