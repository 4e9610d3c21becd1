//! Key parsing and digest verification never panic; whatever parses round-trips.
#![no_main]
use keyseal::{KeyFormat, Pepper, PepperSet, parse_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = parse_key(text) {
        assert_eq!(key.expose(), text);
        assert_eq!(format!("{}_{}", key.prefixed_id(), key.expose_secret_with_checksum()), text);
        let format = KeyFormat::new(key.prefix())
            .and_then(|f| f.with_lengths(key.id().len(), key.expose_secret().len()))
            .expect("a parsed key's own format is valid");
        assert!(format.check(text).is_ok());
    }
    let _ = KeyFormat::new("acme_live").map(|f| f.check(text));
    let set = PepperSet::new(Pepper::new("p1", &[7u8; 32]).expect("pepper"));
    let _ = set.verify("acme_live_key", text);
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid -= 1;
    }
    let (a, b) = text.split_at(mid);
    let _ = set.verify(a, b);
});
