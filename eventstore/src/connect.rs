//! The one place that opens connections to PostgreSQL (ADR 0024): the store's pool, its LISTEN
//! connection, migrations, the projections' leases and rebuilds all come here, so a connection
//! string's `sslmode` and the TLS files mean the same thing everywhere.
//!
//! `sslmode` in the connection string:
//! - absent or `disable`: no TLS (what samplan always did; the embedded default's Unix socket);
//! - `prefer`: TLS when the server offers it, verified as below; unencrypted when it does not;
//! - `require` or `verify-full`: TLS or no connection, and the server's certificate must chain to
//!   a trusted root and name the host connected to. samplan never accepts an unverified
//!   certificate, so `require` is as strict as `verify-full` (libpq's `require` checks nothing).
//! - `verify-ca` (chain but not host name) is refused: use `verify-full`.
//!
//! The trusted roots are the CA file's certificates when one is given ([`DatabaseTls::ca`]),
//! otherwise the operating system's store (what async-nats trusts for NATS too).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// TLS files for every PostgreSQL connection of a process (the service's and the owner's): the
/// CA to trust and an optional client certificate. All unset: the system's roots, no client
/// certificate. Only used where the connection string's `sslmode` asks for TLS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatabaseTls {
    /// PEM CA certificate(s) the server's certificate must chain to, instead of the system's.
    pub ca: Option<PathBuf>,
    /// PEM client certificate (chain) presented to the server.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
}

/// What a connection string asks for (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No `sslmode`, or `sslmode=disable`: no TLS.
    Disable,
    /// `sslmode=prefer`: verified TLS when the server offers it.
    Prefer,
    /// `sslmode=require` or `sslmode=verify-full`: verified TLS or nothing.
    Require,
}

impl SslMode {
    /// Whether a connection in this mode may use TLS (and so needs trusted roots).
    pub fn uses_tls(self) -> bool {
        self != SslMode::Disable
    }
}

/// Why a connection string or the TLS files cannot be used. Each names what is wrong, for the
/// operator's configuration error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The connection string has an `sslmode` samplan does not offer, or libpq's file keys.
    #[error("{0}")]
    ConnectionString(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("the CA file {path}: {reason}")]
    Ca { path: PathBuf, reason: String },
    /// The client certificate cannot be read or holds no certificate.
    #[error("the client certificate {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    /// The client key cannot be read, holds no key, or does not fit the certificate.
    #[error("the client key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    /// Only one of certificate and key is given.
    #[error("a client certificate needs its key, and a key its certificate")]
    CertWithoutKey,
    /// No CA file, and the operating system's store holds no usable root.
    #[error("no CA file is given and the system's trust store has no usable certificate: {0}")]
    NoSystemRoots(String),
}

/// The `sslmode` a connection string asks for, and the string as tokio-postgres reads it
/// (`verify-full` written as `require`, which tokio-postgres knows and samplan verifies anyway).
pub fn ssl_mode(connection_string: &str) -> Result<(SslMode, String), TlsError> {
    for key in ["sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl"] {
        if parameter(connection_string, key).is_some() {
            return Err(TlsError::ConnectionString(format!(
                "{key} in the connection string is not read: give the files as \
                 SAMPLAN_DATABASE_TLS_CA, SAMPLAN_DATABASE_TLS_CERT and SAMPLAN_DATABASE_TLS_KEY"
            )));
        }
    }
    let mode =
        match parameter(connection_string, "sslmode").as_deref() {
            None | Some("disable") => SslMode::Disable,
            Some("prefer") => SslMode::Prefer,
            Some("require") => SslMode::Require,
            Some("verify-full") => {
                let rewritten = connection_string.replace("sslmode=verify-full", "sslmode=require");
                return Ok((SslMode::Require, rewritten));
            }
            Some("verify-ca") => return Err(TlsError::ConnectionString(
                "sslmode=verify-ca is not offered: samplan always checks the server's host name \
                 too; use sslmode=verify-full"
                    .into(),
            )),
            Some(other) => {
                return Err(TlsError::ConnectionString(format!(
                    "sslmode={other} is not known: use disable, prefer, require or verify-full"
                )))
            }
        };
    Ok((mode, connection_string.to_string()))
}

/// The value of `key` in a URL's query (`postgres://…?sslmode=require&…`) or in the key=value
/// form (`host=db sslmode=require`).
fn parameter(connection_string: &str, key: &str) -> Option<String> {
    let s = connection_string.trim();
    let pairs: Vec<&str> = if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        s.split_once('?')
            .map(|(_, query)| query.split('&').collect())
            .unwrap_or_default()
    } else {
        s.split_whitespace().collect()
    };
    pairs.iter().rev().find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('\'').to_string())
    })
}

/// A parsed connection string with the TLS mode set as samplan means it (an absent `sslmode` is
/// `disable`, not tokio-postgres's `prefer`), and the connector for it.
pub fn pg_config(
    connection_string: &str,
    tls: &DatabaseTls,
) -> Result<(tokio_postgres::Config, MakeRustlsConnect), ConnectError> {
    let (mode, rewritten) = ssl_mode(connection_string)?;
    let mut config: tokio_postgres::Config =
        rewritten.parse().map_err(ConnectError::ConnectionString)?;
    config.ssl_mode(match mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require => PgSslMode::Require,
    });
    Ok((config, connector(tls, mode)?))
}

