//! Writes `tests/vectors/*.json`, the cross-language test vectors.
//!
//! `cargo run -p keyseal-vectors` regenerates them in place; `-- --check` fails if any file
//! would change (the test command runs that). Error cases name their expected code here
//! and RFC cases their expected output, and generation stops if the core disagrees, so
//! the generator is a test too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod digests;
mod errors;
mod file;
mod fixtures;
mod headers;
mod hmac;
mod keys;
mod meter;
mod policies;
mod tokens;

use file::write;
use std::path::PathBuf;

fn main() {
    let check = std::env::args().any(|a| a == "--check");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let (dc, dv) = digests::digests();
    let (ti, tv, te) = tokens::tokens();
    let files = [
        ("key_generate.json", keys::key_generate()),
        ("key_parse.json", keys::key_parse()),
        ("digest_compute.json", dc),
        ("digest_verify.json", dv),
        ("hmac_sha256.json", hmac::hmac_vectors()),
        ("token_issue.json", ti),
        ("token_verify.json", tv),
        ("token_exchange.json", te),
        ("policy_check.json", policies::policies()),
        ("headers_extract.json", headers::headers()),
        ("meter.json", meter::meter()),
    ];
    let mut stale = Vec::new();
    let mut total = 0;
    for (name, file) in &files {
        total += file.cases.len();
        write(&dir, name, &file.json(), check, &mut stale);
    }
    write(
        &dir,
        "errors.json",
        &errors::errors_json(),
        check,
        &mut stale,
    );
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
