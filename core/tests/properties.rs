//! Property tests: format/parse round trips, and no parser panics on any input.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use keyseal::{
    FixedEntropy, IpNet, KeyFormat, Keyset, Pepper, PepperSet, Scope, TokenKey, Validation,
    extract_credential, parse_key,
};
use proptest::prelude::*;

fn prefix() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,31}"
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn generate_then_parse_round_trips(
        prefix in prefix(),
        id_len in 16usize..=32,
        secret_len in 27usize..=64,
        entropy in proptest::collection::vec(any::<u8>(), 200..300),
    ) {
        let format = KeyFormat::new(&prefix).unwrap().with_lengths(id_len, secret_len).unwrap();
        let key = format.generate(&mut FixedEntropy::new(&entropy)).unwrap();
        prop_assert_eq!(key.expose().len(), format.key_len());
        let parsed = format.parse(key.expose()).unwrap();
        prop_assert_eq!(parsed.prefix(), prefix.as_str());
        prop_assert_eq!(parsed.id(), key.id());
        prop_assert_eq!(parsed.expose_secret(), key.expose_secret());
        let any = parse_key(key.expose()).unwrap();
        prop_assert_eq!(any.id(), key.id());
        // The pair halves join back into the key.
        prop_assert_eq!(format!("{}_{}", key.prefixed_id(), key.expose_secret_with_checksum()), key.expose());
    }

    #[test]
    fn any_single_character_change_is_rejected(
        entropy in proptest::collection::vec(any::<u8>(), 100..120),
        at in 0usize..1000,
        replacement in "[A-Za-z0-9]",
    ) {
        let format = KeyFormat::new("acme_live").unwrap();
        let key = format.generate(&mut FixedEntropy::new(&entropy)).unwrap();
        let text = key.expose();
        let at = at % text.len();
        prop_assume!(text.as_bytes()[at] != b'_' && text[at..at + 1] != replacement);
        let changed = format!("{}{}{}", &text[..at], replacement, &text[at + 1..]);
        // CRC32 detects every single-character substitution.
        prop_assert!(format.check(&changed).is_err());
    }

    #[test]
    fn parse_key_never_panics(s in "\\PC{0,160}") {
        let _ = parse_key(&s);
        let _ = KeyFormat::new("acme").unwrap().check(&s);
    }

    #[test]
    fn parse_key_never_panics_on_key_like_text(s in "[a-z0-9_]{0,10}_[A-Za-z0-9_]{0,40}_[A-Za-z0-9]{0,80}") {
        let _ = parse_key(&s);
    }

    #[test]
    fn digest_verify_never_panics(stored in "\\PC{0,150}", key in "\\PC{0,80}") {
        let set = PepperSet::new(Pepper::new("p1", &[9u8; 32]).unwrap());
        let _ = set.verify(&key, &stored);
        let _ = set.verify(&key, &format!("v1.p1.{stored}"));
    }

    #[test]
    fn digest_round_trips(key in "\\PC{0,100}") {
        let set = PepperSet::new(Pepper::new("p1", &[9u8; 32]).unwrap());
        prop_assert!(!set.verify(&key, &set.digest(&key)).unwrap().needs_rehash());
        prop_assert!(set.verify(&key, &keyseal::digest::sha256_hex(&key)).unwrap().needs_rehash());
    }

    #[test]
    fn token_verify_never_panics(token in "[A-Za-z0-9_.=-]{0,300}") {
        let set = Keyset::new(TokenKey::new("k1", keyseal::Algorithm::HS256, &[1u8; 32]).unwrap());
        let _ = set.verify(&token, &Validation::new(), 0);
    }

    #[test]
    fn token_round_trips(sub in "\\PC{0,60}", exp in 1i64..=keyseal::token::MAX_SAFE_INTEGER, extra in "\\PC{0,40}") {
        let set = Keyset::new(TokenKey::new("k1", keyseal::Algorithm::HS384, &[1u8; 48]).unwrap());
        let mut claims = keyseal::Claims { sub: Some(sub), exp: Some(exp), ..Default::default() };
        claims.extra.insert("x".into(), serde_json::Value::String(extra));
        let token = set.issue(&claims).unwrap();
        let verified = set.verify(&token, &Validation::new(), exp - 1).unwrap();
        prop_assert_eq!(verified.claims, claims);
    }

    /// Numbers beyond +-(2^53 - 1) are refused on issue (RFC 7493 section 2.2), dates and
    /// extra claims alike, and the same numbers in a payload are refused on verify.
    #[test]
    fn numbers_beyond_2_53_are_refused(n in (keyseal::token::MAX_SAFE_INTEGER + 1)..=i64::MAX, neg in any::<bool>()) {
        let n = if neg { -n } else { n };
        let set = Keyset::new(TokenKey::new("k1", keyseal::Algorithm::HS256, &[1u8; 32]).unwrap());
        let date = keyseal::Claims { exp: Some(n), ..Default::default() };
        prop_assert_eq!(set.issue(&date).unwrap_err().code(), "invalid_claim");
        let mut extra = keyseal::Claims::default();
        extra.extra.insert("n".into(), serde_json::json!(n));
        prop_assert_eq!(set.issue(&extra).unwrap_err().code(), "invalid_claim");
        for text in [format!(r#"{{"exp":{n}}}"#), format!(r#"{{"n":[{n}]}}"#)] {
            prop_assert_eq!(keyseal::Claims::from_json(text.as_bytes()).unwrap_err().code(), "invalid_claim");
        }
    }

    #[test]
    fn cidr_and_scope_parsers_never_panic(s in "\\PC{0,70}") {
        let _ = s.parse::<IpNet>();
        let _ = Scope::new(&s);
        let _ = keyseal::policy::parse_ip(&s);
    }

    #[test]
    fn cidr_contains_its_own_network(a in any::<u32>(), p in 0u8..=32) {
        let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
        let net: IpNet = format!("{}/{}", std::net::Ipv4Addr::from(a & mask), p).parse().unwrap();
        prop_assert!(net.contains(std::net::IpAddr::V4(std::net::Ipv4Addr::from(a))));
    }

    #[test]
    fn header_extraction_never_panics(
        headers in proptest::collection::vec(("\\PC{0,20}", "\\PC{0,80}"), 0..6),
    ) {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let _ = extract_credential(pairs.iter().copied());
        let with_names: Vec<(&str, &str)> = pairs
            .iter()
            .enumerate()
            .map(|(i, (_, v))| (["authorization", "x-api-key", "accessKey", "secretKey"][i % 4], *v))
            .collect();
        let _ = extract_credential(with_names.iter().copied());
    }
}
