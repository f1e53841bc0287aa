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

/// All served zones by origin, shared by the request handler and every zone handler.
type Zones = Arc<HashMap<LowerName, Arc<ZoneData>>>;

/// The closest enclosing served zone of `name`, as the catalog picks it.
fn zone_for<'z>(zones: &'z Zones, name: &LowerName) -> Option<&'z Arc<ZoneData>> {
    let mut name = name.clone();
    loop {
        if let Some(zone) = zones.get(&name) {
            return Some(zone);
        }
        if name.is_root() {
            return None;
        }
        name = name.base_name();
    }
}

/// The request handler: hickory's catalog, plus two answers that its catalog cannot give
/// the way NSD does (see [`WorldHandler::handle_request`]).
struct WorldHandler {
    catalog: Catalog,
    zones: Zones,
}

/// A negative answer at the end of a CNAME chain: response code, the chain, the SOA.
type ChainAnswer = (ResponseCode, Vec<Record>, Vec<Record>);

impl WorldHandler {
    /// For a query at an alias whose CNAME chain ends, inside a served zone, at a name that
    /// does not exist or lacks the asked type: the answer NSD gives, that is the chain, the
    /// response code of the last name (NXDOMAIN or NOERROR, RFC 6604 §2.1) and that zone's
    /// SOA. hickory's catalog would answer NOERROR without SOA, since a zone handler cannot
    /// return records together with NXDOMAIN. `None` for every other query.
    async fn negative_chain(&self, request: &Request) -> Option<ChainAnswer> {
        if request.metadata.message_type != MessageType::Query
            || request.metadata.op_code != OpCode::Query
            || request.edns.as_ref().is_some_and(|e| e.version() > 0)
        {
            return None; // the catalog's error handling applies
        }
        let info = request.request_info().ok()?;
        let qtype = info.query.query_type();
        if matches!(
            qtype,
            RecordType::CNAME | RecordType::ANY | RecordType::AXFR | RecordType::IXFR
        ) {
            return None;
        }
        let mut name = info.query.name().clone();
        let mut chain: Vec<Record> = Vec::new();
        let mut seen = HashSet::new();
        loop {
            let zone = zone_for(&self.zones, &name)?;
            if !zone.fast_negative {
                return None;
            }
            let rcode = match zone.names.get(&name) {
                None => ResponseCode::NXDomain,
                Some(types) if types.contains(&RecordType::CNAME) => {
                    if !seen.insert(name.clone()) || seen.len() > MAX_CNAME_HOPS {
                        return None; // a loop: the catalog answers with what it finds
                    }
                    let record = zone.cname_record(&name).await?;
                    let RData::CNAME(CNAME(target)) = &record.data else {
                        return None;
                    };
                    name = LowerName::from(target);
                    chain.push(record);
                    continue;
                }
                Some(types) if types.contains(&qtype) => return None, // data at the end
                Some(_) => ResponseCode::NoError,
            };
            if chain.is_empty() {
                return None; // not an alias: the catalog answers NXDOMAIN or NODATA itself
            }
            return Some((rcode, chain, zone.negative_soa.clone()));
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for WorldHandler {
    /// Answers through the catalog, except for two cases where NSD answers differently:
    /// ANY over UDP (empty and truncated, NSD's `refuse-any`), and a CNAME chain that ends
    /// at a missing name or type inside a served zone (NXDOMAIN or NODATA with the chain).
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let any_over_udp = request.protocol() == Protocol::Udp
            && request
                .queries
                .queries()
                .iter()
                .any(|q| q.query_type() == RecordType::ANY);
        let chain = if any_over_udp {
            None
        } else {
            match self.negative_chain(request).await {
                Some(chain) => Some(chain),
                None => {
                    return self
                        .catalog
                        .handle_request::<R, T>(request, response_handle)
                        .await;
                }
            }
        };

        let mut metadata = Metadata::response_from_request(&request.metadata);
        let edns = request.edns.as_ref().map(|asked| {
            let mut edns = Edns::new();
            edns.set_max_payload(asked.max_payload().max(512));
            edns
        });
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let sent = match &chain {
            // NSD with `refuse-any: yes` answers ANY over UDP with an empty, truncated
            // response, so that a genuine client retries over TCP (where ANY is answered).
            None => {
                metadata.truncation = true;
                response_handle
                    .send_response(builder.build_no_records(metadata))
                    .await
            }
            Some((rcode, answers, soa)) => {
                metadata.authoritative = true;
                metadata.response_code = *rcode;
                let response = builder.build(
                    metadata,
                    answers.iter(),
                    iter::empty(),
                    soa.iter(),
                    iter::empty(),
                );
                response_handle.send_response(response).await
            }
        };
        sent.unwrap_or_else(|error| {
            tracing::warn!(%error, "failed to send a response");
            let mut metadata = Metadata::response_from_request(&request.metadata);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        })
    }
}

/// One zone's records and an index of the names that exist in it.
///
/// hickory's in-memory store decides NXDOMAIN versus NODATA by scanning every record of
/// the zone, which costs about 1.5 ms per negative answer in the 34k-record `de.` zone: a
/// scan that asks for many missing names would spend most of its time there. The index
/// answers those cases in one hash lookup and leaves positive answers to the store.
struct ZoneData {
    store: InMemoryZoneHandler,
    /// Every owner name, and every empty non-terminal between an owner and the apex (they
    /// exist too: NOERROR, not NXDOMAIN), with the record types present there.
    names: HashMap<LowerName, Box<[RecordType]>>,
    /// False when the zone has wildcards or delegations, whose answers depend on more than
    /// the exact name; then every query goes to the store.
    fast_negative: bool,
    /// The SOA as negative answers carry it: with the TTL lowered to the SOA minimum,
    /// since that is how long the absence may be cached (RFC 2308 §3). NSD does this;
    /// hickory's catalog would send the SOA's own TTL.
    negative_soa: Vec<Record>,
}

impl ZoneData {
    fn new(mut store: InMemoryZoneHandler) -> Self {
        ensure_soa(&mut store);
        let origin = store.origin().clone();
        let mut names: HashMap<LowerName, Vec<RecordType>> = HashMap::new();
        let mut fast_negative = true;
        for key in store.records_get_mut().keys() {
            let name = key.name();
            if name.is_wildcard() || (key.record_type == RecordType::NS && *name != origin) {
                fast_negative = false;
            }
            names.entry(name.clone()).or_default().push(key.record_type);
            let mut parent = name.base_name();
            while origin.zone_of(&parent) && !names.contains_key(&parent) {
                names.insert(parent.clone(), Vec::new());
                parent = parent.base_name();
            }
        }
        let names = names
            .into_iter()
            .map(|(name, types)| (name, types.into_boxed_slice()))
            .collect();
        let soa_key = RrKey::new(origin.clone(), RecordType::SOA);
        let negative_soa = store
            .records_get_mut()
            .get(&soa_key)
            .map(|set| {
                set.records_without_rrsigs()
                    .map(|record| {
                        let mut record = record.clone();
                        if let RData::SOA(soa) = &record.data {
                            record.ttl = record.ttl.min(soa.minimum);
                        }
                        record
                    })
                    .collect()
            })
            .unwrap_or_default();
        Self {
            store,
            names,
            fast_negative,
            negative_soa,
        }
    }

    fn origin(&self) -> &LowerName {
        self.store.origin()
    }

    /// What the fast index needs of this zone: its names with their record sets (the
    /// same `Arc`s the store holds, so nothing is copied).
    fn fast_input(&mut self) -> ZoneInput {
        let mut sets: HashMap<LowerName, Vec<Arc<RecordSet>>> = HashMap::new();
        for (key, set) in self.store.records_get_mut().iter() {
            sets.entry(key.name().clone())
                .or_default()
                .push(Arc::clone(set));
        }
        let names = self
            .names
            .keys()
            .map(|name| (name.clone(), sets.remove(name).unwrap_or_default()))
            .collect();
        ZoneInput {
            origin: self.origin().clone(),
            simple: self.fast_negative,
            negative_soa: self.negative_soa.clone(),
            names,
        }
    }

    /// The CNAME record at `name`, if there is one.
    async fn cname_record(&self, name: &LowerName) -> Option<Record> {
        let found = self
            .store
            .lookup(name, RecordType::CNAME, None, LookupOptions::default())
            .await;
        match found {
            LookupControlFlow::Continue(Ok(answer)) => answer
                .iter()
                .find(|r| r.record_type() == RecordType::CNAME)
                .cloned(),
            _ => None,
        }
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        request_info: Option<&RequestInfo<'_>>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        if self.fast_negative && self.origin().zone_of(name) {
            match self.names.get(name) {
                None => {
                    return LookupControlFlow::Continue(Err(LookupError::from(
                        ResponseCode::NXDomain,
                    )));
                }
                Some(types)
                    if rtype != RecordType::ANY
                        && !types.iter().any(|&t| t == rtype || t == RecordType::CNAME) =>
                {
                    return LookupControlFlow::Continue(Err(LookupError::NameExists));
                }
                Some(_) => {}
            }
        }
        self.store
            .lookup(name, rtype, request_info, lookup_options)
            .await
    }
}

/// A served zone as the catalog sees it: its own data, plus every other zone so that a CNAME
/// pointing into another served zone is followed there, as NSD does (an A query for an MX
/// host that is a CNAME returns the CNAME and the target's address in one answer).
struct WorldZone {
    zone: Arc<ZoneData>,
    all: Zones,
}

impl WorldZone {
    /// Extends an answer that ends in a CNAME to another served zone with what that zone
    /// holds for the target (in-zone targets were already followed by the store).
    async fn follow_cname(
        &self,
        mut answer: AuthLookup,
        rtype: RecordType,
        lookup_options: LookupOptions,
    ) -> AuthLookup {
        let Some(mut target) = last_cname_target(answer.iter()) else {
            return answer;
        };
        if self.zone.origin().zone_of(&target) {
            return answer;
        }
        let mut records: Vec<Record> = answer.iter().cloned().collect();
        // Owners already answered: reaching one again means a loop between zones.
        let mut seen: HashSet<LowerName> =
            records.iter().map(|r| LowerName::from(&r.name)).collect();
        for _ in 0..MAX_CNAME_HOPS {
            if !seen.insert(target.clone()) {
                break;
            }
            let Some(zone) = zone_for(&self.all, &target) else {
                break;
            };
            let LookupControlFlow::Continue(Ok(found)) =
                zone.lookup(&target, rtype, None, lookup_options).await
            else {
                break;
            };
            let next = last_cname_target(found.iter());
            records.extend(found.iter().cloned());
            match next {
                Some(next) => target = next,
                None => break,
            }
        }
        let additionals = answer.take_additionals();
        AuthLookup::answers(LookupRecords::Section(records), additionals)
    }
}

impl WorldZone {
    /// Fills the additional section of an MX, SRV or NS answer the way NSD does: the
    /// addresses (A, AAAA) held at every target that lies in the same zone as the record
    /// naming it. hickory's store does this for the first target only, and follows a CNAME
    /// there, which NSD does not.
    async fn add_addresses(
        &self,
        answer: AuthLookup,
        rtype: RecordType,
        lookup_options: LookupOptions,
    ) -> AuthLookup {
        if !matches!(rtype, RecordType::MX | RecordType::SRV | RecordType::NS) {
            return answer;
        }
        let records: Vec<Record> = answer.iter().cloned().collect();
        let mut additionals: Vec<Record> = Vec::new();
        for record in &records {
            let target = match &record.data {
                RData::MX(mx) => &mx.exchange,
                RData::SRV(srv) => &srv.target,
                RData::NS(ns) => &ns.0,
                _ => continue,
            };
            let target = LowerName::from(target);
            let owner_zone = zone_for(&self.all, &LowerName::from(&record.name));
            let Some(zone) = zone_for(&self.all, &target) else {
                continue;
            };
            if !owner_zone.is_some_and(|owner_zone| Arc::ptr_eq(owner_zone, zone)) {
                continue;
            }
            for address_type in [RecordType::A, RecordType::AAAA] {
                let found = zone
                    .lookup(&target, address_type, None, lookup_options)
                    .await;
                if let LookupControlFlow::Continue(Ok(found)) = found {
                    // Addresses at the target itself only: NSD does not follow a CNAME here.
                    let direct = found.iter().filter(|r| {
                        r.record_type() == address_type && LowerName::from(&r.name) == target
                    });
                    for address in direct {
                        if !additionals.contains(address) {
                            additionals.push(address.clone());
                        }
                    }
                }
            }
        }
        let additionals = (!additionals.is_empty()).then_some(LookupRecords::Section(additionals));
        AuthLookup::answers(LookupRecords::Section(records), additionals)
    }
}

/// The target of the last record when it is a CNAME: where an answer chain stopped.
fn last_cname_target<'a>(records: impl Iterator<Item = &'a Record>) -> Option<LowerName> {
    match &records.last()?.data {
        RData::CNAME(CNAME(target)) => Some(LowerName::from(target)),
        _ => None,
    }
}

