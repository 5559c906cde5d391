//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

mod collector;
mod foundation;
mod query;
mod snmp;
mod store_damage;
mod syslog;
mod tls;
