//! Writes `tests/vectors/*.json`, the cross-language test vectors.
//!
//! `cargo run -p keyseal-vectors` regenerates them in place; `-- --check` fails if any file
//! would change (the test command runs that). Error cases name their expected code here
//! and RFC cases their expected output, and generation stops if the core disagrees, so
//! the generator is a test too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod meter;

use keyseal_vectors::runner;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyseal::ErrorCode;
use runner::{expect_of, hex, run};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const GEN: &str = "generated";

/// What a case must produce.
enum Want {
    /// Record whatever the core returns; it must succeed.
    Ok,
    /// The core must return exactly this value.
    Exactly(Value),
    /// The core must fail with this code.
    Err(&'static str),
}

struct File {
    op: &'static str,
    description: &'static str,
    cases: Vec<Value>,
}

impl File {
    fn new(op: &'static str, description: &'static str) -> File {
        File {
            op,
            description,
            cases: Vec::new(),
        }
    }

    fn case(&mut self, id: &str, source: &str, input: Value, want: Want) -> Value {
        assert!(
            !self.cases.iter().any(|c| c["id"] == id),
            "duplicate vector id {id}"
        );
        let result = run(self.op, &input);
        match (&want, &result) {
            (Want::Ok, Ok(_)) => {}
            (Want::Exactly(v), Ok(got)) => assert_eq!(got, v, "{}: {id}", self.op),
            (Want::Err(code), Err(e)) => {
                assert!(ErrorCode::from_name(code).is_some(), "unknown code {code}");
                assert_eq!(e.code(), *code, "{}: {id}: {e}", self.op)
            }
            (_, Ok(v)) => panic!("{}: {id}: expected an error, got {v}", self.op),
            (_, Err(e)) => panic!("{}: {id}: unexpected error {}: {e}", self.op, e.code()),
        }
        let out = result.clone().unwrap_or(Value::Null);
        self.cases.push(json!({
            "id": id,
            "source": source,
            "input": input,
            "expect": expect_of(result),
        }));
        out
    }

