//! Keys the deployment keeps in its own database (`keys` table, gateway migration 2), read on
//! first use and kept (so a process starts, and answers `/readyz`, while the database is still
//! away). Today one: the key that turns a personal identity number into the name of
//! its register stream (`pin-<HMAC-SHA256 hex>`, ADR 0013), so that the number itself never
//! names a stream, a NATS subject or a log line, and a digest cannot be reversed by trying every
//! possible number without the key.

use crate::error::AppError;
use deadpool_postgres::Pool;
use domain::personnummer::PersonalIdentityNumber;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// The keys, read on first use. Cheap to clone; clones share what was read.
#[derive(Clone, Default)]
pub struct Keys {
    loaded: Arc<OnceCell<Loaded>>,
}

struct Loaded {
    personnummer: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    // Never print key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

impl Keys {
    /// Reads the keys from the database (after migrations).
    async fn load(pool: &Pool) -> Result<Loaded, AppError> {
        let client = pool.get().await.map_err(|e| {
            AppError::Unavailable(format!("keys: {}", eventstore::StoreError::from(e)))
        })?;
        let row = client
            .query_opt("SELECT key FROM keys WHERE name = 'personnummer'", &[])
            .await
            .map_err(|e| AppError::internal(format!("keys: {e}")))?
            .ok_or_else(|| AppError::internal("keys: the personnummer key is missing"))?;
        Ok(Loaded {
            personnummer: row.get(0),
        })
    }

    /// Keys given outright, for tests that never touch a database.
    pub fn given(personnummer: &[u8]) -> Keys {
        let loaded = OnceCell::new_with(Some(Loaded {
            personnummer: personnummer.to_vec(),
        }));
        Keys {
            loaded: Arc::new(loaded),
        }
    }

    /// The register stream of `pin` (ADR 0013).
    pub async fn register_stream(
        &self,
        pool: &Pool,
        pin: &PersonalIdentityNumber,
    ) -> Result<String, AppError> {
        let loaded = self.loaded.get_or_try_init(|| Keys::load(pool)).await?;
        // HMAC takes a key of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&loaded.personnummer)
            .map_err(|e| AppError::internal(format!("keys: {e}")))?;
        mac.update(pin.as_str().as_bytes());
        Ok(domain::registry::stream_id(&hex::encode(
            mac.finalize().into_bytes(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(s: &str) -> PersonalIdentityNumber {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).expect("date");
        PersonalIdentityNumber::parse(s, today).expect("valid number")
    }

    #[tokio::test]
    async fn a_number_has_one_stream_per_key_and_the_number_is_not_in_it() {
        // Never connected to: the keys are given.
        let pool = deadpool_postgres::Config {
            url: Some("postgres://nobody@127.0.0.1:1/none".into()),
            ..Default::default()
        }
        .create_pool(
            Some(deadpool_postgres::Runtime::Tokio1),
            tokio_postgres::NoTls,
        )
        .expect("a pool");
        let stream_of = |keys: &Keys, s: &'static str| {
            let (keys, pool) = (keys.clone(), pool.clone());
            async move { keys.register_stream(&pool, &pin(s)).await.expect("stream") }
        };
        let keys = Keys::given(b"a key of at least sixteen bytes");
        let stream = stream_of(&keys, "19121212-1212").await;
        assert!(
            stream.starts_with("pin-") && stream.len() == 4 + 64,
            "{stream}"
        );
        assert!(!stream.contains("1212"), "{stream}");
        // Every written form of the number is the same number.
        assert_eq!(stream, stream_of(&keys, "191212121212").await);
        assert_eq!(stream, stream_of(&keys, "121212+1212").await);
        assert_ne!(stream, stream_of(&keys, "19450315-1237").await);
        let other = Keys::given(b"another key of sixteen bytes");
        assert_ne!(stream, stream_of(&other, "19121212-1212").await);
    }
}
