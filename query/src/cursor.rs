//! Where a feed (`kura events`, `kura transitions`, `kura states
//! --changes-only`) stopped, so that the next run goes on from there:
//! neither losing nor repeating an item.
//!
//! A [`Cursor`] holds, per host, the last event and transition sent and
//! the states last sent. The CLI keeps it in `DATA/cursors/NAME.json`
//! beside the store ([`CursorFile`]), written atomically (a temporary file,
//! fsync, rename) after each confirmed chunk, and locked for the whole run
//! (`flock` on `NAME.lock`): a second run with the same name waits for the
//! first, then fails clearly. The collector's forwarding keeps the same
//! document in the store (see `kura-collector`'s `forward`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::transition::{Phase, Transition};

/// The folder of the CLI's cursors, inside the data folder.
pub const CURSOR_DIR: &str = "cursors";

/// The position of a feed, per host.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// The last event sent, per host.
    #[serde(default)]
    pub events: BTreeMap<String, EventPosition>,
    /// The last transition sent, per host.
    #[serde(default)]
    pub transitions: BTreeMap<String, TransitionPosition>,
    /// The state last sent of each container (full id), per host.
    #[serde(default)]
    pub states: BTreeMap<String, BTreeMap<String, Phase>>,
}

/// An event as the store keys it: its time and the hash of its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventPosition {
    /// The event's time, Unix ns.
    pub time_ns: i64,
    /// [`kura_store::key::fnv1a`] of its stored document.
    pub hash: u64,
}

/// Where a transitions feed stopped: every transition before `time_ns`
/// was sent, and at `time_ns` those up to `then` (all of them when `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionPosition {
    /// Unix ns.
    pub time_ns: i64,
    /// The last sent at `time_ns`: container id and its rank among that
    /// container's transitions at that time.
    pub then: Option<(String, u32)>,
}

impl TransitionPosition {
    /// Everything up to and including `time_ns`.
    pub fn through(time_ns: i64) -> TransitionPosition {
        TransitionPosition { time_ns, then: None }
    }

    /// Whether the transition with `key` was sent.
    pub fn covers(&self, key: &TransitionKey) -> bool {
        key.time_ns < self.time_ns
            || (key.time_ns == self.time_ns
                && self.then.as_ref().is_none_or(|(id, rank)| (key.id.as_str(), key.rank) <= (id.as_str(), *rank)))
    }
}

/// The order transitions are sent in: time, container id, rank among the
/// container's transitions at that time.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TransitionKey {
    /// Unix ns.
    pub time_ns: i64,
    /// Full container id.
    pub id: String,
    /// 0 for the container's first transition at this time, then 1, ...
    pub rank: u32,
}

impl TransitionKey {
    /// The keys of transitions sorted by time then id, in that order.
    pub fn of_all(transitions: &[Transition]) -> Vec<TransitionKey> {
        let mut keys: Vec<TransitionKey> = Vec::with_capacity(transitions.len());
        for t in transitions {
            let rank = match keys.last() {
                Some(last) if last.time_ns == t.time_ns && last.id == t.id => last.rank + 1,
                _ => 0,
            };
            keys.push(TransitionKey { time_ns: t.time_ns, id: t.id.clone(), rank });
        }
        keys
    }

    /// The position right after this transition.
    pub fn position(&self) -> TransitionPosition {
        TransitionPosition { time_ns: self.time_ns, then: Some((self.id.clone(), self.rank)) }
    }
}

/// Why a cursor could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CursorError {
    /// The name is not usable as a file name.
    #[error("cursor name {0:?}: use 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.')")]
    Name(String),
    /// Another run holds it.
    #[error("cursor {name} is in use by another kura run (pid {holder}); waited {waited:?}")]
    Busy {
        /// The cursor.
        name: String,
        /// The pid written in the lock file by its holder.
        holder: String,
        /// How long this run waited.
        waited: Duration,
    },
    /// Reading, writing or locking its file failed.
    #[error("cursor file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Its file does not hold a cursor.
    #[error("cursor file {path} is not a kura cursor: {reason} (move it aside to start anew)")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// serde's reason.
        reason: String,
    },
}

/// A cursor file, locked by this run until dropped.
pub struct CursorFile {
    name: String,
    path: PathBuf,
    // Held for the lock; released when dropped.
    _lock: File,
}

