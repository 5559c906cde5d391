//! The sample codec: a block of samples of one container, column by column.
//!
//! # Block layout
//!
//! | part | encoding |
//! |---|---|
//! | layout | one byte: [`LAYOUT_VARINT`] (formats 1 and 2) or [`LAYOUT_PACKED`] (written since format 3) |
//! | rows | varint, at most [`MAX_BLOCK_ROWS`]; a block of 0 rows ends here |
//! | first, last time | zigzag varints (read without decoding: [`time_range`]) |
//! | time column | an integer column (below), every row present |
//! | states | runs of (state code byte, varint length) covering every row |
//! | fields | varint count (at most [`FIELD_COUNT`]), then one integer column per [`Field`] in index order; fields past the count decode as absent (a block of format 1 has 15, one of format 2 all of today's). The CPU total of a row with per-CPU values is stored as its difference from their sum (the kernel's total is that sum read a moment apart, so this costs nothing where the total costs 4 bytes) |
//! | per-CPU | varint count (at most [`MAX_CPUS`]), then one integer column per CPU |
//!
//! An integer column starts with a header byte whose bits 0-1 say which
//! rows have a value: 0 none (nothing follows), 1 all, 2 presence runs
//! follow (varint lengths alternating present/absent, starting with
//! present). The other bits and the values that follow are the layout's:
//! [`varint_columns`] (layout 1: a varint per value) or [`packed`]
//! (layout 2: frame of reference, bit-packed in lanes).
//!
//! The block's layout byte names the layout of all its columns, so blocks
//! of formats 1 and 2 decode as they were written while new blocks are
//! written in layout 2 ([`encode_block`]).
//!
//! Head pages hold single samples as rows instead ([`encode_row`]): whole,
//! or as the difference from the series' previous sample. The decoder
//! bounds every length by [`MAX_BLOCK_ROWS`], [`MAX_CPUS`] and
//! [`MAX_CELLS`], rejects trailing bytes, and never panics.

mod lanes;
mod packed;
mod varint_columns;

use thiserror::Error;

use super::varint;
pub use super::varint::VarintError;
use crate::sample::{Column, Field, Sample, SampleColumns, State, UnixMillis, FIELD_COUNT};

/// The layout of format 1's blocks: a varint per value.
pub const LAYOUT_VARINT: u8 = 1;
/// The layout this build writes: bit-packed frames of reference.
pub const LAYOUT_PACKED: u8 = 2;
/// The most rows one block may hold.
pub const MAX_BLOCK_ROWS: usize = 16_384;
/// The most per-CPU columns one block may hold.
pub const MAX_CPUS: usize = 1_024;
/// The most values (rows x (fields + CPUs)) one block may hold: bounds what
/// a decoder allocates for a block of any content to about 16 MiB.
pub const MAX_CELLS: usize = 1 << 20;

/// Why a block could not be encoded or decoded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CodecError {
    /// The first byte names a layout this build does not know.
    #[error("unknown block layout {0}")]
    Format(u8),
    /// A number is cut short or longer than 64 bits.
    #[error("malformed number: {0}")]
    Varint(#[from] VarintError),
    /// More rows, CPUs or values than the limits allow.
    #[error(
        "block too large: {rows} rows, {cpus} CPUs (limits {MAX_BLOCK_ROWS} rows, {MAX_CPUS} CPUs, {MAX_CELLS} values)"
    )]
    TooLarge {
        /// Rows in the block.
        rows: u64,
        /// Per-CPU columns in the block.
        cpus: u64,
    },
    /// A part of the block is inconsistent.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// Bytes follow the last column.
    #[error("{0} bytes after the end of the block")]
    Trailing(usize),
}

const PRESENCE_MASK: u8 = 0b11;
const PRESENCE_NONE: u8 = 0;
const PRESENCE_ALL: u8 = 1;
const PRESENCE_RUNS: u8 = 2;

/// How a block's integer columns are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Layout {
    Varint,
    #[default]
    Packed,
}

impl Layout {
    fn from_byte(byte: u8) -> Result<Layout, CodecError> {
        match byte {
            LAYOUT_VARINT => Ok(Layout::Varint),
            LAYOUT_PACKED => Ok(Layout::Packed),
            other => Err(CodecError::Format(other)),
        }
    }
}

