//! One run for one host, the same for `kura nodes` and the collector: the
//! desired state from the store, what the manager has, the plan, and its
//! application.

use kura_store::sample::UnixMillis;
use kura_store::Reader;

use crate::apply::{self, Report};
use crate::current;
use crate::desired::{self, Desired};
use crate::hinemos::{Manager, ManagerError};
use crate::plan::{self, Plan};
use crate::settings::{HostTarget, NodesSettings, SettingsError};
use crate::view::{self, ViewError};

/// Why a run did not get as far as changing anything.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store gives no desired state.
    #[error(transparent)]
    View(#[from] ViewError),
    /// A setting (the password file) is unusable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The manager cannot be reached, refused the login, or could not be read.
    #[error("{0}; nothing was changed")]
    Manager(#[from] ManagerError),
}

/// The repository `target` should have, from the store at `now`.
pub fn desired(
    reader: &Reader,
    target: &HostTarget,
    settings: &NodesSettings,
    now: UnixMillis,
) -> Result<Desired, ViewError> {
    let view =
        view::host_view(reader, &target.name, &target.facility_id, target.address, &settings.options.selection, now)?;
    Ok(desired::build(&view, &settings.naming))
}

/// What the manager must change for `desired`.
pub fn plan(manager: &mut Manager, desired: &Desired, settings: &NodesSettings) -> Result<Plan, ManagerError> {
    let current = current::fetch(manager, desired, &settings.naming.separator)?;
    Ok(plan::plan(desired, &current, &settings.options))
}

/// Logs in to the configured manager (the password read from its file now).
pub fn connect(settings: &NodesSettings) -> Result<Option<Manager>, RunError> {
    let Some(manager) = &settings.manager else {
        return Ok(None);
    };
    Ok(Some(Manager::connect(manager.client_config()?)?))
}

/// Plans and applies for one host.
pub fn sync_host(
    reader: &Reader,
    manager: &mut Manager,
    target: &HostTarget,
    settings: &NodesSettings,
    now: UnixMillis,
) -> Result<(Plan, Report), RunError> {
    let desired = desired(reader, target, settings, now)?;
    let plan = plan(manager, &desired, settings)?;
    let report = apply::apply(manager, &plan);
    Ok((plan, report))
}
