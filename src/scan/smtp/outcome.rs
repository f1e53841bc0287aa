//! What a session writes into its probe record: the blank record, TLS results,
//! failures with their texts, and the clock.

// The session code and its helpers share the parent's imports.
#[allow(clippy::wildcard_imports)]
use super::*;

/// An empty probe record for (host, ip).
pub(super) fn blank(host: &DnsName, ip: IpAddr, port: u16) -> SmtpProbe {
    SmtpProbe::empty(host, ip, port, unix_now())
}

/// A TLS result with only the handshake outcome filled in.
pub(super) fn tls_result(handshake: Handshake) -> TlsResult {
    TlsResult {
        handshake,
        version: None,
        cipher: None,
        chain: Vec::new(),
        pkix_valid: false,
        name_match: false,
        problems: Vec::new(),
        pkix_detail: None,
        expires_soon: false,
        versions_accepted: Vec::new(),
        legacy_accepted: None,
    }
}

/// Records how the session ended early; `None` for the caller to return.
pub(super) fn fail<T>(probe: &mut SmtpProbe, outcome: ProbeOutcome, error: String) -> Option<T> {
    probe.outcome = outcome;
    probe.error = Some(error);
    None
}

/// The verdict when the session cap cut the session off at `stage`.
pub(super) fn session_expired(probe: &mut SmtpProbe, stage: Stage, cap: Duration) {
    let during = match stage {
        Stage::Connect => "connect",
        Stage::Greeting => "the greeting",
        Stage::Ehlo => "EHLO",
        Stage::Starttls => "STARTTLS",
        Stage::Handshake => "the TLS handshake",
        Stage::AfterTls => "the dialogue over TLS",
        // Cut off while saying QUIT: the verdict stands.
        Stage::Closing => return,
    };
    probe.error = Some(format!(
        "the session exceeded its {} limit during {during}",
        secs(cap)
    ));
    match stage {
        Stage::Connect => probe.outcome = ProbeOutcome::Unreachable,
        Stage::Greeting => probe.outcome = ProbeOutcome::NoGreeting,
        Stage::Ehlo => probe.outcome = ProbeOutcome::ProtocolError,
        Stage::Starttls | Stage::Handshake => {
            probe.outcome = ProbeOutcome::Completed;
            probe
                .tls
                .get_or_insert_with(|| tls_result(Handshake::Timeout));
        }
        Stage::AfterTls => probe.outcome = ProbeOutcome::Completed,
        Stage::Closing => {}
    }
}

pub(super) fn command_error_text(error: &CommandError, limit: Duration) -> String {
    match error {
        CommandError::Timeout => format!("no reply within {}", secs(limit)),
        CommandError::Wire(e) => e.to_string(),
    }
}

/// SNI is the MX host name (RFC 7672 needs it for DANE); a name rustls cannot carry
/// goes without SNI.
pub(super) fn server_name(host: &DnsName, ip: IpAddr) -> ServerName<'static> {
    ServerName::try_from(host.to_string()).unwrap_or(ServerName::IpAddress(ip.into()))
}

pub(super) fn version_name(version: rustls::ProtocolVersion) -> String {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
        other => format!("{other:?}"),
    }
}

/// A duration for messages: `30 s`, `250 ms`.
pub(super) fn secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

pub(super) fn unix_now() -> Timestamp {
    crate::clock::now()
}
