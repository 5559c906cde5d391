//! Integer columns of layout 2 (written since format 3): frame of reference, bit-packed in
//! lanes, with exceptions.
//!
//! After the presence part, the header's bit 2 is "raw", bit 3 "scaled",
//! bit 4 "exceptions", bit 5 "zigzag", bits 6-7 zero. The present values
//! `v0..vn` of a column are written as `v0` (varint) and, for `n >= 1`, the
//! residuals of the others:
//!
//! | part | encoding |
//! |---|---|
//! | scale | varint, if "scaled" (at least 2) |
//! | base | varint (raw) or zigzag varint (deltas) |
//! | width | one byte, 0 to 64 |
//! | residuals | `n` values of `width` bits, packed in [`lanes`](super::lanes) |
//! | exceptions | if flagged: varint count, then per exception the varint gap from the previous one's index (the first: its index) and the varint bits above `width` |
//!
//! A value is `base + r × scale` (raw), `v(i-1) + base + r × scale`
//! (deltas) or `v(i-1) + base + unzigzag(r) × scale` (zigzag deltas), in
//! wrapping arithmetic, so counters that go down and `u64::MAX` round trip.
//!
//! The encoder tries each transform with a few bases (for raw values and
//! deltas the three smallest and two low percentiles, so that a counter
//! reset becomes one exception rather than widening every residual; for
//! zigzag deltas the median, for columns that mostly stand still and move
//! both ways now and then), takes the greatest common divisor of the
//! residuals as the scale (memory moves in 4 KiB pages), and keeps the
//! width that makes residuals plus exceptions smallest: values a width
//! cannot hold keep their low bits in the packed part and their high bits
//! in the exception list, so an idle container's counters cost width 0
//! and one exception per blip.
//!
//! Decoding is three passes over the column: unpack (in lanes), patch the
//! exceptions, then one loop that turns residuals into values.

use super::lanes;
use super::CodecError;
use crate::varint;

/// Header bit: the residuals are of the values themselves (else of their deltas).
pub const RAW: u8 = 1 << 2;
/// Header bit: a scale follows.
pub const SCALED: u8 = 1 << 3;
/// Header bit: an exception list follows the packed residuals.
pub const EXCEPTIONS: u8 = 1 << 4;
/// Header bit: the residuals are zigzag (delta only).
pub const ZIGZAG: u8 = 1 << 5;
/// Header bits that must be zero.
pub const RESERVED: u8 = 0b1100_0000;

/// What the residuals are of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transform {
    /// `value - base`.
    Raw,
    /// `delta - base`, `base` the smallest delta (or nearly).
    Delta,
    /// `zigzag(delta - base)`, `base` the median delta: for columns that
    /// mostly stand still and move both ways now and then.
    DeltaZigzag,
}

impl Transform {
    fn bits(self) -> u8 {
        match self {
            Transform::Raw => RAW,
            Transform::Delta => 0,
            Transform::DeltaZigzag => ZIGZAG,
        }
    }

    /// The residual of `value` (a value or a delta) from `base`, before
    /// scaling.
    #[inline]
    fn offset(self, value: u64, base: u64) -> u64 {
        value.wrapping_sub(base)
    }

    /// The scaled residual.
    #[inline]
    fn residual(self, value: u64, base: u64, scale: u64) -> u64 {
        let offset = self.offset(value, base);
        match self {
            Transform::Raw | Transform::Delta => offset / scale,
            Transform::DeltaZigzag => varint::zigzag(varint::from_bits(offset) / varint::from_bits(scale)),
        }
    }

    /// The magnitude the scale must divide.
    #[inline]
    fn magnitude(self, value: u64, base: u64) -> u64 {
        let offset = self.offset(value, base);
        match self {
            Transform::Raw | Transform::Delta => offset,
            Transform::DeltaZigzag => varint::from_bits(offset).unsigned_abs(),
        }
    }
}

/// How the values of a column are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    transform: Transform,
    base: u64,
    scale: u64,
    width: u32,
    exceptions: bool,
    cost: usize,
}

/// Buffers reused from column to column.
#[derive(Default)]
pub struct Encoder {
    residuals: Vec<u64>,
    deltas: Vec<u64>,
    sorted: Vec<u64>,
}

