//! The Docker API documents kura parses besides stats and the stored
//! payloads ([`kura_store::payload`]: top, info, events): the container
//! list, inspect, version and the image list.
//!
//! Each model holds only the fields kura uses, under Docker's names. A field
//! some daemon versions or configurations omit is an `Option` (or an empty
//! collection where Docker sends `null` for "none"); unknown fields are
//! skipped. Integers are `i64` as Docker's Go `int`/`int64` are, since some
//! are `-1` by design (`SizeRw` when not computed, `MemorySwap` unlimited).

use std::collections::BTreeMap;

use kura_store::payload::{null_as_empty, ContainerDetails, PortBinding};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use kura_store::sample::State;

/// Why an API document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The document is not the expected JSON (malformed, truncated, wrong
    /// types, a required field missing).
    #[error("cannot parse the {what} document: {error}")]
    Parse {
        /// Which document, e.g. `container list`.
        what: &'static str,
        /// serde's message, with line and column.
        error: serde_json::Error,
    },
    /// The daemon sent its error object (`{"message": ...}`) instead, e.g.
    /// top of a container that is not running.
    #[error("the daemon answered an error instead of the {what} document: {message}")]
    Daemon {
        /// Which document was expected.
        what: &'static str,
        /// The daemon's message.
        message: String,
    },
}

/// Parses one API document; `what` names it in the error (e.g. `"container
/// list"`).
pub fn parse<T: DeserializeOwned>(what: &'static str, doc: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(doc).map_err(|error| match serde_json::from_slice::<DaemonError>(doc) {
        Ok(DaemonError { message }) => ApiError::Daemon { what, message },
        Err(_) => ApiError::Parse { what, error },
    })
}

/// The body of a Docker error response.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DaemonError {
    message: String,
}

/// An entry of `GET /containers/json?all=1&size=1`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// Full container id (64 hex digits).
    pub id: String,
    /// Names, each with a leading `/`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub names: Vec<String>,
    /// The image as the user named it (`local/busybox`).
    pub image: String,
    /// The image id (`sha256:...`); API >= 1.21.
    #[serde(rename = "ImageID")]
    pub image_id: Option<String>,
    /// The command line, joined.
    pub command: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Labels (`hinemosAssignScopeId` assigns Hinemos scopes).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,
    /// The coarse state (`running`, ...); absent before API 1.23, see
    /// [`ContainerSummary::state`].
    pub state: Option<String>,
    /// The human status (`Up 4 minutes`, `Exited (0) 2 minutes ago`).
    pub status: String,
    /// Bytes written in the container's layer (with `size=1`).
    pub size_rw: Option<i64>,
    /// Bytes of the container's root filesystem, image included (with
    /// `size=1`).
    pub size_root_fs: Option<i64>,
}

impl ContainerSummary {
    /// The container's state: `State` when the daemon sends one kura knows,
    /// else derived from `Status` as the 2015 scripts did.
    pub fn state(&self) -> Option<State> {
        self.state.as_deref().and_then(State::from_docker).or_else(|| State::from_status(&self.status))
    }

    /// The first name without its leading `/`.
    pub fn name(&self) -> Option<&str> {
        self.names.first().map(|name| name.strip_prefix('/').unwrap_or(name))
    }
}

/// `GET /containers/{id}/json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// Full container id.
    pub id: String,
    /// The name, with a leading `/`.
    pub name: String,
    /// Restarts done by the restart policy.
    #[serde(default)]
    pub restart_count: i64,
    /// Creation time, RFC 3339.
    pub created: Option<String>,
    /// Runtime state.
    pub state: InspectState,
    /// Resource limits and restart policy.
    pub host_config: Option<InspectHostConfig>,
    /// Image and labels.
    pub config: Option<InspectConfig>,
}

