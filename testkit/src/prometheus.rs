//! A private Prometheus on a free loopback port, and `promtool`.
//!
//! [`Prometheus::start`] writes a configuration that scrapes the given
//! targets every [`SCRAPE_INTERVAL`] into a temporary directory, runs
//! Debian's `prometheus` there (its own TSDB folder, its web listener on
//! 127.0.0.1 only, its log in a file), and waits until `/-/ready`
//! answers. Nothing outside that directory is read or written. The
//! server is stopped by its pid when the guard drops.
//!
//! [`Prometheus::query`] runs an instant PromQL query through the HTTP
//! API; [`Prometheus::wait_for`] polls one until its answer satisfies a
//! condition or a deadline passes, which is how tests wait for scrapes.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use tempfile::TempDir;

use crate::net::free_port;
use crate::process::{have_program, read_lossy, stop, wait_until};

/// How often the private server scrapes its targets.
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(1);
/// How long [`Prometheus::start`] waits for `/-/ready`.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many fresh ports [`Prometheus::start`] tries.
const PORT_ATTEMPTS: usize = 3;
/// How long one HTTP request to the server may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A running private Prometheus, stopped by pid when dropped.
#[derive(Debug)]
pub struct Prometheus {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

/// One series of an instant query's answer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Sample {
    /// Its labels, `__name__` included when the expression keeps it.
    pub metric: BTreeMap<String, String>,
    /// The evaluation time (Unix seconds) and the value, as Prometheus
    /// writes them.
    value: (f64, String),
}

impl Sample {
    /// The value (`NaN` when Prometheus wrote one).
    pub fn value(&self) -> f64 {
        self.value.1.parse().unwrap_or(f64::NAN)
    }

    /// One label's value, or the empty string.
    pub fn label(&self, name: &str) -> &str {
        self.metric.get(name).map_or("", String::as_str)
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    data: Option<Data>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<Sample>,
}

impl Prometheus {
    /// Starts a server scraping `targets` (`HOST:PORT`, path `/metrics`,
    /// job `kura`); `Err` says why it is unavailable.
    pub fn start(targets: &[SocketAddr]) -> Result<Prometheus, String> {
        if !have_program("prometheus") {
            return Err("the prometheus binary is not on PATH (apt-get install prometheus)".to_owned());
        }
        let dir = tempfile::Builder::new()
            .prefix("kura-prometheus-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory for prometheus: {e}"))?;
        let config = dir.path().join("prometheus.yml");
        fs::write(&config, configuration(targets)).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let mut server = Prometheus { dir, port: 0, child: None };
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            server.port = free_port();
            match server.run() {
                Ok(()) => return Ok(server),
                // The port may have been taken between free_port() and the bind.
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// The server's address, `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The server's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path())
    }

    /// Runs the instant query `expr` now: its series (an empty vector when
    /// nothing matches), or why the query failed.
    pub fn query(&self, expr: &str) -> Result<Vec<Sample>, String> {
        let body = self.get(&format!("/api/v1/query?query={}", percent_encode(expr)))?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|e| format!("query {expr:?}: not an API answer ({e}): {}", String::from_utf8_lossy(&body)))?;
        match answer {
            Answer { status, data: Some(data), .. } if status == "success" && data.result_type == "vector" => {
                Ok(data.result)
            }
            Answer { status, data: Some(data), .. } if status == "success" => {
                Err(format!("query {expr:?}: a {} answer, not an instant vector", data.result_type))
            }
            Answer { error, .. } => Err(format!("query {expr:?} failed: {}", error.unwrap_or_default())),
        }
    }

