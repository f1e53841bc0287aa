//! Domain discovery end to end (issue 17): the real binary builds a small Estonian world
//! (zones written here, served in-process with `--world`) whose municipalities lack a
//! usable domain in every way discovery handles — a website with a contact page, a
//! redirecting website, a parked website, a name guess, another municipality's domain,
//! namesakes, a reviewed rejection, a seed subdomain — with the websites on a loopback
//! HTTP fixture. Then the site is rendered again from the caches alone (render fetches nothing).

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SEEDS: &str = r#"[
{"id": "EE-W01", "name": "Veebi vald", "country": "EE", "region": null, "domain": null, "website": "http://www.veebi.ee/", "osm_relation_id": null, "population": 100},
{"id": "EE-W02", "name": "Arva vald", "country": "EE", "region": null, "domain": null, "osm_relation_id": null, "population": 100},
{"id": "EE-W03", "name": "Kolmas", "country": "EE", "region": null, "domain": null, "osm_relation_id": null, "population": 100},
{"id": "EE-W04", "name": "Kolmas vald", "country": "EE", "region": null, "domain": "kolmas.ee", "osm_relation_id": null, "population": 100},
{"id": "EE-W05", "name": "Pargi vald", "country": "EE", "region": null, "domain": null, "website": "http://www.pargi.ee/", "osm_relation_id": null, "population": 100},
{"id": "EE-W06", "name": "Keeld vald", "country": "EE", "region": null, "domain": null, "osm_relation_id": null, "population": 100},
{"id": "EE-W07", "name": "Hea vald", "country": "EE", "region": null, "domain": "hea.ee", "osm_relation_id": null, "population": 100},
{"id": "EE-W08", "name": "Sama vald", "country": "EE", "region": "Harju", "domain": null, "osm_relation_id": null, "population": 100},
{"id": "EE-W09", "name": "Sama vald", "country": "EE", "region": "Tartu", "domain": null, "osm_relation_id": null, "population": 100},
{"id": "EE-W10", "name": "Suuna vald", "country": "EE", "region": null, "domain": null, "website": "http://suuna-vana.ee/", "osm_relation_id": null, "population": 100},
{"id": "EE-W11", "name": "Alam vald", "country": "EE", "region": null, "domain": "alam.amet.ee", "osm_relation_id": null, "population": 100},
{"id": "EE-W12", "name": "Tühi vald", "country": "EE", "region": null, "domain": null, "osm_relation_id": null, "population": 100},
{"id": "EE-W13", "name": "Ülem vald", "country": "EE", "region": null, "domain": null, "osm_relation_id": null, "population": 100}
]"#;

const OVERRIDES: &str = r#"
[[override]]
id = "EE-W06"
kind = "reject_domain"
value = "keeld.ee"
reason = "A shop's domain, not the municipality's."
source = "test fixture"
reviewed = "2026-11-01"

[[override]]
id = "EE-W13"
kind = "website"
value = "http://www.ylem.ee/"
reason = "The municipality's website."
source = "test fixture"
reviewed = "2026-11-01"
"#;

const EE_ZONE: &str = "$ORIGIN ee.
$TTL 300
@ IN SOA ns.fixture.invalid. hostmaster.fixture.invalid. 1 3600 900 604800 300
@ IN NS ns.fixture.invalid.
www.veebi.ee. IN A 127.0.0.1
veebivald.ee. IN MX 10 mx.veebivald.ee.
mx.veebivald.ee. IN A 127.1.9.1
arva.ee. IN MX 10 mx.arva.ee.
mx.arva.ee. IN A 127.1.9.2
kolmas.ee. IN MX 10 mx.kolmas.ee.
mx.kolmas.ee. IN A 127.1.9.3
www.pargi.ee. IN A 127.0.0.1
pargi.ee. IN MX 10 mx76.sedoparking.com.
keeld.ee. IN MX 10 mx.keeld.ee.
mx.keeld.ee. IN A 127.1.9.4
hea.ee. IN MX 10 mx.hea.ee.
mx.hea.ee. IN A 127.1.9.5
heavald.ee. IN MX 10 mx.hea.ee.
sama.ee. IN MX 10 mx.sama.ee.
mx.sama.ee. IN A 127.1.9.6
suuna-vana.ee. IN A 127.0.0.1
www.suunavald.ee. IN A 127.0.0.1
suunavald.ee. IN MX 10 mx.suunavald.ee.
mx.suunavald.ee. IN A 127.1.9.7
amet.ee. IN MX 10 mx.amet.ee.
mx.amet.ee. IN A 127.1.9.8
www.ylem.ee. IN A 127.0.0.1
ylem.ee. IN MX 10 mx.ylem.ee.
mx.ylem.ee. IN A 127.1.9.9
";

