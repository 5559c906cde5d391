//! The differences between what the store says a host's repository should
//! be ([`Desired`]) and what the manager has ([`Current`]), as the changes
//! that close them, in the order they can be made. Pure: the manager is
//! read before, and written after ([`crate::apply`]).
//!
//! Rules: a node is kura's when its `KURA_MANAGED` variable names this
//! host's node; nodes that are not are never changed (reported as held)
//! unless `adopt`, which takes over nodes without the marker that are
//! desired or whose `DOCKER_HOST` names this host (the 2015 scripts' own).
//! Nodes of containers gone from the newest sweep are made invalid, and
//! deleted only with `delete`. Label scopes that do not exist are skipped
//! with a warning; label scopes are assigned, and released only with
//! `unassign`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use serde::Serialize;

use crate::current::Current;
use crate::desired::{Desired, Kind, Node, MARKER, VARIABLES};
use crate::hinemos::dto::{AddScopeRequest, Hostname, IpAddressVersion, NodeInfo, ScopeInfo, Variable};
use crate::select::Selection;

/// The platform of every node kura adds.
pub const PLATFORM: &str = "LINUX";

/// What a plan may do beyond adding and updating.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Delete the nodes of containers that are gone.
    pub delete: bool,
    /// Take over nodes kura did not create.
    pub adopt: bool,
    /// Release nodes from label scopes their label no longer names.
    pub unassign: bool,
    /// The containers kept in step (nodes of others are left alone).
    pub selection: Selection,
}

/// One field that changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// `valid`, `nodeName`, `DOCKER_STATUS`, ...
    pub field: String,
    /// The manager's value; `None`: absent.
    pub from: Option<String>,
    /// kura's; `None`: removed.
    pub to: Option<String>,
}

/// A change to make on the manager.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Change {
    /// Add a scope.
    AddScope {
        /// The scope.
        #[serde(rename = "facilityId")]
        facility_id: String,
        /// Its parent; `None`: the top level.
        parent: Option<String>,
        /// What is sent.
        #[serde(skip)]
        request: AddScopeRequest,
    },
    /// Add a node.
    AddNode {
        /// The node.
        #[serde(rename = "facilityId")]
        facility_id: String,
        /// Its managed flag.
        valid: bool,
        /// What is sent.
        #[serde(skip)]
        node: Box<NodeInfo>,
    },
    /// Replace a node with its changed self (GET, change, PUT).
    Modify {
        /// The node.
        #[serde(rename = "facilityId")]
        facility_id: String,
        /// What changes.
        fields: Vec<FieldChange>,
        /// The whole node as sent.
        #[serde(skip)]
        node: Box<NodeInfo>,
    },
    /// Only the managed flag changes (`PUT /node_valid`).
    Valid {
        /// The node.
        #[serde(rename = "facilityId")]
        facility_id: String,
        /// The new flag.
        valid: bool,
    },
    /// Assign nodes to a scope.
    Assign {
        /// The scope.
        scope: String,
        /// The nodes.
        #[serde(rename = "facilityIds")]
        facility_ids: Vec<String>,
    },
    /// Release nodes from a scope.
    Unassign {
        /// The scope.
        scope: String,
        /// The nodes.
        #[serde(rename = "facilityIds")]
        facility_ids: Vec<String>,
    },
    /// Delete nodes.
    Delete {
        /// The nodes.
        #[serde(rename = "facilityIds")]
        facility_ids: Vec<String>,
    },
}

