//! The reporting read model: the facts follow-up statistics are counted from, per plan and per
//! unit, without personal data, and the one query that counts them ([`kpis`]) per month and per
//! region, municipality or unit. Tables in schema `reporting` (`migrations/0007_reporting.sql`);
//! `docs/kpis.md` defines every figure.
//!
//! A plan's row is `domain::reporting::plan_facts` of the plan as it stood after the event
//! applied, folded from its stream as the store held it at that event's position
//! (`EventStore::read_streams_until`), as the patient projection does: the projection keeps no
//! state of its own with drafts in it, and a rebuild folds exactly what the live run folded.
//! `plan_facts` counts only shared content, so no draft reaches these tables. Units come from
//! their own stream, with their principal (huvudman).
//!
//! The rows are a function of the events and the policy profile alone (deadlines come from the
//! profile): changing `SAMPLAN_POLICY` calls for `samplan rebuild --projection reporting`.
//! Whether a deadline has passed depends on the time of the question, so [`kpis`] takes `now`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use deadpool_postgres::Pool;
use domain::policy::PolicyProfile;
use domain::reporting::{month_of, plan_facts, PlanFacts};
use domain::sip::CloseReason;
use domain::unit::{PrincipalKind, UnitEvent};
use eventstore::{EventStore, RecordedEvent};

use crate::error::ProjectionError;
use crate::runner::{decode, Mode, Projection, Tx};

/// Name of this projection in `projections.checkpoints`.
pub const PROJECTION: &str = "reporting";

/// The tables, as migration 7 creates them (a test compares the two), for a rebuild.
const TABLES_SQL: &str = include_str!("tables.sql");

/// The reporting projection; it reads the plans' streams from `store` and judges deadlines by
/// `policy`.
#[derive(Clone)]
pub struct Reporting {
    store: EventStore,
    policy: PolicyProfile,
}

impl Reporting {
    pub fn new(store: EventStore, policy: PolicyProfile) -> Reporting {
        Reporting { store, policy }
    }
}

/// The version of the rules this read model's rows are written by: raise it with any change
/// that would write other rows for events already applied, and every projector rebuilds the
/// read model on its next start (ADR 0034). 2: a refusal of consent is judged as it stood at the
/// meeting's deadline, and a follow-up held before the first meeting does not count. 3: the
/// first invitation's time and deadline are kept (invitations in time), and a withdrawal of
/// consent standing at a deadline counts as a refusal. 4: on the red track the SIP-möte is due
/// before going home under every profile. 5: and so is its kallelse.
const RULES: u32 = 5;

