//! Tests of [`super`] (grader.rs), kept beside it so the module stays readable.

use super::*;
use crate::grade::dane::{DaneState, HostDane};
use crate::grade::dmarc::DmarcPolicy;
use crate::grade::rules::rule_table;
use crate::grade::transport::tests::{address, no_dane, refused};
use crate::grade::transport::{AddressTransport, TlsVersion, aggregate};

fn domain() -> DnsName {
    DnsName::parse("example.org").unwrap()
}

fn mx(name: &str, addresses: Vec<AddressTransport>) -> HostTransport {
    aggregate(DnsName::parse(name).unwrap(), 10, addresses, no_dane())
}

fn good(ip: &str) -> AddressTransport {
    address(ip, HostTls::Ok, Some(TlsVersion::Tls13), true, Some(false))
}

fn with_dane(mut h: HostTransport, state: DaneState) -> HostTransport {
    h.dane = HostDane {
        state,
        records: vec!["3 1 1 ab".into()],
        matched_record: None,
        detail: Some("no TLSA record matches".into()),
        warnings: Vec::new(),
    };
    if state == DaneState::Valid {
        h.authenticated = h.tls == Some(HostTls::Ok);
    }
    h
}

fn sts(state: MtaStsState) -> MtaStsCheck {
    let mut c: MtaStsCheck = serde_json::from_value(serde_json::json!({
        "state": "absent", "txt": null, "id": null, "url": null, "http_status": null,
        "content_type": null, "policy_text": null, "mode": null, "max_age": null,
        "mx_patterns": [], "covers_all": null, "enforce_ok": null, "uncovered": [],
        "errors": [], "warnings": []
    }))
    .unwrap();
    c.state = state;
    if state == MtaStsState::Broken {
        c.errors
            .push("MX mx2.example.org matches no mx pattern".into());
    }
    c
}

fn rpt(state: TlsRptState) -> TlsRptCheck {
    TlsRptCheck {
        state,
        txt: None,
        rua: Vec::new(),
        errors: Vec::new(),
    }
}

struct T {
    null_mx: bool,
    hosts: Vec<HostTransport>,
    dnssec: DnssecState,
    sts: MtaStsState,
    rpt: TlsRptState,
}

impl T {
    fn new(hosts: Vec<HostTransport>) -> T {
        T {
            null_mx: false,
            hosts,
            dnssec: DnssecState::Insecure,
            sts: MtaStsState::Absent,
            rpt: TlsRptState::Absent,
        }
    }

    fn grade(&self) -> Grade {
        let d = domain();
        let sts = sts(self.sts);
        let rpt = rpt(self.rpt);
        grade_transport(
            rule_table(),
            &TransportFacts {
                domain: &d,
                null_mx: self.null_mx,
                no_hosts: Some("no MX record"),
                hosts: &self.hosts,
                dnssec: self.dnssec,
                mta_sts: &sts,
                tls_rpt: &rpt,
            },
        )
    }
}

fn letter_rule(g: &Grade) -> (&str, &str) {
    (g.letter.as_str(), g.rule.as_str())
}

#[test]
fn every_rule_row_has_a_predicate_and_back() {
    let t = rule_table();
    let ids = |rows: &[Rule]| rows.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&t.transport), TRANSPORT_RULES.to_vec());
    assert_eq!(ids(&t.auth), AUTH_RULES.to_vec());
    assert_eq!(ids(&t.overall), OVERALL_RULES.to_vec());
}

// ---- transport rows, one minimal fact set each ----

#[test]
fn t_null_mx() {
    let mut t = T::new(vec![]);
    t.null_mx = true;
    let g = t.grade();
    assert_eq!(letter_rule(&g), ("—", "T-NULL-MX"));
    assert!(g.grade_reason.unwrap().contains("null MX"));
}

#[test]
fn t_no_mx_hosts() {
    let g = T::new(vec![]).grade();
    assert_eq!(letter_rule(&g), ("?", "T-NO-MX-HOSTS"));
    assert_eq!(g.reasons.len(), 1);
    assert_eq!(
        g.grade_reason.as_deref(),
        Some("No MX host to probe: no MX record")
    );
}

