//! Where kura keeps its data by default, shared by the collector and `kura`.

use std::path::PathBuf;

/// The data folder when neither `--data` nor the config file says:
/// `$KURA_DATA`, else `/var/lib/kura` for root, else `~/.local/share/kura`.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KURA_DATA").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home {
        Some(home) if !is_root() => home.join(".local/share/kura"),
        _ => PathBuf::from("/var/lib/kura"),
    }
}

fn is_root() -> bool {
    // The owner of /proc/self is the effective user; no libc call needed.
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}
