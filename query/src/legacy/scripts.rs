//! The 17 scripts of the 2015 report: their file names, option tables (as
//! shared/reference/legacy-command-lines.md records them) and the kura
//! command that answers each.

use super::argv::{ArgError, Dest, Opt, Parsed, Spec, Takes};

/// One of the 2015 scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Script {
    /// `RepositoryDockerNodeAdd.py` (report §2.1).
    NodeAdd,
    /// `RepositoryDockerNodeDelete.py` (§2.2).
    NodeDelete,
    /// `RepositoryDockerNodeUpdate.py` (§2.3).
    NodeUpdate,
    /// `MonitorDockerHostStatus.py` (§3.1).
    HostStatus,
    /// `MonitorDockerHostEvent.py` (§3.2).
    HostEvent,
    /// `MonitorDockerContainerResourceCpu.py` (§3.3), also spelled
    /// `MonitorDockerContainerRepositoryCPU.py` in its heading.
    Cpu,
    /// `MonitorDockerContainerResourceMemory.py` (§3.4).
    Memory,
    /// `MonitorDockerContainerResourceDisk.py` (§3.5).
    Disk,
    /// `MonitorDockerContainerResourceNetwork.py` (§3.6).
    Network,
    /// `MonitorDockerContainerProcess.py` (§3.7).
    Process,
    /// `MonitorDockerContainerStatus.py` (§3.8).
    ContainerStatus,
    /// `JobDockerContainerCommand.py` (§4.1).
    Command,
    /// `FileDockerContainerDownload.py` (§4.2).
    Download,
    /// `JobDockerContainerStart.py` (§4.3).
    Start,
    /// `JobDockerContainerStop.py` (§4.4).
    Stop,
    /// `JobDockerContainerRestart.py` (§4.5).
    Restart,
    /// `JobDockerContainerRm.py` (§4.6).
    Rm,
}

const IP: Opt = Opt {
    names: &["-i"],
    dest: Dest::Ip,
    takes: Takes::Value("IP_ADDRESS"),
    help: "the Docker host: a configured host's name or endpoint address (default: 127.0.0.1, the local daemon)",
};
const PORT: Opt = Opt {
    names: &["-p"],
    dest: Dest::Port,
    takes: Takes::Value("DOCKER_PORT"),
    help: "the endpoint's port, when several configured hosts share the address (the 2015 default: 2375)",
};
const ID: Opt = Opt {
    names: &["-c"],
    dest: Dest::Id,
    takes: Takes::Value("CONTAINER_ID"),
    help: "containers whose id starts with CONTAINER_ID (a trailing * is allowed); not with -n",
};
const NAME: Opt = Opt {
    names: &["-n"],
    dest: Dest::Name,
    takes: Takes::Value("CONTAINER_NAME"),
    help: "the container named CONTAINER_NAME; a trailing * matches a prefix; not with -c",
};
const KEY: Opt = Opt {
    names: &["-k"],
    dest: Dest::Key,
    takes: Takes::Value("KEY_ID"),
    help: "unique per monitor setting: the figures cover the time since the previous call with this key",
};
const SNMP: [Opt; 3] = [
    Opt {
        names: &["-sv"],
        dest: Dest::SnmpVersion,
        takes: Takes::Value("SNMP_VER"),
        help: "accepted and ignored: the collector reads SNMP as [host.snmp] of its configuration says",
    },
    Opt {
        names: &["-sc"],
        dest: Dest::SnmpCommunity,
        takes: Takes::Value("SNMP_COM"),
        help: "accepted and ignored (see -sv)",
    },
    Opt {
        names: &["-sp"],
        dest: Dest::SnmpPort,
        takes: Takes::Value("SNMP_PORT"),
        help: "accepted and ignored (see -sv)",
    },
];
const SYSLOG: Opt = Opt {
    names: &["-s"],
    dest: Dest::Syslog,
    takes: Takes::Value("SYSLOG_HOST:PORT"),
    help: "send the lines as syslog to this receiver",
};
const WAIT: Opt = Opt {
    names: &["-t"],
    dest: Dest::Wait,
    takes: Takes::Value("WAIT"),
    help: "seconds to wait for the container to stop before killing it",
};
const FLAG_HELP_STATUS: &str = "daemon health: Status,0 healthy, Status,1 not (the default)";

const fn flag(name: &'static [&'static str], dest: Dest, help: &'static str) -> Opt {
    Opt { names: name, dest, takes: Takes::Nothing, help }
}