impl Projection for Reporting {
    fn name(&self) -> &'static str {
        PROJECTION
    }

    fn schema(&self) -> &'static str {
        "reporting"
    }

    fn built_by(&self) -> String {
        format!("rules {RULES}; policy {}", self.policy.name)
    }

    fn tables_sql(&self) -> &'static str {
        TABLES_SQL
    }

    fn wants(&self, event: &RecordedEvent) -> bool {
        event.stream_id.starts_with("sip-") || event.stream_id.starts_with("unit-")
    }

    async fn apply(
        &self,
        tx: &Tx<'_>,
        event: &RecordedEvent,
        mode: Mode,
    ) -> Result<(), ProjectionError> {
        self.apply_all(tx, &[event], mode).await
    }

    /// Set-based: every unit registered in the batch in one statement; every plan touched in the
    /// batch folded once, as of its last event in the batch, and written with one statement per
    /// table (its unit and contribution rows replaced whole).
    async fn apply_all(
        &self,
        tx: &Tx<'_>,
        events: &[&RecordedEvent],
        _mode: Mode,
    ) -> Result<(), ProjectionError> {
        let mut units = UnitColumns::default();
        let mut last_of_plan: BTreeMap<&str, &RecordedEvent> = BTreeMap::new();
        for event in events {
            if event.stream_id.starts_with("sip-") {
                last_of_plan.insert(event.stream_id.as_str(), event);
            } else if event.stream_id.starts_with("unit-") {
                let UnitEvent::UnitRegistered {
                    id,
                    name,
                    principal,
                    ..
                } = decode(event, UnitEvent::decode_text)?;
                units.push(id.as_str(), name, principal.kind, principal.name);
            }
        }
        if !units.ids.is_empty() {
            tx.execute(
                "INSERT INTO units (unit_id, name, principal_kind, principal_name)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                 ON CONFLICT (unit_id) DO NOTHING",
                &[&units.ids, &units.names, &units.kinds, &units.principals],
            )
            .await?;
        }
        if last_of_plan.is_empty() {
            return Ok(());
        }
        let mut by_stream =
            crate::history::plan_histories(&self.store, events, &last_of_plan).await?;
        let mut plans = PlanColumns::default();
        let (mut unit_sips, mut unit_ids) = (Vec::new(), Vec::new());
        let mut contributions = ContributionColumns::default();
        let mut touched: Vec<String> = Vec::new();
        for (stream, last) in &last_of_plan {
            let history = by_stream.remove(stream).unwrap_or_default();
            let Some(facts) = plan_facts(&history, &self.policy) else {
                continue;
            };
            let sip_id = facts.sip_id.to_string();
            touched.push(sip_id.clone());
            for unit in &facts.units {
                unit_sips.push(sip_id.clone());
                unit_ids.push(unit.as_str().to_owned());
            }
            for c in &facts.contributions {
                contributions.sips.push(sip_id.clone());
                contributions.units.push(c.unit_id.as_str().to_owned());
                contributions.due_at.push(c.due_at);
                contributions.due_month.push(month_of(c.due_at));
                contributions.documented_at.push(c.documented_at);
            }
            plans.push(sip_id, &facts, last.stream_version);
        }
        if touched.is_empty() {
            return Ok(());
        }
        let p = &plans;
        tx.execute(
            "INSERT INTO plans (sip_id, started_month, consent_declined_at, consent_declined_month,
                    invited_month, working_days_to_invitation, meeting_held_at, meeting_month,
                    working_days_to_meeting, meeting_due_at, meeting_due_month,
                    follow_up_agreed_on, follow_up_due_at, follow_up_month, followed_up_on,
                    closed_at, closed_month, close_reason, version,
                    consent_declined_at_meeting_due, invited_at, invitation_due_at,
                    invitation_due_month, consent_declined_at_invitation_due)
             SELECT * FROM unnest($1::text[], $2::date[], $3::timestamptz[], $4::date[],
                    $5::date[], $6::bigint[], $7::timestamptz[], $8::date[], $9::bigint[],
                    $10::timestamptz[], $11::date[], $12::date[], $13::timestamptz[], $14::date[],
                    $15::date[], $16::timestamptz[], $17::date[], $18::text[], $19::bigint[],
                    $20::boolean[], $21::timestamptz[], $22::timestamptz[], $23::date[],
                    $24::boolean[])
             ON CONFLICT (sip_id) DO UPDATE SET started_month = excluded.started_month,
                    consent_declined_at = excluded.consent_declined_at,
                    consent_declined_month = excluded.consent_declined_month,
                    invited_month = excluded.invited_month,
                    working_days_to_invitation = excluded.working_days_to_invitation,
                    meeting_held_at = excluded.meeting_held_at,
                    meeting_month = excluded.meeting_month,
                    working_days_to_meeting = excluded.working_days_to_meeting,
                    meeting_due_at = excluded.meeting_due_at,
                    meeting_due_month = excluded.meeting_due_month,
                    follow_up_agreed_on = excluded.follow_up_agreed_on,
                    follow_up_due_at = excluded.follow_up_due_at,
                    follow_up_month = excluded.follow_up_month,
                    followed_up_on = excluded.followed_up_on,
                    closed_at = excluded.closed_at, closed_month = excluded.closed_month,
                    close_reason = excluded.close_reason, version = excluded.version,
                    consent_declined_at_meeting_due = excluded.consent_declined_at_meeting_due,
                    invited_at = excluded.invited_at,
                    invitation_due_at = excluded.invitation_due_at,
                    invitation_due_month = excluded.invitation_due_month,
                    consent_declined_at_invitation_due =
                        excluded.consent_declined_at_invitation_due",
            &[
                &p.sips,
                &p.started_month,
                &p.consent_declined_at,
                &p.consent_declined_month,
                &p.invited_month,
                &p.working_days_to_invitation,
                &p.meeting_held_at,
                &p.meeting_month,
                &p.working_days_to_meeting,
                &p.meeting_due_at,
                &p.meeting_due_month,
                &p.follow_up_agreed_on,
                &p.follow_up_due_at,
                &p.follow_up_month,
                &p.followed_up_on,
                &p.closed_at,
                &p.closed_month,
                &p.close_reason,
                &p.version,
                &p.consent_declined_at_meeting_due,
                &p.invited_at,
                &p.invitation_due_at,
                &p.invitation_due_month,
                &p.consent_declined_at_invitation_due,
            ],
        )
        .await?;
        // A plan's units and contributions only grow in practice, but replacing them whole keeps
        // the rows exactly what the facts say.
        tx.execute(
            "DELETE FROM plan_units WHERE sip_id = ANY($1::text[])",
            &[&touched],
        )
        .await?;
        tx.execute(
            "DELETE FROM contributions WHERE sip_id = ANY($1::text[])",
            &[&touched],
        )
        .await?;
        if !unit_sips.is_empty() {
            tx.execute(
                "INSERT INTO plan_units (sip_id, unit_id)
                 SELECT * FROM unnest($1::text[], $2::text[])",
                &[&unit_sips, &unit_ids],
            )
            .await?;
        }
        if !contributions.sips.is_empty() {
            let c = &contributions;
            tx.execute(
                "INSERT INTO contributions (sip_id, unit_id, due_at, due_month, documented_at)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::date[],
                        $5::timestamptz[])",
                &[&c.sips, &c.units, &c.due_at, &c.due_month, &c.documented_at],
            )
            .await?;
        }
        Ok(())
    }
}

