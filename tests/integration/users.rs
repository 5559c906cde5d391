//! The collector and `kura` as different users, with real second users
//! (testkit::users): a user who may not read the data folder is told so,
//! a `socket_group` lets its members query the running collector, root
//! reading a stopped collector's store leaves no file of its own there, a
//! collector denied the Docker socket stops at start, `DOCKER_HOST` names
//! the local daemon, and the local host keeps its first name when the
//! machine is renamed (`unshare --uts`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use kura_store::{Reader, SweepOutcome};
use testkit::process::{stop, wait_until, workspace_bin};
use testkit::users::{TestGroup, TestUser};

use crate::foundation::docker_available;

/// A host nothing listens on: its sweeps are recorded down, quickly, and
/// need no access to any Docker socket.
const FAR: &str = "far=tcp://127.0.0.1:1";

/// A folder every user may enter, holding the data folder `data`.
struct Shared(tempfile::TempDir);

impl Shared {
    fn new() -> Shared {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Shared(dir)
    }

    fn data(&self) -> PathBuf {
        self.0.path().join("data")
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A test user, or `None` (after [`testkit::peer_unavailable`]) when
/// users cannot be made here.
fn user(groups: &[&TestGroup]) -> Option<TestUser> {
    match TestUser::create(groups) {
        Ok(user) => Some(user),
        Err(reason) => {
            testkit::peer_unavailable("a second user (useradd)", &reason);
            None
        }
    }
}

fn group() -> Option<TestGroup> {
    match TestGroup::create() {
        Ok(group) => Some(group),
        Err(reason) => {
            testkit::peer_unavailable("a test group (groupadd)", &reason);
            None
        }
    }
}

/// `kura-collector --once` on [`FAR`] into `data`, as `user` (root when `None`).
fn collect_once(user: Option<&TestUser>, data: &Path) -> Output {
    let bin = workspace_bin("kura-collector");
    let mut command = match user {
        Some(user) => user.command(&bin),
        None => Command::new(&bin),
    };
    command.args(["--once", "--timeout", "1s", "--docker", FAR]).arg("--data").arg(data);
    command.output().unwrap()
}

/// `kura ARGS --data DATA` as `user` (root when `None`).
fn kura_as(user: Option<&TestUser>, data: &Path, args: &[&str]) -> Output {
    let bin = workspace_bin("kura");
    let mut command = match user {
        Some(user) => user.command(&bin),
        None => Command::new(&bin),
    };
    command.args(args).arg("--data").arg(data).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A running collector on [`FAR`] (root), stderr in a file, stopped by pid.
struct Collector {
    child: std::process::Child,
    stderr: PathBuf,
}

impl Collector {
    fn start(data: &Path, extra: &[&str]) -> Collector {
        let stderr = data.with_extension("stderr");
        let file = std::fs::File::create(&stderr).unwrap();
        let child = Command::new(workspace_bin("kura-collector"))
            .args(["--interval", "500ms", "--timeout", "1s", "--docker", FAR])
            .arg("--data")
            .arg(data)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let collector = Collector { child, stderr };
        let serving = wait_until(Duration::from_secs(30), || {
            Reader::open(data)
                .is_ok_and(|r| matches!(r, Reader::Socket(_)) && r.latest_sweep("far").is_ok_and(|s| s.is_some()))
        });
        assert!(serving, "the collector did not serve a sweep: {}", testkit::process::read_lossy(&collector.stderr));
        collector
    }

    /// SIGTERM, and its exit status.
    fn stop(mut self) -> Option<i32> {
        stop(&mut self.child);
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

#[test]
fn a_user_who_may_not_read_the_data_folder_is_told_permission_denied_naming_it() {
    let Some(other) = user(&[]) else { return };
    let shared = Shared::new();
    let data = shared.data();
    let collector = Collector::start(&data, &[]);
    let running = kura_as(Some(&other), &data, &["status"]);
    assert_eq!(collector.stop(), Some(0));
    let stopped = kura_as(Some(&other), &data, &["status"]);
    for (when, output) in [("running", &running), ("stopped", &stopped)] {
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "collector {when}: {stderr}");
        assert!(output.stdout.is_empty(), "collector {when}");
        let denied = format!("permission denied on {}", data.join("kura.sock").display());
        assert!(stderr.contains(&denied), "collector {when}: {stderr}");
        assert!(stderr.contains(&format!("{} belongs to user root", data.display())), "{stderr}");
        assert!(stderr.contains("mode 0700") && !stderr.contains("no store"), "collector {when}: {stderr}");
    }
    // Without --data or KURA_DATA every user looks in the same place as root.
    let default = other.command(workspace_bin("kura")).arg("status").env_remove("KURA_DATA").output().unwrap();
    assert!(text(&default.stderr).contains("/var/lib/kura"), "{}", text(&default.stderr));
}

#[test]
fn a_socket_group_lets_its_members_query_the_running_collector() {
    let Some(hinemos) = group() else { return };
    let Some(agent) = user(&[&hinemos]) else { return };
    let Some(stranger) = user(&[]) else { return };
    let shared = Shared::new();
    let data = shared.data();
    let config = shared.path().join("collector.toml");
    std::fs::write(&config, format!("socket_group = {:?}\n", hinemos.name())).unwrap();
    let collector = Collector::start(&data, &["--config", config.to_str().unwrap()]);
    let meta = |path: &Path| std::fs::metadata(path).map(|m| (m.mode() & 0o7777, m.gid())).unwrap();
    assert_eq!(meta(&data), (0o750, hinemos.gid()));
    assert_eq!(meta(&data.join("kura.sock")), (0o660, hinemos.gid()));
    let member = kura_as(Some(&agent), &data, &["status"]);
    let outsider = kura_as(Some(&stranger), &data, &["status"]);
    assert_eq!(collector.stop(), Some(0));
    let after = kura_as(Some(&agent), &data, &["status"]);

    assert_eq!(
        (text(&member.stdout), member.status.code()),
        ("Status,1\n".to_owned(), Some(0)),
        "{}",
        text(&member.stderr)
    );
    assert_eq!(outsider.status.code(), Some(1));
    assert!(text(&outsider.stderr).contains("permission denied"), "{}", text(&outsider.stderr));
    // Stopped, the store is the collector's user's alone: the member is told why.
    let stderr = text(&after.stderr);
    assert_eq!(after.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("permission denied") && stderr.contains("is kura-collector running?"), "{stderr}");
}

#[test]
fn root_reads_a_stopped_collectors_store_as_its_owner_and_leaves_no_file_of_its_own() {
    let Some(owner) = user(&[]) else { return };
    let shared = Shared::new();
    let data = shared.data();
    owner.own(&data).unwrap();
    for _ in 0..2 {
        let run = collect_once(Some(&owner), &data);
        assert!(run.status.success(), "{}", text(&run.stderr));
    }
    let read = kura_as(None, &data, &["status", "--host", "far"]);
    assert_eq!(text(&read.stdout), "Status,1\n", "{}", text(&read.stderr));
    assert_eq!(owner.not_owned(&data), Vec::<String>::new(), "root's read left files of its own");
    let again = collect_once(Some(&owner), &data);
    assert!(
        again.status.success(),
        "the collector's user cannot use its store after root read it: {}",
        text(&again.stderr)
    );
    let sweeps = Reader::open(&data).and_then(|r| r.sweeps("far", 0, i64::MAX)).map(|s| s.len());
    assert_eq!(sweeps.ok(), Some(3));
}

#[test]
fn a_collector_denied_the_docker_socket_stops_at_start_with_status_2() {
    if !docker_available() {
        return;
    }
    let Some(outsider) = user(&[]) else { return };
    let shared = Shared::new();
    let data = shared.data();
    outsider.own(&data).unwrap();
    let mut child = outsider
        .command(workspace_bin("kura-collector"))
        .arg("--data")
        .arg(&data)
        .args(["--docker", &format!("local=unix://{}", testkit::docker::SOCKET)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = wait_until(Duration::from_secs(30), || matches!(child.try_wait(), Ok(Some(_))));
    if !exited {
        stop(&mut child);
    }
    let output = child.wait_with_output().unwrap();
    assert!(exited, "the collector kept running without access to the Docker socket");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let denied = format!("host local: permission denied on the Docker socket {}", testkit::docker::SOCKET);
    assert!(stderr.contains(&denied), "{stderr}");
    assert!(!data.join("store").exists(), "a store was made before the configuration was checked");
}

#[test]
fn docker_host_names_the_local_daemon_when_nothing_else_does() {
    let shared = Shared::new();
    let data = shared.data();
    let absent = shared.path().join("absent.sock");
    let run = |docker_host: &str| {
        let mut command = Command::new(workspace_bin("kura-collector"));
        command.args(["--once", "--timeout", "1s"]).arg("--data").arg(&data).env("DOCKER_HOST", docker_host);
        command.output().unwrap()
    };
    let once = run(&format!("unix://{}", absent.display()));
    assert!(once.status.success(), "{}", text(&once.stderr));
    let reader = Reader::open(&data).unwrap();
    let hosts = reader.hosts().unwrap();
    assert_eq!(hosts, [kura_store::config::local_host_name()]);
    match reader.latest_sweep(&hosts[0]).unwrap().map(|s| s.outcome) {
        Some(SweepOutcome::Down(reason)) => assert!(reason.contains("No such file"), "{reason}"),
        other => panic!("the sweep should be down at {}: {other:?}", absent.display()),
    }
    drop(reader);
    let bad = run("ssh://somewhere");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("DOCKER_HOST=\"ssh://somewhere\""), "{}", text(&bad.stderr));
}

/// `kura-collector ARGS` with the machine named `hostname` (a UTS
/// namespace of its own) and no host configured.
fn as_machine(hostname: &str, data: &Path, args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["--uts", "sh", "-c", "hostname \"$1\" && shift && exec \"$@\"", "sh", hostname])
        .arg(workspace_bin("kura-collector"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("DOCKER_HOST")
        .output()
        .unwrap()
}

#[test]
fn the_local_host_keeps_its_first_name_when_the_machine_is_renamed() {
    if !docker_available() {
        return;
    }
    let shared = Shared::new();
    let data = shared.data();
    let (first, second) =
        (format!("kura-test-a-{}", std::process::id()), format!("kura-test-b-{}", std::process::id()));
    let hosts = || Reader::open(&data).and_then(|r| r.hosts()).unwrap();
    let sweeps = |host: &str| Reader::open(&data).and_then(|r| r.sweeps(host, 0, i64::MAX)).map(|s| s.len()).unwrap();
    let once = |name: &str| {
        let run = as_machine(name, &data, &["--once"]);
        assert!(run.status.success(), "{}", text(&run.stderr));
        text(&run.stderr)
    };
    once(&first);
    assert_eq!(hosts(), vec![first.clone()]);
    let renamed = once(&second);
    assert_eq!(hosts(), vec![first.clone()], "a renamed machine split its history");
    assert_eq!(sweeps(&first), 2);
    assert!(renamed.contains(&format!("its Docker's history stays under host {first}")), "{renamed}");
    let status = kura_as(None, &data, &["status"]);
    assert_eq!(text(&status.stdout), "Status,0\n", "{}", text(&status.stderr));

    // The operator renames the history; the next start keeps the new name.
    let rename = as_machine(&second, &data, &["--rename-host", &format!("{first}={second}")]);
    assert!(rename.status.success(), "{}", text(&rename.stderr));
    assert_eq!(hosts(), vec![second.clone()]);
    once(&second);
    assert_eq!((hosts(), sweeps(&second)), (vec![second.clone()], 3));
    let unknown = as_machine(&second, &data, &["--rename-host", &format!("{first}=x")]);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    assert!(text(&unknown.stderr).contains(&format!("unknown host {first}")), "{}", text(&unknown.stderr));
}