const COM_ZONE: &str = "$ORIGIN com.
$TTL 300
@ IN SOA ns.fixture.invalid. hostmaster.fixture.invalid. 1 3600 900 604800 300
@ IN NS ns.fixture.invalid.
mx76.sedoparking.com. IN A 127.1.9.10
";

/// The websites, by `Host`.
fn page(host: &str, path: &str) -> (u16, String, String) {
    let ok = |body: &str| (200, String::new(), body.to_string());
    match (host, path) {
        ("www.veebi.ee", "/") => ok(r#"<a href="/kontakt">Kontakt</a>"#),
        ("www.veebi.ee", "/kontakt") => {
            ok(r#"Vallavalitsus: <a href="mailto:info@veebivald.ee">info@veebivald.ee</a>"#)
        }
        ("www.pargi.ee", "/") => ok("This domain is for sale. Mail: seller@pargi.ee"),
        ("suuna-vana.ee", "/") => (301, "http://www.suunavald.ee/".into(), String::new()),
        ("www.suunavald.ee", "/") => ok("Tere tulemast!"),
        ("www.ylem.ee", "/") => ok("Kirjuta: vald&#64;ylem.ee"),
        _ => (404, String::new(), "not found".into()),
    }
}

/// A loopback HTTP server for the websites, on its own thread; returns its port.
fn start_http() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let host = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Host: "))
                        .and_then(|h| h.trim().split(':').next())
                        .unwrap_or_default()
                        .to_string();
                    let (status, location, body) = page(&host, &path);
                    let mut out = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                        body.len()
                    );
                    if !location.is_empty() {
                        out.push_str(&format!("Location: {location}\r\n"));
                    }
                    out.push_str("\r\n");
                    out.push_str(&body);
                    let _ = stream.write_all(out.as_bytes()).await;
                });
            }
        });
    });
    port
}

fn write_inputs(dir: &Path) {
    std::fs::create_dir_all(dir.join("seeds")).unwrap();
    std::fs::create_dir_all(dir.join("world/zones")).unwrap();
    std::fs::write(dir.join("seeds/ee.json"), SEEDS).unwrap();
    std::fs::write(dir.join("overrides.toml"), OVERRIDES).unwrap();
    std::fs::write(dir.join("world/zones/ee.zone"), EE_ZONE).unwrap();
    std::fs::write(dir.join("world/zones/com.zone"), COM_ZONE).unwrap();
}

fn by_id(records: &[Value], id: &str) -> Value {
    records
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("{id} missing"))
        .clone()
}

