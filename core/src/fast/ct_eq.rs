//! Constant-time equality for MACs and digests: an optimisation of `subtle`'s
//! `ConstantTimeEq` for byte slices (the reference the tests compare with), eight bytes
//! per step instead of one. As RustCrypto's `hmac` does, the length is compared first (it
//! is public, fixed by the algorithm), then every byte, with no early exit; the final
//! test goes through `subtle` so the compiler cannot shortcut it.

/// Constant-time equality of two 32-byte values: every byte is compared, with no early
/// exit, and the final test goes through `subtle` so the compiler cannot shortcut it.
pub(crate) fn ct_eq32(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut acc = 0u64;
    for i in 0..4 {
        let mut x = [0u8; 8];
        let mut y = [0u8; 8];
        x.copy_from_slice(&a[8 * i..8 * i + 8]);
        y.copy_from_slice(&b[8 * i..8 * i + 8]);
        acc |= u64::from_le_bytes(x) ^ u64::from_le_bytes(y);
    }
    bool::from(subtle::ConstantTimeEq::ct_eq(&acc, &0u64))
}

/// Constant-time equality of two byte strings whose length is public (a MAC's length is
/// fixed by its algorithm): lengths are compared first, then every byte.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // Eight bytes at a time (MAC lengths are multiples of 8), then any rest.
    let (a8, a_rest) = a.as_chunks::<8>();
    let (b8, b_rest) = b.as_chunks::<8>();
    let mut acc = 0u64;
    for (x, y) in a8.iter().zip(b8) {
        acc |= u64::from_le_bytes(*x) ^ u64::from_le_bytes(*y);
    }
    for (x, y) in a_rest.iter().zip(b_rest) {
        acc |= u64::from(x ^ y);
    }
    bool::from(subtle::ConstantTimeEq::ct_eq(&acc, &0u64))
}

#[cfg(test)]
mod tests {
    use super::{ct_eq, ct_eq32};
    use subtle::ConstantTimeEq;

    /// The reference: `subtle`'s slice comparison (false for different lengths too).
    fn reference(a: &[u8], b: &[u8]) -> bool {
        bool::from(a.ct_eq(b))
    }

    /// Agrees with the reference for equal inputs, a difference at every position, and
    /// different lengths.
    #[test]
    fn agrees_with_subtle() {
        let a: [u8; 70] = core::array::from_fn(|i| (i * 37 + 11) as u8);
        for len in 0..=a.len() {
            let x = &a[..len];
            assert_eq!(ct_eq(x, x), reference(x, x));
            for i in 0..len {
                let mut y = [0u8; 70];
                y[..len].copy_from_slice(x);
                y[i] ^= 1 << (i % 8);
                assert_eq!(ct_eq(x, &y[..len]), reference(x, &y[..len]), "{len} {i}");
            }
            if len > 0 {
                assert_eq!(ct_eq(x, &a[..len - 1]), reference(x, &a[..len - 1]));
            }
        }
        let x: [u8; 32] = core::array::from_fn(|i| i as u8);
        for i in 0..32 {
            let mut y = x;
            y[i] ^= 0x80;
            assert_eq!(ct_eq32(&x, &y), reference(&x, &y), "{i}");
        }
        assert!(ct_eq32(&x, &x));
    }
}
