//! `kura`: answers monitoring questions from kura's store. See README.md for
//! every command, its output and units.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use kura_query::checks::{self, Answer};
use kura_query::cli::{Cli, Command, Format, HostArgs, LegacyArgs, Program};
use kura_query::cursor::CursorError;
use kura_query::delegate;
use kura_query::error::QueryError;
use kura_query::export::hinemos::{self, RenderOptions, DEFAULT_MAX_BYTES};
use kura_query::export::report;
use kura_query::feed;
use kura_query::legacy::{self, LegacyError, Outcome};
use kura_query::scope::{self, Scope};
use kura_query::{ps, sizing};
use kura_store::message::{chain, one_line};

fn main() -> ExitCode {
    let command = match Cli::parse().command {
        Program::Query(command) => *command,
        Program::Handover(handover) => {
            // The program replaces this process; exec returns only when it cannot.
            let (program, args) = handover.command_line();
            eprintln!("kura: {}", delegate::exec(program, &args));
            return ExitCode::from(1);
        }
    };
    let now = chrono::Utc::now().timestamp_millis();
    if let Command::Legacy(args) = &command {
        return run_legacy(args, now);
    }
    exit_status(run(&command, now))
}

/// 0 when done, or when stdout was closed (`kura ps | head`); 3 when
/// another run holds the cursor; else the error on stderr and 1.
fn exit_status(done: Result<(), QueryError>) -> ExitCode {
    match done {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`kura ps | head`) is not an error.
        Err(QueryError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e @ QueryError::Cursor(CursorError::Busy { .. })) => {
            eprintln!("kura: {}", one_line(&chain(&e)));
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("kura: {}", one_line(&chain(&e)));
            ExitCode::from(1)
        }
    }
}

fn run(command: &Command, now: i64) -> Result<(), QueryError> {
    let Some(host_args) = host_args(command) else {
        // The history feeds, the export and the report read every host,
        // over a span of their own.
        return match command {
            Command::Transitions(args) => feed::command::transitions(args, now, &mut io::stdout().lock()),
            Command::Events(args) => feed::command::events(args, now, &mut io::stdout().lock()),
            Command::Export(args) => sizing::export(args, now),
            Command::Report(args) => report::run(args, now),
            _ => Ok(()),
        };
    };
    let now = scope::query_time(host_args.at.as_deref(), now)?;
    kura_query::owner::read_as_owner(&scope::data_dir(host_args))?;
    if let Command::States(args) = command {
        return feed::command::states(args, now, &mut io::stdout().lock());
    }
    let scope = Scope::open(host_args, now)?;
    let answer = match command {
        Command::Status(_) => checks::status(&scope),
        Command::Count(args) => checks::count(&scope, &scope.select(args)?)?,
        Command::Size(_) => checks::size(&scope)?,
        Command::Cpu(args) => checks::cpu(&scope, &scope.select(&args.select)?, args)?,
        Command::Mem(args) => checks::mem(&scope, &scope.select(&args.select)?, args)?,
        Command::Disk(args) => checks::disk(&scope, &scope.select(&args.select)?, args)?,
        Command::Net(args) => checks::net(&scope, &scope.select(&args.select)?, args)?,
        Command::Proc(args) => checks::proc(&scope, &scope.select(&args.select)?, args)?,
        Command::Ps(args) => {
            let selection = scope.select(&args.select)?;
            let rows = ps::rows(&scope, &selection, checks::width_ms(&args.select)?, args.all)?;
            let mut out = io::stdout().lock();
            ps::write_table(&rows, &mut out)?;
            out.flush()?;
            return Ok(());
        }
        Command::Restarts(args) => checks::restarts(&scope, &scope.select(args)?, args)?,
        Command::Oom(args) => checks::oom(&scope, &scope.select(args)?, args)?,
        Command::Health(args) => checks::health(&scope, &scope.select(args)?)?,
        // Answered above (and `kura legacy` in main).
        Command::Transitions(_)
        | Command::Events(_)
        | Command::States(_)
        | Command::Export(_)
        | Command::Report(_)
        | Command::Legacy(_) => return Ok(()),
    };
    print(&answer, host_args.format, host_args.max_bytes)
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

/// The store, host and time of a command about one host at one time.
fn host_args(command: &Command) -> Option<&HostArgs> {
    Some(match command {
        Command::Status(args) | Command::Size(args) => args,
        Command::Count(args) => &args.host,
        Command::Cpu(args) => &args.select.host,
        Command::Mem(args) => &args.select.host,
        Command::Disk(args) => &args.select.host,
        Command::Net(args) => &args.select.host,
        Command::Proc(args) => &args.select.host,
        Command::Ps(args) => &args.select.host,
        Command::Restarts(args) | Command::Oom(args) | Command::Health(args) => &args.host,
        Command::States(args) => &args.select.host,
        Command::Transitions(_) | Command::Events(_) | Command::Export(_) | Command::Report(_) | Command::Legacy(_) => {
            return None
        }
    })
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