/// Units registered in a batch, column by column.
#[derive(Default)]
struct UnitColumns {
    ids: Vec<String>,
    names: Vec<String>,
    kinds: Vec<String>,
    principals: Vec<String>,
}

impl UnitColumns {
    fn push(&mut self, id: &str, name: String, kind: PrincipalKind, principal: String) {
        self.ids.push(id.to_owned());
        self.names.push(name);
        self.kinds.push(principal_kind(kind).to_owned());
        self.principals.push(principal);
    }
}

fn principal_kind(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::Region => "region",
        PrincipalKind::Municipality => "municipality",
        PrincipalKind::External => "external",
    }
}

/// The stored name of a close reason (its JSON form, e.g. `goals_met`).
/// The policy profile the reporting rows were computed with, as their checkpoint records it
/// (`rules N; policy <name>`, ADR 0034): during the rebuild that follows a change of profile,
/// the rows are still the old profile's. `None` when not recorded.
pub async fn rows_policy(pool: &Pool) -> Result<Option<String>, ProjectionError> {
    Ok(crate::runner::rules_of(pool, PROJECTION)
        .await?
        .and_then(|rules| {
            rules
                .split("; ")
                .find_map(|part| part.strip_prefix("policy "))
                .map(str::to_owned)
        }))
}

pub fn close_reason(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::GoalsMet => "goals_met",
        CloseReason::NoLongerNeeded => "no_longer_needed",
        CloseReason::ConsentWithdrawn => "consent_withdrawn",
        CloseReason::ConsentDeclined => "consent_declined",
        CloseReason::ProtectedIdentity => "protected_identity",
        CloseReason::MovedOutOfRegion => "moved_out_of_region",
        CloseReason::Deceased => "deceased",
        CloseReason::ReplacedByNewPlan => "replaced_by_new_plan",
    }
}

/// Every close reason, in the order reports list them.
pub const CLOSE_REASONS: [CloseReason; 8] = [
    CloseReason::GoalsMet,
    CloseReason::NoLongerNeeded,
    CloseReason::ConsentWithdrawn,
    CloseReason::ConsentDeclined,
    CloseReason::ProtectedIdentity,
    CloseReason::MovedOutOfRegion,
    CloseReason::Deceased,
    CloseReason::ReplacedByNewPlan,
];

