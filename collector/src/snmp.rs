//! A host's memory and CPU counters read over SNMP (v1 or v2c) from the
//! UCD-SNMP-MIB that net-snmp's snmpd serves.
//!
//! [`read_host`] asks for every object of one [`HostReading`] in one GET. An
//! object the agent does not have (`noSuchObject`, `noSuchInstance`,
//! `endOfMibView`, or in v1 a `noSuchName` error, after which the request is
//! sent again without it) is `None` in the reading and listed in
//! [`HostReading::unsupported`]; a value is never made up.
//!
//! # Late replies
//!
//! Every reading opens a fresh UDP socket (a new ephemeral port) and starts
//! its request ids at a random value; the answer must carry the id of the
//! request it answers and the varbinds must name the OIDs asked, in order.
//! A reply to an earlier, timed-out request therefore cannot reach a later
//! reading through the socket, and if one arrives anyway (a reused port, a
//! duplicated datagram) snmp2 rejects it with `RequestIdMismatch`. A long-lived
//! session would have to skip stale datagrams itself, which snmp2 does not do:
//! a retry on the same socket would read the answer to the previous attempt
//! again and again. So a rejected answer makes the reading start over on yet
//! another fresh socket, within the same deadline.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use kura_store::payload::{CpuTicks, HostReading, MemoryKib, Unsupported};
use snmp2::{AsyncSession, Oid, Value};
use tokio::time::Instant;

/// How long a reading waits before sending again after the agent's port
/// answered "unreachable" (an ICMP error reported on the socket).
const UNREACHABLE_PAUSE: Duration = Duration::from_millis(100);

/// The SNMP version to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnmpVersion {
    /// SNMPv1: no Counter64 (so no `memSysAvail`), `noSuchName` errors.
    V1,
    /// SNMPv2c.
    V2c,
}

/// Where and how to read a host's agent.
#[derive(Clone, PartialEq, Eq)]
pub struct SnmpConfig {
    /// The agent's UDP address (port 161 by default on agents). An IP
    /// address, not a name: resolve names when the configuration is loaded,
    /// so that a reading never waits for DNS.
    pub address: SocketAddr,
    /// The protocol version.
    pub version: SnmpVersion,
    /// The read community.
    pub community: String,
    /// The most one [`read_host`] call may take, all requests included.
    pub timeout: Duration,
}

impl fmt::Debug for SnmpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnmpConfig")
            .field("address", &self.address)
            .field("version", &self.version)
            .field("community", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a reading failed.
#[derive(Debug, thiserror::Error)]
pub enum SnmpError {
    /// No (valid) answer within the timeout: a wrong community and an ACL
    /// that excludes us look exactly like a stopped agent, as agents drop
    /// such requests silently.
    #[error("SNMP timeout from {addr} (check community and ACL)")]
    Timeout {
        /// The agent.
        addr: SocketAddr,
    },
    /// The local UDP socket could not be opened.
    #[error("cannot open a UDP socket towards SNMP agent {addr}: {source}")]
    Socket {
        /// The agent.
        addr: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The agent's answer could not be decoded.
    #[error("malformed SNMP answer from {addr}: {source}")]
    Malformed {
        /// The agent.
        addr: SocketAddr,
        /// What snmp2 found wrong.
        source: snmp2::Error,
    },
    /// The agent answered with an error status for the whole request.
    #[error("SNMP agent {addr} answered error status {status} ({}) at varbind {index}", status_name(*.status))]
    ErrorStatus {
        /// The agent.
        addr: SocketAddr,
        /// The SNMP error-status.
        status: u32,
        /// The SNMP error-index (1-based; 0 when not about one varbind).
        index: u32,
    },
    /// The answer's varbinds do not match the request.
    #[error("SNMP agent {addr} answered {found} where {expected} was asked")]
    UnexpectedAnswer {
        /// The agent.
        addr: SocketAddr,
        /// What was asked (OIDs or a count).
        expected: String,
        /// What came back.
        found: String,
    },
}

/// The name of an SNMP error-status (RFC 3416 section 3).
fn status_name(status: u32) -> &'static str {
    match status {
        1 => "tooBig",
        2 => "noSuchName",
        3 => "badValue",
        4 => "readOnly",
        5 => "genErr",
        6 => "noAccess",
        16 => "authorizationError",
        _ => "other",
    }
}

/// One object of a reading: its name, its OID and where its value goes.
struct Object {
    name: &'static str,
    /// The OID's BER content bytes.
    ber: &'static [u8],
    field: fn(&mut HostReading) -> &mut Option<u64>,
}

impl Object {
    fn oid(&self) -> Oid<'static> {
        Oid::new(Cow::Borrowed(self.ber))
    }

    fn unsupported(&self, reason: impl Into<String>) -> Unsupported {
        Unsupported { object: self.name.to_owned(), oid: self.oid().to_id_string(), reason: reason.into() }
    }
}

