//! The database's own guarantees: append-only for every role, least privilege for the app role,
//! and a hash chain that names exactly the event somebody altered.

mod common;

use common::*;
use eventstore::{BrokenLink, BrokenReason, CommandKey, ExpectedVersion, KeptSeal, SealProblem};
use serde_json::json;

/// Runs `sql` and returns the error's SQLSTATE and message, failing if it succeeded.
async fn refused(client: &tokio_postgres::Client, sql: &str) -> (String, String) {
    match client.batch_execute(sql).await {
        Ok(()) => panic!("{sql} was allowed"),
        Err(e) => {
            let db = e.as_db_error().expect("a server error");
            (db.code().code().to_owned(), db.message().to_owned())
        }
    }
}

#[tokio::test]
async fn events_cannot_be_changed_even_by_the_owner() {
    let env = env().await;
    env.store
        .append(
            "s",
            ExpectedVersion::NoStream,
            vec![some_event(1), some_event(2)],
            Some(CommandKey {
                command_id: "c-1".into(),
                request_hash: vec![1],
            }),
        )
        .await
        .expect("append");
    let owner = connect(&env.db.admin_url).await;
    for sql in [
        "UPDATE events SET payload = '{}' WHERE stream_version = 1",
        "DELETE FROM events WHERE stream_version = 2",
        "TRUNCATE events",
        "UPDATE commands SET result = '{}'",
        "TRUNCATE commands",
    ] {
        let (code, message) = refused(&owner, sql).await;
        assert_eq!(code, "SP002", "{sql}: {message}");
        assert!(message.contains("append-only"), "{message}");
    }
    assert_eq!(
        committed_positions(&owner).await.len(),
        2,
        "nothing changed"
    );
}

#[tokio::test]
async fn the_app_role_may_only_insert_and_select() {
    let env = env().await;
    env.store
        .append("s", ExpectedVersion::NoStream, vec![some_event(1)], None)
        .await
        .expect("the app role can append");
    assert_eq!(
        env.store.read_stream("s", 1).await.expect("and read").len(),
        1
    );

    let app = connect(&env.db.app_url).await;
    let who: String = app
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("q")
        .get(0);
    assert_eq!(who, "samplan_app");
    for sql in [
        "UPDATE events SET payload = '{}'",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE commands SET result = '{}'",
        "DELETE FROM commands",
        "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete",
        "DROP TABLE events",
    ] {
        let (code, message) = refused(&app, sql).await;
        // 42501 insufficient_privilege; 42501 also for "must be owner of table".
        assert_eq!(code, "42501", "{sql}: {message}");
    }
    let owner = connect(&env.db.admin_url).await;
    let privileges: Vec<(String, String)> = owner
        .query(
            "SELECT table_name::text, privilege_type::text FROM information_schema.role_table_grants \
             WHERE grantee = 'samplan_app' AND table_name IN ('events', 'commands') ORDER BY 1, 2",
            &[],
        )
        .await
        .expect("grants")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        privileges,
        vec![
            ("commands".into(), "INSERT".into()),
            ("commands".into(), "SELECT".into()),
            ("events".into(), "INSERT".into()),
            ("events".into(), "SELECT".into()),
        ]
    );
}

#[tokio::test]
async fn verify_names_exactly_the_altered_event() {
    let env = env().await;
    let s = &env.store;
    // Multi-event appends: the trigger chains rows of one INSERT to each other.
    for stream in ["a", "b", "c"] {
        s.append(
            stream,
            ExpectedVersion::NoStream,
            vec![some_event(1), some_event(2), some_event(3)],
            None,
        )
        .await
        .expect("append");
        s.append(stream, ExpectedVersion::Exact(3), vec![some_event(4)], None)
            .await
            .expect("append");
    }
    let report = s.verify().await.expect("verify");
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.streams_checked, 3);
    assert_eq!(report.events_checked, 12);

    let b2 = s.read_stream("b", 2).await.expect("read")[0].clone();
    let c2 = s.read_stream("c", 2).await.expect("read")[0].clone();
    let c3 = s.read_stream("c", 3).await.expect("read")[0].clone();
    // Only a superuser can switch the guard off; an attacker with that power is what the chain
    // is for.
    let superuser = connect(&env.db.admin_url).await;
    superuser
        .batch_execute(&format!(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             UPDATE events SET payload = jsonb_set(payload, '{{n}}', '99') WHERE event_id = '{}';
             DELETE FROM events WHERE event_id = '{}';
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;",
            b2.event_id, c2.event_id
        ))
        .await
        .expect("tamper");

    let report = s.verify().await.expect("verify");
    assert_eq!(
        report.broken,
        vec![
            BrokenLink {
                stream_id: "b".into(),
                stream_version: 2,
                event_id: b2.event_id.to_string(),
                reason: BrokenReason::HashMismatch,
            },
            BrokenLink {
                stream_id: "c".into(),
                stream_version: 3,
                event_id: c3.event_id.to_string(),
                reason: BrokenReason::VersionGap,
            },
        ]
    );
    assert_eq!(
        s.read_stream("b", 2).await.expect("read")[0]
            .data_as::<serde_json::Value>()
            .expect("payload"),
        json!({ "n": 99, "text": "anteckning" })
    );
}

