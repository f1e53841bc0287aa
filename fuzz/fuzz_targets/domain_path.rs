//! The whole per-domain path on fuzzed DNS answers: the input is split at 0x1E bytes
//! into the domain's texts — SPF, a verification token, DMARC, TLS-RPT, MTA-STS, the
//! SPF include, the origin (ASN) answer — and the label bytes of its MX, autodiscover
//! and DKIM targets. They are served from a scan cache (no network), and the domain
//! goes through the scan (SPF walk, CNAME chains, DMARC policy discovery), the
//! classifier, the grader, the record and its page. Never panics; the domain is never a
//! scan error (its MX answered), and the page names it.
#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mxmap::classify::catalog::Catalog;
use mxmap::classify::decide::{Options, Tables};
use mxmap::classify::overrides::Overrides;
use mxmap::classify::rules::RuleBook;
use mxmap::countries;
use mxmap::evidence::{Answer, Observation, Outcome, RType};
use mxmap::grade::{self, SecurityInput};
use mxmap::name::DnsName;
use mxmap::scan::cache::ScanCache;
use mxmap::scan::domain::scan_domain;
use mxmap::scan::lookups::{Backend, Lookups};
use mxmap::evidence::decode_text;
use mxmap::seeds::{Domain, Municipality, SeedOrigin};
use mxmap::site::model::{Meta, Record, ScanStatus, SiteModel};

const NOW: i64 = 1_790_000_000;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn name(text: &str) -> DnsName {
    DnsName::parse(text).expect("static name")
}

/// `label` + `.rest`, or `rest` alone when the bytes make no valid label.
fn under(label: &[u8], rest: &DnsName) -> DnsName {
    let mut labels: Vec<Vec<u8>> = vec![label.to_vec()];
    labels.extend(rest.labels().iter().map(|l| l.to_vec()));
    DnsName::from_labels(labels).unwrap_or_else(|_| rest.clone())
}

fn answer(name: &DnsName, rtype: RType, answers: Vec<Answer>) -> Arc<Observation> {
    Arc::new(Observation {
        name: name.clone(),
        rtype,
        outcome: Outcome::Answer,
        answers,
        at: NOW,
        authenticated: false,
    })
}

fn txt(name: &DnsName, bytes: &[u8]) -> Arc<Observation> {
    answer(name, RType::Txt, vec![Answer::Txt(vec![decode_text(bytes)])])
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|&b| b == 0x1e);
    let mut next = || parts.next().unwrap_or_default();
    let (spf, token, dmarc, tls_rpt, mta_sts, include, origin) =
        (next(), next(), next(), next(), next(), next(), next());
    let (mx_label, autodiscover, dkim) = (next(), next(), next());

    let domain = name("fuzz.ee");
    let mx = under(mx_label, &domain);
    let sub = |prefix: &str| domain.prepend(prefix).expect("short name");
    let observations = vec![
        answer(
            &domain,
            RType::Mx,
            vec![Answer::Mx {
                preference: 10,
                exchange: Some(mx.clone()),
            }],
        ),
        answer(
            &domain,
            RType::Txt,
            vec![
                Answer::Txt(vec![decode_text(spf)]),
                Answer::Txt(vec![decode_text(token)]),
            ],
        ),
        txt(&sub("_dmarc"), dmarc),
        txt(&sub("_smtp._tls"), tls_rpt),
        txt(&sub("_mta-sts"), mta_sts),
        txt(&sub("_spf"), include),
        answer(&mx, RType::A, vec![Answer::A([127, 1, 0, 1].into())]),
        txt(&name("1.0.1.127.origin.asn.cymru.com"), origin),
        answer(
            &sub("autodiscover"),
            RType::Cname,
            vec![Answer::Cname {
                owner: sub("autodiscover"),
                target: under(autodiscover, &domain),
            }],
        ),
        answer(
            &sub("selector1._domainkey"),
            RType::Cname,
            vec![Answer::Cname {
                owner: sub("selector1._domainkey"),
                target: under(dkim, &domain),
            }],
        ),
    ];
    let mut cache = ScanCache::new("fuzz");
    cache.merge(observations);
    let lookups = Lookups::new(Backend::CacheOnly, Some(cache), Duration::from_secs(3600), 16);
    let selectors = Catalog::embedded().dkim_selectors();
    let scan = runtime().block_on(scan_domain(&lookups, &domain, &selectors));

    let country = countries::by_code("ee").expect("ee");
    let m = Municipality {
        id: "EE-FUZZ".into(),
        name: "Fuzz".into(),
        country,
        region: None,
        domain: Some(Domain::parse("fuzz.ee").expect("domain")),
        domain_problem: None,
        osm_relation_id: None,
        population: None,
        origin: SeedOrigin {
            file: "fuzz.json".into(),
            line: 1,
            index: 0,
        },
    };
    let options = Options {
        check_mx_addresses: true,
        trust_mx_preferences: true,
    };
    let verdict = mxmap::classify::classify(
        &m,
        Some(&scan),
        &[],
        &Overrides::default(),
        &Tables {
            catalog: Catalog::embedded(),
            rules: RuleBook::embedded(),
        },
        &options,
    );
    let security = grade::assess(&SecurityInput {
        scan: &scan,
        probes: &[],
        mta_sts_policy: None,
        now: NOW,
    });
    let record = Record::new(&m, verdict, Some(Arc::new(scan)), Some(Arc::new(security)));
    assert_ne!(record.status, ScanStatus::Error, "the MX answered");
    let meta = Meta {
        generated: "2026-11-23T00:00:00Z".into(),
        scanner_version: "fuzz".into(),
        catalog_version: "fuzz".into(),
        rules_version: "fuzz".into(),
        dns_source: "fuzz".into(),
        municipalities: 1,
        site_url: "https://example.org/".into(),
        report_issue_url: "https://example.org/issues/new".into(),
    };
    let model = SiteModel::new(vec![record], &[country], meta);
    let page = mxmap::site::render::municipality(&model, &model.records[0], None, None)
        .expect("the page renders");
    assert!(page.contains("fuzz.ee"));
});
