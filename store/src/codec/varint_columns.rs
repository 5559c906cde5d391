//! Integer columns of layout 1 (format 1): every residual a varint.
//!
//! After the presence part (see the [module docs](super)), the header's
//! bits 2-3 are the mode, bit 4 "scaled", bit 5 "zero runs", bits 6-7
//! zero. Then the present values `v0..vn`:
//!
//! - `[gcd varint if scaled]`, `[base zigzag varint if mode 3]`, `v0` varint;
//! - then one residual per further value: mode 0 the value itself; mode 1
//!   the zigzag delta; mode 2 the zigzag delta of deltas; mode 3 the delta
//!   minus `base`, the smallest delta (frame of reference). Scaled residuals
//!   are divided by their greatest common divisor (memory moves in 4 KiB
//!   pages). Arithmetic wraps, so `u64::MAX` and counters that go down round
//!   trip exactly.
//! - with "zero runs", a residual 0 is followed by a varint `k`: `k + 1`
//!   zeros.
//!
//! Stores of format 1 hold such blocks; this build reads them and writes
//! [layout 2](super::packed). The encoder is kept for the tests, which
//! hold the decoder to it.

use super::{check_run, CodecError};
use crate::varint::{self, VarintError};

const MODE_SHIFT: u8 = 2;
const MODE_MASK: u8 = 0b11 << MODE_SHIFT;
/// Header bit: a scale follows.
const SCALED: u8 = 1 << 4;
/// Header bit: zero residuals are followed by a run length.
const ZERO_RUNS: u8 = 1 << 5;
const RESERVED: u8 = 0b1100_0000;

/// How the values after the first become residuals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Raw = 0,
    Delta = 1,
    DeltaOfDelta = 2,
    DeltaFromBase = 3,
}

impl Mode {
    #[cfg(test)]
    const ALL: [Mode; 4] = [Mode::Raw, Mode::Delta, Mode::DeltaOfDelta, Mode::DeltaFromBase];

    #[cfg(test)]
    fn bits(self) -> u8 {
        (self as u8) << MODE_SHIFT
    }

    fn from_header(header: u8) -> Mode {
        match (header & MODE_MASK) >> MODE_SHIFT {
            0 => Mode::Raw,
            1 => Mode::Delta,
            2 => Mode::DeltaOfDelta,
            _ => Mode::DeltaFromBase,
        }
    }
}

/// Decodes the `out.len() >= 1` present values of a column under `header`
/// into `out`, each residual turned into its value as it is read (one loop
/// per mode).
pub fn decode_values(input: &mut &[u8], header: u8, out: &mut [u64]) -> Result<(), CodecError> {
    if header & RESERVED != 0 {
        return Err(CodecError::Invalid("column header"));
    }
    let mode = Mode::from_header(header);
    let scale = if header & SCALED != 0 { varint::get(input)? } else { 1 };
    let base = if mode == Mode::DeltaFromBase { varint::unzigzag(varint::get(input)?) } else { 0 };
    let Some((first, rest)) = out.split_first_mut() else {
        return Err(CodecError::Invalid("empty column"));
    };
    *first = varint::get(input)?;
    let zero_runs = header & ZERO_RUNS != 0;
    let mut previous = *first;
    match mode {
        Mode::Raw => read_residuals(input, zero_runs, rest, |residual| residual.wrapping_mul(scale)),
        Mode::Delta => {
            let scale = varint::from_bits(scale);
            read_residuals(input, zero_runs, rest, |residual| {
                previous = previous.wrapping_add(varint::to_bits(varint::unzigzag(residual).wrapping_mul(scale)));
                previous
            })
        }
        Mode::DeltaOfDelta => {
            let scale = varint::from_bits(scale);
            let mut delta = 0i64;
            read_residuals(input, zero_runs, rest, |residual| {
                delta = delta.wrapping_add(varint::unzigzag(residual).wrapping_mul(scale));
                previous = previous.wrapping_add(varint::to_bits(delta));
                previous
            })
        }
        Mode::DeltaFromBase => {
            let base = varint::to_bits(base);
            read_residuals(input, zero_runs, rest, |residual| {
                previous = previous.wrapping_add(base).wrapping_add(residual.wrapping_mul(scale));
                previous
            })
        }
    }
}

