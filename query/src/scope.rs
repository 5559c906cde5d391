//! What a query is about: the store, the host, its newest sweep (fresh
//! enough to be believed), and the containers selected with `-n`/`-c`.

use std::path::{Path, PathBuf};

use kura_store::freshness::{Freshness, STALE_INTERVALS};
use kura_store::paths::default_data_dir;
use kura_store::pattern::ContainerPattern;
pub use kura_store::sample::rfc3339;
use kura_store::sample::{Sample, SampleColumns, UnixMillis};
use kura_store::{Reader, SeriesInfo, SweepRecord};

use crate::cli::{ContainerArgs, HostArgs, KeyStyle, SelectArgs};
use crate::error::QueryError;

/// An open store, a host and its newest sweep.
pub struct Scope {
    /// The store.
    pub reader: Reader,
    /// The host's name.
    pub host: String,
    /// The host's newest sweep.
    pub sweep: SweepRecord,
    /// The collector's interval for this host, estimated from recent sweeps, ms.
    pub interval_ms: i64,
    /// The query's time (the wall clock).
    pub now: UnixMillis,
}

/// One selected container and its key.
#[derive(Clone, Debug)]
pub struct Target {
    /// Its series.
    pub series: SeriesInfo,
    /// How it appears in keys.
    pub key: String,
}

/// The selected containers.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The containers, in name order.
    pub targets: Vec<Target>,
    /// Whether `-n`/`-c` chose them (then each must print, or the exit status is 1).
    pub explicit: bool,
}

impl Scope {
    /// Opens the store, picks the host and checks that its newest sweep is
    /// recent (see [`kura_store::freshness`]).
    pub fn open(args: &HostArgs, now: UnixMillis) -> Result<Scope, QueryError> {
        let dir = data_dir(args);
        Scope::with_reader(Reader::open(&dir)?, &dir, args, now)
    }

    /// [`Scope::open`] on a store already open (read from `dir`).
    pub fn with_reader(reader: Reader, dir: &Path, args: &HostArgs, now: UnixMillis) -> Result<Scope, QueryError> {
        let hosts = reader.hosts()?;
        let host = match (&args.host, hosts.as_slice()) {
            (Some(host), _) if hosts.contains(host) => host.clone(),
            (Some(host), _) => {
                return Err(QueryError::UnknownHost {
                    host: host.clone(),
                    known: if hosts.is_empty() { "nothing".to_owned() } else { hosts.join(", ") },
                })
            }
            (None, []) => return Err(QueryError::NoHost(dir.display().to_string())),
            (None, [only]) => only.clone(),
            (None, _) => return Err(QueryError::WhichHost(hosts.join(", "))),
        };
        // The newest sweep at or before `now` (which `--at` may set in the past).
        let freshness = reader.freshness(&host, now)?.ok_or_else(|| QueryError::NoSweep(host.clone()))?;
        if freshness.is_stale() {
            return Err(QueryError::Stale { host, since: rfc3339(freshness.sweep.time), freshness });
        }
        let Freshness { sweep, interval_ms, .. } = freshness;
        Ok(Scope { reader, host, sweep, interval_ms, now })
    }

    /// The containers of the newest sweep that `-n`/`-c` select (all of
    /// them without either), with their keys.
    pub fn select(&self, args: &SelectArgs) -> Result<Selection, QueryError> {
        let matcher = Matcher::new(&args.containers)?;
        let mut targets: Vec<Target> = self
            .reader
            .series(&self.host)?
            .into_iter()
            // Possibly in the sweep in force: seen by then, and sampled at or
            // after its start (`sweep_samples` has the exact answer).
            .filter(|s| s.first_seen <= self.now && s.last_seen.is_some_and(|t| t >= self.sweep.time))
            .filter(|s| matcher.matches(s))
            .map(|series| Target { key: key_of(&series, args.key), series })
            .collect();
        if targets.is_empty() && matcher.explicit() {
            return Err(QueryError::NoMatch { host: self.host.clone(), selector: matcher.describe() });
        }
        targets.sort_by(|a, b| a.series.container.name.cmp(&b.series.container.name));
        Ok(Selection { targets, explicit: matcher.explicit() })
    }

