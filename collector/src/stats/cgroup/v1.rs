//! cgroup v1: one folder per controller.

use std::path::{Path, PathBuf};

use super::{garbage, key_values, limit, memory_detail, number, read_optional, read_text, CgroupError, Files, Host};
use crate::stats::document::{
    BlkioOp, BlkioStats, BlkioTotals, CpuStats, CpuUsage, Document, MemoryStats, PidsStats, Throttling,
};

/// Nanoseconds per tick of `cpuacct.stat` (`USER_HZ`, 100 on Linux), as
/// runc converts them.
const NS_PER_TICK: u64 = 10_000_000;

/// The blkio files dockerd's runc tries, in its order: BFQ, CFQ, throttle.
const BLKIO_FILES: [&str; 3] = [
    "blkio.bfq.io_service_bytes_recursive",
    "blkio.io_service_bytes_recursive",
    "blkio.throttle.io_service_bytes_recursive",
];

/// A container's folder under each controller kura reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Dirs {
    cpuacct: PathBuf,
    cpu: PathBuf,
    memory: PathBuf,
    blkio: PathBuf,
    pids: PathBuf,
}

impl Dirs {
    /// The folders `/proc/<pid>/cgroup` (`N:cpu,cpuacct:/docker/ID` lines)
    /// names under `root`; `None` when it lacks a controller.
    pub(super) fn of(root: &Path, proc_cgroup: &str) -> Option<Dirs> {
        let under = |controller: &str| {
            proc_cgroup.lines().find_map(|line| {
                let mut fields = line.splitn(3, ':');
                let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| root.join(controller).join(path.trim_start_matches('/')))
            })
        };
        Some(Dirs {
            cpuacct: under("cpuacct")?,
            cpu: under("cpu")?,
            memory: under("memory")?,
            blkio: under("blkio")?,
            pids: under("pids")?,
        })
    }
}

/// Reads a container's v1 files.
pub(super) fn read(dirs: &Dirs, host: Host) -> Result<Files, CgroupError> {
    let file = |dir: &Path, name: &str| {
        let path = dir.join(name);
        read_text(&path).map(|text| (path, text))
    };
    let (path, text) = file(&dirs.cpuacct, "cpuacct.usage")?;
    let total = number(&path, &text)?;
    let (path, text) = file(&dirs.cpuacct, "cpuacct.usage_percpu")?;
    let percpu = text.split_whitespace().map(|n| number(&path, n)).collect::<Result<Vec<u64>, _>>()?;
    let (path, text) = file(&dirs.cpuacct, "cpuacct.stat")?;
    let ticks = key_values(&path, &text)?;
    let ns = |key: &str| ticks.get(key).map(|t| t.saturating_mul(NS_PER_TICK));
    let (path, text) = file(&dirs.cpu, "cpu.stat")?;
    let cpu = key_values(&path, &text)?;
    let cpu_stats = CpuStats {
        cpu_usage: Some(CpuUsage {
            total_usage: Some(total),
            percpu_usage: Some(percpu),
            usage_in_usermode: ns("user"),
            usage_in_kernelmode: ns("system"),
        }),
        online_cpus: host.online_cpus,
        throttling_data: Some(Throttling {
            periods: cpu.get("nr_periods").copied(),
            throttled_periods: cpu.get("nr_throttled").copied(),
            throttled_time: cpu.get("throttled_time").copied(),
        }),
    };

    let (path, text) = file(&dirs.memory, "memory.usage_in_bytes")?;
    let usage = number(&path, &text)?;
    let (path, text) = file(&dirs.memory, "memory.limit_in_bytes")?;
    let limit = limit(&path, &text, host.machine_memory)?;
    let (path, text) = file(&dirs.memory, "memory.failcnt")?;
    let failcnt = number(&path, &text)?;
    let (path, text) = file(&dirs.memory, "memory.stat")?;
    let memory_stats = key_values(&path, &text)?;
    let memory = MemoryStats {
        usage: Some(usage),
        limit: Some(limit),
        failcnt: Some(failcnt),
        stats: Some(memory_detail(&memory_stats)),
    };

    let pids = match read_optional(&dirs.pids.join("pids.current"))? {
        Some(text) => Some(number(&dirs.pids.join("pids.current"), &text)?),
        None => None,
    };
    let document = Document {
        read: None,
        cpu_stats: Some(cpu_stats),
        memory_stats: Some(memory),
        blkio_stats: Some(BlkioStats { io_service_bytes_recursive: blkio(&dirs.blkio)? }),
        networks: None,
        network: None,
        pids_stats: Some(PidsStats { current: pids }),
    };
    Ok(Files { document, memory_stats })
}

/// The bytes read and written of the first blkio file that lists a
/// device (`8:0 Read 4096`; a file of `Total 0` lists none), as runc picks
/// it; zeros when every file lists none, `None` when there is none.
fn blkio(dir: &Path) -> Result<Option<BlkioTotals>, CgroupError> {
    let mut found = None;
    for name in BLKIO_FILES {
        let path = dir.join(name);
        let Some(text) = read_optional(&path)? else { continue };
        let mut totals = BlkioTotals::default();
        let mut devices = 0usize;
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_device, op, value] = fields[..] else { continue };
            devices += 1;
            totals.add(BlkioOp::from_name(op), number(&path, value)?).ok_or_else(|| garbage(&path, "sum overflows"))?;
        }
        if devices > 0 {
            return Ok(Some(totals));
        }
        found = Some(totals);
    }
    Ok(found)
}
