//! A multiplexed DNS stub client for scanning: a few long-lived UDP sockets carry
//! thousands of queries in flight, matched to their answers by id and question; a
//! truncated answer is retried over TCP. Wire format: [`super::wire`].
//!
//! Why not hickory-resolver's lookup path: it opens a fresh UDP socket per query and
//! runs a resolver state machine per lookup, which held a scan at about a tenth of an
//! authoritative server's capacity (see bench/RESULTS.md). A scanner asks hundreds of
//! thousands of independent questions of a known server; it needs a stub, not a
//! resolver. hickory-resolver still supplies the system resolver configuration.
//!
//! Per query the client does as little as it can, because on a small machine it shares
//! the cores with the DNS server it measures: the query is encoded on the stack and
//! sent with one syscall; one receiver task per socket drains the socket with
//! `recvmmsg` (many datagrams per syscall) and hands each datagram to its waiter
//! through a table indexed by query id (no per-query channel, one lock per batch).

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UdpSocket};

use super::wire::{self, Query, Reply};
use crate::evidence::RType;
use crate::name::DnsName;

/// UDP sockets per server: spreads queries over source ports and kernel queues.
const SOCKETS_PER_SERVER: usize = 4;
/// Largest answer mxmap reads over TCP (the protocol maximum).
const MAX_TCP_MESSAGE: usize = 65_535;
/// Datagrams read per `recvmmsg` call.
const BATCH: usize = 32;
/// Receive buffer per datagram: more than any EDNS payload mxmap advertises; a larger
/// datagram is cut and treated as truncated (retried over TCP).
const DATAGRAM: usize = 4096;
/// Kernel receive buffer asked for each socket, so that bursts of answers are not
/// dropped while the receiver task waits for a core (a drop costs a timeout).
const SOCKET_BUFFER: libc::c_int = 4 << 20;

/// How one exchange ended, before interpretation.
pub enum Exchange {
    /// A response matching the question.
    Response(Reply),
    /// No response in time.
    Timeout,
    /// Socket or decoding trouble.
    Error(String),
}

/// State of one query id of a socket.
enum Slot {
    /// Not in use.
    Free,
    /// A query is in flight; its task is woken when the answer arrives.
    Waiting(Option<Waker>),
    /// The answer arrived and awaits its task.
    Done(Vec<u8>),
}

/// Query ids of one socket.
struct Table {
    slots: Vec<Slot>,
    /// Ids not in use, in the (shuffled) order they will be handed out; released ids
    /// go to the back, so an id is reused as late as possible.
    free: VecDeque<u16>,
}

struct Channel {
    socket: UdpSocket,
    server: SocketAddr,
    table: Mutex<Table>,
}

impl Channel {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves an id (`None` when all 65,536 are in flight on this socket).
    fn reserve(&self) -> Option<u16> {
        let mut table = self.table();
        let id = table.free.pop_front()?;
        table.slots[usize::from(id)] = Slot::Waiting(None);
        Some(id)
    }

    fn release(&self, id: u16) {
        let mut table = self.table();
        table.slots[usize::from(id)] = Slot::Free;
        table.free.push_back(id);
    }
}

/// The client. Cheap to share behind an `Arc`.
pub struct StubClient {
    channels: Vec<Arc<Channel>>,
    receivers: Vec<tokio::task::JoinHandle<()>>,
    next: AtomicUsize,
    timeout: Duration,
}

impl Drop for StubClient {
    fn drop(&mut self) {
        for receiver in &self.receivers {
            receiver.abort();
        }
    }
}

