//! LEB128 varints, zigzag and the bit casts between `i64` and `u64` that the
//! codec and the record encodings share.
//!
//! Every reader takes a cursor over untrusted bytes and fails with
//! [`Truncated`] or [`Overlong`](VarintError::Overlong) instead of panicking.

use thiserror::Error;

/// Why a varint could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum VarintError {
    /// The input ended inside a varint (or before a fixed-size field).
    #[error("input ends inside a value")]
    Truncated,
    /// More than 64 bits of payload.
    #[error("varint longer than 64 bits")]
    Overlong,
}

/// Shorthand for the common error.
pub(crate) use VarintError::Truncated;

/// Appends `value` as an unsigned LEB128 varint (1 to 10 bytes).
pub fn put(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // The mask keeps the low 7 bits: the truncation is the point.
        out.push(u8::try_from(value & 0x7f).unwrap_or(0) | 0x80);
        value >>= 7;
    }
    out.push(u8::try_from(value).unwrap_or(0));
}

/// How many bytes [`put`] writes for `value`.
pub fn len(value: u64) -> usize {
    let bits = 64 - usize::try_from(value.leading_zeros()).unwrap_or(0);
    bits.div_ceil(7).max(1)
}

/// Reads one varint from the front of `input`, advancing it.
pub fn get(input: &mut &[u8]) -> Result<u64, VarintError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first().ok_or(Truncated)?;
        *input = rest;
        let payload = u64::from(byte & 0x7f);
        if shift == 63 && payload > 1 {
            return Err(VarintError::Overlong);
        }
        value |= payload << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(VarintError::Overlong)
}

/// Reads one byte from the front of `input`.
pub fn byte(input: &mut &[u8]) -> Result<u8, VarintError> {
    let (&byte, rest) = input.split_first().ok_or(Truncated)?;
    *input = rest;
    Ok(byte)
}

/// The two's complement bits of `value`.
pub fn to_bits(value: i64) -> u64 {
    u64::from_ne_bytes(value.to_ne_bytes())
}

/// The `i64` whose two's complement bits are `bits`.
pub fn from_bits(bits: u64) -> i64 {
    i64::from_ne_bytes(bits.to_ne_bytes())
}

/// Zigzag: small magnitudes of either sign become small unsigned numbers.
pub fn zigzag(value: i64) -> u64 {
    to_bits((value << 1) ^ (value >> 63))
}

/// The inverse of [`zigzag`].
pub fn unzigzag(value: u64) -> i64 {
    from_bits(value >> 1) ^ -from_bits(value & 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_match_what_put_writes() {
        for value in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            put(&mut out, value);
            assert_eq!(out.len(), len(value), "{value}");
        }
        assert_eq!(len(u64::MAX), 10);
    }

    #[test]
    fn overlong_and_truncated_input_is_refused() {
        let mut overlong: &[u8] = &[0xff; 11];
        assert_eq!(get(&mut overlong), Err(VarintError::Overlong));
        let mut too_big: &[u8] = &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(get(&mut too_big), Err(VarintError::Overlong));
        let mut truncated: &[u8] = &[0x80];
        assert_eq!(get(&mut truncated), Err(VarintError::Truncated));
    }

    #[test]
    fn zigzag_maps_small_magnitudes_to_small_numbers() {
        assert_eq!(zigzag(0), 0);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
    }

    proptest! {
        #[test]
        fn varints_round_trip(value: u64, signed: i64) {
            let mut out = Vec::new();
            put(&mut out, value);
            let mut input = out.as_slice();
            prop_assert_eq!(get(&mut input), Ok(value));
            prop_assert!(input.is_empty());
            prop_assert_eq!(unzigzag(zigzag(signed)), signed);
            prop_assert_eq!(from_bits(to_bits(signed)), signed);
        }
    }
}