#[async_trait::async_trait]
impl ZoneHandler for WorldZone {
    fn zone_type(&self) -> ZoneType {
        self.zone.store.zone_type()
    }

    fn axfr_policy(&self) -> AxfrPolicy {
        self.zone.store.axfr_policy()
    }

    fn origin(&self) -> &LowerName {
        self.zone.origin()
    }

    async fn lookup(
        &self,
        name: &LowerName,
        rtype: RecordType,
        request_info: Option<&RequestInfo<'_>>,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        // The catalog fetches the SOA for the authority section of NXDOMAIN and NODATA
        // answers with this call, without request information; a client's SOA query always
        // has it. Only the former gets the negative-caching TTL.
        if rtype == RecordType::SOA && request_info.is_none() && name == self.zone.origin() {
            let soa = LookupRecords::Section(self.zone.negative_soa.clone());
            return LookupControlFlow::Continue(Ok(AuthLookup::answers(soa, None)));
        }
        let result = self
            .zone
            .lookup(name, rtype, request_info, lookup_options)
            .await;
        if matches!(rtype, RecordType::CNAME | RecordType::ANY) {
            return result;
        }
        match result {
            LookupControlFlow::Continue(Ok(answer)) => {
                let answer = self.follow_cname(answer, rtype, lookup_options).await;
                let answer = self.add_addresses(answer, rtype, lookup_options).await;
                LookupControlFlow::Continue(Ok(answer))
            }
            other => other,
        }
    }

