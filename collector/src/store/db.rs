//! [`Store`]: opening the sled database (lock, format version, recovery of
//! an interrupted snapshot) and the handles on its trees.

use std::cell::{Cell, RefCell};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Once};
use std::thread;
use std::time::{Duration, Instant};

use super::key::{self, Tree};
use super::reader::{Entry, Kv, Scan};
use super::write::Writer;
use super::{StoreError, FORMAT_VERSION};

/// The sled directory inside the data directory.
pub const STORE_DIR: &str = "store";
/// Where recovery moves files aside, inside the data directory.
pub const RECOVERED_DIR: &str = "recovered";

/// sled 0.34's files inside the sled directory: its log, its
/// configuration, and the prefix of its snapshots (`snap.` + the log
/// position it records, 16 hex digits).
const LOG_FILE: &str = "db";
const CONF_FILE: &str = "conf";
const SNAPSHOT_PREFIX: &str = "snap.";

/// How to open a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// sled's page cache, bytes. The collector's memory target is 30 MB.
    pub cache_capacity: u64,
    /// Sweeps per block: a host's head is compacted every `block_rows`
    /// sweeps (360 = one hour at 10 s), so a block holds at most that many
    /// samples. Between 1 and
    /// [`codec::MAX_BLOCK_ROWS`](super::codec::MAX_BLOCK_ROWS).
    pub block_rows: usize,
    /// Flush (fsync) at the end of every [`Store::write_sweep`], so that a
    /// crash loses at most the sweep being written. The simulator turns it
    /// off and flushes at the end; sled then flushes every second.
    pub flush_every_sweep: bool,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions { cache_capacity: 8 << 20, block_rows: 360, flush_every_sweep: true }
    }
}

/// The store: a sled database under `DIR/store`, written by the collector
/// and read through a [`Reader`](super::Reader). `Send + Sync`: writes are
/// serialized inside.
pub struct Store {
    dir: PathBuf,
    db: sled::Db,
    handle: ReadHandle,
    options: StoreOptions,
    writer: Mutex<Writer>,
}

/// A cheap, cloneable read handle on a store's trees: what the socket
/// server reads from. It keeps the database open while it lives.
#[derive(Clone)]
pub struct ReadHandle {
    path: PathBuf,
    trees: Arc<[sled::Tree; Tree::ALL.len()]>,
}

impl Store {
    /// Opens (or creates) the store in `dir` (created mode 0700 if missing;
    /// the database is `dir/store`). Moves an interrupted snapshot aside
    /// into `dir/recovered/` first. Fails with [`StoreError::Locked`] when
    /// another handle holds the store, [`StoreError::Version`] when it was
    /// written in another format.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        let path = dir.join(STORE_DIR);
        if options.block_rows == 0 || options.block_rows > super::codec::MAX_BLOCK_ROWS {
            return Err(StoreError::Options {
                path,
                detail: format!(
                    "block_rows {} is not between 1 and {}",
                    options.block_rows,
                    super::codec::MAX_BLOCK_ROWS
                ),
            });
        }
        create_private_dir(dir)?;
        recover_snapshots(dir, &path)?;
        let before = Before::look(&path);
        // Refused before sled opens it, or sled would start a new log.
        if before.made && before.log_len.is_none_or(|len| len == 0) {
            return Err(StoreError::Corrupt { path, detail: before.nothing_readable() });
        }
        let config = sled::Config::new()
            .path(&path)
            .cache_capacity(options.cache_capacity)
            .mode(sled::Mode::LowSpace)
            .flush_every_ms(Some(1000));
        let db = open_sled(&config, &path)?;
        let mut trees = Vec::with_capacity(Tree::ALL.len());
        for tree in Tree::ALL {
            trees.push(db.open_tree(tree.name()).map_err(|e| sled_error(&path, e))?);
        }
        let trees: [sled::Tree; Tree::ALL.len()] = trees
            .try_into()
            .map_err(|_| StoreError::Corrupt { path: path.clone(), detail: "tree count".to_owned() })?;
        let handle = ReadHandle { path: path.clone(), trees: Arc::new(trees) };
        check_version(&handle, &before)?;
        Ok(Store { dir: dir.to_path_buf(), db, handle, options, writer: Mutex::new(Writer::default()) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sled directory (`dir/store`).
    pub fn path(&self) -> &Path {
        &self.handle.path
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// A read handle for the socket server.
    pub fn read_handle(&self) -> ReadHandle {
        self.handle.clone()
    }

    /// Writes everything sled holds in memory to disk (fsync).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(|e| sled_error(self.path(), e))
    }

    /// What sled reports as its size on disk, bytes.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| sled_error(self.path(), e))
    }

    pub(super) fn handle(&self) -> &ReadHandle {
        &self.handle
    }

    /// The writer state, reset if a panic left it poisoned.
    pub(super) fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|poisoned| {
            self.writer.clear_poison();
            let mut writer = poisoned.into_inner();
            *writer = Writer::default();
            writer
        })
    }
}

