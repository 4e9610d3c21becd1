//! One vector file as it is built: its cases, each checked against the core as it is
//! added, and how the file is written (or compared, with `--check`).

use keyseal::ErrorCode;
use keyseal_vectors::runner::{expect_of, run};
use serde_json::{Value, json};
use std::path::Path;

/// The `source` of a case made up here rather than taken from a specification.
pub(crate) const GEN: &str = "generated";

/// What a case must produce.
pub(crate) enum Want {
    /// Record whatever the core returns; it must succeed.
    Ok,
    /// The core must return exactly this value.
    Exactly(Value),
    /// The core must fail with this code.
    Err(&'static str),
}

pub(crate) struct File {
    op: &'static str,
    description: &'static str,
    pub(crate) cases: Vec<Value>,
}

impl File {
    pub(crate) fn new(op: &'static str, description: &'static str) -> File {
        File {
            op,
            description,
            cases: Vec::new(),
        }
    }

    pub(crate) fn case(&mut self, id: &str, source: &str, input: Value, want: Want) -> Value {
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

    pub(crate) fn json(&self) -> Value {
        json!({ "op": self.op, "description": self.description, "cases": self.cases })
    }
}

/// Writes `value` to `dir/name` as pretty JSON, or with `check` only records the name in
/// `stale` when the file would change.
pub(crate) fn write(dir: &Path, name: &str, value: &Value, check: bool, stale: &mut Vec<String>) {
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