impl Change {
    /// The action's name, as printed.
    pub fn action(&self) -> &'static str {
        match self {
            Change::AddScope { .. } => "add-scope",
            Change::AddNode { .. } => "add-node",
            Change::Modify { .. } => "modify",
            Change::Valid { .. } => "valid",
            Change::Assign { .. } => "assign",
            Change::Unassign { .. } => "unassign",
            Change::Delete { .. } => "delete",
        }
    }

    /// What it is done to: a facility id, a scope, or ids joined by `,`.
    pub fn target(&self) -> String {
        match self {
            Change::AddScope { facility_id, .. }
            | Change::AddNode { facility_id, .. }
            | Change::Modify { facility_id, .. }
            | Change::Valid { facility_id, .. } => facility_id.clone(),
            Change::Assign { scope, .. } | Change::Unassign { scope, .. } => scope.clone(),
            Change::Delete { facility_ids } => facility_ids.join(","),
        }
    }

    /// The details, on one line.
    pub fn detail(&self) -> String {
        let flag = |valid: &bool| if *valid { "valid" } else { "invalid" };
        match self {
            Change::AddScope { parent, .. } => {
                parent.as_ref().map_or("at the top level".to_owned(), |p| format!("in {p}"))
            }
            Change::AddNode { valid, node, .. } => {
                let address = node.ip_address_v4.as_ref().or(node.ip_address_v6.as_ref()).cloned().unwrap_or_default();
                format!("{}, {}, {address}", flag(valid), node.node_name.as_deref().unwrap_or_default())
            }
            Change::Modify { fields, .. } => fields
                .iter()
                .map(|f| {
                    let show = |v: &Option<String>| v.as_deref().map_or("(none)".to_owned(), |v| v.to_owned());
                    format!("{}: {} -> {}", f.field, show(&f.from), show(&f.to))
                })
                .collect::<Vec<_>>()
                .join("; "),
            Change::Valid { valid, .. } => format!("{} -> {}", !valid, valid),
            Change::Assign { facility_ids, .. } | Change::Unassign { facility_ids, .. } => facility_ids.join(", "),
            Change::Delete { .. } => String::new(),
        }
    }
}

/// Why something the store suggests is not done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The node of a container that is gone: deleted only with `--delete`.
    NeedsDelete,
    /// The node exists and is not kura's: changed only with `--adopt`.
    NotKuras,
    /// The node belongs to another host kura keeps.
    OtherHost,
    /// A label scope that does not exist (as the 2015 scripts, skipped).
    MissingScope,
    /// The newest sweep is incomplete: nothing is taken as gone.
    Incomplete,
}

/// Something not done, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    /// The action it would be.
    pub action: &'static str,
    /// The node or scope.
    pub target: String,
    /// Why not.
    pub reason: Reason,
    /// One line for people.
    pub detail: String,
}

/// The changes for one host.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The host node's facility id.
    pub host: String,
    /// The changes, in the order they are made.
    pub changes: Vec<Change>,
    /// What is not done, and why.
    pub held: Vec<Held>,
    /// Lines for stderr: the store's oddities and what is skipped.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// The plan that brings `current` to `desired`.
