//! The derivation on written-out histories: the event sequences moby
//! produces (recorded from dockerd 20.10 on the test bed), with and without
//! the sweeps' details, and with events lost.

use std::collections::BTreeMap;

use kura_store::payload::{Actor, ContainerDetails, Event};
use kura_store::sample::State;
use kura_store::EventRecord;

use super::*;

const ID: &str = "90b56eb899e7aaaabbbbccccddddeeeeffff00001111222233334444555566667";
const SEC: i64 = 1_000_000_000;

/// A container event `seconds` after the epoch with these attributes
/// (`name` is added).
fn event(seconds: f64, action: &str, attributes: &[(&str, &str)]) -> EventRecord {
    let mut map: BTreeMap<String, String> =
        attributes.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    map.entry("name".to_owned()).or_insert_with(|| "web".to_owned());
    map.insert("image".to_owned(), "busybox".to_owned());
    // Whole milliseconds: exact in f64 for these test times.
    #[allow(clippy::cast_possible_truncation)]
    let time_ns = (seconds * 1_000.0).round() as i64 * NS_PER_MS;
    EventRecord {
        time_ns,
        event: Event {
            kind: Some("container".to_owned()),
            action: Some(action.to_owned()),
            actor: Some(Actor { id: ID.to_owned(), attributes: map }),
            ..Event::default()
        },
    }
}

fn details(state: State) -> ContainerDetails {
    ContainerDetails { state: Some(state), ..ContainerDetails::default() }
}

fn rfc3339(seconds: f64) -> Option<String> {
    #[allow(clippy::cast_possible_truncation)]
    let ms = (seconds * 1_000.0).round() as i64;
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339())
}

fn seen(seconds: i64, until: i64, details: ContainerDetails) -> Seen {
    Seen { time_ns: seconds * SEC, until_ns: until * SEC, details }
}

fn input(events: Vec<EventRecord>) -> ContainerInput {
    ContainerInput {
        host: "h".to_owned(),
        id: ID.to_owned(),
        name: "web".to_owned(),
        events,
        ..ContainerInput::default()
    }
}

/// `from -> to` of each transition.
fn phases(transitions: &[Transition]) -> Vec<String> {
    transitions.iter().map(|t| format!("{} -> {}", t.from, t.to)).collect()
}

#[test]
fn a_scripted_life_from_events_alone() {
    let events = vec![
        event(1.0, "create", &[]),
        event(1.4, "start", &[]),
        event(2.0, "pause", &[]),
        event(2.5, "unpause", &[]),
        // docker stop: sleep ignores SIGTERM as pid 1, so SIGKILL follows.
        event(3.0, "kill", &[("signal", "15")]),
        event(13.0, "kill", &[("signal", "9")]),
        event(13.05, "die", &[("exitCode", "137")]),
        event(13.1, "stop", &[]),
        event(14.0, "start", &[]),
        event(15.0, "rename", &[("name", "web2"), ("oldName", "/web")]),
        event(16.0, "kill", &[("signal", "9"), ("name", "web2")]),
        event(16.05, "die", &[("exitCode", "137"), ("name", "web2")]),
        event(16.3, "destroy", &[("name", "web2")]),
    ];
    let transitions = derive(&input(events));
    assert_eq!(
        phases(&transitions),
        [
            "none -> created",
            "created -> running",
            "running -> paused",
            "paused -> running",
            "running -> exited",
            "exited -> running",
            "running -> running",
            "running -> exited",
            "exited -> removed"
        ]
    );
    let stop = &transitions[4];
    assert_eq!((stop.exit_code, stop.signal, stop.stopped), (Some(137), Some(9), Some(Stop::Stop)));
    assert_eq!(stop.explanation(), "exit 137, signal 9, stopped by hand");
    assert_eq!(transitions[5].started, Some(Start::Hand));
    assert_eq!(transitions[1].started, Some(Start::First));
    let rename = &transitions[6];
    assert_eq!((rename.name.as_str(), rename.renamed_from.as_deref()), ("web2", Some("web")));
    // Names as they were at the time.
    assert_eq!(transitions[4].name, "web");
    assert_eq!(transitions[8].name, "web2");
    assert_eq!(transitions[7].stopped, Some(Stop::Remove), "the kill right before destroy: rm -f");
    assert!(transitions.iter().all(|t| t.source == Source::Event && t.id == ID && t.host == "h"));
}

