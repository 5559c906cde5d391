//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

mod foundation;
mod snmp;
mod syslog;
