//! Website visits for domain discovery (classification spec §9.2): a municipality's
//! website is fetched (redirects followed, at most [`WebSettings::max_redirects`]), its
//! robots.txt respected, and its homepage plus a few contact and imprint pages read for
//! e-mail addresses, within bounds of pages, bytes and time per site, one request at a
//! time per site with a pause between requests. Loopback-only mode refuses every
//! address outside 127.0.0.0/8 before a socket exists.
//!
//! Visits are kept in a web cache next to the scan cache, so `mxmap render` replays
//! them without a network and a rerun within the cache TTL does not knock again.

pub mod extract;
pub mod fetch;
pub mod robots;
pub mod store;

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::DomainSource;
use super::conventions::{Conventions, ends_with_label, registered_domain};
use super::validate::Rejection;
use crate::evidence::{RType, Timestamp};
use crate::name::DnsName;
use crate::scan::lookups::Lookups;
use crate::scan::resolver::now;
use fetch::Url;
use robots::Robots;

/// Bounds and manners of website visits.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Port of `http://` URLs without a port (80 live; a fixture's port in tests).
    pub http_port: u16,
    /// Port of `https://` URLs without a port (443 live).
    pub https_port: u16,
    /// Refuse every address outside 127.0.0.0/8.
    pub loopback_only: bool,
    /// Pages read per site at most (homepage included, robots.txt not).
    pub max_pages: usize,
    /// Bytes kept per page at most.
    pub max_page_bytes: usize,
    /// Bytes read per site at most.
    pub max_site_bytes: usize,
    /// Time per site at most.
    pub site_budget: Duration,
    /// Time per request at most.
    pub request_timeout: Duration,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Redirects followed per request at most.
    pub max_redirects: usize,
    /// Pause between two requests to the same site.
    pub pause: Duration,
    /// Fetch at all (off in `mxmap render`: only the web cache is read).
    pub fetch: bool,
    /// Visits younger than this are reused from the web cache.
    pub reuse_for: Duration,
    /// `User-Agent`.
    pub user_agent: String,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            http_port: 80,
            https_port: 443,
            loopback_only: false,
            max_pages: 6,
            max_page_bytes: 512 * 1024,
            max_site_bytes: 2 * 1024 * 1024,
            site_budget: Duration::from_secs(30),
            request_timeout: fetch::REQUEST_TIMEOUT,
            connect_timeout: Duration::from_secs(5),
            max_redirects: 5,
            pause: Duration::from_millis(500),
            fetch: true,
            reuse_for: Duration::from_secs(20 * 3600),
            user_agent: format!(
                "mxmap/{} (finds municipal mail domains; respects robots.txt)",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

/// A page read during a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageSeen {
    /// URL asked.
    pub url: String,
    /// HTTP status, when one came.
    pub status: Option<u16>,
    /// Body bytes kept.
    pub bytes: usize,
    /// What went wrong or was cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An address found on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundAddress {
    /// The address, lower case.
    pub address: String,
    /// The page it was on.
    pub page: String,
}

/// What one website visit saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// The website as given.
    pub url: String,
    /// When the visit started.
    pub at: Timestamp,
    /// The URL the homepage finally came from, after redirects.
    pub final_url: Option<String>,
    /// Every redirect followed, as `from → to`.
    #[serde(default)]
    pub redirects: Vec<String>,
    /// Pages read, in order.
    #[serde(default)]
    pub pages: Vec<PageSeen>,
    /// Addresses found.
    #[serde(default)]
    pub addresses: Vec<FoundAddress>,
    /// The homepage is a parked or for-sale page.
    #[serde(default)]
    pub parked: bool,
    /// Problems (errors, bounds reached, robots.txt refusals).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// How a website host's addresses are found.
#[async_trait]
pub trait Resolve: Send + Sync {
    /// The IPv4 and IPv6 addresses of `host`.
    async fn addresses(&self, host: &str) -> Vec<IpAddr>;
}

/// Host addresses through the scan's shared lookup memo.
pub struct LookupResolver(pub Arc<Lookups>);

#[async_trait]
impl Resolve for LookupResolver {
    async fn addresses(&self, host: &str) -> Vec<IpAddr> {
        let Ok(name) = DnsName::parse(host) else {
            return Vec::new();
        };
        let (a, aaaa) = tokio::join!(self.0.get(&name, RType::A), self.0.get(&name, RType::Aaaa));
        a.addresses().chain(aaaa.addresses()).collect()
    }
}