/// `1.3.6.1.2.1.1.3.0`, BER-encoded.
const SYS_UPTIME: [u8; 8] = [0x2b, 6, 1, 2, 1, 1, 3, 0];

/// `1.3.6.1.4.1.2021.GROUP.OBJECT.0` (ucdavis), BER-encoded: 2021 is
/// 15 * 128 + 101, two base-128 digits; `group` and `object` are below 128.
const fn ucd(group: u8, object: u8) -> [u8; 10] {
    [0x2b, 6, 1, 4, 1, 0x80 | 15, 101, group, object, 0]
}

/// Every object a reading asks for, in request order.
static OBJECTS: [Object; 14] = [
    Object { name: "sysUpTime", ber: &SYS_UPTIME, field: |r| &mut r.sys_uptime },
    Object { name: "memTotalReal", ber: &ucd(4, 5), field: |r| &mut r.memory.total_real },
    Object { name: "memAvailReal", ber: &ucd(4, 6), field: |r| &mut r.memory.avail_real },
    Object { name: "memBuffer", ber: &ucd(4, 14), field: |r| &mut r.memory.buffer },
    Object { name: "memCached", ber: &ucd(4, 15), field: |r| &mut r.memory.cached },
    Object { name: "memSysAvail", ber: &ucd(4, 27), field: |r| &mut r.memory.sys_avail },
    Object { name: "ssCpuRawUser", ber: &ucd(11, 50), field: |r| &mut r.cpu.user },
    Object { name: "ssCpuRawNice", ber: &ucd(11, 51), field: |r| &mut r.cpu.nice },
    Object { name: "ssCpuRawSystem", ber: &ucd(11, 52), field: |r| &mut r.cpu.system },
    Object { name: "ssCpuRawIdle", ber: &ucd(11, 53), field: |r| &mut r.cpu.idle },
    Object { name: "ssCpuRawWait", ber: &ucd(11, 54), field: |r| &mut r.cpu.wait },
    Object { name: "ssCpuRawKernel", ber: &ucd(11, 55), field: |r| &mut r.cpu.kernel },
    Object { name: "ssCpuRawInterrupt", ber: &ucd(11, 56), field: |r| &mut r.cpu.interrupt },
    Object { name: "ssCpuRawSoftIRQ", ber: &ucd(11, 61), field: |r| &mut r.cpu.soft_irq },
];

