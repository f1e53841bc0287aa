//! A multiplexed DNS stub client for scanning: a few long-lived UDP sockets carry
//! thousands of queries in flight, matched to their answers by id and question; a
//! truncated answer is retried over TCP. Wire format is hickory-proto's.
//!
//! Why not hickory-resolver's lookup path: it opens a fresh UDP socket per query and
//! runs a resolver state machine per lookup, which held a scan at about a tenth of an
//! authoritative server's capacity (see bench/RESULTS.md). A scanner asks hundreds of
//! thousands of independent questions of a known server; it needs a stub, not a
//! resolver. hickory-resolver still supplies the system resolver configuration.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::oneshot;

/// UDP sockets per server: spreads queries over source ports and kernel queues.
const SOCKETS_PER_SERVER: usize = 4;
/// EDNS payload size advertised (the DNS flag day 2020 value: no fragmentation).
const EDNS_PAYLOAD: u16 = 1232;
/// Largest answer mxmap reads over TCP (the protocol maximum).
const MAX_TCP_MESSAGE: usize = 65_535;

/// How one exchange ended, before interpretation.
pub enum Exchange {
    /// A response matching the question.
    Response(Message),
    /// No response in time.
    Timeout,
    /// Socket or decoding trouble.
    Error(String),
}

type Waiters = std::sync::Mutex<HashMap<u16, oneshot::Sender<Vec<u8>>>>;

struct Channel {
    socket: Arc<UdpSocket>,
    server: SocketAddr,
    waiters: Arc<Waiters>,
    next_id: AtomicU16,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

/// The client. Cheap to share behind an `Arc`.
pub struct StubClient {
    channels: Vec<Channel>,
    next: AtomicUsize,
    timeout: Duration,
}

impl StubClient {
    /// Opens the sockets for `servers` (must be called inside a tokio runtime).
    pub async fn connect(servers: &[SocketAddr], timeout: Duration) -> Result<StubClient> {
        anyhow::ensure!(!servers.is_empty(), "no DNS server configured");
        let mut channels = Vec::new();
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
                let socket = Arc::new(socket);
                let waiters: Arc<Waiters> = Arc::default();
                let receiver = tokio::spawn(receive(socket.clone(), waiters.clone()));
                channels.push(Channel {
                    socket,
                    server: *server,
                    waiters,
                    next_id: AtomicU16::new(rand_seed(channels.len())),
                    receiver,
                });
            }
        }
        Ok(StubClient {
            channels,
            next: AtomicUsize::new(0),
            timeout,
        })
    }

    /// One exchange: UDP, then TCP if the answer came back truncated. `attempt`
    /// rotates servers on retries.
    pub async fn exchange(&self, name: &Name, rtype: RecordType, attempt: u32) -> Exchange {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let channel =
            &self.channels[(start + attempt as usize * SOCKETS_PER_SERVER) % self.channels.len()];
        let (id, rx) = {
            let mut waiters = channel.waiters.lock().unwrap_or_else(|e| e.into_inner());
            // Find an id not in flight on this socket.
            let mut id = channel.next_id.fetch_add(1, Ordering::Relaxed);
            while waiters.contains_key(&id) {
                id = channel.next_id.fetch_add(1, Ordering::Relaxed);
            }
            let (tx, rx) = oneshot::channel();
            waiters.insert(id, tx);
            (id, rx)
        };
        let request = match query_bytes(id, name, rtype) {
            Ok(bytes) => bytes,
            Err(e) => {
                channel.forget(id);
                return Exchange::Error(e);
            }
        };
        if let Err(e) = channel.socket.send(&request).await {
            channel.forget(id);
            return Exchange::Error(format!("send to {}: {e}", channel.server));
        }
        let reply = match tokio::time::timeout(self.timeout, rx).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => return Exchange::Error("receiver closed".into()),
            Err(_) => {
                channel.forget(id);
                return Exchange::Timeout;
            }
        };
        match check(&reply, id, name, rtype) {
            Ok(message) if message.metadata.truncation => {
                self.exchange_tcp(channel.server, name, rtype).await
            }
            Ok(message) => Exchange::Response(message),
            Err(e) => Exchange::Error(e),
        }
    }

    async fn exchange_tcp(&self, server: SocketAddr, name: &Name, rtype: RecordType) -> Exchange {
        let id = rand_seed(0x5eed);
        let work = async {
            let request = query_bytes(id, name, rtype)?;
            let mut stream = TcpStream::connect(server)
                .await
                .map_err(|e| format!("TCP connect to {server}: {e}"))?;
            let mut framed = Vec::with_capacity(request.len() + 2);
            framed.extend_from_slice(&(request.len() as u16).to_be_bytes());
            framed.extend_from_slice(&request);
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
            check(&reply, id, name, rtype)
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(message)) => Exchange::Response(message),
            Ok(Err(e)) => Exchange::Error(e),
            Err(_) => Exchange::Timeout,
        }
    }
}

impl Channel {
    fn forget(&self, id: u16) {
        self.waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
}

/// Reads datagrams and hands each to the waiter of its id; strays are dropped.
async fn receive(socket: Arc<UdpSocket>, waiters: Arc<Waiters>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let n = match socket.recv(&mut buf).await {
            Ok(n) => n,
            // ICMP port unreachable and the like surface here; the waiter times out.
            Err(_) => continue,
        };
        if n < 12 {
            continue;
        }
        let id = u16::from_be_bytes([buf[0], buf[1]]);
        let waiter = waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if let Some(tx) = waiter {
            let _ = tx.send(buf[..n].to_vec());
        }
    }
}

fn query_bytes(id: u16, name: &Name, rtype: RecordType) -> Result<Vec<u8>, String> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = true;
    // RFC 6840 §5.7: ask a validating resolver to say whether it validated the answer.
    message.metadata.authentic_data = true;
    message.add_query(Query::query(name.clone(), rtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    message.set_edns(edns);
    message
        .to_vec()
        .map_err(|e| format!("cannot encode query: {e}"))
}

/// Decodes a reply and checks it answers our question (id, name, type): anything
/// else is a spoofed or stray datagram.
fn check(reply: &[u8], id: u16, name: &Name, rtype: RecordType) -> Result<Message, String> {
    let message = Message::from_vec(reply).map_err(|e| format!("malformed answer: {e}"))?;
    if message.metadata.id != id || message.metadata.message_type != MessageType::Response {
        return Err("answer does not match the query id".into());
    }
    let matches = message
        .queries
        .first()
        .is_some_and(|q| q.query_type() == rtype && q.name() == name);
    // Some servers omit the question in error answers (e.g. FORMERR, REFUSED).
    let question_omitted =
        message.queries.is_empty() && message.metadata.response_code != ResponseCode::NoError;
    if !matches && !question_omitted {
        return Err("answer is for another question".into());
    }
    Ok(message)
}

/// A starting id that differs per process and socket (not security-grade; ids are
/// also checked against the question).
fn rand_seed(salt: usize) -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    (nanos as usize ^ (std::process::id() as usize).rotate_left(7) ^ salt.wrapping_mul(40_503))
        as u16
}
