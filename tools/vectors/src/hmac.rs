//! `hmac_sha256.json`: the RFC 4231 test cases, imported with their source.

use crate::file::{File, Want};
use keyseal_vectors::runner::hex;
use serde_json::json;

pub(crate) fn hmac_vectors() -> File {
    let mut f = File::new(
        "hmac_sha256",
        "HMAC-SHA256 test cases from RFC 4231 section 4 (case 5 is omitted: its output is truncated).",
    );
    let h = |s: &str| hex(s.as_bytes());
    let cases = [
        (
            "rfc4231_case_1",
            "0b".repeat(20),
            h("Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            "rfc4231_case_2",
            h("Jefe"),
            h("what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            "rfc4231_case_3",
            "aa".repeat(20),
            "dd".repeat(50),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        ),
        (
            "rfc4231_case_4",
            "0102030405060708090a0b0c0d0e0f10111213141516171819".to_owned(),
            "cd".repeat(50),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        ),
        (
            "rfc4231_case_6",
            "aa".repeat(131),
            h("Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            "rfc4231_case_7",
            "aa".repeat(131),
            h(
                "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
            ),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ];
    for (id, key, data, mac) in cases {
        let n = id.rsplit('_').next().unwrap();
        f.case(
            id,
            &format!(
                "RFC 4231 section 4.{} (test case {n})",
                n.parse::<u32>().unwrap() + 1
            ),
            json!({"key_hex": key, "data_hex": data}),
            Want::Exactly(json!({"mac_hex": mac})),
        );
    }
    f
}
