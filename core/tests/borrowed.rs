//! `Keyset::verify_borrowed`: the allocation-free verify gives the same answers as
//! `verify`, with one reused buffer across tokens.

#![allow(clippy::unwrap_used, missing_docs)]

use keyseal::{Algorithm, Audience, AudienceRef, Claims, Keyset, TokenKey, Validation};
use serde_json::json;
use std::borrow::Cow;

#[test]
fn borrowed_and_owned_verification_agree_with_a_reused_buffer() {
    let set = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[7u8; 32]).unwrap());
    let mut a = Claims {
        sub: Some("plain".into()),
        iss: Some("https://issuer".into()),
        aud: Audience::Many(vec!["x".into(), "api".into()]),
        exp: Some(100),
        ..Claims::default()
    };
    a.extra
        .insert("grants".into(), json!(["global", {"k": "v\"q"}]));
    let b = Claims {
        sub: Some("esc\"aped é".into()),
        aud: Audience::One("api".into()),
        exp: Some(100),
        ..Claims::default()
    };
    let val = Validation::new().with_audience("api");
    let mut buf = Vec::new();
    for claims in [&a, &b, &a] {
        let token = set.issue(claims).unwrap();
        let owned = set.verify(&token, &val, 50).unwrap();
        let borrowed = set.verify_borrowed(&token, &val, 50, &mut buf).unwrap();
        assert_eq!(borrowed.kid, owned.kid);
        let back = borrowed.claims.clone().into_owned().unwrap();
        assert_eq!(&back, claims);
        assert_eq!(back, owned.claims);
    }
    // Unescaped strings are borrowed from the buffer; escaped ones are owned.
    let token = set.issue(&b).unwrap();
    let v = set.verify_borrowed(&token, &val, 50, &mut buf).unwrap();
    assert!(matches!(v.claims.sub, Some(Cow::Owned(_))));
    assert!(matches!(
        v.claims.aud,
        AudienceRef::One(Cow::Borrowed("api"))
    ));
    // Errors are the same as verify's.
    let err = set
        .verify_borrowed(&token, &val, 100, &mut buf)
        .unwrap_err();
    assert_eq!(err.code(), "token_expired");
    assert_eq!(set.verify(&token, &val, 100).unwrap_err(), err);
}

#[test]
fn many_extra_claims_are_checked_for_duplicates_without_quadratic_work() {
    let set = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[7u8; 32]).unwrap());
    let mut claims = Claims {
        exp: Some(100),
        ..Claims::default()
    };
    for i in 0..500 {
        claims.extra.insert(format!("c{i}"), json!(i));
    }
    let token = set.issue(&claims).unwrap();
    let val = Validation::new().with_max_token_len(64 * 1024).unwrap();
    let v = set.verify(&token, &val, 50).unwrap();
    assert_eq!(v.claims.extra.len(), 500);
}

#[test]
fn a_duplicate_among_many_extra_claims_is_rejected() {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let secret = [7u8; 32];
    let set = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &secret).unwrap());
    let mut payload = String::from("{\"exp\":100");
    for i in 0..40 {
        payload.push_str(&format!(",\"c{i}\":{i}"));
    }
    let make = |payload: &str| {
        let input = format!(
            "{}.{}",
            b64.encode(r#"{"alg":"HS256","kid":"k1"}"#),
            b64.encode(payload)
        );
        let mac = keyseal::hmac_sha256(&secret, input.as_bytes()).unwrap();
        format!("{input}.{}", b64.encode(mac))
    };
    let ok = format!("{payload}}}");
    assert!(set.verify(&make(&ok), &Validation::new(), 50).is_ok());
    let dup = format!("{payload},\"c33\":1}}");
    let err = set.verify(&make(&dup), &Validation::new(), 50).unwrap_err();
    assert_eq!(err.code(), "invalid_claim");
}
