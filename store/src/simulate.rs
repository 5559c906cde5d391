//! A simulator of container history, written through the real
//! [`Store::write_sweep`]: what the store benchmark and `scripts/bench`
//! (35 days x 100 containers) fill a store with.
//!
//! One host, `containers` containers, one sweep every `interval_ms` for
//! `sweeps` sweeps, deterministic for a seed. The containers are a mix:
//!
//! | share | kind | CPU | memory | network | disk |
//! |---|---|---|---|---|---|
//! | 5 % | stopped | - (state `exited`, no counters) | - | - | - |
//! | 55 % | idle | 0.05-1 % of a core | 20-200 MiB, moves a few pages half the time | a few hundred bytes now and then | - |
//! | 30 % | web | 1-10 % | 50-500 MiB, moves every sweep | 2-50 KB/s each way | - |
//! | 10 % | busy | 30-90 %, throttled by a limit | 0.2-2 GiB, moves every sweep | 10-100 KB/s | writes |
//!
//! Counters grow at the container's rate times a noise factor of 50-150 %
//! per interval; CPU time is split between the CPUs unevenly, and 70-95 %
//! of it is user time (user and kernel time in ticks of 10 ms, as cgroup v1
//! reports them); busy containers run under a CFS quota (periods and
//! throttled periods count up) and now and then hit their memory limit
//! (`failcnt`); web and busy containers drop a packet now and then; memory is a
//! random walk in 4 KiB pages; sample times jitter by 0-300 ms after the
//! sweep as the daemon's `read` times do. About once in three days a
//! running container restarts: one to three sweeps in state `restarting`
//! without counters, then every counter starts again from zero (and its
//! details change). Each sweep also carries its record, an SNMP reading,
//! the processes and raw memory statistics of the running containers
//! whose `top` is due (each once per [`Simulation::top_sweeps`], spread
//! over the sweeps as the collector does; see `Container::latest`), and
//! hourly sizes.
//! Integer arithmetic only; the random numbers are SplitMix64.
//!
//! With [`Simulation::lifetime_sweeps`] the containers churn, as `docker
//! run --rm` jobs do: each container slot is taken by a new container (a
//! new id and name, counters from zero) every that many sweeps, the slots
//! staggered so that replacements spread over the lifetime.

use std::collections::BTreeMap;

use crate::payload::{
    Actor, ContainerDetails, CpuTicks, Event, HostReading, Info, Latest, MemoryKib, MemoryStats, Sizes, Top,
};
use crate::sample::{Field, Sample, State, UnixMillis};
use crate::{ContainerInfo, ContainerSweep, EventRecord, Store, StoreError, SweepBatch, SweepOutcome, SweepRecord};

/// What to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Simulation {
    /// The host's name.
    pub host: String,
    /// How many containers.
    pub containers: usize,
    /// CPUs of the host (per-CPU counters per container).
    pub cpus: usize,
    /// The first sweep's time.
    pub start: UnixMillis,
    /// Time between sweeps, ms (at least 1).
    pub interval_ms: i64,
    /// How many sweeps.
    pub sweeps: usize,
    /// The random seed.
    pub seed: u64,
    /// How many sweeps a container lives before a new one takes its slot;
    /// `None`: the same containers throughout.
    pub lifetime_sweeps: Option<usize>,
    /// Sweeps per `top` of a container (the collector's `top_interval`
    /// over its interval): as the collector spreads them, container `i`
    /// gets its processes and raw memory statistics in the sweeps `n` with
    /// `n % top_sweeps == i % top_sweeps`, and every container in the
    /// first.
    pub top_sweeps: usize,
}

impl Simulation {
    /// `containers` containers on a 2-CPU host, sampled every `interval_ms`
    /// for `days` days from 2026-01-01.
    pub fn days(containers: usize, days: u32, interval_ms: i64) -> Simulation {
        let interval = interval_ms.max(1);
        let sweeps = i64::from(days) * 86_400_000 / interval;
        Simulation {
            host: "sim-host".to_owned(),
            containers,
            cpus: 2,
            start: 1_767_225_600_000,
            interval_ms: interval,
            sweeps: usize::try_from(sweeps).unwrap_or(0),
            seed: 0x6b75_7261,
            lifetime_sweeps: None,
            // The collector's default top_interval, 60 s.
            top_sweeps: usize::try_from(60_000 / interval).unwrap_or(1).max(1),
        }
    }

