//! What `kura transitions`, `kura events` and `kura states` do: read,
//! print or send, and move their cursor.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use kura_store::duration::parse_duration;
use kura_store::paths::default_data_dir;
use kura_store::sample::UnixMillis;
use kura_store::Reader;

use super::{deliver, events, states, transitions, Entry, Hostname, Severities, Style};
use crate::cli::{EventsArgs, SendArgs, StatesArgs, StoreArgs, Timestamp, TransitionFormat, TransitionsArgs};
use crate::cursor::{Cursor, CursorError, CursorFile, TransitionPosition};
use crate::error::QueryError;
use crate::export::syslog::target::{Sender, Target};
use crate::export::syslog::{Severity, Stamp, SyslogFormat, Zone};
use crate::scope::{Matcher, Scope};
use crate::transition::{self, NS_PER_MS};

/// `kura transitions`.
pub fn transitions(args: &TransitionsArgs, now: UnixMillis, out: &mut impl Write) -> Result<(), QueryError> {
    let dir = data_dir(&args.store);
    let reader = Reader::open(&dir)?;
    let matcher = Matcher::new(&args.containers)?;
    let style = style(&args.send, Hostname::Id, &transitions::severities())?;
    let from = time_arg("--since", &args.span.since, now)?;
    let until = match &args.span.until {
        Some(until) => time_arg("--until", until, now)?,
        None => now,
    };
    if from > until {
        return Err(QueryError::Usage(format!("--since {} is after --until", args.span.since)));
    }
    let hosts = hosts(&reader, &args.store, &dir)?;
    if let Some(name) = &args.send.cursor {
        let file = CursorFile::lock(&dir, name, duration_arg("--wait", &args.send.wait)?)?;
        let mut cursor = file.load()?.unwrap_or_default();
        let mut entries = Vec::new();
        let mut settled = Vec::new();
        for host in &hosts {
            let position = cursor.transitions.get(host).cloned();
            let Some(until_ns) = transition::settled_until(&reader, host)? else { continue };
            let mut fresh =
                transitions::after(&reader, host, position.as_ref(), from.saturating_mul(NS_PER_MS), until_ns)?;
            fresh.retain(|t| matcher.matches_container(&t.id, &t.name));
            entries.extend(transitions::entries(&fresh, &style));
            settled.push((host.clone(), until_ns));
        }
        send(&args.send, &style, &entries, Some((&file, &mut cursor)))?;
        // Everything up to the settled time is sent (or was not selected).
        for (host, until_ns) in settled {
            cursor.transitions.insert(host, TransitionPosition::through(until_ns));
        }
        file.save(&cursor)?;
        return Ok(());
    }
    let mut all = Vec::new();
    for host in &hosts {
        let found =
            transition::history(&reader, host, from.saturating_mul(NS_PER_MS), until.saturating_mul(NS_PER_MS))?;
        all.extend(found.into_iter().filter(|t| matcher.matches_container(&t.id, &t.name)));
    }
    all.sort_by(|a, b| (a.time_ns, &a.host, &a.id).cmp(&(b.time_ns, &b.host, &b.id)));
    if target(&args.send)?.is_some() {
        let entries = transitions::entries(&all, &style);
        return send(&args.send, &style, &entries, None);
    }
    let zone = style.format.zone;
    if args.summary {
        for line in transitions::summary(&all, until.saturating_sub(from).saturating_mul(NS_PER_MS)) {
            writeln!(out, "{line}")?;
        }
    } else {
        match args.format {
            TransitionFormat::Text => {
                for t in &all {
                    writeln!(out, "{}", transitions::line(t, zone))?;
                }
            }
            TransitionFormat::Csv => transitions::write_csv(&all, zone, &mut *out)?,
            TransitionFormat::Json => transitions::write_json(&all, zone, &mut *out)?,
        }
    }
    out.flush()?;
    Ok(())
}

/// `kura events`.
pub fn events(args: &EventsArgs, now: UnixMillis, out: &mut impl Write) -> Result<(), QueryError> {
    let dir = data_dir(&args.store);
    let reader = Reader::open(&dir)?;
    let style = style(&args.send, Hostname::Host, events::SEVERITIES)?;
    let from_ns = time_arg("--since", &args.span.since, now)?.saturating_mul(NS_PER_MS);
    let until_ns = match &args.span.until {
        Some(until) => time_arg("--until", until, now)?,
        None => now,
    }
    .saturating_mul(NS_PER_MS);
    let hosts = hosts(&reader, &args.store, &dir)?;
    let cursor = match &args.send.cursor {
        Some(name) => {
            let file = CursorFile::lock(&dir, name, duration_arg("--wait", &args.send.wait)?)?;
            let cursor = file.load()?.unwrap_or_default();
            Some((file, cursor))
        }
        None => None,
    };
    let mut entries = Vec::new();
    for host in &hosts {
        let after = cursor.as_ref().and_then(|(_, c)| c.events.get(host).copied());
        let found = events::read(&reader, host, after, from_ns, until_ns)?;
        entries.extend(events::entries(host, &found, &style));
    }
    if target(&args.send)?.is_some() {
        return match cursor {
            Some((file, mut cursor)) => send(&args.send, &style, &entries, Some((&file, &mut cursor))),
            None => send(&args.send, &style, &entries, None),
        };
    }
    for entry in &entries {
        writeln!(out, "{}", entry.line)?;
    }
    out.flush()?;
    Ok(())
}

