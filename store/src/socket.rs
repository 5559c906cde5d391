//! The collector's unix socket: the server that lends the store to readers
//! while the collector holds sled's lock, and the client behind
//! [`Reader::Socket`](super::Reader::Socket).
//!
//! # Protocol
//!
//! Frames are a u32 BE length, then that many bytes. A request is
//! `[PROTOCOL, op, ...]`:
//! - get (`op` 1): the tree code, then the key (rest of the frame);
//! - scan (`op` 2): the tree code and one scan: flags (bit 0 reverse, bit 1
//!   has an end, bit 2 values cut to their first
//!   [`CUT_VALUE_LEN`](super::reader::CUT_VALUE_LEN) bytes), limit u32 BE,
//!   start (u32 BE length + bytes), end (likewise, if flagged);
//! - scans (`op` 3): a u32 BE count, then that many (tree code, scan): the
//!   reads of a whole query in one round trip.
//!
//! A response is `[0, ...]` for success or `[1, UTF-8 message]` for an
//! error; a get answers `[0, 0]` (absent) or `[0, 1, value]`, a scan
//! `[0, more, (u32 BE key length, key, u32 BE value length, value)*]` where
//! `more` = 1 says the frame filled up before the limit or the range end:
//! the client asks again from after the last key. Scans answer `[0]` and
//! then, per scan in order, `more`, a u32 BE entry count and the entries;
//! once the frame is full, the remaining scans answer `more` = 1 with what
//! fitted (maybe nothing), and the client asks again for those. Plain std
//! threads: the crate builds without tokio.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::config::SocketGroup;
use super::db::{create_private_dir, ReadHandle};
use super::key::Tree;
use super::reader::{Entry, Kv, Scan};
use super::StoreError;

/// The socket's file name inside the data directory.
pub const SOCKET_FILE: &str = "kura.sock";
/// The protocol version, the first byte of every request.
pub const PROTOCOL: u8 = 1;
/// The largest request frame the server accepts.
pub const MAX_REQUEST: usize = 64 << 10;
/// The largest response frame the client accepts.
pub const MAX_RESPONSE: usize = 64 << 20;

const OP_GET: u8 = 1;
const OP_SCAN: u8 = 2;
const OP_SCANS: u8 = 3;
/// A scans request before its scans: protocol, op and count.
const SCANS_HEADER: usize = 6;
const STATUS_OK: u8 = 0;
const STATUS_ERROR: u8 = 1;
const FLAG_REVERSE: u8 = 1;
const FLAG_END: u8 = 2;
const FLAG_CUT_VALUES: u8 = 4;
/// How long a client waits for an answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections answered at once (one worker thread each); the others
    /// wait in line, in the order they came.
    pub workers: usize,
    /// Connections that may wait for a worker; past this a connection gets
    /// a "busy" error and is closed.
    pub max_waiting: usize,
    /// The largest response frame (a scan stops early and says "more").
    pub max_response_bytes: usize,
    /// A connection that sends nothing this long is closed.
    pub idle_timeout: Duration,
    /// A connection that sends nothing this long while others wait in line
    /// is closed, so that it gives its worker up (the client redials when
    /// it has another request).
    pub yield_after: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            workers: 8,
            max_waiting: 512,
            max_response_bytes: 4 << 20,
            idle_timeout: Duration::from_secs(30),
            yield_after: Duration::from_millis(500),
        }
    }
}

/// Binds `dir/kura.sock`: mode 0600 in a folder of mode 0700, the
/// collector's user only; with `group`, mode 0660 in a folder of mode 0750,
/// both handed to that group, whose members may then query (they need to
/// enter the folder and write to the socket; nothing else of the store is
/// theirs to change). A socket file left by a crashed collector is
/// replaced; one that answers is another collector, and an error.
pub fn bind(dir: &Path, group: Option<&SocketGroup>) -> Result<UnixListener, StoreError> {
    create_private_dir(dir)?;
    let (dir_mode, socket_mode) = if group.is_some() { (0o750, 0o660) } else { (0o700, 0o600) };
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::io(&path, source)
    };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(dir_mode)).map_err(io_error(dir))?;
    if let Some(group) = group {
        std::os::unix::fs::chown(dir, None, Some(group.gid)).map_err(io_error(dir))?;
    }
    let path = dir.join(SOCKET_FILE);
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            return Err(StoreError::Socket { path, detail: "another collector is serving this store".to_owned() });
        }
        std::fs::remove_file(&path).map_err(io_error(&path))?;
    }
    let listener = UnixListener::bind(&path).map_err(io_error(&path))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(socket_mode)).map_err(io_error(&path))?;
    if let Some(group) = group {
        std::os::unix::fs::chown(&path, None, Some(group.gid)).map_err(io_error(&path))?;
    }
    Ok(listener)
}

