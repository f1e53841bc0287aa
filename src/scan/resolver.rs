//! The DNS client: one question in, one [`Observation`] out. Protocol details (the
//! multiplexed stub in [`super::client`], TCP fallback on truncation, timeouts,
//! retries) stay here; what to ask and how to share answers is the business of
//! [`super::lookups`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use super::client::{Exchange, StubClient};
use crate::config::{DnsConfig, ensure_loopback};
use crate::evidence::{Answer, Observation, Outcome, RType, Timestamp, decode_text};
use crate::name::DnsName;

/// A live DNS client.
pub struct LiveResolver {
    client: Arc<StubClient>,
    retries: u32,
    /// Human-readable description of where questions go (for logs and the cache).
    pub source: String,
}

impl LiveResolver {
    /// Builds a client for explicit servers, enforcing the loopback policy before any
    /// socket is opened.
    pub async fn explicit(servers: &[SocketAddr], dns: &DnsConfig) -> Result<LiveResolver> {
        if dns.loopback_only {
            for s in servers {
                ensure_loopback(s.ip()).with_context(|| format!("resolver {s}"))?;
            }
        }
        let source = servers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        Ok(LiveResolver {
            client: Arc::new(StubClient::connect(servers, dns.timeout).await?),
            retries: dns.retries,
            source: format!("dns:{source}"),
        })
    }

    /// Builds a client for the operating system's resolvers (read by hickory-resolver
    /// from `/etc/resolv.conf` or the platform's equivalent).
    pub async fn system(dns: &DnsConfig) -> Result<LiveResolver> {
        anyhow::ensure!(
            !dns.loopback_only,
            "loopback-only mode refuses the system resolver configuration"
        );
        let (config, _) = hickory_resolver::system_conf::read_system_conf()
            .context("cannot read the system's DNS configuration")?;
        let mut servers: Vec<SocketAddr> = Vec::new();
        for ns in config.name_servers() {
            let port = ns.connections.first().map(|c| c.port).unwrap_or(53);
            let addr = SocketAddr::new(ns.ip, port);
            if !servers.contains(&addr) {
                servers.push(addr);
            }
        }
        anyhow::ensure!(!servers.is_empty(), "the system configures no DNS server");
        Ok(LiveResolver {
            client: Arc::new(StubClient::connect(&servers, dns.timeout).await?),
            retries: dns.retries,
            source: "dns:system".to_string(),
        })
    }

    /// Asks one question, retrying failures (timeout, SERVFAIL, network errors) up to
    /// the configured number of times with a short back-off, rotating servers.
    pub async fn query(&self, name: &DnsName, rtype: RType) -> Observation {
        let hickory_name = name.to_hickory();
        let mut attempt = 0;
        loop {
            let (outcome, answers, authenticated) = match self
                .client
                .exchange(&hickory_name, record_type(rtype), attempt)
                .await
            {
                Exchange::Response(message) => {
                    let (outcome, answers) = interpret(&message, rtype);
                    (outcome, answers, message.metadata.authentic_data)
                }
                Exchange::Timeout => (Outcome::Timeout, Vec::new(), false),
                Exchange::Error(e) => (Outcome::Error(e), Vec::new(), false),
            };
            if !outcome.is_failure() || attempt >= self.retries {
                return Observation {
                    name: name.clone(),
                    rtype,
                    outcome,
                    answers,
                    at: now(),
                    authenticated,
                };
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
        }
    }
}

/// Reads an answer: the response code decides negative answers and failures; records
/// of the asked type (and CNAMEs on the way) become answers.
fn interpret(message: &Message, rtype: RType) -> (Outcome, Vec<Answer>) {
    let answers: Vec<Answer> = message
        .answers
        .iter()
        .filter_map(|r| convert(&r.name, &r.data, rtype))
        .collect();
    // A CNAME alone does not answer a question for another type.
    let has_asked_type = answers
        .iter()
        .any(|a| rtype == RType::Cname || !matches!(a, Answer::Cname { .. }));
    let outcome = match message.metadata.response_code {
        ResponseCode::NoError if !has_asked_type => Outcome::NoData,
        ResponseCode::NoError => Outcome::Answer,
        ResponseCode::NXDomain => Outcome::NxDomain,
        ResponseCode::ServFail => Outcome::ServFail,
        ResponseCode::Refused => Outcome::Refused,
        other => Outcome::Error(format!("response code {other}")),
    };
    (outcome, answers)
}

fn record_type(rtype: RType) -> RecordType {
    match rtype {
        RType::A => RecordType::A,
        RType::Aaaa => RecordType::AAAA,
        RType::Mx => RecordType::MX,
        RType::Txt => RecordType::TXT,
        RType::Cname => RecordType::CNAME,
        RType::Srv => RecordType::SRV,
        RType::Tlsa => RecordType::TLSA,
    }
}

/// Converts one answer record; records of other types than asked (except CNAMEs on
/// the way) are dropped. Names that cannot be represented are dropped too — they
/// cannot occur on the wire since labels are length-checked by the parser.
fn convert(
    owner: &hickory_resolver::proto::rr::Name,
    data: &RData,
    asked: RType,
) -> Option<Answer> {
    let answer = match data {
        RData::A(a) if asked == RType::A => Answer::A(a.0),
        RData::AAAA(a) if asked == RType::Aaaa => Answer::Aaaa(a.0),
        RData::MX(mx) if asked == RType::Mx => Answer::Mx {
            preference: mx.preference,
            exchange: if mx.exchange.is_root() {
                None
            } else {
                Some(DnsName::from_hickory(&mx.exchange).ok()?)
            },
        },
        RData::TXT(txt) if asked == RType::Txt => {
            Answer::Txt(txt.txt_data.iter().map(|s| decode_text(s)).collect())
        }
        RData::CNAME(cname) => Answer::Cname {
            owner: DnsName::from_hickory(owner).ok()?,
            target: DnsName::from_hickory(&cname.0).ok()?,
        },
        RData::SRV(srv) if asked == RType::Srv => Answer::Srv {
            priority: srv.priority,
            weight: srv.weight,
            port: srv.port,
            target: DnsName::from_hickory(&srv.target).ok()?,
        },
        RData::TLSA(tlsa) if asked == RType::Tlsa => Answer::Tlsa {
            usage: u8::from(tlsa.cert_usage),
            selector: u8::from(tlsa.selector),
            matching: u8::from(tlsa.matching),
            data: tlsa.cert_data.iter().map(|b| format!("{b:02x}")).collect(),
        },
        _ => return None,
    };
    Some(answer)
}

/// The current time as a [`Timestamp`].
pub fn now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as Timestamp)
        .unwrap_or_default()
}
