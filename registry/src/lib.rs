//! keyseal registry: being written.
