//! Secrets never show up in Debug/Display output or error messages.

#![allow(clippy::unwrap_used, missing_docs)]

use keyseal::{
    Algorithm, Claims, FixedEntropy, KeyFormat, Keyset, Pepper, PepperSet, TokenKey, Validation,
    extract_credential,
};

#[test]
fn api_key_debug_and_display_hide_the_secret() {
    let format = KeyFormat::new("acme_live").unwrap();
    let key = format
        .generate(&mut FixedEntropy::new(&[42u8; 64]))
        .unwrap();
    let secret = key.expose_secret().to_owned();
    for shown in [
        format!("{key:?}"),
        format!("{key}"),
        format!("{:?}", format.check(key.expose()).unwrap()),
    ] {
        assert!(!shown.contains(&secret), "{shown}");
        assert!(!shown.contains(key.checksum()), "{shown}");
        assert!(shown.contains(key.id()), "{shown}");
    }
}

#[test]
fn key_material_debug_hides_secrets() {
    let pepper = Pepper::new("p1", b"pepper-secret-0123456789abcdefgh").unwrap();
    assert!(!format!("{pepper:?}").contains("pepper-secret"));
    let set = PepperSet::new(pepper);
    assert!(!format!("{set:?}").contains("pepper-secret"));
    let tk = TokenKey::new("k1", Algorithm::HS256, b"token-secret-0123456789abcdefghij").unwrap();
    assert!(!format!("{tk:?}").contains("token-secret"));
    // HMAC state bytes are not printed either: Debug shows only kid, alg and the marker.
    assert!(format!("{tk:?}").contains("<redacted>"));
}

#[test]
fn credential_debug_hides_secrets() {
    let headers = [(
        "x-api-key",
        "acme_AAAAAAAAAAAAAAAA_supersecretvaluexxxxxxxxxxxxxxxxxxx",
    )];
    let cred = extract_credential(headers.iter().copied()).unwrap();
    assert!(!format!("{cred:?}").contains("supersecret"));
    let pair = [
        ("accessKey", "acme_AAAAAAAAAAAAAAAA"),
        ("secretKey", "supersecretvaluexxxxxxxxxxxxxxxxxxx"),
    ];
    let cred = extract_credential(pair.iter().copied()).unwrap();
    let shown = format!("{cred:?}");
    assert!(!shown.contains("supersecret") && shown.contains("acme_AAAAAAAAAAAAAAAA"));
}

#[test]
fn error_messages_never_echo_input() {
    let format = KeyFormat::new("acme").unwrap();
    let secretish = "acme_AAAAAAAAAAAAAAAA_Zsecretsecretsecretsecretsecretsec";
    let e = format.check(secretish).unwrap_err();
    assert!(!e.to_string().contains("Zsecret"), "{e}");
    let set = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[1u8; 32]).unwrap());
    let claims = Claims {
        sub: Some("s3cr3t-subject".into()),
        exp: Some(10),
        ..Claims::default()
    };
    let token = set.issue(&claims).unwrap();
    for now in [0, 100] {
        if let Err(e) = set.verify(&token, &Validation::new(), now) {
            assert!(!e.to_string().contains("s3cr3t"));
        }
    }
    let bad = format!("{}x", token);
    let e = set.verify(&bad, &Validation::new(), 0).unwrap_err();
    assert!(!e.to_string().contains(&token[..20]));
}

#[test]
fn every_code_has_a_lowercase_message_and_family() {
    for code in keyseal::ErrorCode::ALL {
        assert!(
            code.as_str()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        );
        assert_eq!(keyseal::ErrorCode::from_name(code.as_str()), Some(*code));
        let _ = code.family().as_str();
    }
    let e = keyseal::Error::registry(
        keyseal::ErrorCode::NameConflict,
        "a live key in this account has that name",
    );
    assert_eq!(e.code(), "name_conflict");
    assert_eq!(
        e.to_string(),
        "name conflict: a live key in this account has that name"
    );
    // registry() cannot forge an error of another family.
    assert_eq!(
        keyseal::Error::registry(keyseal::ErrorCode::BadSignature, "x").code(),
        "internal"
    );
}

#[test]
fn extra_claims_may_not_shadow_registered_claims() {
    let set = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[1u8; 32]).unwrap());
    let mut claims = Claims::default();
    claims.extra.insert("exp".into(), serde_json::json!(1));
    assert_eq!(set.issue(&claims).unwrap_err().code(), "invalid_claim");
}

#[test]
fn rotation_keeps_old_tokens_valid_until_grace_ends() {
    let old = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[1u8; 32]).unwrap());
    let claims = Claims {
        exp: Some(10_000),
        ..Claims::default()
    };
    let old_token = old.issue(&claims).unwrap();
    let rotated = old
        .rotate(
            TokenKey::new("k2", Algorithm::HS512, &[2u8; 64]).unwrap(),
            500,
        )
        .unwrap();
    assert_eq!(rotated.signing_key().kid(), "k2");
    let new_token = rotated.issue(&claims).unwrap();
    assert_eq!(
        rotated
            .verify(&new_token, &Validation::new(), 100)
            .unwrap()
            .kid,
        "k2"
    );
    assert_eq!(
        rotated
            .verify(&old_token, &Validation::new(), 499)
            .unwrap()
            .kid,
        "k1"
    );
    assert_eq!(
        rotated
            .verify(&old_token, &Validation::new(), 500)
            .unwrap_err()
            .code(),
        "key_retired"
    );
    assert_eq!(
        rotated
            .rotate(
                TokenKey::new("k1", Algorithm::HS256, &[1u8; 32]).unwrap(),
                0
            )
            .unwrap_err()
            .code(),
        "duplicate_kid"
    );
}