    /// Polls `expr` every 50 ms until `holds` accepts its answer, and
    /// returns that answer; panics with the last answer (or error) and the
    /// server's log when `timeout` passes.
    pub fn wait_for(&self, expr: &str, timeout: Duration, mut holds: impl FnMut(&[Sample]) -> bool) -> Vec<Sample> {
        let mut last = Err(String::from("not queried yet"));
        let reached = wait_until(timeout, || {
            last = self.query(expr);
            last.as_deref().is_ok_and(&mut holds)
        });
        match last {
            Ok(samples) if reached => samples,
            last => panic!(
                "{expr} did not reach the expected answer within {timeout:?}; last: {last:?}\nlog:\n{}",
                self.log()
            ),
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let log =
            File::create(self.log_path()).map_err(|e| format!("cannot create {}: {e}", self.log_path().display()))?;
        let log_err = log.try_clone().map_err(|e| format!("cannot reuse {}: {e}", self.log_path().display()))?;
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", self.dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", self.dir.path().join("data").display()))
            .arg("--storage.tsdb.retention.time=1h")
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=warn")
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("cannot run prometheus: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "prometheus on port {} exited ({status}); its log:\n{}",
                        self.port,
                        self.log()
                    ));
                }
            }
            if self.get("/-/ready").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.stop();
        Err(format!(
            "prometheus on port {} was not ready within {READY_TIMEOUT:?}; its log:\n{}",
            self.port,
            self.log()
        ))
    }

    /// `GET path` over HTTP/1.0: the body of a 200 answer.
    fn get(&self, path: &str) -> Result<Vec<u8>, String> {
        let (status, body) = http_get(self.addr(), path)?;
        if status != 200 {
            return Err(format!("GET {path}: status {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(body)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("prometheus.log")
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `GET path` on `addr` over HTTP/1.0 (the server closes the connection
/// after the answer): the status and the body, or why it failed.
pub fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, Vec<u8>), String> {
    let fail = |e: std::io::Error| format!("GET http://{addr}{path}: {e}");
    let mut stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT).map_err(fail)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(fail)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(fail)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).map_err(fail)?;
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| format!("GET {path}: no header end"))?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("GET {path}: bad status line in {head:?}"))?;
    Ok((status, answer[split + 4..].to_vec()))
}

/// Runs `promtool check metrics` on an exposition: `Err` with promtool's
/// complaints (or why it could not run).
pub fn check_metrics(exposition: &str) -> Result<(), String> {
    if !have_program("promtool") {
        return Err("the promtool binary is not on PATH (apt-get install prometheus)".to_owned());
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(exposition.as_bytes()).map_err(|e| format!("cannot feed promtool: {e}"))?;
    }
    let output = child.wait_with_output().map_err(|e| format!("promtool: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "promtool check metrics failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn configuration(targets: &[SocketAddr]) -> String {
    let seconds = SCRAPE_INTERVAL.as_secs().max(1);
    let targets: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "global:\n  scrape_interval: {seconds}s\n  scrape_timeout: {seconds}s\n  evaluation_interval: {seconds}s\n\
         scrape_configs:\n  - job_name: kura\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_unavailable;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(percent_encode("rate(a{name=\"x y\"}[30s])"), "rate%28a%7Bname%3D%22x%20y%22%7D%5B30s%5D%29");
    }

    #[test]
    fn the_server_scrapes_itself_answers_queries_and_stops_by_pid() {
        // A target nothing listens on: `up` is 0 for it.
        let silent = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let server = match Prometheus::start(&[silent]) {
            Ok(server) => server,
            Err(reason) => return peer_unavailable("prometheus", &reason),
        };
        let pid = server.pid().unwrap();
        let up = server.wait_for("up", Duration::from_secs(30), |samples| !samples.is_empty());
        assert_eq!(up.len(), 1);
        assert_eq!(up[0].label("instance"), silent.to_string());
        assert_eq!(up[0].value(), 0.0);
        assert!(server.query("rate(").is_err());
        drop(server);
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "prometheus {pid} still runs after drop");
    }

    #[test]
    fn promtool_accepts_a_good_exposition_and_names_a_bad_one() {
        if !have_program("promtool") {
            return peer_unavailable("promtool", "not on PATH (apt-get install prometheus)");
        }
        assert_eq!(check_metrics("# HELP a_total A.\n# TYPE a_total counter\na_total 1\n"), Ok(()));
        let error = check_metrics("# HELP a A.\n# TYPE a counter\na 1\n").unwrap_err();
        assert!(error.contains("_total"), "{error}");
    }
}