/// Website visits of one run: settings, resolver, and the web cache.
pub struct WebContext {
    /// Bounds.
    pub settings: WebSettings,
    resolver: Arc<dyn Resolve>,
    store: Mutex<store::WebStore>,
    visited: AtomicUsize,
    fetched: AtomicUsize,
}

impl WebContext {
    /// A context over `store` (earlier visits), resolving hosts with `resolver`.
    pub fn new(
        settings: WebSettings,
        resolver: Arc<dyn Resolve>,
        store: store::WebStore,
    ) -> WebContext {
        WebContext {
            settings,
            resolver,
            store: Mutex::new(store),
            visited: AtomicUsize::new(0),
            fetched: AtomicUsize::new(0),
        }
    }

    /// Websites visited this run (fetched or reused).
    pub fn visited(&self) -> usize {
        self.visited.load(Ordering::Relaxed)
    }

    /// Websites fetched from the network this run.
    pub fn fetched(&self) -> usize {
        self.fetched.load(Ordering::Relaxed)
    }

    /// The web cache with this run's visits, for saving.
    pub fn into_store(self) -> store::WebStore {
        self.store.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The visit of `site`: from the web cache when fresh (or when fetching is off),
    /// else fetched now.
    pub async fn visit(&self, site: &str) -> Option<Arc<Visit>> {
        let key = site.trim().to_string();
        let cached = self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let fresh = |v: &Visit| {
            now().saturating_sub(v.at)
                < self.settings.reuse_for.as_secs().min(i64::MAX as u64) as i64
        };
        let visit = match cached {
            Some(v) if !self.settings.fetch || fresh(&v) => v,
            _ if !self.settings.fetch => return None,
            _ => {
                self.fetched.fetch_add(1, Ordering::Relaxed);
                let v = Arc::new(
                    crawl(
                        &key,
                        self.resolver.as_ref(),
                        &self.settings,
                        Conventions::embedded(),
                    )
                    .await,
                );
                self.store
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(key, v.clone());
                v
            }
        };
        self.visited.fetch_add(1, Ordering::Relaxed);
        Some(visit)
    }
}

/// Visits a site within its time budget (what was seen until the budget ran out is
/// kept).
pub async fn crawl(
    site: &str,
    resolver: &dyn Resolve,
    settings: &WebSettings,
    table: &Conventions,
) -> Visit {
    let mut visit = Visit {
        url: site.to_string(),
        at: now(),
        final_url: None,
        redirects: Vec::new(),
        pages: Vec::new(),
        addresses: Vec::new(),
        parked: false,
        notes: Vec::new(),
    };
    let deadline = Instant::now() + settings.site_budget;
    let Some(start) = Url::parse(site) else {
        visit.notes.push(format!("{site:?} is not an http(s) URL"));
        return visit;
    };
    let walk = Walk {
        resolver,
        settings,
        table,
        deadline,
    };
    if tokio::time::timeout(settings.site_budget, walk.run(start, &mut visit))
        .await
        .is_err()
    {
        visit.notes.push(format!(
            "site budget of {:.0} s used up",
            settings.site_budget.as_secs_f64()
        ));
    }
    visit
}

struct Walk<'a> {
    resolver: &'a dyn Resolve,
    settings: &'a WebSettings,
    table: &'a Conventions,
    deadline: Instant,
}

