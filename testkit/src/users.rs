//! Real second users and groups for the tests of a collector and a `kura`
//! that run as different users: made with `useradd`/`groupadd` (the test
//! bed runs as root), removed with `userdel`/`groupdel` when their guards
//! drop. Names start with [`PREFIX`], so the suite's leftover check finds
//! any a crashed test left.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::{have_program, wait_until};

/// The first letters of every test user's and group's name.
pub const PREFIX: &str = "kura-t";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique(kind: &str) -> String {
    format!("{PREFIX}{kind}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Runs a shadow-utils command, again while another one holds the lock on
/// `/etc/passwd` (tests make users in parallel): the reason when it fails.
fn shadow(program: &str, args: &[&str]) -> Result<(), String> {
    if !have_program(program) {
        return Err(format!("{program} is not installed"));
    }
    let mut last: Option<Output> = None;
    let done = wait_until(Duration::from_secs(30), || {
        let output = Command::new(program).args(args).output();
        let ok = output.as_ref().is_ok_and(|o| o.status.success());
        last = output.ok();
        ok
    });
    if done {
        return Ok(());
    }
    let why = last.map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned()).unwrap_or_default();
    Err(format!("{program} {} failed: {why}", args.join(" ")))
}

/// The id in the third field of the `/etc/passwd` or `/etc/group` line of `name`.
fn id_of(file: &str, name: &str) -> Result<u32, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
    text.lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            (fields.next()? == name).then_some(())?;
            fields.nth(1)?.parse().ok()
        })
        .ok_or_else(|| format!("{name} is not in {file}"))
}

/// A group that exists while its guard lives.
#[derive(Debug)]
pub struct TestGroup {
    name: String,
    gid: u32,
}

impl TestGroup {
    /// `groupadd --system kura-tg-<pid>-<n>`.
    pub fn create() -> Result<TestGroup, String> {
        let name = unique("g");
        shadow("groupadd", &["--system", &name])?;
        let gid = id_of("/etc/group", &name)?;
        Ok(TestGroup { name, gid })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its id.
    pub fn gid(&self) -> u32 {
        self.gid
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = shadow("groupdel", &[&self.name]);
    }
}

/// A user without a home or a login shell, with a group of its own, that
/// exists while its guard lives.
#[derive(Debug)]
pub struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
}

impl TestUser {
    /// `useradd --system --user-group kura-tu-<pid>-<n>`, a member of
    /// `groups` besides its own.
    pub fn create(groups: &[&TestGroup]) -> Result<TestUser, String> {
        let name = unique("u");
        let list: Vec<&str> = groups.iter().map(|g| g.name()).collect();
        let list = list.join(",");
        let mut args = vec!["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"];
        args.extend(["--shell", "/usr/sbin/nologin"]);
        if !list.is_empty() {
            args.extend(["--groups", &list]);
        }
        args.push(&name);
        shadow("useradd", &args)?;
        let uid = id_of("/etc/passwd", &name)?;
        let gid = id_of("/etc/group", &name)?;
        Ok(TestUser { name, uid, gid })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// `program` run as this user, with its groups (`setpriv --init-groups`).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(program);
        command
    }

    /// Gives `path` (a folder, made if missing) to this user.
    pub fn own(&self, path: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(path)?;
        std::os::unix::fs::chown(path, Some(self.uid), Some(self.gid))
    }

    /// The files and folders under `path` (itself included) that do not
    /// belong to this user.
    pub fn not_owned(&self, path: &Path) -> Vec<String> {
        let mut strangers = Vec::new();
        let mut pending = vec![path.to_path_buf()];
        while let Some(next) = pending.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&next) else { continue };
            if meta.uid() != self.uid {
                strangers.push(format!("{} (uid {})", next.display(), meta.uid()));
            }
            if meta.is_dir() {
                pending.extend(std::fs::read_dir(&next).into_iter().flatten().flatten().map(|e| e.path()));
            }
        }
        strangers
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = shadow("userdel", &[&self.name]);
    }
}
