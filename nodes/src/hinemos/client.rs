//! The manager's REST API over HTTP(S), blocking (ureq): log in, call,
//! log in again once when a token is refused (tokens live only in the
//! manager's memory, so a manager restart forgets them), and turn every
//! refusal into an error carrying the manager's own message.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

use super::dto::{
    AddScopeRequest, ExceptionBody, FacilityIdList, FacilityInfo, GetNodeListResponse, LoginRequest, LoginResponse,
    NodeInfo, ScopeInfo, SetValidRequest,
};

/// The API's path on a manager (`rest_client_address` + `/HinemosWeb/api`).
pub const API_PATH: &str = "/HinemosWeb/api";
/// The largest answer read, bytes (a node list of a large manager).
const MAX_BODY: u64 = 256 << 20;

/// How to reach and log in to a manager.
#[derive(Clone)]
pub struct ManagerConfig {
    /// The API's base, `http://HOST:8080/HinemosWeb/api` (see [`api_base`]).
    pub api: String,
    /// The login.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Per-request timeout (connect, send and answer).
    pub timeout: Duration,
    /// Certificates to trust for `https://` (PEM); `None`: the public web roots.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ManagerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerConfig")
            .field("api", &self.api)
            .field("user", &self.user)
            .field("timeout", &self.timeout)
            .field("ca_pem", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// The API base for a manager URL as operators write it: `http://mgr:8080`
/// (or with `/`, `/HinemosWeb`, `/HinemosWeb/api`) -> `http://mgr:8080/HinemosWeb/api`.
/// The 2015 scripts' `.../HinemosWS` (Hinemos 5's SOAP service) means the
/// same manager. Any other path is taken as the API's own (a reverse proxy).
pub fn api_base(url: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("manager URL {url:?}: write http://HOST:8080"))?;
    if scheme != "http" && scheme != "https" {
        return Err(format!("manager URL {url:?}: the scheme must be http or https"));
    }
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    if authority.is_empty() || authority.contains(['?', '#', '@']) || path.contains(['?', '#']) {
        return Err(format!("manager URL {url:?}: write http://HOST:8080"));
    }
    let path = path.trim_end_matches('/');
    let api = match path {
        "" | "HinemosWS" | "HinemosWeb" => API_PATH.to_owned(),
        other => format!("/{other}"),
    };
    Ok(format!("{scheme}://{authority}{api}"))
}

/// Why a call to the manager failed. Each names the call or the manager.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// No answer (refused, timed out, name unknown, TLS failed).
    #[error("manager {api} cannot be reached: {reason}")]
    Unreachable {
        /// The API base.
        api: String,
        /// Why.
        reason: String,
    },
    /// The login was refused.
    #[error("manager {api} refused the login of {user} ({status}): {message}")]
    Login {
        /// The API base.
        api: String,
        /// The login.
        user: String,
        /// The HTTP status.
        status: u16,
        /// The manager's message.
        message: String,
    },
    /// A call was refused.
    #[error("{call}: the manager answered {status}: {message}")]
    Refused {
        /// `PUT /repository/node/x`.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The manager's message (and exception class).
        message: String,
    },
    /// The answer is not what Hinemos 7 sends.
    #[error("{call}: the answer is not Hinemos 7's: {reason}")]
    Decode {
        /// The call.
        call: String,
        /// serde's message.
        reason: String,
    },
}

impl ManagerError {
    /// Whether the manager is gone (nothing else can be done this run).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ManagerError::Unreachable { .. })
    }
}

/// A logged-in manager.
pub struct Manager {
    agent: Agent,
    config: ManagerConfig,
    token: String,
    logins: u32,
}

