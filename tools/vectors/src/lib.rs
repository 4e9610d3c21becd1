//! The cross-language test vectors' runner: what each vector's input means to the Rust
//! core. The generator (`src/main.rs` and its modules) writes `tests/vectors/*.json` with it, and
//! `tests/vectors.rs` checks every vector against the core with it, so both read the
//! inputs the same way.

// A test tool: a vector that does not parse is a bug in the vectors, and stops the run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod meter_run;
pub mod runner;
