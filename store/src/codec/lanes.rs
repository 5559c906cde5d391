//! Bit packing in lanes: `n` unsigned values of `width` bits each, laid out
//! so that a decoder unpacks [`LANES`] of them at once with the same shifts
//! (what SSE2 does in one register of four `u32` or two of two `u64`).
//!
//! Value `i` belongs to lane `i % LANES`, as that lane's value `i / LANES`
//! (its step). Each lane is a little-endian stream of `width`-bit values in
//! words of 32 bits (for widths up to 32) or 64 bits (wider), and the words
//! are stored interleaved: word `k` of every lane, lane 0 first, then word
//! `k + 1`, each little-endian. The last row of words keeps only the bytes
//! its bits reach (every lane has the same number of steps, so the same
//! bytes), so the layout costs at most `LANES - 1` values of padding and 7
//! bits per lane over packing the values end to end.
//!
//! Unpacking step `j` of every lane reads word `j * width / bits` of each
//! lane and the next one and shifts them all by the same amounts: a loop
//! over lanes of plain shifts, ors and ands that the compiler turns into
//! vector instructions on baseline x86-64.

use super::CodecError;

/// Values unpacked at once.
pub const LANES: usize = 4;

/// The word size of a width: 32 bits up to 32, else 64.
fn word_bits(width: u32) -> usize {
    if width <= 32 {
        32
    } else {
        64
    }
}

/// The bytes [`pack`] writes for `n` values of `width` bits.
pub fn packed_len(n: usize, width: u32) -> usize {
    let Some(shape) = Shape::of(n, width) else { return 0 };
    shape.len()
}

/// How `n` values of a width are laid out.
#[derive(Clone, Copy)]
struct Shape {
    /// Bytes of a word.
    word_bytes: usize,
    /// Words of each lane.
    words: usize,
    /// Bytes stored of each lane's last word.
    last_bytes: usize,
}

impl Shape {
    /// `None` when nothing is stored (no values, or width 0).
    fn of(n: usize, width: u32) -> Option<Shape> {
        if n == 0 || width == 0 {
            return None;
        }
        let word = word_bits(width);
        let bits = n.div_ceil(LANES) * usize::try_from(width).unwrap_or(64);
        let words = bits.div_ceil(word);
        let last_bits = bits - word * (words - 1);
        Some(Shape { word_bytes: word / 8, words, last_bytes: last_bits.div_ceil(8) })
    }

    fn len(self) -> usize {
        self.word_bytes * LANES * (self.words - 1) + LANES * self.last_bytes
    }
}

/// The mask of the low `width` bits (`width` at most 64).
pub fn mask(width: u32) -> u64 {
    match width {
        0 => 0,
        w => u64::MAX >> (64 - w.min(64)),
    }
}

/// Appends `values`, each below `2^width` (`width` at most 64), packed.
pub fn pack(values: &[u64], width: u32, out: &mut Vec<u8>) {
    let Some(shape) = Shape::of(values.len(), width) else { return };
    let bits = word_bits(width);
    // Every lane's words, as u64 (a 32-bit word uses the low half).
    let mut rows: Vec<[u64; LANES]> = vec![[0; LANES]; shape.words];
    let width = usize::try_from(width).unwrap_or(64);
    for (i, &value) in values.iter().enumerate() {
        let (lane, bit) = (i % LANES, (i / LANES) * width);
        let (word, shift) = (bit / bits, bit % bits);
        rows[word][lane] |= (value << shift) & mask(u32::try_from(bits).unwrap_or(64));
        if shift + width > bits {
            rows[word + 1][lane] |= value >> (bits - shift);
        }
    }
    let (full, last) = rows.split_at(shape.words - 1);
    for row in full {
        for word in row {
            out.extend_from_slice(&word.to_le_bytes()[..shape.word_bytes]);
        }
    }
    for row in last {
        for word in row {
            out.extend_from_slice(&word.to_le_bytes()[..shape.last_bytes]);
        }
    }
}

/// Buffers of the unpacking, reused from column to column.
#[derive(Default)]
pub struct Unpacker {
    narrow: Vec<[u32; LANES]>,
    wide: Vec<[u64; LANES]>,
}

