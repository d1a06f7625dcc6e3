//! How samplan signs in to NATS and trusts its servers: none, a user and password, a token, an
//! NKey seed or a credentials file (JWT + NKey, as a NATS operator issues them), and optionally
//! TLS with the deployment's own CA and a client certificate. One value, built by the gateway's
//! configuration (`SAMPLAN_NATS_*`), used by every connection a process makes: the relay's, and
//! the doorbell's of the inbox and the gateways.

use std::path::PathBuf;

/// The sign-in to NATS.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum NatsCredentials {
    /// No authentication (a NATS protected by the network only).
    #[default]
    None,
    /// `SAMPLAN_NATS_USER` and `SAMPLAN_NATS_PASSWORD`.
    UserPassword { user: String, password: String },
    /// `SAMPLAN_NATS_TOKEN`.
    Token(String),
    /// `SAMPLAN_NATS_NKEY_SEED`: an NKey seed (`SU…`).
    NkeySeed(String),
    /// `SAMPLAN_NATS_CREDS`: a `.creds` file (decentralised JWT auth).
    CredsFile(PathBuf),
}

impl std::fmt::Debug for NatsCredentials {
    // Never print a password, token or seed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsCredentials::None => f.write_str("None"),
            NatsCredentials::UserPassword { user, .. } => write!(f, "UserPassword({user}, ..)"),
            NatsCredentials::Token(_) => f.write_str("Token(..)"),
            NatsCredentials::NkeySeed(_) => f.write_str("NkeySeed(..)"),
            NatsCredentials::CredsFile(path) => write!(f, "CredsFile({})", path.display()),
        }
    }
}

/// Credentials and TLS for every NATS connection of a process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsAuth {
    pub credentials: NatsCredentials,
    /// `SAMPLAN_NATS_TLS_CA`: a PEM file of CA certificates to trust (the system's are trusted
    /// too). Setting it, or a `tls://` URL, requires TLS.
    pub tls_ca: Option<PathBuf>,
    /// `SAMPLAN_NATS_TLS_CERT` and `SAMPLAN_NATS_TLS_KEY`: a client certificate and its key.
    pub tls_client: Option<(PathBuf, PathBuf)>,
}

impl NatsAuth {
    /// The user signed in as, with a user and password.
    pub fn user(&self) -> Option<&str> {
        match &self.credentials {
            NatsCredentials::UserPassword { user, .. } => Some(user),
            _ => None,
        }
    }

    /// `options` with these credentials and TLS settings.
    pub async fn apply(
        &self,
        options: async_nats::ConnectOptions,
    ) -> std::io::Result<async_nats::ConnectOptions> {
        let mut options = match &self.credentials {
            NatsCredentials::None => options,
            NatsCredentials::UserPassword { user, password } => {
                options.user_and_password(user.clone(), password.clone())
            }
            NatsCredentials::Token(token) => options.token(token.clone()),
            NatsCredentials::NkeySeed(seed) => options.nkey(seed.clone()),
            NatsCredentials::CredsFile(path) => options.credentials_file(path).await?,
        };
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }
}

/// Whether `url` names one NATS server as the client takes it (`nats://`, `tls://`, `ws://`,
/// `wss://`, or a bare `host:port`).
pub fn is_server_url(url: &str) -> bool {
    let scheme_ok = !url.contains("://")
        || ["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
    !url.is_empty() && scheme_ok && url.parse::<async_nats::ServerAddr>().is_ok()
}
