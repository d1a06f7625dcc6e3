//! Signing in and out, and what keeps the pages safe to use.
//!
//! **The session** is the same JWT the API takes as `Authorization: Bearer`, carried in an
//! HttpOnly, SameSite=Strict cookie (Secure, and named with the `__Host-` prefix, behind TLS) and
//! checked by the same [`crate::auth::Verifier`] on every request: a page can do nothing the
//! token could not do through the API. In development (the embedded default's development key, or
//! `SAMPLAN_WEB_DEMO_SIGN_IN=on` with an HS256 secret) the sign-in page offers the demo's people
//! and mints their token with the deployment's own key; in production a token from the identity
//! provider is posted to the same form.
//!
//! **CSRF**: every form carries a token that is an HMAC, keyed by a random per-browser cookie
//! (`samplan_csrf`, HttpOnly, SameSite=Strict), over a digest of the session token: a signed
//! double submit bound to the session, so a token from before signing in, or from another
//! browser, is refused. A request another site started (`Sec-Fetch-Site`, `Origin`) is refused
//! as well. See ADR 0019.

use super::form::Fields;
use super::{demo_users, html, Layout, UserBar, WebError};
use crate::auth::{random_hex, Caller, Signer, Verifier};
use crate::config::{Config, JwtKey, Switch};
use crate::state::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use domain::context::Role;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The session cookie over plain HTTP (development) and behind TLS.
const SESSION_COOKIE: &str = "samplan_session";
const SESSION_COOKIE_SECURE: &str = "__Host-samplan_session";
/// The per-browser key of the form tokens.
const CSRF_COOKIE: &str = "samplan_csrf";
const CSRF_COOKIE_SECURE: &str = "__Host-samplan_csrf";
/// What a form token signs besides the session, so that it is never valid for anything else.
const CSRF_CONTEXT: &[u8] = b"samplan-web-form-v2\n";
/// How long a demo sign-in lasts.
const DEMO_TTL_MINUTES: i64 = 8 * 60;
/// The longest token accepted in the sign-in form.
const TOKEN_CHARS_MAX: usize = 8 * 1024;

/// Whether the sign-in page offers the demo's people.
#[derive(Clone)]
pub enum DemoSignIn {
    Off,
    /// Mint the demo people's tokens with this signer (the deployment's own HS256 key).
    On(Signer),
}

/// When cookies get the `Secure` attribute (and the `__Host-` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecureCookies {
    /// When the request came over TLS, as a proxy in front says (`X-Forwarded-Proto: https`).
    Auto,
    Always,
    Never,
}

/// The web's own settings.
#[derive(Clone)]
pub struct WebConfig {
    pub demo: DemoSignIn,
    pub secure_cookies: SecureCookies,
}

impl WebConfig {
    /// Production defaults: no demo sign-in, Secure cookies behind TLS.
    pub fn production() -> WebConfig {
        WebConfig {
            demo: DemoSignIn::Off,
            secure_cookies: SecureCookies::Auto,
        }
    }

    /// From the environment, as `samplan token` reads its key; `demo_data`: the service was
    /// started with `--demo`.
    ///
    /// - `SAMPLAN_WEB_DEMO_SIGN_IN`: `auto` (default: on only with `--demo` and the embedded
    ///   default's development key — a plain `samplan serve` offers nobody to pick, since anyone
    ///   reaching the port could pick the auditor), `on` (also without `--demo`, and with
    ///   `SAMPLAN_JWT_SECRET`), `off`;
    /// - `SAMPLAN_WEB_SECURE_COOKIES`: `auto` (default: when `X-Forwarded-Proto` is `https`),
    ///   `on`, `off`.
    pub fn from_env(demo_data: bool) -> WebConfig {
        // A configuration that does not parse stops the service before its router is built.
        let Ok(config) = Config::from_env() else {
            return WebConfig::production();
        };
        let secure_cookies = match config.web_secure_cookies {
            Switch::On => SecureCookies::Always,
            Switch::Off => SecureCookies::Never,
            Switch::Auto => SecureCookies::Auto,
        };
        let demo = match demo_wanted(config.web_demo_sign_in, demo_data) {
            DemoWanted::No => DemoSignIn::Off,
            wanted => {
                let explicit = wanted == DemoWanted::Explicitly;
                let secret = match &config.jwt_key {
                    JwtKey::Secret(secret) if explicit => Some(secret.clone()),
                    // Read, never created here: `build_state` made it before the router.
                    JwtKey::Development => std::fs::read_to_string(
                        crate::auth::development_secret_path(&config.data_dir),
                    )
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| s.len() >= 32),
                    _ => None,
                };
                match secret {
                    Some(secret) => DemoSignIn::On(Signer::hs256(
                        &secret,
                        &config.jwt_issuer,
                        &config.jwt_audience,
                    )),
                    None => DemoSignIn::Off,
                }
            }
        };
        WebConfig {
            demo,
            secure_cookies,
        }
    }

    /// The demo signer, when demo sign-in is on and its tokens pass this deployment's verifier.
    fn demo_signer(
        &self,
        verifier: &Verifier,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<&Signer> {
        let DemoSignIn::On(signer) = &self.demo else {
            return None;
        };
        let probe = signer.sign(
            "demo-probe",
            "auditor",
            None,
            "",
            now,
            chrono::Duration::minutes(1),
        );
        verifier.verify(&probe).is_ok().then_some(signer)
    }
}