/// Encodes samples (of one container, in any order) as one block of
/// [`LAYOUT_PACKED`]. Fails only beyond the limits ([`MAX_BLOCK_ROWS`],
/// [`MAX_CPUS`], [`MAX_CELLS`]).
pub fn encode_block(samples: &[Sample]) -> Result<Vec<u8>, CodecError> {
    encode_block_as(samples, LAYOUT_PACKED, &Field::ALL, &mut ColumnWriter::default())
}

/// [`encode_block`] in the layout of `columns` with the first
/// `fields.len()` fields (the tests write format 1's blocks with it).
fn encode_block_as(
    samples: &[Sample],
    layout: u8,
    fields: &[Field],
    columns: &mut ColumnWriter,
) -> Result<Vec<u8>, CodecError> {
    let rows = samples.len();
    let cpus = samples.iter().map(|s| s.percpu_ns.len()).max().unwrap_or(0);
    check_size(rows, cpus)?;
    let mut out = Vec::with_capacity(16 + rows * 8);
    out.push(layout);
    varint::put(&mut out, to_u64(rows));
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Ok(out);
    };
    varint::put(&mut out, varint::zigzag(first.time));
    varint::put(&mut out, varint::zigzag(last.time));
    columns.write(&mut out, samples.iter().map(|s| Some(varint::to_bits(s.time))));
    encode_states(&mut out, samples);
    varint::put(&mut out, to_u64(fields.len()));
    for &field in fields {
        columns.write(&mut out, samples.iter().map(|s| stored_field(s, field)));
    }
    varint::put(&mut out, to_u64(cpus));
    for cpu in 0..cpus {
        columns.write(&mut out, samples.iter().map(|s| s.percpu_ns.get(cpu).copied()));
    }
    Ok(out)
}

/// Decodes a block into fresh columns.
pub fn decode_block(bytes: &[u8]) -> Result<SampleColumns, CodecError> {
    let mut columns = SampleColumns::default();
    decode_block_into(bytes, &mut columns)?;
    Ok(columns)
}

/// Decodes a block, appending its rows to `out`. On error `out` is left as
/// it was. (To decode many blocks into one set of columns, reserve their
/// [`row_count`]s first.)
pub fn decode_block_into(bytes: &[u8], out: &mut SampleColumns) -> Result<(), CodecError> {
    let rows = out.len();
    let cpus = out.percpu().len();
    let result = append_block(bytes, out);
    if result.is_err() {
        out.truncate(rows, cpus);
    }
    result
}

/// How many rows a block holds, read from its header.
pub fn row_count(bytes: &[u8]) -> Result<usize, CodecError> {
    read_header(&mut &bytes[..]).map(|(_, rows)| rows)
}

/// The first and last sample times of a block, read from its header.
pub fn time_range(bytes: &[u8]) -> Result<(UnixMillis, UnixMillis), CodecError> {
    let mut input = bytes;
    let (_, rows) = read_header(&mut input)?;
    if rows == 0 {
        return Err(CodecError::Invalid("time range of an empty block"));
    }
    let first = varint::unzigzag(varint::get(&mut input)?);
    let last = varint::unzigzag(varint::get(&mut input)?);
    Ok((first, last))
}

/// First byte of a whole row (see [`encode_row`]).
const ROW_WHOLE: u8 = 0x10;
/// First byte of a row written as the difference from the previous one.
const ROW_DELTA: u8 = 0x11;

/// Encodes one sample as a row of a head page: whole, or, given the
/// series' previous sample, as the difference from it (about 40 bytes
/// rather than 130 for a running container). A row is the kind byte, the
/// time (zigzag, or zigzag difference), the state code, a varint bit set
/// of the present fields, each present field's value (varint; zigzag
/// difference where the previous sample has the field), the per-CPU count
/// and values likewise. The CPU total is stored as in blocks (see the
/// module docs).
pub fn encode_row(sample: &Sample, previous: Option<&Sample>) -> Result<Vec<u8>, CodecError> {
    check_size(1, sample.percpu_ns.len())?;
    let mut out = Vec::with_capacity(48);
    out.push(if previous.is_some() { ROW_DELTA } else { ROW_WHOLE });
    let put = |out: &mut Vec<u8>, value: u64, base: Option<u64>| match base {
        Some(base) => varint::put(out, varint::zigzag(varint::from_bits(value.wrapping_sub(base)))),
        None => varint::put(out, value),
    };
    put(&mut out, varint::to_bits(sample.time), previous.map(|p| varint::to_bits(p.time)));
    out.push(sample.state.code());
    let mut present = 0u64;
    for field in Field::ALL {
        if sample.get(field).is_some() {
            present |= 1 << field.index();
        }
    }
    varint::put(&mut out, present);
    for field in Field::ALL {
        if let Some(value) = stored_field(sample, field) {
            put(&mut out, value, previous.and_then(|p| stored_field(p, field)));
        }
    }
    varint::put(&mut out, to_u64(sample.percpu_ns.len()));
    for (cpu, &value) in sample.percpu_ns.iter().enumerate() {
        put(&mut out, value, previous.and_then(|p| p.percpu_ns.get(cpu).copied()));
    }
    Ok(out)
}