#[test]
fn t_unmeasured_only_unreachable_hosts() {
    let g = T::new(vec![
        mx("mx1.example.org", vec![refused("127.0.2.1")]),
        mx("mx2.example.org", vec![refused("127.0.2.2")]),
    ])
    .grade();
    assert_eq!(letter_rule(&g), ("?", "T-UNMEASURED"));
    assert!(!g.partial);
    let why = g.grade_reason.unwrap();
    assert!(why.starts_with("No SMTP server reachable"), "{why}");
    assert!(why.contains("connection refused"), "{why}");
}

#[test]
fn t_f_no_starttls() {
    let g = T::new(vec![mx(
        "mx1.example.org",
        vec![address("127.0.2.1", HostTls::None, None, false, None)],
    )])
    .grade();
    assert_eq!(letter_rule(&g), ("F", "T-F-NO-STARTTLS"));
    assert_eq!(
        g.reasons[0].host,
        Some(DnsName::parse("mx1.example.org").unwrap())
    );
    assert!(
        g.reasons[0]
            .text
            .starts_with("MX mx1.example.org accepts mail without encryption"),
        "{}",
        g.reasons[0].text
    );
    // A handshake that always fails is no better.
    let g = T::new(vec![mx(
        "mx1.example.org",
        vec![address("127.0.2.1", HostTls::Broken, None, false, None)],
    )])
    .grade();
    assert_eq!(letter_rule(&g), ("F", "T-F-NO-STARTTLS"));
}

#[test]
fn t_d_starttls_fails_one_of_three_plaintext() {
    let g = T::new(vec![
        mx("mx1.example.org", vec![good("127.0.2.1")]),
        mx(
            "mx2.example.org",
            vec![address("127.0.2.2", HostTls::None, None, false, None)],
        ),
        mx("mx3.example.org", vec![good("127.0.2.3")]),
    ])
    .grade();
    assert_eq!(letter_rule(&g), ("D", "T-D-STARTTLS-FAILS"));
    assert_eq!(g.reasons.len(), 1);
    assert_eq!(g.reasons[0].rule, "T-D-STARTTLS-FAILS");
    assert!(
        g.reasons[0]
            .text
            .contains("mx2.example.org accepts mail without encryption")
    );
}

#[test]
fn t_d_legacy_only_boundary_tls11_vs_tls12() {
    let legacy = address(
        "127.0.2.1",
        HostTls::Ok,
        Some(TlsVersion::Tls11),
        false,
        Some(true),
    );
    let g = T::new(vec![mx("mx1.example.org", vec![legacy])]).grade();
    assert_eq!(letter_rule(&g), ("D", "T-D-LEGACY-ONLY"));
    assert_eq!(
        g.reasons[0].text,
        "MX mx1.example.org offers at most TLSv1.1"
    );
    let modern = address(
        "127.0.2.1",
        HostTls::Ok,
        Some(TlsVersion::Tls12),
        true,
        Some(false),
    );
    let g = T::new(vec![mx("mx1.example.org", vec![modern])]).grade();
    assert_eq!(g.letter, Letter::B);
}

#[test]
fn t_d_dane_broken() {
    let h = with_dane(
        mx("mx1.example.org", vec![good("127.0.2.1")]),
        DaneState::Broken,
    );
    let g = T::new(vec![h]).grade();
    assert_eq!(letter_rule(&g), ("D", "T-D-DANE-BROKEN"));
    assert!(
        g.reasons[0]
            .text
            .starts_with("DANE is broken on MX mx1.example.org")
    );
}

#[test]
fn t_d_mtasts_broken() {
    let mut t = T::new(vec![mx("mx1.example.org", vec![good("127.0.2.1")])]);
    t.sts = MtaStsState::Broken;
    let g = t.grade();
    assert_eq!(letter_rule(&g), ("D", "T-D-MTASTS-BROKEN"));
    assert!(g.reasons[0].text.contains("matches no mx pattern"));
}

#[test]
fn t_d_dnssec_bogus() {
    let mut t = T::new(vec![mx("mx1.example.org", vec![good("127.0.2.1")])]);
    t.dnssec = DnssecState::Bogus;
    assert_eq!(letter_rule(&t.grade()), ("D", "T-D-DNSSEC-BOGUS"));
}

