//! Signing out ends a session on every gateway: the token is refused by this process at once
//! ([`crate::auth::Verifier::revoke`]) and recorded in `revoked_tokens` (gateway migration 5),
//! which every gateway reads each second ([`follow`]). A web session is the identity provider's
//! token in a cookie, so without this a copied cookie (a shared computer in a ward, a leaked
//! browser profile) would go on working after "Logga ut" until the token expired.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// How often each gateway reads the tokens signed out of through the others.
const POLL_MS: u64 = 1_000;
/// How far back each read looks: a sign-out committed late (its row's time is when its
/// statement began) is still seen.
const LOOK_BACK_SECONDS: i64 = 30;
/// How often rows of expired tokens are deleted.
const PRUNE_EVERY: u32 = 600;

/// Refuses `token` everywhere: in this process now, and in the others once they read the row.
/// A database failure is logged: this process refuses the token all the same.
pub async fn revoke(state: &AppState, token: &str) {
    let Some((digest, exp)) = state.verifier.revoke(token) else {
        return;
    };
    let Some(expires_at) = DateTime::<Utc>::from_timestamp(exp, 0) else {
        return;
    };
    let stored = async {
        let client = state.store.pool().get().await?;
        client
            .execute(
                "INSERT INTO revoked_tokens (token_sha256, expires_at) VALUES ($1, $2)
                 ON CONFLICT (token_sha256) DO NOTHING",
                &[&digest.as_slice(), &expires_at],
            )
            .await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    };
    if let Err(e) = stored.await {
        tracing::warn!(
            error = %e,
            "a signed-out token is refused by this gateway only: it could not be recorded"
        );
    }
}

/// Reads the tokens signed out of (all unexpired ones first, then those of the last seconds,
/// every second) into this gateway's verifier until `cancel`; deletes the expired rows now and
/// then.
pub async fn follow(state: AppState, cancel: CancellationToken) {
    let mut loaded_all = false;
    let mut rounds: u32 = 0;
    loop {
        let read = async {
            let client = state.store.pool().get().await?;
            let rows = if loaded_all {
                client
                    .query(
                        "SELECT token_sha256, expires_at FROM revoked_tokens
                          WHERE revoked_at > statement_timestamp() - make_interval(secs => $1)",
                        &[&(LOOK_BACK_SECONDS as f64)],
                    )
                    .await?
            } else {
                client
                    .query(
                        "SELECT token_sha256, expires_at FROM revoked_tokens
                          WHERE expires_at > $1",
                        &[&state.clock.now()],
                    )
                    .await?
            };
            // Tokens are judged by the service's clock, so their rows are too.
            if rounds % PRUNE_EVERY == 0 {
                client
                    .execute(
                        "DELETE FROM revoked_tokens WHERE expires_at < $1",
                        &[&(state.clock.now() - chrono::Duration::hours(1))],
                    )
                    .await?;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(rows)
        };
        match read.await {
            Ok(rows) => {
                for row in rows {
                    let digest: &[u8] = row.get(0);
                    let expires_at: DateTime<Utc> = row.get(1);
                    if let Ok(digest) = <[u8; 32]>::try_from(digest) {
                        state.verifier.revoke_digest(digest, expires_at.timestamp());
                    }
                }
                loaded_all = true;
            }
            Err(e) => tracing::debug!(error = %e, "signed-out tokens not read; trying again"),
        }
        rounds = rounds.wrapping_add(1);
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_millis(POLL_MS)) => {}
        }
    }
}
