//! Where messages go: `udp://HOST[:514]`, `tcp://HOST[:514]` or a file,
//! over std sockets and files, and how far delivery can be confirmed.
//!
//! - TCP: each message ends with LF. Syslog over TCP has no
//!   acknowledgements, so [`Sender::confirm`] closes kura's side of the
//!   connection and waits for the receiver to close its own, which it does
//!   once it has read everything before (rsyslog and Hinemos both close a
//!   connection at its end): then every message sent on it was read. A
//!   receiver that does not close within the timeout is not confirmed.
//! - UDP: a datagram per message, from a connected socket, so that the
//!   kernel reports a receiver that is not listening (ICMP port
//!   unreachable) as an error; nothing more can be known.
//! - File: appended, one line per message, synced to disk when confirmed;
//!   lines of an unconfirmed chunk are cut off again ([`Sender::discard`]).

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::{TCP_MAX_BYTES, UDP_MAX_BYTES};

/// The syslog port when a target names none.
pub const DEFAULT_PORT: u16 = 514;

/// Where messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `udp://HOST[:PORT]`.
    Udp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// `tcp://HOST[:PORT]`.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// A file, appended to.
    File(PathBuf),
}

impl FromStr for Target {
    type Err = String;

    /// Parses `udp://HOST[:PORT]` or `tcp://HOST[:PORT]` (IPv6 in brackets).
    fn from_str(url: &str) -> Result<Target, String> {
        let bad = |why: &str| format!("syslog target {url:?}: {why} (write udp://HOST[:514] or tcp://HOST[:514])");
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() || rest.contains('/') {
            return Err(bad("expected a host and an optional port only"));
        }
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
                match after {
                    "" => (host, None),
                    _ => (host, Some(after.strip_prefix(':').ok_or_else(|| bad("text after ]"))?)),
                }
            }
            None => match rest.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            },
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(port) => port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("the port is not 1-65535"))?,
            None => DEFAULT_PORT,
        };
        let host = host.to_owned();
        match scheme {
            "udp" => Ok(Target::Udp { host, port }),
            "tcp" => Ok(Target::Tcp { host, port }),
            _ => Err(bad("the scheme is neither udp nor tcp")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracket = |host: &str| if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
        match self {
            Target::Udp { host, port } => write!(f, "udp://{}:{port}", bracket(host)),
            Target::Tcp { host, port } => write!(f, "tcp://{}:{port}", bracket(host)),
            Target::File(path) => write!(f, "{}", path.display()),
        }
    }
}

impl Target {
    /// Whether messages are syslog lines (sockets) or plain lines (files).
    pub fn is_syslog(&self) -> bool {
        !matches!(self, Target::File(_))
    }

    /// The longest message this target takes, without its framing LF.
    pub fn max_bytes(&self) -> usize {
        match self {
            Target::Udp { .. } => UDP_MAX_BYTES,
            Target::Tcp { .. } => TCP_MAX_BYTES - 1,
            Target::File(_) => usize::MAX,
        }
    }
}

