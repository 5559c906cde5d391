//! The cgroup readers on recorded folders: a v2 container's files read as
//! the same sample as the stats document dockerd made of them, and a v1
//! container's files (Docker 20.10, this project's test bed) as the values
//! they hold.

use std::path::{Path, PathBuf};

use super::{assemble, cpu_count, net_dev, v1, v2, CgroupError, Host};
use crate::stats::parse_stats;
use kura_store::sample::{Field, State};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR")))
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn v2_files_read_as_the_stats_document_dockerd_made_of_them() {
    let dir = fixture("cgroup-v2-2023");
    let doc = std::fs::read(fixture("docker-cgroup-v2-stats-2023.json")).unwrap();
    let api = parse_stats(&doc, State::Running).unwrap().unwrap();
    // The recorded host: 4 CPUs, 4124508160 bytes of memory.
    let host = Host { online_cpus: Some(4), machine_memory: Some(4_124_508_160) };
    let files = v2::read(&dir, host).unwrap();
    let net_path = dir.join("net_dev");
    let networks = net_dev::totals(&net_path, &text(&net_path)).unwrap();
    let local = assemble(files, networks, api.time, State::Running);
    for field in Field::ALL {
        assert_eq!(local.sample.get(field), api.get(field), "{}", field.name());
    }
    assert_eq!(local.sample, api);
    assert_eq!(local.memory_stats.get("anon"), Some(&507_904));
    assert_eq!(local.memory_stats.get("slab"), Some(&258_712));
}

#[test]
fn v2_folder_is_named_by_the_unified_line() {
    let proc_cgroup = text(&fixture("cgroup-v2-2023/proc_cgroup"));
    let dir = v2::dir(Path::new("/sys/fs/cgroup"), &proc_cgroup).unwrap();
    assert_eq!(
        dir,
        Path::new(
            "/sys/fs/cgroup/system.slice/docker-20a80e41e8c2ef2063f1f9e91667b6261650e79cf86e0159b078c994e7fc26a5.scope"
        )
    );
    assert_eq!(v2::dir(Path::new("/sys/fs/cgroup"), "4:memory:/docker/x\n"), None);
}

#[test]
fn v1_files_read_as_dockerd_reads_them() {
    let root = fixture("cgroup-v1-docker-20.10");
    let dirs = v1::Dirs::of(&root, &text(&root.join("proc_cgroup"))).unwrap();
    let host = Host { online_cpus: Some(2), machine_memory: Some(25_275_990_016) };
    let files = v1::read(&dirs, host).unwrap();
    let net_path = root.join("net_dev");
    let networks = net_dev::totals(&net_path, &text(&net_path)).unwrap();
    let sample = assemble(files, networks, 1_000, State::Running).sample;
    let get = |field| sample.get(field);
    assert_eq!(get(Field::CpuTotalNs), Some(111_281_997));
    assert_eq!(sample.percpu_ns, vec![63_846_549, 47_435_448]);
    assert_eq!(get(Field::OnlineCpus), Some(2));
    // `cpuacct.stat` counts ticks of 10 ms.
    assert_eq!(get(Field::CpuUserNs), Some(40_000_000));
    assert_eq!(get(Field::CpuSystemNs), Some(60_000_000));
    assert_eq!(get(Field::CfsPeriods), Some(0));
    assert_eq!(get(Field::MemUsage), Some(1_118_208));
    // Unlimited (9223372036854771712): the host's memory, as dockerd reports it.
    assert_eq!(get(Field::MemLimit), Some(25_275_990_016));
    assert_eq!(get(Field::MemInactiveFile), Some(12_288), "total_inactive_file");
    assert_eq!(get(Field::MemRss), Some(114_688), "total_rss");
    assert_eq!(get(Field::MemCache), Some(385_024), "total_cache");
    assert_eq!(get(Field::MemFailcnt), Some(0));
    // `Total 0` in every blkio file: no device, as dockerd's empty list.
    assert_eq!(get(Field::BlkReadBytes), Some(0));
    assert_eq!(get(Field::Pids), Some(2));
    // eth0 only: lo's 19488 bytes are not the container's traffic.
    assert_eq!(get(Field::NetRxBytes), Some(1_016));
    assert_eq!(get(Field::NetRxPackets), Some(12));
    assert_eq!(get(Field::NetTxBytes), Some(0));
}

#[test]
fn v1_folders_follow_each_controller_line() {
    let proc_cgroup =
        "12:pids:/docker/a\n4:cpu,cpuacct:/docker/a\n3:memory:/docker/a\n2:blkio:/docker/a\n0::/docker/a\n";
    let dirs = v1::Dirs::of(Path::new("/r"), proc_cgroup).unwrap();
    let expected = v1::Dirs::of(Path::new("/r"), "1:cpuacct,cpu,memory,blkio,pids:/docker/a\n").unwrap();
    assert_eq!(dirs, expected);
    assert_eq!(v1::Dirs::of(Path::new("/r"), "0::/docker/a\n"), None, "a v2 line names no v1 controller");
}

#[test]
fn a_folder_that_is_gone_is_a_gone_container_and_a_missing_optional_file_is_none() {
    let host = Host::default();
    assert!(matches!(v2::read(Path::new("/nonexistent/kura/cgroup"), host), Err(CgroupError::Gone)));
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in [
        ("cpu.stat", "usage_usec 5\n"),
        ("memory.current", "10\n"),
        ("memory.max", "100\n"),
        ("memory.stat", "anon 1\n"),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let files = v2::read(dir.path(), host).unwrap();
    let sample = assemble(files, None, 1, State::Running).sample;
    assert_eq!(sample.get(Field::CpuTotalNs), Some(5_000));
    assert_eq!(sample.get(Field::MemLimit), Some(100));
    assert_eq!(sample.get(Field::Pids), None, "no pids controller");
    assert_eq!(sample.get(Field::BlkReadBytes), None, "no io controller");
    assert_eq!(sample.get(Field::NetRxBytes), None);
    std::fs::write(dir.path().join("memory.current"), "ten\n").unwrap();
    assert!(matches!(v2::read(dir.path(), host), Err(CgroupError::Garbage { .. })));
}

#[test]
fn a_namespace_with_only_the_loopback_has_no_network() {
    let path = Path::new("net/dev");
    let heading = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes packets\n";
    let lo = "    lo:     168       2    0    0    0     0          0         0      168       2    0    0    0     0       0          0\n";
    assert_eq!(net_dev::totals(path, &format!("{heading}{lo}")).unwrap(), None);
    assert!(net_dev::totals(path, &format!("{heading}  eth0: 1 2 3\n")).is_err());
}

#[test]
fn cpu_lists_count_their_cpus() {
    assert_eq!(cpu_count("0-1\n"), Some(2));
    assert_eq!(cpu_count("0-3,6,8-9"), Some(7));
    assert_eq!(cpu_count(""), None);
    assert_eq!(cpu_count("3-1"), None);
}
