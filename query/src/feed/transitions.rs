//! `kura transitions`: one line per change,
//! `<time> <host> <name> <id12> <from> -> <to> <explanation>`, or CSV,
//! JSON, or a summary per container; the same line as a syslog message.

use std::collections::BTreeMap;
use std::io;

use chrono::SecondsFormat;
use serde::Serialize;

use kura_store::{Reader, StoreError};

use super::{quote, states, Advance, Entry, Style};
use crate::cursor::{TransitionKey, TransitionPosition};
use crate::export::syslog::{Message, Severity, Zone};
use crate::transition::{self, Phase, Source, Start, Stop, Transition};

/// Severities of transition messages: by the state they lead to (as
/// `kura states`), `oom` for an OOM kill, `unhealthy` for a health check
/// that failed.
pub fn severities() -> Vec<(&'static str, Severity)> {
    let mut all = states::SEVERITIES.to_vec();
    all.extend([("oom", Severity::Error), ("unhealthy", Severity::Warning)]);
    all
}

/// The severity of one transition.
pub fn severity(t: &Transition, style: &Style) -> Severity {
    if t.oom_killed {
        style.severities.of("oom", Severity::Error)
    } else if t.health.as_deref() == Some("unhealthy") {
        style.severities.of("unhealthy", Severity::Warning)
    } else {
        style.severities.of(t.to.as_str(), Severity::Notice)
    }
}

/// The line of one transition (times to the millisecond, in `zone`).
pub fn line(t: &Transition, zone: Zone) -> String {
    let time = zone.datetime(t.time_ns).to_rfc3339_opts(SecondsFormat::Millis, false);
    let mut line = format!("{time} {} {} {} {} -> {}", quote(&t.host), quote(&t.name), t.short_id(), t.from, t.to);
    let why = t.explanation();
    if !why.is_empty() {
        line.push(' ');
        line.push_str(&why);
    }
    line
}

/// The transitions of `host` after `position` (from `from_ns` without
/// one) up to `until_ns`, in the order they are sent.
pub fn after(
    reader: &Reader,
    host: &str,
    position: Option<&TransitionPosition>,
    from_ns: i64,
    until_ns: i64,
) -> Result<Vec<Transition>, StoreError> {
    let from_ns = position.map_or(from_ns, |p| p.time_ns);
    let all = transition::history(reader, host, from_ns, until_ns)?;
    let keys = TransitionKey::of_all(&all);
    Ok(all.into_iter().zip(keys).filter(|(_, key)| position.is_none_or(|p| !p.covers(key))).map(|(t, _)| t).collect())
}

/// The entries of transitions (in the order of [`transition::history`]);
/// each moves the cursor to itself.
pub fn entries(transitions: &[Transition], style: &Style) -> Vec<Entry> {
    transitions
        .iter()
        .zip(TransitionKey::of_all(transitions))
        .map(|(t, key)| {
            let line = line(t, style.format.zone);
            Entry {
                message: Message {
                    time_ns: t.time_ns,
                    severity: severity(t, style),
                    hostname: style.hostname.pick(&t.host, Some((t.short_id(), &t.name))),
                    text: line.clone(),
                },
                line,
                advance: Advance::Transition { host: t.host.clone(), position: key.position() },
            }
        })
        .collect()
}

/// A transition as a CSV record or JSON object.
#[derive(Serialize)]
struct Row<'a> {
    time: String,
    time_ns: i64,
    host: &'a str,
    name: &'a str,
    id: &'a str,
    from: Phase,
    to: Phase,
    exit_code: Option<i64>,
    oom_killed: bool,
    signal: Option<i64>,
    started: Option<Start>,
    stopped: Option<Stop>,
    health: Option<&'a str>,
    renamed_from: Option<&'a str>,
    source: Source,
}