    /// How many container-samples the simulation writes.
    pub fn samples(&self) -> usize {
        self.containers * self.sweeps
    }
}

/// What [`Simulator::run`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimulationReport {
    /// Sweeps written.
    pub sweeps: usize,
    /// Container-samples stored.
    pub samples: usize,
    /// Restarts simulated.
    pub restarts: usize,
    /// Containers that took a slot after the first ones (with churn).
    pub replaced: usize,
}

/// SplitMix64 (Steele, Lea, Flood 2014; constants from Vigna's
/// `splitmix64.c`): small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..high` (`low` if the range is empty).
    fn range(&mut self, low: u64, high: u64) -> u64 {
        match high.checked_sub(low) {
            Some(span) if span > 0 => low + self.next() % span,
            _ => low,
        }
    }

    /// True with probability `1 / n`.
    fn one_in(&mut self, n: u64) -> bool {
        n == 0 || self.next().is_multiple_of(n)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stopped,
    Idle,
    Web,
    Busy,
}

/// The counters of a running container since its start.
#[derive(Clone, Default)]
struct Counters {
    cpu_ns: Vec<u64>,
    /// CPU time in user and kernel mode, ns, exact; reported in ticks of
    /// 10 ms as cgroup v1 does.
    user_ns: u64,
    system_ns: u64,
    /// CFS periods (busy containers run under a CPU limit).
    periods: u64,
    throttled_periods: u64,
    failcnt: u64,
    rx_dropped: u64,
    tx_dropped: u64,
    throttled_ns: u64,
    blk_write: u64,
    rx_bytes: u64,
    rx_packets: u64,
    tx_bytes: u64,
    tx_packets: u64,
}

struct Container {
    kind: Kind,
    /// CPU use, ppm of one core (1 000 000 = a full core).
    cpu_ppm: u64,
    /// Network bytes per second, each way.
    net_bps: u64,
    mem_pages: u64,
    mem_min: u64,
    mem_max: u64,
    cache_pages: u64,
    pids: u64,
    counters: Counters,
    /// Sweeps left in `restarting`.
    down: u32,
    restarts: u32,
}

/// Generates the sweeps of a [`Simulation`], one [`SweepBatch`] at a time.
pub struct Simulator {
    spec: Simulation,
    rng: Rng,
    /// The random numbers of the counters added after the first format
    /// (CPU modes, CFS periods, failcnt, drops): a stream of their own, so
    /// that the others stay what they were.
    extra: Rng,
    containers: Vec<Container>,
    batch: SweepBatch,
    sweep: usize,
    restarts: usize,
    replaced: usize,
}

const PAGE: u64 = 4096;
/// cgroup v1 reports user and kernel time in ticks of 10 ms.
const TICK_NS: u64 = 10_000_000;
const MIB_PAGES: u64 = (1 << 20) / PAGE;

impl Simulator {
    /// A simulator at the first sweep.
    pub fn new(spec: Simulation) -> Simulator {
        let mut rng = Rng(spec.seed);
        let mut containers = Vec::with_capacity(spec.containers);
        let mut sweeps = Vec::with_capacity(spec.containers);
        for i in 0..spec.containers {
            let kind = match rng.range(0, 100) {
                0..5 => Kind::Stopped,
                5..60 => Kind::Idle,
                60..90 => Kind::Web,
                _ => Kind::Busy,
            };
            let (cpu_ppm, net_bps, mem_mib) = match kind {
                Kind::Stopped => (0, 0, (0, 1)),
                Kind::Idle => (rng.range(500, 10_000), 0, (20, 200)),
                Kind::Web => (rng.range(10_000, 100_000), rng.range(2_000, 50_000), (50, 500)),
                Kind::Busy => (rng.range(300_000, 900_000), rng.range(10_000, 100_000), (200, 2048)),
            };
            let mem_pages = rng.range(mem_mib.0, mem_mib.1) * MIB_PAGES;
            containers.push(Container {
                kind,
                cpu_ppm,
                net_bps,
                mem_pages,
                mem_min: mem_pages / 2,
                mem_max: mem_pages * 2,
                cache_pages: mem_pages / 4,
                pids: rng.range(1, 40),
                counters: Counters { cpu_ns: vec![0; spec.cpus], ..Counters::default() },
                down: 0,
                restarts: 0,
            });
            let id = format!("{:016x}{:016x}{:016x}{:016x}", rng.next(), rng.next(), rng.next(), i);
            let name = format!("sim-{i:03}");
            let mut labels = BTreeMap::new();
            labels.insert("com.example.service".to_owned(), format!("svc-{}", i % 7));
            sweeps.push(ContainerSweep {
                info: ContainerInfo {
                    id,
                    name,
                    image: "kura-test/busybox:latest".to_owned(),
                    command: "httpd -f -p 80".to_owned(),
                    created: Some(spec.start - 86_400_000),
                    labels,
                },
                sample: None,
                details: None,
                latest: None,
            });
        }
        let batch = SweepBatch {
            host: spec.host.clone(),
            sweep: SweepRecord {
                time: spec.start,
                outcome: SweepOutcome::Reached,
                latency_us: 0,
                containers: u32::try_from(spec.containers).unwrap_or(u32::MAX),
            },
            containers: sweeps,
            events: Vec::new(),
            snmp: None,
            sizes: None,
            host_info: None,
        };
        let extra = Rng(spec.seed ^ 0x0065_7874_7261);
        Simulator { spec, rng, extra, containers, batch, sweep: 0, restarts: 0, replaced: 0 }
    }

