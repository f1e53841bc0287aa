//! The world server's UDP loop: a few threads share one socket, each reading queries in
//! batches with `recvmmsg` and sending the answers of a batch with one `sendmmsg`, as NSD
//! does. Threads of their own (not tasks of the scanner's runtime) so that, in process,
//! the kernel schedules server and scanner side by side.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Datagrams read (and answers sent) per system call.
const BATCH: usize = 32;
/// Largest query read; a longer datagram is dropped (no scanner sends one).
const MAX_QUERY: usize = 4096;
/// How often a waiting thread looks at the stop flag.
pub(super) const POLL: Duration = Duration::from_millis(100);
/// Kernel buffers asked for the socket: a scan sends bursts of thousands of queries,
/// and a query dropped for want of room costs the scanner a timeout.
const SOCKET_BUFFER: libc::c_int = 4 << 20;

/// Answers one query into the buffer; false when no answer is due.
pub(super) trait Respond: Send + Sync + 'static {
    fn respond_udp(&self, query: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool;
}

/// Serves `socket` on `threads` threads until `stop` is set. The socket must be in
/// blocking mode with a read timeout of [`POLL`].
pub(super) fn spawn<R: Respond>(
    socket: UdpSocket,
    threads: usize,
    responder: Arc<R>,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<std::thread::JoinHandle<()>>> {
    socket.set_nonblocking(false)?;
    socket.set_read_timeout(Some(POLL))?;
    for option in [libc::SO_RCVBUF, libc::SO_SNDBUF] {
        // SAFETY: setsockopt with a valid fd and a c_int value. Failure (a lower system
        // cap) only leaves the kernel's default or cap.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&SOCKET_BUFFER as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
    let socket = Arc::new(socket);
    (0..threads.max(1))
        .map(|i| {
            let socket = Arc::clone(&socket);
            let responder = Arc::clone(&responder);
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name(format!("world-udp-{i}"))
                .spawn(move || serve(&socket, &*responder, &stop))
        })
        .collect()
}

fn serve<R: Respond>(socket: &UdpSocket, responder: &R, stop: &AtomicBool) {
    let mut batch = Batch::new();
    while !stop.load(Ordering::Relaxed) {
        let n = match batch.receive(socket) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "world server: receiving failed");
                std::thread::sleep(POLL);
                continue;
            }
        };
        for i in 0..n {
            batch.answer(i, responder);
        }
        batch.send(socket, n);
    }
}

/// Buffers of one `recvmmsg`/`sendmmsg` round.
struct Batch {
    queries: Vec<u8>,
    query_iov: Vec<libc::iovec>,
    addrs: Vec<libc::sockaddr_storage>,
    headers: Vec<libc::mmsghdr>,
    answers: Vec<Vec<u8>>,
    answered: Vec<bool>,
}

impl Batch {
    fn new() -> Batch {
        let mut queries = vec![0u8; BATCH * MAX_QUERY];
        let query_iov = queries
            .chunks_mut(MAX_QUERY)
            .map(|chunk| libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: MAX_QUERY,
            })
            .collect();
        Batch {
            queries,
            query_iov,
            // SAFETY: plain C structs; all-zero is a valid (empty) value.
            addrs: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            headers: (0..BATCH).map(|_| unsafe { zeroed() }).collect(),
            answers: (0..BATCH).map(|_| Vec::with_capacity(512)).collect(),
            answered: vec![false; BATCH],
        }
    }

    /// Blocks until at least one datagram arrives (or the read timeout passes), then
    /// takes what is queued, up to [`BATCH`].
    fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        for i in 0..BATCH {
            let header = &mut self.headers[i].msg_hdr;
            header.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = &mut self.query_iov[i];
            header.msg_iovlen = 1;
            header.msg_control = std::ptr::null_mut();
            header.msg_controllen = 0;
            header.msg_flags = 0;
            self.headers[i].msg_len = 0;
        }
        // SAFETY: each header points at its own address slot and its own iovec, which
        // points at a MAX_QUERY-sized part of `queries`; all outlive the call.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn answer<R: Respond>(&mut self, i: usize, responder: &R) {
        self.answered[i] = false;
        let header = &self.headers[i];
        if header.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            return;
        }
        let Some(src) = socket_addr(&self.addrs[i]) else {
            return;
        };
        let len = (header.msg_len as usize).min(MAX_QUERY);
        let query = &self.queries[i * MAX_QUERY..i * MAX_QUERY + len];
        self.answered[i] = responder.respond_udp(query, src, &mut self.answers[i]);
    }

    /// Sends the answers of the first `n` slots, each to where its query came from.
    fn send(&mut self, socket: &UdpSocket, n: usize) {
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(n);
        let mut headers: Vec<libc::mmsghdr> = Vec::with_capacity(n);
        for i in (0..n).filter(|&i| self.answered[i]) {
            iov.push(libc::iovec {
                iov_base: self.answers[i].as_mut_ptr().cast(),
                iov_len: self.answers[i].len(),
            });
            // SAFETY: plain C struct; all-zero is a valid empty header.
            let mut header: libc::mmsghdr = unsafe { zeroed() };
            header.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            header.msg_hdr.msg_namelen = self.headers[i].msg_hdr.msg_namelen;
            headers.push(header);
        }
        // Pointers into `iov` only once it no longer grows.
        for (header, iov) in headers.iter_mut().zip(iov.iter_mut()) {
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
        }
        let mut sent = 0;
        while sent < headers.len() {
            // SAFETY: every header points at a live address slot and a live iovec over
            // an answer buffer that is not touched until the call returns.
            let n = unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    headers[sent..].as_mut_ptr(),
                    (headers.len() - sent) as libc::c_uint,
                    0,
                )
            };
            if n <= 0 {
                // The first remaining datagram cannot be sent (the client's socket is
                // gone, a full buffer): skip it, as a lost datagram.
                sent += 1;
            } else {
                sent += n as usize;
            }
        }
    }
}

/// The sender's address of a received datagram.
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it can hold.
            let v4: &libc::sockaddr_in =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6: &libc::sockaddr_in6 =
                unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(v6.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}