pub fn plan(desired: &Desired, current: &Current, options: &Options) -> Plan {
    let mut plan = Plan { host: desired.host.clone(), warnings: desired.warnings.clone(), ..Plan::default() };
    let host = desired.host.as_str();
    let ours = |node: &NodeInfo, wanted: bool| match node.variable(MARKER) {
        Some(owner) => owner == host,
        None => options.adopt && (wanted || node.variable("DOCKER_HOST") == Some(host)),
    };
    let mut scope_changes = Vec::new();
    for scope in &desired.scopes {
        if !current.scopes.contains_key(&scope.facility_id) {
            scope_changes.push(Change::AddScope {
                facility_id: scope.facility_id.clone(),
                parent: scope.parent.clone(),
                request: AddScopeRequest {
                    parent_facility_id: scope.parent.clone(),
                    scope_info: ScopeInfo {
                        facility_id: scope.facility_id.clone(),
                        facility_name: Some(scope.facility_name.clone()),
                        description: Some(scope.description.clone()),
                        owner_role_id: Some(desired.owner_role.clone()),
                    },
                },
            });
        }
    }
    let (mut adds, mut modifies, mut valids) = (Vec::new(), Vec::new(), Vec::new());
    let mut assign: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut unassign: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let member = |scope: &str, id: &str| current.scopes.get(scope).is_some_and(|members| members.contains(id));
    for node in &desired.nodes {
        let id = node.facility_id.as_str();
        match current.nodes.get(id) {
            None if current.node_ids.contains(id) => continue, // gone since the list
            None => adds.push(Change::AddNode {
                facility_id: id.to_owned(),
                valid: node.valid,
                node: Box::new(new_node(node, &desired.owner_role)),
            }),
            Some(existing) if !ours(existing, true) => {
                let (reason, detail) = match existing.variable(MARKER) {
                    Some(other) => (Reason::OtherHost, format!("node {id} is kura's for host {other}, not {host}")),
                    None => (Reason::NotKuras, format!("node {id} exists and is not kura's (--adopt takes it over)")),
                };
                plan.warnings.push(detail.clone());
                plan.held.push(Held { action: "modify", target: id.to_owned(), reason, detail });
                continue;
            }
            Some(existing) => {
                let (target, fields) = changed(existing, node);
                match fields.as_slice() {
                    [] => {}
                    [only] if only.field == "valid" => {
                        valids.push(Change::Valid { facility_id: id.to_owned(), valid: node.valid })
                    }
                    _ => modifies.push(Change::Modify { facility_id: id.to_owned(), fields, node: Box::new(target) }),
                }
            }
        }
        for scope in &node.scopes {
            if !member(scope, id) {
                assign.entry(scope).or_default().push(id.to_owned());
            }
        }
        for scope in &node.label_scopes {
            if !current.scopes.contains_key(scope) {
                let detail = format!("scope {scope} does not exist: {id} is not assigned to it");
                plan.warnings.push(detail.clone());
                plan.held.push(Held { action: "assign", target: scope.clone(), reason: Reason::MissingScope, detail });
            } else if !member(scope, id) {
                assign.entry(scope).or_default().push(id.to_owned());
            }
        }
        if options.unassign && node.kind == Kind::Container {
            for scope in &desired.named_scopes {
                if !node.label_scopes.contains(scope) && !node.scopes.contains(scope) && member(scope, id) {
                    unassign.entry(scope).or_default().push(id.to_owned());
                }
            }
        }
    }
    let mut gone = Vec::new();
    for (id, existing) in &current.nodes {
        let selected = existing.facility_name.as_deref().is_some_and(|name| options.selection.matches(name));
        if desired.node(id).is_some() || id == host || !selected || !ours(existing, false) {
            continue;
        }
        if !desired.complete {
            plan.held.push(Held {
                action: "delete",
                target: id.clone(),
                reason: Reason::Incomplete,
                detail: "the newest sweep listed containers the store has no sample of".to_owned(),
            });
            continue;
        }
        if options.delete {
            gone.push(id.clone());
            continue;
        }
        if existing.valid != Some(false) {
            valids.push(Change::Valid { facility_id: id.clone(), valid: false });
        }
        plan.held.push(Held {
            action: "delete",
            target: id.clone(),
            reason: Reason::NeedsDelete,
            detail: "its container is gone (--delete removes the node)".to_owned(),
        });
    }
    plan.changes = scope_changes;
    plan.changes.extend(adds);
    plan.changes.extend(modifies);
    plan.changes.extend(valids);
    plan.changes.extend(
        assign.into_iter().map(|(scope, facility_ids)| Change::Assign { scope: scope.to_owned(), facility_ids }),
    );
    plan.changes.extend(
        unassign.into_iter().map(|(scope, facility_ids)| Change::Unassign { scope: scope.to_owned(), facility_ids }),
    );
    if !gone.is_empty() {
        plan.changes.push(Change::Delete { facility_ids: gone });
    }
    plan
}