    /// Replaces the containers whose lifetime ends at this sweep by new
    /// ones; says which slots got a new container.
    fn churn(&mut self, time: UnixMillis) -> Vec<bool> {
        let mut fresh = vec![false; self.containers.len()];
        let Some(lifetime) = self.spec.lifetime_sweeps.filter(|l| *l > 0) else { return fresh };
        let slots = self.containers.len().max(1);
        for (slot, sweep) in self.batch.containers.iter_mut().enumerate() {
            // Slot i's first container ends after (i + 1) / slots of a lifetime.
            let offset = lifetime * (slot + 1) / slots;
            if self.sweep < offset || !(self.sweep - offset).is_multiple_of(lifetime) {
                continue;
            }
            self.replaced += 1;
            if let Some(flag) = fresh.get_mut(slot) {
                *flag = true;
            }
            let generation = self.replaced;
            let rng = &mut self.rng;
            sweep.info.id = format!("{:016x}{:016x}{:016x}{:016x}", rng.next(), rng.next(), rng.next(), generation);
            sweep.info.name = format!("sim-{slot:03}-{generation}");
            sweep.info.created = Some(time);
            if let Some(container) = self.containers.get_mut(slot) {
                container.counters =
                    Counters { cpu_ns: vec![0; container.counters.cpu_ns.len()], ..Counters::default() };
                container.down = 0;
                container.restarts = 0;
            }
        }
        fresh
    }

