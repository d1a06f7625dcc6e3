//! Read routes under load, each beside PostgreSQL answering the same SELECT, and live pushes.
//!
//! `cargo bench -p gateway --bench reads` fills a fresh database with a region's worth of plans
//! (`SAMPLAN_BENCH_EVENTS`, default 1,000,000 events: 100,000 plans over 300 units, two units
//! each, at different stages so that every unit has messages, to-dos and ongoing plans; 50,000
//! persons of three events), written through the store's own append, rebuilds every read model
//! from it, and starts the real `samplan serve` binary (the access log on, as always) on that
//! database. Then, for each read route in turn:
//!
//! - **wrk** (a process of its own, `apt-get install wrk`) at 64 connections
//!   (`SAMPLAN_BENCH_CONNECTIONS`) for `SAMPLAN_BENCH_SECONDS` (default 10), requests spread over
//!   the units, plans and persons;
//! - **pgbench** at as many clients, the same time, running the SELECT the route answers from
//!   (a script file per route: the same SQL as the read model's query, prepared; the unit, plan
//!   or person picked at random). The lists: their first page (the routes' default of 50 rows);
//!   inbox messages: the page and the unread count; Min plan: the person look-up and their
//!   plans; the others one SELECT.
//!
//! Printed per route: reads/s, p99, pgbench's transactions/s and p99, and the ratio (target
//! ≥ 0.3, p99 < 20 ms). `SAMPLAN_BENCH_ROUTES` picks routes by name (comma-separated).
//!
//! Last, live pushes: `SAMPLAN_BENCH_SSE_STREAMS` (default 1,000) open `GET /inbox/events`
//! streams spread over the units, while `POST /api/v1/sips` is sent at `SAMPLAN_BENCH_SSE_RATE`
//! (default 20) per second for the same seconds; each push's latency is from the command's HTTP
//! answer to the moment its `ongoing` event reached each stream of the unit. Target: p99 < 250 ms.
//! `SAMPLAN_BENCH_SSE_UNITS` (default: every unit) puts the streams and the commands on fewer
//! units, so that many colleagues of one unit watch it at once (250 streams on each of 4 units).
//!
//! Min plan (`GET /api/v1/me/plans` with citizen tokens, against the patient read model's person
//! look-up and plans) is measured when the route answers, left out otherwise.
//! Tokens are ES256, signed with a key pair made for the run, as an identity provider's are in
//! production (`SAMPLAN_BENCH_TOKENS=hs256` for the shared secret of the embedded default).
//! `SAMPLAN_BENCH_POOL_SIZE` sets the service's pool (default 16); `SAMPLAN_BENCH_HOLD_SECS`
//! keeps the service and its database up that long before the live pushes, for a look from
//! outside (EXPLAIN, perf). `SAMPLAN_BENCH_BIN` runs another build of `samplan` than this one
//! (to compare two builds on the same data).
//!
//! Database and NATS are those of `scripts/test` (`SAMPLAN_TEST_DATABASE_URL`,
//! `SAMPLAN_TEST_NATS_URL`).

#[path = "support/wrk.rs"]
mod wrk;
use wrk::{parse_wrk, WrkRun};

use bytes::Bytes;
use chrono::{Duration as Span, NaiveDate, TimeZone, Utc};
use domain::context::StaffRef;
use domain::heading::Heading;
use domain::ids::{PersonId, SipId, StaffId, UnitId};
use domain::person::{PersonEvent, RelativeKind};
use domain::personnummer::PersonalIdentityNumber;
use domain::sip::*;
use domain::unit::{Principal, PrincipalKind, UnitEvent};
use eventstore::testing::TestDatabase;
use eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StoreConfig};
use gateway::auth::{random_hex, Signer};
use gateway::testing::KeyKind;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use ulid::Ulid;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Units in the region.
const UNITS: u64 = 300;
/// Parallel writers while filling the store.
const WRITERS: u64 = 16;
/// The timestamp part of every plan's and every person's id: the rest is the plan's or
/// person's number, so that pgbench can name one from a random number.
const SIP_TS: u64 = 1_767_225_600_000;
const PERSON_TS: u64 = 1_767_225_600_001;
/// Crockford's base 32, as ULIDs print.
const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn knob(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(bench());
}

// ---- the region's data --------------------------------------------------------------------

fn unit_id(u: u64) -> String {
    format!("u{u}")
}

fn staff_id(u: u64) -> String {
    format!("SE2321000016-U{u}")
}

fn staff(u: u64) -> StaffRef {
    StaffRef {
        staff_id: StaffId::parse(&staff_id(u)).expect("staff"),
        name: format!("Personal {u}"),
        unit_id: UnitId::parse(&unit_id(u)).expect("unit"),
    }
}

fn sip(n: u64) -> SipId {
    SipId::from_ulid(Ulid::from_parts(SIP_TS, n.into()))
}

fn person(n: u64) -> PersonId {
    PersonId::from_ulid(Ulid::from_parts(PERSON_TS, n.into()))
}

/// The plan's units: its coordinator's, and another one.
fn plan_units(n: u64) -> (u64, u64) {
    let first = n % UNITS;
    (first, (first + 1 + (n / UNITS) % (UNITS - 1)) % UNITS)
}

fn metadata(u: u64) -> Metadata {
    Metadata {
        actor: staff_id(u),
        unit: Some(unit_id(u)),
        role: "staff".into(),
        command_id: None,
        correlation_id: None,
        causation_id: None,
    }
}

