//! `token_verify.json`, claims: algorithms, rotation, audience, issuer, the time claims
//! and their leeway edges (RFC 7519 section 4.1), and required claims.

use super::{Issued, Keys, tok, typical_claims, validation as val, verify_input};
use crate::file::{File, GEN, Want};
use crate::fixtures::NOW;
use serde_json::{Value, json};

/// Verifies the typical tokens against each claim rule; issues the odd tokens it needs.
pub(super) fn cases(issue: &mut File, verify: &mut File, keys: &Keys, issued: &Issued) {
    let Keys { k1, k0, all, .. } = keys;
    let Issued {
        t1,
        t384,
        t512,
        t0,
        tseed,
        taud,
    } = issued;
    let vc = |token: &str, now: i64, validation: Value| verify_input(all, token, now, validation);
    verify.case("hs256_valid", GEN, vc(t1, NOW, val(json!({}))), Want::Ok);
    verify.case("hs384_valid", GEN, vc(t384, NOW, val(json!({}))), Want::Ok);
    verify.case("hs512_valid", GEN, vc(t512, NOW, val(json!({}))), Want::Ok);
    verify.case(
        "rotated_key_in_grace_token_expired",
        GEN,
        vc(t0, NOW + 3599, val(json!({"leeway": 0}))),
        Want::Err("token_expired"),
    );
    verify.case(
        "rotated_key_in_grace_valid",
        GEN,
        vc(t0, NOW + 10, val(json!({}))),
        Want::Ok,
    );
    let t0_late = tok(issue.case(
        "old_key_long_lived",
        GEN,
        json!({"keys": [k0], "claims": typical_claims(NOW + 3600)}),
        Want::Ok,
    ));
    verify.case(
        "rotated_key_after_grace",
        GEN,
        vc(&t0_late, NOW + 3600, val(json!({}))),
        Want::Err("key_retired"),
    );
    verify.case(
        "extra_claims_round_trip",
        GEN,
        vc(tseed, NOW, json!({})),
        Want::Ok,
    );
    verify.case(
        "aud_array_match",
        GEN,
        vc(taud, NOW, val(json!({}))),
        Want::Ok,
    );
    verify.case(
        "aud_array_no_match",
        GEN,
        vc(taud, NOW, json!({"audiences": ["https://other.example"]})),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "aud_mismatch",
        GEN,
        vc(t1, NOW, json!({"audiences": ["https://other.example"]})),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "aud_present_none_accepted",
        GEN,
        vc(t1, NOW, json!({})),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "aud_missing_one_required",
        GEN,
        vc(tseed, NOW, val(json!({}))),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "iss_match",
        GEN,
        vc(
            t1,
            NOW,
            val(json!({"issuers": ["https://auth.acme.example"]})),
        ),
        Want::Ok,
    );
    verify.case(
        "iss_mismatch",
        GEN,
        vc(t1, NOW, val(json!({"issuers": ["https://evil.example"]}))),
        Want::Err("invalid_issuer"),
    );
    verify.case(
        "iss_missing",
        GEN,
        vc(
            tseed,
            NOW,
            json!({"issuers": ["https://auth.acme.example"]}),
        ),
        Want::Err("invalid_issuer"),
    );
    // exp = NOW + 600: valid strictly before exp (RFC 7519 4.1.4).
    verify.case(
        "exp_one_second_before",
        GEN,
        vc(t1, NOW + 599, val(json!({}))),
        Want::Ok,
    );
    verify.case(
        "exp_at_exp",
        GEN,
        vc(t1, NOW + 600, val(json!({}))),
        Want::Err("token_expired"),
    );
    verify.case(
        "exp_leeway_edge_inside",
        GEN,
        vc(t1, NOW + 600 + 29, val(json!({"leeway": 30}))),
        Want::Ok,
    );
    verify.case(
        "exp_leeway_edge_outside",
        GEN,
        vc(t1, NOW + 600 + 30, val(json!({"leeway": 30}))),
        Want::Err("token_expired"),
    );
    // nbf = iat = NOW.
    verify.case("nbf_at_nbf", GEN, vc(t1, NOW, val(json!({}))), Want::Ok);
    verify.case(
        "nbf_one_second_early",
        GEN,
        vc(t1, NOW - 1, val(json!({}))),
        Want::Err("token_not_yet_valid"),
    );
    verify.case(
        "nbf_leeway_edge_inside",
        GEN,
        vc(t1, NOW - 300, val(json!({"leeway": 300}))),
        Want::Ok,
    );
    verify.case(
        "nbf_leeway_edge_outside",
        GEN,
        vc(t1, NOW - 301, val(json!({"leeway": 300}))),
        Want::Err("token_not_yet_valid"),
    );
    verify.case(
        "leeway_over_cap",
        GEN,
        vc(t1, NOW, val(json!({"leeway": 301}))),
        Want::Err("invalid_config"),
    );
    let iat_future = tok(issue.case(
        "iat_in_future",
        GEN,
        json!({"keys": [k1], "claims": {"iat": NOW + 10, "exp": NOW + 600}}),
        Want::Ok,
    ));
    verify.case(
        "iat_in_future",
        GEN,
        vc(&iat_future, NOW, json!({})),
        Want::Err("token_issued_in_future"),
    );
    verify.case(
        "iat_in_future_within_leeway",
        GEN,
        vc(&iat_future, NOW, json!({"leeway": 10})),
        Want::Ok,
    );
    let no_exp = tok(issue.case(
        "no_exp",
        GEN,
        json!({"keys": [k1], "claims": {"sub": "u1"}}),
        Want::Ok,
    ));
    verify.case(
        "exp_required_by_default",
        GEN,
        vc(&no_exp, NOW, json!({})),
        Want::Err("missing_claim"),
    );
    // `required` adds to the default `exp` in every runtime; only the explicitly named
    // `dangerously_allow_missing_exp` drops it.
    verify.case(
        "required_empty_keeps_exp",
        GEN,
        vc(&no_exp, NOW, json!({"required": []})),
        Want::Err("missing_claim"),
    );
    verify.case(
        "required_adds_to_exp",
        GEN,
        vc(&no_exp, NOW, json!({"required": ["sub"]})),
        Want::Err("missing_claim"),
    );
    let no_exp_nbf = tok(issue.case(
        "no_exp_with_nbf",
        GEN,
        json!({"keys": [k1], "claims": {"sub": "u1", "nbf": NOW}}),
        Want::Ok,
    ));
    verify.case(
        "required_nbf_adds_to_exp",
        GEN,
        vc(&no_exp_nbf, NOW, json!({"required": ["nbf"]})),
        Want::Err("missing_claim"),
    );
    verify.case(
        "dangerously_allow_missing_exp",
        GEN,
        vc(&no_exp, NOW, json!({"dangerously_allow_missing_exp": true})),
        Want::Ok,
    );
    verify.case(
        "dangerously_allow_missing_exp_with_required",
        GEN,
        vc(
            &no_exp,
            NOW,
            json!({"dangerously_allow_missing_exp": true, "required": ["sub"]}),
        ),
        Want::Ok,
    );
    verify.case(
        "dangerously_allow_missing_exp_still_requires_named",
        GEN,
        vc(
            &no_exp,
            NOW,
            json!({"dangerously_allow_missing_exp": true, "required": ["jti"]}),
        ),
        Want::Err("missing_claim"),
    );
    verify.case(
        "dangerously_allow_missing_exp_required_exp_wins",
        GEN,
        vc(
            &no_exp,
            NOW,
            json!({"dangerously_allow_missing_exp": true, "required": ["exp"]}),
        ),
        Want::Err("missing_claim"),
    );
    verify.case(
        "dangerously_allow_missing_exp_false",
        GEN,
        vc(
            &no_exp,
            NOW,
            json!({"dangerously_allow_missing_exp": false}),
        ),
        Want::Err("missing_claim"),
    );
    verify.case(
        "dangerously_allow_missing_exp_present_exp_checked",
        GEN,
        vc(
            t1,
            NOW + 600,
            val(json!({"dangerously_allow_missing_exp": true})),
        ),
        Want::Err("token_expired"),
    );
    verify.case(
        "jti_required",
        GEN,
        vc(tseed, NOW, json!({"required": ["exp", "jti"]})),
        Want::Err("missing_claim"),
    );
    verify.case(
        "jti_present",
        GEN,
        vc(
            t1,
            NOW,
            val(json!({"required": ["exp", "jti", "sub", "iss"]})),
        ),
        Want::Ok,
    );
}
