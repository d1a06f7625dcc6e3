//! Authentication: who is calling. Every API request carries `Authorization: Bearer <JWT>`; the
//! [`Verifier`] checks signature, `exp`, `iat`, `iss` and `aud` against the injected clock and
//! turns the claims into a [`Caller`]. Authorisation (what the caller may do) is the domain's and
//! the routes' business; [`Caller::require_role`] and [`Caller::staff_unit`] are the edge checks.
//!
//! A token whose signature, issuer and audience were checked once is remembered by its SHA-256
//! ([`Verified`], ADR 0030): checking an RS256 or ES256 signature costs more CPU than the rest of
//! a read, and a signed-in user sends the same token with every request until it expires. What
//! depends on time (`exp`, `iat`) is checked on every request all the same.
//!
//! [`Signer`] mints tokens for `samplan token` and for tests. Without a configured key, the
//! embedded default uses a development secret kept in the data directory, so that
//! `samplan token` and `samplan serve` agree without any setup.

use crate::clock::Clock;
use crate::error::AppError;
use chrono::{DateTime, Duration, Utc};
use domain::context::{Actor, Role};
use domain::ids::UnitId;
use domain::personnummer::PersonalIdentityNumber;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Clock skew tolerated between the token issuer and us.
pub const LEEWAY_SECONDS: i64 = 30;

/// The claims of a samplan token (API.md, Identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Staff: HSA-id; citizen: the person's id.
    pub sub: String,
    /// `staff`, `citizen`, `auditor`, `reporting` or `admin`.
    pub role: String,
    /// Staff: the unit they act for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Citizen: the personnummer the sign-in (1177, BankID) established, in any accepted form.
    /// It is what links a guardian, signed in as themselves, to a child's plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_identity_number: Option<String>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Not before, seconds since the epoch, when the issuer sets it (RFC 7519, 4.1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub iss: String,
    /// One audience, or a list of them as OpenID Connect allows (kept space-separated); the
    /// verifier has checked that ours is among them.
    #[serde(deserialize_with = "audience")]
    pub aud: String,
}

/// `aud` as a string or as a list of strings (RFC 7519, 4.1.3).
fn audience<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Aud::deserialize(deserializer)? {
        Aud::One(aud) => aud,
        Aud::Many(list) => list.join(" "),
    })
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub sub: String,
    pub role: Role,
    pub unit: Option<UnitId>,
    pub name: String,
    /// A citizen's personnummer, from the token's `personal_identity_number` claim.
    pub personal_identity_number: Option<PersonalIdentityNumber>,
}

impl Caller {
    /// 403 `role_not_allowed` unless the caller has `role`.
    pub fn require_role(&self, role: Role) -> Result<(), AppError> {
        if self.role == role {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "role_not_allowed",
                format!(
                    "Din roll ({}) får inte göra detta; det kräver rollen {}.",
                    self.role.label(),
                    role.label()
                ),
            ))
        }
    }

    /// The unit a staff member acts for. The verifier already refuses staff tokens without a
    /// unit, so the error only shows for non-staff callers reaching a staff route.
    pub fn staff_unit(&self) -> Result<&UnitId, AppError> {
        self.require_role(Role::Staff)?;
        self.unit.as_ref().ok_or_else(|| AppError::Token {
            code: "token_unit_missing",
            detail: "Inloggningen saknar enhet (unit); personal måste agera för en enhet.".into(),
        })
    }

    /// The caller as the domain records them.
    pub fn actor(&self) -> Actor {
        Actor {
            id: self.sub.clone(),
            name: self.name.clone(),
            unit: self.unit.clone(),
            role: self.role,
        }
    }
}

/// A 401 problem with its own `token_*` code.
pub(crate) fn token_error(code: &'static str, detail: &str) -> AppError {
    AppError::Token {
        code,
        detail: detail.to_string(),
    }
}

/// Checks tokens. Built once from the configuration.
///
/// It may hold several keys, so that a signing key can be rotated without refusing the tokens
/// already handed out (docs/runbook.md, "Rotating the token key"): the current key and the one
/// being retired. Each key verifies only its own algorithm — HS256 for a secret, RS256 or ES256
/// for a public key — and a token is tried only against the keys of the algorithm its header
/// names, so an HS256 token can never be checked with a public key's bytes as its secret.
pub struct Verifier {
    /// The keys in force; a JWKS file's are replaced whole when the file changes ([`reload`]).
    ///
    /// [`reload`]: Verifier::reload
    keys: RwLock<Arc<Vec<VerifyingKey>>>,
    clock: Clock,
    /// Where the keys came from when they may change while the process runs: a JWKS file.
    jwks: Option<JwksSource>,
    /// Tokens the keys in force have verified, by digest.
    verified: Mutex<Verified>,
    /// Signatures checked (tokens not found in `verified`), for `/metrics`.
    signature_checks: AtomicU64,
    /// Tokens found in `verified`, for `/metrics`.
    verified_hits: AtomicU64,
    /// Tokens signed out of ("Logga ut") before they expire, by digest, with their `exp`: refused
    /// from then on, by this process at once and by the others once they read
    /// `revoked_tokens` (`crate::web::revocations`).
    revoked: Mutex<HashMap<[u8; 32], i64>>,
    /// Counts the tokens revoked: open live streams look again at their token when it moves.
    revocations: tokio::sync::watch::Sender<u64>,
}

/// How many revoked tokens are kept before the expired ones are dropped from memory.
const REVOKED_PRUNE_AT: usize = 4_096;

