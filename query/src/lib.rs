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
//! - [`history`]: figures per container and time bucket over a period, for
//!   the history export and the sizing report.
//! - [`export`]: writers of figures to any `io::Write`;
//!   [`export::hinemos`] prints custom monitor `key,value` lines.
//!
//! - [`cli`]: the command line (clap).
//! - [`scope`]: the store, the host, its newest sweep (fresh enough), the
//!   containers `-n`/`-c` select and their keys.
//! - [`checks`]: each command's items.
//! - [`ps`]: the human table of `kura ps`.
//! - [`sizing`]: `kura export` and `kura report`: the period, and the drivers.
//! - [`error`]: why a query printed nothing.
//! - [`delegate`]: commands another kura program answers (`kura-ops`, `kura-nodes`).
//!
//! The `kura` binary (`src/main.rs`) parses the command line, runs a check
//! and prints it; it is the only place an error becomes an exit status.

pub mod checks;
pub mod cli;
pub mod delegate;
pub mod error;
pub mod export;
pub mod history;
pub mod ps;
pub mod rate;
pub mod scope;
pub mod sizing;
pub mod window;
