//! The security report pages: `security/` (Europe), `{cc}/security/` (one country) and
//! the grade explainer `security/grades/` (site spec §3.6). Every figure is counted here
//! from the records' [`Security`] assessments, each percentage with its denominator.

use super::filters;
use anyhow::{Context, Result};
use askama::Template;

use super::map::{CountryMaps, Maps};
use super::model::{CountryModel, Meta, Record, SiteModel, Stats, pct};
use super::render::{GradeRow, grade_rows, secure_pct};
use super::security::{RuleRow, rule_rows};
use crate::grade::{
    DaneDomainState, DmarcState, DnssecState, HostTls, MtaStsState, Security, SpfState, TlsRptState,
};

/// Adoption of each check over a set of records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Adoption {
    /// Records whose domain was assessed (SPF and DMARC apply to every one of them).
    pub assessed: usize,
    /// Assessed domains that receive mail (no null MX): MTA-STS, TLS-RPT and DNSSEC of
    /// the MX records apply to these.
    pub receiving: usize,
    /// Records whose inbound transport was measured (some MX host answered).
    pub transport_measured: usize,
    /// STARTTLS on every measured MX host.
    pub starttls_all: usize,
    /// A PKIX-valid certificate with a matching name on every measured MX host.
    pub valid_cert_all: usize,
    /// No measured MX host accepts SSLv3, TLS 1.0 or TLS 1.1.
    pub no_legacy_tls: usize,
    /// DANE valid on every MX host.
    pub dane_all: usize,
    /// MTA-STS in `enforce` mode (every MX covered).
    pub mta_sts_enforce: usize,
    /// MTA-STS in `testing` mode.
    pub mta_sts_testing: usize,
    /// A valid TLS-RPT record.
    pub tls_rpt: usize,
    /// DNSSEC-signed MX RRset.
    pub dnssec_secure: usize,
    /// SPF ending in `-all`.
    pub spf_strict: usize,
    /// SPF ending in `~all`.
    pub spf_soft: usize,
    /// No SPF record.
    pub spf_missing: usize,
    /// DMARC `p=reject`.
    pub dmarc_reject: usize,
    /// DMARC `p=quarantine`.
    pub dmarc_quarantine: usize,
    /// DMARC `p=none`.
    pub dmarc_none: usize,
    /// No DMARC record (own or inherited).
    pub dmarc_missing: usize,
}

impl Adoption {
    /// Counts over `records`.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a Record>) -> Adoption {
        let mut a = Adoption::default();
        for sec in records.into_iter().filter_map(|r| r.security.as_deref()) {
            a.add(sec);
        }
        a
    }

    fn add(&mut self, sec: &Security) {
        self.assessed += 1;
        match sec.spf.state {
            SpfState::Strict => self.spf_strict += 1,
            SpfState::Soft => self.spf_soft += 1,
            SpfState::None => self.spf_missing += 1,
            _ => {}
        }
        match sec.dmarc.state {
            DmarcState::Reject => self.dmarc_reject += 1,
            DmarcState::Quarantine => self.dmarc_quarantine += 1,
            DmarcState::None => self.dmarc_none += 1,
            DmarcState::Missing => self.dmarc_missing += 1,
            _ => {}
        }
        if sec.null_mx {
            return;
        }
        self.receiving += 1;
        if sec.transport.letter.is_measured() {
            self.transport_measured += 1;
            let measured: Vec<_> = sec.hosts.iter().filter(|h| h.measured).collect();
            let count = |hit: bool| usize::from(hit);
            self.starttls_all += count(measured.iter().all(|h| h.tls == Some(HostTls::Ok)));
            self.valid_cert_all += count(measured.iter().all(|h| h.pkix_authenticated));
            self.no_legacy_tls += count(measured.iter().all(|h| h.legacy_accepted == Some(false)));
            self.dane_all += count(sec.dane == DaneDomainState::All);
        }
        match sec.mta_sts.state {
            MtaStsState::Enforce => self.mta_sts_enforce += 1,
            MtaStsState::Testing => self.mta_sts_testing += 1,
            _ => {}
        }
        self.tls_rpt += usize::from(sec.tls_rpt.state == TlsRptState::Present);
        self.dnssec_secure += usize::from(sec.dnssec == DnssecState::Secure);
    }

    /// The adoption table, each check over the records it applies to.
    pub fn rows(&self) -> Vec<AdoptionRow> {
        const MEASURED: &str = "with a measured MX";
        const RECEIVING: &str = "receiving mail";
        const CHECKED: &str = "domains checked";
        let (t, m, d) = (self.transport_measured, self.receiving, self.assessed);
        [
            (
                "STARTTLS on every MX host",
                "transport-no-starttls",
                self.starttls_all,
                t,
                MEASURED,
            ),
            (
                "Valid certificate on every MX host",
                "transport-unauthenticated",
                self.valid_cert_all,
                t,
                MEASURED,
            ),
            (
                "No legacy TLS (SSLv3, TLS 1.0/1.1) on any MX host",
                "transport-a-plus",
                self.no_legacy_tls,
                t,
                MEASURED,
            ),
            (
                "DANE on every MX host",
                "transport-protected",
                self.dane_all,
                t,
                MEASURED,
            ),
            (
                "MTA-STS enforce",
                "transport-protected",
                self.mta_sts_enforce,
                m,
                RECEIVING,
            ),
            (
                "MTA-STS testing",
                "transport-protected",
                self.mta_sts_testing,
                m,
                RECEIVING,
            ),
            ("TLS-RPT", "transport-a-plus", self.tls_rpt, m, RECEIVING),
            (
                "DNSSEC-signed MX records",
                "transport-dnssec-bogus",
                self.dnssec_secure,
                m,
                RECEIVING,
            ),
            (
                "SPF -all",
                "auth-reject-weak-spf",
                self.spf_strict,
                d,
                CHECKED,
            ),
            (
                "SPF ~all",
                "auth-reject-weak-spf",
                self.spf_soft,
                d,
                CHECKED,
            ),
            (
                "No SPF record",
                "auth-reject-weak-spf",
                self.spf_missing,
                d,
                CHECKED,
            ),
            (
                "DMARC p=reject",
                "auth-no-dmarc",
                self.dmarc_reject,
                d,
                CHECKED,
            ),
            (
                "DMARC p=quarantine",
                "auth-no-dmarc",
                self.dmarc_quarantine,
                d,
                CHECKED,
            ),
            ("DMARC p=none", "auth-no-dmarc", self.dmarc_none, d, CHECKED),
            (
                "No DMARC record",
                "auth-no-dmarc",
                self.dmarc_missing,
                d,
                CHECKED,
            ),
        ]
        .into_iter()
        .map(|(check, anchor, count, of, denominator)| AdoptionRow {
            check,
            anchor,
            count,
            of,
            denominator,
            pct: share(count, of),
        })
        .collect()
    }
}

