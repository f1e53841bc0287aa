//! The fast path of the world server: the questions a scan asks, answered straight from
//! an index of the zones.
//!
//! hickory's request machinery (decode the whole message, find the zone handler, look up
//! through async trait objects, clone the records, build a response message) held the
//! in-process server at about 6 % of NSD's rate on the same machine. Nearly every query
//! of a scan is a plain question for an existing or missing name, so this module answers
//! those directly: the question is read in place, the name is found with one hash lookup
//! of its lower-case wire form, and the stored records are encoded behind a copy of the
//! question. Everything else (CNAME chains, SOA and zone-transfer questions, ANY over
//! TCP, EDNS versions other than 0, zones with wildcards or delegations, answers too
//! large for the client's buffer, anything malformed) goes to the hickory path in
//! [`super::server`], which stays the reference: a test compares both paths answer for
//! answer.

use std::sync::Arc;

use hickory_proto::{
    rr::{LowerName, Name, Record, RecordSet, RecordType},
    serialize::binary::{BinEncodable, BinEncoder},
};
use rustc_hash::FxHashMap;

/// Wire constants of the header (RFC 1035 §4.1.1).
const HEADER: usize = 12;
const QR: u8 = 0x80;
const AA: u8 = 0x04;
const TC: u8 = 0x02;
const RD: u8 = 0x01;
const CD: u8 = 0x10;
const NOERROR: u8 = 0;
const NXDOMAIN: u8 = 3;
const REFUSED: u8 = 5;
const CLASS_IN: u16 = 1;
const TYPE_OPT: u16 = 41;

/// One served zone as the fast path knows it.
struct FastZone {
    /// False when the zone has wildcards or delegations: every question goes to hickory.
    simple: bool,
    /// The SOA of negative answers, with the negative-caching TTL.
    negative_soa: Vec<Record>,
}

/// A name of a zone: the zone it is served from and the RRsets it owns (none for an
/// empty non-terminal).
struct Owner {
    zone: u32,
    sets: Box<[Arc<RecordSet>]>,
}

impl Owner {
    fn set(&self, rtype: RecordType) -> Option<&RecordSet> {
        self.sets
            .iter()
            .find(|s| s.record_type() == rtype)
            .map(|s| &**s)
    }
}

/// What the index is built from, per zone: its origin, whether it is simple, the SOA of
/// negative answers, every name with its RRsets (empty for empty non-terminals).
pub(super) struct ZoneInput {
    pub origin: LowerName,
    pub simple: bool,
    pub negative_soa: Vec<Record>,
    pub names: Vec<(LowerName, Vec<Arc<RecordSet>>)>,
}

/// The index of every simple zone.
pub(super) struct FastIndex {
    /// Zone origins by lower-case wire form (with the root label).
    origins: FxHashMap<Box<[u8]>, u32>,
    zones: Vec<FastZone>,
    /// Names of the simple zones by lower-case wire form, each under the zone that
    /// serves it (records of a zone that lie under a more specific served zone are
    /// never served from it, by NSD or hickory, and are left out).
    owners: FxHashMap<Box<[u8]>, Owner>,
}

/// The parts of a query the fast path needs, read in place.
struct Question<'q> {
    /// Header and question section, exactly as received.
    head: &'q [u8],
    /// The name in lower-case wire form.
    key: Vec<u8>,
    qtype: RecordType,
    /// The EDNS buffer size asked for, if the query had an OPT record.
    edns_payload: Option<u16>,
}

impl FastIndex {
    pub(super) fn build(zones: Vec<ZoneInput>) -> FastIndex {
        let origins: FxHashMap<Box<[u8]>, u32> = zones
            .iter()
            .enumerate()
            .map(|(i, z)| (wire_key(&z.origin), i as u32))
            .collect();
        let mut owners: FxHashMap<Box<[u8]>, Owner> = FxHashMap::default();
        let mut fast_zones = Vec::with_capacity(zones.len());
        for (i, zone) in zones.into_iter().enumerate() {
            let i = i as u32;
            if zone.simple {
                for (name, sets) in zone.names {
                    let key = wire_key(&name);
                    if closest_zone(&origins, &key) != Some(i) {
                        continue;
                    }
                    let owner = owners.entry(key).or_insert_with(|| Owner {
                        zone: i,
                        sets: Box::new([]),
                    });
                    if !sets.is_empty() {
                        let mut all = std::mem::take(&mut owner.sets).into_vec();
                        all.extend(sets);
                        owner.sets = all.into_boxed_slice();
                    }
                }
            }
            fast_zones.push(FastZone {
                simple: zone.simple,
                negative_soa: zone.negative_soa,
            });
        }
        owners.shrink_to_fit();
        FastIndex {
            origins,
            zones: fast_zones,
            owners,
        }
    }

