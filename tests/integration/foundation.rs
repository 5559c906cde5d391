//! The test bed itself: the real dockerd answers kura's client, and test
//! containers never outlive their guards.

use std::time::Duration;

use kura_collector::api::{self, ContainerSummary};
use kura_collector::docker::{DockerClient, Endpoint};
use testkit::docker::{self as bed, ContainerSpec};

/// The test bed's dockerd, or `None` (after [`testkit::peer_unavailable`]) when it is missing.
pub fn docker_available() -> bool {
    match bed::available() {
        Ok(()) => true,
        Err(reason) => {
            testkit::peer_unavailable("dockerd", &reason);
            false
        }
    }
}

/// A negotiated kura client for the test bed's dockerd.
pub async fn local_client() -> DockerClient {
    let endpoint = Endpoint::Unix(bed::SOCKET.into());
    let mut client = match DockerClient::new(endpoint, None, Duration::from_secs(10)) {
        Ok(client) => client,
        Err(e) => panic!("{e}"),
    };
    if let Err(e) = client.negotiate().await {
        panic!("{e}");
    }
    client
}

#[tokio::test]
async fn a_fresh_labelled_container_is_listed_with_its_label() {
    if !docker_available() {
        return;
    }
    let container = ContainerSpec::new("label").label("hinemosAssignScopeId", "web1,web2").start();
    let client = local_client().await;

    let body = client.get("/containers/json?all=1").await;
    let body = body.unwrap_or_else(|e| panic!("{e}"));
    let list: Vec<ContainerSummary> = api::parse("container list", &body).unwrap_or_else(|e| panic!("{e}"));
    let ours = list.iter().find(|c| c.id == container.id());
    let ours = ours.unwrap_or_else(|| panic!("{} not in the list of {} containers", container.name(), list.len()));
    assert_eq!(ours.labels.get("hinemosAssignScopeId").map(String::as_str), Some("web1,web2"));
    assert_eq!(ours.name(), Some(container.name()));
    assert_eq!(ours.state(), Some(kura_store::sample::State::Running));
}

#[test]
fn container_guards_remove_their_containers_even_after_a_panic() {
    if !docker_available() {
        return;
    }
    // Parallel tests start containers too: count only this test's.
    let mark = format!("guard-{}", std::process::id());
    let ours = || bed::docker_ok(&["ps", "-aq", "--filter", &format!("label=kura.guardtest={mark}")]).lines().count();
    let before = ours();
    let name = {
        let created = ContainerSpec::new("guard").label("kura.guardtest", &mark).create();
        let started = ContainerSpec::new("guard").label("kura.guardtest", &mark).start();
        assert_eq!(ours(), before + 2);
        let name = started.name().to_owned();
        let panicked = std::panic::catch_unwind(move || {
            let _held = started;
            panic!("an assertion failed while a container was held");
        });
        assert!(panicked.is_err());
        drop(created);
        name
    };
    assert!(!bed::docker(&["inspect", &name]).status.success(), "{name} still exists");
    assert_eq!(ours(), before);
}

/// Polls `found` every 200 ms until it gives a value; panics naming `what`
/// after `timeout`. The wait is an await, so an in-process collector on the
/// test's runtime keeps running.
pub async fn poll<T>(what: &str, timeout: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(std::time::Instant::now() < deadline, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