/// `12.5` or `—` when the denominator is empty.
fn share(part: usize, whole: usize) -> String {
    if whole == 0 {
        "—".into()
    } else {
        format!("{:.1}", pct(part, whole))
    }
}

/// One row of the adoption table.
pub struct AdoptionRow {
    /// Check, in words.
    pub check: &'static str,
    /// Anchor of the grade rule it feeds, on `security/grades/`.
    pub anchor: &'static str,
    /// Municipalities passing.
    pub count: usize,
    /// Denominator.
    pub of: usize,
    /// What the denominator counts.
    pub denominator: &'static str,
    /// Percent of the denominator.
    pub pct: String,
}

/// A configuration that makes mail fail for strict senders.
pub struct BrokenRow {
    /// Municipality.
    pub name: String,
    /// Link from the page it is shown on.
    pub href: String,
    /// Country name.
    pub country: &'static str,
    /// The problem, in words.
    pub problem: &'static str,
    /// The failing fact.
    pub evidence: String,
}

/// Municipalities with DANE mismatches, MTA-STS `enforce` that senders cannot satisfy,
/// or a bogus DNSSEC signature, with links relative to `root`.
fn broken_rows<'a>(records: impl IntoIterator<Item = &'a Record>, root: &str) -> Vec<BrokenRow> {
    let mut rows = Vec::new();
    for r in records {
        let Some(sec) = r.security.as_deref() else {
            continue;
        };
        let problems = [
            (sec.dane == DaneDomainState::Broken, "DANE mismatch", "dane"),
            (
                sec.mta_sts.state == MtaStsState::Broken,
                "MTA-STS enforce, MX not valid for it",
                "mta_sts",
            ),
            (sec.dnssec == DnssecState::Bogus, "DNSSEC bogus", "dnssec"),
        ];
        for (hit, problem, check) in problems {
            if !hit {
                continue;
            }
            let evidence = sec
                .failed_checks
                .iter()
                .filter(|f| f.check == check)
                .map(|f| match &f.host {
                    Some(h) => format!("{h}: {}", f.evidence),
                    None => f.evidence.clone(),
                })
                .collect::<Vec<_>>()
                .join("; ");
            rows.push(BrokenRow {
                name: r.name.clone(),
                href: format!("{root}{}", r.page),
                country: r.country.name,
                problem,
                evidence,
            });
        }
    }
    rows
}

/// One row of a league table (countries or regions), ordered by share ≥ B.
pub struct LeagueRow {
    /// Name.
    pub name: String,
    /// Link.
    pub href: String,
    /// Municipalities.
    pub municipalities: usize,
    /// Graded municipalities.
    pub graded: usize,
    /// Graded B or better.
    pub good: usize,
    /// Percent of graded ≥ B (`—` when none graded).
    pub good_pct: String,
    /// STARTTLS on every MX, percent of those with a measured MX.
    pub starttls_pct: String,
    /// DMARC reject, percent of domains checked.
    pub dmarc_reject_pct: String,
    /// MTA-STS enforce or testing, percent of domains receiving mail.
    pub mta_sts_pct: String,
}