const REPOSITORY: Spec = Spec {
    options: &[
        IP,
        PORT,
        Opt {
            names: &["-m"],
            dest: Dest::HinemosUrl,
            takes: Takes::Value("HINEMOS_URL"),
            help: "the Hinemos manager (default http://127.0.0.1:8080/HinemosWS)",
        },
        Opt {
            names: &["-f"],
            dest: Dest::Facility,
            takes: Takes::Value("HOST_FACILITY_ID"),
            help: "the facility id of the Docker host's node (required)",
        },
    ],
    positionals: &[],
};
const HOST_STATUS: Spec = Spec {
    options: &[
        IP,
        PORT,
        flag(&["--status"], Dest::Status, FLAG_HELP_STATUS),
        flag(&["--count"], Dest::Count, "containers per state: running, restarting, paused, exited"),
        flag(&["--size"], Dest::Size, "bytes of images, and of containers' writable layers per state"),
    ],
    positionals: &[],
};
const HOST_EVENT: Spec = Spec {
    options: &[
        IP,
        PORT,
        KEY,
        SYSLOG,
        Opt {
            names: &["-f"],
            dest: Dest::LogFile,
            takes: Takes::Value("LOGFILE"),
            help: "append the lines to this file",
        },
    ],
    positionals: &[],
};
const CPU: Spec = Spec {
    options: &[
        IP,
        PORT,
        SNMP[0],
        SNMP[1],
        SNMP[2],
        ID,
        NAME,
        KEY,
        flag(&["--all"], Dest::All, "CPU use of each container, percent of one core (the default)"),
        flag(&["--core"], Dest::Core, "CPU use per core: cpu_usage#N:<name>"),
        flag(
            &["--with-host"],
            Dest::WithHost,
            "add cpu_usage:host, the host's own CPU use (SNMP); not with -c, -n, --core",
        ),
    ],
    positionals: &[],
};
const MEMORY: Spec = Spec {
    options: &[
        IP,
        PORT,
        SNMP[0],
        SNMP[1],
        SNMP[2],
        ID,
        NAME,
        flag(&["--container"], Dest::Container, "percent of each container's limit (the host's memory when unlimited)"),
        flag(
            &["--with-host"],
            Dest::WithHost,
            "add host_mem_usage:host, memory used by everything but containers (SNMP)",
        ),
        flag(&["--all"], Dest::All, "the detailed memory statistics of one container (-n or -c)"),
    ],
    positionals: &[],
};
const DISK: Spec = Spec {
    options: &[
        IP,
        PORT,
        ID,
        NAME,
        KEY,
        flag(&["--read"], Dest::Read, "bytes read per interval"),
        flag(&["--write"], Dest::Write, "bytes written per interval"),
    ],
    positionals: &[],
};
const NETWORK: Spec = Spec {
    options: &[
        IP,
        PORT,
        ID,
        NAME,
        KEY,
        flag(&["--kb"], Dest::Kb, "bytes per interval (nw_rxkb, nw_txkb: bytes, despite the name)"),
        flag(&["--pck"], Dest::Pck, "packets per interval (nw_rxpck, nw_txpck)"),
        flag(&["--rx"], Dest::Rx, "received only"),
        flag(&["--tx"], Dest::Tx, "sent only"),
    ],
    positionals: &[],
};
const PROCESS: Spec = Spec {
    options: &[
        IP,
        PORT,
        ID,
        NAME,
        Opt {
            names: &["-prog"],
            dest: Dest::Prog,
            takes: Takes::Value("PROG"),
            help: "regular expression for the command line (default .*: every process)",
        },
        Opt {
            names: &["-args"],
            dest: Dest::Args,
            takes: Takes::Value("ARGS"),
            help: "regular expression for the arguments, joined to PROG with a space",
        },
    ],
    positionals: &[],
};
const CONTAINER_STATUS: Spec = Spec { options: &[IP, PORT, ID, NAME, SYSLOG], positionals: &[] };
const COMMAND: Spec = Spec { options: &[IP, PORT, ID, NAME], positionals: &["COMMAND"] };
const DOWNLOAD: Spec = Spec { options: &[IP, PORT, ID, NAME], positionals: &["SOURCE", "DESTINATION"] };
const START: Spec = Spec { options: &[IP, PORT, ID, NAME], positionals: &[] };
const STOP: Spec = Spec { options: &[IP, PORT, ID, NAME, WAIT], positionals: &[] };
const RM: Spec = Spec {
    options: &[
        IP,
        PORT,
        ID,
        NAME,
        Opt {
            names: &["-f", "--force"],
            dest: Dest::Force,
            takes: Takes::Switch,
            help: "remove containers in any state (default: exited and created only)",
        },
        Opt {
            names: &["-l", "--link"],
            dest: Dest::Link,
            takes: Takes::Switch,
            help: "refused when set: kura does not remove Docker's legacy links",
        },
        Opt {
            names: &["-v", "--volumes"],
            dest: Dest::Volumes,
            takes: Takes::Switch,
            help: "also remove the container's anonymous volumes",
        },
    ],
    positionals: &[],
};

