//! The transitions of one container from its events and the details its
//! sweeps recorded: a pure function over what the store holds, so that it
//! is tested on written-out histories (`tests.rs`) as well as on a real
//! daemon's.

use std::collections::BTreeMap;

use kura_store::payload::ContainerDetails;
use kura_store::sample::State;
use kura_store::EventRecord;

use super::{trusted_attribute, Phase, Source, Start, Stop, Transition};

/// How far apart inspect's `State.FinishedAt` and a `die` event may be and
/// still describe the same exit (the daemon stamps the two a few ms apart).
const SAME_EXIT_NS: i64 = 2_000_000_000;

/// Details one sweep recorded, and until when the container may have been
/// in the state they show (the next sweep: inspect answers some time after
/// the sweep began).
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// The sweep's time, Unix ns.
    pub time_ns: i64,
    /// The next sweep's time (or the end of what is known), Unix ns.
    pub until_ns: i64,
    /// What inspect said.
    pub details: ContainerDetails,
}

/// Everything known about one container over a span of time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ContainerInput {
    /// The host, as the collector names it.
    pub host: String,
    /// The full container id.
    pub id: String,
    /// Its newest known name.
    pub name: String,
    /// Its labels (attributes of the same names in events are not believed).
    pub labels: BTreeMap<String, String>,
    /// The details in force when the span begins; `None` when the container
    /// was not known then.
    pub initial: Option<ContainerDetails>,
    /// Its events in the span, in time order.
    pub events: Vec<EventRecord>,
    /// The details sweeps recorded in the span (each a change), in time order.
    pub seen: Vec<Seen>,
    /// The first sweep that no longer listed it, Unix ns.
    pub gone_ns: Option<i64>,
}

/// The transitions of one container, in time order.
pub fn derive(input: &ContainerInput) -> Vec<Transition> {
    let mut walk = Walk::new(input);
    for index in 0..walk.items.len() {
        match walk.items[index] {
            Item::Event(record) => walk.event(index, record),
            Item::Seen(seen) => walk.seen(index, seen),
            Item::Gone(time_ns) => walk.gone(time_ns),
        }
    }
    walk.out
}

/// What an event says, for the container's life.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    Create,
    Start,
    Die,
    Kill,
    Oom,
    Stop,
    Restart,
    Pause,
    Unpause,
    Rename,
    Destroy,
    Health(String),
    Other,
}

impl Action {
    fn of(record: &EventRecord) -> Action {
        let action = record.event.action().unwrap_or_default();
        if let Some(status) = action.strip_prefix("health_status") {
            return Action::Health(status.trim_start_matches(':').trim().to_owned());
        }
        match action {
            "create" => Action::Create,
            "start" => Action::Start,
            "die" => Action::Die,
            "kill" => Action::Kill,
            "oom" => Action::Oom,
            "stop" => Action::Stop,
            "restart" => Action::Restart,
            "pause" => Action::Pause,
            "unpause" => Action::Unpause,
            "rename" => Action::Rename,
            "destroy" => Action::Destroy,
            _ => Action::Other,
        }
    }

