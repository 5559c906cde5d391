//! "Since the previous call": the 2015 rate scripts kept their previous
//! reading in `/tmp/KEY_ID.txt` and had no value on the first call. kura
//! keeps only the time of each call, beside the store
//! (`DATA/legacy/<script>.<KEY_ID>`), and derives the figures from the
//! stored samples between then and now; the first call of a key covers a
//! default window instead, so it has a value too.
//!
//! One file per script and key: two monitors sharing a `-k` no longer
//! overwrite each other's state, as they did in `/tmp`. A file is written
//! whole to a temporary name and renamed, so a reader never sees half a
//! file; a damaged one is reported and counts as no previous call.

use std::io;
use std::path::{Path, PathBuf};

use kura_store::sample::UnixMillis;
use serde::{Deserialize, Serialize};

use super::scripts::Script;

/// The folder of remembered calls, inside the data folder.
pub const FOLDER: &str = "legacy";

/// What is remembered of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The call's query time, ms since the epoch.
    pub at_ms: UnixMillis,
}

/// The remembered calls of one data folder.
#[derive(Clone, Debug)]
pub struct Calls {
    dir: PathBuf,
}

/// What reading a remembered call found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Previous {
    /// No call with this key yet.
    None,
    /// The previous call.
    Call(Call),
    /// The file cannot be read or does not decode; the message names it
    /// (it counts as no call).
    Damaged(String),
}

impl Calls {
    /// The calls remembered in `data_dir`.
    pub fn new(data_dir: &Path) -> Calls {
        Calls { dir: data_dir.join(FOLDER) }
    }

    /// The file of `script` called with `-k key`.
    pub fn path(&self, script: Script, key: &str) -> PathBuf {
        let stem = script.file_name().trim_end_matches(".py");
        self.dir.join(format!("{stem}.{}", encode(key)))
    }

    /// The previous call of `script` with `key`; a file that cannot be
    /// read or decoded is [`Previous::Damaged`].
    pub fn previous(&self, script: Script, key: &str) -> Previous {
        let path = self.path(script, key);
        match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<Call>(&bytes) {
                Ok(call) => Previous::Call(call),
                Err(e) => Previous::Damaged(format!("{}: {e}; taken as a first call", path.display())),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Previous::None,
            Err(e) => Previous::Damaged(format!("cannot read {}: {e}; taken as a first call", path.display())),
        }
    }

    /// Remembers a call of `script` with `key` at `at_ms`.
    pub fn record(&self, script: Script, key: &str, at_ms: UnixMillis) -> io::Result<()> {
        let path = self.path(script, key);
        let context = |e: io::Error| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()));
        std::fs::create_dir_all(&self.dir).map_err(context)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = self.dir.join(format!(".{name}.tmp{}", std::process::id()));
        let bytes = serde_json::to_vec(&Call { at_ms }).map_err(io::Error::other).map_err(context)?;
        std::fs::write(&temporary, bytes).map_err(context)?;
        std::fs::rename(&temporary, &path).map_err(context)
    }
}

/// A `-k` value as a file name: letters, digits, `_` and `-` as they are,
/// every other byte as `%XX` (so `/` and `..` cannot leave the folder and
/// two keys never share a file).
pub fn encode(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How long the first call of a key covers, and the bounds of any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// The first call's window (`[legacy] first_window`, 5 minutes).
    pub first_ms: u64,
    /// The longest window (`[legacy] max_window`, 2 hours): a call after a
    /// longer pause covers the newest part of it.
    pub max_ms: u64,
}

/// The window, ms, a call at `now` covers: the time since the previous
/// call, at least `floor_ms` (three collector intervals, the store's
/// staleness limit: a shorter window may hold no sample) and at most
/// `windows.max_ms`; the first window
/// when there is no usable previous call (none, damaged, or not before
/// `now`, as for a call `--at` a time before it).
pub fn window_ms(previous: &Previous, now: UnixMillis, windows: Windows, floor_ms: u64) -> u64 {
    let since = match previous {
        Previous::Call(call) => u64::try_from(now.saturating_sub(call.at_ms)).ok().filter(|ms| *ms > 0),
        Previous::None | Previous::Damaged(_) => None,
    };
    match since {
        Some(ms) => ms.clamp(floor_ms.min(windows.max_ms), windows.max_ms),
        None => windows.first_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOWS: Windows = Windows { first_ms: 300_000, max_ms: 7_200_000 };

    #[test]
    fn the_window_runs_from_the_previous_call_within_bounds() {
        let call = |at_ms| Previous::Call(Call { at_ms });
        assert_eq!(window_ms(&Previous::None, 1_000_000, WINDOWS, 10_000), 300_000);
        assert_eq!(window_ms(&Previous::Damaged("x".into()), 1_000_000, WINDOWS, 10_000), 300_000);
        assert_eq!(window_ms(&call(940_000), 1_000_000, WINDOWS, 10_000), 60_000);
        assert_eq!(window_ms(&call(997_000), 1_000_000, WINDOWS, 30_000), 30_000, "at least the floor");
        assert_eq!(window_ms(&call(0), 100_000_000, WINDOWS, 10_000), 7_200_000, "at most max_window");
        assert_eq!(window_ms(&call(1_000_000), 1_000_000, WINDOWS, 10_000), 300_000, "not before now");
        assert_eq!(window_ms(&call(2_000_000), 1_000_000, WINDOWS, 10_000), 300_000);
    }

    #[test]
    fn keys_become_file_names_that_stay_in_the_folder() {
        assert_eq!(encode("docker_host1_CONTAINER_CPU"), "docker_host1_CONTAINER_CPU");
        assert_eq!(encode("../etc/x"), "%2E%2E%2Fetc%2Fx");
        assert_eq!(encode("a.b"), "a%2Eb");
        assert_eq!(encode("a%2Eb"), "a%252Eb");
        assert_eq!(encode("ホゲ"), "%E3%83%9B%E3%82%B2");
    }

    #[test]
    fn a_call_is_remembered_per_script_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let calls = Calls::new(dir.path());
        assert_eq!(calls.previous(Script::Cpu, "hoge"), Previous::None);
        calls.record(Script::Cpu, "hoge", 42).unwrap();
        assert_eq!(calls.previous(Script::Cpu, "hoge"), Previous::Call(Call { at_ms: 42 }));
        assert_eq!(calls.previous(Script::Disk, "hoge"), Previous::None);
        calls.record(Script::Cpu, "hoge", 43).unwrap();
        assert_eq!(calls.previous(Script::Cpu, "hoge"), Previous::Call(Call { at_ms: 43 }));
        std::fs::write(calls.path(Script::Cpu, "hoge"), b"{").unwrap();
        assert!(matches!(calls.previous(Script::Cpu, "hoge"), Previous::Damaged(m) if m.contains("first call")));
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join(FOLDER)).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["MonitorDockerContainerResourceCpu.hoge"], "no temporary file left");
    }
}
