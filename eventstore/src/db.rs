//! The store's connections: the pool and the one rule for retrying work on a connection that
//! turned out to be dead. Every other module of the store reaches PostgreSQL through [`Db`].

use deadpool_postgres::{Object, Pool};

use crate::config::StoreConfig;
use crate::error::{describe, is_connection_lost, StoreError};

/// The pool with the configuration it was built from. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub(crate) struct Db {
    pub(crate) pool: Pool,
    pub(crate) config: StoreConfig,
}

impl Db {
    /// A pooled connection, or `Unavailable`.
    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// Runs `work` on a pooled connection. When the connection turns out to be dead (the
    /// server restarted or terminated it) and `idempotent` is true, the work is retried on
    /// another connection: every pooled connection may be dead after a restart, and the pool
    /// only notices one at a time. Failures to connect are not retried here; they surface as
    /// `Unavailable` at once.
    pub(crate) async fn with_client<T, F, Fut>(
        &self,
        idempotent: bool,
        work: F,
    ) -> Result<T, StoreError>
    where
        F: Fn(Object) -> Fut,
        Fut: std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let attempts_max = if idempotent {
            self.config.pool_size_max.max(1) + 1
        } else {
            1
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let client = self.client().await?;
            match work(client).await {
                Ok(value) => return Ok(value),
                Err(err) if attempt < attempts_max && is_connection_lost(&err) => {
                    tracing::info!(error = %describe(&err), "database connection lost; retrying");
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}
