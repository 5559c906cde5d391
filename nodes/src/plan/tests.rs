//! The plan on plain values: what changes, what is held, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use kura_store::sample::State;

use super::*;
use crate::desired::{self, Container, HostView, Naming, CONTAINER_SCOPE, HOST_SCOPE, LABEL_SCOPES, MAP_SCOPE};

fn container(name: &str, state: State, labels: &[(&str, &str)]) -> Container {
    Container {
        id: format!("{name:x<64}").replace(|c: char| !c.is_ascii_hexdigit(), "a"),
        name: name.to_owned(),
        image: "busybox".to_owned(),
        command: "sleep 3600".to_owned(),
        state,
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ports: Vec::new(),
    }
}

fn desired(containers: Vec<Container>) -> Desired {
    let view = HostView {
        facility_id: "h1".to_owned(),
        address: IpAddr::from([192, 0, 2, 10]),
        containers,
        named_scopes: BTreeSet::from(["web1".to_owned(), "old".to_owned()]),
        complete: true,
    };
    desired::build(&view, &Naming { separator: "-".to_owned(), owner_role: "ALL_USERS".to_owned() })
}

/// The manager after every change of `plan` was made (a stand-in for
/// [`crate::apply`], enough to check that a second plan is empty).
fn after(current: &Current, plan: &Plan) -> Current {
    let mut next = current.clone();
    for change in &plan.changes {
        match change {
            Change::AddScope { facility_id, .. } => {
                next.scopes.insert(facility_id.clone(), BTreeSet::new());
            }
            Change::AddNode { facility_id, node, .. } | Change::Modify { facility_id, node, .. } => {
                let mut stored = (**node).clone();
                stored.facility_id = Some(facility_id.clone());
                next.node_ids.insert(facility_id.clone());
                next.nodes.insert(facility_id.clone(), stored);
            }
            Change::Valid { facility_id, valid } => {
                if let Some(node) = next.nodes.get_mut(facility_id) {
                    node.valid = Some(*valid);
                }
            }
            Change::Assign { scope, facility_ids } => {
                next.scopes.entry(scope.clone()).or_default().extend(facility_ids.iter().cloned());
            }
            Change::Unassign { scope, facility_ids } => {
                if let Some(members) = next.scopes.get_mut(scope) {
                    members.retain(|m| !facility_ids.contains(m));
                }
            }
            Change::Delete { facility_ids } => {
                for id in facility_ids {
                    next.nodes.remove(id);
                    next.node_ids.remove(id);
                    for members in next.scopes.values_mut() {
                        members.remove(id);
                    }
                }
            }
        }
    }
    next
}

fn actions(plan: &Plan) -> Vec<(String, String)> {
    plan.changes.iter().map(|c| (c.action().to_owned(), c.target())).collect()
}

fn with_scope(mut current: Current, scope: &str) -> Current {
    current.scopes.insert(scope.to_owned(), BTreeSet::new());
    current
}