impl StubClient {
    /// Opens the sockets for `servers` (must be called inside a tokio runtime).
    pub async fn connect(servers: &[SocketAddr], timeout: Duration) -> Result<StubClient> {
        anyhow::ensure!(!servers.is_empty(), "no DNS server configured");
        let mut channels = Vec::new();
        let mut receivers = Vec::new();
        for server in servers {
            for _ in 0..SOCKETS_PER_SERVER {
                let bind: SocketAddr = if server.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    ([0u16; 8], 0).into()
                };
                let socket = UdpSocket::bind(bind)
                    .await
                    .with_context(|| format!("cannot open a UDP socket for {server}"))?;
                socket
                    .connect(server)
                    .await
                    .with_context(|| format!("cannot reach DNS server {server}"))?;
                enlarge_receive_buffer(&socket);
                let channel = Arc::new(Channel {
                    socket,
                    server: *server,
                    table: Mutex::new(Table {
                        slots: (0..=u16::MAX).map(|_| Slot::Free).collect(),
                        free: shuffled_ids(rand_seed(channels.len())),
                    }),
                });
                receivers.push(tokio::spawn(receive(channel.clone())));
                channels.push(channel);
            }
        }
        Ok(StubClient {
            channels,
            receivers,
            next: AtomicUsize::new(0),
            timeout,
        })
    }

    /// One exchange: UDP, then TCP if the answer came back truncated. `attempt`
    /// rotates servers on retries.
    pub async fn exchange(&self, name: &DnsName, rtype: RType, attempt: u32) -> Exchange {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let channel =
            &self.channels[(start + attempt as usize * SOCKETS_PER_SERVER) % self.channels.len()];
        let Some(id) = channel.reserve() else {
            return Exchange::Error(format!("too many queries in flight to {}", channel.server));
        };
        // From here on the id is released by `Answer`'s drop, whatever happens.
        let answer = Answer {
            channel,
            id,
            finished: false,
        };
        let query = Query::new(id, name, rtype);
        if let Err(e) = channel.socket.send(query.bytes()).await {
            return Exchange::Error(format!("send to {}: {e}", channel.server));
        }
        let reply = match tokio::time::timeout(self.timeout, answer).await {
            Ok(bytes) => bytes,
            Err(_) => return Exchange::Timeout,
        };
        match wire::parse_reply(&reply, id, name, rtype) {
            Ok(reply) if reply.truncated => self.exchange_tcp(channel.server, name, rtype).await,
            Ok(reply) => Exchange::Response(reply),
            Err(e) => Exchange::Error(e),
        }
    }

    async fn exchange_tcp(&self, server: SocketAddr, name: &DnsName, rtype: RType) -> Exchange {
        let id = rand_seed(0x5eed);
        let work = async {
            let query = Query::new(id, name, rtype);
            let request = query.bytes();
            let mut stream = TcpStream::connect(server)
                .await
                .map_err(|e| format!("TCP connect to {server}: {e}"))?;
            let mut framed = Vec::with_capacity(request.len() + 2);
            framed.extend_from_slice(&(request.len() as u16).to_be_bytes());
            framed.extend_from_slice(request);
            stream
                .write_all(&framed)
                .await
                .map_err(|e| format!("TCP send: {e}"))?;
            let len = stream
                .read_u16()
                .await
                .map_err(|e| format!("TCP read: {e}"))? as usize;
            let mut reply = vec![0u8; len.min(MAX_TCP_MESSAGE)];
            stream
                .read_exact(&mut reply)
                .await
                .map_err(|e| format!("TCP read: {e}"))?;
            wire::parse_reply(&reply, id, name, rtype)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(reply)) => Exchange::Response(reply),
            Ok(Err(e)) => Exchange::Error(e),
            Err(_) => Exchange::Timeout,
        }
    }
}

/// The answer datagram to one reserved id; dropping it (done or not, e.g. on timeout)
/// releases the id.
struct Answer<'a> {
    channel: &'a Channel,
    id: u16,
    finished: bool,
}

impl Future for Answer<'_> {
    type Output = Vec<u8>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Vec<u8>> {
        let id = usize::from(self.id);
        let mut table = self.channel.table();
        match &mut table.slots[id] {
            Slot::Done(_) => {
                let Slot::Done(bytes) = std::mem::replace(&mut table.slots[id], Slot::Free) else {
                    unreachable!("matched above")
                };
                table.free.push_back(self.id);
                drop(table);
                self.finished = true;
                Poll::Ready(bytes)
            }
            Slot::Waiting(waker) => {
                match waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => *waker = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            Slot::Free => unreachable!("a reserved id is never freed by others"),
        }
    }
}

impl Drop for Answer<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.channel.release(self.id);
        }
    }
}

