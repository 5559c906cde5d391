//! `kura ps`: the newest state of every container of a host, as a table for
//! people (like `docker ps`, with CPU and memory from stored history).

use std::io::{self, Write};

use kura_store::payload::ContainerDetails;
use kura_store::sample::State;

use crate::error::QueryError;
use crate::rate::{self, CpuScale, MemReading, MemUse};
use crate::scope::{Scope, Selection};
use crate::window::{self, Window};

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Container name.
    pub name: String,
    /// 12-character id.
    pub id: String,
    /// Newest state.
    pub state: String,
    /// Docker-like status, derived from stored details.
    pub status: String,
    /// CPU over the window, percent of one core (docker stats scale).
    pub cpu: Option<f64>,
    /// Memory in use, bytes.
    pub mem: Option<u64>,
    /// Memory limit, bytes (the host's memory when unlimited).
    pub limit: Option<u64>,
    /// Restarts counted by Docker.
    pub restarts: Option<u64>,
}

/// Builds the rows: running, paused and restarting containers, or all with `all`.
pub fn rows(scope: &Scope, selection: &Selection, width_ms: u64, all: bool) -> Result<Vec<Row>, QueryError> {
    let mut rows = Vec::new();
    let window = Window { end: scope.now, width_ms };
    let samples = scope.window_samples(&selection.targets, width_ms)?;
    let in_sweep = scope.sweep_samples(&selection.targets)?;
    for ((target, columns), last) in selection.targets.iter().zip(samples).zip(in_sweep) {
        let Some(last) = last else { continue };
        let up = matches!(last.state, State::Running | State::Paused | State::Restarting);
        if !up && !all {
            continue;
        }
        let details = scope.reader.details_at(target.series.series, scope.now)?.map(|d| d.value);
        let selected = window::select(&columns.time, &columns.state, window);
        let cpu = selected.and_then(|rows| {
            rate::counter_increase(&columns.time, columns.column(kura_store::sample::Field::CpuTotalNs), rows)
                .map(|increase| increase.cpu_percent(CpuScale::Core))
        });
        let memory = selected.and_then(|rows| MemReading::latest(&columns, rows, MemUse::InUse));
        rows.push(Row {
            name: target.series.container.name.clone(),
            id: target.series.container.id.chars().take(12).collect(),
            state: last.state.as_str().to_owned(),
            status: status(last.state, details.as_ref(), scope.now),
            cpu,
            mem: memory.as_ref().map(|m| m.used),
            limit: memory.and_then(|m| m.limit),
            restarts: details.and_then(|d| u64::try_from(d.restart_count).ok()),
        });
    }
    Ok(rows)
}

/// A status like Docker's: `Up 3 minutes`, `Exited (3) 2 hours ago`.
fn status(state: State, details: Option<&ContainerDetails>, now: i64) -> String {
    let since = |time: fn(&ContainerDetails) -> &Option<String>| {
        details
            .and_then(|d| time(d).as_deref())
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| human_duration(now.saturating_sub(t.timestamp_millis())))
    };
    match state {
        State::Running => since(|d| &d.started_at).map_or_else(|| "Up".to_owned(), |d| format!("Up {d}")),
        State::Paused => {
            since(|d| &d.started_at).map_or_else(|| "Up (Paused)".to_owned(), |d| format!("Up {d} (Paused)"))
        }
        State::Exited => {
            let code = details.map_or_else(String::new, |d| format!(" ({})", d.exit_code));
            let oom = if details.is_some_and(|d| d.oom_killed) { " OOM-killed" } else { "" };
            since(|d| &d.finished_at)
                .map_or_else(|| format!("Exited{code}{oom}"), |d| format!("Exited{code}{oom} {d} ago"))
        }
        other => capitalized(other.as_str()),
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `3 seconds`, `4 minutes`, `2 hours`, `5 days`.
fn human_duration(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (n, unit) = match seconds {
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// Bytes as `12.3MiB`.
fn human_bytes(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = rate::approx_f64(bytes);
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", units[unit])
    }
}

/// Writes the rows as an aligned table.
pub fn write_table(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let header = ["NAME", "CONTAINER ID", "STATE", "STATUS", "CPU %", "MEM", "LIMIT", "RESTARTS"];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.id.clone(),
                r.state.clone(),
                r.status.clone(),
                r.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}")),
                r.mem.map_or_else(|| "-".to_owned(), human_bytes),
                r.limit.map_or_else(|| "-".to_owned(), human_bytes),
                r.restarts.map_or_else(|| "-".to_owned(), |n| n.to_string()),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, row: &[String]| -> io::Result<()> {
        let mut text = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i + 1 == row.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}   "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &header.map(str::to_owned))?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_like_dockers() {
        let details = ContainerDetails {
            started_at: Some("2026-11-28T10:00:00Z".to_owned()),
            finished_at: Some("2026-11-28T10:58:00Z".to_owned()),
            exit_code: 3,
            ..ContainerDetails::default()
        };
        let now =
            chrono::DateTime::parse_from_rfc3339("2026-11-28T11:00:00Z").map(|t| t.timestamp_millis()).unwrap_or(0);
        assert_eq!(status(State::Running, Some(&details), now), "Up 1 hour");
        assert_eq!(status(State::Exited, Some(&details), now), "Exited (3) 2 minutes ago");
        assert_eq!(status(State::Created, Some(&details), now), "Created");
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(64 << 20), "64.0MiB");
    }

    #[test]
    fn the_table_is_aligned() {
        let row = Row {
            name: "web1".into(),
            id: "0123456789ab".into(),
            state: "running".into(),
            status: "Up 3 minutes".into(),
            cpu: Some(1.5),
            mem: Some(2048),
            limit: None,
            restarts: Some(0),
        };
        let mut out = Vec::new();
        assert!(write_table(&[row], &mut out).is_ok());
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].find("CONTAINER ID"), lines[1].find("0123456789ab"));
        assert!(lines[1].contains("2.0KiB"));
    }
}
