//! DNS wire format for the scanner's stub client: queries are encoded straight from a
//! [`DnsName`]'s labels into a caller's buffer, and answers are decoded straight into
//! [`Answer`]s of the asked type (plus CNAMEs on the way).
//!
//! Why not hickory-proto's `Message`: building and parsing a full message allocates a
//! vector per label, record and section, which was most of the scanner's CPU time per
//! query — on a 2-core machine that shares its cores with the DNS server, every
//! microsecond the client spends is one the server cannot use. Only the header, the
//! question and the answer section are read; authority and additional sections are
//! never needed.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::ResponseCode;

use crate::evidence::{Answer, RType, decode_text};
use crate::name::DnsName;

/// EDNS payload size advertised (the DNS flag day 2020 value: no fragmentation).
pub const EDNS_PAYLOAD: u16 = 1232;
/// Longest query this module encodes: header, a 255-octet name, type, class, OPT.
pub const MAX_QUERY: usize = 12 + 255 + 4 + 11;

/// Record type codes on the wire.
pub fn type_code(rtype: RType) -> u16 {
    match rtype {
        RType::A => 1,
        RType::Cname => 5,
        RType::Mx => 15,
        RType::Txt => 16,
        RType::Aaaa => 28,
        RType::Srv => 33,
        RType::Tlsa => 52,
    }
}

const TYPE_CNAME: u16 = 5;
const CLASS_IN: u16 = 1;
const TYPE_OPT: u16 = 41;

/// An encoded query, on the stack.
pub struct Query {
    buf: [u8; MAX_QUERY],
    len: usize,
}

impl Query {
    /// Encodes a query: RD and AD set, one question of class IN, an EDNS OPT record
    /// advertising [`EDNS_PAYLOAD`].
    pub fn new(id: u16, name: &DnsName, rtype: RType) -> Query {
        let mut q = Query {
            buf: [0; MAX_QUERY],
            len: 0,
        };
        q.put(&id.to_be_bytes());
        // Flags: RD (recursion desired); AD (RFC 6840 §5.7: ask a validating resolver
        // to say whether it validated the answer).
        q.put(&[0x01, 0x20]);
        // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1 (OPT).
        q.put(&[0, 1, 0, 0, 0, 0, 0, 1]);
        q.put(name.wire());
        q.put(&[0]);
        q.put(&type_code(rtype).to_be_bytes());
        q.put(&CLASS_IN.to_be_bytes());
        // OPT: root owner, type, payload size as class, TTL 0 (no DO bit), no options.
        q.put(&[0]);
        q.put(&TYPE_OPT.to_be_bytes());
        q.put(&EDNS_PAYLOAD.to_be_bytes());
        q.put(&[0, 0, 0, 0, 0, 0]);
        q
    }

