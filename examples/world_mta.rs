//! Runs the test MTA of the recorded world (`tests/common/world_mta.rs`: one Postfix on
//! `0.0.0.0:PORT` with STARTTLS and certificates from a test CA) until SIGTERM or
//! SIGINT, for `bench/run`. Must run as root inside a loopback-only network namespace.
//!
//! ```sh
//! cargo run --release --example world_mta -- world 25 /tmp/ready
//! ```
//! Once Postfix listens, the path of the CA certificate (for `--trust-pem`) is written
//! to the ready file.

#[allow(dead_code)]
#[path = "../tests/common/pki.rs"]
mod pki;
#[allow(dead_code)]
#[path = "../tests/common/postfix.rs"]
mod postfix;
#[allow(dead_code)]
#[path = "../tests/common/world_mta.rs"]
mod world_mta;

use std::path::PathBuf;

/// What `postfix.rs` calls for a missing prerequisite: here always fatal.
fn skip_missing(what: &str) {
    panic!("{what} is missing");
}

/// A fixture path under `tests/fixtures` (Postfix's configuration templates).
fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [world, port, ready] = args.as_slice() else {
        eprintln!("usage: world_mta WORLD_DIR PORT READY_FILE");
        std::process::exit(2);
    };
    let port: u16 = port.parse().expect("PORT is a number");
    let postfix = postfix::prerequisites().expect("postfix and root");
    let started = std::time::Instant::now();
    let mta = world_mta::WorldMta::start(postfix, &PathBuf::from(world), port);
    eprintln!(
        "world MTA: Postfix on 0.0.0.0:{port}, {} MX hosts, {} SNI certificates, ready in {:.1}s",
        mta.hosts,
        mta.certificates,
        started.elapsed().as_secs_f64()
    );
    std::fs::write(ready, mta.ca_pem.display().to_string()).expect("write the ready file");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    // Dropping the MTA stops Postfix and removes its folder.
    drop(mta);
}
