//! The root README stays true: its Rust quick start is the doc-tested one, and it lists
//! every error code.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn rust_block(text: &str) -> &str {
    let start = text.find("```rust\n").expect("a rust block");
    let rest = &text[start..];
    &rest[..rest[7..].find("```\n").expect("closing fence") + 7]
}

#[test]
fn quick_start_is_the_doc_tested_example() {
    assert_eq!(
        rust_block(&read("../README.md")),
        rust_block(&read("README.md"))
    );
}

#[test]
fn readme_lists_every_error_code() {
    let readme = read("../README.md");
    for code in keyseal::ErrorCode::ALL {
        assert!(
            readme.contains(&format!("| `{}` |", code.as_str())),
            "{code} missing from README"
        );
    }
}

/// The root README's Python and JavaScript quick starts are the packages' own (the Python
/// one is executed by tests/python/test_readme.py against the installed wheel).
#[test]
fn binding_quick_starts_match_the_package_readmes() {
    let readme = read("../README.md");
    for (pkg, fence) in [
        ("../packages/python/README.md", "```python\n"),
        ("../packages/npm/README.md", "```js\n"),
    ] {
        let text = read(pkg);
        let mut rest = text.as_str();
        let mut found = 0;
        while let Some(start) = rest.find(fence) {
            let block = &rest[start..];
            let end = block[fence.len()..].find("```\n").expect("closing fence") + fence.len() + 4;
            assert!(
                readme.contains(&block[..end]),
                "README lacks a quick-start block of {pkg}"
            );
            found += 1;
            rest = &block[end..];
            if fence == "```python\n" {
                break;
            }
        }
        assert!(found > 0, "{pkg} has no {fence} block");
    }
}