/// Whether the demo sign-in is asked for, by `SAMPLAN_WEB_DEMO_SIGN_IN` and `--demo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DemoWanted {
    No,
    /// `auto` with `--demo`: on with the embedded default's development key only.
    WithTheDemo,
    /// `on`: also with `SAMPLAN_JWT_SECRET`, and without `--demo`.
    Explicitly,
}

fn demo_wanted(setting: Switch, demo_data: bool) -> DemoWanted {
    match setting {
        Switch::On => DemoWanted::Explicitly,
        Switch::Off => DemoWanted::No,
        Switch::Auto if demo_data => DemoWanted::WithTheDemo,
        Switch::Auto => DemoWanted::No,
    }
}

/// The browser's side of a request: who is signed in, and the key of its form tokens.
pub(crate) struct Visitor {
    /// The signed-in caller, verified as the API verifies a Bearer token.
    pub caller: Option<Caller>,
    session_token: Option<String>,
    /// Seconds until the sign-in ends (the token's `exp` and the leeway), by the service's clock.
    session_left_secs: Option<i64>,
    /// A session cookie was sent but refused (expired, or signed with another key).
    pub session_refused: bool,
    /// The signed-in staff member's unit is not registered in samplan, or reached by letter:
    /// why, in Swedish. The API refuses such a token (`extract::check_staff_unit`, 403
    /// `unit_unknown` or `unit_outside_samplan`); every page that needs the caller refuses it
    /// the same way (`caller`, `staff`).
    unit_refused: Option<String>,
    csrf_key: String,
    /// The form-token key is new: the response must set its cookie.
    csrf_key_new: bool,
    secure: bool,
    /// The request was started by another site (`Sec-Fetch-Site`) or from another origin.
    cross_site: bool,
    /// The path asked for: where a form sent while signed out is sent again.
    path: String,
    config: Arc<WebConfig>,
}

fn cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            Some((name.trim(), value.trim()))
        })
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookies(headers)
        .find(|(n, value)| *n == name && !value.is_empty())
        .map(|(_, value)| value)
}

/// Whether another site started this request: browsers say so in `Sec-Fetch-Site`; older ones
/// send `Origin` on a POST, which must then name this host.
fn from_another_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    match (header("origin"), header("host")) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .map(|(_, authority)| authority)
            .is_none_or(|authority| !authority.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let config = parts
            .extensions
            .get::<Arc<WebConfig>>()
            .cloned()
            .unwrap_or_else(|| Arc::new(WebConfig::production()));
        let headers = &parts.headers;
        let secure = match config.secure_cookies {
            SecureCookies::Always => true,
            SecureCookies::Never => false,
            SecureCookies::Auto => headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https")),
        };
        // Over TLS only the `__Host-` cookies count: a cookie without the prefix may have been
        // set by a sibling host or over plain HTTP, and must not replace the browser's session
        // (or its form-token key) with someone else's.
        let (session_name, csrf_name) = if secure {
            (SESSION_COOKIE_SECURE, CSRF_COOKIE_SECURE)
        } else {
            (SESSION_COOKIE, CSRF_COOKIE)
        };
        let session_token = cookie(headers, session_name).map(str::to_owned);
        let caller = session_token
            .as_deref()
            .and_then(|t| state.verifier.verify(t).ok());
        let unit_refused = match &caller {
            Some(caller) => unit_refusal(state, caller).await?,
            None => None,
        };
        let session_left_secs = match (&caller, session_token.as_deref()) {
            (Some(_), Some(token)) => state
                .verifier
                .valid_until(token)
                .ok()
                .map(|until| (until - state.clock.now()).num_seconds().max(0)),
            _ => None,
        };
        let (csrf_key, csrf_key_new) = match cookie(headers, csrf_name)
            .filter(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            Some(key) => (key.to_owned(), false),
            None => (
                random_hex(32).map_err(|e| WebError::App(crate::error::AppError::internal(e)))?,
                true,
            ),
        };
        Ok(Visitor {
            session_refused: session_token.is_some() && caller.is_none(),
            unit_refused,
            caller,
            session_token,
            session_left_secs,
            csrf_key,
            csrf_key_new,
            secure,
            cross_site: from_another_site(headers),
            path: parts.uri.path().to_owned(),
            config,
        })
    }
}