impl Walk<'_> {
    async fn run(&self, start: Url, visit: &mut Visit) {
        let mut robots = RobotsCache::default();
        let mut bytes = 0usize;
        let mut homepage = None;
        for url in start_urls(&start) {
            if let Some(found) = self
                .get_following(&url, visit, &mut robots, &mut bytes)
                .await
            {
                homepage = Some(found);
                break;
            }
        }
        let Some((home, body)) = homepage else {
            return;
        };
        visit.final_url = Some(home.text());
        if extract::is_parked(&body, &self.table.web.parked_phrases) {
            visit.parked = true;
            visit
                .notes
                .push("the homepage is a parked or for-sale page".into());
            return;
        }
        self.collect(&body, &home, visit);
        let mut queue = self.contact_pages(&home, &body);
        let mut failures = 0;
        while let Some(next) = queue.first().cloned() {
            queue.remove(0);
            if visit.pages.len() >= self.settings.max_pages {
                visit
                    .notes
                    .push(format!("page limit of {} reached", self.settings.max_pages));
                break;
            }
            if bytes >= self.settings.max_site_bytes {
                visit.notes.push(format!(
                    "byte limit of {} per site reached",
                    self.settings.max_site_bytes
                ));
                break;
            }
            if failures >= 3 || Instant::now() >= self.deadline {
                break;
            }
            tokio::time::sleep(self.settings.pause).await;
            match self
                .get_following(&next, visit, &mut robots, &mut bytes)
                .await
            {
                Some((url, body)) => {
                    failures = 0;
                    self.collect(&body, &url, visit);
                }
                None => failures += 1,
            }
        }
    }

    /// Addresses of a page, each once per visit.
    fn collect(&self, body: &str, url: &Url, visit: &mut Visit) {
        for address in extract::addresses(body) {
            if !visit.addresses.iter().any(|a| a.address == address) {
                visit.addresses.push(FoundAddress {
                    address,
                    page: url.text(),
                });
            }
        }
    }

    /// Same-site links whose path names a contact page, then the table's fixed paths.
    fn contact_pages(&self, home: &Url, body: &str) -> Vec<Url> {
        let site = registered_domain(&home.host)
            .unwrap_or(&home.host)
            .to_string();
        let mut out: Vec<Url> = Vec::new();
        let mut push = |u: Url| {
            if ends_with_label(&u.host, &site) && u.path != home.path && !out.contains(&u) {
                out.push(u);
            }
        };
        for link in extract::attribute_values(body, "href") {
            let Some(u) = home.join(&link) else { continue };
            let path = u.path.to_lowercase();
            let asset = [".pdf", ".jpg", ".png", ".css", ".js", ".zip", ".doc"]
                .iter()
                .any(|e| path.ends_with(e));
            if !asset
                && !path.contains('%')
                && self
                    .table
                    .web
                    .link_words
                    .iter()
                    .any(|w| path.contains(w.as_str()))
            {
                push(u);
            }
        }
        for path in &self.table.web.paths {
            if let Some(u) = home.join(path) {
                push(u);
            }
        }
        out
    }

    /// GET with redirects followed (each target checked against robots.txt); the final
    /// URL and body of a 2xx answer.
    async fn get_following(
        &self,
        url: &Url,
        visit: &mut Visit,
        robots: &mut RobotsCache,
        bytes: &mut usize,
    ) -> Option<(Url, String)> {
        let mut current = url.clone();
        for hop in 0..=self.settings.max_redirects {
            if !robots.allows(self, &current).await {
                visit
                    .notes
                    .push(format!("robots.txt disallows {}", current.text()));
                return None;
            }
            let addresses = self.resolver.addresses(&current.host).await;
            let budget = self
                .settings
                .max_page_bytes
                .min(self.settings.max_site_bytes.saturating_sub(*bytes));
            let response = fetch::get(&current, &addresses, self.settings, budget).await;
            let mut seen = PageSeen {
                url: current.text(),
                status: None,
                bytes: 0,
                note: None,
            };
            let response = match response {
                Ok(r) => r,
                Err(e) => {
                    seen.note = Some(format!("{e:#}"));
                    visit.pages.push(seen);
                    return None;
                }
            };
            seen.status = Some(response.status);
            seen.bytes = response.body.len();
            *bytes += response.body.len();
            if response.oversized {
                seen.note = Some(format!("cut at {budget} bytes"));
            }
            visit.pages.push(seen);
            if (300..400).contains(&response.status) {
                let Some(next) = response.header("location").and_then(|l| current.join(l)) else {
                    visit.notes.push(format!(
                        "redirect without a usable Location at {}",
                        current.text()
                    ));
                    return None;
                };
                visit
                    .redirects
                    .push(format!("{} → {}", current.text(), next.text()));
                if hop == self.settings.max_redirects {
                    visit.notes.push(format!(
                        "more than {} redirects from {}",
                        self.settings.max_redirects,
                        url.text()
                    ));
                    return None;
                }
                current = next;
                continue;
            }
            if !(200..300).contains(&response.status) {
                return None;
            }
            return Some((
                current,
                String::from_utf8_lossy(&response.body).into_owned(),
            ));
        }
        None
    }
}

