//! The HTTP routes, one module per resource, mirroring the URL tree of API.md.
//!
//! Each resource module exposes `router()` (mounted under `/api/v1`, except `ops`) and an `ApiDoc`
//! (utoipa) that `crate::openapi` merges into the served OpenAPI document.

use crate::state::AppState;
use axum::Router;

pub mod audit;
pub mod inbox;
pub mod me;
pub mod ops;
pub mod persons;
pub mod reports;
pub mod sips;
pub mod units;

/// Every route under `/api/v1`, without state and layers (see `crate::app`).
pub fn api_router() -> Router<AppState> {
    Router::new()
        .merge(units::router())
        .merge(persons::router())
        .merge(sips::router())
        .merge(inbox::router())
        .merge(me::router())
        .merge(audit::router())
        .merge(reports::router())
}
