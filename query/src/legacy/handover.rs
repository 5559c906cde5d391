//! The scripts another kura command answers: their 2015 command line
//! becomes that command's, which then replaces this process (its output,
//! streams and exit status are the command's own).
//!
//! | script | command |
//! |---|---|
//! | HostEvent `-k KEY -s HOST:PORT` / `-f FILE` | `kura events --cursor legacy-KEY --syslog udp://HOST:PORT --hostname host` / `--file FILE` |
//! | ContainerStatus `-s HOST:PORT` | `kura states --syslog udp://HOST:PORT` |
//! | Command `-n NAME "COMMAND"` | `kura-ops exec -n NAME --no-prefix -- ARGV` (COMMAND split as Python's `shlex.split`, as docker-py split it) |
//! | Download `SOURCE DESTINATION` | `kura-ops cp ... SOURCE DESTINATION` |
//! | Start, Stop, Restart `[-t WAIT]`, Rm `[-f] [-v]` | `kura-ops start|stop|restart|rm ...` |
//! | Repository Add, Update / Delete `-f FACILITY [-m URL]` | `kura-nodes apply --facility-id FACILITY [--hinemos URL]` / `... --delete` |
//!
//! The store-reading commands name the host by its stored name (`--data
//! DIR --host NAME`); the Docker ones by the configuration (`--config FILE
//! --host NAME`, or `--docker NAME=ENDPOINT` when no configuration file was
//! given).

use std::net::IpAddr;
use std::path::Path;

use kura_store::config::HostEntry;

use super::argv::{Dest, Parsed};
use super::scripts::Script;

/// The program that answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    /// `kura` itself (`kura events`, `kura states`).
    Kura,
    /// `kura-ops` (container operations).
    Ops,
    /// `kura-nodes` (Hinemos' node repository).
    Nodes,
}

impl Program {
    /// The program's file name.
    pub fn name(self) -> &'static str {
        match self {
            Program::Kura => "kura",
            Program::Ops => "kura-ops",
            Program::Nodes => "kura-nodes",
        }
    }

    /// Which program answers `script`, if another one does.
    pub fn of(script: Script) -> Option<Program> {
        match script {
            Script::HostEvent | Script::ContainerStatus => Some(Program::Kura),
            Script::Command | Script::Download | Script::Start | Script::Stop | Script::Restart | Script::Rm => {
                Some(Program::Ops)
            }
            Script::NodeAdd | Script::NodeDelete | Script::NodeUpdate => Some(Program::Nodes),
            Script::HostStatus | Script::Cpu | Script::Memory | Script::Disk | Script::Network | Script::Process => {
                None
            }
        }
    }
}

/// A command line for another program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// Who answers.
    pub program: Program,
    /// Its subcommand.
    pub subcommand: &'static str,
    /// The arguments after the subcommand.
    pub args: Vec<String>,
}

/// Why a 2015 command line has no kura equivalent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandoverError {
    /// `-s` is not `HOST:PORT`.
    #[error("-s {0:?}: expected SYSLOG_HOST:PORT, e.g. 127.0.0.1:514")]
    Syslog(String),
    /// COMMAND does not split into words (an open quote).
    #[error("COMMAND {0:?}: unbalanced quotes")]
    Command(String),
    /// COMMAND is empty.
    #[error("COMMAND is empty")]
    EmptyCommand,
    /// `-l` asks for something kura does not do.
    #[error("-l (remove the link) is not supported: kura removes containers, not Docker's legacy links")]
    Link,
}

/// Where the handed-over command finds its host.
#[derive(Clone, Copy, Debug)]
pub struct Where<'a> {
    /// The configuration file given to `kura legacy`, if any.
    pub config: Option<&'a Path>,
    /// The data folder.
    pub data: &'a Path,
    /// The host `-i`/`-p` named: its name (in the store or the
    /// configuration).
    pub host: &'a str,
    /// Its configured entry (the Docker commands need one).
    pub entry: Option<&'a HostEntry>,
}

