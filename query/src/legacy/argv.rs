//! The 2015 scripts' command lines, read the way Python 2.7's `argparse`
//! read them: single-dash options of several letters (`-sv`, `-prog`),
//! values attached (`-i10.0.0.5`, `--opt=value`, `-k=hoge`), unique
//! prefixes of long options (`--cont` for `--container`), clustered
//! one-letter flags (`-fv`), `--` ending the options, and argparse's error
//! wording (`argument -i: expected one argument`, `unrecognized arguments:
//! ...`).

use std::collections::{BTreeMap, BTreeSet};

/// What an option stands for, across every script (each script's table
/// names the ones it takes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dest {
    /// `-i IP_ADDRESS`.
    Ip,
    /// `-p DOCKER_PORT`.
    Port,
    /// `-c CONTAINER_ID`.
    Id,
    /// `-n CONTAINER_NAME`.
    Name,
    /// `-k KEY_ID`.
    Key,
    /// `-sv SNMP_VER`.
    SnmpVersion,
    /// `-sc SNMP_COM`.
    SnmpCommunity,
    /// `-sp SNMP_PORT`.
    SnmpPort,
    /// `--status`.
    Status,
    /// `--count`.
    Count,
    /// `--size`.
    Size,
    /// `--all` (CPU: whole CPU; memory: the detailed statistics).
    All,
    /// `--core`.
    Core,
    /// `--with-host`.
    WithHost,
    /// `--container`.
    Container,
    /// `--read`.
    Read,
    /// `--write`.
    Write,
    /// `--kb`.
    Kb,
    /// `--pck`.
    Pck,
    /// `--rx`.
    Rx,
    /// `--tx`.
    Tx,
    /// `-prog PROG`.
    Prog,
    /// `-args ARGS`.
    Args,
    /// `-s SYSLOG_HOST:PORT`.
    Syslog,
    /// `-f LOGFILE` (HostEvent).
    LogFile,
    /// `-m HINEMOS_URL`.
    HinemosUrl,
    /// `-f HOST_FACILITY_ID` (repository scripts).
    Facility,
    /// `-t WAIT`.
    Wait,
    /// `-f`, `--force` (Rm).
    Force,
    /// `-l`, `--link` (Rm).
    Link,
    /// `-v`, `--volumes` (Rm).
    Volumes,
}

/// What an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    /// Nothing: a flag (`--all`).
    Nothing,
    /// One value, named so in the usage line (`-i IP_ADDRESS`).
    Value(&'static str),
    /// A flag that also takes `=true` or `=false` (`--force=false`: the Rm
    /// table copies Docker 1.6's help, which writes its flags that way).
    Switch,
}

/// One option of a script's table.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    /// Its spellings, the first one canonical (`-f`, `--force`).
    pub names: &'static [&'static str],
    /// What it stands for.
    pub dest: Dest,
    /// What it takes.
    pub takes: Takes,
    /// The table's meaning, for `-h`.
    pub help: &'static str,
}

/// A script's whole command line: its options and its positionals' names.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The options (`-h, --help` is implied).
    pub options: &'static [Opt],
    /// Positional arguments, in order (`COMMAND`; `SOURCE DESTINATION`).
    pub positionals: &'static [&'static str],
}

/// A parsed command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Whether `-h`/`--help` was given.
    pub help: bool,
    values: BTreeMap<Dest, String>,
    flags: BTreeSet<Dest>,
    positionals: Vec<String>,
}

impl Parsed {
    /// The value of an option taking one (the last one given, as argparse).
    pub fn value(&self, dest: Dest) -> Option<&str> {
        self.values.get(&dest).map(String::as_str)
    }

    /// Whether a flag is set (a `Switch` given `=false` is not).
    pub fn flag(&self, dest: Dest) -> bool {
        self.flags.contains(&dest)
    }

    /// The positional arguments, in order.
    pub fn positionals(&self) -> &[String] {
        &self.positionals
    }
}

/// Why a command line was refused, worded as argparse words it (the caller
/// prints `usage: ...` and `SCRIPT: error: ` before it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgError(pub String);

