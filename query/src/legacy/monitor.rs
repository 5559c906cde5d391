//! The custom-monitor scripts (HostStatus, CPU, memory, disk, network,
//! process), answered by kura's own checks ([`crate::checks`]: every figure
//! has one definition) with the options each script's output implies, then
//! the old keys put back where kura's differ.
//!
//! | script | kura check | what is put back |
//! |---|---|---|
//! | HostStatus `--status` | `status` | |
//! | HostStatus `--count`, `--size` | `count`, `size` | the four old states: created and dead count as exited |
//! | CPU `--all` | `cpu --scale core` | |
//! | CPU `--core` | `cpu --scale core --core` | only the per-core lines |
//! | memory | `mem --rss --key short` (`--limit`, `--with-host`, `--detail`) | `host_mem_usage:` for `--container` too |
//! | disk, network | `disk`/`net --per-window --key short` | two decimals |
//! | process | `proc --key id` | `PROG ARGS:` when `-args` is given |

use std::time::Duration;

use kura_store::duration::format_duration;

use crate::checks::{self, Answer};
use crate::cli::{ContainerArgs, CpuArgs, DiskArgs, HostArgs, KeyStyle, MemArgs, NetArgs, ProcArgs, Scale, SelectArgs};
use crate::error::QueryError;
use crate::export::hinemos::{Item, Value};
use crate::rate::approx_f64;
use crate::scope::Scope;

use super::argv::{Dest, Parsed};
use super::scripts::Script;

/// The states the 2015 scripts knew, in their order (TIPS 5.2).
const OLD_STATES: [&str; 4] = ["running", "restarting", "paused", "exited"];

/// The state a 2015 script counted a container of `state` under: its
/// `conv_docker_status` knew four, and read the blank status of a container
/// that never started as exited; kura counts created and dead ones (which
/// that function could not convert) as exited too.
fn old_state(state: &str) -> &str {
    match state {
        "created" | "dead" | "removing" => "exited",
        other => other,
    }
}

/// The answer of a custom-monitor script. `host` says where to read;
/// `width_ms` is the window of the rate scripts (ignored by the others).
pub fn answer(
    script: Script,
    parsed: &Parsed,
    scope: &Scope,
    host: &HostArgs,
    width_ms: u64,
) -> Result<Answer, QueryError> {
    let select = |key: KeyStyle| SelectArgs {
        host: host.clone(),
        containers: ContainerArgs {
            id: parsed.value(Dest::Id).map(str::to_owned),
            name: parsed.value(Dest::Name).map(str::to_owned),
        },
        key,
        window: format_duration(Duration::from_millis(width_ms)),
    };
    match script {
        Script::HostStatus if parsed.flag(Dest::Count) => {
            let all = select(KeyStyle::Name);
            Ok(old_states(checks::count(scope, &scope.select(&all)?)?, &[]))
        }
        Script::HostStatus if parsed.flag(Dest::Size) => Ok(old_states(checks::size(scope)?, &["image"])),
        Script::HostStatus => Ok(checks::status(scope)),
        Script::Cpu => {
            let core = parsed.flag(Dest::Core);
            let args = CpuArgs {
                select: select(KeyStyle::Name),
                scale: Scale::Core,
                core,
                with_host: parsed.flag(Dest::WithHost),
            };
            let mut answer = checks::cpu(scope, &scope.select(&args.select)?, &args)?;
            if core {
                answer.items.retain(|item| item.key.starts_with("cpu_usage#"));
            }
            Ok(answer)
        }
        Script::Memory => {
            let detail = parsed.flag(Dest::All);
            let args = MemArgs {
                select: select(KeyStyle::Short),
                limit: parsed.flag(Dest::Container),
                rss: true,
                with_host: parsed.flag(Dest::WithHost),
                detail,
            };
            let selection = scope.select(&args.select)?;
            if detail && selection.targets.len() != 1 {
                return Err(QueryError::Usage(format!(
                    "--all prints one container's statistics: choose it with -n NAME or -c ID ({} selected)",
                    selection.targets.len()
                )));
            }
            let mut answer = checks::mem(scope, &selection, &args)?;
            for item in &mut answer.items {
                if let Some(container) = item.key.strip_prefix("mem_usage:") {
                    item.key = format!("host_mem_usage:{container}");
                }
            }
            Ok(answer)
        }
        Script::Disk => {
            let args = DiskArgs {
                select: select(KeyStyle::Short),
                read: parsed.flag(Dest::Read),
                write: parsed.flag(Dest::Write),
                per_window: true,
            };
            Ok(two_decimals(checks::disk(scope, &scope.select(&args.select)?, &args)?))
        }
        Script::Network => {
            let args = NetArgs {
                select: select(KeyStyle::Short),
                bytes: parsed.flag(Dest::Kb),
                packets: parsed.flag(Dest::Pck),
                rx: parsed.flag(Dest::Rx),
                tx: parsed.flag(Dest::Tx),
                per_window: true,
            };
            Ok(two_decimals(checks::net(scope, &scope.select(&args.select)?, &args)?))
        }
        Script::Process => {
            let prog = parsed.value(Dest::Prog).unwrap_or(".*");
            let more = parsed.value(Dest::Args);
            let args = ProcArgs { select: select(KeyStyle::Id), prog: prog.to_owned(), args: more.map(str::to_owned) };
            let mut answer = checks::proc(scope, &scope.select(&args.select)?, &args)?;
            if let Some(more) = more {
                // The report's key is `PROGS ARGS:<id>`; kura's is `PROG:<id>`.
                let stem = format!("{prog}:");
                for item in &mut answer.items {
                    if let Some(container) = item.key.strip_prefix(&stem) {
                        item.key = format!("{prog} {more}:{container}");
                    }
                }
            }
            Ok(answer)
        }
        other => Err(QueryError::Usage(format!("{} is not a custom-monitor script", other.file_name()))),
    }
}