impl Unpacker {
    /// Reads `out.len()` values of `width` bits (at most 64) that [`pack`]
    /// wrote from the front of `input`, advancing it.
    pub fn unpack(&mut self, input: &mut &[u8], width: u32, out: &mut [u64]) -> Result<(), CodecError> {
        let Some(shape) = Shape::of(out.len(), width) else {
            out.fill(0);
            return Ok(());
        };
        let len = shape.len();
        if input.len() < len {
            return Err(CodecError::Invalid("packed values cut short"));
        }
        let (bytes, rest) = input.split_at(len);
        *input = rest;
        if width <= 32 {
            rows_of(bytes, shape, &mut self.narrow, |bytes| u32::from_le_bytes(le(bytes)));
            unpack_narrow(&self.narrow, width, out);
        } else {
            rows_of(bytes, shape, &mut self.wide, |bytes| u64::from_le_bytes(le(bytes)));
            unpack_wide(&self.wide, width, out);
        }
        Ok(())
    }
}

/// Up to `N` little-endian bytes, zero-extended.
fn le<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut word = [0; N];
    let len = bytes.len().min(N);
    word[..len].copy_from_slice(&bytes[..len]);
    word
}

/// The words of every lane, and a row of zeros after the last so that
/// every step may read the word after its own.
fn rows_of<T: Copy + Default>(bytes: &[u8], shape: Shape, rows: &mut Vec<[T; LANES]>, word: impl Fn(&[u8]) -> T) {
    let (full, last) = bytes.split_at(shape.word_bytes * LANES * (shape.words - 1));
    rows.clear();
    rows.reserve(shape.words + 1);
    rows.extend(full.chunks_exact(shape.word_bytes * LANES).map(|chunk| {
        let mut row = [T::default(); LANES];
        for (slot, bytes) in row.iter_mut().zip(chunk.chunks_exact(shape.word_bytes)) {
            *slot = word(bytes);
        }
        row
    }));
    let mut row = [T::default(); LANES];
    for (slot, bytes) in row.iter_mut().zip(last.chunks_exact(shape.last_bytes)) {
        *slot = word(bytes);
    }
    rows.push(row);
    rows.push([T::default(); LANES]);
}

/// The unpacking loop for widths up to 32, in 32-bit words: whole groups of
/// 32 steps (where the shifts repeat) by a loop specialised for the width,
/// the rest step by step.
#[inline(never)]
fn unpack_narrow(rows: &[[u32; LANES]], width: u32, out: &mut [u64]) {
    macro_rules! by_width {
        ($($w:literal)*) => {
            match width {
                $($w => narrow_groups::<$w>(rows, out),)*
                _ => 0,
            }
        };
    }
    let done = by_width!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);
    let rest = &rows[(done / (LANES * 32) * usize::try_from(width).unwrap_or(32)).min(rows.len())..];
    if let Some(out) = out.get_mut(done..) {
        unpack_narrow_steps(rest, width, out);
    }
}

/// Unpacks the whole groups of 32 steps (`32 * LANES` values, `W` words of
/// every lane) of `out`; returns how many values that was. Every shift is
/// a constant: the compiler unrolls the steps into vector shifts by
/// immediates.
#[inline(always)]
fn narrow_groups<const W: usize>(rows: &[[u32; LANES]], out: &mut [u64]) -> usize {
    const GROUP: usize = 32 * LANES;
    let mask = u32::MAX >> (32 - W);
    let mut done = 0;
    for (group, chunk) in out.chunks_exact_mut(GROUP).enumerate() {
        let Some(rows) = rows.get(group * W..group * W + W + 1) else { break };
        macro_rules! step {
            ($($j:literal)*) => {$({
                let bit = $j * W;
                let shift = bit % 32;
                let (low, high) = (rows[bit / 32], rows[bit / 32 + 1]);
                for lane in 0..LANES {
                    // `high << 1 << (31 - shift)` is `high << (32 - shift)`,
                    // and 0 for a shift of 0.
                    let value = (low[lane] >> shift | high[lane] << 1 << (31 - shift)) & mask;
                    chunk[$j * LANES + lane] = u64::from(value);
                }
            })*};
        }
        step!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
        done += GROUP;
    }
    done
}

