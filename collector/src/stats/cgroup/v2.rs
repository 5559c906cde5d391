//! cgroup v2: the container's one folder of the unified hierarchy.

use std::path::{Path, PathBuf};

use super::{garbage, key_values, limit, memory_detail, number, read_optional, read_text, CgroupError, Files, Host};
use crate::stats::document::{
    BlkioOp, BlkioStats, BlkioTotals, CpuStats, CpuUsage, Document, MemoryStats, PidsStats, Throttling,
};

/// The folder `/proc/<pid>/cgroup`'s `0::/PATH` line names under `root`.
pub(super) fn dir(root: &Path, proc_cgroup: &str) -> Option<PathBuf> {
    let path = proc_cgroup.lines().find_map(|line| line.strip_prefix("0::"))?;
    Some(root.join(path.trim_start_matches('/')))
}

/// Reads a container's v2 files.
pub(super) fn read(dir: &Path, host: Host) -> Result<Files, CgroupError> {
    let file = |name: &str| {
        let path = dir.join(name);
        read_text(&path).map(|text| (path, text))
    };
    let (path, text) = file("cpu.stat")?;
    let cpu = key_values(&path, &text)?;
    let ns = |key: &str| cpu.get(key).map(|us| us.saturating_mul(1000));
    let cpu_stats = CpuStats {
        cpu_usage: Some(CpuUsage {
            total_usage: ns("usage_usec"),
            percpu_usage: None,
            usage_in_usermode: ns("user_usec"),
            usage_in_kernelmode: ns("system_usec"),
        }),
        online_cpus: host.online_cpus,
        throttling_data: Some(Throttling {
            periods: cpu.get("nr_periods").copied(),
            throttled_periods: cpu.get("nr_throttled").copied(),
            throttled_time: ns("throttled_usec"),
        }),
    };

    let (path, text) = file("memory.current")?;
    let usage = number(&path, &text)?;
    let (path, text) = file("memory.max")?;
    let limit = limit(&path, &text, host.machine_memory)?;
    let (path, text) = file("memory.stat")?;
    let memory_stats = key_values(&path, &text)?;
    let memory = MemoryStats {
        usage: Some(usage),
        limit: Some(limit),
        failcnt: None,
        stats: Some(memory_detail(&memory_stats)),
    };

    let path = dir.join("io.stat");
    let io = read_optional(&path)?.map(|text| io_totals(&path, &text)).transpose()?;
    let path = dir.join("pids.current");
    let pids = read_optional(&path)?.map(|text| number(&path, &text)).transpose()?;
    let document = Document {
        read: None,
        cpu_stats: Some(cpu_stats),
        memory_stats: Some(memory),
        blkio_stats: Some(BlkioStats { io_service_bytes_recursive: io }),
        networks: None,
        network: None,
        pids_stats: Some(PidsStats { current: pids }),
    };
    Ok(Files { document, memory_stats })
}

/// `io.stat` (`254:0 rbytes=4096 wbytes=0 rios=1 ...` per device): bytes
/// read and written, summed over devices.
fn io_totals(path: &Path, text: &str) -> Result<BlkioTotals, CgroupError> {
    let mut totals = BlkioTotals::default();
    for field in text.lines().flat_map(|line| line.split_whitespace().skip(1)) {
        let Some((key, value)) = field.split_once('=') else { continue };
        let op = match key {
            "rbytes" => BlkioOp::Read,
            "wbytes" => BlkioOp::Write,
            _ => continue,
        };
        totals.add(op, number(path, value)?).ok_or_else(|| garbage(path, "sum overflows"))?;
    }
    Ok(totals)
}
