//! The local source: a running container's counters read from its cgroup
//! files and `/proc/<pid>/net/dev`, as cAdvisor does, when the collector
//! runs on the Docker host itself (README "Configuration (collector)", sources).
//!
//! A read fills the same `Document` a stats document is read into and maps
//! it with the same function, so a sample from the files and one from the
//! API share one model and one set of formulas; the files are the ones
//! dockerd itself reads for a stats request (through runc or containerd's
//! cgroups package), and each value is taken as dockerd takes it:
//! - cgroup v1 (one folder per controller, `/sys/fs/cgroup/<controller>/...`):
//!   `cpuacct.usage`, `cpuacct.usage_percpu`, `cpuacct.stat` (ticks of
//!   1/100 s, as ns), `cpu.stat`, `memory.usage_in_bytes`,
//!   `memory.limit_in_bytes` (the host's memory when above it),
//!   `memory.failcnt`, `memory.stat`, the first of the blkio files
//!   `blkio.bfq.io_service_bytes_recursive`, `blkio.io_service_bytes_recursive`,
//!   `blkio.throttle.io_service_bytes_recursive` that lists a device, and
//!   `pids.current`: see `v1`;
//! - cgroup v2 (one folder): `cpu.stat` (µs, as ns), `memory.current`,
//!   `memory.max`, `memory.stat`, `io.stat`, `pids.current`: see `v2`;
//! - the network: every interface of the container's namespace but `lo`
//!   (dockerd counts its endpoints'), none for `--network host` or `none`:
//!   see `net_dev`.
//!
//! A container's folders are found once per inspect from
//! `/proc/<pid>/cgroup` (whatever the daemon's cgroup driver and parent),
//! as a [`LocalTarget`]. Files that are gone mean the container is
//! ([`CgroupError::Gone`]); files that cannot be read for another reason
//! are [`CgroupError::Unreadable`].

mod net_dev;
#[cfg(test)]
mod tests;
mod v1;
mod v2;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use kura_store::sample::{Sample, State, UnixMillis};

use super::document::{Document, MemoryDetail, NetTotals, ReadTime};

/// Where the cgroup filesystem is mounted by default.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// Why a host's or a container's cgroup files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The cgroup root holds neither hierarchy, or cannot be read.
    #[error("cgroup root {root}: {reason}")]
    Unusable {
        /// The root as configured.
        root: PathBuf,
        /// Why.
        reason: String,
    },
    /// The container's files (or its process) are gone: it stopped or was
    /// removed since the list.
    #[error("the container's cgroup is gone")]
    Gone,
    /// A file exists but cannot be read (permissions, I/O).
    #[error("{path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A file does not read as the kernel writes it.
    #[error("{path}: unexpected content: {reason}")]
    Garbage {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
}

/// A host's cgroup filesystem, probed: which hierarchy it mounts and what
/// dockerd adds from the host (its memory, its online CPUs).
#[derive(Clone, Debug)]
pub struct CgroupFs {
    root: PathBuf,
    hierarchy: Hierarchy,
    /// `MemTotal`: dockerd reports it as the limit of an unlimited container.
    machine_memory: Option<u64>,
    /// CPUs online, as dockerd reports `online_cpus`.
    online_cpus: Option<u64>,
}

/// The cgroup version mounted at the root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hierarchy {
    /// One folder per controller.
    V1,
    /// The unified hierarchy.
    V2,
}

/// Where one container's counters are, from its process's `/proc/<pid>/cgroup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTarget {
    /// The container's main process.
    pid: u32,
    dirs: CgroupDirs,
    /// Whether the network namespace is the container's own (not `host`, not `none`).
    own_network: bool,
}

/// A container's cgroup folders.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CgroupDirs {
    /// cgroup v1: one folder per controller kura reads.
    V1(v1::Dirs),
    /// cgroup v2: the container's one folder.
    V2(PathBuf),
}

/// One read of a container's files.
#[derive(Clone, Debug)]
pub struct LocalReading {
    /// The sample, timed `time`.
    pub sample: Sample,
    /// `memory.stat` as read (what a stats document's `memory_stats.stats` holds).
    pub memory_stats: BTreeMap<String, u64>,
}

impl CgroupFs {
    /// Probes the cgroup filesystem mounted at `root`: cgroup v2 when it
    /// holds `cgroup.controllers`, v1 when it holds a `memory` controller
    /// folder; either must be readable.
    pub fn probe(root: &Path) -> Result<CgroupFs, CgroupError> {
        let unusable = |reason: String| CgroupError::Unusable { root: root.to_path_buf(), reason };
        let hierarchy = if root.join("cgroup.controllers").exists() {
            Hierarchy::V2
        } else if root.join("memory").is_dir() {
            Hierarchy::V1
        } else {
            return Err(unusable("no cgroup v2 hierarchy (cgroup.controllers) and no v1 memory controller".to_owned()));
        };
        let probe = match hierarchy {
            Hierarchy::V1 => root.join("memory").join("memory.stat"),
            Hierarchy::V2 => root.join("cgroup.controllers"),
        };
        std::fs::read(&probe).map_err(|e| unusable(format!("{}: {e}", probe.display())))?;
        Ok(CgroupFs {
            root: root.to_path_buf(),
            hierarchy,
            machine_memory: machine_memory(),
            online_cpus: online_cpus(),
        })
    }

    /// The hierarchy found.
    pub fn hierarchy(&self) -> Hierarchy {
        self.hierarchy
    }