#[test]
fn rm_f_of_a_running_container_is_a_removal_by_hand() {
    let events = vec![
        event(1.0, "start", &[]),
        event(2.0, "kill", &[("signal", "9")]),
        event(2.05, "die", &[("exitCode", "137")]),
        event(2.3, "destroy", &[]),
    ];
    let transitions = derive(&input(events));
    assert_eq!(phases(&transitions), ["none -> running", "running -> exited", "exited -> removed"]);
    assert_eq!(transitions[1].stopped, Some(Stop::Remove));
}

#[test]
fn a_restart_loop_by_policy_counts_each_restart() {
    let mut container = input(vec![
        event(1.0, "start", &[]),
        event(2.0, "die", &[("exitCode", "1")]),
        event(2.6, "start", &[]),
        event(3.6, "die", &[("exitCode", "1")]),
        event(4.2, "start", &[]),
    ]);
    container.initial = Some(ContainerDetails { restart_policy: Some("always".to_owned()), ..details(State::Created) });
    let transitions = derive(&container);
    assert_eq!(
        phases(&transitions),
        [
            "created -> running",
            "running -> restarting",
            "restarting -> running",
            "running -> restarting",
            "restarting -> running"
        ]
    );
    assert_eq!(transitions[2].started, Some(Start::Policy));
    assert_eq!(transitions[1].exit_code, Some(1));
    let tallies = tally(&transitions);
    let web = &tallies[ID];
    assert_eq!((web.restarts(), web.restarts_by_policy, web.exits, web.last_exit_code), (2, 2, 2, Some(1)));
}

#[test]
fn without_a_policy_a_start_after_an_exit_is_by_hand_and_no_restart() {
    let transitions = derive(&input(vec![
        event(1.0, "start", &[]),
        event(2.0, "die", &[("exitCode", "0")]),
        event(9.0, "start", &[]),
    ]));
    assert_eq!(phases(&transitions), ["none -> running", "running -> exited", "exited -> running"]);
    assert_eq!(transitions[2].started, Some(Start::Hand));
    assert_eq!(tally(&transitions)[ID].restarts(), 0);
}

#[test]
fn the_sweeps_restart_count_tells_a_policy_restart_from_a_start_by_hand() {
    // on-failure: a policy the heuristics would apply; the details say otherwise.
    let policy = |rc| ContainerDetails {
        restart_policy: Some("on-failure".to_owned()),
        restart_count: rc,
        ..details(State::Running)
    };
    let mut by_hand = input(vec![event(2.0, "die", &[("exitCode", "1")]), event(3.0, "start", &[])]);
    by_hand.initial = Some(policy(4));
    by_hand.seen = vec![seen(10, 20, policy(0))];
    let transitions = derive(&by_hand);
    assert_eq!(phases(&transitions), ["running -> exited", "exited -> running"]);
    assert_eq!(transitions[1].started, Some(Start::Hand));

    let mut by_policy = by_hand.clone();
    by_policy.seen = vec![seen(10, 20, policy(5))];
    let transitions = derive(&by_policy);
    assert_eq!(phases(&transitions), ["running -> restarting", "restarting -> running"]);
    assert_eq!(transitions[1].started, Some(Start::Policy));
    assert_eq!(transitions.len(), 2, "the raised count is the restart the events told, not another");
}

