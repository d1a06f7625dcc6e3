//! Migrations of the read models applied to a database that already has rows: what a running
//! region meets on upgrade, where a rebuild-equality test only ever sees fresh tables.

use eventstore::testing::TestDatabase;
use eventstore::{EventStore, StoreConfig};

/// Migration 10 counts the messages and reads already there, so the unread count of every unit
/// and user is right from the moment it is applied, without a rebuild.
#[tokio::test]
async fn migration_10_counts_the_messages_and_reads_already_there() {
    let db = TestDatabase::create().await.expect("test database");
    let before_10: Vec<_> = projections::MIGRATIONS
        .iter()
        .filter(|m| m.version < 10)
        .cloned()
        .collect();
    eventstore::migrate(&db.admin_url, projections::COMPONENT, &before_10)
        .await
        .expect("migrations 1-9");
    let (client, connection) = tokio_postgres::connect(&db.admin_url, tokio_postgres::NoTls)
        .await
        .expect("admin connection");
    tokio::spawn(connection);
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
    eventstore::migrate(
        &db.admin_url,
        projections::COMPONENT,
        projections::MIGRATIONS,
    )
    .await
    .expect("migration 10 and on");
    let store = EventStore::connect(StoreConfig::new(db.app_url.clone()))
        .await
        .expect("store");
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