    /// Where the counters of the container whose main process is `pid` are;
    /// `network_mode` is inspect's `HostConfig.NetworkMode`.
    pub fn target(&self, pid: i64, network_mode: Option<&str>) -> Result<LocalTarget, CgroupError> {
        let pid = u32::try_from(pid).ok().filter(|&pid| pid > 0).ok_or(CgroupError::Gone)?;
        let path = PathBuf::from(format!("/proc/{pid}/cgroup"));
        let text = read_text(&path)?;
        let dirs = match self.hierarchy {
            Hierarchy::V1 => {
                CgroupDirs::V1(v1::Dirs::of(&self.root, &text).ok_or_else(|| garbage(&path, "no v1 controller lines"))?)
            }
            Hierarchy::V2 => CgroupDirs::V2(v2::dir(&self.root, &text).ok_or_else(|| garbage(&path, "no `0::` line"))?),
        };
        let own_network = !matches!(network_mode, Some("host" | "none"));
        Ok(LocalTarget { pid, dirs, own_network })
    }

    /// Reads `target`'s counters into a sample of a container in `state`, timed `time`.
    pub fn read(&self, target: &LocalTarget, time: UnixMillis, state: State) -> Result<LocalReading, CgroupError> {
        let host = Host { online_cpus: self.online_cpus, machine_memory: self.machine_memory };
        let files = match &target.dirs {
            CgroupDirs::V1(dirs) => v1::read(dirs, host)?,
            CgroupDirs::V2(dir) => v2::read(dir, host)?,
        };
        let networks = if target.own_network {
            let path = PathBuf::from(format!("/proc/{}/net/dev", target.pid));
            net_dev::totals(&path, &read_text(&path)?)?
        } else {
            None
        };
        Ok(assemble(files, networks, time, state))
    }
}

/// What dockerd adds to a container's counters from the host.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Host {
    /// `online_cpus`.
    pub(super) online_cpus: Option<u64>,
    /// The limit of a container without one.
    pub(super) machine_memory: Option<u64>,
}

/// What a container's cgroup folders hold: the document (without its read
/// time and network) and `memory.stat`.
pub(super) struct Files {
    pub(super) document: Document,
    pub(super) memory_stats: BTreeMap<String, u64>,
}

/// A container's files and network as a reading timed `time`, mapped as
/// a stats document is.
fn assemble(files: Files, networks: Option<NetTotals>, time: UnixMillis, state: State) -> LocalReading {
    let Files { mut document, memory_stats } = files;
    document.networks = networks;
    document.read = Some(ReadTime::At(time));
    let sample = super::sample(document, state).unwrap_or_else(|| Sample::state_only(time, state));
    LocalReading { sample, memory_stats }
}

/// A `memory.stat` map's keys that a sample needs.
fn memory_detail(stat: &BTreeMap<String, u64>) -> MemoryDetail {
    let key = |name: &str| stat.get(name).copied();
    MemoryDetail {
        total_inactive_file: key("total_inactive_file"),
        inactive_file: key("inactive_file"),
        total_rss: key("total_rss"),
        rss: key("rss"),
        anon: key("anon"),
        total_cache: key("total_cache"),
        cache: key("cache"),
        file: key("file"),
    }
}

/// `KEY VALUE` lines (`memory.stat`, `cpu.stat`, `cpuacct.stat`).
fn key_values(path: &Path, text: &str) -> Result<BTreeMap<String, u64>, CgroupError> {
    let mut map = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (key, value) = line.split_once(' ').ok_or_else(|| garbage(path, &format!("line {line:?}")))?;
        map.insert(key.to_owned(), number(path, value)?);
    }
    Ok(map)
}

/// One decimal number (`max` is not one: see [`limit`]).
fn number(path: &Path, text: &str) -> Result<u64, CgroupError> {
    text.trim().parse().map_err(|e| garbage(path, &format!("{:?}: {e}", text.trim())))
}

/// A limit file: a number, or `max` (none); capped at the host's memory as
/// dockerd caps it.
fn limit(path: &Path, text: &str, machine_memory: Option<u64>) -> Result<u64, CgroupError> {
    let limit = if text.trim() == "max" { u64::MAX } else { number(path, text)? };
    Ok(machine_memory.map_or(limit, |machine| limit.min(machine)))
}

fn garbage(path: &Path, reason: &str) -> CgroupError {
    CgroupError::Garbage { path: path.to_path_buf(), reason: reason.to_owned() }
}

/// A file's text; a file that is gone (or whose process is: `ESRCH`) is
/// [`CgroupError::Gone`].
fn read_text(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => CgroupError::Gone,
        _ if source.raw_os_error() == Some(3) => CgroupError::Gone,
        _ => CgroupError::Unreadable { path: path.to_path_buf(), source },
    })
}

/// A file a controller may not provide: `None` when it is absent from a
/// folder that exists, [`CgroupError::Gone`] when the folder is gone too.
fn read_optional(path: &Path) -> Result<Option<String>, CgroupError> {
    match read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(CgroupError::Gone) if path.parent().is_some_and(Path::is_dir) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `MemTotal` of `/proc/meminfo`, bytes.
fn machine_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The CPUs in `/sys/devices/system/cpu/online` (`0-3,6`).
fn online_cpus() -> Option<u64> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    cpu_count(&text)
}

/// How many CPUs a CPU list (`0-3,6`) names.
fn cpu_count(list: &str) -> Option<u64> {
    let mut count = 0u64;
    for range in list.trim().split(',').filter(|r| !r.is_empty()) {
        let (low, high) = range.split_once('-').unwrap_or((range, range));
        let (low, high): (u64, u64) = (low.parse().ok()?, high.parse().ok()?);
        count = count.checked_add(high.checked_sub(low)?.checked_add(1)?)?;
    }
    Some(count).filter(|&n| n > 0)
}
