//! netem: a DNS relay that makes loopback look like the internet, for benchmarks.
//!
//! `tc netem` needs a kernel module and privileges that CI machines and containers
//! often lack, so this relay does its job for DNS: it listens on one or more loopback
//! addresses, each with its own round-trip time (a stand-in for one authoritative
//! server somewhere on the internet), and forwards every query to one upstream server
//! (NSD serving the recorded world).
//!
//! - UDP: each datagram is delayed by half the listener's round-trip time (± jitter)
//!   in each direction and lost with the given probability in each direction, as
//!   `tc netem delay … loss …` on the loopback interface would do. Query ids are
//!   rewritten on the way up (a few upstream sockets carry every client), and restored
//!   on the way down.
//! - TCP: connecting costs one round trip, and every segment is delayed by half the
//!   round-trip time in each direction, in order. Nothing is lost: TCP would retransmit
//!   a lost segment itself, and resolvers only fall back to TCP for truncated answers.
//!
//! On SIGTERM or SIGINT it writes its counters as one JSON object (`--stats FILE`, or
//! standard output) and exits.
//!
//! ```text
//! netem --upstream 127.0.0.1:5300 --loss 0.01 --jitter 0.2 \
//!       --listen 127.0.2.1:53=20ms --listen 127.0.2.2:53=80ms [--stats FILE] [--ready FILE]
//! ```

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, sleep_until};

/// Upstream UDP sockets per listener: each carries up to 65,536 queries in flight.
const UPSTREAM_SOCKETS: usize = 4;
/// A query unanswered this long is forgotten (its id can be reused).
const PENDING_LIFETIME: Duration = Duration::from_secs(10);
/// Largest datagram relayed.
const DATAGRAM: usize = 65_535;

#[derive(Debug)]
struct Options {
    listens: Vec<(SocketAddr, Duration)>,
    upstream: SocketAddr,
    loss: f64,
    jitter: f64,
    seed: u64,
    stats: Option<PathBuf>,
    ready: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: netem --upstream IP:PORT --listen IP:PORT=RTT [--listen …] [--loss P] [--jitter F] [--seed N] [--stats FILE] [--ready FILE]\n\
         RTT like 20ms or 0.05s; P the loss probability per datagram and direction (0.01 = 1 %);\n\
         F the jitter as a fraction of the one-way delay (0.2 = ±20 %)"
    );
    std::process::exit(2)
}

fn parse_duration(text: &str) -> Option<Duration> {
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 1e-3)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else {
        return None;
    };
    let value: f64 = number.parse().ok()?;
    (value >= 0.0).then(|| Duration::from_secs_f64(value * scale))
}

fn parse_options() -> Options {
    let mut options = Options {
        listens: Vec::new(),
        upstream: SocketAddr::from(([127, 0, 0, 1], 53)),
        loss: 0.0,
        jitter: 0.0,
        seed: 1,
        stats: None,
        ready: None,
    };
    let mut upstream = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--listen" => {
                let (addr, rtt) = value.split_once('=').unwrap_or_else(|| usage());
                let addr: SocketAddr = addr.parse().unwrap_or_else(|_| usage());
                let rtt = parse_duration(rtt).unwrap_or_else(|| usage());
                options.listens.push((addr, rtt));
            }
            "--upstream" => upstream = Some(value.parse().unwrap_or_else(|_| usage())),
            "--loss" => options.loss = value.parse().unwrap_or_else(|_| usage()),
            "--jitter" => options.jitter = value.parse().unwrap_or_else(|_| usage()),
            "--seed" => options.seed = value.parse().unwrap_or_else(|_| usage()),
            "--stats" => options.stats = Some(PathBuf::from(value)),
            "--ready" => options.ready = Some(PathBuf::from(value)),
            _ => usage(),
        }
    }
    options.upstream = upstream.unwrap_or_else(|| usage());
    let loopback = |a: &SocketAddr| a.ip().is_loopback();
    if options.listens.is_empty()
        || !options.listens.iter().all(|(a, _)| loopback(a))
        || !loopback(&options.upstream)
        || !(0.0..=1.0).contains(&options.loss)
        || !(0.0..1.0).contains(&options.jitter)
    {
        usage();
    }
    options
}

