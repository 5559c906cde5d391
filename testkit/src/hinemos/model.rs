//! The manager's side of the contract: its repository (nodes, scopes,
//! relations), users, roles and platforms, and every endpoint kura uses,
//! answering as Hinemos 7.1's source does (see
//! `shared/reference/hinemos-repository-api.md` and `fixtures/hinemos-7/`):
//!
//! - a node is stored as the manager's `NodeInfo` entity: a request is
//!   copied field by field onto a fresh entity with its defaults (null
//!   fields skipped), so a `PUT /node/{id}` that leaves a field out resets
//!   it (`valid` to true, the variable and host name lists to empty);
//! - `RepositoryValidator`'s rules: ids, lengths, the platform and owner
//!   role must exist, IPv4 dotted quads, empty variable values refused,
//!   duplicates refused;
//! - refusals as `ExceptionBody` with the exception mapper's statuses:
//!   400 invalid, 401 login/token, 404 not found, 409 duplicate, 500 for
//!   built-in scopes and for releasing a node that is not assigned;
//! - `Include.NON_NULL`: null fields are left out of answers; unknown
//!   request fields are ignored.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::http::Request;

/// The API's base path.
pub const API: &str = "/HinemosWeb/api";
const REPOSITORY: &str = "/HinemosWeb/api/RepositoryRestEndpoints/repository";
/// The manager's major version (`X-HinemosClientVersion` must equal it).
pub const VERSION: &str = "7.1";
/// Scopes the manager builds itself.
pub const BUILT_IN: &[&str] = &["REGISTERED", "UNREGISTERED", "OWNER", "OS", "INTERNAL", "LINUX", "WINDOWS"];
const ROLES: &[&str] = &["ALL_USERS", "ADMINISTRATORS", "INTERNAL"];
const PLATFORMS: &[&str] = &["LINUX", "WINDOWS", "NW_EQUIPMENT", "OTHER"];
const ID_PATTERN: fn(char) -> bool = |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');

/// An answer: status and JSON body.
pub type Answer = (u16, Value);

/// A refusal as the exception mapper writes it.
fn refusal(status: u16, exception: &str, message: impl Into<String>) -> Answer {
    (
        status,
        json!({"status": status, "message": message.into(), "exception": format!("com.clustercontrol.fault.{exception}"), "stack": []}),
    )
}

fn invalid(message: impl Into<String>) -> Answer {
    refusal(400, "InvalidSetting", message)
}

fn not_found(id: &str) -> Answer {
    refusal(404, "FacilityNotFound", format!("Facility not found. (facilityId = {id})"))
}

fn built_in() -> Answer {
    refusal(500, "HinemosUnknown", "this facility is built in scope")
}

/// A stored node: the manager's `NodeInfo` entity (the fields this
/// contract keeps), defaults as in `NodeInfo.setDefaultInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredNode {
    /// Its facility id.
    pub facility_id: String,
    /// Its facility name.
    pub facility_name: String,
    /// Its description.
    pub description: String,
    /// Its owner role.
    pub owner_role_id: String,
    /// The managed flag.
    pub valid: bool,
    /// Device search.
    pub auto_device_search: bool,
    /// Platform.
    pub platform_family: String,
    /// Sub-platform.
    pub sub_platform_family: String,
    /// Hardware type.
    pub hardware_type: String,
    /// Node name.
    pub node_name: String,
    /// 4 or 6 (-1 when not given).
    #[serde(skip)]
    pub ip_version: i32,
    /// IPv4.
    pub ip_address_v4: String,
    /// IPv6.
    pub ip_address_v6: String,
    /// Host names.
    pub hostnames: Vec<String>,
    /// Variables, in order.
    pub variables: Vec<(String, String)>,
    /// Administrator.
    pub administrator: String,
    /// Contact.
    pub contact: String,
    /// SNMP port.
    pub snmp_port: i64,
    /// SNMP community.
    pub snmp_community: String,
    /// SSH user.
    pub ssh_user: String,
    /// Job priority.
    pub job_priority: i64,
    /// Agent port.
    pub agent_awake_port: i64,
    /// Creation time.
    pub create_datetime: String,
    /// Last change.
    pub modify_datetime: String,
}

