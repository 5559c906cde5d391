//! The collector's own figures that are not in the store: how long each
//! host's last sweep took and what failed in its sweeps, counted since the
//! collector started.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::sweep::{HostSweep, Reach};

/// What can fail in a sweep, as `kura_sweep_errors_total` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The daemon did not answer (the sweep is recorded down).
    Unreachable,
    /// A container's inspect, stats or top request failed (the container
    /// has no counters in that sweep).
    Container,
    /// `/info` failed.
    HostInfo,
    /// The image list failed (no sizes in that sweep).
    Images,
    /// The host's SNMP agent did not answer.
    Snmp,
}

impl ErrorKind {
    /// Every kind, in label order.
    pub const ALL: [ErrorKind; 5] =
        [ErrorKind::Unreachable, ErrorKind::Container, ErrorKind::HostInfo, ErrorKind::Images, ErrorKind::Snmp];

    /// The `kind` label.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Container => "container",
            ErrorKind::HostInfo => "host_info",
            ErrorKind::Images => "images",
            ErrorKind::Snmp => "snmp",
        }
    }
}

/// One host's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostTelemetry {
    /// How long the newest sweep took.
    pub last_sweep: Option<Duration>,
    /// Failures since the collector started, by kind.
    pub errors: BTreeMap<ErrorKind, u64>,
}

impl HostTelemetry {
    /// The failures of one kind.
    pub fn errors(&self, kind: ErrorKind) -> u64 {
        self.errors.get(&kind).copied().unwrap_or(0)
    }
}

/// Every host's figures, updated after each sweep.
#[derive(Debug, Default)]
pub struct Telemetry {
    state: Mutex<TelemetryState>,
}

#[derive(Debug, Default)]
struct TelemetryState {
    /// Counts the sweeps recorded: equal generations, equal figures.
    generation: u64,
    hosts: BTreeMap<String, HostTelemetry>,
}

impl Telemetry {
    /// Counts one sweep.
    pub fn record(&self, sweep: &HostSweep) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.generation += 1;
        let host = state.hosts.entry(sweep.host.clone()).or_default();
        host.last_sweep = Some(sweep.elapsed);
        let faults = &sweep.faults;
        let counts = [
            (ErrorKind::Unreachable, u64::from(matches!(sweep.reach, Reach::Down { .. }))),
            (ErrorKind::Container, u64::from(faults.containers)),
            (ErrorKind::HostInfo, u64::from(faults.host_info)),
            (ErrorKind::Images, u64::from(faults.images)),
            (ErrorKind::Snmp, u64::from(faults.snmp)),
        ];
        for (kind, count) in counts {
            *host.errors.entry(kind).or_default() += count;
        }
    }

    /// One host's figures (all zero before its first sweep).
    pub fn host(&self, host: &str) -> HostTelemetry {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).hosts.get(host).cloned().unwrap_or_default()
    }

    /// How many sweeps were recorded.
    pub fn generation(&self) -> u64 {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).generation
    }
}