/// `kura count`/`kura size` items as the 2015 script printed them: `first`
/// keys as they are, then the four old states, each the sum of the kura
/// states it stands for.
fn old_states(answer: Answer, first: &[&str]) -> Answer {
    let mut sums: Vec<(&str, u64)> = first.iter().chain(&OLD_STATES).map(|key| (*key, 0)).collect();
    for item in &answer.items {
        let Value::Integer(n) = item.value else { continue };
        if let Some((_, sum)) = sums.iter_mut().find(|(key, _)| *key == old_state(&item.key)) {
            *sum = sum.saturating_add(n);
        }
    }
    let items = sums.into_iter().map(|(key, sum)| Item::new(key, Value::Integer(sum))).collect();
    Answer { items, ..answer }
}

/// Integer figures printed with two decimals, as the 2015 disk and network
/// scripts printed their per-interval bytes and packets (`0.00`).
fn two_decimals(mut answer: Answer) -> Answer {
    for item in &mut answer.items {
        if let Value::Integer(n) = item.value {
            item.value = Value::Ratio(approx_f64(n));
        }
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kura_states_fold_into_the_four_old_ones() {
        let answer = Answer {
            items: ["running", "restarting", "paused", "exited", "created", "dead"]
                .iter()
                .zip([3, 1, 0, 2, 4, 1])
                .map(|(key, n)| Item::new(*key, Value::Integer(n)))
                .collect(),
            ..Answer::default()
        };
        let old = old_states(answer, &[]);
        let lines: Vec<(String, Value)> = old.items.into_iter().map(|i| (i.key, i.value)).collect();
        assert_eq!(
            lines,
            [
                ("running".to_owned(), Value::Integer(3)),
                ("restarting".to_owned(), Value::Integer(1)),
                ("paused".to_owned(), Value::Integer(0)),
                ("exited".to_owned(), Value::Integer(7)),
            ]
        );
        let sizes = Answer { items: vec![Item::new("image", Value::Integer(9))], ..Answer::default() };
        let keys: Vec<String> = old_states(sizes, &["image"]).items.into_iter().map(|i| i.key).collect();
        assert_eq!(keys, ["image", "running", "restarting", "paused", "exited"]);
    }

    #[test]
    fn counts_print_with_two_decimals() {
        let answer = Answer { items: vec![Item::new("disk_read:4dfd0a12", Value::Integer(1234))], ..Answer::default() };
        assert_eq!(two_decimals(answer).items[0].value.plain().as_deref(), Some("1234.00"));
    }
}
