//! `kura legacy SCRIPT [OLD OPTIONS...]`: the command lines of the 17
//! Hinemos Docker sample scripts of 2015 (shared/reference/
//! legacy-command-lines.md), with their options, keys, identifiers, units
//! and exit statuses, answered from kura's store; and `kura legacy
//! --install DIR`, which puts one entry per script name in DIR.
//!
//! # Layout
//!
//! - [`scripts`]: the 17 scripts: names, option tables, rules, kura commands.
//! - [`argv`]: their command lines, read as Python's argparse read them.
//! - [`host`]: `-i ADDRESS -p PORT` to one of kura's hosts.
//! - [`previous`]: "since the previous call" of the rate scripts, remembered
//!   beside the store per script and `-k` key.
//! - [`monitor`]: the custom-monitor scripts, answered by kura's checks.
//! - [`handover`]: the others, as the command lines of `kura events|states`,
//!   `kura-ops` and `kura-nodes`, which replace this process.
//! - [`install`]: the entries `--install` writes.

pub mod argv;
pub mod handover;
pub mod host;
pub mod install;
pub mod monitor;
pub mod previous;
pub mod scripts;

use std::path::{Path, PathBuf};

use kura_store::config::{self as store_config, ConfigError, FlagConfig, Settings};
use kura_store::sample::UnixMillis;
use kura_store::Reader;

use crate::checks::Answer;
use crate::cli::{Format, HostArgs, LegacyArgs};
use crate::delegate;
use crate::error::QueryError;
use crate::export::hinemos::DEFAULT_MAX_BYTES;
use crate::scope::{self, Scope};
use crate::window::DEFAULT_WIDTH_MS;

use argv::Dest;
use previous::{Calls, Previous, Windows};
use scripts::Script;

/// The window of a rate script's first call when `[legacy] first_window`
/// does not say: 5 minutes, Hinemos' usual monitor interval.
pub const DEFAULT_FIRST_WINDOW_MS: u64 = DEFAULT_WIDTH_MS;
/// The longest window when `[legacy] max_window` does not say: 2 hours,
/// twice Hinemos' longest monitor interval.
pub const DEFAULT_MAX_WINDOW_MS: u64 = 2 * 3_600_000;

/// `-i` when not given: the 2015 default (printed `127.0.01` in every
/// table of the report), the local daemon.
pub const DEFAULT_IP: &str = "127.0.0.1";

/// What a legacy call printed.
#[derive(Debug)]
pub enum Outcome {
    /// `key,value` lines for Hinemos (the custom monitors).
    Answer(Answer),
    /// Text for stdout: `-h`, the install report.
    Text(String),
}

