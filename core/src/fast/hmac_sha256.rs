//! HMAC-SHA256 (RFC 2104) with the key's inner and outer states computed once: an
//! optimisation of the `hmac` crate's `Hmac<Sha256>` (the reference), which the tests
//! below compare it with.
//!
//! The `hmac` crate's generic API copies block buffers on every call; on keyseal's hot
//! paths (a 65-byte key digest, a 380-byte token signing input) that overhead is a
//! large share of the total. This computes the same function directly on SHA-256's
//! compression function, so a MAC costs exactly ceil((len + 9) / 64) + 1 compressions
//! and no buffering. It is also checked against RFC 4231 in `tests/vectors/hmac_sha256.json`.

use sha2::Digest;
use sha2::block_api::compress256;
use zeroize::Zeroize;

const BLOCK: usize = 64;
const H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// HMAC-SHA256 keyed once; `Debug` is not implemented so key-derived state never prints.
#[derive(Clone)]
pub(crate) struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl Drop for HmacSha256 {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl HmacSha256 {
    /// Keys the MAC. Keys longer than a block are hashed first (RFC 2104 section 2).
    pub(crate) fn new(key: &[u8]) -> HmacSha256 {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&sha2::Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let mut ipad = [0u8; BLOCK];
        let mut opad = [0u8; BLOCK];
        for i in 0..BLOCK {
            ipad[i] = block[i] ^ 0x36;
            opad[i] = block[i] ^ 0x5c;
        }
        let mut inner = H0;
        let mut outer = H0;
        compress256(&mut inner, &[ipad]);
        compress256(&mut outer, &[opad]);
        block.zeroize();
        ipad.zeroize();
        opad.zeroize();
        HmacSha256 { inner, outer }
    }

    /// The MAC of `msg`.
    pub(crate) fn mac(&self, msg: &[u8]) -> [u8; 32] {
        let mut state = self.inner;
        let (blocks, tail) = msg.as_chunks::<BLOCK>();
        compress256(&mut state, blocks);
        // Padding: 0x80, zeros, then the bit length of ipad block + message, big-endian.
        let bits = ((BLOCK + msg.len()) as u64).wrapping_mul(8);
        let mut last = [[0u8; BLOCK]; 2];
        let n = if tail.len() + 9 <= BLOCK { 1 } else { 2 };
        {
            let flat = last.as_flattened_mut();
            flat[..tail.len()].copy_from_slice(tail);
            flat[tail.len()] = 0x80;
            flat[n * BLOCK - 8..n * BLOCK].copy_from_slice(&bits.to_be_bytes());
        }
        compress256(&mut state, &last[..n]);
        let mut outer_block = [0u8; BLOCK];
        for (i, word) in state.iter().enumerate() {
            outer_block[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
        }
        outer_block[32] = 0x80;
        // Outer message: opad block (64 bytes) + inner digest (32 bytes) = 768 bits.
        outer_block[56..].copy_from_slice(&768u64.to_be_bytes());
        let mut out_state = self.outer;
        compress256(&mut out_state, &[outer_block]);
        let mut out = [0u8; 32];
        for (i, word) in out_state.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{BLOCK, HmacSha256};
    use alloc::vec::Vec;
    use hmac::{KeyInit, Mac};

    /// The reference: the `hmac` crate over `sha2::Sha256`.
    fn reference(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
            unreachable!("hmac accepts keys of any length")
        };
        mac.update(msg);
        mac.finalize().into_bytes().into()
    }

    /// Agrees with the reference at every key length around a block (short, exact, hashed)
    /// and every message length across the one- and two-block padding edges.
    #[test]
    fn agrees_with_hmac_crate() {
        let data: Vec<u8> = (0..3 * BLOCK as u32).map(|i| (i * 31 + 7) as u8).collect();
        for key_len in [0, 1, 31, 32, 63, 64, 65, 100, 3 * BLOCK] {
            let key = &data[..key_len];
            let ours = HmacSha256::new(key);
            for msg_len in 0..=2 * BLOCK + 1 {
                let msg = &data[key_len % 7..key_len % 7 + msg_len];
                assert_eq!(ours.mac(msg), reference(key, msg), "{key_len} {msg_len}");
            }
        }
    }
}