    /// Writes the answer to `query` into `out` and returns true, or returns false when
    /// the query is for the hickory path. `tcp` says how it came: over UDP the answer
    /// must fit the client's buffer.
    pub(super) fn answer(&self, query: &[u8], tcp: bool, out: &mut Vec<u8>) -> bool {
        let Some(question) = read_question(query) else {
            return false;
        };
        out.clear();
        let limit = match (tcp, question.edns_payload) {
            (true, _) => u16::MAX,
            (false, Some(payload)) => payload.max(512),
            (false, None) => 512,
        };
        match question.qtype {
            // NSD's `refuse-any`: an empty, truncated answer over UDP.
            RecordType::ANY if !tcp => {
                return write(out, &question, limit, TC, NOERROR, &[], &[], &[]);
            }
            RecordType::ANY
            | RecordType::SOA
            | RecordType::AXFR
            | RecordType::IXFR
            | RecordType::OPT => return false,
            _ => {}
        }
        let Some(zone_index) = closest_zone(&self.origins, &question.key) else {
            return write(out, &question, limit, 0, REFUSED, &[], &[], &[]);
        };
        let zone = &self.zones[zone_index as usize];
        if !zone.simple {
            return false;
        }
        let Some(owner) = self.owners.get(question.key.as_slice()) else {
            return write(
                out,
                &question,
                limit,
                AA,
                NXDOMAIN,
                &[],
                &zone.negative_soa,
                &[],
            );
        };
        if let Some(set) = owner.set(question.qtype) {
            let answers: Vec<&Record> = set.records_without_rrsigs().collect();
            let additionals = self.addresses_of_targets(&answers, owner.zone);
            return write(
                out,
                &question,
                limit,
                AA,
                NOERROR,
                &answers,
                &[],
                &additionals,
            );
        }
        if owner.set(RecordType::CNAME).is_some() {
            return false; // a chain: hickory follows it
        }
        write(
            out,
            &question,
            limit,
            AA,
            NOERROR,
            &[],
            &zone.negative_soa,
            &[],
        )
    }

    /// The additional section of an MX, SRV or NS answer, as the hickory path fills it:
    /// the A and then the AAAA records held at each target that lies in the same zone,
    /// once each.
    fn addresses_of_targets<'a>(&'a self, answers: &[&Record], zone: u32) -> Vec<&'a Record> {
        let mut additionals: Vec<&Record> = Vec::new();
        for record in answers {
            let target = match &record.data {
                hickory_proto::rr::RData::MX(mx) => &mx.exchange,
                hickory_proto::rr::RData::SRV(srv) => &srv.target,
                hickory_proto::rr::RData::NS(ns) => &ns.0,
                _ => continue,
            };
            let key = name_key(target);
            let Some(owner) = self.owners.get(key.as_slice()) else {
                continue;
            };
            if owner.zone != zone {
                continue;
            }
            for rtype in [RecordType::A, RecordType::AAAA] {
                for address in owner
                    .set(rtype)
                    .into_iter()
                    .flat_map(|s| s.records_without_rrsigs())
                {
                    if !additionals.contains(&address) {
                        additionals.push(address);
                    }
                }
            }
        }
        additionals
    }
}

/// The most specific served zone holding `key` (a lower-case wire name).
fn closest_zone(origins: &FxHashMap<Box<[u8]>, u32>, key: &[u8]) -> Option<u32> {
    let mut at = 0;
    loop {
        let suffix = key.get(at..)?;
        if let Some(&zone) = origins.get(suffix) {
            return Some(zone);
        }
        let label = usize::from(*suffix.first()?);
        if label == 0 {
            return None;
        }
        at += 1 + label;
    }
}

/// Lower-case wire form with the root label.
fn wire_key(name: &LowerName) -> Box<[u8]> {
    name_key(&Name::from(name.clone())).into_boxed_slice()
}