/// The store the server answers from, swapped by its owner: the
/// collector's writer empties it while it reopens the store after a write
/// error (sled refuses every operation after one failed write until it is
/// reopened), and requests meanwhile get an error saying so. Each request
/// borrows the handle only while it is answered, so emptying the slot lets
/// sled release the database once those requests end.
#[derive(Clone, Default)]
pub struct HandleSlot(Arc<RwLock<Option<ReadHandle>>>);

impl HandleSlot {
    /// A slot holding `handle`.
    pub fn new(handle: ReadHandle) -> HandleSlot {
        HandleSlot(Arc::new(RwLock::new(Some(handle))))
    }

    /// Puts `handle` in the slot (or empties it), dropping the previous one.
    pub fn set(&self, handle: Option<ReadHandle>) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = handle;
    }

    /// The current handle, if the store is open.
    pub fn get(&self) -> Option<ReadHandle> {
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

/// Stops [`serve`]: a flag, and `shutdown(2)` on the listening socket,
/// which wakes the blocked `accept` (Linux answers it with EINVAL). Not a
/// connection through the socket's path: that path may no longer lead to
/// this socket (a file system remounted under the collector, the file
/// deleted), and the collector would then never stop.
#[derive(Clone, Debug)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    socket: PathBuf,
    /// The listening socket's descriptor, as a stream to call `shutdown` on.
    listening: Arc<UnixStream>,
}

impl Shutdown {
    /// A shutdown for the server on `listener`.
    pub fn for_listener(listener: &UnixListener) -> io::Result<Shutdown> {
        let address = listener.local_addr()?;
        let socket = address
            .as_pathname()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unnamed socket"))?
            .to_path_buf();
        let listening = UnixStream::from(std::os::fd::OwnedFd::from(listener.try_clone()?));
        Ok(Shutdown { flag: Arc::new(AtomicBool::new(false)), socket, listening: Arc::new(listening) })
    }

    /// Asks the server to stop; [`serve`] returns once its connections end.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        // Fails harmlessly if the server is already gone.
        let _ = self.listening.shutdown(std::net::Shutdown::Both);
    }

    /// Whether [`trigger`](Shutdown::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// Serves the store's trees (whatever `store` holds at each request) on
/// `listener` until `shutdown` is triggered: [`ServerLimits::workers`]
/// threads answer one connection each, and connections beyond them wait in
/// line (up to [`ServerLimits::max_waiting`]) instead of being turned away,
/// so that the many monitors Hinemos starts on the same minute all get an
/// answer. At shutdown every connection, answered or waiting, is closed,
/// the socket file removed, and the function returns.
pub fn serve(listener: UnixListener, store: HandleSlot, shutdown: Shutdown, limits: ServerLimits) {
    let (line, waiting_line) = mpsc::sync_channel::<UnixStream>(limits.max_waiting);
    let waiting_line = Arc::new(Mutex::new(waiting_line));
    let state = Arc::new(ServerState {
        waiting: AtomicUsize::new(0),
        open: Mutex::new(HashMap::new()),
        next: AtomicUsize::new(0),
    });
    let workers: Vec<JoinHandle<()>> = (0..limits.workers.max(1))
        .map(|_| {
            let (line, state, store, limits, shutdown) =
                (Arc::clone(&waiting_line), Arc::clone(&state), store.clone(), limits.clone(), shutdown.clone());
            thread::spawn(move || work(&line, &state, &store, &limits, &shutdown))
        })
        .collect();
    // A blocking accept: the trigger's shutdown(2) wakes it, so an idle
    // collector costs no wakeups.
    loop {
        let accepted = listener.accept();
        if shutdown.is_triggered() {
            break;
        }
        let mut stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accept on the collector socket failed");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        state.waiting.fetch_add(1, Ordering::SeqCst);
        match line.try_send(stream) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(returned) | mpsc::TrySendError::Disconnected(returned)) => {
                state.waiting.fetch_sub(1, Ordering::SeqCst);
                stream = returned;
                let message = format!("server busy: {} connections already wait for an answer", limits.max_waiting);
                let _ = write_frame(&mut stream, &error_response(&message));
            }
        }
    }
    // Workers drain the line (closing what waits) and end when it is empty.
    drop(line);
    state.close_all();
    for worker in workers {
        let _ = worker.join();
    }
    let _ = std::fs::remove_file(&shutdown.socket);
}

