//! One Docker request, typed, through kura's own client (the collector's,
//! GET only, `collector/src/docker/`) and through bollard (what `kura-ops`
//! uses), against the test bed's dockerd on its unix socket: what the
//! container operations would gain per request by extending the own client
//! instead of using bollard. A whole exec (create, start attached, drain,
//! inspect) through bollard is the yardstick: the request an operation
//! adds to it is what a faster client could save.
//!
//! Run (as root, after `scripts/testbed`): `cargo bench --bench docker_client`.

use std::time::Duration;

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::ListContainersOptions;
use bollard::{Docker, API_DEFAULT_VERSION};
use criterion::{criterion_group, criterion_main, Criterion};
use futures_util::StreamExt;
use kura_collector::api::{self, ContainerInspect, ContainerSummary};
use kura_collector::docker::{DockerClient, Endpoint};
use testkit::docker::{ContainerSpec, SOCKET};
use tokio::runtime::Runtime;

fn own_client(runtime: &Runtime) -> DockerClient {
    let client = DockerClient::new(Endpoint::Unix(SOCKET.into()), None, Duration::from_secs(10));
    let mut client = client.unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(client.negotiate()).unwrap_or_else(|e| panic!("{e}"));
    client
}

fn bollard(runtime: &Runtime) -> Docker {
    let docker = Docker::connect_with_unix(SOCKET, 120, API_DEFAULT_VERSION).unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(docker.negotiate_version()).unwrap_or_else(|e| panic!("{e}"))
}

async fn own_list(client: &DockerClient) -> usize {
    let body = client.get("/containers/json?all=1").await.unwrap_or_else(|e| panic!("{e}"));
    let list: Vec<ContainerSummary> = api::parse("container list", &body).unwrap_or_else(|e| panic!("{e}"));
    list.len()
}

async fn bollard_list(docker: &Docker) -> usize {
    let options = ListContainersOptions { all: true, ..ListContainersOptions::default() };
    docker.list_containers(Some(options)).await.unwrap_or_else(|e| panic!("{e}")).len()
}

async fn own_inspect(client: &DockerClient, id: &str) -> bool {
    let body = client.get(&format!("/containers/{id}/json")).await.unwrap_or_else(|e| panic!("{e}"));
    let inspect: ContainerInspect = api::parse("inspect", &body).unwrap_or_else(|e| panic!("{e}"));
    inspect.state.running
}

async fn bollard_inspect(docker: &Docker, id: &str) -> bool {
    let inspect = docker.inspect_container(id, None).await.unwrap_or_else(|e| panic!("{e}"));
    inspect.state.and_then(|s| s.running).unwrap_or(false)
}

/// `true` run in the container, as `kura-ops exec` runs it; its exit code.
async fn bollard_exec(docker: &Docker, id: &str) -> i64 {
    let options = CreateExecOptions {
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        cmd: Some(vec!["true".to_owned()]),
        ..CreateExecOptions::default()
    };
    let exec = docker.create_exec(id, options).await.unwrap_or_else(|e| panic!("{e}"));
    let started = docker.start_exec(&exec.id, None).await.unwrap_or_else(|e| panic!("{e}"));
    if let StartExecResults::Attached { mut output, .. } = started {
        while output.next().await.is_some() {}
    }
    loop {
        let inspected = docker.inspect_exec(&exec.id).await.unwrap_or_else(|e| panic!("{e}"));
        if inspected.running != Some(true) {
            return inspected.exit_code.unwrap_or(-1);
        }
    }
}

fn docker_client(c: &mut Criterion) {
    if let Err(reason) = testkit::docker::available() {
        testkit::peer_unavailable("dockerd", &reason);
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let container = ContainerSpec::new("bench-client").start();
    let id = container.id();
    let own = own_client(&runtime);
    let docker = bollard(&runtime);
    // Both read the same answers, or their timings mean nothing.
    assert!(runtime.block_on(own_list(&own)) >= 1);
    assert!(runtime.block_on(bollard_list(&docker)) >= 1);
    assert!(runtime.block_on(own_inspect(&own, id)) && runtime.block_on(bollard_inspect(&docker, id)));
    assert_eq!(runtime.block_on(bollard_exec(&docker, id)), 0);

    let mut group = c.benchmark_group("docker");
    group.bench_function("list/own_client", |b| b.iter(|| runtime.block_on(own_list(&own))));
    group.bench_function("list/bollard", |b| b.iter(|| runtime.block_on(bollard_list(&docker))));
    group.bench_function("inspect/own_client", |b| b.iter(|| runtime.block_on(own_inspect(&own, id))));
    group.bench_function("inspect/bollard", |b| b.iter(|| runtime.block_on(bollard_inspect(&docker, id))));
    group.bench_function("exec_true/bollard", |b| b.iter(|| runtime.block_on(bollard_exec(&docker, id))));
    group.finish();
}

criterion_group!(benches, docker_client);
criterion_main!(benches);
