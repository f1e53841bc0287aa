//! An in-process authoritative DNS server for a [`World`], on loopback only.
//!
//! Built from hickory-server parts: one [`InMemoryZoneHandler`] per zone in a [`Catalog`],
//! served by [`Server`] over UDP and TCP on the same port. The aim is to answer like the NSD
//! setup described in the world README, so that a scanner sees the same thing against
//! either:
//!
//! - authoritative answers (AA set, RA not set, no recursion);
//! - NXDOMAIN for a missing name inside a served zone, NODATA (NOERROR, empty answer, SOA
//!   in the authority section) for an existing name (or empty non-terminal) without the
//!   asked type, REFUSED for a name outside every served zone; the SOA of negative answers
//!   carries the SOA minimum as TTL (RFC 2308);
//! - a CNAME for any type asked at an alias, followed within its zone and into any other
//!   served zone; a chain that ends at a missing name gives NXDOMAIN with the chain, one
//!   that ends at a name without the type gives NODATA with the chain (RFC 6604);
//! - the addresses of in-zone MX, SRV and NS targets in the additional section;
//! - UDP answers that do not fit the client's buffer (512 bytes without EDNS) truncated
//!   with TC, so clients retry over TCP, where the whole answer is sent;
//! - ANY over UDP answered empty with TC (NSD's `refuse-any`); over TCP with one RRset
//!   (RFC 8482), which is what NSD 4.6 sends too.
//!
//! Checked against NSD 4.6.1 serving the same zones: 48,000 sampled queries (owners with
//! their own and other types, missing names, aliases, parents) gave the same status,
//! flags, answer, authority and additional sections. Known differences: NSD adds the apex
//! NS to the authority section of positive answers; on truncation NSD sends an empty
//! answer section where hickory sends the records that fit; and hickory's answers are a
//! few bytes longer (the question is not used as a compression target), so an answer just
//! under the limit for NSD can be truncated here. Clients then simply retry over TCP.
//!
//! Thin wrappers around hickory's parts make this hold: `WorldHandler` (ANY, negative
//! CNAME chains) and `WorldZone` (cross-zone CNAMEs, additional addresses, negative SOA
//! TTL, and a name index so that negative answers do not scan the whole zone).

use std::{
    collections::{BTreeMap, HashMap, HashSet, btree_map},
    iter,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use hickory_proto::{
    op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode},
    rr::{
        LowerName, Name, RData, Record, RecordSet, RecordType, RrKey, TSigResponseContext,
        rdata::{CNAME, SOA},
    },
    serialize::binary::{BinEncodable, BinEncoder},
};
use hickory_server::{
    net::{
        NetError,
        runtime::{Time, TokioTime},
        xfer::Protocol,
    },
    server::{Request, RequestHandler, RequestInfo, ResponseHandler, ResponseInfo},
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{
        AuthLookup, AxfrPolicy, Catalog, LookupControlFlow, LookupError, LookupOptions,
        LookupRecords, MessageResponse, MessageResponseBuilder, ZoneHandler, ZoneTransfer,
        ZoneType,
    },
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
};

use super::World;
use super::fast::{FastIndex, ZoneInput};
use super::udp;
use crate::name::DnsName;

mod hickory;

use hickory::{WorldHandler, WorldZone, ZoneData};

/// How long an idle TCP client may keep its connection open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Threads answering UDP (one per core up to this many).
const MAX_UDP_THREADS: usize = 4;
/// Attempts at finding a port that is free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 20;
/// Longest CNAME chain followed across zones, as a guard against loops between zones.
const MAX_CNAME_HOPS: usize = 8;

/// A running server. Stop it with [`WorldServer::shutdown`]; dropping it also stops it,
/// but without waiting for its threads and tasks to end.
pub struct WorldServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    udp_threads: Vec<std::thread::JoinHandle<()>>,
    tcp: tokio::task::JoinHandle<()>,
    engine: Arc<Engine>,
}

