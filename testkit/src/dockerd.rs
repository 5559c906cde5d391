//! A private dockerd, for the tests that restart a daemon: its own data
//! root, exec root, pid file, socket and bridge, no iptables rules, so that
//! the shared test bed daemon is never touched. Stopped by its pid (its
//! containers removed first), its bridge deleted, when the guard drops.
//!
//! Not `--bridge=none`: a dockerd started so deletes the host's `docker0`
//! interface (moby's `removeDefaultBridgeInterface`), which is the shared
//! daemon's. Each private daemon gets a bridge of its own instead, made
//! here with `ip link` and given to it with `--bridge`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::sync::atomic::{AtomicU32, Ordering};

use crate::docker::{cli, IMAGE};
use crate::process::wait_until;

/// A private dockerd.
pub struct Dockerd {
    dir: tempfile::TempDir,
    live_restore: bool,
    child: Option<Child>,
    bridge: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Dockerd {
    /// Starts one (with `--live-restore` when asked) and loads the test
    /// image into it from the test bed's daemon.
    pub fn start(live_restore: bool) -> Result<Dockerd, String> {
        let dir = tempfile::Builder::new()
            .prefix("kura-dockerd-")
            .tempdir_in("/var/tmp")
            .map_err(|e| format!("temporary folder: {e}"))?;
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // At most 15 characters; a /24 of its own in 10.213.0.0/16.
        let bridge = format!("kura{}", (pid % 100_000) * 10 + n % 10);
        let address = format!("10.213.{}.1/24", (pid * 10 + n) % 250);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        let mut daemon = Dockerd { dir, live_restore, child: None, bridge };
        ip(&["addr", "add", &address, "dev", &daemon.bridge])?;
        ip(&["link", "set", &daemon.bridge, "up"])?;
        daemon.run()?;
        let save = Command::new(cli()).args(["save", IMAGE]).stdout(Stdio::piped()).spawn();
        let mut save = save.map_err(|e| format!("docker save: {e}"))?;
        let stdout = save.stdout.take().ok_or("docker save: no output")?;
        let load = Command::new(cli()).args(["-H", &daemon.endpoint(), "load"]).stdin(stdout).output();
        let load = load.map_err(|e| format!("docker load: {e}"))?;
        let _ = save.wait();
        if !load.status.success() {
            return Err(format!("loading {IMAGE}: {}", String::from_utf8_lossy(&load.stderr).trim()));
        }
        Ok(daemon)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The socket.
    pub fn socket(&self) -> PathBuf {
        self.path("docker.sock")
    }

    /// `unix://` + the socket.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn run(&mut self) -> Result<(), String> {
        let log = std::fs::File::create(self.path("dockerd.log")).map_err(|e| format!("dockerd log: {e}"))?;
        let mut command = Command::new("dockerd");
        command
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--exec-root")
            .arg(self.path("exec"))
            .arg("--pidfile")
            .arg(self.path("docker.pid"))
            .arg("--host")
            .arg(self.endpoint())
            .arg(format!("--bridge={}", self.bridge))
            .args(["--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if self.live_restore {
            command.arg("--live-restore");
        }
        self.child = Some(command.spawn().map_err(|e| format!("cannot start dockerd: {e}"))?);
        let socket = self.socket();
        if !wait_until(Duration::from_secs(60), || ping(&socket)) {
            return Err(format!(
                "the private dockerd did not answer within 60 s; see {}",
                self.path("dockerd.log").display()
            ));
        }
        Ok(())
    }

    /// Stops the daemon by its pid (SIGTERM, SIGKILL after 30 s) and reaps it.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        if !wait_until(Duration::from_secs(30), || matches!(child.try_wait(), Ok(Some(_)))) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }

    /// Stops the daemon and starts it again on the same folders.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.run()
    }

    /// Runs the docker CLI against this daemon; stdout, or the error.
    pub fn docker(&self, args: &[&str]) -> Result<String, String> {
        let output = Command::new(cli()).args(["-H", &self.endpoint()]).args(args).output();
        let output = output.map_err(|e| format!("docker: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(format!("docker {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            if let Ok(ids) = self.docker(&["ps", "-aq"]) {
                for id in ids.lines() {
                    let _ = self.docker(&["rm", "-f", id]);
                }
            }
        }
        self.stop();
        let _ = Command::new("umount").arg("-R").arg("-l").arg(self.path("data")).status();
        let _ = Command::new("umount").arg("-R").arg("-l").arg(self.path("exec")).status();
        let _ = ip(&["link", "delete", &self.bridge]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!("ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

fn ping(socket: &Path) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut answer = String::new();
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n").is_ok()
        && stream.read_to_string(&mut answer).is_ok()
        && answer.ends_with("OK")
}
