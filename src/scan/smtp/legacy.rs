//! TLS 1.0/1.1 detection without a TLS 1.0 stack: one hand-built ClientHello with the
//! legacy version and a broad cipher list, then only the first record of the answer is
//! read — a ServerHello names the version the server chose, an alert or a closed
//! connection says no (security spec §3.1). No handshake is completed.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

/// TLS 1.0 on the wire.
pub(super) const TLS10: u16 = 0x0301;
/// TLS 1.1 on the wire.
pub(super) const TLS11: u16 = 0x0302;

/// Record content types.
const HANDSHAKE: u8 = 22;
const ALERT: u8 = 21;
/// Handshake message types.
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
/// Largest record a server may send (2^14 plus expansion).
const MAX_RECORD: usize = 16_384 + 2048;

/// Suites that TLS 1.0/1.1 servers commonly have, from ECDHE to plain RSA, 3DES and RC4,
/// so that a server accepting the old version finds one it likes.
const CIPHER_SUITES: &[u16] = &[
    0xc00a, // ECDHE-ECDSA-AES256-SHA
    0xc014, // ECDHE-RSA-AES256-SHA
    0xc009, // ECDHE-ECDSA-AES128-SHA
    0xc013, // ECDHE-RSA-AES128-SHA
    0x0039, // DHE-RSA-AES256-SHA
    0x0038, // DHE-DSS-AES256-SHA
    0x0033, // DHE-RSA-AES128-SHA
    0x0032, // DHE-DSS-AES128-SHA
    0x0088, // DHE-RSA-CAMELLIA256-SHA
    0x0045, // DHE-RSA-CAMELLIA128-SHA
    0x0035, // AES256-SHA
    0x002f, // AES128-SHA
    0x0084, // CAMELLIA256-SHA
    0x0041, // CAMELLIA128-SHA
    0x0096, // SEED-SHA
    0xc008, // ECDHE-ECDSA-DES-CBC3-SHA
    0xc012, // ECDHE-RSA-DES-CBC3-SHA
    0x0016, // EDH-RSA-DES-CBC3-SHA
    0x000a, // DES-CBC3-SHA
    0xc011, // ECDHE-RSA-RC4-SHA
    0xc007, // ECDHE-ECDSA-RC4-SHA
    0x0005, // RC4-SHA
    0x0004, // RC4-MD5
    0x00ff, // TLS_EMPTY_RENEGOTIATION_INFO_SCSV
];

/// Named groups offered for ECDHE: x25519, P-256, P-384, P-521.
const GROUPS: &[u16] = &[0x001d, 0x0017, 0x0018, 0x0019];

/// What the server answered to the legacy ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HelloAnswer {
    /// A ServerHello with this version.
    ServerHello(u16),
    /// A TLS alert (level, description), e.g. `protocol_version` (70).
    Alert(u8, u8),
    /// The server closed or reset the connection without a word.
    Closed,
    /// Something that is not TLS.
    Garbage(String),
}

impl HelloAnswer {
    /// True when the server agreed to speak exactly `version`.
    pub fn accepts(&self, version: u16) -> bool {
        *self == HelloAnswer::ServerHello(version)
    }
}

/// A ClientHello record offering at most `version`, with SNI when a host name is given.
pub(super) fn client_hello(version: u16, sni: Option<&str>) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&client_random());
    body.push(0); // no session id
    put_u16(&mut body, (CIPHER_SUITES.len() * 2) as u16);
    for suite in CIPHER_SUITES {
        body.extend_from_slice(&suite.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut extensions = Vec::new();
    if let Some(host) = sni.filter(|h| !h.is_empty() && h.len() < 256 && h.is_ascii()) {
        let name = host.as_bytes();
        let mut ext = Vec::new();
        put_u16(&mut ext, (name.len() + 3) as u16); // server_name_list length
        ext.push(0); // host_name
        put_u16(&mut ext, name.len() as u16);
        ext.extend_from_slice(name);
        put_extension(&mut extensions, 0x0000, &ext);
    }
    let mut groups = Vec::new();
    put_u16(&mut groups, (GROUPS.len() * 2) as u16);
    for g in GROUPS {
        groups.extend_from_slice(&g.to_be_bytes());
    }
    put_extension(&mut extensions, 0x000a, &groups);
    put_extension(&mut extensions, 0x000b, &[1, 0]); // ec_point_formats: uncompressed
    put_u16(&mut body, extensions.len() as u16);
    body.extend_from_slice(&extensions);

    let mut handshake = Vec::with_capacity(body.len() + 4);
    handshake.push(CLIENT_HELLO);
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);

    let mut record = Vec::with_capacity(handshake.len() + 5);
    record.push(HANDSHAKE);
    // Record version 1.0, as clients use for their first flight to the widest audience.
    record.extend_from_slice(&TLS10.to_be_bytes());
    put_u16(&mut record, handshake.len() as u16);
    record.extend_from_slice(&handshake);
    record
}

