//! kura's store: the vocabulary every kura crate speaks (the sample model,
//! typed payloads, records, host configuration) and everything on disk (keys,
//! the block codec, the writer, retention, damage diagnosis, the reader and
//! the collector's socket). std and sled only: no async runtime, no HTTP.
//!
//! # Layout on disk
//!
//! `DIR/store` is the sled database (`DIR` mode 0700), `DIR/kura.sock` the
//! running collector's socket (mode 0600), `DIR/store.format` the marker
//! that a store was made here (its format version; a store whose log then
//! reads as empty is refused as damaged, never taken for a new one),
//! `DIR/recovered/` what recovery at
//! open moved aside. Keys are built in [`key`] only; numeric parts are
//! big-endian, times sign-flipped so that they sort.
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | `format`, `next_host`, `next_series`, `pruned_before`, `local_host` | format version u32 BE ([`FORMAT_VERSION`]), next ids (u16 / u32 BE), the last completed retention cut (i64 BE ms), the name the implicit local host is kept under (UTF-8) |
//! | `hosts` | host name | host id, u16 BE |
//! | `series` | host id u16 + container id | series id, u32 BE |
//! | `series_info` | series id u32 | [`SeriesInfo`] as JSON (host, container id, name, image, command, created, labels, first seen), rewritten when it changes |
//! | `head` | host id + sweep time | a head page: what one sweep added (its record, SNMP reading, one [`codec`] row per sample) |
//! | `blocks` | series id + first time | a [`codec`] block of up to [`StoreOptions::block_rows`] samples |
//! | `sweeps` | host id + first sweep time | a record block of [`SweepRecord`]s (outcome byte, latency µs and container count varints, down reason), one per block of sweeps |
//! | `host_info` | host id + time | the daemon's `/info` (JSON), written when it changes |
//! | `details` | series id + time | container details (JSON), written when they change |
//! | `latest` | series id | 8 time bytes + JSON: newest processes and raw memory stats, overwritten (read for a series without `processes` or `memory` entries: a store written before them) |
//! | `events` | host id + time ns + FNV-1a hash of the event | the event (JSON); storing it twice stores it once |
//! | `snmp` | host id + first sweep time | a record block of SNMP readings (JSON), one per block of sweeps |
//! | `sizes` | host id + time | the size sweep (JSON) |
//! | `cursors` | cursor name | where the collector's `[[forward]]` of that name stopped (its JSON), written by the writer thread |
//! | `processes` | series id + time | the container's [`Top`](payload::Top) (JSON), read every `top_interval`, written when its processes change (not its CPU columns) |
//! | `memory` | series id + time | its raw memory statistics in the `memstats` encoding, read with `top`: the first, then one at least an hour after the last kept |
//!
//! # Head and blocks
//!
//! A sweep writes one head page: its record, its SNMP reading and one row
//! per sample (the first row of a series' open block whole, the others as
//! differences from the previous one), so a sweep costs one sled insert
//! (plus the rarer documents). The writer also keeps each series' open
//! block in memory, so a sweep never reads the head. When a host has
//! [`StoreOptions::block_rows`] head pages (360 = one hour at 10 s), each
//! of its series' open blocks becomes one block, the sweep records and
//! SNMP readings become record blocks, and the pages are removed. Blocks
//! are written before the pages are removed, and sled recovers a prefix of
//! its log, so a crash in between leaves head rows and records that a
//! block already covers: readers ignore those at or before the newest
//! block's last time, and the writer drops them when it reloads the host. Times only go forward: the writer drops (and
//! counts) a sample not newer than its series' newest, and a sweep not
//! after its host's previous one.
//!
//! Why pages and hourly record blocks: one sled insert per sample (and
//! one removal at compaction) cost about 6 µs each; and sled 0.34 keeps
//! several times more disk for streams of small long-lived inserts between
//! short-lived ones than for hourly blocks (see `benches/store.rs`).
//!
//! # Modules
//!
//! The vocabulary:
//! - [`sample`]: the model: a container's state and raw counters at one instant, and columns of them.
//! - [`payload`]: the typed documents kept besides samples (details, processes, memory, info, events, SNMP, sizes).
//! - [`record`]: batches, sweep records, series descriptions.
//! - [`config`]: the configuration file and flags every kura program reads: hosts, endpoints, the data folder.
//! - [`endpoint`]: Docker endpoints as operators write them.
//! - [`pattern`]: `-n NAME` / `-c ID` container patterns (a trailing `*` for a prefix).
//! - [`duration`]: `10s`, `5m`, `35d` as operators write them.
//! - [`paths`]: the default data folder.
//! - [`message`]: errors on one line, each cause once (every program's stderr).
//! - [`users`]: who runs this process, who owns a file, group names (for another user's collector).
//! - [`simulate`]: realistic simulated history, written through the real store.
//!
//! On disk:
//! - [`codec`]: the column-wise sample block encoding.
//! - [`key`]: key shapes, ids, the [`Tree`] names.
//! - `db`: [`Store`]: open (lock, version, recovery), the sled handles.
//! - `damage`: which file of a store that does not open is damaged.
//! - `page`: the head page and record block formats.
//! - `memstats`: the compact encoding of raw memory statistics (the `memory` tree's values).
//! - `write`: [`Store::write_sweep`] and compaction.
//! - `prune`: [`Store::prune`], retention in small steps, forgetting the containers that are gone.
//! - `cursor`: [`Store::put_cursor`] and [`Reader::cursor`], the forwardings' cursors.
//! - `hosts`: [`Store::local_host_name`] (the local host keeps its first name) and [`Store::rename_host`].
//! - [`reader`]: [`Reader`], the query API over either transport.
//! - [`socket`]: the collector's unix socket: server and client.
//! - `varint`: varints and zigzag.

