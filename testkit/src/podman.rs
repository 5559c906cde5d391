//! Podman, the second Docker-compatible daemon: a private
//! `podman system service` on its own socket, over the test bed's Podman
//! storage (`scripts/testbed` imports the test image there), stopped by pid
//! when its guard drops.
//!
//! Containers are made with the podman CLI on the same storage
//! ([`Podman::container`], or any [`ContainerSpec`] moved with
//! `.on(Engine::Podman)`), so they are the service's containers, and are
//! removed by their guards like Docker's.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::docker::{ContainerSpec, Engine, IMAGE};
use crate::process::{have_program, read_lossy, stop, wait_until};

/// The flags every Podman container of the tests needs: in this sandbox
/// runc refuses Podman's default rlimits ("error setting rlimit type 7").
pub const RUN_FLAGS: [&str; 4] = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"];

/// The test bed's Podman storage (`$KURA_TESTBED_DIR/podman`, by default
/// `/var/tmp/kura-testbed/podman`), never the host's `/var/lib/containers`.
pub fn storage() -> PathBuf {
    let state = std::env::var_os("KURA_TESTBED_DIR").unwrap_or_else(|| "/var/tmp/kura-testbed".into());
    PathBuf::from(state).join("podman")
}

/// The podman CLI on the test bed's storage.
pub fn cli() -> Command {
    let storage = storage();
    let mut command = Command::new("podman");
    command.arg("--root").arg(storage.join("root")).arg("--runroot").arg(storage.join("runroot"));
    command
}

/// Whether podman is installed and the test image is in its storage; the
/// reason when not.
pub fn available() -> Result<(), String> {
    if !have_program("podman") {
        return Err("podman is not installed".to_owned());
    }
    let image = cli().args(["image", "exists", IMAGE]).status();
    match image {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(format!("image {IMAGE} is missing from Podman's test storage {}", storage().display())),
        Err(e) => Err(format!("cannot run podman: {e}")),
    }
}

/// A running `podman system service --time=0` on a private socket.
pub struct Podman {
    child: Child,
    dir: tempfile::TempDir,
}

impl Podman {
    /// Starts the service and waits (up to 30 s) until its `/_ping`
    /// answers `OK`; the reason when it cannot.
    pub fn start() -> Result<Podman, String> {
        available()?;
        let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let log = std::fs::File::create(dir.path().join("service.log")).map_err(|e| format!("service log: {e}"))?;
        let socket = dir.path().join("podman.sock");
        let child = cli()
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start podman system service: {e}"))?;
        let mut podman = Podman { child, dir };
        let mut last = String::new();
        let up = wait_until(Duration::from_secs(30), || match crate::docker::ping(&podman.socket()) {
            Ok(()) => true,
            Err(reason) => {
                last = reason;
                false
            }
        });
        if !up {
            let log = podman.log();
            stop(&mut podman.child);
            return Err(format!("podman system service did not answer within 30 s ({last}); its log: {log}"));
        }
        Ok(podman)
    }

    /// The service's socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    /// The endpoint as kura's configuration writes it (`unix:///...`).
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// What the service wrote on stderr so far.
    pub fn log(&self) -> String {
        read_lossy(&self.dir.path().join("service.log"))
    }

    /// A container of this service (the test bed's Podman storage), named
    /// like every test container and removed by its guard.
    pub fn container(&self, prefix: &str) -> ContainerSpec {
        ContainerSpec::new(prefix).on(Engine::Podman)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
