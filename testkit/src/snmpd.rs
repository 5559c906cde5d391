//! A private net-snmp agent on a free loopback UDP port.
//!
//! [`Snmpd::start`] writes a two-line configuration (`agentAddress` on
//! 127.0.0.1 and a `rocommunity` limited to 127.0.0.1) into a temporary
//! directory, runs `snmpd -f -Lo -C -c CONF -p PIDFILE` with its output in a
//! log file there, and waits until the agent answers a GET. Nothing outside
//! that directory is read or written: `-C` skips the system configuration
//! files, `SNMP_PERSISTENT_DIR` points the agent's persistent state there,
//! and an empty `MIBS` keeps it from parsing (and complaining about) MIB files
//! it does not need to answer numeric OIDs.
//!
//! The agent is stopped by its pid when the guard drops. [`Snmpd::stop`] and
//! [`Snmpd::start_again`] stop it and start it again on the same port, for
//! "agent stopped" and "agent restarted" tests.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::net::free_port;
use crate::process::{have_program, read_lossy, stop};

/// How long [`Snmpd::start`] waits for the agent's first answer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many fresh ports [`Snmpd::start`] tries when the agent cannot bind one.
const PORT_ATTEMPTS: usize = 3;
/// sysUpTime.0, BER-encoded (`1.3.6.1.2.1.1.3.0`): what the readiness probe asks for.
const SYS_UPTIME_BER: [u8; 8] = [0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x03, 0x00];

/// What the private agent serves: its community and the subtrees it hides.
#[derive(Clone, Debug)]
pub struct SnmpdBuilder {
    community: String,
    excluded: Vec<String>,
}

impl Default for SnmpdBuilder {
    fn default() -> SnmpdBuilder {
        SnmpdBuilder { community: "public".to_owned(), excluded: Vec::new() }
    }
}

impl SnmpdBuilder {
    /// The read-only community (default `public`); at most 64 bytes.
    pub fn community(mut self, community: &str) -> SnmpdBuilder {
        self.community = community.to_owned();
        self
    }

    /// Hides the subtree `oid` (numeric, e.g. `.1.3.6.1.2.1.1.3`) from the
    /// community's view: a v2c GET of it answers `noSuchObject`, a v1 GET
    /// `noSuchName`, exactly as on an agent that does not implement it.
    pub fn exclude(mut self, oid: &str) -> SnmpdBuilder {
        self.excluded.push(oid.to_owned());
        self
    }

    /// Starts the agent on a free loopback port; `Err` says why it is unavailable.
    pub fn start(self) -> Result<Snmpd, String> {
        if !have_program("snmpd") {
            return Err("the snmpd binary is not on PATH (apt-get install snmpd)".to_owned());
        }
        if self.community.is_empty() || self.community.len() > 64 {
            return Err(format!("community {:?} must be 1 to 64 bytes", self.community));
        }
        let dir = tempfile::Builder::new()
            .prefix("kura-snmpd-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory for snmpd: {e}"))?;
        let mut snmpd = Snmpd { dir, port: 0, builder: self, child: None };
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            snmpd.port = free_port();
            match snmpd.start_again() {
                Ok(()) => return Ok(snmpd),
                // Another process may have taken the port between
                // free_port() and snmpd's bind: try another one.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }
}

/// A running private snmpd, stopped by pid when dropped.
#[derive(Debug)]
pub struct Snmpd {
    dir: TempDir,
    port: u16,
    builder: SnmpdBuilder,
    child: Option<Child>,
}

impl Snmpd {
    /// Starts an agent with community `public` that serves every OID.
    pub fn start() -> Result<Snmpd, String> {
        SnmpdBuilder::default().start()
    }

    /// A builder, to choose the community or hide OIDs.
    pub fn builder() -> SnmpdBuilder {
        SnmpdBuilder::default()
    }

    /// The agent's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The read-only community the agent answers.
    pub fn community(&self) -> &str {
        &self.builder.community
    }

    /// The agent's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the agent logged so far (all of its runs).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path())
    }

    /// Stops the agent (SIGTERM, then SIGKILL) and waits for it; the port
    /// stays reserved for [`Snmpd::start_again`]. Does nothing when stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }

