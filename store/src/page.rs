//! Byte layouts of the two per-sweep structures: head pages and record
//! blocks.
//!
//! A **head page** (tree `head`, one per host sweep) holds everything a
//! sweep adds to the history, so that a sweep costs one sled insert:
//!
//! | part | encoding |
//! |---|---|
//! | sweep time | zigzag varint |
//! | sweep record | varint length + [`SweepRecord::encode`](super::SweepRecord::encode) bytes |
//! | SNMP reading | varint length + JSON (length 0: none) |
//! | samples | varint count `n`; `n` x (series id, row length) varints; the `n` rows ([`codec::encode_row`](super::codec::encode_row)) |
//!
//! A **record block** (trees `sweeps` and `snmp`, one per host and block
//! of sweeps) is what the head's sweep records or SNMP readings become at
//! compaction: a varint count, then per record the zigzag time difference
//! from the previous record (the first from 0), a varint length and the
//! bytes. Hourly blocks rather than one small key per sweep: sled 0.34
//! keeps several times more disk for a stream of small long-lived inserts
//! between the head's short-lived pages (measured in the store benchmark).
//!
//! Parsing never panics: lengths are checked against the input.

use super::key::SeriesId;
use super::varint::{self, VarintError};
use crate::sample::UnixMillis;

/// What one sweep wrote into the head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadPage<'a> {
    /// The sweep's time.
    pub time: UnixMillis,
    /// The encoded sweep record.
    pub sweep: &'a [u8],
    /// The SNMP reading (JSON), if any.
    pub snmp: Option<&'a [u8]>,
    /// Each stored sample: its series and its row.
    pub rows: Vec<(SeriesId, &'a [u8])>,
}

impl HeadPage<'_> {
    /// The page's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let rows_len: usize = self.rows.iter().map(|(_, row)| row.len()).sum();
        let mut out = Vec::with_capacity(32 + self.sweep.len() + rows_len + 6 * self.rows.len());
        varint::put(&mut out, varint::zigzag(self.time));
        put_bytes(&mut out, self.sweep);
        put_bytes(&mut out, self.snmp.unwrap_or_default());
        varint::put(&mut out, len_u64(self.rows.len()));
        for (series, row) in &self.rows {
            varint::put(&mut out, u64::from(series.0));
            varint::put(&mut out, len_u64(row.len()));
        }
        for (_, row) in &self.rows {
            out.extend_from_slice(row);
        }
        out
    }
}

/// Parses a head page.
pub fn parse_head(page: &[u8]) -> Result<HeadPage<'_>, VarintError> {
    let mut input = page;
    let time = varint::unzigzag(varint::get(&mut input)?);
    let sweep = take_bytes(&mut input)?;
    let snmp = Some(take_bytes(&mut input)?).filter(|s| !s.is_empty());
    let count = varint::get(&mut input)?;
    // Each directory entry takes at least two bytes.
    let count = usize::try_from(count).ok().filter(|&c| c <= input.len() / 2).ok_or(VarintError::Truncated)?;
    let mut lengths = Vec::with_capacity(count);
    for _ in 0..count {
        let series = u32::try_from(varint::get(&mut input)?).map_err(|_| VarintError::Overlong)?;
        let len = usize::try_from(varint::get(&mut input)?).map_err(|_| VarintError::Overlong)?;
        lengths.push((SeriesId(series), len));
    }
    let mut rows = Vec::with_capacity(count);
    for (series, len) in lengths {
        rows.push((series, take(&mut input, len)?));
    }
    if !input.is_empty() {
        return Err(VarintError::Overlong);
    }
    Ok(HeadPage { time, sweep, snmp, rows })
}

/// Encodes timed records (in time order) as one record block.
pub fn encode_records<'a>(records: impl ExactSizeIterator<Item = (UnixMillis, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    varint::put(&mut out, len_u64(records.len()));
    let mut previous = 0i64;
    for (time, bytes) in records {
        varint::put(&mut out, varint::zigzag(time.wrapping_sub(previous)));
        put_bytes(&mut out, bytes);
        previous = time;
    }
    out
}

/// Parses a record block into (time, bytes) records.
pub fn parse_records(block: &[u8]) -> Result<Vec<(UnixMillis, &[u8])>, VarintError> {
    let mut input = block;
    let count = varint::get(&mut input)?;
    // Each record takes at least two bytes.
    let count = usize::try_from(count).ok().filter(|&c| c <= input.len() / 2).ok_or(VarintError::Truncated)?;
    let mut records = Vec::with_capacity(count);
    let mut time = 0i64;
    for _ in 0..count {
        time = time.wrapping_add(varint::unzigzag(varint::get(&mut input)?));
        records.push((time, take_bytes(&mut input)?));
    }
    if !input.is_empty() {
        return Err(VarintError::Overlong);
    }
    Ok(records)
}

fn len_u64(len: usize) -> u64 {
    u64::try_from(len).unwrap_or(u64::MAX)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    varint::put(out, len_u64(bytes.len()));
    out.extend_from_slice(bytes);
}

fn take<'a>(input: &mut &'a [u8], len: usize) -> Result<&'a [u8], VarintError> {
    if input.len() < len {
        return Err(VarintError::Truncated);
    }
    let (head, rest) = input.split_at(len);
    *input = rest;
    Ok(head)
}

fn take_bytes<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], VarintError> {
    let len = usize::try_from(varint::get(input)?).map_err(|_| VarintError::Overlong)?;
    take(input, len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_head_page_round_trips() {
        let page = HeadPage {
            time: -5,
            sweep: b"sweep",
            snmp: Some(b"{}"),
            rows: vec![(SeriesId(3), b"abc"), (SeriesId(70_000), b""), (SeriesId(3), b"z")],
        };
        let bytes = page.encode();
        assert_eq!(parse_head(&bytes).unwrap(), page);
        assert!(parse_head(&bytes[..bytes.len() - 1]).is_err());
        assert!(parse_head(&[bytes.as_slice(), b"x"].concat()).is_err());
        let bare = HeadPage::default();
        assert_eq!(parse_head(&bare.encode()).unwrap(), bare);
    }

    #[test]
    fn a_record_block_round_trips() {
        let records = vec![(1_000, &b"a"[..]), (999, &b""[..]), (i64::MAX, &b"xyz"[..])];
        let block = encode_records(records.iter().copied());
        assert_eq!(parse_records(&block).unwrap(), records);
        assert!(parse_records(&block[..block.len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(page) = parse_head(&bytes) {
                let total: usize = page.rows.iter().map(|(_, r)| r.len()).sum();
                prop_assert!(total + page.sweep.len() <= bytes.len());
            }
            if let Ok(records) = parse_records(&bytes) {
                prop_assert!(records.len() <= bytes.len());
            }
        }
    }
}
