//! Migrations of the read models applied to a database that already has rows: what a running
//! region meets on upgrade, where a rebuild-equality test only ever sees fresh tables.

use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};

/// A fresh database with the migrations before `version` applied, and an admin connection to
/// write the rows a running region would have.
async fn migrated_before(version: i32) -> (TestDatabase, tokio_postgres::Client) {
    let db = TestDatabase::create().await.expect("test database");
    let before: Vec<_> = projections::MIGRATIONS
        .iter()
        .filter(|m| m.version < version)
        .cloned()
        .collect();
    eventstore::migrate(&db.admin_url, projections::COMPONENT, &before)
        .await
        .expect("the migrations before");
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
    (db, client)
}

/// Applies the remaining migrations, as an upgrade does, and connects a store.
async fn migrate_the_rest(db: &TestDatabase) -> EventStore {
    eventstore::migrate(
        &db.admin_url,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await
    .expect("the migrations under test and on");
    EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store")
}

/// Migration 10 counts the messages and reads already there, so the unread count of every unit
/// and user is right from the moment it is applied, without a rebuild.
#[tokio::test]
async fn migration_10_counts_the_messages_and_reads_already_there() {
    let (db, client) = migrated_before(10).await;
    // Unit u1 has three messages, u2 two; anna read two of u1's and one of u2's, bo one of u1's.
    client
        .batch_execute(
            "INSERT INTO inbox.messages (unit_id, message_id, position, kind, subject, body,
                    sip_id, person_id, invitation_id, sender_unit_id, sender_name, sent_at)
             SELECT unit, 'm' || n, n, 'invitation', 'Kallelse', '', 's', 'p', NULL, 'u9', 'X',
                    now()
               FROM (VALUES ('u1', 1), ('u1', 2), ('u1', 3), ('u2', 4), ('u2', 5)) AS v(unit, n);
             INSERT INTO inbox.message_reads (unit_id, message_id, user_id, read_at, position)
             VALUES ('u1', 'm1', 'anna', now(), 6), ('u1', 'm2', 'anna', now(), 7),
                    ('u2', 'm4', 'anna', now(), 8), ('u1', 'm3', 'bo', now(), 9);",
        )
        .await
        .expect("rows of a running inbox");
    let store = migrate_the_rest(&db).await;
    for (unit, user, unread) in [
        ("u1", "anna", 1),
        ("u1", "bo", 2),
        ("u1", "cilla", 3),
        ("u2", "anna", 1),
        ("u2", "bo", 2),
        ("u3", "anna", 0),
    ] {
        assert_eq!(
            projections::inbox::unread_count(store.pool(), unit, user)
                .await
                .expect("unread"),
            unread,
            "{unit}, {user}"
        );
    }
}

/// Migration 14 writes each row's person into the row as the lists showed it before: the name
/// and birth year to units that took part before a marking, not to those after it, and the
/// marking itself to all.
#[tokio::test]
async fn migration_14_writes_each_rows_person_as_the_lists_showed_it() {
    let (db, client) = migrated_before(14).await;
    // Anna is an ordinary person in plan s1; Bo's identity was marked protected at position 10
    // in plan s2, which u1 took part in from 5 and u2 from 20.
    client
        .batch_execute(
            "INSERT INTO inbox.persons (person_id, name, birth_year, protected_identity,
                    protected_position, version)
             VALUES ('anna', 'Anna Andersson', 1950, false, NULL, 1),
                    ('bo', 'Bo Berg', 1990, true, 10, 2);
             INSERT INTO inbox.participants (sip_id, unit_id, since_position)
             VALUES ('s1', 'u1', 1), ('s2', 'u1', 5), ('s2', 'u2', 20);
             INSERT INTO inbox.messages (unit_id, message_id, position, kind, subject, body,
                    sip_id, person_id, invitation_id, sender_unit_id, sender_name, sent_at)
             VALUES ('u1', 'm1', 2, 'invitation', 'Kallelse', '', 's1', 'anna', NULL, 'u1',
                     'X', now()),
                    ('u1', 'm2', 6, 'invitation', 'Kallelse', '', 's2', 'bo', NULL, 'u1', 'X',
                     now()),
                    ('u2', 'm3', 21, 'coordinator_changed', 'Ny samordnare', '', 's2', 'bo',
                     NULL, 'u1', 'X', now());
             INSERT INTO inbox.todos (todo_id, unit_id, sip_id, person_id, kind, reference,
                    title, opened_at, opened_position, changed_position)
             VALUES ('t1', 'u1', 's2', 'bo', 'close_plan', '', 'Avsluta planen', now(), 11, 11),
                    ('t2', 'u2', 's2', 'bo', 'close_plan', '', 'Avsluta planen', now(), 21, 21);
             INSERT INTO inbox.ongoing (unit_id, sip_id, person_id, phase, owes_documentation,
                    started_at, changed_position)
             VALUES ('u1', 's1', 'anna', 'planning', false, now(), 2),
                    ('u1', 's2', 'bo', 'planning', false, now(), 6),
                    ('u2', 's2', 'bo', 'planning', false, now(), 21);",
        )
        .await
        .expect("rows of a running inbox");
    let store = migrate_the_rest(&db).await;
    let pool = store.pool();
    let seen = |p: &projections::inbox::PersonRef| {
        (
            p.person_id.clone(),
            p.name.clone(),
            p.birth_year,
            p.protected_identity,
        )
    };
    let anna = (
        "anna".to_owned(),
        Some("Anna Andersson".to_owned()),
        Some(1950),
        false,
    );
    let bo_named = (
        "bo".to_owned(),
        Some("Bo Berg".to_owned()),
        Some(1990),
        true,
    );
    let bo_hidden = ("bo".to_owned(), None, None, true);

    let filter = projections::inbox::MessageFilter {
        limit: 10,
        ..Default::default()
    };
    let u1: Vec<_> = projections::inbox::messages(pool, "u1", "anyone", &filter)
        .await
        .expect("u1's messages")
        .iter()
        .map(|m| seen(&m.person))
        .collect();
    assert_eq!(u1, vec![bo_named.clone(), anna.clone()]);
    let u2: Vec<_> = projections::inbox::messages(pool, "u2", "anyone", &filter)
        .await
        .expect("u2's messages")
        .iter()
        .map(|m| seen(&m.person))
        .collect();
    assert_eq!(u2, vec![bo_hidden.clone()]);

    for (unit, expected) in [("u1", &bo_named), ("u2", &bo_hidden)] {
        let todos = projections::inbox::open_todos(
            pool,
            unit,
            "anyone",
            projections::inbox::TodoList {
                scope: projections::inbox::TodoScope::Unit,
                urgency: projections::inbox::Urgency::All,
                now: chrono::Utc::now(),
            },
            None,
            10,
        )
        .await
        .expect("to-dos");
        assert_eq!(
            todos.iter().map(|t| seen(&t.person)).collect::<Vec<_>>(),
            vec![expected.clone()],
            "{unit}'s to-dos"
        );
        let plan = projections::inbox::ongoing_plan(pool, unit, "s2")
            .await
            .expect("ongoing")
            .expect("s2 is ongoing");
        assert_eq!(&seen(&plan.person), expected, "{unit}'s Pågående SIP");
    }
    let plan = projections::inbox::ongoing_plan(pool, "u1", "s1")
        .await
        .expect("ongoing")
        .expect("s1 is ongoing");
    assert_eq!(seen(&plan.person), anna);
}