fn outcome(r: &Value, domain: &str) -> (String, String) {
    let c = r["domain_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["domain"] == domain)
        .unwrap_or_else(|| panic!("{domain} not tried for {}: {r:#}", r["id"]));
    (
        c["outcome"].as_str().unwrap().into(),
        c["detail"].as_str().unwrap().into(),
    )
}

#[test]
fn discovery_end_to_end_and_replayed_from_the_caches() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_inputs(dir);
    let http = start_http();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let common_args = |cmd: &mut std::process::Command| {
        cmd.arg("--seeds")
            .arg(dir.join("seeds"))
            .arg("--overrides")
            .arg(dir.join("overrides.toml"))
            .arg("--geodata")
            .arg(fixture("geodata"))
            .arg("--cache")
            .arg(dir.join("cache.json"))
            .args([
                "--countries",
                "ee",
                "--progress",
                "none",
                "--no-quality-gate",
            ]);
    };
    let mut cmd = mxmap(dir);
    cmd.arg("build").arg("--world").arg(dir.join("world"));
    common_args(&mut cmd);
    cmd.arg("--out").arg(dir.join("site")).args([
        "--no-smtp",
        "--http-port",
        &http.to_string(),
        "--https-port",
        &closed.to_string(),
    ]);
    let out = run(cmd, Duration::from_secs(120));
    ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "discover: 11 municipalities without a usable mail domain in the seeds; 5 found"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("websites visited"), "{stderr}");
    let records = data_json(&dir.join("site"));

    // A contact page's address, also a name guess: no cap, no guess flag.
    let r = by_id(&records, "EE-W01");
    assert_eq!(
        (r["domain"].as_str(), r["domain_source"].as_str()),
        (Some("veebivald.ee"), Some("website"))
    );
    assert!(
        r["domain_evidence"][0]
            .as_str()
            .unwrap()
            .contains("info@veebivald.ee on http://www.veebi.ee/kontakt"),
        "{r:#}"
    );
    assert!(
        !r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "guessed_domain")
    );
    // A guess alone: flagged, capped at 60.
    let r = by_id(&records, "EE-W02");
    assert_eq!(
        (r["domain"].as_str(), r["domain_source"].as_str()),
        (Some("arva.ee"), Some("guess"))
    );
    assert!(
        r["flags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "guessed_domain"),
        "{r:#}"
    );
    assert!(r["confidence"].as_u64().unwrap() <= 60);
    // Another municipality's seed domain is not taken.
    let r = by_id(&records, "EE-W03");
    assert_eq!(r["domain_source"], "none");
    assert_eq!(
        outcome(&r, "kolmas.ee"),
        ("rejected".into(), "the seed domain of EE-W04".into())
    );
    // A parked website and a parking MX.
    let r = by_id(&records, "EE-W05");
    assert_eq!(r["domain_source"], "none");
    assert_eq!(outcome(&r, "pargi.ee").0, "rejected");
    // A reviewed rejection is never asked again.
    let r = by_id(&records, "EE-W06");
    assert_eq!(r["domain_source"], "none");
    assert_eq!(
        outcome(&r, "keeld.ee"),
        ("rejected".into(), "rejected in seeds/overrides.toml".into())
    );
    // A seed domain that receives mail is kept, nothing tried.
    let r = by_id(&records, "EE-W07");
    assert_eq!(
        (r["domain"].as_str(), r["domain_source"].as_str()),
        (Some("hea.ee"), Some("seed"))
    );
    assert!(
        r.get("domain_candidates")
            .is_none_or(|c| c.as_array().unwrap().is_empty())
    );
    // Namesakes: nobody gets the shared name.
    for id in ["EE-W08", "EE-W09"] {
        let r = by_id(&records, id);
        assert_eq!(r["domain_source"], "none", "{id}");
        assert!(outcome(&r, "sama.ee").1.contains("also matches"), "{r:#}");
    }
    // The redirect target.
    let r = by_id(&records, "EE-W10");
    assert_eq!(
        (r["domain"].as_str(), r["domain_source"].as_str()),
        (Some("suunavald.ee"), Some("redirect"))
    );
    // The registered domain above a seed subdomain that does not exist.
    let r = by_id(&records, "EE-W11");
    assert_eq!(
        (r["domain"].as_str(), r["domain_source"].as_str()),
        (Some("amet.ee"), Some("seed_parent"))
    );
    assert!(r["confidence"].as_u64().unwrap() <= 80);
    // Nothing to find.
    let r = by_id(&records, "EE-W12");
    assert_eq!(r["domain_source"], "none");
    assert!(!r["domain_candidates"].as_array().unwrap().is_empty());
    // A website from an override.
    let r = by_id(&records, "EE-W13");
    assert_eq!(
        (r["domain"].as_str(), r["domain_source"].as_str()),
        (Some("ylem.ee"), Some("website"))
    );

    // Pages say how the domain was found; the anomalies page and review.csv list every
    // discovered domain.
    let page = std::fs::read_to_string(
        dir.join("site")
            .join(by_id(&records, "EE-W02")["page"].as_str().unwrap())
            .join("index.html"),
    )
    .unwrap();
    assert!(page.contains("was guessed from the name"), "{page}");
    let anomalies = std::fs::read_to_string(dir.join("site/ee/anomalies/index.html")).unwrap();
    assert!(
        anomalies.contains("Discovered mail domains to confirm")
            && anomalies.contains("suunavald.ee")
    );
    let review = std::fs::read_to_string(dir.join("site/data/review.csv")).unwrap();
    assert_eq!(review.lines().count(), 1 + 5, "{review}");
    for id in ["EE-W01", "EE-W02", "EE-W10", "EE-W11", "EE-W13"] {
        assert!(review.contains(id), "{id} not in review.csv");
    }
    assert!(dir.join("cache.web.json").is_file());

    // The same site again from the caches alone: no DNS server, no website.
    let mut cmd = mxmap(dir);
    cmd.arg("render");
    common_args(&mut cmd);
    cmd.arg("--out").arg(dir.join("again"));
    ok(&run(cmd, Duration::from_secs(120)));
    assert_eq!(
        std::fs::read(dir.join("site/data.json")).unwrap(),
        std::fs::read(dir.join("again/data.json")).unwrap()
    );
}