    fn put(&mut self, bytes: &[u8]) {
        // DnsName guarantees at most 254 octets of labels, so this never overflows.
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// The query's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The query id of a datagram (`None` when it is too short to be DNS).
pub fn message_id(datagram: &[u8]) -> Option<u16> {
    (datagram.len() >= 12).then(|| u16::from_be_bytes([datagram[0], datagram[1]]))
}

/// An answer, decoded as far as the scanner needs it.
#[derive(Debug)]
pub struct Reply {
    /// Response code (with the extended bits of an OPT record, if any).
    pub rcode: ResponseCode,
    /// TC: the answer was truncated (retry over TCP).
    pub truncated: bool,
    /// AD: a validating resolver vouched for the answer.
    pub authentic_data: bool,
    /// Records of the asked type and CNAMEs, in answer-section order.
    pub answers: Vec<Answer>,
}

/// Why a datagram was not accepted as the answer to a question.
pub type WireError = String;

/// Decodes `reply` and checks that it answers question (`id`, `name`, `rtype`):
/// anything else is a spoofed or stray datagram. Records of other types than asked
/// (except CNAMEs) are skipped, as are records whose names cannot be represented.
pub fn parse_reply(
    reply: &[u8],
    id: u16,
    name: &DnsName,
    rtype: RType,
) -> Result<Reply, WireError> {
    let malformed = |what: &str| format!("malformed answer: {what}");
    if reply.len() < 12 {
        return Err(malformed("shorter than a header"));
    }
    let got_id = u16::from_be_bytes([reply[0], reply[1]]);
    let flags = u16::from_be_bytes([reply[2], reply[3]]);
    let is_response = flags & 0x8000 != 0;
    if got_id != id || !is_response {
        return Err("answer does not match the query id".into());
    }
    let truncated = flags & 0x0200 != 0;
    let authentic_data = flags & 0x0020 != 0;
    let low_rcode = (flags & 0x000f) as u8;
    let count = |i: usize| usize::from(u16::from_be_bytes([reply[i], reply[i + 1]]));
    let (qdcount, ancount, nscount, arcount) = (count(4), count(6), count(8), count(10));

    let mut pos = 12;
    let mut matches = false;
    let mut labels = Vec::with_capacity(8);
    for i in 0..qdcount {
        pos = read_name(reply, pos, &mut labels).ok_or_else(|| malformed("question name"))?;
        let fixed = reply
            .get(pos..pos + 4)
            .ok_or_else(|| malformed("question"))?;
        let qtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        pos += 4;
        if i == 0 {
            matches = qtype == type_code(rtype) && labels_equal(reply, &labels, name);
        }
    }

    let mut answers = Vec::new();
    let asked = type_code(rtype);
    for _ in 0..ancount {
        let owner_start = pos;
        pos = skip_name(reply, pos).ok_or_else(|| malformed("record name"))?;
        let (rr_type, rdata) = record(reply, &mut pos).ok_or_else(|| malformed("record"))?;
        if rr_type != asked && rr_type != TYPE_CNAME {
            continue;
        }
        if let Some(answer) = convert(reply, owner_start, rr_type, rdata, rtype, &mut labels) {
            answers.push(answer);
        }
    }

    // The OPT record in the additional section carries the upper bits of the rcode.
    let mut high_rcode = 0u8;
    if arcount > 0 {
        let mut scan = || -> Option<()> {
            for _ in 0..nscount {
                pos = skip_name(reply, pos)?;
                record(reply, &mut pos)?;
            }
            for _ in 0..arcount {
                pos = skip_name(reply, pos)?;
                let ttl_at = pos + 4;
                let (rr_type, _) = record(reply, &mut pos)?;
                if rr_type == TYPE_OPT {
                    high_rcode = reply[ttl_at];
                }
            }
            Some(())
        };
        scan().ok_or_else(|| malformed("additional section"))?;
    }
    let rcode = ResponseCode::from(high_rcode, low_rcode);

    // Some servers omit the question in error answers (e.g. FORMERR, REFUSED).
    let question_omitted = qdcount == 0 && rcode != ResponseCode::NoError;
    if !matches && !question_omitted {
        return Err("answer is for another question".into());
    }
    Ok(Reply {
        rcode,
        truncated,
        authentic_data,
        answers,
    })
}

/// Reads type and RDATA of the record whose fixed part starts at `*pos`, advancing
/// `*pos` past it. Returns the type and the RDATA's (start, end) offsets.
fn record(msg: &[u8], pos: &mut usize) -> Option<(u16, (usize, usize))> {
    let fixed = msg.get(*pos..*pos + 10)?;
    let rr_type = u16::from_be_bytes([fixed[0], fixed[1]]);
    let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let start = *pos + 10;
    let end = start + len;
    if end > msg.len() {
        return None;
    }
    *pos = end;
    Some((rr_type, (start, end)))
}

fn convert(
    msg: &[u8],
    owner_at: usize,
    rr_type: u16,
    (start, end): (usize, usize),
    asked: RType,
    labels: &mut Vec<(usize, usize)>,
) -> Option<Answer> {
    let rdata = &msg[start..end];
    let mut name_at = |at: usize, limit: usize| -> Option<(DnsName, usize)> {
        let after = read_name(msg, at, labels)?;
        // A name inside RDATA must end inside it.
        if after > limit {
            return None;
        }
        Some((to_name(msg, labels)?, after))
    };
    if rr_type == TYPE_CNAME {
        let (owner, _) = name_at(owner_at, msg.len())?;
        let (target, after) = name_at(start, end)?;
        return (after == end).then_some(Answer::Cname { owner, target });
    }
    let answer = match asked {
        RType::A => Answer::A(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).ok()?)),
        RType::Aaaa => Answer::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(rdata).ok()?)),
        RType::Mx => {
            let preference = u16::from_be_bytes(rdata.get(..2)?.try_into().ok()?);
            let after = read_name(msg, start + 2, labels)?;
            if after != end {
                return None;
            }
            let exchange = if labels.is_empty() {
                None
            } else {
                Some(to_name(msg, labels)?)
            };
            Answer::Mx {
                preference,
                exchange,
            }
        }
        RType::Txt => {
            let mut strings = Vec::new();
            let mut rest = rdata;
            while let Some((&len, tail)) = rest.split_first() {
                let len = usize::from(len);
                if len > tail.len() {
                    return None;
                }
                strings.push(decode_text(&tail[..len]));
                rest = &tail[len..];
            }
            Answer::Txt(strings)
        }
        RType::Srv => {
            let fixed = rdata.get(..6)?;
            let (target, after) = name_at(start + 6, end)?;
            if after != end {
                return None;
            }
            Answer::Srv {
                priority: u16::from_be_bytes([fixed[0], fixed[1]]),
                weight: u16::from_be_bytes([fixed[2], fixed[3]]),
                port: u16::from_be_bytes([fixed[4], fixed[5]]),
                target,
            }
        }
        RType::Tlsa => {
            let (head, data) = (rdata.get(..3)?, &rdata[3..]);
            Answer::Tlsa {
                usage: head[0],
                selector: head[1],
                matching: head[2],
                data: hex::encode(data),
            }
        }
        RType::Cname => return None,
    };
    Some(answer)
}