    fn json(&self) -> Value {
        json!({ "op": self.op, "description": self.description, "cases": self.cases })
    }
}

/// Deterministic pseudo-random bytes (xorshift64*) for fixed-entropy vectors.
fn entropy(seed: u64, n: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let bytes: Vec<u8> = (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect();
    hex(&bytes)
}

fn keys_for(prefix: &str, id_len: usize, secret_len: usize, seed: u64) -> String {
    let input = json!({"prefix": prefix, "id_len": id_len, "secret_len": secret_len, "entropy_hex": entropy(seed, 256)});
    run("key_generate", &input).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Recomputes the checksum of `body` (everything before the checksum).
fn with_checksum(body: &str) -> String {
    let sum = keyseal::key::checksum(body.as_bytes());
    format!("{body}{}", std::str::from_utf8(&sum).unwrap())
}

fn key_generate() -> File {
    let mut f = File::new(
        "key_generate",
        "Key generation from fixed entropy: bytes are consumed in order, bytes >= 248 are skipped (rejection sampling), id first, then secret.",
    );
    let mk = |prefix: &str, id: usize, sec: usize, ent: String| json!({"prefix": prefix, "id_len": id, "secret_len": sec, "entropy_hex": ent});
    f.case(
        "default_lengths",
        GEN,
        mk("acme_live", 16, 32, entropy(1, 64)),
        Want::Ok,
    );
    f.case(
        "test_prefix",
        GEN,
        mk("acme_test", 16, 32, entropy(2, 64)),
        Want::Ok,
    );
    f.case(
        "prefix_with_underscores",
        GEN,
        mk("my_app_live", 20, 40, entropy(3, 96)),
        Want::Ok,
    );
    f.case(
        "single_letter_prefix",
        GEN,
        mk("k", 16, 27, entropy(4, 64)),
        Want::Ok,
    );
    f.case(
        "max_lengths",
        GEN,
        mk("abcdefghijklmnopqrstuvwxyz012345", 32, 64, entropy(5, 128)),
        Want::Ok,
    );
    f.case(
        "min_lengths",
        GEN,
        mk("sk", 16, 27, entropy(6, 64)),
        Want::Ok,
    );
    let mut rejecting = "ff".repeat(10);
    rejecting.push_str(&entropy(7, 64));
    f.case(
        "rejection_sampling_skips_high_bytes",
        GEN,
        mk("acme_live", 16, 32, rejecting),
        Want::Ok,
    );
    f.case("all_zero_entropy", GEN, mk("acme_live", 16, 32, "00".repeat(48)), Want::Exactly(json!({
        "key": with_checksum(&format!("acme_live_{}_{}", "0".repeat(16), "0".repeat(32))),
        "prefix": "acme_live", "id": "0".repeat(16), "secret": "0".repeat(32),
        "checksum": std::str::from_utf8(&keyseal::key::checksum(format!("acme_live_{}_{}", "0".repeat(16), "0".repeat(32)).as_bytes())).unwrap(),
    })));
    f.case(
        "entropy_runs_out",
        GEN,
        mk("acme_live", 16, 32, entropy(8, 47)),
        Want::Err("rng_failed"),
    );
    f.case(
        "entropy_runs_out_after_rejections",
        GEN,
        mk("acme_live", 16, 32, "f8".repeat(100)),
        Want::Err("rng_failed"),
    );
    f.case(
        "prefix_uppercase",
        GEN,
        mk("Acme", 16, 32, entropy(9, 64)),
        Want::Err("invalid_prefix"),
    );
    f.case(
        "prefix_starts_with_digit",
        GEN,
        mk("1acme", 16, 32, entropy(9, 64)),
        Want::Err("invalid_prefix"),
    );
    f.case(
        "prefix_starts_with_underscore",
        GEN,
        mk("_acme", 16, 32, entropy(9, 64)),
        Want::Err("invalid_prefix"),
    );
    f.case(
        "prefix_empty",
        GEN,
        mk("", 16, 32, entropy(9, 64)),
        Want::Err("invalid_prefix"),
    );
    f.case(
        "prefix_33_chars",
        GEN,
        mk(&"a".repeat(33), 16, 32, entropy(9, 64)),
        Want::Err("invalid_prefix"),
    );
    f.case(
        "prefix_with_dash",
        GEN,
        mk("acme-live", 16, 32, entropy(9, 64)),
        Want::Err("invalid_prefix"),
    );
    f.case(
        "id_len_15",
        GEN,
        mk("acme", 15, 32, entropy(9, 64)),
        Want::Err("invalid_config"),
    );
    f.case(
        "id_len_33",
        GEN,
        mk("acme", 33, 32, entropy(9, 64)),
        Want::Err("invalid_config"),
    );
    f.case(
        "secret_len_26_is_under_160_bits",
        GEN,
        mk("acme", 16, 26, entropy(9, 64)),
        Want::Err("invalid_config"),
    );
    f.case(
        "secret_len_65",
        GEN,
        mk("acme", 16, 65, entropy(9, 64)),
        Want::Err("invalid_config"),
    );
    f
}

fn key_parse() -> File {
    let mut f = File::new(
        "key_parse",
        "Parsing keys from the right: structure, checksum, then the format's prefix and lengths.",
    );
    let fmt = |p: &str, i: usize, s: usize| json!({"prefix": p, "id_len": i, "secret_len": s});
    let k = keys_for("acme_live", 16, 32, 11);
    f.case(
        "valid_with_format",
        GEN,
        json!({"key": k, "format": fmt("acme_live", 16, 32)}),
        Want::Ok,
    );
    f.case(
        "valid_any_format",
        GEN,
        json!({"key": k, "format": null}),
        Want::Ok,
    );
    let k2 = keys_for("my_app_live", 20, 40, 12);
    f.case(
        "prefix_with_underscores",
        GEN,
        json!({"key": k2, "format": fmt("my_app_live", 20, 40)}),
        Want::Ok,
    );
    f.case(
        "prefix_with_underscores_any_format",
        GEN,
        json!({"key": k2, "format": null}),
        Want::Ok,
    );
    let k3 = keys_for("a_", 16, 32, 13);
    f.case(
        "prefix_ending_in_underscore",
        GEN,
        json!({"key": k3, "format": null}),
        Want::Ok,
    );
    let other = keys_for("acme_test", 16, 32, 14);
    f.case(
        "other_prefix",
        GEN,
        json!({"key": other, "format": fmt("acme_live", 16, 32)}),
        Want::Err("prefix_mismatch"),
    );
    f.case(
        "other_id_len",
        GEN,
        json!({"key": k2, "format": fmt("my_app_live", 16, 40)}),
        Want::Err("malformed_key"),
    );
    f.case(
        "other_secret_len",
        GEN,
        json!({"key": k2, "format": fmt("my_app_live", 20, 32)}),
        Want::Err("malformed_key"),
    );
    // One-character typos anywhere must fail the checksum.
    let mut typo = k.clone().into_bytes();
    let at = "acme_live_".len() + 20;
    typo[at] = if typo[at] == b'a' { b'b' } else { b'a' };
    f.case(
        "typo_in_secret",
        GEN,
        json!({"key": String::from_utf8(typo).unwrap(), "format": null}),
        Want::Err("bad_checksum"),
    );
    let mut typo = k.clone().into_bytes();
    let at = "acme_live_".len() + 3;
    typo[at] = if typo[at] == b'Z' { b'Y' } else { b'Z' };
    f.case(
        "typo_in_id",
        GEN,
        json!({"key": String::from_utf8(typo).unwrap(), "format": null}),
        Want::Err("bad_checksum"),
    );
    let mut typo = k.clone().into_bytes();
    let last = typo.len() - 1;
    typo[last] = if typo[last] == b'0' { b'1' } else { b'0' };
    f.case(
        "typo_in_checksum",
        GEN,
        json!({"key": String::from_utf8(typo).unwrap(), "format": null}),
        Want::Err("bad_checksum"),
    );
    let swapped: String = k
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i == 30 && c.is_ascii_alphabetic() {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect();
    if swapped != k {
        f.case(
            "case_flip",
            GEN,
            json!({"key": swapped, "format": null}),
            Want::Err("bad_checksum"),
        );
    }
    f.case(
        "random_string",
        GEN,
        json!({"key": format!("acme_live_{}_{}", "A".repeat(16), "B".repeat(38)), "format": null}),
        Want::Err("bad_checksum"),
    );
    f.case(
        "empty",
        GEN,
        json!({"key": "", "format": null}),
        Want::Err("malformed_key"),
    );
    f.case(
        "no_separator",
        GEN,
        json!({"key": "a".repeat(60), "format": null}),
        Want::Err("malformed_key"),
    );
    f.case(
        "one_separator",
        GEN,
        json!({"key": format!("acme_{}", "a".repeat(60)), "format": null}),
        Want::Err("malformed_key"),
    );
    f.case(
        "dash",
        GEN,
        json!({"key": k.replace('_', "-"), "format": null}),
        Want::Err("malformed_key"),
    );
    f.case(
        "space_inside",
        GEN,
        json!({"key": format!("{} ", k), "format": null}),
        Want::Err("malformed_key"),
    );
    f.case(
        "non_ascii",
        GEN,
        json!({"key": format!("{}é", &k[..k.len() - 2]), "format": null}),
        Want::Err("malformed_key"),
    );
    f.case(
        "too_long",
        GEN,
        json!({"key": "a".repeat(137), "format": null}),
        Want::Err("malformed_key"),
    );
    f.case("id_too_short", GEN, json!({"key": with_checksum(&format!("acme_{}_{}", "a".repeat(15), "b".repeat(32))), "format": null}), Want::Err("malformed_key"));
    f.case("secret_too_short", GEN, json!({"key": with_checksum(&format!("acme_{}_{}", "a".repeat(16), "b".repeat(26))), "format": null}), Want::Err("malformed_key"));
    f.case("prefix_uppercase", GEN, json!({"key": with_checksum(&format!("ACME_{}_{}", "a".repeat(16), "b".repeat(32))), "format": null}), Want::Err("malformed_key"));
    f.case("prefix_empty", GEN, json!({"key": with_checksum(&format!("_{}_{}", "a".repeat(16), "b".repeat(32))), "format": null}), Want::Err("malformed_key"));
    f.case("valid_handmade", GEN, json!({"key": with_checksum(&format!("acme_{}_{}", "a".repeat(16), "b".repeat(32))), "format": null}), Want::Ok);
    f.case(
        "bad_format_prefix",
        GEN,
        json!({"key": k, "format": fmt("Acme", 16, 32)}),
        Want::Err("invalid_prefix"),
    );
    f
}

fn pepper(id: &str, seed: u64) -> Value {
    json!({"id": id, "secret_hex": entropy(seed, 32)})
}

fn digests() -> (File, File) {
    let mut c = File::new(
        "digest_compute",
        "Peppered digests v1.<pepper_id>.<base64url(HMAC-SHA256(pepper, key))> and the plain SHA-256 hex used for imports.",
    );
    let mut v = File::new(
        "digest_verify",
        "Verifying keys against stored digests: current and previous peppers, imported SHA-256 (hex, base64), and malformed stored forms.",
    );
    let k = keys_for("acme_live", 16, 32, 21);
    let p1 = pepper("p1", 101);
    let p0 = pepper("p0", 100);
    let d1 = c.case(
        "current_pepper",
        GEN,
        json!({"peppers": [p1], "key": k}),
        Want::Ok,
    );
    let d0 = c.case(
        "old_pepper",
        GEN,
        json!({"peppers": [p0], "key": k}),
        Want::Ok,
    );
    c.case("any_bytes_key", GEN, json!({"peppers": [p1], "key": "4baccb809a3578f4xZGp74ik1k54wD03Y25fJ7KRIR7oVJsfgyFuQj4yaCFkhQMA5qjHyETS95PCy3uKcNm2bz6NrtVFHELWPh7mZxpx6cczHZYAbuufuy2QQ7zeKvkM"}), Want::Ok);
    c.case(
        "pepper_too_short",
        GEN,
        json!({"peppers": [{"id": "p1", "secret_hex": entropy(1, 15)}], "key": k}),
        Want::Err("invalid_pepper"),
    );
    c.case(
        "pepper_id_with_dot",
        GEN,
        json!({"peppers": [{"id": "p.1", "secret_hex": entropy(1, 32)}], "key": k}),
        Want::Err("invalid_pepper"),
    );
    c.case(
        "pepper_id_empty",
        GEN,
        json!({"peppers": [{"id": "", "secret_hex": entropy(1, 32)}], "key": k}),
        Want::Err("invalid_pepper"),
    );
    let stored1 = d1["digest"].as_str().unwrap().to_owned();
    let stored0 = d0["digest"].as_str().unwrap().to_owned();
    let sha = d1["sha256_hex"].as_str().unwrap().to_owned();
    let raw = runner::unhex(&sha);
    let std64 = base64::engine::general_purpose::STANDARD.encode(&raw);
    let url64 = B64.encode(&raw);
    let both = json!([p1, p0]);
    v.case(
        "current",
        GEN,
        json!({"peppers": both, "key": k, "stored": stored1}),
        Want::Exactly(json!({"status": "current"})),
    );
    v.case(
        "previous_pepper_needs_rehash",
        GEN,
        json!({"peppers": both, "key": k, "stored": stored0}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    v.case(
        "retired_pepper",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": stored0}),
        Want::Err("unknown_pepper"),
    );
    v.case(
        "wrong_key",
        GEN,
        json!({"peppers": both, "key": keys_for("acme_live", 16, 32, 22), "stored": stored1}),
        Want::Err("digest_mismatch"),
    );
    v.case(
        "duplicate_pepper_ids",
        GEN,
        json!({"peppers": [p1, pepper("p1", 5)], "key": k, "stored": stored1}),
        Want::Err("invalid_pepper"),
    );
    v.case(
        "imported_sha256_hex",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": sha}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    v.case(
        "imported_sha256_hex_uppercase",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": sha.to_uppercase()}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    v.case(
        "imported_sha256_prefixed",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": format!("sha256:{sha}")}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    v.case(
        "imported_sha256_base64",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": std64}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    v.case(
        "imported_sha256_base64url",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": url64}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    let foreign = "4baccb809a3578f4xZGp74ik1k54wD03Y25fJ7KRIR7oVJsfgyFuQj4yaCFkhQMA5qjHyETS95PCy3uKcNm2bz6NrtVFHELWPh7mZxpx6cczHZYAbuufuy2QQ7zeKvkM";
    let foreign_sha = keyseal::digest::sha256_hex(foreign);
    v.case(
        "imported_foreign_key",
        GEN,
        json!({"peppers": [p1], "key": foreign, "stored": foreign_sha}),
        Want::Exactly(json!({"status": "outdated"})),
    );
    v.case(
        "imported_sha256_wrong_key",
        GEN,
        json!({"peppers": [p1], "key": foreign, "stored": sha}),
        Want::Err("digest_mismatch"),
    );
    let mut noncanon = stored1.clone();
    let last = noncanon.pop().unwrap();
    // The last of 43 characters carries 2 data bits; setting a padding bit is non-canonical.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let pos = alphabet.iter().position(|&b| b as char == last).unwrap();
    noncanon.push(alphabet[pos ^ 1] as char);
    v.case(
        "non_canonical_base64",
        GEN,
        json!({"peppers": [p1], "key": k, "stored": noncanon}),
        Want::Err("malformed_digest"),
    );
    for (id, stored) in [
        ("v1_short_digest", stored1[..stored1.len() - 4].to_owned()),
        ("v1_without_digest", "v1.p1".to_owned()),
        ("v1_empty_pepper_id", format!("v1..{}", &stored1[6..])),
        ("unknown_version", stored1.replacen("v1.", "v2.", 1)),
        ("plain_text", "hello".to_owned()),
        ("hex_63_chars", sha[..63].to_owned()),
        ("hex_non_hex_char", format!("{}g", &sha[..63])),
        ("too_long", "a".repeat(200)),
        ("empty", String::new()),
    ] {
        v.case(
            id,
            GEN,
            json!({"peppers": [p1], "key": k, "stored": stored}),
            Want::Err("malformed_digest"),
        );
    }
    (c, v)
}

fn hmac_vectors() -> File {
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

fn tkey(kid: &str, alg: &str, seed: u64, len: usize) -> Value {
    json!({"kid": kid, "alg": alg, "secret_hex": entropy(seed, len), "verify_until": null})
}

/// A realistic token payload: about 350 bytes of signing input.
fn typical_claims(now: i64) -> Value {
    json!({
        "iss": "https://auth.acme.example",
        "sub": "user_7Hq2kLm9PzX4",
        "aud": "https://api.acme.example",
        "exp": now + 600, "nbf": now, "iat": now,
        "jti": "tok_3f9a1c2e8b7d4e6f",
        "scope": "keys:read keys:write billing:read",
        "role": "merchant-terminal",
    })
}

/// Signs arbitrary header and payload text with an HS256 key (for malformed-payload cases).
fn sign_raw(header: &str, payload_b64: &str, secret_hex: &str) -> String {
    let input = format!("{}.{}", B64.encode(header), payload_b64);
    let mac = keyseal::token::hmac_sha256(&runner::unhex(secret_hex), input.as_bytes()).unwrap();
    format!("{input}.{}", B64.encode(mac))
}

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn tokens() -> (File, File, File) {
    let mut issue = File::new(
        "token_issue",
        "Issuing HS256/HS384/HS512 tokens: header {alg, typ, kid}; claims in the order iss, sub, aud, exp, nbf, iat, jti, scope, role, then extra claims sorted by name.",
    );
    let mut verify = File::new(
        "token_verify",
        "Verifying tokens: RFC 7515 A.1, every failure code, each algorithm, rotation, leeway edges.",
    );
    let mut exch = File::new(
        "token_exchange",
        "Exchange tokens for a verified API key: sub = owner (else key id), exp = now + ttl (default 600), scope, role, key_id.",
    );
    let k1 = tkey("k1", "HS256", 31, 32);
    let k0 = {
        let mut k = tkey("k0", "HS256", 30, 32);
        k["verify_until"] = json!(NOW + 3600);
        k
    };
    let k384 = tkey("k384", "HS384", 32, 48);
    let k512 = tkey("k512", "HS512", 33, 64);
    let ks = json!([k1, k0, k384, k512]);
    let c = typical_claims(NOW);
    let tok = |out: Value| out["token"].as_str().unwrap().to_owned();
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

    let val = |extra: Value| {
        let mut v = json!({"audiences": ["https://api.acme.example"]});
        if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
            for (k, x) in e {
                o.insert(k.clone(), x.clone());
            }
        }
        v
    };
    let vc = |token: &str, now: i64, validation: Value| json!({"keys": ks, "token": token, "now": now, "validation": validation});
    verify.case("hs256_valid", GEN, vc(&t1, NOW, val(json!({}))), Want::Ok);
    verify.case("hs384_valid", GEN, vc(&t384, NOW, val(json!({}))), Want::Ok);
    verify.case("hs512_valid", GEN, vc(&t512, NOW, val(json!({}))), Want::Ok);
    verify.case(
        "rotated_key_in_grace_token_expired",
        GEN,
        vc(&t0, NOW + 3599, val(json!({"leeway": 0}))),
        Want::Err("token_expired"),
    );
    verify.case(
        "rotated_key_in_grace_valid",
        GEN,
        vc(&t0, NOW + 10, val(json!({}))),
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
        vc(&tseed, NOW, json!({})),
        Want::Ok,
    );
    verify.case(
        "aud_array_match",
        GEN,
        vc(&taud, NOW, val(json!({}))),
        Want::Ok,
    );
    verify.case(
        "aud_array_no_match",
        GEN,
        vc(&taud, NOW, json!({"audiences": ["https://other.example"]})),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "aud_mismatch",
        GEN,
        vc(&t1, NOW, json!({"audiences": ["https://other.example"]})),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "aud_present_none_accepted",
        GEN,
        vc(&t1, NOW, json!({})),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "aud_missing_one_required",
        GEN,
        vc(&tseed, NOW, val(json!({}))),
        Want::Err("invalid_audience"),
    );
    verify.case(
        "iss_match",
        GEN,
        vc(
            &t1,
            NOW,
            val(json!({"issuers": ["https://auth.acme.example"]})),
        ),
        Want::Ok,
    );
    verify.case(
        "iss_mismatch",
        GEN,
        vc(&t1, NOW, val(json!({"issuers": ["https://evil.example"]}))),
        Want::Err("invalid_issuer"),
    );
    verify.case(
        "iss_missing",
        GEN,
        vc(
            &tseed,
            NOW,
            json!({"issuers": ["https://auth.acme.example"]}),
        ),
        Want::Err("invalid_issuer"),
    );
    // exp = NOW + 600: valid strictly before exp (RFC 7519 4.1.4).
    verify.case(
        "exp_one_second_before",
        GEN,
        vc(&t1, NOW + 599, val(json!({}))),
        Want::Ok,
    );
    verify.case(
        "exp_at_exp",
        GEN,
        vc(&t1, NOW + 600, val(json!({}))),
        Want::Err("token_expired"),
    );
    verify.case(
        "exp_leeway_edge_inside",
        GEN,
        vc(&t1, NOW + 600 + 29, val(json!({"leeway": 30}))),
        Want::Ok,
    );
    verify.case(
        "exp_leeway_edge_outside",
        GEN,
        vc(&t1, NOW + 600 + 30, val(json!({"leeway": 30}))),
        Want::Err("token_expired"),
    );
    // nbf = iat = NOW.
    verify.case("nbf_at_nbf", GEN, vc(&t1, NOW, val(json!({}))), Want::Ok);
    verify.case(
        "nbf_one_second_early",
        GEN,
        vc(&t1, NOW - 1, val(json!({}))),
        Want::Err("token_not_yet_valid"),
    );
    verify.case(
        "nbf_leeway_edge_inside",
        GEN,
        vc(&t1, NOW - 300, val(json!({"leeway": 300}))),
        Want::Ok,
    );
    verify.case(
        "nbf_leeway_edge_outside",
        GEN,
        vc(&t1, NOW - 301, val(json!({"leeway": 300}))),
        Want::Err("token_not_yet_valid"),
    );
    verify.case(
        "leeway_over_cap",
        GEN,
        vc(&t1, NOW, val(json!({"leeway": 301}))),
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
            &t1,
            NOW + 600,
            val(json!({"dangerously_allow_missing_exp": true})),
        ),
        Want::Err("token_expired"),
    );
    verify.case(
        "jti_required",
        GEN,
        vc(&tseed, NOW, json!({"required": ["exp", "jti"]})),
        Want::Err("missing_claim"),
    );
    verify.case(
        "jti_present",
        GEN,
        vc(
            &t1,
            NOW,
            val(json!({"required": ["exp", "jti", "sub", "iss"]})),
        ),
        Want::Ok,
    );

    // Signature and header failures.
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
        vc(&t1, NOW, val(json!({"max_token_len": 100}))),
        Want::Err("token_too_large"),
    );
    verify.case(
        "max_token_len_too_small",
        GEN,
        vc(&t1, NOW, val(json!({"max_token_len": 10}))),
        Want::Err("invalid_config"),
    );

    // RFC 7515 appendix A.1: the HS256 example (header without kid, CRLF inside the JSON).
    let rfc_key = json!({"kid": "rfc7515", "alg": "HS256", "verify_until": null,
        "secret_hex": runner::hex(&B64.decode("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow").unwrap())});
    let rfc_token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let rfc = |now: i64, validation: Value| json!({"keys": [rfc_key], "token": rfc_token, "now": now, "validation": validation});
    verify.case(
        "rfc7515_a1",
        "RFC 7515 appendix A.1",
        rfc(1_300_819_379, json!({"issuers": ["joe"]})),
        Want::Exactly(json!({
            "kid": "rfc7515", "alg": "HS256",
            "claims": {"iss": "joe", "exp": 1_300_819_380, "http://example.com/is_root": true},
        })),
    );
    verify.case(
        "rfc7515_a1_expired",
        "RFC 7515 appendix A.1",
        rfc(1_300_819_380, json!({})),
        Want::Err("token_expired"),
    );
    verify.case(
        "rfc7515_a1_leeway",
        "RFC 7515 appendix A.1",
        rfc(1_300_819_380, json!({"leeway": 1})),
        Want::Ok,
    );

    let ident = |owner: Value, scopes: Value, role: Value| json!({"key_id": "AbCdEfGh12345678", "owner": owner, "scopes": scopes, "role": role});
    exch.case("defaults", GEN, json!({"keys": [k1], "identity": ident(json!("user_42"), json!(["keys:read", "billing:*"]), json!("merchant-terminal")), "now": NOW, "options": {}}), Want::Ok);
    exch.case("with_options", GEN, json!({"keys": [k1], "identity": ident(json!("user_42"), json!(["keys:read"]), json!("account-owner")), "now": NOW, "options": {"ttl": 300, "issuer": "https://auth.acme.example", "audience": "https://api.acme.example", "jti": "x1"}}), Want::Ok);
    exch.case("no_owner_uses_key_id", GEN, json!({"keys": [k1], "identity": ident(json!(null), json!([]), json!(null)), "now": NOW, "options": {}}), Want::Ok);
    exch.case("ttl_zero", GEN, json!({"keys": [k1], "identity": ident(json!("u"), json!([]), json!(null)), "now": NOW, "options": {"ttl": 0}}), Want::Err("invalid_config"));
    exch.case("ttl_over_a_day", GEN, json!({"keys": [k1], "identity": ident(json!("u"), json!([]), json!(null)), "now": NOW, "options": {"ttl": 86401}}), Want::Err("invalid_config"));
    (issue, verify, exch)
}

fn policies() -> File {
    let mut f = File::new(
        "policy_check",
        "Policy decisions: revoked, disabled, expiry, IPv4/IPv6 CIDR allowlists, roles, read-only methods, scopes with trailing-* wildcards.",
    );
    let ctx = |v: Value| {
        let mut base = json!({"now": NOW, "client_ip": null, "method": "GET", "required_scopes": [], "allowed_roles": []});
        for (k, x) in v.as_object().unwrap() {
            base[k] = x.clone();
        }
        base
    };
    let mut case = |id: &str, policy: Value, c: Value, want: Want| {
        f.case(id, GEN, json!({"policy": policy, "context": ctx(c)}), want);
    };
    case(
        "default_allows",
        json!({}),
        json!({}),
        Want::Exactly(json!(true)),
    );
    case(
        "revoked",
        json!({"revoked": true, "enabled": false}),
        json!({}),
        Want::Err("key_revoked"),
    );
    case(
        "disabled",
        json!({"enabled": false}),
        json!({}),
        Want::Err("key_disabled"),
    );
    case(
        "expires_one_second_later",
        json!({"expires_at": NOW + 1}),
        json!({}),
        Want::Ok,
    );
    case(
        "expires_now",
        json!({"expires_at": NOW}),
        json!({}),
        Want::Err("key_expired"),
    );
    case(
        "never_expires",
        json!({"expires_at": null}),
        json!({"now": i64::MAX}),
        Want::Ok,
    );
    let v4 = json!({"allowed_ips": ["10.0.0.0/8", "192.168.1.0/24", "203.0.113.7", "0.0.0.0/32"]});
    case(
        "ipv4_cidr_low_edge",
        v4.clone(),
        json!({"client_ip": "10.0.0.0"}),
        Want::Ok,
    );
    case(
        "ipv4_cidr_high_edge",
        v4.clone(),
        json!({"client_ip": "10.255.255.255"}),
        Want::Ok,
    );
    case(
        "ipv4_cidr_just_outside",
        v4.clone(),
        json!({"client_ip": "11.0.0.0"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_24_high_edge",
        v4.clone(),
        json!({"client_ip": "192.168.1.255"}),
        Want::Ok,
    );
    case(
        "ipv4_24_just_outside",
        v4.clone(),
        json!({"client_ip": "192.168.2.0"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_single_address",
        v4.clone(),
        json!({"client_ip": "203.0.113.7"}),
        Want::Ok,
    );
    case(
        "ipv4_single_address_neighbour",
        v4.clone(),
        json!({"client_ip": "203.0.113.8"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_mapped_ipv6_client",
        v4.clone(),
        json!({"client_ip": "::ffff:10.1.2.3"}),
        Want::Ok,
    );
    case(
        "ipv6_client_ipv4_list",
        v4.clone(),
        json!({"client_ip": "2001:db8::1"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "allowlist_without_client_ip",
        v4.clone(),
        json!({"client_ip": null}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_slash_0",
        json!({"allowed_ips": ["0.0.0.0/0"]}),
        json!({"client_ip": "198.51.100.1"}),
        Want::Ok,
    );
    let v6 = json!({"allowed_ips": ["2001:db8::/32", "::1", "fe80::/10"]});
    case(
        "ipv6_cidr_low_edge",
        v6.clone(),
        json!({"client_ip": "2001:db8::"}),
        Want::Ok,
    );
    case(
        "ipv6_cidr_high_edge",
        v6.clone(),
        json!({"client_ip": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"}),
        Want::Ok,
    );
    case(
        "ipv6_cidr_just_outside",
        v6.clone(),
        json!({"client_ip": "2001:db9::"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv6_single_address",
        v6.clone(),
        json!({"client_ip": "::1"}),
        Want::Ok,
    );
    case(
        "ipv6_10_edge",
        v6.clone(),
        json!({"client_ip": "febf:ffff::1"}),
        Want::Ok,
    );
    case(
        "ipv6_10_outside",
        v6.clone(),
        json!({"client_ip": "fec0::1"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv4_client_ipv6_list",
        v6.clone(),
        json!({"client_ip": "127.0.0.1"}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "ipv6_slash_0",
        json!({"allowed_ips": ["::/0"]}),
        json!({"client_ip": "2001:db8::5"}),
        Want::Ok,
    );
    for (id, cidr) in [
        ("cidr_host_bits_set", "10.0.0.1/8"),
        ("cidr_v4_prefix_33", "10.0.0.0/33"),
        ("cidr_v4_octet_300", "300.0.0.0/8"),
        ("cidr_v6_prefix_129", "2001:db8::/129"),
        ("cidr_v6_host_bits_set", "2001:db8::1/32"),
        ("cidr_empty_prefix", "10.0.0.0/"),
        ("cidr_negative_prefix", "10.0.0.0/-1"),
        ("cidr_text", "localhost"),
        ("cidr_empty", ""),
        ("cidr_with_spaces", " 10.0.0.0/8"),
    ] {
        case(
            id,
            json!({"allowed_ips": [cidr]}),
            json!({"client_ip": "10.0.0.1"}),
            Want::Err("invalid_cidr"),
        );
    }
    case(
        "client_ip_not_an_ip",
        v4.clone(),
        json!({"client_ip": "10.0.0"}),
        Want::Err("invalid_cidr"),
    );
    case(
        "read_only_get",
        json!({"read_only": true}),
        json!({"method": "GET"}),
        Want::Ok,
    );
    case(
        "read_only_head",
        json!({"read_only": true}),
        json!({"method": "HEAD"}),
        Want::Ok,
    );
    case(
        "read_only_options",
        json!({"read_only": true}),
        json!({"method": "OPTIONS"}),
        Want::Ok,
    );
    case(
        "read_only_post",
        json!({"read_only": true}),
        json!({"method": "POST"}),
        Want::Err("read_only_key"),
    );
    case(
        "read_only_delete",
        json!({"read_only": true}),
        json!({"method": "DELETE"}),
        Want::Err("read_only_key"),
    );
    case(
        "read_only_lowercase_get_is_not_get",
        json!({"read_only": true}),
        json!({"method": "get"}),
        Want::Err("read_only_key"),
    );
    case(
        "read_only_no_method",
        json!({"read_only": true}),
        json!({"method": null}),
        Want::Err("read_only_key"),
    );
    case(
        "read_write_post",
        json!({}),
        json!({"method": "POST"}),
        Want::Ok,
    );
    let scoped = json!({"scopes": ["keys:read", "billing:*", "reports/daily"]});
    case(
        "scope_exact",
        scoped.clone(),
        json!({"required_scopes": ["keys:read"]}),
        Want::Ok,
    );
    case(
        "scope_wildcard",
        scoped.clone(),
        json!({"required_scopes": ["billing:invoices:read"]}),
        Want::Ok,
    );
    case(
        "scope_all_required",
        scoped.clone(),
        json!({"required_scopes": ["keys:read", "billing:x", "reports/daily"]}),
        Want::Ok,
    );
    case(
        "scope_one_missing",
        scoped.clone(),
        json!({"required_scopes": ["keys:read", "keys:write"]}),
        Want::Err("insufficient_scope"),
    );
    case(
        "scope_wildcard_needs_separator",
        scoped.clone(),
        json!({"required_scopes": ["billingx"]}),
        Want::Err("insufficient_scope"),
    );
    case(
        "scope_no_prefix_match_without_star",
        scoped.clone(),
        json!({"required_scopes": ["keys:read:all"]}),
        Want::Err("insufficient_scope"),
    );
    case(
        "scope_star_grants_all",
        json!({"scopes": ["*"]}),
        json!({"required_scopes": ["anything:at/all"]}),
        Want::Ok,
    );
    case(
        "scope_none_granted",
        json!({}),
        json!({"required_scopes": ["keys:read"]}),
        Want::Err("insufficient_scope"),
    );
    for (id, s) in [
        ("scope_empty", ""),
        ("scope_with_space", "keys read"),
        ("scope_inner_star", "ke*ys"),
        ("scope_double_star", "keys:**"),
        ("scope_too_long", &"a".repeat(129)),
        ("scope_non_ascii", "clés"),
    ] {
        case(
            id,
            json!({"scopes": [s]}),
            json!({}),
            Want::Err("invalid_scope"),
        );
    }
    case(
        "role_allowed",
        json!({"role": "account-owner"}),
        json!({"allowed_roles": ["account-owner"]}),
        Want::Ok,
    );
    case(
        "role_not_allowed",
        json!({"role": "merchant-terminal"}),
        json!({"allowed_roles": ["account-owner"]}),
        Want::Err("role_not_allowed"),
    );
    case(
        "role_missing",
        json!({}),
        json!({"allowed_roles": ["account-owner"]}),
        Want::Err("role_not_allowed"),
    );
    case(
        "role_any",
        json!({"role": "merchant-terminal"}),
        json!({}),
        Want::Ok,
    );
    let full = json!({
        "role": "merchant-terminal", "read_only": true, "expires_at": NOW + 86400,
        "scopes": ["keys:read", "keys:list", "billing:*", "reports:read", "users:read", "audit:read"],
        "allowed_ips": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "2001:db8::/32"],
    });
    case(
        "full_record_allowed",
        full.clone(),
        json!({"client_ip": "2001:db8::42", "method": "GET", "required_scopes": ["billing:read", "audit:read"], "allowed_roles": ["merchant-terminal"]}),
        Want::Ok,
    );
    case(
        "full_record_order_ip_before_read_only",
        full.clone(),
        json!({"client_ip": "8.8.8.8", "method": "POST", "required_scopes": ["nope"]}),
        Want::Err("ip_not_allowed"),
    );
    case(
        "full_record_order_read_only_before_scope",
        full,
        json!({"client_ip": "10.1.1.1", "method": "POST", "required_scopes": ["nope"]}),
        Want::Err("read_only_key"),
    );
    f
}

fn headers() -> File {
    let mut f = File::new(
        "headers_extract",
        "Credentials from request headers: Authorization Bearer (key or token), x-api-key, accessKey + secretKey; ambiguity and duplicates are errors.",
    );
    let key = keys_for("acme_live", 16, 32, 41);
    let (access, secret) = key.rsplit_once('_').unwrap();
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln";
    let mut case = |id: &str, headers: Value, want: Want| {
        f.case(id, GEN, json!({"headers": headers}), want);
    };
    case(
        "bearer_key",
        json!([["Authorization", format!("Bearer {key}")]]),
        Want::Exactly(json!({"kind": "api_key", "source": "bearer", "value": key})),
    );
    case(
        "bearer_token",
        json!([["authorization", format!("Bearer {token}")]]),
        Want::Exactly(json!({"kind": "token", "source": "bearer", "value": token})),
    );
    case(
        "bearer_scheme_any_case",
        json!([["AUTHORIZATION", format!("bEaReR {key}")]]),
        Want::Ok,
    );
    case(
        "bearer_extra_whitespace",
        json!([["Authorization", format!("  Bearer \t {key}  ")]]),
        Want::Exactly(json!({"kind": "api_key", "source": "bearer", "value": key})),
    );
    case(
        "x_api_key",
        json!([["x-api-key", key]]),
        Want::Exactly(json!({"kind": "api_key", "source": "x-api-key", "value": key})),
    );
    case(
        "x_api_key_any_case",
        json!([["X-API-Key", key], ["content-type", "application/json"]]),
        Want::Ok,
    );
    case(
        "key_pair",
        json!([["accessKey", access], ["secretKey", secret]]),
        Want::Exactly(json!({"kind": "key_pair", "source": "key-pair", "value": key})),
    );
    case(
        "key_pair_lowercase",
        json!([["accesskey", access], ["SECRETKEY", secret]]),
        Want::Ok,
    );
    case("nothing", json!([]), Want::Err("missing_credential"));
    case(
        "unrelated_headers",
        json!([["cookie", "a=b"], ["x-api-keys", key]]),
        Want::Err("missing_credential"),
    );
    case(
        "basic_scheme",
        json!([["Authorization", "Basic dXNlcjpwYXNz"]]),
        Want::Err("unsupported_auth_scheme"),
    );
    case(
        "scheme_only_bearer",
        json!([["Authorization", "Bearer"]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "bearer_two_values",
        json!([["Authorization", format!("Bearer {key} {key}")]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "empty_x_api_key",
        json!([["x-api-key", "  "]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "bearer_and_x_api_key",
        json!([
            ["Authorization", format!("Bearer {key}")],
            ["x-api-key", key]
        ]),
        Want::Err("ambiguous_credential"),
    );
    case(
        "basic_and_x_api_key",
        json!([["Authorization", "Basic dXNlcjpwYXNz"], ["x-api-key", key]]),
        Want::Err("ambiguous_credential"),
    );
    case(
        "x_api_key_and_pair",
        json!([
            ["x-api-key", key],
            ["accessKey", access],
            ["secretKey", secret]
        ]),
        Want::Err("ambiguous_credential"),
    );
    case(
        "duplicate_x_api_key",
        json!([["x-api-key", key], ["X-Api-Key", key]]),
        Want::Err("duplicate_credential"),
    );
    case(
        "folded_x_api_key",
        json!([["x-api-key", format!("{key}, {key}")]]),
        Want::Err("duplicate_credential"),
    );
    case(
        "duplicate_authorization",
        json!([
            ["authorization", format!("Bearer {key}")],
            ["Authorization", format!("Bearer {key}")]
        ]),
        Want::Err("duplicate_credential"),
    );
    case(
        "access_key_only",
        json!([["accessKey", access]]),
        Want::Err("incomplete_credential"),
    );
    case(
        "secret_key_only",
        json!([["secretKey", secret]]),
        Want::Err("incomplete_credential"),
    );
    f
}

fn errors_json() -> Value {
    let codes: Vec<Value> = ErrorCode::ALL
        .iter()
        .map(|c| json!({"code": c.as_str(), "family": c.family().as_str(), "description": describe(*c)}))
        .collect();
    json!({ "description": "Every error code keyseal raises, with its family. Generated from keyseal::ErrorCode.", "codes": codes })
}

/// The doc line of each code, read from core/src/error.rs so the list has one source.
fn describe(code: ErrorCode) -> String {
    let src = include_str!("../../../core/src/error.rs");
    let needle = format!("=> \"{}\",", code.as_str());
    let lines: Vec<&str> = src.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(&needle))
        .expect("code in error.rs");
    let mut doc = Vec::new();
    let mut i = at;
    while i > 0 && lines[i - 1].trim_start().starts_with("///") {
        i -= 1;
        doc.insert(0, lines[i].trim_start().trim_start_matches("///").trim());
    }
    doc.join(" ")
}

fn write(dir: &Path, name: &str, value: &Value, check: bool, stale: &mut Vec<String>) {
    let mut text = serde_json::to_string_pretty(value).unwrap();
    text.push('\n');
    let path = dir.join(name);
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    if old != text {
        if check {
            stale.push(name.to_owned());
        } else {
            std::fs::write(&path, text).unwrap();
        }
    }
}

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let (dc, dv) = digests();
    let (ti, tv, te) = tokens();
    let files = [
        ("key_generate.json", key_generate()),
        ("key_parse.json", key_parse()),
        ("digest_compute.json", dc),
        ("digest_verify.json", dv),
        ("hmac_sha256.json", hmac_vectors()),
        ("token_issue.json", ti),
        ("token_verify.json", tv),
        ("token_exchange.json", te),
        ("policy_check.json", policies()),
        ("headers_extract.json", headers()),
        ("meter.json", meter::meter()),
    ];
    let mut stale = Vec::new();
    let mut total = 0;
    for (name, file) in &files {
        total += file.cases.len();
        write(&dir, name, &file.json(), check, &mut stale);
    }
    write(&dir, "errors.json", &errors_json(), check, &mut stale);
    if !stale.is_empty() {
        eprintln!(
            "tests/vectors is stale: {} would change. Run `cargo run -p keyseal-vectors` and commit.",
            stale.join(", ")
        );
        std::process::exit(1);
    }
    println!(
        "{} {} vectors in {} files",
        if check { "checked" } else { "wrote" },
        total,
        files.len() + 1
    );
}
