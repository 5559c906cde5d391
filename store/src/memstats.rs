//! The `memory` tree's value: a container's raw memory statistics
//! ([`MemoryStats`]) in about a fifth of their JSON.
//!
//! The names are the kernel's cgroup v1 and v2 `memory.stat` names, the same
//! few dozen in every record, so each is written as its number in [`NAMES`]
//! (an unknown one, spelled out); values are varints:
//!
//! ```text
//! VERSION (1), then per entry, in name order:
//!   varint n: n >= 1 is NAMES[n - 1]; n = 0 is followed by varint len + UTF-8 name
//!   varint value
//! ```
//!
//! [`NAMES`] is part of the format: append only, never reorder.

use thiserror::Error;

use crate::payload::MemoryStats;
use crate::varint::{self, VarintError};

/// The encoding's version byte.
const VERSION: u8 = 1;

/// The names numbered 1, 2, ...: cgroup v1 (Docker's `memory_stats.stats`
/// with `total_*` and the hierarchical limits), then cgroup v2.
pub const NAMES: [&str; 78] = [
    // cgroup v1 (memory.stat of mm/memcontrol.c).
    "cache",
    "rss",
    "rss_huge",
    "shmem",
    "mapped_file",
    "dirty",
    "writeback",
    "swap",
    "pgpgin",
    "pgpgout",
    "pgfault",
    "pgmajfault",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "hierarchical_memory_limit",
    "hierarchical_memsw_limit",
    "total_cache",
    "total_rss",
    "total_rss_huge",
    "total_shmem",
    "total_mapped_file",
    "total_dirty",
    "total_writeback",
    "total_swap",
    "total_pgpgin",
    "total_pgpgout",
    "total_pgfault",
    "total_pgmajfault",
    "total_inactive_anon",
    "total_active_anon",
    "total_inactive_file",
    "total_active_file",
    "total_unevictable",
    // cgroup v2 (Documentation/admin-guide/cgroup-v2.rst, memory.stat).
    "anon",
    "file",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "sock",
    "vmalloc",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "swapcached",
    "anon_thp",
    "file_thp",
    "shmem_thp",
    "slab_reclaimable",
    "slab_unreclaimable",
    "slab",
    "workingset_refault",
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "pgscan",
    "pgsteal",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgrefill",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "thp_fault_alloc",
    "thp_collapse_alloc",
    "zswap",
];

/// Why a `memory` value does not decode.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MemStatsError {
    /// A varint or the value ends early.
    #[error("{0}")]
    Varint(#[from] VarintError),
    /// The first byte is not a version this build reads.
    #[error("encoding version {0} is not known (this build reads {VERSION})")]
    Version(u8),
    /// A name number beyond [`NAMES`] (written by a newer build).
    #[error("name number {0} is not known")]
    Name(u64),
    /// A spelled-out name is not UTF-8.
    #[error("a name is not UTF-8")]
    Utf8,
}

/// The encoding of `stats`.
pub fn encode(stats: &MemoryStats) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + stats.len() * 4);
    out.push(VERSION);
    for (name, &value) in stats {
        match NAMES.iter().position(|known| known == name) {
            Some(i) => varint::put(&mut out, i as u64 + 1),
            None => {
                varint::put(&mut out, 0);
                varint::put(&mut out, name.len() as u64);
                out.extend_from_slice(name.as_bytes());
            }
        }
        varint::put(&mut out, value);
    }
    out
}

/// Reads what [`encode`] wrote.
pub fn decode(mut input: &[u8]) -> Result<MemoryStats, MemStatsError> {
    let version = varint::byte(&mut input)?;
    if version != VERSION {
        return Err(MemStatsError::Version(version));
    }
    let mut stats = MemoryStats::new();
    while !input.is_empty() {
        let number = varint::get(&mut input)?;
        let name = match number.checked_sub(1) {
            Some(i) => {
                (*usize::try_from(i).ok().and_then(|i| NAMES.get(i)).ok_or(MemStatsError::Name(number))?).to_owned()
            }
            None => {
                let len = usize::try_from(varint::get(&mut input)?).map_err(|_| VarintError::Overlong)?;
                let bytes = input.get(..len).ok_or(VarintError::Truncated)?;
                input = &input[len..];
                String::from_utf8(bytes.to_vec()).map_err(|_| MemStatsError::Utf8)?
            }
        };
        stats.insert(name, varint::get(&mut input)?);
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_names_are_distinct() {
        let mut names = NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), NAMES.len());
    }

    #[test]
    fn a_cgroup_v2_document_is_a_fraction_of_its_json() {
        let doc: serde_json::Value =
            serde_json::from_str(include_str!("../../fixtures/docker-cgroup-v2-stats-2023.json")).unwrap();
        let stats: MemoryStats = serde_json::from_value(doc["memory_stats"]["stats"].clone()).unwrap();
        assert_eq!(stats.len(), 31);
        let bytes = encode(&stats);
        assert_eq!(decode(&bytes).unwrap(), stats);
        let json = serde_json::to_vec(&stats).unwrap().len();
        assert!(bytes.len() * 4 < json, "{} bytes, JSON {json}", bytes.len());
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(decode(&[]), Err(MemStatsError::Varint(VarintError::Truncated)));
        assert_eq!(decode(&[2]), Err(MemStatsError::Version(2)));
        assert_eq!(decode(&[VERSION, 200, 1, 0]), Err(MemStatsError::Name(200)));
        assert_eq!(decode(&[VERSION, 1]), Err(MemStatsError::Varint(VarintError::Truncated)));
        assert_eq!(decode(&[VERSION, 0, 2, 0xff, 0xfe, 0]), Err(MemStatsError::Utf8));
    }

    proptest! {
        #[test]
        fn any_stats_round_trip(stats in proptest::collection::btree_map("[a-z_]{1,12}|cache|total_rss|anon", any::<u64>(), 0..40)) {
            prop_assert_eq!(decode(&encode(&stats)).unwrap(), stats);
        }
    }
}