/// `State` of an inspect document. Flags Docker leaves out are false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectState {
    /// `running`, `exited`, ...; absent before API 1.21.
    pub status: Option<String>,
    /// Running (also true while paused or restarting).
    #[serde(default)]
    pub running: bool,
    /// Paused.
    #[serde(default)]
    pub paused: bool,
    /// Restarting under its restart policy.
    #[serde(default)]
    pub restarting: bool,
    /// The last exit was caused by the OOM killer.
    #[serde(default, rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Dead: removal failed half way.
    #[serde(default)]
    pub dead: bool,
    /// Host pid of the main process; 0 when not running.
    #[serde(default)]
    pub pid: i64,
    /// Exit code of the last run (137 after SIGKILL or the OOM killer).
    #[serde(default)]
    pub exit_code: i64,
    /// The daemon's error for the last start, empty if none.
    pub error: Option<String>,
    /// Last start, RFC 3339; `0001-01-01T00:00:00Z` if never started.
    pub started_at: Option<String>,
    /// Last exit, RFC 3339; `0001-01-01T00:00:00Z` if never exited.
    pub finished_at: Option<String>,
    /// The health check's state, for containers that have one.
    pub health: Option<Health>,
}

/// `State.Health`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// `starting`, `healthy` or `unhealthy`.
    pub status: String,
    /// Consecutive failed checks.
    #[serde(default)]
    pub failing_streak: i64,
}

/// `HostConfig` of an inspect document. Docker reports 0 for "no limit" in
/// every limit field; `MemorySwap` is -1 for unlimited swap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectHostConfig {
    /// Memory limit, bytes; 0 = unlimited.
    pub memory: Option<i64>,
    /// Memory plus swap limit, bytes; 0 = unset (twice `Memory`), -1 =
    /// unlimited.
    pub memory_swap: Option<i64>,
    /// CPU limit in 1e-9 CPUs (`--cpus 0.5` = 500000000); 0 = unlimited.
    pub nano_cpus: Option<i64>,
    /// CFS quota, µs per period; 0 = unlimited.
    pub cpu_quota: Option<i64>,
    /// CFS period, µs; 0 = the kernel's default (100000).
    pub cpu_period: Option<i64>,
    /// CPUs the container may use (`0-3`, `0,1`); empty = all.
    pub cpuset_cpus: Option<String>,
    /// Relative CPU weight; 0 = the default (1024).
    pub cpu_shares: Option<i64>,
    /// What the daemon does when the container exits.
    pub restart_policy: Option<RestartPolicy>,
    /// The network mode: `bridge`, `host`, `none`, `container:ID`, a network's name.
    pub network_mode: Option<String>,
    /// Published ports (`docker run -p`): container port (`80/tcp`) ->
    /// host bindings; `null` or absent when none.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub port_bindings: BTreeMap<String, Option<Vec<InspectPortBinding>>>,
}

/// One entry of `HostConfig.PortBindings`. Docker writes `""` for "any
/// address" and for "a port the daemon picks".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectPortBinding {
    /// The host address, `""` for every address.
    #[serde(default)]
    pub host_ip: String,
    /// The host port, `""` when the daemon picks one.
    #[serde(default)]
    pub host_port: String,
}

/// `HostConfig.RestartPolicy`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure`; empty = none.
    #[serde(default)]
    pub name: String,
    /// Retries for `on-failure`; 0 = unlimited.
    #[serde(default)]
    pub maximum_retry_count: i64,
}

