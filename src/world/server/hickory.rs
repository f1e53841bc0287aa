//! The hickory path of the world server: `WorldHandler` (ANY, negative CNAME chains)
//! over a catalog of `WorldZone`s (cross-zone CNAMEs, additional addresses, negative
//! SOA TTL, a name index over each zone's `ZoneData`). The fast path answers the common
//! questions first; everything else comes here.

// The server and its hickory path share one set of imports.
#[allow(clippy::wildcard_imports)]
use super::*;

/// All served zones by origin, shared by the request handler and every zone handler.
pub(super) type Zones = Arc<HashMap<LowerName, Arc<ZoneData>>>;

/// The closest enclosing served zone of `name`, as the catalog picks it.
pub(super) fn zone_for<'z>(zones: &'z Zones, name: &LowerName) -> Option<&'z Arc<ZoneData>> {
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
pub(super) struct WorldHandler {
    pub(super) catalog: Catalog,
    pub(super) zones: Zones,
}

/// A negative answer at the end of a CNAME chain: response code, the chain, the SOA.
pub(super) type ChainAnswer = (ResponseCode, Vec<Record>, Vec<Record>);

impl WorldHandler {
    /// For a query at an alias whose CNAME chain ends, inside a served zone, at a name that
    /// does not exist or lacks the asked type: the answer NSD gives, that is the chain, the
    /// response code of the last name (NXDOMAIN or NOERROR, RFC 6604 §2.1) and that zone's
    /// SOA. hickory's catalog would answer NOERROR without SOA, since a zone handler cannot
    /// return records together with NXDOMAIN. `None` for every other query.
    pub(super) async fn negative_chain(&self, request: &Request) -> Option<ChainAnswer> {
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
pub(super) struct ZoneData {
    pub(super) store: InMemoryZoneHandler,
    /// Every owner name, and every empty non-terminal between an owner and the apex (they
    /// exist too: NOERROR, not NXDOMAIN), with the record types present there.
    pub(super) names: HashMap<LowerName, Box<[RecordType]>>,
    /// False when the zone has wildcards or delegations, whose answers depend on more than
    /// the exact name; then every query goes to the store.
    pub(super) fast_negative: bool,
    /// The SOA as negative answers carry it: with the TTL lowered to the SOA minimum,
    /// since that is how long the absence may be cached (RFC 2308 §3). NSD does this;
    /// hickory's catalog would send the SOA's own TTL.
    pub(super) negative_soa: Vec<Record>,
}

impl ZoneData {
    pub(super) fn new(mut store: InMemoryZoneHandler) -> Self {
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

    pub(super) fn origin(&self) -> &LowerName {
        self.store.origin()
    }

    /// What the fast index needs of this zone: its names with their record sets (the
    /// same `Arc`s the store holds, so nothing is copied).
    pub(super) fn fast_input(&mut self) -> ZoneInput {
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
    pub(super) async fn cname_record(&self, name: &LowerName) -> Option<Record> {
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

    pub(super) async fn lookup(
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
pub(super) struct WorldZone {
    pub(super) zone: Arc<ZoneData>,
    pub(super) all: Zones,
}

impl WorldZone {
    /// Extends an answer that ends in a CNAME to another served zone with what that zone
    /// holds for the target (in-zone targets were already followed by the store).
    pub(super) async fn follow_cname(
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
    pub(super) async fn add_addresses(
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
pub(super) fn last_cname_target<'a>(
    records: impl Iterator<Item = &'a Record>,
) -> Option<LowerName> {
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
pub(super) fn ensure_soa(store: &mut InMemoryZoneHandler) {
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