/// Plans of a batch, column by column, for one `unnest`.
#[derive(Default)]
struct PlanColumns {
    sips: Vec<String>,
    started_month: Vec<NaiveDate>,
    consent_declined_at: Vec<Option<DateTime<Utc>>>,
    consent_declined_month: Vec<Option<NaiveDate>>,
    invited_month: Vec<Option<NaiveDate>>,
    working_days_to_invitation: Vec<Option<i64>>,
    meeting_held_at: Vec<Option<DateTime<Utc>>>,
    meeting_month: Vec<Option<NaiveDate>>,
    working_days_to_meeting: Vec<Option<i64>>,
    meeting_due_at: Vec<Option<DateTime<Utc>>>,
    meeting_due_month: Vec<Option<NaiveDate>>,
    follow_up_agreed_on: Vec<Option<NaiveDate>>,
    follow_up_due_at: Vec<Option<DateTime<Utc>>>,
    follow_up_month: Vec<Option<NaiveDate>>,
    followed_up_on: Vec<Option<NaiveDate>>,
    closed_at: Vec<Option<DateTime<Utc>>>,
    closed_month: Vec<Option<NaiveDate>>,
    close_reason: Vec<Option<String>>,
    version: Vec<i64>,
    consent_declined_at_meeting_due: Vec<bool>,
    invited_at: Vec<Option<DateTime<Utc>>>,
    invitation_due_at: Vec<Option<DateTime<Utc>>>,
    invitation_due_month: Vec<Option<NaiveDate>>,
    consent_declined_at_invitation_due: Vec<bool>,
}

impl PlanColumns {
    fn push(&mut self, sip_id: String, f: &PlanFacts, version: i64) {
        self.sips.push(sip_id);
        self.started_month.push(month_of(f.started_at));
        self.consent_declined_at.push(f.consent_declined_at);
        self.consent_declined_month
            .push(f.consent_declined_at.map(month_of));
        self.invited_month.push(f.invited_at.map(month_of));
        self.working_days_to_invitation
            .push(f.working_days_to_invitation);
        self.meeting_held_at.push(f.meeting_held_at);
        self.meeting_month.push(f.meeting_held_at.map(month_of));
        self.working_days_to_meeting.push(f.working_days_to_meeting);
        self.meeting_due_at.push(f.meeting_due_at);
        self.meeting_due_month.push(f.meeting_due_at.map(month_of));
        self.follow_up_agreed_on.push(f.follow_up_agreed_on);
        self.follow_up_due_at.push(f.follow_up_due_at);
        self.follow_up_month
            .push(f.follow_up_agreed_on.map(first_of_month));
        self.followed_up_on.push(f.followed_up_on);
        self.closed_at.push(f.closed_at);
        self.closed_month.push(f.closed_at.map(month_of));
        self.close_reason
            .push(f.close_reason.map(|r| close_reason(r).to_owned()));
        self.version.push(version);
        self.consent_declined_at_meeting_due
            .push(f.consent_declined_at_meeting_due);
        self.invited_at.push(f.invited_at);
        self.invitation_due_at.push(f.invitation_due_at);
        self.invitation_due_month
            .push(f.invitation_due_at.map(month_of));
        self.consent_declined_at_invitation_due
            .push(f.consent_declined_at_invitation_due);
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// Contributions of a batch, column by column.
#[derive(Default)]
struct ContributionColumns {
    sips: Vec<String>,
    units: Vec<String>,
    due_at: Vec<DateTime<Utc>>,
    due_month: Vec<NaiveDate>,
    documented_at: Vec<Option<DateTime<Utc>>>,
}

// ---- the figures ------------------------------------------------------------------------------

/// What the figures are grouped by besides the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The principal (huvudman) of kind region of the units taking part.
    Region,
    /// The principal of kind municipality of the units taking part.
    Municipality,
    /// Each unit taking part.
    Unit,
}

impl GroupBy {
    /// The name in the query string.
    pub fn as_str(&self) -> &'static str {
        match self {
            GroupBy::Region => "region",
            GroupBy::Municipality => "municipality",
            GroupBy::Unit => "unit",
        }
    }
}

/// Working days over a set of plans: how many, the median and the 90th percentile
/// (`percentile_disc`: always one of the observed values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spread {
    pub count: i64,
    pub median: Option<i64>,
    pub p90: Option<i64>,
}

