//! The web: the staff client (`/`) and the person's Min plan (`/min-plan`), server-rendered
//! HTML in Swedish (askama templates in `gateway/templates/`, checked when the crate compiles),
//! with a small stylesheet and a small script of our own for live updates. No page loads
//! anything from another host: hospital networks are closed, and every asset is served here
//! with cache headers (ADR 0019).
//!
//! Pages are clients of the same rules as the JSON API: they read with the same read-model
//! queries (`projections::inbox`, `crate::routes::me`), write through the same command path
//! (`crate::commands`), log every read of personal data in the access log, and answer a plan the
//! caller's unit takes no part in with the same 404 as one that does not exist.
//!
//! - `session`: the sign-in cookie, CSRF protection of every form, signing in and out;
//! - `demo_users`: the demo's people, to sign in as in development;
//! - `dates`: dates in Swedish words ("senast onsdag 14 maj");
//! - `start`: the staff start page (Meddelanden, Att göra, Pågående SIP) and its live updates;
//! - `persons`: Sök patient, the person's page, registering persons and relatives, starting a SIP;
//! - `sip`: one plan as a participating unit sees it, with its forms (`sip_forms`);
//! - `form`: what a form posted, how a form is shown, a refusal beside its field;
//! - `letter`: a kallelse as a printed letter to one letter recipient, and "Markera som postat";
//! - `print`: the plan as the person reads it, printed by staff to hand to the person;
//! - `min_plan`: the person's own published plans;
//! - `units`: Enheter, the administrator's page: the registered units and registering one;
//! - `audit`: Granskning, the auditor's pages (loggutdrag, logguppföljning, a plan as it stood,
//!   the check of the hash chains);
//! - `assets`: the stylesheet and script.

mod assets;
mod audit;
pub mod dates;
mod demo_users;
mod form;
mod letter;
mod min_plan;
mod persons;
mod print;
mod reports;
pub mod revocations;
mod session;
mod sip;
mod sip_forms;
mod start;
mod units;

use crate::error::AppError;
use askama::Template;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;

use crate::state::AppState;
pub use session::{DemoSignIn, SecureCookies, WebConfig};

/// The pages' Content-Security-Policy: nothing from another host, no inline script or style,
/// no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The web pages, mounted at `/` beside `/api/v1` (see `crate::app::router_for`), with their
/// settings (`WebConfig::from_env`), which the caller keeps too: `app::router_for` also gives
/// them to [`error_pages_know_their_visitor`], which runs outside the pages' own layers.
pub(crate) fn router(config: Arc<WebConfig>) -> Router<AppState> {
    Router::new()
        .route("/", get(start::page))
        .route("/start/listor", get(start::lists))
        .route("/start/handelser", get(start::events))
        .route("/meddelanden/{id}/las", post(start::mark_read))
        .route(
            "/logga-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/logga-ut", post(session::sign_out))
        .route("/sip/{id}", get(sip::page))
        .route("/sip/{id}/utskrift", get(print::page))
        .route("/sip/{id}/{steg}", post(sip::post))
        .route(
            "/sip/{id}/kallelse/{invitation_id}/brev/{recipient}",
            get(letter::page).post(letter::posted),
        )
        .route("/patienter", get(persons::search).post(persons::register))
        .route("/patienter/sok", post(persons::search_posted))
        .route("/patienter/{id}", get(persons::page))
        .route("/patienter/{id}/narstaende", post(persons::add_relative))
        .route(
            "/patienter/{id}/narstaende/{relative_id}/ta-bort",
            post(persons::remove_relative),
        )
        .route(
            "/patienter/{id}/kontaktuppgifter",
            post(persons::change_contact_details),
        )
        .route("/patienter/{id}/sip", post(persons::start_sip))
        .route(
            "/patienter/{id}/status/{steg}",
            post(persons::person_status),
        )
        .route("/granskning", get(audit::start))
        .route("/granskning/loggutdrag", post(audit::extract_posted))
        .route("/granskning/loggutdrag/{id}", get(audit::extract_by_id))
        .route("/granskning/loggutdrag/{id}/csv", get(audit::extract_csv))
        .route("/granskning/logguppfoljning", get(audit::review))
        .route("/granskning/sip", get(audit::plan))
        .route("/granskning/kontroll", post(audit::verify))
        .route("/enheter", get(units::page).post(units::register))
        .route("/uppfoljning", get(reports::page))
        .route("/uppfoljning/csv", get(reports::csv))
        .route("/min-plan", get(min_plan::list))
        .route("/min-plan/{id}", get(min_plan::plan))
        .route("/assets/{file}", get(assets::serve))
        // A page's address with another method (a form's address opened from the address bar,
        // reloaded after going back): the HTML page, with the way home, not a problem document.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(config))
}