impl Script {
    /// Every script, in the report's order.
    pub const ALL: [Script; 17] = [
        Script::NodeAdd,
        Script::NodeDelete,
        Script::NodeUpdate,
        Script::HostStatus,
        Script::HostEvent,
        Script::Cpu,
        Script::Memory,
        Script::Disk,
        Script::Network,
        Script::Process,
        Script::ContainerStatus,
        Script::Command,
        Script::Download,
        Script::Start,
        Script::Stop,
        Script::Restart,
        Script::Rm,
    ];

    /// The file name every example of the report calls.
    pub fn file_name(self) -> &'static str {
        match self {
            Script::NodeAdd => "RepositoryDockerNodeAdd.py",
            Script::NodeDelete => "RepositoryDockerNodeDelete.py",
            Script::NodeUpdate => "RepositoryDockerNodeUpdate.py",
            Script::HostStatus => "MonitorDockerHostStatus.py",
            Script::HostEvent => "MonitorDockerHostEvent.py",
            Script::Cpu => "MonitorDockerContainerResourceCpu.py",
            Script::Memory => "MonitorDockerContainerResourceMemory.py",
            Script::Disk => "MonitorDockerContainerResourceDisk.py",
            Script::Network => "MonitorDockerContainerResourceNetwork.py",
            Script::Process => "MonitorDockerContainerProcess.py",
            Script::ContainerStatus => "MonitorDockerContainerStatus.py",
            Script::Command => "JobDockerContainerCommand.py",
            Script::Download => "FileDockerContainerDownload.py",
            Script::Start => "JobDockerContainerStart.py",
            Script::Stop => "JobDockerContainerStop.py",
            Script::Restart => "JobDockerContainerRestart.py",
            Script::Rm => "JobDockerContainerRm.py",
        }
    }

    /// Other file names the report gives the script (the CPU script's
    /// heading and usage line call it `MonitorDockerContainerRepositoryCPU.py`).
    pub fn other_names(self) -> &'static [&'static str] {
        match self {
            Script::Cpu => &["MonitorDockerContainerRepositoryCPU.py"],
            _ => &[],
        }
    }

    /// Every name an entry is installed under: each file name with and
    /// without `.py`.
    pub fn entry_names(self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.file_name())
            .chain(self.other_names().iter().copied())
            .flat_map(|name| [name, name.strip_suffix(".py").unwrap_or(name)])
    }

    /// The script a name calls: a file name with or without `.py`, with or
    /// without a leading folder (`/opt/hinemos_agent/docker/bin/...`).
    pub fn from_name(name: &str) -> Option<Script> {
        let base = name.rsplit('/').next().unwrap_or(name);
        Script::ALL.into_iter().find(|script| script.entry_names().any(|entry| entry == base))
    }

    /// The script's options and positionals.
    pub fn spec(self) -> &'static Spec {
        match self {
            Script::NodeAdd | Script::NodeDelete | Script::NodeUpdate => &REPOSITORY,
            Script::HostStatus => &HOST_STATUS,
            Script::HostEvent => &HOST_EVENT,
            Script::Cpu => &CPU,
            Script::Memory => &MEMORY,
            Script::Disk => &DISK,
            Script::Network => &NETWORK,
            Script::Process => &PROCESS,
            Script::ContainerStatus => &CONTAINER_STATUS,
            Script::Command => &COMMAND,
            Script::Download => &DOWNLOAD,
            Script::Start => &START,
            Script::Stop | Script::Restart => &STOP,
            Script::Rm => &RM,
        }
    }

    /// What the script did, in one line (for `-h`).
    pub fn summary(self) -> &'static str {
        match self {
            Script::NodeAdd => "Registers the Docker host and its new containers as Hinemos nodes.",
            Script::NodeDelete => "Deletes the Hinemos nodes of containers that no longer exist.",
            Script::NodeUpdate => "Updates the Hinemos nodes of containers from their state.",
            Script::HostStatus => "Docker daemon health, containers per state or disk use (Hinemos custom monitor).",
            Script::HostEvent => "Sends the Docker events since the previous call as syslog or to a file.",
            Script::Cpu => "CPU use per container since the previous call (Hinemos custom monitor).",
            Script::Memory => "Memory use per container (Hinemos custom monitor).",
            Script::Disk => "Block IO per container since the previous call (Hinemos custom monitor).",
            Script::Network => "Network traffic per container since the previous call (Hinemos custom monitor).",
            Script::Process => "Processes per container whose command line matches (Hinemos custom monitor).",
            Script::ContainerStatus => "Sends every container's state as syslog.",
            Script::Command => "Runs a command in containers (Hinemos job).",
            Script::Download => "Downloads a file or folder from a container as a tar file (Hinemos job).",
            Script::Start => "Starts exited containers (Hinemos job).",
            Script::Stop => "Stops running containers (Hinemos job).",
            Script::Restart => "Restarts running containers (Hinemos job).",
            Script::Rm => "Removes exited containers (Hinemos job).",
        }
    }

    /// The kura command that answers it today.
    pub fn modern(self) -> &'static str {
        match self {
            Script::NodeAdd | Script::NodeUpdate => "kura nodes apply --host H",
            Script::NodeDelete => "kura nodes apply --host H --delete",
            Script::HostStatus => "kura status | kura count | kura size",
            Script::HostEvent => "kura events --cursor NAME --syslog udp://HOST:PORT",
            Script::Cpu => "kura cpu --scale core [--core] [--with-host]",
            Script::Memory => "kura mem --rss --key short [--limit] [--with-host] [--detail]",
            Script::Disk => "kura disk --per-window --key short [--read] [--write]",
            Script::Network => "kura net --per-window --key short [--bytes] [--packets] [--rx] [--tx]",
            Script::Process => "kura proc --key id --prog P [--args A]",
            Script::ContainerStatus => "kura states --syslog udp://HOST:PORT",
            Script::Command => "kura exec -n NAME -- COMMAND...",
            Script::Download => "kura cp -n NAME SOURCE DEST_DIR",
            Script::Start => "kura start -n NAME",
            Script::Stop => "kura stop -n NAME [-t SECONDS]",
            Script::Restart => "kura restart -n NAME [-t SECONDS]",
            Script::Rm => "kura rm -n NAME [-f] [-v]",
        }
    }

    /// Whether its figures are rates over the time since the previous call
    /// with the same `-k` (the 2015 scripts' `/tmp/KEY_ID.txt`).
    pub fn is_rate(self) -> bool {
        matches!(self, Script::Cpu | Script::Disk | Script::Network)
    }

    /// The rules of the script's table beyond single options: exclusive
    /// and required ones, `-p` a number (worded as argparse words them).
    pub fn check(self, parsed: &Parsed) -> Result<(), ArgError> {
        let not_with = |a: Dest, b: Dest| -> Result<(), ArgError> {
            if given(parsed, a) && given(parsed, b) {
                return Err(ArgError(format!(
                    "argument {}: not allowed with argument {}",
                    spelled(self, b),
                    spelled(self, a)
                )));
            }
            Ok(())
        };
        let required = |dest: Dest| -> Result<(), ArgError> {
            if !given(parsed, dest) {
                return Err(ArgError(format!("argument {} is required", spelled(self, dest))));
            }
            Ok(())
        };
        let one_of = |a: Dest, b: Dest| -> Result<(), ArgError> {
            if !given(parsed, a) && !given(parsed, b) {
                return Err(ArgError(format!(
                    "one of the arguments {} {} is required",
                    spelled(self, a),
                    spelled(self, b)
                )));
            }
            Ok(())
        };
        for dest in [Dest::Port, Dest::SnmpPort, Dest::Wait] {
            if let Some(value) = parsed.value(dest) {
                if value.parse::<u16>().is_err() {
                    return Err(ArgError(format!("argument {}: invalid int value: '{value}'", spelled(self, dest))));
                }
            }
        }
        not_with(Dest::Id, Dest::Name)?;
        match self {
            Script::NodeAdd | Script::NodeDelete | Script::NodeUpdate => required(Dest::Facility),
            Script::HostStatus => {
                not_with(Dest::Status, Dest::Count)?;
                not_with(Dest::Status, Dest::Size)?;
                not_with(Dest::Count, Dest::Size)
            }
            Script::HostEvent => {
                required(Dest::Key)?;
                one_of(Dest::Syslog, Dest::LogFile)
            }
            Script::Cpu => {
                required(Dest::Key)?;
                not_with(Dest::All, Dest::Core)?;
                not_with(Dest::Id, Dest::WithHost)?;
                not_with(Dest::Name, Dest::WithHost)?;
                not_with(Dest::Core, Dest::WithHost)
            }
            Script::Memory => {
                not_with(Dest::Container, Dest::All)?;
                not_with(Dest::WithHost, Dest::All)
            }
            Script::Disk | Script::Network => required(Dest::Key),
            Script::Process => Ok(()),
            Script::ContainerStatus => required(Dest::Syslog),
            Script::Command | Script::Download | Script::Start | Script::Stop | Script::Restart | Script::Rm => {
                one_of(Dest::Id, Dest::Name)
            }
        }
    }

    /// The `-h` text: usage, what it does, the options, the kura command.
    pub fn help(self, invoked_as: &str) -> String {
        let spec = self.spec();
        format!(
            "{}\n\n{}\nAnswered by kura (kura legacy {}); the kura command: {}\n\noptional arguments:\n{}",
            spec.usage(invoked_as),
            self.summary(),
            self.file_name(),
            self.modern(),
            spec.options_help()
        )
    }
}