/// Largest number of compression pointers followed in one name (a loop guard).
const MAX_POINTERS: usize = 64;

/// Reads a possibly compressed name at `pos` into `labels` as (start, end) offsets of
/// each label in `msg`; returns the offset just after the name where it starts.
fn read_name(msg: &[u8], mut pos: usize, labels: &mut Vec<(usize, usize)>) -> Option<usize> {
    labels.clear();
    let mut after = None;
    let mut wire_len = 1;
    let mut pointers = 0;
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Some(after.unwrap_or(pos + 1));
            }
            0x00 => {
                let start = pos + 1;
                let end = start + usize::from(len);
                if end > msg.len() {
                    return None;
                }
                wire_len += 1 + usize::from(len);
                if wire_len > 255 {
                    return None;
                }
                labels.push((start, end));
                pos = end;
            }
            0xc0 => {
                let target = usize::from(u16::from_be_bytes([len, *msg.get(pos + 1)?]) & 0x3fff);
                after.get_or_insert(pos + 2);
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return None;
                }
                pos = target;
            }
            _ => return None,
        }
    }
}

/// Skips a possibly compressed name at `pos`, returning the offset after it.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xc0 => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            _ => return None,
        }
    }
}

fn to_name(msg: &[u8], labels: &[(usize, usize)]) -> Option<DnsName> {
    DnsName::from_labels(labels.iter().map(|&(s, e)| &msg[s..e])).ok()
}