/// What the acceptor and the workers share.
struct ServerState {
    /// Connections accepted and not yet taken by a worker.
    waiting: AtomicUsize,
    /// Clones of the connections being answered, to end them at shutdown.
    open: Mutex<HashMap<usize, UnixStream>>,
    next: AtomicUsize,
}

impl ServerState {
    fn close_all(&self) {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for stream in open.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A worker: takes connections from the line, oldest first, and answers
/// each until it closes, idles, or the server stops.
fn work(
    line: &Mutex<mpsc::Receiver<UnixStream>>,
    state: &ServerState,
    store: &HandleSlot,
    limits: &ServerLimits,
    shutdown: &Shutdown,
) {
    loop {
        let next = line.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut stream) = next else { return };
        state.waiting.fetch_sub(1, Ordering::SeqCst);
        if shutdown.is_triggered() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            continue;
        }
        let key = state.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            state.open.lock().unwrap_or_else(PoisonError::into_inner).insert(key, clone);
        }
        // Registered after the check above: a shutdown in between has
        // closed the others already, so look again.
        if !shutdown.is_triggered() {
            serve_connection(&mut stream, store, limits, &state.waiting);
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        state.open.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
    }
}

/// How often a worker waiting for a request looks whether others wait.
const WAIT_STEP: Duration = Duration::from_millis(100);

fn serve_connection(stream: &mut UnixStream, store: &HandleSlot, limits: &ServerLimits, waiting: &AtomicUsize) {
    if stream.set_write_timeout(Some(limits.idle_timeout)).is_err() {
        return;
    }
    loop {
        let request = match read_request(stream, limits, waiting) {
            Ok(Some(request)) => request,
            // Closed, idle too long, or a frame we cannot skip.
            Ok(None) | Err(_) => return,
        };
        let answered = match store.get() {
            Some(handle) => answer(&handle, &request, limits.max_response_bytes),
            None => Err("the collector is reopening its store after a write error; try again shortly".to_owned()),
        };
        let response = answered.unwrap_or_else(|message| error_response(&message));
        if write_frame(stream, &response).is_err() {
            return;
        }
    }
}