impl WorldServer {
    /// Starts serving `world` on `bind` (UDP and TCP on the same port; port 0 picks a free
    /// one). Refuses any non-loopback bind address: the world is recorded data and must
    /// never be offered to the network.
    ///
    /// Must be called inside a Tokio runtime: TCP is served on its tasks, UDP on threads
    /// of its own (one per core, at most [`MAX_UDP_THREADS`]).
    pub async fn start(world: World, bind: SocketAddr) -> anyhow::Result<WorldServer> {
        if !bind.ip().is_loopback() {
            bail!(
                "refusing to serve the replay world on {bind}: only loopback addresses are allowed"
            );
        }
        // Building the zone stores takes a moment for the full world; keep it off the
        // runtime's worker threads.
        let engine = tokio::task::spawn_blocking(move || Arc::new(build_engine(world)))
            .await
            .context("building the zone catalog panicked")?;
        let (udp, tcp) = bind_sockets(bind).await?;
        let addr = udp.local_addr().context("reading the bound UDP address")?;
        let udp = udp.into_std().context("taking over the UDP socket")?;
        let stop = Arc::new(AtomicBool::new(false));
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_UDP_THREADS);
        let udp_threads = udp::spawn(udp, threads, Arc::clone(&engine), Arc::clone(&stop))
            .context("starting the UDP threads")?;
        let tcp = tokio::spawn(serve_tcp(tcp, Arc::clone(&engine)));
        tracing::info!(%addr, "replay DNS world is being served");
        Ok(WorldServer {
            addr,
            stop,
            udp_threads,
            tcp,
            engine,
        })
    }

    /// The address served, with the real port when port 0 was asked for.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries answered so far: (on the fast path, through hickory's catalog).
    pub fn answered(&self) -> (u64, u64) {
        (
            self.engine.fast_answers.load(Ordering::Relaxed),
            self.engine.slow_answers.load(Ordering::Relaxed),
        )
    }

    /// Stops answering, waits for the threads and tasks to end and releases the port.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.tcp.abort();
        let _ = (&mut self.tcp).await;
        let threads = std::mem::take(&mut self.udp_threads);
        tokio::task::spawn_blocking(move || threads.into_iter().all(|t| t.join().is_ok()))
            .await
            .ok()
            .filter(|joined| *joined)
            .with_context(|| format!("a UDP thread of the DNS server on {} panicked", self.addr))?;
        let (fast, slow) = self.answered();
        tracing::info!(
            addr = %self.addr,
            "replay DNS world stopped after {} queries ({fast} on the fast path, {slow} through hickory)",
            fast + slow
        );
        Ok(())
    }
}

impl Drop for WorldServer {
    fn drop(&mut self) {
        // The UDP threads notice within `udp::POLL` and close the socket.
        self.stop.store(true, Ordering::Relaxed);
        self.tcp.abort();
    }
}

/// Both ways of answering, and how often each was taken.
struct Engine {
    fast: FastIndex,
    slow: WorldHandler,
    fast_answers: AtomicU64,
    slow_answers: AtomicU64,
}