    /// The next sweep, or `None` after the last.
    pub fn next_sweep(&mut self) -> Option<&SweepBatch> {
        if self.sweep >= self.spec.sweeps {
            return None;
        }
        let index = i64::try_from(self.sweep).unwrap_or(i64::MAX);
        let time = self.spec.start.saturating_add(index.saturating_mul(self.spec.interval_ms));
        let interval = u64::try_from(self.spec.interval_ms).unwrap_or(1);
        let restart_one_in = 3 * 86_400_000 / interval.max(1);
        let first = self.sweep == 0;
        let fresh = self.churn(time);
        let rng = &mut self.rng;
        let extra = &mut self.extra;
        let batch = &mut self.batch;
        batch.sweep.time = time;
        batch.sweep.latency_us = rng.range(200_000, 1_500_000);
        batch.events.clear();
        let top_sweeps = self.spec.top_sweeps.max(1);
        let hour = self.sweep / usize::try_from(3_600_000 / self.spec.interval_ms.max(1)).unwrap_or(1).max(1);
        for (slot, ((container, sweep), fresh)) in
            self.containers.iter_mut().zip(&mut batch.containers).zip(fresh).enumerate()
        {
            let jitter = i64::try_from(rng.range(0, 300)).unwrap_or(0);
            let restarted = container.step(rng, extra, interval, restart_one_in);
            if restarted {
                self.restarts += 1;
                batch.events.push(EventRecord {
                    time_ns: time.saturating_mul(1_000_000),
                    event: Event {
                        kind: Some("container".to_owned()),
                        action: Some("restart".to_owned()),
                        actor: Some(Actor { id: sweep.info.id.clone(), attributes: BTreeMap::new() }),
                        ..Event::default()
                    },
                });
            }
            sweep.sample = Some(container.sample(time, jitter));
            sweep.details = (first || restarted || fresh).then(|| ContainerDetails {
                state: Some(State::Running),
                restart_count: i64::from(container.restarts),
                started_at: chrono::DateTime::from_timestamp_millis(time).map(|t| t.to_rfc3339()),
                ..ContainerDetails::default()
            });
            let top_due = first || self.sweep % top_sweeps == slot % top_sweeps;
            sweep.latest = (top_due && container.kind != Kind::Stopped).then(|| container.latest(slot, hour));
        }
        // An SNMP reading in KiB, and ticks summed over 2 CPUs at 100 Hz:
        // 2 000 a sweep, a quarter busy.
        let count = u64::try_from(index).unwrap_or(0);
        let ticks = |per_sweep: u64| Some(count.saturating_mul(per_sweep) % (1 << 32));
        batch.snmp = Some(HostReading {
            sys_uptime: Some(count * 1000),
            memory: MemoryKib {
                total_real: Some(24_000_000),
                avail_real: Some(20_000_000 - rng.range(0, 1_000_000)),
                buffer: Some(200_000),
                cached: Some(2_000_000),
                sys_avail: None,
            },
            cpu: CpuTicks {
                user: ticks(400),
                nice: ticks(0),
                system: ticks(100),
                idle: ticks(1500),
                wait: ticks(0),
                kernel: ticks(0),
                interrupt: ticks(0),
                soft_irq: ticks(0),
            },
            unsupported: Vec::new(),
        });
        batch.sizes = self.sweep.is_multiple_of(360).then(|| Sizes {
            images: 474_361_657,
            containers: [
                ("running", 6 * 1024),
                ("restarting", 0),
                ("paused", 0),
                ("exited", 4096),
                ("created", 0),
                ("dead", 0),
            ]
            .into_iter()
            .map(|(state, bytes)| (state.to_owned(), bytes))
            .collect(),
        });
        batch.host_info = first.then(|| Info {
            name: Some("sim-host".to_owned()),
            ncpu: Some(2),
            mem_total: Some(25_769_803_776),
            ..Info::default()
        });
        self.sweep += 1;
        Some(&self.batch)
    }

    /// Writes every remaining sweep into `store`.
    pub fn run(mut self, store: &Store) -> Result<SimulationReport, StoreError> {
        let mut report = SimulationReport::default();
        while let Some(batch) = self.next_sweep() {
            let written = store.write_sweep(batch)?;
            report.sweeps += 1;
            report.samples += written.samples;
        }
        report.restarts = self.restarts;
        report.replaced = self.replaced;
        Ok(report)
    }
}

impl Container {
    /// Advances one interval of `interval` ms; true if it restarted now.
    /// `extra` draws the counters added after the first format.
    fn step(&mut self, rng: &mut Rng, extra: &mut Rng, interval: u64, restart_one_in: u64) -> bool {
        if self.kind == Kind::Stopped {
            return false;
        }
        if self.down > 0 {
            self.down -= 1;
            return false;
        }
        if rng.one_in(restart_one_in) {
            self.down = u32::try_from(rng.range(1, 4)).unwrap_or(1);
            self.restarts += 1;
            self.counters = Counters { cpu_ns: vec![0; self.counters.cpu_ns.len()], ..Counters::default() };
            self.mem_pages = self.mem_min;
            self.cache_pages = self.mem_min / 4;
            return true;
        }
        // CPU time in ns: (ppm / 1e6) of a core x interval ms x 1e6 ns/ms.
        let cpu = self.cpu_ppm * interval * rng.range(50, 150) / 100;
        let cpus = u64::try_from(self.counters.cpu_ns.len()).unwrap_or(1).max(1);
        let mut left = cpu;
        let count = self.counters.cpu_ns.len();
        for (i, per_cpu) in self.counters.cpu_ns.iter_mut().enumerate() {
            let share = if i + 1 == count { left } else { (cpu / cpus * rng.range(40, 160) / 100).min(left) };
            *per_cpu = per_cpu.wrapping_add(share);
            left -= share;
        }
        if self.kind == Kind::Busy {
            self.counters.throttled_ns += cpu / 10 * rng.range(0, 100) / 100;
            self.counters.blk_write += PAGE * rng.range(0, 64);
        }
        self.step_extra(extra, cpu, interval);
        // Memory: a random walk in pages.
        let (moves, step) = match self.kind {
            Kind::Idle => (rng.one_in(2), 8),
            _ => (true, 64),
        };
        if moves {
            self.mem_pages =
                (self.mem_pages + rng.range(0, 2 * step)).saturating_sub(step).clamp(self.mem_min, self.mem_max);
            if rng.one_in(8) {
                self.cache_pages =
                    (self.cache_pages + rng.range(0, 2 * step)).saturating_sub(step).min(self.mem_pages / 2);
            }
        }
        // Network: bytes at the rate with noise; idle containers blip.
        let (rx, tx) = if self.net_bps == 0 {
            if rng.one_in(20) {
                (rng.range(60, 600), rng.range(60, 600))
            } else {
                (0, 0)
            }
        } else {
            let per_interval = self.net_bps * interval / 1000;
            (per_interval * rng.range(50, 150) / 100, per_interval * rng.range(50, 150) / 100)
        };
        let c = &mut self.counters;
        c.rx_bytes += rx;
        c.tx_bytes += tx;
        c.rx_packets += rx.div_ceil(900);
        c.tx_packets += tx.div_ceil(1200);
        false
    }