fn league_row(name: String, href: String, stats: &Stats, adoption: &Adoption) -> LeagueRow {
    LeagueRow {
        name,
        href,
        municipalities: stats.municipalities,
        graded: stats.graded,
        good: stats.grade_b_or_better,
        good_pct: secure_pct(stats),
        starttls_pct: share(adoption.starttls_all, adoption.transport_measured),
        dmarc_reject_pct: share(adoption.dmarc_reject, adoption.assessed),
        mta_sts_pct: share(
            adoption.mta_sts_enforce + adoption.mta_sts_testing,
            adoption.receiving,
        ),
    }
}

/// Best share ≥ B first; areas with nothing graded last, by name.
fn sort_league(rows: &mut [LeagueRow]) {
    let key = |r: &LeagueRow| {
        if r.graded == 0 {
            -1.0
        } else {
            pct(r.good, r.graded)
        }
    };
    rows.sort_by(|a, b| key(b).total_cmp(&key(a)).then_with(|| a.name.cmp(&b.name)));
}

#[derive(Template)]
#[template(path = "security.html")]
struct SecurityPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    /// Area name ("Europe" or the country).
    area: &'a str,
    /// Country pages link back to their report; Europe links to the countries.
    country_href: Option<String>,
    stats: &'a Stats,
    secure_pct: String,
    grades: Vec<GradeRow>,
    /// Denominator of the transport checks.
    measured: usize,
    /// Denominator of the MX-related DNS checks.
    receiving: usize,
    /// Denominator of SPF and DMARC.
    checked: usize,
    adoption: Vec<AdoptionRow>,
    map_svg: Option<&'a str>,
    map_note: String,
    league_title: &'static str,
    league: Vec<LeagueRow>,
    broken: Vec<BrokenRow>,
}

/// `security/`: Europe.
pub fn europe(model: &SiteModel, maps: &Maps) -> Result<String> {
    let mut league: Vec<LeagueRow> = model
        .countries
        .iter()
        .map(|c| {
            league_row(
                c.country.name.to_string(),
                format!("../{}security/", c.page),
                &c.stats,
                &Adoption::of(c.records.iter().map(|&i| &model.records[i])),
            )
        })
        .collect();
    sort_league(&mut league);
    let adoption = Adoption::of(&model.records);
    SecurityPage {
        root: "../",
        path: "security/".into(),
        meta: &model.meta,
        area: "Europe",
        country_href: None,
        stats: &model.europe,
        secure_pct: secure_pct(&model.europe),
        grades: grade_rows(&model.europe),
        measured: adoption.transport_measured,
        receiving: adoption.receiving,
        checked: adoption.assessed,
        adoption: adoption.rows(),
        map_svg: Some(&maps.europe_grades_svg),
        map_note: "Each country is filled by the share of its graded municipalities with grade B or better; grey where none could be graded. Each links to its security report.".into(),
        league_title: "Countries",
        league,
        broken: broken_rows(&model.records, "../"),
    }
    .render()
    .context("rendering security/")
}

/// `{cc}/security/`: one country.
pub fn country(model: &SiteModel, c: &CountryModel, maps: &CountryMaps) -> Result<String> {
    let records = || c.records.iter().map(|&i| &model.records[i]);
    let mut league: Vec<LeagueRow> = maps
        .regions
        .iter()
        .map(|region| {
            let members = || region.records.iter().map(|&i| &model.records[i]);
            league_row(
                region.name.clone(),
                format!("../{}/", region.slug),
                &Stats::of(members()),
                &Adoption::of(members()),
            )
        })
        .collect();
    sort_league(&mut league);
    let adoption = Adoption::of(records());
    let map_note = match &maps.grades_svg {
        Some(_) => format!(
            "Each municipality drawn on the map is filled with its overall grade and links to its page; {} municipalities without a shape are only in the tables.",
            maps.unmapped.len()
        ),
        None => maps.coverage.clone(),
    };
    SecurityPage {
        root: "../../",
        path: format!("{}security/", c.page),
        meta: &model.meta,
        area: c.country.name,
        country_href: Some("../".into()),
        stats: &c.stats,
        secure_pct: secure_pct(&c.stats),
        grades: grade_rows(&c.stats),
        measured: adoption.transport_measured,
        receiving: adoption.receiving,
        checked: adoption.assessed,
        adoption: adoption.rows(),
        map_svg: maps.grades_svg.as_deref(),
        map_note,
        league_title: "Regions",
        league,
        broken: broken_rows(records(), "../../"),
    }
    .render()
    .with_context(|| format!("rendering {}security/", c.page))
}

#[derive(Template)]
#[template(path = "security_grades.html")]
struct GradesPage<'a> {
    root: &'a str,
    path: String,
    meta: &'a Meta,
    grade_tables: Vec<(&'static str, Vec<RuleRow>)>,
}

/// `security/grades/`: the grade explainer, rendered from the grader's rule table.
pub fn grades(model: &SiteModel) -> Result<String> {
    GradesPage {
        root: "../../",
        path: "security/grades/".into(),
        meta: &model.meta,
        grade_tables: rule_rows(),
    }
    .render()
    .context("rendering security/grades/")
}