/// Most tokens remembered as verified; the oldest is forgotten first. Each takes its digest and
/// its claims (a few hundred bytes), so the bound keeps the memory to some 15 MB.
const VERIFIED_MAX: usize = 32_768;

/// The claims of tokens whose signature, issuer and audience the keys in force have checked,
/// keyed by the SHA-256 of the whole token: a token that differs in any byte (another signature,
/// an edited claim) has another digest and is checked from scratch. Only what a key vouched for
/// enters; nothing about time is remembered (`Verifier::verify` checks `exp` and `iat` against
/// the clock on every request). When the keys change, everything is forgotten and the
/// generation moves on, so a check that began under the old keys cannot enter afterwards.
#[derive(Default)]
struct Verified {
    claims: HashMap<[u8; 32], Claims>,
    /// Digests in the order they entered, to forget the oldest first.
    order: VecDeque<[u8; 32]>,
    /// Bumped by every change of keys.
    generation: u64,
}

impl Verified {
    fn get(&self, digest: &[u8; 32]) -> Option<Claims> {
        self.claims.get(digest).cloned()
    }

    /// Remembers `claims`, checked under the keys of `generation`, unless the keys changed since.
    fn remember(&mut self, digest: [u8; 32], claims: &Claims, generation: u64, max: usize) {
        if generation != self.generation || self.claims.contains_key(&digest) {
            return;
        }
        // One enters at a time, so one leaves at most.
        if self.order.len() >= max {
            if let Some(oldest) = self.order.pop_front() {
                self.claims.remove(&oldest);
            }
        }
        self.claims.insert(digest, claims.clone());
        self.order.push_back(digest);
    }

    /// Forgets every token: the keys that verified them are no longer those in force.
    fn forget_all(&mut self) {
        self.claims.clear();
        self.order.clear();
        self.generation += 1;
    }
}

/// A JWKS file the verifier reads again when it changes.
struct JwksSource {
    path: PathBuf,
    issuer: String,
    audience: String,
    /// The text the keys in force were read from.
    text: Mutex<String>,
}

/// One accepted key and the validation (algorithm, issuer, audience) that goes with it.
struct VerifyingKey {
    key: DecodingKey,
    algorithm: Algorithm,
    /// The key's `kid` in a JWKS file; PEM keys and secrets have none.
    id: Option<String>,
    validation: Validation,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algorithms: Vec<Algorithm> = self.keys().iter().map(|k| k.algorithm).collect();
        f.debug_struct("Verifier")
            .field("algorithms", &algorithms)
            .finish()
    }
}