/// Unpacks step by step (any width up to 32).
fn unpack_narrow_steps(rows: &[[u32; LANES]], width: u32, out: &mut [u64]) {
    let mask = u32::MAX >> (32 - width.clamp(1, 32));
    let width = usize::try_from(width).unwrap_or(32);
    let step = |j: usize| -> [u32; LANES] {
        let bit = j * width;
        let shift = u32::try_from(bit % 32).unwrap_or(0);
        let (Some(low), Some(high)) = (rows.get(bit / 32), rows.get(bit / 32 + 1)) else {
            return [0; LANES];
        };
        let mut values = [0; LANES];
        for lane in 0..LANES {
            values[lane] = (low[lane] >> shift | high[lane] << 1 << (31 - shift)) & mask;
        }
        values
    };
    steps(out, |j, chunk| {
        for (slot, value) in chunk.iter_mut().zip(step(j)) {
            *slot = u64::from(value);
        }
    });
}

/// The unpacking loop for widths above 32, in 64-bit words.
#[inline(never)]
fn unpack_wide(rows: &[[u64; LANES]], width: u32, out: &mut [u64]) {
    let mask = mask(width);
    let width = usize::try_from(width).unwrap_or(64);
    let step = |j: usize| -> [u64; LANES] {
        let bit = j * width;
        let shift = u32::try_from(bit % 64).unwrap_or(0);
        let (Some(low), Some(high)) = (rows.get(bit / 64), rows.get(bit / 64 + 1)) else {
            return [0; LANES];
        };
        let mut values = [0; LANES];
        for lane in 0..LANES {
            values[lane] = (low[lane] >> shift | high[lane] << 1 << (63 - shift)) & mask;
        }
        values
    };
    steps(out, |j, chunk| {
        for (slot, value) in chunk.iter_mut().zip(step(j)) {
            *slot = value;
        }
    });
}

/// Calls `fill` with each step's index and the slots of its values in
/// `out` (the last step's beyond `out` are dropped).
#[inline(always)]
fn steps(out: &mut [u64], mut fill: impl FnMut(usize, &mut [u64; LANES])) {
    let full = out.len() / LANES;
    let (head, tail) = out.split_at_mut(full * LANES);
    for (j, chunk) in head.chunks_exact_mut(LANES).enumerate() {
        if let Ok(chunk) = <&mut [u64; LANES]>::try_from(chunk) {
            fill(j, chunk);
        }
    }
    if !tail.is_empty() {
        let mut last = [0; LANES];
        fill(full, &mut last);
        tail.copy_from_slice(&last[..tail.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    #[test]
    fn every_width_and_length_round_trips_in_the_predicted_bytes() {
        let mut unpacker = Unpacker::default();
        for width in 0..=64u32 {
            for n in (0..=20).chain([63, 64, 65, 359, 360]) {
                let values: Vec<u64> = (0..n)
                    .map(|i| (u64::try_from(i).unwrap().wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 3) & mask(width))
                    .collect();
                let mut bytes = Vec::new();
                pack(&values, width, &mut bytes);
                assert_eq!(bytes.len(), packed_len(n, width), "{n} values of {width} bits");
                // At most LANES - 1 values and 7 bits a lane of padding.
                let ideal = (n * usize::try_from(width).unwrap()).div_ceil(8);
                assert!(bytes.len() <= ideal + (LANES - 1) * 8 + LANES, "{n} x {width}: {} bytes", bytes.len());
                bytes.push(0xAB);
                let mut input = bytes.as_slice();
                let mut out = vec![u64::MAX; n];
                unpacker.unpack(&mut input, width, &mut out).unwrap();
                assert_eq!(out, values, "{n} values of {width} bits");
                assert_eq!(input, [0xAB], "{n} x {width} reads exactly its bytes");
            }
        }
    }

    proptest! {
        #[test]
        fn packed_values_round_trip_and_cut_short_are_refused(values in vec(any::<u64>(), 1..100), width in 1..=64u32) {
            let values: Vec<u64> = values.into_iter().map(|v| v & mask(width)).collect();
            let mut bytes = Vec::new();
            pack(&values, width, &mut bytes);
            let mut unpacker = Unpacker::default();
            let mut out = vec![0; values.len()];
            unpacker.unpack(&mut bytes.as_slice(), width, &mut out).unwrap();
            prop_assert_eq!(&out, &values);
            for len in 0..bytes.len() {
                prop_assert!(unpacker.unpack(&mut &bytes[..len], width, &mut out).is_err());
            }
        }
    }
}
