//! Interop with the `jsonwebtoken` crate: its HS256/384/512 tokens verify in keyseal, and
//! keyseal's verify in it. Tokens are produced at test time by the real library.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jsonwebtoken::{Algorithm as JwtAlg, DecodingKey, EncodingKey, Header};
use keyseal::{Algorithm, Audience, Claims, Keyset, TokenKey, Validation};
use serde_json::{Value, json};

const NOW: i64 = 1_767_225_600;

fn pairs() -> [(Algorithm, JwtAlg, Vec<u8>); 3] {
    [
        (Algorithm::HS256, JwtAlg::HS256, vec![7u8; 32]),
        (Algorithm::HS384, JwtAlg::HS384, vec![8u8; 48]),
        (Algorithm::HS512, JwtAlg::HS512, vec![9u8; 64]),
    ]
}

fn now_ts() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn jsonwebtoken_tokens_verify_in_keyseal() {
    for (alg, jalg, secret) in pairs() {
        let mut header = Header::new(jalg);
        header.kid = Some("k1".into());
        let claims = json!({
            "iss": "https://auth.example", "sub": "user_1", "aud": ["https://api.example"],
            "exp": NOW + 600, "nbf": NOW, "iat": NOW, "jti": "j1",
            "scope": "a b", "role": "admin", "custom": {"nested": [1, 2, 3]},
        });
        let token =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        let set = Keyset::new(TokenKey::new("k1", alg, &secret).unwrap());
        let val = Validation::new()
            .with_audience("https://api.example")
            .with_issuer("https://auth.example");
        let verified = set.verify(&token, &val, NOW).unwrap();
        assert_eq!(verified.claims.sub.as_deref(), Some("user_1"));
        assert_eq!(
            verified.claims.aud,
            Audience::Many(vec!["https://api.example".into()])
        );
        assert_eq!(
            verified.claims.extra["custom"],
            json!({"nested": [1, 2, 3]})
        );
        assert_eq!(serde_json::to_value(&verified.claims).unwrap(), claims);
        // A token jsonwebtoken signed with another secret fails.
        let forged =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&[1u8; 64])).unwrap();
        assert_eq!(
            set.verify(&forged, &val, NOW).unwrap_err().code(),
            "bad_signature"
        );
    }
}

#[test]
fn keyseal_tokens_verify_in_jsonwebtoken() {
    let now = now_ts();
    for (alg, jalg, secret) in pairs() {
        let set = Keyset::new(TokenKey::new("k1", alg, &secret).unwrap());
        let claims = Claims {
            iss: Some("https://auth.example".into()),
            sub: Some("user_1".into()),
            aud: Audience::One("https://api.example".into()),
            exp: Some(now + 600),
            nbf: Some(now),
            iat: Some(now),
            scope: Some("keys:read".into()),
            ..Claims::default()
        };
        let token = set.issue(&claims).unwrap();
        let mut v = jsonwebtoken::Validation::new(jalg);
        v.set_audience(&["https://api.example"]);
        v.set_issuer(&["https://auth.example"]);
        v.validate_nbf = true;
        let data =
            jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_secret(&secret), &v).unwrap();
        assert_eq!(data.header.kid.as_deref(), Some("k1"));
        assert_eq!(data.claims["sub"], "user_1");
        assert_eq!(data.claims["scope"], "keys:read");
        // jsonwebtoken rejects keyseal's token under another secret.
        assert!(
            jsonwebtoken::decode::<Value>(&token, &DecodingKey::from_secret(&[3u8; 64]), &v)
                .is_err()
        );
    }
}