impl StoredNode {
    /// The value of a variable.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.variables.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `AddNodeRequest` / `ModifyNodeRequest` as Jackson reads them: every
/// field optional, unknown ones ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeRequest {
    facility_id: Option<String>,
    facility_name: Option<String>,
    description: Option<String>,
    owner_role_id: Option<String>,
    valid: Option<bool>,
    auto_device_search: Option<bool>,
    platform_family: Option<String>,
    sub_platform_family: Option<String>,
    hardware_type: Option<String>,
    node_name: Option<String>,
    ip_address_version: Option<String>,
    ip_address_v4: Option<String>,
    ip_address_v6: Option<String>,
    node_hostname_info: Option<Vec<HostnameRequest>>,
    node_variable_info: Option<Vec<VariableRequest>>,
    administrator: Option<String>,
    contact: Option<String>,
    snmp_port: Option<i64>,
    snmp_community: Option<String>,
    ssh_user: Option<String>,
    job_priority: Option<i64>,
    agent_awake_port: Option<i64>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct HostnameRequest {
    hostname: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VariableRequest {
    node_variable_name: Option<String>,
    node_variable_value: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeRequest {
    facility_id: Option<String>,
    facility_name: Option<String>,
    description: Option<String>,
    owner_role_id: Option<String>,
    icon_image: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddScopeRequest {
    parent_facility_id: Option<String>,
    scope_info: Option<ScopeRequest>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RelationRequest {
    facility_id_list: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
struct SetValidRequest {
    flg: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoginRequest {
    user_id: Option<String>,
    password: Option<String>,
}

/// A stored scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredScope {
    /// Its facility id.
    pub facility_id: String,
    /// Its name.
    pub facility_name: String,
    /// Its description.
    pub description: String,
    /// Its owner role.
    pub owner_role_id: String,
    /// Built by the manager.
    pub built_in: bool,
}

/// A facility: node or scope (one id space).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Facility {
    /// A node.
    Node(Box<StoredNode>),
    /// A scope.
    Scope(StoredScope),
}

/// A token and how many more requests it is good for (`None`: until the
/// manager stops, as with the default 1440 minutes).
#[derive(Clone, Debug)]
struct Token {
    uses_left: Option<u32>,
}

/// One request the manager answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// Method.
    pub method: String,
    /// Path (and query).
    pub path: String,
    /// Status answered.
    pub status: u16,
}

impl Logged {
    /// Whether it could change the repository.
    pub fn is_write(&self) -> bool {
        self.method != "GET" && !self.path.ends_with("/access/login")
    }
}

/// The whole manager.
#[derive(Debug)]
pub struct State {
    users: BTreeMap<String, String>,
    tokens: BTreeMap<String, Token>,
    next_token: u64,
    /// Requests a new token is good for (`None`: unlimited).
    pub token_uses: Option<u32>,
    /// Facilities by id, `_ROOT_` excluded.
    pub facilities: BTreeMap<String, Facility>,
    /// (scope, child): scopes in scopes and nodes in scopes; `None` parent is the top.
    pub relations: BTreeSet<(Option<String>, String)>,
    /// Every request answered.
    pub log: Vec<Logged>,
    /// Successful logins.
    pub logins: u32,
    /// After this many more answered writes the manager stops answering.
    pub writes_left: Option<u32>,
    clock: u64,
}

impl State {
    /// A fresh manager with its built-in scopes and the user `user`.
    pub fn new(user: &str, password: &str) -> State {
        let mut state = State {
            users: BTreeMap::from([(user.to_owned(), password.to_owned())]),
            tokens: BTreeMap::new(),
            next_token: 1,
            token_uses: None,
            facilities: BTreeMap::new(),
            relations: BTreeSet::new(),
            log: Vec::new(),
            logins: 0,
            writes_left: None,
            clock: 0,
        };
        for id in BUILT_IN {
            state.facilities.insert(
                (*id).to_owned(),
                Facility::Scope(StoredScope {
                    facility_id: (*id).to_owned(),
                    facility_name: (*id).to_owned(),
                    description: String::new(),
                    owner_role_id: "ADMINISTRATORS".to_owned(),
                    built_in: true,
                }),
            );
        }
        for id in ["REGISTERED", "UNREGISTERED", "OWNER", "OS", "INTERNAL"] {
            state.relations.insert((None, id.to_owned()));
        }
        for platform in ["LINUX", "WINDOWS"] {
            state.relations.insert((Some("OS".to_owned()), platform.to_owned()));
        }
        state
    }

    /// Forgets every token, as a restarted manager does.
    pub fn forget_tokens(&mut self) {
        self.tokens.clear();
    }

    /// A node.
    pub fn node(&self, id: &str) -> Option<&StoredNode> {
        match self.facilities.get(id) {
            Some(Facility::Node(node)) => Some(node),
            _ => None,
        }
    }

    /// The direct members of a scope.
    pub fn members(&self, scope: &str) -> BTreeSet<String> {
        self.relations.iter().filter(|(p, _)| p.as_deref() == Some(scope)).map(|(_, c)| c.clone()).collect()
    }

    /// The scope a scope sits in (`Some(None)`: the top level).
    pub fn parent(&self, scope: &str) -> Option<Option<String>> {
        self.relations.iter().find(|(_, c)| c == scope).map(|(p, _)| p.clone())
    }

    fn tick(&mut self) -> String {
        self.clock += 1;
        format!("2026-11-28 10:{:02}:{:02}.000", (self.clock / 60) % 60, self.clock % 60)
    }

    /// Answers a request.
    pub fn answer(&mut self, request: &Request) -> Answer {
        if let Some(version) = request.header("x-hinemosclientversion") {
            if version != VERSION {
                return invalid(format!("client version {version} does not match the manager's {VERSION}"));
            }
        }
        if request.method == "POST" && request.path == format!("{API}/AccessRestEndpoints/access/login") {
            return self.login(&request.body);
        }
        let Some(path) = request.path.strip_prefix(REPOSITORY) else {
            return (404, json!({"status": 404, "message": "HTTP 404 Not Found"}));
        };
        if let Err(answer) = self.authorize(request) {
            return answer;
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (request.method.as_str(), segments.as_slice()) {
            ("GET", ["node_withoutNodeConfigInfo"]) => self.node_list(),
            ("GET", ["node", id]) => self.get_node(id),
            ("POST", ["node"]) => self.add_node(&request.body),
            ("PUT", ["node", id]) => self.modify_node(id, &request.body),
            ("PUT", ["node_valid", id]) => self.set_valid(id, &request.body),
            ("DELETE", ["node"]) => self.delete_nodes(request.param("facilityIds").unwrap_or_default()),
            ("GET", ["scope", id]) => self.get_scope(id),
            ("POST", ["scope"]) => self.add_scope(&request.body),
            ("GET", ["facility"]) => self.children(request.param("parentFacilityId").unwrap_or_default()),
            ("PUT", ["facilityRelation", id]) => self.assign(id, &request.body),
            ("PUT", ["facilityRelation_release", id]) => self.release(id, &request.body),
            _ => (404, json!({"status": 404, "message": "HTTP 404 Not Found"})),
        }
    }

    /// A POST of the repository API made by an operator (no token needed).
    pub fn arrange(&mut self, path: &str, body: &Value) -> Result<(), String> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let (status, answer) = match path {
            "/node" => self.add_node(&bytes),
            "/scope" => self.add_scope(&bytes),
            other => return Err(format!("cannot arrange {other}")),
        };
        if status == 200 {
            Ok(())
        } else {
            Err(format!("{status}: {answer}"))
        }
    }

    fn login(&mut self, body: &[u8]) -> Answer {
        let Ok(login) = serde_json::from_slice::<LoginRequest>(body) else {
            return invalid("the request body is not a LoginRequest");
        };
        let known = login.user_id.as_ref().and_then(|u| self.users.get(u));
        if known.is_none() || known != login.password.as_ref() {
            return refusal(401, "InvalidUserPass", "The user ID or password is incorrect.");
        }
        let id = format!("00000000-0000-4000-8000-{:012x}", self.next_token);
        self.next_token += 1;
        self.tokens.insert(id.clone(), Token { uses_left: self.token_uses });
        self.logins += 1;
        (
            200,
            json!({
                "token": {"tokenId": id, "expirationDate": "2026-11-29 10:00:00.000", "validTermMinites": 1440},
                "managerInfo": {"timeZoneOffset": 0, "timeOffsetMillis": 0, "options": []}
            }),
        )
    }

    /// `X-HinemosToken`, then `Authorization`: exactly `Bearer <token>`.
    fn authorize(&mut self, request: &Request) -> Result<(), Answer> {
        let header = request.header("x-hinemostoken").or_else(|| request.header("authorization")).unwrap_or_default();
        let parts: Vec<&str> = header.split(' ').collect();
        let token = match parts.as_slice() {
            [bearer, token] if header.starts_with("Bearer") && *bearer == "Bearer" => *token,
            _ => return Err(refusal(401, "InvalidUserPass", "Authentication failed: no bearer token.")),
        };
        let Some(entry) = self.tokens.get_mut(token) else {
            return Err(refusal(401, "InvalidUserPass", "Authentication failed: the token is invalid or expired."));
        };
        match &mut entry.uses_left {
            Some(0) => {
                self.tokens.remove(token);
                Err(refusal(401, "InvalidUserPass", "Authentication failed: the token is invalid or expired."))
            }
            Some(left) => {
                *left -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn node_list(&self) -> Answer {
        let list: Vec<Value> = self
            .facilities
            .values()
            .filter_map(|f| match f {
                Facility::Node(n) => Some(json!({
                    "facilityId": n.facility_id, "facilityName": n.facility_name,
                    "ipAddressVersion": if n.ip_version == 6 { "IPV6" } else { "IPV4" },
                    "ipAddressV4": n.ip_address_v4, "ipAddressV6": n.ip_address_v6,
                    "platformFamily": n.platform_family, "description": n.description,
                    "ownerRoleId": n.owner_role_id, "createDatetime": n.create_datetime,
                    "modifyDatetime": n.modify_datetime
                })),
                Facility::Scope(_) => None,
            })
            .collect();
        (200, json!({"total": list.len(), "nodeInfoList": list}))
    }

    fn get_node(&self, id: &str) -> Answer {
        match self.node(id) {
            Some(node) => (200, node_response(node)),
            None => not_found(id),
        }
    }

    fn add_node(&mut self, body: &[u8]) -> Answer {
        let request = match serde_json::from_slice::<NodeRequest>(body) {
            Ok(request) => request,
            Err(e) => return invalid(format!("the request body is not an AddNodeRequest: {e}")),
        };
        let now = self.tick();
        let node = match entity(&request, request.facility_id.clone(), request.owner_role_id.clone(), &now) {
            Ok(node) => node,
            Err(answer) => return answer,
        };
        if let Err(answer) = validate_node(&node) {
            return answer;
        }
        if self.facilities.contains_key(&node.facility_id) {
            return refusal(
                409,
                "FacilityDuplicate",
                format!("A facility with the same ID already exists. (facilityId = {})", node.facility_id),
            );
        }
        let id = node.facility_id.clone();
        let platform = node.platform_family.clone();
        let answer = node_response(&node);
        self.facilities.insert(id.clone(), Facility::Node(Box::new(node)));
        self.relations.insert((Some("REGISTERED".to_owned()), id.clone()));
        if self.facilities.contains_key(&platform) {
            self.relations.insert((Some(platform), id));
        }
        (200, answer)
    }

    fn modify_node(&mut self, id: &str, body: &[u8]) -> Answer {
        let Some(stored) = self.node(id).cloned() else {
            return not_found(id);
        };
        let request = match serde_json::from_slice::<NodeRequest>(body) {
            Ok(request) => request,
            Err(e) => return invalid(format!("the request body is not a ModifyNodeRequest: {e}")),
        };
        // The id comes from the path, the owner role from the stored node;
        // every other field from the request onto a fresh entity.
        let now = self.tick();
        let mut node = match entity(&request, Some(id.to_owned()), Some(stored.owner_role_id.clone()), &now) {
            Ok(node) => node,
            Err(answer) => return answer,
        };
        node.create_datetime = stored.create_datetime;
        if let Err(answer) = validate_node(&node) {
            return answer;
        }
        let answer = node_response(&node);
        self.facilities.insert(id.to_owned(), Facility::Node(Box::new(node)));
        (200, answer)
    }

    fn set_valid(&mut self, id: &str, body: &[u8]) -> Answer {
        let flag = match serde_json::from_slice::<SetValidRequest>(body) {
            Ok(SetValidRequest { flg: Some(flag) }) => flag,
            _ => return invalid("flg must not be null"),
        };
        let now = self.tick();
        match self.facilities.get_mut(id) {
            Some(Facility::Node(node)) => {
                node.valid = flag;
                node.modify_datetime = now;
                (200, node_response(node))
            }
            _ => not_found(id),
        }
    }

    fn delete_nodes(&mut self, ids: &str) -> Answer {
        let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
        if ids.is_empty() {
            return invalid("facilityIds is empty");
        }
        if let Some(missing) = ids.iter().find(|id| self.node(id).is_none()) {
            return not_found(missing);
        }
        let mut deleted = Vec::new();
        for id in ids {
            if let Some(Facility::Node(node)) = self.facilities.remove(id) {
                deleted.push(node_response(&node));
            }
            self.relations.retain(|(_, child)| child != id);
        }
        (200, Value::Array(deleted))
    }

    fn scope_of(&self, id: &str) -> Option<&StoredScope> {
        match self.facilities.get(id) {
            Some(Facility::Scope(scope)) => Some(scope),
            _ => None,
        }
    }

    fn get_scope(&self, id: &str) -> Answer {
        match self.scope_of(id) {
            Some(scope) => (200, scope_response(scope)),
            None => not_found(id),
        }
    }

    fn add_scope(&mut self, body: &[u8]) -> Answer {
        let Ok(request) = serde_json::from_slice::<AddScopeRequest>(body) else {
            return invalid("the request body is not an AddScopeRequest");
        };
        let info = request.scope_info.unwrap_or_default();
        let scope = StoredScope {
            facility_id: info.facility_id.unwrap_or_default(),
            facility_name: info.facility_name.unwrap_or_default(),
            description: info.description.unwrap_or_default(),
            owner_role_id: info.owner_role_id.unwrap_or_default(),
            built_in: false,
        };
        if let Err(answer) =
            validate_facility(&scope.facility_id, &scope.facility_name, &scope.description, &scope.owner_role_id)
                .and_then(|()| length("icon image", info.icon_image.as_deref().unwrap_or_default(), 0, 256))
        {
            return answer;
        }
        let parent = request.parent_facility_id.filter(|p| !p.is_empty());
        if let Some(parent) = &parent {
            match self.scope_of(parent) {
                None => return not_found(parent),
                Some(p) if p.built_in => return built_in(),
                Some(_) => {}
            }
        }
        if self.facilities.contains_key(&scope.facility_id) {
            return refusal(
                409,
                "FacilityDuplicate",
                format!("A facility with the same ID already exists. (facilityId = {})", scope.facility_id),
            );
        }
        let answer = scope_response(&scope);
        self.relations.insert((parent, scope.facility_id.clone()));
        self.facilities.insert(scope.facility_id.clone(), Facility::Scope(scope));
        (200, answer)
    }

    fn children(&self, parent: &str) -> Answer {
        let parent = if parent.is_empty() { None } else { Some(parent.to_owned()) };
        if let Some(p) = &parent {
            if self.scope_of(p).is_none() {
                return not_found(p);
            }
        }
        let children: Vec<Value> = self
            .relations
            .iter()
            .filter(|(p, _)| *p == parent)
            .filter_map(|(_, child)| self.facilities.get(child))
            .map(facility_response)
            .collect();
        (200, Value::Array(children))
    }

    /// The scope and the node ids of an assign or release, checked.
    fn relation(&self, scope: &str, body: &[u8]) -> Result<Vec<String>, Answer> {
        let target = self.scope_of(scope).ok_or_else(|| not_found(scope))?;
        if target.built_in {
            return Err(built_in());
        }
        let ids = serde_json::from_slice::<RelationRequest>(body)
            .ok()
            .and_then(|r| r.facility_id_list)
            .filter(|ids| !ids.is_empty())
            .ok_or_else(|| invalid("facilityIdList is empty"))?;
        if let Some(missing) = ids.iter().find(|id| self.node(id).is_none()) {
            return Err(not_found(missing));
        }
        Ok(ids)
    }

    fn assign(&mut self, scope: &str, body: &[u8]) -> Answer {
        let ids = match self.relation(scope, body) {
            Ok(ids) => ids,
            Err(answer) => return answer,
        };
        for id in ids {
            // Already assigned: "skipped assinging", as the manager logs it.
            self.relations.insert((Some(scope.to_owned()), id));
        }
        self.children(scope)
    }

    fn release(&mut self, scope: &str, body: &[u8]) -> Answer {
        let ids = match self.relation(scope, body) {
            Ok(ids) => ids,
            Err(answer) => return answer,
        };
        if ids.iter().any(|id| !self.relations.contains(&(Some(scope.to_owned()), id.clone()))) {
            // FacilityNotFound, wrapped into HinemosUnknown.
            return refusal(500, "HinemosUnknown", "FacilityNotFound: the node is not assigned to the scope");
        }
        for id in ids {
            self.relations.remove(&(Some(scope.to_owned()), id));
        }
        self.children(scope)
    }
}

/// A request onto a fresh entity with the manager's defaults; `None`
/// fields keep the default (`RestBeanUtil.convertBean`, `setDefaultInfo`).
fn entity(request: &NodeRequest, id: Option<String>, owner: Option<String>, now: &str) -> Result<StoredNode, Answer> {
    let ip_version = match request.ip_address_version.as_deref() {
        None => -1,
        Some("IPV4") => 4,
        Some("IPV6") => 6,
        Some(other) => return Err(invalid(format!("ipAddressVersion {other:?} is not IPV4 or IPV6"))),
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut hostnames = Vec::new();
    for h in request.node_hostname_info.iter().flatten() {
        // Empty host names are skipped.
        if let Some(name) = h.hostname.clone().filter(|n| !n.is_empty()) {
            hostnames.push(name);
        }
    }
    let mut variables = Vec::new();
    for v in request.node_variable_info.iter().flatten() {
        let name = text(&v.node_variable_name);
        let value = text(&v.node_variable_value);
        // Entries with neither name nor value are silently dropped.
        if name.is_empty() && value.is_empty() {
            continue;
        }
        variables.push((name, value));
    }
    Ok(StoredNode {
        facility_id: id.unwrap_or_default(),
        facility_name: text(&request.facility_name),
        description: text(&request.description),
        owner_role_id: owner.unwrap_or_default(),
        valid: request.valid.unwrap_or(true),
        auto_device_search: request.auto_device_search.unwrap_or(true),
        platform_family: text(&request.platform_family),
        sub_platform_family: text(&request.sub_platform_family),
        hardware_type: text(&request.hardware_type),
        node_name: text(&request.node_name),
        ip_version,
        ip_address_v4: text(&request.ip_address_v4),
        ip_address_v6: text(&request.ip_address_v6),
        hostnames,
        variables,
        administrator: text(&request.administrator),
        contact: text(&request.contact),
        snmp_port: request.snmp_port.unwrap_or(161),
        snmp_community: request.snmp_community.clone().unwrap_or_else(|| "public".to_owned()),
        ssh_user: request.ssh_user.clone().unwrap_or_else(|| "root".to_owned()),
        job_priority: request.job_priority.unwrap_or(16),
        agent_awake_port: request.agent_awake_port.unwrap_or(24005),
        create_datetime: now.to_owned(),
        modify_datetime: now.to_owned(),
    })
}

/// Java's `String.length()`.
fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

fn length(name: &str, text: &str, min: usize, max: usize) -> Result<(), Answer> {
    let n = units(text);
    if n < min || n > max {
        return Err(invalid(format!("{name} must be {min} to {max} characters long (it is {n})")));
    }
    Ok(())
}

/// `RepositoryValidator.validateFacilityInfo`.
fn validate_facility(id: &str, name: &str, description: &str, owner: &str) -> Result<(), Answer> {
    if id.is_empty() {
        return Err(invalid("Facility ID is required."));
    }
    length("Facility ID", id, 1, 512)?;
    if !id.chars().all(ID_PATTERN) {
        return Err(invalid(format!("Facility ID {id:?} must match ^[A-Za-z0-9-_.@]+$")));
    }
    if id == "_ROOT_" {
        return Err(invalid("_ROOT_ is not allowed in the repository"));
    }
    length("Facility name", name, 1, 256)?;
    length("Description", description, 0, 256)?;
    if owner.is_empty() || !ROLES.contains(&owner) {
        return Err(invalid(format!("owner role {owner:?} does not exist")));
    }
    Ok(())
}

/// `RepositoryValidator.validateNodeInfo`.
fn validate_node(node: &StoredNode) -> Result<(), Answer> {
    validate_facility(&node.facility_id, &node.facility_name, &node.description, &node.owner_role_id)?;
    length("Platform", &node.platform_family, 1, 128)?;
    if !PLATFORMS.contains(&node.platform_family.as_str()) {
        return Err(invalid(format!("platform {} does not exist!", node.platform_family)));
    }
    length("Sub platform", &node.sub_platform_family, 0, 128)?;
    length("Hardware type", &node.hardware_type, 0, 128)?;
    match node.ip_version {
        4 if is_dotted_quad(&node.ip_address_v4) => {}
        4 => return Err(invalid(format!("IP address {:?} is not an IPv4 address", node.ip_address_v4))),
        6 if node.ip_address_v6.parse::<std::net::Ipv6Addr>().is_ok() => {}
        6 => return Err(invalid(format!("IP address {:?} is not an IPv6 address", node.ip_address_v6))),
        _ => return Err(invalid("IP address version must be 4 or 6")),
    }
    length("Node name", &node.node_name, 1, 256)?;
    length("Administrator", &node.administrator, 0, 256)?;
    length("Contact", &node.contact, 0, 1024)?;
    if !(0..=65535).contains(&node.snmp_port) {
        return Err(invalid("SNMP port must be 0 to 65535"));
    }
    let mut seen = BTreeSet::new();
    for hostname in &node.hostnames {
        length("Host name", hostname, 1, 1024)?;
        if !seen.insert(hostname) {
            return Err(invalid(format!("Host name {hostname} is duplicated")));
        }
    }
    let mut seen = BTreeSet::new();
    for (name, value) in &node.variables {
        length("Node variable name", name, 1, 128)?;
        length("Node variable value", value, 1, 1024)?;
        if !seen.insert(name) {
            return Err(invalid(format!("Node variable name {name} is duplicated")));
        }
    }
    Ok(())
}

fn is_dotted_quad(text: &str) -> bool {
    let parts: Vec<&str> = text.split('.').collect();
    parts.len() == 4 && parts.iter().all(|p| !p.is_empty() && p.len() <= 3 && p.parse::<u16>().is_ok_and(|n| n <= 255))
}

/// `NodeInfoResponse` (null and empty fields left out, as NON_NULL does).
fn node_response(node: &StoredNode) -> Value {
    let mut out = json!({
        "facilityId": node.facility_id,
        "facilityName": node.facility_name,
        "facilityType": "TYPE_NODE",
        "description": node.description,
        "ownerRoleId": node.owner_role_id,
        "valid": node.valid,
        "autoDeviceSearch": node.auto_device_search,
        "platformFamily": node.platform_family,
        "subPlatformFamily": node.sub_platform_family,
        "hardwareType": node.hardware_type,
        "nodeName": node.node_name,
        "ipAddressV4": node.ip_address_v4,
        "ipAddressV6": node.ip_address_v6,
        "administrator": node.administrator,
        "contact": node.contact,
        "snmpPort": node.snmp_port,
        "snmpCommunity": node.snmp_community,
        "sshUser": node.ssh_user,
        "jobPriority": node.job_priority,
        "agentAwakePort": node.agent_awake_port,
        "createDatetime": node.create_datetime,
        "modifyDatetime": node.modify_datetime,
        "nodeHostnameInfo": node.hostnames.iter().map(|h| json!({"hostname": h})).collect::<Vec<_>>(),
        "nodeVariableInfo": node.variables.iter().map(|(n, v)| json!({
            "nodeVariableName": n, "nodeVariableValue": v,
            "regDate": node.create_datetime, "regUser": "hinemos",
            "updateDate": node.modify_datetime, "updateUser": "hinemos", "searchTarget": false
        })).collect::<Vec<_>>(),
    });
    if let (Value::Object(map), Some(version)) = (&mut out, ip_version_name(node.ip_version)) {
        map.insert("ipAddressVersion".to_owned(), Value::String(version.to_owned()));
    }
    out
}

fn ip_version_name(version: i32) -> Option<&'static str> {
    match version {
        4 => Some("IPV4"),
        6 => Some("IPV6"),
        _ => None,
    }
}

/// `ScopeInfoResponseP1`.
fn scope_response(scope: &StoredScope) -> Value {
    json!({
        "facilityId": scope.facility_id, "facilityName": scope.facility_name,
        "description": scope.description, "ownerRoleId": scope.owner_role_id
    })
}

/// `FacilityInfoResponse`.
fn facility_response(facility: &Facility) -> Value {
    match facility {
        Facility::Node(n) => json!({
            "facilityId": n.facility_id, "facilityName": n.facility_name, "facilityType": "TYPE_NODE",
            "description": n.description, "valid": n.valid, "builtInFlg": false, "ownerRoleId": n.owner_role_id
        }),
        Facility::Scope(s) => json!({
            "facilityId": s.facility_id, "facilityName": s.facility_name, "facilityType": "TYPE_SCOPE",
            "description": s.description, "valid": true, "builtInFlg": s.built_in, "ownerRoleId": s.owner_role_id
        }),
    }
}
