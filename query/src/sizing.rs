//! `kura export` and `kura report`: the period, the hosts and containers a
//! history covers, and the drivers that write rows or the report.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use kura_store::duration::parse_duration;
use kura_store::paths::default_data_dir;
use kura_store::sample::UnixMillis;
use kura_store::Reader;

use crate::cli::{ExportArgs, ExportFormat, PeriodArgs};
use crate::error::QueryError;
use crate::export::rows::{Layout, RowFormat, RowWriter};
use crate::export::zone::Zone;
use crate::history::container::Buckets;
use crate::history::hosts::{self, StateCounts};
use crate::history::metric::{parse_aggs, Agg};
use crate::history::{Plan, Spec};
use crate::scope::{rfc3339, Matcher};

/// The store, the hosts and the containers of a history, and its period.
pub struct Period {
    /// The store.
    pub reader: Reader,
    /// The hosts, sorted.
    pub hosts: Vec<String>,
    /// Which containers.
    pub matcher: Matcher,
    /// The period's start, inclusive.
    pub from: UnixMillis,
    /// Its end, exclusive.
    pub to: UnixMillis,
    /// The zone times are written in.
    pub zone: Zone,
}

impl Period {
    /// Opens the store and checks the arguments.
    pub fn open(args: &PeriodArgs, now: UnixMillis) -> Result<Period, QueryError> {
        let to = match &args.until {
            Some(text) => time(text, "--until")?,
            None => now,
        };
        if to > now {
            return Err(QueryError::Usage(format!(
                "--until {} is in the future (now is {}): there is no history there yet",
                rfc3339(to),
                rfc3339(now)
            )));
        }
        let from = match parse_duration(&args.since) {
            Ok(back) => to.saturating_sub(millis(back)),
            Err(_) => time(&args.since, "--since (a duration such as 30d, or a time)")?,
        };
        if from >= to {
            return Err(QueryError::Usage(format!(
                "--since {} is not before --until {}: the period is empty",
                rfc3339(from),
                rfc3339(to)
            )));
        }
        let zone = Zone::parse(&args.tz).map_err(QueryError::Usage)?;
        let matcher = Matcher::new(&args.containers)?;
        let dir: PathBuf = args.data.clone().unwrap_or_else(default_data_dir);
        let reader = Reader::open(&dir)?;
        let stored = reader.hosts()?;
        let hosts = match &args.host {
            Some(host) if stored.contains(host) => vec![host.clone()],
            Some(host) => {
                return Err(QueryError::UnknownHost {
                    host: host.clone(),
                    known: if stored.is_empty() { "nothing".to_owned() } else { stored.join(", ") },
                })
            }
            None if stored.is_empty() => return Err(QueryError::NoHost(dir.display().to_string())),
            None => stored,
        };
        Ok(Period { reader, hosts, matcher, from, to, zone })
    }

    /// The spec of buckets of `step_ms` over this period, aligned in its
    /// zone; `period`: summarise each container's whole period too.
    pub fn spec(&self, step_ms: i64, aggs: Vec<Agg>, period: bool) -> Spec {
        let buckets = Buckets::covering(self.from, self.to, step_ms, self.zone.offset_ms(self.from));
        Spec { from: self.from, to: self.to, buckets, aggs, period }
    }

    /// The containers selected, failing when `-n`/`-c` matches none.
    pub fn plan(&self, spec: &Spec) -> Result<Plan, QueryError> {
        let plan = Plan::new(&self.reader, &self.hosts, spec, &self.matcher)?;
        if plan.is_empty() && self.matcher.explicit() {
            return Err(QueryError::NoMatch { host: self.hosts.join(", "), selector: self.matcher.describe() });
        }
        Ok(plan)
    }
}

/// The cores decoding uses: all there are.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A progress bar on stderr over `len` containers, drawn only when stderr
/// is a terminal.
pub fn progress(len: usize, what: &str) -> ProgressBar {
    if !io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(u64::try_from(len).unwrap_or(u64::MAX));
    let style = ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} containers, {eta} left")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// `kura export`.
pub fn export(args: &ExportArgs, now: UnixMillis) -> Result<(), QueryError> {
    let step = parse_duration(&args.step).map_err(|e| QueryError::Usage(format!("--step: {e}")))?;
    if step < Duration::from_secs(1) {
        return Err(QueryError::Usage("--step: at least 1s".to_owned()));
    }
    let aggs = parse_aggs(&args.agg).map_err(|e| QueryError::Usage(format!("--agg: {e}")))?;
    let period = Period::open(&args.period, now)?;
    let spec = period.spec(millis(step), aggs.clone(), false);
    let plan = period.plan(&spec)?;
    let format = match args.format {
        ExportFormat::Csv => RowFormat::Csv,
        ExportFormat::Jsonl => RowFormat::Jsonl,
    };
    let layout = Layout { aggs, hosts: args.hosts, zone: period.zone };
    let output = Output::create(args.output.as_deref())?;
    let mut rows = RowWriter::new(output.writer()?, format, layout)?;
    let bar = progress(plan.len(), "export");
    let mut states: Vec<(String, StateCounts)> =
        period.hosts.iter().map(|h| (h.clone(), StateCounts::new(&spec.buckets))).collect();
    plan.run(&period.reader, &spec, threads(), |history| {
        if let Some((_, counts)) = states.iter_mut().find(|(h, _)| *h == history.host) {
            counts.add(&history);
        }
        rows.container(&history, &spec.buckets)?;
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    if args.hosts {
        for (host, counts) in &states {
            rows.host(host, &hosts::host_buckets(&period.reader, host, &spec, counts)?, &spec.buckets)?;
        }
    }
    rows.finish()?;
    output.commit()
}

/// Where output goes: stdout, or a file written beside its final name and
/// renamed into place when complete (a failed run leaves no half file).
pub struct Output {
    file: Option<(PathBuf, PathBuf)>,
}

impl Output {
    /// Output to `path`, or stdout.
    pub fn create(path: Option<&Path>) -> Result<Output, QueryError> {
        Ok(Output { file: path.map(|p| (p.to_path_buf(), partial(p))) })
    }

    /// A buffered writer.
    pub fn writer(&self) -> Result<Box<dyn Write>, QueryError> {
        Ok(match &self.file {
            Some((path, temporary)) => Box::new(BufWriter::new(File::create(temporary).map_err(|e| {
                QueryError::Output(io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
            })?)),
            None => Box::new(BufWriter::new(io::stdout().lock())),
        })
    }

    /// Moves a finished file into place.
    pub fn commit(self) -> Result<(), QueryError> {
        if let Some((path, temporary)) = &self.file {
            std::fs::rename(temporary, path).map_err(|e| {
                QueryError::Output(io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
            })?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Not committed: the partial file goes.
        if let Some((_, temporary)) = &self.file {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    path.with_file_name(name)
}

fn time(text: &str, flag: &str) -> Result<UnixMillis, QueryError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| QueryError::Usage(format!("{flag} {text:?}: {e} (write e.g. 2026-11-28T10:00:00Z)")))
}

/// A duration in ms, saturating.
pub fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
