//! What a query is about: the store, the host, its newest sweep (fresh
//! enough to be believed), and the containers selected with `-n`/`-c`.

use std::path::PathBuf;

use kura_store::paths::default_data_dir;
use kura_store::sample::{Sample, SampleColumns, UnixMillis};
use kura_store::{Reader, SeriesInfo, SweepRecord};

use crate::cli::{HostArgs, KeyStyle, SelectArgs};
use crate::error::QueryError;

/// The interval assumed when the store holds a single sweep.
const DEFAULT_INTERVAL_MS: i64 = 10_000;
/// How far back sweeps are read to find the newest and the interval, ms.
const RECENT_MS: i64 = 3_600_000;
/// A sweep older than this many intervals means the collector stopped.
const STALE_INTERVALS: i64 = 3;

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
    /// recent (three intervals at most).
    pub fn open(args: &HostArgs, now: UnixMillis) -> Result<Scope, QueryError> {
        let dir: PathBuf = args.data.clone().unwrap_or_else(default_data_dir);
        let reader = Reader::open(&dir)?;
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
        let recent = reader.sweeps(&host, now.saturating_sub(RECENT_MS), now)?;
        let sweep = match recent.last() {
            Some(sweep) => sweep.clone(),
            None => reader
                .latest_sweep(&host)?
                .filter(|sweep| sweep.time <= now)
                .ok_or_else(|| QueryError::NoSweep(host.clone()))?,
        };
        let interval_ms = estimate_interval(&recent.iter().map(|s| s.time).collect::<Vec<_>>());
        let age = now.saturating_sub(sweep.time);
        if age > STALE_INTERVALS.saturating_mul(interval_ms) {
            return Err(QueryError::Stale {
                host,
                since: rfc3339(sweep.time),
                age_s: age / 1000,
                interval_s: interval_ms / 1000,
            });
        }
        Ok(Scope { reader, host, sweep, interval_ms, now })
    }

    /// The containers of the newest sweep that `-n`/`-c` select (all of
    /// them without either), with their keys.
    pub fn select(&self, args: &SelectArgs) -> Result<Selection, QueryError> {
        let matcher = Matcher::new(args)?;
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

/// The median gap between consecutive sweep times (ascending), or the
/// default when there are fewer than two.
fn estimate_interval(times: &[UnixMillis]) -> i64 {
    let recent = &times[times.len().saturating_sub(7)..];
    let mut gaps: Vec<i64> = recent.windows(2).map(|w| w[1].saturating_sub(w[0])).filter(|g| *g > 0).collect();
    if gaps.is_empty() {
        return DEFAULT_INTERVAL_MS;
    }
    gaps.sort_unstable();
    gaps[gaps.len() / 2]
}

/// RFC 3339 in UTC, for messages.
pub fn rfc3339(time: UnixMillis) -> String {
    chrono::DateTime::from_timestamp_millis(time).map_or_else(|| format!("{time} ms"), |t| t.to_rfc3339())
}

fn key_of(series: &SeriesInfo, style: KeyStyle) -> String {
    let id = &series.container.id;
    match style {
        KeyStyle::Name => series.container.name.clone(),
        KeyStyle::Id => id.chars().take(12).collect(),
        KeyStyle::Short => id.chars().take(8).collect(),
    }
}

/// `-n NAME` / `-c ID`, with a trailing `*` as a prefix match.
pub enum Matcher {
    /// Every container.
    All,
    /// By name.
    Name {
        /// The name, or its prefix.
        pattern: String,
        /// Whether `pattern` is a prefix (`web*`).
        prefix: bool,
    },
    /// By id prefix, lower case.
    Id(String),
}

impl Matcher {
    fn new(args: &SelectArgs) -> Result<Matcher, QueryError> {
        Matcher::from_flags(args.name.as_deref(), args.id.as_deref())
    }

    /// The matcher of `-n NAME` (preferred) or `-c ID`; every container
    /// without either.
    pub fn from_flags(name: Option<&str>, id: Option<&str>) -> Result<Matcher, QueryError> {
        match (name, id) {
            (Some(name), _) => {
                let (pattern, prefix) = match name.strip_suffix('*') {
                    Some(stem) => (stem.to_owned(), true),
                    None => (name.to_owned(), false),
                };
                if pattern.contains('*') {
                    return Err(QueryError::Usage(format!("-n {name:?}: only a trailing * is supported")));
                }
                Ok(Matcher::Name { pattern, prefix })
            }
            (None, Some(id)) => {
                let stem = id.strip_suffix('*').unwrap_or(id);
                if stem.is_empty() || !stem.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(QueryError::Usage(format!("-c {id:?}: a container id is hexadecimal")));
                }
                Ok(Matcher::Id(stem.to_ascii_lowercase()))
            }
            (None, None) => Ok(Matcher::All),
        }
    }

    /// Whether the series' container is selected.
    pub fn matches(&self, series: &SeriesInfo) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Name { pattern, prefix: true } => series.container.name.starts_with(pattern.as_str()),
            Matcher::Name { pattern, prefix: false } => series.container.name == *pattern,
            Matcher::Id(stem) => series.container.id.starts_with(stem.as_str()),
        }
    }

    /// Whether `-n` or `-c` was given.
    pub fn explicit(&self) -> bool {
        !matches!(self, Matcher::All)
    }

    /// The selector as given, for messages.
    pub fn describe(&self) -> String {
        match self {
            Matcher::All => "anything".to_owned(),
            Matcher::Name { pattern, prefix } => format!("-n {pattern}{}", if *prefix { "*" } else { "" }),
            Matcher::Id(stem) => format!("-c {stem}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_is_the_median_recent_gap() {
        assert_eq!(estimate_interval(&[]), DEFAULT_INTERVAL_MS);
        assert_eq!(estimate_interval(&[5]), DEFAULT_INTERVAL_MS);
        assert_eq!(estimate_interval(&[0, 10_000, 20_000, 30_500, 40_000]), 10_000);
        // A gap while the collector was stopped does not stretch the estimate.
        assert_eq!(estimate_interval(&[0, 2_000, 4_000, 600_000, 602_000]), 2_000);
    }

    #[test]
    fn times_print_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00+00:00");
    }
}
