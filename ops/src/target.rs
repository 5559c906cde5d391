//! The containers an operation acts on: those of the host's list (running
//! and stopped) that `-n`/`-c` select, in name order, with their states.
//!
//! Without a trailing `*`, `-c ID` must name one container (a unique
//! prefix of its id, as Docker takes ids) and `-n NAME` is the exact name:
//! an operation never acts on several containers unless `*` asked for it.

use std::fmt;

use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use kura_store::pattern::ContainerPattern;
use kura_store::sample::State;

use crate::error::OpsError;
use crate::host::Host;

/// A selected container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The full id.
    pub id: String,
    /// The name, without Docker's leading `/`.
    pub name: String,
    /// Its state when listed.
    pub state: ContainerState,
}

impl Target {
    /// The first 12 characters of the id, as `docker ps` (and the 2015 scripts) print it.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

/// A container's state as the daemon reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// One of Docker's states.
    Known(State),
    /// A word this build does not know (a newer daemon's); no operation acts on it.
    Other(String),
}

impl fmt::Display for ContainerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerState::Known(state) => f.write_str(state.as_str()),
            ContainerState::Other(word) => f.write_str(word),
        }
    }
}

/// The containers of `host` that `pattern` selects, sorted by name.
pub async fn select(host: &Host, pattern: &ContainerPattern) -> Result<Vec<Target>, OpsError> {
    let options = ListContainersOptions { all: true, ..ListContainersOptions::default() };
    let listed = host.within_timeout(host.docker.list_containers(Some(options))).await?;
    let listed = listed.map_err(|e| host.refused("listing containers", &e))?;
    choose(&host.name, listed.iter().filter_map(target), pattern)
}

/// The targets `pattern` selects among `listed`, or why none can be chosen.
fn choose(
    host: &str,
    listed: impl Iterator<Item = Target>,
    pattern: &ContainerPattern,
) -> Result<Vec<Target>, OpsError> {
    let mut chosen: Vec<Target> = listed.filter(|t| pattern.matches(&t.name, &t.id)).collect();
    chosen.sort_by(|a, b| a.name.cmp(&b.name));
    match chosen.len() {
        0 => Err(OpsError::NoMatch { host: host.to_owned(), pattern: pattern.to_string() }),
        1 => Ok(chosen),
        count if !pattern.is_prefix() => Err(OpsError::Ambiguous {
            host: host.to_owned(),
            pattern: pattern.to_string(),
            count,
            names: chosen.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", "),
        }),
        _ => Ok(chosen),
    }
}

/// A listed container as a target: its own name (not a legacy link's
/// `/other/alias`), its state (from `Status` for daemons without `State`).
fn target(summary: &ContainerSummary) -> Option<Target> {
    let id = summary.id.clone()?;
    let names = summary.names.as_deref().unwrap_or_default();
    let name = names.iter().map(|n| n.strip_prefix('/').unwrap_or(n)).find(|n| !n.contains('/'))?.to_owned();
    let word = summary.state.map(|s| s.to_string()).unwrap_or_default();
    let state = match State::from_docker(&word) {
        Some(state) => ContainerState::Known(state),
        None if word.is_empty() => match summary.status.as_deref().and_then(State::from_status) {
            Some(state) => ContainerState::Known(state),
            None => ContainerState::Other(summary.status.clone().unwrap_or_default()),
        },
        None => ContainerState::Other(word),
    };
    Some(Target { id, name, state })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::ContainerSummaryStateEnum;

    fn summary(id: &str, names: &[&str], state: Option<ContainerSummaryStateEnum>, status: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some(id.into()),
            names: Some(names.iter().map(|n| (*n).to_owned()).collect()),
            state,
            status: Some(status.into()),
            ..ContainerSummary::default()
        }
    }

    fn t(id: &str, name: &str) -> Target {
        Target { id: id.into(), name: name.into(), state: ContainerState::Known(State::Running) }
    }

    #[test]
    fn a_listed_container_has_its_own_name_and_its_state() {
        let s = summary("abc", &["/web/db", "/db"], Some(ContainerSummaryStateEnum::EXITED), "Exited (0)");
        assert_eq!(
            target(&s),
            Some(Target { id: "abc".into(), name: "db".into(), state: ContainerState::Known(State::Exited) })
        );
        let old = summary("abc", &["/db"], None, "Up 2 minutes (Paused)");
        assert_eq!(target(&old).map(|t| t.state), Some(ContainerState::Known(State::Paused)));
        let newer = summary("abc", &["/db"], Some(ContainerSummaryStateEnum::STOPPING), "");
        assert_eq!(target(&newer).map(|t| t.state.to_string()), Some("stopping".to_owned()));
    }

    #[test]
    fn one_container_unless_a_star_asks_for_all() {
        let listed = || vec![t("abc1", "web2"), t("abc2", "web1"), t("def", "db")].into_iter();
        let id = |text| ContainerPattern::id(text).unwrap();
        let name = |text| ContainerPattern::name(text).unwrap();
        assert_eq!(choose("h", listed(), &id("def")).unwrap(), vec![t("def", "db")]);
        match choose("h", listed(), &id("abc")) {
            Err(OpsError::Ambiguous { count: 2, names, .. }) => assert_eq!(names, "web1, web2"),
            other => panic!("{other:?}"),
        }
        let all: Vec<String> = choose("h", listed(), &id("abc*")).unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(all, ["web1", "web2"]);
        assert_eq!(choose("h", listed(), &name("web*")).unwrap().len(), 2);
        assert!(matches!(choose("h", listed(), &name("web")), Err(OpsError::NoMatch { .. })));
    }
}
