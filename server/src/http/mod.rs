//! The HTTP API under `/v1`, plus `/healthz`, `/readyz` and `/metrics`: one module per
//! resource, each with its own `router()`, merged in [`router`].
//!
//! Management calls (`/v1/accounts/{account}/...`: keys, audit, usage) are authorised by keyseal keys
//! themselves ([`extract::Manager`]): an enabled `account-owner` key manages its own
//! account; other roles get 403 `permission_denied`; read-only keys only read (403
//! `read_only_key` otherwise); a key of another account gets 404 `not_found`, exactly as
//! a missing key would, so ids of other accounts never leak.

mod audit;
mod body;
pub(crate) mod extract;
mod keys;
mod metering;
mod ops;
mod paging;
mod ratelimit;
mod record;
pub(crate) mod state;
mod tokens;
mod usage;
mod verify;

use std::sync::Arc;

use axum::Router;

pub use state::AppState;

/// Largest request body of an authenticated (management) call: 64 KiB (413
/// `payload_too_large` above).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest request body of an unauthenticated call (verify, token exchange, token
/// verify): 16 KiB, room for a key and 64 scopes and roles of 100 characters each.
pub const MAX_PUBLIC_BODY: usize = 16 * 1024;
/// The role that manages an account's keys.
pub const OWNER_ROLE: &str = "account-owner";

/// The OpenAPI 3.1 document served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// The router: every resource's routes, the JSON answers for unknown routes and methods,
/// and the request metrics and log around them all.
pub fn router(state: Arc<AppState>) -> Router {
    let management = keys::router()
        .merge(audit::router())
        .merge(metering::router())
        .merge(usage::router())
        .route_layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            extract::authorize,
        ));
    Router::new()
        .merge(management)
        .merge(verify::router())
        .merge(tokens::router())
        .merge(ops::router())
        .merge(crate::console::router())
        .fallback(ops::not_found_route)
        // After the merges: it applies to the routes registered so far.
        .method_not_allowed_fallback(ops::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            ops::observe,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use serde_json::Value;

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for p in [
            "/v1/accounts/{account}/keys",
            "/v1/accounts/{account}/keys/{id}",
            "/v1/accounts/{account}/keys/{id}/enable",
            "/v1/accounts/{account}/keys/{id}/disable",
            "/v1/accounts/{account}/keys/{id}/roll",
            "/v1/accounts/{account}/keys/{id}/credits",
            "/v1/accounts/{account}/owners/{owner}/meter",
            "/v1/accounts/{account}/owners/{owner}/credits",
            "/v1/accounts/{account}/audit",
            "/v1/accounts/{account}/keys/{id}/usage",
            "/v1/accounts/{account}/usage",
            "/v1/verify",
            "/v1/token",
            "/v1/apikey/authenticate",
            "/v1/tokens/verify",
            "/v1/whoami",
            "/v1/openapi.json",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(paths.contains_key(p), "{p} is not documented");
        }
        assert_eq!(paths.len(), 20, "a documented path has no route");
    }
}
