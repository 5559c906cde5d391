//! `kura-nodes`: keeps Hinemos 7's node repository in step with the
//! containers in kura's store. See README.md ("Hinemos' node repository").

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use kura_nodes::apply::{self, Report, Status};
use kura_nodes::cli::{Cli, Command, Format, NodesArgs};
use kura_nodes::desired::Desired;
use kura_nodes::plan::Plan;
use kura_nodes::render;
use kura_nodes::run::{self, RunError};
use kura_nodes::settings::{NodesSettings, Overrides};
use kura_store::config::{FlagConfig, Settings};
use kura_store::message::{chain, one_line};
use kura_store::Reader;

/// Exit statuses (README, "Exit statuses").
const STORE: u8 = 1;
const USAGE: u8 = 2;
const MANAGER: u8 = 3;
const PARTIAL: u8 = 4;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (args, apply) = match &cli.command {
        Command::Plan(args) => (args, false),
        Command::Apply(args) => (args, true),
    };
    match run(args, apply) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code),
        Err(Failure { code, message }) => {
            eprintln!("kura-nodes: {}", one_line(&message));
            ExitCode::from(code)
        }
    }
}

/// What stops the whole run, with its exit status.
struct Failure {
    code: u8,
    message: String,
}

fn fail(code: u8, error: impl std::fmt::Display) -> Failure {
    Failure { code, message: error.to_string() }
}

fn warn(host: &str, message: &str) {
    eprintln!("kura-nodes: {host}: {}", one_line(message));
}

fn run(args: &NodesArgs, apply: bool) -> Result<u8, Failure> {
    let flags = FlagConfig { config_file: args.config.clone(), data_dir: args.data.clone(), ..FlagConfig::default() };
    let settings = Settings::load(&flags).map_err(|e| fail(USAGE, e))?;
    let overrides = Overrides {
        manager: args.hinemos.clone(),
        user: args.user.clone(),
        password_file: args.password_file.clone(),
        facility_id: args.facility_id.clone(),
        ip_address: args.ip.clone(),
        delete: args.delete,
        adopt: args.adopt,
        unassign: args.unassign,
        name: args.name.clone(),
    };
    let nodes = NodesSettings::resolve(&settings, &overrides).map_err(|e| fail(USAGE, e))?;
    if apply && nodes.manager.is_none() {
        return Err(fail(USAGE, "apply needs a manager: --hinemos URL (or manager in [hinemos] of --config)"));
    }
    let reader = Reader::open(&nodes.data_dir).map_err(|e| fail(STORE, chain(&e)))?;
    let names = match (&args.host[..], &args.config) {
        ([], Some(_)) => nodes.hosts.iter().map(|h| h.name.clone()).collect(),
        ([], None) => reader.hosts().map_err(|e| fail(STORE, chain(&e)))?,
        (hosts, _) => hosts.to_vec(),
    };
    if names.is_empty() {
        return Err(fail(STORE, format!("the store at {} knows no host yet", nodes.data_dir.display())));
    }
    if names.len() > 1 && (args.facility_id.is_some() || args.ip.is_some()) {
        return Err(fail(
            USAGE,
            format!("--facility-id and --ip name one host's node; {} hosts are selected", names.len()),
        ));
    }
    let targets = names
        .iter()
        .map(|name| nodes.target(name, &overrides))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(USAGE, e))?;
    let now = chrono::Utc::now().timestamp_millis();
    let mut code = 0;
    let mut desired: Vec<Desired> = Vec::new();
    for target in &targets {
        match run::desired(&reader, target, &nodes, now) {
            Ok(one) => desired.push(one),
            Err(e) => {
                warn(&target.name, &chain(&e));
                code = STORE;
            }
        }
    }
    let manager = match run::connect(&nodes) {
        Ok(manager) => manager,
        Err(e @ RunError::Settings(_)) => return Err(fail(USAGE, chain(&e))),
        Err(e) => return Err(fail(MANAGER, chain(&e))),
    };
    let Some(mut manager) = manager else {
        for one in &desired {
            for warning in &one.warnings {
                warn(&one.host, warning);
            }
        }
        if !desired.is_empty() {
            print_json(&desired)?;
        }
        return Ok(code);
    };
    let mut plans: Vec<Plan> = Vec::new();
    for one in &desired {
        match run::plan(&mut manager, one, &nodes) {
            Ok(plan) => {
                for warning in &plan.warnings {
                    warn(&one.host, warning);
                }
                plans.push(plan);
            }
            Err(e) => {
                warn(&one.host, &format!("{}; nothing was changed", chain(&e)));
                code = code.max(MANAGER);
                if e.is_unreachable() {
                    break;
                }
            }
        }
    }
    if !apply {
        print_plans(&plans, args.format)?;
        return Ok(code);
    }
    let mut reports: Vec<(String, Report)> = Vec::new();
    for plan in &plans {
        let report = apply::apply(&mut manager, plan);
        for outcome in &report.outcomes {
            if let Status::Failed(reason) | Status::NotAttempted(reason) = &outcome.status {
                warn(&plan.host, &format!("{} {}: {reason}", outcome.change.action(), outcome.change.target()));
            }
        }
        if !report.complete() {
            code = code.max(PARTIAL);
        }
        reports.push((plan.host.clone(), report));
    }
    print_reports(&reports, args.format)?;
    Ok(code)
}

/// Output that cannot be written. A closed pipe (`kura nodes plan | head`)
/// is not an error: the reader has what it wanted.
fn written(result: io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(fail(STORE, format!("cannot write the output: {e}"))),
        _ => Ok(()),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    written(
        serde_json::to_writer_pretty(&mut out, value)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush()),
    )
}

fn print_plans(plans: &[Plan], format: Format) -> Result<(), Failure> {
    if format == Format::Json {
        return print_json(&plans);
    }
    let rows: Vec<[String; 4]> = plans.iter().flat_map(render::plan_rows).collect();
    for plan in plans.iter().filter(|p| p.changes.is_empty()) {
        warn(&plan.host, "nothing to change");
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    written(render::table(["HOST", "ACTION", "TARGET", "DETAIL"], &rows, &mut out).and_then(|()| out.flush()))
}

fn print_reports(reports: &[(String, Report)], format: Format) -> Result<(), Failure> {
    if format == Format::Json {
        #[derive(serde::Serialize)]
        struct HostReport<'a> {
            host: &'a str,
            #[serde(flatten)]
            report: &'a Report,
        }
        let all: Vec<HostReport> = reports.iter().map(|(host, report)| HostReport { host, report }).collect();
        return print_json(&all);
    }
    let rows: Vec<[String; 5]> = reports.iter().flat_map(|(host, report)| render::report_rows(host, report)).collect();
    for (host, _) in reports.iter().filter(|(_, r)| r.outcomes.is_empty()) {
        warn(host, "nothing to change");
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut out = io::stdout().lock();
    written(render::table(["HOST", "RESULT", "ACTION", "TARGET", "DETAIL"], &rows, &mut out).and_then(|()| out.flush()))
}