    /// Whether the container may be in `phase` right after this event.
    fn may_lead_to(&self, phase: Phase) -> bool {
        match self {
            Action::Create => phase == Phase::Is(State::Created),
            Action::Start | Action::Restart | Action::Unpause => phase == Phase::Is(State::Running),
            Action::Die => matches!(phase, Phase::Is(State::Exited | State::Restarting | State::Dead)),
            Action::Stop => phase == Phase::Is(State::Exited),
            Action::Pause => phase == Phase::Is(State::Paused),
            Action::Destroy => matches!(phase, Phase::Removed | Phase::Is(State::Removing)),
            _ => false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Item<'a> {
    Event(&'a EventRecord),
    Seen(&'a Seen),
    Gone(i64),
}

impl Item<'_> {
    fn time_ns(&self) -> i64 {
        match self {
            Item::Event(record) => record.time_ns,
            Item::Seen(seen) => seen.time_ns,
            Item::Gone(time_ns) => *time_ns,
        }
    }

    /// At equal times events come first: a sweep's inspect answers after it began.
    fn rank(&self) -> u8 {
        match self {
            Item::Event(_) => 0,
            Item::Seen(_) => 1,
            Item::Gone(_) => 2,
        }
    }
}

/// What `RestartCount` should be, from the restarts by policy told so far:
/// the daemon's count may only exceed it by restarts the events missed.
#[derive(Clone, Debug, Default)]
struct RestartBook {
    /// The count in the details that started this book (`None`: none yet).
    base: Option<i64>,
    /// Restarts by policy told (by events, or by sweeps seeing a start) since the book began.
    told: i64,
    /// Restarts by policy that only the count revealed, since the book began.
    missed: i64,
}

impl RestartBook {
    /// A start or restart by hand: the daemon resets its count to 0.
    fn reset(&mut self) {
        *self = RestartBook { base: Some(0), ..RestartBook::default() };
    }

    /// The restarts by policy a sweep's `count` reveals beyond those told,
    /// when up to `ahead` more starts (after the sweep began) may be in it.
    fn reveal(&mut self, count: i64, ahead: i64) -> i64 {
        match self.base {
            Some(base) if count >= base => {
                let bound = count - base - self.told.saturating_add(ahead);
                let new = (bound - self.missed).max(0);
                self.missed += new;
                new
            }
            // First details, or a reset the events did not tell: start anew.
            _ => {
                *self = RestartBook { base: Some(count), ..RestartBook::default() };
                0
            }
        }
    }
}

/// The current run: since the last start.
#[derive(Clone, Debug, Default)]
struct Run {
    started_ns: Option<i64>,
    signal: Option<i64>,
    oom: bool,
}

struct Walk<'a> {
    input: &'a ContainerInput,
    items: Vec<Item<'a>>,
    phase: Phase,
    name: String,
    health: Option<String>,
    restart_count: Option<i64>,
    policy: Option<String>,
    run: Run,
    restarts: RestartBook,
    out: Vec<Transition>,
}

impl<'a> Walk<'a> {
    fn new(input: &'a ContainerInput) -> Walk<'a> {
        let mut items: Vec<Item<'a>> = input.events.iter().map(Item::Event).collect();
        items.extend(input.seen.iter().map(Item::Seen));
        items.extend(input.gone_ns.map(Item::Gone));
        items.sort_by_key(|item| (item.time_ns(), item.rank()));
        let initial = input.initial.as_ref();
        // Before its first rename the container had the old name.
        let first_rename = input.events.iter().find(|e| Action::of(e) == Action::Rename);
        let name = first_rename
            .and_then(|e| e.event.actor.as_ref())
            .and_then(|actor| actor.attributes.get("oldName"))
            .map_or_else(|| input.name.clone(), |old| old.trim_start_matches('/').to_owned());
        Walk {
            input,
            items,
            phase: initial.map_or(Phase::Absent, |d| d.state.map_or(Phase::Absent, Phase::Is)),
            name,
            health: initial.and_then(|d| d.health.clone()),
            restart_count: initial.map(|d| d.restart_count),
            // The policy rarely changes: the first details known tell it.
            policy: initial.or(input.seen.first().map(|s| &s.details)).and_then(|d| d.restart_policy.clone()),
            run: Run::default(),
            restarts: RestartBook { base: initial.map(|d| d.restart_count), ..RestartBook::default() },
            out: Vec::new(),
        }
    }

    fn attribute(&self, record: &'a EventRecord, key: &str) -> Option<&'a str> {
        let actor = record.event.actor.as_ref()?;
        trusted_attribute(&actor.attributes, &self.input.labels, key)
    }

    fn transition(&self, time_ns: i64, to: Phase, source: Source) -> Transition {
        Transition {
            time_ns,
            host: self.input.host.clone(),
            id: self.input.id.clone(),
            name: self.name.clone(),
            from: self.phase,
            to,
            exit_code: None,
            oom_killed: false,
            signal: None,
            started: None,
            stopped: None,
            health: None,
            renamed_from: None,
            source,
        }
    }

    /// Records a transition and moves to its phase.
    fn push(&mut self, transition: Transition) {
        self.phase = transition.to;
        self.out.push(transition);
    }

    /// Moves to `to` by an event, recording it when it is a change.
    fn change(&mut self, time_ns: i64, to: Phase) {
        if self.phase != to {
            let transition = self.transition(time_ns, to, Source::Event);
            self.push(transition);
        }
    }

    /// The events after item `index` up to `until_ns`, with their actions.
    fn events_after(&self, index: usize, until_ns: i64) -> impl Iterator<Item = (&'a EventRecord, Action)> + '_ {
        self.items[index + 1..].iter().take_while(move |item| item.time_ns() <= until_ns).filter_map(
            |item| match item {
                Item::Event(record) => Some((*record, Action::of(record))),
                _ => None,
            },
        )
    }

    /// The action of the next event that changes the container's life
    /// (not a kill, health check, rename or other), after item `index`.
    fn next_life_event(&self, index: usize) -> Option<Action> {
        self.events_after(index, i64::MAX)
            .map(|(_, action)| action)
            .find(|action| !matches!(action, Action::Kill | Action::Health(_) | Action::Rename | Action::Other))
    }

    fn event(&mut self, index: usize, record: &'a EventRecord) {
        let time_ns = record.time_ns;
        let action = Action::of(record);
        if action != Action::Rename {
            if let Some(name) = self.attribute(record, "name") {
                self.name = name.to_owned();
            }
        }
        match action {
            Action::Create => self.change(time_ns, Phase::Is(State::Created)),
            Action::Start => self.start(index, time_ns),
            Action::Die => self.die(index, record),
            Action::Kill => self.run.signal = self.attribute(record, "signal").and_then(|s| s.parse().ok()),
            Action::Oom => self.oom(index, time_ns),
            Action::Stop if matches!(self.phase, Phase::Is(State::Running | State::Paused)) => {
                // Its `die` was lost.
                let mut transition = self.transition(time_ns, Phase::Is(State::Exited), Source::Event);
                transition.stopped = Some(Stop::Stop);
                transition.signal = self.run.signal;
                self.push(transition);
            }
            Action::Restart if self.phase != Phase::Is(State::Running) => {
                let mut transition = self.transition(time_ns, Phase::Is(State::Running), Source::Event);
                transition.started = Some(Start::Restart);
                self.push(transition);
                self.run = Run { started_ns: Some(time_ns), ..Run::default() };
            }
            Action::Pause => self.change(time_ns, Phase::Is(State::Paused)),
            Action::Unpause => self.change(time_ns, Phase::Is(State::Running)),
            Action::Rename => {
                let old = self.attribute(record, "oldName").map(|old| old.trim_start_matches('/').to_owned());
                let new = self.attribute(record, "name").map(str::to_owned);
                let mut transition = self.transition(time_ns, self.phase, Source::Event);
                transition.renamed_from = old.or_else(|| Some(self.name.clone()));
                if let Some(new) = new {
                    transition.name.clone_from(&new);
                    self.name = new;
                }
                self.push(transition);
            }
            Action::Destroy => self.change(time_ns, Phase::Removed),
            Action::Health(status) => {
                if self.health.as_deref() != Some(status.as_str()) {
                    let mut transition = self.transition(time_ns, self.phase, Source::Event);
                    transition.health = Some(status.clone());
                    self.push(transition);
                    self.health = Some(status);
                }
            }
            Action::Stop | Action::Restart | Action::Other => {}
        }
    }

    fn start(&mut self, index: usize, time_ns: i64) {
        let started = match self.phase {
            Phase::Absent | Phase::Is(State::Created) => Start::First,
            Phase::Is(State::Restarting) => Start::Policy,
            _ if self.next_life_event(index) == Some(Action::Restart) => Start::Restart,
            _ => Start::Hand,
        };
        let mut transition = self.transition(time_ns, Phase::Is(State::Running), Source::Event);
        transition.started = Some(started);
        self.push(transition);
        if started == Start::Policy {
            self.restarts.told += 1;
        }
        // The count is 0 at the first start; a start or restart by hand resets it.
        if matches!(started, Start::First | Start::Restart | Start::Hand) {
            self.restart_count = Some(0);
            self.restarts.reset();
        }
        self.run = Run { started_ns: Some(time_ns), ..Run::default() };
    }

    fn oom(&mut self, index: usize, time_ns: i64) {
        self.run.oom = true;
        // Usually the main process dies of it, and the `die` tells; when
        // not (another process was killed), the kill is a change of its own.
        if self.next_life_event(index) != Some(Action::Die) {
            let mut transition = self.transition(time_ns, self.phase, Source::Event);
            transition.oom_killed = true;
            self.push(transition);
            self.run.oom = false;
        }
    }

    fn die(&mut self, index: usize, record: &'a EventRecord) {
        let time_ns = record.time_ns;
        let next_start = self.events_after(index, i64::MAX).find(|(_, a)| *a == Action::Start).map(|(e, _)| e.time_ns);
        let inspected = self.same_exit(time_ns, next_start);
        let exit_code = match inspected {
            Some(seen) => Some(seen.details.exit_code),
            None => self.attribute(record, "exitCode").and_then(|code| code.parse().ok()),
        };
        let killed = self.run.signal.is_some();
        let by_kill = killed.then_some(Stop::Kill);
        // A sweep that saw this exit (even one that began before the event:
        // inspect answers later) says whether the policy restarts it.
        let (to, stopped) = match inspected.and_then(|seen| seen.details.state) {
            Some(State::Restarting) => (Phase::Is(State::Restarting), None),
            Some(state @ (State::Exited | State::Dead)) => {
                let (_, stopped) = self.after_die(index, exit_code, killed);
                (Phase::Is(state), stopped.or(by_kill))
            }
            _ => self.after_die(index, exit_code, killed),
        };
        let mut transition = self.transition(time_ns, to, Source::Event);
        transition.exit_code = exit_code;
        transition.oom_killed = self.run.oom || inspected.is_some_and(|seen| seen.details.oom_killed);
        transition.signal = self.run.signal;
        transition.stopped = stopped;
        self.push(transition);
        self.run.oom = false;
    }

    /// The details a sweep recorded of the exit at `die_ns`: the nearest
    /// whose `FinishedAt` is within [`SAME_EXIT_NS`] of it, after the run's
    /// start and before the next start (`next_start`).
    fn same_exit(&self, die_ns: i64, next_start: Option<i64>) -> Option<&'a Seen> {
        let started = self.run.started_ns;
        self.input
            .seen
            .iter()
            .filter(|seen| {
                matches!(seen.details.state, Some(State::Exited | State::Restarting | State::Dead))
                    && seen.time_ns >= die_ns.saturating_sub(SAME_EXIT_NS)
            })
            .filter_map(|seen| {
                let finished = finished_ns(&seen.details)?;
                // The exit of an earlier run, or of a later one (a restart
                // loop's), is not this one.
                if started.is_some_and(|started| finished < started) || next_start.is_some_and(|next| finished >= next)
                {
                    return None;
                }
                let distance = finished.abs_diff(die_ns);
                (distance <= SAME_EXIT_NS.unsigned_abs()).then_some((distance, seen))
            })
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, seen)| seen)
    }

    /// Where a `die` (item `index`) leaves the container, and whether it was
    /// stopped by hand: what follows it says.
    fn after_die(&self, index: usize, exit_code: Option<i64>, killed: bool) -> (Phase, Option<Stop>) {
        let exited = Phase::Is(State::Exited);
        let by_kill = killed.then_some(Stop::Kill);
        let rc_before = self.restart_count;
        let raised = |details: &ContainerDetails| rc_before.is_some_and(|rc| details.restart_count > rc);
        let items = self.items[index + 1..].iter().enumerate().map(|(offset, item)| (index + 1 + offset, item));
        for (at, item) in items {
            match item {
                Item::Event(record) => match Action::of(record) {
                    Action::Stop => {
                        let restart =
                            self.events_after(at, i64::MAX).map(|(_, a)| a).take(2).any(|a| a == Action::Restart);
                        return (exited, Some(if restart { Stop::Restart } else { Stop::Stop }));
                    }
                    Action::Restart => return (exited, Some(Stop::Restart)),
                    Action::Destroy => return (exited, killed.then_some(Stop::Remove)),
                    Action::Start => {
                        if self.next_life_event(at) == Some(Action::Restart) {
                            return (exited, Some(Stop::Restart));
                        }
                        // Only a restart by the policy raises `RestartCount`:
                        // the first details after the start tell.
                        let after_start = self.items[at + 1..]
                            .iter()
                            .take_while(|item| !matches!(item, Item::Event(e) if Action::of(e) == Action::Die))
                            .find_map(|item| match item {
                                Item::Seen(seen) => Some(seen),
                                _ => None,
                            });
                        let by_policy = match after_start {
                            Some(seen) if rc_before.is_some() => raised(&seen.details),
                            _ => self.policy_applies(exit_code, killed),
                        };
                        return if by_policy { (Phase::Is(State::Restarting), None) } else { (exited, by_kill) };
                    }
                    Action::Die | Action::Create => break,
                    _ => {}
                },
                Item::Seen(seen) => match seen.details.state {
                    Some(State::Restarting) => return (Phase::Is(State::Restarting), None),
                    Some(state @ (State::Exited | State::Dead)) => return (Phase::Is(state), by_kill),
                    Some(State::Running) if raised(&seen.details) => return (Phase::Is(State::Restarting), None),
                    Some(State::Running) => return (exited, by_kill),
                    _ => {}
                },
                Item::Gone(_) => return (exited, by_kill),
            }
        }
        if self.policy_applies(exit_code, killed) {
            (Phase::Is(State::Restarting), None)
        } else {
            (exited, by_kill)
        }
    }

    /// Whether the restart policy restarts a container whose run ended with
    /// `exit_code` (moby's restartmanager: never after a stop or kill by hand).
    fn policy_applies(&self, exit_code: Option<i64>, killed: bool) -> bool {
        if killed {
            return false;
        }
        let Some(policy) = self.policy.as_deref() else {
            return false;
        };
        let (name, limit) = match policy.split_once(':') {
            Some((name, limit)) => (name, limit.parse::<i64>().ok()),
            None => (policy, None),
        };
        match name {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                let failed = exit_code != Some(0);
                let below = limit.is_none_or(|limit| limit == 0 || self.restart_count.is_none_or(|rc| rc < limit));
                failed && below
            }
            _ => false,
        }
    }

    /// A sweep's details: a state, health or restarts the events did not tell.
    fn seen(&mut self, index: usize, seen: &'a Seen) {
        let details = &seen.details;
        let ahead: Vec<Action> = self.events_after(index, seen.until_ns).map(|(_, action)| action).collect();
        if let Some(state) = details.state {
            let phase = Phase::Is(state);
            let explained =
                self.phase == phase || state == State::Removing || ahead.iter().any(|a| a.may_lead_to(phase));
            if !explained && self.phase != Phase::Removed {
                self.correct(seen, state);
            }
        }
        if self.phase == Phase::Is(State::Running) {
            if let Some(health) = &details.health {
                let told = ahead.iter().any(|a| matches!(a, Action::Health(h) if h == health));
                if self.health.as_ref() != Some(health) && !told {
                    let mut transition = self.transition(seen.time_ns, self.phase, Source::Sweep);
                    transition.health = Some(health.clone());
                    self.push(transition);
                }
                self.health = Some(health.clone());
            }
        }
        self.count_restarts(seen, ahead.iter().filter(|a| **a == Action::Start).count());
        self.policy.clone_from(&details.restart_policy);
    }

    /// A state the events never gave: a change they missed, at the sweep's time.
    fn correct(&mut self, seen: &Seen, state: State) {
        let details = &seen.details;
        let mut transition = self.transition(seen.time_ns, Phase::Is(state), Source::Sweep);
        match state {
            State::Exited | State::Restarting | State::Dead => {
                // The exit it shows is one of a run the events did not end.
                let this_run = finished_ns(details)
                    .is_some_and(|finished| self.run.started_ns.is_none_or(|started| finished >= started));
                if this_run {
                    transition.exit_code = Some(details.exit_code);
                    transition.oom_killed = details.oom_killed;
                }
            }
            State::Running => {
                transition.started = match self.phase {
                    Phase::Is(State::Created) => Some(Start::First),
                    Phase::Is(State::Exited | State::Restarting | State::Dead)
                        if self.restart_count.is_some_and(|rc| details.restart_count > rc) =>
                    {
                        self.restarts.told += 1;
                        Some(Start::Policy)
                    }
                    _ => None,
                };
                self.run = Run { started_ns: Some(seen.time_ns), ..Run::default() };
            }
            _ => {}
        }
        self.push(transition);
    }

    /// Restarts by policy that `RestartCount` counted and no event told
    /// (`starts_ahead`: starts between this sweep and the next, which its
    /// inspect may already have counted).
    /// (moby's `SetRestarting` raises the count as the container enters `restarting`.)
    fn count_restarts(&mut self, seen: &Seen, starts_ahead: usize) {
        let count = seen.details.restart_count;
        // The daemon counts a restart when it decides on it: a container
        // `restarting` holds one in its count that has not started yet.
        let pending = usize::from(seen.details.state == Some(State::Restarting));
        let ahead = i64::try_from(starts_ahead + pending).unwrap_or(i64::MAX);
        let missed = self.restarts.reveal(count, ahead);
        for _ in 0..missed {
            let mut transition = self.transition(seen.time_ns, self.phase, Source::Sweep);
            transition.started = Some(Start::Policy);
            self.push(transition);
        }
        self.restart_count = Some(count);
    }

    /// The container vanished from the sweeps: removed, even if no event said so.
    fn gone(&mut self, time_ns: i64) {
        if self.phase != Phase::Removed {
            let transition = self.transition(time_ns, Phase::Removed, Source::Sweep);
            self.push(transition);
        }
    }
}

/// `State.FinishedAt` of details, Unix ns.
fn finished_ns(details: &ContainerDetails) -> Option<i64> {
    let finished = chrono::DateTime::parse_from_rfc3339(details.finished_at.as_deref()?).ok()?;
    finished.timestamp_nanos_opt()
}