fn new_event(u: u64, encoded: (&'static str, i32, Value)) -> NewEvent {
    NewEvent {
        event_id: Ulid::generate(),
        event_type: encoded.0.into(),
        schema_version: encoded.1,
        data: encoded.2,
        metadata: metadata(u),
    }
}

/// A personnummer born 1940–1999 with a valid check digit, distinct per `n`.
fn personnummer(n: u64) -> PersonalIdentityNumber {
    let year = 1940 + (n / 900) % 60;
    let day = 1 + (n / 9) % 28;
    let month = 1 + (n / (900 * 60)) % 12;
    let serial = 100 + n % 900;
    let ten = format!("{:02}{month:02}{day:02}{serial:03}", year % 100);
    let sum: u32 = ten
        .chars()
        .filter_map(|c| c.to_digit(10))
        .enumerate()
        .map(|(i, d)| {
            let p = if i % 2 == 0 { d * 2 } else { d };
            p / 10 + p % 10
        })
        .sum();
    let text = format!(
        "{year}{month:02}{day:02}-{serial:03}{}",
        (10 - sum % 10) % 10
    );
    PersonalIdentityNumber::parse(&text, NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"))
        .expect("a valid personnummer")
}

fn unit_events(u: u64) -> Vec<NewEvent> {
    let at = Utc
        .with_ymd_and_hms(2025, 12, 1, 9, 0, 0)
        .single()
        .expect("time");
    let event = UnitEvent::UnitRegistered {
        id: UnitId::parse(&unit_id(u)).expect("unit"),
        name: format!("Enhet {u}"),
        principal: Principal {
            kind: if u % 2 == 0 {
                PrincipalKind::Region
            } else {
                PrincipalKind::Municipality
            },
            name: format!("Huvudman {}", u % 10),
        },
        uses_samplan: true,
        address: None,
        phone: None,
        registered_by: "admin".into(),
        registered_at: at,
    };
    vec![new_event(u, event.encode())]
}

fn person_events(n: u64) -> Vec<NewEvent> {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 2, 9, 0, 0)
        .single()
        .expect("time");
    let u = n % UNITS;
    let events = [
        PersonEvent::PersonRegistered {
            person_id: person(n),
            personal_identity_number: personnummer(n),
            name: format!("Bänk Person {n}"),
            phone: Some("070-123 45 67".into()),
            address: Some("Storgatan 1, 972 31 Luleå".into()),
            recorded_by: staff(u),
            recorded_at: at,
        },
        PersonEvent::RelativeAdded {
            relative_id: "r1".into(),
            kind: RelativeKind::Relative,
            name: "Anhörig".into(),
            phone: None,
            address: None,
            note: None,
            personal_identity_number: None,
            recorded_by: staff(u),
            recorded_at: at,
        },
        PersonEvent::ContactDetailsChanged {
            phone: Some("070-765 43 21".into()),
            address: Some("Storgatan 2, 972 31 Luleå".into()),
            recorded_by: staff(u),
            recorded_at: at,
        },
    ];
    events.iter().map(|e| new_event(u, e.encode())).collect()
}

/// Plan `n`'s events, as the domain writes them: every tenth waits for its plan basis, every
/// tenth has been mapped, every tenth has had its meeting, the rest have published a goal too.
fn plan_events(n: u64, persons: u64) -> Vec<NewEvent> {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("time")
        + Span::minutes((n % 5_000) as i64);
    let (a, b) = plan_units(n);
    let (vc, other) = (staff(a), staff(b));
    let ids = |u: u64| UnitId::parse(&unit_id(u)).expect("unit");
    let mut events = vec![
        SipEvent::NeedIdentified {
            sip_id: sip(n),
            person_id: person(n % persons),
            identified_by: IdentifiedBy::Staff,
            reason: "Behov av samordning mellan vård och omsorg.".into(),
            known_since: at,
            context: NeedContext {
                kind: CareContextKind::Outpatient,
                track: None,
                discharge_ready_at: None,
            },
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::ConsentGiven {
            given_by: ConsentGiver::Person,
            actors: vec![ids(a), ids(b)],
            topics: vec!["Boende".into()],
            valid_until: NaiveDate::from_ymd_opt(2027, 1, 5).expect("date"),
            guardians_required: vec![],
            relatives: None,
            recorded_by: vc.clone(),
            recorded_at: at,
        },
    ];
    if n % 10 == 0 {
        return events.iter().map(|e| new_event(a, e.encode())).collect();
    }
    events.extend([
        SipEvent::PlanBasisCreated {
            coordinator: vc.clone(),
            initiated_by: Some("Vårdcentralen".into()),
            fixed_care_contacts: vec![],
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::MappingDocumented {
            mapping_id: "m1".into(),
            heading: Heading::PhysicalHealth,
            text: "Går med rollator inomhus, behöver hjälp i trappor.".into(),
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::MappingDocumented {
            mapping_id: "m2".into(),
            heading: Heading::MentalHealth,
            text: "Oro på kvällarna; sover dåligt.".into(),
            recorded_by: vc.clone(),
            recorded_at: at,
        },
    ]);
    if n % 10 == 1 {
        return events.iter().map(|e| new_event(a, e.encode())).collect();
    }
    let meeting = at + Span::days(14);
    events.extend([
        SipEvent::InvitationSent {
            invitation_id: "k1".into(),
            purpose: InvitationPurpose::Meeting,
            scheduled_at: meeting,
            form: MeetingForm::InPerson,
            place: Some("Vårdcentralen, rum 4".into()),
            reason: "SIP-möte".into(),
            recipients: vec![InvitationRecipient {
                recipient: Recipient::Unit { unit_id: ids(b) },
                delivery: Delivery::Digital,
                name: format!("Enhet {b}"),
                address: None,
            }],
            recorded_by: vc.clone(),
            recorded_at: at,
        },
        SipEvent::RepresentativeAppointed {
            invitation_id: "k1".into(),
            unit_id: ids(b),
            representative: Representative {
                name: "Hugo Hemtjänst".into(),
                staff_id: None,
                profession: Some("Undersköterska".into()),
                phone: None,
            },
            recorded_by: other.clone(),
            recorded_at: at,
        },
    ]);
    if n % 10 == 2 {
        return events.iter().map(|e| new_event(a, e.encode())).collect();
    }
    events.extend([
        SipEvent::MeetingHeld {
            invitation_id: "k1".into(),
            held_at: meeting,
            attendees: vec![Attendee {
                name: "Hugo Hemtjänst".into(),
                role: AttendeeRole::Staff,
                unit_id: Some(ids(b)),
            }],
            chair: "Vera".into(),
            secretary: "Hugo".into(),
            coordinator: vc.clone(),
            follow_up_on: NaiveDate::from_ymd_opt(2026, 4, 5).expect("date"),
            sip_survey_offered: None,
            recorded_by: vc.clone(),
            recorded_at: meeting,
        },
        SipEvent::MainGoalDocumented {
            text: "Jag vill bo kvar hemma.".into(),
            recorded_by: vc.clone(),
            recorded_at: meeting,
        },
        SipEvent::ContributionPublished {
            unit_id: ids(a),
            main_goal: true,
            sub_goal_ids: vec![],
            intervention_ids: vec![],
            recorded_by: vc,
            recorded_at: meeting,
        },
    ]);
    events.iter().map(|e| new_event(a, e.encode())).collect()
}

/// Writes the units, persons and plans through the store's own append, from parallel writers
/// (group commit shares their transactions).
async fn fill(store: &EventStore, plans: u64, persons: u64) {
    for u in 0..UNITS {
        store
            .append(
                &UnitId::parse(&unit_id(u)).expect("unit").stream_id(),
                ExpectedVersion::NoStream,
                unit_events(u),
                None,
            )
            .await
            .expect("unit");
    }
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while i < persons {
                store
                    .append(
                        &person(i).stream_id(),
                        ExpectedVersion::NoStream,
                        person_events(i),
                        None,
                    )
                    .await
                    .expect("person");
                i += WRITERS;
            }
            let mut i = w;
            while i < plans {
                store
                    .append(
                        &sip(i).stream_id(),
                        ExpectedVersion::NoStream,
                        plan_events(i, persons),
                        None,
                    )
                    .await
                    .expect("plan");
                i += WRITERS;
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
}

async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

// ---- the service --------------------------------------------------------------------------

/// The `samplan` binary in a process of its own; stopped when dropped.
struct Service {
    child: Child,
    addr: std::net::SocketAddr,
    log: PathBuf,
}

impl Drop for Service {
    fn drop(&mut self) {
        // SIGTERM by pid, so it drains and leaves no connections behind.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Env {
    db: TestDatabase,
    tokens: Tokens,
    nats: String,
    id: String,
    dir: PathBuf,
}

/// How the service checks tokens and the benchmark signs them (`SAMPLAN_BENCH_TOKENS`): `es256`
/// (the default: a P-256 key pair, as an identity provider signs tokens in production, so each
/// signature check costs what it would there) or `hs256` (the shared secret of the embedded
/// default).
enum Tokens {
    Secret(String),
    KeyPair { private: String, public: String },
}

impl Tokens {
    fn from_env() -> Tokens {
        let wanted = std::env::var("SAMPLAN_BENCH_TOKENS").unwrap_or_else(|_| "es256".into());
        match wanted.as_str() {
            "hs256" => Tokens::Secret(random_hex(32).expect("secret")),
            "es256" => {
                let (private, public) = gateway::testing::key_pair(KeyKind::Es256);
                Tokens::KeyPair { private, public }
            }
            other => panic!("SAMPLAN_BENCH_TOKENS={other}: es256 or hs256"),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Tokens::Secret(_) => "HS256",
            Tokens::KeyPair { .. } => "ES256",
        }
    }

    /// The setting that gives the service its key: (variable, value).
    fn service_key(&self) -> (&'static str, &str) {
        match self {
            Tokens::Secret(secret) => ("SAMPLAN_JWT_SECRET", secret),
            Tokens::KeyPair { public, .. } => ("SAMPLAN_JWT_PUBLIC_KEY", public),
        }
    }

    fn signer(&self) -> Signer {
        match self {
            Tokens::Secret(secret) => Signer::hs256(secret, "samplan", "samplan"),
            Tokens::KeyPair { private, .. } => {
                Signer::private_key_pem(private, "samplan", "samplan").expect("the private key")
            }
        }
    }
}

async fn serve(env: &Env, pool_size: u64) -> Service {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let log = env.dir.join("samplan.log");
    let out = std::fs::File::create(&log).expect("log file");
    let (key_variable, key) = env.tokens.service_key();
    let bin = std::env::var("SAMPLAN_BENCH_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_samplan").to_owned());
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("SAMPLAN_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("SAMPLAN_DATABASE_URL", &env.db.app_url)
        .env("SAMPLAN_DATABASE_ADMIN_URL", &env.db.admin_url)
        .env("SAMPLAN_NATS_URL", &env.nats)
        .env(
            "SAMPLAN_NATS_DOORBELL_SUBJECT",
            format!("bench-reads.{}", env.id),
        )
        .env("SAMPLAN_NATS_STREAM", format!("BENCH_READS_{}", env.id))
        .env(
            "SAMPLAN_NATS_SUBJECT_PREFIX",
            format!("bench-reads-events.{}", env.id),
        )
        .env("SAMPLAN_NATS_STORAGE", "memory")
        .env(key_variable, key)
        .env("SAMPLAN_LISTEN", format!("127.0.0.1:{port}"))
        .env("SAMPLAN_DATA_DIR", env.dir.join("data"))
        .env("SAMPLAN_DB_POOL_SIZE", pool_size.to_string())
        .env("SAMPLAN_LOG", "warn")
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out);
    let child = cmd.spawn().expect("starting samplan");
    let mut service = Service {
        child,
        addr: ([127, 0, 0, 1], port).into(),
        log,
    };
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!(
                "samplan exited ({status}):\n{}",
                std::fs::read_to_string(&service.log).unwrap_or_default()
            );
        }
        if let Ok(r) = client
            .get(format!("http://{}/readyz", service.addr))
            .send()
            .await
        {
            if r.status() == 200 {
                return service;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "samplan not ready after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ---- the routes ---------------------------------------------------------------------------

/// One read route: how wrk asks for it and what pgbench runs instead.
struct Route {
    name: &'static str,
    /// Lua: the list of `{path, token index}` requests wrk cycles through.
    requests: Vec<(String, usize)>,
    /// The pgbench script.
    script: String,
}

/// A SQL expression for the 26-character id of a ULID with timestamp `ts` and random part the
/// pgbench variable `var` (< 2^20), from four variables `var_0`…`var_3` set by [`ulid_vars`].
fn ulid_sql(ts: u64, var: &str) -> String {
    let prefix = &Ulid::from_parts(ts, 0).to_string()[..22];
    let digit = |k: usize| format!("substr('{CROCKFORD}', (:{var}_{k})::int + 1, 1)");
    format!(
        "('{prefix}' || {} || {} || {} || {})",
        digit(0),
        digit(1),
        digit(2),
        digit(3)
    )
}

fn ulid_vars(var: &str) -> String {
    format!(
        "\\set {var}_0 (:{var} >> 15) & 31\n\\set {var}_1 (:{var} >> 10) & 31\n\
         \\set {var}_2 (:{var} >> 5) & 31\n\\set {var}_3 :{var} & 31\n"
    )
}

/// A list row's person as its unit may see them: columns of the row itself (migration 14).
fn person_ref(row: &str) -> String {
    format!("{row}.person_name, {row}.person_birth_year, {row}.person_protected")
}

fn routes(plans: u64, persons: u64, tokens_per_unit: usize) -> Vec<Route> {
    let unit_var = format!("\\set u random(0, {})\n", UNITS - 1);
    let unit = "('u' || (:u)::text)";
    let user = "('SE2321000016-U' || (:u)::text)";
    let per_unit = |path: &str| -> Vec<(String, usize)> {
        (0..UNITS as usize)
            .map(|u| (path.to_string(), u * tokens_per_unit))
            .collect()
    };
    let mut routes = vec![
        Route {
            name: "healthz",
            requests: vec![("/healthz".into(), 0)],
            // HTTP alone, for scale: no SELECT to compare with.
            script: String::new(),
        },
        Route {
            name: "inbox messages",
            requests: per_unit("/api/v1/inbox/messages"),
            script: format!(
                "{unit_var}SELECT m.message_id, m.kind, m.subject, m.body, m.sip_id, m.person_id,
       m.invitation_id, m.sender_unit_id, su.name, m.sender_name, m.sent_at, m.position,
       r.read_at, {person}
  FROM inbox.messages m
  LEFT JOIN inbox.units su ON su.unit_id = m.sender_unit_id
  LEFT JOIN inbox.message_reads r
         ON r.unit_id = m.unit_id AND r.message_id = m.message_id AND r.user_id = {user}
 WHERE m.unit_id = {unit}
 ORDER BY m.position DESC LIMIT 51;
SELECT coalesce((SELECT messages FROM inbox.message_counts WHERE unit_id = {unit}), 0)
     - coalesce((SELECT reads FROM inbox.read_counts
                  WHERE unit_id = {unit} AND user_id = {user}), 0);
",
                person = person_ref("m")
            ),
        },
        Route {
            name: "inbox todos",
            requests: per_unit("/api/v1/inbox/todos"),
            script: format!(
                "{unit_var}SELECT t.todo_id, t.kind, t.title, t.sip_id, t.person_id, t.unit_id,
       t.staff_id, t.due_at, t.letter, t.opened_at, t.changed_position, t.ended_at,
       t.ended_position, t.ended_by, {person}
  FROM inbox.todos t
 WHERE t.unit_id = {unit} AND t.ended_position IS NULL
   AND (t.staff_id IS NULL OR t.staff_id = {user})
 ORDER BY coalesce(t.due_at, 'infinity'::timestamptz), t.todo_id LIMIT 51;
",
                person = person_ref("t")
            ),
        },
        Route {
            name: "inbox ongoing",
            requests: per_unit("/api/v1/inbox/sips"),
            script: format!(
                "{unit_var}SELECT o.sip_id, o.person_id, o.phase, o.coordinator_id,
       o.coordinator_name, o.coordinator_unit_id, o.next_meeting_at, o.next_follow_up_on,
       o.owes_documentation, o.started_at, o.closed_at, o.changed_position, {person}
  FROM inbox.ongoing o
 WHERE o.unit_id = {unit} AND o.closed_at IS NULL
 ORDER BY o.closed_at IS NOT NULL, coalesce(o.next_meeting_at, 'infinity'::timestamptz),
          coalesce(o.next_follow_up_on, 'infinity'::date), o.started_at, o.sip_id
 LIMIT 51;
",
                person = person_ref("o")
            ),
        },
    ];
    // A plan as its coordinator's unit reads it; pgbench reads its row by primary key.
    let sample = 4_000.min(plans);
    let step = (plans / sample).max(1);
    routes.push(Route {
        name: "GET /sips/{id}",
        requests: (0..sample)
            .map(|k| {
                let n = (k * step + k % step.max(1)) % plans;
                (
                    format!("/api/v1/sips/{}", sip(n)),
                    plan_units(n).0 as usize * tokens_per_unit,
                )
            })
            .collect(),
        script: format!(
            "\\set s random(0, {})\n{}SELECT s.state, s.version, s.last_position, s.person_id,
       p.protected_identity, p.deceased_on, p.moved_out_on, p.version
  FROM inbox.plans s LEFT JOIN inbox.persons p ON p.person_id = s.person_id
 WHERE s.sip_id = {};
",
            plans - 1,
            ulid_vars("s"),
            ulid_sql(SIP_TS, "s")
        ),
    });
    // "Sök patient" by a name fragment, by staff of any unit.
    let sample = 2_000.min(persons);
    routes.push(Route {
        name: "person search",
        requests: (0..sample)
            .map(|k| {
                let n = if persons > 1_000 {
                    1_000 + (k * 7_919) % (persons - 1_000)
                } else {
                    k % persons
                };
                (
                    format!("/api/v1/persons?q=Person%20{n}"),
                    (k % UNITS) as usize * tokens_per_unit,
                )
            })
            .collect(),
        script: format!(
            "\\set n random(1000, {})\n{unit_var}SELECT p.person_id, p.personal_identity_number, p.name, p.phone, p.address,
       p.protected_identity, p.deceased_on, p.moved_out_on, p.moved_to_region,
       p.registered_at, p.version, p.last_position, p.protected_position,
       (NOT p.protected_identity OR EXISTS (
        SELECT 1 FROM participation.plan_units pu
         WHERE pu.person_id = p.person_id AND pu.unit_id = {unit}
           AND pu.since_position < coalesce(p.protected_position, 0)))
  FROM directory.persons p
 WHERE lower(p.name) LIKE ('%person ' || (:n)::text || '%')
   AND (NOT p.protected_identity OR EXISTS (
        SELECT 1 FROM participation.plan_units pu
         WHERE pu.person_id = p.person_id AND pu.unit_id = {unit}
           AND pu.since_position < coalesce(p.protected_position, 0)))
 ORDER BY p.name, p.person_id LIMIT 51;
",
            persons.max(1_001) - 1
        ),
    });
    routes
}

/// Min plan, when the route exists: a citizen reads their own plans.
fn me_route(persons: u64, citizen_base: usize, citizens: usize) -> Route {
    Route {
        name: "Min plan (GET /me/plans)",
        requests: (0..citizens)
            .map(|k| ("/api/v1/me/plans".to_string(), citizen_base + k))
            .collect(),
        script: format!(
            "\\set c random(0, {})\n{}SELECT p.person_id, p.personal_identity_number, p.name, p.phone, p.address,
       p.protected_identity,
       coalesce((SELECT array_agg(g.personal_identity_number ORDER BY g.relative_id)
                   FROM patient.guardians g WHERE g.person_id = p.person_id), '{{}}')
  FROM patient.persons p
 WHERE p.person_id IN (
       SELECT {id}
       UNION SELECT person_id FROM patient.persons WHERE personal_identity_number = {pin}
       UNION SELECT g.person_id FROM patient.guardians g
              WHERE g.personal_identity_number = {pin})
 ORDER BY p.person_id;
SELECT document, last_position FROM patient.plans
 WHERE person_id = ANY(ARRAY[{id}]) AND visible ORDER BY last_position DESC;
",
            citizens.min(persons as usize).max(1) - 1,
            ulid_vars("c"),
            id = ulid_sql(PERSON_TS, "c"),
            // The personnummer the token carries: looked up by the person's id, by key.
            pin = format!(
                "(SELECT personal_identity_number FROM patient.persons WHERE person_id = {})",
                ulid_sql(PERSON_TS, "c")
            ),
        ),
    }
}

// ---- load ---------------------------------------------------------------------------------

/// Reads per second and latency of one side of a comparison (wrk's or pgbench's).
type Rate = WrkRun;

/// wrk at `connections` over `route`'s requests; `None` when wrk is missing or unreadable.
fn wrk(
    service: &Service,
    dir: &Path,
    route: &Route,
    tokens: &[String],
    connections: u64,
    seconds: u64,
) -> Option<Rate> {
    let tokens_lua = tokens
        .iter()
        .map(|t| format!("\"{t}\""))
        .collect::<Vec<_>>()
        .join(",\n");
    let requests_lua = route
        .requests
        .iter()
        .map(|(path, token)| format!("{{\"{path}\", {}}}", token + 1))
        .collect::<Vec<_>>()
        .join(",\n");
    let script = format!(
        r#"local tokens = {{{tokens_lua}}}
local requests = {{{requests_lua}}}
local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end
local i = 0
function init(args)
  i = offset or 0
end
function request()
  i = i + 1
  local r = requests[(i % #requests) + 1]
  return wrk.format("GET", r[1], {{["Authorization"] = "Bearer " .. tokens[r[2]]}})
end
"#
    );
    let path = dir.join("route.lua");
    std::fs::write(&path, script).ok()?;
    let threads = connections.clamp(1, 2);
    let output = Command::new("wrk")
        .args([
            &format!("-t{threads}"),
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(&path)
        .arg(format!("http://{}", service.addr))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let rate = parse_wrk(&text, seconds);
    if rate.is_none() {
        eprintln!(
            "wrk's output could not be read:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    rate
}

/// pgbench at `clients` running `script` (prepared statements) for `seconds`; transactions/s
/// and latency percentiles from its per-transaction log.
fn pgbench(url: &str, dir: &Path, script: &str, clients: u64, seconds: u64) -> Option<Rate> {
    let path = dir.join("route.sql");
    std::fs::write(&path, script).ok()?;
    let logs = dir.join("pgbench-log");
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs).ok()?;
    let threads = clients.clamp(1, 2);
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            &format!("-c{clients}"),
            &format!("-j{threads}"),
            &format!("-T{seconds}"),
            "-l",
        ])
        .arg(format!("--log-prefix={}", logs.join("tx").display()))
        .arg("-f")
        .arg(&path)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let tps = text.lines().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("tps = ")
            .filter(|_| l.contains("without initial connection time"))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
    });
    let Some(tps) = tps else {
        eprintln!(
            "pgbench failed:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    };
    let failed = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("number of failed transactions: ")
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let mut latencies_us: Vec<u64> = Vec::new();
    for entry in std::fs::read_dir(&logs).ok()?.flatten() {
        let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
        latencies_us.extend(
            content
                .lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()),
        );
    }
    let _ = std::fs::remove_dir_all(&logs);
    latencies_us.sort_unstable();
    let pick = |p: f64| {
        latencies_us
            .get(((p / 100.0) * latencies_us.len().saturating_sub(1) as f64).round() as usize)
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    Some(Rate {
        per_second: tps,
        p50_ms: pick(50.0),
        p99_ms: pick(99.0),
        errors: failed,
    })
}

// ---- live pushes --------------------------------------------------------------------------

/// How the live pushes are measured: `streams` streams spread over `units` units, commands at
/// `rate` per second for `seconds`.
#[derive(Clone, Copy)]
struct PushLoad {
    streams: u64,
    units: u64,
    rate: u64,
    seconds: u64,
}

/// Opens `streams` live streams spread over the units and posts `IdentifyNeed` at `rate` per
/// second for `seconds`; returns each push's latency (ms) from the command's answer to its
/// `ongoing` event on each stream of the unit, and how many pushes were expected.
async fn push_latency(
    addr: std::net::SocketAddr,
    tokens: &[String],
    tokens_per_unit: usize,
    persons: u64,
    load: PushLoad,
) -> (Vec<f64>, usize, u64) {
    let PushLoad {
        streams,
        units,
        rate,
        seconds,
    } = load;
    // Each stream reports (unit, sip id, when its `ongoing` event arrived).
    let (arrivals_tx, mut arrivals_rx) =
        tokio::sync::mpsc::unbounded_channel::<(u64, String, Instant)>();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut readers = Vec::new();
    let mut streams_per_unit: HashMap<u64, u64> = HashMap::new();
    for k in 0..streams {
        let unit = k % units;
        *streams_per_unit.entry(unit).or_default() += 1;
        // Each stream its own token (a colleague at the unit), as browsers would have.
        let token = tokens
            [unit as usize * tokens_per_unit + (k / units) as usize % tokens_per_unit]
            .clone();
        let (arrivals, ready, stop) = (arrivals_tx.clone(), ready_tx.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let stream = loop {
                match tokio::net::TcpStream::connect(addr).await {
                    Ok(s) => break s,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            };
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let request = hyper::Request::get("/api/v1/inbox/events")
                .header(hyper::header::HOST, addr.to_string())
                .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
                .header(hyper::header::ACCEPT, "text/event-stream")
                .body(Full::new(Bytes::new()))
                .expect("request");
            let response = sender.send_request(request).await.expect("events");
            assert!(response.status().is_success(), "{}", response.status());
            let mut body = response.into_body();
            let mut buffer = String::new();
            loop {
                let frame = tokio::select! {
                    () = stop.cancelled() => return,
                    frame = body.frame() => frame,
                };
                let Some(Ok(frame)) = frame else { return };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&data));
                while let Some(end) = buffer.find("\n\n") {
                    let block: String = buffer.drain(..end + 2).collect();
                    let event = block
                        .lines()
                        .find_map(|l| l.strip_prefix("event:"))
                        .map(str::trim)
                        .unwrap_or("");
                    if event == "ready" {
                        let _ = ready.send(());
                    } else if event == "ongoing" {
                        let data: String = block
                            .lines()
                            .filter_map(|l| l.strip_prefix("data:"))
                            .map(str::trim_start)
                            .collect();
                        if let Ok(v) = serde_json::from_str::<Value>(&data) {
                            if let Some(sip) = v["sip_id"].as_str() {
                                let _ = arrivals.send((unit, sip.to_string(), at));
                            }
                        }
                    }
                }
            }
        }));
    }
    drop(arrivals_tx);
    drop(ready_tx);
    let open_started = Instant::now();
    let mut ready = 0;
    while ready < streams {
        match tokio::time::timeout(Duration::from_secs(60), ready_rx.recv()).await {
            Ok(Some(())) => ready += 1,
            _ => break,
        }
    }
    println!(
        "live pushes: {ready} of {streams} streams open in {:.1} s",
        open_started.elapsed().as_secs_f64()
    );
    // Post paced commands from a few connections, each as a unit's staff.
    let posters = 4u64;
    let interval = Duration::from_secs_f64(posters as f64 / rate.max(1) as f64);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for w in 0..posters {
        let tokens: Vec<String> = tokens.to_vec();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream))
                    .await
                    .expect("handshake");
            tokio::spawn(connection);
            let mut answered: Vec<(u64, String, Instant)> = Vec::new();
            let mut next = started + interval.mul_f64(w as f64 / posters as f64);
            let mut i = w;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                next += interval;
                let unit = (i * 37) % units;
                let body = json!({
                    "person_id": person((i * 101) % persons).to_string(),
                    "identified_by": "staff",
                    "reason": "Behov av samordning efter utskrivning.",
                    "context": { "kind": "outpatient" }
                });
                i += posters;
                let request = hyper::Request::post("/api/v1/sips")
                    .header(hyper::header::HOST, addr.to_string())
                    .header(
                        hyper::header::AUTHORIZATION,
                        format!("Bearer {}", tokens[unit as usize * tokens_per_unit]),
                    )
                    .header(hyper::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body.to_string())))
                    .expect("request");
                let Ok(response) = sender.send_request(request).await else {
                    break;
                };
                let ok = response.status().is_success();
                let Ok(body) = response.into_body().collect().await else {
                    break;
                };
                let at = Instant::now();
                if !ok {
                    eprintln!(
                        "command refused: {}",
                        String::from_utf8_lossy(&body.to_bytes())
                    );
                    continue;
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&body.to_bytes()) {
                    if let Some(id) = v["id"].as_str() {
                        answered.push((unit, id.to_string(), at));
                    }
                }
            }
            answered
        }));
    }
    let mut answered = Vec::new();
    for t in tasks {
        answered.extend(t.await.expect("poster"));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.cancel();
    for r in readers {
        let _ = r.await;
    }
    let mut arrived: HashMap<(u64, String), Vec<Instant>> = HashMap::new();
    while let Ok((unit, sip, at)) = arrivals_rx.try_recv() {
        arrived.entry((unit, sip)).or_default().push(at);
    }
    let mut lags = Vec::new();
    let mut expected = 0;
    for (unit, sip, at) in &answered {
        expected += streams_per_unit.get(unit).copied().unwrap_or(0) as usize;
        if let Some(times) = arrived.get(&(*unit, sip.clone())) {
            // The first `ongoing` event of the plan on each stream of the unit.
            let mut firsts: Vec<Instant> = times.clone();
            firsts.sort();
            firsts.truncate(streams_per_unit.get(unit).copied().unwrap_or(0) as usize);
            for t in firsts {
                lags.push(t.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
    }
    (lags, expected, answered.len() as u64)
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((p / 100.0) * (sorted.len() - 1) as f64).round() as usize]
}

// ---- the run ------------------------------------------------------------------------------

async fn bench() {
    let events = knob("SAMPLAN_BENCH_EVENTS", 1_000_000);
    let seconds = knob("SAMPLAN_BENCH_SECONDS", 10);
    let connections = knob("SAMPLAN_BENCH_CONNECTIONS", 64);
    let streams = knob("SAMPLAN_BENCH_SSE_STREAMS", 1_000);
    let sse_units = knob("SAMPLAN_BENCH_SSE_UNITS", UNITS).clamp(1, UNITS);
    let sse_rate = knob("SAMPLAN_BENCH_SSE_RATE", 20);
    let pool_size = knob("SAMPLAN_BENCH_POOL_SIZE", 16);
    let only: Option<Vec<String>> = std::env::var("SAMPLAN_BENCH_ROUTES")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_lowercase()).collect());
    let plans = (events / 10).max(UNITS);
    let persons = (plans / 2).max(1);
    assert!(plans < 1 << 20 && persons < 1 << 20, "ids carry 20 bits");
    // The ids pgbench computes are the ids the store holds.
    assert_eq!(
        sip(123_457).to_string(),
        format!("{}{}", &Ulid::from_parts(SIP_TS, 0).to_string()[..22], {
            let n = 123_457u64;
            [15, 10, 5, 0]
                .iter()
                .map(|s| CROCKFORD.as_bytes()[((n >> s) & 31) as usize] as char)
                .collect::<String>()
        })
    );
    for tool in ["wrk", "pgbench"] {
        if Command::new(tool).arg("--version").output().is_err() {
            println!("{tool} not found (apt-get install {tool}): the read benchmark needs it");
            return;
        }
    }

    let id = Ulid::generate().to_string().to_lowercase();
    let dir = std::env::temp_dir().join(format!("samplan-bench-reads-{id}"));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let env = Env {
        db: TestDatabase::create().await.expect("database"),
        tokens: Tokens::from_env(),
        nats: std::env::var("SAMPLAN_TEST_NATS_URL")
            .unwrap_or_else(|_| "nats://127.0.0.1:4222".into()),
        id,
        dir: dir.clone(),
    };
    println!(
        "read benchmark (database {}, {} tokens)",
        env.db.name,
        env.tokens.name()
    );
    eventstore::migrate(
        &env.db.admin_url,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await
    .expect("migrations");
    let mut config = StoreConfig::new(env.db.app_url.clone());
    config.pool_size_max = WRITERS as usize + 4;
    let store = EventStore::connect(config).await.expect("store");
    let started = Instant::now();
    fill(&store, plans, persons).await;
    let admin = connect(&env.db.admin_url).await;
    admin
        .batch_execute("VACUUM (ANALYZE) events")
        .await
        .expect("vacuum");
    let head = store.head_position().await.expect("head");
    println!(
        "filled {head} events ({plans} plans, {persons} persons, {UNITS} units) in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let settings = projections::Settings::new(domain::policy::PolicyProfile::get(
        domain::policy::PolicyName::Stockholm,
    ));
    for name in projections::PROJECTIONS {
        // A read model that cannot be rebuilt is left to the service's projector (and its
        // routes to fail the check below).
        if let Err(e) = projections::rebuild(&store, &env.db.admin_url, name, &settings).await {
            println!("rebuilding {name} failed: {e}");
        }
    }
    // The relay starts at the head: publishing the history is not what is measured.
    admin
        .execute(
            "INSERT INTO projections.checkpoints (projection, position) VALUES ('relay', $1)
             ON CONFLICT (projection) DO UPDATE SET position = excluded.position",
            &[&head],
        )
        .await
        .expect("relay checkpoint");
    admin.batch_execute("ANALYZE").await.expect("analyze");
    println!(
        "read models rebuilt in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    drop(store);

    let service = serve(&env, pool_size).await;
    // Staff tokens: a few colleagues per unit; then one citizen per person sampled.
    let tokens_per_unit = 4usize;
    let signer = env.tokens.signer();
    let now = Utc::now();
    let mut tokens: Vec<String> = Vec::new();
    for u in 0..UNITS {
        for c in 0..tokens_per_unit {
            let sub = if c == 0 {
                staff_id(u)
            } else {
                format!("{}-{c}", staff_id(u))
            };
            tokens.push(signer.sign(
                &sub,
                "staff",
                Some(&unit_id(u)),
                &format!("Personal {u}"),
                now,
                Span::hours(3),
            ));
        }
    }
    let citizen_base = tokens.len();
    let citizens = 2_000.min(persons as usize);
    for n in 0..citizens as u64 {
        tokens.push(signer.sign_citizen(
            &person(n).to_string(),
            Some(&personnummer(n).to_string()),
            &format!("Bänk Person {n}"),
            now,
            Span::hours(3),
        ));
    }
    let mut all = routes(plans, persons, tokens_per_unit);
    // Min plan, if this build has it.
    let probe = reqwest::Client::new()
        .get(format!("http://{}/api/v1/me/plans", service.addr))
        .bearer_auth(&tokens[citizen_base])
        .send()
        .await
        .expect("probe");
    if probe.status().is_success() {
        all.push(me_route(persons, citizen_base, citizens));
    } else {
        println!(
            "GET /api/v1/me/plans answered {}: Min plan left out",
            probe.status()
        );
    }
    // Every route answers before it is measured.
    let client = reqwest::Client::new();
    for route in &all {
        let (path, token) = &route.requests[0];
        let r = client
            .get(format!("http://{}{path}", service.addr))
            .bearer_auth(&tokens[*token])
            .send()
            .await
            .expect("request");
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert!(status.is_success(), "{}: {status} {body}", route.name);
        println!("{}: {path} answers {} bytes", route.name, body.len());
    }

    println!();
    println!(
        "| route | reads/s | p50 ms | p99 ms | errors | pgbench SELECT tx/s | p50 ms | p99 ms | ratio | target |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for route in &all {
        if let Some(only) = &only {
            if !only.iter().any(|o| route.name.to_lowercase().contains(o)) {
                continue;
            }
        }
        let http = wrk(&service, &dir, route, &tokens, connections, seconds);
        let sql = if route.script.is_empty() {
            None
        } else {
            pgbench(&env.db.app_url, &dir, &route.script, connections, seconds)
        };
        let cell = |r: &Option<Rate>| match r {
            Some(r) => format!("{:.0} | {:.2} | {:.2}", r.per_second, r.p50_ms, r.p99_ms),
            None => "– | – | –".into(),
        };
        let ratio = match (&http, &sql) {
            (Some(h), Some(s)) => format!("{:.2}", h.per_second / s.per_second),
            _ => "–".into(),
        };
        println!(
            "| {} | {} | {} | {} | {ratio} | {} |",
            route.name,
            cell(&http),
            http.map_or(0, |h| h.errors),
            cell(&sql),
            if route.name == "healthz" {
                ""
            } else {
                "≥ 0.3, p99 < 20 ms"
            }
        );
    }

    // Keeps the service and its database up for a look from outside (EXPLAIN, perf).
    let hold = knob("SAMPLAN_BENCH_HOLD_SECS", 0);
    if hold > 0 {
        println!(
            "holding for {hold} s: database {}, service {}",
            env.db.name, service.addr
        );
        tokio::time::sleep(Duration::from_secs(hold)).await;
    }
    if streams > 0 {
        let (lags, expected, commands) = push_latency(
            service.addr,
            &tokens,
            tokens_per_unit,
            persons,
            PushLoad {
                streams,
                units: sse_units,
                rate: sse_rate,
                seconds,
            },
        )
        .await;
        println!(
            "live pushes, {streams} streams on {sse_units} units, {commands} commands at {sse_rate}/s: {} of {expected} pushes arrived; latency from answer to event p50 {:.1} ms p99 {:.1} ms max {:.1} ms (target p99 < 250 ms)",
            lags.len(),
            percentile(&lags, 50.0),
            percentile(&lags, 99.0),
            percentile(&lags, 100.0),
        );
    }
    drop(service);
    if let Ok(js) = projections::relay::connect(&env.nats).await {
        let _ = js.delete_stream(format!("BENCH_READS_{}", env.id)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}