#[test]
fn docker_restart_is_a_stop_and_a_start_by_hand() {
    let transitions = derive(&input(vec![
        event(1.0, "start", &[]),
        event(2.0, "kill", &[("signal", "15")]),
        event(3.0, "kill", &[("signal", "9")]),
        event(3.05, "die", &[("exitCode", "137")]),
        event(3.2, "stop", &[]),
        event(3.7, "start", &[]),
        event(3.7001, "restart", &[]),
    ]));
    assert_eq!(phases(&transitions), ["none -> running", "running -> exited", "exited -> running"]);
    assert_eq!(transitions[1].stopped, Some(Stop::Restart));
    assert_eq!(transitions[2].started, Some(Start::Restart));
    assert_eq!(transitions[2].explanation(), "restart by hand");
    assert_eq!(tally(&transitions)[ID].restarts_by_hand, 1);
}

#[test]
fn an_oom_kill_is_told_on_the_die_and_counted_once() {
    let mut container = input(vec![
        event(1.0, "start", &[]),
        event(1.02, "oom", &[]),
        event(1.05, "die", &[("exitCode", "137")]),
        event(1.7, "start", &[]),
    ]);
    container.initial = Some(ContainerDetails { restart_policy: Some("always".to_owned()), ..details(State::Created) });
    let transitions = derive(&container);
    assert_eq!(phases(&transitions), ["created -> running", "running -> restarting", "restarting -> running"]);
    assert!(transitions[1].oom_killed);
    assert_eq!(transitions[1].explanation(), "exit 137, OOM killed");
    let web = &tally(&transitions)[ID];
    assert_eq!((web.oom_kills, web.restarts()), (1, 1));

    // A process other than the main one killed: a change of its own.
    let transitions = derive(&input(vec![event(1.0, "start", &[]), event(5.0, "oom", &[])]));
    assert_eq!(phases(&transitions), ["none -> running", "running -> running"]);
    assert!(transitions[1].oom_killed);
}

#[test]
fn inspects_exit_code_and_oom_flag_win_over_the_event() {
    // A label named exitCode overwrote the attribute: not believed.
    let mut container = input(vec![event(1.0, "start", &[]), event(2.0, "die", &[("exitCode", "label-value")])]);
    container.labels.insert("exitCode".to_owned(), "label-value".to_owned());
    assert_eq!(derive(&container)[1].exit_code, None);
    container.seen = vec![seen(
        10,
        20,
        ContainerDetails { exit_code: 137, oom_killed: true, finished_at: rfc3339(1.97), ..details(State::Exited) },
    )];
    let transitions = derive(&container);
    assert_eq!(phases(&transitions), ["none -> running", "running -> exited"]);
    assert_eq!((transitions[1].exit_code, transitions[1].oom_killed), (Some(137), true));
    assert_eq!(transitions[1].source, Source::Event);
}

#[test]
fn changes_the_events_missed_are_seen_by_sweep() {
    // The collector was down while the container died and was started by
    // hand again, then it was removed: no events at all.
    let mut container = input(Vec::new());
    container.initial = Some(details(State::Running));
    container.seen = vec![
        seen(100, 110, ContainerDetails { exit_code: 3, finished_at: rfc3339(95.0), ..details(State::Exited) }),
        seen(110, 120, details(State::Running)),
    ];
    container.gone_ns = Some(130 * SEC);
    let transitions = derive(&container);
    assert_eq!(phases(&transitions), ["running -> exited", "exited -> running", "running -> removed"]);
    assert!(transitions.iter().all(|t| t.source == Source::Sweep));
    assert_eq!(transitions[0].exit_code, Some(3));
    assert_eq!(transitions[0].time_ns, 100 * SEC);
    assert_eq!(transitions[0].explanation(), "exit 3, seen by sweep");

    // A container first seen by a sweep: none -> its state.
    let mut new = input(Vec::new());
    new.seen = vec![seen(5, 15, details(State::Running))];
    assert_eq!(phases(&derive(&new)), ["none -> running"]);
}

