//! A small ext4 file system on a loop device that the kernel turns
//! read-only mid-run, as it does when a disk fails: an ext4 error (written
//! to `/sys/fs/ext4/<device>/trigger_fs_error`, the kernel's own test
//! hook) on a file system mounted `errors=remount-ro` aborts its journal,
//! and every write then fails with EROFS, files already open included.
//! [`Ext4::repair`] checks it (`e2fsck`) and mounts it again at the same
//! place, as an operator would. Needs root (the test bed runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The image's file name (the suite's leftover check looks for it in `losetup -a`).
pub const IMAGE: &str = "kura-test-ext4.img";

/// An ext4 image mounted on a fresh folder; unmounted and its loop
/// devices detached when dropped.
pub struct Ext4 {
    dir: tempfile::TempDir,
    /// The loop device of the mounted file system.
    device: Option<String>,
}

fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let output = Command::new(program).args(args).output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{program} {} failed: {}", args.join(" "), stderr.trim()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

impl Ext4 {
    /// Makes an image of `mib` MiB, formats it and mounts it; the reason
    /// when it cannot.
    pub fn mount(mib: u32) -> Result<Ext4, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let image = dir.path().join(IMAGE);
        std::fs::File::create(&image)
            .and_then(|file| file.set_len(u64::from(mib) << 20))
            .map_err(|e| format!("{}: {e}", image.display()))?;
        run("mkfs.ext4", &["-q", "-F", &image.to_string_lossy()])?;
        std::fs::create_dir(dir.path().join("mnt")).map_err(|e| format!("mount point: {e}"))?;
        let mut ext4 = Ext4 { dir, device: None };
        ext4.attach_and_mount()?;
        Ok(ext4)
    }

    /// Where it is mounted.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("mnt")
    }

    fn image(&self) -> PathBuf {
        self.dir.path().join(IMAGE)
    }

    /// A new loop device for the image (never one still held by the
    /// previous mount), mounted at [`Ext4::path`].
    fn attach_and_mount(&mut self) -> Result<(), String> {
        let device = run("losetup", &["--find", "--show", &self.image().to_string_lossy()])?;
        self.device = Some(device.clone());
        run("mount", &["-t", "ext4", "-o", "errors=remount-ro", &device, &self.path().to_string_lossy()])?;
        Ok(())
    }

    /// Raises an ext4 error: the kernel aborts the journal and makes the
    /// file system read-only at once.
    pub fn fail(&self) -> Result<(), String> {
        let device = self.device.as_ref().ok_or("not mounted")?;
        let name = Path::new(device).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let hook = format!("/sys/fs/ext4/{name}/trigger_fs_error");
        std::fs::write(&hook, "kura test: the disk failed").map_err(|e| format!("{hook}: {e}"))
    }

    /// Unmounts the failed file system (lazily: processes may still hold
    /// its files), checks and repairs the image, and mounts it again, read
    /// and write, at the same place. Files opened before stay on the old,
    /// read-only mount until they are closed.
    pub fn repair(&mut self) -> Result<(), String> {
        run("umount", &["-l", &self.path().to_string_lossy()])?;
        self.detach();
        let image = self.image();
        let checked = Command::new("e2fsck").args(["-f", "-y"]).arg(&image).output();
        // 0: clean, 1: errors corrected (a replayed journal, counts).
        match checked.as_ref().ok().and_then(|o| o.status.code()) {
            Some(0 | 1) => {}
            _ => return Err(format!("e2fsck of {} failed: {checked:?}", image.display())),
        }
        self.attach_and_mount()
    }
}

impl Ext4 {
    /// Detaches the loop device; one still held (by a lazily unmounted
    /// file system whose files are open) is detached when it is released.
    fn detach(&mut self) {
        if let Some(device) = self.device.take() {
            let _ = Command::new("losetup").args(["-d", &device]).status();
        }
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        self.detach();
    }
}
