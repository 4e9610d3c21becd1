//! The registry's own errors, built in one place.

use keyseal::{Error, ErrorCode};

pub(super) fn reg(code: ErrorCode, detail: &'static str) -> Error {
    Error::registry(code, detail)
}

pub(super) fn not_found() -> Error {
    reg(
        ErrorCode::NotFound,
        "no key with this id or name in this account",
    )
}

pub(super) fn conflict() -> Error {
    reg(
        ErrorCode::VersionConflict,
        "the key changed since the expected version was read",
    )
}
