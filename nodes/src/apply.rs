//! Carries a plan out, change by change, in its order, and says exactly
//! what happened to each: done, refused (with the manager's message), or
//! not attempted (and why). A refused change stops only what depends on
//! it (a node that could not be added is not assigned; a scope that could
//! not be added gets no members); a manager that stops answering stops the
//! run.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::hinemos::{Manager, ManagerError};
use crate::plan::{Change, Plan};

/// What became of a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "reason", rename_all = "kebab-case")]
pub enum Status {
    /// Made.
    Done,
    /// The manager refused it, or failed.
    Failed(String),
    /// Not tried.
    NotAttempted(String),
}

/// A change and what became of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The change (as made: an assignment leaves out nodes that failed).
    #[serde(flatten)]
    pub change: Change,
    /// What became of it.
    #[serde(flatten)]
    pub status: Status,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Each change, in order.
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Whether every change was made.
    pub fn complete(&self) -> bool {
        self.outcomes.iter().all(|o| o.status == Status::Done)
    }

    /// How many changes were made.
    pub fn done(&self) -> usize {
        self.outcomes.iter().filter(|o| o.status == Status::Done).count()
    }
}

/// Makes the changes of `plan`.
pub fn apply(manager: &mut Manager, plan: &Plan) -> Report {
    let mut report = Report::default();
    // Nodes and scopes whose change failed: what needs them is not tried.
    let mut failed: BTreeSet<String> = BTreeSet::new();
    let mut gone: Option<String> = None;
    for change in &plan.changes {
        if let Some(reason) = &gone {
            let status = Status::NotAttempted(format!("the manager stopped answering ({reason})"));
            report.outcomes.push(Outcome { change: change.clone(), status });
            continue;
        }
        let mut change = change.clone();
        let blocked = match &mut change {
            Change::AddScope { parent: Some(parent), .. } if failed.contains(parent.as_str()) => {
                Some(format!("its parent scope {parent} could not be added"))
            }
            Change::Assign { scope, facility_ids } | Change::Unassign { scope, facility_ids } => {
                if failed.contains(scope.as_str()) {
                    Some(format!("scope {scope} could not be added"))
                } else {
                    facility_ids.retain(|id| !failed.contains(id));
                    facility_ids.is_empty().then(|| "none of its nodes could be added or changed".to_owned())
                }
            }
            _ => None,
        };
        if let Some(reason) = blocked {
            report.outcomes.push(Outcome { change, status: Status::NotAttempted(reason) });
            continue;
        }
        let status = match make(manager, &change) {
            Ok(()) => Status::Done,
            Err(error) => {
                if error.is_unreachable() {
                    gone = Some(error.to_string());
                }
                if let Change::AddScope { facility_id, .. } | Change::AddNode { facility_id, .. } = &change {
                    failed.insert(facility_id.clone());
                }
                Status::Failed(error.to_string())
            }
        };
        report.outcomes.push(Outcome { change, status });
    }
    report
}

fn make(manager: &mut Manager, change: &Change) -> Result<(), ManagerError> {
    match change {
        Change::AddScope { request, .. } => manager.add_scope(request),
        Change::AddNode { node, .. } => manager.add_node(node),
        Change::Modify { facility_id, node, .. } => manager.modify_node(facility_id, node),
        Change::Valid { facility_id, valid } => manager.set_valid(facility_id, *valid),
        Change::Assign { scope, facility_ids } => manager.assign(scope, facility_ids),
        Change::Unassign { scope, facility_ids } => manager.release(scope, facility_ids),
        Change::Delete { facility_ids } => manager.delete_nodes(facility_ids),
    }
}