    async fn search(
        &self,
        request: &Request,
        lookup_options: LookupOptions,
    ) -> (LookupControlFlow<AuthLookup>, Option<TSigResponseContext>) {
        let info = match request.request_info() {
            Ok(info) => info,
            Err(error) => return (LookupControlFlow::Break(Err(error)), None),
        };
        let result = self
            .lookup(
                info.query.name(),
                info.query.query_type(),
                Some(&info),
                lookup_options,
            )
            .await;
        (result, None)
    }

    async fn zone_transfer(
        &self,
        request: &Request,
        lookup_options: LookupOptions,
        now: u64,
    ) -> Option<(
        Result<ZoneTransfer, LookupError>,
        Option<TSigResponseContext>,
    )> {
        // The store refuses transfers (AxfrPolicy::Deny), as NSD does without provide-xfr.
        self.zone
            .store
            .zone_transfer(request, lookup_options, now)
            .await
    }

    async fn nsec_records(
        &self,
        name: &LowerName,
        lookup_options: LookupOptions,
    ) -> LookupControlFlow<AuthLookup> {
        self.zone.store.nsec_records(name, lookup_options).await
    }
}

/// A zone without a SOA (already reported as a problem by the reader) still gets served,
/// with a placeholder SOA, because negative answers need one in their authority section.
fn ensure_soa(store: &mut InMemoryZoneHandler) {
    let origin: Name = store.origin().into();
    let has_soa = store
        .records_get_mut()
        .keys()
        .any(|k| k.record_type == RecordType::SOA);
    if !has_soa {
        tracing::warn!(zone = %origin, "zone has no SOA; serving it with a placeholder");
        let name = |text: &str| DnsName::parse(text).expect("constant name").to_hickory();
        let soa = SOA::new(
            name("ns.replay.invalid"),
            name("hostmaster.replay.invalid"),
            1,
            3600,
            900,
            604_800,
            300,
        );
        store.upsert_mut(Record::from_rdata(origin, 3600, RData::SOA(soa)), 1);
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
