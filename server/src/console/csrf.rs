//! CSRF protection: every state change carries the session's token (a hidden `csrf`
//! field, or the `X-CSRF-Token` header htmx sends from `hx-headers`), compared in
//! constant time; the sign-in form, which has no session yet, uses a double-submit
//! cookie. Cross-site requests (`Sec-Fetch-Site: cross-site`, or an `Origin` that is not
//! this host) are refused before the token is looked at. SameSite=Strict cookies already
//! stop most of it; the token does not depend on the browser doing so.

use axum::http::{HeaderMap, header};

/// The form field that carries the token.
pub const FIELD: &str = "csrf";
/// The header that carries it for htmx requests.
pub const HEADER: &str = "x-csrf-token";
/// The double-submit cookie of the sign-in form.
pub const SIGN_IN_COOKIE: &str = "keyseal_console_signin";

/// A new token: 32 random base62 characters (~190 bits).
pub fn token() -> Option<String> {
    crate::config::random_base62(32).ok()
}

/// Equal, compared in constant time (for equal lengths; lengths are not secret).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token a request presents: the header, else the form field.
pub fn presented<'a>(headers: &'a HeaderMap, field: Option<&'a str>) -> Option<&'a str> {
    headers.get(HEADER).and_then(|v| v.to_str().ok()).or(field)
}

/// True when the browser says the request comes from another site: by
/// `Sec-Fetch-Site` when sent (anything but `same-origin` or `none`), else by an `Origin`
/// that is not this host. `Origin: null` is not evidence either way: with
/// `Referrer-Policy: no-referrer` browsers send it for their own same-origin forms.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (Some(o), _) if o.as_bytes() == b"null" => false,
        (Some(o), Some(h)) => {
            let o = o.to_str().unwrap_or("");
            let host = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .unwrap_or("");
            host != h.to_str().unwrap_or("-")
        }
        (Some(_), None) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_compare() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", ""));
        let t = token().unwrap_or_default();
        assert_eq!(t.len(), 32);
    }

    #[test]
    fn cross_site_requests() {
        let mut h = HeaderMap::new();
        assert!(!cross_site(&h));
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(!cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(cross_site(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(!cross_site(&h));
    }
}