/// `kura states`.
pub fn states(args: &StatesArgs, now: UnixMillis, out: &mut impl Write) -> Result<(), QueryError> {
    let host_args = &args.select.host;
    let scope = Scope::open(host_args, now)?;
    let matcher = Matcher::new(&args.select.containers)?;
    let style = style(&args.send, Hostname::Id, states::SEVERITIES)?;
    let Some(all) = states::current(&scope.reader, &scope.host, scope.now)? else {
        let reason = match &scope.sweep.outcome {
            kura_store::SweepOutcome::Down(reason) => reason.clone(),
            kura_store::SweepOutcome::Reached => "no sweep".to_owned(),
        };
        return Err(QueryError::HostDown { host: scope.host.clone(), reason });
    };
    let listed: BTreeSet<String> = all.iter().map(|s| s.id.clone()).collect();
    let selected: Vec<_> = all.into_iter().filter(|s| matcher.matches_container(&s.id, &s.name)).collect();
    // With a cursor, a selection that is gone still has its removals to tell.
    if selected.is_empty() && matcher.explicit() && !args.changes_only {
        return Err(QueryError::NoMatch { host: scope.host.clone(), selector: matcher.describe() });
    }
    let dir = host_args.data.clone().unwrap_or_else(default_data_dir);
    if args.changes_only {
        let name = args.send.cursor.as_deref().unwrap_or_default();
        let file = CursorFile::lock(&dir, name, duration_arg("--wait", &args.send.wait)?)?;
        let mut cursor = file.load()?.unwrap_or_default();
        let sent = cursor.states.get(&scope.host).cloned().unwrap_or_default();
        let time_ns = scope.sweep.time.saturating_mul(NS_PER_MS);
        let changed = states::changes(&selected, &sent, &listed, time_ns, &scope.host);
        let entries = states::entries(&changed, &style);
        return send(&args.send, &style, &entries, Some((&file, &mut cursor)));
    }
    let entries = states::entries(&selected, &style);
    if target(&args.send)?.is_some() {
        return send(&args.send, &style, &entries, None);
    }
    for entry in &entries {
        writeln!(out, "{}", entry.line)?;
    }
    out.flush()?;
    Ok(())
}

/// Sends `entries` to the target of `args`, moving and saving `cursor`
/// after each confirmed chunk.
fn send(
    args: &SendArgs,
    style: &Style,
    entries: &[Entry],
    mut cursor: Option<(&CursorFile, &mut Cursor)>,
) -> Result<(), QueryError> {
    let Some(target) = target(args)? else {
        return Ok(());
    };
    let mut sender = Sender::new(target, duration_arg("--timeout", &args.timeout)?);
    deliver(&mut sender, &style.format, entries, |chunk| -> Result<(), CursorError> {
        if let Some((file, cursor)) = cursor.as_mut() {
            for entry in chunk {
                cursor.apply(&entry.advance);
            }
            file.save(cursor)?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The target of `--syslog` or `--file`.
fn target(args: &SendArgs) -> Result<Option<Target>, QueryError> {
    match (&args.syslog, &args.file) {
        (Some(url), _) => url.parse().map(Some).map_err(QueryError::Usage),
        (None, Some(path)) => Ok(Some(Target::File(path.clone()))),
        (None, None) => Ok(None),
    }
}

/// The style of a feed's messages from the flags.
fn style(args: &SendArgs, hostname: Hostname, severities: &[(&str, Severity)]) -> Result<Style, QueryError> {
    let facility = args.facility.parse().map_err(|e| QueryError::Usage(format!("--facility: {e}")))?;
    let stamp = match args.timestamp {
        Timestamp::Rfc3164 => Stamp::Rfc3164,
        Timestamp::Rfc3339 => Stamp::Rfc3339,
    };
    let format = SyslogFormat { facility, stamp, zone: Zone::Local, ..SyslogFormat::default() }
        .with_tag(&args.tag)
        .map_err(|e| QueryError::Usage(format!("--tag: {e}")))?;
    Ok(Style {
        format,
        hostname: args.hostname.unwrap_or(hostname),
        severities: Severities::new(severities, &args.severity).map_err(QueryError::Usage)?,
    })
}

fn data_dir(args: &StoreArgs) -> PathBuf {
    args.data.clone().unwrap_or_else(default_data_dir)
}

/// The hosts asked for: `--host`, else every stored host.
fn hosts(reader: &Reader, args: &StoreArgs, dir: &std::path::Path) -> Result<Vec<String>, QueryError> {
    let stored = reader.hosts()?;
    match &args.host {
        Some(host) if stored.contains(host) => Ok(vec![host.clone()]),
        Some(host) => Err(QueryError::UnknownHost {
            host: host.clone(),
            known: if stored.is_empty() { "nothing".to_owned() } else { stored.join(", ") },
        }),
        None if stored.is_empty() => Err(QueryError::NoHost(dir.display().to_string())),
        None => Ok(stored),
    }
}

/// A time flag: a duration ago (`10m`) or an RFC 3339 time, in Unix ms.
fn time_arg(flag: &str, text: &str, now: UnixMillis) -> Result<UnixMillis, QueryError> {
    if let Ok(ago) = parse_duration(text) {
        let ago = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
        return Ok(now.saturating_sub(ago));
    }
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).map_err(|_| {
        QueryError::Usage(format!(
            "{flag} {text:?}: expected a duration (10m, 2h, 7d) or an RFC 3339 time (2026-11-28T10:00:00+09:00)"
        ))
    })
}

fn duration_arg(flag: &str, text: &str) -> Result<Duration, QueryError> {
    parse_duration(text).map_err(|e| QueryError::Usage(format!("{flag}: {e}")))
}