impl Visitor {
    /// The form token of this browser and session.
    pub fn csrf_token(&self) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.csrf_key.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(CSRF_CONTEXT);
        mac.update(&self.signed_in_as());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whom a form token is bound to besides the browser: the signed-in user (role, id and
    /// unit), or nobody. Not the session token itself: a user who signs in again in another tab
    /// before the sign-in ends (the page warns) can still send what they typed here, while a
    /// form from another user's sign-in in the same browser is refused.
    fn signed_in_as(&self) -> [u8; 32] {
        let who = self.caller.as_ref().map_or_else(String::new, |c| {
            format!(
                "{}\n{}\n{}",
                c.role.as_str(),
                c.sub,
                c.unit.as_ref().map_or("", |u| u.as_str())
            )
        });
        Sha256::digest(who.as_bytes()).into()
    }

    /// Refuses a form of a signed-in page whose token is missing or wrong, or that another site
    /// posted. Posted when nobody is signed in any more (signed out in another tab, or the
    /// sign-in expired), it goes to the sign-in page: the form was not forged, its session ended,
    /// and nothing is done.
    pub fn check_form(&self, token: Option<&str>) -> Result<(), WebError> {
        if self.caller.is_none() {
            return Err(WebError::SignIn);
        }
        self.check_form_token(token)
    }

    /// [`Visitor::check_form`] for a form with fields to fill. Posted after the sign-in ended
    /// or after signing out in another tab, nothing is done, but what was typed is not lost
    /// either: the answer is a page that holds the form as it was sent, to send again once
    /// signed in again as the same user (its token is bound to the browser and the user, ADR
    /// 0048), and shows the text to copy. Only a form from this site's own pages gets that
    /// page (its token and this browser's key are there); anything else goes to the sign-in.
    pub fn check_posted(&self, fields: &Fields) -> Result<(), WebError> {
        if self.caller.is_none()
            && !self.cross_site
            && !self.csrf_key_new
            && fields.csrf().is_some_and(|t| !t.trim().is_empty())
        {
            return Err(WebError::SignedOut {
                action: self.path.clone(),
                fields: fields.0.clone(),
                kept: fields.typed_text(),
            });
        }
        self.check_form(fields.csrf())
    }

    /// Refuses a form whose token is missing or wrong, or that another site posted, signed in
    /// or not (the sign-in form itself).
    pub fn check_form_token(&self, token: Option<&str>) -> Result<(), WebError> {
        if self.cross_site || self.csrf_key_new {
            return Err(WebError::FormExpired);
        }
        let Some(token) = token.and_then(|t| hex::decode(t.trim()).ok()) else {
            return Err(WebError::FormExpired);
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.csrf_key.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(CSRF_CONTEXT);
        mac.update(&self.signed_in_as());
        // Compared in constant time.
        mac.verify_slice(&token).map_err(|_| WebError::FormExpired)
    }

    /// The signed-in caller, or off to the sign-in page; a staff member of a unit samplan does
    /// not know gets the 403 page, as the API answers their token.
    pub fn caller(&self) -> Result<&Caller, WebError> {
        let caller = self.caller.as_ref().ok_or(WebError::SignIn)?;
        if let Some(detail) = &self.unit_refused {
            return Err(WebError::Forbidden(detail.clone()));
        }
        Ok(caller)
    }

    /// The session's token, when one was sent and accepted.
    pub fn session_token(&self) -> Option<&str> {
        self.caller.as_ref().and(self.session_token.as_deref())
    }

    /// The signed-in staff member and their unit; other roles get the 403 page.
    pub fn staff(&self) -> Result<&Caller, WebError> {
        let caller = self.caller()?;
        if caller.role != Role::Staff || caller.unit.is_none() {
            return Err(WebError::Forbidden(
                "Sidan är till för personal som arbetar för en enhet.".into(),
            ));
        }
        Ok(caller)
    }

    /// The signed-in auditor; other roles get the 403 page.
    pub fn auditor(&self) -> Result<&Caller, WebError> {
        let caller = self.caller()?;
        if caller.role != Role::Auditor {
            return Err(WebError::Forbidden(
                "Sidan är till för granskare (revisorer) av loggarna.".into(),
            ));
        }
        Ok(caller)
    }

    /// The signed-in follow-up (role reporting); other roles get the 403 page.
    pub fn reporting(&self) -> Result<&Caller, WebError> {
        let caller = self.caller()?;
        if caller.role != Role::Reporting {
            return Err(WebError::Forbidden(
                "Sidan är till för dem som följer upp SIP (rollen uppföljning).".into(),
            ));
        }
        Ok(caller)
    }

    /// The signed-in administrator; other roles get the 403 page.
    pub fn admin(&self) -> Result<&Caller, WebError> {
        let caller = self.caller()?;
        if caller.role != Role::Admin {
            return Err(WebError::Forbidden(
                "Sidan är till för administratörer, som registrerar enheter.".into(),
            ));
        }
        Ok(caller)
    }

    /// The page header for the signed-in caller, `unit_name` being the staff member's unit.
    pub fn layout(&self, title: impl Into<String>, unit_name: Option<String>) -> Layout {
        let user = self.caller.as_ref().map(|c| UserBar {
            name: c.name.clone(),
            acting_as: match c.role {
                Role::Staff => unit_name
                    .or_else(|| c.unit.as_ref().map(|u| u.as_str().to_owned()))
                    .unwrap_or_default(),
                Role::Citizen => "Invånare".into(),
                Role::Auditor => "Revisor".into(),
                Role::Reporting => "Uppföljning".into(),
                Role::Admin => "Administratör".into(),
            },
            home: home_of(c.role),
            staff: c.role == Role::Staff,
            auditor: c.role == Role::Auditor,
            session_left_secs: self.session_left_secs,
        });
        Layout::new(title, user, self.csrf_token())
    }

    /// `response` with the cookie of a new form-token key, when one was made, and over TLS
    /// `Strict-Transport-Security`: the browser then never sends the session over plain HTTP.
    pub fn finish(&self, mut response: Response) -> Response {
        if self.secure {
            response
                .headers_mut()
                .entry(header::STRICT_TRANSPORT_SECURITY)
                .or_insert(HeaderValue::from_static("max-age=31536000"));
        }
        if self.csrf_key_new {
            let name = if self.secure {
                CSRF_COOKIE_SECURE
            } else {
                CSRF_COOKIE
            };
            if let Ok(value) = set_cookie(name, &self.csrf_key, self.secure, None) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        response
    }

    /// Renders `page` and sets what must be set.
    pub fn page(&self, page: &impl Template) -> Result<Response, WebError> {
        Ok(self.finish(html(page)?))
    }
}

/// Why a signed-in caller's unit is refused, as `extract::check_staff_unit` says it to the API
/// (a staff token naming a unit not registered here, or one reached by letter); `None` for a
/// unit working in samplan or another role. A failure to find out (the store) is the error
/// page's, not a refusal.
async fn unit_refusal(state: &AppState, caller: &Caller) -> Result<Option<String>, WebError> {
    match crate::extract::check_staff_unit(state, caller).await {
        Ok(()) => Ok(None),
        Err(crate::error::AppError::Forbidden { detail, .. }) => Ok(Some(detail)),
        Err(other) => Err(WebError::App(other)),
    }
}

fn set_cookie(
    name: &str,
    value: &str,
    secure: bool,
    max_age: Option<i64>,
) -> Result<HeaderValue, header::InvalidHeaderValue> {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        text.push_str("; Secure");
    }
    if let Some(seconds) = max_age {
        text.push_str(&format!("; Max-Age={seconds}"));
    }
    HeaderValue::from_str(&text)
}

// ---- pages --------------------------------------------------------------------------------

/// A button of the demo sign-in.
struct DemoChoice {
    key: &'static str,
    name: &'static str,
    description: &'static str,
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    layout: Layout,
    staff: Vec<DemoChoice>,
    others: Vec<DemoChoice>,
    expired: bool,
    token: String,
    token_error: Option<String>,
    /// The page asked for before signing in, to go back to ([`return_path`]).
    till: Option<String>,
    /// Signed out a moment ago ("Logga ut").
    signed_out: bool,
}

/// `till` as a page of this site to go back to after signing in: a path of its own (never
/// another host: not `//…`, no `\`, no scheme), not the sign-in or sign-out itself, nor a
/// fragment of a page, nor the start page, where signing in leads anyway; `None` otherwise.
pub(crate) fn return_path(till: &str) -> Option<&str> {
    let fits = till.len() <= 512
        && till != "/"
        && till.starts_with('/')
        && !till.starts_with("//")
        && !till.contains('\\')
        && !till.chars().any(char::is_control)
        && !["/logga-in", "/logga-ut", "/start/", "/assets/", "/api/"]
            .iter()
            .any(|p| till.starts_with(p));
    fits.then_some(till)
}

/// Where a role's pages begin: Min plan for the person, Granskning for an auditor, Uppföljning
/// for the follow-up, Enheter for an administrator, the start page for staff.
pub(crate) fn home_of(role: Role) -> &'static str {
    match role {
        Role::Citizen => "/min-plan",
        Role::Auditor => "/granskning",
        Role::Reporting => "/uppfoljning",
        Role::Admin => "/enheter",
        Role::Staff => "/",
    }
}

/// Whether `path` is among `role`'s pages: Min plan is the person's alone, Granskning the
/// auditor's, Uppföljning the follow-up's, Enheter the administrator's, and the rest is not
/// theirs.
fn fits_role(role: Role, path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let own = |home: &str| path == home || path.starts_with(&format!("{home}/"));
    match role {
        Role::Citizen | Role::Auditor | Role::Reporting | Role::Admin => own(home_of(role)),
        Role::Staff => [Role::Citizen, Role::Auditor, Role::Reporting, Role::Admin]
            .iter()
            .all(|other| !own(home_of(*other))),
    }
}

/// The query of `GET /logga-in`.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    till: Option<String>,
    /// Arrived from "Logga ut": the page says it went through.
    utloggad: Option<String>,
}