/// Whether a row was written as a difference (and needs the previous
/// sample to decode).
pub fn row_is_delta(bytes: &[u8]) -> bool {
    bytes.first() == Some(&ROW_DELTA)
}

/// Decodes a row written by [`encode_row`]; `previous` must be the sample
/// it was written against (ignored for a whole row).
pub fn decode_row(bytes: &[u8], previous: Option<&Sample>) -> Result<Sample, CodecError> {
    let mut input = bytes;
    let previous = match varint::byte(&mut input)? {
        ROW_WHOLE => None,
        ROW_DELTA => Some(previous.ok_or(CodecError::Invalid("difference row without its previous row"))?),
        other => return Err(CodecError::Format(other)),
    };
    let get = |input: &mut &[u8], base: Option<u64>| -> Result<u64, CodecError> {
        let raw = varint::get(input)?;
        Ok(match base {
            Some(base) => base.wrapping_add(varint::to_bits(varint::unzigzag(raw))),
            None => raw,
        })
    };
    let time = varint::from_bits(get(&mut input, previous.map(|p| varint::to_bits(p.time)))?);
    let state = State::from_code(varint::byte(&mut input)?).ok_or(CodecError::Invalid("state code"))?;
    let present = varint::get(&mut input)?;
    if present >> FIELD_COUNT != 0 {
        return Err(CodecError::Invalid("field set"));
    }
    let mut sample = Sample::state_only(time, state);
    for field in Field::ALL {
        if present & (1 << field.index()) != 0 {
            let value = get(&mut input, previous.and_then(|p| stored_field(p, field)))?;
            sample.set(field, Some(value));
        }
    }
    let cpus = varint::get(&mut input)?;
    let cpus = usize::try_from(cpus)
        .ok()
        .filter(|&c| c <= MAX_CPUS && c <= input.len())
        .ok_or(CodecError::TooLarge { rows: 1, cpus })?;
    sample.percpu_ns.reserve_exact(cpus);
    for cpu in 0..cpus {
        let value = get(&mut input, previous.and_then(|p| p.percpu_ns.get(cpu).copied()))?;
        sample.percpu_ns.push(value);
    }
    finish(input)?;
    let total = sample.get(Field::CpuTotalNs).map(|stored| restore_cpu_total(stored, &sample.percpu_ns));
    sample.set(Field::CpuTotalNs, total);
    Ok(sample)
}

fn read_header(input: &mut &[u8]) -> Result<(Layout, usize), CodecError> {
    let layout = Layout::from_byte(varint::byte(input)?)?;
    let rows = varint::get(input)?;
    let rows =
        usize::try_from(rows).ok().filter(|&r| r <= MAX_BLOCK_ROWS).ok_or(CodecError::TooLarge { rows, cpus: 0 })?;
    Ok((layout, rows))
}

