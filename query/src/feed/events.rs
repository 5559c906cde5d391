//! `kura events`: stored Docker events, one line each:
//! `<time> <host> <type> <action> <id12> <name> <key=value attributes>`,
//! the 2015 `MonitorDockerHostEvent`'s `[time] [host] [event]` made
//! readable. Tokens with spaces or control characters are quoted
//! ([`super::quote`]), so labels and names cannot break the line.

use chrono::SecondsFormat;
use kura_store::payload::Event;
use kura_store::{key, record, EventRecord, Reader, StoreError};

use super::{quote, short_id, Advance, Entry, Style};
use crate::cursor::EventPosition;
use crate::export::syslog::{Message, Severity, Zone};

/// Severities of event messages: `info`, except these actions.
pub const SEVERITIES: &[(&str, Severity)] = &[("oom", Severity::Error), ("die", Severity::Warning)];

/// The stored events of `host` after `after` (exclusive; from `from_ns`
/// without a position) up to `to_ns`, in the store's order.
pub fn read(
    reader: &Reader,
    host: &str,
    after: Option<EventPosition>,
    from_ns: i64,
    to_ns: i64,
) -> Result<Vec<(EventPosition, EventRecord)>, StoreError> {
    let start = after.map_or(from_ns, |p| p.time_ns);
    Ok(reader
        .events(host, start, to_ns)?
        .into_iter()
        .map(|record| (position(&record), record))
        .filter(|(p, _)| after.is_none_or(|after| *p > after))
        .collect())
}

/// Where an event is in the store's order (its key).
pub fn position(record: &EventRecord) -> EventPosition {
    EventPosition { time_ns: record.time_ns, hash: key::fnv1a(&record::json_bytes(&record.event)) }
}

/// The line of one event.
pub fn line(host: &str, record: &EventRecord, zone: Zone) -> String {
    let event = &record.event;
    let time = zone.datetime(record.time_ns).to_rfc3339_opts(SecondsFormat::Nanos, false);
    let kind = event.kind.as_deref().unwrap_or("container");
    let action = event.action().unwrap_or("-");
    let id = actor_id(event).map_or("-", short_id);
    let attributes = event.actor.as_ref().map(|actor| &actor.attributes);
    let name = attributes.and_then(|a| a.get("name")).map_or("-", String::as_str);
    let mut line = format!("{time} {} {} {} {} {}", quote(host), quote(kind), quote(action), quote(id), quote(name));
    for (key, value) in attributes.into_iter().flatten().filter(|(key, _)| key.as_str() != "name") {
        line.push(' ');
        line.push_str(&quote(key));
        line.push('=');
        line.push_str(&quote(value));
    }
    line
}

fn actor_id(event: &Event) -> Option<&str> {
    event.actor.as_ref().map(|actor| actor.id.as_str()).or(event.id.as_deref())
}

/// The entries of `host`'s events: the line is also the syslog message
/// (as the 2015 script sent it); HOSTNAME per `style`.
pub fn entries(host: &str, events: &[(EventPosition, EventRecord)], style: &Style) -> Vec<Entry> {
    events
        .iter()
        .map(|(position, record)| {
            let line = line(host, record, style.format.zone);
            let container = record.event.container_id().map(|id| {
                let name =
                    record.event.actor.as_ref().and_then(|a| a.attributes.get("name")).map_or("", String::as_str);
                (short_id(id), name)
            });
            let action = record.event.action().unwrap_or_default();
            let severity = style.severities.of(action, Severity::Info);
            Entry {
                message: Message {
                    time_ns: record.time_ns,
                    severity,
                    hostname: style.hostname.pick(host, container),
                    text: line.clone(),
                },
                line,
                advance: Advance::Event { host: host.to_owned(), position: *position },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::FixedOffset;
    use kura_store::payload::Actor;

    use super::*;

    #[test]
    fn an_event_line_keeps_every_attribute_and_survives_hostile_labels() {
        let attributes: BTreeMap<String, String> = [
            ("name", "web"),
            ("exitCode", "137"),
            ("image", "busybox:latest"),
            ("com.example.note", "two words\nand a line"),
            ("ラベル", "値"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let record = EventRecord {
            time_ns: 1_794_067_323_123_456_789,
            event: Event {
                kind: Some("container".into()),
                action: Some("die".into()),
                actor: Some(Actor { id: format!("90b56eb899e7{}", "0".repeat(52)), attributes }),
                ..Event::default()
            },
        };
        let tokyo = Zone::Fixed(FixedOffset::east_opt(9 * 3600).unwrap());
        assert_eq!(
            line("docker_host1", &record, tokyo),
            "2026-11-08T01:02:03.123456789+09:00 docker_host1 container die 90b56eb899e7 web \
             com.example.note=\"two words\\nand a line\" exitCode=137 image=busybox:latest ラベル=値"
        );
        let health = EventRecord {
            event: Event { action: Some("health_status: healthy".into()), ..record.event.clone() },
            ..record
        };
        assert!(line("h", &health, tokyo).contains(" container \"health_status: healthy\" 90b56eb899e7 web "));
    }
}
