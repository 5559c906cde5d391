//! `/proc/<pid>/net/dev`: the interfaces of a process's network namespace.

use std::path::Path;

use super::{garbage, number, CgroupError};
use crate::stats::document::NetTotals;

/// The counters summed over every interface but `lo` (dockerd reports the
/// container's endpoints, never the loopback); `None` when there is no
/// other, as a stats document of a `--network none` container has no
/// `networks`.
pub(super) fn totals(path: &Path, text: &str) -> Result<Option<NetTotals>, CgroupError> {
    let mut sum: Option<NetTotals> = None;
    // Two heading lines, then `  eth0: rx_bytes rx_packets rx_errs rx_drop
    // fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop ...`.
    for line in text.lines().skip(2) {
        let (name, counters) = line.split_once(':').ok_or_else(|| garbage(path, &format!("line {line:?}")))?;
        if name.trim() == "lo" {
            continue;
        }
        let counters = counters.split_whitespace().map(|n| number(path, n)).collect::<Result<Vec<u64>, _>>()?;
        let [rx_bytes, rx_packets, rx_errors, rx_dropped, _, _, _, _, tx_bytes, tx_packets, tx_errors, tx_dropped, ..] =
            counters[..]
        else {
            return Err(garbage(path, &format!("line {line:?}: fewer than 12 counters")));
        };
        let interface = NetTotals {
            rx_bytes,
            rx_packets,
            tx_bytes,
            tx_packets,
            rx_dropped: Some(rx_dropped),
            rx_errors: Some(rx_errors),
            tx_dropped: Some(tx_dropped),
            tx_errors: Some(tx_errors),
        };
        let before = sum.unwrap_or(NetTotals::ZERO);
        sum = Some(before.checked_add(interface).ok_or_else(|| garbage(path, "sum overflows"))?);
    }
    Ok(sum)
}
