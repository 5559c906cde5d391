//! What the manager holds that concerns one host: which nodes exist, the
//! whole node of every desired one and of every node under the host's
//! prefix (kura's, possibly of containers now gone), and the scopes kura
//! uses with their node members.

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::Desired;
use crate::hinemos::dto::NodeInfo;
use crate::hinemos::{Manager, ManagerError};

/// The manager's side, as read at the start of a run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Current {
    /// Every node's facility id.
    pub node_ids: BTreeSet<String>,
    /// Whole nodes: the desired ones that exist, and those whose id starts
    /// with the host's facility id and the separator.
    pub nodes: BTreeMap<String, NodeInfo>,
    /// The scopes kura looked at that exist, each with its node members.
    pub scopes: BTreeMap<String, BTreeSet<String>>,
}

/// Reads what the manager has for `desired`.
pub fn fetch(manager: &mut Manager, desired: &Desired, separator: &str) -> Result<Current, ManagerError> {
    let node_ids: BTreeSet<String> = manager.node_ids()?.into_iter().collect();
    let prefix = format!("{}{separator}", desired.host);
    let wanted: Vec<&String> = node_ids
        .iter()
        .filter(|id| desired.node(id).is_some() || (id.starts_with(&prefix) && id.len() > prefix.len()))
        .collect();
    let mut nodes = BTreeMap::new();
    for id in wanted {
        // Gone between the list and now: as if it never was.
        if let Some(node) = manager.node(id)? {
            nodes.insert(id.clone(), node);
        }
    }
    let mut looked: BTreeSet<&String> = desired.scopes.iter().map(|s| &s.facility_id).collect();
    looked.extend(desired.nodes.iter().flat_map(|n| &n.label_scopes));
    looked.extend(&desired.named_scopes);
    let mut scopes = BTreeMap::new();
    for id in looked {
        if manager.scope(id)?.is_some() {
            let members = manager.children(id)?.into_iter().filter(|f| f.is_node()).map(|f| f.facility_id).collect();
            scopes.insert(id.clone(), members);
        }
    }
    Ok(Current { node_ids, nodes, scopes })
}