#[test]
fn t_d_collects_several_reasons_of_the_same_letter() {
    let mut t = T::new(vec![
        mx(
            "mx1.example.org",
            vec![address("127.0.2.1", HostTls::None, None, false, None)],
        ),
        with_dane(
            mx("mx2.example.org", vec![good("127.0.2.2")]),
            DaneState::Broken,
        ),
    ]);
    t.sts = MtaStsState::Broken;
    let g = t.grade();
    let rules: Vec<&str> = g.reasons.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(
        rules,
        vec!["T-D-STARTTLS-FAILS", "T-D-DANE-BROKEN", "T-D-MTASTS-BROKEN"]
    );
}

#[test]
fn t_c_unauthenticated() {
    let g = T::new(vec![
        mx("mx1.example.org", vec![good("127.0.2.1")]),
        mx(
            "mx2.example.org",
            vec![address(
                "127.0.2.2",
                HostTls::Ok,
                Some(TlsVersion::Tls13),
                false,
                Some(false),
            )],
        ),
    ])
    .grade();
    assert_eq!(letter_rule(&g), ("C", "T-C-UNAUTHENTICATED"));
    assert_eq!(
        g.reasons[0].text,
        "The certificate of MX mx2.example.org is not valid: self-signed"
    );
}

#[test]
fn t_c_is_lifted_by_dane() {
    let h = mx(
        "mx1.example.org",
        vec![address(
            "127.0.2.1",
            HostTls::Ok,
            Some(TlsVersion::Tls13),
            false,
            Some(false),
        )],
    );
    let g = T::new(vec![with_dane(h, DaneState::Valid)]).grade();
    assert_eq!(g.letter, Letter::A);
}

#[test]
fn t_b_no_downgrade_protection_with_positive_notes() {
    let mut t = T::new(vec![mx("mx1.example.org", vec![good("127.0.2.1")])]);
    t.sts = MtaStsState::Testing;
    t.rpt = TlsRptState::Present;
    let g = t.grade();
    assert_eq!(letter_rule(&g), ("B", "T-B-NO-DOWNGRADE-PROTECTION"));
    assert_eq!(
        g.reasons[0].text,
        "No downgrade protection: no DANE, MTA-STS in testing mode"
    );
    assert!(g.reasons[1].positive && g.reasons[2].positive);
}

#[test]
fn t_b_dane_valid_on_one_of_two() {
    let g = T::new(vec![
        with_dane(
            mx("mx1.example.org", vec![good("127.0.2.1")]),
            DaneState::Valid,
        ),
        mx("mx2.example.org", vec![good("127.0.2.2")]),
    ])
    .grade();
    assert_eq!(letter_rule(&g), ("B", "T-B-NO-DOWNGRADE-PROTECTION"));
    assert!(g.reasons[0].text.contains("DANE valid on 1 of 2 MX hosts"));
}

#[test]
fn t_a_protected() {
    let mut t = T::new(vec![mx("mx1.example.org", vec![good("127.0.2.1")])]);
    t.sts = MtaStsState::Enforce;
    let g = t.grade();
    assert_eq!(letter_rule(&g), ("A", "T-A-PROTECTED"));
    assert_eq!(g.reasons[0].text, "Not A+: no TLS-RPT record");
    let mut t = T::new(vec![with_dane(
        mx("mx1.example.org", vec![good("127.0.2.1")]),
        DaneState::Valid,
    )]);
    t.rpt = TlsRptState::Present;
    t.hosts[0].legacy_accepted = None;
    let g = t.grade();
    assert_eq!(letter_rule(&g), ("A", "T-A-PROTECTED"));
    assert!(g.reasons[0].text.contains("not measured"));
}