impl ReadHandle {
    /// The sled directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[usize::from(tree.code())]
    }

    /// Maps a sled error to a store error naming this store.
    pub(super) fn error(&self, error: sled::Error) -> StoreError {
        sled_error(&self.path, error)
    }

    /// A corrupt-store error naming this store.
    pub(super) fn corrupt(&self, detail: String) -> StoreError {
        StoreError::Corrupt { path: self.path.clone(), detail }
    }
}

impl Kv for ReadHandle {
    fn path(&self) -> &Path {
        &self.path
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.tree(tree).get(key).map(|v| v.map(|v| v.to_vec())).map_err(|e| self.error(e))
    }

    fn scan(&self, tree: Tree, scan: &Scan) -> Result<Vec<Entry>, StoreError> {
        let mut entries = Vec::new();
        self.for_each(tree, scan, |k, v| {
            entries.push((k.to_vec(), v.to_vec()));
            true
        })?;
        Ok(entries)
    }
}

impl ReadHandle {
    /// Calls `visit` on the entries of a range in scan order (at most
    /// `scan.limit`) until it returns false.
    pub(super) fn for_each(
        &self,
        tree: Tree,
        scan: &Scan,
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let start = scan.start.as_slice();
        let range = match &scan.end {
            Some(end) if end.as_slice() <= start => return Ok(()),
            Some(end) => self.tree(tree).range(start..end.as_slice()),
            None => self.tree(tree).range(start..),
        };
        let entries: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> =
            if scan.reverse { Box::new(range.rev()) } else { Box::new(range) };
        for entry in entries.take(scan.limit) {
            let (k, v) = entry.map_err(|e| self.error(e))?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }
}

impl Kv for Store {
    fn path(&self) -> &Path {
        self.handle.path()
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.handle.get(tree, key)
    }