/// Why a legacy call printed nothing.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// The command line is not one the script took (exit status 2, as
    /// argparse's); printed as argparse printed it.
    #[error("{usage}\n{name}: error: {message}")]
    Usage {
        /// The usage line.
        usage: String,
        /// The script's name as called.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// SCRIPT is none of the 17 (exit status 2).
    #[error("unknown script {0:?}; the scripts are: {names}", names = script_names())]
    UnknownScript(String),
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `-i`/`-p` name no host kura collects.
    #[error(transparent)]
    Host(#[from] host::HostError),
    /// The query failed (store, host, window).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Installing the entries failed.
    #[error(transparent)]
    Install(#[from] install::InstallError),
    /// The command line has no kura equivalent.
    #[error(transparent)]
    Handover(#[from] handover::HandoverError),
    /// A script kura answers itself reached the handover (a bug).
    #[error("{0} is answered by kura itself, not handed over")]
    NotHandedOver(&'static str),
    /// The program that answers could not be run.
    #[error(transparent)]
    Exec(std::io::Error),
}

impl LegacyError {
    /// The exit status: 2 for a command line the script did not take, as
    /// argparse exited; 1 for every other error, as the scripts did.
    pub fn exit_status(&self) -> u8 {
        match self {
            LegacyError::Usage { .. } | LegacyError::UnknownScript(_) => 2,
            _ => 1,
        }
    }
}

fn script_names() -> String {
    Script::ALL.iter().map(|s| s.file_name()).collect::<Vec<_>>().join(", ")
}

/// Runs `kura legacy` at the wall-clock time `now`.
pub fn run(args: &LegacyArgs, now: UnixMillis) -> Result<Outcome, LegacyError> {
    if let Some(dir) = &args.install {
        return install_entries(args, dir);
    }
    let (name, options) = match args.command_line.split_first() {
        Some((name, options)) => (name.as_str(), options),
        None => ("", &[][..]),
    };
    let script = Script::from_name(name).ok_or_else(|| LegacyError::UnknownScript(name.to_owned()))?;
    let spec = script.spec();
    let usage = |e: argv::ArgError| LegacyError::Usage { usage: spec.usage(name), name: name.to_owned(), message: e.0 };
    let parsed = spec.parse(options).map_err(usage)?;
    if parsed.help {
        return Ok(Outcome::Text(script.help(name)));
    }
    script.check(&parsed).map_err(usage)?;
    match handover::Program::of(script) {
        None => monitor_call(args, script, &parsed, now).map(Outcome::Answer),
        Some(program) => Err(hand_over(args, script, program, &parsed)),
    }
}

/// Replaces this process with the command that answers `script`; returns
/// only why that could not be done.
fn hand_over(args: &LegacyArgs, script: Script, program: handover::Program, parsed: &argv::Parsed) -> LegacyError {
    let attempt = || -> Result<std::io::Error, LegacyError> {
        let settings = load_settings(args)?;
        let ip = parsed.value(Dest::Ip).unwrap_or(DEFAULT_IP);
        let port = parsed.value(Dest::Port).and_then(|p| p.parse().ok());
        let config = args.config.as_deref();
        let (name, entry) = match program {
            // The feeds read the store: the host must be stored.
            handover::Program::Kura => {
                let stored = Reader::open(&settings.data_dir).and_then(|r| r.hosts()).map_err(QueryError::from)?;
                (host::resolve(&settings, config, &stored, ip, port)?, None)
            }
            handover::Program::Ops | handover::Program::Nodes => {
                let entry = host::configured_host(&settings, config, ip, port)?;
                (entry.name.clone(), Some(entry))
            }
        };
        let place = handover::Where { config, data: &settings.data_dir, host: &name, entry };
        let Some(command) = handover::handover(script, parsed, place)? else {
            return Err(LegacyError::NotHandedOver(script.file_name()));
        };
        let words: Vec<std::ffi::OsString> = std::iter::once(command.subcommand)
            .chain(command.args.iter().map(String::as_str))
            .map(Into::into)
            .collect();
        Ok(delegate::exec(command.program.name(), &words))
    };
    match attempt() {
        Ok(failed) => LegacyError::Exec(failed),
        Err(e) => e,
    }
}

fn load_settings(args: &LegacyArgs) -> Result<Settings, ConfigError> {
    Settings::load(&FlagConfig {
        config_file: args.config.clone(),
        data_dir: args.data.clone(),
        ..FlagConfig::default()
    })
}

/// A custom-monitor script: the host `-i`/`-p` name, the window since the
/// previous call (rate scripts), kura's checks.
fn monitor_call(
    args: &LegacyArgs,
    script: Script,
    parsed: &argv::Parsed,
    now: UnixMillis,
) -> Result<Answer, LegacyError> {
    let settings = load_settings(args)?;
    let at = scope::query_time(args.at.as_deref(), now)?;
    let reader = Reader::open(&settings.data_dir).map_err(QueryError::from)?;
    let stored = reader.hosts().map_err(QueryError::from)?;
    let ip = parsed.value(Dest::Ip).unwrap_or(DEFAULT_IP);
    let port = parsed.value(Dest::Port).and_then(|p| p.parse().ok());
    let name = host::resolve(&settings, args.config.as_deref(), &stored, ip, port)?;
    let host_args = HostArgs {
        data: Some(settings.data_dir.clone()),
        host: Some(name),
        at: args.at.clone(),
        format: Format::Lines,
        max_bytes: DEFAULT_MAX_BYTES,
    };
    let scope = Scope::with_reader(reader, &settings.data_dir, &host_args, at)?;
    if !script.is_rate() {
        return Ok(monitor::answer(script, parsed, &scope, &host_args, DEFAULT_WIDTH_MS)?);
    }
    let key = parsed.value(Dest::Key).unwrap_or_default();
    let calls = Calls::new(&settings.data_dir);
    let previous = calls.previous(script, key);
    // A window shorter than the store's staleness limit may hold no sample
    // of a running container at all.
    let floor = u64::try_from(kura_store::freshness::stale_after_ms(scope.interval_ms)).unwrap_or(0);
    let width = previous::window_ms(&previous, at, windows(&settings)?, floor);
    let mut answer = monitor::answer(script, parsed, &scope, &host_args, width)?;
    if let Previous::Damaged(why) = previous {
        answer.notes.push(why);
    }
    // A call `--at` a past time reads history: it is no monitor run. A
    // call that cannot be remembered still prints: the next one covers the
    // time since the one before.
    if args.at.is_none() {
        if let Err(e) = calls.record(script, key, at) {
            answer.notes.push(format!("-k {key}: this call is not remembered: {e}"));
        }
    }
    Ok(answer)
}

/// `[legacy] first_window` and `max_window`, or their defaults.
fn windows(settings: &Settings) -> Result<Windows, ConfigError> {
    let ms = |key: &str, text: &Option<String>, default: u64| -> Result<u64, ConfigError> {
        match text {
            Some(text) => {
                let duration = store_config::duration(&format!("legacy: {key}"), text)?;
                Ok(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
            }
            None => Ok(default),
        }
    };
    let legacy = &settings.file.legacy;
    Ok(Windows {
        first_ms: ms("first_window", &legacy.first_window, DEFAULT_FIRST_WINDOW_MS)?,
        max_ms: ms("max_window", &legacy.max_window, DEFAULT_MAX_WINDOW_MS)?,
    })
}

/// `--install DIR`: the entries run this very program, with the
/// `--config`/`--data` given here (made absolute).
fn install_entries(args: &LegacyArgs, dir: &Path) -> Result<Outcome, LegacyError> {
    let absolute = |path: &Path| -> Result<PathBuf, LegacyError> {
        std::path::absolute(path)
            .map_err(|source| install::InstallError::Io { path: path.to_path_buf(), source }.into())
    };
    let kura = std::env::current_exe()
        .and_then(|exe| exe.canonicalize())
        .map_err(|source| install::InstallError::Io { path: PathBuf::from("kura"), source })?;
    let config = args.config.as_deref().map(absolute).transpose()?;
    let data = args.data.as_deref().map(absolute).transpose()?;
    let report = install::install(&install::Install {
        dir,
        kura: &kura,
        config: config.as_deref(),
        data: data.as_deref(),
        force: args.force,
    })?;
    Ok(Outcome::Text(report.iter().map(|line| format!("{line}\n")).collect()))
}
