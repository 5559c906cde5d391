//! A test-only proxy in front of the real `docker.sock`, injecting the faults
//! a real daemon will not produce on demand: a body that stalls, a body cut
//! in the middle, HTTP 500, malformed JSON; and "the daemon went away" by
//! stopping the proxy (and "it came back" by starting it again on the same
//! path), without disturbing the shared dockerd.
//!
//! Requests whose path contains a rule's pattern get the rule's fault; all
//! others are forwarded to the daemon unchanged (one request per connection:
//! the proxy asks the daemon to close after answering).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// A fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Headers announce a body, a few bytes come, then nothing until the
    /// client gives up (the connection stays open).
    Stall,
    /// Headers announce a body, half of it comes, then the connection closes.
    Cut,
    /// `500 Internal Server Error` with a Docker-style JSON message.
    Status500,
    /// `200 OK` with a body that is not JSON.
    Garbage,
    /// `404 Not Found`, as the daemon answers for a container removed since
    /// the list.
    Gone,
    /// Forwarded to the daemon after this delay (a slow request).
    Delay(Duration),
    /// The headers of a streamed (chunked) answer, then nothing, the
    /// connection held open: a half-open connection, or a frozen daemon.
    StallStream,
    /// A streamed (chunked) answer of these lines (each sent with its LF),
    /// then nothing, the connection held open.
    Lines(Vec<String>),
}

/// A rule: requests whose path contains the pattern get the fault; a rule
/// made with [`Proxy::inject_once`] applies to the first such request only.
type Rules = Arc<Mutex<Vec<(String, Fault, bool)>>>;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A running proxy; stops when dropped.
pub struct Proxy {
    socket: PathBuf,
    upstream: PathBuf,
    rules: Rules,
    requests: Arc<Mutex<Vec<String>>>,
    running: Arc<AtomicBool>,
    dir: PathBuf,
}

impl Proxy {
    /// Starts a proxy for `upstream` (e.g. `/var/run/docker.sock`) on a new
    /// socket in a private temporary folder.
    pub fn start(upstream: &Path) -> io::Result<Proxy> {
        let dir = std::env::temp_dir().join(format!(
            "kura-proxy-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let mut proxy = Proxy {
            socket: dir.join("docker.sock"),
            upstream: upstream.to_owned(),
            rules: Arc::default(),
            requests: Arc::default(),
            running: Arc::new(AtomicBool::new(false)),
            dir,
        };
        proxy.resume()?;
        Ok(proxy)
    }

    /// The proxy's socket; use `unix://` + this as the endpoint.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The endpoint string for kura: `unix://<socket>`.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Injects `fault` into every request whose path contains `pattern`
    /// (e.g. a container id, or `/stats`).
    pub fn inject(&self, pattern: &str, fault: Fault) {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner).push((pattern.to_owned(), fault, false));
    }

    /// Injects `fault` into the next request whose path contains `pattern` only.
    pub fn inject_once(&self, pattern: &str, fault: Fault) {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner).push((pattern.to_owned(), fault, true));
    }

    /// How many requests so far had a path containing `pattern`.
    pub fn requests(&self, pattern: &str) -> usize {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner).iter().filter(|p| p.contains(pattern)).count()
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    /// Stops listening and removes the socket: the "daemon" is gone.
    pub fn pause(&mut self) {
        self.running.store(false, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag and returns.
        let _ = UnixStream::connect(&self.socket);
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Listens again on the same socket: the "daemon" is back.
    pub fn resume(&mut self) -> io::Result<()> {
        let _ = std::fs::remove_file(&self.socket);
        let listener = UnixListener::bind(&self.socket)?;
        let running = Arc::new(AtomicBool::new(true));
        self.running = Arc::clone(&running);
        let rules = Arc::clone(&self.rules);
        let requests = Arc::clone(&self.requests);
        let upstream = self.upstream.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if !running.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (rules, requests) = (Arc::clone(&rules), Arc::clone(&requests));
                let upstream = upstream.clone();
                let running = Arc::clone(&running);
                thread::spawn(move || {
                    let _ = serve(stream, &upstream, &rules, &requests, &running);
                });
            }
        });
        Ok(())
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.pause();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(
    client: UnixStream,
    upstream: &Path,
    rules: &Rules,
    requests: &Mutex<Vec<String>>,
    running: &AtomicBool,
) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let end = line == "\r\n";
        if !end && !line.to_ascii_lowercase().starts_with("connection:") {
            head.push(line);
        }
        if end {
            break;
        }
    }
    let path = head.first().and_then(|l| l.split_whitespace().nth(1)).unwrap_or_default().to_owned();
    requests.lock().unwrap_or_else(PoisonError::into_inner).push(path.clone());
    let fault = {
        let mut rules = rules.lock().unwrap_or_else(PoisonError::into_inner);
        let found = rules.iter().position(|(pattern, _, _)| path.contains(pattern.as_str()));
        found.map(|i| if rules[i].2 { rules.remove(i).1 } else { rules[i].1.clone() })
    };
    let mut client = client;
    match fault {
        Some(Fault::Delay(delay)) => {
            thread::sleep(delay);
            forward(&mut client, upstream, &head)
        }
        Some(fault) => inject(&mut client, fault, running),
        None => forward(&mut client, upstream, &head),
    }
}

/// Holds a connection open until the client hangs up or the proxy stops.
fn hold(client: &mut UnixStream, running: &AtomicBool) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut byte = [0u8; 1];
    for _ in 0..600 {
        if !running.load(Ordering::SeqCst) {
            break;
        }
        match client.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn inject(client: &mut UnixStream, fault: Fault, running: &AtomicBool) -> io::Result<()> {
    const PARTIAL: &str = r#"{"read":"2026-11-28T00:00:00Z","cpu_stats":{"cpu_usage":{"total_usage":1"#;
    match fault {
        Fault::Stall => {
            write!(client, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{PARTIAL}")?;
            client.flush()?;
            hold(client, running)
        }
        Fault::StallStream | Fault::Lines(_) => {
            write!(client, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")?;
            if let Fault::Lines(lines) = &fault {
                for line in lines {
                    write!(client, "{:x}\r\n{line}\n\r\n", line.len() + 1)?;
                }
            }
            client.flush()?;
            hold(client, running)
        }
        Fault::Delay(_) => Ok(()),
        Fault::Cut => write!(
            client,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\nConnection: close\r\n\r\n{PARTIAL}"
        ),
        Fault::Status500 => {
            let body = r#"{"message":"injected fault: internal server error"}"#;
            write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Fault::Gone => {
            let body = r#"{"message":"No such container: injected"}"#;
            write!(
                client,
                "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        Fault::Garbage => {
            let body = "{\"read\": this is not json";
            write!(
                client,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
        }
    }
}

fn forward(client: &mut UnixStream, upstream: &Path, head: &[String]) -> io::Result<()> {
    let mut daemon = UnixStream::connect(upstream)?;
    for line in head {
        daemon.write_all(line.as_bytes())?;
    }
    daemon.write_all(b"Connection: close\r\n\r\n")?;
    io::copy(&mut daemon, client)?;
    Ok(())
}
