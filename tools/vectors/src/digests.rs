//! `digest_compute.json` and `digest_verify.json`: the stored digest of a key under one
//! or more peppers, and every way a stored digest can fail to match.

use crate::file::{File, GEN, Want};
use crate::fixtures::{entropy, keys_for};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyseal_vectors::runner;
use serde_json::{Value, json};

fn pepper(id: &str, seed: u64) -> Value {
    json!({"id": id, "secret_hex": entropy(seed, 32)})
}

pub(crate) fn digests() -> (File, File) {
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
