//! The fast claims reader used by verification agrees with a plain serde_json reading on
//! every input: same claims, or the same error code.
#![no_main]
use keyseal::__fuzz::{parse_claims, parse_claims_reference};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fast = parse_claims(data);
    let reference = parse_claims_reference(data);
    match (&fast, &reference) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.code(), b.code(), "fast: {a}; reference: {b}"),
        _ => panic!("disagreement: fast {fast:?}, reference {reference:?}"),
    }
});
