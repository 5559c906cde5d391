//! [`Store`]: opening the sled database (lock, format version, recovery of
//! an interrupted snapshot) and the handles on its trees.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use super::damage::{damage, open_error, quietly, Before, LOG_FILE, MARKER};
use super::key::{self, Tree};
use super::reader::{Entry, Kv, Scan};
use super::write::WriteState;
use super::{reads_format, StoreError, FORMAT_VERSION};

/// The sled directory inside the data directory.
pub const STORE_DIR: &str = "store";
/// Where recovery moves files aside, inside the data directory.
pub const RECOVERED_DIR: &str = "recovered";

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
    /// sled's log file, opened for [`Store::flush`] to fsync.
    log: fs::File,
    handle: ReadHandle,
    options: StoreOptions,
    writer: Mutex<WriteState>,
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
        let before = Before::look(dir, &path);
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
        if !before.made {
            mark_made(dir);
        }
        let log_path = path.join(LOG_FILE);
        let log = fs::File::open(&log_path).map_err(|source| StoreError::io(&log_path, source))?;
        Ok(Store { dir: dir.to_path_buf(), db, log, handle, options, writer: Mutex::new(WriteState::default()) })
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

    /// Writes everything sled holds in memory to disk, durably: sled's
    /// flush, then an fsync of its log file. sled 0.34 syncs what it writes
    /// with `sync_file_range`, which does not commit the metadata of blocks
    /// the log grew into: a crash or a file system the kernel turns
    /// read-only then loses the last second or so of "flushed" writes
    /// (found by `tests/integration/read_only.rs`). Only its background
    /// flusher calls fsync, once a second.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map(drop).map_err(|e| sled_error(self.path(), e))?;
        self.log.sync_all().map_err(|source| StoreError::io(&self.path().join(LOG_FILE), source))
    }

    /// What sled reports as its size on disk, bytes.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.db.size_on_disk().map_err(|e| sled_error(self.path(), e))
    }

    pub(super) fn handle(&self) -> &ReadHandle {
        &self.handle
    }

    /// The writer state, reset if a panic left it poisoned.
    pub(super) fn writer(&self) -> MutexGuard<'_, WriteState> {
        self.writer.lock().unwrap_or_else(|poisoned| {
            self.writer.clear_poison();
            let mut writer = poisoned.into_inner();
            *writer = WriteState::default();
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
            if !visit(&k, scan.value_of(&v)) {
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

/// Maps sled's errors: its lock failure (an I/O error whose message sled
/// 0.34.7 writes as "could not acquire lock on ...") becomes
/// [`StoreError::Locked`]; damage names the file and the place where sled
/// says.
pub(super) fn sled_error(path: &Path, error: sled::Error) -> StoreError {
    let path = path.to_path_buf();
    match error {
        sled::Error::Io(source) if source.to_string().contains("could not acquire lock") => StoreError::Locked { path },
        sled::Error::Io(source) => StoreError::io(&path, source),
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
    let io = |source| StoreError::io(dir, source);
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
        Err(source) => return Err(StoreError::io(path, source)),
    };
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::io(path, source))?;
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
        fs::rename(entry.path(), &target).map_err(|source| StoreError::io(&entry.path(), source))?;
        tracing::warn!(
            from = %entry.path().display(),
            to = %target.display(),
            "moved an interrupted sled snapshot aside; the store opens from the previous snapshot and its log"
        );
    }
    Ok(())
}

/// Writes the [`MARKER`] of a store whose format is on disk. Best effort:
/// a store on a read-only copy still opens, without the marker's guard.
fn mark_made(dir: &Path) {
    let path = dir.join(MARKER);
    let written = fs::File::create(&path).and_then(|mut file| {
        use std::io::Write;
        file.write_all(format!("{FORMAT_VERSION}\n").as_bytes())?;
        file.sync_all()
    });
    if let Err(error) = written {
        tracing::debug!(path = %path.display(), %error, "cannot write the store's marker");
    }
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
            if !reads_format(found) {
                return Err(StoreError::Version { path: handle.path.clone(), found });
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