#[test]
fn restarts_counted_by_the_daemon_but_not_told_by_events_are_seen_by_sweep() {
    let policy = |rc| ContainerDetails {
        restart_policy: Some("always".to_owned()),
        restart_count: rc,
        ..details(State::Running)
    };
    let mut container = input(vec![event(12.0, "die", &[("exitCode", "1")]), event(12.5, "start", &[])]);
    container.initial = Some(policy(2));
    // The count went from 2 to 5: one restart the events told, two they lost.
    container.seen = vec![seen(20, 30, policy(5))];
    let transitions = derive(&container);
    assert_eq!(
        phases(&transitions),
        ["running -> restarting", "restarting -> running", "running -> running", "running -> running"]
    );
    assert_eq!(transitions.iter().filter(|t| t.source == Source::Sweep).count(), 2);
    assert_eq!(tally(&transitions)[ID].restarts_by_policy, 3);
}

#[test]
fn a_sweep_that_raced_with_an_event_is_no_change() {
    // The sweep began at 10 s; the container died at 10.2 s; inspect, a
    // moment later, already saw it exited.
    let mut container = input(vec![event(1.0, "start", &[]), event(10.2, "die", &[("exitCode", "0")])]);
    container.seen =
        vec![seen(10, 20, ContainerDetails { exit_code: 0, finished_at: rfc3339(10.19), ..details(State::Exited) })];
    let transitions = derive(&container);
    assert_eq!(phases(&transitions), ["none -> running", "running -> exited"]);
    assert!(transitions.iter().all(|t| t.source == Source::Event));
}

#[test]
fn health_changes_come_from_events_or_sweeps_once_each() {
    let mut container = input(vec![
        event(1.0, "start", &[]),
        event(5.0, "health_status: healthy", &[]),
        event(9.0, "health_status: unhealthy", &[]),
    ]);
    container.seen = vec![
        seen(10, 20, ContainerDetails { health: Some("unhealthy".to_owned()), ..details(State::Running) }),
        // The event that said healthy again was lost.
        seen(20, 30, ContainerDetails { health: Some("healthy".to_owned()), ..details(State::Running) }),
    ];
    let transitions = derive(&container);
    let health: Vec<(Option<&str>, Source)> =
        transitions.iter().skip(1).map(|t| (t.health.as_deref(), t.source)).collect();
    assert_eq!(
        health,
        [(Some("healthy"), Source::Event), (Some("unhealthy"), Source::Event), (Some("healthy"), Source::Sweep)]
    );
}

#[test]
fn buckets_count_per_container_and_bucket() {
    let mut container = input(vec![
        event(1.0, "start", &[]),
        event(2.0, "die", &[("exitCode", "1")]),
        event(2.5, "start", &[]),
        event(62.0, "die", &[("exitCode", "2")]),
        event(62.5, "start", &[]),
        event(63.0, "oom", &[]),
    ]);
    container.initial = Some(ContainerDetails { restart_policy: Some("always".to_owned()), ..details(State::Created) });
    let buckets = tally_by_bucket(&derive(&container), 60 * SEC);
    let counts: Vec<(i64, u64, u64, Option<i64>)> = buckets
        .iter()
        .map(|((id, start), t)| {
            assert_eq!(id, ID);
            (start / SEC, t.restarts(), t.oom_kills, t.last_exit_code)
        })
        .collect();
    assert_eq!(counts, [(0, 1, 0, Some(1)), (60, 1, 1, Some(2))]);
}

#[test]
fn phases_print_and_parse_back() {
    for phase in [Phase::Absent, Phase::Removed].into_iter().chain(State::ALL.into_iter().map(Phase::Is)) {
        assert_eq!(Phase::parse(phase.as_str()), Some(phase));
    }
    assert_eq!(Phase::parse("stopped"), None);
}

