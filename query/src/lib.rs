//! kura's query side: derives figures from the collector's stored samples
//! and prints them for Hinemos.
//!
//! # Layout
//!
//! - [`window`]: which stored rows a figure covers (the newest sample, the one
//!   nearest to `t_new - w`, the container's current run).
//! - [`rate`]: pure arithmetic over counters and gauges: reset-aware
//!   increases, per-second and per-window rates, CPU and memory percentages,
//!   per-interval series, the host's own share from SNMP readings.
//! - [`export`]: writers of figures to any `io::Write`;
//!   [`export::hinemos`] prints custom monitor `key,value` lines.
//!
//! The `kura` binary (`src/main.rs`) is the CLI on top of these.

pub mod export;
pub mod rate;
pub mod window;