/// The command line that answers `script` as `parsed` asks.
pub fn handover(script: Script, parsed: &Parsed, place: Where<'_>) -> Result<Option<Handover>, HandoverError> {
    let Some(program) = Program::of(script) else {
        return Ok(None);
    };
    let value = |dest: Dest| parsed.value(dest).map(str::to_owned);
    let mut args: Vec<String> = match program {
        Program::Kura => {
            vec!["--data".into(), place.data.display().to_string(), "--host".into(), place.host.to_owned()]
        }
        Program::Ops | Program::Nodes => match place.config {
            Some(config) => {
                vec!["--config".into(), config.display().to_string(), "--host".into(), place.host.to_owned()]
            }
            None => match place.entry {
                Some(entry) if program == Program::Ops => {
                    vec!["--docker".into(), format!("{}={}", entry.name, entry.endpoint)]
                }
                _ => vec!["--host".into(), place.host.to_owned()],
            },
        },
    };
    if program == Program::Nodes {
        args.extend(["--data".into(), place.data.display().to_string()]);
    }
    let select = |args: &mut Vec<String>| {
        for (dest, flag) in [(Dest::Id, "-c"), (Dest::Name, "-n")] {
            if let Some(pattern) = value(dest) {
                args.extend([flag.to_owned(), pattern]);
            }
        }
    };
    let subcommand = match script {
        Script::HostEvent => {
            let key = value(Dest::Key).unwrap_or_default();
            args.extend(["--cursor".into(), format!("legacy-{key}"), "--hostname".into(), "host".into()]);
            match (value(Dest::Syslog), value(Dest::LogFile)) {
                (Some(target), _) => args.extend(["--syslog".into(), syslog_url(&target)?]),
                (None, Some(file)) => args.extend(["--file".into(), file]),
                (None, None) => {}
            }
            "events"
        }
        Script::ContainerStatus => {
            select(&mut args);
            if let Some(target) = value(Dest::Syslog) {
                args.extend(["--syslog".into(), syslog_url(&target)?]);
            }
            "states"
        }
        Script::Command => {
            select(&mut args);
            let command = parsed.positionals().first().cloned().unwrap_or_default();
            let words = shlex::split(&command).ok_or_else(|| HandoverError::Command(command.clone()))?;
            if words.is_empty() {
                return Err(HandoverError::EmptyCommand);
            }
            args.extend(["--no-prefix".into(), "--".into()]);
            args.extend(words);
            "exec"
        }
        Script::Download => {
            select(&mut args);
            args.extend(parsed.positionals().iter().cloned());
            "cp"
        }
        Script::Start | Script::Stop | Script::Restart | Script::Rm => {
            select(&mut args);
            if let Some(wait) = value(Dest::Wait) {
                args.extend(["-t".into(), wait]);
            }
            if parsed.flag(Dest::Link) {
                return Err(HandoverError::Link);
            }
            for (dest, flag) in [(Dest::Force, "-f"), (Dest::Volumes, "-v")] {
                if parsed.flag(dest) {
                    args.push(flag.into());
                }
            }
            match script {
                Script::Start => "start",
                Script::Stop => "stop",
                Script::Restart => "restart",
                _ => "rm",
            }
        }
        Script::NodeAdd | Script::NodeUpdate | Script::NodeDelete => {
            if let Some(facility) = value(Dest::Facility) {
                args.extend(["--facility-id".into(), facility]);
            }
            // The nodes' IPv4 was the -i value; a name is left to kura-nodes
            // (the endpoint's address).
            if let Some(ip) = value(Dest::Ip).filter(|ip| ip.parse::<IpAddr>().is_ok()) {
                args.extend(["--ip".into(), ip]);
            }
            if let Some(url) = value(Dest::HinemosUrl) {
                args.extend(["--hinemos".into(), manager_url(&url)]);
            }
            if script == Script::NodeDelete {
                args.push("--delete".into());
            }
            "apply"
        }
        Script::HostStatus | Script::Cpu | Script::Memory | Script::Disk | Script::Network | Script::Process => {
            return Ok(None)
        }
    };
    Ok(Some(Handover { program, subcommand, args }))
}

/// `-s HOST:PORT` as kura's target: UDP, as Python's `SysLogHandler` sent
/// by default.
fn syslog_url(target: &str) -> Result<String, HandoverError> {
    let port_ok = target.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(HandoverError::Syslog(target.to_owned()));
    }
    Ok(format!("udp://{target}"))
}

