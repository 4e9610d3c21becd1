//! `token_issue.json`: the typical tokens of each algorithm, which the verify cases
//! reuse, and the claims and keys that issuing rejects.

use super::{Issued, Keys, tkey, tok, typical_claims};
use crate::file::{File, GEN, Want};
use crate::fixtures::NOW;
use serde_json::json;

/// Issues the typical tokens and records the failures of issuing.
pub(super) fn typical(issue: &mut File, keys: &Keys) -> Issued {
    let Keys {
        k1, k0, k384, k512, ..
    } = keys;
    let c = typical_claims(NOW);
    let t1 = tok(issue.case(
        "hs256_typical",
        GEN,
        json!({"keys": [k1], "claims": c}),
        Want::Ok,
    ));
    let t384 = tok(issue.case(
        "hs384_typical",
        GEN,
        json!({"keys": [k384], "claims": c}),
        Want::Ok,
    ));
    let t512 = tok(issue.case(
        "hs512_typical",
        GEN,
        json!({"keys": [k512], "claims": c}),
        Want::Ok,
    ));
    let t0 = tok(issue.case(
        "old_key_typical",
        GEN,
        json!({"keys": [k0], "claims": c}),
        Want::Ok,
    ));
    let seed_claims = json!({
        "iat": NOW, "exp": NOW + 600, "sub": "a947fb74-bfe0-5ecb-99e1-bff30c46a3ce",
        "role": "106", "uid": "a947fb74-bfe0-5ecb-99e1-bff30c46a3ce",
        "grants": ["global", "user:a947fb74-bfe0-5ecb-99e1-bff30c46a3ce"],
        "domain": {"id": "00000000-0000-0000-0000-000000000003", "chain": ["00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000003"]},
        "flyInAllowed": false, "usertype": "institution", "ratio": 0.25,
    });
    let tseed = tok(issue.case(
        "extra_claims_like_the_key_for_token_flow",
        "generated (claims shaped like the key-for-token flow's token, docs/compat.md)",
        json!({"keys": [k1], "claims": seed_claims}),
        Want::Ok,
    ));
    let aud_many = json!({"sub": "u1", "aud": ["https://a.example", "https://api.acme.example"], "exp": NOW + 60});
    let taud = tok(issue.case(
        "aud_array",
        GEN,
        json!({"keys": [k1], "claims": aud_many}),
        Want::Ok,
    ));
    let escapes =
        json!({"sub": "quote\" backslash\\ newline\n tab\t unicode é ✓ \u{2028}", "exp": NOW + 60});
    issue.case(
        "string_escapes",
        GEN,
        json!({"keys": [k1], "claims": escapes}),
        Want::Ok,
    );
    issue.case(
        "empty_claims",
        GEN,
        json!({"keys": [k1], "claims": {}}),
        Want::Ok,
    );
    issue.case(
        "weak_hs256_key",
        GEN,
        json!({"keys": [tkey("k1", "HS256", 1, 31)], "claims": c}),
        Want::Err("weak_key"),
    );
    issue.case(
        "weak_hs512_key",
        GEN,
        json!({"keys": [tkey("k1", "HS512", 1, 63)], "claims": c}),
        Want::Err("weak_key"),
    );
    issue.case(
        "kid_with_space",
        GEN,
        json!({"keys": [tkey("k 1", "HS256", 1, 32)], "claims": c}),
        Want::Err("invalid_config"),
    );
    issue.case(
        "rs256_key",
        GEN,
        json!({"keys": [tkey("k1", "RS256", 1, 32)], "claims": c}),
        Want::Err("unsupported_algorithm"),
    );
    issue.case(
        "none_key",
        GEN,
        json!({"keys": [tkey("k1", "none", 1, 32)], "claims": c}),
        Want::Err("unsupported_algorithm"),
    );
    issue.case(
        "exp_not_a_number",
        GEN,
        json!({"keys": [k1], "claims": {"exp": "tomorrow"}}),
        Want::Err("invalid_claim"),
    );
    issue.case(
        "aud_not_a_string",
        GEN,
        json!({"keys": [k1], "claims": {"aud": 5}}),
        Want::Err("invalid_claim"),
    );
    // RFC 7493 section 2.2: the numbers verify accepts, and no others, are issued.
    let safe = keyseal::token::MAX_SAFE_INTEGER;
    issue.case(
        "int_max_safe",
        GEN,
        json!({"keys": [k1], "claims": {"exp": safe, "nbf": -safe, "n": safe, "m": -safe, "l": [safe, 0.25]}}),
        Want::Ok,
    );
    for (id, claims) in [
        ("int_2_53", json!({"n": safe + 1})),
        ("int_neg_2_53", json!({"n": -safe - 1})),
        ("int_u64_max", json!({"n": u64::MAX})),
        ("int_2_53_nested", json!({"n": {"a": [1, safe + 1]}})),
        ("exp_2_53", json!({"exp": safe + 1})),
        ("nbf_neg_2_53", json!({"nbf": -safe - 1})),
        ("float_1e300", json!({"n": 1e300})),
    ] {
        issue.case(
            id,
            GEN,
            json!({"keys": [k1], "claims": claims}),
            Want::Err("invalid_claim"),
        );
    }
    // Beyond 64 bits: JSON text, so each runner reads the number with its host's parser
    // (an exact int in Python, a rounded number in JS).
    for (id, text) in [
        ("int_2_64", r#"{"n":18446744073709551616}"#),
        ("int_neg_2_64", r#"{"n":-18446744073709551616}"#),
        (
            "int_2_200",
            r#"{"n":1606938044258990275541962092341162602522202993782792835301376}"#,
        ),
        ("exp_2_64", r#"{"exp":18446744073709551616}"#),
    ] {
        issue.case(
            id,
            GEN,
            json!({"keys": [k1], "claims_json": text}),
            Want::Err("invalid_claim"),
        );
    }
    issue.case(
        "duplicate_kid",
        GEN,
        json!({"keys": [k1, tkey("k1", "HS256", 9, 32)], "claims": c}),
        Want::Err("duplicate_kid"),
    );
    Issued {
        t1,
        t384,
        t512,
        t0,
        tseed,
        taud,
    }
}