#[test]
fn t_aplus() {
    let mut t = T::new(vec![
        with_dane(
            mx("mx1.example.org", vec![good("127.0.2.1")]),
            DaneState::Valid,
        ),
        with_dane(
            mx("mx2.example.org", vec![good("127.0.2.2")]),
            DaneState::Valid,
        ),
    ]);
    t.rpt = TlsRptState::Present;
    let g = t.grade();
    assert_eq!(letter_rule(&g), ("A+", "T-APLUS"));
    assert!(g.reasons[0].positive);
    // One legacy-accepting MX blocks A+ only.
    t.hosts[1].legacy_accepted = Some(true);
    assert_eq!(letter_rule(&t.grade()), ("A", "T-A-PROTECTED"));
}

#[test]
fn unreachable_hosts_are_excluded_but_mark_the_grade_partial() {
    let g = T::new(vec![
        mx("mx1.example.org", vec![good("127.0.2.1")]),
        mx("mx2.example.org", vec![refused("127.0.2.2")]),
    ])
    .grade();
    assert_eq!(g.letter, Letter::B);
    assert!(g.partial);
}

// ---- authentication rows ----

fn spf(state: SpfState) -> SpfCheck {
    SpfCheck {
        state,
        record: None,
        all: match state {
            SpfState::Strict => Some('-'),
            SpfState::Soft => Some('~'),
            SpfState::PassAll => Some('+'),
            _ => None,
        },
        lookups: 0,
        void_lookups: 0,
        errors: if state == SpfState::Invalid {
            vec!["include/redirect loop".into()]
        } else {
            vec![]
        },
        warnings: vec![],
    }
}

fn dmarc(state: DmarcState, pct: u8, rua: bool) -> DmarcCheck {
    let policy = match state {
        DmarcState::None => Some(DmarcPolicy::None),
        DmarcState::Quarantine => Some(DmarcPolicy::Quarantine),
        DmarcState::Reject => Some(DmarcPolicy::Reject),
        _ => None,
    };
    DmarcCheck {
        state,
        record: None,
        inherited_from: None,
        p: policy,
        sp: None,
        policy,
        pct,
        rua: if rua {
            vec!["mailto:d@example.org".into()]
        } else {
            vec![]
        },
        ruf: vec![],
        adkim: None,
        aspf: None,
        fo: None,
        t: None,
        errors: if state == DmarcState::Invalid {
            vec!["2 v=DMARC1 records published (exactly one is allowed)".into()]
        } else {
            vec![]
        },
        warnings: vec![],
    }
}

fn auth(s: SpfState, d: DmarcCheck) -> Grade {
    let dom = domain();
    grade_auth(
        rule_table(),
        &AuthFacts {
            domain: &dom,
            spf: &spf(s),
            dmarc: &d,
        },
    )
}

#[test]
fn a_unmeasured() {
    let g = auth(SpfState::Error, dmarc(DmarcState::Error, 100, false));
    assert_eq!(letter_rule(&g), ("?", "A-UNMEASURED"));
    assert_eq!(
        g.grade_reason.as_deref(),
        Some("Could not be measured: SPF and DMARC lookups failed")
    );
    let g = auth(SpfState::Strict, dmarc(DmarcState::Error, 100, false));
    assert_eq!(letter_rule(&g), ("?", "A-UNMEASURED"));
    let g = auth(SpfState::Error, dmarc(DmarcState::Missing, 100, false));
    assert_eq!(letter_rule(&g), ("?", "A-UNMEASURED"));
    // pass_all is F whatever DMARC says.
    let g = auth(SpfState::PassAll, dmarc(DmarcState::Error, 100, false));
    assert_eq!(letter_rule(&g), ("F", "A-F-PASS-ALL"));
}

#[test]
fn a_f_rows() {
    let g = auth(SpfState::None, dmarc(DmarcState::Missing, 100, false));
    assert_eq!(letter_rule(&g), ("F", "A-F-NONE"));
    assert_eq!(
        g.reasons[0].text,
        "example.org publishes neither SPF nor DMARC"
    );
    let g = auth(SpfState::PassAll, dmarc(DmarcState::Reject, 100, true));
    assert_eq!(letter_rule(&g), ("F", "A-F-PASS-ALL"));
    let g = auth(SpfState::Invalid, dmarc(DmarcState::Invalid, 100, false));
    assert_eq!(letter_rule(&g), ("F", "A-F-SPF-INVALID"));
}