impl Engine {
    /// The answer to one query in `out`; false when none is due (a response message, a
    /// header too short to answer).
    async fn respond(
        &self,
        query: &[u8],
        src: SocketAddr,
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) -> bool {
        if self.fast.answer(query, protocol == Protocol::Tcp, out) {
            self.fast_answers.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.slow_answers.fetch_add(1, Ordering::Relaxed);
        self.respond_slowly(query, src, protocol, out).await
    }

    /// The answer through hickory's catalog and the wrappers around it.
    async fn respond_slowly(
        &self,
        query: &[u8],
        src: SocketAddr,
        protocol: Protocol,
        out: &mut Vec<u8>,
    ) -> bool {
        out.clear();
        let request = match Request::from_bytes(query.to_vec(), src, protocol) {
            Ok(request) => request,
            Err(_) => return format_error(query, out),
        };
        if request.metadata.message_type == MessageType::Response {
            return false; // never answer answers (reflection)
        }
        let capture = Capture {
            protocol,
            bytes: Arc::default(),
        };
        self.slow
            .handle_request::<Capture, TokioTime>(&request, capture.clone())
            .await;
        let captured = capture
            .bytes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match captured {
            Some(bytes) => {
                *out = bytes;
                true
            }
            None => false,
        }
    }
}

impl udp::Respond for Engine {
    fn respond_udp(&self, query: &[u8], src: SocketAddr, out: &mut Vec<u8>) -> bool {
        if self.fast.answer(query, false, out) {
            self.fast_answers.fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.slow_answers.fetch_add(1, Ordering::Relaxed);
        // The hickory path never waits on anything but its own in-memory locks.
        futures::executor::block_on(self.respond_slowly(query, src, Protocol::Udp, out))
    }
}

/// FORMERR for a query whose header is readable but whose body is not, as hickory's
/// server answers it (no question echoed).
fn format_error(query: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(header) = query.get(..12) else {
        return false;
    };
    if header[2] & 0x80 != 0 {
        return false;
    }
    out.clear();
    out.extend_from_slice(&header[..2]);
    out.push(0x80 | (header[2] & 0x79)); // QR, opcode and RD as asked
    out.push((header[3] & 0x10) | ResponseCode::FormErr.low());
    out.extend_from_slice(&[0; 8]);
    true
}

/// A response handler that keeps the encoded answer instead of sending it, encoding it
/// exactly as hickory's server does (UDP answers cut to the client's buffer with TC set).
#[derive(Clone)]
struct Capture {
    protocol: Protocol,
    bytes: Arc<Mutex<Option<Vec<u8>>>>,
}

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let limit = match self.protocol {
            Protocol::Udp => response.edns().map_or(512, |edns| edns.max_payload()),
            _ => u16::MAX,
        };
        let id = response.metadata().id;
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(limit);
        let info = match response.destructive_emit(&mut encoder) {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, "world server: cannot encode an answer");
                bytes.clear();
                let mut metadata = Metadata::new(id, MessageType::Response, OpCode::Query);
                metadata.response_code = ResponseCode::ServFail;
                let header = Header {
                    metadata,
                    counts: HeaderCounts::default(),
                };
                let mut encoder = BinEncoder::new(&mut bytes);
                header.emit(&mut encoder)?;
                ResponseInfo::from(header)
            }
        };
        *self.bytes.lock().unwrap_or_else(|e| e.into_inner()) = Some(bytes);
        Ok(info)
    }
}

