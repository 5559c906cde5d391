//! The repository Hinemos should hold for one Docker host, built from what
//! the store says about it ([`HostView`], see [`crate::view`]): the host
//! node, one node per container, the scopes and who belongs in them.
//! Pure: no I/O, so every rule here is tested on plain values.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kura_store::payload::PortBinding;
use kura_store::sample::State;
use serde::Serialize;

use crate::facility::{self, check_id};

/// The label that names a container's extra scopes: `web1,web2`.
pub const LABEL_SCOPES: &str = "hinemosAssignScopeId";
/// Holds the container nodes of every host.
pub const CONTAINER_SCOPE: &str = "docker_container";
/// Holds the host nodes.
pub const HOST_SCOPE: &str = "docker_host";
/// Holds one scope per host (`<host>_scope`).
pub const MAP_SCOPE: &str = "docker_map";
/// The node variable that marks kura's nodes; its value is the facility id
/// of the host node they belong to.
pub const MARKER: &str = "KURA_MANAGED";
/// The node variables kura sets (others on a node are left as they are).
pub const VARIABLES: [&str; 7] =
    ["DOCKER_CONTAINER_ID", "DOCKER_COMMAND", "DOCKER_PORTS", "DOCKER_IMAGE", "DOCKER_STATUS", "DOCKER_HOST", MARKER];

/// A container as the newest sweep saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Container {
    /// The full id.
    pub id: String,
    /// The name, without Docker's `/`.
    pub name: String,
    /// The image, as the container list names it.
    pub image: String,
    /// The command line.
    pub command: String,
    /// Its state in the newest sweep.
    pub state: State,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its published ports.
    pub ports: Vec<PortBinding>,
}

/// A host and its containers in the newest sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostView {
    /// The host node's facility id (checked).
    pub facility_id: String,
    /// The address of the host node and of its container nodes.
    pub address: IpAddr,
    /// The containers of the newest sweep.
    pub containers: Vec<Container>,
    /// Every scope a label of any container of this host has named, now or
    /// earlier (within the store's retention): where `--unassign` looks.
    pub named_scopes: BTreeSet<String>,
    /// False when the newest sweep listed containers the store holds no
    /// sample of: then nothing is taken as gone.
    pub complete: bool,
}

/// How nodes are named and owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naming {
    /// Between the host's facility id and the container name.
    pub separator: String,
    /// The owner role of what kura adds.
    pub owner_role: String,
}

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The Docker host.
    Host,
    /// A container.
    Container,
}

/// A node as kura wants it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    /// Host or container.
    pub kind: Kind,
    /// Its facility id.
    pub facility_id: String,
    /// Its facility name: the container's (or host's) name.
    pub facility_name: String,
    /// Its description.
    pub description: String,
    /// Its node name: the container's 12-character id (the host's facility id).
    pub node_name: String,
    /// Its address: the host's.
    pub address: IpAddr,
    /// The host name kura gives it (the node name).
    pub hostname: String,
    /// The managed flag: on only for a running container.
    pub valid: bool,
    /// The variables kura sets, by name; an empty value is left out.
    pub variables: BTreeMap<String, String>,
    /// kura's scopes it belongs in.
    pub scopes: Vec<String>,
    /// The scopes its label names (assigned when they exist).
    pub label_scopes: Vec<String>,
}

/// A scope kura makes when it is missing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Its facility id.
    pub facility_id: String,
    /// Its name (the same).
    pub facility_name: String,
    /// Its description.
    pub description: String,
    /// The scope it sits in; `None`: the top level.
    pub parent: Option<String>,
}

/// The repository one host should have.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Desired {
    /// The host node's facility id.
    pub host: String,
    /// The owner role of what kura adds.
    pub owner_role: String,
    /// The scopes, parents before children.
    pub scopes: Vec<Scope>,
    /// The host node first, then the containers' by facility id.
    pub nodes: Vec<Node>,
    /// Scopes labels named before (for `--unassign`), by id.
    #[serde(skip)]
    pub named_scopes: BTreeSet<String>,
    /// Whether every listed container is here (else nothing is taken as gone).
    #[serde(skip)]
    pub complete: bool,
    /// What could not be taken as it is, one line each.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl Desired {
    /// The node of this facility id.
    pub fn node(&self, facility_id: &str) -> Option<&Node> {
        self.nodes.iter().find(|node| node.facility_id == facility_id)
    }

    /// The scope of the host's containers, `<host>_scope`.
    pub fn host_scope(&self) -> String {
        host_scope(&self.host)
    }
}

/// `<host>_scope`, the scope in `docker_map` that holds a host's containers.
pub fn host_scope(host: &str) -> String {
    format!("{host}_scope")
}

/// The managed flag a state means: on while running; restarting, paused,
/// exited (and created, dead, removing) are off.
pub fn valid_in(state: State) -> bool {
    state == State::Running
}

