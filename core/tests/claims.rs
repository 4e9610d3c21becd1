//! Claims rules that must mean the same in every runtime: which claims are required, and
//! the range of numbers (RFC 7493 section 2.2). The vectors cover the same rules through
//! JSON; these tests cover the Rust API (`Claims` built in Rust, `Validation` builders).

#![allow(clippy::unwrap_used, missing_docs)]

use keyseal::token::MAX_SAFE_INTEGER;
use keyseal::{Algorithm, Claim, Claims, Keyset, TokenKey, Validation};
use serde_json::{Number, Value, json};

fn keyset() -> Keyset {
    Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[7u8; 32]).unwrap())
}

fn with_extra(name: &str, value: Value) -> Claims {
    let mut c = Claims {
        exp: Some(100),
        ..Claims::default()
    };
    c.extra.insert(name.into(), value);
    c
}

#[test]
fn max_safe_integer_is_2_pow_53_minus_1() {
    assert_eq!(MAX_SAFE_INTEGER, 9_007_199_254_740_991);
}

#[test]
fn issue_accepts_numbers_up_to_2_53_minus_1_and_they_verify_exactly() {
    let set = keyset();
    let mut c = with_extra(
        "n",
        json!([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0.5, -1.5e15]),
    );
    c.exp = Some(MAX_SAFE_INTEGER);
    c.nbf = Some(-MAX_SAFE_INTEGER);
    let token = set.issue(&c).unwrap();
    let back = set.verify(&token, &Validation::new(), 0).unwrap().claims;
    assert_eq!(back, c);
}

#[test]
fn issue_refuses_numbers_beyond_2_53_minus_1() {
    let set = keyset();
    let big = MAX_SAFE_INTEGER + 1;
    let refused = [
        with_extra("n", json!(big)),
        with_extra("n", json!(-big)),
        with_extra("n", json!(u64::MAX)),
        with_extra("n", json!(i64::MIN)),
        with_extra("n", json!({"deep": [1, [big]]})),
        with_extra("n", Value::Number(Number::from_f64(1e16).unwrap())),
        with_extra("n", Value::Number(Number::from_f64(-1e300).unwrap())),
        Claims {
            exp: Some(big),
            ..Claims::default()
        },
        Claims {
            nbf: Some(-big),
            ..Claims::default()
        },
        Claims {
            iat: Some(i64::MAX),
            ..Claims::default()
        },
    ];
    for c in &refused {
        let e = set.issue(c).unwrap_err();
        assert_eq!(e.code(), "invalid_claim", "{c:?}: {e}");
    }
}

#[test]
fn issue_refuses_what_verify_refuses() {
    // An issued token must verify: the issue check and the readers agree on the edge.
    let set = keyset();
    for n in [MAX_SAFE_INTEGER - 1, MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1] {
        for v in [n, -n] {
            let issued = set.issue(&with_extra("n", json!(v)));
            let read = Claims::from_json(format!(r#"{{"n":{v}}}"#).as_bytes());
            assert_eq!(issued.is_ok(), read.is_ok(), "{v}");
        }
    }
}

/// A token with `sub` and no `exp`.
fn issue_without_exp(set: &Keyset) -> String {
    set.issue(&Claims {
        sub: Some("u".into()),
        ..Claims::default()
    })
    .unwrap()
}

#[test]
fn require_adds_to_exp() {
    let set = keyset();
    let no_exp = issue_without_exp(&set);
    let required: Vec<Claim> = Validation::new().require(Claim::Sub).required().collect();
    assert_eq!(required, [Claim::Sub, Claim::Exp]);
    let e = set
        .verify(&no_exp, &Validation::new().require(Claim::Sub), 0)
        .unwrap_err();
    assert_eq!(e.code(), "missing_claim");
    assert!(e.to_string().contains("\"exp\""), "{e}");
}

#[test]
fn only_the_dangerous_option_drops_exp() {
    let set = keyset();
    let no_exp = issue_without_exp(&set);
    let lax = Validation::new().dangerously_allow_missing_exp();
    assert_eq!(lax.required().count(), 0);
    set.verify(&no_exp, &lax, 0).unwrap();
    // A later require(Exp) wins.
    let again = lax.clone().require(Claim::Exp);
    assert_eq!(
        set.verify(&no_exp, &again, 0).unwrap_err().code(),
        "missing_claim"
    );
    // A present exp is still checked.
    let expired = set
        .issue(&Claims {
            exp: Some(10),
            ..Claims::default()
        })
        .unwrap();
    assert_eq!(
        set.verify(&expired, &lax, 10).unwrap_err().code(),
        "token_expired"
    );
}