/// A request's method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// An answer: status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Manager {
    /// Logs in.
    pub fn connect(config: ManagerConfig) -> Result<Manager, ManagerError> {
        let mut tls = TlsConfig::builder();
        if let Some(pem) = &config.ca_pem {
            let certs = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                })
                .collect::<Result<Vec<Certificate<'static>>, _>>()
                .map_err(|e| ManagerError::Unreachable { api: config.api.clone(), reason: format!("ca_file: {e}") })?;
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let agent: Agent = Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .tls_config(tls.build())
            .user_agent(concat!("kura-nodes/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let mut manager = Manager { agent, config, token: String::new(), logins: 0 };
        manager.login()?;
        Ok(manager)
    }

    /// How many times this run logged in.
    pub fn logins(&self) -> u32 {
        self.logins
    }

    /// The API base.
    pub fn api(&self) -> &str {
        &self.config.api
    }

    fn login(&mut self) -> Result<(), ManagerError> {
        let request = LoginRequest { user_id: self.config.user.clone(), password: self.config.password.clone() };
        let path = "/AccessRestEndpoints/access/login";
        let answer = self.send(Method::Post, path, Some(json(&request)), None)?;
        if answer.status != 200 {
            return Err(ManagerError::Login {
                api: self.config.api.clone(),
                user: self.config.user.clone(),
                status: answer.status,
                message: message(&answer),
            });
        }
        let login: LoginResponse = decode(&format!("POST {path}"), &answer.body)?;
        self.token = login.token.token_id;
        self.logins += 1;
        Ok(())
    }

    /// Sends one request and reads the whole answer.
    fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        token: Option<&str>,
    ) -> Result<Answer, ManagerError> {
        let url = format!("{}{path}", self.config.api);
        let bearer = token.map(|t| format!("Bearer {t}"));
        let sent = match (method, body) {
            (Method::Get | Method::Delete, _) => {
                let mut request = if method == Method::Get { self.agent.get(&url) } else { self.agent.delete(&url) };
                if let Some(bearer) = &bearer {
                    request = request.header("Authorization", bearer);
                }
                request.header("Accept", "application/json").call()
            }
            (_, body) => {
                let mut request = if method == Method::Post { self.agent.post(&url) } else { self.agent.put(&url) };
                if let Some(bearer) = &bearer {
                    request = request.header("Authorization", bearer);
                }
                request
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json")
                    .send(body.unwrap_or_default().as_slice())
            }
        };
        let unreachable =
            |e: ureq::Error| ManagerError::Unreachable { api: self.config.api.clone(), reason: e.to_string() };
        let mut response = sent.map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(unreachable)?;
        Ok(Answer { status, body })
    }

    /// A repository call with the token; on 401, one new login and the call again.
    fn call(&mut self, method: Method, path: &str, body: Option<Vec<u8>>) -> Result<Answer, ManagerError> {
        let path = format!("/RepositoryRestEndpoints/repository{path}");
        let token = self.token.clone();
        let mut answer = self.send(method, &path, body.clone(), Some(&token))?;
        if answer.status == 401 {
            self.login()?;
            let token = self.token.clone();
            answer = self.send(method, &path, body, Some(&token))?;
        }
        match answer.status {
            200..=299 => Ok(answer),
            status => Err(ManagerError::Refused {
                call: format!("{} {path}", method.name()),
                status,
                message: message(&answer),
            }),
        }
    }

    /// A call whose answer is decoded.
    fn call_for<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ManagerError> {
        let answer = self.call(method, path, body)?;
        decode(&format!("{} {path}", method.name()), &answer.body)
    }

    /// A GET that may answer 404.
    fn get_optional<T: DeserializeOwned>(&mut self, path: &str) -> Result<Option<T>, ManagerError> {
        match self.call_for(Method::Get, path, None) {
            Err(ManagerError::Refused { status: 404, .. }) => Ok(None),
            other => other.map(Some),
        }
    }

    /// Every node's facility id (`GET /node_withoutNodeConfigInfo`).
    pub fn node_ids(&mut self) -> Result<Vec<String>, ManagerError> {
        let list: GetNodeListResponse = self.call_for(Method::Get, "/node_withoutNodeConfigInfo", None)?;
        Ok(list.node_info_list.into_iter().map(|n| n.facility_id).collect())
    }

    /// A whole node (`GET /node/{id}`), `None` when there is none.
    pub fn node(&mut self, facility_id: &str) -> Result<Option<NodeInfo>, ManagerError> {
        self.get_optional(&format!("/node/{facility_id}"))
    }

    /// Adds a node (`POST /node`).
    pub fn add_node(&mut self, node: &NodeInfo) -> Result<(), ManagerError> {
        self.call(Method::Post, "/node", Some(json(node))).map(drop)
    }

    /// Replaces a node (`PUT /node/{id}`): send it whole.
    pub fn modify_node(&mut self, facility_id: &str, node: &NodeInfo) -> Result<(), ManagerError> {
        self.call(Method::Put, &format!("/node/{facility_id}"), Some(json(node))).map(drop)
    }

    /// Sets a node's managed flag (`PUT /node_valid/{id}`), keeping the rest.
    pub fn set_valid(&mut self, facility_id: &str, valid: bool) -> Result<(), ManagerError> {
        self.call(Method::Put, &format!("/node_valid/{facility_id}"), Some(json(&SetValidRequest { flg: valid })))
            .map(drop)
    }

    /// Deletes nodes (`DELETE /node?facilityIds=a,b`).
    pub fn delete_nodes(&mut self, facility_ids: &[String]) -> Result<(), ManagerError> {
        self.call(Method::Delete, &format!("/node?facilityIds={}", facility_ids.join(",")), None).map(drop)
    }

    /// A scope (`GET /scope/{id}`), `None` when there is none.
    pub fn scope(&mut self, facility_id: &str) -> Result<Option<ScopeInfo>, ManagerError> {
        self.get_optional(&format!("/scope/{facility_id}"))
    }

    /// A scope's children (`GET /facility?parentFacilityId=`).
    pub fn children(&mut self, facility_id: &str) -> Result<Vec<FacilityInfo>, ManagerError> {
        self.call_for(Method::Get, &format!("/facility?parentFacilityId={facility_id}"), None)
    }

    /// Adds a scope (`POST /scope`).
    pub fn add_scope(&mut self, request: &AddScopeRequest) -> Result<(), ManagerError> {
        self.call(Method::Post, "/scope", Some(json(request))).map(drop)
    }

    /// Assigns nodes to a scope (`PUT /facilityRelation/{scope}`).
    pub fn assign(&mut self, scope: &str, facility_ids: &[String]) -> Result<(), ManagerError> {
        let body = FacilityIdList { facility_id_list: facility_ids.to_vec() };
        self.call(Method::Put, &format!("/facilityRelation/{scope}"), Some(json(&body))).map(drop)
    }

    /// Releases nodes from a scope (`PUT /facilityRelation_release/{scope}`).
    pub fn release(&mut self, scope: &str, facility_ids: &[String]) -> Result<(), ManagerError> {
        let body = FacilityIdList { facility_id_list: facility_ids.to_vec() };
        self.call(Method::Put, &format!("/facilityRelation_release/{scope}"), Some(json(&body))).map(drop)
    }
}