impl Encoder {
    /// The header bits (other than presence) and the bytes of `values`
    /// (at least one) appended to `out`.
    pub fn write(&mut self, values: &[u64], out: &mut Vec<u8>) -> u8 {
        let Some((&first, rest)) = values.split_first() else { return 0 };
        varint::put(out, first);
        if rest.is_empty() {
            return 0;
        }
        let mut best: Option<Plan> = None;
        for transform in [Transform::Delta, Transform::DeltaZigzag, Transform::Raw] {
            let plan = self.plan(values, transform);
            if best.is_none_or(|best| plan.cost < best.cost) {
                best = Some(plan);
            }
        }
        let Some(plan) = best else { return 0 };
        self.inputs(values, plan.transform);
        self.residuals.clear();
        self.residuals.extend(self.deltas.iter().map(|&d| plan.transform.residual(d, plan.base, plan.scale)));
        if plan.scale != 1 {
            varint::put(out, plan.scale);
        }
        varint::put(
            out,
            match plan.transform {
                Transform::Raw => plan.base,
                Transform::Delta | Transform::DeltaZigzag => varint::zigzag(varint::from_bits(plan.base)),
            },
        );
        out.push(u8::try_from(plan.width).unwrap_or(64));
        let mask = lanes::mask(plan.width);
        let low: Vec<u64> = self.residuals.iter().map(|&r| r & mask).collect();
        lanes::pack(&low, plan.width, out);
        if plan.exceptions {
            let over: Vec<(usize, u64)> = self
                .residuals
                .iter()
                .enumerate()
                .filter(|(_, &r)| r > mask)
                .map(|(i, &r)| (i, r >> plan.width))
                .collect();
            varint::put(out, to_u64(over.len()));
            let mut next = 0;
            for (index, high) in over {
                varint::put(out, to_u64(index - next));
                varint::put(out, high);
                next = index + 1;
            }
        }
        let mut bits = plan.transform.bits();
        if plan.scale != 1 {
            bits |= SCALED;
        }
        if plan.exceptions {
            bits |= EXCEPTIONS;
        }
        bits
    }

    /// Fills `self.deltas` with what `transform` takes residuals of: the
    /// values after the first, or the deltas.
    fn inputs(&mut self, values: &[u64], transform: Transform) {
        self.deltas.clear();
        match transform {
            Transform::Raw => self.deltas.extend_from_slice(&values[1..]),
            Transform::Delta | Transform::DeltaZigzag => {
                self.deltas.extend(values.windows(2).map(|pair| pair[1].wrapping_sub(pair[0])));
            }
        }
    }

    /// The cheapest plan for `values` (at least two) with one transform.
    fn plan(&mut self, values: &[u64], transform: Transform) -> Plan {
        self.inputs(values, transform);
        self.sorted.clone_from(&self.deltas);
        if transform == Transform::Raw {
            self.sorted.sort_unstable();
        } else {
            self.sorted.sort_unstable_by_key(|&d| varint::from_bits(d));
        }
        let n = self.sorted.len();
        let pick = |i: usize| self.sorted[i.min(n - 1)];
        // Frames of reference: the smallest value, the next two (a counter
        // reset or two become exceptions) and two low percentiles; zigzag
        // residuals around the median.
        let bases = match transform {
            Transform::Raw | Transform::Delta => [pick(0), pick(1), pick(2), pick(n / 64), pick(n / 16)],
            Transform::DeltaZigzag => [pick(n / 2); 5],
        };
        let mut best = Plan { transform, base: 0, scale: 1, width: 64, exceptions: false, cost: usize::MAX };
        for (i, &base) in bases.iter().enumerate() {
            if bases[..i].contains(&base) {
                continue;
            }
            let plan = self.plan_with_base(transform, base);
            if plan.cost < best.cost {
                best = plan;
            }
        }
        best
    }

