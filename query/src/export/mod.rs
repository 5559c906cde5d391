//! Writers of derived figures; each writes to any [`std::io::Write`] and
//! returns its warnings to the caller instead of printing them.
//!
//! - [`hinemos`]: Hinemos custom monitor `key,value` lines.
//! - [`syslog`]: syslog messages for Hinemos' syslog monitor, and the
//!   targets they are sent to (UDP, TCP, a file).

pub mod hinemos;
pub mod syslog;