fn sign_in_view(
    state: &AppState,
    visitor: &Visitor,
    token: String,
    token_error: Option<String>,
    till: Option<&str>,
) -> SignInPage {
    let demo = visitor
        .config
        .demo_signer(&state.verifier, state.clock.now())
        .is_some();
    let (staff, others): (Vec<_>, Vec<_>) = demo_users::all()
        .into_iter()
        .filter(|_| demo)
        .map(|u| {
            (
                u.role == "staff",
                DemoChoice {
                    key: u.key,
                    name: u.name,
                    description: u.description,
                },
            )
        })
        .partition(|(staff, _)| *staff);
    SignInPage {
        layout: visitor.layout("Logga in", None),
        staff: staff.into_iter().map(|(_, c)| c).collect(),
        others: others.into_iter().map(|(_, c)| c).collect(),
        expired: visitor.session_refused,
        token,
        token_error,
        till: till.and_then(return_path).map(str::to_owned),
        signed_out: false,
    }
}

/// `GET /logga-in`.
pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    visitor: Visitor,
    super::WebQuery(query): super::WebQuery<SignInQuery>,
) -> Result<Response, WebError> {
    let mut page = sign_in_view(&state, &visitor, String::new(), None, query.till.as_deref());
    page.signed_out = query.utloggad.is_some() && !page.expired;
    visitor.page(&page)
}