#[test]
fn a_sweep_between_a_die_and_its_restart_reveals_no_extra_restart() {
    let policy = |state, rc, finished: Option<f64>| ContainerDetails {
        restart_policy: Some("always".to_owned()),
        restart_count: rc,
        exit_code: 3,
        finished_at: finished.and_then(rfc3339),
        ..details(state)
    };
    let mut container = input(vec![
        event(1.0, "start", &[]),
        event(2.0, "die", &[("exitCode", "3")]),
        event(2.6, "start", &[]),
        event(3.6, "die", &[("exitCode", "3")]),
        event(4.2, "start", &[]),
        // rm -f while it runs: the exit is this run's, not the last one a sweep saw.
        event(4.5, "kill", &[("signal", "9")]),
        event(4.52, "die", &[("exitCode", "137")]),
        event(4.7, "destroy", &[]),
    ]);
    container.initial = Some(policy(State::Created, 0, None));
    // The daemon raises the count as a container enters `restarting`, before
    // the start: as recorded on dockerd 20.10.
    container.seen = vec![
        seen(2, 3, policy(State::Restarting, 1, Some(1.999))),
        seen(3, 4, policy(State::Restarting, 2, Some(3.599))),
        seen(4, 5, policy(State::Running, 2, Some(3.599))),
    ];
    let transitions = derive(&container);
    assert_eq!(
        phases(&transitions),
        [
            "created -> running",
            "running -> restarting",
            "restarting -> running",
            "running -> restarting",
            "restarting -> running",
            "running -> exited",
            "exited -> removed"
        ]
    );
    assert!(transitions.iter().all(|t| t.source == Source::Event), "{transitions:#?}");
    assert_eq!(transitions[5].exit_code, Some(137));
    assert_eq!(transitions[5].stopped, Some(Stop::Remove));
    assert_eq!(tally(&transitions)[ID].restarts(), 2);
}

#[test]
fn quick_restarts_take_no_exit_details_from_a_later_run() {
    // on-failure:2 and an OOM every 30 ms: the only details a sweep kept
    // are of the last exit, a few hundred ms after the first.
    let policy = ContainerDetails {
        restart_policy: Some("on-failure:2".to_owned()),
        restart_count: 2,
        exit_code: 137,
        oom_killed: true,
        finished_at: rfc3339(1.75),
        ..details(State::Exited)
    };
    let mut container = input(vec![
        event(1.0, "start", &[]),
        event(1.02, "oom", &[]),
        event(1.03, "die", &[("exitCode", "137")]),
        event(1.2, "start", &[]),
        event(1.4, "oom", &[]),
        event(1.41, "die", &[("exitCode", "137")]),
        event(1.7, "start", &[]),
        event(1.74, "oom", &[]),
        event(1.75, "die", &[("exitCode", "137")]),
    ]);
    container.initial = Some(ContainerDetails { restart_count: 0, ..policy.clone() });
    container.initial.as_mut().unwrap().state = Some(State::Created);
    container.seen = vec![seen(2, 3, policy)];
    let transitions = derive(&container);
    assert_eq!(
        phases(&transitions),
        [
            "created -> running",
            "running -> restarting",
            "restarting -> running",
            "running -> restarting",
            "restarting -> running",
            "running -> exited"
        ]
    );
    let web = &tally(&transitions)[ID];
    assert_eq!((web.restarts_by_policy, web.oom_kills), (2, 3));
}

#[test]
fn a_policy_first_known_from_a_later_sweep_still_explains_the_first_restart() {
    // `docker run --restart always` of a container that exits at once: the
    // first die and restart come before any sweep recorded its details.
    let always =
        |state, rc| ContainerDetails { restart_policy: Some("always".to_owned()), restart_count: rc, ..details(state) };
    let mut container = input(vec![
        event(1.0, "create", &[]),
        event(1.4, "start", &[]),
        event(1.45, "die", &[("exitCode", "1")]),
        event(1.6, "start", &[]),
        event(1.65, "die", &[("exitCode", "1")]),
        event(1.9, "start", &[]),
    ]);
    container.seen = vec![seen(2, 3, always(State::Running, 2))];
    let transitions = derive(&container);
    assert_eq!(
        phases(&transitions),
        [
            "none -> created",
            "created -> running",
            "running -> restarting",
            "restarting -> running",
            "running -> restarting",
            "restarting -> running"
        ]
    );
    assert_eq!(tally(&transitions)[ID].restarts_by_policy, 2);
    assert!(transitions.iter().all(|t| t.source == Source::Event));
}