/// Case-insensitive comparison (ASCII letters, as DNS does) of decoded labels with a name.
fn labels_equal(msg: &[u8], labels: &[(usize, usize)], name: &DnsName) -> bool {
    let mut ours = name.label_iter();
    for &(s, e) in labels {
        match ours.next() {
            Some(label) if label.eq_ignore_ascii_case(&msg[s..e]) => {}
            _ => return false,
        }
    }
    ours.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query as HQuery};
    use hickory_proto::rr::rdata::{A, CNAME, MX, SRV, TXT};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    fn name(text: &str) -> DnsName {
        DnsName::parse(text).unwrap()
    }

    fn response(id: u16, qname: &str, qtype: RecordType, records: Vec<(&str, RData)>) -> Vec<u8> {
        let mut m = Message::response(id, OpCode::Query);
        m.add_query(HQuery::query(Name::from_ascii(qname).unwrap(), qtype));
        for (owner, data) in records {
            m.add_answer(Record::from_rdata(
                Name::from_ascii(owner).unwrap(),
                300,
                data,
            ));
        }
        m.to_vec().unwrap()
    }

    #[test]
    fn queries_decode_as_hickory_reads_them() {
        let q = Query::new(0xbeef, &name("_dmarc.Example.org"), RType::Txt);
        let m = Message::from_vec(q.bytes()).unwrap();
        assert_eq!(m.metadata.id, 0xbeef);
        assert_eq!(m.metadata.message_type, MessageType::Query);
        assert!(m.metadata.recursion_desired && m.metadata.authentic_data);
        assert_eq!(m.queries[0].name().to_ascii(), "_dmarc.example.org.");
        assert_eq!(m.queries[0].query_type(), RecordType::TXT);
        assert_eq!(m.edns.as_ref().unwrap().max_payload(), EDNS_PAYLOAD);
    }

    #[test]
    fn compressed_answers_are_read_with_cnames_on_the_way() {
        let bytes = response(
            7,
            "mail.example.org.",
            RecordType::MX,
            vec![
                (
                    "mail.example.org.",
                    RData::CNAME(CNAME(Name::from_ascii("mx.example.org.").unwrap())),
                ),
                (
                    "mx.example.org.",
                    RData::MX(MX::new(10, Name::from_ascii("in1.Example.org.").unwrap())),
                ),
                ("mx.example.org.", RData::MX(MX::new(0, Name::root()))),
                ("mx.example.org.", RData::A(A::new(127, 0, 0, 1))),
            ],
        );
        let reply = parse_reply(&bytes, 7, &name("MAIL.example.org"), RType::Mx).unwrap();
        assert_eq!(reply.rcode, ResponseCode::NoError);
        assert_eq!(
            reply.answers,
            vec![
                Answer::Cname {
                    owner: name("mail.example.org"),
                    target: name("mx.example.org")
                },
                Answer::Mx {
                    preference: 10,
                    exchange: Some(name("in1.example.org"))
                },
                Answer::Mx {
                    preference: 0,
                    exchange: None
                },
            ]
        );
    }

    #[test]
    fn txt_srv_and_mismatches() {
        let bytes = response(
            9,
            "example.org.",
            RecordType::TXT,
            vec![(
                "example.org.",
                RData::TXT(TXT::new(vec!["v=spf1 ".into(), "-all".into()])),
            )],
        );
        let reply = parse_reply(&bytes, 9, &name("example.org"), RType::Txt).unwrap();
        assert_eq!(
            reply.answers,
            vec![Answer::Txt(vec!["v=spf1 ".into(), "-all".into()])]
        );
        assert!(parse_reply(&bytes, 8, &name("example.org"), RType::Txt).is_err());
        assert!(parse_reply(&bytes, 9, &name("example.com"), RType::Txt).is_err());
        assert!(parse_reply(&bytes, 9, &name("example.org"), RType::Mx).is_err());
        assert!(
            parse_reply(
                &bytes[..bytes.len() - 1],
                9,
                &name("example.org"),
                RType::Txt
            )
            .is_err()
        );

        let bytes = response(
            3,
            "_autodiscover._tcp.example.org.",
            RecordType::SRV,
            vec![(
                "_autodiscover._tcp.example.org.",
                RData::SRV(SRV::new(
                    0,
                    5,
                    443,
                    Name::from_ascii("ad.example.org.").unwrap(),
                )),
            )],
        );
        let reply = parse_reply(
            &bytes,
            3,
            &name("_autodiscover._tcp.example.org"),
            RType::Srv,
        )
        .unwrap();
        assert_eq!(
            reply.answers,
            vec![Answer::Srv {
                priority: 0,
                weight: 5,
                port: 443,
                target: name("ad.example.org")
            }]
        );
    }

    #[test]
    fn error_answers_without_question_are_accepted() {
        let mut m = Message::error_msg(5, OpCode::Query, ResponseCode::Refused);
        m.metadata.message_type = MessageType::Response;
        let bytes = m.to_vec().unwrap();
        let reply = parse_reply(&bytes, 5, &name("x.invalid"), RType::A).unwrap();
        assert_eq!(reply.rcode, ResponseCode::Refused);
        assert!(reply.answers.is_empty());
    }

    #[test]
    fn pointer_loops_are_malformed() {
        let mut bytes = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        bytes.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        assert!(parse_reply(&bytes, 1, &name("a.b"), RType::A).is_err());
    }
}