/// What the sign-in form posts: a demo person's key, or a token.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    #[serde(rename = "_csrf")]
    csrf: Option<String>,
    demo: Option<String>,
    token: Option<String>,
    /// The page to go back to ([`return_path`]).
    till: Option<String>,
}

/// `POST /logga-in`: sets the session cookie and goes to the caller's start page.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Extension(config): Extension<Arc<WebConfig>>,
    visitor: Visitor,
    Form(form): Form<SignInForm>,
) -> Result<Response, WebError> {
    visitor.check_form_token(form.csrf.as_deref())?;
    let now = state.clock.now();
    let token = match (form.demo.as_deref(), form.token.as_deref()) {
        (Some(key), _) => {
            let (Some(signer), Some(user)) = (
                config.demo_signer(&state.verifier, now),
                demo_users::find(key),
            ) else {
                return Err(WebError::Forbidden(
                    "Inloggning som demoanvändare är inte påslagen här.".into(),
                ));
            };
            let ttl = chrono::Duration::minutes(DEMO_TTL_MINUTES);
            if user.role == "citizen" {
                signer.sign_citizen(
                    &user.sub,
                    user.personal_identity_number,
                    user.name,
                    now,
                    ttl,
                )
            } else {
                signer.sign(&user.sub, user.role, user.unit, user.name, now, ttl)
            }
        }
        (None, Some(token)) => token.trim().to_owned(),
        (None, None) => String::new(),
    };
    let caller = if token.is_empty() || token.len() > TOKEN_CHARS_MAX {
        Err("Klistra in en token från inloggningstjänsten.".to_string())
    } else {
        state
            .verifier
            .verify(&token)
            .map_err(|e| e.problem().detail)
    };
    // A valid token for a unit samplan does not know is refused here too, as the API does: no
    // session is set, and the page says why.
    let caller = match caller {
        Ok(caller) => match unit_refusal(&state, &caller).await? {
            None => Ok(caller),
            Some(detail) => Err((axum::http::StatusCode::FORBIDDEN, detail)),
        },
        Err(detail) => Err((axum::http::StatusCode::BAD_REQUEST, detail)),
    };
    let caller = match caller {
        Ok(caller) => caller,
        Err((status, detail)) => {
            let kept = form.token.unwrap_or_default();
            let mut response = visitor.page(&sign_in_view(
                &state,
                &visitor,
                kept,
                Some(detail),
                form.till.as_deref(),
            ))?;
            *response.status_mut() = status;
            return Ok(response);
        }
    };
    let name = if visitor.secure {
        SESSION_COOKIE_SECURE
    } else {
        SESSION_COOKIE
    };
    let cookie = set_cookie(name, &token, visitor.secure, None)
        .map_err(|_| WebError::App(crate::error::AppError::internal("session cookie")))?;
    // Back to the page asked for, when it is one for this role (Min plan is the person's alone,
    // Granskning the auditor's).
    let to = form
        .till
        .as_deref()
        .and_then(return_path)
        .filter(|till| fits_role(caller.role, till))
        .unwrap_or(home_of(caller.role));
    let mut response = Redirect::to(to).into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(visitor.finish(response))
}

