//! Samples of one container column by column (struct of arrays): what the
//! store codec decodes into and the rate functions read.
//!
//! A [`Column`] keeps one plain `u64` per row and a bitmap of the rows that
//! have a value: 8 bytes and one bit a value where `Option<u64>` takes 16,
//! and a whole column can be read as a slice when [`Column::all_present`].
//! An absent row holds 0 in [`Column::values`] (so that equal columns compare
//! equal), but reads as `None` through [`Column::get`]: absence never reads
//! as 0. A column without any value holds nothing but its length (the
//! fields a store of format 1 lacks, the counters a daemon does not send).

use std::ops::Range;

use super::{Field, Sample, State, UnixMillis, FIELD_COUNT};

/// Bits in one word of a presence bitmap.
const WORD_BITS: usize = 64;

/// One counter or gauge over the rows of a [`SampleColumns`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Column {
    /// One value per row, 0 where the row has none; empty while no row has
    /// one.
    values: Vec<u64>,
    /// Bit `row % 64` of word `row / 64` is set when the row has a value;
    /// bits past the last row are clear; empty with `values`.
    present: Vec<u64>,
    /// How many rows there are.
    rows: usize,
    /// How many rows have no value.
    absent: usize,
}

impl Column {
    /// A column of `rows` rows without values.
    pub fn absent(rows: usize) -> Column {
        Column { rows, absent: rows, ..Column::default() }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether every row has a value (then [`values`](Column::values) is
    /// the whole column).
    #[inline]
    pub fn all_present(&self) -> bool {
        self.absent == 0
    }

    /// Whether no row has a value.
    #[inline]
    pub fn all_absent(&self) -> bool {
        self.absent == self.rows
    }

    /// Whether every row of `rows` exists and has a value (then
    /// `values()[rows]` is the column there).
    pub fn all_present_in(&self, rows: Range<usize>) -> bool {
        if rows.end > self.rows {
            return false;
        }
        if self.all_present() || rows.is_empty() {
            return true;
        }
        let (first, last) = (rows.start / WORD_BITS, (rows.end - 1) / WORD_BITS);
        let Some(words) = self.present.get(first..=last) else { return false };
        words.iter().enumerate().all(|(i, &word)| {
            let word_start = (first + i) * WORD_BITS;
            let from = rows.start.saturating_sub(word_start);
            let to = (rows.end - word_start).min(WORD_BITS);
            let mask = (u64::MAX >> (WORD_BITS - (to - from))) << from;
            word & mask == mask
        })
    }

    /// Whether `row` exists and has a value.
    #[inline]
    pub fn is_present(&self, row: usize) -> bool {
        self.all_present() && row < self.rows
            || self.present.get(row / WORD_BITS).is_some_and(|word| word >> (row % WORD_BITS) & 1 != 0)
    }

    /// The value at `row`; `None` where the row has none or does not exist.
    #[inline]
    pub fn get(&self, row: usize) -> Option<u64> {
        let value = *self.values.get(row)?;
        self.is_present(row).then_some(value)
    }

    /// Every row's value, 0 where a row has none (and empty when no row
    /// has one): read it directly only where
    /// [`all_present`](Column::all_present), or together with
    /// [`is_present`](Column::is_present).
    #[inline]
    pub fn values(&self) -> &[u64] {
        &self.values
    }

    /// The rows in order, `None` where a row has no value.
    pub fn iter(&self) -> impl Iterator<Item = Option<&u64>> + '_ {
        (0..self.rows).map(|row| self.values.get(row).filter(|_| self.is_present(row)))
    }

    /// Appends one row.
    pub fn push(&mut self, value: Option<u64>) {
        match value {
            Some(value) => self.push_present(1).fill(value),
            None => self.push_absent(1),
        }
    }

    /// Makes room for `rows` more rows (of values too, for a column
    /// without any yet: memory reserved but never written costs no pages).
    pub fn reserve(&mut self, rows: usize) {
        let end = self.rows + rows;
        self.values.reserve(end.saturating_sub(self.values.len()));
        self.present.reserve(end.div_ceil(WORD_BITS).saturating_sub(self.present.len()));
    }

    /// Appends `rows` rows without values.
    pub(crate) fn push_absent(&mut self, rows: usize) {
        let end = self.rows + rows;
        if !self.values.is_empty() {
            self.values.resize(end, 0);
            self.present.resize(end.div_ceil(WORD_BITS), 0);
        }
        self.rows = end;
        self.absent += rows;
    }

    /// Appends `rows` rows with values (0 until the caller writes them into
    /// the returned slice).
    pub(crate) fn push_present(&mut self, rows: usize) -> &mut [u64] {
        let start = self.rows;
        let end = start + rows;
        self.values.resize(end, 0);
        self.present.resize(end.div_ceil(WORD_BITS), 0);
        let mut row = start;
        while row < end {
            let bit = row % WORD_BITS;
            let count = (WORD_BITS - bit).min(end - row);
            let mask = (u64::MAX >> (WORD_BITS - count)) << bit;
            if let Some(word) = self.present.get_mut(row / WORD_BITS) {
                *word |= mask;
            }
            row += count;
        }
        self.rows = end;
        &mut self.values[start..]
    }

    /// The values of the rows from `start` on, for the codec to rewrite
    /// present values in place (absent ones must stay 0).
    pub(crate) fn values_from_mut(&mut self, start: usize) -> &mut [u64] {
        let start = start.min(self.values.len());
        &mut self.values[start..]
    }

    /// Keeps the first `rows` rows.
    pub(crate) fn truncate(&mut self, rows: usize) {
        if rows < self.rows {
            self.values.truncate(rows);
            self.rows = rows;
            self.tidy_presence();
        }
    }

    /// Keeps the last `rows` rows (all of them if there are fewer).
    pub fn keep_last(&mut self, rows: usize) {
        let Some(start) = self.rows.checked_sub(rows).filter(|&start| start > 0) else { return };
        self.rows = rows;
        if self.values.is_empty() {
            self.absent = rows;
            return;
        }
        self.values.drain(..start);
        // Shift the bitmap down by `start` bits, word by word, in place
        // (each word is read before it is overwritten).
        let (skip, shift) = (start / WORD_BITS, start % WORD_BITS);
        for word in 0..rows.div_ceil(WORD_BITS) {
            let low = self.present.get(word + skip).map_or(0, |&w| w >> shift);
            let high = match shift {
                0 => 0,
                _ => self.present.get(word + skip + 1).map_or(0, |&w| w << (WORD_BITS - shift)),
            };
            if let Some(slot) = self.present.get_mut(word) {
                *slot = low | high;
            }
        }
        self.tidy_presence();
    }

    /// Fits the bitmap to `rows` after rows were removed: drops and clears
    /// the bits past the last row, recounts the absent rows, and drops the
    /// values of a column left without any.
    fn tidy_presence(&mut self) {
        let rows = self.rows;
        self.present.truncate(rows.div_ceil(WORD_BITS));
        let bit = rows % WORD_BITS;
        if let (Some(last), true) = (self.present.last_mut(), bit != 0) {
            *last &= u64::MAX >> (WORD_BITS - bit);
        }
        let present: usize =
            self.present.iter().map(|word| usize::try_from(word.count_ones()).unwrap_or(WORD_BITS)).sum();
        self.absent = rows - present;
        if present == 0 {
            self.values = Vec::new();
            self.present = Vec::new();
        }
    }
}

impl FromIterator<Option<u64>> for Column {
    fn from_iter<I: IntoIterator<Item = Option<u64>>>(values: I) -> Column {
        let mut column = Column::default();
        for value in values {
            column.push(value);
        }
        column
    }
}

/// Samples of one container, column by column. Row `i` of every column
/// belongs to the same instant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleColumns {
    /// Sample times, ascending.
    pub time: Vec<UnixMillis>,
    /// States.
    pub state: Vec<State>,
    /// One column per [`Field`], indexed by [`Field::index`].
    fields: [Column; FIELD_COUNT],
    /// Per-CPU counters, one column per CPU; absent where that row had
    /// fewer CPUs (or none).
    percpu_ns: Vec<Column>,
}