/// A message that could not be delivered, naming the target.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The host name does not resolve.
    #[error("{target}: cannot resolve the host: {source}")]
    Resolve {
        /// The target.
        target: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A socket or file operation failed.
    #[error("{target}: {what}: {source}")]
    Io {
        /// The target.
        target: String,
        /// What was being done (`connect`, `send`, ...).
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The receiver did not close its side after kura closed its own.
    #[error("{target}: the receiver did not close the connection within {timeout:?} after kura closed its side, so delivery is not confirmed")]
    Unconfirmed {
        /// The target.
        target: String,
        /// How long kura waited.
        timeout: Duration,
    },
}

enum Conn {
    Closed,
    Udp(UdpSocket),
    Tcp(TcpStream),
    /// kura's side closed, the receiver's not yet: what was sent on it is
    /// neither confirmed nor lost (a stalled receiver may read it later).
    Closing(TcpStream),
    File {
        file: File,
        /// The file's length at the last confirmation: where an unconfirmed chunk began.
        confirmed_len: u64,
    },
}

/// Sends messages to one target, connecting when needed.
pub struct Sender {
    target: Target,
    timeout: Duration,
    conn: Conn,
}

impl Sender {
    /// A sender to `target`; every connect, write and confirmation is
    /// bounded by `timeout`.
    pub fn new(target: Target, timeout: Duration) -> Sender {
        Sender { target, timeout, conn: Conn::Closed }
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    fn io(&self, what: &'static str) -> impl FnOnce(io::Error) -> SendError + '_ {
        move |source| SendError::Io { target: self.target.to_string(), what, source }
    }

    fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, SendError> {
        let resolve = |source| SendError::Resolve { target: self.target.to_string(), source };
        let addresses: Vec<SocketAddr> = (host, port).to_socket_addrs().map_err(resolve)?.collect();
        if addresses.is_empty() {
            return Err(resolve(io::Error::new(io::ErrorKind::NotFound, "no address")));
        }
        Ok(addresses)
    }

    fn open(&mut self) -> Result<(), SendError> {
        if !matches!(self.conn, Conn::Closed) {
            return Ok(());
        }
        self.conn = match &self.target {
            Target::Udp { host, port } => {
                let address = self.addresses(host, *port)?[0];
                let local: SocketAddr =
                    if address.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
                let socket = UdpSocket::bind(local).map_err(self.io("bind"))?;
                socket.connect(address).map_err(self.io("connect"))?;
                socket.set_write_timeout(Some(self.timeout)).map_err(self.io("set a timeout"))?;
                Conn::Udp(socket)
            }
            Target::Tcp { host, port } => {
                let mut last = None;
                let mut stream = None;
                for address in self.addresses(host, *port)? {
                    match TcpStream::connect_timeout(&address, self.timeout) {
                        Ok(connected) => {
                            stream = Some(connected);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                let stream = match stream {
                    Some(stream) => stream,
                    None => return Err(self.io("connect")(last.unwrap_or_else(|| io::ErrorKind::NotFound.into()))),
                };
                stream.set_write_timeout(Some(self.timeout)).map_err(self.io("set a timeout"))?;
                stream.set_nodelay(true).map_err(self.io("set TCP_NODELAY"))?;
                Conn::Tcp(stream)
            }
            Target::File(path) => {
                let file = OpenOptions::new().create(true).append(true).open(path).map_err(self.io("open"))?;
                let confirmed_len = file.metadata().map_err(self.io("stat"))?.len();
                Conn::File { file, confirmed_len }
            }
        };
        Ok(())
    }

    /// Sends one message (`bytes`, without framing: TCP and files get an LF
    /// after it). On failure the connection is dropped (and a file's
    /// unconfirmed lines cut off): the caller starts its chunk again.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        if self.awaits_confirmation() {
            // A new chunk: the caller gave up on the one before.
            self.discard();
        }
        self.open()?;
        let result = match &mut self.conn {
            Conn::Closed | Conn::Closing(_) => Ok(()),
            Conn::Udp(socket) => socket.send(bytes).map(drop).and_then(|()| pending_error(socket)),
            Conn::Tcp(stream) => write_line(stream, bytes),
            Conn::File { file, .. } => write_line(file, bytes),
        };
        result.map_err(|e| {
            self.discard();
            self.io("send")(e)
        })
    }

    /// Confirms what was sent since the last confirmation, as far as the
    /// target allows (see the module's docs); TCP connections are closed
    /// (the next send opens a new one). A TCP receiver that does not close
    /// within the timeout gives [`SendError::Unconfirmed`] and the
    /// connection is kept: calling `confirm` again waits for it again
    /// (what a stalled receiver reads later is then confirmed, not sent twice).
    pub fn confirm(&mut self) -> Result<(), SendError> {
        if let Conn::Tcp(stream) = &self.conn {
            if let Err(e) = stream.shutdown(Shutdown::Write) {
                self.discard();
                return Err(self.io("confirm")(e));
            }
            if let Conn::Tcp(stream) = std::mem::replace(&mut self.conn, Conn::Closed) {
                self.conn = Conn::Closing(stream);
            }
        }
        let result = match &mut self.conn {
            Conn::Closed | Conn::Tcp(_) => Ok(()),
            Conn::Udp(socket) => pending_error(socket).map_err(|e| (e, "send")),
            Conn::Closing(stream) => match wait_for_close(stream, self.timeout) {
                Ok(true) => {
                    self.conn = Conn::Closed;
                    Ok(())
                }
                Ok(false) => {
                    return Err(SendError::Unconfirmed { target: self.target.to_string(), timeout: self.timeout })
                }
                Err(e) => Err((e, "confirm")),
            },
            Conn::File { file, confirmed_len } => file
                .sync_data()
                .and_then(|()| file.metadata())
                .map(|m| *confirmed_len = m.len())
                .map_err(|e| (e, "sync")),
        };
        result.map_err(|(e, what)| {
            self.discard();
            self.io(what)(e)
        })
    }

    /// Whether a chunk was sent and awaits its confirmation (a TCP
    /// receiver that has not closed yet).
    pub fn awaits_confirmation(&self) -> bool {
        matches!(self.conn, Conn::Closing(_))
    }

    /// Drops what was sent since the last confirmation where it can: cuts a
    /// file back to its confirmed length; closes a socket (what the
    /// receiver already read of it stays read).
    pub fn discard(&mut self) {
        if let Conn::File { file, confirmed_len } = &self.conn {
            // Best effort: the error that brought us here is the one reported.
            let _ = file.set_len(*confirmed_len);
        }
        self.conn = Conn::Closed;
    }
}

fn write_line(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let mut line = Vec::with_capacity(bytes.len() + 1);
    line.extend_from_slice(bytes);
    line.push(b'\n');
    out.write_all(&line)
}

/// The error the kernel holds for a connected UDP socket (a port
/// unreachable reported for an earlier datagram).
fn pending_error(socket: &UdpSocket) -> io::Result<()> {
    match socket.take_error()? {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// Waits until the receiver closes its side (`Ok(true)`), or `timeout`
/// passes (`Ok(false)`); kura's side is closed already.
fn wait_for_close(stream: &mut TcpStream, timeout: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + timeout;
    let mut buffer = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(true),
            // A receiver may answer something; it is not ours to read.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn targets_parse_with_default_ports_and_refuse_the_rest() {
        assert_eq!("udp://10.0.0.1".parse(), Ok(Target::Udp { host: "10.0.0.1".into(), port: 514 }));
        assert_eq!("tcp://hinemos:1514/".parse(), Ok(Target::Tcp { host: "hinemos".into(), port: 1514 }));
        assert_eq!("tcp://[::1]:600".parse(), Ok(Target::Tcp { host: "::1".into(), port: 600 }));
        assert_eq!("udp://[::1]".parse::<Target>().map(|t| t.to_string()), Ok("udp://[::1]:514".to_owned()));
        for bad in ["10.0.0.1:514", "http://h", "udp://", "udp://h:0", "udp://h:x", "tcp://h/path", "udp://[::1"] {
            assert!(bad.parse::<Target>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tcp_messages_end_with_lf_and_a_closing_receiver_confirms() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let receiver = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            got
        });
        let mut sender = Sender::new(Target::Tcp { host: "127.0.0.1".into(), port }, Duration::from_secs(5));
        sender.send(b"<14>one").unwrap();
        sender.send(b"<14>two").unwrap();
        sender.confirm().unwrap();
        assert_eq!(receiver.join().unwrap(), b"<14>one\n<14>two\n");
    }

    #[test]
    fn a_receiver_that_keeps_the_connection_open_is_not_confirmed() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut sender = Sender::new(Target::Tcp { host: "127.0.0.1".into(), port }, Duration::from_millis(300));
        sender.send(b"x").unwrap();
        let (mut held, _) = listener.accept().unwrap();
        assert!(matches!(sender.confirm(), Err(SendError::Unconfirmed { .. })));
        assert!(sender.awaits_confirmation());
        // The receiver reads and closes at last: the same chunk is confirmed.
        let mut got = Vec::new();
        held.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"x\n");
        drop(held);
        sender.confirm().unwrap();
        assert!(!sender.awaits_confirmation());
    }

    #[test]
    fn a_closed_port_is_an_error_naming_the_target() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut sender = Sender::new(Target::Tcp { host: "127.0.0.1".into(), port }, Duration::from_secs(2));
        let error = sender.send(b"x").unwrap_err().to_string();
        assert!(error.starts_with(&format!("tcp://127.0.0.1:{port}: connect")), "{error}");
    }

    #[test]
    fn file_lines_of_an_unconfirmed_chunk_are_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut sender = Sender::new(Target::File(path.clone()), Duration::from_secs(1));
        sender.send(b"a").unwrap();
        sender.confirm().unwrap();
        sender.send(b"b").unwrap();
        sender.discard();
        sender.send(b"c").unwrap();
        sender.confirm().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nc\n");
    }
}