    /// The counters added after the first format: 70-95 % of the CPU time
    /// in user mode, the rest in the kernel; busy containers run under a
    /// CFS quota (periods of 100 ms, throttled in a quarter to all of them),
    /// now and then hit their memory limit and drop a packet.
    fn step_extra(&mut self, extra: &mut Rng, cpu: u64, interval: u64) {
        let c = &mut self.counters;
        let user = cpu * extra.range(70, 95) / 100;
        c.user_ns += user;
        c.system_ns += cpu - user;
        if self.kind == Kind::Busy {
            let periods = interval / 100;
            c.periods += periods;
            c.throttled_periods += periods * extra.range(25, 100) / 100;
            if extra.one_in(1_000) {
                c.failcnt += extra.range(1, 50);
            }
        }
        if self.net_bps > 0 && extra.one_in(500) {
            c.rx_dropped += 1;
            if extra.one_in(4) {
                c.tx_dropped += 1;
            }
        }
    }

    fn sample(&self, sweep_time: UnixMillis, jitter: i64) -> Sample {
        match self.kind {
            Kind::Stopped => return Sample::state_only(sweep_time, State::Exited),
            _ if self.down > 0 => return Sample::state_only(sweep_time, State::Restarting),
            _ => {}
        }
        let c = &self.counters;
        let usage = self.mem_pages * PAGE;
        let cache = self.cache_pages * PAGE;
        let mut sample = Sample::state_only(sweep_time + jitter, State::Running);
        let values = [
            (Field::CpuTotalNs, c.cpu_ns.iter().sum()),
            (Field::OnlineCpus, u64::try_from(c.cpu_ns.len()).unwrap_or(0)),
            (Field::ThrottledNs, c.throttled_ns),
            (Field::MemUsage, usage),
            (Field::MemLimit, self.mem_max * 4 * PAGE),
            (Field::MemInactiveFile, cache / 2),
            (Field::MemRss, usage.saturating_sub(cache)),
            (Field::MemCache, cache),
            (Field::BlkReadBytes, 0),
            (Field::BlkWriteBytes, c.blk_write),
            (Field::NetRxBytes, c.rx_bytes),
            (Field::NetRxPackets, c.rx_packets),
            (Field::NetTxBytes, c.tx_bytes),
            (Field::NetTxPackets, c.tx_packets),
            (Field::Pids, self.pids),
            (Field::CpuUserNs, c.user_ns / TICK_NS * TICK_NS),
            (Field::CpuSystemNs, c.system_ns / TICK_NS * TICK_NS),
            (Field::CfsPeriods, c.periods),
            (Field::CfsThrottledPeriods, c.throttled_periods),
            (Field::MemFailcnt, c.failcnt),
            (Field::NetRxDropped, c.rx_dropped),
            (Field::NetRxErrors, 0),
            (Field::NetTxDropped, c.tx_dropped),
            (Field::NetTxErrors, 0),
        ];
        for (field, value) in values {
            sample.set(field, Some(value));
        }
        sample.percpu_ns.clone_from(&c.cpu_ns);
        sample
    }