/// Reads the next request of a connection; `None` when the client closed
/// it, sent nothing for [`ServerLimits::idle_timeout`], or sent nothing for
/// [`ServerLimits::yield_after`] while other connections wait in line.
fn read_request(stream: &mut UnixStream, limits: &ServerLimits, waiting: &AtomicUsize) -> io::Result<Option<Vec<u8>>> {
    stream.set_read_timeout(Some(WAIT_STEP.min(limits.yield_after).max(Duration::from_millis(1))))?;
    let idle_since = Instant::now();
    let mut len = [0u8; 4];
    let mut got = 0;
    while got == 0 {
        match stream.read(&mut len) {
            Ok(0) => return Ok(None),
            Ok(n) => got = n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                let idle = idle_since.elapsed();
                if idle >= limits.idle_timeout || (idle >= limits.yield_after && waiting.load(Ordering::SeqCst) > 0) {
                    return Ok(None);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // A request has begun: the rest of it gets the whole idle timeout.
    stream.set_read_timeout(Some(limits.idle_timeout))?;
    let mut prefixed = (&len[..got]).chain(&mut *stream);
    match read_frame(&mut prefixed, MAX_REQUEST)? {
        Some(frame) => Ok(Some(frame)),
        None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "a request cut short")),
    }
}

/// The response to one request, or the message of an error response.
fn answer(store: &ReadHandle, request: &[u8], max_response: usize) -> Result<Vec<u8>, String> {
    let mut input = request;
    let protocol = take(&mut input, 1)?[0];
    if protocol != PROTOCOL {
        return Err(format!("protocol {protocol} not supported (this collector speaks {PROTOCOL})"));
    }
    let op = take(&mut input, 1)?[0];
    match op {
        OP_GET => {
            let tree = parse_tree(&mut input)?;
            let value = store.get(tree, input).map_err(|e| format!("{e:#}"))?;
            match value {
                None => Ok(vec![STATUS_OK, 0]),
                Some(value) if value.len() + 2 > max_response => {
                    Err(format!("value of {} bytes exceeds the frame limit", value.len()))
                }
                Some(value) => {
                    let mut out = vec![STATUS_OK, 1];
                    out.extend_from_slice(&value);
                    Ok(out)
                }
            }
        }
        OP_SCAN => {
            let tree = parse_tree(&mut input)?;
            let scan = parse_scan(&mut input)?;
            no_trailing_bytes(input)?;
            let mut out = vec![STATUS_OK, 0];
            let (count, full) = scan_into(store, tree, &scan, &mut out, max_response)?;
            if full && count == 0 {
                return Err("an entry exceeds the frame limit".to_owned());
            }
            out[1] = u8::from(full);
            Ok(out)
        }
        OP_SCANS => {
            let count = take_u32(&mut input)?;
            let mut scans = Vec::new();
            for _ in 0..count {
                scans.push((parse_tree(&mut input)?, parse_scan(&mut input)?));
            }
            no_trailing_bytes(input)?;
            let mut out = vec![STATUS_OK];
            let mut full = false;
            for (i, (tree, scan)) in scans.iter().enumerate() {
                let at = out.len();
                out.extend_from_slice(&[1, 0, 0, 0, 0]);
                let (count, filled) =
                    if full { (0, true) } else { scan_into(store, *tree, scan, &mut out, max_response)? };
                if filled && count == 0 && i == 0 {
                    return Err("an entry exceeds the frame limit".to_owned());
                }
                full |= filled;
                out[at] = u8::from(filled);
                let count = u32::try_from(count).map_err(|_| "too many entries")?;
                out[at + 1..at + 5].copy_from_slice(&count.to_be_bytes());
            }
            Ok(out)
        }
        _ => Err(format!("unknown operation {op}")),
    }
}

/// Appends the entries of one scan to `out` while the frame stays within
/// `max_response`: how many, and whether the frame filled up first.
fn scan_into(
    store: &ReadHandle,
    tree: Tree,
    scan: &Scan,
    out: &mut Vec<u8>,
    max_response: usize,
) -> Result<(usize, bool), String> {
    let mut count = 0usize;
    let mut full = false;
    store
        .for_each(tree, scan, |k, v| {
            let size = 8 + k.len() + v.len();
            if out.len() + size > max_response {
                full = true;
                return false;
            }
            put_bytes(out, k);
            put_bytes(out, v);
            count += 1;
            true
        })
        .map_err(|e| format!("{e:#}"))?;
    Ok((count, full))
}

fn parse_tree(input: &mut &[u8]) -> Result<Tree, String> {
    let code = take(input, 1)?[0];
    Tree::from_code(code).ok_or_else(|| format!("unknown tree {code}"))
}

fn parse_scan(input: &mut &[u8]) -> Result<Scan, String> {
    let flags = take(input, 1)?[0];
    let limit = take_u32(input)?;
    let start = take_bytes(input)?.to_vec();
    let end = if flags & FLAG_END != 0 { Some(take_bytes(input)?.to_vec()) } else { None };
    Ok(Scan {
        start,
        end,
        reverse: flags & FLAG_REVERSE != 0,
        limit: usize::try_from(limit).unwrap_or(usize::MAX),
        cut_values: flags & FLAG_CUT_VALUES != 0,
    })
}

fn no_trailing_bytes(input: &[u8]) -> Result<(), String> {
    if input.is_empty() {
        Ok(())
    } else {
        Err("trailing bytes in the request".to_owned())
    }
}

/// The answer to a scans request of `count` scans: per scan, whether it
/// has more, and the entries that fitted.
fn parse_scans_answer(mut input: &[u8], count: usize) -> Result<Vec<(bool, Vec<Entry>)>, String> {
    let mut parts = Vec::with_capacity(count);
    for _ in 0..count {
        let more = take(&mut input, 1)?[0] == 1;
        let entries = (0..take_u32(&mut input)?)
            .map(|_| Ok((take_bytes(&mut input)?.to_vec(), take_bytes(&mut input)?.to_vec())))
            .collect::<Result<Vec<Entry>, String>>()?;
        parts.push((more, entries));
    }
    no_trailing_bytes(input)?;
    Ok(parts)
}

/// Appends one scan as the protocol writes it (see the module's header).
fn put_scan(out: &mut Vec<u8>, tree: Tree, scan: &Scan) {
    out.push(tree.code());
    let mut flags = 0;
    if scan.reverse {
        flags |= FLAG_REVERSE;
    }
    if scan.end.is_some() {
        flags |= FLAG_END;
    }
    if scan.cut_values {
        flags |= FLAG_CUT_VALUES;
    }
    out.push(flags);
    out.extend_from_slice(&u32::try_from(scan.limit).unwrap_or(u32::MAX).to_be_bytes());
    put_bytes(out, &scan.start);
    if let Some(end) = &scan.end {
        put_bytes(out, end);
    }
}

/// The scan that goes on after `entries` (what a scan answered so far).
fn resumed(scan: &Scan, entries: &[Entry]) -> Scan {
    let mut next = Scan { limit: scan.limit.saturating_sub(entries.len()), ..scan.clone() };
    if let Some((last, _)) = entries.last() {
        if scan.reverse {
            next.end = Some(last.clone());
        } else {
            let mut after = last.clone();
            after.push(0);
            next.start = after;
        }
    }
    next
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if input.len() < n {
        return Err("request too short".to_owned());
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_u32(input: &mut &[u8]) -> Result<u32, String> {
    let bytes: [u8; 4] = take(input, 4)?.try_into().map_err(|_| "request too short")?;
    Ok(u32::from_be_bytes(bytes))
}

fn take_bytes<'a>(input: &mut &'a [u8]) -> Result<&'a [u8], String> {
    let len = take_u32(input)?;
    take(input, usize::try_from(len).map_err(|_| "length")?)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB: the frame limit is smaller.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn error_response(message: &str) -> Vec<u8> {
    let mut out = vec![STATUS_ERROR];
    out.extend_from_slice(message.as_bytes());
    out
}

/// Reads one frame; `None` when the peer closed before a new frame.
fn read_frame(stream: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut frame = vec![0; len];
    stream.read_exact(&mut frame)?;
    Ok(Some(frame))
}

/// Writes one frame in one write (one system call for a small frame).
fn write_frame(stream: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len =
        u32::try_from(payload.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)?;
    stream.flush()
}

/// The reader's side of the socket.
pub struct SocketClient {
    path: PathBuf,
    stream: Mutex<Option<UnixStream>>,
}

impl SocketClient {
    /// Connects to a collector's socket.
    pub fn connect(path: &Path) -> Result<SocketClient, StoreError> {
        let stream = Self::dial(path)?;
        Ok(SocketClient { path: path.to_path_buf(), stream: Mutex::new(Some(stream)) })
    }

    fn dial(path: &Path) -> Result<UnixStream, StoreError> {
        let stream = UnixStream::connect(path).map_err(|source| StoreError::io(path, source))?;
        for timeout in [stream.set_read_timeout(Some(CLIENT_TIMEOUT)), stream.set_write_timeout(Some(CLIENT_TIMEOUT))] {
            timeout.map_err(|source| StoreError::io(path, source))?;
        }
        Ok(stream)
    }

    fn error(&self, detail: String) -> StoreError {
        StoreError::Socket { path: self.path.clone(), detail }
    }

    /// Sends a request and returns the payload of a success response. A
    /// connection the server closed (idle timeout) is redialled once.
    fn request(&self, request: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut guard = self.stream.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut last_error = None;
        for _attempt in 0..2 {
            let stream = match guard.as_mut() {
                Some(stream) => stream,
                None => guard.insert(Self::dial(&self.path)?),
            };
            let exchanged = write_frame(stream, request).and_then(|()| read_frame(stream, MAX_RESPONSE));
            match exchanged {
                Ok(Some(response)) => return self.payload(response),
                Ok(None) => last_error = Some("the collector closed the connection".to_owned()),
                Err(e) => last_error = Some(e.to_string()),
            }
            *guard = None;
        }
        Err(self.error(last_error.unwrap_or_default()))
    }

    fn payload(&self, mut response: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        match response.first() {
            Some(&STATUS_OK) => {
                response.remove(0);
                Ok(response)
            }
            Some(&STATUS_ERROR) => {
                let message = String::from_utf8_lossy(&response[1..]);
                // A collector started before an upgrade of kura does not
                // know a newer operation or tree (`processes`, `memory`).
                let older = ["unknown operation", "unknown tree"].iter().any(|m| message.starts_with(m));
                let hint = if older { ": the running kura-collector is older than this kura; restart it" } else { "" };
                Err(self.error(format!("the collector answered: {message}{hint}")))
            }
            _ => Err(self.error("malformed response".to_owned())),
        }
    }
}

impl Kv for SocketClient {
    fn path(&self) -> &Path {
        &self.path
    }

    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut request = vec![PROTOCOL, OP_GET, tree.code()];
        request.extend_from_slice(key);
        let response = self.request(&request)?;
        match response.split_first() {
            Some((0, [])) => Ok(None),
            Some((1, value)) => Ok(Some(value.to_vec())),
            _ => Err(self.error("malformed get response".to_owned())),
        }
    }

    fn scan(&self, tree: Tree, scan: &Scan) -> Result<Vec<Entry>, StoreError> {
        Ok(self.scan_many(&[(tree, scan.clone())])?.pop().unwrap_or_default())
    }

    /// One request for all of them; scans the frame had no room for are
    /// asked again, from where they stopped.
    fn scan_many(&self, scans: &[(Tree, Scan)]) -> Result<Vec<Vec<Entry>>, StoreError> {
        let mut answers: Vec<Vec<Entry>> = vec![Vec::new(); scans.len()];
        let mut pending: Vec<usize> = (0..scans.len()).filter(|&i| scans[i].1.limit > 0).collect();
        while !pending.is_empty() {
            // As many scans as one request frame holds (at least one).
            let mut body = Vec::new();
            let mut taken = 0;
            for &i in &pending {
                let mut one = Vec::new();
                put_scan(&mut one, scans[i].0, &resumed(&scans[i].1, &answers[i]));
                if taken > 0 && SCANS_HEADER + body.len() + one.len() > MAX_REQUEST {
                    break;
                }
                body.extend_from_slice(&one);
                taken += 1;
            }
            let (batch, later) = pending.split_at(taken);
            let mut request = Vec::with_capacity(SCANS_HEADER + body.len());
            request.extend_from_slice(&[PROTOCOL, OP_SCANS]);
            request.extend_from_slice(&u32::try_from(taken).unwrap_or(u32::MAX).to_be_bytes());
            request.extend_from_slice(&body);
            let response = self.request(&request)?;
            let parts = parse_scans_answer(&response, taken)
                .map_err(|e| self.error(format!("malformed scans response: {e}")))?;
            let mut unfinished = Vec::new();
            for (&i, (more, entries)) in batch.iter().zip(parts) {
                // A collector older than the cut sends whole values.
                answers[i].extend(entries.into_iter().map(|(k, mut v)| {
                    v.truncate(scans[i].1.value_of(&v).len());
                    (k, v)
                }));
                if more && answers[i].len() < scans[i].1.limit {
                    unfinished.push(i);
                }
            }
            unfinished.extend_from_slice(later);
            pending = unfinished;
        }
        Ok(answers)
    }
}