fn append_block(bytes: &[u8], out: &mut SampleColumns) -> Result<(), CodecError> {
    let mut input = bytes;
    let (layout, rows) = read_header(&mut input)?;
    if rows == 0 {
        return finish(input);
    }
    let first = varint::unzigzag(varint::get(&mut input)?);
    let last = varint::unzigzag(varint::get(&mut input)?);
    let old_rows = out.len();
    out.reserve(rows);
    let mut columns = ColumnReader { layout, ..ColumnReader::default() };

    let mut times = vec![0; rows];
    columns.read_all(&mut input, &mut times)?;
    let time = |t: Option<&u64>| t.map(|&t| varint::from_bits(t));
    if time(times.first()) != Some(first) || time(times.last()) != Some(last) {
        return Err(CodecError::Invalid("time column disagrees with the header"));
    }
    out.time.extend(times.iter().map(|&t| varint::from_bits(t)));
    let capacity = out.time.capacity().max(out.len());
    decode_states(&mut input, rows, &mut out.state)?;

    let fields = varint::get(&mut input)?;
    let fields =
        usize::try_from(fields).ok().filter(|&f| f <= FIELD_COUNT).ok_or(CodecError::Invalid("field count"))?;
    let (field_columns, percpu) = out.columns_mut();
    for (index, column) in field_columns.iter_mut().enumerate() {
        if index < fields {
            columns.read(&mut input, rows, column)?;
        } else {
            column.push_absent(rows);
        }
    }

    let cpus = varint::get(&mut input)?;
    let cpus_usize = usize::try_from(cpus).map_err(|_| CodecError::TooLarge { rows: to_u64(rows), cpus })?;
    check_size(rows, cpus_usize)?;
    while percpu.len() < cpus_usize {
        // As much room as the other columns: a caller may have reserved
        // for many blocks.
        let mut column = Column::absent(old_rows);
        column.reserve(capacity - old_rows);
        percpu.push(column);
    }
    for (cpu, column) in percpu.iter_mut().enumerate() {
        if cpu < cpus_usize {
            columns.read(&mut input, rows, column)?;
        } else {
            column.push_absent(rows);
        }
    }
    finish(input)?;
    restore_cpu_totals(&mut field_columns[Field::CpuTotalNs.index()], percpu, old_rows);
    Ok(())
}

/// The value stored for a field: the CPU total as its difference from the
/// sum of the per-CPU counters when the sample has them (the kernel's
/// `cpuacct.usage` is that sum, read a moment apart: the difference is
/// about 0 and costs nothing, where the total itself costs 4 bytes).
fn stored_field(sample: &Sample, field: Field) -> Option<u64> {
    let value = sample.get(field)?;
    if field == Field::CpuTotalNs && !sample.percpu_ns.is_empty() {
        let sum = sample.percpu_ns.iter().fold(0u64, |sum, &v| sum.wrapping_add(v));
        Some(value.wrapping_sub(sum))
    } else {
        Some(value)
    }
}

/// The inverse of [`stored_field`] for the CPU total, given the row's
/// per-CPU values.
fn restore_cpu_total(stored: u64, percpu: &[u64]) -> u64 {
    percpu.iter().fold(stored, |sum, &v| sum.wrapping_add(v))
}

/// [`restore_cpu_total`] for the rows from `start` on, column by column.
/// A row has per-CPU values when its first CPU has one (a sample's CPUs
/// are a list); absent per-CPU values are 0 in [`Column::values`], so
/// adding every column adds the present ones.
fn restore_cpu_totals(total: &mut Column, percpu: &[Column], start: usize) {
    let Some(first) = percpu.first() else { return };
    let rows = start..total.len();
    if total.all_present_in(rows.clone()) && first.all_present_in(rows.clone()) {
        for cpu in percpu {
            let values = cpu.values().get(start..).unwrap_or_default();
            for (total, &value) in total.values_from_mut(start).iter_mut().zip(values) {
                *total = total.wrapping_add(value);
            }
        }
        return;
    }
    let rows: Vec<usize> = rows.filter(|&row| total.is_present(row) && first.is_present(row)).collect();
    let totals = total.values_from_mut(0);
    for cpu in percpu {
        for &row in &rows {
            if let (Some(total), Some(&value)) = (totals.get_mut(row), cpu.values().get(row)) {
                *total = total.wrapping_add(value);
            }
        }
    }
}

fn finish(input: &[u8]) -> Result<(), CodecError> {
    if input.is_empty() {
        Ok(())
    } else {
        Err(CodecError::Trailing(input.len()))
    }
}

