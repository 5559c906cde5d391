//! The fast path: one pass over the bytes of a stats document into a
//! [`Document`], without serde.
//!
//! It answers only for documents it is sure serde_json reads the same way:
//! every string plain ASCII without escapes or control characters, every
//! number an integer, every value it keeps of the type the serde path wants,
//! no known key twice, no overflowing sum, nothing after the document but
//! white space. On anything else it gives up (`None`) and the caller asks
//! `json`, which then also words the error. `oracle` checks, on the fixtures
//! and on generated and mutated documents, that whenever this answers, serde
//! gives the same document.
//!
//! Why not serde: serde_json needs about as long to skip a cgroup v1
//! document (`IgnoredAny`, the `serde_json_ignored_any` bench) as the
//! 1.5 µs budget of a whole parse on the 2-core Xeon kura is measured on.

use super::document::{
    BlkioOp, BlkioStats, BlkioTotals, CpuStats, CpuUsage, Document, MemoryDetail, MemoryStats, NetTotals, PidsStats,
    ReadTime,
};

/// How deep a skipped value may nest before the scanner leaves it to serde.
const SKIP_DEPTH: u32 = 32;

/// Reads `doc`, or `None` when serde must decide.
pub(super) fn document(doc: &[u8]) -> Option<Document> {
    let mut scanner = Scanner { doc, at: 0 };
    let mut document = Document::default();
    scanner.space();
    scanner.document(&mut document)?;
    scanner.space();
    (scanner.at == doc.len()).then_some(document)
}

/// Eight times the byte 1.
const ONES: u64 = u64::MAX / 255;
/// The high bit of each of eight bytes.
const HIGH: u64 = ONES << 7;

/// The first byte at or after `at` that `marks` (on eight bytes at a time)
/// and `marked` (on one byte, for the last few) flag, or the end of `doc`.
/// `marks` must set the high bit of every flagged byte and may set others
/// only after one. Against a byte loop this makes the scanner 1.4x faster
/// on a cgroup v1 document (the loop's exits are mispredicted).
#[inline(always)]
fn find(doc: &[u8], mut at: usize, marks: impl Fn(u64) -> u64, marked: impl Fn(u8) -> bool) -> usize {
    while let Some(chunk) = doc.get(at..at + 8) {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else { break };
        let flags = marks(u64::from_le_bytes(bytes));
        if flags != 0 {
            return at + usize::try_from(flags.trailing_zeros() / 8).unwrap_or(8);
        }
        at += 8;
    }
    while let Some(&byte) = doc.get(at) {
        if marked(byte) {
            break;
        }
        at += 1;
    }
    at
}

/// Flags the bytes that end a plain string: a quote, a backslash, a control
/// character, a byte that is not ASCII. Sean Anderson's "determine if a word
/// has a byte less than n" and "has a zero byte"
/// (graphics.stanford.edu/~seander/bithacks.html), as serde_json's
/// `SliceRead::skip_to_escape` uses them; a borrow can only disturb the
/// bytes after a flagged one.
#[inline(always)]
fn string_end_marks(word: u64) -> u64 {
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    (control | quote.wrapping_sub(ONES) & !quote | backslash.wrapping_sub(ONES) & !backslash | word) & HIGH
}

/// Whether `byte` ends a plain string (see [`string_end_marks`]).
fn ends_string(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20 || !byte.is_ascii()
}

/// Flags the bytes that are not ASCII digits: with the digits moved to 0
/// to 9, a byte above 9 gets its high bit from adding 0x76, a byte from
/// 0x80 up has it already (Anderson's "determine if a word has a byte
/// greater than n"); a carry out of a byte can only disturb the bytes after
/// it.
#[inline(always)]
fn not_digit_marks(word: u64) -> u64 {
    let shifted = word ^ (ONES * u64::from(b'0'));
    (shifted.wrapping_add(ONES * (0x7F - 9)) | shifted) & HIGH
}

