//! The nightly state travels with the published site: `mxmap state export` puts the scan
//! cache and the history into `site/state/`, and the next run, starting from nothing
//! (a fresh CI runner), gets them back with `mxmap state restore` from the site served
//! over real HTTP on 127.0.0.1 (curl as the client). The second build then continues
//! the history (its run page is relative to the first run, whose page is still there)
//! and keeps the last known good answers when the DNS server goes away mid-scan.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A static file server on 127.0.0.1 (HTTP/1.1 GET, one request per connection), like
/// GitHub Pages without TLS: `path/` serves `path/index.html`, a missing file is 404.
struct SiteServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Paths requested, with their status.
    log: Arc<Mutex<Vec<(String, u16)>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl SiteServer {
    fn start(root: PathBuf) -> SiteServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop2, log2) = (stop.clone(), log.clone());
        let handle = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &root, &log2),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        SiteServer {
            addr,
            stop,
            log,
            handle: Some(handle),
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn requested(&self, path: &str) -> Vec<u16> {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    }
}

impl Drop for SiteServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn serve(stream: TcpStream, root: &Path, log: &Mutex<Vec<(String, u16)>>) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream);
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // Skip the headers.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut file = root.join(path.trim_start_matches('/'));
    if path.ends_with('/') {
        file = file.join("index.html");
    }
    let body = if path.contains("..") {
        None
    } else {
        std::fs::read(&file).ok()
    };
    let mut stream = reader.into_inner();
    let status = match &body {
        Some(bytes) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            let _ = stream.write_all(bytes);
            200
        }
        None => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
            );
            404
        }
    };
    log.lock().unwrap().push((path, status));
}

/// Paths of one run's state: cache and history.
struct State {
    cache: PathBuf,
    history: PathBuf,
}

impl State {
    fn new(dir: &Path, name: &str) -> State {
        State {
            cache: dir.join(name).join("scan-cache.json"),
            history: dir.join(name).join("history"),
        }
    }

    fn args(&self, cmd: &mut Command) {
        cmd.arg("--cache")
            .arg(&self.cache)
            .arg("--history")
            .arg(&self.history);
    }
}

fn build(dir: &Path, resolver: &str, state: &State, site: &Path, extra: &[&str]) -> Output {
    let mut cmd = mxmap(dir);
    cmd.args(["build", "--countries", "ee,de", "--progress", "none"])
        .args(["--resolver", resolver, "--loopback-only", "--no-smtp"]);
    fixture_inputs(&mut cmd);
    state.args(&mut cmd);
    cmd.arg("--out").arg(site).args(extra);
    run(cmd, Duration::from_secs(180))
}

fn state_command(dir: &Path, state: &State, args: &[&str]) -> Output {
    let mut cmd = mxmap(dir);
    cmd.arg("state").args(args);
    // As in a checkout: the data folders are where the configuration says.
    fixture_inputs(&mut cmd);
    state.args(&mut cmd);
    run(cmd, Duration::from_secs(120))
}

