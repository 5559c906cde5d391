//! What is wrong with a sled directory that does not open, said by file:
//! sled 0.34 reports most damage without naming a file (or panics), so
//! the store checks sled's checksums itself, and remembers outside sled
//! that a store was made here (the [`MARKER`] file), so that a log that
//! cannot be read from its start is refused, never taken for a new store.

use std::cell::{Cell, RefCell};
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use super::db::sled_error;
use super::StoreError;

/// The file in the data directory that says a store was made there; it
/// holds the format version (written once `meta/format` is flushed).
pub const MARKER: &str = "store.format";

/// sled 0.34's files inside the sled directory: its log, its
/// configuration, and the prefix of its snapshots (`snap.` + the log
/// position it records, 16 hex digits).
pub(super) const LOG_FILE: &str = "db";
const CONF_FILE: &str = "conf";
const SNAPSHOT_PREFIX: &str = "snap.";

/// Maps an error of sled's open. Damage sled finds without saying where,
/// and a configuration it refuses (which a damaged `conf` can read as),
/// are put down to the damaged file where one is found
/// ([`damaged_files`]); else to the log, when a snapshot records a point
/// the log no longer reaches (sled 0.34's check in
/// `pagecache/snapshot.rs`, `advance_snapshot`).
pub(super) fn open_error(path: &Path, error: sled::Error) -> StoreError {
    match error {
        sled::Error::Corruption { at: None, .. } => {
            let finding = match newest_snapshot(path) {
                Some(snapshot) => format!(
                    "its log file {LOG_FILE} is cut short or damaged before the point snapshot {} records",
                    snapshot.display()
                ),
                None => "sled found a damaged file".to_owned(),
            };
            damage(path, finding)
        }
        sled::Error::Corruption { .. } | sled::Error::Unsupported(_) if !damaged_files(path).is_empty() => {
            damage(path, String::new())
        }
        other => sled_error(path, other),
    }
}

/// A corrupt store: the damaged files if any is found, else `finding`.
pub(super) fn damage(path: &Path, finding: String) -> StoreError {
    let files = damaged_files(path);
    let detail = if files.is_empty() { finding } else { files.join("; ") };
    StoreError::Corrupt { path: path.to_path_buf(), detail }
}

/// The files of a sled directory that fail their checksums, described
/// for a message: the configuration and the newest snapshot (a missing or
/// empty log is refused before sled opens it). sled 0.34 writes `conf` as
/// text followed by the CRC-32 of the text, and a snapshot as its content,
/// 8 bytes of length and the CRC-32 of the content, both little-endian
/// (`config.rs` `write_config`, `pagecache/snapshot.rs` `write_snapshot`);
/// a `conf` of 8 bytes or less it takes for none and rewrites.
fn damaged_files(path: &Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(conf) = fs::read(path.join(CONF_FILE)) {
        if conf.len() > 8 && !checksum_matches(&conf, 0) {
            found.push(format!("its configuration file {CONF_FILE} fails its checksum"));
        }
    }
    if let Some(snapshot) = newest_snapshot(path) {
        let name = snapshot.display();
        match fs::read(path.join(&snapshot)) {
            Ok(bytes) if bytes.len() <= 12 => {
                found.push(format!("its snapshot file {name} is cut short ({} bytes)", bytes.len()))
            }
            Ok(bytes) if !checksum_matches(&bytes, 8) => {
                found.push(format!("its snapshot file {name} fails its checksum"))
            }
            Ok(_) => {}
            Err(e) => found.push(format!("its snapshot file {name} cannot be read: {e}")),
        }
    }
    found
}

/// Whether a file ends with the little-endian CRC-32 of all but its last
/// `4 + gap` bytes.
fn checksum_matches(file: &[u8], gap: usize) -> bool {
    let Some(body_len) = file.len().checked_sub(4 + gap) else {
        return false;
    };
    let (body, rest) = file.split_at(body_len);
    rest.get(gap..).and_then(|sum| <[u8; 4]>::try_from(sum).ok()).map(u32::from_le_bytes) == Some(crc32fast::hash(body))
}

/// The name of the snapshot sled reads: the greatest `snap.*` name
/// (interrupted ones are moved aside first, [`recover_snapshots`]).
fn newest_snapshot(path: &Path) -> Option<PathBuf> {
    fs::read_dir(path)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(SNAPSHOT_PREFIX) && !name.ends_with(".generating"))
        .max()
        .map(PathBuf::from)
}