/// Hinemos 5's web-service URL (`http://HOST:8080/HinemosWS`) as Hinemos
/// 7's manager URL (`http://HOST:8080`): the REST API lives at the root.
fn manager_url(url: &str) -> String {
    let url = url.trim_end_matches('/');
    url.strip_suffix("/HinemosWS").unwrap_or(url).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kura_store::config::{FlagConfig, Settings};

    fn host() -> HostEntry {
        let flags = FlagConfig { docker: vec!["docker_host1=tcp://10.0.200.123:2375".into()], ..FlagConfig::default() };
        Settings::load(&flags).unwrap().hosts.remove(0)
    }

    fn command_line(script: Script, line: &str) -> Result<Option<Handover>, HandoverError> {
        let words = shlex::split(line).unwrap();
        let parsed = script.spec().parse(&words).unwrap();
        script.check(&parsed).unwrap();
        let entry = host();
        let place = Where {
            config: Some(Path::new("/etc/kura/collector.toml")),
            data: Path::new("/var/lib/kura"),
            host: &entry.name,
            entry: Some(&entry),
        };
        handover(script, &parsed, place)
    }

    fn args(script: Script, line: &str) -> (Program, &'static str, String) {
        let handover = command_line(script, line).unwrap().unwrap();
        (handover.program, handover.subcommand, shlex::try_join(handover.args.iter().map(String::as_str)).unwrap())
    }

    #[test]
    fn the_reports_job_lines_become_kura_ops_command_lines() {
        let config = "--config /etc/kura/collector.toml --host docker_host1";
        assert_eq!(
            args(Script::Command, r#"-i docker_host1 -n conteiner_A "find /root""#),
            (Program::Ops, "exec", format!("{config} -n conteiner_A --no-prefix -- find /root"))
        );
        assert_eq!(
            args(Script::Command, r#"-n a "sh -c 'echo a b' x""#).2,
            format!("{config} -n a --no-prefix -- sh -c 'echo a b' x")
        );
        assert_eq!(
            args(Script::Download, "-i docker_host1 -n conteiner_A /root/ /tmp/20150905/"),
            (Program::Ops, "cp", format!("{config} -n conteiner_A /root/ /tmp/20150905/"))
        );
        assert_eq!(args(Script::Start, "-i docker_host1 -n 'conteiner*'").2, format!("{config} -n 'conteiner*'"));
        assert_eq!(args(Script::Stop, "-c 0e0d8cdf3a57 -t 30").1, "stop");
        assert_eq!(args(Script::Stop, "-c 0e0d8cdf3a57 -t 30").2, format!("{config} -c 0e0d8cdf3a57 -t 30"));
        assert_eq!(
            args(Script::Rm, "-f -i docker_host1 -n 'conteiner*' --volumes").2,
            format!("{config} -n 'conteiner*' -f -v")
        );
        assert_eq!(args(Script::Rm, "--force=false -n x").2, format!("{config} -n x"));
        assert_eq!(command_line(Script::Rm, "-l -n x"), Err(HandoverError::Link));
        assert_eq!(command_line(Script::Command, r#"-n x "echo 'a""#), Err(HandoverError::Command("echo 'a".into())));
        assert_eq!(command_line(Script::Command, r#"-n x """#), Err(HandoverError::EmptyCommand));
    }

    #[test]
    fn the_syslog_scripts_become_kura_events_and_states() {
        let store = "--data /var/lib/kura --host docker_host1";
        assert_eq!(
            args(Script::HostEvent, "-i docker_host1 -k hoge_event -s 127.0.0.1:514"),
            (
                Program::Kura,
                "events",
                format!("{store} --cursor legacy-hoge_event --hostname host --syslog udp://127.0.0.1:514")
            )
        );
        assert_eq!(
            args(Script::HostEvent, "-k k -f /var/log/docker_event.log").2,
            format!("{store} --cursor legacy-k --hostname host --file /var/log/docker_event.log")
        );
        assert_eq!(
            args(Script::ContainerStatus, "-i docker_host1 -n 'web*' -s 127.0.0.1:514"),
            (Program::Kura, "states", format!("{store} -n 'web*' --syslog udp://127.0.0.1:514"))
        );
        assert_eq!(
            command_line(Script::ContainerStatus, "-s 127.0.0.1"),
            Err(HandoverError::Syslog("127.0.0.1".into()))
        );
    }

    #[test]
    fn without_a_configuration_file_kura_ops_gets_the_endpoint() {
        let words = shlex::split("-i 10.0.200.123 -n web").unwrap();
        let parsed = Script::Start.spec().parse(&words).unwrap();
        let entry = host();
        let place = Where { config: None, data: Path::new("/d"), host: &entry.name, entry: Some(&entry) };
        let handover = handover(Script::Start, &parsed, place).unwrap().unwrap();
        assert_eq!(handover.args, ["--docker", "docker_host1=tcp://10.0.200.123:2375", "-n", "web"]);
    }

    #[test]
    fn the_repository_scripts_become_kura_nodes_apply() {
        let base = "--config /etc/kura/collector.toml --host docker_host1 --data /var/lib/kura";
        assert_eq!(
            args(Script::NodeAdd, "-i 100.74.26.24 -f docker_host1"),
            (Program::Nodes, "apply", format!("{base} --facility-id docker_host1 --ip 100.74.26.24"))
        );
        assert_eq!(
            args(Script::NodeDelete, "-i docker_host1 -f docker_host1 -m http://10.0.0.1:8080/HinemosWS/").2,
            format!("{base} --facility-id docker_host1 --hinemos http://10.0.0.1:8080 --delete")
        );
        assert_eq!(args(Script::NodeUpdate, "-f h").2, format!("{base} --facility-id h"));
        assert_eq!(command_line(Script::Cpu, "-k x"), Ok(None));
    }
}
