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
//! - [`transition`]: every change of a container's state, from events and
//!   sweeps together, with its cause; restarts and OOM kills counted.
//! - [`history`]: figures per container and time bucket over a period, for
//!   the history export and the sizing report.
//! - [`export`]: writers of figures to any `io::Write`;
//!   [`export::hinemos`] prints custom monitor `key,value` lines.
//!
//! - [`feed`]: the lines of `kura events`, `kura transitions` and `kura
//!   states`, on stdout, in a file or as syslog, delivered in confirmed chunks.
//! - [`cursor`]: where a feed stopped, kept beside the store and locked per run.
//! - [`cli`]: the command line (clap).
//! - [`scope`]: the store, the host, its newest sweep (fresh enough), the
//!   containers `-n`/`-c` select and their keys.
//! - [`checks`]: each command's items.
//! - [`ps`]: the human table of `kura ps`.
//! - [`sizing`]: `kura export` and `kura report`: the period, and the drivers.
//! - [`error`]: why a query printed nothing.
//! - [`delegate`]: commands another kura program answers (`kura-ops`, `kura-nodes`).
//! - [`owner`]: root reads a stopped collector's store as its owner, leaving no file of root's.
//! - [`legacy`]: the 2015 scripts' command lines (`kura legacy`).
//!
//! The `kura` binary (`src/main.rs`) parses the command line, runs a check
//! and prints it; it is the only place an error becomes an exit status.

pub mod checks;
pub mod cli;
pub mod cursor;
pub mod delegate;
pub mod error;
pub mod export;
pub mod feed;
pub mod history;
pub mod legacy;
pub mod owner;
pub mod ps;
pub mod rate;
pub mod scope;
pub mod sizing;
pub mod transition;
pub mod window;
