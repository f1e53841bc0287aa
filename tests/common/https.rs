//! An MTA-STS policy host: HTTPS (tokio-rustls, a certificate from the test PKI) on a
//! loopback address, answering `GET /.well-known/mta-sts.txt` with a fixed policy and
//! anything else with 404.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::pki::Leaf;
use super::{Background, read_request_head};

/// Where MTA-STS policies are served (RFC 8461 §3.3).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// A running policy host; stops when dropped.
pub struct PolicyServer {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    _server: Background,
}

impl PolicyServer {
    /// Serves `policy` as `text/plain` over TLS with `leaf` on `ip`, port `port` (0: a
    /// free one).
    pub fn start(ip: Ipv4Addr, port: u16, leaf: &Leaf, policy: &str) -> PolicyServer {
        let acceptor = leaf.tls_acceptor();
        let policy = policy.to_string();
        let requests: Arc<AtomicUsize> = Arc::default();
        let counter = requests.clone();
        let (server, addr) = Background::serve((ip, port).into(), move |listener| async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, policy, counter) =
                    (acceptor.clone(), policy.clone(), counter.clone());
                tokio::spawn(async move {
                    let limit = Duration::from_secs(5);
                    let Ok(Ok(mut tls)) = tokio::time::timeout(limit, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    let Ok(Some(head)) =
                        tokio::time::timeout(limit, read_request_head(&mut tls)).await
                    else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let path = head.split_whitespace().nth(1).unwrap_or("");
                    let (status, body) = if head.starts_with("GET ") && path == POLICY_PATH {
                        ("200 OK", policy.as_str())
                    } else {
                        ("404 Not Found", "not found\n")
                    };
                    let response = format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        PolicyServer {
            addr,
            requests,
            _server: server,
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
