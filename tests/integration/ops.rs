//! `kura-ops` (and `kura exec|cp|start|stop|restart|rm`, which hand over to
//! it) against the test bed's real dockerd: exec's output, streams, exit
//! codes and timeout; cp's archives with owners and modes; every state of
//! the start/stop/restart/rm table; dry runs; an unreachable host; a TLS
//! host from a configuration file.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use testkit::docker::{docker_ok, Container, ContainerSpec, TLS_DIR, TLS_ENDPOINT};
use testkit::process::workspace_bin;

use crate::foundation::docker_available;
use crate::tls::tls_available;

const WAIT: Duration = Duration::from_secs(60);

/// Runs `program args` with the host left to the defaults (the local socket).
fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(workspace_bin(program))
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("KURA_CONFIG")
        .stdin(Stdio::null())
        .output();
    output.unwrap_or_else(|e| panic!("{program} {}: {e}", args.join(" ")))
}

fn ops(args: &[&str]) -> Output {
    run("kura-ops", args)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The `-n` pattern that selects every container of this process made with `tag`.
fn all_of(tag: &str) -> String {
    format!("kura-test-{tag}-{}-*", std::process::id())
}

/// A child stopped by pid when dropped (a failed assertion leaves none behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        testkit::process::stop(&mut self.0);
    }
}

#[test]
fn exec_gives_the_commands_exit_code_and_keeps_stdout_and_stderr_apart() {
    if !docker_available() {
        return;
    }
    let c = ContainerSpec::new("ops-exec").start();
    let both = ops(&["exec", "-n", c.name(), "--", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(both.status.code(), Some(0), "{}", stderr(&both));
    assert_eq!(stdout(&both), "out\n");
    assert_eq!(stderr(&both), "err\n");

    let three = ops(&["exec", "-c", &c.id()[..12], "--", "sh", "-c", "exit 3"]);
    assert_eq!(three.status.code(), Some(3), "{}", stderr(&three));
    assert_eq!(stderr(&three), "", "a command's own exit code needs no message");

    // Killed by SIGKILL: Docker reports 128 + 9.
    let killed = ops(&["exec", "-n", c.name(), "--", "sh", "-c", "kill -9 $$"]);
    assert_eq!(killed.status.code(), Some(137), "{}", stderr(&killed));

    // Options reach the command.
    let options = ops(&[
        "exec",
        "-n",
        c.name(),
        "-u",
        "1234",
        "-w",
        "/tmp",
        "-e",
        "A=b c",
        "--",
        "sh",
        "-c",
        "echo $(id -u) $PWD $A",
    ]);
    assert_eq!(stdout(&options), "1234 /tmp b c\n", "{}", stderr(&options));

    // Through kura, which hands over to kura-ops with the same arguments.
    let delegated = run("kura", &["exec", "-n", c.name(), "--", "sh", "-c", "echo via kura; exit 4"]);
    assert_eq!(delegated.status.code(), Some(4), "{}", stderr(&delegated));
    assert_eq!(stdout(&delegated), "via kura\n");
    let help = run("kura", &["exec", "--help"]);
    assert!(stdout(&help).contains("Usage: kura-ops exec"), "{}", stdout(&help));
}

#[test]
fn exec_streams_each_line_as_it_comes() {
    if !docker_available() {
        return;
    }
    let c = ContainerSpec::new("ops-stream").start();
    // The command prints a line, then waits for a file only this test creates.
    let script = "echo first; while [ ! -e /tmp/go ]; do sleep 1; done; echo last";
    let child = Command::new(workspace_bin("kura-ops"))
        .args(["exec", "-n", c.name(), "--", "sh", "-c", script])
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("kura-ops: {e}"));
    let mut child = Running(child);
    let out = child.0.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    assert_eq!(received.recv_timeout(WAIT).expect("the first line within a minute"), "first");
    assert!(child.0.try_wait().unwrap().is_none(), "kura-ops ended before the command could");
    c.exec(&["touch", "/tmp/go"]);
    assert_eq!(received.recv_timeout(WAIT).expect("the last line after /tmp/go"), "last");
    assert!(child.0.wait().unwrap().success());
}

#[test]
fn exec_past_its_timeout_says_so_and_exits_124() {
    if !docker_available() {
        return;
    }
    let c = ContainerSpec::new("ops-timeout").start();
    let out = ops(&["exec", "-n", c.name(), "--timeout", "1s", "--", "sh", "-c", "echo before; exec sleep 600"]);
    assert_eq!(out.status.code(), Some(124), "{}", stderr(&out));
    assert_eq!(stdout(&out), "before\n");
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains(&format!("exec in {}: `sh -c echo before; exec sleep 600` outlived --timeout 1s", c.name()))
    );
}