/// What the data directory held before sled opened its store (sled makes
/// a missing log, and rewrites a missing configuration).
pub(super) struct Before {
    /// Whether a store was made here ([`MARKER`] exists). A store made by
    /// a build without the marker counts as made once it is open again.
    pub(super) made: bool,
    /// The log's length; `None` when it is missing.
    pub(super) log_len: Option<u64>,
}

impl Before {
    /// Looks at the data directory `dir` and its sled directory `path`.
    pub(super) fn look(dir: &Path, path: &Path) -> Before {
        let log_len = fs::metadata(path.join(LOG_FILE)).ok().map(|meta| meta.len());
        Before { made: dir.join(MARKER).exists(), log_len }
    }

    /// Why nothing of the store can be read, for a store that was made
    /// here: its log as it was.
    pub(super) fn nothing_readable(&self) -> String {
        let log = match self.log_len {
            None => "is missing",
            Some(0) => "is empty",
            Some(_) => "is cut short or damaged at its start",
        };
        format!(
            "no record can be read from it: its log file {LOG_FILE} {log} (move the folder aside to start a new store)"
        )
    }
}

thread_local! {
    /// Whether this thread runs inside [`quietly`].
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// The panic [`quietly`] caught on this thread: message and place.
    static CAUGHT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`, turning its panic into `Err` (the panic's message and place)
/// without the panic message on stderr: a hook installed once keeps the
/// panic of a thread inside `quietly` and hands every other panic to the
/// hook it replaced.
pub(super) fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                return previous(info);
            }
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let place = info.location().map(|l| {
                let file = Path::new(l.file()).file_name().map(|f| f.to_string_lossy().into_owned());
                format!(" at {}:{}", file.unwrap_or_default(), l.line())
            });
            CAUGHT.with(|caught| *caught.borrow_mut() = Some(format!("{message}{}", place.unwrap_or_default())));
        }));
    });
    QUIET.with(|quiet| quiet.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|quiet| quiet.set(false));
    result.map_err(|_| CAUGHT.with(|caught| caught.borrow_mut().take()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::STORE_DIR;
    use crate::{Store, StoreOptions};

    #[test]
    fn a_panic_inside_quietly_is_returned_with_its_message_and_place() {
        let caught = quietly(|| -> u8 { panic!("segment 4 of 2") });
        let message = caught.err().unwrap();
        assert!(message.starts_with("segment 4 of 2 at damage.rs:"), "{message}");
        assert_eq!(quietly(|| 7), Ok(7));
    }

    #[test]
    fn sleds_checksums_are_read_as_sled_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), StoreOptions::default()).unwrap());
        // sled snapshots when it opens a log that has grown.
        drop(Store::open(dir.path(), StoreOptions::default()).unwrap());
        let path = dir.path().join(STORE_DIR);
        assert!(Before::look(dir.path(), &path).made);
        assert!(damaged_files(&path).is_empty());
        let conf = fs::read(path.join(CONF_FILE)).unwrap();
        let snapshot = fs::read(path.join(newest_snapshot(&path).unwrap())).unwrap();
        assert!(checksum_matches(&conf, 0));
        assert!(checksum_matches(&snapshot, 8));
        // One flipped bit is found anywhere but in the snapshot's length
        // (which sled reads only for compressed snapshots).
        for (file, gap) in [(&conf, 0), (&snapshot, 8)] {
            let length = file.len() - 12..file.len() - 4;
            for at in (0..file.len()).filter(|at| gap == 0 || !length.contains(at)) {
                let mut flipped = file.clone();
                flipped[at] ^= 0x10;
                assert!(!checksum_matches(&flipped, gap), "a flip at {at} of {} bytes", file.len());
            }
        }
        assert!(!checksum_matches(&conf[..3], 0));
    }

    #[test]
    fn a_store_cut_off_before_its_format_was_written_opens_as_new_and_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        // sled started, kura never wrote its format: a kill during the first open.
        drop(sled::open(dir.path().join(STORE_DIR)).unwrap());
        assert!(!Before::look(dir.path(), &dir.path().join(STORE_DIR)).made);
        drop(Store::open(dir.path(), StoreOptions::default()).unwrap());
        assert_eq!(fs::read_to_string(dir.path().join(MARKER)).unwrap(), format!("{}\n", crate::FORMAT_VERSION));
        // Marked: the same folder with its log gone is refused, not made anew.
        fs::remove_file(dir.path().join(STORE_DIR).join(LOG_FILE)).unwrap();
        let error = Store::open(dir.path(), StoreOptions::default()).err().map(|e| e.to_string());
        assert!(error.as_deref().is_some_and(|e| e.contains("its log file db is missing")), "{error:?}");
    }
}
