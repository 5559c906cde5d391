//! Containers on the test bed's real dockerd (or its Podman, see
//! [`crate::podman`]), managed through the engine's CLI.
//!
//! Every container a test starts carries the label [`TEST_LABEL`] and a
//! unique name, and is removed (with its anonymous volumes) when its
//! [`Container`] guard drops, even when the test panics.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::process::{have_program, wait_until};

/// The image the test bed builds from busybox-static.
pub const IMAGE: &str = "kura-test/busybox:latest";
/// The label every test container carries (value: the test process id).
pub const TEST_LABEL: &str = "kura.test";
/// The test bed's Docker socket.
pub const SOCKET: &str = "/var/run/docker.sock";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The docker CLI to use: Debian's `/usr/bin/docker` (the test bed's), else `docker` on PATH.
pub fn cli() -> &'static str {
    if have_program("/usr/bin/docker") {
        "/usr/bin/docker"
    } else {
        "docker"
    }
}

/// Whether the daemon on the unix socket `socket` answers `GET /_ping` with
/// `OK`; the reason when not.
pub fn ping(socket: &Path) -> Result<(), String> {
    let ping = || -> std::io::Result<String> {
        let mut stream = UnixStream::connect(socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    match ping() {
        Ok(answer) if answer.ends_with("OK") => Ok(()),
        Ok(answer) => Err(format!("the daemon at {} answered /_ping with {answer:?}", socket.display())),
        Err(e) => Err(format!("the daemon at {} does not answer /_ping: {e}", socket.display())),
    }
}

/// Whether the dockerd at [`SOCKET`] answers `GET /_ping` with `OK`, and the
/// test image is present. Returns the reason when not.
pub fn available() -> Result<(), String> {
    ping(Path::new(SOCKET))?;
    let image = docker(&["image", "inspect", "--format", "{{.Id}}", IMAGE]);
    if !image.status.success() {
        return Err(format!("image {IMAGE} is missing"));
    }
    Ok(())
}

/// Runs the docker CLI and returns its output (never panics on failure).
pub fn docker(args: &[&str]) -> Output {
    Engine::Docker.run(args)
}

/// Runs the docker CLI, panics with its stderr on failure, returns trimmed stdout.
pub fn docker_ok(args: &[&str]) -> String {
    Engine::Docker.run_ok(args)
}

/// The container engine whose CLI manages a test container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The test bed's dockerd, through the docker CLI.
    Docker,
    /// The test bed's Podman storage, through the podman CLI (see [`crate::podman`]).
    Podman,
}

impl Engine {
    /// The engine's CLI, with the flags that choose the test bed's storage.
    pub fn command(self) -> Command {
        match self {
            Engine::Docker => Command::new(cli()),
            Engine::Podman => crate::podman::cli(),
        }
    }

    /// Runs the CLI and returns its output (never panics on failure).
    pub fn run(self, args: &[&str]) -> Output {
        match self.command().args(args).output() {
            Ok(output) => output,
            Err(e) => panic!("cannot run {self:?}'s CLI with {}: {e}", args.join(" ")),
        }
    }

    /// Runs the CLI, panics with its stderr on failure, returns trimmed stdout.
    pub fn run_ok(self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "{self:?}: {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

/// The ids of all containers left by test processes (label [`TEST_LABEL`]).
pub fn test_containers() -> Vec<String> {
    docker_ok(&["ps", "-aq", "--no-trunc", "--filter", &format!("label={TEST_LABEL}")])
        .lines()
        .map(str::to_owned)
        .collect()
}

/// What to start: a builder over `docker run`/`docker create` flags.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    engine: Engine,
    name: String,
    flags: Vec<String>,
    command: Vec<String>,
}

impl ContainerSpec {
    /// A container on the test bed's dockerd named
    /// `kura-test-<prefix>-<pid>-<n>` running `sleep 3600`.
    pub fn new(prefix: &str) -> ContainerSpec {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        ContainerSpec {
            engine: Engine::Docker,
            name: format!("kura-test-{prefix}-{pid}-{n}"),
            flags: vec!["--label".into(), format!("{TEST_LABEL}={pid}")],
            command: vec!["sleep".into(), "3600".into()],
        }
    }

    /// The same container on another engine. Podman's gets the rlimit
    /// flags runc needs in this sandbox (see [`crate::podman`]).
    pub fn on(mut self, engine: Engine) -> ContainerSpec {
        if engine == Engine::Podman && self.engine != Engine::Podman {
            self.flags.extend(crate::podman::RUN_FLAGS.iter().map(|flag| (*flag).to_owned()));
        }
        self.engine = engine;
        self
    }

    /// Names the container `name` instead (still labelled, still removed
    /// by its guard): for a container re-created under the name of one
    /// that is gone.
    pub fn named(mut self, name: &str) -> ContainerSpec {
        name.clone_into(&mut self.name);
        self
    }

    /// Adds the label `key=value`.
    pub fn label(mut self, key: &str, value: &str) -> ContainerSpec {
        self.flags.push("--label".into());
        self.flags.push(format!("{key}={value}"));
        self
    }

    /// Adds raw `docker run` flags, e.g. `["--memory", "8m"]`.
    pub fn flags<I: IntoIterator<Item = S>, S: Into<String>>(mut self, flags: I) -> ContainerSpec {
        self.flags.extend(flags.into_iter().map(Into::into));
        self
    }

    /// Runs `sh -c SCRIPT` instead of `sleep 3600`.
    pub fn shell(mut self, script: &str) -> ContainerSpec {
        self.command = vec!["sh".into(), "-c".into(), script.into()];
        self
    }

    /// The name the container will have.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `docker run -d`: starts the container.
    pub fn start(self) -> Container {
        self.launch("run", &["-d"])
    }

    /// `docker create`: creates the container without starting it.
    pub fn create(self) -> Container {
        self.launch("create", &[])
    }

    fn launch(self, verb: &str, extra: &[&str]) -> Container {
        let mut args: Vec<&str> = vec![verb];
        args.extend_from_slice(extra);
        args.extend(["--name", &self.name]);
        args.extend(self.flags.iter().map(String::as_str));
        args.push(IMAGE);
        args.extend(self.command.iter().map(String::as_str));
        // The guard exists before the CLI returns, so a half-created
        // container is removed too.
        let mut container = Container { engine: self.engine, name: self.name.clone(), id: String::new() };
        container.id = self.engine.run_ok(&args);
        container
    }
}

/// A test container, removed with `docker rm -f -v` when dropped.
#[derive(Debug)]
pub struct Container {
    engine: Engine,
    name: String,
    id: String,
}

impl Container {
    /// The container's name (without the leading `/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The full 64-character id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The engine that runs it.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// `docker inspect`'s `{{.State.Status}}`, e.g. `running`; `None` once removed.
    pub fn state(&self) -> Option<String> {
        let output = self.engine.run(&["inspect", "--format", "{{.State.Status}}", &self.name]);
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Waits until the container is in `state`; panics naming the last state
    /// seen when `timeout` passes.
    pub fn wait_state(&self, state: &str, timeout: Duration) {
        let mut last = None;
        let reached = wait_until(timeout, || {
            last = self.state();
            last.as_deref() == Some(state)
        });
        assert!(reached, "container {} did not become {state} within {timeout:?} (last: {last:?})", self.name);
    }

    /// Runs `docker <verb> <name>` (e.g. `pause`, `stop`; `podman` for a
    /// Podman container), panicking on failure.
    pub fn docker(&self, verb: &str) {
        self.engine.run_ok(&[verb, &self.name]);
    }

    /// `docker rename`: the container keeps its id under `name`, and its
    /// guard follows it.
    pub fn rename(&mut self, name: &str) {
        self.engine.run_ok(&["rename", &self.name, name]);
        name.clone_into(&mut self.name);
    }

    /// Runs a command inside the container and returns its stdout.
    pub fn exec(&self, command: &[&str]) -> String {
        let mut args = vec!["exec", self.name.as_str()];
        args.extend_from_slice(command);
        self.engine.run_ok(&args)
    }

    /// The container's IP address on the default bridge.
    pub fn ip(&self) -> String {
        self.engine.run_ok(&["inspect", "--format", "{{.NetworkSettings.IPAddress}}", &self.name])
    }

    /// Removes the container now (what drop does), e.g. to test a container
    /// vanishing mid-sample.
    pub fn remove(&self) {
        // By id once known: a test may have renamed it.
        let target = if self.id.is_empty() { &self.name } else { &self.id };
        let _ = self.engine.run(&["rm", "-f", "-v", target]);
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The test bed's TLS material (see `scripts/testbed`): `client/` holds a
/// right `ca.pem`, `cert.pem` and `key.pem`; `other/` the same client
/// certificate with a CA that signed nothing of the daemon's.
pub const TLS_DIR: &str = "/var/tmp/kura-testbed/tls";
/// The daemon's TLS listener; its certificate is valid for IP 127.0.0.1 only.
pub const TLS_ENDPOINT: &str = "https://127.0.0.1:2376";
