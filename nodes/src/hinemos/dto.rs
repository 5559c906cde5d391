//! The JSON documents of Hinemos 7's REST API that kura sends and reads
//! (`com.clustercontrol.rest.endpoint.{access,repository}.dto`). Property
//! names are the Java field names; enums go by name; the manager omits
//! null fields in answers and ignores unknown ones in requests.
//!
//! A node is read whole ([`NodeInfo`]), changed in the fields kura keeps,
//! and sent back whole: `PUT /node/{id}` replaces the node, and every
//! field it leaves out is reset to its default. The fields kura does not
//! keep travel in [`NodeInfo::rest`], as the manager sent them.

use serde::{Deserialize, Serialize};

/// `POST /access/login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    /// The login.
    pub user_id: String,
    /// Its password.
    pub password: String,
}

/// The answer to a login (`managerInfo` is not read).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct LoginResponse {
    /// The token.
    pub token: HinemosToken,
}

/// `HinemosToken`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HinemosToken {
    /// Sent as `Authorization: Bearer <tokenId>`.
    pub token_id: String,
    /// When it expires, in the manager's date format.
    pub expiration_date: Option<String>,
    /// Its lifetime in minutes (the manager's spelling).
    pub valid_term_minites: Option<i64>,
}

/// `ExceptionBody`: what the manager answers with a 4xx or 5xx.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ExceptionBody {
    /// The HTTP status.
    pub status: Option<u16>,
    /// The message (in `Accept-Language`'s language).
    pub message: Option<String>,
    /// The Java exception's class name.
    pub exception: Option<String>,
}

/// `GET /node_withoutNodeConfigInfo`: every node, without lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetNodeListResponse {
    /// How many.
    pub total: Option<i64>,
    /// The nodes.
    #[serde(default)]
    pub node_info_list: Vec<NodeSummary>,
}

/// `NodeInfoResponseP2`, the list form of a node (no `valid`, no lists).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSummary {
    /// Its facility id.
    pub facility_id: String,
    /// Its facility name.
    pub facility_name: Option<String>,
}

/// `IpaddressVersionEnum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IpAddressVersion {
    /// IPv4.
    #[serde(rename = "IPV4")]
    V4,
    /// IPv6.
    #[serde(rename = "IPV6")]
    V6,
}

/// A node: `NodeInfoResponse` as read, `AddNodeRequest` and
/// `ModifyNodeRequest` as sent. `facilityId` and `ownerRoleId` go only
/// with an add (a modify takes the id from the path, the role from the
/// stored node).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    /// Its facility id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_id: Option<String>,
    /// Its facility name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its owner role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_role_id: Option<String>,
    /// The managed flag (omitted: true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// Device search by SNMP (omitted: true; kura sends false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_device_search: Option<bool>,
    /// `LINUX`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_family: Option<String>,
    /// The node name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// `IPV4` or `IPV6` (effectively required).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_version: Option<IpAddressVersion>,
    /// Its IPv4 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_v4: Option<String>,
    /// Its IPv6 address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address_v6: Option<String>,
    /// Its host names.
    #[serde(default)]
    pub node_hostname_info: Vec<Hostname>,
    /// Its node variables (replaced as a set).
    #[serde(default)]
    pub node_variable_info: Vec<Variable>,
    /// Every other field, as the manager sent it: sent back untouched, so a
    /// whole-node PUT resets nothing kura does not keep.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl NodeInfo {
    /// The value of a node variable.
    pub fn variable(&self, name: &str) -> Option<&str> {
        self.node_variable_info.iter().find(|v| v.node_variable_name == name).map(|v| v.node_variable_value.as_str())
    }
}

/// `NodeHostnameInfoRequest` (the answer adds nothing kura reads).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hostname {
    /// The host name.
    pub hostname: String,
}

/// `NodeVariableInfoRequest` (the answer also carries dates and users,
/// which the manager sets itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Variable {
    /// The name.
    pub node_variable_name: String,
    /// The value (1 to 1024 characters).
    pub node_variable_value: String,
}

/// `SetValidRequest` of `PUT /node_valid/{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SetValidRequest {
    /// The managed flag.
    pub flg: bool,
}

/// `ScopeInfoRequest` / `ScopeInfoResponseP1`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeInfo {
    /// Its facility id.
    pub facility_id: String,
    /// Its name.
    pub facility_name: Option<String>,
    /// Its description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its owner role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_role_id: Option<String>,
}

/// `AddScopeRequest` of `POST /scope`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddScopeRequest {
    /// The parent; `None`: the top level.
    pub parent_facility_id: Option<String>,
    /// The scope.
    pub scope_info: ScopeInfo,
}

/// `FacilityInfoResponse`: an entry of `GET /facility?parentFacilityId=`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilityInfo {
    /// Its facility id.
    pub facility_id: String,
    /// `TYPE_SCOPE`, `TYPE_NODE`, ...
    pub facility_type: Option<String>,
    /// A scope the manager built itself.
    pub built_in_flg: Option<bool>,
}

impl FacilityInfo {
    /// Whether it is a node (not a scope).
    pub fn is_node(&self) -> bool {
        self.facility_type.as_deref() == Some("TYPE_NODE")
    }
}

/// `AssignNodeScopeRequest` and `ReleaseNodeScopeRequest`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FacilityIdList {
    /// The nodes.
    pub facility_id_list: Vec<String>,
}