/// A verification key that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "SAMPLAN_JWT_PUBLIC_KEY: key {number} of {count} is neither an RSA nor an EC (P-256) \
         public key in PEM form"
    )]
    UnsupportedPublicKey { number: usize, count: usize },
    #[error("SAMPLAN_JWT_PUBLIC_KEY holds no PEM block (-----BEGIN PUBLIC KEY----- …)")]
    NoPublicKey,
    #[error("SAMPLAN_JWT_JWKS_FILE {path}: {reason}")]
    Jwks { path: PathBuf, reason: String },
    #[error("the development secret in {path} cannot be read or created: {source}")]
    DevelopmentSecret {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Verifier {
    /// A verifier for HS256 tokens signed with `secret`.
    pub fn hs256(secret: &str, issuer: &str, audience: &str, clock: Clock) -> Verifier {
        Verifier::hs256_secrets(&[secret], issuer, audience, clock)
    }

    /// A verifier for HS256 tokens signed with any of `secrets` (the current one and the one
    /// being retired, `SAMPLAN_JWT_SECRET` and `SAMPLAN_JWT_SECRET_PREVIOUS`).
    pub fn hs256_secrets(secrets: &[&str], issuer: &str, audience: &str, clock: Clock) -> Verifier {
        let keys = secrets
            .iter()
            .map(|secret| {
                VerifyingKey::new(
                    DecodingKey::from_secret(secret.as_bytes()),
                    Algorithm::HS256,
                    issuer,
                    audience,
                )
            })
            .collect();
        Verifier::with_keys(keys, clock, None)
    }

    /// A verifier for RS256 and ES256 tokens: `pem` holds one or more PEM public keys (during a
    /// rotation the new one and the one being retired), each RSA (RS256) or EC P-256 (ES256).
    pub fn public_key_pem(
        pem: &str,
        issuer: &str,
        audience: &str,
        clock: Clock,
    ) -> Result<Verifier, KeyError> {
        let blocks = pem_blocks(pem);
        if blocks.is_empty() {
            return Err(KeyError::NoPublicKey);
        }
        let count = blocks.len();
        let mut keys = Vec::with_capacity(count);
        for (i, block) in blocks.into_iter().enumerate() {
            let (key, algorithm) = if let Ok(key) = DecodingKey::from_rsa_pem(block.as_bytes()) {
                (key, Algorithm::RS256)
            } else if let Ok(key) = DecodingKey::from_ec_pem(block.as_bytes()) {
                (key, Algorithm::ES256)
            } else {
                return Err(KeyError::UnsupportedPublicKey {
                    number: i + 1,
                    count,
                });
            };
            keys.push(VerifyingKey::new(key, algorithm, issuer, audience));
        }
        Ok(Verifier::with_keys(keys, clock, None))
    }

    /// A verifier for the RS256 and ES256 public keys of a JSON Web Key Set file
    /// (`SAMPLAN_JWT_JWKS_FILE`, `{"keys": [...]}`), read once. Each key's algorithm is its `alg`
    /// or, without one, follows from its type (RSA: RS256, EC P-256: ES256); symmetric keys
    /// (`oct`), keys for encryption (`use: enc`) and other algorithms are refused, so that a
    /// token's header can never make a public key serve as an HMAC secret.
    pub fn jwks_file(
        path: &Path,
        issuer: &str,
        audience: &str,
        clock: Clock,
    ) -> Result<Verifier, KeyError> {
        let text = read_jwks(path)?;
        let keys = jwks_keys(&text, path, issuer, audience)?;
        let source = JwksSource {
            path: path.to_path_buf(),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            text: Mutex::new(text),
        };
        Ok(Verifier::with_keys(keys, clock, Some(source)))
    }

    fn with_keys(keys: Vec<VerifyingKey>, clock: Clock, jwks: Option<JwksSource>) -> Verifier {
        Verifier {
            keys: RwLock::new(Arc::new(keys)),
            clock,
            jwks,
            verified: Mutex::new(Verified::default()),
            signature_checks: AtomicU64::new(0),
            verified_hits: AtomicU64::new(0),
            revoked: Mutex::new(HashMap::new()),
            revocations: tokio::sync::watch::Sender::new(0),
        }
    }

    fn revoked(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], i64>> {
        self.revoked
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Refuses `token` from now on (its holder signed out); returns its digest and expiry (Unix
    /// seconds) for the other processes, or `None` for a token the keys in force do not accept
    /// (nothing to refuse).
    pub fn revoke(&self, token: &str) -> Option<([u8; 32], i64)> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = self.checked_claims(token, digest).ok()?;
        self.revoke_digest(digest, claims.exp);
        Some((digest, claims.exp))
    }

    /// Refuses the token of `digest` until `expires` (Unix seconds): one that was signed out of
    /// through another process.
    pub fn revoke_digest(&self, digest: [u8; 32], expires: i64) {
        let now = self.clock.now().timestamp();
        let mut revoked = self.revoked();
        if revoked.len() >= REVOKED_PRUNE_AT {
            revoked.retain(|_, exp| *exp + LEEWAY_SECONDS > now);
        }
        revoked.insert(digest, expires);
        drop(revoked);
        self.revocations.send_modify(|count| *count += 1);
    }

    /// Moves whenever a token is revoked here or learnt revoked from another process: what a
    /// request that outlives its check (a live stream) waits on to check its token again.
    pub fn revocations(&self) -> tokio::sync::watch::Receiver<u64> {
        self.revocations.subscribe()
    }

    /// Until when `token` is accepted (its `exp` and the leeway), if it is accepted now.
    pub fn valid_until(&self, token: &str) -> Result<DateTime<Utc>, AppError> {
        self.verify(token)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let claims = self
            .checked_claims(token, digest)
            .map_err(|e| AppError::internal(format!("a token verified just now: {e}")))?;
        Ok(
            DateTime::<Utc>::from_timestamp(claims.exp + LEEWAY_SECONDS, 0)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        )
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Signatures checked so far, and tokens that needed none because they had been verified
    /// before (`samplan_token_signature_checks_total`, `samplan_token_verified_hits_total`).
    pub fn verification_counts(&self) -> (u64, u64) {
        (
            self.signature_checks.load(Ordering::Relaxed),
            self.verified_hits.load(Ordering::Relaxed),
        )
    }

    fn keys(&self) -> Arc<Vec<VerifyingKey>> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the JWKS file again and, when its text changed, puts its keys in force: an identity
    /// provider's new key is accepted, and a removed one refused, without a restart. `Ok(true)`
    /// when the keys changed; a file that cannot be read or used is an error and the keys in
    /// force stay. Other verifiers have nothing to reload (`Ok(false)`).
    pub fn reload(&self) -> Result<bool, KeyError> {
        let Some(source) = &self.jwks else {
            return Ok(false);
        };
        let text = read_jwks(&source.path)?;
        let mut in_force = source
            .text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if *in_force == text {
            return Ok(false);
        }
        let keys = jwks_keys(&text, &source.path, &source.issuer, &source.audience)?;
        *self
            .keys
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
        // After the keys are swapped: a check that read the old keys finds a new generation.
        self.verified().forget_all();
        *in_force = text;
        Ok(true)
    }

    /// The claims of `token` if one of the keys in force verifies it: remembered from an earlier
    /// request with the same token, or checked now and remembered.
    fn checked_claims(
        &self,
        token: &str,
        digest: [u8; 32],
    ) -> Result<Claims, jsonwebtoken::errors::Error> {
        // The generation is read before the keys, so keys swapped after this point make the
        // claims checked below too old to remember.
        let generation = {
            let verified = self.verified();
            if let Some(claims) = verified.get(&digest) {
                self.verified_hits.fetch_add(1, Ordering::Relaxed);
                return Ok(claims);
            }
            verified.generation
        };
        self.signature_checks.fetch_add(1, Ordering::Relaxed);
        let claims = self.decode(token)?;
        self.verified()
            .remember(digest, &claims, generation, VERIFIED_MAX);
        Ok(claims)
    }

    /// The claims of `token` if one of the keys of the algorithm its header names verifies it.
    /// A key whose signature does not match is passed over; the first that matches decides, so
    /// a token with a good signature but a wrong issuer is refused for its issuer.
    fn decode(&self, token: &str) -> Result<Claims, jsonwebtoken::errors::Error> {
        let header = jsonwebtoken::decode_header(token)?;
        // A token that names its key (`kid`) is tried only against that key, and against keys
        // without an id; one that names none, against every key of its algorithm.
        let named = |k: &&VerifyingKey| match (&header.kid, &k.id) {
            (Some(wanted), Some(id)) => wanted == id,
            _ => true,
        };
        let mut refused = None;
        let keys = self.keys();
        for k in keys
            .iter()
            .filter(|k| k.algorithm == header.alg)
            .filter(named)
        {
            match jsonwebtoken::decode::<Claims>(token, &k.key, &k.validation) {
                Ok(data) => return Ok(data.claims),
                Err(e) if matches!(e.kind(), JwtErrorKind::InvalidSignature) => refused = Some(e),
                Err(e) => return Err(e),
            }
        }
        // No key of that algorithm: as a single-key verifier answers an algorithm it does not
        // use.
        Err(refused.unwrap_or_else(|| JwtErrorKind::InvalidAlgorithm.into()))
    }

    /// Checks `token` and returns who it names; every failure is a 401 problem.
    pub fn verify(&self, token: &str) -> Result<Caller, AppError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if self.revoked().contains_key(&digest) {
            return Err(token_error(
                "token_revoked",
                "Du har loggat ut med den här inloggningen. Logga in igen.",
            ));
        }
        let claims = self.checked_claims(token, digest).map_err(|e| {
            let (code, detail) = match e.kind() {
                JwtErrorKind::InvalidSignature
                | JwtErrorKind::InvalidAlgorithm
                | JwtErrorKind::InvalidAlgorithmName => (
                    "token_bad_signature",
                    "Inloggningens token är inte utfärdad för samplan (fel signatur).",
                ),
                JwtErrorKind::InvalidIssuer => (
                    "token_wrong_issuer",
                    "Inloggningens token kommer från fel utfärdare (iss).",
                ),
                JwtErrorKind::InvalidAudience => (
                    "token_wrong_audience",
                    "Inloggningens token är avsedd för en annan tjänst (aud).",
                ),
                // A header that cannot be read, such as one naming an algorithm that does
                // not exist (`alg: none`), is not a claims problem: the token is malformed.
                JwtErrorKind::Json(_) if jsonwebtoken::decode_header(token).is_err() => {
                    ("token_malformed", "Inloggningens token kan inte läsas.")
                }
                JwtErrorKind::MissingRequiredClaim(_) | JwtErrorKind::Json(_) => (
                    "token_claims_invalid",
                    "Inloggningens token saknar uppgifter eller har felaktiga uppgifter.",
                ),
                _ => ("token_malformed", "Inloggningens token kan inte läsas."),
            };
            tracing::debug!(error = %e, code, "token refused");
            token_error(code, detail)
        })?;

        let now = self.clock.now().timestamp();
        if claims.exp + LEEWAY_SECONDS <= now {
            return Err(token_error(
                "token_expired",
                "Inloggningen har gått ut. Logga in igen.",
            ));
        }
        if claims.iat - LEEWAY_SECONDS > now {
            return Err(token_error(
                "token_not_yet_valid",
                "Inloggningens token är utfärdad i framtiden; kontrollera klockan.",
            ));
        }
        if claims.nbf.is_some_and(|nbf| nbf - LEEWAY_SECONDS > now) {
            return Err(token_error(
                "token_not_yet_valid",
                "Inloggningens token gäller inte ännu; kontrollera klockan.",
            ));
        }
        let role = Role::parse(&claims.role).map_err(|_| {
            token_error(
                "token_claims_invalid",
                "Inloggningens token har en okänd roll.",
            )
        })?;
        let unit = match claims.unit.as_deref().filter(|u| !u.is_empty()) {
            Some(u) => Some(UnitId::parse(u).map_err(|_| {
                token_error(
                    "token_claims_invalid",
                    "Inloggningens token har ett ogiltigt enhets-id.",
                )
            })?),
            None => None,
        };
        if role == Role::Staff && unit.is_none() {
            return Err(token_error(
                "token_unit_missing",
                "Inloggningen saknar enhet (unit); personal måste agera för en enhet.",
            ));
        }
        if claims.sub.trim().is_empty() {
            return Err(token_error(
                "token_claims_invalid",
                "Inloggningens token saknar sub.",
            ));
        }
        // Who read what is logged under `sub` and `name`: a token whose claims the access log
        // cannot hold is refused here, not with a failed read later. Control characters and the
        // direction controls that turn the text after them around are refused as in any text.
        if claims.sub.chars().count() > SUB_CHARS_MAX
            || !claims.sub.chars().all(crate::text::is_allowed)
        {
            return Err(token_error(
                "token_claims_invalid",
                &format!(
                    "Inloggningens token har ett ogiltigt sub: högst {SUB_CHARS_MAX} tecken, \
                     utan styrtecken."
                ),
            ));
        }
        if claims.name.chars().count() > NAME_CHARS_MAX
            || !claims.name.chars().all(crate::text::is_allowed)
            || claims.name.contains(['\n', '\r', '\t'])
        {
            return Err(token_error(
                "token_claims_invalid",
                &format!(
                    "Inloggningens token har ett ogiltigt namn (name): högst {NAME_CHARS_MAX} \
                     tecken, utan styrtecken."
                ),
            ));
        }
        let today = domain::time::local_date(self.clock.now());
        let personal_identity_number = match claims.personal_identity_number.as_deref() {
            Some(pin) if !pin.trim().is_empty() => {
                Some(PersonalIdentityNumber::parse(pin, today).map_err(|_| {
                    token_error(
                        "token_claims_invalid",
                        "Inloggningens token har ett ogiltigt personnummer.",
                    )
                })?)
            }
            _ => None,
        };
        Ok(Caller {
            sub: claims.sub,
            role,
            unit,
            name: claims.name,
            personal_identity_number,
        })
    }
}

/// Longest `sub` a token may carry: the access log's `actor` column holds 200.
pub const SUB_CHARS_MAX: usize = 200;
/// Longest `name` a token may carry: the access log's `actor_name` column holds 300.
pub const NAME_CHARS_MAX: usize = 300;

impl VerifyingKey {
    fn new(key: DecodingKey, algorithm: Algorithm, issuer: &str, audience: &str) -> VerifyingKey {
        let mut validation = Validation::new(algorithm);
        // Time claims are checked against our clock below, so tests with a pinned clock and
        // production agree on what "expired" means.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        VerifyingKey {
            key,
            algorithm,
            id: None,
            validation,
        }
    }
}

/// The PEM blocks of `text`, each from its `-----BEGIN` line to the end of its `-----END …-----`
/// line; an unterminated block is returned as it is (and then refused as a key).
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end = block.find("-----END ").and_then(|end| {
            let after = end + "-----END ".len();
            block[after..]
                .find("-----")
                .map(|close| after + close + "-----".len())
        });
        match end {
            Some(end) => {
                blocks.push(&block[..end]);
                rest = &block[end..];
            }
            None => {
                blocks.push(block);
                break;
            }
        }
    }
    blocks
}