/// A stream's chain cannot show its newest event removed, nor a whole stream: nothing points at
/// a stream's head. The seals do (ADR 0040): a check that finds everything whole seals it, and
/// every later check shows an event removed since, wherever it was.
#[tokio::test]
async fn a_seal_shows_the_newest_event_of_a_stream_or_a_whole_stream_removed() {
    let env = env().await;
    let s = &env.store;
    s.append(
        "a",
        ExpectedVersion::NoStream,
        vec![some_event(1), some_event(2)],
        None,
    )
    .await
    .expect("append");
    for stream in ["b", "c"] {
        s.append(stream, ExpectedVersion::NoStream, vec![some_event(1)], None)
            .await
            .expect("append");
    }
    let head = s.head_position().await.expect("head");
    let first = s.verify().await.expect("verify");
    assert!(first.is_intact(), "{first:?}");
    assert_eq!(first.seals_checked, 0);
    let seal = first.sealed.clone().expect("the whole log sealed");
    assert_eq!(
        (
            seal.seal_no,
            seal.after_position,
            seal.up_to_position,
            seal.events
        ),
        (1, 0, head, 4)
    );
    assert_eq!(seal.digest.len(), 64, "SHA-256 in hex");
    // Nothing new: nothing sealed, the seal checked.
    let again = s.verify().await.expect("verify");
    assert!(again.is_intact());
    assert_eq!((again.seals_checked, again.sealed.clone()), (1, None));
    assert_eq!(again.latest_seal, Some(seal.clone()));
    // What comes later is sealed next, chained to the first.
    s.append("d", ExpectedVersion::NoStream, vec![some_event(1)], None)
        .await
        .expect("append");
    let second = s.verify().await.expect("verify").sealed.expect("sealed");
    assert_eq!(
        (second.seal_no, second.after_position, second.events),
        (2, head, 1)
    );

    // The newest event of `a` and all of `b` removed: every chain still holds.
    let superuser = connect(&env.db.admin_url).await;
    superuser
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             DELETE FROM events WHERE (stream_id = 'a' AND stream_version = 2) OR stream_id = 'b';
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;",
        )
        .await
        .expect("tamper");
    let report = s.verify().await.expect("verify");
    assert!(report.broken.is_empty(), "the chains alone see nothing");
    assert!(!report.is_intact(), "{report:?}");
    assert_eq!(report.broken_seals.len(), 1, "{report:?}");
    assert_eq!(report.broken_seals[0].seal, seal);
    assert_eq!(report.broken_seals[0].events_now, 2);
    assert_eq!(report.broken_seals[0].problem, SealProblem::Changed);
    assert_eq!(report.sealed, None, "a broken log is not sealed over");

    // Seals are append-only like the events.
    let (code, message) = refused(&superuser, "DELETE FROM seals").await;
    assert!(message.contains("append-only"), "{code}: {message}");
}