/// A request body. Serializing plain data cannot fail.
fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(call: &str, body: &str) -> Result<T, ManagerError> {
    serde_json::from_str(body).map_err(|e| ManagerError::Decode { call: call.to_owned(), reason: e.to_string() })
}

/// The manager's message in an error answer: `ExceptionBody.message` (with
/// the exception's class), else the body itself, cut.
fn message(answer: &Answer) -> String {
    match serde_json::from_str::<ExceptionBody>(&answer.body) {
        Ok(ExceptionBody { message: Some(message), exception, .. }) => match exception {
            Some(class) => format!("{message} ({})", class.rsplit('.').next().unwrap_or(&class)),
            None => message,
        },
        _ if answer.body.trim().is_empty() => "(no message)".to_owned(),
        _ => answer.body.chars().take(300).collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_urls_as_operators_write_them() {
        let api = "http://mgr:8080/HinemosWeb/api";
        for url in
            ["http://mgr:8080", "http://mgr:8080/", "http://mgr:8080/HinemosWeb", "http://mgr:8080/HinemosWeb/api/"]
        {
            assert_eq!(api_base(url).as_deref(), Ok(api), "{url}");
        }
        // The 2015 scripts' default (-m): the same manager, now over REST.
        assert_eq!(api_base("http://127.0.0.1:8080/HinemosWS").as_deref(), Ok("http://127.0.0.1:8080/HinemosWeb/api"));
        assert_eq!(api_base("https://proxy/hinemos/api").as_deref(), Ok("https://proxy/hinemos/api"));
        assert!(api_base("mgr:8080").is_err());
        assert!(api_base("ftp://mgr").is_err());
        assert!(api_base("http://").is_err());
        assert!(api_base("http://u:p@mgr").is_err());
    }

    #[test]
    fn error_messages_are_the_managers() {
        let answer = Answer {
            status: 400,
            body: r#"{"status":400,"message":"Facility ID is invalid.","exception":"com.clustercontrol.fault.InvalidSetting","stack":[]}"#.to_owned(),
        };
        assert_eq!(message(&answer), "Facility ID is invalid. (InvalidSetting)");
        assert_eq!(
            message(&Answer { status: 502, body: "<html>\n bad gateway</html>".to_owned() }),
            "<html> bad gateway</html>"
        );
        assert_eq!(message(&Answer { status: 500, body: String::new() }), "(no message)");
    }
}
