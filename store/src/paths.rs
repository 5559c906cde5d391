//! Where kura keeps its data by default, shared by the collector and `kura`.

use std::path::PathBuf;

/// The data folder of a system-wide collector, for every user alike.
pub const SYSTEM_DATA_DIR: &str = "/var/lib/kura";

/// The data folder when neither `--data` nor the config file says:
/// `$KURA_DATA`, else [`SYSTEM_DATA_DIR`], whoever runs the program. The
/// collector and Hinemos' agent often run as different users; a default
/// that depended on the user (a home folder) would make them look in
/// different places without a word. A collector of one user alone (for
/// rootless Docker) sets `KURA_DATA` or `data_dir`.
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("KURA_DATA").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(SYSTEM_DATA_DIR),
    }
}