/// Whether an option was given (a value, or a flag set).
fn given(parsed: &Parsed, dest: Dest) -> bool {
    parsed.value(dest).is_some() || parsed.flag(dest)
}

/// How a script's table spells an option (its first name).
fn spelled(script: Script, dest: Dest) -> &'static str {
    script.spec().options.iter().find(|o| o.dest == dest).map_or("?", |o| o.names[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_of_the_report_finds_its_script() {
        assert_eq!(Script::from_name("MonitorDockerContainerResourceCpu.py"), Some(Script::Cpu));
        assert_eq!(Script::from_name("MonitorDockerContainerRepositoryCPU.py"), Some(Script::Cpu));
        assert_eq!(Script::from_name("MonitorDockerContainerRepositoryCPU"), Some(Script::Cpu));
        assert_eq!(Script::from_name("/opt/hinemos_agent/docker/bin/JobDockerContainerRm.py"), Some(Script::Rm));
        assert_eq!(Script::from_name("JobDockerContainerRm"), Some(Script::Rm));
        assert_eq!(Script::from_name("MonitorDockerContainerResourceCPU.py"), None);
        let entries: Vec<&str> = Script::ALL.iter().flat_map(|s| s.entry_names()).collect();
        assert_eq!(entries.len(), 17 * 2 + 2);
        let unique: std::collections::BTreeSet<&str> = entries.iter().copied().collect();
        assert_eq!(unique.len(), entries.len());
    }

    fn check(script: Script, line: &str) -> Result<(), String> {
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let parsed = script.spec().parse(&words).map_err(|e| e.0)?;
        script.check(&parsed).map_err(|e| e.0)
    }

    #[test]
    fn the_tables_rules_are_worded_as_argparse_words_them() {
        assert_eq!(check(Script::Cpu, "-i h --all"), Err("argument -k is required".into()));
        assert_eq!(
            check(Script::Cpu, "-i h -k x --all --core"),
            Err("argument --core: not allowed with argument --all".into())
        );
        assert_eq!(
            check(Script::Cpu, "-k x -n a --with-host"),
            Err("argument --with-host: not allowed with argument -n".into())
        );
        assert_eq!(check(Script::Memory, "-c a -n b"), Err("argument -n: not allowed with argument -c".into()));
        assert_eq!(
            check(Script::Memory, "--all --container"),
            Err("argument --all: not allowed with argument --container".into())
        );
        assert_eq!(
            check(Script::HostStatus, "--count --size"),
            Err("argument --size: not allowed with argument --count".into())
        );
        assert_eq!(check(Script::HostStatus, "-p x"), Err("argument -p: invalid int value: 'x'".into()));
        assert_eq!(check(Script::HostEvent, "-k a"), Err("one of the arguments -s -f is required".into()));
        assert_eq!(check(Script::Start, "-i h"), Err("one of the arguments -c -n is required".into()));
        assert_eq!(check(Script::NodeAdd, "-i h"), Err("argument -f is required".into()));
        assert_eq!(check(Script::Stop, "-n a -t ten"), Err("argument -t: invalid int value: 'ten'".into()));
        assert_eq!(check(Script::Cpu, "-i docker_host1 -k hoge --all --with-host"), Ok(()));
        assert_eq!(check(Script::Command, "-n a ls"), Ok(()));
    }

    #[test]
    fn every_table_spells_its_options_once() {
        for script in Script::ALL {
            let mut names: Vec<&str> = script.spec().options.iter().flat_map(|o| o.names.iter().copied()).collect();
            let all = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), all, "{script:?}");
            assert!(!names.contains(&"-h"), "{script:?}: -h is implied");
        }
    }
}