impl SampleColumns {
    /// How many rows there are.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Makes room for `rows` more rows in every column.
    pub fn reserve(&mut self, rows: usize) {
        self.time.reserve(rows);
        self.state.reserve(rows);
        for column in self.fields.iter_mut().chain(&mut self.percpu_ns) {
            column.reserve(rows);
        }
    }

    /// Keeps the last `rows` rows (all of them if there are fewer), and the
    /// memory: to read a long series block by block, keeping the previous
    /// block's last row to pair with the next block's first. Per-CPU
    /// columns stay, absent where the kept rows had no value.
    pub fn keep_last(&mut self, rows: usize) {
        let start = self.len().saturating_sub(rows);
        self.time.drain(..start);
        self.state.drain(..start);
        for column in self.fields.iter_mut().chain(&mut self.percpu_ns) {
            column.keep_last(rows);
        }
    }

    /// Appends one sample as a row.
    pub fn push(&mut self, sample: &Sample) {
        self.push_with(sample.time, sample.state, |i| sample.fields[i], &mut sample.percpu_ns.iter().copied());
    }

    /// Appends row `i` of `other` (as `push(&other.row(i))`, without
    /// building the sample); nothing if there is no such row.
    pub fn push_row_of(&mut self, other: &SampleColumns, i: usize) {
        let (Some(&time), Some(&state)) = (other.time.get(i), other.state.get(i)) else { return };
        let mut percpu = other.percpu_ns.iter().map_while(|column| column.get(i));
        self.push_with(time, state, |field| other.fields[field].get(i), &mut percpu);
    }