/// Counters over all listeners.
#[derive(Default)]
struct Stats {
    udp_queries: AtomicU64,
    udp_queries_lost: AtomicU64,
    udp_responses: AtomicU64,
    udp_responses_lost: AtomicU64,
    udp_responses_late: AtomicU64,
    udp_unanswered: AtomicU64,
    tcp_connections: AtomicU64,
    tcp_bytes: AtomicU64,
}

impl Stats {
    fn json(&self, options: &Options) -> String {
        let rtts: Vec<String> = options
            .listens
            .iter()
            .map(|(_, rtt)| rtt.as_millis().to_string())
            .collect();
        format!(
            "{{\"listeners\":{},\"rtt_ms\":[{}],\"loss\":{},\"jitter\":{},\"udp_queries\":{},\"udp_queries_lost\":{},\"udp_responses\":{},\"udp_responses_lost\":{},\"udp_responses_late\":{},\"udp_unanswered\":{},\"tcp_connections\":{},\"tcp_bytes\":{}}}",
            options.listens.len(),
            rtts.join(","),
            options.loss,
            options.jitter,
            self.udp_queries.load(Relaxed),
            self.udp_queries_lost.load(Relaxed),
            self.udp_responses.load(Relaxed),
            self.udp_responses_lost.load(Relaxed),
            self.udp_responses_late.load(Relaxed),
            self.udp_unanswered.load(Relaxed),
            self.tcp_connections.load(Relaxed),
            self.tcp_bytes.load(Relaxed),
        )
    }
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0x9e37_79b9_7f4a_7c15) };
}

/// A uniform number in [0, 1) (xorshift64*; the runtime is single-threaded, so one
/// generator seeded once makes a run repeatable up to the order packets arrive in).
fn uniform() -> f64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// One simulated path: its one-way delay, jitter and loss.
#[derive(Clone, Copy)]
struct Path {
    one_way: Duration,
    jitter: f64,
    loss: f64,
}

impl Path {
    fn lost(&self) -> bool {
        self.loss > 0.0 && uniform() < self.loss
    }

    fn delay(&self) -> Duration {
        let factor = 1.0 + self.jitter * (2.0 * uniform() - 1.0);
        self.one_way.mul_f64(factor)
    }
}

/// A query on its way: who asked, under which id, and when it went up.
struct Pending {
    client: SocketAddr,
    id: u16,
    sent: Instant,
}

/// Queries in flight on one upstream socket, by the id they carry upstream.
#[derive(Default)]
struct Table {
    pending: HashMap<u16, Pending>,
    next: u16,
}

impl Table {
    fn insert(&mut self, entry: Pending) -> Option<u16> {
        if self.pending.len() > usize::from(u16::MAX) {
            return None;
        }
        loop {
            let id = self.next;
            self.next = self.next.wrapping_add(1);
            if let std::collections::hash_map::Entry::Vacant(slot) = self.pending.entry(id) {
                slot.insert(entry);
                return Some(id);
            }
        }
    }
}

struct UdpRelay {
    listen: UdpSocket,
    upstream: Vec<UdpSocket>,
    tables: Vec<Mutex<Table>>,
    path: Path,
    stats: Arc<Stats>,
}

