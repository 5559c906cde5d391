//! The syslog test peer: a private rsyslogd receives RFC 3164 lines sent
//! over UDP and TCP and reports each one's fields as it parsed them.

use std::io::Write;
use std::net::{Ipv4Addr, TcpStream, UdpSocket};
use std::time::Duration;

use testkit::rsyslog::{Record, Rsyslog};

const WAIT: Duration = Duration::from_secs(5);

fn receiver() -> Option<Rsyslog> {
    match Rsyslog::start() {
        Ok(rsyslog) => Some(rsyslog),
        Err(reason) => {
            testkit::peer_unavailable("rsyslogd", &reason);
            None
        }
    }
}

fn find(rsyslog: &Rsyslog, input: &str, hostname: &str, tag: &str) -> Record {
    match rsyslog.wait_for(|r| r.input == input && r.hostname == hostname && r.tag == tag, WAIT) {
        Some(record) => record,
        None => panic!(
            "no {input} record from {hostname} {tag} within {WAIT:?}; received: {:#?}\nrsyslogd log:\n{}",
            rsyslog.records(),
            rsyslog.log()
        ),
    }
}

#[test]
fn rfc3164_lines_over_udp_and_tcp_arrive_with_their_fields() {
    let Some(rsyslog) = receiver() else {
        return;
    };
    let host = format!("kura-host-{}", std::process::id());

    // local0.info (16 * 8 + 6 = 134) over UDP.
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let line = format!("<134>Nov 28 11:00:00 {host} kuraudp: 90b56eb899e7 running\n");
    udp.send_to(line.as_bytes(), (Ipv4Addr::LOCALHOST, rsyslog.udp_port())).unwrap();

    // user.notice (1 * 8 + 5 = 13) over TCP, with a space-padded day.
    let mut tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, rsyslog.tcp_port())).unwrap();
    let line = format!("<13>Nov  8 01:02:03 {host} kuratcp: 90b56eb899e7 exited\n");
    tcp.write_all(line.as_bytes()).unwrap();
    tcp.flush().unwrap();
    drop(tcp);

    let over_udp = find(&rsyslog, "imudp", &host, "kuraudp:");
    assert_eq!(over_udp.pri, 134);
    assert_eq!(over_udp.msg, " 90b56eb899e7 running");
    assert!(over_udp.timestamp.contains("-11-28T11:00:00"), "{}", over_udp.timestamp);

    let over_tcp = find(&rsyslog, "imtcp", &host, "kuratcp:");
    assert_eq!(over_tcp.pri, 13);
    assert_eq!(over_tcp.msg, " 90b56eb899e7 exited");
    assert!(over_tcp.timestamp.contains("-11-08T01:02:03"), "{}", over_tcp.timestamp);

    // Each line arrived once, on the input it was sent to.
    let ours: Vec<Record> = rsyslog.records().into_iter().filter(|r| r.hostname == host).collect();
    assert_eq!(ours.len(), 2, "{ours:#?}");
}