    /// Its processes and raw memory stats, as `top` and a cgroup v1 stats
    /// document give them in container slot `slot` during hour `hour` of the
    /// simulation: `httpd` and a shell, and 0 to 2 more `httpd` workers (how
    /// many changes every hour); `TIME` is the container's CPU time, so a
    /// busy container's list changes at every `top`, an idle one's seldom.
    fn latest(&self, slot: usize, hour: usize) -> Latest {
        let cpu_s = self.counters.cpu_ns.iter().sum::<u64>() / 1_000_000_000;
        let time = format!("{:02}:{:02}:{:02}", cpu_s / 3600, cpu_s / 60 % 60, cpu_s % 60);
        let pid = |n: u64| (10_000 + slot as u64 * 100 + u64::from(self.restarts) * 10 + n).to_string();
        let row = |n: u64, time: &str, cmd: &str| {
            let ppid = if n == 0 { "1".to_owned() } else { pid(0) };
            vec![
                "root".to_owned(),
                pid(n),
                ppid,
                "0".to_owned(),
                "00:00".to_owned(),
                "?".to_owned(),
                time.to_owned(),
                cmd.to_owned(),
            ]
        };
        let mut processes = vec![row(0, &time, "httpd -f -p 80"), row(1, "00:00:00", "sh")];
        for worker in 0..(hour + slot) % 3 {
            processes.push(row(2 + worker as u64, "00:00:00", "httpd -f -p 80"));
        }
        let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
        let (rss, cache) = ((self.mem_pages - self.cache_pages) * PAGE, self.cache_pages * PAGE);
        let pgfault = self.counters.cpu_ns.iter().sum::<u64>() / 1_000_000;
        let pgpgin = pgfault / 2 + self.mem_pages;
        let local = [
            ("cache", cache),
            ("rss", rss),
            ("rss_huge", 0),
            ("shmem", 0),
            ("mapped_file", cache / 8),
            ("dirty", 0),
            ("writeback", 0),
            ("pgpgin", pgpgin),
            ("pgpgout", pgpgin - self.mem_pages),
            ("pgfault", pgfault),
            ("pgmajfault", pgfault / 1000),
            ("inactive_anon", 0),
            ("active_anon", rss),
            ("inactive_file", cache / 2),
            ("active_file", cache / 2),
            ("unevictable", 0),
        ];
        let mut memory: MemoryStats = local.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        memory.extend(local.iter().map(|(k, v)| (format!("total_{k}"), *v)));
        memory.insert("hierarchical_memory_limit".to_owned(), 9_223_372_036_854_771_712);
        memory.insert("hierarchical_memsw_limit".to_owned(), 9_223_372_036_854_771_712);
        Latest {
            top: Some(Top { titles: titles.iter().map(|t| (*t).to_owned()).collect(), processes }),
            memory_stats: Some(memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Reader, StoreOptions};

    #[test]
    fn the_simulation_is_deterministic_and_its_counters_grow_or_reset() {
        let spec = Simulation { sweeps: 500, ..Simulation::days(20, 1, 10_000) };
        let mut a = Simulator::new(spec.clone());
        let mut b = Simulator::new(spec);
        let mut previous: Vec<Option<u64>> = vec![None; 20];
        let (mut grew, mut reset) = (0, 0);
        while let Some(batch) = a.next_sweep() {
            assert_eq!(Some(batch), b.next_sweep());
            for (container, prev) in batch.containers.iter().zip(&mut previous) {
                let sample = container.sample.as_ref().unwrap();
                let cpu = sample.get(Field::CpuTotalNs);
                if let Some(cpu) = cpu {
                    assert_eq!(cpu, sample.percpu_ns.iter().sum::<u64>());
                    match *prev {
                        Some(p) if cpu > p => grew += 1,
                        Some(p) if cpu < p => reset += 1,
                        _ => {}
                    }
                }
                *prev = cpu.or(*prev);
            }
        }
        assert!(grew > 5_000, "{grew}");
        assert!(reset < 20, "{reset}");
    }

    #[test]
    fn simulated_hours_read_back_through_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions { flush_every_sweep: false, ..StoreOptions::default() };
        let store = Store::open(dir.path(), options).unwrap();
        // Four hours: blocks and an open head.
        let spec = Simulation { sweeps: 1_500, ..Simulation::days(10, 1, 10_000) };
        let expected = spec.samples();
        let report = Simulator::new(spec).run(&store).unwrap();
        assert_eq!(report.sweeps, 1_500);
        assert_eq!(report.samples, expected);
        store.flush().unwrap();
        let reader = Reader::Direct(store);
        let series = reader.series("sim-host").unwrap();
        assert_eq!(series.len(), 10);
        let total: usize = series.iter().map(|s| reader.samples(s.series, i64::MIN, i64::MAX).unwrap().len()).sum();
        assert_eq!(total, expected);
    }
}