#[test]
fn exec_in_several_containers_prefixes_each_line_and_exits_with_the_first_failure() {
    if !docker_available() {
        return;
    }
    let codes = [0, 2, 5];
    let containers: Vec<(Container, i32)> = codes
        .iter()
        .map(|code| {
            (ContainerSpec::new("ops-multi").flags(["--env".to_owned(), format!("CODE={code}")]).start(), *code)
        })
        .collect();
    let mut by_name: Vec<(&str, i32)> = containers.iter().map(|(c, code)| (c.name(), *code)).collect();
    by_name.sort();
    let first_failure = by_name.iter().map(|(_, code)| *code).find(|code| *code != 0).unwrap_or(0);
    let script = "echo hi from $CODE; echo oops >&2; exit $CODE";

    let out = ops(&["exec", "-n", &all_of("ops-multi"), "--", "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(first_failure), "{}", stderr(&out));
    let expected: String = by_name.iter().map(|(name, code)| format!("{name}: hi from {code}\n")).collect();
    assert_eq!(stdout(&out), expected);
    let expected: String = by_name.iter().map(|(name, _)| format!("{name}: oops\n")).collect();
    assert_eq!(stderr(&out), expected);

    let bare = ops(&["exec", "--no-prefix", "-n", &all_of("ops-multi"), "--", "sh", "-c", script]);
    let expected: String = by_name.iter().map(|(_, code)| format!("hi from {code}\n")).collect();
    assert_eq!(stdout(&bare), expected);

    // A stopped container among them: Docker cannot exec there (125).
    let stopped = ContainerSpec::new("ops-multi").create();
    let out = ops(&["exec", "-n", &all_of("ops-multi"), "--", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("exec in {}: Docker did not run `true`", stopped.name())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn cp_keeps_owners_and_modes_of_a_file_and_a_folder() {
    if !docker_available() {
        return;
    }
    let c = ContainerSpec::new("ops-cp").start();
    c.exec(&[
        "sh",
        "-c",
        "mkdir -p /data/sub && echo hello > /data/sub/f && chown 1234:5678 /data/sub/f && chmod 640 /data/sub/f \
         && chown 42:43 /data/sub && chmod 751 /data/sub",
    ]);
    let dest = tempfile::tempdir().unwrap();
    let dest_text = dest.path().display().to_string();

    // A file, kept as an archive: its path, then its listing.
    let out = ops(&["cp", "-n", c.name(), "/data/sub/f", &dest_text]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let archive = dest.path().join(format!("{}_data_sub_f.tar", c.name()));
    assert_eq!(lines[0], archive.display().to_string());
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[1].starts_with("-rw-r----- 1234/5678          6 ") && lines[1].ends_with(" f"), "{text}");
    let mut tar = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    let mut entries = tar.entries().unwrap();
    let mut entry = entries.next().unwrap().unwrap();
    let header = entry.header().clone();
    assert_eq!((header.uid().unwrap(), header.gid().unwrap(), header.mode().unwrap() & 0o7777), (1234, 5678, 0o640));
    let mut content = String::new();
    entry.read_to_string(&mut content).unwrap();
    assert_eq!(content, "hello\n");
    assert!(entries.next().is_none());

    // A folder, unpacked: the tree mirrors the container's, owners kept (we are root).
    let out = ops(&["cp", "-n", c.name(), "--extract", "/data/", &dest_text]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let top = dest.path().join(c.name()).join("data");
    assert_eq!(stdout(&out).lines().next(), Some(top.display().to_string().as_str()));
    assert!(
        stdout(&out).lines().any(|l| l.starts_with("drwxr-x--x 42/43 ") && l.ends_with(" data/sub/")),
        "{}",
        stdout(&out)
    );
    let sub = std::fs::metadata(top.join("sub")).unwrap();
    assert_eq!((sub.uid(), sub.gid(), sub.mode() & 0o7777), (42, 43, 0o751));
    let file = std::fs::metadata(top.join("sub/f")).unwrap();
    assert_eq!((file.uid(), file.gid(), file.mode() & 0o7777), (1234, 5678, 0o640));
    assert_eq!(std::fs::read_to_string(top.join("sub/f")).unwrap(), "hello\n");

    // --quiet: the path only.
    let quiet = ops(&["cp", "-q", "-n", c.name(), "/data", &dest_text]);
    assert_eq!(stdout(&quiet), format!("{}\n", dest.path().join(format!("{}_data.tar", c.name())).display()));

    // A path that is not there: that container failed (9), stderr says which.
    let missing = ops(&["cp", "-n", c.name(), "/nope", &dest_text]);
    assert_eq!(missing.status.code(), Some(9));
    assert!(stderr(&missing).contains(&format!("cp /nope from {}", c.name())), "{}", stderr(&missing));
    // A destination that is not there: an error before acting (1).
    let nowhere = ops(&["cp", "-n", c.name(), "/data", &dest.path().join("absent").display().to_string()]);
    assert_eq!(nowhere.status.code(), Some(1));
    assert!(stderr(&nowhere).contains("absent"), "{}", stderr(&nowhere));
}

/// Containers in each state an operation meets, selected by `all_of(tag)`.
struct States {
    created: Container,
    running: Container,
    paused: Container,
    exited: Container,
}

impl States {
    fn new(tag: &str) -> States {
        let created = ContainerSpec::new(tag).create();
        let running = ContainerSpec::new(tag).start();
        let paused = ContainerSpec::new(tag).start();
        paused.docker("pause");
        let exited = ContainerSpec::new(tag).shell("exit 0").start();
        paused.wait_state("paused", WAIT);
        exited.wait_state("exited", WAIT);
        States { created, running, paused, exited }
    }

    fn each(&self) -> [(&Container, &'static str); 4] {
        [(&self.created, "created"), (&self.running, "running"), (&self.paused, "paused"), (&self.exited, "exited")]
    }
}

/// Runs a lifecycle operation and returns its exit status and each
/// container's outcome by name, checking that every line starts with the
/// container's 12-character id.
fn outcomes(args: &[&str], states: &States) -> (Option<i32>, BTreeMap<String, String>) {
    let out = ops(args);
    let ids: BTreeMap<&str, &str> = states.each().iter().map(|(c, _)| (c.name(), &c.id()[..12])).collect();
    let mut found = BTreeMap::new();
    for line in stdout(&out).lines() {
        let mut parts = line.splitn(3, ' ');
        let (id, name, outcome) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(ids.get(name), Some(&id), "line {line:?}");
        found.insert(name.to_owned(), outcome.to_owned());
    }
    assert_eq!(found.len(), 4, "stdout {} stderr {}", stdout(&out), stderr(&out));
    (out.status.code(), found)
}

fn expect(states: &States, outcome: impl Fn(&str) -> String) -> BTreeMap<String, String> {
    states.each().iter().map(|(c, state)| (c.name().to_owned(), outcome(state))).collect()
}

fn skipped_unless(acts_on: &'static [&'static str]) -> impl Fn(&str) -> String {
    move |state| if acts_on.contains(&state) { "Success".to_owned() } else { format!("Skipped ({state})") }
}

#[test]
fn start_acts_on_exited_and_created_containers_only() {
    if !docker_available() {
        return;
    }
    let s = States::new("ops-start");
    let before = started_at(&s.exited);
    let (status, found) = outcomes(&["start", "-n", &all_of("ops-start")], &s);
    assert_eq!(found, expect(&s, skipped_unless(&["created", "exited"])));
    assert_eq!(status, Some(0));
    assert_eq!(s.created.state().as_deref(), Some("running"));
    assert_eq!(s.paused.state().as_deref(), Some("paused"));
    // `exit 0` ran again.
    assert_ne!(started_at(&s.exited), before, "the exited container was started anew");
}

fn started_at(c: &Container) -> String {
    docker_ok(&["inspect", "--format", "{{.State.StartedAt}}", c.name()])
}

#[test]
fn stop_acts_on_running_containers_only() {
    if !docker_available() {
        return;
    }
    let s = States::new("ops-stop");
    let (status, found) = outcomes(&["stop", "-n", &all_of("ops-stop"), "-t", "1"], &s);
    assert_eq!(found, expect(&s, skipped_unless(&["running"])));
    assert_eq!(status, Some(0));
    assert_eq!(s.running.state().as_deref(), Some("exited"));
    assert_eq!(s.paused.state().as_deref(), Some("paused"));
    assert_eq!(s.created.state().as_deref(), Some("created"));
}

#[test]
fn restart_acts_on_running_containers_only() {
    if !docker_available() {
        return;
    }
    let s = States::new("ops-restart");
    let before = started_at(&s.running);
    let (status, found) = outcomes(&["restart", "-n", &all_of("ops-restart"), "-t", "1"], &s);
    assert_eq!(found, expect(&s, skipped_unless(&["running"])));
    assert_eq!(status, Some(0));
    assert_eq!(s.running.state().as_deref(), Some("running"));
    assert_ne!(started_at(&s.running), before, "the running container was started anew");
    assert_eq!(s.exited.state().as_deref(), Some("exited"));
}

#[test]
fn rm_acts_on_exited_and_created_containers_unless_forced() {
    if !docker_available() {
        return;
    }
    let s = States::new("ops-rm");
    let (status, found) = outcomes(&["rm", "-n", &all_of("ops-rm"), "-v"], &s);
    assert_eq!(found, expect(&s, skipped_unless(&["created", "exited"])));
    assert_eq!(status, Some(0));
    assert_eq!((s.created.state(), s.exited.state()), (None, None));
    assert_eq!(s.running.state().as_deref(), Some("running"));

    let forced = States::new("ops-rmf");
    let (status, found) = outcomes(&["rm", "-f", "-n", &all_of("ops-rmf")], &forced);
    assert_eq!(found, expect(&forced, |_| "Success".to_owned()));
    assert_eq!(status, Some(0));
    assert!(forced.each().iter().all(|(c, _)| c.state().is_none()));
}

#[test]
fn a_dry_run_says_what_would_be_done_and_changes_nothing() {
    if !docker_available() {
        return;
    }
    let s = States::new("ops-dry");
    let pattern = all_of("ops-dry");
    for (args, verb, acts_on) in [
        (vec!["rm", "-f"], "remove", &["created", "running", "paused", "exited"][..]),
        (vec!["stop"], "stop", &["running"][..]),
        (vec!["start"], "start", &["created", "exited"][..]),
        (vec!["restart"], "restart", &["running"][..]),
    ] {
        let args: Vec<&str> = args.into_iter().chain(["--dry-run", "-n", &pattern]).collect();
        let (status, found) = outcomes(&args, &s);
        let would = |state: &str| {
            if acts_on.contains(&state) {
                format!("Would {verb}")
            } else {
                format!("Skipped ({state})")
            }
        };
        assert_eq!(found, expect(&s, would), "{args:?}");
        assert_eq!(status, Some(0));
        for (c, state) in s.each() {
            assert_eq!(c.state().as_deref(), Some(state), "{args:?} changed {}", c.name());
        }
    }
}

#[test]
fn one_failure_among_several_containers_exits_9() {
    if !docker_available() {
        return;
    }
    let good = ContainerSpec::new("ops-fail").create();
    let bad = ContainerSpec::new("ops-fail").flags(["--entrypoint", "/nonexistent"]).create();
    let out = ops(&["start", "-n", &all_of("ops-fail")]);
    assert_eq!(out.status.code(), Some(9), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&format!("{} {} Success\n", &good.id()[..12], good.name())), "{text}");
    let failed = format!("{} {} Failed: ", &bad.id()[..12], bad.name());
    let line = text.lines().find(|l| l.starts_with(&failed)).unwrap_or_else(|| panic!("no Failed line in {text}"));
    assert!(line.contains("/nonexistent"), "{line}");
    assert_eq!(good.state().as_deref(), Some("running"));
}

#[test]
fn an_unreachable_host_or_no_match_is_an_error_before_acting() {
    if !docker_available() {
        return;
    }
    let port = testkit::net::free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let out = ops(&["stop", "--docker", &endpoint, "-n", "anything"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains(&format!("cannot reach Docker at {endpoint}")) && message.contains("refused"),
        "{message}"
    );

    let none = ops(&["start", "-n", &all_of("ops-nothing")]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains(&format!("matches -n {}", all_of("ops-nothing"))), "{}", stderr(&none));
    let bad = ops(&["start", "-n", "a", "-c", "b"]);
    assert_eq!(bad.status.code(), Some(1), "bad options exit 1, as the 2015 scripts did");
}

#[test]
fn a_tls_host_from_the_configuration_takes_every_operation() {
    if !tls_available() {
        return;
    }
    let c = ContainerSpec::new("ops-tls").start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kura.toml");
    let client = Path::new(TLS_DIR).join("client");
    std::fs::write(
        &config,
        format!(
            "[[host]]\nname = \"bed-tls\"\nendpoint = \"{TLS_ENDPOINT}\"\ntls_cert_path = \"{}\"\n\n\
             [[host]]\nname = \"bed-local\"\nendpoint = \"unix://{}\"\n",
            client.display(),
            testkit::docker::SOCKET
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let on_tls = |args: &[&str]| -> Output {
        let mut all = vec![args[0], "--config", &config, "--host", "bed-tls"];
        all.extend_from_slice(&args[1..]);
        ops(&all)
    };

    let exec = on_tls(&["exec", "-n", c.name(), "--", "sh", "-c", "echo over tls; echo e >&2; exit 7"]);
    assert_eq!(exec.status.code(), Some(7), "{}", stderr(&exec));
    assert_eq!((stdout(&exec).as_str(), stderr(&exec).as_str()), ("over tls\n", "e\n"));

    let dest = tempfile::tempdir().unwrap();
    let cp = on_tls(&["cp", "-q", "-n", c.name(), "/etc/hostname", &dest.path().display().to_string()]);
    assert_eq!(cp.status.code(), Some(0), "{}", stderr(&cp));
    assert!(dest.path().join(format!("{}_etc_hostname.tar", c.name())).is_file());

    let line = |verb: &str| format!("{} {} {verb}\n", &c.id()[..12], c.name());
    let stop = on_tls(&["stop", "-n", c.name(), "-t", "1"]);
    assert_eq!((stop.status.code(), stdout(&stop)), (Some(0), line("Success")), "{}", stderr(&stop));
    assert_eq!(c.state().as_deref(), Some("exited"));
    let start = on_tls(&["start", "-n", c.name()]);
    assert_eq!((start.status.code(), stdout(&start)), (Some(0), line("Success")), "{}", stderr(&start));
    assert_eq!(c.state().as_deref(), Some("running"));

    // Two hosts and no --host: an error naming both.
    let which = ops(&["stop", "--config", &config, "-n", c.name()]);
    assert_eq!(which.status.code(), Some(1));
    assert!(stderr(&which).contains("(bed-tls, bed-local): choose one with --host"), "{}", stderr(&which));
}
