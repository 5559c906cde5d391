//! kura's side of the contract: what it sends is the request of the
//! examples in `fixtures/hinemos-7/`, and it reads every answer there.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kura_store::payload::PortBinding;
use kura_store::sample::State;
use serde_json::Value;

use super::dto::{ExceptionBody, FacilityInfo, GetNodeListResponse, LoginResponse, NodeInfo, ScopeInfo};
use crate::current::Current;
use crate::desired::{self, Container, HostView, Naming};
use crate::plan::{self, Change, Options};

fn example(name: &str) -> Value {
    let dir = format!("{}/../fixtures/hinemos-7", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .find(|f| f.strip_suffix(".json").and_then(|f| f.split_once('-')).is_some_and(|(_, n)| n == name))
        .unwrap_or_else(|| panic!("no example {name} in {dir}"));
    serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{file}")).unwrap()).unwrap()
}

/// The report's conteiner_C on docker_host1, planned on an empty manager.
fn first_plan() -> plan::Plan {
    let view = HostView {
        facility_id: "docker_host1".to_owned(),
        address: IpAddr::from([192, 0, 2, 10]),
        containers: vec![Container {
            id: format!("16c155fe269b{}", "0".repeat(52)),
            name: "conteiner_C".to_owned(),
            image: "busybox:latest".to_owned(),
            command: "sleep 3600".to_owned(),
            state: State::Running,
            labels: BTreeMap::new(),
            ports: vec![PortBinding { container_port: "80/tcp".into(), host_ip: None, host_port: Some("8080".into()) }],
        }],
        named_scopes: BTreeSet::new(),
        complete: true,
    };
    let desired = desired::build(&view, &Naming { separator: "-".to_owned(), owner_role: "ALL_USERS".to_owned() });
    plan::plan(&desired, &Current::default(), &Options::default())
}

#[test]
fn kura_sends_the_examples_requests() {
    let plan = first_plan();
    let sent = |target: &str| -> Value {
        let change =
            plan.changes.iter().find(|c| c.target() == target).unwrap_or_else(|| panic!("no change for {target}"));
        match change {
            Change::AddNode { node, .. } => serde_json::to_value(node).unwrap(),
            Change::AddScope { request, .. } => serde_json::to_value(request).unwrap(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(sent("docker_host1"), example("add-host-node")["request"]["body"]);
    assert_eq!(sent("docker_host1-conteiner_C"), example("add-container-node")["request"]["body"]);
    assert_eq!(sent("docker_container"), example("add-scope")["request"]["body"]);
    assert_eq!(sent("docker_map"), example("add-scope-map")["request"]["body"]);
    assert_eq!(sent("docker_host1_scope"), example("add-scope-child")["request"]["body"]);
    let assign = plan.changes.iter().find(|c| c.target() == "docker_container" && c.action() == "assign").unwrap();
    let Change::Assign { facility_ids, .. } = assign else { panic!("{assign:?}") };
    assert_eq!(serde_json::json!({"facilityIdList": facility_ids}), example("assign")["request"]["body"],);
}

#[test]
fn kura_reads_the_examples_answers() {
    let body = |name: &str| example(name)["response"]["body"].clone();
    let login: LoginResponse = serde_json::from_value(body("login")).unwrap();
    assert_eq!(login.token.valid_term_minites, Some(1440));
    let refused: ExceptionBody = serde_json::from_value(body("login-refused")).unwrap();
    assert_eq!(refused.status, Some(401));
    let list: GetNodeListResponse = serde_json::from_value(body("node-list")).unwrap();
    let ids: Vec<&str> = list.node_info_list.iter().map(|n| n.facility_id.as_str()).collect();
    assert_eq!(ids, ["docker_host1", "docker_host1-conteiner_C"]);
    let node: NodeInfo = serde_json::from_value(body("get-node")).unwrap();
    assert_eq!(node.variable("DOCKER_CONTAINER_ID"), Some("16c155fe269b"));
    assert_eq!(node.valid, Some(true));
    // What kura does not keep travels back as it came.
    assert_eq!(node.rest.get("snmpCommunity"), Some(&Value::from("public")));
    let back = serde_json::to_value(&node).unwrap();
    assert_eq!(back["agentAwakePort"], 24005);
    let scope: ScopeInfo = serde_json::from_value(body("get-scope")).unwrap();
    assert_eq!(scope.facility_id, "docker_map");
    let children: Vec<FacilityInfo> = serde_json::from_value(body("children")).unwrap();
    assert!(!children[0].is_node());
    let assigned: Vec<FacilityInfo> = serde_json::from_value(body("assign")).unwrap();
    assert!(assigned[0].is_node());
}
