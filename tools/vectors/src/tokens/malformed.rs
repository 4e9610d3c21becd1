//! `token_verify.json`, malformed tokens: signatures, headers (RFC 7515 section 4.1),
//! payloads (RFC 7493 I-JSON numbers, duplicate names) and the token's structure and size.

use super::{Issued, Keys, sign_raw, tkey, tok, typical_claims, validation as val, verify_input};
use crate::file::{File, GEN, Want};
use crate::fixtures::NOW;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};

/// Verifies tokens broken in each part; issues the forged ones it needs.
pub(super) fn cases(issue: &mut File, verify: &mut File, keys: &Keys, issued: &Issued) {
    let Keys { k1, all, .. } = keys;
    let Issued { t1, .. } = issued;
    let c = typical_claims(NOW);
    let vc = |token: &str, now: i64, validation: Value| verify_input(all, token, now, validation);
    let mut bad = t1.clone().into_bytes();
    let i = bad.len() - 5;
    bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
    verify.case(
        "signature_flipped",
        GEN,
        vc(std::str::from_utf8(&bad).unwrap(), NOW, val(json!({}))),
        Want::Err("bad_signature"),
    );
    let (si, _) = t1.rsplit_once('.').unwrap();
    verify.case(
        "signature_truncated",
        GEN,
        vc(
            &format!("{si}.{}", B64.encode([1u8; 16])),
            NOW,
            val(json!({})),
        ),
        Want::Err("bad_signature"),
    );
    verify.case(
        "signature_padded",
        GEN,
        vc(&format!("{t1}="), NOW, val(json!({}))),
        Want::Err("invalid_base64"),
    );
    verify.case(
        "signature_not_base64",
        GEN,
        vc(&format!("{si}.!!!!"), NOW, val(json!({}))),
        Want::Err("invalid_base64"),
    );
    let other_secret = tkey("k1", "HS256", 99, 32);
    let forged = tok(issue.case(
        "forged_with_other_secret",
        GEN,
        json!({"keys": [other_secret], "claims": c}),
        Want::Ok,
    ));
    verify.case(
        "forged_with_other_secret",
        GEN,
        vc(&forged, NOW, val(json!({}))),
        Want::Err("bad_signature"),
    );
    let unknown = tok(issue.case(
        "unknown_kid",
        GEN,
        json!({"keys": [tkey("k9", "HS256", 31, 32)], "claims": c}),
        Want::Ok,
    ));
    verify.case(
        "unknown_kid",
        GEN,
        vc(&unknown, NOW, val(json!({}))),
        Want::Err("unknown_kid"),
    );
    let k1s = k1["secret_hex"].as_str().unwrap();
    let payload = B64.encode(serde_json::to_vec(&c).unwrap());
    verify.case(
        "alg_none",
        GEN,
        vc(
            &format!(
                "{}.{payload}.c2ln",
                B64.encode(r#"{"alg":"none","kid":"k1"}"#)
            ),
            NOW,
            val(json!({})),
        ),
        Want::Err("unsupported_algorithm"),
    );
    verify.case(
        "alg_none_empty_signature",
        GEN,
        vc(
            &format!("{}.{payload}.", B64.encode(r#"{"alg":"none"}"#)),
            NOW,
            val(json!({})),
        ),
        Want::Err("malformed_token"),
    );
    verify.case(
        "alg_rs256",
        GEN,
        vc(
            &sign_raw(r#"{"alg":"RS256","kid":"k1"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("unsupported_algorithm"),
    );
    verify.case(
        "alg_lowercase",
        GEN,
        vc(
            &sign_raw(r#"{"alg":"hs256","kid":"k1"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("unsupported_algorithm"),
    );
    verify.case(
        "alg_confusion_hs384_on_hs256_key",
        GEN,
        vc(
            &sign_raw(r#"{"alg":"HS384","kid":"k1"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("algorithm_mismatch"),
    );
    verify.case(
        "header_crit",
        GEN,
        vc(
            &sign_raw(
                r#"{"alg":"HS256","kid":"k1","crit":["exp"]}"#,
                &payload,
                k1s,
            ),
            NOW,
            val(json!({})),
        ),
        Want::Err("unsupported_header"),
    );
    verify.case(
        "header_b64_false",
        GEN,
        vc(
            &sign_raw(r#"{"alg":"HS256","kid":"k1","b64":false}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("unsupported_header"),
    );
    verify.case(
        "header_without_kid_uses_signing_key",
        GEN,
        vc(
            &sign_raw(r#"{"alg":"HS256","typ":"JWT"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Ok,
    );
    verify.case(
        "header_unknown_params_ignored",
        GEN,
        vc(
            &sign_raw(
                r#"{"alg":"HS256","kid":"k1","x5u":"https://x","cty":"JWT"}"#,
                &payload,
                k1s,
            ),
            NOW,
            val(json!({})),
        ),
        Want::Ok,
    );
    verify.case(
        "header_missing_alg",
        GEN,
        vc(
            &sign_raw(r#"{"kid":"k1"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("invalid_json"),
    );
    verify.case(
        "header_alg_number",
        GEN,
        vc(
            &sign_raw(r#"{"alg":256,"kid":"k1"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("invalid_json"),
    );
    verify.case(
        "header_duplicate_alg",
        GEN,
        vc(
            &sign_raw(r#"{"alg":"HS256","alg":"none","kid":"k1"}"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("invalid_json"),
    );
    verify.case(
        "header_not_json",
        GEN,
        vc(&sign_raw("not json", &payload, k1s), NOW, val(json!({}))),
        Want::Err("invalid_json"),
    );
    verify.case(
        "header_array",
        GEN,
        vc(
            &sign_raw(r#"["HS256"]"#, &payload, k1s),
            NOW,
            val(json!({})),
        ),
        Want::Err("invalid_json"),
    );
    verify.case(
        "header_not_base64",
        GEN,
        vc(&format!("e30*.{payload}.c2ln"), NOW, val(json!({}))),
        Want::Err("invalid_base64"),
    );
    let h = r#"{"alg":"HS256","kid":"k1"}"#;
    let raw = |p: &str| B64.encode(p);
    verify.case(
        "payload_not_base64",
        GEN,
        vc(&sign_raw(h, "eyJ*", k1s), NOW, json!({})),
        Want::Err("invalid_base64"),
    );
    verify.case(
        "payload_not_json",
        GEN,
        vc(&sign_raw(h, &raw("exp=1"), k1s), NOW, json!({})),
        Want::Err("invalid_json"),
    );
    verify.case(
        "payload_array",
        GEN,
        vc(&sign_raw(h, &raw("[1,2]"), k1s), NOW, json!({})),
        Want::Err("invalid_json"),
    );
    verify.case(
        "payload_trailing_garbage",
        GEN,
        vc(
            &sign_raw(h, &raw(&format!(r#"{{"exp":{}}}x"#, NOW + 60)), k1s),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_json"),
    );
    verify.case(
        "payload_truncated",
        GEN,
        vc(&sign_raw(h, &raw(r#"{"exp":1"#), k1s), NOW, json!({})),
        Want::Err("invalid_json"),
    );
    verify.case(
        "payload_exp_string",
        GEN,
        vc(&sign_raw(h, &raw(r#"{"exp":"1"}"#), k1s), NOW, json!({})),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_exp_huge",
        GEN,
        vc(&sign_raw(h, &raw(r#"{"exp":1e300}"#), k1s), NOW, json!({})),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_exp_u64_overflow",
        GEN,
        vc(
            &sign_raw(h, &raw(r#"{"exp":18446744073709551615}"#), k1s),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_claim"),
    );
    // RFC 7493 section 2.2: numbers in claims lie within +-(2^53 - 1), in any notation;
    // beyond that they are invalid_claim in every runtime (no silent rounding to a float).
    let safe = keyseal::token::MAX_SAFE_INTEGER;
    let exp_ok = NOW + 60;
    for (id, payload, want) in [
        (
            "payload_int_max_safe",
            format!(r#"{{"exp":{exp_ok},"n":{safe},"m":-{safe},"l":[{safe}],"f":0.25}}"#),
            Want::Ok,
        ),
        (
            "payload_int_2_53",
            format!(r#"{{"exp":{exp_ok},"n":9007199254740992}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_int_neg_2_53",
            format!(r#"{{"exp":{exp_ok},"n":-9007199254740992}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_int_u64_max",
            format!(r#"{{"exp":{exp_ok},"n":18446744073709551615}}"#),
            Want::Err("invalid_claim"),
        ),
        // What PyJWT or joserfc write for the Python int 2**64.
        (
            "payload_int_2_64",
            format!(r#"{{"exp":{exp_ok},"n":18446744073709551616}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_int_neg_2_64",
            format!(r#"{{"exp":{exp_ok},"n":-18446744073709551616}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_int_2_64_nested",
            format!(r#"{{"exp":{exp_ok},"n":{{"a":[1,18446744073709551616]}}}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_float_exponent_2_53",
            format!(r#"{{"exp":{exp_ok},"n":9.007199254740992e15}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_float_1e300",
            format!(r#"{{"exp":{exp_ok},"n":1e300}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_exp_max_safe",
            format!(r#"{{"exp":{safe},"nbf":-{safe},"iat":-{safe}}}"#),
            Want::Ok,
        ),
        (
            "payload_exp_2_53",
            r#"{"exp":9007199254740992}"#.to_owned(),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_nbf_neg_2_53",
            format!(r#"{{"exp":{exp_ok},"nbf":-9007199254740992}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_iat_2_64",
            format!(r#"{{"exp":{exp_ok},"iat":18446744073709551616}}"#),
            Want::Err("invalid_claim"),
        ),
        (
            "payload_exp_float_2_53",
            r#"{"exp":9007199254740992.0}"#.to_owned(),
            Want::Err("invalid_claim"),
        ),
    ] {
        verify.case(
            id,
            GEN,
            vc(&sign_raw(h, &raw(&payload), k1s), NOW, json!({})),
            want,
        );
    }
    verify.case(
        "payload_exp_fraction_rounds_down",
        GEN,
        vc(
            &sign_raw(h, &raw(&format!(r#"{{"exp":{}.9}}"#, NOW)), k1s),
            NOW - 1,
            json!({}),
        ),
        Want::Ok,
    );
    verify.case(
        "payload_exp_fraction_expired",
        GEN,
        vc(
            &sign_raw(h, &raw(&format!(r#"{{"exp":{}.9}}"#, NOW)), k1s),
            NOW,
            json!({}),
        ),
        Want::Err("token_expired"),
    );
    verify.case(
        "payload_sub_number",
        GEN,
        vc(
            &sign_raw(h, &raw(&format!(r#"{{"exp":{},"sub":5}}"#, NOW + 60)), k1s),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_aud_number",
        GEN,
        vc(
            &sign_raw(h, &raw(&format!(r#"{{"exp":{},"aud":5}}"#, NOW + 60)), k1s),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_aud_array_with_number",
        GEN,
        vc(
            &sign_raw(
                h,
                &raw(&format!(r#"{{"exp":{},"aud":["a",5]}}"#, NOW + 60)),
                k1s,
            ),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_duplicate_exp",
        GEN,
        vc(
            &sign_raw(
                h,
                &raw(&format!(r#"{{"exp":{},"exp":{}}}"#, NOW - 60, NOW + 60)),
                k1s,
            ),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_duplicate_extra",
        GEN,
        vc(
            &sign_raw(
                h,
                &raw(&format!(r#"{{"exp":{},"x":1,"x":2}}"#, NOW + 60)),
                k1s,
            ),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_claim"),
    );
    verify.case(
        "payload_deep_nesting",
        GEN,
        vc(
            &sign_raw(
                h,
                &raw(&format!(
                    r#"{{"exp":{},"x":{}{}}}"#,
                    NOW + 60,
                    "[".repeat(200),
                    "]".repeat(200)
                )),
                k1s,
            ),
            NOW,
            json!({}),
        ),
        Want::Err("invalid_json"),
    );
    verify.case(
        "payload_escaped_claim_name",
        GEN,
        vc(
            &sign_raw(h, &raw(&format!(r#"{{"\u0065xp":{}}}"#, NOW - 1)), k1s),
            NOW,
            json!({}),
        ),
        Want::Err("token_expired"),
    );
    verify.case(
        "structure_one_segment",
        GEN,
        vc("abc", NOW, json!({})),
        Want::Err("malformed_token"),
    );
    verify.case(
        "structure_two_segments",
        GEN,
        vc("abc.def", NOW, json!({})),
        Want::Err("malformed_token"),
    );
    verify.case(
        "structure_four_segments",
        GEN,
        vc(&format!("{t1}.abc"), NOW, json!({})),
        Want::Err("malformed_token"),
    );
    verify.case(
        "structure_empty_header",
        GEN,
        vc(&format!(".{payload}.c2ln"), NOW, json!({})),
        Want::Err("malformed_token"),
    );
    verify.case(
        "structure_empty",
        GEN,
        vc("", NOW, json!({})),
        Want::Err("malformed_token"),
    );
    verify.case(
        "too_large_default_8k",
        GEN,
        vc(
            &format!(
                "{}.{}.{}",
                "a".repeat(4000),
                "b".repeat(4000),
                "c".repeat(200)
            ),
            NOW,
            json!({}),
        ),
        Want::Err("token_too_large"),
    );
    verify.case(
        "too_large_custom_limit",
        GEN,
        vc(t1, NOW, val(json!({"max_token_len": 100}))),
        Want::Err("token_too_large"),
    );
    verify.case(
        "max_token_len_too_small",
        GEN,
        vc(t1, NOW, val(json!({"max_token_len": 10}))),
        Want::Err("invalid_config"),
    );
}