/// A position in a document.
struct Scanner<'a> {
    doc: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.doc.get(self.at).copied()
    }

    /// Consumes `byte`, or gives up.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// Skips JSON white space (the four bytes serde_json skips).
    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `word` (`null`, `true`, `false`).
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.at.checked_add(word.len())?;
        (self.doc.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// An object whose values `member` reads (or skips) by key. `member`
    /// returns a bit that names the key, or 0 for a key that may repeat; a
    /// known key seen twice (serde's "duplicate field") gives up.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<u32>) -> Option<()> {
        self.eat(b'{')?;
        self.space();
        if self.peek()? == b'}' {
            self.at += 1;
            return Some(());
        }
        let mut seen = 0;
        loop {
            self.space();
            let key = self.key()?;
            let bit = member(self, key)?;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array whose elements `element` reads.
    fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.space();
        if self.peek()? == b']' {
            self.at += 1;
            return Some(());
        }
        loop {
            self.space();
            element(self)?;
            self.space();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// `null` as `None`, anything else through `read`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// A string's bytes: printable ASCII (and DEL), no escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<&'a [u8]> {
        let doc = self.doc;
        if doc.get(self.at) != Some(&b'"') {
            return None;
        }
        let start = self.at + 1;
        let at = find(doc, start, string_end_marks, ends_string);
        if doc.get(at) != Some(&b'"') {
            return None;
        }
        self.at = at + 1;
        doc.get(start..at)
    }

    /// The digits of an integer. What may follow a value is checked by the
    /// caller (white space, a comma or a closing bracket), which is also
    /// what rejects a leading zero, a fraction and an exponent.
    #[inline(always)]
    fn integer(&mut self) -> Option<&'a [u8]> {
        let doc = self.doc;
        let start = self.at;
        // A zero (common among counters) needs no search: a digit after it
        // would be a leading zero.
        let at = if doc.get(start) == Some(&b'0') {
            start + 1
        } else {
            find(doc, start, not_digit_marks, |byte| !byte.is_ascii_digit())
        };
        self.at = at;
        doc.get(start..at).filter(|digits| !digits.is_empty())
    }

    /// A `u64` as serde_json reads one (a larger number is a float to serde).
    #[inline(always)]
    fn u64(&mut self) -> Option<u64> {
        let digits = self.integer()?;
        let value = |sum: u64, digit: &u8| sum.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
        // 19 digits cannot overflow: u64::MAX has 20.
        if digits.len() <= 19 {
            return Some(digits.iter().fold(0, value));
        }
        digits.iter().try_fold(0_u64, |sum, digit| sum.checked_mul(10)?.checked_add(u64::from(digit - b'0')))
    }

    /// `null` or a `u64`.
    fn optional_u64(&mut self) -> Option<Option<u64>> {
        self.nullable(Self::u64)
    }

    /// Skips a value whose key the serde path does not know.
    #[inline]
    fn unknown(&mut self) -> Option<u32> {
        // Most skipped values are counters.
        if let Some(b'0'..=b'9') = self.peek() {
            self.integer()?;
        } else {
            self.skip()?;
        }
        Some(0)
    }

    /// Skips any value (integers only) nested at most [`SKIP_DEPTH`] deep,
    /// without recursion: `objects` holds a bit per open container, 1 for an
    /// object, 0 for an array.
    fn skip(&mut self) -> Option<()> {
        let mut objects: u64 = 0;
        let mut depth = 0;
        loop {
            // At a value.
            match self.peek()? {
                b'"' => drop(self.string()?),
                b'n' => self.literal(b"null")?,
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'-' => {
                    self.at += 1;
                    self.integer()?;
                }
                open @ (b'{' | b'[') => {
                    depth += 1;
                    if depth > SKIP_DEPTH {
                        return None;
                    }
                    objects = objects << 1 | u64::from(open == b'{');
                    self.at += 1;
                    self.space();
                    match self.peek()? {
                        b'}' | b']' => {}
                        _ if open == b'{' => {
                            self.key()?;
                            continue;
                        }
                        _ => continue,
                    }
                }
                _ => drop(self.integer()?),
            }
            // After a value: close what ends here, then the next value.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.space();
                let in_object = objects & 1 == 1;
                match self.peek()? {
                    b',' => {
                        self.at += 1;
                        self.space();
                        if in_object {
                            self.key()?;
                        }
                        break;
                    }
                    b'}' if in_object => {}
                    b']' if !in_object => {}
                    _ => return None,
                }
                self.at += 1;
                depth -= 1;
                objects >>= 1;
            }
        }
    }

    /// A key and its colon, up to the value.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        let key = self.string()?;
        self.space();
        self.eat(b':')?;
        self.space();
        Some(key)
    }

    /// A section: `null` as `None`, else an object that `read` reads into
    /// the slot (filled in place: sections are large to move).
    fn section<T: Default>(
        &mut self,
        slot: &mut Option<T>,
        read: impl FnOnce(&mut Self, &mut T) -> Option<()>,
    ) -> Option<()> {
        if self.peek()? == b'n' {
            *slot = None;
            return self.literal(b"null");
        }
        read(self, slot.insert(T::default()))
    }

    fn document(&mut self, doc: &mut Document) -> Option<()> {
        self.object(|s, key| {
            Some(match key {
                b"read" => {
                    doc.read = s.nullable(Self::read_time)?;
                    1
                }
                b"cpu_stats" => {
                    s.section(&mut doc.cpu_stats, Self::cpu_stats)?;
                    1 << 1
                }
                b"memory_stats" => {
                    s.section(&mut doc.memory_stats, Self::memory_stats)?;
                    1 << 2
                }
                b"blkio_stats" => {
                    s.section(&mut doc.blkio_stats, Self::blkio_stats)?;
                    1 << 3
                }
                b"networks" => {
                    s.section(&mut doc.networks, Self::networks)?;
                    1 << 4
                }
                b"network" => {
                    s.section(&mut doc.network, Self::net_totals)?;
                    1 << 5
                }
                b"pids_stats" => {
                    s.section(&mut doc.pids_stats, Self::pids_stats)?;
                    1 << 6
                }
                _ => s.unknown()?,
            })
        })
    }

    fn read_time(&mut self) -> Option<ReadTime> {
        ReadTime::from_text(std::str::from_utf8(self.string()?).ok()?)
    }

    fn cpu_stats(&mut self, cpu: &mut CpuStats) -> Option<()> {
        self.object(|s, key| {
            Some(match key {
                b"cpu_usage" => {
                    s.section(&mut cpu.cpu_usage, Self::cpu_usage)?;
                    1
                }
                b"online_cpus" => {
                    cpu.online_cpus = s.optional_u64()?;
                    1 << 1
                }
                b"throttling_data" => {
                    s.section(&mut cpu.throttling_data, |s, throttling| {
                        s.object(|s, key| {
                            let (slot, bit) = match key {
                                b"periods" => (&mut throttling.periods, 1),
                                b"throttled_periods" => (&mut throttling.throttled_periods, 1 << 1),
                                b"throttled_time" => (&mut throttling.throttled_time, 1 << 2),
                                _ => return s.unknown(),
                            };
                            *slot = s.optional_u64()?;
                            Some(bit)
                        })
                    })?;
                    1 << 2
                }
                _ => s.unknown()?,
            })
        })
    }

    fn cpu_usage(&mut self, usage: &mut CpuUsage) -> Option<()> {
        self.object(|s, key| {
            Some(match key {
                b"total_usage" => {
                    usage.total_usage = s.optional_u64()?;
                    1
                }
                b"percpu_usage" => {
                    s.section(&mut usage.percpu_usage, |s, percpu| s.array(|s| s.u64().map(|ns| percpu.push(ns))))?;
                    1 << 1
                }
                b"usage_in_usermode" => {
                    usage.usage_in_usermode = s.optional_u64()?;
                    1 << 2
                }
                b"usage_in_kernelmode" => {
                    usage.usage_in_kernelmode = s.optional_u64()?;
                    1 << 3
                }
                _ => s.unknown()?,
            })
        })
    }

    fn memory_stats(&mut self, memory: &mut MemoryStats) -> Option<()> {
        self.object(|s, key| {
            Some(match key {
                b"usage" => {
                    memory.usage = s.optional_u64()?;
                    1
                }
                b"limit" => {
                    memory.limit = s.optional_u64()?;
                    1 << 1
                }
                b"stats" => {
                    s.section(&mut memory.stats, Self::memory_detail)?;
                    1 << 2
                }
                b"failcnt" => {
                    memory.failcnt = s.optional_u64()?;
                    1 << 3
                }
                _ => s.unknown()?,
            })
        })
    }

    fn memory_detail(&mut self, detail: &mut MemoryDetail) -> Option<()> {
        self.object(|s, key| {
            let (slot, bit) = match key {
                b"total_inactive_file" => (&mut detail.total_inactive_file, 1),
                b"inactive_file" => (&mut detail.inactive_file, 1 << 1),
                b"total_rss" => (&mut detail.total_rss, 1 << 2),
                b"rss" => (&mut detail.rss, 1 << 3),
                b"anon" => (&mut detail.anon, 1 << 4),
                b"total_cache" => (&mut detail.total_cache, 1 << 5),
                b"cache" => (&mut detail.cache, 1 << 6),
                b"file" => (&mut detail.file, 1 << 7),
                _ => return s.unknown(),
            };
            *slot = s.optional_u64()?;
            Some(bit)
        })
    }

    fn blkio_stats(&mut self, blkio: &mut BlkioStats) -> Option<()> {
        self.object(|s, key| match key {
            b"io_service_bytes_recursive" => {
                s.section(&mut blkio.io_service_bytes_recursive, Self::blkio_totals)?;
                Some(1)
            }
            _ => s.unknown(),
        })
    }

    /// The list of blkio entries, summed by op.
    fn blkio_totals(&mut self, totals: &mut BlkioTotals) -> Option<()> {
        self.array(|s| {
            let (mut op, mut value) = (None, None);
            s.object(|s, key| {
                Some(match key {
                    b"op" => {
                        op = Some(BlkioOp::from_name(std::str::from_utf8(s.string()?).ok()?));
                        1
                    }
                    b"value" => {
                        value = Some(s.u64()?);
                        1 << 1
                    }
                    _ => s.unknown()?,
                })
            })?;
            totals.add(op?, value?)
        })
    }

    /// The `networks` map, summed over interfaces.
    fn networks(&mut self, total: &mut NetTotals) -> Option<()> {
        *total = NetTotals::ZERO;
        self.object(|s, _interface| {
            let mut interface = NetTotals::default();
            s.net_totals(&mut interface)?;
            *total = total.checked_add(interface)?;
            Some(0)
        })
    }

    /// One interface's counters: bytes and packets required, drops and
    /// errors optional.
    fn net_totals(&mut self, totals: &mut NetTotals) -> Option<()> {
        let mut seen = 0;
        self.object(|s, key| {
            let (slot, bit) = match key {
                b"rx_bytes" => (&mut totals.rx_bytes, 1),
                b"rx_packets" => (&mut totals.rx_packets, 1 << 1),
                b"tx_bytes" => (&mut totals.tx_bytes, 1 << 2),
                b"tx_packets" => (&mut totals.tx_packets, 1 << 3),
                _ => {
                    let (slot, bit) = match key {
                        b"rx_dropped" => (&mut totals.rx_dropped, 1 << 4),
                        b"rx_errors" => (&mut totals.rx_errors, 1 << 5),
                        b"tx_dropped" => (&mut totals.tx_dropped, 1 << 6),
                        b"tx_errors" => (&mut totals.tx_errors, 1 << 7),
                        _ => return s.unknown(),
                    };
                    *slot = s.optional_u64()?;
                    return Some(bit);
                }
            };
            *slot = s.u64()?;
            seen |= bit;
            Some(bit)
        })?;
        (seen == 0b1111).then_some(())
    }

    fn pids_stats(&mut self, pids: &mut PidsStats) -> Option<()> {
        self.object(|s, key| match key {
            b"current" => {
                pids.current = s.optional_u64()?;
                Some(1)
            }
            _ => s.unknown(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `marks` agrees with `marked` on the first flagged byte, for every
    /// byte value in every place after `plain` bytes, before any bytes
    /// after it.
    fn check(marks: impl Fn(u64) -> u64, marked: impl Fn(u8) -> bool, plain: u8) {
        for place in 0..8 {
            for byte in 0..=u8::MAX {
                for after in [0x00, b'"', b'\\', b'5', 0xFF] {
                    let mut bytes = [plain; 8];
                    bytes[place] = byte;
                    bytes[place + 1..].fill(after);
                    let expected = bytes.iter().position(|&b| marked(b)).unwrap_or(8);
                    let found = marks(u64::from_le_bytes(bytes)).trailing_zeros() / 8;
                    assert_eq!(usize::try_from(found).unwrap(), expected, "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn word_tests_find_the_first_byte_the_byte_tests_flag() {
        check(string_end_marks, ends_string, b'a');
        check(not_digit_marks, |byte| !byte.is_ascii_digit(), b'7');
    }
}