async fn method_not_allowed() -> WebError {
    WebError::MethodNotAllowed
}

/// `s` as one segment of a URL path: every byte but the unreserved ones percent-encoded, so an
/// id (a relative's, an invitation's) can never add a segment, a dot segment or a query to the
/// link or form it is put in. Axum decodes it back for the handler.
pub(crate) fn path_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

/// What [`path_segment`] encodes: all but RFC 3986's unreserved characters, and the dot too, so
/// that no id can be the dot segment `.` or `..`.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// Whether a request the API has no route for should get the HTML 404 page: a browser asking
/// for a page outside `/api/`. Every other client keeps the problem document.
pub fn wants_html(request: &Request) -> bool {
    !request.uri().path().starts_with("/api/") && accepts_html(request.headers())
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// An HTML error page with this status, heading and text, for a refusal made outside the pages'
/// handlers (`app::pages_for_browsers`).
pub fn error_page(status: StatusCode, heading: &str, text: &str) -> Response {
    let page = ErrorPage {
        layout: Layout::new(heading, None, String::new()),
        heading: heading.to_owned(),
        text: text.to_owned(),
    };
    match page.render() {
        Ok(html) => (status, html_headers(), html).into_response(),
        Err(_) => (status, "Fel").into_response(),
    }
}

/// The HTML 404 page (its security headers come with every answer outside `/api/`:
/// `app::baseline_headers`).
pub fn not_found_page() -> Response {
    WebError::NotFound.into_response()
}

/// The pages' security headers, where a response has not set its own: added to every answer
/// outside `/api/` by `app::baseline_headers`, pages and errors alike.
pub(crate) fn with_security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    };
    set(headers, "content-security-policy", CONTENT_SECURITY_POLICY);
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    // Not `no-referrer`: with it browsers send `Origin: null` on our own form posts, which the
    // CSRF check must refuse. Other hosts get no referrer (URLs carry plan ids).
    set(headers, "referrer-policy", "same-origin");
    set(headers, "cross-origin-opener-policy", "same-origin");
    // Pages show personal data: never kept by the browser or a proxy. Assets set their own.
    set(headers, "cache-control", "no-store");
    response
}

/// The header of every page: who is signed in, and the token for the sign-out form.
pub(crate) struct Layout {
    /// The page's `<title>`: never a person's name or number, since titles are kept in the
    /// browser's history and shown in its tabs on a shared screen (the `<h1>` names the person).
    pub title: String,
    /// Shown in the header; `None` before signing in.
    pub user: Option<UserBar>,
    /// The form token of this page (CSRF).
    pub csrf: String,
    pub css: &'static str,
    pub js: &'static str,
    pub icon: &'static str,
    /// `min-plan` pages use larger type.
    pub body_class: &'static str,
}

/// Who is signed in, in the page header.
pub(crate) struct UserBar {
    pub name: String,
    /// The unit's name, or the role in words.
    pub acting_as: String,
    /// Where "Start" leads.
    pub home: &'static str,
    /// Staff: the menu (Start, Sök patient) is theirs.
    pub staff: bool,
    /// Auditors: the menu (Granskning) is theirs.
    pub auditor: bool,
    /// Seconds until the sign-in ends, when the page was made: the page warns before it does.
    pub session_left_secs: Option<i64>,
}

impl Layout {
    pub(crate) fn new(title: impl Into<String>, user: Option<UserBar>, csrf: String) -> Layout {
        Layout {
            title: title.into(),
            user,
            csrf,
            css: assets::CSS_URL.as_str(),
            js: assets::JS_URL.as_str(),
            icon: assets::ICON_URL.as_str(),
            body_class: "staff",
        }
    }
}

