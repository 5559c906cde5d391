//! `kura` run as root on the store of a collector that runs as another
//! user and is stopped.
//!
//! sled writes as it opens a store (a new snapshot, recovery files), so
//! root reading it directly would leave files of root's in the folder of
//! the collector's user, which may then fail to replace or open them. So
//! `kura`, as root, reads such a store as its owner: it replaces itself
//! with the same `kura` command run as the user and group that own
//! `DATA/store`. Through the running collector's socket nothing is
//! written, and nothing changes.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use kura_store::socket::SOCKET_FILE;
use kura_store::{users, STORE_DIR};

/// Why `kura` could not run itself as the store's owner.
#[derive(Debug, thiserror::Error)]
#[error("the store at {store} belongs to {owner}, whom kura (run as root) reads it as so that it leaves no file of root's there, but running {exe} as {owner} failed: {source} (run kura as {owner}, or start the collector: through its socket nothing is written)")]
pub struct OwnerError {
    /// The sled folder.
    pub store: PathBuf,
    /// Its owner, described.
    pub owner: String,
    /// This program.
    pub exe: PathBuf,
    /// Why the exec failed.
    pub source: io::Error,
}

/// Returns when this process may read the store in `dir` itself; replaces
/// it with the same command run as the store's owner when it is root, the
/// collector's socket does not answer and `DATA/store` belongs to another
/// user. Returns an error only when that replacement fails.
pub fn read_as_owner(dir: &Path) -> Result<(), OwnerError> {
    if !users::is_root() || UnixStream::connect(dir.join(SOCKET_FILE)).is_ok() {
        return Ok(());
    }
    let store = dir.join(STORE_DIR);
    let Some(meta) = std::fs::metadata(&store).ok().filter(|meta| meta.uid() != 0) else {
        return Ok(());
    };
    let owner = users::describe_user(meta.uid());
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("kura"));
    // The same data folder, whichever way it was chosen.
    let source = Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .env("KURA_DATA", dir)
        .uid(meta.uid())
        .gid(meta.gid())
        .exec();
    Err(OwnerError { store, owner, exe, source })
}
