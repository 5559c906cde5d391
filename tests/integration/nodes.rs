//! `kura-nodes` (and `kura nodes`) against the test bed's dockerd, a
//! collector filling a private store, and the contract manager
//! (`testkit::hinemos`, Hinemos 7's repository API as its source defines
//! it; no real manager runs here). Each test keeps only its own containers
//! in step (`-n <its unique prefix>*`): other tests start and remove
//! containers on the same daemon meanwhile.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

use kura_nodes::select::Selection;
use kura_nodes::view::host_view;
use kura_store::config::FlagConfig;
use kura_store::sample::State;
use kura_store::Reader;
use testkit::docker::{docker_ok, Container, ContainerSpec, SOCKET};
use testkit::hinemos::{ContractManager, Logged, PASSWORD, USER};
use testkit::process::{wait_until, workspace_bin};

use crate::collector::{config, DataDir, Running};
use crate::foundation::docker_available;

/// How long a change takes to reach the store, at most.
const STORE_WAIT: Duration = Duration::from_secs(30);

/// A collector on the test bed's dockerd, a contract manager and a password file.
struct Bed {
    /// `None` only while dropping after a failure (see `Drop`).
    data: Option<DataDir>,
    collector: Option<Running>,
    manager: ContractManager,
    password: PathBuf,
    /// The test's container name prefix (`-n PREFIX*`).
    prefix: String,
}

impl Bed {
    fn start(test: &str) -> Bed {
        let data = DataDir::new();
        let collector = Running::start(config(&data, &[&format!("local=unix://{SOCKET}")], |f| {
            f.interval = Some("500ms".into());
        }));
        let manager = ContractManager::start().unwrap();
        let password = data.path().join("hinemos.password");
        std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
        let prefix = format!("kura-test-{test}-{}-", std::process::id());
        Bed { data: Some(data), collector: Some(collector), manager, password, prefix }
    }

    fn data(&self) -> &std::path::Path {
        self.data.as_ref().map_or(std::path::Path::new("/nonexistent"), DataDir::path)
    }

    fn container(&self, test: &str) -> ContainerSpec {
        let spec = ContainerSpec::new(test);
        assert!(spec.name().starts_with(&self.prefix), "{} vs {}", spec.name(), self.prefix);
        spec
    }

