//! keyseal binding: being written.
