//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

mod collector;
mod disk_full;
mod foundation;
mod query;
mod snmp;
mod store_damage;
mod syslog;
mod tls;