/// The scopes a `hinemosAssignScopeId` label names: split on `,`, trimmed,
/// empty entries dropped, each once, in the label's order.
pub fn label_scopes(labels: &BTreeMap<String, String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    labels
        .get(LABEL_SCOPES)
        .map(|value| {
            value.split(',').map(str::trim).filter(|s| !s.is_empty() && seen.insert(*s)).map(str::to_owned).collect()
        })
        .unwrap_or_default()
}

/// The desired repository of a host.
pub fn build(view: &HostView, naming: &Naming) -> Desired {
    let host = view.facility_id.clone();
    let mut warnings = Vec::new();
    let scope = |id: &str, parent: Option<&str>, description: String| Scope {
        facility_id: id.to_owned(),
        facility_name: id.to_owned(),
        description: facility::cut(&description, facility::DESCRIPTION_MAX),
        parent: parent.map(str::to_owned),
    };
    let scopes = vec![
        scope(CONTAINER_SCOPE, None, "Docker containers (kura)".to_owned()),
        scope(HOST_SCOPE, None, "Docker hosts (kura)".to_owned()),
        scope(MAP_SCOPE, None, "Docker hosts and their containers (kura)".to_owned()),
        scope(&host_scope(&host), Some(MAP_SCOPE), format!("Docker containers on {host} (kura)")),
    ];
    let mut nodes = vec![Node {
        kind: Kind::Host,
        facility_id: host.clone(),
        facility_name: facility::cut(&host, facility::NAME_MAX),
        description: facility::cut(&format!("Docker host {host} (kura)"), facility::DESCRIPTION_MAX),
        node_name: facility::cut(&host, facility::NAME_MAX),
        address: view.address,
        hostname: host.clone(),
        valid: true,
        variables: BTreeMap::from([(MARKER.to_owned(), host.clone())]),
        scopes: vec![HOST_SCOPE.to_owned()],
        label_scopes: Vec::new(),
    }];
    let mut containers: Vec<&Container> = view.containers.iter().collect();
    containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    let mut taken: BTreeMap<String, String> = BTreeMap::from([(host.clone(), format!("the host node {host}"))]);
    for container in containers {
        let (facility_id, mapped) = facility::container_id(&host, &naming.separator, &container.name);
        if mapped {
            warnings.push(format!(
                "container {} cannot be facility id {host}{}{}: its node is {facility_id}",
                container.name, naming.separator, container.name
            ));
        }
        if let Some(owner) = taken.get(&facility_id) {
            warnings.push(format!(
                "container {} ({}) would have facility id {facility_id}, as {owner} has: left out",
                container.name,
                short_id(&container.id)
            ));
            continue;
        }
        taken.insert(facility_id.clone(), format!("container {}", container.name));
        let id12 = short_id(&container.id);
        let ports = container.ports.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        let variables = [
            ("DOCKER_CONTAINER_ID", id12.clone()),
            ("DOCKER_COMMAND", container.command.clone()),
            ("DOCKER_PORTS", ports),
            ("DOCKER_IMAGE", container.image.clone()),
            ("DOCKER_STATUS", container.state.as_str().to_owned()),
            ("DOCKER_HOST", host.clone()),
            (MARKER, host.clone()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), facility::cut(value.trim(), facility::VARIABLE_VALUE_MAX)))
        .filter(|(_, value)| !value.is_empty())
        .collect();
        let mut named = Vec::new();
        for scope in label_scopes(&container.labels) {
            match check_id(&scope) {
                Ok(()) if facility::BUILT_IN_SCOPES.contains(&scope.as_str()) => warnings.push(format!(
                    "container {}: label {LABEL_SCOPES} names {scope}, a scope the manager builds itself: skipped",
                    container.name
                )),
                Ok(()) => named.push(scope),
                Err(e) => warnings.push(format!("container {}: label {LABEL_SCOPES}: {e}: skipped", container.name)),
            }
        }
        nodes.push(Node {
            kind: Kind::Container,
            facility_name: facility::cut(&container.name, facility::NAME_MAX),
            description: facility::cut(
                &format!("Docker container {} on {host} (kura)", container.name),
                facility::DESCRIPTION_MAX,
            ),
            node_name: id12.clone(),
            address: view.address,
            hostname: id12,
            valid: valid_in(container.state),
            variables,
            scopes: vec![CONTAINER_SCOPE.to_owned(), host_scope(&host)],
            label_scopes: named,
            facility_id,
        });
    }
    nodes[1..].sort_by(|a, b| a.facility_id.cmp(&b.facility_id));
    Desired {
        host,
        owner_role: naming.owner_role.clone(),
        scopes,
        nodes,
        named_scopes: view.named_scopes.iter().filter(|s| check_id(s).is_ok()).cloned().collect(),
        complete: view.complete,
        warnings,
    }
}

