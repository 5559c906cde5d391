//! A small private tmpfs: a file system that really fills up, for the
//! disk-full tests. Mounting needs root (the test bed runs as root).

use std::path::Path;
use std::process::Command;

/// A tmpfs of a fixed size mounted on a fresh temporary folder, unmounted
/// (lazily, should a process still hold a file) when dropped.
pub struct Tmpfs {
    mount: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB; the error says why it could not.
    pub fn mount(mib: u32) -> Result<Tmpfs, String> {
        let mount = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m,mode=0700"), "tmpfs"])
            .arg(mount.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
        }
        Ok(Tmpfs { mount })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.mount.path()
    }

    /// Fills the file system with `name` until a write fails for want of
    /// space; returns the bytes written.
    pub fn fill(&self, name: &str) -> std::io::Result<u64> {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join(name))?;
        let chunk = vec![0xa5u8; 64 << 10];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => return Ok(written),
                Ok(n) => written += u64::try_from(n).unwrap_or(u64::MAX),
                Err(e) if e.raw_os_error() == Some(28) => return Ok(written),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}
