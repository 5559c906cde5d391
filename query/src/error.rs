//! Why a query printed nothing (or not everything). `main` turns each into
//! one line on stderr and exit status 1: Hinemos shows an empty output as
//! "unknown", which is the truth in every one of these cases.

use kura_store::StoreError;

/// A query that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The store could not be opened or read (missing, locked with a silent
    /// socket, another format, corrupt).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The store holds no host yet.
    #[error("the store at {0} holds no host yet (has kura-collector swept once?)")]
    NoHost(String),
    /// `--host` names no stored host.
    #[error("unknown host {host:?}; the store holds: {known}")]
    UnknownHost {
        /// The name asked.
        host: String,
        /// The names stored.
        known: String,
    },
    /// Several hosts and no `--host`.
    #[error("the store holds several hosts ({0}): choose one with --host")]
    WhichHost(String),
    /// The host has no sweep.
    #[error("host {0} has no sweep yet (or none before --at)")]
    NoSweep(String),
    /// The newest sweep is too old: the collector is not running.
    #[error("the newest sweep of host {host} is from {since}, {freshness}: is kura-collector running?")]
    Stale {
        /// The host.
        host: String,
        /// When the newest sweep was, RFC 3339.
        since: String,
        /// Its age and the limit.
        freshness: kura_store::freshness::Freshness,
    },
    /// The newest sweep did not reach the daemon, and the command needs it.
    #[error("the newest sweep of host {host} did not reach Docker ({reason})")]
    HostDown {
        /// The host.
        host: String,
        /// Why.
        reason: String,
    },
    /// `-n`/`-c` matched nothing.
    #[error("no container of host {host} matches {selector}")]
    NoMatch {
        /// The host.
        host: String,
        /// What was asked.
        selector: String,
    },
    /// A stored record does not have the shape this build reads.
    #[error("the stored {what} does not decode: {reason}")]
    BadRecord {
        /// Which record.
        what: String,
        /// serde's reason.
        reason: String,
    },
    /// A flag's value is unusable.
    #[error("{0}")]
    Usage(String),
    /// The command needs SNMP readings and there are none.
    #[error("host {0} has no SNMP readings in the window (is [host.snmp] configured for the collector?)")]
    NoSnmp(String),
    /// Some selected items printed nothing (each was explained on stderr).
    #[error("{missing} of {selected} selected item(s) had no value")]
    Incomplete {
        /// Items with no value.
        missing: usize,
        /// Items selected.
        selected: usize,
    },
    /// Writing stdout failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    /// Root could not read a store of another user as its owner.
    #[error(transparent)]
    Owner(#[from] crate::owner::OwnerError),
    /// Rendering refused the items (duplicate keys).
    #[error(transparent)]
    Render(#[from] crate::export::hinemos::RenderError),
    /// A feed's cursor could not be used (in use by another run: exit status 3).
    #[error(transparent)]
    Cursor(#[from] crate::cursor::CursorError),
    /// A feed could not be delivered (the cursor stays where the last
    /// confirmed chunk left it).
    #[error(transparent)]
    Delivery(#[from] crate::feed::DeliverError<crate::cursor::CursorError>),
}