/// The first 12 characters of an id.
pub fn short_id(id: &str) -> String {
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(name: &str, state: State) -> Container {
        Container {
            id: format!("{:0<64}", name.len()),
            name: name.to_owned(),
            image: "busybox:latest".to_owned(),
            command: "sleep 3600".to_owned(),
            state,
            labels: BTreeMap::new(),
            ports: Vec::new(),
        }
    }

    fn view(containers: Vec<Container>) -> HostView {
        HostView {
            facility_id: "docker_host1".to_owned(),
            address: IpAddr::from([192, 0, 2, 10]),
            containers,
            named_scopes: BTreeSet::new(),
            complete: true,
        }
    }

    fn naming() -> Naming {
        Naming { separator: "-".to_owned(), owner_role: "ALL_USERS".to_owned() }
    }

    #[test]
    fn the_host_node_comes_first_and_containers_follow_the_reports_naming() {
        let mut web = container("conteiner_C", State::Running);
        web.labels.insert(LABEL_SCOPES.to_owned(), " web1, web3,,web1".to_owned());
        web.ports =
            vec![PortBinding { container_port: "80/tcp".into(), host_ip: None, host_port: Some("8080".into()) }];
        let desired = build(&view(vec![web, container("db", State::Exited)]), &naming());
        let ids: Vec<&str> = desired.nodes.iter().map(|n| n.facility_id.as_str()).collect();
        assert_eq!(ids, ["docker_host1", "docker_host1-conteiner_C", "docker_host1-db"]);
        let host = &desired.nodes[0];
        assert_eq!((host.kind, host.valid, host.node_name.as_str()), (Kind::Host, true, "docker_host1"));
        assert_eq!(host.scopes, [HOST_SCOPE]);
        let web = &desired.nodes[1];
        assert_eq!(web.node_name, "110000000000");
        assert_eq!(web.hostname, web.node_name);
        assert_eq!(web.facility_name, "conteiner_C");
        assert_eq!(web.address, IpAddr::from([192, 0, 2, 10]));
        assert!(web.valid);
        assert_eq!(web.label_scopes, ["web1", "web3"]);
        assert_eq!(web.scopes, [CONTAINER_SCOPE, "docker_host1_scope"]);
        assert_eq!(web.variables["DOCKER_PORTS"], "8080->80/tcp");
        assert_eq!(web.variables["DOCKER_STATUS"], "running");
        assert_eq!(web.variables["DOCKER_HOST"], "docker_host1");
        assert_eq!(web.variables[MARKER], "docker_host1");
        let db = &desired.nodes[2];
        assert!(!db.valid);
        // No ports: the variable is left out (the manager refuses an empty value).
        assert!(!db.variables.contains_key("DOCKER_PORTS"));
        let scopes: Vec<(&str, Option<&str>)> =
            desired.scopes.iter().map(|s| (s.facility_id.as_str(), s.parent.as_deref())).collect();
        assert_eq!(
            scopes,
            [(CONTAINER_SCOPE, None), (HOST_SCOPE, None), (MAP_SCOPE, None), ("docker_host1_scope", Some(MAP_SCOPE))]
        );
        assert!(desired.warnings.is_empty(), "{:?}", desired.warnings);
    }

    #[test]
    fn only_running_is_managed() {
        for state in State::ALL {
            assert_eq!(valid_in(state), state == State::Running, "{state}");
        }
    }

    #[test]
    fn values_are_cut_to_the_managers_limits_and_bad_label_scopes_skipped() {
        let mut long = container("long", State::Running);
        long.command = "x".repeat(2000);
        long.labels.insert(LABEL_SCOPES.to_owned(), "ok,no way,REGISTERED".to_owned());
        let desired = build(&view(vec![long]), &naming());
        let node = &desired.nodes[1];
        assert_eq!(facility::units(&node.variables["DOCKER_COMMAND"]), facility::VARIABLE_VALUE_MAX);
        assert_eq!(node.label_scopes, ["ok"]);
        assert_eq!(desired.warnings.len(), 2, "{:?}", desired.warnings);
        assert!(desired.warnings[0].contains("no way"), "{:?}", desired.warnings);
        assert!(desired.warnings[1].contains("REGISTERED"), "{:?}", desired.warnings);
    }

    #[test]
    fn two_containers_on_one_id_keep_the_first_and_warn() {
        // Cannot happen with Docker's unique names; checked all the same.
        let mut again = container("web", State::Exited);
        again.id = "f".repeat(64);
        let desired = build(&view(vec![container("web", State::Running), again]), &naming());
        assert_eq!(desired.nodes.len(), 2, "{:?}", desired.nodes);
        assert_eq!(desired.nodes[1].node_name, "300000000000");
        assert!(desired.warnings.iter().any(|w| w.contains("left out") && w.contains("ffffffffffff")));
    }
}
