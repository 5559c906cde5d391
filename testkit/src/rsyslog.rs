//! A private rsyslogd receiving syslog on loopback UDP and TCP, writing every
//! message it receives to a file that tests read back as [`Record`]s.
//!
//! The configuration loads only `imudp` and `imtcp` (never `imuxsock` or
//! `imklog`), so nothing binds `/dev/log` or reads the kernel log;
//! `processInternalMessages="on"` keeps rsyslogd's own messages in its rules
//! instead of sending them to the system log socket (without it, rsyslogd
//! connects to `/dev/log` at start and stop, as strace shows); DNS lookups of
//! senders are off. The work directory, pid file, output and log are in a
//! temporary directory removed on drop.
//!
//! Each received message becomes one line of the output file:
//! `INPUT<TAB>HOSTNAME<TAB>TAG<TAB>PRI<TAB>TIMESTAMP<TAB>MSG`. A TAB cannot
//! occur inside a field: rsyslog escapes control characters on receipt (a TAB
//! in a message arrives as `#011`, CR as `#015`, LF as `#012`), so the split
//! is exact, and MSG, the last field, may contain anything else.

use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::net::free_port;
use crate::process::{have_program, read_lossy, stop, wait_until};

/// How long [`Rsyslog::start`] waits for both inputs to deliver a probe.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// The tag of the messages [`Rsyslog::start`] sends to itself; [`Rsyslog::records`] leaves them out.
const PROBE_TAG: &str = "kura-testkit-probe:";

/// One message as rsyslog received and parsed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The input that received it: `imudp` or `imtcp` (`rsyslogd` for rsyslog's own messages).
    pub input: String,
    /// `%hostname%`: the HOSTNAME field, or the sender's address when the message had none.
    pub hostname: String,
    /// `%syslogtag%`: the TAG as sent, including a trailing `:` (RFC 3164 `app:` or `app[pid]:`).
    pub tag: String,
    /// `%pri%`: facility * 8 + severity.
    pub pri: u8,
    /// `%timereported%` in RFC 3339: the message's own timestamp as rsyslog read it.
    pub timestamp: String,
    /// `%msg%`: the content. For RFC 3164 input it keeps the space that
    /// follows the tag (`tag: hello` gives ` hello`); control characters
    /// arrive escaped as `#ooo` (octal).
    pub msg: String,
}

impl Record {
    /// Parses one line of the output file; `None` when it does not have six fields.
    fn parse(line: &str) -> Option<Record> {
        let mut fields = line.splitn(6, '\t');
        let mut next = || fields.next().map(str::to_owned);
        Some(Record {
            input: next()?,
            hostname: next()?,
            tag: next()?,
            pri: next()?.parse().ok()?,
            timestamp: next()?,
            msg: next()?,
        })
    }
}

/// A running private rsyslogd, stopped by pid when dropped.
#[derive(Debug)]
pub struct Rsyslog {
    dir: TempDir,
    udp_port: u16,
    tcp_port: u16,
    tz: Option<String>,
    child: Option<Child>,
}

impl Rsyslog {
    /// Starts rsyslogd on two free loopback ports (UDP and TCP) and waits
    /// until a probe sent to each input reaches the output file; `Err` says
    /// why it is unavailable.
    pub fn start() -> Result<Rsyslog, String> {
        Rsyslog::start_in(None)
    }

    /// As [`start`](Rsyslog::start), with rsyslogd's local time zone set
    /// (`TZ=zone`): it reads RFC 3164 timestamps as times of that zone.
    pub fn start_in_zone(zone: &str) -> Result<Rsyslog, String> {
        Rsyslog::start_in(Some(zone.to_owned()))
    }