impl Spec {
    /// Parses `args` (the words after the script's name).
    pub fn parse(&self, args: &[String]) -> Result<Parsed, ArgError> {
        let mut parsed = Parsed::default();
        let mut unrecognized = Vec::new();
        let mut words = args.iter();
        let mut options_end = false;
        while let Some(word) = words.next() {
            if options_end || !looks_like_option(word) {
                parsed.positionals.push(word.clone());
                continue;
            }
            if word == "--" {
                options_end = true;
                continue;
            }
            if word == "-h" || word == "--help" {
                parsed.help = true;
                continue;
            }
            let Some(Found { opt, spelled, attached }) = self.find(word)? else {
                unrecognized.push(word.clone());
                continue;
            };
            match opt.takes {
                Takes::Value(_) => {
                    let value = match attached {
                        Some(value) => value,
                        None => match words.next() {
                            Some(next) if !looks_like_option(next) => next.clone(),
                            _ => return Err(ArgError(format!("argument {}: expected one argument", names(opt)))),
                        },
                    };
                    parsed.values.insert(opt.dest, value);
                }
                Takes::Switch if spelled.starts_with("--") => {
                    match attached.as_deref().map(str::to_ascii_lowercase).as_deref() {
                        None | Some("true") => parsed.flags.insert(opt.dest),
                        Some("false") => parsed.flags.remove(&opt.dest),
                        Some(other) => {
                            return Err(ArgError(format!(
                                "argument {}: invalid boolean value: '{other}' (true or false)",
                                names(opt)
                            )))
                        }
                    };
                }
                Takes::Nothing | Takes::Switch => {
                    parsed.flags.insert(opt.dest);
                    if let Some(rest) = attached {
                        self.cluster(opt, spelled, &rest, &mut parsed)?;
                    }
                }
            }
        }
        let wanted = self.positionals.len();
        if parsed.positionals.len() > wanted {
            unrecognized.extend(parsed.positionals.drain(wanted..));
        }
        if !unrecognized.is_empty() {
            return Err(ArgError(format!("unrecognized arguments: {}", unrecognized.join(" "))));
        }
        if !parsed.help && parsed.positionals.len() < wanted {
            let missing = &self.positionals[parsed.positionals.len()..];
            return Err(ArgError(format!("too few arguments (expected {})", missing.join(" "))));
        }
        Ok(parsed)
    }