/// The database's owner can replace samplan's own SQL functions; one that hands back each
/// event's stored hash would vouch for any change. The check recomputes with PostgreSQL's own
/// functions only, and an event slipped in below position 1 (where no seal reaches) is named.
#[tokio::test]
async fn the_check_trusts_no_function_the_owner_may_replace_and_nothing_below_position_1() {
    let env = env().await;
    let s = &env.store;
    s.append(
        "a",
        ExpectedVersion::NoStream,
        vec![some_event(1), some_event(2)],
        None,
    )
    .await
    .expect("append");
    assert!(s.verify().await.expect("verify").is_intact());
    let owner = connect(&env.db.admin_url).await;
    owner
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             UPDATE events SET payload = '{\"n\": 99}' WHERE stream_id = 'a' AND stream_version = 1;
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;
             CREATE OR REPLACE FUNCTION samplan_event_hash(
                 prev_hash bytea, stream_id text, stream_version bigint, event_id text,
                 event_type text, schema_version integer, payload jsonb, actor text, unit text,
                 role text, command_id text, correlation_id text, causation_id text,
                 recorded_at timestamptz) RETURNS bytea
             LANGUAGE sql AS $$ SELECT e.hash FROM events e WHERE e.event_id = $4 $$;",
        )
        .await
        .expect("tamper and cover it up");
    let report = s.verify().await.expect("verify");
    assert_eq!(report.broken.len(), 1, "{report:?}");
    assert_eq!(report.broken[0].reason, BrokenReason::HashMismatch);

    // An event forged at position 0 (a new stream, its own hash computed right).
    owner
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_before_insert;
             INSERT INTO events (global_position, stream_id, stream_version, event_id,
                                 event_type, schema_version, payload, actor, role,
                                 recorded_at, hash)
             VALUES (0, 'forged', 1, '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'Noted', 1, '{}',
                     'x', 'staff', now(), '\\x00');
             ALTER TABLE events ENABLE TRIGGER events_before_insert;",
        )
        .await
        .expect("forge");
    let report = s.verify().await.expect("verify");
    assert_eq!(report.events_before_the_first_position, 1);
    assert!(!report.is_intact());
}

/// A seal kept outside the database vouches for every event up to it, however the seals table
/// is rewritten: removed seals, or events and seals rewritten to agree, are found against it.
#[tokio::test]
async fn a_seal_kept_outside_shows_seals_rewritten_or_removed_inside() {
    let env = env().await;
    let s = &env.store;
    for stream in ["a", "b"] {
        s.append(stream, ExpectedVersion::NoStream, vec![some_event(1)], None)
            .await
            .expect("append");
    }
    let first = s.verify().await.expect("verify").sealed.expect("sealed");
    let kept = KeptSeal {
        seal_no: first.seal_no,
        digest: first.digest.clone(),
    };
    let again = s.verify_against(Some(&kept)).await.expect("verify");
    assert!(again.is_intact(), "{again:?}");

    // Stream `b` removed and every seal with it: the next check seals the rest anew, and holds
    // together — but not against the seal kept outside.
    let owner = connect(&env.db.admin_url).await;
    owner
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             ALTER TABLE seals DISABLE TRIGGER seals_refuse_update_delete;
             DELETE FROM events WHERE stream_id = 'b';
             DELETE FROM seals;
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;
             ALTER TABLE seals ENABLE TRIGGER seals_refuse_update_delete;",
        )
        .await
        .expect("tamper");
    let resealed = s.verify().await.expect("verify");
    assert!(resealed.is_intact(), "inside, the rewrite holds together");
    let report = s.verify_against(Some(&kept)).await.expect("verify");
    assert!(!report.is_intact());
    assert_eq!(report.broken_seals.len(), 1, "{report:?}");
    assert_eq!(report.broken_seals[0].problem, SealProblem::NotAsKept);

    // A seal removed from the middle: the next does not follow.
    s.append("c", ExpectedVersion::NoStream, vec![some_event(1)], None)
        .await
        .expect("append");
    s.verify().await.expect("verify").sealed.expect("seal 2");
    s.append("d", ExpectedVersion::NoStream, vec![some_event(1)], None)
        .await
        .expect("append");
    s.verify().await.expect("verify").sealed.expect("seal 3");
    owner
        .batch_execute(
            "ALTER TABLE seals DISABLE TRIGGER seals_refuse_update_delete;
             DELETE FROM seals WHERE seal_no = 2;
             ALTER TABLE seals ENABLE TRIGGER seals_refuse_update_delete;",
        )
        .await
        .expect("remove a seal");
    let report = s.verify().await.expect("verify");
    assert_eq!(
        report
            .broken_seals
            .iter()
            .map(|b| (b.seal.seal_no, b.problem))
            .collect::<Vec<_>>(),
        vec![(3, SealProblem::NotContiguous)]
    );
}