/// Mints tokens: `samplan token`, tests and benchmarks. HS256 with the shared secret, or RS256
/// and ES256 with a private key as an identity provider signs them.
#[derive(Clone)]
pub struct Signer {
    key: EncodingKey,
    algorithm: Algorithm,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for the shared HS256 `secret`.
    pub fn hs256(secret: &str, issuer: &str, audience: &str) -> Signer {
        Signer {
            key: EncodingKey::from_secret(secret.as_bytes()),
            algorithm: Algorithm::HS256,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        }
    }

    /// A signer for a private key in PEM form: RSA (RS256) or EC P-256 (ES256). `None` when the
    /// text is neither.
    pub fn private_key_pem(pem: &str, issuer: &str, audience: &str) -> Option<Signer> {
        let (key, algorithm) = match EncodingKey::from_rsa_pem(pem.as_bytes()) {
            Ok(key) => (key, Algorithm::RS256),
            Err(_) => (
                EncodingKey::from_ec_pem(pem.as_bytes()).ok()?,
                Algorithm::ES256,
            ),
        };
        Some(Signer {
            key,
            algorithm,
            issuer: issuer.to_string(),
            audience: audience.to_string(),
        })
    }

    /// A token for `sub` with `role`, `unit` and `name`, issued at `now`, valid for `ttl`.
    pub fn sign(
        &self,
        sub: &str,
        role: &str,
        unit: Option<&str>,
        name: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> String {
        self.sign_claims(Claims {
            sub: sub.to_string(),
            role: role.to_string(),
            unit: unit.map(str::to_string),
            name: name.to_string(),
            personal_identity_number: None,
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            nbf: None,
            iss: String::new(),
            aud: String::new(),
        })
    }

    /// A citizen's token: the person's id as `sub` (when registered) and the personnummer the
    /// sign-in established.
    pub fn sign_citizen(
        &self,
        sub: &str,
        personal_identity_number: Option<&str>,
        name: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> String {
        self.sign_claims(Claims {
            sub: sub.to_string(),
            role: "citizen".to_string(),
            unit: None,
            name: name.to_string(),
            personal_identity_number: personal_identity_number.map(str::to_string),
            iat: now.timestamp(),
            exp: (now + ttl).timestamp(),
            nbf: None,
            iss: String::new(),
            aud: String::new(),
        })
    }

    /// Signs `claims` with this signer's issuer and audience.
    fn sign_claims(&self, mut claims: Claims) -> String {
        claims.iss = self.issuer.clone();
        claims.aud = self.audience.clone();
        mint(&self.key, self.algorithm, &claims)
    }
}

/// Signs arbitrary `claims` with an HS256 `secret` (tests use it for wrong issuers and the like).
pub fn mint_token(secret: &str, claims: &Claims) -> String {
    mint(
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
        claims,
    )
}

fn mint(key: &EncodingKey, algorithm: Algorithm, claims: &Claims) -> String {
    // Encoding plain claims with a key of its own algorithm cannot fail; an empty string would
    // be refused as malformed by any verifier, which is the safe outcome should it ever happen.
    jsonwebtoken::encode(&Header::new(algorithm), claims, key).unwrap_or_default()
}

/// The file that holds the development secret inside the data directory.
pub fn development_secret_path(data_dir: &Path) -> PathBuf {
    data_dir.join("development-jwt-secret")
}

/// The development secret of the embedded default: random, created on first use in the data
/// directory (mode 0600), so that `samplan serve` and `samplan token` agree and no two
/// installations share a secret that is printed in documentation.
pub fn development_secret(data_dir: &Path) -> Result<String, KeyError> {
    let path = development_secret_path(data_dir);
    let wrap = |source| KeyError::DevelopmentSecret {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(wrap(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(wrap)?;
    let secret = random_hex(32).map_err(wrap)?;
    let mut file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .map_err(wrap)?
    };
    file.write_all(secret.as_bytes()).map_err(wrap)?;
    Ok(secret)
}

/// `bytes` random bytes from the kernel, as hex.
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(hex::encode(buf))
}

/// The text of the JWKS file at `path`.
fn read_jwks(path: &Path) -> Result<String, KeyError> {
    std::fs::read_to_string(path).map_err(|e| KeyError::Jwks {
        path: path.to_path_buf(),
        reason: format!("cannot be read ({e})"),
    })
}

/// The RS256 and ES256 keys of a JSON Web Key Set's text (see [`Verifier::jwks_file`]).
fn jwks_keys(
    text: &str,
    path: &Path,
    issuer: &str,
    audience: &str,
) -> Result<Vec<VerifyingKey>, KeyError> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
    let fail = |reason: String| KeyError::Jwks {
        path: path.to_path_buf(),
        reason,
    };
    let set: JwkSet =
        serde_json::from_str(text).map_err(|e| fail(format!("is not a JSON Web Key Set ({e})")))?;
    if set.keys.is_empty() {
        return Err(fail("holds no key".into()));
    }
    let mut keys = Vec::with_capacity(set.keys.len());
    for (i, jwk) in set.keys.iter().enumerate() {
        let name = format!(
            "key {} of {}{}",
            i + 1,
            set.keys.len(),
            jwk.common
                .key_id
                .as_deref()
                .map(|kid| format!(" (kid {kid})"))
                .unwrap_or_default()
        );
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            return Err(fail(format!("{name} is for encryption (use: enc)")));
        }
        let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
            (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
            (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                if ec.curve == EllipticCurve::P256 =>
            {
                Algorithm::ES256
            }
            _ => {
                return Err(fail(format!(
                    "{name} is not an RS256 (RSA) or ES256 (EC P-256) public key"
                )))
            }
        };
        let key =
            DecodingKey::from_jwk(jwk).map_err(|e| fail(format!("{name} cannot be used ({e})")))?;
        let mut key = VerifyingKey::new(key, algorithm, issuer, audience);
        key.id = jwk.common.key_id.clone();
        keys.push(key);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock() -> Clock {
        Clock::fixed("2026-03-10T08:00:00Z".parse().expect("valid time"))
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_staff_token_verifies_into_a_caller() {
        let c = clock();
        let token = Signer::hs256(SECRET, "samplan", "samplan").sign(
            "SE2321000016-A1B2",
            "staff",
            Some("vc-norr"),
            "Test Testsson",
            c.now(),
            Duration::minutes(10),
        );
        let caller = Verifier::hs256(SECRET, "samplan", "samplan", c)
            .verify(&token)
            .expect("valid");
        assert_eq!(caller.role, Role::Staff);
        assert_eq!(caller.unit.as_ref().map(|u| u.as_str()), Some("vc-norr"));
        assert_eq!(caller.actor().id, "SE2321000016-A1B2");
    }

    #[test]
    fn an_audience_list_naming_us_is_accepted_and_one_without_us_refused() {
        let c = clock();
        let verifier = Verifier::hs256(SECRET, "samplan", "samplan", c.clone());
        let now = c.now().timestamp();
        let token = |aud: serde_json::Value| {
            let claims = serde_json::json!({
                "sub": "SE2321000016-A1B2", "role": "staff", "unit": "vc-norr", "name": "T",
                "iat": now, "exp": now + 600, "iss": "samplan", "aud": aud,
            });
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .expect("signed")
        };
        let caller = verifier
            .verify(&token(serde_json::json!(["portal", "samplan"])))
            .expect("a list naming samplan");
        assert_eq!(caller.role, Role::Staff);
        let refused = verifier
            .verify(&token(serde_json::json!(["portal", "journal"])))
            .unwrap_err();
        assert_eq!(refused.problem().code, "token_wrong_audience");
        let refused = verifier
            .verify(&token(serde_json::json!([1, "samplan"])))
            .unwrap_err();
        assert_eq!(refused.problem().code, "token_claims_invalid");
    }

    #[test]
    fn expiry_follows_the_injected_clock() {
        let c = clock();
        let token = Signer::hs256(SECRET, "samplan", "samplan").sign(
            "a",
            "admin",
            None,
            "A",
            c.now(),
            Duration::minutes(10),
        );
        let verifier = Verifier::hs256(SECRET, "samplan", "samplan", c.clone());
        assert!(verifier.verify(&token).is_ok());
        c.set(c.now() + Duration::minutes(11));
        let err = verifier.verify(&token).unwrap_err();
        assert_eq!(err.problem().code, "token_expired");
    }

    #[test]
    fn staff_without_unit_and_unknown_roles_are_refused() {
        let c = clock();
        let signer = Signer::hs256(SECRET, "samplan", "samplan");
        let verifier = Verifier::hs256(SECRET, "samplan", "samplan", c.clone());
        let no_unit = signer.sign("a", "staff", None, "A", c.now(), Duration::minutes(1));
        assert_eq!(
            verifier.verify(&no_unit).unwrap_err().problem().code,
            "token_unit_missing"
        );
        let odd = signer.sign("a", "superuser", None, "A", c.now(), Duration::minutes(1));
        assert_eq!(
            verifier.verify(&odd).unwrap_err().problem().code,
            "token_claims_invalid"
        );
    }

    #[test]
    fn an_unsigned_token_is_malformed_and_bad_claims_stay_bad_claims() {
        let c = clock();
        let verifier = Verifier::hs256(SECRET, "samplan", "samplan", c.clone());
        let b64 = |bytes: &[u8]| {
            // Base64url without padding, written out so that any header can be forged.
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk
                    .iter()
                    .chain(std::iter::repeat(&0))
                    .take(3)
                    .fold(0u32, |n, b| (n << 8) | u32::from(*b));
                for i in 0..=chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                }
            }
            out
        };
        let now = c.now().timestamp();
        let claims = format!(
            r#"{{"sub":"a","role":"admin","iat":{now},"exp":{},"iss":"samplan","aud":"samplan"}}"#,
            now + 60
        );
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"None","typ":"JWT"}"#,
            r#"{"typ":"JWT"}"#,
        ] {
            let token = format!("{}.{}.", b64(header.as_bytes()), b64(claims.as_bytes()));
            let err = verifier.verify(&token).expect_err(header);
            assert_eq!(err.problem().code, "token_malformed", "{header}");
        }
        // A readable header, a good signature and claims of the wrong type: about the claims.
        let input = format!(
            "{}.{}",
            b64(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64(format!(
                r#"{{"sub":5,"role":"admin","iat":{now},"exp":{},"iss":"samplan","aud":"samplan"}}"#,
                now + 60
            )
            .as_bytes())
        );
        let mut mac =
            <hmac::Hmac<sha2::Sha256> as hmac::KeyInit>::new_from_slice(SECRET.as_bytes())
                .expect("any key length");
        hmac::Mac::update(&mut mac, input.as_bytes());
        let signature = b64(&hmac::Mac::finalize(mac).into_bytes());
        let err = verifier
            .verify(&format!("{input}.{signature}"))
            .expect_err("odd claims");
        assert_eq!(err.problem().code, "token_claims_invalid");
    }

    #[test]
    fn a_rotating_verifier_accepts_both_secrets_and_only_them() {
        let c = clock();
        const OLD: &str = "fedcba9876543210fedcba9876543210";
        let token = |secret: &str| {
            Signer::hs256(secret, "samplan", "samplan").sign(
                "a",
                "admin",
                None,
                "A",
                c.now(),
                Duration::minutes(10),
            )
        };
        let rotating = Verifier::hs256_secrets(&[SECRET, OLD], "samplan", "samplan", c.clone());
        assert!(rotating.verify(&token(SECRET)).is_ok());
        assert!(rotating.verify(&token(OLD)).is_ok());
        let err = rotating
            .verify(&token("0000000000000000000000000000000000"))
            .unwrap_err();
        assert_eq!(err.problem().code, "token_bad_signature");
        // A good signature with a wrong issuer is refused for its issuer, whichever key matched.
        let foreign = Signer::hs256(OLD, "annan", "samplan").sign(
            "a",
            "admin",
            None,
            "A",
            c.now(),
            Duration::minutes(10),
        );
        assert_eq!(
            rotating.verify(&foreign).unwrap_err().problem().code,
            "token_wrong_issuer"
        );
        // After the rotation the old secret's tokens are refused.
        let rotated = Verifier::hs256(SECRET, "samplan", "samplan", c.clone());
        assert_eq!(
            rotated.verify(&token(OLD)).unwrap_err().problem().code,
            "token_bad_signature"
        );
    }

    #[test]
    fn pem_blocks_are_split_and_each_must_be_a_key() {
        let text = "junk\n-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n\
                    -----BEGIN PUBLIC KEY-----\nBBBB\n-----END PUBLIC KEY-----";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert!(blocks[0].ends_with("-----END PUBLIC KEY-----") && blocks[0].contains("AAAA"));
        assert!(blocks[1].contains("BBBB"));
        assert!(matches!(
            Verifier::public_key_pem(text, "samplan", "samplan", clock()),
            Err(KeyError::UnsupportedPublicKey {
                number: 1,
                count: 2
            })
        ));
        assert!(matches!(
            Verifier::public_key_pem("no key", "samplan", "samplan", clock()),
            Err(KeyError::NoPublicKey)
        ));
    }

    /// An EC P-256 private key in PEM, made by `openssl` for this run.
    fn ec_private_key() -> String {
        let out = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .output()
            .expect("the openssl command line tool makes the test key");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("PEM")
    }

    #[test]
    fn a_jwks_file_selects_by_kid_and_refuses_symmetric_keys() {
        use jsonwebtoken::jwk::Jwk;
        let c = clock();
        let dir = std::env::temp_dir().join(format!("samplan-jwks-{}", ulid::Ulid::generate()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (old, new) = (ec_private_key(), ec_private_key());
        let old = EncodingKey::from_ec_pem(old.as_bytes()).expect("old key");
        let new = EncodingKey::from_ec_pem(new.as_bytes()).expect("new key");
        let jwk = |key: &EncodingKey, kid: &str| {
            let mut jwk = Jwk::from_encoding_key(key, Algorithm::ES256).expect("jwk");
            jwk.common.key_id = Some(kid.into());
            jwk
        };
        let path = dir.join("jwks.json");
        let write = |keys: Vec<Jwk>| {
            let set = serde_json::json!({ "keys": keys });
            std::fs::write(&path, set.to_string()).expect("jwks file");
        };
        let claims = Claims {
            sub: "a".into(),
            role: "admin".into(),
            unit: None,
            name: "A".into(),
            personal_identity_number: None,
            exp: c.now().timestamp() + 600,
            iat: c.now().timestamp(),
            nbf: None,
            iss: "samplan".into(),
            aud: "samplan".into(),
        };
        let token = |key: &EncodingKey, kid: Option<&str>| {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = kid.map(str::to_string);
            jsonwebtoken::encode(&header, &claims, key).expect("signed")
        };

        write(vec![jwk(&new, "2026-12"), jwk(&old, "2026-06")]);
        let both = Verifier::jwks_file(&path, "samplan", "samplan", c.clone()).expect("both");
        assert!(both.verify(&token(&old, Some("2026-06"))).is_ok());
        assert!(both.verify(&token(&new, Some("2026-12"))).is_ok());
        assert!(both.verify(&token(&new, None)).is_ok(), "no kid: every key");
        // A kid selects its key only: the old key's signature under the new key's id fails.
        let wrong = both.verify(&token(&old, Some("2026-12"))).unwrap_err();
        assert_eq!(wrong.problem().code, "token_bad_signature");

        write(vec![jwk(&new, "2026-12")]);
        let rotated = Verifier::jwks_file(&path, "samplan", "samplan", c.clone()).expect("new");
        let err = rotated.verify(&token(&old, Some("2026-06"))).unwrap_err();
        assert_eq!(err.problem().code, "token_bad_signature");
        // An HS256 token is never checked against these keys.
        let hs = Signer::hs256(SECRET, "samplan", "samplan").sign(
            "a",
            "admin",
            None,
            "A",
            c.now(),
            Duration::minutes(1),
        );
        assert_eq!(
            rotated.verify(&hs).unwrap_err().problem().code,
            "token_bad_signature"
        );

        // The running verifier reads the file again: the rotation needs no restart.
        write(vec![jwk(&new, "2026-12"), jwk(&old, "2026-06")]);
        let running = Verifier::jwks_file(&path, "samplan", "samplan", c.clone()).expect("both");
        // Verified (and remembered) under the old key before it is removed.
        assert!(running.verify(&token(&old, Some("2026-06"))).is_ok());
        assert!(
            !running.reload().expect("unchanged"),
            "the same text: nothing to do"
        );
        write(vec![jwk(&new, "2026-12")]);
        assert!(
            running.reload().expect("reloaded"),
            "the old key was removed"
        );
        assert_eq!(
            running
                .verify(&token(&old, Some("2026-06")))
                .unwrap_err()
                .problem()
                .code,
            "token_bad_signature"
        );
        assert!(running.verify(&token(&new, Some("2026-12"))).is_ok());

        std::fs::write(
            &path,
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0","alg":"HS256"}]}"#,
        )
        .expect("jwks file");
        let err = Verifier::jwks_file(&path, "samplan", "samplan", c).unwrap_err();
        assert!(err.to_string().contains("key 1 of 1"), "{err}");
        // A file that cannot be used does not take the running verifier's keys away.
        let err = running.reload().unwrap_err();
        assert!(err.to_string().contains("key 1 of 1"), "{err}");
        assert!(running.verify(&token(&new, Some("2026-12"))).is_ok());
        std::fs::write(&path, "{").expect("jwks file");
        assert!(running.reload().is_err());
        assert!(running.verify(&token(&new, Some("2026-12"))).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_verified_token_skips_its_signature_check_but_never_the_clock() {
        let c = clock();
        let verifier = Verifier::hs256(SECRET, "samplan", "samplan", c.clone());
        let token = Signer::hs256(SECRET, "samplan", "samplan").sign(
            "hsa-1",
            "staff",
            Some("vc-norr"),
            "Anna",
            c.now(),
            Duration::minutes(10),
        );
        for _ in 0..3 {
            assert_eq!(verifier.verify(&token).expect("valid").sub, "hsa-1");
        }
        assert_eq!(
            verifier.verification_counts(),
            (1, 2),
            "one signature check"
        );

        // The same token with another signature is checked, and refused.
        let (signed, signature) = token.rsplit_once('.').expect("three parts");
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let forged = format!("{signed}.{flipped}{}", &signature[1..]);
        let err = verifier.verify(&forged).unwrap_err();
        assert_eq!(err.problem().code, "token_bad_signature");
        assert_eq!(verifier.verification_counts(), (2, 2));

        // Remembered or not, a token expires on time.
        c.set(c.now() + Duration::minutes(10) + Duration::seconds(LEEWAY_SECONDS));
        let err = verifier.verify(&token).unwrap_err();
        assert_eq!(err.problem().code, "token_expired");
        assert_eq!(verifier.verification_counts(), (2, 3));
    }

    #[test]
    fn verified_tokens_are_bounded_and_forgotten_when_the_keys_change() {
        let claims = |sub: &str| Claims {
            sub: sub.into(),
            role: "staff".into(),
            unit: Some("vc-norr".into()),
            name: String::new(),
            personal_identity_number: None,
            exp: 0,
            iat: 0,
            nbf: None,
            iss: "samplan".into(),
            aud: "samplan".into(),
        };
        let mut verified = Verified::default();
        for (i, sub) in ["a", "b", "c"].iter().enumerate() {
            verified.remember([i as u8; 32], &claims(sub), 0, 2);
        }
        assert!(verified.get(&[0; 32]).is_none(), "the oldest is forgotten");
        assert_eq!(verified.get(&[2; 32]).map(|c| c.sub), Some("c".into()));
        assert_eq!((verified.claims.len(), verified.order.len()), (2, 2));

        verified.forget_all();
        assert!(verified.get(&[2; 32]).is_none());
        // A check made under the keys before the change does not enter after it.
        verified.remember([9; 32], &claims("d"), 0, 2);
        assert!(verified.get(&[9; 32]).is_none());
        verified.remember([9; 32], &claims("d"), 1, 2);
        assert!(verified.get(&[9; 32]).is_some());
    }

    #[test]
    fn development_secret_is_stable_per_data_dir() {
        let dir =
            std::env::temp_dir().join(format!("samplan-devsecret-{}", ulid::Ulid::generate()));
        let first = development_secret(&dir).expect("created");
        let second = development_secret(&dir).expect("read back");
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