    /// Appends a row: its time, state, each field's value by index, and its
    /// per-CPU values.
    fn push_with(
        &mut self,
        time: UnixMillis,
        state: State,
        field: impl Fn(usize) -> Option<u64>,
        percpu: &mut dyn Iterator<Item = u64>,
    ) {
        let row = self.time.len();
        self.time.push(time);
        self.state.push(state);
        for (i, column) in self.fields.iter_mut().enumerate() {
            column.push(field(i));
        }
        let mut cpus = 0;
        for value in percpu {
            if cpus == self.percpu_ns.len() {
                self.percpu_ns.push(Column::absent(row));
            }
            self.percpu_ns[cpus].push(Some(value));
            cpus += 1;
        }
        for column in &mut self.percpu_ns[cpus..] {
            column.push(None);
        }
    }

    /// Removes every row, keeping the memory (a buffer to decode into).
    pub fn clear(&mut self) {
        self.truncate(0, 0);
    }

    /// Row `i` as a [`Sample`] (per-CPU values up to the first absent one).
    pub fn row(&self, i: usize) -> Option<Sample> {
        let time = *self.time.get(i)?;
        let state = *self.state.get(i)?;
        let mut fields = [None; FIELD_COUNT];
        for (value, column) in fields.iter_mut().zip(&self.fields) {
            *value = column.get(i);
        }
        let percpu_ns = self.percpu_ns.iter().map_while(|column| column.get(i)).collect();
        Some(Sample { time, state, fields, percpu_ns })
    }

    /// The column of one field.
    #[inline]
    pub fn column(&self, field: Field) -> &Column {
        &self.fields[field.index()]
    }

    /// The per-CPU columns, CPU 0 first.
    #[inline]
    pub fn percpu(&self) -> &[Column] {
        &self.percpu_ns
    }

    /// The field columns and the per-CPU columns, for the codec to append to.
    pub(crate) fn columns_mut(&mut self) -> (&mut [Column; FIELD_COUNT], &mut Vec<Column>) {
        (&mut self.fields, &mut self.percpu_ns)
    }