/// What the sign-out form posts.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfOnly {
    #[serde(rename = "_csrf")]
    pub csrf: Option<String>,
}

/// `POST /logga-ut`: ends the session — its token is refused from now on, by every gateway
/// (`revocations`), and the browser forgets the cookie.
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    visitor.check_form(form.csrf.as_deref())?;
    if let Some(token) = &visitor.session_token {
        super::revocations::revoke(&state, token).await;
    }
    // The sign-in page says it went through (an accessibility review found no word of it).
    let mut response = Redirect::to("/logga-in?utloggad=ja").into_response();
    for (name, secure) in [(SESSION_COOKIE, false), (SESSION_COOKIE_SECURE, true)] {
        if secure && !visitor.secure {
            continue;
        }
        if let Ok(value) = set_cookie(name, "", secure, Some(0)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn cookies_are_found_by_name_in_any_cookie_header() {
        let h = headers(&[
            ("cookie", "a=1; samplan_csrf=abc"),
            ("cookie", "__Host-samplan_session=tok"),
        ]);
        assert_eq!(cookie(&h, CSRF_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, SESSION_COOKIE_SECURE), Some("tok"));
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn requests_from_another_site_are_recognised() {
        assert!(!from_another_site(&headers(&[])));
        assert!(!from_another_site(&headers(&[
            ("sec-fetch-site", "same-origin"),
            ("origin", "http://127.0.0.1:8080"),
            ("host", "127.0.0.1:8080"),
        ])));
        assert!(from_another_site(&headers(&[(
            "sec-fetch-site",
            "cross-site"
        )])));
        assert!(from_another_site(&headers(&[(
            "sec-fetch-site",
            "same-site"
        )])));
        assert!(from_another_site(&headers(&[
            ("origin", "https://evil.example"),
            ("host", "127.0.0.1:8080"),
        ])));
        assert!(from_another_site(&headers(&[("origin", "null")])));
    }

    fn visitor(session: Option<&str>, key: &str) -> Visitor {
        Visitor {
            caller: None,
            session_token: session.map(str::to_owned),
            session_left_secs: None,
            session_refused: false,
            unit_refused: None,
            csrf_key: key.to_owned(),
            csrf_key_new: false,
            secure: false,
            cross_site: false,
            path: "/".to_owned(),
            config: Arc::new(WebConfig::production()),
        }
    }

    fn signed_in(session: &str, key: &str, sub: &str) -> Visitor {
        let mut v = visitor(Some(session), key);
        v.caller = Some(Caller {
            sub: sub.into(),
            role: Role::Staff,
            unit: Some(domain::UnitId::parse("vc-test").expect("a unit id")),
            name: "Vera".into(),
            personal_identity_number: None,
        });
        v
    }

    #[test]
    fn a_form_token_is_bound_to_the_browser_and_the_user() {
        let key = "ab".repeat(32);
        let vera = signed_in("jwt-1", &key, "SE2321000016-VERA");
        let token = vera.csrf_token();
        assert!(vera.check_form(Some(&token)).is_ok());
        assert!(vera.check_form_token(None).is_err());
        assert!(vera.check_form_token(Some("00")).is_err());
        // Signed in again (a new token, the same user, the same browser): what was typed before
        // can still be sent.
        assert!(signed_in("jwt-2", &key, "SE2321000016-VERA")
            .check_form(Some(&token))
            .is_ok());
        // Another user in the same browser, nobody, or the same user in another browser: no.
        assert!(signed_in("jwt-3", &key, "SE2321000016-HUGO")
            .check_form_token(Some(&token))
            .is_err());
        assert!(visitor(None, &key).check_form_token(Some(&token)).is_err());
        assert!(signed_in("jwt-1", &"cd".repeat(32), "SE2321000016-VERA")
            .check_form_token(Some(&token))
            .is_err());
        // No key cookie yet: nothing can match.
        let mut fresh = signed_in("jwt-1", &key, "SE2321000016-VERA");
        fresh.csrf_key_new = true;
        assert!(fresh.check_form_token(Some(&token)).is_err());
        // A signed-in page's form posted when nobody is signed in any more: to the sign-in page.
        assert!(matches!(
            visitor(Some("jwt-1"), &key).check_form(Some(&token)),
            Err(WebError::SignIn)
        ));
    }

    #[test]
    fn a_staff_session_for_an_unregistered_unit_is_refused_on_every_page() {
        let caller = Caller {
            sub: "SE2321000016-OKND".into(),
            role: Role::Staff,
            unit: Some(domain::UnitId::parse("okand-enhet").expect("a unit id")),
            name: "Okänd".into(),
            personal_identity_number: None,
        };
        let mut v = visitor(Some("jwt"), &"ab".repeat(32));
        v.caller = Some(caller);
        assert!(v.staff().is_ok(), "a registered unit is let in");
        v.unit_refused = Some("Enheten i inloggningen är inte registrerad i samplan.".into());
        for refused in [v.caller().err(), v.staff().err()] {
            match refused {
                Some(WebError::Forbidden(detail)) => {
                    assert!(detail.contains("inte registrerad"), "{detail}")
                }
                _ => panic!("the 403 page"),
            }
        }
    }

    #[test]
    fn the_demo_sign_in_needs_the_demo_or_an_explicit_setting() {
        // A plain `samplan serve` with the development key offers nobody to pick: anyone
        // reaching the port could otherwise sign in as the auditor.
        assert_eq!(demo_wanted(Switch::Auto, false), DemoWanted::No);
        assert_eq!(demo_wanted(Switch::Auto, true), DemoWanted::WithTheDemo);
        assert_eq!(demo_wanted(Switch::On, false), DemoWanted::Explicitly);
        assert_eq!(demo_wanted(Switch::Off, true), DemoWanted::No);
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let plain = set_cookie(SESSION_COOKIE, "t", false, None).expect("valid");
        assert_eq!(
            plain,
            "samplan_session=t; Path=/; HttpOnly; SameSite=Strict"
        );
        let secure = set_cookie(SESSION_COOKIE_SECURE, "t", true, Some(0)).expect("valid");
        assert_eq!(
            secure,
            "__Host-samplan_session=t; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=0"
        );
    }
}
