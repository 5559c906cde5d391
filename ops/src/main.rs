//! `kura-ops`: container operations for Hinemos jobs (exec, cp, start, stop,
//! restart, rm). `kura exec ...` and the others run this program. See
//! README.md for each command, its output and exit statuses.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use kura_ops::cli::{Cli, Command, HostArgs, SelectArgs, StartArgs};
use kura_ops::copy::{self, CopySpec};
use kura_ops::error::OpsError;
use kura_ops::exec::{self, ExecSpec, Sink};
use kura_ops::host::{self, Host};
use kura_ops::lifecycle::{Operation, Outcome, ResultLine};
use kura_ops::target::{self, Target};
use kura_ops::{EXIT_ERROR, EXIT_SOME_FAILED};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print to stdout and exit 0; a bad option
            // is an error before acting: 1, as the 2015 scripts exited.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_ERROR } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kura-ops: cannot start: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("kura-ops: {:#}", anyhow::Error::from(e));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Runs one operation; the exit status, or the error that stopped it before
/// it acted.
async fn run(command: Command) -> Result<u8, OpsError> {
    match command {
        Command::Exec(args) => {
            let spec = ExecSpec::from_args(&args)?;
            let (host, targets) = connect(&args.host, &args.select).await?;
            let prefixed = targets.len() > 1 && !args.no_prefix;
            let mut status = 0;
            for target in &targets {
                let mut sink = Sink::new(io::stdout(), io::stderr(), prefixed.then_some(target.name.as_str()));
                let finish = exec::run(&host, target, &spec, &mut sink).await?;
                if let Some(message) = finish.message(target, &spec) {
                    eprintln!("kura-ops: {message}");
                }
                if status == 0 {
                    status = finish.status();
                }
            }
            Ok(status)
        }
        Command::Cp(args) => {
            let spec = CopySpec { source: args.source.clone(), dest: args.dest.clone(), extract: args.extract };
            spec.check_destination()?;
            let (host, targets) = connect(&args.host, &args.select).await?;
            let mut failed = false;
            for target in &targets {
                match copy::copy(&host, target, &spec).await {
                    Ok(copied) => {
                        let mut out = io::stdout().lock();
                        writeln!(out, "{}", copied.path.display())?;
                        if !args.quiet {
                            for entry in &copied.entries {
                                writeln!(out, "{}", entry.render(&chrono::Local))?;
                            }
                        }
                        out.flush()?;
                    }
                    Err(reason) => {
                        eprintln!("kura-ops: cp {} from {}: {reason}", args.source, target.name);
                        failed = true;
                    }
                }
            }
            Ok(if failed { EXIT_SOME_FAILED } else { 0 })
        }
        Command::Start(args) => lifecycle(&args, Operation::Start).await,
        Command::Stop(args) => lifecycle(&args.common, Operation::Stop { time: args.time }).await,
        Command::Restart(args) => lifecycle(&args.common, Operation::Restart { time: args.time }).await,
        Command::Rm(args) => {
            lifecycle(&args.common, Operation::Remove { force: args.force, volumes: args.volumes }).await
        }
    }
}

/// The host the arguments name, reached, and the containers they select.
async fn connect(host: &HostArgs, select: &SelectArgs) -> Result<(Host, Vec<Target>), OpsError> {
    let pattern = select.pattern()?;
    let host = Host::connect(&host::entry(host)?).await?;
    let targets = target::select(&host, &pattern).await?;
    Ok((host, targets))
}

/// start, stop, restart or rm on every selected container, one line each
/// as it is done.
async fn lifecycle(args: &StartArgs, operation: Operation) -> Result<u8, OpsError> {
    let (host, targets) = connect(&args.host, &args.select).await?;
    let mut failed = false;
    for target in &targets {
        let outcome = operation.apply(&host, target, args.dry_run).await;
        failed |= matches!(outcome, Outcome::Failed(_));
        let mut out = io::stdout().lock();
        writeln!(out, "{}", ResultLine { target, outcome: &outcome })?;
        out.flush()?;
    }
    Ok(if failed { EXIT_SOME_FAILED } else { 0 })
}
