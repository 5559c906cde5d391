//! Writers of derived figures; each writes to any [`std::io::Write`] and
//! returns its warnings to the caller instead of printing them.
//!
//! - [`hinemos`]: Hinemos custom monitor `key,value` lines.

pub mod hinemos;
