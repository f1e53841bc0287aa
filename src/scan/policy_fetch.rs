//! What one MTA-STS policy fetch observed: the record the connection stage stores in
//! the scan cache and the grade reads. Kept apart from the fetcher
//! ([`crate::scan::mta_sts`]) so that the cache does not depend on the network code.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::evidence::Timestamp;
use crate::name::DnsName;
use crate::records::mta_sts::WELL_KNOWN_PATH;

/// Error texts that mean "we could not measure", as opposed to "the domain's policy
/// host is broken" (see [`PolicyFetch::unmeasured`]).
const UNMEASURED_MARKERS: [&str; 3] = ["timed out", "loopback-only mode", "lookup failed"];

/// What one policy fetch observed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PolicyFetch {
    /// `https://mta-sts.<domain>/.well-known/mta-sts.txt`.
    pub url: String,
    /// When the fetch started.
    pub at: Timestamp,
    /// The address that answered (or the last one tried).
    pub address: Option<IpAddr>,
    /// HTTP status code.
    pub status: Option<u16>,
    /// `Content-Type` header as sent.
    pub content_type: Option<String>,
    /// The body, cut at [`crate::scan::mta_sts::FetchConfig::max_body`] bytes, invalid UTF-8 replaced.
    pub body: Option<String>,
    /// What went wrong, in words (DNS, connection, TLS, certificate, HTTP, size).
    pub error: Option<String>,
    /// The certificate is valid for `mta-sts.<domain>` (chain, validity, name).
    pub tls_valid: bool,
    /// The server answered with a redirect (3xx), which senders must not follow.
    pub redirected: bool,
}

impl PolicyFetch {
    pub(crate) fn new(domain: &DnsName, at: Timestamp) -> PolicyFetch {
        PolicyFetch {
            url: format!("https://mta-sts.{domain}{WELL_KNOWN_PATH}"),
            at,
            address: None,
            status: None,
            content_type: None,
            body: None,
            error: None,
            tls_valid: false,
            redirected: false,
        }
    }

    /// True when a sender could use the result: valid certificate, `200`, no redirect,
    /// no error (a too large body is an error).
    pub fn usable(&self) -> bool {
        self.tls_valid
            && self.status == Some(200)
            && !self.redirected
            && self.error.is_none()
            && self.body.is_some()
    }

    /// True when the fetch says nothing about the domain: our own timeouts, a failed
    /// address lookup, or the loopback-only policy refusing the address.
    pub fn unmeasured(&self) -> bool {
        self.status.is_none()
            && self
                .error
                .as_deref()
                .is_some_and(|e| UNMEASURED_MARKERS.iter().any(|m| e.contains(m)))
    }
}