/// `Config` of an inspect document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectConfig {
    /// The image as the user named it.
    pub image: Option<String>,
    /// Labels.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Go's zero time, which Docker writes for "never".
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl From<&ContainerInspect> for ContainerDetails {
    fn from(inspect: &ContainerInspect) -> ContainerDetails {
        let state = &inspect.state;
        let host = inspect.host_config.as_ref();
        let time = |time: &Option<String>| time.clone().filter(|t| !t.is_empty() && t.as_str() != GO_ZERO_TIME);
        ContainerDetails {
            state: state.status.as_deref().and_then(State::from_docker).or_else(|| Some(state.state_from_flags())),
            exit_code: state.exit_code,
            oom_killed: state.oom_killed,
            restart_count: inspect.restart_count,
            health: state.health.as_ref().map(|h| h.status.clone()),
            failing_streak: state.health.as_ref().map(|h| h.failing_streak),
            started_at: time(&state.started_at),
            finished_at: time(&state.finished_at),
            error: state.error.clone().filter(|e| !e.is_empty()),
            memory_limit: host.and_then(|h| h.memory),
            memory_swap: host.and_then(|h| h.memory_swap),
            nano_cpus: host.and_then(|h| h.nano_cpus),
            cpu_quota: host.and_then(|h| h.cpu_quota),
            cpu_period: host.and_then(|h| h.cpu_period),
            cpuset_cpus: host.and_then(|h| h.cpuset_cpus.clone()).filter(|c| !c.is_empty()),
            cpu_shares: host.and_then(|h| h.cpu_shares),
            restart_policy: host.and_then(|h| h.restart_policy.as_ref()).and_then(RestartPolicy::spelled),
            port_bindings: host.map(port_bindings).unwrap_or_default(),
        }
    }
}

/// The published ports of a host config, flattened: one entry per host
/// binding, in container port order.
fn port_bindings(host: &InspectHostConfig) -> Vec<PortBinding> {
    let given = |text: &str| Some(text.to_owned()).filter(|t| !t.is_empty());
    host.port_bindings
        .iter()
        .flat_map(|(container_port, bindings)| {
            bindings.iter().flatten().map(move |binding| PortBinding {
                container_port: container_port.clone(),
                host_ip: given(&binding.host_ip),
                host_port: given(&binding.host_port),
            })
        })
        .collect()
}

impl InspectState {
    /// The state from the flags, for daemons without `Status`: moby's
    /// `State.StateString` (container/state.go).
    fn state_from_flags(&self) -> State {
        if self.running {
            if self.paused {
                State::Paused
            } else if self.restarting {
                State::Restarting
            } else {
                State::Running
            }
        } else if self.dead {
            State::Dead
        } else if self.started_at.as_deref().is_none_or(|t| t.is_empty() || t == GO_ZERO_TIME) {
            State::Created
        } else {
            State::Exited
        }
    }
}

impl RestartPolicy {
    /// `name`, or `name:count` for a bounded `on-failure`; `None` for no name.
    fn spelled(&self) -> Option<String> {
        match (self.name.as_str(), self.maximum_retry_count) {
            ("", _) => None,
            (name, 0) => Some(name.to_owned()),
            (name, count) => Some(format!("{name}:{count}")),
        }
    }
}

/// `GET /version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    /// Docker's version.
    pub version: String,
    /// The highest API version the daemon speaks (`1.41`).
    pub api_version: String,
    /// The lowest API version it accepts; API >= 1.25.
    #[serde(rename = "MinAPIVersion")]
    pub min_api_version: Option<String>,
    /// `linux`, `windows`.
    pub os: Option<String>,
    /// `amd64`, `arm64`, ...
    pub arch: Option<String>,
    /// The engine's parts (`Engine`, `containerd`; Podman's daemon names
    /// itself `Podman Engine` here).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub components: Vec<VersionComponent>,
}

/// One of [`Version::components`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionComponent {
    /// `Engine`, `containerd`, `Podman Engine`, ...
    pub name: String,
    /// Its version.
    pub version: String,
}

impl Version {
    /// Podman's version (major, minor) when the daemon is Podman's
    /// Docker-compatible service.
    pub fn podman(&self) -> Option<(u32, u32)> {
        let engine = self.components.iter().find(|c| c.name == "Podman Engine")?;
        let mut parts = engine.version.split(['.', '-', '+']).map(|part| part.parse::<u32>().ok());
        Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
    }
}

