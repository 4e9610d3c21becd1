//! Runs every case in tests/vectors/*.json through the core and compares the outcome.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use keyseal_vectors::runner;

use serde_json::Value;
use std::path::PathBuf;

fn vector_files() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, v)
        })
        .collect()
}

#[test]
fn every_vector_matches_the_core() {
    let mut ran = 0;
    let mut failures = Vec::new();
    for (name, file) in vector_files() {
        let Some(op) = file.get("op").and_then(Value::as_str) else {
            continue; // errors.json
        };
        for case in file["cases"].as_array().unwrap() {
            let got = runner::expect_of(runner::run(op, &case["input"]));
            let want = &case["expect"];
            if &got != want {
                failures.push(format!("{name} {}: want {want}, got {got}", case["id"]));
            }
            ran += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(ran > 250, "only {ran} vectors ran");
}

#[test]
fn errors_json_lists_every_code_once() {
    let files = vector_files();
    let errors = &files.iter().find(|(n, _)| n == "errors.json").unwrap().1;
    let listed: Vec<&str> = errors["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    let core: Vec<&str> = keyseal::ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(listed, core);
    let mut dedup = core.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(dedup.len(), core.len(), "duplicate codes");
}

#[test]
fn every_error_code_in_vectors_is_known() {
    for (name, file) in vector_files() {
        if let Some(cases) = file.get("cases").and_then(Value::as_array) {
            for case in cases {
                if let Some(code) = case["expect"].get("error").and_then(Value::as_str) {
                    assert!(
                        keyseal::ErrorCode::from_name(code).is_some(),
                        "{name}: {code}"
                    );
                }
            }
        }
    }
}