    fn start_in(tz: Option<String>) -> Result<Rsyslog, String> {
        if !have_program("rsyslogd") {
            return Err("the rsyslogd binary is not on PATH (apt-get install rsyslog)".to_owned());
        }
        let dir = tempfile::Builder::new()
            .prefix("kura-rsyslog-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory for rsyslogd: {e}"))?;
        let udp_port = free_port();
        let mut tcp_port = free_port();
        while tcp_port == udp_port {
            tcp_port = free_port();
        }
        let mut rsyslog = Rsyslog { dir, udp_port, tcp_port, tz, child: None };
        rsyslog.spawn()?;
        rsyslog.wait_ready()?;
        Ok(rsyslog)
    }

    /// The UDP port of `imudp` on 127.0.0.1.
    pub fn udp_port(&self) -> u16 {
        self.udp_port
    }

    /// The TCP port of `imtcp` on 127.0.0.1 (LF-terminated messages).
    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
    }

    /// Every message received so far, in the order rsyslog wrote them,
    /// without the start-up probes. A line still being written is left out.
    ///
    /// # Panics
    /// When a complete line of the output file does not have the six fields
    /// of the template (the file is not what this module configured).
    pub fn records(&self) -> Vec<Record> {
        let text = read_lossy(&self.output_path());
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .map(|line| match Record::parse(line) {
                Some(record) => record,
                None => panic!("{}: line {line:?} does not match the template", self.output_path().display()),
            })
            .filter(|record| record.tag != PROBE_TAG)
            .collect()
    }

    /// Waits until a record satisfies `predicate` and returns the first one
    /// that does; `None` when `timeout` passes first.
    pub fn wait_for(&self, mut predicate: impl FnMut(&Record) -> bool, timeout: Duration) -> Option<Record> {
        let mut found = None;
        wait_until(timeout, || {
            found = self.records().into_iter().find(|r| predicate(r));
            found.is_some()
        });
        found
    }

    /// What rsyslogd printed on stdout and stderr.
    pub fn log(&self) -> String {
        read_lossy(&self.dir.path().join("rsyslogd.log"))
    }

    /// Stops rsyslogd (SIGTERM, then SIGKILL) and waits for it; the output
    /// file stays readable until the guard drops.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process would not act on SIGTERM.
            let _ = Command::new("kill").args(["-CONT", &child.id().to_string()]).status();
            stop(&mut child);
        }
    }

    /// Starts rsyslogd again after [`stop`](Rsyslog::stop), on the same
    /// ports and output file, and waits until it receives.
    pub fn start_again(&mut self) -> Result<(), String> {
        self.stop();
        self.spawn()?;
        self.wait_ready()
    }

    /// Stops rsyslogd with SIGSTOP: it keeps its sockets but reads nothing
    /// (a stalled receiver) until [`thaw`](Rsyslog::thaw).
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen rsyslogd go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        if let Some(child) = &self.child {
            let pid = child.id().to_string();
            let sent = std::process::Command::new("kill").args([signal, &pid]).status();
            assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid} failed");
        }
    }

    fn output_path(&self) -> PathBuf {
        self.dir.path().join("messages.tsv")
    }

    fn spawn(&mut self) -> Result<(), String> {
        let dir = self.dir.path();
        let work = dir.join("work");
        fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
        let conf = dir.join("rsyslog.conf");
        let config = format!(
            r#"global(workDirectory="{work}" processInternalMessages="on" net.enableDNS="off" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
template(name="kuraTestRecord" type="string" string="%inputname%\t%hostname%\t%syslogtag%\t%pri%\t%timereported:::date-rfc3339%\t%msg%\n")
*.* action(type="omfile" file="{output}" template="kuraTestRecord")
"#,
            work = work.display(),
            udp = self.udp_port,
            tcp = self.tcp_port,
            output = self.output_path().display(),
        );
        fs::write(&conf, config).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let log_path = dir.join("rsyslogd.log");
        let log = File::create(&log_path).map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
        let log_err = log.try_clone().map_err(|e| format!("cannot reuse {}: {e}", log_path.display()))?;
        let mut command = Command::new("rsyslogd");
        if let Some(tz) = &self.tz {
            command.env("TZ", tz);
        }
        let child = command
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run rsyslogd: {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// Sends a probe to each input until both show up in the output file;
    /// fails (and stops rsyslogd) when it exits or stays deaf too long.
    fn wait_ready(&mut self) -> Result<(), String> {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("cannot open a probe socket: {e}"))?;
        let udp_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.udp_port));
        let tcp_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.tcp_port));
        // Each start has its own probes: a restarted rsyslogd is ready when
        // its own arrive, not those of the one before.
        let nonce = format!("{:?}", Instant::now());
        let probe = |input: &str| format!("<14>Jan  1 00:00:00 kura-testkit {PROBE_TAG} {input} {nonce}\n");
        let mut tcp_sent = false;
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("rsyslogd exited ({status}) before receiving; its log:\n{}", self.log()));
                }
            }
            // Errors just mean "not listening yet".
            let _ = udp.send_to(probe("imudp").as_bytes(), udp_addr);
            if !tcp_sent {
                if let Ok(mut stream) = TcpStream::connect_timeout(&tcp_addr, Duration::from_millis(200)) {
                    tcp_sent = stream.write_all(probe("imtcp").as_bytes()).is_ok();
                }
            }
            let text = read_lossy(&self.output_path());
            let arrived = |input: &str| {
                text.lines()
                    .filter_map(Record::parse)
                    .any(|r| r.tag == PROBE_TAG && r.input == input && r.msg.ends_with(&nonce))
            };
            if arrived("imudp") && arrived("imtcp") {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stop();
        Err(format!(
            "rsyslogd on 127.0.0.1 (udp {}, tcp {}) did not deliver its probes within {READY_TIMEOUT:?}; its log:\n{}",
            self.udp_port,
            self.tcp_port,
            self.log()
        ))
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_unavailable;

    #[test]
    fn record_splits_on_tabs_and_keeps_the_rest_in_msg() {
        let record = Record::parse("imtcp\th1\tapp[7]:\t134\t2026-11-08T01:02:03+00:00\t a\u{e9}|b c#011d").unwrap();
        assert_eq!(
            record,
            Record {
                input: "imtcp".into(),
                hostname: "h1".into(),
                tag: "app[7]:".into(),
                pri: 134,
                timestamp: "2026-11-08T01:02:03+00:00".into(),
                msg: " a\u{e9}|b c#011d".into(),
            }
        );
        assert_eq!(Record::parse("imudp\th1\tapp:\t134"), None);
        assert_eq!(Record::parse("imudp\th1\tapp:\tpri\tts\tmsg"), None);
    }

    #[test]
    fn probes_are_received_but_not_reported_and_stop_ends_the_process() {
        let mut rsyslog = match Rsyslog::start() {
            Ok(rsyslog) => rsyslog,
            Err(reason) => return peer_unavailable("rsyslogd", &reason),
        };
        assert_ne!(rsyslog.udp_port(), rsyslog.tcp_port());
        assert!(rsyslog.records().iter().all(|r| r.tag != PROBE_TAG));
        assert!(read_lossy(&rsyslog.output_path()).contains(PROBE_TAG));
        let pid = rsyslog.child.as_ref().unwrap().id();
        rsyslog.stop();
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "rsyslogd {pid} still runs after stop");
    }
}
