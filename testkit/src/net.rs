//! Loopback ports for private peers.

use std::net::{TcpListener, UdpSocket};

/// A loopback port that is free for both TCP and UDP right now.
///
/// The port is found by binding port 0 and released before returning, so a
/// peer started right after can bind it; a race with another process is
/// possible but unlikely, and shows up as the peer failing to start.
pub fn free_port() -> u16 {
    for _ in 0..64 {
        let Ok(tcp) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = tcp.local_addr() else { continue };
        if UdpSocket::bind(("127.0.0.1", addr.port())).is_ok() {
            return addr.port();
        }
    }
    panic!("no free loopback port for both TCP and UDP after 64 tries")
}
