//! `errors.json`: every error code with its family and description.

use keyseal::ErrorCode;
use serde_json::{Value, json};

pub(crate) fn errors_json() -> Value {
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
