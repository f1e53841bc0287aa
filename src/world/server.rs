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
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, bail};
use hickory_proto::{
    op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode},
    rr::{
        LowerName, Name, RData, Record, RecordSet, RecordType, RrKey, TSigResponseContext,
        rdata::{CNAME, SOA},
    },
};
use hickory_server::{
    Server,
    net::{runtime::Time, xfer::Protocol},
    server::{Request, RequestHandler, RequestInfo, ResponseHandler, ResponseInfo},
    store::in_memory::InMemoryZoneHandler,
    zone_handler::{
        AuthLookup, AxfrPolicy, Catalog, LookupControlFlow, LookupError, LookupOptions,
        LookupRecords, MessageResponseBuilder, ZoneHandler, ZoneTransfer, ZoneType,
    },
};
use tokio::net::{TcpListener, UdpSocket};

use super::World;
use crate::name::DnsName;

/// How long an idle TCP client may keep its connection open.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Responses queued per TCP connection before the server waits for the client to read.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts at finding a port that is free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 20;
/// Longest CNAME chain followed across zones, as a guard against loops between zones.
const MAX_CNAME_HOPS: usize = 8;

/// A running server. Stop it with [`WorldServer::shutdown`]; dropping it also stops it
/// (its tasks are aborted), but without waiting for them.
pub struct WorldServer {
    addr: SocketAddr,
    server: Server<WorldHandler>,
}

impl WorldServer {
    /// Starts serving `world` on `bind` (UDP and TCP on the same port; port 0 picks a free
    /// one). Refuses any non-loopback bind address: the world is recorded data and must
    /// never be offered to the network.
    ///
    /// Must be called inside a Tokio runtime; the server runs on that runtime's tasks.
    pub async fn start(world: World, bind: SocketAddr) -> anyhow::Result<WorldServer> {
        if !bind.ip().is_loopback() {
            bail!(
                "refusing to serve the replay world on {bind}: only loopback addresses are allowed"
            );
        }
        // Building the zone stores takes a moment for the full world; keep it off the
        // runtime's worker threads.
        let handler = tokio::task::spawn_blocking(move || build_handler(world))
            .await
            .context("building the zone catalog panicked")?;
        let (udp, tcp) = bind_sockets(bind).await?;
        let addr = udp.local_addr().context("reading the bound UDP address")?;

        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE_TIMEOUT, TCP_RESPONSE_BUFFER);
        tracing::info!(%addr, "replay DNS world is being served");
        Ok(WorldServer { addr, server })
    }

    /// The address served, with the real port when port 0 was asked for.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting queries and waits for the server tasks to end.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.server
            .shutdown_gracefully()
            .await
            .with_context(|| format!("shutting down the DNS server on {}", self.addr))
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