impl UdpRelay {
    fn table(&self, i: usize) -> std::sync::MutexGuard<'_, Table> {
        self.tables[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Client → upstream.
    async fn queries(self: Arc<Self>) -> std::io::Result<()> {
        let mut buf = vec![0u8; DATAGRAM];
        let mut turn = 0usize;
        loop {
            let (n, client) = self.listen.recv_from(&mut buf).await?;
            self.stats.udp_queries.fetch_add(1, Relaxed);
            if n < 12 {
                continue;
            }
            if self.path.lost() {
                self.stats.udp_queries_lost.fetch_add(1, Relaxed);
                continue;
            }
            turn = (turn + 1) % self.upstream.len();
            let id = u16::from_be_bytes([buf[0], buf[1]]);
            let entry = Pending {
                client,
                id,
                sent: Instant::now(),
            };
            let Some(upstream_id) = self.table(turn).insert(entry) else {
                continue;
            };
            let mut packet = buf[..n].to_vec();
            packet[..2].copy_from_slice(&upstream_id.to_be_bytes());
            let relay = Arc::clone(&self);
            let delay = self.path.delay();
            tokio::spawn(async move {
                sleep(delay).await;
                let _ = relay.upstream[turn].send(&packet).await;
            });
        }
    }

    /// Upstream → client, for upstream socket `i`.
    async fn responses(self: Arc<Self>, i: usize) -> std::io::Result<()> {
        let mut buf = vec![0u8; DATAGRAM];
        loop {
            let n = self.upstream[i].recv(&mut buf).await?;
            if n < 12 {
                continue;
            }
            self.stats.udp_responses.fetch_add(1, Relaxed);
            let upstream_id = u16::from_be_bytes([buf[0], buf[1]]);
            let Some(pending) = self.table(i).pending.remove(&upstream_id) else {
                self.stats.udp_responses_late.fetch_add(1, Relaxed);
                continue;
            };
            if self.path.lost() {
                self.stats.udp_responses_lost.fetch_add(1, Relaxed);
                continue;
            }
            let mut packet = buf[..n].to_vec();
            packet[..2].copy_from_slice(&pending.id.to_be_bytes());
            let relay = Arc::clone(&self);
            let delay = self.path.delay();
            tokio::spawn(async move {
                sleep(delay).await;
                let _ = relay.listen.send_to(&packet, pending.client).await;
            });
        }
    }

    /// Forgets queries that upstream never answered, so their ids can be reused.
    async fn expire(self: Arc<Self>) {
        loop {
            sleep(Duration::from_secs(1)).await;
            for i in 0..self.tables.len() {
                let mut table = self.table(i);
                let before = table.pending.len();
                table.pending.retain(|_, p| p.sent.elapsed() < PENDING_LIFETIME);
                let gone = before - table.pending.len();
                self.stats.udp_unanswered.fetch_add(gone as u64, Relaxed);
            }
        }
    }
}

async fn start_udp(
    listen: SocketAddr,
    upstream: SocketAddr,
    path: Path,
    stats: Arc<Stats>,
) -> std::io::Result<()> {
    let socket = UdpSocket::bind(listen).await?;
    let mut sockets = Vec::new();
    for _ in 0..UPSTREAM_SOCKETS {
        let s = UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        s.connect(upstream).await?;
        sockets.push(s);
    }
    let relay = Arc::new(UdpRelay {
        listen: socket,
        tables: (0..sockets.len()).map(|_| Mutex::default()).collect(),
        upstream: sockets,
        path,
        stats,
    });
    for i in 0..relay.upstream.len() {
        tokio::spawn(Arc::clone(&relay).responses(i));
    }
    tokio::spawn(Arc::clone(&relay).expire());
    tokio::spawn(relay.queries());
    Ok(())
}

async fn start_tcp(
    listen: SocketAddr,
    upstream: SocketAddr,
    path: Path,
    stats: Arc<Stats>,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                continue;
            };
            stats.tcp_connections.fetch_add(1, Relaxed);
            let stats = Arc::clone(&stats);
            tokio::spawn(async move {
                // The handshake across the simulated path costs a round trip.
                sleep(path.one_way * 2).await;
                let Ok(server) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    pump(client_read, server_write, path.one_way, &stats),
                    pump(server_read, client_write, path.one_way, &stats),
                );
            });
        }
    });
    Ok(())
}

/// Copies one direction of a TCP connection, each segment `delay` late, in order.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
    stats: &Stats,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0 || tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                break;
            }
            stats.tcp_bytes.fetch_add(n as u64, Relaxed);
        }
    };
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            sleep_until(due).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = parse_options();
    RNG.with(|state| state.set(0x9e37_79b9_7f4a_7c15 ^ options.seed.wrapping_mul(0x2545_f491)));
    let stats = Arc::new(Stats::default());
    for &(listen, rtt) in &options.listens {
        let path = Path {
            one_way: rtt / 2,
            jitter: options.jitter,
            loss: options.loss,
        };
        let started = async {
            start_udp(listen, options.upstream, path, Arc::clone(&stats)).await?;
            start_tcp(listen, options.upstream, path, Arc::clone(&stats)).await
        };
        if let Err(e) = started.await {
            eprintln!("netem: cannot listen on {listen}: {e}");
            std::process::exit(1);
        }
    }
    if let Some(ready) = &options.ready
        && let Err(e) = std::fs::write(ready, "ready\n")
    {
        eprintln!("netem: cannot write {}: {e}", ready.display());
        std::process::exit(1);
    }
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    let json = stats.json(&options);
    match &options.stats {
        Some(file) => {
            if let Err(e) = std::fs::write(file, format!("{json}\n")) {
                eprintln!("netem: cannot write {}: {e}", file.display());
            }
        }
        None => println!("{json}"),
    }
}
