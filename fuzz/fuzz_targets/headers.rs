//! Header extraction never panics and never returns a value that is not in the input.
#![no_main]
use keyseal::{Credential, extract_credential};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 6] = ["authorization", "x-api-key", "accessKey", "secretKey", "X-Api-Key", "other"];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Lines of "<name index byte><value>"; the name comes from a small set so the
    // interesting branches are reached, or is the raw text when the index is out of range.
    let pairs: Vec<(&str, &str)> = text
        .split('\n')
        .filter_map(|line| {
            let mut chars = line.char_indices();
            let (_, c) = chars.next()?;
            let rest = &line[c.len_utf8()..];
            let name = NAMES.get((c as usize) % 8).copied().unwrap_or(rest);
            Some((name, rest))
        })
        .collect();
    if let Ok(cred) = extract_credential(pairs.iter().copied()) {
        match cred {
            Credential::ApiKey { key, .. } => assert!(text.contains(key) && !key.is_empty()),
            Credential::Token(t) => assert!(text.contains(t) && t.contains('.')),
            Credential::KeyPair { access_key, secret_key } => {
                assert!(text.contains(access_key) && text.contains(secret_key));
            }
        }
    }
});
