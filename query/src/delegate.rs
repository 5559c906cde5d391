//! Commands that another kura program answers. Container operations and
//! Hinemos' node repository talk to Docker daemons and to the Hinemos
//! manager over HTTP (with TLS), so they live in programs of their own
//! (`kura-ops`, `kura-nodes`) and `kura`, which Hinemos runs every minute
//! for its monitors, links no async runtime or HTTP client: `kura exec ...`
//! replaces this process with `kura-ops exec ...` (same arguments, streams,
//! exit status and signals); see [`crate::cli::Handover`].

use std::ffi::OsString;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// The program `program` beside this executable (how kura is installed:
/// its programs in one folder), else as found on `PATH`.
pub fn sibling(program: &str) -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.join(program)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(program))
}

/// Replaces this process with `program args...`. Returns only when that
/// fails, with the reason (naming the program).
pub fn exec(program: &str, args: &[OsString]) -> io::Error {
    let path = sibling(program);
    let error = Command::new(&path).args(args).exec();
    io::Error::new(error.kind(), format!("cannot run {} (installed beside kura?): {error}", path.display()))
}