impl<'a> Row<'a> {
    fn of(t: &'a Transition, zone: Zone) -> Row<'a> {
        Row {
            time: zone.datetime(t.time_ns).to_rfc3339_opts(SecondsFormat::Nanos, false),
            time_ns: t.time_ns,
            host: &t.host,
            name: &t.name,
            id: &t.id,
            from: t.from,
            to: t.to,
            exit_code: t.exit_code,
            oom_killed: t.oom_killed,
            signal: t.signal,
            started: t.started,
            stopped: t.stopped,
            health: t.health.as_deref(),
            renamed_from: t.renamed_from.as_deref(),
            source: t.source,
        }
    }
}

/// Writes transitions as CSV, with a header row.
pub fn write_csv(transitions: &[Transition], zone: Zone, out: impl io::Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    for t in transitions {
        writer.serialize(Row::of(t, zone)).map_err(io::Error::other)?;
    }
    writer.flush()
}

/// Writes transitions as a JSON array.
pub fn write_json(transitions: &[Transition], zone: Zone, mut out: impl io::Write) -> io::Result<()> {
    let rows: Vec<Row<'_>> = transitions.iter().map(|t| Row::of(t, zone)).collect();
    serde_json::to_writer_pretty(&mut out, &rows).map_err(io::Error::from)?;
    writeln!(out)
}

/// One line per container that changed, flapping condensed:
/// `web 90b56eb899e7 docker_host1: 5 restarts in 10m, last exit 1, now running`.
pub fn summary(transitions: &[Transition], span_ns: i64) -> Vec<String> {
    let mut hosts: BTreeMap<(&str, &str), transition::Tally> = BTreeMap::new();
    for t in transitions {
        hosts.entry((t.host.as_str(), t.id.as_str())).or_default().add(t);
    }
    let mut lines: Vec<(String, String)> = hosts
        .into_iter()
        .map(|((host, id), tally)| {
            let short = id.get(..12).unwrap_or(id);
            let mut parts = vec![format!("{} in {}", count(tally.restarts(), "restart"), span(span_ns))];
            if tally.oom_kills > 0 {
                parts.push(count(tally.oom_kills, "OOM kill"));
            }
            if tally.exits > 0 {
                parts.push(count(tally.exits, "exit"));
            }
            if let Some(code) = tally.last_exit_code {
                parts.push(format!("last exit {code}"));
            }
            if let Some(phase) = tally.last_phase {
                parts.push(format!("now {phase}"));
            }
            let line = format!("{} {short} {}: {}", quote(&tally.name), quote(host), parts.join(", "));
            (tally.name, line)
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, line)| line).collect()
}

fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A span as operators write it: `10m`, `1h`, `2d`, else seconds.
fn span(ns: i64) -> String {
    let s = ns / 1_000_000_000;
    match s {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::FixedOffset;
    use kura_store::sample::State;

    use super::*;
    use crate::export::syslog::SyslogFormat;
    use crate::feed::{Hostname, Severities};

    fn exit() -> Transition {
        Transition {
            time_ns: 1_794_067_323_500_000_000,
            host: "docker_host1".into(),
            id: format!("90b56eb899e7{}", "0".repeat(52)),
            name: "web".into(),
            from: Phase::Is(State::Running),
            to: Phase::Is(State::Exited),
            exit_code: Some(137),
            oom_killed: false,
            signal: Some(9),
            started: None,
            stopped: Some(Stop::Stop),
            health: None,
            renamed_from: None,
            source: Source::Event,
        }
    }

    fn tokyo() -> Zone {
        Zone::Fixed(FixedOffset::east_opt(9 * 3600).unwrap())
    }

    #[test]
    fn a_transition_line_says_what_explains_it() {
        assert_eq!(
            line(&exit(), tokyo()),
            "2026-11-08T01:02:03.500+09:00 docker_host1 web 90b56eb899e7 running -> exited exit 137, signal 9, stopped by hand"
        );
    }

    #[test]
    fn csv_reads_back_with_the_csv_crate() {
        let mut out = Vec::new();
        write_csv(&[exit()], tokyo(), &mut out).unwrap();
        let mut reader = csv::Reader::from_reader(out.as_slice());
        let headers = reader.headers().unwrap().clone();
        let record = reader.records().next().unwrap().unwrap();
        let field = |name: &str| record.get(headers.iter().position(|h| h == name).unwrap()).unwrap().to_owned();
        assert_eq!(field("from"), "running");
        assert_eq!(field("to"), "exited");
        assert_eq!(field("exit_code"), "137");
        assert_eq!(field("stopped"), "stop");
        assert_eq!(field("started"), "");
        assert_eq!(field("source"), "event");
        assert_eq!(field("time"), "2026-11-08T01:02:03.500000000+09:00");
    }

    #[test]
    fn entries_carry_severity_hostname_and_their_position() {
        let style = Style {
            format: SyslogFormat { zone: tokyo(), ..SyslogFormat::default() },
            hostname: Hostname::Id,
            severities: Severities::new(&severities(), &[]).unwrap(),
        };
        let oom = Transition { oom_killed: true, ..exit() };
        let entries = entries(&[exit(), oom], &style);
        assert_eq!(entries[0].message.hostname, "90b56eb899e7");
        assert_eq!(entries[0].message.severity, Severity::Error);
        assert_eq!(entries[0].message.text, entries[0].line);
        let Advance::Transition { position, .. } = &entries[1].advance else { panic!("{:?}", entries[1].advance) };
        assert_eq!(position.then.as_ref().map(|(_, rank)| *rank), Some(1), "two at one time: ranks 0 and 1");
    }

    #[test]
    fn a_summary_condenses_flapping() {
        let restart = |s: i64| Transition {
            time_ns: s * 1_000_000_000,
            from: Phase::Is(State::Restarting),
            to: Phase::Is(State::Running),
            exit_code: None,
            signal: None,
            stopped: None,
            started: Some(Start::Policy),
            ..exit()
        };
        let die = |s: i64| Transition {
            time_ns: s * 1_000_000_000,
            to: Phase::Is(State::Restarting),
            exit_code: Some(1),
            signal: None,
            stopped: None,
            ..exit()
        };
        let flapping: Vec<Transition> = (0..5).flat_map(|i| [die(i * 10), restart(i * 10 + 1)]).collect();
        assert_eq!(
            summary(&flapping, 600_000_000_000),
            ["web 90b56eb899e7 docker_host1: 5 restarts in 10m, 5 exits, last exit 1, now running"]
        );
    }
}
