//! Tests of the world server: answers like NSD, on both the fast and the hickory path.

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
    // Unspecified addresses would listen beyond this host; both families refused.
    for bind in ["0.0.0.0:0", "0.0.0.0:53", "[::]:0"] {
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

    // A sample of owner names (and the same names missing a label) for comparing the
    // fast path with hickory's on real data.
    let mut sample: Vec<Name> = world
        .zones
        .iter()
        .flat_map(|z| &z.records)
        .step_by(197)
        .map(|r| r.name.clone())
        .collect();
    sample.dedup();
    let nope = Name::from_ascii("nope").unwrap();
    let missing: Vec<Name> = sample
        .iter()
        .step_by(5)
        .filter_map(|n| nope.clone().append_name(n).ok())
        .collect();
    sample.extend(missing);

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
    let types = [
        RecordType::MX,
        RecordType::A,
        RecordType::AAAA,
        RecordType::TXT,
        RecordType::CNAME,
        RecordType::TLSA,
    ];
    // On a thread of its own: the hickory path is driven by a plain executor there, as on
    // the server's UDP threads (inside a Tokio task, Tokio's cooperative budget would
    // run out and never be refilled).
    let engine = &server.engine;
    let (fast, total) = std::thread::scope(|scope| {
        scope
            .spawn(|| compare_paths(engine, &sample, &types))
            .join()
            .unwrap()
    });
    eprintln!(
        "{} sampled names: {fast} of {total} questions answered on the fast path, all as hickory does",
        sample.len()
    );
    assert!(fast * 10 > total * 9, "{fast} of {total} on the fast path");
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

/// One query as bytes: id 4321, RD set, `edns` the advertised buffer (no OPT if `None`).
fn query_bytes(qname: &Name, rtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut query = Message::query();
    query.metadata.id = 4321;
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(qname.clone(), rtype));
    if let Some(payload) = edns {
        let mut opt = Edns::new();
        opt.set_max_payload(payload);
        query.set_edns(opt);
    }
    query.to_vec().unwrap()
}

/// Every owner name of `names` with the case of the letters changed (alternating), to
/// check that answers do not depend on it.
fn mixed_case(name: &Name) -> Name {
    let text: String = name
        .to_ascii()
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect();
    Name::from_ascii(text).unwrap_or_else(|_| name.clone())
}

/// The names in every section, exactly as encoded (case included).
fn owners(message: &Message) -> Vec<String> {
    let sections = [&message.answers, &message.authorities, &message.additionals];
    sections
        .iter()
        .flat_map(|s| s.iter().map(|r| r.name.to_ascii()))
        .collect()
}

/// Asks every name × type over UDP (no EDNS, 1232-byte EDNS) and TCP, and checks that
/// wherever the fast path answers, its answer equals the hickory path's in every header
/// bit and section. Returns (answered fast, asked).
fn compare_paths(engine: &Engine, names: &[Name], types: &[RecordType]) -> (usize, usize) {
    let src = SocketAddr::from((Ipv4Addr::LOCALHOST, 53_000));
    let variants = [
        (Protocol::Udp, None),
        (Protocol::Udp, Some(1232)),
        (Protocol::Tcp, None),
    ];
    let (mut fast_count, mut total) = (0, 0);
    let mut fast = Vec::new();
    let mut slow = Vec::new();
    for name in names {
        for &rtype in types {
            for (protocol, edns) in variants {
                let bytes = query_bytes(name, rtype, edns);
                total += 1;
                if !engine
                    .fast
                    .answer(&bytes, protocol == Protocol::Tcp, &mut fast)
                {
                    continue;
                }
                fast_count += 1;
                let answered = futures::executor::block_on(
                    engine.respond_slowly(&bytes, src, protocol, &mut slow),
                );
                assert!(answered, "{name} {rtype}: hickory did not answer");
                let (f, s) = (
                    Message::from_vec(&fast).unwrap(),
                    Message::from_vec(&slow).unwrap(),
                );
                assert_eq!(f, s, "{name} {rtype} over {protocol:?}, EDNS {edns:?}");
                assert_eq!(owners(&f), owners(&s), "{name} {rtype}: owner names");
            }
        }
    }
    (fast_count, total)
}

const ALL_TYPES: [RecordType; 13] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::CNAME,
    RecordType::NS,
    RecordType::SRV,
    RecordType::TLSA,
    RecordType::CAA,
    RecordType::PTR,
    RecordType::SOA,
    RecordType::ANY,
    RecordType::DS,
];

#[test]
fn fast_path_answers_exactly_like_hickory() {
    let world = test_world();
    let mut names: Vec<Name> = world
        .zones
        .iter()
        .flat_map(|z| z.records.iter().map(|r| r.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    let extra: Vec<Name> = names
        .iter()
        .flat_map(|n| {
            [
                mixed_case(n),
                Name::from_ascii("nope").unwrap().append_name(n).unwrap(),
            ]
        })
        .chain(
            ["example.org.", "asn.mxtest.", "mxtest.", "other.", "."]
                .map(|t| Name::from_ascii(t).unwrap()),
        )
        .collect();
    names.extend(extra);
    let engine = build_engine(world);
    let (fast, total) = compare_paths(&engine, &names, &ALL_TYPES);
    eprintln!("{fast} of {total} questions answered on the fast path, all as hickory does");
    assert!(
        fast * 2 > total,
        "the fast path answers most questions ({fast} of {total})"
    );
}
