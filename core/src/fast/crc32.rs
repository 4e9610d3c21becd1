//! CRC-32 (IEEE 802.3, the checksum of an API key): natively crc32fast's slice-by-16
//! tables, an optimisation of the one-table bytewise CRC below (the reference the tests
//! compare it with, and the wasm build's implementation, where a 16 KB table would ship
//! in every `.wasm`).

/// CRC-32 (IEEE 802.3). Natively crc32fast (slice-by-16 tables, 16 KB).
#[cfg(not(target_arch = "wasm32"))]
#[inline]
pub(crate) fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// CRC-32 (IEEE 802.3). On wasm the table ships in the `.wasm`, so it is computed a byte
/// at a time from one 1 KB table: the CRC of a key is a few percent of the HMAC-SHA256
/// digest that follows it in software SHA-256.
#[cfg(target_arch = "wasm32")]
#[inline]
pub(crate) fn crc32(data: &[u8]) -> u32 {
    crc32_bytewise(data)
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), one table lookup per byte.
#[cfg(any(target_arch = "wasm32", test))]
fn crc32_bytewise(data: &[u8]) -> u32 {
    static TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut bit = 0;
            while bit < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                bit += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    !data.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::{crc32, crc32_bytewise};
    use alloc::vec::Vec;

    /// The wasm build's bytewise CRC-32 gives the catalogue check values of
    /// CRC-32/ISO-HDLC and agrees with crc32fast (the native one) at every length.
    #[test]
    fn bytewise_crc32_agrees_with_crc32fast() {
        assert_eq!(crc32_bytewise(b""), 0);
        assert_eq!(crc32_bytewise(b"123456789"), 0xCBF4_3926);
        let data: Vec<u8> = (0u8..=200).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for len in 0..=data.len() {
            assert_eq!(crc32_bytewise(&data[..len]), crc32(&data[..len]), "{len}");
        }
    }
}