/// Where to look for the homepage: the URL as given, then (for a homepage without
/// `www.`) its `www.` host; each over its scheme, then over plain HTTP (spec §9.2).
fn start_urls(start: &Url) -> Vec<Url> {
    let mut hosts = vec![start.host.clone()];
    if !start.host.starts_with("www.") && start.path == "/" {
        hosts.push(format!("www.{}", start.host));
    }
    let mut out = Vec::new();
    for https in [start.https, false] {
        for host in &hosts {
            let u = Url {
                https,
                host: host.clone(),
                ..start.clone()
            };
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}

/// robots.txt per host, fetched once per visit.
#[derive(Default)]
struct RobotsCache {
    hosts: Vec<(String, Robots)>,
}

impl RobotsCache {
    async fn allows(&mut self, walk: &Walk<'_>, url: &Url) -> bool {
        let key = format!("{}:{}", url.host, url.https);
        if let Some((_, r)) = self.hosts.iter().find(|(h, _)| *h == key) {
            return r.allows(&url.path);
        }
        let robots_url = Url {
            path: "/robots.txt".into(),
            ..url.clone()
        };
        let addresses = walk.resolver.addresses(&url.host).await;
        let robots = match fetch::get(&robots_url, &addresses, walk.settings, 64 * 1024).await {
            Ok(r) if (200..300).contains(&r.status) => {
                Robots::parse(&String::from_utf8_lossy(&r.body), "mxmap")
            }
            // No robots.txt (or an error fetching it) means no restrictions (RFC 9309).
            _ => Robots::default(),
        };
        let allowed = robots.allows(&url.path);
        self.hosts.push((key, robots));
        allowed
    }
}

/// A candidate a visit proposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebProposal {
    /// The domain (ASCII, lower case).
    pub domain: String,
    /// `website` or `redirect`.
    pub source: DomainSource,
    /// Evidence: which page, which address, which redirect.
    pub how: String,
    /// Turned down before any lookup (parked page, unrelated domain).
    pub rejected: Option<Rejection>,
}

/// Address domains tried per site at most.
const MAX_ADDRESS_DOMAINS: usize = 8;

/// The candidates of a municipality's website: domains of the addresses on its pages
/// (related to the website or the name, most frequent first), the redirect target, and
/// the website's own domain. `slugs` are the name's joined slugs.
pub async fn proposals(web: &WebContext, site: &str, slugs: &[String]) -> Vec<WebProposal> {
    let Some(visit) = web.visit(site).await else {
        return Vec::new();
    };
    proposals_of(&visit, slugs)
}

/// [`proposals`] for a visit already made.
pub fn proposals_of(visit: &Visit, slugs: &[String]) -> Vec<WebProposal> {
    let start_host = Url::parse(&visit.url).map(|u| u.host).unwrap_or_default();
    let final_host = visit
        .final_url
        .as_deref()
        .and_then(Url::parse)
        .map(|u| u.host)
        .unwrap_or_else(|| start_host.clone());
    let own = registered_domain(&start_host)
        .unwrap_or(&start_host)
        .to_string();
    let target = registered_domain(&final_host)
        .unwrap_or(&final_host)
        .to_string();
    let mut out: Vec<WebProposal> = Vec::new();
    if visit.parked {
        out.push(WebProposal {
            domain: own.clone(),
            source: DomainSource::Website,
            how: format!("the website {}", visit.url),
            rejected: Some(Rejection::ParkedPage),
        });
        return out;
    }
    // Address domains, most frequent first.
    let mut counts: Vec<(String, usize, String)> = Vec::new();
    for a in &visit.addresses {
        let Some((_, domain)) = a.address.rsplit_once('@') else {
            continue;
        };
        match counts.iter_mut().find(|(d, _, _)| d == domain) {
            Some(entry) => entry.1 += 1,
            None => counts.push((
                domain.to_string(),
                1,
                format!("{} on {}", a.address, a.page),
            )),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (domain, _, how) in counts.into_iter().take(MAX_ADDRESS_DOMAINS) {
        let related = [&own, &target].iter().any(|r| ends_with_label(&domain, r))
            || mentions_name(&domain, slugs);
        out.push(WebProposal {
            domain,
            source: DomainSource::Website,
            how,
            rejected: (!related).then_some(Rejection::Unrelated),
        });
    }
    if target != own {
        out.push(WebProposal {
            domain: target.clone(),
            source: DomainSource::Redirect,
            how: visit.redirects.join(", "),
            rejected: None,
        });
    }
    let bare = start_host
        .strip_prefix("www.")
        .unwrap_or(&start_host)
        .to_string();
    for domain in [bare, own] {
        out.push(WebProposal {
            domain,
            source: DomainSource::Website,
            how: format!("the domain of the website {}", visit.url),
            rejected: None,
        });
    }
    out
}

/// The domain's first registered label contains one of the name's slugs (4+ letters).
fn mentions_name(domain: &str, slugs: &[String]) -> bool {
    let registered = registered_domain(domain).unwrap_or(domain);
    let label = registered
        .split('.')
        .next()
        .unwrap_or_default()
        .replace('-', "");
    slugs
        .iter()
        .any(|s| s.len() >= 4 && label.contains(s.as_str()))
}