pub mod codec;
pub mod config;
mod cursor;
mod damage;
mod db;
pub mod duration;
pub mod endpoint;
pub mod freshness;
mod hosts;
pub mod key;
mod memstats;
pub mod message;
mod page;
pub mod paths;
pub mod pattern;
pub mod payload;
mod prune;
pub mod reader;
pub mod record;
pub mod sample;
pub mod simulate;
pub mod socket;
pub mod users;
mod varint;
mod write;

#[cfg(test)]
mod tests;

use std::io;
use std::path::PathBuf;

use thiserror::Error;

pub use damage::MARKER;
pub use db::{ReadHandle, Store, StoreOptions, STORE_DIR};
pub use key::{HostId, SeriesId, Tree};
pub use prune::PruneProgress;
pub use reader::{Entry, Kv, Reader, Scan, CUT_VALUE_LEN};
pub use record::{
    ContainerInfo, ContainerSweep, EventRecord, SeriesInfo, SweepBatch, SweepOutcome, SweepRecord, Timed,
};
pub use write::WriteReport;

impl StoreError {
    /// An I/O error on `path`: [`StoreError::PermissionDenied`] when that
    /// is what it is (saying who this process runs as and who owns the
    /// path), else [`StoreError::Io`].
    pub fn io(path: &std::path::Path, source: io::Error) -> StoreError {
        match source.kind() {
            io::ErrorKind::PermissionDenied => {
                StoreError::PermissionDenied { path: path.to_path_buf(), detail: users::why_denied(path) }
            }
            _ => StoreError::Io { path: path.to_path_buf(), source },
        }
    }
}

/// The store format this build writes (`meta/format`). It reads every
/// version from [`OLDEST_FORMAT_VERSION`] on.
///
/// - 1: the first format.
/// - 2: blocks and head rows carry the fields from
///   [`Field::CpuUserNs`](sample::Field::CpuUserNs) on. A collector of this
///   build writes 2 into a version-1 store with its first sweep (everything
///   of version 1 reads unchanged), so that an older `kura` refuses the
///   store instead of failing on the first new block.
/// - 3: new blocks are written in layout 2 (per-column frame of reference,
///   bit-packed: [`codec`]'s layout byte); blocks of versions 1 and 2
///   (layout 1) and everything else of theirs read unchanged. A collector of
///   this build writes 3 into a store of version 1 or 2 with its first
///   sweep, for the same reason.
pub const FORMAT_VERSION: u32 = 3;

/// The oldest store format this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// Whether this build reads a store of format `version`.
pub fn reads_format(version: u32) -> bool {
    (OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version)
}

/// Why the store could not be opened, written or read. Every variant names
/// the store or socket path.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another process (or another handle in this one) holds sled's lock.
    #[error("store at {path} is in use by another process (is kura-collector running?)")]
    Locked {
        /// The sled directory.
        path: PathBuf,
    },
    /// The store is locked and the collector's socket does not answer.
    #[error("store at {path} is held by another process (the collector?), but its socket {socket} does not answer")]
    Unanswered {
        /// The sled directory.
        path: PathBuf,
        /// The socket tried.
        socket: PathBuf,
    },
    /// There is no store to read.
    #[error("no store at {path} (has kura-collector run with this data directory?)")]
    Missing {
        /// The sled directory.
        path: PathBuf,
    },
    /// The store was written in a format this build does not read.
    #[error("store at {path} has format version {found}; this build reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}")]
    Version {
        /// The sled directory.
        path: PathBuf,
        /// The version in `meta/format`.
        found: u32,
    },
    /// The store's content does not decode.
    #[error("store at {path} is corrupt: {detail}")]
    Corrupt {
        /// The sled directory.
        path: PathBuf,
        /// What failed to decode, and where.
        detail: String,
    },
    /// This process may not use a file or folder of the store (another
    /// user's collector, a data folder it may not enter).
    #[error("permission denied on {path}: {detail}")]
    PermissionDenied {
        /// The file, folder or socket.
        path: PathBuf,
        /// Who this process runs as and who owns what it could see; what to do.
        detail: String,
    },
    /// A file system operation failed.
    #[error("I/O error on {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// sled reported an error other than I/O or corruption.
    #[error("store at {path}: sled error")]
    Db {
        /// The sled directory.
        path: PathBuf,
        /// sled's error.
        #[source]
        source: sled::Error,
    },
    /// The collector's socket failed or answered with an error.
    #[error("collector socket {path}: {detail}")]
    Socket {
        /// The socket.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// All host ids (65 536) or series ids (2^32) are taken.
    #[error("store at {path} has no {what} ids left")]
    Exhausted {
        /// The sled directory.
        path: PathBuf,
        /// `host` or `series`.
        what: &'static str,
    },
    /// The options are out of range.
    #[error("store at {path}: {detail}")]
    Options {
        /// The sled directory.
        path: PathBuf,
        /// Which option, and its range.
        detail: String,
    },
    /// The store knows no host of this name.
    #[error("unknown host {host} in store at {path}")]
    UnknownHost {
        /// The sled directory (or socket).
        path: PathBuf,
        /// The name asked for.
        host: String,
    },
}
