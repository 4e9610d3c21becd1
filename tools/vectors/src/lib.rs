//! The cross-language test vectors' runner: what each vector's input means to the Rust
//! core. The generator (`src/main.rs`) writes `tests/vectors/*.json` with it, and
//! `tests/vectors.rs` checks every vector against the core with it, so both read the
//! inputs the same way.

pub mod runner;
