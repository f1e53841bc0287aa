//! Who may talk to which server when (security spec §14): a global cap on sessions,
//! one session at a time per destination IP with a pause between sessions, and a cap per
//! /24 (IPv4) or /64 (IPv6) so hosting clusters are not hammered.
//!
//! In loopback mode (`--world`, `--loopback-only`) the pause and the subnet cap are
//! lifted by [`relax_for_loopback`]: they protect servers of strangers on the internet,
//! while every "server" of a recorded world is one local test MTA answering on all of
//! 127.0.0.0/8, and the whole world sits in 127.1.0.0/16 — a per-/24 cap would only
//! serialise the offline build. The global cap and one session at a time per address
//! stay, so the probe behaves as on the internet in every other respect.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Lifts the limits that only make sense on the internet (see the module comment):
/// no pause between sessions to one address, and no cap per /24 below the global one.
pub fn relax_for_loopback(config: &mut super::ProbeConfig) {
    config.per_ip_spacing = Duration::ZERO;
    config.per_subnet_concurrency = config.global_concurrency;
}

/// A /24 or /64 network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Subnet {
    V4([u8; 3]),
    V6([u16; 4]),
}

impl Subnet {
    fn of(ip: IpAddr) -> Subnet {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                Subnet::V4([o[0], o[1], o[2]])
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Subnet::V6([s[0], s[1], s[2], s[3]])
            }
        }
    }
}

/// When the last session to an IP ended (`None`: never talked to it).
type IpSlot = Arc<tokio::sync::Mutex<Option<Instant>>>;

/// The shared limits.
pub(super) struct Politeness {
    global: Arc<Semaphore>,
    per_subnet_cap: usize,
    spacing: Duration,
    ips: Mutex<HashMap<IpAddr, IpSlot>>,
    subnets: Mutex<HashMap<Subnet, Arc<Semaphore>>>,
}

/// The right to hold sessions with one IP. While it lives no other session goes to that
/// IP; dropping it records the time, from which the next session keeps its distance.
pub(super) struct Turn<'a> {
    owner: &'a Politeness,
    ip: IpAddr,
    last_end: OwnedMutexGuard<Option<Instant>>,
    permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

impl Politeness {
    /// Limits: at most `global` sessions, `per_subnet` per network, `spacing` between
    /// sessions to one IP (each at least 1 where a count).
    pub fn new(global: usize, per_subnet: usize, spacing: Duration) -> Self {
        Politeness {
            global: Arc::new(Semaphore::new(global.max(1))),
            per_subnet_cap: per_subnet.max(1),
            spacing,
            ips: Mutex::new(HashMap::new()),
            subnets: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the IP to be free and its pause over, then for a subnet and a global
    /// slot, in that order (no global slot is held while waiting on an IP).
    pub async fn turn(&self, ip: IpAddr) -> Turn<'_> {
        let slot = {
            let mut ips = self.ips.lock().unwrap_or_else(|e| e.into_inner());
            ips.entry(ip).or_default().clone()
        };
        let last_end = slot.lock_owned().await;
        let mut turn = Turn {
            owner: self,
            ip,
            last_end,
            permits: None,
        };
        turn.resume().await;
        turn
    }

    fn subnet(&self, ip: IpAddr) -> Arc<Semaphore> {
        let mut subnets = self.subnets.lock().unwrap_or_else(|e| e.into_inner());
        subnets
            .entry(Subnet::of(ip))
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_subnet_cap)))
            .clone()
    }
}

impl Turn<'_> {
    /// Marks the end of one session: the slots go back to others, and the next
    /// [`Turn::resume`] waits out the spacing.
    pub fn pause(&mut self) {
        self.permits = None;
        *self.last_end = Some(Instant::now());
    }

    /// Waits out the spacing since the last session to this IP, then takes a subnet and
    /// a global slot again.
    pub async fn resume(&mut self) {
        if self.permits.is_some() {
            return;
        }
        if let Some(last) = *self.last_end {
            tokio::time::sleep_until(last + self.owner.spacing).await;
        }
        let subnet = self.owner.subnet(self.ip);
        // The semaphores are never closed, so acquiring cannot fail; if it ever did,
        // going on without the slot is better than never probing.
        let subnet = subnet.acquire_owned().await.ok();
        let global = self.owner.global.clone().acquire_owned().await.ok();
        if let (Some(s), Some(g)) = (subnet, global) {
            self.permits = Some((s, g));
        }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        if self.permits.is_some() {
            *self.last_end = Some(Instant::now());
        }
    }
}