/// Reads `out.len()` residuals (expanding zero runs if `zero_runs`) and
/// writes `value(residual)` for each.
#[inline(always)]
fn read_residuals(
    input: &mut &[u8],
    zero_runs: bool,
    out: &mut [u64],
    mut value: impl FnMut(u64) -> u64,
) -> Result<(), CodecError> {
    // A local cursor stays in registers; `input` is written back once.
    let mut bytes = *input;
    let mut row = 0;
    while let Some(slot) = out.get_mut(row) {
        let residual = get_varint(&mut bytes)?;
        *slot = value(residual);
        row += 1;
        if residual == 0 && zero_runs {
            let run = check_run(get_varint(&mut bytes)?, out.len() - row)?;
            for slot in &mut out[row..row + run] {
                *slot = value(0);
            }
            row += run;
        }
    }
    *input = bytes;
    Ok(())
}

/// [`varint::get`] with a fast path for the common case: a varint of at
/// most 8 bytes with 8 bytes of input left is read as one little-endian
/// word, its end found by the first byte without the continuation bit and
/// its 7-bit groups gathered by three shift-and-mask steps (no loop, no
/// branch per byte).
#[inline(always)]
fn get_varint(input: &mut &[u8]) -> Result<u64, VarintError> {
    if let Some(chunk) = input.first_chunk::<8>() {
        let word = u64::from_le_bytes(*chunk);
        let ends = !word & 0x8080_8080_8080_8080;
        if ends != 0 {
            // The number's bits: 8 per byte up to and including the last.
            let bits = ends.trailing_zeros() + 1;
            let groups = word & (u64::MAX >> (64 - bits)) & 0x7f7f_7f7f_7f7f_7f7f;
            let groups = (groups & 0x007f_007f_007f_007f) | ((groups & 0x7f00_7f00_7f00_7f00) >> 1);
            let groups = (groups & 0x0000_3fff_0000_3fff) | ((groups & 0x3fff_0000_3fff_0000) >> 2);
            let value = (groups & 0x0000_0000_0fff_ffff) | ((groups & 0x0fff_ffff_0000_0000) >> 4);
            *input = &input[usize::try_from(bits / 8).unwrap_or(8)..];
            return Ok(value);
        }
    }
    let (value, len) = get_varint_slowly(input)?;
    *input = &input[len..];
    Ok(value)
}

/// [`varint::get`] on a copy of the cursor, returning the length read: the
/// caller's cursor does not escape, so it can stay in registers.
#[cold]
#[inline(never)]
fn get_varint_slowly(input: &[u8]) -> Result<(u64, usize), VarintError> {
    let mut rest = input;
    let value = varint::get(&mut rest)?;
    Ok((value, input.len() - rest.len()))
}

/// The layout-1 encoder (format 1 wrote blocks with it): what the tests
/// hold the decoder to.
#[cfg(test)]
#[derive(Default)]
pub struct Encoder {
    values: Vec<u64>,
    residuals: Vec<u64>,
}

/// The parameters of one way to write a column's values.
#[cfg(test)]
#[derive(Clone, Copy)]
struct Choice {
    mode: Mode,
    scale: u64,
    base: i64,
    zero_runs: bool,
}

#[cfg(test)]
impl Encoder {
    /// Appends the present `values` (at least one) of a column to `out`
    /// and returns the header bits (other than presence) they need.
    pub fn write(&mut self, values: &[u64], out: &mut Vec<u8>) -> u8 {
        self.values.clear();
        self.values.extend_from_slice(values);
        let choice = self.choose();
        self.write_values(out, choice);
        let mut bits = choice.mode.bits();
        if choice.scale != 1 {
            bits |= SCALED;
        }
        if choice.zero_runs {
            bits |= ZERO_RUNS;
        }
        bits
    }

    /// Picks the smallest encoding of `self.values`.
    fn choose(&mut self) -> Choice {
        let mut best = Choice { mode: Mode::Raw, scale: 1, base: 0, zero_runs: false };
        if self.values.len() < 2 {
            return best;
        }
        let mut best_len = usize::MAX;
        for mode in Mode::ALL {
            let (scale, base) = self.residuals(mode);
            for zero_runs in [false, true] {
                let len = self.residuals_len(zero_runs);
                if len < best_len {
                    best_len = len;
                    best = Choice { mode, scale, base, zero_runs };
                }
            }
        }
        best
    }