    /// `kura-nodes ARGS --data D --host local -n PREFIX*` with the contract manager.
    async fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(workspace_bin("kura-nodes"));
        command.args(args).arg("--data").arg(self.data()).args(["--host", "local", "-n", &format!("{}*", self.prefix)]);
        command.args(["--hinemos", &self.manager.url(), "--user", USER]).arg("--password-file").arg(&self.password);
        let data = self.data().to_path_buf();
        let output = move || crate::collector::unless_stale_while_running(&data, || command.output().unwrap());
        tokio::task::spawn_blocking(output).await.unwrap()
    }

    /// Runs and checks the exit status.
    async fn expect(&self, args: &[&str], code: i32) -> Output {
        let output = self.run(args).await;
        assert_eq!(
            output.status.code(),
            Some(code),
            "kura-nodes {}\nstdout: {}\nstderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Waits until the store's newest sweep shows each container in its
    /// state (`None`: gone).
    async fn wait_store(&self, expected: &[(&Container, Option<State>)]) {
        let data = self.data().to_path_buf();
        let expected: Vec<(String, Option<State>)> = expected.iter().map(|(c, s)| (c.name().to_owned(), *s)).collect();
        let prefix = self.prefix.clone();
        let mut seen = Vec::new();
        let reached = tokio::task::spawn_blocking(move || {
            let ok = wait_until(STORE_WAIT, || {
                let Ok(reader) = Reader::open(&data) else { return false };
                let now = chrono::Utc::now().timestamp_millis();
                let selection = Selection::Prefix(prefix.clone());
                let Ok(view) = host_view(&reader, "local", "local", IpAddr::from([127, 0, 0, 1]), &selection, now)
                else {
                    return false;
                };
                seen = view.containers.iter().map(|c| (c.name.clone(), c.state)).collect();
                expected.iter().all(|(name, state)| seen.iter().find(|(n, _)| n == name).map(|(_, s)| *s) == *state)
            });
            (ok, seen, expected)
        })
        .await
        .unwrap();
        assert!(reached.0, "the store did not show {:?} within {STORE_WAIT:?} (last: {:?})", reached.2, reached.1);
    }

    fn id(&self, container: &Container) -> String {
        format!("local-{}", container.name())
    }

    fn writes_since(&self, start: usize) -> Vec<Logged> {
        self.manager.log()[start..].iter().filter(|l| l.is_write()).cloned().collect()
    }

    async fn stop(mut self) {
        if let Some(collector) = self.collector.take() {
            collector.stop().await;
        }
    }
}

impl Drop for Bed {
    /// After a failed assertion the collector was not stopped: its data
    /// folder is kept (for a look, and so that the collector, stopping as
    /// the runtime goes, still finds its socket to shut its server down).
    fn drop(&mut self) {
        if self.collector.is_some() {
            if let Some(data) = self.data.take() {
                eprintln!("kept the data folder {} of a failed test", data.path().display());
                std::mem::forget(data);
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_apply_builds_the_repository_and_the_second_sends_nothing() {
    if !docker_available() {
        return;
    }
    let bed = Bed::start("nd-first");
    let scope = format!("kura_web_{}", std::process::id());
    bed.manager.add_scope(&scope, None).unwrap();
    let web = bed.container("nd-first").label("hinemosAssignScopeId", &format!("{scope},kura_missing_scope")).start();
    let db = bed.container("nd-first").shell("exit 0").start();
    let published = bed.container("nd-first").flags(["-p", "127.0.0.1:18080:80/tcp"]).create();
    db.wait_state("exited", Duration::from_secs(20));
    bed.wait_store(&[(&web, Some(State::Running)), (&db, Some(State::Exited)), (&published, Some(State::Created))])
        .await;

    let first = bed.expect(&["apply"], 0).await;
    let stderr = text(&first.stderr);
    assert!(stderr.contains("scope kura_missing_scope does not exist"), "{stderr}");
    let m = &bed.manager;
    let host = m.node("local").expect("the host node");
    assert_eq!((host.valid, host.node_name.as_str(), host.ip_address_v4.as_str()), (true, "local", "127.0.0.1"));
    assert_eq!(host.variable("KURA_MANAGED"), Some("local"));
    for (container, valid, status) in [(&web, true, "running"), (&db, false, "exited"), (&published, false, "created")]
    {
        let node = m.node(&bed.id(container)).unwrap_or_else(|| panic!("no node for {}", container.name()));
        let id12 = &container.id()[..12];
        assert_eq!(node.valid, valid, "{}", container.name());
        assert_eq!(node.node_name, id12);
        assert_eq!(node.hostnames, [id12]);
        assert_eq!(node.facility_name, container.name());
        assert_eq!(node.ip_address_v4, "127.0.0.1");
        assert!(!node.auto_device_search);
        assert_eq!(node.variable("DOCKER_CONTAINER_ID"), Some(id12));
        assert_eq!(node.variable("DOCKER_STATUS"), Some(status));
        assert_eq!(node.variable("DOCKER_HOST"), Some("local"));
        assert_eq!(node.variable("DOCKER_IMAGE"), Some(testkit::docker::IMAGE));
        assert!(node.variable("DOCKER_COMMAND").is_some_and(|c| c.contains("sleep 3600") || c.contains("exit 0")));
        assert!(m.members("docker_container").contains(&node.facility_id));
        assert!(m.members("local_scope").contains(&node.facility_id));
    }
    assert_eq!(m.node(&bed.id(&published)).unwrap().variable("DOCKER_PORTS"), Some("127.0.0.1:18080->80/tcp"));
    assert_eq!(m.node(&bed.id(&web)).unwrap().variable("DOCKER_PORTS"), None);
    assert!(m.members("docker_host").contains("local"));
    assert!(m.members("docker_map").contains("local_scope"));
    assert_eq!(m.members(&scope), [bed.id(&web)].into());

    let before = m.log().len();
    let second = bed.expect(&["apply"], 0).await;
    assert_eq!(bed.writes_since(before), [], "the second apply sent changes");
    assert!(text(&second.stdout).is_empty(), "{}", text(&second.stdout));
    assert!(text(&second.stderr).contains("nothing to change"), "{}", text(&second.stderr));
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_container_goes_invalid_and_valid_again_when_started() {
    if !docker_available() {
        return;
    }
    let bed = Bed::start("nd-stop");
    let web = bed.container("nd-stop").start();
    bed.wait_store(&[(&web, Some(State::Running))]).await;
    bed.expect(&["apply"], 0).await;
    assert_eq!(bed.manager.node(&bed.id(&web)).map(|n| n.valid), Some(true));

    docker_ok(&["stop", "-t", "1", web.name()]);
    bed.wait_store(&[(&web, Some(State::Exited))]).await;
    let plan = bed.expect(&["plan"], 0).await;
    let plan = text(&plan.stdout);
    assert!(plan.contains("valid: true -> false") && plan.contains("DOCKER_STATUS: running -> exited"), "{plan}");
    bed.expect(&["apply"], 0).await;
    let node = bed.manager.node(&bed.id(&web)).unwrap();
    assert_eq!((node.valid, node.variable("DOCKER_STATUS")), (false, Some("exited")));

    web.docker("start");
    bed.wait_store(&[(&web, Some(State::Running))]).await;
    bed.expect(&["apply"], 0).await;
    let node = bed.manager.node(&bed.id(&web)).unwrap();
    assert_eq!((node.valid, node.variable("DOCKER_STATUS")), (true, Some("running")));
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_containers_node_goes_only_with_delete() {
    if !docker_available() {
        return;
    }
    let bed = Bed::start("nd-rm");
    let kept = bed.container("nd-rm").start();
    let removed = bed.container("nd-rm").start();
    bed.wait_store(&[(&kept, Some(State::Running)), (&removed, Some(State::Running))]).await;
    bed.expect(&["apply"], 0).await;
    removed.remove();
    bed.wait_store(&[(&kept, Some(State::Running)), (&removed, None)]).await;

    let plan = text(&bed.expect(&["plan"], 0).await.stdout);
    let gone = bed.id(&removed);
    assert!(plan.lines().any(|l| l.contains("held-delete") && l.contains(&gone)), "{plan}");
    bed.expect(&["apply"], 0).await;
    assert_eq!(bed.manager.node(&gone).map(|n| n.valid), Some(false), "without --delete the node stays, invalid");
    bed.expect(&["apply", "--delete"], 0).await;
    assert!(bed.manager.node(&gone).is_none());
    assert!(bed.manager.node(&bed.id(&kept)).is_some_and(|n| n.valid));
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_midway_is_renewed_once() {
    if !docker_available() {
        return;
    }
    let bed = Bed::start("nd-token");
    let web = bed.container("nd-token").start();
    bed.wait_store(&[(&web, Some(State::Running))]).await;
    // Every token dies after 4 requests: the run needs several.
    bed.manager.token_uses(Some(4));
    bed.expect(&["apply"], 0).await;
    assert!(bed.manager.node(&bed.id(&web)).is_some_and(|n| n.valid));
    let log = bed.manager.log();
    let refused: Vec<usize> = (0..log.len()).filter(|&i| log[i].status == 401).collect();
    assert!(!refused.is_empty(), "no token expired: {log:?}");
    for i in refused {
        // One new login, then the same request again, answered.
        assert!(log[i + 1].path.ends_with("/access/login") && log[i + 1].status == 200, "{:?}", &log[i..]);
        assert_eq!((&log[i + 2].method, &log[i + 2].path), (&log[i].method, &log[i].path));
        assert_ne!(log[i + 2].status, 401, "{:?}", &log[i..]);
    }

    // A token refused again right after a new login: no loop, nothing changed.
    bed.manager.token_uses(Some(0));
    let before = bed.manager.state().logins;
    let refused = bed.expect(&["apply"], 3).await;
    assert_eq!(bed.manager.state().logins, before + 2);
    assert!(text(&refused.stderr).contains("401"), "{}", text(&refused.stderr));
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_manager_changes_nothing_and_a_run_cut_short_says_what_it_did() {
    if !docker_available() {
        return;
    }
    let bed = Bed::start("nd-cut");
    let web = bed.container("nd-cut").start();
    bed.wait_store(&[(&web, Some(State::Running))]).await;

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut command = Command::new(workspace_bin("kura-nodes"));
    command.args(["apply", "--host", "local", "--hinemos", &format!("http://{closed}")]).arg("--data").arg(bed.data());
    command.arg("--password-file").arg(&bed.password);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cannot be reached") && stderr.contains("nothing was changed"), "{stderr}");

    bed.manager.stop_after_writes(3);
    let cut = bed.expect(&["apply"], 4).await;
    let rows = text(&cut.stdout);
    let count = |result: &str| rows.lines().filter(|l| l.split_whitespace().nth(1) == Some(result)).count();
    assert_eq!((count("done"), count("failed")), (3, 1), "{rows}");
    assert!(count("not-attempted") >= 1, "{rows}");
    assert!(text(&cut.stderr).contains("stopped answering"), "{}", text(&cut.stderr));

    bed.manager.resume();
    bed.expect(&["apply"], 0).await;
    assert!(bed.manager.node(&bed.id(&web)).is_some_and(|n| n.valid));
    let before = bed.manager.log().len();
    bed.expect(&["apply"], 0).await;
    assert_eq!(bed.writes_since(before), []);
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_kura_did_not_create_are_left_alone_unless_adopted() {
    if !docker_available() {
        return;
    }
    let bed = Bed::start("nd-adopt");
    let web = bed.container("nd-adopt").start();
    bed.wait_store(&[(&web, Some(State::Running))]).await;
    // As the 2015 scripts left it, with an operator's SNMP community.
    let id = bed.id(&web);
    bed.manager
        .add_node(&serde_json::json!({
            "facilityId": id, "facilityName": web.name(), "ownerRoleId": "ALL_USERS", "platformFamily": "LINUX",
            "ipAddressVersion": "IPV4", "ipAddressV4": "127.0.0.1", "nodeName": "0123456789ab",
            "snmpCommunity": "private",
            "nodeVariableInfo": [{"nodeVariableName": "DOCKER_HOST", "nodeVariableValue": "local"}]
        }))
        .unwrap();
    let left = bed.expect(&["apply"], 0).await;
    assert!(text(&left.stderr).contains("not kura's"), "{}", text(&left.stderr));
    let node = bed.manager.node(&id).unwrap();
    assert_eq!((node.node_name.as_str(), node.variable("KURA_MANAGED")), ("0123456789ab", None));
    assert!(!bed.manager.members("docker_container").contains(&id));

    bed.expect(&["apply", "--adopt"], 0).await;
    let node = bed.manager.node(&id).unwrap();
    assert_eq!(node.node_name, &web.id()[..12]);
    assert_eq!(node.variable("KURA_MANAGED"), Some("local"));
    assert_eq!(node.snmp_community, "private", "a whole-node PUT kept what kura does not set");
    assert!(bed.manager.members("docker_container").contains(&id));
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_manager_plan_prints_the_desired_state_and_a_stale_store_is_refused() {
    if !docker_available() {
        return;
    }
    let mut bed = Bed::start("nd-offline");
    let web = bed.container("nd-offline").label("hinemosAssignScopeId", "a,b").start();
    bed.wait_store(&[(&web, Some(State::Running))]).await;
    // Through `kura nodes`, as an operator types it.
    let data = bed.data().to_path_buf();
    let pattern = format!("{}*", bed.prefix);
    let output = tokio::task::spawn_blocking(move || {
        Command::new(workspace_bin("kura"))
            .args(["nodes", "plan", "--host", "local", "-n", &pattern])
            .arg("--data")
            .arg(&data)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let desired: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let nodes = desired[0]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 2, "the host node and the test's container: {desired}");
    assert_eq!(nodes[1]["facilityId"], bed.id(&web));
    assert_eq!(nodes[1]["labelScopes"], serde_json::json!(["a", "b"]));
    assert_eq!(nodes[1]["variables"]["DOCKER_STATUS"], "running");

    bed.collector.take().unwrap().stop().await;
    let stale = {
        let data = bed.data().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut last = None;
            let refused = wait_until(STORE_WAIT, || {
                let output = Command::new(workspace_bin("kura-nodes"))
                    .args(["plan", "--host", "local"])
                    .arg("--data")
                    .arg(&data)
                    .output()
                    .unwrap();
                let done = output.status.code() == Some(1);
                last = Some(output);
                done
            });
            (refused, last)
        })
        .await
        .unwrap()
    };
    let last = stale.1.unwrap();
    assert!(stale.0, "a stopped collector's store was not refused: {}", text(&last.stderr));
    assert!(text(&last.stderr).contains("is kura-collector running?"), "{}", text(&last.stderr));
    assert!(last.stdout.is_empty(), "{}", text(&last.stdout));
    bed.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_collector_keeps_the_repository_in_step_on_its_interval() {
    if !docker_available() {
        return;
    }
    let manager = ContractManager::start().unwrap();
    let data = DataDir::new();
    let password = data.path().join("pw");
    std::fs::write(&password, PASSWORD).unwrap();
    let file = data.path().join("kura.toml");
    std::fs::write(
        &file,
        format!(
            "[hinemos]\nmanager = \"{}\"\nuser = \"{USER}\"\npassword_file = \"{}\"\ninterval = \"1s\"\n\
             [[host]]\nname = \"local\"\nendpoint = \"unix://{SOCKET}\"\n",
            manager.url(),
            password.display()
        ),
    )
    .unwrap();
    let web = ContainerSpec::new("nd-collector").start();
    let id = format!("local-{}", web.name());
    let collector = Running::start(
        kura_collector::config::Config::resolve(FlagConfig {
            config_file: Some(file),
            data_dir: Some(data.path().to_path_buf()),
            interval: Some("500ms".into()),
            ..FlagConfig::default()
        })
        .unwrap(),
    );
    // A round adds the nodes, then assigns them: wait for both.
    let valid = |want: bool| {
        let manager = &manager;
        let id = id.clone();
        move || manager.node(&id).is_some_and(|n| n.valid == want) && manager.members("docker_container").contains(&id)
    };
    let created = tokio::task::block_in_place(|| wait_until(STORE_WAIT, valid(true)));
    assert!(created, "the collector did not add {id}: {:?}", manager.log().last());
    assert!(manager.members("docker_container").contains(&id));
    docker_ok(&["stop", "-t", "1", web.name()]);
    let invalid = tokio::task::block_in_place(|| wait_until(STORE_WAIT, valid(false)));
    assert!(invalid, "the collector did not make {id} invalid");
    assert_eq!(manager.node(&id).unwrap().variable("DOCKER_STATUS"), Some("exited"));
    collector.stop().await;
}
