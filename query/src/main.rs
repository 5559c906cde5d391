//! `kura`: answers monitoring questions from kura's store. See README.md for
//! every command, its output and units.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use kura_query::checks::{self, Answer};
use kura_query::cli::{Cli, Command, Format, HostArgs, LegacyArgs, OpsCommand, Program, PsArgs};
use kura_query::delegate;
use kura_query::error::QueryError;
use kura_query::export::hinemos::{self, RenderOptions, DEFAULT_MAX_BYTES};
use kura_query::legacy::{self, LegacyError, Outcome};
use kura_query::ps;
use kura_query::scope::{self, Scope};

fn main() -> ExitCode {
    let command = match Cli::parse().command {
        Program::Query(command) => command,
        Program::Ops(ops) => {
            // kura-ops replaces this process; exec returns only when it cannot.
            eprintln!("kura: {}", delegate::exec("kura-ops", ops.name(), &OpsCommand::raw_args()));
            return ExitCode::from(1);
        }
    };
    let now = chrono::Utc::now().timestamp_millis();
    let done = match &command {
        Command::Status(args) => check(args, now, |scope| Ok(checks::status(scope))),
        Command::Count(args) => check(&args.host, now, |scope| checks::count(scope, &scope.select(args)?)),
        Command::Size(args) => check(args, now, checks::size),
        Command::Cpu(args) => {
            check(&args.select.host, now, |scope| checks::cpu(scope, &scope.select(&args.select)?, args))
        }
        Command::Mem(args) => {
            check(&args.select.host, now, |scope| checks::mem(scope, &scope.select(&args.select)?, args))
        }
        Command::Disk(args) => {
            check(&args.select.host, now, |scope| checks::disk(scope, &scope.select(&args.select)?, args))
        }
        Command::Net(args) => {
            check(&args.select.host, now, |scope| checks::net(scope, &scope.select(&args.select)?, args))
        }
        Command::Proc(args) => {
            check(&args.select.host, now, |scope| checks::proc(scope, &scope.select(&args.select)?, args))
        }
        Command::Ps(args) => ps_table(args, now),
        Command::Legacy(args) => return run_legacy(args, now),
    };
    exit_status(done)
}

/// 0 when done, or when stdout was closed (`kura ps | head`); else the
/// error on stderr and 1.
fn exit_status(done: Result<(), QueryError>) -> ExitCode {
    match done {
        Ok(()) => ExitCode::SUCCESS,
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

/// `kura legacy`: its own exit statuses (2 for a command line the script
/// did not take, as argparse exited), the same printing as every check.
fn run_legacy(args: &LegacyArgs, now: i64) -> ExitCode {
    let done = match legacy::run(args, now) {
        Ok(Outcome::Answer(answer)) => print(&answer, Format::Lines, DEFAULT_MAX_BYTES),
        Ok(Outcome::Text(text)) => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(QueryError::Output)
        }
        Err(LegacyError::Query(e)) => Err(e),
        Err(e) => {
            match &e {
                // Two lines, `usage: ...` and `NAME: error: ...`, as argparse printed them.
                LegacyError::Usage { .. } => eprintln!("{e}"),
                _ => eprintln!("kura: {}", one_line(&chain(&e))),
            }
            return ExitCode::from(e.exit_status());
        }
    };
    exit_status(done)
}

/// A check: the scope `args` name as of `--at` (else `now`), the answer
/// `answer` derives from it, printed in `--format`.
fn check(
    args: &HostArgs,
    now: i64,
    answer: impl FnOnce(&Scope) -> Result<Answer, QueryError>,
) -> Result<(), QueryError> {
    let scope = Scope::open(args, scope::query_time(args.at.as_deref(), now)?)?;
    print(&answer(&scope)?, args.format, args.max_bytes)
}

/// `kura ps`: the table for people.
fn ps_table(args: &PsArgs, now: i64) -> Result<(), QueryError> {
    let host = &args.select.host;
    let scope = Scope::open(host, scope::query_time(host.at.as_deref(), now)?)?;
    let selection = scope.select(&args.select)?;
    let rows = ps::rows(&scope, &selection, checks::width_ms(&args.select)?, args.all)?;
    let mut out = io::stdout().lock();
    ps::write_table(&rows, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Prints the answer in the chosen format; explains on stderr what is
/// missing; fails when anything selected printed nothing.
fn print(answer: &Answer, format: Format, max_bytes: usize) -> Result<(), QueryError> {
    for note in answer.notes.iter().chain(&answer.missing) {
        eprintln!("kura: {note}");
    }
    let mut out = io::stdout().lock();
    match format {
        Format::Lines => {
            let options = RenderOptions { max_bytes };
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