    /// Keeps the first `rows` rows and `cpus` per-CPU columns.
    pub(crate) fn truncate(&mut self, rows: usize, cpus: usize) {
        self.time.truncate(rows);
        self.state.truncate(rows);
        self.percpu_ns.truncate(cpus);
        for column in self.fields.iter_mut().chain(&mut self.percpu_ns) {
            column.truncate(rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    #[test]
    fn columns_hold_rows_including_ragged_percpu() {
        let mut running = Sample::state_only(1_000, State::Running);
        running.set(Field::CpuTotalNs, Some(42));
        running.percpu_ns = vec![20, 22];
        let stopped = Sample::state_only(2_000, State::Exited);
        let mut columns = SampleColumns::default();
        columns.push(&stopped);
        columns.push(&running);
        columns.push(&stopped);
        assert_eq!(columns.len(), 3);
        let cpu1: Vec<_> = columns.percpu()[1].iter().collect();
        assert_eq!(cpu1, vec![None, Some(&22), None]);
        assert_eq!(columns.row(0), Some(stopped.clone()));
        assert_eq!(columns.row(1), Some(running));
        assert_eq!(columns.row(2), Some(stopped));
        assert_eq!(columns.row(3), None);

        // Rows copied one by one make the same columns; a buffer cleared
        // for reuse holds none.
        let mut copied = SampleColumns::default();
        copied.push(&Sample::state_only(500, State::Created));
        copied.clear();
        for i in 0..4 {
            copied.push_row_of(&columns, i);
        }
        assert_eq!(copied, columns);
    }

    #[test]
    fn an_absent_zero_is_not_a_present_zero() {
        let column: Column = [Some(0), None, Some(0)].into_iter().collect();
        assert_eq!(column.values(), &[0, 0, 0]);
        assert_eq!((column.get(0), column.get(1), column.get(2), column.get(3)), (Some(0), None, Some(0), None));
        assert!(!column.all_present());
        assert_ne!(column, [Some(0), Some(0), Some(0)].into_iter().collect::<Column>());
    }

    #[test]
    fn a_column_without_values_holds_only_its_length() {
        let mut column = Column::absent(1000);
        column.push_absent(500);
        assert!(column.values().is_empty() && column.all_absent());
        assert_eq!((column.len(), column.get(3), column.iter().count()), (1500, None, 1500));
        column.push(Some(7));
        assert_eq!((column.values().len(), column.get(1500), column.get(1499)), (1501, Some(7), None));
        // Back to no values: the same as a column that never had one.
        column.truncate(1500);
        assert_eq!(column, Column::absent(1500));
        let mut tail: Column = [Some(1), None, None].into_iter().collect();
        tail.keep_last(2);
        assert_eq!(tail, Column::absent(2));
    }

    #[test]
    fn keeping_the_last_rows_keeps_them_whole() {
        let mut columns = SampleColumns::default();
        let samples: Vec<Sample> = (0..70)
            .map(|i| {
                let mut sample = Sample::state_only(i, if i % 3 == 0 { State::Exited } else { State::Running });
                if i % 3 != 0 {
                    sample.set(Field::MemUsage, Some(u64::try_from(i).unwrap() * 4096));
                    sample.percpu_ns = vec![1; usize::try_from(i % 4).unwrap()];
                }
                sample
            })
            .collect();
        samples.iter().for_each(|sample| columns.push(sample));
        columns.keep_last(5);
        assert_eq!((0..5).map(|i| columns.row(i).unwrap()).collect::<Vec<_>>(), samples[65..]);
        assert_eq!(columns.percpu().len(), 3, "per-CPU columns stay");
        columns.keep_last(9);
        assert_eq!(columns.len(), 5);
        columns.keep_last(0);
        assert!(columns.is_empty());
    }

    proptest! {
        #[test]
        fn columns_give_back_what_was_pushed(
            values in vec(proptest::option::weighted(0.95, any::<u64>()), 0..300),
            keep in any::<proptest::sample::Index>(),
        ) {
            let mut column: Column = values.iter().copied().collect();
            let read: Vec<Option<u64>> = (0..values.len()).map(|row| column.get(row)).collect();
            prop_assert_eq!(&read, &values);
            prop_assert_eq!(column.iter().map(|v| v.copied()).collect::<Vec<_>>(), values.clone());
            prop_assert_eq!(column.all_present(), values.iter().all(Option::is_some));
            for start in 0..values.len().min(70) {
                for end in start..=values.len() {
                    let expected = values[start..end].iter().all(Option::is_some);
                    prop_assert_eq!(column.all_present_in(start..end), expected, "{}..{}", start, end);
                }
            }
            prop_assert!(!column.all_present_in(0..values.len() + 1));
            // Truncating gives the column of the kept prefix, bit for bit.
            let rows = if values.is_empty() { 0 } else { keep.index(values.len() + 1) };
            let mut tail = column.clone();
            column.truncate(rows);
            prop_assert_eq!(column, values[..rows].iter().copied().collect::<Column>());
            // Keeping the last rows likewise.
            tail.keep_last(rows);
            prop_assert_eq!(tail, values[values.len() - rows..].iter().copied().collect::<Column>());
        }
    }
}
