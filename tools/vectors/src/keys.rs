//! `key_generate.json` and `key_parse.json`: API keys made from fixed entropy, and every
//! way a presented key can be malformed.

use crate::file::{File, GEN, Want};
use crate::fixtures::{entropy, keys_for};
use serde_json::json;

/// Recomputes the checksum of `body` (everything before the checksum).
fn with_checksum(body: &str) -> String {
    let sum = keyseal::key::checksum(body.as_bytes());
    format!("{body}{}", std::str::from_utf8(&sum).unwrap())
}

pub(crate) fn key_generate() -> File {
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

pub(crate) fn key_parse() -> File {
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
