//! kura integration tests against real peers (dockerd, snmpd, rsyslog).

mod snmp;
mod syslog;
