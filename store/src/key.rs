//! Every key shape of the store, in one place.
//!
//! Numeric parts are big-endian so that keys sort by them; times are `i64`
//! with the sign bit flipped so that negative times sort before positive
//! ones. The tree a key belongs to is named by [`Tree`]; the module docs of
//! [`crate`] list what each tree holds.

use std::fmt;

use crate::sample::UnixMillis;

/// A host's number in the store (assigned in order of first sight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId(pub u16);

/// A container series' number in the store: one per host and container id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SeriesId(pub u32);

impl fmt::Display for SeriesId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The trees of the store. The discriminant is the tree's code on the
/// socket protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Tree {
    /// Format version and id counters.
    Meta = 0,
    /// Host name -> host id.
    Hosts = 1,
    /// Host id + container id -> series id.
    Series = 2,
    /// Series id -> series description (JSON).
    SeriesInfo = 3,
    /// Host id + sweep time -> the sweep's samples (a head page).
    Head = 4,
    /// Series id + first time -> encoded block.
    Blocks = 5,
    /// Host id + time -> sweep record.
    Sweeps = 6,
    /// Host id + time -> the host's `/info` (JSON), when it changed.
    HostInfo = 7,
    /// Series id + time -> container details (JSON), when they changed.
    Details = 8,
    /// Series id -> time + newest processes and memory stats (JSON).
    Latest = 9,
    /// Host id + time (ns) + hash -> event (JSON).
    Events = 10,
    /// Host id + time -> SNMP reading (JSON).
    Snmp = 11,
    /// Host id + time -> size sweep (JSON).
    Sizes = 12,
    /// Cursor name -> where the collector's forwarding of that name stopped.
    Cursors = 13,
    /// Series id + time -> the container's processes (`top`, JSON), when
    /// they changed.
    Processes = 14,
    /// Series id + time -> the container's raw memory statistics (JSON),
    /// read with `top`, when they changed.
    Memory = 15,
}

impl Tree {
    /// Every tree, in code order.
    pub const ALL: [Tree; 16] = [
        Tree::Meta,
        Tree::Hosts,
        Tree::Series,
        Tree::SeriesInfo,
        Tree::Head,
        Tree::Blocks,
        Tree::Sweeps,
        Tree::HostInfo,
        Tree::Details,
        Tree::Latest,
        Tree::Events,
        Tree::Snmp,
        Tree::Sizes,
        Tree::Cursors,
        Tree::Processes,
        Tree::Memory,
    ];

    /// The sled tree name.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Hosts => "hosts",
            Tree::Series => "series",
            Tree::SeriesInfo => "series_info",
            Tree::Head => "head",
            Tree::Blocks => "blocks",
            Tree::Sweeps => "sweeps",
            Tree::HostInfo => "host_info",
            Tree::Details => "details",
            Tree::Latest => "latest",
            Tree::Events => "events",
            Tree::Snmp => "snmp",
            Tree::Sizes => "sizes",
            Tree::Cursors => "cursors",
            Tree::Processes => "processes",
            Tree::Memory => "memory",
        }
    }

    /// The protocol code.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The tree with this protocol code.
    pub fn from_code(code: u8) -> Option<Tree> {
        Tree::ALL.get(usize::from(code)).copied()
    }
}

/// `meta` key of the format version (u32 BE).
pub const META_FORMAT: &[u8] = b"format";
/// `meta` key of the next host id (u16 BE).
pub const META_NEXT_HOST: &[u8] = b"next_host";
/// `meta` key of the next series id (u32 BE).
pub const META_NEXT_SERIES: &[u8] = b"next_series";

/// Length of a host id prefix.
pub const HOST_LEN: usize = 2;
/// Length of a series id prefix.
pub const SERIES_LEN: usize = 4;
/// Length of an encoded time.
pub const TIME_LEN: usize = 8;

/// A time as 8 bytes that sort like the number.
pub fn time_bytes(time: i64) -> [u8; TIME_LEN] {
    (u64::from_be_bytes(time.to_be_bytes()) ^ (1 << 63)).to_be_bytes()
}

fn time_from(bytes: &[u8]) -> Option<i64> {
    let bytes: [u8; TIME_LEN] = bytes.try_into().ok()?;
    let bits = u64::from_be_bytes(bytes) ^ (1 << 63);
    Some(i64::from_be_bytes(bits.to_be_bytes()))
}

/// `hosts` key: the host name.
pub fn host(name: &str) -> Vec<u8> {
    name.as_bytes().to_vec()
}

