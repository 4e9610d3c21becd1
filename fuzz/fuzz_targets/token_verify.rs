//! Token verification never panics, and nothing but a correctly signed token verifies.
#![no_main]
use keyseal::{Algorithm, Keyset, TokenKey, Validation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let keyset = Keyset::new(TokenKey::new("k1", Algorithm::HS256, &[1u8; 32]).expect("key"))
        .with_verify_only(TokenKey::new("k2", Algorithm::HS512, &[2u8; 64]).expect("key"))
        .expect("keyset");
    let validation = Validation::new().with_leeway(60).expect("leeway");
    if let Ok(v) = keyset.verify(text, &validation, 1_700_000_000) {
        // Re-signing the verified claims must give a token that verifies the same way.
        let again = keyset.issue(&v.claims);
        if v.kid == "k1" {
            let again = again.expect("issue");
            assert_eq!(keyset.verify(&again, &validation, 1_700_000_000).expect("re-verify").claims, v.claims);
        }
    }
    // Also feed the text as a payload signed with the right key, to reach claims parsing.
    let header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0";
    let payload = base64_url(data);
    let signing_input = format!("{header}.{payload}");
    let mac = keyseal::token::hmac_sha256(&[1u8; 32], signing_input.as_bytes()).expect("mac");
    let token = format!("{signing_input}.{}", base64_url(&mac));
    let _ = keyset.verify(&token, &Validation::new().dangerously_allow_missing_exp(), 0);
});

fn base64_url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