    fn plan_with_base(&mut self, transform: Transform, base: u64) -> Plan {
        let scale = self.deltas.iter().try_fold(0, |g, &d| {
            let g = gcd(g, transform.magnitude(d, base));
            if g == 1 {
                None
            } else {
                Some(g)
            }
        });
        // A zigzag scale must itself be a positive i64.
        let scale =
            scale.filter(|&g| g >= 2 && (transform != Transform::DeltaZigzag || i64::try_from(g).is_ok())).unwrap_or(1);
        // How many residuals need each number of bits.
        let mut lengths = [0usize; 65];
        for &d in &self.deltas {
            let r = transform.residual(d, base, scale);
            lengths[usize::try_from(64 - r.leading_zeros()).unwrap_or(64)] += 1;
        }
        let n = self.deltas.len();
        let base_len = match transform {
            Transform::Raw => varint::len(base),
            Transform::Delta | Transform::DeltaZigzag => varint::len(varint::zigzag(varint::from_bits(base))),
        };
        let fixed = base_len + 1 + if scale == 1 { 0 } else { varint::len(scale) };
        let mut best = Plan { transform, base, scale, width: 64, exceptions: false, cost: usize::MAX };
        // No width above the widest residual is worth a look.
        let widest = lengths.iter().rposition(|&count| count > 0).unwrap_or(0);
        for w in 0..=widest {
            let width = u32::try_from(w).unwrap_or(64);
            let above = &lengths[w + 1..=widest];
            let over: usize = above.iter().sum();
            // An exception costs its gap (about a byte) and its high bits.
            let exceptions: usize =
                above.iter().zip(w + 1..).map(|(&count, bits)| count * (1 + (bits - w).div_ceil(7))).sum();
            let count = if over > 0 { varint::len(to_u64(over)) } else { 0 };
            let cost = fixed + lanes::packed_len(n, width) + exceptions + count;
            if cost < best.cost {
                best = Plan { width, exceptions: over > 0, cost, ..best };
            }
        }
        best
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Buffers reused from column to column.
#[derive(Default)]
pub struct Decoder {
    unpacker: lanes::Unpacker,
}

impl Decoder {
    /// Decodes `out.len() >= 1` values written by [`Encoder::write`] under
    /// `header` into `out`.
    pub fn read(&mut self, input: &mut &[u8], header: u8, out: &mut [u64]) -> Result<(), CodecError> {
        if header & RESERVED != 0 {
            return Err(CodecError::Invalid("column header"));
        }
        let Some((first, rest)) = out.split_first_mut() else {
            return Err(CodecError::Invalid("empty column"));
        };
        *first = varint::get(input)?;
        if rest.is_empty() {
            return if header & (RAW | SCALED | EXCEPTIONS) == 0 {
                Ok(())
            } else {
                Err(CodecError::Invalid("column header"))
            };
        }
        let scale = if header & SCALED != 0 {
            Some(varint::get(input)?).filter(|&s| s >= 2).ok_or(CodecError::Invalid("column scale"))?
        } else {
            1
        };
        let raw = header & RAW != 0;
        let zigzag = header & ZIGZAG != 0;
        if raw && zigzag {
            return Err(CodecError::Invalid("column header"));
        }
        let base = varint::get(input)?;
        let base = if raw { base } else { varint::to_bits(varint::unzigzag(base)) };
        let width = u32::from(varint::byte(input)?);
        if width > 64 {
            return Err(CodecError::Invalid("column width"));
        }
        if width == 0 && header & EXCEPTIONS == 0 {
            // Every residual 0: a constant, or a steady step.
            match (raw, base) {
                (true, _) => rest.fill(base),
                (false, 0) => rest.fill(*first),
                (false, _) => steps(*first, rest, base),
            }
            return Ok(());
        }
        self.unpacker.unpack(input, width, rest)?;
        if header & EXCEPTIONS != 0 {
            patch(input, width, rest)?;
        }
        if raw {
            restore_raw(rest, base, scale);
        } else if zigzag {
            restore_zigzag_deltas(*first, rest, base, scale);
        } else {
            restore_deltas(*first, rest, base, scale);
        }
        Ok(())
    }
}

/// Adds the exceptions' high bits to their residuals.
fn patch(input: &mut &[u8], width: u32, residuals: &mut [u64]) -> Result<(), CodecError> {
    let count = varint::get(input)?;
    if count == 0 || count > to_u64(residuals.len()) || width >= 64 {
        return Err(CodecError::Invalid("exception count"));
    }
    let mut next = 0usize;
    for _ in 0..count {
        let gap = usize::try_from(varint::get(input)?).map_err(|_| CodecError::Invalid("exception index"))?;
        let index =
            next.checked_add(gap).filter(|&i| i < residuals.len()).ok_or(CodecError::Invalid("exception index"))?;
        let high = varint::get(input)?;
        if high == 0 || high.checked_shr(64 - width).is_some_and(|over| over != 0) {
            return Err(CodecError::Invalid("exception value"));
        }
        residuals[index] |= high << width;
        next = index + 1;
    }
    Ok(())
}

/// `first + (i + 1) × step` for every value `i`.
fn steps(first: u64, values: &mut [u64], step: u64) {
    for (v, i) in values.iter_mut().zip(1u64..) {
        *v = first.wrapping_add(step.wrapping_mul(i));
    }
}

/// `base + residual × scale` for every residual, in place.
#[inline(never)]
fn restore_raw(values: &mut [u64], base: u64, scale: u64) {
    if scale == 1 {
        for v in values {
            *v = v.wrapping_add(base);
        }
    } else {
        for v in values {
            *v = v.wrapping_mul(scale).wrapping_add(base);
        }
    }
}

/// The running sum from `first` of `base + residual × scale`, in place.
#[inline(never)]
fn restore_deltas(first: u64, values: &mut [u64], base: u64, scale: u64) {
    let mut value = first;
    if scale == 1 {
        for v in values {
            value = value.wrapping_add(v.wrapping_add(base));
            *v = value;
        }
    } else {
        for v in values {
            value = value.wrapping_add(v.wrapping_mul(scale).wrapping_add(base));
            *v = value;
        }
    }
}

/// The running sum from `first` of `base + unzigzag(residual) × scale`, in
/// place.
#[inline(never)]
fn restore_zigzag_deltas(first: u64, values: &mut [u64], base: u64, scale: u64) {
    let mut value = first;
    for v in values {
        let delta = varint::to_bits(varint::unzigzag(*v)).wrapping_mul(scale).wrapping_add(base);
        value = value.wrapping_add(delta);
        *v = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn round_trip(values: &[u64]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let bits = Encoder::default().write(values, &mut bytes);
        let mut out = vec![0; values.len()];
        let mut input = bytes.as_slice();
        Decoder::default().read(&mut input, bits, &mut out).unwrap();
        assert_eq!(out, values);
        assert!(input.is_empty());
        bytes
    }

    #[test]
    fn a_steady_counter_costs_a_few_bits_a_value_and_a_reset_one_exception() {
        // Steps of 10 ms plus noise below 1024: 10 bits each.
        let mut noise = 0x2545_f491_4f6c_dd1du64;
        let steps: Vec<u64> = (0..360)
            .map(|_| {
                noise ^= noise << 13;
                noise ^= noise >> 7;
                noise ^= noise << 17;
                10_000_000 + noise % 1024
            })
            .collect();
        let steady: Vec<u64> = steps
            .iter()
            .scan(1_000_000_000u64, |total, step| {
                *total += step;
                Some(*total)
            })
            .collect();
        let bytes = round_trip(&steady);
        assert!(bytes.len() < 360 * 10 / 8 + 40, "{} bytes", bytes.len());
        let mut reset = steady.clone();
        let restart = steady[199];
        for v in reset.iter_mut().skip(200) {
            *v -= restart;
        }
        let with_reset = round_trip(&reset);
        assert!(
            with_reset.len() < bytes.len() + 16,
            "{} bytes with a reset, {} without",
            with_reset.len(),
            bytes.len()
        );
    }

    #[test]
    fn idle_counters_cost_their_blips_and_pages_are_scaled() {
        let mut idle = vec![0u64; 360];
        let mut total = 0;
        for (i, v) in idle.iter_mut().enumerate() {
            if i % 40 == 7 {
                total += 300 + u64::try_from(i).unwrap();
            }
            *v = total;
        }
        assert!(round_trip(&idle).len() < 40, "{} bytes", round_trip(&idle).len());
        let pages: Vec<u64> = (0..360u64).map(|i| 4096 * (10_000 + (i * 37) % 64)).collect();
        // 64 values of pages: 6 bits, not 18.
        assert!(round_trip(&pages).len() < 360 * 6 / 8 + 30, "{} bytes", round_trip(&pages).len());
        assert_eq!(round_trip(&[5]).len(), 1);
        round_trip(&[u64::MAX, 0, u64::MAX, 1]);
    }

    fn any_column() -> impl Strategy<Value = Vec<u64>> {
        prop_oneof![
            vec(any::<u64>(), 1..80),
            vec(prop_oneof![Just(0u64), Just(u64::MAX), 0u64..10], 1..80),
            (any::<u64>(), 0u64..1 << 20, vec(0u64..1000, 1..400)).prop_map(|(start, rate, noise)| {
                let mut value = start;
                noise
                    .iter()
                    .map(|n| {
                        value = value.wrapping_add(rate + n);
                        value
                    })
                    .collect()
            }),
            (vec(0u64..1 << 12, 1..200), 1u64..5000).prop_map(|(v, scale)| v.into_iter().map(|v| v * scale).collect()),
        ]
    }

    proptest! {
        #[test]
        fn any_column_round_trips_and_cut_short_is_refused(values in any_column()) {
            let bytes = round_trip(&values);
            let bits = Encoder::default().write(&values, &mut Vec::new());
            let mut out = vec![0; values.len()];
            for len in 0..bytes.len() {
                prop_assert!(Decoder::default().read(&mut &bytes[..len], bits, &mut out).is_err(), "cut to {}", len);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..64), header in any::<u8>(), n in 1usize..50) {
            let mut out = vec![0; n];
            let _ = Decoder::default().read(&mut bytes.as_slice(), header, &mut out);
        }
    }
}