/// Reads every object of a [`HostReading`] from the agent of `config`, in
/// at most `config.timeout` (see the module documentation for how late
/// replies are kept out).
///
/// # Errors
/// [`SnmpError::Timeout`] when no valid answer arrives in time (wrong
/// community, ACL, stopped agent, lost datagrams: no retransmission happens
/// except after a rejected or refused answer); the other variants when the
/// agent answers something unusable.
pub async fn read_host(config: &SnmpConfig) -> Result<HostReading, SnmpError> {
    let deadline = Instant::now() + config.timeout;
    let timeout = || SnmpError::Timeout { addr: config.address };
    loop {
        let attempt = tokio::time::timeout_at(deadline, attempt(config)).await;
        match attempt.map_err(|_elapsed| timeout())? {
            Ok(reading) => return Ok(reading),
            Err(Attempt::Failed(error)) => return Err(error),
            Err(Attempt::Rejected) => {}
            Err(Attempt::Unreachable) => {
                tokio::time::sleep_until(deadline.min(Instant::now() + UNREACHABLE_PAUSE)).await;
            }
        }
        if Instant::now() >= deadline {
            return Err(timeout());
        }
    }
}

/// How one attempt (one fresh socket) ended, when not with a reading.
enum Attempt {
    /// A datagram that is not the answer (wrong request id or community):
    /// start over on a fresh socket.
    Rejected,
    /// The socket reported the agent's port unreachable: pause, start over.
    Unreachable,
    /// A final error.
    Failed(SnmpError),
}

/// One attempt on a fresh session: a GET of every object, repeated without
/// an object the agent answered `noSuchName` for (v1).
async fn attempt(config: &SnmpConfig) -> Result<HostReading, Attempt> {
    let addr = config.address;
    let community = config.community.as_bytes();
    let first_id = random_request_id();
    let session = match config.version {
        SnmpVersion::V1 => AsyncSession::new_v1(addr, community, first_id).await,
        SnmpVersion::V2c => AsyncSession::new_v2c(addr, community, first_id).await,
    };
    let mut session = session.map_err(|source| Attempt::Failed(SnmpError::Socket { addr, source }))?;
    let mut reading = HostReading::default();
    let mut pending: Vec<&Object> = OBJECTS.iter().collect();
    while !pending.is_empty() {
        let oids: Vec<Oid<'static>> = pending.iter().map(|o| o.oid()).collect();
        let oid_refs: Vec<&Oid<'static>> = oids.iter().collect();
        let pdu = session.get_many(&oid_refs).await.map_err(|e| match e {
            snmp2::Error::RequestIdMismatch | snmp2::Error::CommunityMismatch => Attempt::Rejected,
            snmp2::Error::Send | snmp2::Error::Receive => Attempt::Unreachable,
            source => Attempt::Failed(SnmpError::Malformed { addr, source }),
        })?;
        if pdu.error_status == snmp2::snmp::ERRSTATUS_NOSUCHNAME {
            let missing = usize::try_from(pdu.error_index)
                .ok()
                .and_then(|index| index.checked_sub(1))
                .filter(|&i| i < pending.len());
            let Some(missing) = missing else {
                return Err(Attempt::Failed(SnmpError::ErrorStatus {
                    addr,
                    status: pdu.error_status,
                    index: pdu.error_index,
                }));
            };
            let object = pending.remove(missing);
            reading.unsupported.push(object.unsupported("noSuchName"));
            continue;
        }
        if pdu.error_status != snmp2::snmp::ERRSTATUS_NOERROR {
            return Err(Attempt::Failed(SnmpError::ErrorStatus {
                addr,
                status: pdu.error_status,
                index: pdu.error_index,
            }));
        }
        store_varbinds(&pending, pdu.varbinds, &mut reading)
            .map_err(|(expected, found)| Attempt::Failed(SnmpError::UnexpectedAnswer { addr, expected, found }))?;
        break;
    }
    Ok(reading)
}