/// How many deadlines were judged, and how many were kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kept {
    pub counted: i64,
    pub in_time: i64,
}

/// The figures of one month and one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KpiRow {
    /// The first day of the Swedish calendar month.
    pub month: NaiveDate,
    /// The principal's name (region, municipality) or the unit's id.
    pub group_id: String,
    /// The principal's name or the unit's name.
    pub group_name: String,
    /// Grouped by unit, the unit's principal (huvudman): its region's or municipality's name,
    /// or an external actor's. `None` when grouped by region or municipality.
    pub group_principal: Option<String>,
    pub sips_started: i64,
    pub consent_declined: i64,
    pub working_days_to_invitation: Spread,
    pub working_days_to_meeting: Spread,
    pub invitations_in_time: Kept,
    pub meetings_in_time: Kept,
    pub documented_in_time: Kept,
    pub followed_up_in_time: Kept,
    /// Plans closed, per reason (every reason of [`CLOSE_REASONS`], zero included).
    pub closed: Vec<(CloseReason, i64)>,
}

/// The figures of every month from `from` to `to` (first days of months, both included) and
/// every group with at least one figure in the month, ordered by month and group; deadlines
/// judged as of `now`. `docs/kpis.md` defines each figure.
pub async fn kpis(
    pool: &Pool,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
    now: DateTime<Utc>,
) -> Result<Vec<KpiRow>, ProjectionError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(KPI_SQL).await?;
    let group_by = group_by.as_str();
    let rows = client.query(&stmt, &[&from, &to, &group_by, &now]).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let reasons: Vec<String> = r.get::<_, Option<Vec<String>>>(19).unwrap_or_default();
            KpiRow {
                month: r.get(0),
                group_id: r.get(1),
                group_name: r.get(2),
                group_principal: r.get(20),
                sips_started: r.get(3),
                consent_declined: r.get(4),
                working_days_to_invitation: Spread {
                    count: r.get(5),
                    median: r.get(6),
                    p90: r.get(7),
                },
                working_days_to_meeting: Spread {
                    count: r.get(8),
                    median: r.get(9),
                    p90: r.get(10),
                },
                meetings_in_time: Kept {
                    counted: r.get(11),
                    in_time: r.get(12),
                },
                documented_in_time: Kept {
                    counted: r.get(13),
                    in_time: r.get(14),
                },
                followed_up_in_time: Kept {
                    counted: r.get(15),
                    in_time: r.get(16),
                },
                invitations_in_time: Kept {
                    counted: r.get(17),
                    in_time: r.get(18),
                },
                closed: CLOSE_REASONS
                    .iter()
                    .map(|reason| {
                        let name = close_reason(*reason);
                        let n = reasons.iter().filter(|r| r.as_str() == name).count();
                        (*reason, n as i64)
                    })
                    .collect(),
            }
        })
        .collect())
}