/// Accepts TCP clients until aborted; each connection is served on a task of its own,
/// and all of them end when this task is aborted.
async fn serve_tcp(listener: TcpListener, engine: Arc<Engine>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, src)) => {
                    connections.spawn(serve_tcp_client(stream, src, Arc::clone(&engine)));
                }
                Err(error) => {
                    tracing::warn!(%error, "world server: accepting a TCP client failed");
                    tokio::time::sleep(udp::POLL).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answers one TCP client's queries (2-byte length prefix, RFC 1035 §4.2.2) in order,
/// until it closes the connection or stays idle for [`TCP_IDLE_TIMEOUT`].
async fn serve_tcp_client(mut stream: TcpStream, src: SocketAddr, engine: Arc<Engine>) {
    let mut out = Vec::new();
    loop {
        let Ok(Ok(len)) = tokio::time::timeout(TCP_IDLE_TIMEOUT, stream.read_u16()).await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        let read = tokio::time::timeout(TCP_IDLE_TIMEOUT, stream.read_exact(&mut query)).await;
        if !matches!(read, Ok(Ok(_))) {
            return;
        }
        if !engine.respond(&query, src, Protocol::Tcp, &mut out).await {
            continue;
        }
        let Ok(len) = u16::try_from(out.len()) else {
            continue;
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
}

/// Binds UDP and TCP on the same port. For port 0, UDP picks a free port first and TCP
/// tries the same number; if another program holds that TCP port, try again.
async fn bind_sockets(bind: SocketAddr) -> anyhow::Result<(UdpSocket, TcpListener)> {
    if bind.port() != 0 {
        let udp = UdpSocket::bind(bind)
            .await
            .with_context(|| format!("binding UDP {bind}"))?;
        let tcp = TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding TCP {bind}"))?;
        return Ok((udp, tcp));
    }
    let mut last_error = None;
    for _ in 0..PORT_ATTEMPTS {
        let udp = UdpSocket::bind(bind)
            .await
            .with_context(|| format!("binding UDP {bind}"))?;
        let addr = udp.local_addr().context("reading the bound UDP address")?;
        match TcpListener::bind(addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = Some(e),
        }
    }
    let error = last_error.expect("at least one attempt was made");
    Err(error).with_context(|| {
        format!(
            "no port free for both UDP and TCP on {} after {PORT_ATTEMPTS} attempts",
            bind.ip()
        )
    })
}

/// One in-memory zone store per zone origin, registered in a catalog, and the fast
/// index over the same record sets. Zone files that share an origin are merged, as one
/// zone.
fn build_engine(world: World) -> Engine {
    let mut stores: HashMap<LowerName, InMemoryZoneHandler> = HashMap::new();
    let mut order = Vec::new();
    for zone in world.zones {
        let origin = zone.origin.to_hickory();
        let key = LowerName::from(&origin);
        let store = stores.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny)
        });
        add_records(store, zone.records);
    }

    let mut fast_inputs = Vec::with_capacity(order.len());
    let zones: HashMap<LowerName, Arc<ZoneData>> = order
        .iter()
        .map(|key| {
            let store = stores.remove(key).expect("a store for every origin");
            let mut zone = ZoneData::new(store);
            fast_inputs.push(zone.fast_input());
            (key.clone(), Arc::new(zone))
        })
        .collect();
    let zones = Arc::new(zones);
    let mut catalog = Catalog::new();
    for key in order {
        let handler = WorldZone {
            zone: zones[&key].clone(),
            all: zones.clone(),
        };
        catalog.upsert(key, vec![Arc::new(handler) as Arc<dyn ZoneHandler>]);
    }
    Engine {
        fast: FastIndex::build(fast_inputs),
        slow: WorldHandler { catalog, zones },
        fast_answers: AtomicU64::new(0),
        slow_answers: AtomicU64::new(0),
    }
}

/// Puts records into a zone store as compact RRsets.
///
/// The store's own `upsert` copies the whole RRset for every record and leaves each one with
/// room for four records (about 1 KiB for a single MX); for the full world that tripled the
/// memory. Grouping first and storing each RRset with an exactly sized list keeps the
/// server near the size of the records themselves. Identical records are merged as
/// `RecordSet::insert` does; "CNAME and other data" was already refused by the reader.
fn add_records(store: &mut InMemoryZoneHandler, records: Vec<Record>) {
    let mut sets: BTreeMap<RrKey, RecordSet> = BTreeMap::new();
    for record in records {
        let key = RrKey::new(LowerName::from(&record.name), record.record_type());
        let set = sets
            .entry(key)
            .or_insert_with(|| RecordSet::new(record.name.clone(), record.record_type(), 0));
        set.insert(record, 0);
    }
    let map = store.records_get_mut();
    for (key, set) in sets {
        match map.entry(key) {
            btree_map::Entry::Vacant(slot) => {
                slot.insert(Arc::new(compact(set)));
            }
            // A second file with the same origin: merge into what is there.
            btree_map::Entry::Occupied(mut slot) => {
                let existing = Arc::make_mut(slot.get_mut());
                for record in set {
                    existing.insert(record, 0);
                }
            }
        }
    }
}

/// The same RRset with its record list sized exactly.
fn compact(set: RecordSet) -> RecordSet {
    let mut out = RecordSet::with_ttl(set.name().clone(), set.record_type(), set.ttl());
    // `into_iter` chains two exact-size iterators, so `collect` allocates exactly.
    out.set_records(set.into_iter().collect());
    out
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