/// The one run page under `site/changes/` whose name starts with `date`.
fn run_page(site: &Path, date: &str) -> Option<String> {
    std::fs::read_dir(site.join("changes"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with(date))
}

fn has_curl() -> bool {
    Command::new("curl").arg("--version").output().is_ok()
}

#[test]
fn a_second_build_continues_from_the_state_fetched_back_from_the_published_site() {
    if !has_curl() {
        skip_missing("curl (fetches the published state)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let world = WorldProcess::start(&fixture("world"), dir);
    let proxy = FaultProxy::start_random(world.addr, RandomFaults::default());
    let resolver = proxy.addr.to_string();

    // Night 1, on the first runner.
    let first = State::new(dir, "runner1");
    let site1 = dir.join("site1");
    ok(&build(
        dir,
        &resolver,
        &first,
        &site1,
        &["--clock", "2026-03-01T02:17:00Z", "--timeout", "500ms"],
    ));
    let out = state_command(dir, &first, &["export", "--site", site1.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    assert!(said.contains("1 runs of history"), "{said}");
    for file in ["manifest.json", "scan-cache.json.gz", "history.json.gz"] {
        assert!(site1.join("state").join(file).is_file(), "state/{file}");
    }
    let published: Vec<Value> =
        serde_json::from_slice(&std::fs::read(site1.join("data.json")).unwrap()).unwrap();

    // Night 2, on a fresh runner: nothing but what the published site carries.
    let server = SiteServer::start(site1.clone());
    let second = State::new(dir, "runner2");
    let site2 = dir.join("site2");
    let out = state_command(
        dir,
        &second,
        &[
            "restore",
            "--from",
            &server.url(),
            "--loopback-only",
            "--out",
            site2.to_str().unwrap(),
        ],
    );
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    ok(&out);
    assert!(said.contains("1 runs of history"), "{said}");
    assert_eq!(server.requested("/state/manifest.json"), [200]);
    assert_eq!(server.requested("/state/scan-cache.json.gz"), [200]);
    assert_eq!(server.requested("/state/history.json.gz"), [200]);
    assert_eq!(
        server.requested("/data.json"),
        [200],
        "the gate's reference"
    );
    assert!(second.cache.is_file(), "the cache came back");
    assert!(
        site2.join("data.json").is_file(),
        "the published data.json came back"
    );

    // The DNS server goes away after a few answers: whatever is not answered again
    // must come from the restored cache (last known good), not turn into failures.
    proxy.go_away_after(20);
    let out = build(
        dir,
        &resolver,
        &second,
        &site2,
        &[
            "--clock",
            "2026-03-02T02:17:00Z",
            "--cache-ttl",
            "0",
            "--timeout",
            "200ms",
            "--retries",
            "1",
        ],
    );
    ok(&out);

    // History continuity: both runs are on the site, the second relative to the first.
    let run1 = run_page(&site2, "2026-03-01-").expect("the first night's run page");
    let run2 = run_page(&site2, "2026-03-02-").expect("the second night's run page");
    let page =
        std::fs::read_to_string(site2.join("changes").join(&run2).join("index.html")).unwrap();
    assert!(
        page.contains(&run1),
        "the second run's page links to the first run ({run1})"
    );
    assert!(
        !page.contains("First run on record"),
        "the second run is compared with the first, not a baseline"
    );
    let feed = std::fs::read_to_string(site2.join("changes/feed.json")).unwrap();
    assert!(
        feed.contains("2026-03-01") && feed.contains("2026-03-02"),
        "{feed}"
    );

    // Last known good: verdicts the dead server no longer answered are kept, stale.
    let after: Vec<Value> =
        serde_json::from_slice(&std::fs::read(site2.join("data.json")).unwrap()).unwrap();
    let before: HashMap<&str, &Value> = published
        .iter()
        .map(|r| (r["id"].as_str().unwrap(), r))
        .collect();
    let mut stale = 0;
    for r in &after {
        let id = r["id"].as_str().unwrap();
        let b = before[id];
        if b["scan_status"] == "error" || r["domain"].is_null() {
            continue;
        }
        assert_eq!(r["provider"], b["provider"], "{id} keeps its verdict");
        if r["freshness"] == "stale" {
            stale += 1;
        }
    }
    assert!(stale > 0, "no verdict came from the restored cache");
    drop(server);
    world.stop();
}

#[test]
fn a_site_without_state_starts_fresh_and_a_damaged_state_restores_nothing() {
    if !has_curl() {
        skip_missing("curl (fetches the published state)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let site = dir.join("published");
    std::fs::create_dir_all(site.join("state")).unwrap();
    std::fs::write(site.join("index.html"), "<!doctype html>").unwrap();
    let state = State::new(dir, "runner");

    // No state/manifest.json: a first run (404), not an error.
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let server = SiteServer::start(empty);
    let out = state_command(
        dir,
        &state,
        &["restore", "--from", &server.url(), "--loopback-only"],
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("has published no state"));
    assert!(!state.cache.exists() && !state.history.exists());
    drop(server);

    // A manifest whose file does not match: refused, nothing written.
    std::fs::write(site.join("state/history.json.gz"), b"tampered").unwrap();
    std::fs::write(
        site.join("state/manifest.json"),
        r#"{"format":"mxmap-state/1","exported":"2026-03-01T02:17:00Z","mxmap":"0","runs":1,
            "files":[{"name":"history.json.gz","bytes":8,"sha256":"00"}]}"#,
    )
    .unwrap();
    let server = SiteServer::start(site.clone());
    let out = state_command(
        dir,
        &state,
        &["restore", "--from", &server.url(), "--loopback-only"],
    );
    assert!(
        !out.status.success(),
        "a damaged state must fail the restore"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not match its manifest"));
    assert!(!state.cache.exists() && !state.history.exists());

    // Only loopback addresses in loopback mode (no packet sent).
    let out = state_command(
        dir,
        &state,
        &[
            "restore",
            "--from",
            "https://example.github.io/mxmap/",
            "--loopback-only",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.0/8"));
}
