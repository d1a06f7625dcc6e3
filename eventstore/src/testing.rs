//! Test support (feature `testing`): a fresh, migrated database per test, dropped afterwards,
//! so tests run in parallel against one PostgreSQL server.

use crate::error::StoreError;
use crate::store::EventStore;

/// Where test databases are created; the URL must log in as a role that may create databases
/// and roles (a superuser in the usual local setup).
pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The server URL tests use: `SAMPLAN_TEST_DATABASE_URL` or [`DEFAULT_TEST_DATABASE_URL`].
pub fn server_url() -> String {
    std::env::var("SAMPLAN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// A database that exists for one test. `admin_url` logs in as the server URL's (owner) role,
/// `app_url` as `samplan_app`, which may only INSERT and SELECT events.
#[derive(Debug)]
pub struct TestDatabase {
    pub admin_url: String,
    pub app_url: String,
    pub name: String,
    server_url: String,
}

impl TestDatabase {
    /// Creates `samplan_t_<ulid>` and applies the event store's migrations.
    pub async fn create() -> Result<TestDatabase, StoreError> {
        let server = server_url();
        let name = format!(
            "samplan_t_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let client = crate::connect::connect(&server, &Default::default(), "samplan-test", None)
            .await
            .map_err(|e| StoreError::Unavailable(format!("testserver {server}: {e}")))?;
        client
            // The C locale, as the embedded PostgreSQL's `initdb --no-locale` (and many servers)
            // have it: nothing may lean on the database lowercasing Å, Ä and Ö.
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'"
            ))
            .await?;
        drop(client);
        let admin_url = with_database(&server, &name);
        let app_url = with_user(&admin_url, "samplan_app");
        let db = TestDatabase {
            admin_url,
            app_url,
            name,
            server_url: server,
        };
        EventStore::migrate(&db.admin_url).await?;
        Ok(db)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its
        // own small runtime can. Best effort: a leftover database is only clutter.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let no_files = crate::connect::DatabaseTls::default();
                let connected = crate::connect::connect(&server, &no_files, "samplan-test", None);
                if let Ok(client) = connected.await {
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{}", &base[..path_start], database);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// `url` logging in as `user` without a password (local trust authentication).
pub fn with_user(url: &str, user: &str) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let host_start = match (rest.find('@'), rest.find('/')) {
        (Some(at), Some(slash)) if at < slash => at + 1,
        (Some(at), None) => at + 1,
        _ => 0,
    };
    format!(
        "{}{}@{}",
        &url[..authority_start],
        user,
        &rest[host_start..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_database_and_user() {
        let url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable";
        let db = with_database(url, "x");
        assert_eq!(db, "postgres://postgres@127.0.0.1:5432/x?sslmode=disable");
        assert_eq!(
            with_user(&db, "samplan_app"),
            "postgres://samplan_app@127.0.0.1:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_user("postgres://localhost/db", "u"),
            "postgres://u@localhost/db"
        );
        assert_eq!(with_database("postgres://h:1", "d"), "postgres://h:1/d");
    }
}
