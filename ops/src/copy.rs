//! `cp`: a file or folder of a container as the tar archive Docker makes of
//! it (`GET /containers/{id}/archive`: owners, modes and times as in the
//! container), kept as `DEST_DIR/<container>_<path>.tar` or unpacked under
//! `DEST_DIR/<container>/`.
//!
//! The archive is written to a temporary file in `DEST_DIR` and renamed
//! into place when complete, so a cut download never looks like a whole
//! one; an archive of the same name is replaced.

use std::fs::{self, File, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use bollard::query_parameters::DownloadFromContainerOptions;
use futures_util::StreamExt;

use crate::error::{docker_reason, OpsError};
use crate::host::Host;
use crate::listing::Line;
use crate::target::Target;

/// What to copy, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopySpec {
    /// The path in the container.
    pub source: String,
    /// The local folder that takes the archives.
    pub dest: PathBuf,
    /// Unpack instead of keeping the archive.
    pub extract: bool,
}

/// A finished copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The archive, or the unpacked file or folder.
    pub path: PathBuf,
    /// The archive's entries.
    pub entries: Vec<Line>,
}

impl CopySpec {
    /// Checks that the destination is a folder, before anything is downloaded.
    pub fn check_destination(&self) -> Result<(), OpsError> {
        let error = |reason: String| OpsError::Destination { path: self.dest.clone(), reason };
        let metadata = fs::metadata(&self.dest).map_err(|e| error(e.to_string()))?;
        if !metadata.is_dir() {
            return Err(error("not a folder".into()));
        }
        Ok(())
    }
}

/// `<container>_<path>.tar`: the path without its outer `/`s, inner ones as
/// `_` (`/etc/nginx/` from `web1` is `web1_etc_nginx.tar`, `/` is `web1_.tar`).
pub fn archive_name(container: &str, source: &str) -> String {
    format!("{container}_{}.tar", source.trim_matches('/').replace('/', "_"))
}

/// Where `--extract` unpacks: `DEST_DIR/<container>/` and the source's
/// parent folders (the archive's top entry is the source's last part), so
/// the tree under `DEST_DIR/<container>/` mirrors the container's.
pub fn extract_root(dest: &Path, container: &str, source: &str) -> PathBuf {
    let mut root = dest.join(container);
    if let Some(parent) = Path::new(source.trim_end_matches('/')).parent() {
        root.extend(parent.components().filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        }));
    }
    root
}

/// Copies `spec.source` out of `target`. The error is the reason, for the
/// container's line.
pub async fn copy(host: &Host, target: &Target, spec: &CopySpec) -> Result<Copied, String> {
    let mut download = tempfile::Builder::new()
        .prefix(".kura-cp-")
        .suffix(".tar.part")
        // As any new file: 0666 less the umask (a temporary file's 0600 otherwise).
        .permissions(Permissions::from_mode(0o666))
        .tempfile_in(&spec.dest)
        .map_err(|e| format!("cannot write in {}: {e}", spec.dest.display()))?;
    let options = DownloadFromContainerOptions { path: spec.source.clone() };
    let mut body = host.docker.download_from_container(&target.id, Some(options));
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| docker_reason(&e))?;
        download.write_all(&chunk).map_err(|e| format!("writing {}: {e}", download.path().display()))?;
    }
    download.as_file().sync_all().map_err(|e| format!("writing {}: {e}", download.path().display()))?;
    let reopen = || download.reopen().map_err(|e| format!("reading {}: {e}", download.path().display()));
    let entries = entries(reopen()?)?;
    if spec.extract {
        let root = extract_root(&spec.dest, &target.name, &spec.source);
        unpack(reopen()?, &root)?;
        let top =
            Path::new(spec.source.trim_end_matches('/')).file_name().map_or_else(|| root.clone(), |n| root.join(n));
        return Ok(Copied { path: top, entries });
    }
    let path = spec.dest.join(archive_name(&target.name, &spec.source));
    download.persist(&path).map_err(|e| format!("renaming into {}: {}", path.display(), e.error))?;
    Ok(Copied { path, entries })
}

/// The archive's entries, in order.
fn entries(file: File) -> Result<Vec<Line>, String> {
    let unreadable = |e: std::io::Error| format!("the archive Docker sent is unreadable: {e}");
    let mut archive = tar::Archive::new(file);
    let mut lines = Vec::new();
    for entry in archive.entries().map_err(unreadable)? {
        lines.push(Line::of(&entry.map_err(unreadable)?).map_err(unreadable)?);
    }
    Ok(lines)
}

/// Unpacks into `root` with modes and times, and owners when run as root
/// (only root may give files away). Entries that would land outside `root`
/// are refused by the tar crate.
fn unpack(file: File, root: &Path) -> Result<(), String> {
    fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let mut archive = tar::Archive::new(file);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_preserve_ownerships(rustix::process::geteuid().is_root());
    archive.set_unpack_xattrs(false);
    archive.unpack(root).map_err(|e| format!("unpacking into {}: {e}", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_named_after_the_container_and_the_path() {
        assert_eq!(archive_name("web1", "/etc/nginx/"), "web1_etc_nginx.tar");
        assert_eq!(archive_name("web1", "/root"), "web1_root.tar");
        assert_eq!(archive_name("web1", "/"), "web1_.tar");
        assert_eq!(archive_name("web1", "relative/x"), "web1_relative_x.tar");
    }

    #[test]
    fn extraction_mirrors_the_containers_tree() {
        let dest = Path::new("/var/tmp/jobs");
        assert_eq!(extract_root(dest, "web1", "/etc/nginx/"), Path::new("/var/tmp/jobs/web1/etc"));
        assert_eq!(extract_root(dest, "web1", "/root"), Path::new("/var/tmp/jobs/web1"));
        assert_eq!(extract_root(dest, "web1", "/"), Path::new("/var/tmp/jobs/web1"));
        assert_eq!(extract_root(dest, "web1", "/a/../../b/c"), Path::new("/var/tmp/jobs/web1/a/b"));
    }
}