/// A node as added.
fn new_node(node: &Node, owner_role: &str) -> NodeInfo {
    let mut info = NodeInfo {
        facility_id: Some(node.facility_id.clone()),
        owner_role_id: Some(owner_role.to_owned()),
        auto_device_search: Some(false),
        ..NodeInfo::default()
    };
    set_kept_fields(&mut info, node);
    info.node_hostname_info = vec![Hostname { hostname: node.hostname.clone() }];
    info.node_variable_info = variables(node);
    info
}

/// The fields kura keeps on every node it owns.
fn set_kept_fields(info: &mut NodeInfo, node: &Node) {
    info.facility_name = Some(node.facility_name.clone());
    info.description = Some(node.description.clone());
    info.valid = Some(node.valid);
    info.platform_family = Some(PLATFORM.to_owned());
    info.node_name = Some(node.node_name.clone());
    match node.address {
        IpAddr::V4(v4) => {
            info.ip_address_version = Some(IpAddressVersion::V4);
            info.ip_address_v4 = Some(v4.to_string());
        }
        IpAddr::V6(v6) => {
            info.ip_address_version = Some(IpAddressVersion::V6);
            info.ip_address_v6 = Some(v6.to_string());
        }
    }
}

fn variables(node: &Node) -> Vec<Variable> {
    node.variables
        .iter()
        .map(|(name, value)| Variable { node_variable_name: name.clone(), node_variable_value: value.clone() })
        .collect()
}

/// `existing` with kura's fields set from `node`, and what that changes.
/// Host names: kura's is added, and the one it set before (the previous
/// container id) removed; others stay. Variables: kura's are set (and
/// removed where kura has none), others stay.
fn changed(existing: &NodeInfo, node: &Node) -> (NodeInfo, Vec<FieldChange>) {
    let mut target = existing.clone();
    // A modify takes the id from the path and keeps the stored owner role.
    target.facility_id = None;
    target.owner_role_id = None;
    set_kept_fields(&mut target, node);
    let before = existing.variable("DOCKER_CONTAINER_ID").filter(|old| *old != node.hostname);
    target.node_hostname_info.retain(|h| Some(h.hostname.as_str()) != before);
    if !target.node_hostname_info.iter().any(|h| h.hostname == node.hostname) {
        target.node_hostname_info.push(Hostname { hostname: node.hostname.clone() });
    }
    target.node_variable_info.retain(|v| !VARIABLES.contains(&v.node_variable_name.as_str()));
    target.node_variable_info.extend(variables(node));

    let mut fields = Vec::new();
    let mut compare = |field: &str, from: Option<String>, to: Option<String>| {
        if from != to {
            fields.push(FieldChange { field: field.to_owned(), from, to });
        }
    };
    compare("valid", Some(existing.valid.unwrap_or(true).to_string()), target.valid.map(|v| v.to_string()));
    compare("facilityName", existing.facility_name.clone(), target.facility_name.clone());
    compare("description", existing.description.clone(), target.description.clone());
    compare("nodeName", existing.node_name.clone(), target.node_name.clone());
    compare("platformFamily", existing.platform_family.clone(), target.platform_family.clone());
    let version = |info: &NodeInfo| info.ip_address_version.map(|v| format!("{v:?}"));
    compare("ipAddressVersion", version(existing), version(&target));
    compare("ipAddressV4", existing.ip_address_v4.clone(), target.ip_address_v4.clone());
    compare("ipAddressV6", existing.ip_address_v6.clone(), target.ip_address_v6.clone());
    let names =
        |info: &NodeInfo| -> BTreeSet<String> { info.node_hostname_info.iter().map(|h| h.hostname.clone()).collect() };
    let (had, has) = (names(existing), names(&target));
    if had != has {
        let join = |set: &BTreeSet<String>| Some(set.iter().cloned().collect::<Vec<_>>().join(","));
        compare("hostnames", join(&had), join(&has));
    }
    for name in VARIABLES {
        compare(name, existing.variable(name).map(str::to_owned), target.variable(name).map(str::to_owned));
    }
    (target, fields)
}

#[cfg(test)]
mod tests;