    /// Single-letter flags given together (`-fv`): argparse reads the
    /// letters after a flag as further flags.
    fn cluster(&self, first: &Opt, spelled: &str, rest: &str, parsed: &mut Parsed) -> Result<(), ArgError> {
        let ignored = || ArgError(format!("argument {}: ignored explicit argument '{rest}'", names(first)));
        if spelled.starts_with("--") || rest.starts_with('=') {
            return Err(ignored());
        }
        for (at, letter) in rest.char_indices() {
            let short = format!("-{letter}");
            let opt = self.options.iter().find(|o| o.names.contains(&short.as_str())).ok_or_else(ignored)?;
            match opt.takes {
                Takes::Nothing | Takes::Switch => {
                    parsed.flags.insert(opt.dest);
                }
                Takes::Value(_) => {
                    let value = &rest[at + letter.len_utf8()..];
                    if value.is_empty() {
                        return Err(ArgError(format!("argument {}: expected one argument", names(opt))));
                    }
                    parsed.values.insert(opt.dest, value.trim_start_matches('=').to_owned());
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// The option a word names; `None` when no option matches (argparse
    /// then reports it as unrecognized).
    fn find(&self, word: &str) -> Result<Option<Found<'_>>, ArgError> {
        let exact = |name: &str| {
            self.options.iter().find_map(|o| o.names.iter().find(|n| **n == name).map(|spelled| (o, *spelled)))
        };
        if let Some((opt, spelled)) = exact(word) {
            return Ok(Some(Found { opt, spelled, attached: None }));
        }
        if let Some((name, value)) = word.split_once('=') {
            if let Some((opt, spelled)) = exact(name) {
                return Ok(Some(Found { opt, spelled, attached: Some(value.to_owned()) }));
            }
        }
        // argparse 2.7's `_get_option_tuples`: a long prefix, and for a
        // single dash also a one-letter option with the rest attached.
        let (stem, value) = match word.split_once('=') {
            Some((stem, value)) => (stem, Some(value.to_owned())),
            None => (word, None),
        };
        let mut candidates: Vec<Found<'_>> = Vec::new();
        for opt in self.options {
            for spelled in opt.names {
                let is_short = spelled.len() == 2;
                if !word.starts_with("--") && is_short && word.starts_with(spelled) {
                    candidates.push(Found { opt, spelled, attached: Some(word[spelled.len()..].to_owned()) });
                } else if !is_short && spelled.starts_with(stem) {
                    candidates.push(Found { opt, spelled, attached: value.clone() });
                }
            }
        }
        match candidates.as_slice() {
            [] => Ok(None),
            [_] => Ok(candidates.pop()),
            many => {
                let spelled: Vec<&str> = many.iter().map(|found| found.spelled).collect();
                Err(ArgError(format!("ambiguous option: {word} could match {}", spelled.join(", "))))
            }
        }
    }

    /// The usage line argparse would print: `usage: NAME [-h] [-i IP_ADDRESS] ...`.
    pub fn usage(&self, name: &str) -> String {
        let mut line = format!("usage: {name} [-h]");
        for opt in self.options {
            let canonical = opt.names[0];
            match opt.takes {
                Takes::Value(meta) => line.push_str(&format!(" [{canonical} {meta}]")),
                Takes::Nothing | Takes::Switch => line.push_str(&format!(" [{canonical}]")),
            }
        }
        for positional in self.positionals {
            line.push(' ');
            line.push_str(positional);
        }
        line
    }

    /// The options section of `-h`.
    pub fn options_help(&self) -> String {
        let mut rows: Vec<(String, &str)> = vec![("-h, --help".to_owned(), "show this help message and exit")];
        for opt in self.options {
            let spelled = match opt.takes {
                Takes::Value(meta) => opt.names.iter().map(|n| format!("{n} {meta}")).collect::<Vec<_>>().join(", "),
                Takes::Nothing => opt.names.join(", "),
                Takes::Switch => opt
                    .names
                    .iter()
                    .map(|n| if n.starts_with("--") { format!("{n}[=false]") } else { (*n).to_owned() })
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            rows.push((spelled, opt.help));
        }
        let width = rows.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
        rows.iter().map(|(spelled, help)| format!("  {spelled:<width$}  {help}\n")).collect()
    }
}

/// An option as a word named it.
struct Found<'s> {
    /// The option.
    opt: &'s Opt,
    /// How the option's table spells the name matched.
    spelled: &'static str,
    /// What the word attached to it (after `=`, or after a one-letter
    /// option).
    attached: Option<String>,
}

/// `-f/--force` style, as argparse names an option in errors (`argument -i`).
fn names(opt: &Opt) -> String {
    opt.names.join("/")
}

/// Whether argparse takes a word for an option: a leading `-`, not `-`
/// alone, not a negative number (no option of these scripts looks like
/// one), no space (`-args '-D FOREGROUND'` is a value).
fn looks_like_option(word: &str) -> bool {
    let Some(rest) = word.strip_prefix('-') else {
        return false;
    };
    !rest.is_empty() && rest.parse::<f64>().is_err() && !word.contains(' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec = Spec {
        options: &[
            Opt { names: &["-i"], dest: Dest::Ip, takes: Takes::Value("IP_ADDRESS"), help: "" },
            Opt { names: &["-p"], dest: Dest::Port, takes: Takes::Value("DOCKER_PORT"), help: "" },
            Opt { names: &["-sv"], dest: Dest::SnmpVersion, takes: Takes::Value("SNMP_VER"), help: "" },
            Opt { names: &["-sc"], dest: Dest::SnmpCommunity, takes: Takes::Value("SNMP_COM"), help: "" },
            Opt { names: &["-prog"], dest: Dest::Prog, takes: Takes::Value("PROG"), help: "" },
            Opt { names: &["--all"], dest: Dest::All, takes: Takes::Nothing, help: "" },
            Opt { names: &["--container"], dest: Dest::Container, takes: Takes::Nothing, help: "" },
            Opt { names: &["--core"], dest: Dest::Core, takes: Takes::Nothing, help: "" },
            Opt { names: &["-f", "--force"], dest: Dest::Force, takes: Takes::Switch, help: "" },
            Opt { names: &["-v", "--volumes"], dest: Dest::Volumes, takes: Takes::Switch, help: "" },
        ],
        positionals: &["COMMAND"],
    };

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    fn parse(line: &str) -> Result<Parsed, ArgError> {
        SPEC.parse(&words(line))
    }

    #[test]
    fn the_spellings_argparse_accepted() {
        let p = parse("-i docker_host1 -p2375 -sv 2 -sc=public -prog httpd --all ls").unwrap();
        assert_eq!(p.value(Dest::Ip), Some("docker_host1"));
        assert_eq!(p.value(Dest::Port), Some("2375"));
        assert_eq!(p.value(Dest::SnmpVersion), Some("2"));
        assert_eq!(p.value(Dest::SnmpCommunity), Some("public"));
        assert_eq!(p.value(Dest::Prog), Some("httpd"));
        assert!(p.flag(Dest::All) && !p.flag(Dest::Core));
        assert_eq!(p.positionals(), ["ls"]);
        // The last value given wins; `--opt=value`; a unique long prefix.
        let p = parse("-i a -i=b --cont x").unwrap();
        assert_eq!(p.value(Dest::Ip), Some("b"));
        assert!(p.flag(Dest::Container));
        assert!(parse("-h").unwrap().help);
        // `--` ends the options.
        assert_eq!(parse("-- -i").unwrap().positionals(), ["-i"]);
        // A negative number is a value, and so is a word with a space.
        assert_eq!(parse("-p -1 x").unwrap().value(Dest::Port), Some("-1"));
        let spaced = SPEC.parse(&["-prog".into(), "-D FOREGROUND".into(), "x".into()]).unwrap();
        assert_eq!(spaced.value(Dest::Prog), Some("-D FOREGROUND"));
    }

    #[test]
    fn the_rm_table_spellings_of_docker_flags() {
        for line in ["-f x", "--force x", "--force=true x", "--forc x", "-fv x"] {
            assert!(parse(line).unwrap().flag(Dest::Force), "{line}");
        }
        assert!(parse("-fv x").unwrap().flag(Dest::Volumes));
        assert!(!parse("--force=false x").unwrap().flag(Dest::Force));
        assert!(!parse("-f --force=false x").unwrap().flag(Dest::Force));
        assert_eq!(
            parse("--force=maybe x").unwrap_err().0,
            "argument -f/--force: invalid boolean value: 'maybe' (true or false)"
        );
    }

    #[test]
    fn errors_are_worded_as_argparse_words_them() {
        assert_eq!(parse("-i").unwrap_err().0, "argument -i: expected one argument");
        assert_eq!(parse("-i --all x").unwrap_err().0, "argument -i: expected one argument");
        assert_eq!(parse("--bogus x y").unwrap_err().0, "unrecognized arguments: --bogus y");
        assert_eq!(parse("").unwrap_err().0, "too few arguments (expected COMMAND)");
        assert_eq!(parse("--co x").unwrap_err().0, "ambiguous option: --co could match --container, --core");
        // `-s` is a prefix of two single-dash options, and no option itself.
        assert_eq!(parse("-s x").unwrap_err().0, "ambiguous option: -s could match -sv, -sc");
        assert_eq!(parse("--all=yes x").unwrap_err().0, "argument --all: ignored explicit argument 'yes'");
        assert_eq!(parse("-fz x").unwrap_err().0, "argument -f/--force: ignored explicit argument 'z'");
    }

    #[test]
    fn usage_and_help_list_every_option() {
        let usage = SPEC.usage("X.py");
        assert!(usage.starts_with("usage: X.py [-h] [-i IP_ADDRESS] [-p DOCKER_PORT] [-sv SNMP_VER]"), "{usage}");
        assert!(usage.ends_with("[-f] [-v] COMMAND"), "{usage}");
        let help = SPEC.options_help();
        assert!(help.contains("-f, --force[=false]"), "{help}");
        assert!(help.contains("-prog PROG"), "{help}");
    }
}
