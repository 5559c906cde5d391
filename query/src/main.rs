//! `kura`: answers monitoring questions from kura's store. See README.md for
//! every command, its output and units.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use kura_query::checks::{self, Answer};
use kura_query::cli::{Check, Cli, Command, Format, HostArgs};
use kura_query::error::QueryError;
use kura_query::export::hinemos::{self, RenderOptions};
use kura_query::export::report;
use kura_query::scope::Scope;
use kura_query::{ps, sizing};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let now = chrono::Utc::now().timestamp_millis();
    match run(&cli.command, now) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`kura ps | head`) is not an error.
        Err(QueryError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kura: {}", one_line(&chain(&e)));
            ExitCode::from(1)
        }
    }
}

/// An error and every cause below it, `outer: inner: ...`, each said once
/// (an error that already quotes its cause is not followed by it again).
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = cause.source();
    }
    message
}

/// A message on one line: multi-line reasons (a regex error draws a caret
/// under the pattern) are joined with single spaces.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(command: &Command, now: i64) -> Result<(), QueryError> {
    match command {
        Command::Check(check) => answer(check, now),
        Command::Export(args) => sizing::export(args, now),
        Command::Report(args) => report::run(args, now),
    }
}

/// A check (or `kura ps`) as of `--at`, printed.
fn answer(command: &Check, now: i64) -> Result<(), QueryError> {
    let host_args = match command {
        Check::Status(args) | Check::Size(args) => args,
        Check::Count(args) => &args.host,
        Check::Cpu(args) => &args.select.host,
        Check::Mem(args) => &args.select.host,
        Check::Disk(args) => &args.select.host,
        Check::Net(args) => &args.select.host,
        Check::Proc(args) => &args.select.host,
        Check::Ps(args) => &args.select.host,
    };
    let now = match &host_args.at {
        Some(at) => {
            let at_ms = chrono::DateTime::parse_from_rfc3339(at)
                .map_err(|e| QueryError::Usage(format!("--at {at:?}: {e} (write e.g. 2026-11-28T10:00:00Z)")))?
                .timestamp_millis();
            if at_ms > now {
                return Err(QueryError::Usage(format!(
                    "--at {at} is in the future (now is {}): there is no history there yet",
                    chrono::DateTime::from_timestamp_millis(now).map(|t| t.to_rfc3339()).unwrap_or_default()
                )));
            }
            at_ms
        }
        None => now,
    };
    let scope = Scope::open(host_args, now)?;
    let answer = match command {
        Check::Status(_) => checks::status(&scope),
        Check::Count(args) => checks::count(&scope, &scope.select(args)?)?,
        Check::Size(_) => checks::size(&scope)?,
        Check::Cpu(args) => checks::cpu(&scope, &scope.select(&args.select)?, args)?,
        Check::Mem(args) => checks::mem(&scope, &scope.select(&args.select)?, args)?,
        Check::Disk(args) => checks::disk(&scope, &scope.select(&args.select)?, args)?,
        Check::Net(args) => checks::net(&scope, &scope.select(&args.select)?, args)?,
        Check::Proc(args) => checks::proc(&scope, &scope.select(&args.select)?, args)?,
        Check::Ps(args) => {
            let selection = scope.select(&args.select)?;
            let rows = ps::rows(&scope, &selection, checks::width_ms(&args.select)?, args.all)?;
            let mut out = io::stdout().lock();
            ps::write_table(&rows, &mut out)?;
            out.flush()?;
            return Ok(());
        }
    };
    print(&answer, host_args)
}

/// Prints the answer in the chosen format; explains on stderr what is
/// missing; fails when anything selected printed nothing.
fn print(answer: &Answer, args: &HostArgs) -> Result<(), QueryError> {
    for note in answer.notes.iter().chain(&answer.missing) {
        eprintln!("kura: {note}");
    }
    let mut out = io::stdout().lock();
    match args.format {
        Format::Lines => {
            let options = RenderOptions { max_bytes: args.max_bytes };
            let mut buffer = Vec::new();
            let warnings = hinemos::render(&answer.items, &options, &mut buffer)?;
            for warning in warnings {
                eprintln!("kura: {warning}");
            }
            out.write_all(&buffer)?;
        }
        Format::Json => {
            // The same plain decimals as the lines, as JSON numbers.
            let items: Vec<serde_json::Value> = answer
                .items
                .iter()
                .filter_map(|item| {
                    let number: serde_json::Value = serde_json::from_str(&item.value.plain()?).ok()?;
                    Some(serde_json::json!({ "key": item.key, "value": number }))
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &items).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Table => {
            let width = answer.items.iter().map(|i| i.key.chars().count()).max().unwrap_or(0);
            for item in &answer.items {
                let value = item.value.plain().unwrap_or_else(|| "-".to_owned());
                writeln!(out, "{:<width$}  {value}", item.key)?;
            }
        }
    }
    out.flush()?;
    if !answer.missing.is_empty() || answer.items.is_empty() {
        return Err(QueryError::Incomplete {
            missing: answer.missing.len(),
            selected: answer.items.len() + answer.missing.len(),
        });
    }
    Ok(())
}
