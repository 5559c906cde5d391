//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

mod collector;
mod foundation;
mod snmp;
mod syslog;
