//! Shared helpers of the integration tests: the real `mxmap` binary, a real DNS server
//! on loopback (`mxmap serve-world` in its own process) and a fault-injecting DNS proxy
//! in front of it; a test PKI ([`pki`]), a throw-away Postfix ([`postfix`]) and an
//! MTA-STS policy server ([`https`]). Nothing here ever talks to anything outside
//! 127.0.0.0/8.

#![allow(dead_code)]

pub mod https;
pub mod phone;
pub mod pki;
pub mod postfix;
pub mod verdict_audit;
pub mod world_mta;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// The crate root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture path under `tests/fixtures`.
pub fn fixture(path: &str) -> PathBuf {
    root().join("tests/fixtures").join(path)
}

/// Reports a test prerequisite that is missing. Locally the test is skipped with a
/// note; under CI (`MXMAP_CI=1`, set by `.ci/run`) a missing prerequisite fails the test,
/// so a broken install can never turn into a silently green run.
pub fn skip_missing(what: &str) {
    if std::env::var_os("MXMAP_CI").is_some() {
        panic!("{what} is missing, and MXMAP_CI requires it");
    }
    eprintln!("skipped: {what} is missing");
}

/// The European dataset committed in the repository (`seeds/`, `geodata/`, `world/`), or
/// `$MXMAP_DATA`; tests that need it skip cleanly when its world is absent.
pub fn europe_data() -> Option<PathBuf> {
    let dir = std::env::var_os("MXMAP_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(root);
    dir.join("world/zones").is_dir().then_some(dir)
}

/// A command for the real binary, run from a scratch folder so no repository config
/// file leaks into the test.
pub fn mxmap(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxmap"));
    cmd.current_dir(cwd).env("RUST_LOG", "warn");
    cmd
}

/// Adds the fixture inputs: seeds, overrides and geodata of `tests/fixtures`.
pub fn fixture_inputs(cmd: &mut Command) -> &mut Command {
    cmd.arg("--seeds")
        .arg(fixture("seeds"))
        .arg("--overrides")
        .arg(fixture("overrides.toml"))
        .arg("--geodata")
        .arg(fixture("geodata"))
}

/// Runs a command and returns its output, failing the test with both streams when it
/// does not finish within `limit`. The streams are drained while it runs, so a chatty
/// process never blocks on a full pipe.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let (stdout, stderr) = (
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            );
            panic!(
                "command did not finish within {limit:?}\nstdout (end):\n{}\nstderr (end):\n{}",
                tail(&stdout),
                tail(&stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The last 3,000 bytes of an output, for failure messages.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let start = text.len().saturating_sub(3000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text[start..].to_string()
}

/// Asserts success and returns stdout.
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "mxmap failed: {:?}\nstdout (end):\n{}\nstderr (end):\n{}",
        out.status,
        tail(&out.stdout),
        tail(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `mxmap serve-world` in a child process: a real authoritative DNS server on loopback.
pub struct WorldProcess {
    child: Child,
    /// Where it listens (UDP and TCP).
    pub addr: SocketAddr,
}

impl WorldProcess {
    /// Starts serving `world` on a free loopback port.
    pub fn start(world: &Path, scratch: &Path) -> WorldProcess {
        let addr_file = scratch.join(format!("world-addr-{}", std::process::id()));
        let _ = std::fs::remove_file(&addr_file);
        let child = Command::new(env!("CARGO_BIN_EXE_mxmap"))
            .args(["serve-world", "--listen", "127.0.0.1:0", "--world"])
            .arg(world)
            .arg("--addr-file")
            .arg(&addr_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn mxmap serve-world");
        // Owned at once, so `Drop` reaps the child even if startup fails below.
        let mut server = WorldProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        };
        let start = Instant::now();
        loop {
            if let Ok(text) = std::fs::read_to_string(&addr_file)
                && let Ok(addr) = text.trim().parse()
            {
                server.addr = addr;
                return server;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "serve-world did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorldProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the proxy does with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer SERVFAIL.
    ServFail,
    /// Never answer (the client times out).
    Drop,
}

/// Faults injected at random, per query (a retry rolls again).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomFaults {
    /// Share of queries dropped (never answered).
    pub loss: f64,
    /// Share answered SERVFAIL.
    pub servfail: f64,
    /// Share of UDP queries answered with an empty truncated reply (forcing TCP).
    pub truncate: f64,
    /// Share delayed by `delay_ms` before forwarding.
    pub delay: f64,
    /// The delay.
    pub delay_ms: u64,
    /// Seed of the generator (runs are reproducible in the faults they draw).
    pub seed: u64,
}

/// What the proxy does: faults by name, plus random ones.
#[derive(Debug, Default)]
struct FaultPlan {
    by_name: HashMap<String, Fault>,
    random: RandomFaults,
    state: std::sync::atomic::AtomicU64,
    /// Set to make every query go unanswered (the server went away).
    dead: std::sync::atomic::AtomicBool,
    /// Queries still answered before the server goes away by itself.
    answers_left: std::sync::atomic::AtomicU64,
}

impl FaultPlan {
    /// A uniform draw in [0, 1) (splitmix64 over a shared counter).
    fn roll(&self) -> f64 {
        let n = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, std::sync::atomic::Ordering::Relaxed);
        let mut z = n;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A DNS proxy on loopback that forwards to an upstream server over UDP and TCP, and
/// injects faults for chosen query names or at random.
pub struct FaultProxy {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Queries seen per name (lower case, no trailing dot).
    pub seen: Arc<Mutex<HashMap<String, usize>>>,
    plan: Arc<FaultPlan>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream`; queries for a name in `faults` (lower
    /// case, without trailing dot) get that fault.
    pub fn start(upstream: SocketAddr, faults: HashMap<String, Fault>) -> FaultProxy {
        Self::start_with(upstream, faults, RandomFaults::default())
    }

    /// Starts a proxy that injects `random` faults into every query.
    pub fn start_random(upstream: SocketAddr, random: RandomFaults) -> FaultProxy {
        Self::start_with(upstream, HashMap::new(), random)
    }

    /// The server answers `n` more queries, then goes away: a deterministic
    /// "mid-scan", whatever the speed of the machine.
    pub fn go_away_after(&self, n: u64) {
        self.plan
            .answers_left
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on, no query is answered (the server "goes away").
    pub fn go_away(&self) {
        self.plan
            .dead
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn start_with(
        upstream: SocketAddr,
        faults: HashMap<String, Fault>,
        random: RandomFaults,
    ) -> FaultProxy {
        let plan = Arc::new(FaultPlan {
            by_name: faults,
            random,
            state: std::sync::atomic::AtomicU64::new(random.seed),
            dead: Default::default(),
            answers_left: std::sync::atomic::AtomicU64::new(u64::MAX),
        });
        let faults = plan.clone();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let seen_thread = seen.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let udp = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("bind udp"));
                let port = udp.local_addr().expect("addr").port();
                let tcp = TcpListener::bind(("127.0.0.1", port))
                    .await
                    .expect("bind tcp");
                addr_tx
                    .send(udp.local_addr().expect("addr"))
                    .expect("send addr");
                let udp_loop = {
                    let udp = udp.clone();
                    let faults = faults.clone();
                    let seen = seen_thread.clone();
                    async move {
                        let mut buf = vec![0u8; 65535];
                        loop {
                            let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                                continue;
                            };
                            let query = buf[..n].to_vec();
                            let udp = udp.clone();
                            let faults = faults.clone();
                            let seen = seen.clone();
                            tokio::spawn(async move {
                                if let Some(reply) =
                                    handle(&query, upstream, &faults, &seen, false).await
                                {
                                    let _ = udp.send_to(&reply, from).await;
                                }
                            });
                        }
                    }
                };
                let tcp_loop = {
                    let faults = faults.clone();
                    let seen = seen_thread.clone();
                    async move {
                        loop {
                            let Ok((mut stream, _)) = tcp.accept().await else {
                                continue;
                            };
                            let faults = faults.clone();
                            let seen = seen.clone();
                            tokio::spawn(async move {
                                loop {
                                    let Ok(len) = stream.read_u16().await else {
                                        return;
                                    };
                                    let mut query = vec![0u8; len as usize];
                                    if stream.read_exact(&mut query).await.is_err() {
                                        return;
                                    }
                                    match handle(&query, upstream, &faults, &seen, true).await {
                                        Some(reply) => {
                                            let _ = stream.write_u16(reply.len() as u16).await;
                                            let _ = stream.write_all(&reply).await;
                                        }
                                        None => {
                                            // Hold the connection silently, like a stuck server.
                                            tokio::time::sleep(Duration::from_secs(30)).await;
                                            return;
                                        }
                                    }
                                }
                            });
                        }
                    }
                };
                tokio::select! {
                    _ = udp_loop => {}
                    _ = tcp_loop => {}
                    _ = stop_rx => {}
                }
            });
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("proxy started");
        FaultProxy {
            addr,
            seen,
            plan,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// How many queries for `name` reached the proxy.
    pub fn count(&self, name: &str) -> usize {
        self.seen.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn handle(
    query: &[u8],
    upstream: SocketAddr,
    plan: &FaultPlan,
    seen: &Mutex<HashMap<String, usize>>,
    tcp: bool,
) -> Option<Vec<u8>> {
    let message = Message::from_vec(query).ok()?;
    let name = message
        .queries
        .first()
        .map(|q| {
            q.name()
                .to_ascii()
                .trim_end_matches('.')
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    *seen.lock().unwrap().entry(name.clone()).or_default() += 1;
    let left = plan
        .answers_left
        .fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |n| n.checked_sub(1),
        )
        .is_ok();
    if !left || plan.dead.load(std::sync::atomic::Ordering::SeqCst) {
        return None;
    }
    let r = plan.random;
    let fault = match plan.by_name.get(&name) {
        Some(f) => Some(*f),
        None => {
            let roll = plan.roll();
            if roll < r.loss {
                Some(Fault::Drop)
            } else if roll < r.loss + r.servfail {
                Some(Fault::ServFail)
            } else {
                None
            }
        }
    };
    let empty_reply = |code: ResponseCode, truncated: bool| {
        let mut reply = Message::response(message.metadata.id, message.metadata.op_code);
        reply.metadata.message_type = MessageType::Response;
        reply.metadata.response_code = code;
        reply.metadata.truncation = truncated;
        reply.metadata.recursion_desired = message.metadata.recursion_desired;
        for q in message.queries.clone() {
            reply.add_query(q);
        }
        reply.to_vec().ok()
    };
    match fault {
        Some(Fault::Drop) => None,
        Some(Fault::ServFail) => empty_reply(ResponseCode::ServFail, false),
        None => {
            if !tcp && r.truncate > 0.0 && plan.roll() < r.truncate {
                return empty_reply(ResponseCode::NoError, true);
            }
            if r.delay > 0.0 && plan.roll() < r.delay {
                tokio::time::sleep(Duration::from_millis(r.delay_ms)).await;
            }
            forward(query, upstream, tcp).await
        }
    }
}

async fn forward(query: &[u8], upstream: SocketAddr, tcp: bool) -> Option<Vec<u8>> {
    let work = async {
        if tcp {
            let mut stream = TcpStream::connect(upstream).await.ok()?;
            stream.write_u16(query.len() as u16).await.ok()?;
            stream.write_all(query).await.ok()?;
            let len = stream.read_u16().await.ok()?;
            let mut reply = vec![0u8; len as usize];
            stream.read_exact(&mut reply).await.ok()?;
            Some(reply)
        } else {
            let socket = UdpSocket::bind("127.0.0.1:0").await.ok()?;
            socket.send_to(query, upstream).await.ok()?;
            let mut buf = vec![0u8; 65535];
            let (n, _) = socket.recv_from(&mut buf).await.ok()?;
            buf.truncate(n);
            Some(buf)
        }
    };
    tokio::time::timeout(Duration::from_secs(5), work)
        .await
        .ok()?
}

/// Reads `site/data.json` as JSON values.
pub fn data_json(site: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(site.join("data.json")).expect("data.json");
    serde_json::from_str(&text).expect("data.json parses")
}

/// Every violation of `src/site/schema/data.schema.json` (allowed values and the
/// allowed combinations of status, rule and reason) in `records`, one line each, with
/// the record's id.
pub fn schema_errors(records: &[serde_json::Value]) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("src/site/schema/data.schema.json"))
        .expect("data.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema parses");
    let validator = jsonschema::validator_for(&schema).expect("schema is valid");
    let mut errors = Vec::new();
    for (i, r) in records.iter().enumerate() {
        let whole = serde_json::Value::Array(vec![r.clone()]);
        for e in validator.iter_errors(&whole) {
            errors.push(format!(
                "record {i} ({}): {e} at {}",
                r["id"],
                e.instance_path()
            ));
        }
    }
    errors
}

/// The record of one municipality id.
pub fn record<'a>(data: &'a [serde_json::Value], id: &str) -> &'a serde_json::Value {
    data.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
}

/// All files under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).expect("prefix").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// Every file of `dir` with its bytes (relative paths).
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    files_under(dir)
        .into_iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(&f)).expect("read");
            (f, bytes)
        })
        .collect()
}

/// A TCP server on loopback running on a thread and runtime of its own until dropped.
pub struct Background {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Binds `addr` (port 0: a free one) and runs `serve` on the listener until the
    /// returned handle is dropped. Returns the handle and the bound address.
    pub fn serve<F, Fut>(addr: SocketAddr, serve: F) -> (Background, SocketAddr)
    where
        F: FnOnce(TcpListener) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind(addr).await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send");
                tokio::select! {
                    _ = serve(listener) => {}
                    _ = stop_rx => {}
                }
            });
        });
        let bound = addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        let handle = Background {
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        (handle, bound)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads an HTTP request head (up to the blank line, at most 64 KiB).
pub async fn read_request_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 65536 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// A static file server for a built site on 127.0.0.1 (GET only), for browser tests.
pub struct StaticServer {
    /// Base URL, ending in `/`.
    pub base: String,
    _server: Background,
}

impl StaticServer {
    /// Serves `root` on a free loopback port.
    pub fn start(root: &Path) -> StaticServer {
        let root = root.to_path_buf();
        let (server, addr) = Background::serve(([127, 0, 0, 1], 0).into(), |listener| async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let root = root.clone();
                tokio::spawn(async move { serve_one(stream, &root).await });
            }
        });
        StaticServer {
            base: format!("http://{addr}/"),
            _server: server,
        }
    }
}

async fn serve_one(mut stream: TcpStream, root: &Path) {
    let Some(request) = read_request_head(&mut stream).await else {
        return;
    };
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let mut file = root.join(path.trim_start_matches('/'));
    if path.ends_with('/') {
        file = file.join("index.html");
    }
    let safe = !path.contains("..");
    let (status, body) = match std::fs::read(&file) {
        Ok(body) if safe => ("200 OK", body),
        _ => ("404 Not Found", b"not found".to_vec()),
    };
    let kind = match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("json") | Some("geojson") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
}

/// Debian's Chromium, if installed.
pub fn chromium() -> Option<PathBuf> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// What headless Chromium saw on a page: the DOM after scripts ran, and every console
/// message (errors, failed resource loads, uncaught exceptions).
pub struct BrowserVisit {
    /// Serialized DOM after load.
    pub dom: String,
    /// Console lines.
    pub console: Vec<String>,
}

impl BrowserVisit {
    /// The console messages of the page itself — from its origin `base` (its scripts,
    /// its resources) — leaving out those of Chromium's own internal pages
    /// (`chrome://…`, e.g. "Slow network is detected" on a busy machine).
    pub fn page_messages(&self, base: &str) -> Vec<&String> {
        self.console
            .iter()
            .filter(|line| match line.rsplit_once(", source: ") {
                Some((_, source)) => source.starts_with(base),
                None => !line.contains("chrome://"),
            })
            .collect()
    }
}

/// Headless Chromium that contacts nothing by itself (no background networking,
/// component updates or sync; no QUIC): every browser test starts it with these.
pub const CHROMIUM_OFFLINE: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Loads `url` in headless Chromium (no network but loopback is used: background
/// networking and component updates are off), saving a screenshot to `screenshot`.
pub fn visit(browser: &Path, url: &str, screenshot: &Path) -> BrowserVisit {
    let mut flags = CHROMIUM_OFFLINE.to_vec();
    flags.extend(["--enable-logging=stderr", "--v=0"]);
    let profile = tempfile::tempdir().expect("profile");
    let mut dump = Command::new(browser);
    dump.args(&flags)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        // Virtual time lets scripts finish (the search page fetches its index) before
        // the DOM is dumped.
        .args(["--virtual-time-budget=5000", "--dump-dom", url]);
    let out = run(dump, Duration::from_secs(120));
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    if let Some(dir) = screenshot.parent() {
        std::fs::create_dir_all(dir).expect("artifact folder");
    }
    let profile = tempfile::tempdir().expect("profile");
    let mut shot = Command::new(browser);
    shot.args(&flags)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--window-size=1280,1800")
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(url);
    run(shot, Duration::from_secs(120));
    BrowserVisit {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
    }
}

/// Where tests leave artefacts (screenshots): `target/test-artifacts/`.
pub fn artifacts() -> PathBuf {
    root().join("target/test-artifacts")
}