/// Prefix of everything keyed by host id.
pub fn host_prefix(host: HostId) -> [u8; HOST_LEN] {
    host.0.to_be_bytes()
}

/// Prefix of everything keyed by series id; also the whole key of
/// `series_info` and `latest`.
pub fn series_prefix(series: SeriesId) -> [u8; SERIES_LEN] {
    series.0.to_be_bytes()
}

/// `series` key: host id + container id.
pub fn series(host: HostId, container: &str) -> Vec<u8> {
    let mut key = host_prefix(host).to_vec();
    key.extend_from_slice(container.as_bytes());
    key
}

/// Key of `blocks`, `details`, `processes` and `memory`: series id + time.
pub fn series_time(series: SeriesId, time: UnixMillis) -> Vec<u8> {
    let mut key = series_prefix(series).to_vec();
    key.extend_from_slice(&time_bytes(time));
    key
}

/// Key of `head`, `sweeps`, `host_info`, `snmp` and `sizes`: host id + time.
pub fn host_time(host: HostId, time: UnixMillis) -> Vec<u8> {
    let mut key = host_prefix(host).to_vec();
    key.extend_from_slice(&time_bytes(time));
    key
}

/// `events` key: host id + daemon time in ns + an 8-byte hash of the event,
/// so that storing the same event twice stores it once.
pub fn event(host: HostId, time_ns: i64, hash: u64) -> Vec<u8> {
    let mut key = host_time(host, time_ns);
    key.extend_from_slice(&hash.to_be_bytes());
    key
}

/// The host id at the front of a key.
pub fn host_of(key: &[u8]) -> Option<HostId> {
    let bytes: [u8; HOST_LEN] = key.get(..HOST_LEN)?.try_into().ok()?;
    Some(HostId(u16::from_be_bytes(bytes)))
}

/// The series id at the front of a key.
pub fn series_of(key: &[u8]) -> Option<SeriesId> {
    let bytes: [u8; SERIES_LEN] = key.get(..SERIES_LEN)?.try_into().ok()?;
    Some(SeriesId(u32::from_be_bytes(bytes)))
}

/// The time of a key of the shape id + time (+ anything), where the id is
/// `id_len` bytes long.
pub fn time_of(key: &[u8], id_len: usize) -> Option<i64> {
    time_from(key.get(id_len..id_len + TIME_LEN)?)
}

/// The smallest key greater than every key that starts with `prefix`
/// (`None`: there is none, scan to the end). An inclusive end bound `k` of
/// a fixed-length key is the exclusive bound `successor(k)`.
pub fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut key = prefix.to_vec();
    while let Some(last) = key.pop() {
        if let Some(next) = last.checked_add(1) {
            key.push(next);
            return Some(key);
        }
    }
    None
}

/// FNV-1a, 64 bits (Fowler, Noll, Vo; the offset basis and prime of
/// <http://www.isthe.com/chongo/tech/comp/fnv/>): a hash that is the same in
/// every build, for event keys and change detection.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn successor_bounds_a_prefix() {
        assert_eq!(successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(successor(&[1, 0xff]), Some(vec![2]));
        assert_eq!(successor(&[0xff, 0xff]), None);
        assert_eq!(successor(&[]), None);
    }

    #[test]
    fn tree_codes_round_trip() {
        for tree in Tree::ALL {
            assert_eq!(Tree::from_code(tree.code()), Some(tree));
        }
        assert_eq!(Tree::from_code(16), None);
    }

    #[test]
    fn fnv_matches_the_published_test_vector() {
        // From the FNV test suite: fnv1a64("a") = 0xaf63dc4c8601ec8c.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    proptest! {
        #[test]
        fn keys_sort_like_their_numbers(a: i64, b: i64, s: u32, t: u32) {
            let (ka, kb) = (series_time(SeriesId(s), a), series_time(SeriesId(t), b));
            prop_assert_eq!(ka.cmp(&kb), (s, a).cmp(&(t, b)));
            prop_assert_eq!(time_of(&ka, SERIES_LEN), Some(a));
            prop_assert_eq!(series_of(&ka), Some(SeriesId(s)));
        }

        #[test]
        fn successor_is_above_every_extension(prefix in proptest::collection::vec(any::<u8>(), 1..6), tail in proptest::collection::vec(any::<u8>(), 0..6)) {
            let mut extended = prefix.clone();
            extended.extend(tail);
            if let Some(next) = successor(&prefix) {
                prop_assert!(extended < next);
                prop_assert!(prefix < next);
            }
        }
    }
}