#[test]
fn a_d_no_dmarc() {
    for s in [SpfState::Strict, SpfState::Soft, SpfState::Neutral] {
        let g = auth(s, dmarc(DmarcState::Missing, 100, false));
        assert_eq!(letter_rule(&g), ("D", "A-D-NO-DMARC"));
    }
    let g = auth(SpfState::Strict, dmarc(DmarcState::Invalid, 100, false));
    assert!(g.reasons[0].text.contains("2 v=DMARC1 records"));
}

#[test]
fn a_c_rows_and_pct_boundary() {
    let g = auth(SpfState::Strict, dmarc(DmarcState::None, 100, true));
    assert_eq!(letter_rule(&g), ("C", "A-C-DMARC-NONE"));
    let g = auth(SpfState::Strict, dmarc(DmarcState::Quarantine, 99, true));
    assert_eq!(letter_rule(&g), ("C", "A-C-QUARANTINE-PARTIAL"));
    assert_eq!(
        g.reasons[0].text,
        "DMARC quarantines only 99 % of failing mail"
    );
    let g = auth(SpfState::Strict, dmarc(DmarcState::Quarantine, 100, true));
    assert_eq!(letter_rule(&g), ("B", "A-B-QUARANTINE"));
}

#[test]
fn a_b_rows_and_pct_boundary() {
    let g = auth(SpfState::Strict, dmarc(DmarcState::Reject, 99, true));
    assert_eq!(letter_rule(&g), ("B", "A-B-REJECT-PARTIAL"));
    for s in [SpfState::None, SpfState::Neutral, SpfState::Invalid] {
        let g = auth(s, dmarc(DmarcState::Reject, 100, true));
        assert_eq!(letter_rule(&g), ("B", "A-B-REJECT-WEAK-SPF"), "{s:?}");
        assert!(!g.partial);
    }
    let g = auth(SpfState::Error, dmarc(DmarcState::Reject, 100, true));
    assert_eq!(letter_rule(&g), ("B", "A-B-REJECT-WEAK-SPF"));
    assert!(g.partial);
}

#[test]
fn a_a_reject() {
    let g = auth(SpfState::Soft, dmarc(DmarcState::Reject, 100, true));
    assert_eq!(letter_rule(&g), ("A", "A-A-REJECT"));
    assert_eq!(g.reasons[0].text, "Not A+: SPF ends in ~all, not -all");
    let g = auth(SpfState::Strict, dmarc(DmarcState::Reject, 100, false));
    assert_eq!(letter_rule(&g), ("A", "A-A-REJECT"));
}

#[test]
fn a_aplus() {
    let g = auth(SpfState::Strict, dmarc(DmarcState::Reject, 100, true));
    assert_eq!(letter_rule(&g), ("A+", "A-APLUS"));
    assert!(g.reasons[0].positive);
}

// ---- overall ----

fn simple(letter: Letter) -> Grade {
    Grade {
        letter,
        rule: String::new(),
        reasons: vec![],
        partial: false,
        grade_reason: (!letter.is_measured()).then(|| "why".to_string()),
    }
}

#[test]
fn overall_rows() {
    let t = rule_table();
    let d = domain();
    let g = grade_overall(t, &d, &simple(Letter::B), &simple(Letter::C));
    assert_eq!(letter_rule(&g), ("C", "O-LOWER"));
    assert!(!g.partial);
    let g = grade_overall(t, &d, &simple(Letter::APlus), &simple(Letter::A));
    assert_eq!(g.letter, Letter::A);
    let g = grade_overall(t, &d, &simple(Letter::Unknown), &simple(Letter::C));
    assert_eq!(letter_rule(&g), ("C", "O-PARTIAL"));
    assert!(g.partial);
    let g = grade_overall(t, &d, &simple(Letter::Unknown), &simple(Letter::Unknown));
    assert_eq!(letter_rule(&g), ("?", "O-UNMEASURED"));
    assert!(g.grade_reason.is_some());
    let g = grade_overall(t, &d, &simple(Letter::NotApplicable), &simple(Letter::D));
    assert_eq!(letter_rule(&g), ("D", "O-NO-MAIL"));
}