#[test]
fn an_empty_manager_gets_everything_then_nothing() {
    let want = desired(vec![
        container("web", State::Running, &[(LABEL_SCOPES, "web1,web3")]),
        container("db", State::Exited, &[]),
    ]);
    let empty = with_scope(Current::default(), "web1");
    let first = plan(&want, &empty, &Options::default());
    let expected: Vec<(String, String)> = [
        ("add-scope", CONTAINER_SCOPE),
        ("add-scope", HOST_SCOPE),
        ("add-scope", MAP_SCOPE),
        ("add-scope", "h1_scope"),
        ("add-node", "h1"),
        ("add-node", "h1-db"),
        ("add-node", "h1-web"),
        ("assign", CONTAINER_SCOPE),
        ("assign", HOST_SCOPE),
        ("assign", "h1_scope"),
        ("assign", "web1"),
    ]
    .iter()
    .map(|(a, t)| ((*a).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(actions(&first), expected);
    let Change::AddNode { node, valid: false, .. } = &first.changes[5] else { panic!("{:?}", first.changes[5]) };
    assert_eq!(node.owner_role_id.as_deref(), Some("ALL_USERS"));
    assert_eq!(node.auto_device_search, Some(false));
    assert_eq!(node.variable("DOCKER_STATUS"), Some("exited"));
    // The missing label scope is skipped with a warning, as in 2015.
    assert_eq!(first.held.len(), 1);
    assert_eq!((first.held[0].reason.clone(), first.held[0].target.as_str()), (Reason::MissingScope, "web3"));
    assert!(first.warnings.iter().any(|w| w.contains("web3")), "{:?}", first.warnings);

    let second = plan(&want, &after(&empty, &first), &Options::default());
    assert!(second.changes.is_empty(), "{:?}", second.changes);
}

#[test]
fn a_state_change_modifies_variables_and_the_flag_and_keeps_the_rest() {
    let running = desired(vec![container("web", State::Running, &[])]);
    let mut current = after(&Current::default(), &plan(&running, &Current::default(), &Options::default()));
    // What an operator set on the node, and what the manager keeps of its own.
    let web = current.nodes.get_mut("h1-web").unwrap();
    web.node_variable_info
        .push(Variable { node_variable_name: "OWNER_TEAM".into(), node_variable_value: "ops".into() });
    web.rest.insert("snmpCommunity".into(), "private".into());
    web.node_hostname_info.push(Hostname { hostname: "web.example".into() });

    let exited = desired(vec![container("web", State::Exited, &[])]);
    let change = plan(&exited, &current, &Options::default());
    let [Change::Modify { facility_id, fields, node }] = change.changes.as_slice() else {
        panic!("{:?}", change.changes)
    };
    assert_eq!(facility_id, "h1-web");
    let fields: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["valid", "DOCKER_STATUS"]);
    assert_eq!(node.valid, Some(false));
    assert_eq!(node.facility_id, None, "a modify takes its id from the path");
    assert_eq!(node.variable("OWNER_TEAM"), Some("ops"));
    assert_eq!(node.rest.get("snmpCommunity").and_then(|v| v.as_str()), Some("private"));
    assert_eq!(node.node_hostname_info.len(), 2);

    // Re-created under the same name: the new id replaces kura's host name only.
    let mut again = container("web", State::Running, &[]);
    again.id = "b".repeat(64);
    let change = plan(&desired(vec![again]), &after(&current, &change), &Options::default());
    let [Change::Modify { node, .. }] = change.changes.as_slice() else { panic!("{:?}", change.changes) };
    let names: Vec<&str> = node.node_hostname_info.iter().map(|h| h.hostname.as_str()).collect();
    assert_eq!(names, ["web.example", "bbbbbbbbbbbb"]);
}

#[test]
fn only_the_flag_uses_node_valid() {
    let want = desired(vec![container("web", State::Running, &[])]);
    let mut current = after(&Current::default(), &plan(&want, &Current::default(), &Options::default()));
    current.nodes.get_mut("h1-web").unwrap().valid = Some(false);
    let change = plan(&want, &current, &Options::default());
    assert_eq!(change.changes, [Change::Valid { facility_id: "h1-web".into(), valid: true }]);
}

#[test]
fn gone_containers_are_invalidated_and_deleted_only_with_delete() {
    let both = desired(vec![container("web", State::Running, &[]), container("old", State::Running, &[])]);
    let current = after(&Current::default(), &plan(&both, &Current::default(), &Options::default()));
    let one = desired(vec![container("web", State::Running, &[])]);
    let kept = plan(&one, &current, &Options::default());
    assert_eq!(kept.changes, [Change::Valid { facility_id: "h1-old".into(), valid: false }]);
    assert_eq!(kept.held[0].reason, Reason::NeedsDelete);
    let deleted = plan(&one, &current, &Options { delete: true, ..Options::default() });
    assert_eq!(deleted.changes, [Change::Delete { facility_ids: vec!["h1-old".into()] }]);
    // Outside the selection: left alone.
    let selected = Options { delete: true, selection: Selection::Prefix("we".into()), ..Options::default() };
    assert!(plan(&one, &current, &selected).changes.is_empty());
    // An incomplete sweep takes nothing as gone.
    let mut partial = one.clone();
    partial.complete = false;
    let held = plan(&partial, &current, &Options { delete: true, ..Options::default() });
    assert!(held.changes.is_empty(), "{:?}", held.changes);
    assert_eq!(held.held[0].reason, Reason::Incomplete);
}

#[test]
fn nodes_kura_did_not_create_are_left_alone_unless_adopted() {
    let want = desired(vec![container("web", State::Running, &[])]);
    let mut current = Current::default();
    let theirs = NodeInfo {
        facility_id: Some("h1-web".into()),
        valid: Some(true),
        node_variable_info: vec![Variable {
            node_variable_name: "DOCKER_HOST".into(),
            node_variable_value: "h1".into(),
        }],
        ..NodeInfo::default()
    };
    let stale = NodeInfo { facility_id: Some("h1-gone".into()), facility_name: Some("gone".into()), ..theirs.clone() };
    for node in [theirs, stale] {
        let id = node.facility_id.clone().unwrap();
        current.node_ids.insert(id.clone());
        current.nodes.insert(id, node);
    }
    let left = plan(&want, &current, &Options { delete: true, ..Options::default() });
    assert!(
        !left.changes.iter().any(|c| c.target().contains("h1-web") || c.target().contains("h1-gone")),
        "{:?}",
        left.changes
    );
    assert!(left.held.iter().any(|h| h.reason == Reason::NotKuras && h.target == "h1-web"));
    let adopted = plan(&want, &current, &Options { delete: true, adopt: true, ..Options::default() });
    let Some(Change::Modify { node, .. }) = adopted.changes.iter().find(|c| c.target() == "h1-web") else {
        panic!("{:?}", adopted.changes)
    };
    assert_eq!(node.variable(MARKER), Some("h1"));
    assert!(adopted.changes.contains(&Change::Delete { facility_ids: vec!["h1-gone".into()] }));
    // Another host's kura node is never taken.
    let mut other = current.clone();
    other.nodes.get_mut("h1-web").unwrap().node_variable_info =
        vec![Variable { node_variable_name: MARKER.into(), node_variable_value: "h2".into() }];
    let refused = plan(&want, &other, &Options { adopt: true, ..Options::default() });
    assert!(refused.held.iter().any(|h| h.reason == Reason::OtherHost));
}

#[test]
fn label_scopes_are_released_only_with_unassign() {
    let before = desired(vec![container("web", State::Running, &[(LABEL_SCOPES, "old,web1")])]);
    let start = with_scope(with_scope(Current::default(), "old"), "web1");
    let current = after(&start, &plan(&before, &start, &Options::default()));
    assert!(current.scopes["old"].contains("h1-web"));
    let now = desired(vec![container("web", State::Running, &[(LABEL_SCOPES, "web1")])]);
    assert!(plan(&now, &current, &Options::default()).changes.is_empty());
    let released = plan(&now, &current, &Options { unassign: true, ..Options::default() });
    assert_eq!(released.changes, [Change::Unassign { scope: "old".into(), facility_ids: vec!["h1-web".into()] }]);
}

#[test]
fn plans_serialize_with_their_actions() {
    let want = desired(vec![container("web", State::Running, &[])]);
    let first = plan(&want, &Current::default(), &Options::default());
    let json = serde_json::to_value(&first).unwrap();
    assert_eq!(json["host"], "h1");
    assert_eq!(
        json["changes"][0],
        serde_json::json!({"action": "add-scope", "facilityId": CONTAINER_SCOPE, "parent": null})
    );
    let _: BTreeMap<String, serde_json::Value> = serde_json::from_value(json).unwrap();
}