/// The rustls connector for `tls`. Without TLS (`mode` disable) the files are not read and the
/// connector, which tokio-postgres then never uses, trusts nothing.
pub fn connector(tls: &DatabaseTls, mode: SslMode) -> Result<MakeRustlsConnect, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::NoSystemRoots(e.to_string()))?;
    if !mode.uses_tls() {
        return Ok(MakeRustlsConnect::new(
            builder
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth(),
        ));
    }
    let mut roots = RootCertStore::empty();
    match &tls.ca {
        Some(path) => {
            let ca = |reason: String| TlsError::Ca {
                path: path.clone(),
                reason,
            };
            let certs = read_certificates(path).map_err(ca)?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| ca(format!("not a usable CA certificate ({e})")))?;
            }
        }
        None => {
            let certs = rustls_native_certs::load_native_certs()
                .map_err(|e| TlsError::NoSystemRoots(e.to_string()))?;
            let (_added, _ignored) = roots.add_parsable_certificates(certs);
            if roots.is_empty() {
                return Err(TlsError::NoSystemRoots(
                    "set SAMPLAN_DATABASE_TLS_CA to the database's CA".into(),
                ));
            }
        }
    }
    let builder = builder.with_root_certificates(roots);
    let config = match (&tls.cert, &tls.key) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert_path), Some(key_path)) => {
            let chain = read_certificates(cert_path).map_err(|reason| TlsError::Cert {
                path: cert_path.clone(),
                reason,
            })?;
            let key_error = |reason: String| TlsError::Key {
                path: key_path.clone(),
                reason,
            };
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| key_error(format!("no PEM private key could be read ({e})")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| key_error(format!("not usable with the certificate ({e})")))?
        }
        _ => return Err(TlsError::CertWithoutKey),
    };
    Ok(MakeRustlsConnect::new(config))
}

fn read_certificates(path: &PathBuf) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot be read ({e})"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("is not PEM ({e})"))?;
    if certs.is_empty() {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("the connection string cannot be read: {0}")]
    ConnectionString(#[source] tokio_postgres::Error),
    #[error("{}", crate::error::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
}

/// Opens one connection of its own (not from a pool) as `application_name`, with the
/// connection's driver running on its own task until the client is dropped or the server goes
/// away. A `timeout` bounds the TCP connect and the TLS handshake alike.
pub async fn connect(
    connection_string: &str,
    tls: &DatabaseTls,
    application_name: &str,
    timeout: Option<Duration>,
) -> Result<tokio_postgres::Client, ConnectError> {
    let (mut config, connector) = pg_config(connection_string, tls)?;
    config.application_name(application_name);
    if let Some(timeout) = timeout {
        config.connect_timeout(timeout);
    }
    let (client, connection) = config.connect(connector).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "database connection ended with an error");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_is_read_from_both_forms() {
        let mode = |s: &str| ssl_mode(s).map(|(m, _)| m);
        assert_eq!(mode("postgres://u@h/db"), Ok(SslMode::Disable));
        assert_eq!(
            mode("postgres://u@h/db?sslmode=prefer"),
            Ok(SslMode::Prefer)
        );
        assert_eq!(
            mode("postgresql://u@h/db?application_name=x&sslmode=require"),
            Ok(SslMode::Require)
        );
        assert_eq!(
            mode("host=h user=u sslmode=verify-full"),
            Ok(SslMode::Require)
        );
        assert_eq!(mode("host=h user=u"), Ok(SslMode::Disable));
        assert!(mode("postgres://u@h/db?sslmode=verify-ca").is_err());
        assert!(mode("postgres://u@h/db?sslmode=allow").is_err());
        let err = mode("postgres://u@h/db?sslmode=require&sslrootcert=/ca.pem").unwrap_err();
        assert!(err.to_string().contains("SAMPLAN_DATABASE_TLS_CA"), "{err}");
    }

    #[test]
    fn verify_full_parses_as_require_and_absent_means_no_tls() {
        let none = DatabaseTls::default();
        let (config, _) =
            pg_config("postgres://u@127.0.0.1/db?sslmode=verify-full", &none).expect("parses");
        assert_eq!(config.get_ssl_mode(), PgSslMode::Require);
        let (config, _) = pg_config("postgres://u@127.0.0.1/db", &none).expect("parses");
        assert_eq!(config.get_ssl_mode(), PgSslMode::Disable);
    }

    #[test]
    fn missing_files_are_named() {
        let tls = DatabaseTls {
            ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let err = connector(&tls, SslMode::Require).err().expect("refused");
        assert!(matches!(err, TlsError::Ca { .. }), "{err}");
        // Without TLS the files are not even read.
        assert!(connector(&tls, SslMode::Disable).is_ok());
        let tls = DatabaseTls {
            cert: Some("/nonexistent/client.pem".into()),
            ..Default::default()
        };
        assert!(matches!(
            connector(&tls, SslMode::Require).err(),
            Some(TlsError::CertWithoutKey) | Some(TlsError::NoSystemRoots(_))
        ));
    }
}
