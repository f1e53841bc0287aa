//! A real MTA behind every MX address of the recorded world: one Postfix instance
//! ([`super::postfix`]) listening on `0.0.0.0:PORT`, which inside a network namespace
//! that has only loopback answers on every address of 127.0.0.0/8 — so each of the
//! world's ~18,000 MX addresses (127.1.0.0/16) reaches a real SMTP server with STARTTLS,
//! as on the internet.
//!
//! Certificates come from a test CA (pass [`WorldMta::ca_pem`] with `--trust-pem`).
//! Postfix picks one by the name the client sends in TLS SNI (`tls_server_sni_maps`):
//! a certificate for `*.parent` and `parent` per parent domain of the world's MX hosts
//! (MX hosts of two labels get one for their own name). One parent domain in
//! [`MISMATCH_ONE_IN`] deliberately has no entry and gets the default certificate for
//! `mx.world.test` — a name mismatch, as a share of real servers present — so a full
//! build exercises both kinds of security card.
//!
//! Used by `tests/world_mta.rs` and, through `examples/world_mta.rs`, by `bench/run`.
//! Binding 0.0.0.0 is only safe where nothing but loopback exists: callers check
//! [`loopback_only_namespace`] first.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::pki::{Authority, Leaf};
use super::postfix::{Postfix, Variant};

/// One parent domain in this many gets no certificate of its own (see module comment).
pub const MISMATCH_ONE_IN: u64 = 10;

/// The running MTA; stopped when dropped.
pub struct WorldMta {
    _postfix: Postfix,
    _dir: tempfile::TempDir,
    /// The test CA's certificate (PEM file) for `--trust-pem`.
    pub ca_pem: PathBuf,
    /// MX host names of the world.
    pub hosts: usize,
    /// SNI certificates issued.
    pub certificates: usize,
}

/// True when the only network interface is loopback (inside `unshare -n`), so that a
/// server bound to 0.0.0.0 can be reached from nowhere else.
pub fn loopback_only_namespace() -> bool {
    // /proc/self/net follows this process's network namespace (/sys/class/net shows
    // the namespace sysfs was mounted in).
    std::fs::read_to_string("/proc/self/net/dev")
        .map(|dev| {
            let names: Vec<&str> = dev
                .lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(str::trim)
                .collect();
            names == ["lo"]
        })
        .unwrap_or(false)
}

/// The MX host names of the world (`hosts.json`).
pub fn world_hosts(world: &Path) -> Vec<String> {
    let path = world.join("hosts.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let hosts: BTreeMap<String, serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    hosts
        .into_keys()
        .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        .collect()
}

/// FNV-1a: a stable hash, so the same hosts get mismatched names on every run.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// SNI lookup keys with the names their certificate covers: `.parent` → `*.parent` and
/// `parent`; a two-label host → itself.
fn sni_entries(hosts: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut entries = BTreeMap::new();
    for host in hosts {
        let labels = host.split('.').count();
        if labels <= 2 {
            entries.insert(host.clone(), vec![host.clone()]);
        } else if let Some((_, parent)) = host.split_once('.') {
            entries.insert(
                format!(".{parent}"),
                vec![format!("*.{parent}"), parent.to_string()],
            );
        }
    }
    entries.retain(|key, _| !stable_hash(key).is_multiple_of(MISMATCH_ONE_IN));
    entries
}

impl WorldMta {
    /// Issues the certificates for the world's MX hosts and starts Postfix on
    /// `0.0.0.0:port`. Panics unless inside a loopback-only namespace.
    pub fn start(postfix: PathBuf, world: &Path, port: u16) -> WorldMta {
        assert!(
            loopback_only_namespace(),
            "the world MTA binds 0.0.0.0: run it inside `unshare -n` (only loopback)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        let chains = root.join("sni");
        std::fs::create_dir(&chains).expect("mkdir");
        let ca = Authority::new("mxmap World Test Root", None);
        let ca_pem = root.join("world-ca.pem");
        std::fs::write(&ca_pem, &ca.pem).expect("write CA");

        let hosts = world_hosts(world);
        let entries = sni_entries(&hosts);
        let mut table = String::new();
        for (i, (key, names)) in entries.iter().enumerate() {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let leaf = Leaf::new(&refs, Some(&ca), |_| {});
            // Postfix wants the key first, then the chain from the leaf up.
            let file = chains.join(format!("{i}.pem"));
            std::fs::write(
                &file,
                format!("{}{}", leaf.key.serialize_pem(), leaf.chain_pem()),
            )
            .expect("write chain");
            table.push_str(&format!("{key} {}\n", file.display()));
        }
        let sni = root.join("sni.map");
        std::fs::write(&sni, table).expect("write SNI table");
        let out = Command::new("postmap")
            .arg("-F")
            .arg(format!("hash:{}", sni.display()))
            .output()
            .expect("run postmap");
        assert!(
            out.status.success(),
            "postmap -F failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Postfix's daemons run as the postfix user.
        for path in [root, chains.as_path()] {
            let _ = Command::new("chmod").arg("755").arg(path).status();
        }

        let default_leaf = Leaf::new(&["mx.world.test"], Some(&ca), |_| {});
        let variants = [Variant {
            ip: Ipv4Addr::UNSPECIFIED,
            host: "mx.world.test",
            options: "",
            leaf: Some(default_leaf),
        }];
        // Every probe comes from one client address: no per-client connection cap.
        let main_cf = format!(
            "tls_server_sni_maps = hash:{}\nsmtpd_client_connection_count_limit = 0\ndefault_process_limit = 200\n",
            sni.display()
        );
        let instance = Postfix::start_with(postfix, &variants, port, &main_cf);
        WorldMta {
            _postfix: instance,
            _dir: dir,
            ca_pem,
            hosts: hosts.len(),
            certificates: entries.len(),
        }
    }
}