    /// Fills `self.residuals` with the residuals of `mode` (scaled), and
    /// returns the scale and the base.
    fn residuals(&mut self, mode: Mode) -> (u64, i64) {
        self.residuals.clear();
        let values = &self.values;
        let deltas = values.windows(2).map(|pair| varint::from_bits(pair[1].wrapping_sub(pair[0])));
        let mut base = 0;
        match mode {
            Mode::Raw => self.residuals.extend(values.iter().skip(1)),
            Mode::Delta => self.residuals.extend(deltas.map(varint::to_bits)),
            Mode::DeltaOfDelta => {
                let mut previous = 0i64;
                self.residuals.extend(deltas.map(|delta| {
                    let residual = delta.wrapping_sub(previous);
                    previous = delta;
                    varint::to_bits(residual)
                }));
            }
            Mode::DeltaFromBase => {
                base = deltas.clone().min().unwrap_or(0);
                let base_bits = varint::to_bits(base);
                self.residuals.extend(deltas.map(|delta| varint::to_bits(delta).wrapping_sub(base_bits)));
            }
        }
        let signed = matches!(mode, Mode::Delta | Mode::DeltaOfDelta);
        let magnitude = |r: u64| {
            if signed {
                varint::from_bits(r).unsigned_abs()
            } else {
                r
            }
        };
        let scale = self.residuals.iter().fold(0, |g, &r| gcd(g, magnitude(r)));
        // A signed scale must itself be a positive i64.
        let scale = if scale >= 2 && (!signed || i64::try_from(scale).is_ok()) { scale } else { 1 };
        for r in &mut self.residuals {
            *r = if signed {
                let quotient = varint::from_bits(*r) / varint::from_bits(scale);
                varint::zigzag(quotient)
            } else {
                *r / scale
            };
        }
        (scale, base)
    }

    fn residuals_len(&self, zero_runs: bool) -> usize {
        if !zero_runs {
            return self.residuals.iter().map(|&r| varint::len(r)).sum();
        }
        let mut len = 0;
        let mut rest = self.residuals.as_slice();
        while let Some(&first) = rest.first() {
            if first == 0 {
                let run = rest.iter().take_while(|&&r| r == 0).count();
                len += 1 + varint::len(to_u64(run - 1));
                rest = &rest[run..];
            } else {
                len += varint::len(first);
                rest = &rest[1..];
            }
        }
        len
    }

    fn write_values(&mut self, out: &mut Vec<u8>, choice: Choice) {
        if self.values.len() >= 2 {
            self.residuals(choice.mode);
        } else {
            self.residuals.clear();
        }
        if choice.scale != 1 {
            varint::put(out, choice.scale);
        }
        if choice.mode == Mode::DeltaFromBase {
            varint::put(out, varint::zigzag(choice.base));
        }
        varint::put(out, self.values[0]);
        let mut rest = self.residuals.as_slice();
        while let Some(&first) = rest.first() {
            if first == 0 && choice.zero_runs {
                let run = rest.iter().take_while(|&&r| r == 0).count();
                out.push(0);
                varint::put(out, to_u64(run - 1));
                rest = &rest[run..];
            } else {
                varint::put(out, first);
                rest = &rest[1..];
            }
        }
    }
}

#[cfg(test)]
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_fast_varint_reader_agrees_with_the_plain_one(bytes in vec(any::<u8>(), 0..12)) {
            let (mut fast, mut plain) = (bytes.as_slice(), bytes.as_slice());
            let read = get_varint(&mut fast);
            prop_assert_eq!(read, varint::get(&mut plain));
            if read.is_ok() {
                prop_assert_eq!(fast, plain);
            }
        }

        #[test]
        fn fast_varints_read_what_put_wrote(value: u64, small in 0u64..1 << 21, tail in vec(any::<u8>(), 0..9)) {
            for value in [value, small, value >> 8, value >> 57] {
                let mut bytes = Vec::new();
                varint::put(&mut bytes, value);
                bytes.extend(&tail);
                let mut input = bytes.as_slice();
                prop_assert_eq!(get_varint(&mut input), Ok(value));
                prop_assert_eq!(input, tail.as_slice());
            }
        }
    }
}
