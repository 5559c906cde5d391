//! A Hinemos 7 manager's REST API for tests, on a free loopback port: the
//! repository endpoints kura uses and the login, answering as the manager's
//! source does ([`model`]), with the request and response examples of
//! `fixtures/hinemos-7/` as its contract tests. No real manager can run on
//! the test machines; this is the contract kura is checked against.
//!
//! Knobs for what a real manager does on its own: tokens that die after a
//! number of requests ([`ContractManager::token_uses`]) or all at once (a
//! restart, [`ContractManager::forget_tokens`]), and a manager that stops
//! answering after some writes ([`ContractManager::stop_after_writes`]).

mod http;
pub mod model;

use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use model::{Logged, State, StoredNode};

/// The login every contract manager knows.
pub const USER: &str = "hinemos";
/// Its password.
pub const PASSWORD: &str = "hinemos-contract";

/// A running contract manager; stops when dropped.
pub struct ContractManager {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl ContractManager {
    /// Starts one on 127.0.0.1 with an empty repository (its built-in
    /// scopes only) and the user [`USER`].
    pub fn start() -> std::io::Result<ContractManager> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::new(USER, PASSWORD)));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
                    thread::spawn(move || serve(stream, &state, &stop));
                }
            })
        };
        Ok(ContractManager { address, state, stop, accept: Some(accept) })
    }

    /// `http://127.0.0.1:PORT`, the manager URL as operators write it.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The manager's state, to read or arrange.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every new token is good for `uses` requests (`None`: until the manager stops).
    pub fn token_uses(&self, uses: Option<u32>) {
        self.state().token_uses = uses;
    }

    /// Forgets every token, as a restarted manager does.
    pub fn forget_tokens(&self) {
        self.state().forget_tokens();
    }

    /// After `writes` more answered writes, answers nothing (closes every
    /// connection) until [`ContractManager::resume`].
    pub fn stop_after_writes(&self, writes: u32) {
        self.state().writes_left = Some(writes);
    }

    /// Answers again.
    pub fn resume(&self) {
        self.state().writes_left = None;
    }

    /// The requests answered so far.
    pub fn log(&self) -> Vec<Logged> {
        self.state().log.clone()
    }

    /// A stored node.
    pub fn node(&self, id: &str) -> Option<StoredNode> {
        self.state().node(id).cloned()
    }

    /// The node members and child scopes of a scope.
    pub fn members(&self, scope: &str) -> std::collections::BTreeSet<String> {
        self.state().members(scope)
    }

    /// Whether a scope exists.
    pub fn has_scope(&self, id: &str) -> bool {
        matches!(self.state().facilities.get(id), Some(model::Facility::Scope(_)))
    }

    /// Arranges a scope, as an operator would add it (`parent` `None`: the top).
    pub fn add_scope(&self, id: &str, parent: Option<&str>) -> Result<(), String> {
        let body = serde_json::json!({"parentFacilityId": parent,
            "scopeInfo": {"facilityId": id, "facilityName": id, "ownerRoleId": "ALL_USERS"}});
        self.state().arrange("/scope", &body)
    }

    /// Arranges a node from an `AddNodeRequest` document, as an operator
    /// (or the 2015 scripts) would add it.
    pub fn add_node(&self, request: &serde_json::Value) -> Result<(), String> {
        self.state().arrange("/node", request)
    }
}

impl Drop for ContractManager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Answers one connection's requests until the client closes it or the
/// manager stops.
fn serve(stream: TcpStream, state: &Mutex<State>, stop: &AtomicBool) {
    if stream.set_read_timeout(Some(Duration::from_secs(30))).is_err() {
        return;
    }
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while !stop.load(Ordering::SeqCst) {
        let request = match http::read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) | Err(_) => return,
        };
        let (status, body) = {
            let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
            // Gone: no answer at all.
            if state.writes_left == Some(0) {
                return;
            }
            let (status, body) = state.answer(&request);
            let query = request.query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
            let path = if query.is_empty() { request.path.clone() } else { format!("{}?{query}", request.path) };
            let logged = Logged { method: request.method.clone(), path, status };
            if logged.is_write() && (200..300).contains(&status) {
                if let Some(left) = &mut state.writes_left {
                    *left = left.saturating_sub(1);
                }
            }
            state.log.push(logged);
            (status, body)
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        if http::write_response(&mut writer, status, &bytes).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
