//! Multi-row statements: one statement per chunk of rows, in power-of-two chunk lengths,
//! so a statement's text (and its prepared plan) comes in at most `log2(max) + 1` shapes.

/// Splits `items` into chunks of power-of-two lengths, largest first, each at most `max`
/// (a power of two).
pub(crate) fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = 1 << rest.len().min(max.max(1)).ilog2();
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// `n` copies of `row` (a parenthesized placeholder list), comma-separated: the body of
/// a `VALUES` or `IN` list.
pub(crate) fn repeat_rows(row: &str, n: usize) -> String {
    vec![row; n].join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_at_most_max_and_cover_everything_in_order() {
        for len in 0..600 {
            let items: Vec<usize> = (0..len).collect();
            let chunks: Vec<&[usize]> = pow2_chunks(&items, 256).collect();
            assert!(
                chunks
                    .iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= 256)
            );
            assert_eq!(chunks.concat(), items);
        }
    }
}
