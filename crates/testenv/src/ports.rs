//! TCP ports for the API server, and holding a stopped server's port.
//!
//! Ports come from just below the kernel's ephemeral range (`ip_local_port_range`), which
//! neither outgoing connections nor `bind(0)` ever use, and a process-wide cursor never hands
//! out one port twice: a port picked here can only be taken by a process that binds that very
//! number. A stopped API server's port stays bound (not listening) until the cluster is
//! dropped, so clients get "connection refused" and not another test's server.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How many ports below the ephemeral range to use.
const SPAN: u32 = 8000;

/// Next candidate, as an offset into the span; starts at a per-process random point so test
/// binaries running at the same time (other checkouts on the machine) rarely meet.
static CURSOR: AtomicU32 = AtomicU32::new(u32::MAX);

/// Lowest port of the kernel's ephemeral range (32768 if it cannot be read).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// A port on 127.0.0.1 that was free a moment ago, outside the ephemeral range, and never
/// returned before by this process.
pub(crate) fn pick_port() -> Result<u16> {
    let high = ephemeral_low();
    let low = high.saturating_sub(SPAN).max(1024);
    let span = high - low;
    if span == 0 {
        bail!("no ports below the ephemeral range ({high})");
    }
    let seed = std::process::id().wrapping_mul(2_654_435_761)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
    let _ = CURSOR.compare_exchange(u32::MAX, seed % span, Ordering::SeqCst, Ordering::SeqCst);
    for _ in 0..span {
        let offset = CURSOR.fetch_add(1, Ordering::SeqCst) % span;
        let port = u16::try_from(low + offset).context("port out of range")?;
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port on 127.0.0.1 in {low}..{high}")
}

/// A TCP socket bound to `127.0.0.1:port` that never listens: connections to the port are
/// refused, and no other server can listen on it while this lives.
pub(crate) struct HeldPort {
    _socket: OwnedFd,
}

impl HeldPort {
    /// Binds `port` (retrying for a few seconds while the old owner's socket closes).
    pub(crate) fn hold(port: u16) -> Result<HeldPort> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match bind_not_listening(port) {
                Ok(socket) => return Ok(HeldPort { _socket: socket }),
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(e).with_context(|| format!("holding port {port}")),
            }
        }
    }
}

/// `bind` with `SO_REUSEADDR` (so the old server's TIME_WAIT connections do not block it),
/// then `SO_REUSEADDR` off again: Linux lets a second socket bind or listen on the port only
/// if every socket there allows reuse, so from now on nobody else can serve on it.
fn bind_not_listening(port: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain syscalls on a descriptor this function owns (wrapped in OwnedFd at once).
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = OwnedFd::from_raw_fd(fd);
        set_reuseaddr(&socket, true)?;
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port);
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(*addr.ip()).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(socket.as_raw_fd(), (&raw const sin).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        set_reuseaddr(&socket, false)?;
        Ok(socket)
    }
}

fn set_reuseaddr(socket: &OwnedFd, on: bool) -> io::Result<()> {
    let value: libc::c_int = on.into();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` outlives the call and `len` is its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&raw const value).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::net::TcpStream;

    #[test]
    fn picked_ports_are_distinct_and_below_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| pick_port().unwrap()).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        assert!(ports.iter().all(|&p| u32::from(p) < ephemeral_low()));
    }

    #[test]
    fn a_held_port_refuses_connections_and_other_servers() {
        let port = pick_port().unwrap();
        // A server that had a connection (left in TIME_WAIT on its side) and then went away.
        let server = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        let client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        let (accepted, _) = server.accept().unwrap();
        drop(accepted);
        drop(client);
        drop(server);

        let held = HeldPort::hold(port).unwrap();
        let err = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        // std sets SO_REUSEADDR, as Go's servers do; still no listener may take the port.
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err());
        drop(held);
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }
}