fn put_u16(buf: &mut Vec<u8>, value: u16) {
    buf.extend_from_slice(&value.to_be_bytes());
}

fn put_extension(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(buf, kind);
    put_u16(buf, data.len() as u16);
    buf.extend_from_slice(data);
}

/// 32 bytes that differ per hello. They need not be secret: no key is ever derived
/// from this handshake.
fn client_random() -> [u8; 32] {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut hasher = Sha256::new();
    hasher.update(nanos.to_be_bytes());
    hasher.update(n.to_be_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(hasher.finalize().as_slice());
    out
}

/// Reads the first record of the server's answer and says what it was. The caller
/// bounds the time.
pub(super) async fn read_answer<S: AsyncRead + Unpin>(stream: &mut S) -> HelloAnswer {
    let mut header = [0u8; 5];
    if let Err(e) = stream.read_exact(&mut header).await {
        return closed_or_error(e);
    }
    let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
    if header[1] != 3 || length == 0 || length > MAX_RECORD {
        return HelloAnswer::Garbage(format!("not a TLS record: {}", hex::encode(header)));
    }
    let mut body = vec![0u8; length];
    if let Err(e) = stream.read_exact(&mut body).await {
        return closed_or_error(e);
    }
    parse_answer(header[0], &body)
}

/// Interprets one record (content type and body).
pub(super) fn parse_answer(content_type: u8, body: &[u8]) -> HelloAnswer {
    match content_type {
        ALERT if body.len() >= 2 => HelloAnswer::Alert(body[0], body[1]),
        HANDSHAKE if body.len() >= 6 && body[0] == SERVER_HELLO => {
            HelloAnswer::ServerHello(u16::from_be_bytes([body[4], body[5]]))
        }
        _ => HelloAnswer::Garbage(format!(
            "unexpected record type {content_type} ({} bytes)",
            body.len()
        )),
    }
}

fn closed_or_error(e: std::io::Error) -> HelloAnswer {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => HelloAnswer::Closed,
        _ => HelloAnswer::Garbage(e.to_string()),
    }
}

/// `TLSv1.0`-style name of a wire version.
pub(super) fn version_name(version: u16) -> String {
    match version {
        0x0300 => "SSLv3".to_string(),
        0x0301 => "TLSv1.0".to_string(),
        0x0302 => "TLSv1.1".to_string(),
        0x0303 => "TLSv1.2".to_string(),
        0x0304 => "TLSv1.3".to_string(),
        other => format!("0x{other:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_well_formed() {
        let rec = client_hello(TLS11, Some("mx.example.org"));
        assert_eq!(rec[0], HANDSHAKE);
        assert_eq!(&rec[1..3], &[3, 1]);
        let len = usize::from(u16::from_be_bytes([rec[3], rec[4]]));
        assert_eq!(rec.len(), 5 + len);
        let hs = &rec[5..];
        assert_eq!(hs[0], CLIENT_HELLO);
        let hs_len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
        assert_eq!(hs.len(), 4 + hs_len);
        assert_eq!(&hs[4..6], &[3, 2], "client_version TLS 1.1");
        // session id, suites, compression, extensions all add up.
        let mut at = 4 + 2 + 32;
        at += 1 + usize::from(hs[at]);
        let suites = usize::from(u16::from_be_bytes([hs[at], hs[at + 1]]));
        at += 2 + suites;
        at += 1 + usize::from(hs[at]);
        let ext = usize::from(u16::from_be_bytes([hs[at], hs[at + 1]]));
        assert_eq!(at + 2 + ext, hs.len());
        assert!(
            rec.windows(14).any(|w| w == b"mx.example.org"),
            "SNI carried"
        );
        assert_ne!(client_random(), client_random());
    }

    #[test]
    fn answers_are_classified() {
        assert_eq!(
            parse_answer(HANDSHAKE, &[2, 0, 0, 70, 3, 1, 0, 0]),
            HelloAnswer::ServerHello(TLS10)
        );
        assert!(parse_answer(HANDSHAKE, &[2, 0, 0, 70, 3, 2]).accepts(TLS11));
        assert_eq!(parse_answer(ALERT, &[2, 70]), HelloAnswer::Alert(2, 70));
        assert!(matches!(
            parse_answer(23, &[1, 2, 3]),
            HelloAnswer::Garbage(_)
        ));
    }

    #[tokio::test]
    async fn reads_only_the_first_record() {
        let mut wire: &[u8] = &[22, 3, 1, 0, 6, 2, 0, 0, 70, 3, 1, 0xde, 0xad];
        assert_eq!(
            read_answer(&mut wire).await,
            HelloAnswer::ServerHello(TLS10)
        );
        let mut closed: &[u8] = &[];
        assert_eq!(read_answer(&mut closed).await, HelloAnswer::Closed);
        let mut text: &[u8] = b"500 what?\r\n";
        assert!(matches!(
            read_answer(&mut text).await,
            HelloAnswer::Garbage(_)
        ));
    }
}