fn check_size(rows: usize, cpus: usize) -> Result<(), CodecError> {
    let cells = FIELD_COUNT.saturating_add(cpus).saturating_mul(rows);
    if rows > MAX_BLOCK_ROWS || cpus > MAX_CPUS || cells > MAX_CELLS {
        return Err(CodecError::TooLarge { rows: to_u64(rows), cpus: to_u64(cpus) });
    }
    Ok(())
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn encode_states(out: &mut Vec<u8>, samples: &[Sample]) {
    let mut rest = samples;
    while let Some(first) = rest.first() {
        let run = rest.iter().take_while(|s| s.state == first.state).count();
        out.push(first.state.code());
        varint::put(out, to_u64(run));
        rest = &rest[run..];
    }
}

fn decode_states(input: &mut &[u8], rows: usize, out: &mut Vec<State>) -> Result<(), CodecError> {
    let mut left = rows;
    while left > 0 {
        let state = State::from_code(varint::byte(input)?).ok_or(CodecError::Invalid("state code"))?;
        let run = read_run(input, left)?;
        if run == 0 {
            return Err(CodecError::Invalid("empty state run"));
        }
        out.extend(std::iter::repeat_n(state, run));
        left -= run;
    }
    Ok(())
}

/// Reads a run length that must not exceed `left`.
fn read_run(input: &mut &[u8], left: usize) -> Result<usize, CodecError> {
    check_run(varint::get(input)?, left)
}

/// A run length read, if it does not exceed `left`.
#[inline]
fn check_run(run: u64, left: usize) -> Result<usize, CodecError> {
    usize::try_from(run).ok().filter(|&r| r <= left).ok_or(CodecError::Invalid("run longer than the block"))
}

/// Writes integer columns: the presence part, then the values in the
/// block's layout; its buffers are reused from column to column.
#[derive(Default)]
struct ColumnWriter {
    present: Vec<bool>,
    values: Vec<u64>,
    body: Vec<u8>,
    packed: packed::Encoder,
    /// Layout 1 instead (the tests write format 1's blocks with it).
    #[cfg(test)]
    varint: Option<varint_columns::Encoder>,
}

impl ColumnWriter {
    fn write(&mut self, out: &mut Vec<u8>, column: impl Iterator<Item = Option<u64>>) {
        self.present.clear();
        self.values.clear();
        for value in column {
            self.present.push(value.is_some());
            self.values.extend(value);
        }
        let presence = if self.values.is_empty() {
            out.push(PRESENCE_NONE);
            return;
        } else if self.values.len() == self.present.len() {
            PRESENCE_ALL
        } else {
            PRESENCE_RUNS
        };
        self.body.clear();
        let bits = self.write_values();
        out.push(presence | bits);
        if presence == PRESENCE_RUNS {
            let mut rest = self.present.as_slice();
            let mut want = true;
            while !rest.is_empty() {
                let run = rest.iter().take_while(|&&p| p == want).count();
                varint::put(out, to_u64(run));
                rest = &rest[run..];
                want = !want;
            }
        }
        out.extend_from_slice(&self.body);
    }

    /// Writes `self.values` into `self.body`; returns the header bits.
    fn write_values(&mut self) -> u8 {
        #[cfg(test)]
        if let Some(varint) = &mut self.varint {
            return varint.write(&self.values, &mut self.body);
        }
        self.packed.write(&self.values, &mut self.body)
    }
}

/// Reads the integer columns of one block; its buffers are reused from
/// column to column.
#[derive(Default)]
struct ColumnReader {
    layout: Layout,
    scratch: Vec<u64>,
    runs: Vec<(bool, usize)>,
    packed: packed::Decoder,
}

impl ColumnReader {
    /// Decodes a column whose every row has a value into `out` (one value
    /// per row).
    fn read_all(&mut self, input: &mut &[u8], out: &mut [u64]) -> Result<(), CodecError> {
        let header = varint::byte(input)?;
        if header & PRESENCE_MASK != PRESENCE_ALL {
            return Err(CodecError::Invalid("time column presence"));
        }
        self.values(input, header, out)
    }

    /// Decodes one integer column of `rows` rows into `column` (appending).
    fn read(&mut self, input: &mut &[u8], rows: usize, column: &mut Column) -> Result<(), CodecError> {
        let header = varint::byte(input)?;
        match header & PRESENCE_MASK {
            PRESENCE_NONE => {
                if header != PRESENCE_NONE {
                    return Err(CodecError::Invalid("column header"));
                }
                column.push_absent(rows);
            }
            PRESENCE_ALL => self.values(input, header, column.push_present(rows))?,
            PRESENCE_RUNS => {
                self.runs.clear();
                let (mut left, mut present, mut count) = (rows, true, 0usize);
                while left > 0 {
                    let run = read_run(input, left)?;
                    self.runs.push((present, run));
                    if present {
                        count += run;
                    }
                    left -= run;
                    present = !present;
                }
                if count == 0 {
                    return Err(CodecError::Invalid("presence runs without values"));
                }
                let mut scratch = std::mem::take(&mut self.scratch);
                scratch.clear();
                scratch.resize(count, 0);
                let read = self.values(input, header, &mut scratch);
                if read.is_err() {
                    self.scratch = scratch;
                    return read;
                }
                let mut next = scratch.as_slice();
                for &(present, run) in &self.runs {
                    if present {
                        let (values, rest) = next.split_at(run);
                        column.push_present(run).copy_from_slice(values);
                        next = rest;
                    } else {
                        column.push_absent(run);
                    }
                }
                self.scratch = scratch;
            }
            _ => return Err(CodecError::Invalid("column presence")),
        }
        Ok(())
    }

    /// Decodes the `out.len() >= 1` present values of a column.
    fn values(&mut self, input: &mut &[u8], header: u8, out: &mut [u64]) -> Result<(), CodecError> {
        match self.layout {
            Layout::Varint => varint_columns::decode_values(input, header, out),
            Layout::Packed => self.packed.read(input, header & !PRESENCE_MASK, out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn running(time: UnixMillis, cpu: u64, memory: u64) -> Sample {
        let mut sample = Sample::state_only(time, State::Running);
        sample.set(Field::CpuTotalNs, Some(cpu));
        sample.set(Field::MemUsage, Some(memory));
        sample.set(Field::MemLimit, Some(8 << 30));
        sample.set(Field::Pids, Some(4));
        sample.percpu_ns = vec![cpu / 2, cpu - cpu / 2];
        sample
    }

    fn rows(columns: &SampleColumns) -> Vec<Sample> {
        (0..columns.len()).filter_map(|i| columns.row(i)).collect()
    }

    /// A block as format 1 wrote it (layout 1), with every field of this
    /// build.
    fn layout_1(samples: &[Sample]) -> Vec<u8> {
        layout_1_of(samples, &Field::ALL)
    }

    /// A block of layout 1 with the columns of `fields` only (format 1 had
    /// the first 15).
    fn layout_1_of(samples: &[Sample], fields: &[Field]) -> Vec<u8> {
        let mut writer = ColumnWriter { varint: Some(varint_columns::Encoder::default()), ..ColumnWriter::default() };
        encode_block_as(samples, LAYOUT_VARINT, fields, &mut writer).unwrap()
    }

    #[test]
    fn a_block_of_format_1_decodes_with_the_later_fields_absent() {
        let samples: Vec<Sample> = (0..50)
            .map(|i| running(1_700_000_000_000 + i * 10_000, 1_000_000 * u64::try_from(i).unwrap(), 4096 * 1000))
            .collect();
        let old = layout_1_of(&samples, &Field::ALL[..15]);
        let columns = decode_block(&old).unwrap();
        assert_eq!(rows(&columns), samples);
        for field in &Field::ALL[15..] {
            assert_eq!(columns.column(*field), &Column::absent(50), "{field:?}");
        }
        // The same samples with a later field set: present in layout 2.
        let mut newer = samples.clone();
        newer.iter_mut().for_each(|s| s.set(Field::CpuUserNs, Some(7)));
        assert_eq!(rows(&decode_block(&encode_block(&newer).unwrap()).unwrap()), newer);
    }

    #[test]
    fn a_block_round_trips_and_reports_its_time_range() {
        let samples: Vec<Sample> = (0..360)
            .map(|i| running(1_700_000_000_000 + i * 10_000, 1_000_000 * u64::try_from(i).unwrap(), 4096 * 1000))
            .collect();
        let block = encode_block(&samples).unwrap();
        assert_eq!(rows(&decode_block(&block).unwrap()), samples);
        assert_eq!(time_range(&block).unwrap(), (1_700_000_000_000, 1_700_000_000_000 + 359 * 10_000));
        // Regular times and a steady CPU rate: a handful of bytes per column.
        assert!(block.len() < 100, "{} bytes", block.len());
    }

    #[test]
    fn memory_in_pages_is_scaled_by_the_common_divisor() {
        let wandering = [1000u64, 1003, 998, 1010, 1001, 995, 1020, 1000];
        let samples: Vec<Sample> =
            (0..360).map(|i| running(i * 10_000, 0, 4096 * wandering[usize::try_from(i).unwrap() % 8])).collect();
        let block = encode_block(&samples).unwrap();
        assert_eq!(rows(&decode_block(&block).unwrap()), samples);
        // One byte per value once divided by 4096 (otherwise three).
        assert!(block.len() < 450, "{} bytes", block.len());
    }

    #[test]
    fn decoding_appends_and_leaves_the_output_intact_on_error() {
        let first = encode_block(&[Sample::state_only(1, State::Exited)]).unwrap();
        let second = encode_block(&[running(2, 10, 20)]).unwrap();
        let mut columns = decode_block(&first).unwrap();
        decode_block_into(&second, &mut columns).unwrap();
        assert_eq!(rows(&columns), vec![Sample::state_only(1, State::Exited), running(2, 10, 20)]);
        let before = columns.clone();
        let truncated = &second[..second.len() - 1];
        assert!(decode_block_into(truncated, &mut columns).is_err());
        assert_eq!(columns, before);
    }

    #[test]
    fn corrupt_blocks_are_refused_with_a_reason() {
        assert_eq!(decode_block(&[]), Err(CodecError::Varint(VarintError::Truncated)));
        assert_eq!(decode_block(&[9, 0]), Err(CodecError::Format(9)));
        for layout in [LAYOUT_VARINT, LAYOUT_PACKED] {
            assert_eq!(decode_block(&[layout, 0, 0]), Err(CodecError::Trailing(1)));
            // A huge row count is refused before anything is allocated.
            let mut huge = vec![layout];
            varint::put(&mut huge, u64::MAX);
            assert!(matches!(decode_block(&huge), Err(CodecError::TooLarge { .. })));
            assert_eq!(decode_block(&[layout, 0]).unwrap().len(), 0);
        }
    }

    #[test]
    fn too_many_cpus_are_refused_when_encoding() {
        let mut sample = Sample::state_only(0, State::Running);
        sample.percpu_ns = vec![1; MAX_CPUS + 1];
        assert!(matches!(encode_block(&[sample]), Err(CodecError::TooLarge { .. })));
    }

    #[test]
    fn rows_round_trip_whole_and_as_differences() {
        let first = running(10_000, 5_000_000, 4096 * 300);
        let second = running(20_003, 5_900_000, 4096 * 302);
        let whole = encode_row(&first, None).unwrap();
        let delta = encode_row(&second, Some(&first)).unwrap();
        assert!(!row_is_delta(&whole) && row_is_delta(&delta));
        assert_eq!(decode_row(&whole, None).unwrap(), first);
        assert_eq!(decode_row(&delta, Some(&first)).unwrap(), second);
        assert!(delta.len() < 25, "{} bytes", delta.len());
        assert_eq!(decode_row(&delta, None), Err(CodecError::Invalid("difference row without its previous row")));
    }

    fn any_state() -> impl Strategy<Value = State> {
        (0u8..7).prop_map(|code| State::from_code(code).unwrap_or(State::Dead))
    }

    fn any_value() -> impl Strategy<Value = Option<u64>> {
        prop_oneof![
            Just(None),
            Just(Some(0)),
            Just(Some(u64::MAX)),
            (0u64..1 << 20).prop_map(|v| Some(v * 4096)),
            any::<u64>().prop_map(Some),
        ]
    }

    fn any_sample() -> impl Strategy<Value = Sample> {
        (
            prop_oneof![any::<i64>(), -5_000i64..5_000],
            any_state(),
            proptest::array::uniform24(any_value()),
            vec(prop_oneof![Just(u64::MAX), any::<u64>(), 0u64..100], 0..4),
        )
            .prop_map(|(time, state, fields, percpu_ns)| Sample { time, state, fields, percpu_ns })
    }

    /// Samples that look like a real series: steady steps with noise.
    fn any_series() -> impl Strategy<Value = Vec<Sample>> {
        (any::<u64>(), 1u64..1_000_000, vec(0u64..1000, 1..200)).prop_map(|(start, rate, noise)| {
            let mut cpu = start;
            noise
                .iter()
                .zip(0i64..)
                .map(|(n, i)| {
                    cpu = cpu.wrapping_add(rate + n);
                    running(i * 10_000 + i64::try_from(*n).unwrap_or(0), cpu, n * 4096)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn arbitrary_samples_round_trip(samples in vec(any_sample(), 0..40), layout1: bool) {
            let block = if layout1 { layout_1(&samples) } else { encode_block(&samples).unwrap() };
            let columns = decode_block(&block).unwrap();
            prop_assert_eq!(rows(&columns), samples.clone());
            if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
                prop_assert_eq!(time_range(&block).unwrap(), (first.time, last.time));
            }
        }

        #[test]
        fn arbitrary_rows_round_trip(pair in vec(any_sample(), 2), delta: bool) {
            let (sample, previous) = (&pair[1], delta.then_some(&pair[0]));
            let row = encode_row(sample, previous).unwrap();
            prop_assert_eq!(&decode_row(&row, previous).unwrap(), sample);
        }

        #[test]
        fn arbitrary_bytes_never_panic_as_rows(bytes in vec(any::<u8>(), 0..100), previous in any_sample()) {
            let _ = decode_row(&bytes, Some(&previous));
            let _ = decode_row(&bytes, None);
        }

        #[test]
        fn blocks_decode_into_columns_that_keep_absence(blocks in vec(vec(any_sample(), 1..30), 1..4), layout1: bool) {
            // Several blocks (with different CPU counts) into one set of
            // columns, reserved from the headers as a reader does.
            let encoded: Vec<Vec<u8>> = blocks.iter().map(|b| if layout1 { layout_1(b) } else { encode_block(b).unwrap() }).collect();
            let mut columns = SampleColumns::default();
            columns.reserve(encoded.iter().map(|b| row_count(b).unwrap()).sum());
            for block in &encoded {
                decode_block_into(block, &mut columns).unwrap();
            }
            let samples: Vec<&Sample> = blocks.iter().flatten().collect();
            let mut pushed = SampleColumns::default();
            for (row, &sample) in samples.iter().enumerate() {
                pushed.push(sample);
                for field in Field::ALL {
                    // Absent stays absent (never 0); present keeps its value.
                    prop_assert_eq!(columns.column(field).get(row), sample.get(field));
                }
                for (cpu, column) in columns.percpu().iter().enumerate() {
                    prop_assert_eq!(column.get(row), sample.percpu_ns.get(cpu).copied());
                }
            }
            prop_assert_eq!(&columns, &pushed);
        }

        #[test]
        fn realistic_series_round_trip(samples in any_series()) {
            let block = encode_block(&samples).unwrap();
            prop_assert_eq!(rows(&decode_block(&block).unwrap()), samples.clone());
            prop_assert_eq!(rows(&decode_block(&layout_1(&samples)).unwrap()), samples);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..300)) {
            let mut columns = SampleColumns::default();
            if decode_block_into(&bytes, &mut columns).is_ok() {
                // Whatever decodes is a consistent set of columns.
                for column in Field::ALL.iter().map(|&f| columns.column(f)).chain(columns.percpu()) {
                    prop_assert_eq!(column.len(), columns.len());
                }
                prop_assert_eq!(columns.state.len(), columns.len());
            } else {
                prop_assert_eq!(columns, SampleColumns::default());
            }
            let _ = time_range(&bytes);
        }

        #[test]
        fn every_truncation_of_a_block_or_row_is_refused(samples in vec(any_sample(), 1..20), delta: bool, layout1: bool) {
            // What the codec guarantees by itself: a value cut short never
            // decodes. A changed byte may (sled's CRC-32 guards those).
            let block = if layout1 { layout_1(&samples) } else { encode_block(&samples).unwrap() };
            for len in 0..block.len() {
                prop_assert!(decode_block(&block[..len]).is_err(), "a block cut to {} of {} bytes", len, block.len());
            }
            let previous = (delta && samples.len() > 1).then(|| &samples[0]);
            let row = encode_row(&samples[samples.len() - 1], previous).unwrap();
            for len in 0..row.len() {
                prop_assert!(decode_row(&row[..len], previous).is_err(), "a row cut to {} of {} bytes", len, row.len());
            }
        }

        #[test]
        fn corrupted_blocks_never_panic(samples in vec(any_sample(), 1..10), flips in vec((any::<usize>(), any::<u8>()), 1..4), layout1: bool) {
            let mut block = if layout1 { layout_1(&samples) } else { encode_block(&samples).unwrap() };
            for (at, bits) in flips {
                let len = block.len();
                block[at % len] ^= bits;
            }
            let _ = decode_block(&block);
        }
    }
}