/// One in-memory zone store per zone origin, registered in a catalog. Zone files that share
/// an origin are merged, as one zone.
fn build_handler(world: World) -> WorldHandler {
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

    let zones: HashMap<LowerName, Arc<ZoneData>> = order
        .iter()
        .map(|key| {
            let store = stores.remove(key).expect("a store for every origin");
            (key.clone(), Arc::new(ZoneData::new(store)))
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
    WorldHandler { catalog, zones }
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
mod tests {
    use std::{
        net::{IpAddr, Ipv4Addr},
        path::{Path, PathBuf},
        time::Instant,
    };

    use hickory_proto::op::{Edns, Message, Query, ResponseCode};
    use hickory_resolver::{
        Resolver, TokioResolver,
        config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts},
        lookup::Lookup,
        net::{DnsError, NetError, NoRecords, runtime::TokioRuntimeProvider},
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::world::zonefile::parse_zone;

    /// A resolver that talks to `addr` only (UDP, falling back to TCP on truncation).
    fn resolver_for(addr: SocketAddr) -> TokioResolver {
        let mut server = NameServerConfig::udp_and_tcp(addr.ip());
        for connection in &mut server.connections {
            connection.port = addr.port();
        }
        let config = ResolverConfig::from_name_servers(vec![server]);
        let mut options = ResolverOpts::default();
        options.use_hosts_file = ResolveHosts::Never;
        options.timeout = Duration::from_secs(3);
        options.attempts = 1;
        options.cache_size = 0;
        Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .expect("resolver")
    }

    fn name(text: &str) -> Name {
        DnsName::parse(text).unwrap().to_hickory()
    }

    /// One query over UDP, without EDNS (so the 512-byte limit of RFC 1035 applies) unless
    /// `edns_payload` is given.
    async fn udp_query(
        addr: SocketAddr,
        qname: &Name,
        rtype: RecordType,
        edns_payload: Option<u16>,
    ) -> Message {
        let mut query = Message::query();
        query.add_query(Query::query(qname.clone(), rtype));
        if let Some(payload) = edns_payload {
            let mut edns = Edns::new();
            edns.set_max_payload(payload);
            query.set_edns(edns);
        }
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        socket
            .send_to(&query.to_vec().unwrap(), addr)
            .await
            .unwrap();
        let mut buf = vec![0u8; 65_535];
        let (n, _) = tokio::time::timeout(Duration::from_secs(3), socket.recv_from(&mut buf))
            .await
            .expect("UDP answer in time")
            .unwrap();
        let answer = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(answer.metadata.id, query.metadata.id);
        answer
    }

    /// One query over TCP (2-byte length prefix, RFC 1035 §4.2.2).
    async fn tcp_query(addr: SocketAddr, qname: &Name, rtype: RecordType) -> Message {
        let mut query = Message::query();
        query.add_query(Query::query(qname.clone(), rtype));
        let bytes = query.to_vec().unwrap();
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(&(bytes.len() as u16).to_be_bytes())
            .await
            .unwrap();
        stream.write_all(&bytes).await.unwrap();
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.unwrap();
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut buf).await.unwrap();
        Message::from_vec(&buf).unwrap()
    }

    fn no_records(result: Result<Lookup, NetError>) -> NoRecords {
        match result {
            Err(NetError::Dns(DnsError::NoRecordsFound(no_records))) => no_records,
            other => panic!("expected a negative answer, got {other:?}"),
        }
    }

    fn test_world() -> World {
        let mut text = String::from(
            "$ORIGIN mxtest.\n$TTL 3600\n\
             @ IN SOA ns.replay.invalid. hostmaster.replay.invalid. 2026070101 3600 900 604800 300\n\
             @ IN NS ns.replay.invalid.\n\
             alutagusevald.mxtest. IN MX 10 alutagusevald-ee.mail.protection.outlook.com.\n\
             alutagusevald.mxtest. IN TXT \"v=spf1 a mx include:spf.protection.outlook.com ~all\"\n\
             nbsp.mxtest. IN TXT \"v=spf1\\194\\160 include:x.mxtest ~all\" \"second\\009string\"\n\
             ziano.mxtest. IN MX 10 \\032alt1.aspmx.l.google.com.\n\
             fornoles.mxtest. IN MX 10 ~.\n\
             nullmx.mxtest. IN MX 0 .\n\
             autodiscover.alutagusevald.mxtest. IN CNAME mx.mxtest.\n\
             mx.mxtest. IN A 127.1.0.7\n\
             1.0.1.127.asn.mxtest. IN TXT \"3301 | 127.1.0.1/32 | SE | ripencc | 2000-01-01\"\n",
        );
        for i in 0..40 {
            text.push_str(&format!(
                "big.mxtest. IN TXT \"{i:03}{}\"\n",
                "x".repeat(197)
            ));
        }
        text.push_str(
            "cross.mxtest. IN CNAME host.other.\n\
             zigzag.mxtest. IN CNAME chain.other.\n\
             back.mxtest. IN A 127.1.0.10\n\
             loop1.mxtest. IN CNAME loop2.other.\n\
             twomx.mxtest. IN MX 10 mx.mxtest.\n\
             twomx.mxtest. IN MX 20 back.mxtest.\n\
             twomx.mxtest. IN MX 30 cross.mxtest.\n\
             twomx.mxtest. IN MX 40 host.other.\n\
             dangling.mxtest. IN CNAME nothing.other.\n\
             inzone.mxtest. IN CNAME nothing.mxtest.\n\
             outside.mxtest. IN CNAME mail.example.org.\n",
        );
        let other = "$ORIGIN other.\n\
                     @ IN SOA ns.replay.invalid. hostmaster.replay.invalid. 1 3600 900 604800 300\n\
                     host IN A 127.1.0.9\n\
                     chain IN CNAME back.mxtest.\n\
                     loop2 IN CNAME loop1.mxtest.\n";
        let (zone, problems) = parse_zone(&text, Path::new("mxtest.zone"), None);
        assert!(problems.is_empty(), "{problems:?}");
        let (other, problems) = parse_zone(other, Path::new("other.zone"), None);
        assert!(problems.is_empty(), "{problems:?}");
        World {
            zones: vec![zone, other],
            problems,
        }
    }

    #[tokio::test]
    async fn answers_like_nsd() {
        let server = WorldServer::start(test_world(), (Ipv4Addr::LOCALHOST, 0).into())
            .await
            .unwrap();
        let addr = server.addr();
        assert_ne!(addr.port(), 0);
        let resolver = resolver_for(addr);

        // MX answer, authoritative.
        let mx = resolver
            .lookup("alutagusevald.mxtest.", RecordType::MX)
            .await
            .unwrap();
        let exchanges: Vec<_> = mx
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some(mx.exchange.to_ascii()),
                _ => None,
            })
            .collect();
        assert_eq!(
            exchanges,
            vec!["alutagusevald-ee.mail.protection.outlook.com."]
        );
        let raw = udp_query(addr, &name("alutagusevald.mxtest"), RecordType::MX, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        assert!(raw.metadata.authoritative, "AA must be set");
        assert!(!raw.metadata.recursion_available, "RA must not be set");

        // The additional section has the address of every MX target in the same zone.
        let raw = udp_query(addr, &name("twomx.mxtest"), RecordType::MX, Some(1232)).await;
        let mut extra: Vec<_> = raw
            .additionals
            .iter()
            .filter(|r| r.record_type() != RecordType::OPT)
            .map(|r| (r.name.to_ascii(), r.record_type()))
            .collect();
        extra.sort();
        assert_eq!(
            extra,
            vec![
                ("back.mxtest.".to_string(), RecordType::A),
                ("mx.mxtest.".to_string(), RecordType::A),
            ]
        );

        // NXDOMAIN inside the zone, with the SOA for negative caching.
        let nx = no_records(resolver.lookup("missing.mxtest.", RecordType::MX).await);
        assert_eq!(nx.response_code, ResponseCode::NXDomain);
        assert!(nx.soa.is_some());
        let raw = udp_query(addr, &name("missing.mxtest"), RecordType::MX, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NXDomain);
        assert!(raw.metadata.authoritative);
        assert_eq!(
            raw.authorities[0].ttl, 300,
            "negative answers carry the SOA minimum"
        );
        let raw = udp_query(addr, &name("mxtest"), RecordType::SOA, None).await;
        assert_eq!(
            raw.answers[0].ttl, 3600,
            "a SOA query gets the SOA's own TTL"
        );

        // NODATA: the name exists, the type does not. Also for an empty non-terminal.
        let nodata = no_records(resolver.lookup("nbsp.mxtest.", RecordType::MX).await);
        assert_eq!(nodata.response_code, ResponseCode::NoError);
        assert!(nodata.soa.is_some());
        let raw = udp_query(addr, &name("nbsp.mxtest"), RecordType::MX, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        assert!(raw.answers.is_empty());
        assert_eq!(raw.authorities.len(), 1);
        assert_eq!(raw.authorities[0].record_type(), RecordType::SOA);
        let ent = udp_query(addr, &name("asn.mxtest"), RecordType::TXT, None).await;
        assert_eq!(ent.metadata.response_code, ResponseCode::NoError);

        // REFUSED outside every served zone.
        let refused = resolver.lookup("example.org.", RecordType::MX).await;
        assert!(
            matches!(
                &refused,
                Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)))
            ),
            "{refused:?}"
        );
        let raw = udp_query(addr, &name("example.org"), RecordType::MX, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::Refused);

        // TXT bytes come back exactly: decimal escapes, several strings per record.
        let txt = resolver
            .lookup("nbsp.mxtest.", RecordType::TXT)
            .await
            .unwrap();
        let RData::TXT(txt) = &txt.answers()[0].data else {
            panic!("not TXT")
        };
        let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
        assert_eq!(
            strings,
            vec![
                &b"v=spf1\xc2\xa0 include:x.mxtest ~all"[..],
                &b"second\tstring"[..]
            ]
        );

        // A target whose first label starts with a space byte, `~.`, and the null MX.
        let exchange = |lookup: &Lookup| match &lookup.answers()[0].data {
            RData::MX(mx) => mx.exchange.clone(),
            other => panic!("not MX: {other:?}"),
        };
        let ziano = resolver
            .lookup("ziano.mxtest.", RecordType::MX)
            .await
            .unwrap();
        let ziano = exchange(&ziano);
        assert_eq!(ziano.iter().next().unwrap(), b" alt1");
        assert_eq!(
            DnsName::from_hickory(&ziano).unwrap().to_string(),
            "\\032alt1.aspmx.l.google.com"
        );
        let tilde = exchange(
            &resolver
                .lookup("fornoles.mxtest.", RecordType::MX)
                .await
                .unwrap(),
        );
        assert_eq!(tilde.iter().collect::<Vec<_>>(), vec![b"~"]);
        let null = exchange(
            &resolver
                .lookup("nullmx.mxtest.", RecordType::MX)
                .await
                .unwrap(),
        );
        assert!(null.is_root());

        // A CNAME answers every type at the alias; in-zone targets are followed.
        let raw = udp_query(
            addr,
            &name("autodiscover.alutagusevald.mxtest"),
            RecordType::A,
            None,
        )
        .await;
        let types: Vec<_> = raw.answers.iter().map(Record::record_type).collect();
        assert_eq!(types, vec![RecordType::CNAME, RecordType::A]);
        let raw = udp_query(
            addr,
            &name("autodiscover.alutagusevald.mxtest"),
            RecordType::TXT,
            None,
        )
        .await;
        assert_eq!(raw.answers[0].record_type(), RecordType::CNAME);
        let ip = resolver
            .lookup("autodiscover.alutagusevald.mxtest.", RecordType::A)
            .await
            .unwrap();
        assert!(
            ip.answers()
                .iter()
                .any(|r| r.data.ip_addr() == Some(IpAddr::from([127, 1, 0, 7])))
        );

        // A CNAME into another served zone is followed there, as NSD does; loops end.
        let raw = udp_query(addr, &name("cross.mxtest"), RecordType::A, None).await;
        let types: Vec<_> = raw.answers.iter().map(Record::record_type).collect();
        assert_eq!(types, vec![RecordType::CNAME, RecordType::A]);
        assert_eq!(
            raw.answers[1].data.ip_addr(),
            Some(IpAddr::from([127, 1, 0, 9]))
        );
        let raw = udp_query(addr, &name("zigzag.mxtest"), RecordType::A, None).await;
        let types: Vec<_> = raw.answers.iter().map(Record::record_type).collect();
        assert_eq!(
            types,
            vec![RecordType::CNAME, RecordType::CNAME, RecordType::A]
        );
        let raw = udp_query(addr, &name("loop1.mxtest"), RecordType::A, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        let owners: Vec<_> = raw.answers.iter().map(|r| r.name.to_ascii()).collect();
        assert_eq!(owners, vec!["loop1.mxtest.", "loop2.other."]);
        let raw = udp_query(addr, &name("cross.mxtest"), RecordType::CNAME, None).await;
        assert_eq!(raw.answers.len(), 1);

        // A chain that ends at a missing name in a served zone: NXDOMAIN with the chain
        // and that zone's SOA (RFC 6604), as NSD answers; at an existing name without the
        // type: NOERROR, the chain and the SOA; outside the served zones: just the chain.
        let raw = udp_query(addr, &name("dangling.mxtest"), RecordType::A, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NXDomain);
        assert!(raw.metadata.authoritative);
        assert_eq!(raw.answers.len(), 1);
        assert_eq!(raw.answers[0].record_type(), RecordType::CNAME);
        assert_eq!(raw.authorities.len(), 1);
        assert_eq!(raw.authorities[0].name.to_ascii(), "other.");
        let raw = udp_query(addr, &name("inzone.mxtest"), RecordType::TXT, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(raw.answers.len(), 1);
        let raw = udp_query(addr, &name("cross.mxtest"), RecordType::TXT, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        assert_eq!(raw.answers.len(), 1);
        assert_eq!(raw.authorities[0].record_type(), RecordType::SOA);
        let raw = udp_query(addr, &name("dangling.mxtest"), RecordType::CNAME, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        assert_eq!(raw.answers.len(), 1);
        let raw = udp_query(addr, &name("outside.mxtest"), RecordType::A, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        assert_eq!(raw.answers.len(), 1);
        let nx = no_records(resolver.lookup("dangling.mxtest.", RecordType::A).await);
        assert_eq!(nx.response_code, ResponseCode::NXDomain);

        // ANY: like NSD's refuse-any, an empty truncated answer over UDP, data over TCP.
        let raw = udp_query(addr, &name("alutagusevald.mxtest"), RecordType::ANY, None).await;
        assert!(raw.metadata.truncation);
        assert!(raw.answers.is_empty());
        let raw = tcp_query(addr, &name("alutagusevald.mxtest"), RecordType::ANY).await;
        assert!(!raw.answers.is_empty());

        // Case does not matter in queries.
        let raw = udp_query(addr, &name("ZIANO.MXTEST"), RecordType::MX, None).await;
        assert_eq!(raw.answers.len(), 1);

        // A big RRset: truncated over UDP (TC), whole over TCP, and the resolver retries
        // over TCP by itself.
        let raw = udp_query(addr, &name("big.mxtest"), RecordType::TXT, None).await;
        assert!(
            raw.metadata.truncation,
            "TC must be set over UDP without EDNS"
        );
        assert!(raw.answers.len() < 40);
        let raw = udp_query(addr, &name("big.mxtest"), RecordType::TXT, Some(1232)).await;
        assert!(
            raw.metadata.truncation,
            "TC must be set over UDP with a 1232-byte EDNS buffer"
        );
        let raw = tcp_query(addr, &name("big.mxtest"), RecordType::TXT).await;
        assert!(!raw.metadata.truncation);
        assert_eq!(raw.answers.len(), 40);
        let big = resolver
            .lookup("big.mxtest.", RecordType::TXT)
            .await
            .unwrap();
        assert_eq!(big.answers().len(), 40);

        server.shutdown().await.unwrap();
        // The port is free again once the server has shut down.
        UdpSocket::bind(addr).await.expect("UDP port released");
    }

    #[tokio::test]
    async fn refuses_non_loopback_addresses() {
        for bind in ["0.0.0.0:0", "192.0.2.1:53", "[::]:0"] {
            let error = WorldServer::start(test_world(), bind.parse().unwrap())
                .await
                .err()
                .expect("refused");
            assert!(error.to_string().contains("loopback"), "{error}");
        }
    }

    /// Record data for a message, with names in RFC 1035 decimal escapes (hickory's own
    /// `Display` writes octal, which is exactly the confusion this module avoids).
    fn show(data: &RData) -> String {
        match data {
            RData::MX(mx) => match DnsName::from_hickory(&mx.exchange) {
                Ok(exchange) => format!("{} {exchange}.", mx.preference),
                Err(_) => format!("{} .", mx.preference),
            },
            other => other.to_string(),
        }
    }

    /// The recorded world, if present: `MXMAP_WORLD`, else the repository's `world/` next to
    /// the crate.
    fn world_dir() -> Option<PathBuf> {
        let dir = std::env::var_os("MXMAP_WORLD")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("world"));
        dir.is_dir().then_some(dir)
    }

    fn rss_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Loads and serves the whole recorded world and compares a few answers with the zone
    /// files. Skips (passes) when the world folder is absent.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_world_loads_and_answers() {
        let Some(dir) = world_dir() else {
            eprintln!("skipping: no replay world (set MXMAP_WORLD)");
            return;
        };
        let zone_files = std::fs::read_dir(dir.join("zones"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "zone")
            })
            .count();
        let rss_before = rss_kib();
        let started = Instant::now();
        let world = World::load(&dir).unwrap();
        let load_time = started.elapsed();
        let rss_loaded = rss_kib();
        for problem in &world.problems {
            eprintln!("problem: {problem}");
        }
        assert_eq!(world.zones.len(), zone_files);
        assert!(
            world.zones.iter().all(|z| z.records.len() >= 2),
            "every zone has SOA and NS"
        );
        let records = world.record_count();
        eprintln!(
            "world: {} zones, {records} records, {} problems, read in {load_time:?}",
            world.zones.len(),
            world.problems.len()
        );
        assert!(
            world.problems.is_empty(),
            "every line of the recorded world is loadable (NSD loads them all)"
        );
        // One record per line in these files: every record line must have become a record.
        let record_lines: usize = world
            .zones
            .iter()
            .map(|z| {
                std::fs::read_to_string(&z.file)
                    .unwrap()
                    .lines()
                    .filter(|l| !l.trim().is_empty() && !l.starts_with(['$', ';']))
                    .count()
            })
            .sum();
        assert_eq!(records, record_lines);

        // Expected answers straight from the loaded zones.
        let checks = [
            ("alutagusevald.ee", RecordType::MX),
            ("comune.ziano.tn.it", RecordType::MX),
            ("fornoles.com", RecordType::MX),
            ("1.0.1.127.origin.asn.cymru.com", RecordType::TXT),
        ];
        let expected: Vec<Vec<RData>> = checks
            .iter()
            .map(|(owner, rtype)| {
                let owner = name(owner);
                let mut data: Vec<RData> = world
                    .zones
                    .iter()
                    .flat_map(|z| &z.records)
                    .filter(|r| r.name == owner && r.record_type() == *rtype)
                    .map(|r| r.data.clone())
                    .collect();
                data.sort_by_key(|d| d.to_string());
                data
            })
            .collect();

        let started = Instant::now();
        let server = WorldServer::start(world, (Ipv4Addr::LOCALHOST, 0).into())
            .await
            .unwrap();
        let start_time = started.elapsed();
        let rss_after = rss_kib();
        eprintln!(
            "server started in {start_time:?}; RSS {} MiB before, {} MiB with the world read, {} MiB serving",
            rss_before.unwrap_or(0) / 1024,
            rss_loaded.unwrap_or(0) / 1024,
            rss_after.unwrap_or(0) / 1024
        );
        let addr = server.addr();
        let resolver = resolver_for(addr);

        for ((owner, rtype), expected) in checks.iter().zip(&expected) {
            assert!(!expected.is_empty(), "{owner} {rtype} is in the world");
            let lookup = resolver
                .lookup(format!("{owner}.").as_str(), *rtype)
                .await
                .unwrap();
            let mut got: Vec<RData> = lookup.answers().iter().map(|r| r.data.clone()).collect();
            got.sort_by_key(|d| d.to_string());
            assert_eq!(&got, expected, "{owner} {rtype}");
            eprintln!(
                "{owner} {rtype}: {}",
                got.iter().map(show).collect::<Vec<_>>().join(" | ")
            );
        }
        let ziano = &expected[1];
        let spaced = ziano
            .iter()
            .filter(|d| matches!(d, RData::MX(mx) if mx.exchange.iter().next().unwrap()[0] == b' '))
            .count();
        assert_eq!(
            (ziano.len(), spaced),
            (5, 4),
            "four of five targets start with a space byte"
        );
        assert!(
            matches!(&expected[2][0], RData::MX(mx) if mx.exchange.iter().collect::<Vec<_>>() == vec![b"~"])
        );

        // NXDOMAIN inside a big zone, REFUSED outside, and their speed.
        let raw = udp_query(addr, &name("no-such-domain-here.de"), RecordType::MX, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::NXDomain);
        let raw = udp_query(addr, &name("example.invalid"), RecordType::MX, None).await;
        assert_eq!(raw.metadata.response_code, ResponseCode::Refused);
        let n = 500;
        let started = Instant::now();
        for i in 0..n {
            let raw = udp_query(addr, &name(&format!("missing{i}.de")), RecordType::MX, None).await;
            assert_eq!(raw.metadata.response_code, ResponseCode::NXDomain);
        }
        eprintln!(
            "{n} sequential NXDOMAIN queries in de.: {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        for _ in 0..n {
            let raw = udp_query(addr, &name("alutagusevald.ee"), RecordType::TXT, None).await;
            assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
        }
        eprintln!("{n} sequential positive queries: {:?}", started.elapsed());
        let started = Instant::now();
        for _ in 0..n {
            let raw = udp_query(addr, &name("alutagusevald.ee"), RecordType::AAAA, None).await;
            assert_eq!(raw.metadata.response_code, ResponseCode::NoError);
            assert!(raw.answers.is_empty());
        }
        eprintln!("{n} sequential NODATA queries: {:?}", started.elapsed());

        server.shutdown().await.unwrap();
    }
}