fn name_key(name: &Name) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    for label in name.iter() {
        key.push(label.len() as u8);
        key.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    key.push(0);
    key
}

/// Reads a plain query: QUERY opcode, one question of class IN with an uncompressed
/// name, nothing in the answer and authority sections, at most an OPT record of EDNS
/// version 0 in the additional section, and nothing after it. `None` for anything
/// else (the hickory path answers it, or decides not to).
fn read_question(query: &[u8]) -> Option<Question<'_>> {
    let header = query.get(..HEADER)?;
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    let opcode = (header[2] >> 3) & 0x0f;
    if header[2] & QR != 0 || opcode != 0 || count(4) != 1 || count(6) != 0 || count(8) != 0 {
        return None;
    }
    let additionals = count(10);
    let mut at = HEADER;
    let mut key = Vec::with_capacity(64);
    loop {
        let len = usize::from(*query.get(at)?);
        if len > 63 {
            return None; // compression or extended label types
        }
        key.push(len as u8);
        key.extend(
            query
                .get(at + 1..at + 1 + len)?
                .iter()
                .map(u8::to_ascii_lowercase),
        );
        at += 1 + len;
        if key.len() > 255 {
            return None;
        }
        if len == 0 {
            break;
        }
    }
    let fixed = query.get(at..at + 4)?;
    let qtype = RecordType::from(u16::from_be_bytes([fixed[0], fixed[1]]));
    if u16::from_be_bytes([fixed[2], fixed[3]]) != CLASS_IN {
        return None;
    }
    at += 4;
    let head = &query[..at];
    let edns_payload = match additionals {
        0 => None,
        1 => {
            // Root name, type OPT, class = payload, TTL = extended rcode, version, flags.
            let opt = query.get(at..at + 11)?;
            let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
            if opt[0] != 0
                || u16::from_be_bytes([opt[1], opt[2]]) != TYPE_OPT
                || opt[6] != 0
                || at + 11 + rdlen != query.len()
            {
                return None;
            }
            Some(u16::from_be_bytes([opt[3], opt[4]]))
        }
        _ => return None,
    };
    if additionals == 0 && at != query.len() {
        return None;
    }
    Some(Question {
        head,
        key,
        qtype,
        edns_payload,
    })
}

/// Encodes a response: the query's header and question with the response flags, then
/// the three sections and, when the query had one, an OPT record (EDNS version 0, the
/// client's buffer size but at least 512, no options: what hickory's catalog sends).
/// Returns false when it does not fit in `limit` bytes (the hickory path then decides
/// what to truncate).
#[allow(clippy::too_many_arguments)]
fn write(
    out: &mut Vec<u8>,
    question: &Question<'_>,
    limit: u16,
    flags: u8,
    rcode: u8,
    answers: &[&Record],
    authorities: &[Record],
    additionals: &[&Record],
) -> bool {
    let head = question.head;
    let edns = question.edns_payload.map(|p| p.max(512));
    let encoded = (|| {
        let mut encoder = BinEncoder::new(out);
        encoder.set_max_size(limit);
        encoder.emit_vec(&head[..2])?;
        // QR, opcode 0, AA/TC as given, RD copied; RA, Z, AD clear, CD copied.
        encoder.emit(QR | flags | (head[2] & RD))?;
        encoder.emit((head[3] & CD) | rcode)?;
        let additional_count = additionals.len() + usize::from(edns.is_some());
        for n in [1, answers.len(), authorities.len(), additional_count] {
            encoder.emit_u16(u16::try_from(n).unwrap_or(u16::MAX))?;
        }
        encoder.emit_vec(&head[HEADER..])?;
        for record in answers {
            record.emit(&mut encoder)?;
        }
        for record in authorities {
            record.emit(&mut encoder)?;
        }
        for record in additionals {
            record.emit(&mut encoder)?;
        }
        if let Some(payload) = edns {
            encoder.emit(0)?; // root
            encoder.emit_u16(TYPE_OPT)?;
            encoder.emit_u16(payload)?;
            encoder.emit_vec(&[0, 0, 0, 0, 0, 0])?; // rcode, version, flags; no data
        }
        Ok::<(), hickory_proto::ProtoError>(())
    })();
    encoded.is_ok()
}