/// Stores the answer's varbinds into `reading`, object by object. Each
/// varbind must name the OID asked at its position: an answer that skips
/// one is refused rather than shifted. `Err((expected, found))` otherwise.
fn store_varbinds<'a>(
    asked: &[&Object],
    mut varbinds: impl Iterator<Item = (Oid<'a>, Value<'a>)>,
    reading: &mut HostReading,
) -> Result<(), (String, String)> {
    let count_error = |found: usize| (format!("{} varbinds", asked.len()), format!("{found} varbinds"));
    for (position, object) in asked.iter().enumerate() {
        let Some((oid, value)) = varbinds.next() else {
            return Err(count_error(position));
        };
        if oid != object.oid() {
            return Err((object.oid().to_id_string(), oid.to_id_string()));
        }
        match number(&value) {
            Ok(number) => *(object.field)(reading) = Some(number),
            Err(reason) => reading.unsupported.push(object.unsupported(reason)),
        }
    }
    let extra = varbinds.count();
    if extra > 0 {
        return Err(count_error(asked.len() + extra));
    }
    Ok(())
}

/// The value as a number; `Err` names what the agent sent instead.
fn number(value: &Value<'_>) -> Result<u64, String> {
    match *value {
        Value::Counter32(n) | Value::Unsigned32(n) | Value::Timeticks(n) => Ok(u64::from(n)),
        Value::Counter64(n) => Ok(n),
        Value::Integer(n) => u64::try_from(n).map_err(|_| format!("negative value {n}")),
        Value::NoSuchObject => Err("noSuchObject".to_owned()),
        Value::NoSuchInstance => Err("noSuchInstance".to_owned()),
        Value::EndOfMibView => Err("endOfMibView".to_owned()),
        ref other => Err(format!("not a number: {other:?}")),
    }
}