/// A page that failed: what the visitor sees instead.
#[derive(Debug)]
pub(crate) enum WebError {
    /// Not signed in (or the sign-in expired): to the sign-in page.
    SignIn,
    /// Signed in, but this page is not for the caller's role.
    Forbidden(String),
    /// Unknown, or not visible to the caller's unit: never which.
    NotFound,
    /// A form without a valid token (CSRF), or from another site.
    FormExpired,
    /// An address that takes a form, opened as a link (or the other way round).
    MethodNotAllowed,
    /// A form of a signed-in page sent after the sign-in ended: nothing done, the form kept
    /// to send again ([`session::Visitor::check_posted`]).
    SignedOut {
        /// Where it was sent.
        action: String,
        /// Everything it carried, its token and one-time key too.
        fields: Vec<(String, String)>,
        /// Its text, to copy.
        kept: Vec<String>,
    },
    /// Anything else from the layers below.
    App(AppError),
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => WebError::NotFound,
            AppError::Token { .. } | AppError::Unauthorized(_) => WebError::SignIn,
            AppError::Forbidden { detail, .. } => WebError::Forbidden(detail),
            other => WebError::App(other),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::App(AppError::internal(format!("template: {e}")))
    }
}

/// The error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    heading: String,
    text: String,
}

/// The answer to a form sent while signed out ([`WebError::SignedOut`]).
#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage {
    layout: Layout,
    action: String,
    fields: Vec<(String, String)>,
    kept: Vec<String>,
}

/// A page needed a sign-in: [`error_pages_know_their_visitor`] sends the browser on to sign in
/// with the page it asked for, to come back to it afterwards.
#[derive(Clone, Copy, Debug)]
struct SignInNeeded;

/// What an error page said, kept on its response for [`error_pages_know_their_visitor`].
#[derive(Clone, Debug)]
struct ErrorShown {
    heading: String,
    text: String,
}