    /// Starts the agent again on the same port with the same configuration
    /// (after [`Snmpd::stop`]; a running agent is stopped first), and waits
    /// until it answers. sysUpTime and the CPU counters restart from zero.
    pub fn start_again(&mut self) -> Result<(), String> {
        self.stop();
        let conf = self.dir.path().join("snmpd.conf");
        fs::write(&conf, self.config()).map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
        let persistent = self.dir.path().join("persistent");
        fs::create_dir_all(&persistent).map_err(|e| format!("cannot create {}: {e}", persistent.display()))?;
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("cannot open {}: {e}", self.log_path().display()))?;
        let log_err = log.try_clone().map_err(|e| format!("cannot reuse {}: {e}", self.log_path().display()))?;
        let child = Command::new("snmpd")
            .arg("-f")
            .arg("-Lo")
            .arg("-C")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(self.dir.path().join("snmpd.pid"))
            .env("SNMP_PERSISTENT_DIR", &persistent)
            .env("MIBS", "")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run snmpd: {e}"))?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("snmpd.log")
    }

    fn config(&self) -> String {
        let mut conf = format!("agentAddress udp:127.0.0.1:{}\nview kuratest included .1\n", self.port);
        for oid in &self.builder.excluded {
            conf.push_str(&format!("view kuratest excluded {oid}\n"));
        }
        conf.push_str(&format!("rocommunity {} 127.0.0.1 -V kuratest\n", self.builder.community));
        conf
    }

    /// Sends a v2c GET of sysUpTime.0 until any answer comes back; fails
    /// (and stops the agent) when it exits or stays silent too long.
    fn wait_ready(&mut self) -> Result<(), String> {
        let probe = get_request(&self.builder.community, &SYS_UPTIME_BER);
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|s| s.connect(self.addr()).map(|()| s))
            .and_then(|s| s.set_read_timeout(Some(Duration::from_millis(100))).map(|()| s))
            .map_err(|e| format!("cannot open a probe socket: {e}"))?;
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut answer = [0u8; 1500];
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "snmpd on 127.0.0.1:{} exited ({status}) before answering; its log:\n{}",
                        self.port,
                        self.log()
                    ));
                }
            }
            // Errors (e.g. ICMP port unreachable while snmpd starts) just mean "not yet".
            if socket.send(&probe).is_ok() && socket.recv(&mut answer).is_ok() {
                return Ok(());
            }
        }
        self.stop();
        Err(format!(
            "snmpd on 127.0.0.1:{} did not answer within {READY_TIMEOUT:?}; its log:\n{}",
            self.port,
            self.log()
        ))
    }
}

impl Drop for Snmpd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An SNMPv2c GetRequest (request id 1) for one OID given as BER content
/// bytes. Every length is below 128, so each fits in one byte.
fn get_request(community: &str, oid: &[u8]) -> Vec<u8> {
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag, u8::try_from(content.len()).unwrap_or(u8::MAX)];
        out.extend_from_slice(content);
        out
    }
    let varbind = tlv(0x30, &[tlv(0x06, oid), tlv(0x05, &[])].concat());
    let pdu = tlv(0xa0, &[tlv(0x02, &[1]), tlv(0x02, &[0]), tlv(0x02, &[0]), tlv(0x30, &varbind)].concat());
    tlv(0x30, &[tlv(0x02, &[1]), tlv(0x04, community.as_bytes()), pdu].concat())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_unavailable;

    #[test]
    fn get_request_is_the_ber_that_net_snmp_sends() {
        // What `snmpget -v2c -c public 127.0.0.1:PORT .1.3.6.1.2.1.1.3.0`
        // sent to a UDP listener, with its 4-byte request id (02 04 31 1d 41 d1)
        // re-encoded as the 1-byte id 1 and the enclosing lengths 3 shorter.
        let expected: [u8; 40] = [
            0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0, 0x19, 0x02, 0x01, 0x01,
            0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c, 0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01,
            0x03, 0x00, 0x05, 0x00,
        ];
        assert_eq!(get_request("public", &SYS_UPTIME_BER), expected);
    }

    #[test]
    fn agent_answers_stops_and_starts_again_on_the_same_port() {
        let mut snmpd = match Snmpd::start() {
            Ok(snmpd) => snmpd,
            Err(reason) => return peer_unavailable("snmpd", &reason),
        };
        let addr = snmpd.addr();
        let pid = snmpd.pid().unwrap();
        assert!(addr.ip().is_loopback());
        assert_eq!(snmpd.community(), "public");
        snmpd.stop();
        assert!(snmpd.pid().is_none());
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "snmpd {pid} still runs after stop");
        snmpd.start_again().unwrap();
        assert_eq!(snmpd.addr(), addr);
        assert_ne!(snmpd.pid(), Some(pid));
    }

    #[test]
    fn wrong_probe_community_is_not_answered() {
        let snmpd = match Snmpd::builder().community("s3cret").start() {
            Ok(snmpd) => snmpd,
            Err(reason) => return peer_unavailable("snmpd", &reason),
        };
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        socket.connect(snmpd.addr()).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut answer = [0u8; 1500];
        socket.send(&get_request("public", &SYS_UPTIME_BER)).unwrap();
        assert!(socket.recv(&mut answer).is_err(), "answered a wrong community");
        socket.send(&get_request("s3cret", &SYS_UPTIME_BER)).unwrap();
        assert!(socket.recv(&mut answer).unwrap() > 0);
    }
}