impl CursorFile {
    /// Locks the cursor `name` in `data_dir/cursors/`, waiting up to
    /// `wait` for another run that holds it.
    pub fn lock(data_dir: &Path, name: &str, wait: Duration) -> Result<CursorFile, CursorError> {
        CursorFile::check_name(name)?;
        let dir = data_dir.join(CURSOR_DIR);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CursorError::Io { path, source }
        };
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join(format!("{name}.lock"));
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        let started = Instant::now();
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = lock.read_to_string(&mut holder);
                    let holder = holder.trim().to_owned();
                    return Err(CursorError::Busy { name: name.to_owned(), holder, waited: started.elapsed() });
                }
                Err(TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
            }
        }
        // Who holds it, for the message of a run that finds it busy.
        let pid = format!("{}\n", std::process::id());
        lock.set_len(0)
            .and_then(|()| lock.rewind())
            .and_then(|()| lock.write_all(pid.as_bytes()))
            .map_err(io(&lock_path))?;
        Ok(CursorFile { name: name.to_owned(), path: dir.join(format!("{name}.json")), _lock: lock })
    }

    /// Refuses a name that is not 1 to 64 letters, digits, `.`, `_` or `-`
    /// (not starting with `.`): a cursor's name is a file name.
    pub fn check_name(name: &str) -> Result<(), CursorError> {
        let usable = !name.is_empty()
            && name.len() <= 64
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if usable {
            Ok(())
        } else {
            Err(CursorError::Name(name.to_owned()))
        }
    }

    /// The cursor's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The cursor as last saved; `None` when it was never saved.
    pub fn load(&self) -> Result<Option<Cursor>, CursorError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(CursorError::Io { path: self.path.clone(), source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| CursorError::Corrupt { path: self.path.clone(), reason: e.to_string() })
    }

    /// Saves the cursor: written to a temporary file, synced, renamed over
    /// the old one, the folder synced: a crash leaves the old or the new.
    pub fn save(&self, cursor: &Cursor) -> Result<(), CursorError> {
        let temporary = self.path.with_extension("json.tmp");
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CursorError::Io { path, source }
        };
        let bytes = serde_json::to_vec_pretty(cursor).map_err(|e| io(&temporary)(io::Error::other(e)))?;
        let mut file = File::create(&temporary).map_err(io(&temporary))?;
        file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(io(&temporary))?;
        fs::rename(&temporary, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_a_save_and_a_second_run_waits_then_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let file = CursorFile::lock(dir.path(), "hinemos", Duration::ZERO).unwrap();
        assert_eq!(file.load().unwrap(), None);
        let mut cursor = Cursor::default();
        cursor.events.insert("h".into(), EventPosition { time_ns: 5, hash: 7 });
        cursor.transitions.insert("h".into(), TransitionPosition { time_ns: 9, then: Some(("abc".into(), 1)) });
        cursor.states.insert("h".into(), BTreeMap::from([("abc".into(), Phase::Removed)]));
        file.save(&cursor).unwrap();
        assert_eq!(file.load().unwrap(), Some(cursor.clone()));

        let busy = CursorFile::lock(dir.path(), "hinemos", Duration::from_millis(250)).err().unwrap();
        let message = busy.to_string();
        assert!(message.contains(&format!("pid {}", std::process::id())), "{message}");
        assert!(matches!(busy, CursorError::Busy { waited, .. } if waited >= Duration::from_millis(250)));
        drop(file);
        let again = CursorFile::lock(dir.path(), "hinemos", Duration::ZERO).unwrap();
        assert_eq!(again.load().unwrap(), Some(cursor));
        assert!(matches!(CursorFile::lock(dir.path(), "../x", Duration::ZERO), Err(CursorError::Name(_))));
        std::fs::write(dir.path().join("cursors/bad.json"), "{").unwrap();
        let bad = CursorFile::lock(dir.path(), "bad", Duration::ZERO).unwrap();
        assert!(matches!(bad.load(), Err(CursorError::Corrupt { .. })));
    }

    #[test]
    fn transition_positions_cover_what_was_sent() {
        let key = |time_ns, id: &str, rank| TransitionKey { time_ns, id: id.to_owned(), rank };
        let at = key(10, "b", 0).position();
        assert!(at.covers(&key(9, "z", 5)));
        assert!(at.covers(&key(10, "a", 3)));
        assert!(at.covers(&key(10, "b", 0)));
        assert!(!at.covers(&key(10, "b", 1)));
        assert!(!at.covers(&key(10, "c", 0)));
        assert!(!at.covers(&key(11, "a", 0)));
        assert!(TransitionPosition::through(10).covers(&key(10, "z", 9)));
    }
}