/// Shows an error page (a plan that is not there, a page not for the caller's role) to a
/// signed-in visitor the way every other page is shown to them: with their name, where they act,
/// "Logga ut", and a way back to their own start (Min plan for the person, the start page for
/// staff). [`WebError`] makes the page without knowing the request; this layer, which does, puts
/// the visitor back on it. Visitors not signed in, and every other answer, pass unchanged.
pub(crate) async fn error_pages_know_their_visitor(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let (uri, headers, config) = (
        request.uri().clone(),
        request.headers().clone(),
        request.extensions().get::<Arc<WebConfig>>().cloned(),
    );
    let asked = (request.method() == axum::http::Method::GET).then(|| {
        // Sök patient's query is a name or a personnummer: it is not carried into the sign-in
        // page's address, where browser history and proxies keep it (a security review).
        if uri.path() == "/patienter" {
            return uri.path().to_owned();
        }
        uri.path_and_query()
            .map_or(uri.path(), |p| p.as_str())
            .to_owned()
    });
    let mut response = next.run(request).await;
    if response.extensions().get::<SignInNeeded>().is_some() {
        // A page asked for without a session: to sign in, and back to it afterwards.
        if let Some(back) = asked.as_deref().and_then(session::return_path) {
            let to = format!("/logga-in?till={}", path_segment(back));
            if let Ok(location) = HeaderValue::from_str(&to) {
                response.headers_mut().insert(header::LOCATION, location);
            }
        }
        return response;
    }
    let Some(shown) = response.extensions().get::<ErrorShown>().cloned() else {
        return response;
    };
    let mut parts = match Request::builder().uri(uri).body(()) {
        Ok(request) => request.into_parts().0,
        Err(_) => return response,
    };
    parts.headers = headers;
    if let Some(config) = config {
        parts.extensions.insert(config);
    }
    let Ok(visitor) =
        <session::Visitor as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut parts, &state,
        )
        .await
    else {
        return response;
    };
    let Some(caller) = visitor.caller.as_ref() else {
        return response;
    };
    let mut layout = visitor.layout(
        shown.heading.clone(),
        persons::unit_name(&state, caller).await,
    );
    if caller.role == domain::context::Role::Citizen {
        layout.body_class = "citizen";
    }
    let page = ErrorPage {
        layout,
        heading: shown.heading,
        text: shown.text,
    };
    match visitor.page(&page) {
        Ok(mut rendered) => {
            *rendered.status_mut() = response.status();
            rendered
        }
        Err(_) => response,
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, heading, text) = match self {
            WebError::SignIn => {
                let mut response = Redirect::to("/logga-in").into_response();
                response.extensions_mut().insert(SignInNeeded);
                return response;
            }
            WebError::SignedOut {
                action,
                fields,
                kept,
            } => {
                let page = SignedOutPage {
                    layout: Layout::new("Du är inte inloggad längre", None, String::new()),
                    action,
                    fields,
                    kept,
                };
                // 401 would ask for an `WWW-Authenticate` scheme; the browser is refused this
                // request as the expired form is.
                return match page.render() {
                    Ok(html) => (StatusCode::FORBIDDEN, html_headers(), html).into_response(),
                    Err(_) => (StatusCode::FORBIDDEN, "Fel").into_response(),
                };
            }
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Sidan finns inte".to_string(),
                // The pages serve staff and the person alike: no unit to speak of.
                crate::error::NOT_FOUND_DETAIL.to_string(),
            ),
            WebError::Forbidden(detail) => (
                StatusCode::FORBIDDEN,
                "Du har inte behörighet".to_string(),
                detail,
            ),
            WebError::FormExpired => (
                StatusCode::FORBIDDEN,
                "Formuläret kunde inte tas emot".to_string(),
                "Formuläret har gått ut eller skickades från en annan webbplats. Gå tillbaka, \
                 ladda om sidan och försök igen."
                    .to_string(),
            ),
            WebError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Sidan kan inte öppnas så".to_string(),
                "Adressen tar emot ett formulär och visar ingen sida i sig. Gå tillbaka till \
                 formuläret och skicka det igen."
                    .to_string(),
            ),
            WebError::App(e) => {
                // `AppError`'s own response logs internals once and sends none; the page says
                // as little.
                let problem = e.problem();
                let status = StatusCode::from_u16(problem.status)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                if status.is_server_error() {
                    tracing::error!(error = %e, "a page failed");
                }
                (status, problem.title, problem.detail)
            }
        };
        let page = ErrorPage {
            layout: Layout::new(heading.clone(), None, String::new()),
            heading: heading.clone(),
            text: text.clone(),
        };
        let mut response = match page.render() {
            Ok(html) => (status, html_headers(), html).into_response(),
            Err(_) => (status, "Fel").into_response(),
        };
        response
            .extensions_mut()
            .insert(ErrorShown { heading, text });
        response
    }
}

fn html_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    )]
}

/// A page's query string read as `T`. A query that cannot be read (a parameter given twice,
/// a control character, a value of the wrong kind) is refused as a page, in Swedish, naming
/// the parameter: axum's own `Query` answered a browser with the API's JSON problem.
pub(crate) struct WebQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for WebQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        crate::extract::parse_query(parts.uri.query().unwrap_or(""))
            .map(WebQuery)
            .map_err(WebError::App)
    }
}

/// Renders `page` as a 200 HTML response.
pub(crate) fn html(page: &impl Template) -> Result<Response, WebError> {
    Ok((html_headers(), page.render()?).into_response())
}

#[cfg(test)]
mod tests {
    use super::path_segment;

    #[test]
    fn an_id_stays_one_path_segment() {
        assert_eq!(
            path_segment("01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            "01ARZ3NDEKTSV4RRFFQ69G5FAV"
        );
        assert_eq!(path_segment("relative:mor-1.a_b"), "relative%3Amor-1%2Ea_b");
        // What a relative's id could hold before ids were checked.
        assert_eq!(
            path_segment("../../sip/X/samtycke-aterkallat?"),
            "%2E%2E%2F%2E%2E%2Fsip%2FX%2Fsamtycke-aterkallat%3F"
        );
        assert_eq!(path_segment(".."), "%2E%2E");
        assert_eq!(path_segment("a b#\"<å"), "a%20b%23%22%3C%C3%A5");
    }
}