/// An entry of `GET /images/json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// The image id (`sha256:...`).
    pub id: String,
    /// `repo:tag` names; `<none>:<none>` for an untagged image.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub repo_tags: Vec<String>,
    /// Bytes of the image, layers shared with others included.
    pub size: i64,
    /// Bytes shared with other images; -1 when not computed.
    pub shared_size: Option<i64>,
    /// Containers using the image; -1 when not computed.
    pub containers: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::payload::{Event, Info, Top};

    /// A file of the cgroup v1 capture in the workspace's `fixtures/` folder.
    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../fixtures/docker-20.10-cgroup-v1/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
    }

    /// A file of the Podman 4.3 capture in `fixtures/`.
    fn podman_fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../fixtures/podman-4.3-cgroup-v1/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {path}: {e}"))
    }

    fn inspect(name: &str) -> ContainerInspect {
        parse("container inspect", &fixture(&format!("inspect_{name}.json"))).unwrap()
    }

    fn top(name: &str) -> Result<Top, ApiError> {
        parse("top", &fixture(&format!("top_{name}.json")))
    }

    #[test]
    fn container_list_states_names_labels_sizes() {
        let list: Vec<ContainerSummary> = parse("container list", &fixture("containers_all_size.json")).unwrap();
        let states: BTreeMap<&str, State> = list.iter().map(|c| (c.name().unwrap(), c.state().unwrap())).collect();
        let expected = BTreeMap::from([
            ("burn", State::Running),
            ("created", State::Created),
            ("exited0", State::Exited),
            ("exited3", State::Exited),
            // Caught between two restarts: the list says running while
            // inspect_flappy says restarting.
            ("flappy", State::Running),
            ("oom", State::Exited),
            ("paused", State::Paused),
            ("procs", State::Running),
            ("web1", State::Running),
            ("writer", State::Running),
        ]);
        assert_eq!(states, expected);
        let web1 = list.iter().find(|c| c.name() == Some("web1")).unwrap();
        assert_eq!(web1.labels["hinemosAssignScopeId"], "web1,web2");
        assert_eq!(web1.size_rw, Some(6));
        assert_eq!(web1.size_root_fs, Some(1_984_178));
        assert_eq!(web1.image, "local/busybox");
        let created = list.iter().find(|c| c.name() == Some("created")).unwrap();
        assert_eq!(created.size_rw, None);
        assert_eq!(created.command, "true");
        assert_eq!(created.created, 1_795_394_904);
        assert!(created.image_id.as_deref().unwrap().starts_with("sha256:"));
    }

    #[test]
    fn summary_without_state_falls_back_to_status() {
        let old: ContainerSummary = parse(
            "container list entry",
            br#"{"Id":"abc","Names":["/old"],"Image":"busybox","Command":"sh","Created":1441490348,"Status":"Up 2 minutes (Paused)","Labels":null}"#,
        )
        .unwrap();
        assert_eq!(old.state, None);
        assert_eq!(old.state(), Some(State::Paused));
        assert!(old.labels.is_empty());
        let odd: ContainerSummary = parse(
            "container list entry",
            br#"{"Id":"abc","Names":["noslash"],"Image":"b","Command":"","Created":0,"State":"stopping","Status":"Exited (1)"}"#,
        )
        .unwrap();
        assert_eq!(odd.state(), Some(State::Exited));
        assert_eq!(odd.name(), Some("noslash"));
    }

    #[test]
    fn published_ports_are_kept_as_given_at_start() {
        // The fixtures publish nothing: `{}`.
        assert!(ContainerDetails::from(&inspect("web1")).port_bindings.is_empty());
        let published: ContainerInspect = parse(
            "container inspect",
            br#"{"Id":"abc","Name":"/web","State":{"Status":"running"},"HostConfig":{"PortBindings":{
                "80/tcp":[{"HostIp":"","HostPort":"8080"},{"HostIp":"127.0.0.1","HostPort":"8081"}],
                "53/udp":[{"HostIp":"","HostPort":""}],"443/tcp":null}}}"#,
        )
        .unwrap();
        let spelled: Vec<String> =
            ContainerDetails::from(&published).port_bindings.iter().map(ToString::to_string).collect();
        assert_eq!(spelled, ["53/udp", "8080->80/tcp", "127.0.0.1:8081->80/tcp"]);
        let none: ContainerInspect = parse(
            "container inspect",
            br#"{"Id":"abc","Name":"/web","State":{"Status":"running"},"HostConfig":{"PortBindings":null}}"#,
        )
        .unwrap();
        assert!(ContainerDetails::from(&none).port_bindings.is_empty());
    }

    #[test]
    fn every_inspect_document_parses() {
        for (name, state, exit_code) in [
            ("burn", State::Running, 0),
            ("created", State::Created, 0),
            ("exited0", State::Exited, 0),
            ("flappy", State::Restarting, 1),
            ("oom", State::Exited, 137),
            ("paused", State::Paused, 0),
            ("procs", State::Running, 0),
            ("web1", State::Running, 0),
            ("writer", State::Running, 0),
        ] {
            let inspect = inspect(name);
            assert_eq!(inspect.name, format!("/{name}"));
            assert_eq!(inspect.id.len(), 64);
            let details = ContainerDetails::from(&inspect);
            assert_eq!(details.state, Some(state), "{name}");
            assert_eq!(details.exit_code, exit_code, "{name}");
            // The flags agree with Status on every recorded container.
            assert_eq!(inspect.state.state_from_flags(), state, "{name}");
        }
    }

    #[test]
    fn oom_killed_container() {
        let oom = inspect("oom");
        assert!(oom.state.oom_killed);
        assert_eq!(oom.state.exit_code, 137);
        let details = ContainerDetails::from(&oom);
        assert!(details.oom_killed);
        assert_eq!(details.memory_limit, Some(8 * 1024 * 1024));
        assert_eq!(details.memory_swap, Some(8 * 1024 * 1024));
        assert_eq!(details.finished_at.as_deref(), Some("2026-11-23T00:48:23.677350397Z"));
        assert_eq!(details.error, None);
    }

    #[test]
    fn web1_limits_labels_and_never_finished() {
        let web1 = inspect("web1");
        assert_eq!(web1.config.as_ref().unwrap().labels["hinemosAssignScopeId"], "web1,web2");
        let details = ContainerDetails::from(&web1);
        assert_eq!(details.memory_limit, Some(64 * 1024 * 1024));
        assert_eq!(details.memory_swap, Some(128 * 1024 * 1024));
        assert_eq!(details.nano_cpus, Some(0));
        assert_eq!(details.cpuset_cpus, None);
        assert_eq!(details.restart_policy.as_deref(), Some("no"));
        assert_eq!(details.started_at.as_deref(), Some("2026-11-23T00:48:21.571005749Z"));
        assert_eq!(details.finished_at, None);
        assert_eq!(details.health, None);
    }

    #[test]
    fn burn_cpu_limit_and_flappy_restarts() {
        assert_eq!(ContainerDetails::from(&inspect("burn")).nano_cpus, Some(500_000_000));
        let flappy = ContainerDetails::from(&inspect("flappy"));
        assert_eq!(flappy.restart_count, 8);
        assert_eq!(flappy.restart_policy.as_deref(), Some("always"));
        let created = ContainerDetails::from(&inspect("created"));
        assert_eq!(created.started_at, None);
    }

    #[test]
    fn details_round_trip_through_json_with_snake_case_names() {
        let details = ContainerDetails::from(&inspect("oom"));
        let json = serde_json::to_string(&details).unwrap();
        assert!(json.contains(r#""state":"exited""#), "{json}");
        assert!(json.contains(r#""oom_killed":true"#), "{json}");
        let back: ContainerDetails = serde_json::from_str(&json).unwrap();
        assert_eq!(back, details);
        let bad = json.replace(r#""state":"exited""#, r#""state":"sleeping""#);
        assert!(serde_json::from_str::<ContainerDetails>(&bad).is_err());
    }

    #[test]
    fn health_and_restart_policy_spelling() {
        let doc = br#"{"Id":"x","Name":"/h","State":{"Status":"running","Running":true,
            "Health":{"Status":"unhealthy","FailingStreak":3,"Log":[]}},
            "HostConfig":{"RestartPolicy":{"Name":"on-failure","MaximumRetryCount":5}}}"#;
        let inspect: ContainerInspect = parse("container inspect", doc).unwrap();
        let details = ContainerDetails::from(&inspect);
        assert_eq!(details.health.as_deref(), Some("unhealthy"));
        assert_eq!(details.failing_streak, Some(3));
        assert_eq!(details.restart_policy.as_deref(), Some("on-failure:5"));
        assert_eq!(details.memory_limit, None);
        assert_eq!(inspect.config, None);
    }

    #[test]
    fn state_from_flags_without_status() {
        let doc = br#"{"Id":"x","Name":"/old","State":{"Running":false,"ExitCode":2,
            "StartedAt":"2015-09-05T21:59:08Z","FinishedAt":"2015-09-05T22:00:00Z"}}"#;
        let inspect: ContainerInspect = parse("container inspect", doc).unwrap();
        assert_eq!(ContainerDetails::from(&inspect).state, Some(State::Exited));
    }

    #[test]
    fn top_of_running_containers() {
        let procs = top("procs").unwrap();
        assert_eq!(procs.process_count(), 4);
        assert!(procs.commands().all(|cmd| cmd == "sleep 100000"));
        let web1 = top("web1").unwrap();
        assert_eq!(web1.commands().collect::<Vec<_>>(), ["httpd -f -p 8080 -h /var/www"]);
        for name in ["burn", "paused", "writer"] {
            assert_eq!(top(name).unwrap().process_count(), 1, "{name}");
        }
        let ps_aux: Top =
            parse("top", br#"{"Titles":["USER","PID","COMMAND"],"Processes":[["root","1","init"]]}"#).unwrap();
        assert_eq!(ps_aux.commands().collect::<Vec<_>>(), ["init"]);
        let no_cmd: Top = parse("top", br#"{"Titles":["PID"],"Processes":[["1"]]}"#).unwrap();
        assert_eq!(no_cmd.commands().count(), 0);
    }

    #[test]
    fn top_of_stopped_containers_is_the_daemons_error() {
        for (name, says) in [
            ("created", "is not running"),
            ("exited0", "is not running"),
            ("oom", "is not running"),
            ("flappy", "is restarting"),
        ] {
            let error = top(name).unwrap_err();
            assert!(
                matches!(&error, ApiError::Daemon { what: "top", message } if message.contains(says)),
                "{name}: {error:?}"
            );
            assert!(error.to_string().contains("instead of the top document"));
        }
    }

    #[test]
    fn info_and_version() {
        let info: Info = parse("info", &fixture("info.json")).unwrap();
        assert_eq!(info.ncpu, Some(2));
        assert_eq!(info.mem_total, Some(25_276_502_016));
        assert_eq!(info.cgroup_version.as_deref(), Some("1"));
        assert_eq!(info.cgroup_driver.as_deref(), Some("cgroupfs"));
        assert_eq!(info.server_version.as_deref(), Some("20.10.24+dfsg1"));
        assert_eq!(info.name.as_deref(), Some("vm"));
        assert_eq!(info.operating_system.as_deref(), Some("Debian GNU/Linux 12 (bookworm)"));
        assert!(info.id.as_deref().unwrap().starts_with("JROV:"));
        let version: Version = parse("version", &fixture("version.json")).unwrap();
        assert_eq!(version.version, "20.10.24+dfsg1");
        assert_eq!(version.api_version, "1.41");
        assert_eq!(version.min_api_version.as_deref(), Some("1.12"));
        assert_eq!(version.os.as_deref(), Some("linux"));
        assert_eq!(version.arch.as_deref(), Some("amd64"));
        assert_eq!(version.podman(), None);
        let podman: Version = parse("version", &podman_fixture("version.json")).unwrap();
        assert_eq!(podman.api_version, "1.41");
        assert_eq!(podman.podman(), Some((4, 3)));
    }

    #[test]
    fn podman_top_is_split_into_columns() {
        // Podman 4 answers with the container's own `ps -ef` output, one
        // title and one string per process.
        let top: Top = parse("top", &podman_fixture("top_srv.json")).unwrap();
        assert_eq!(top.titles, ["PID", "USER", "COMMAND"]);
        assert_eq!(top.processes, [["1", "root", "httpd -f -p 80 -h /var/www"]]);
        assert_eq!(top.commands().collect::<Vec<_>>(), ["httpd -f -p 80 -h /var/www"]);
        let spaced: Top =
            parse("top", br#"{"Titles":["PID USER COMMAND"],"Processes":[["  7 nobody  sleep  10  "],["8 root"]]}"#)
                .unwrap();
        assert_eq!(spaced.processes, [vec!["7", "nobody", "sleep  10"], vec!["8", "root"]]);
        // A document already in columns is kept as it is, one column included.
        let one: Top = parse("top", br#"{"Titles":["CMD"],"Processes":[["sleep 10"]]}"#).unwrap();
        assert_eq!(one.commands().collect::<Vec<_>>(), ["sleep 10"]);
    }

    #[test]
    fn images() {
        let images: Vec<ImageSummary> = parse("image list", &fixture("images.json")).unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!(images[0].repo_tags, ["local/busybox:latest"]);
        assert_eq!(images[0].size, 1_984_172);
        assert_eq!(images[0].shared_size, Some(-1));
        assert_eq!(images[0].containers, Some(-1));
        assert_eq!(images.iter().map(|i| i.size).sum::<i64>(), 3_966_540);
    }

    #[test]
    fn every_event_line_parses() {
        let doc = fixture("events.jsonl");
        let events: Vec<Event> = doc
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| parse("event", line).unwrap())
            .collect();
        assert_eq!(events.len(), 167);
        let oom: Vec<&Event> = events.iter().filter(|e| e.action() == Some("oom")).collect();
        assert_eq!(oom.len(), 2);
        assert!(oom.iter().all(|e| e.container_id().is_some_and(|id| id.len() == 64)));
        let network = events.iter().find(|e| e.kind.as_deref() == Some("network")).unwrap();
        assert_eq!(network.container_id(), None);
        assert_eq!(network.action(), Some("connect"));
        let first_create = events.iter().find(|e| e.action() == Some("create")).unwrap();
        assert_eq!(first_create.from.as_deref(), Some("local/busybox"));
        assert_eq!(first_create.actor.as_ref().unwrap().attributes["hinemosAssignScopeId"], "web1,web2");
        assert_eq!(first_create.time_nano, Some(1_795_394_646_751_976_440));
        let mut times = events.iter().map(|e| e.time_nano.unwrap());
        let first = times.next().unwrap();
        assert!(times.all(|t| t >= first));
    }

    #[test]
    fn legacy_event_without_type() {
        let event: Event =
            parse("event", br#"{"status":"die","id":"90b56eb899e7","from":"busybox","time":1441490348}"#).unwrap();
        assert_eq!(event.container_id(), Some("90b56eb899e7"));
        assert_eq!(event.action(), Some("die"));
    }

    #[test]
    fn errors_name_the_document() {
        let error = parse::<Info>("info", b"{\"NCPU\": \"two\"}").unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("cannot parse the info document: "), "{message}");
        assert!(message.contains("line 1 column"), "{message}");
        let error = parse::<Vec<ContainerSummary>>("container list", b"[{\"Id\":").unwrap_err();
        assert!(matches!(error, ApiError::Parse { what: "container list", .. }));
        let error = parse::<Top>("top", b"null").unwrap_err();
        assert!(matches!(error, ApiError::Parse { what: "top", .. }));
    }
}
