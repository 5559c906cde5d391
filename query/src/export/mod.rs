//! Writers of derived figures; each writes to any [`std::io::Write`] and
//! returns its warnings to the caller instead of printing them.
//!
//! - [`hinemos`]: Hinemos custom monitor `key,value` lines.
//! - [`report`]: the sizing report (HTML with SVG charts).
//! - [`rows`]: the history export's rows, CSV or JSON Lines.
//! - [`syslog`]: syslog messages for Hinemos' syslog monitor, and the
//!   targets they are sent to (UDP, TCP, a file).
//! - [`zone`]: the time zone rows are written in.

pub mod hinemos;
pub mod report;
pub mod rows;
pub mod syslog;
pub mod zone;