/// Reads datagrams in batches and hands each to the waiter of its id; strays (no
/// query in flight under that id) are dropped.
async fn receive(channel: Arc<Channel>) {
    let mut batch = RecvBatch::new();
    let mut wakers: Vec<Waker> = Vec::with_capacity(BATCH);
    loop {
        if channel.socket.readable().await.is_err() {
            // The socket is gone (runtime shutting down); waiters time out.
            return;
        }
        loop {
            let received = channel
                .socket
                .try_io(Interest::READABLE, || batch.recv(&channel.socket));
            let n = match received {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP port unreachable and the like surface here; the waiter times out.
                Err(_) => continue,
            };
            {
                let mut table = channel.table();
                for i in 0..n {
                    let datagram = batch.datagram(i);
                    let Some(id) = wire::message_id(datagram) else {
                        continue;
                    };
                    let slot = &mut table.slots[usize::from(id)];
                    if let Slot::Waiting(waker) = slot {
                        let waker = waker.take();
                        let mut bytes = datagram.to_vec();
                        if batch.cut(i) {
                            // Larger than our buffer: read as truncated, retried over TCP.
                            bytes[2] |= 0x02;
                        }
                        *slot = Slot::Done(bytes);
                        wakers.extend(waker);
                    }
                }
            }
            for waker in wakers.drain(..) {
                waker.wake();
            }
            if n < BATCH {
                break;
            }
        }
    }
}

/// Buffers for one `recvmmsg` call.
struct RecvBatch {
    buffers: Vec<u8>,
    iovecs: Vec<libc::iovec>,
    headers: Vec<libc::mmsghdr>,
}

// The raw pointers only point into the batch's own buffers.
unsafe impl Send for RecvBatch {}

impl RecvBatch {
    fn new() -> RecvBatch {
        let mut buffers = vec![0u8; BATCH * DATAGRAM];
        let iovecs: Vec<libc::iovec> = buffers
            .chunks_mut(DATAGRAM)
            .map(|chunk| libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: DATAGRAM,
            })
            .collect();
        let mut batch = RecvBatch {
            buffers,
            iovecs,
            headers: Vec::with_capacity(BATCH),
        };
        for i in 0..BATCH {
            // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
            let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
            header.msg_hdr.msg_iov = &mut batch.iovecs[i];
            header.msg_hdr.msg_iovlen = 1;
            batch.headers.push(header);
        }
        batch
    }

    /// Receives up to [`BATCH`] datagrams without blocking.
    fn recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        for header in &mut self.headers {
            header.msg_len = 0;
            header.msg_hdr.msg_flags = 0;
        }
        // SAFETY: every header points at its own iovec, which points at a DATAGRAM-sized
        // slice of `buffers`; all live as long as `self`, which is borrowed mutably.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    fn datagram(&self, i: usize) -> &[u8] {
        let len = (self.headers[i].msg_len as usize).min(DATAGRAM);
        &self.buffers[i * DATAGRAM..i * DATAGRAM + len]
    }

    /// True when datagram `i` was larger than its buffer.
    fn cut(&self, i: usize) -> bool {
        self.headers[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0
    }
}

fn enlarge_receive_buffer(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let size = SOCKET_BUFFER;
    // SAFETY: setsockopt with a valid fd and a c_int option value. Failure (a smaller
    // system limit) only means the kernel default or its cap is kept.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Every id once, in an order that differs per process and socket.
fn shuffled_ids(seed: u16) -> VecDeque<u16> {
    let mut ids: Vec<u16> = (0..=u16::MAX).collect();
    // xorshift64*, seeded per socket; Fisher–Yates.
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(seed).wrapping_mul(0x2545_f491_4f6c_dd1d);
    for i in (1..ids.len()).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let j = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1)) as usize;
        ids.swap(i, j);
    }
    ids.into()
}

/// A starting value that differs per process and socket (not security-grade; ids are
/// also checked against the question).
fn rand_seed(salt: usize) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (nanos as usize ^ (std::process::id() as usize).rotate_left(7) ^ salt.wrapping_mul(40_503))
        as u16
}