    fn scan(&self, tree: Tree, scan: &Scan) -> Result<Vec<Entry>, StoreError> {
        self.handle.scan(tree, scan)
    }
}

/// How long [`Store::open`] waits for sled's lock before it reports
/// [`StoreError::Locked`].
const LOCK_WAIT: Duration = Duration::from_secs(1);

/// Opens the database. sled releases its lock a moment after the last
/// handle of this process is dropped (its file may be closed by a deferred
/// drop on another thread), so a locked database is tried again for up to
/// [`LOCK_WAIT`]. sled 0.34 panics on some damaged files (a log cut short
/// by whole segments): that is a corrupt store, reported without the panic
/// message, not a crash of the caller.
fn open_sled(config: &sled::Config, path: &Path) -> Result<sled::Db, StoreError> {
    let started = Instant::now();
    loop {
        let opened = match quietly(|| config.open()) {
            Ok(Ok(db)) => Ok(db),
            Ok(Err(e)) => Err(open_error(path, e)),
            Err(failure) => Err(damage(path, format!("sled failed reading its files ({failure})"))),
        };
        match opened {
            Err(StoreError::Locked { .. }) if started.elapsed() < LOCK_WAIT => {
                thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Maps an error of sled's open. Damage sled finds without saying where,
/// and a configuration it refuses (which a damaged `conf` can read as),
/// are put down to the damaged file where one is found
/// ([`damaged_files`]); else to the log, when a snapshot records a point
/// the log no longer reaches (sled 0.34's check in
/// `pagecache/snapshot.rs`, `advance_snapshot`).
fn open_error(path: &Path, error: sled::Error) -> StoreError {
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
fn damage(path: &Path, finding: String) -> StoreError {
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

/// What the sled directory held before sled opened it (sled makes a
/// missing log, and rewrites a missing configuration).
struct Before {
    /// Whether a store was made here: its log, configuration or a snapshot
    /// is there.
    made: bool,
    /// The log's length; `None` when it is missing.
    log_len: Option<u64>,
}

impl Before {
    fn look(path: &Path) -> Before {
        let log_len = fs::metadata(path.join(LOG_FILE)).ok().map(|meta| meta.len());
        let made = log_len.is_some() || path.join(CONF_FILE).exists() || newest_snapshot(path).is_some();
        Before { made, log_len }
    }

    /// Why nothing of the store can be read, for a store that was made
    /// here: its log as it was.
    fn nothing_readable(&self) -> String {
        let log = match self.log_len {
            None => "is missing",
            Some(0) => "is empty",
            Some(_) => "is cut short or damaged at its start",
        };
        format!("no record can be read from it: its log file {LOG_FILE} {log}")
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
fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
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

/// Maps sled's errors: its lock failure (an I/O error whose message sled
/// 0.34.7 writes as "could not acquire lock on ...") becomes
/// [`StoreError::Locked`]; damage names the file and the place where sled
/// says.
pub(super) fn sled_error(path: &Path, error: sled::Error) -> StoreError {
    let path = path.to_path_buf();
    match error {
        sled::Error::Io(source) if source.to_string().contains("could not acquire lock") => StoreError::Locked { path },
        sled::Error::Io(source) => StoreError::Io { path, source },
        sled::Error::Corruption { at, bt: _ } => StoreError::Corrupt {
            path,
            detail: match at {
                Some(sled::DiskPtr::Inline(offset)) => {
                    format!("its log file {LOG_FILE} is cut short or damaged at byte {offset}")
                }
                Some(sled::DiskPtr::Blob(offset, blob)) => {
                    format!("blob {blob} (named at byte {offset} of its log file {LOG_FILE}) is missing or damaged")
                }
                None => "sled found a damaged file".to_owned(),
            },
        },
        other => StoreError::Db { path, source: other },
    }
}

/// Creates `dir` (and parents) if missing; a directory kura creates is mode
/// 0700.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
    fs::create_dir_all(dir).map_err(io)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io)
}

/// sled writes a snapshot to `snap.N.generating` and renames it when it is
/// complete; a crash in between leaves the partial file, which sled 0.34
/// then reads as the newest snapshot and refuses as corrupt (sled issues
/// 1527, 1533). The previous snapshot and the log are intact (sled removes
/// them only after the rename), so moving the partial file aside recovers.
fn recover_snapshots(dir: &Path, path: &Path) -> Result<(), StoreError> {
    let entries = match fs::read_dir(path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StoreError::Io { path: path.to_path_buf(), source }),
    };
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("snap.") && name.ends_with(".generating")) {
            continue;
        }
        let recovered = dir.join(RECOVERED_DIR);
        create_private_dir(&recovered)?;
        let mut target = recovered.join(name);
        let mut n = 1;
        while target.exists() {
            target = recovered.join(format!("{name}.{n}"));
            n += 1;
        }
        fs::rename(entry.path(), &target).map_err(|source| StoreError::Io { path: entry.path(), source })?;
        tracing::warn!(
            from = %entry.path().display(),
            to = %target.display(),
            "moved an interrupted sled snapshot aside; the store opens from the previous snapshot and its log"
        );
    }
    Ok(())
}

/// Checks `meta/format`, writing the current version into a fresh store.
/// A directory that held a store before but from which sled recovered
/// nothing is damaged, not fresh: sled takes a log it cannot read from its
/// start for a new one.
fn check_version(handle: &ReadHandle, before: &Before) -> Result<(), StoreError> {
    let meta = handle.tree(Tree::Meta);
    match meta.get(key::META_FORMAT).map_err(|e| handle.error(e))? {
        Some(bytes) => {
            let bytes: [u8; 4] = bytes
                .as_ref()
                .try_into()
                .map_err(|_| handle.corrupt(format!("meta/format is {} bytes, not 4", bytes.len())))?;
            let found = u32::from_be_bytes(bytes);
            if found != FORMAT_VERSION {
                return Err(StoreError::Version { path: handle.path.clone(), found, expected: FORMAT_VERSION });
            }
        }
        None => {
            let fresh = Tree::ALL.iter().all(|&tree| handle.tree(tree).is_empty());
            if !fresh {
                return Err(handle.corrupt("meta/format is missing".to_owned()));
            }
            if before.made {
                return Err(handle.corrupt(before.nothing_readable()));
            }
            meta.insert(key::META_FORMAT, &FORMAT_VERSION.to_be_bytes()).map_err(|e| handle.error(e))?;
            meta.flush().map_err(|e| handle.error(e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_quietly_is_returned_with_its_message_and_place() {
        let caught = quietly(|| -> u8 { panic!("segment 4 of 2") });
        let message = caught.err().unwrap();
        assert!(message.starts_with("segment 4 of 2 at db.rs:"), "{message}");
        assert_eq!(quietly(|| 7), Ok(7));
    }

    #[test]
    fn sleds_checksums_are_read_as_sled_writes_them() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), StoreOptions::default()).unwrap());
        // sled snapshots when it opens a log that has grown.
        drop(Store::open(dir.path(), StoreOptions::default()).unwrap());
        let path = dir.path().join(STORE_DIR);
        let before = Before::look(&path);
        assert!(before.made);
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
}
