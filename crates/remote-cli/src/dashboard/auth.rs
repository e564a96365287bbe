//! Token check and cross-site request refusal for every dashboard request.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::Dashboard;

/// Name of the cookie that keeps a browser's token.
pub(super) const COOKIE: &str = "remote_token";

/// Compares two byte strings in time that depends only on their lengths.
pub(super) fn same_token(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

#[derive(Deserialize)]
struct TokenParam {
    token: Option<String>,
}

/// True when a state-changing request comes from another site (CSRF).
fn cross_site(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let headers = request.headers();
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return true;
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            origin_host != host
        }
        (Some(_), None) => true,
        _ => false,
    }
}

fn refuse(status: StatusCode, message: &str, api: bool) -> Response {
    let mut response = if api {
        (status, axum::Json(serde_json::json!({"error": message}))).into_response()
    } else {
        (status, message.to_string()).into_response()
    };
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Refuses cross-site state changes, and requests without the token when one is set; a valid
/// `?token=` sets the cookie so a browser carries it from then on.
pub(super) async fn check(State(d): State<Dashboard>, request: Request, next: Next) -> Response {
    let api = request.uri().path().starts_with("/api");
    if cross_site(&request) {
        return refuse(StatusCode::FORBIDDEN, "cross-site request refused", api);
    }
    let Some(token) = d.token.clone() else {
        return next.run(request).await;
    };
    let expected = token.as_bytes();
    let headers = request.headers();
    let by_header = bearer(headers)
        .or_else(|| cookie(headers))
        .is_some_and(|t| same_token(t.as_bytes(), expected));
    let by_query = !by_header
        && Query::<TokenParam>::try_from_uri(request.uri())
            .ok()
            .and_then(|q| q.0.token)
            .is_some_and(|t| same_token(t.as_bytes(), expected));
    if !by_header && !by_query {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "this dashboard requires a token: send `Authorization: Bearer <token>` or open it once with ?token=<token>",
            api,
        );
    }
    let mut response = next.run(request).await;
    if by_query {
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        )) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(same_token(b"abc", b"abc"));
        assert!(!same_token(b"abc", b"abd"));
        assert!(!same_token(b"abc", b"abcd"));
        assert!(!same_token(b"", b"a"));
    }
}