/// A random first request id for a session, from std's per-process random
/// hash keys (no extra dependency; it needs to be unpredictable across
/// readings, not cryptographically strong).
fn random_request_id() -> i32 {
    let [a, b, c, d, ..] = RandomState::new().build_hasher().finish().to_le_bytes();
    i32::from_le_bytes([a, b, c, d])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, UdpSocket};

    fn object(name: &str) -> &'static Object {
        OBJECTS.iter().find(|o| o.name == name).unwrap()
    }

    #[test]
    fn objects_have_the_oids_of_ucd_snmp_mib() {
        let oids: Vec<(&str, String)> = OBJECTS.iter().map(|o| (o.name, o.oid().to_id_string())).collect();
        let expected = [
            ("sysUpTime", "1.3.6.1.2.1.1.3.0"),
            ("memTotalReal", "1.3.6.1.4.1.2021.4.5.0"),
            ("memAvailReal", "1.3.6.1.4.1.2021.4.6.0"),
            ("memBuffer", "1.3.6.1.4.1.2021.4.14.0"),
            ("memCached", "1.3.6.1.4.1.2021.4.15.0"),
            ("memSysAvail", "1.3.6.1.4.1.2021.4.27.0"),
            ("ssCpuRawUser", "1.3.6.1.4.1.2021.11.50.0"),
            ("ssCpuRawNice", "1.3.6.1.4.1.2021.11.51.0"),
            ("ssCpuRawSystem", "1.3.6.1.4.1.2021.11.52.0"),
            ("ssCpuRawIdle", "1.3.6.1.4.1.2021.11.53.0"),
            ("ssCpuRawWait", "1.3.6.1.4.1.2021.11.54.0"),
            ("ssCpuRawKernel", "1.3.6.1.4.1.2021.11.55.0"),
            ("ssCpuRawInterrupt", "1.3.6.1.4.1.2021.11.56.0"),
            ("ssCpuRawSoftIRQ", "1.3.6.1.4.1.2021.11.61.0"),
        ];
        let expected: Vec<(&str, String)> = expected.iter().map(|&(n, o)| (n, o.to_owned())).collect();
        assert_eq!(oids, expected);
        // The BER helper agrees with asn1-rs' own encoder.
        assert_eq!(object("memSysAvail").oid(), Oid::from(&[1, 3, 6, 1, 4, 1, 2021, 4, 27, 0]).unwrap());
    }

    #[test]
    fn each_object_fills_its_own_field() {
        let mut reading = HostReading::default();
        for (n, object) in (1u64..).zip(OBJECTS.iter()) {
            *(object.field)(&mut reading) = Some(n);
        }
        for (n, object) in (1u64..).zip(OBJECTS.iter()) {
            assert_eq!(*(object.field)(&mut reading), Some(n), "{}", object.name);
        }
        assert_eq!(reading.sys_uptime, Some(1));
        assert_eq!(reading.memory.total_real, Some(2));
        assert_eq!(reading.memory.sys_avail, Some(6));
        assert_eq!(reading.cpu.user, Some(7));
        assert_eq!(reading.cpu.soft_irq, Some(14));
        // Every numeric field of the stored form holds one of the 14 values.
        let json = serde_json::to_value(&reading).unwrap();
        let mut leaves: Vec<u64> = [&json, &json["memory"], &json["cpu"]]
            .iter()
            .flat_map(|o| o.as_object().unwrap().values())
            .filter(|v| !v.is_object() && !v.is_array())
            .map(|v| v.as_u64().unwrap())
            .collect();
        leaves.sort_unstable();
        assert_eq!(leaves, (1..=14).collect::<Vec<u64>>());
    }

    #[test]
    fn varbinds_are_stored_by_oid_and_missing_ones_are_none_with_a_note() {
        let asked = [object("sysUpTime"), object("memTotalReal"), object("memSysAvail")];
        let answer = vec![
            (object("sysUpTime").oid(), Value::NoSuchObject),
            (object("memTotalReal").oid(), Value::Integer(24_684_084)),
            (object("memSysAvail").oid(), Value::Counter64(5_000_000_000)),
        ];
        let mut reading = HostReading::default();
        store_varbinds(&asked, answer.into_iter(), &mut reading).unwrap();
        assert_eq!(reading.sys_uptime, None);
        assert_eq!(reading.memory.total_real, Some(24_684_084));
        assert_eq!(reading.memory.sys_avail, Some(5_000_000_000));
        assert_eq!(
            reading.unsupported,
            vec![Unsupported {
                object: "sysUpTime".into(),
                oid: "1.3.6.1.2.1.1.3.0".into(),
                reason: "noSuchObject".into(),
            }]
        );
        assert_eq!(reading.unsupported[0].to_string(), "sysUpTime (1.3.6.1.2.1.1.3.0): noSuchObject");
    }

    #[test]
    fn an_answer_that_skips_an_object_is_refused_not_shifted() {
        let asked = [object("sysUpTime"), object("memTotalReal")];
        // The agent dropped sysUpTime: memTotalReal comes first.
        let answer = vec![(object("memTotalReal").oid(), Value::Integer(7))];
        let mut reading = HostReading::default();
        let (expected, found) = store_varbinds(&asked, answer.into_iter(), &mut reading).unwrap_err();
        assert_eq!(expected, "1.3.6.1.2.1.1.3.0");
        assert_eq!(found, "1.3.6.1.4.1.2021.4.5.0");
        assert_eq!(reading.sys_uptime, None);

        let short = vec![(object("sysUpTime").oid(), Value::Timeticks(5))];
        let mut reading = HostReading::default();
        let err = store_varbinds(&asked, short.into_iter(), &mut reading).unwrap_err();
        assert_eq!(err, ("2 varbinds".to_owned(), "1 varbinds".to_owned()));

        let long = vec![
            (object("sysUpTime").oid(), Value::Timeticks(5)),
            (object("memTotalReal").oid(), Value::Integer(7)),
            (object("memAvailReal").oid(), Value::Integer(3)),
        ];
        let mut reading = HostReading::default();
        let err = store_varbinds(&asked, long.into_iter(), &mut reading).unwrap_err();
        assert_eq!(err, ("2 varbinds".to_owned(), "3 varbinds".to_owned()));
    }

    #[test]
    fn numbers_of_every_snmp_type_and_refusals() {
        assert_eq!(number(&Value::Counter32(u32::MAX)), Ok(4_294_967_295));
        assert_eq!(number(&Value::Unsigned32(3)), Ok(3));
        assert_eq!(number(&Value::Timeticks(100)), Ok(100));
        assert_eq!(number(&Value::Counter64(u64::MAX)), Ok(u64::MAX));
        assert_eq!(number(&Value::Integer(0)), Ok(0));
        assert_eq!(number(&Value::Integer(-1)), Err("negative value -1".to_owned()));
        assert_eq!(number(&Value::NoSuchInstance), Err("noSuchInstance".to_owned()));
        assert_eq!(number(&Value::EndOfMibView), Err("endOfMibView".to_owned()));
        assert_eq!(number(&Value::OctetString(b"12")), Err("not a number: OCTET STRING: 12".to_owned()));
        assert_eq!(number(&Value::Null), Err("not a number: NULL".to_owned()));
    }

    #[test]
    fn mem_available_prefers_mem_sys_avail_and_never_guesses() {
        let mut reading = HostReading::default();
        assert_eq!(reading.mem_available_kib(), None);
        reading.memory.avail_real = Some(1000);
        reading.memory.buffer = Some(20);
        assert_eq!(reading.mem_available_kib(), None, "memCached missing");
        reading.memory.cached = Some(300);
        assert_eq!(reading.mem_available_kib(), Some(1320));
        reading.memory.sys_avail = Some(1200);
        assert_eq!(reading.mem_available_kib(), Some(1200));
        reading.memory =
            MemoryKib { avail_real: Some(u64::MAX), buffer: Some(1), cached: Some(0), ..MemoryKib::default() };
        assert_eq!(reading.mem_available_kib(), None, "overflow");
    }

    #[test]
    fn config_debug_hides_the_community() {
        let config = SnmpConfig {
            address: SocketAddr::from((Ipv4Addr::LOCALHOST, 161)),
            version: SnmpVersion::V2c,
            community: "s3cret".into(),
            timeout: Duration::from_secs(1),
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("127.0.0.1:161"), "{debug}");
    }

    #[test]
    fn version_names_in_config_files() {
        assert_eq!(serde_json::to_string(&SnmpVersion::V2c).unwrap(), "\"v2c\"");
        assert_eq!(serde_json::from_str::<SnmpVersion>("\"v1\"").unwrap(), SnmpVersion::V1);
    }

    #[test]
    fn request_ids_differ_between_readings() {
        let ids: std::collections::HashSet<i32> = (0..64).map(|_| random_request_id()).collect();
        assert!(ids.len() > 60, "{} distinct ids of 64", ids.len());
    }

    #[test]
    fn error_messages_name_the_agent() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 16161));
        assert_eq!(
            SnmpError::Timeout { addr }.to_string(),
            "SNMP timeout from 127.0.0.1:16161 (check community and ACL)"
        );
        assert_eq!(
            SnmpError::ErrorStatus { addr, status: 5, index: 0 }.to_string(),
            "SNMP agent 127.0.0.1:16161 answered error status 5 (genErr) at varbind 0"
        );
    }

    /// A bound UDP port that never answers: the reading gives up at its
    /// deadline, not later, and says where it waited.
    #[tokio::test]
    async fn silent_agent_times_out_at_the_deadline() {
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let config = SnmpConfig {
            address: silent.local_addr().unwrap(),
            version: SnmpVersion::V2c,
            community: "public".into(),
            timeout: Duration::from_millis(300),
        };
        let started = std::time::Instant::now();
        let error = read_host(&config).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(matches!(error, SnmpError::Timeout { addr } if addr == config.address), "{error}");
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(800), "{elapsed:?}");
        let mut request = [0u8; 1500];
        silent.set_nonblocking(true).unwrap();
        assert!(silent.recv(&mut request).unwrap() > 0, "no request reached the agent");
    }
}
