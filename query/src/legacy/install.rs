//! `kura legacy --install DIR`: one entry per 2015 script name in DIR, so
//! the command strings of existing Hinemos settings run kura unchanged
//! (`DIR/MonitorDockerContainerResourceCpu.py -i #[IP_ADDRESS] -k ... --all`).
//!
//! Each entry is a two-line `/bin/sh` wrapper, not a symlink dispatched on
//! `argv[0]`: the wrapper carries `--config` and `--data` (the Hinemos
//! agent runs commands with its own environment, which a site cannot set
//! per command), shows in `ps` and in the file itself what runs, and keeps
//! `kura` one program whose behaviour does not depend on the name it was
//! called by. It costs one `exec` of `/bin/sh` (see README, Performance).
//!
//! An existing file that kura did not write is kept unless `--force`, which
//! moves it aside to `NAME.orig` first; kura's own entries are rewritten.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::scripts::Script;

/// The line that marks a file as kura's entry.
pub const MARK: &str = "# Written by `kura legacy --install`";

/// What to install.
#[derive(Clone, Debug)]
pub struct Install<'a> {
    /// The folder of the entries.
    pub dir: &'a Path,
    /// The `kura` program the entries run (absolute).
    pub kura: &'a Path,
    /// `--config FILE` for every entry (absolute).
    pub config: Option<&'a Path>,
    /// `--data DIR` for every entry (absolute).
    pub data: Option<&'a Path>,
    /// Move files kura did not write aside instead of refusing.
    pub force: bool,
}

/// Why nothing (or not everything) was installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// Files kura did not write are in the way.
    #[error(
        "{dir}: {files} exist and were not written by kura; move them away, or pass --force to keep each as NAME.orig"
    )]
    Occupied {
        /// The folder.
        dir: String,
        /// The file names.
        files: String,
    },
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The entry's text for `name` (a name of `script`).
pub fn wrapper(install: &Install<'_>, script: Script, name: &str) -> String {
    let mut command = format!("exec {} legacy", quote(install.kura));
    if let Some(config) = install.config {
        command.push_str(&format!(" --config {}", quote(config)));
    }
    if let Some(data) = install.data {
        command.push_str(&format!(" --data {}", quote(data)));
    }
    format!(
        "#!/bin/sh\n{MARK} ({name}: the 2015 script {}, answered from kura's store).\n{command} {} \"$@\"\n",
        script.file_name(),
        quote(Path::new(name)),
    )
}

/// Writes every entry; returns one line per file written.
pub fn install(install: &Install<'_>) -> Result<Vec<String>, InstallError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { path, source }
    };
    std::fs::create_dir_all(install.dir).map_err(io_error(install.dir))?;
    let entries: Vec<(Script, &str)> =
        Script::ALL.iter().flat_map(|script| script.entry_names().map(move |name| (*script, name))).collect();
    let occupied: Vec<&str> =
        entries.iter().map(|(_, name)| *name).filter(|name| is_foreign(&install.dir.join(name))).collect();
    if !occupied.is_empty() && !install.force {
        return Err(InstallError::Occupied { dir: install.dir.display().to_string(), files: occupied.join(", ") });
    }
    let mut report = Vec::with_capacity(entries.len());
    for (script, name) in entries {
        let path = install.dir.join(name);
        if occupied.contains(&name) {
            let aside = install.dir.join(format!("{name}.orig"));
            if aside.exists() {
                let exists = io::Error::new(io::ErrorKind::AlreadyExists, format!("{} exists", aside.display()));
                return Err(InstallError::Io { path, source: exists });
            }
            std::fs::rename(&path, &aside).map_err(io_error(&path))?;
            report.push(format!("{} moved aside to {}", path.display(), aside.display()));
        }
        let temporary = install.dir.join(format!(".{name}.kura-install"));
        std::fs::write(&temporary, wrapper(install, script, name)).map_err(io_error(&temporary))?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o755)).map_err(io_error(&temporary))?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))?;
        report.push(format!("{} -> kura legacy {}", path.display(), script.file_name()));
    }
    Ok(report)
}

/// Whether a file exists that kura's installer did not write (a symlink
/// counts as foreign: it may be an operator's).
fn is_foreign(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Err(_) => false,
        Ok(meta) if !meta.is_file() => true,
        Ok(_) => {
            !std::fs::read_to_string(path).is_ok_and(|text| text.lines().nth(1).is_some_and(|l| l.starts_with(MARK)))
        }
    }
}

/// A path as one `/bin/sh` word: in single quotes, `'` written as `'\''`.
fn quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapper_passes_every_argument_on() {
        let install = Install {
            dir: Path::new("/opt/hinemos_agent/docker/bin"),
            kura: Path::new("/usr/local/bin/kura"),
            config: Some(Path::new("/etc/kura/it's.toml")),
            data: None,
            force: false,
        };
        let text = wrapper(&install, Script::Cpu, "MonitorDockerContainerRepositoryCPU.py");
        assert_eq!(
            text.lines().last(),
            Some(
                r#"exec '/usr/local/bin/kura' legacy --config '/etc/kura/it'\''s.toml' 'MonitorDockerContainerRepositoryCPU.py' "$@""#
            )
        );
        assert!(text.starts_with("#!/bin/sh\n# Written by `kura legacy --install`"));
    }

    #[test]
    fn foreign_files_are_kept_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("JobDockerContainerRm.py");
        std::fs::write(&old, "#!/usr/bin/python\nprint 'old'\n").unwrap();
        let mut install =
            Install { dir: dir.path(), kura: Path::new("/usr/bin/kura"), config: None, data: None, force: false };
        let error = super::install(&install).unwrap_err().to_string();
        assert!(error.contains("JobDockerContainerRm.py exist"), "{error}");
        assert!(!dir.path().join("JobDockerContainerStart.py").exists(), "nothing written when refused");
        install.force = true;
        let report = super::install(&install).unwrap();
        assert_eq!(report.len(), 36 + 1);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("JobDockerContainerRm.py.orig")).unwrap(),
            "#!/usr/bin/python\nprint 'old'\n"
        );
        // Installing again rewrites kura's own entries without --force.
        install.force = false;
        assert_eq!(super::install(&install).unwrap().len(), 36);
        let mode = std::fs::metadata(dir.path().join("MonitorDockerHostStatus")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
