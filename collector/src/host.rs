//! What kura keeps of a host besides its containers: its SNMP readings
//! (UCD-SNMP-MIB memory and CPU counters) and its size sweeps. Plain data,
//! shared by the collector that writes them and the `kura` CLI that reads
//! them back from the store.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One reading of a host's agent. Every value is what the agent answered,
/// or `None` when it did not have the object (see [`HostReading::unsupported`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReading {
    /// `sysUpTime.0` (.1.3.6.1.2.1.1.3.0): hundredths of a second since the
    /// agent started. It going backwards means the agent restarted (the CPU
    /// counters restart then too).
    pub sys_uptime: Option<u64>,
    /// Memory figures, in KiB.
    pub memory: MemoryKib,
    /// CPU time counters, in ticks summed over all CPUs.
    pub cpu: CpuTicks,
    /// The objects this agent did not answer, with the reason; the caller
    /// logs them once per host.
    pub unsupported: Vec<Unsupported>,
}

/// UCD-SNMP-MIB `memory` group (.1.3.6.1.4.1.2021.4), in KiB.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryKib {
    /// `memTotalReal` (.4.5.0): physical memory (Linux `MemTotal`).
    pub total_real: Option<u64>,
    /// `memAvailReal` (.4.6.0): unused physical memory (Linux `MemFree`, not `MemAvailable`).
    pub avail_real: Option<u64>,
    /// `memBuffer` (.4.14.0): Linux `Buffers`.
    pub buffer: Option<u64>,
    /// `memCached` (.4.15.0): Linux page cache.
    pub cached: Option<u64>,
    /// `memSysAvail` (.4.27.0, Counter64, net-snmp 5.9.1+): Linux `MemAvailable`.
    pub sys_avail: Option<u64>,
}

/// UCD-SNMP-MIB `systemStats` raw CPU counters (.1.3.6.1.4.1.2021.11.50-56
/// and .61), Counter32 ticks (1/100 s on Linux, as in /proc/stat) summed
/// over all CPUs; they wrap at 2^32.
///
/// The MIB warns that an agent may fold wait and kernel time into `system`;
/// net-snmp 5.9 on Linux does not (`system` follows /proc/stat's system
/// column, `kernel` stays 0), but a sum over all fields must keep it in mind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuTicks {
    /// `ssCpuRawUser` (.11.50.0).
    pub user: Option<u64>,
    /// `ssCpuRawNice` (.11.51.0).
    pub nice: Option<u64>,
    /// `ssCpuRawSystem` (.11.52.0).
    pub system: Option<u64>,
    /// `ssCpuRawIdle` (.11.53.0).
    pub idle: Option<u64>,
    /// `ssCpuRawWait` (.11.54.0): I/O wait.
    pub wait: Option<u64>,
    /// `ssCpuRawKernel` (.11.55.0); may also be counted in `system`.
    pub kernel: Option<u64>,
    /// `ssCpuRawInterrupt` (.11.56.0).
    pub interrupt: Option<u64>,
    /// `ssCpuRawSoftIRQ` (.11.61.0; .11.57 is `ssIORawSent`, a block count).
    pub soft_irq: Option<u64>,
}

/// An object the agent did not answer with a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsupported {
    /// The object's MIB name, e.g. `memSysAvail`.
    pub object: String,
    /// Its numeric OID, e.g. `1.3.6.1.4.1.2021.4.27.0`.
    pub oid: String,
    /// What the agent answered instead, e.g. `noSuchObject`.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.object, self.oid, self.reason)
    }
}

impl HostReading {
    /// Memory available for new work, in KiB: `memSysAvail` (the kernel's
    /// `MemAvailable`) when the agent has it, else `memAvailReal + memBuffer
    /// + memCached`, the 2015 Hinemos scripts' formula (M4c).
    ///
    /// `memAvailReal` alone is not "available": net-snmp fills it from
    /// `MemFree` (agent/mibgroup/hardware/memory/memory_linux.c), which leaves
    /// out the reclaimable buffers and page cache; the fallback adds them back
    /// (and so slightly overstates, as the cache is not all reclaimable).
    /// `None` when a needed object is missing.
    pub fn mem_available_kib(&self) -> Option<u64> {
        let m = &self.memory;
        m.sys_avail.or_else(|| m.avail_real?.checked_add(m.buffer?)?.checked_add(m.cached?))
    }
}

/// The sizes part of a sweep (`size=1` container list and `/images/json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    /// Sum of image sizes, bytes.
    pub images: u64,
    /// Sum of containers' `SizeRw` per state name, bytes.
    pub containers: BTreeMap<String, u64>,
}