/// Every figure as one row per plan (or contribution) and group, in the month it falls in, then
/// counted per month and group. Parameters: $1 first month, $2 last month, $3 `region`,
/// `municipality` or `unit`, $4 now. A plan counts once in each group of the units taking part
/// in it; a contribution only in its own unit's group.
const KPI_SQL: &str = "
WITH ug AS (
    SELECT unit_id,
           CASE WHEN $3::text = 'unit' THEN unit_id ELSE principal_name END AS group_id,
           CASE WHEN $3::text = 'unit' THEN name ELSE principal_name END AS group_name
      FROM reporting.units
     WHERE $3::text = 'unit' OR principal_kind = $3::text
),
pg AS (
    SELECT DISTINCT pu.sip_id, ug.group_id, ug.group_name
      FROM reporting.plan_units pu JOIN ug ON ug.unit_id = pu.unit_id
),
f (month, group_id, group_name, figure, days, in_time, reason) AS (
    SELECT p.started_month, pg.group_id, pg.group_name, 'started', NULL::bigint,
           NULL::boolean, NULL::text
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
    UNION ALL
    SELECT p.consent_declined_month, pg.group_id, pg.group_name, 'declined', NULL, NULL, NULL
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
     WHERE p.consent_declined_month IS NOT NULL
    UNION ALL
    SELECT p.invited_month, pg.group_id, pg.group_name, 'invitation',
           p.working_days_to_invitation, NULL, NULL
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
     WHERE p.invited_month IS NOT NULL
    UNION ALL
    SELECT p.meeting_month, pg.group_id, pg.group_name, 'meeting',
           p.working_days_to_meeting, NULL, NULL
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
     WHERE p.meeting_month IS NOT NULL
    UNION ALL
    -- A plan's first invitation and first meeting, each against its deadline by one rule:
    -- counted once done (whenever) or once the deadline passed while the plan was open and
    -- consent not refused.
    SELECT d.month, pg.group_id, pg.group_name, d.figure, NULL,
           coalesce(d.done_at <= d.due_at, false), NULL
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
     CROSS JOIN LATERAL (VALUES
            ('invitation_due', p.invitation_due_month, p.invitation_due_at, p.invited_at,
             p.consent_declined_at_invitation_due),
            ('meeting_due', p.meeting_due_month, p.meeting_due_at, p.meeting_held_at,
             p.consent_declined_at_meeting_due)
           ) AS d (figure, month, due_at, done_at, declined)
     WHERE d.due_at IS NOT NULL
       AND (d.done_at IS NOT NULL
            OR (d.due_at < $4::timestamptz
                AND (p.closed_at IS NULL OR p.closed_at > d.due_at)
                AND NOT d.declined))
    UNION ALL
    SELECT c.due_month, ug.group_id, ug.group_name, 'documentation', NULL,
           coalesce(c.documented_at <= c.due_at, false), NULL
      FROM reporting.contributions c
      JOIN ug ON ug.unit_id = c.unit_id
      JOIN reporting.plans p ON p.sip_id = c.sip_id
     WHERE c.documented_at IS NOT NULL
        OR (c.due_at < $4::timestamptz AND (p.closed_at IS NULL OR p.closed_at > c.due_at))
    UNION ALL
    SELECT p.follow_up_month, pg.group_id, pg.group_name, 'follow_up', NULL,
           coalesce(p.followed_up_on <= p.follow_up_agreed_on, false), NULL
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
     WHERE p.follow_up_due_at IS NOT NULL
       AND (p.followed_up_on IS NOT NULL
            OR (p.follow_up_due_at < $4::timestamptz
                AND (p.closed_at IS NULL OR p.closed_at > p.follow_up_due_at)))
    UNION ALL
    SELECT p.closed_month, pg.group_id, pg.group_name, 'closed', NULL, NULL, p.close_reason
      FROM reporting.plans p JOIN pg ON pg.sip_id = p.sip_id
     WHERE p.closed_month IS NOT NULL
)
SELECT month, group_id, group_name,
       count(*) FILTER (WHERE figure = 'started'),
       count(*) FILTER (WHERE figure = 'declined'),
       count(*) FILTER (WHERE figure = 'invitation'),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY days) FILTER (WHERE figure = 'invitation'),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY days) FILTER (WHERE figure = 'invitation'),
       count(*) FILTER (WHERE figure = 'meeting'),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY days) FILTER (WHERE figure = 'meeting'),
       percentile_disc(0.9) WITHIN GROUP (ORDER BY days) FILTER (WHERE figure = 'meeting'),
       count(*) FILTER (WHERE figure = 'meeting_due'),
       count(*) FILTER (WHERE figure = 'meeting_due' AND in_time),
       count(*) FILTER (WHERE figure = 'documentation'),
       count(*) FILTER (WHERE figure = 'documentation' AND in_time),
       count(*) FILTER (WHERE figure = 'follow_up'),
       count(*) FILTER (WHERE figure = 'follow_up' AND in_time),
       count(*) FILTER (WHERE figure = 'invitation_due'),
       count(*) FILTER (WHERE figure = 'invitation_due' AND in_time),
       array_agg(reason ORDER BY reason) FILTER (WHERE figure = 'closed'),
       (SELECT u.principal_name FROM reporting.units u
         WHERE $3::text = 'unit' AND u.unit_id = f.group_id)
  FROM f
 WHERE month BETWEEN $1::date AND $2::date
 GROUP BY month, group_id, group_name
 ORDER BY month, group_id";
