//! `kura_collector::snmp::read_host` against a private net-snmp agent.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use kura_collector::snmp::{read_host, HostReading, SnmpConfig, SnmpError, SnmpVersion};
use testkit::snmpd::{Snmpd, SnmpdBuilder};

const TIMEOUT: Duration = Duration::from_secs(2);

/// Starts the agent, or reports it unavailable (a failure under CI).
fn agent(builder: SnmpdBuilder) -> Option<Snmpd> {
    match builder.start() {
        Ok(snmpd) => Some(snmpd),
        Err(reason) => {
            testkit::peer_unavailable("snmpd", &reason);
            None
        }
    }
}

fn config(addr: SocketAddr, version: SnmpVersion, community: &str, timeout: Duration) -> SnmpConfig {
    SnmpConfig { address: addr, version, community: community.to_owned(), timeout }
}

fn config_for(snmpd: &Snmpd, version: SnmpVersion) -> SnmpConfig {
    config(snmpd.addr(), version, snmpd.community(), TIMEOUT)
}

/// `MemTotal` of /proc/meminfo, in KiB: what net-snmp reports as memTotalReal.
fn proc_mem_total_kib() -> u64 {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn unsupported_names(reading: &HostReading) -> Vec<&str> {
    reading.unsupported.iter().map(|u| u.object.as_str()).collect()
}

fn assert_timeout(result: Result<HostReading, SnmpError>, addr: SocketAddr) {
    match result {
        Err(error @ SnmpError::Timeout { .. }) => {
            assert_eq!(error.to_string(), format!("SNMP timeout from {addr} (check community and ACL)"))
        }
        other => panic!("expected a timeout from {addr}, got {other:?}"),
    }
}

#[tokio::test]
async fn mem_total_real_equals_proc_meminfo_over_v2c_and_v1() {
    let Some(snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    for version in [SnmpVersion::V2c, SnmpVersion::V1] {
        let reading = read_host(&config_for(&snmpd, version)).await.unwrap();
        assert_eq!(reading.memory.total_real, Some(proc_mem_total_kib()), "{version:?}");
        assert!(reading.sys_uptime.is_some(), "{version:?}");
        assert!(reading.memory.avail_real.is_some(), "{version:?}");
        assert!(reading.memory.buffer.is_some(), "{version:?}");
        assert!(reading.memory.cached.is_some(), "{version:?}");
        assert!(reading.mem_available_kib().is_some(), "{version:?}");
    }
}

/// net-snmp answers a v1 GET that includes a Counter64 (memSysAvail) with
/// noSuchName for the whole request: the reading drops that object, asks
/// again and reports it unsupported, while v2c gets it.
#[tokio::test]
async fn counter64_is_unsupported_over_v1_only() {
    let Some(snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    let v2c = read_host(&config_for(&snmpd, SnmpVersion::V2c)).await.unwrap();
    assert!(v2c.memory.sys_avail.is_some());
    assert!(v2c.unsupported.is_empty(), "{:?}", v2c.unsupported);

    let v1 = read_host(&config_for(&snmpd, SnmpVersion::V1)).await.unwrap();
    assert_eq!(v1.memory.sys_avail, None);
    assert_eq!(unsupported_names(&v1), ["memSysAvail"]);
    assert_eq!(v1.unsupported[0].reason, "noSuchName");
    assert_eq!(v1.unsupported[0].oid, "1.3.6.1.4.1.2021.4.27.0");
    // Without memSysAvail the fallback formula still gives a figure.
    let m = &v1.memory;
    assert_eq!(v1.mem_available_kib(), Some(m.avail_real.unwrap() + m.buffer.unwrap() + m.cached.unwrap()));
}

/// The agent hides sysUpTime, the first object asked. A client that drops the
/// missing varbind and reads the rest by position would put memTotalReal into
/// sysUpTime and memAvailReal into memTotalReal.
#[tokio::test]
async fn a_missing_object_is_none_and_the_others_keep_their_values() {
    let Some(snmpd) = agent(Snmpd::builder().exclude(".1.3.6.1.2.1.1.3")) else {
        return;
    };
    for (version, reason) in [(SnmpVersion::V2c, "noSuchObject"), (SnmpVersion::V1, "noSuchName")] {
        let reading = read_host(&config_for(&snmpd, version)).await.unwrap();
        assert_eq!(reading.sys_uptime, None, "{version:?}");
        assert_eq!(reading.memory.total_real, Some(proc_mem_total_kib()), "{version:?}");
        let note = reading.unsupported.iter().find(|u| u.object == "sysUpTime");
        assert_eq!(note.map(|u| u.reason.as_str()), Some(reason), "{version:?}");
        assert!(reading.cpu.idle.is_some(), "{version:?}");
    }
}

#[tokio::test]
async fn wrong_community_times_out_within_the_timeout() {
    let Some(snmpd) = agent(Snmpd::builder().community("kura-right")) else {
        return;
    };
    for version in [SnmpVersion::V2c, SnmpVersion::V1] {
        let timeout = Duration::from_millis(500);
        let started = Instant::now();
        let result = read_host(&config(snmpd.addr(), version, "kura-wrong", timeout)).await;
        let elapsed = started.elapsed();
        assert_timeout(result, snmpd.addr());
        assert!(elapsed >= timeout, "{version:?}: gave up after {elapsed:?}");
        // Ended by its own timeout, not hung: the bound is loose on purpose,
        // so that a loaded machine cannot fail it.
        assert!(elapsed < timeout * 6, "{version:?}: took {elapsed:?}");
    }
}

/// After a wrong-community reading timed out, a right one gets values the
/// agent produced for it: sysUpTime moved on by the time that passed.
#[tokio::test]
async fn a_reading_after_a_timeout_gets_its_own_fresh_values() {
    let Some(snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    let right = config_for(&snmpd, SnmpVersion::V2c);
    let before = read_host(&right).await.unwrap().sys_uptime.unwrap();
    let wrong = config(snmpd.addr(), SnmpVersion::V2c, "kura-wrong", Duration::from_millis(700));
    assert_timeout(read_host(&wrong).await, snmpd.addr());
    let after = read_host(&right).await.unwrap().sys_uptime.unwrap();
    assert!(after >= before + 60, "sysUpTime {before} then {after}: not a fresh answer");
}

#[tokio::test]
async fn stopped_agent_times_out_and_its_restart_shows_in_sys_uptime() {
    let Some(mut snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    let addr = snmpd.addr();
    let v2c = config_for(&snmpd, SnmpVersion::V2c);
    let first = read_host(&v2c).await.unwrap().sys_uptime.unwrap();
    let first_at = Instant::now();

    snmpd.stop();
    for version in [SnmpVersion::V2c, SnmpVersion::V1] {
        let stopped = config(addr, version, "public", Duration::from_millis(500));
        let started = Instant::now();
        assert_timeout(read_host(&stopped).await, addr);
        assert!(started.elapsed() < Duration::from_secs(3), "{version:?}: hung on a stopped agent");
    }

    snmpd.start_again().unwrap();
    assert_eq!(snmpd.addr(), addr);
    let second = read_host(&v2c).await.unwrap();
    assert_eq!(second.memory.total_real, Some(proc_mem_total_kib()));
    // Had the agent kept running, sysUpTime would have grown by the elapsed time.
    let elapsed_ticks = u64::try_from(first_at.elapsed().as_millis() / 10).unwrap();
    let uptime = second.sys_uptime.unwrap();
    assert!(
        uptime < first + elapsed_ticks,
        "sysUpTime {uptime} after {elapsed_ticks} ticks since {first}: the agent did not restart"
    );
}

#[tokio::test]
async fn cpu_counters_are_present_and_never_decrease() {
    let Some(snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    let v2c = config_for(&snmpd, SnmpVersion::V2c);
    let first = read_host(&v2c).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = read_host(&v2c).await.unwrap();
    let counters = |r: &HostReading| {
        let c = &r.cpu;
        [
            ("user", c.user),
            ("nice", c.nice),
            ("system", c.system),
            ("idle", c.idle),
            ("wait", c.wait),
            ("kernel", c.kernel),
            ("interrupt", c.interrupt),
            ("softirq", c.soft_irq),
        ]
    };
    for ((name, a), (_, b)) in counters(&first).into_iter().zip(counters(&second)) {
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(b >= a, "{name}: {a} then {b}");
    }
    let uptime = |r: &HostReading| r.sys_uptime.unwrap();
    assert!(uptime(&second) >= uptime(&first) + 90);
}

/// The first line of /proc/stat: user, nice, system, idle, iowait, irq,
/// softirq, ... in ticks summed over all CPUs.
fn proc_stat_cpu() -> Vec<u64> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let line = stat.lines().next().unwrap();
    assert!(line.starts_with("cpu "), "{line}");
    line.split_whitespace().skip(1).map(|n| n.parse().unwrap()).collect()
}

/// Each counter is the /proc/stat column it claims to be: never above the
/// kernel's value read just after, and behind the value read just before by
/// no more than the agent's cache age (it refreshes every few seconds).
/// A wrong OID (.11.57, ssIORawSent, was once taken for ssCpuRawSoftIRQ)
/// or two swapped columns fail here.
#[tokio::test]
async fn cpu_counters_are_the_kernels_proc_stat_columns() {
    let Some(snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    let v2c = config_for(&snmpd, SnmpVersion::V2c);
    // The agent reports zeros until its first refresh.
    let started = Instant::now();
    let (before, reading, after) = loop {
        let before = proc_stat_cpu();
        let reading = read_host(&v2c).await.unwrap();
        let after = proc_stat_cpu();
        if reading.cpu.user.unwrap() > 0 {
            break (before, reading, after);
        }
        assert!(started.elapsed() < Duration::from_secs(15), "ssCpuRawUser still 0 after 15 s");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let cpus = u64::try_from(std::thread::available_parallelism().unwrap().get()).unwrap();
    // 10 s of every CPU at 100 ticks per second.
    let staleness = 10 * 100 * cpus;
    let c = &reading.cpu;
    let columns = [
        ("user", c.user, 0),
        ("nice", c.nice, 1),
        ("system", c.system, 2),
        ("idle", c.idle, 3),
        ("wait", c.wait, 4),
        ("interrupt", c.interrupt, 5),
        ("softirq", c.soft_irq, 6),
    ];
    for (name, value, column) in columns {
        let value = value.unwrap();
        assert!(value <= after[column], "{name}: agent {value} > /proc/stat {}", after[column]);
        assert!(value + staleness >= before[column], "{name}: agent {value} far behind /proc/stat {}", before[column]);
    }
}

/// A UDP relay in front of the agent that keeps the agent's answer to the
/// first request, then hands it to the next client, before that client's
/// own answer: a late reply arriving exactly where a later reading listens.
struct StaleRelay {
    addr: SocketAddr,
    stale_sent: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StaleRelay {
    fn start(agent: SocketAddr) -> StaleRelay {
        let front = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        front.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let upstream = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        upstream.connect(agent).unwrap();
        upstream.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let addr = front.local_addr().unwrap();
        let stale_sent = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent, stopping) = (Arc::clone(&stale_sent), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            let mut held: Option<Vec<u8>> = None;
            let mut first = true;
            let mut buf = [0u8; 65_536];
            while !stopping.load(Ordering::Relaxed) {
                let Ok((n, client)) = front.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(stale) = held.take() {
                    front.send_to(&stale, client).unwrap();
                    sent.fetch_add(1, Ordering::Relaxed);
                }
                upstream.send(&buf[..n]).unwrap();
                let Ok(m) = upstream.recv(&mut buf) else {
                    continue;
                };
                if first {
                    held = Some(buf[..m].to_vec());
                    first = false;
                } else {
                    front.send_to(&buf[..m], client).unwrap();
                }
            }
        });
        StaleRelay { addr, stale_sent, stop, thread: Some(thread) }
    }
}

impl Drop for StaleRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The regression the `snmp` crate had: after a timeout it returned the
/// previous request's answer. Here the stale answer is delivered to the next
/// reading's own socket first; the reading must refuse it and return values
/// the agent produced 1.5 s later.
#[tokio::test]
async fn a_late_reply_is_never_taken_for_a_later_answer() {
    let Some(snmpd) = agent(Snmpd::builder()) else {
        return;
    };
    let direct = config_for(&snmpd, SnmpVersion::V2c);
    let baseline = read_host(&direct).await.unwrap().sys_uptime.unwrap();

    let relay = StaleRelay::start(snmpd.addr());
    let held = config(relay.addr, SnmpVersion::V2c, "public", Duration::from_millis(500));
    assert_timeout(read_host(&held).await, relay.addr);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let later = config(relay.addr, SnmpVersion::V2c, "public", TIMEOUT);
    let reading = read_host(&later).await.unwrap();
    assert_eq!(relay.stale_sent.load(Ordering::Relaxed), 1, "the relay never delivered the stale answer");
    let uptime = reading.sys_uptime.unwrap();
    assert!(uptime >= baseline + 150, "sysUpTime {uptime}, {baseline} 1.5 s earlier: the stale answer was taken");
    assert_eq!(reading.memory.total_real, Some(proc_mem_total_kib()));
}