#[tokio::test]
async fn a_recomputed_hash_still_breaks_the_next_link() {
    let env = env().await;
    let s = &env.store;
    s.append(
        "a",
        ExpectedVersion::NoStream,
        vec![some_event(1), some_event(2), some_event(3)],
        None,
    )
    .await
    .expect("append");
    let a3 = s.read_stream("a", 3).await.expect("read")[0].clone();
    // A careful forger also rewrites the altered event's own hash; its successor still points
    // at the old one.
    let superuser = connect(&env.db.admin_url).await;
    superuser
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER events_refuse_update_delete;
             UPDATE events e SET payload = '{\"n\": 0}',
                    hash = samplan_event_hash(p.hash, e.stream_id, e.stream_version, e.event_id,
                        e.event_type, e.schema_version, '{\"n\": 0}', e.actor, e.unit, e.role,
                        e.command_id, e.correlation_id, e.causation_id, e.recorded_at)
               FROM events p
              WHERE e.stream_id = 'a' AND e.stream_version = 2
                AND p.stream_id = 'a' AND p.stream_version = 1;
             ALTER TABLE events ENABLE TRIGGER events_refuse_update_delete;",
        )
        .await
        .expect("forge");
    let report = s.verify().await.expect("verify");
    assert_eq!(report.broken.len(), 1);
    assert_eq!(report.broken[0].stream_version, 3);
    assert_eq!(report.broken[0].event_id, a3.event_id.to_string());
}

/// Migration 5 writes the hash input out piece by piece; the bytes must stay exactly those of
/// migration 1's `jsonb_build_array(...)::text`, or every event stored before it would fail
/// verification. Compared here on payloads chosen to differ if any piece were printed
/// differently: escapes and control characters, non-ASCII, every JSON number form, keys that
/// jsonb reorders, scalars as whole payloads, NULL metadata, a previous hash or none, and times
/// before 1970 and with microseconds.
#[tokio::test]
async fn the_hash_input_is_byte_for_byte_that_of_the_first_migration() {
    let env = env().await;
    let db = connect(&env.db.admin_url).await;
    let payloads = [
        r#"{"n": 1}"#,
        r#"{"bb": [1.50, -0, 1e2, 1.5e-7, 1E+3, -12.000, 123456789012345678901234567890], "a": 1}"#,
        r#"{"text": "tab\there \"quoted\" back\\slash\nnew line \u0001 \u001f \u007f / \/"}"#,
        r#"{"å": "Mötet hålls på vårdcentralen € 😀", "zz": {"y": true, "x": false, "": null}}"#,
        r#"{"b": 1, "a": 2, "aa": 3, "ab": {"c": [], "d": {}}}"#,
        r#"[1, "två", null, [true], {"k": "v"}]"#,
        r#""just a string""#,
        "3.14159",
        "-0.0",
        "null",
        "true",
        "{}",
        "[]",
    ];
    // Unit, command id, correlation id, causation id.
    type Optional = (
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
    );
    let metadata: [Optional; 3] = [
        (None, None, None, None),
        (
            Some("vc-1"),
            Some("cmd-1"),
            Some("corr \"1\""),
            Some("cause\t1"),
        ),
        (Some(""), None, Some("ü"), None),
    ];
    let times = [
        "2026-12-02 08:00:00.123456+00",
        "1969-07-20 20:17:40.000001+00",
        "2000-01-01 00:00:00+01",
    ];
    let mut compared = 0;
    for (i, payload) in payloads.iter().enumerate() {
        for (j, (unit, command, correlation, causation)) in metadata.iter().enumerate() {
            let time = times[(i + j) % times.len()];
            let prev: Option<Vec<u8>> = (i % 2 == 1).then(|| vec![0xab; 32]);
            let row = db
                .query_one(
                    "SELECT samplan_event_hash($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9,
                                               $10, $11, $12, $13, $14::text::timestamptz),
                            sha256(coalesce($1, ''::bytea) || convert_to(jsonb_build_array(
                                $2::text, $3::bigint, $4::text, $5::text, $6::integer,
                                $7::text::jsonb, $8::text, $9::text, $10::text, $11::text,
                                $12::text, $13::text,
                                (extract(epoch FROM $14::text::timestamptz) * 1000000)::bigint
                            )::text, 'UTF8'))",
                    &[
                        &prev,
                        &"sip-01J0000000000000000000000",
                        &(i as i64 + 1),
                        &"01J00000000000000000000000",
                        &"Typ \"med\" citat",
                        &((j as i32) + 1),
                        payload,
                        &"user \\ 1",
                        unit,
                        &"staff",
                        command,
                        correlation,
                        causation,
                        &time,
                    ],
                )
                .await
                .expect("hash");
            let (now, then): (Vec<u8>, Vec<u8>) = (row.get(0), row.get(1));
            assert_eq!(now, then, "payload {payload}, metadata {j}, time {time}");
            compared += 1;
        }
    }
    assert_eq!(compared, payloads.len() * metadata.len());
}