    /// The samples of every target that a window of `width_ms` needs, in
    /// target order: from a little before the window's start (the row
    /// nearest to it may be older) up to now, read in one pass over the
    /// host's newest sweeps.
    pub fn window_samples(&self, targets: &[Target], width_ms: u64) -> Result<Vec<SampleColumns>, QueryError> {
        let width = i64::try_from(width_ms).unwrap_or(i64::MAX);
        let from = self.now.saturating_sub(width.saturating_add(STALE_INTERVALS.saturating_mul(self.interval_ms)));
        let ids: Vec<_> = targets.iter().map(|t| t.series.series).collect();
        Ok(self.reader.samples_many(&ids, from, self.now)?)
    }
}

impl Scope {
    /// Each target's sample in the sweep in force (the newest at or before
    /// the query's time, if the sweep took one), in target order, read in
    /// one pass.
    pub fn sweep_samples(&self, targets: &[Target]) -> Result<Vec<Option<Sample>>, QueryError> {
        let ids: Vec<_> = targets.iter().map(|t| t.series.series).collect();
        let columns = self.reader.samples_many(&ids, self.sweep.time, self.now)?;
        Ok(columns.iter().map(|c| c.len().checked_sub(1).and_then(|last| c.row(last))).collect())
    }
}

/// The data folder a query reads: `--data`, else the default.
pub fn data_dir(args: &HostArgs) -> PathBuf {
    args.data.clone().unwrap_or_else(default_data_dir)
}

/// The query's time: `--at TIME` (RFC 3339, not in the future), else `now`.
pub fn query_time(at: Option<&str>, now: UnixMillis) -> Result<UnixMillis, QueryError> {
    let Some(at) = at else {
        return Ok(now);
    };
    let at_ms = chrono::DateTime::parse_from_rfc3339(at)
        .map_err(|e| QueryError::Usage(format!("--at {at:?}: {e} (write e.g. 2026-11-28T10:00:00Z)")))?
        .timestamp_millis();
    if at_ms > now {
        return Err(QueryError::Usage(format!(
            "--at {at} is in the future (now is {}): there is no history there yet",
            rfc3339(now)
        )));
    }
    Ok(at_ms)
}

fn key_of(series: &SeriesInfo, style: KeyStyle) -> String {
    let id = &series.container.id;
    match style {
        KeyStyle::Name => series.container.name.clone(),
        KeyStyle::Id => id.chars().take(12).collect(),
        KeyStyle::Short => id.chars().take(8).collect(),
    }
}

/// `-n NAME` / `-c ID` (a trailing `*` as a prefix match), or everything.
pub enum Matcher {
    /// Neither: every container.
    All,
    /// `-n` or `-c`.
    Pattern(ContainerPattern),
}

impl Matcher {
    /// The matcher of `-n` (`name`) or `-c` (`id`), which exclude each other.
    pub fn new(args: &ContainerArgs) -> Result<Matcher, QueryError> {
        let pattern = match (&args.name, &args.id) {
            (Some(name), _) => ContainerPattern::name(name),
            (None, Some(id)) => ContainerPattern::id(id),
            (None, None) => return Ok(Matcher::All),
        };
        pattern.map(Matcher::Pattern).map_err(|e| QueryError::Usage(e.to_string()))
    }

    /// Whether the series' container is selected.
    pub fn matches(&self, series: &SeriesInfo) -> bool {
        self.matches_container(&series.container.id, &series.container.name)
    }

    /// Whether the container with this full id and name is selected.
    pub fn matches_container(&self, id: &str, name: &str) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Pattern(pattern) => pattern.matches(name, id),
        }
    }

    /// Whether `-n` or `-c` was given.
    pub fn explicit(&self) -> bool {
        !matches!(self, Matcher::All)
    }

    /// The selector as written, for messages.
    pub fn describe(&self) -> String {
        match self {
            Matcher::All => "anything".to_owned(),
            Matcher::Pattern(pattern) => pattern.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
    }
}
