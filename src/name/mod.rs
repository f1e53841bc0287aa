//! DNS names in presentation form, byte-exact.
//!
//! Real recorded DNS contains names that strict parsers reject: `_` inside labels
//! (`spf1_spf55440.spf-protect.dk`), a space written as `\032`, an escaped `\@`, or a
//! bare `~` label. hickory's own `Name::from_ascii` rejects them and its `Display`
//! writes escapes in octal, whereas RFC 1035 §5.1 says `\DDD` is *decimal*. mxmap
//! therefore keeps names as raw labels and converts to and from text itself: every
//! name that NSD serves can be queried, stored in the cache and shown on a page.

use std::fmt;

use hickory_proto::rr::{Name, domain::Label};

pub mod org;

/// Longest label allowed on the wire (RFC 1035 §2.3.4).
const MAX_LABEL: usize = 63;
/// Longest name allowed on the wire, including length octets.
const MAX_NAME_WIRE: usize = 255;

/// Why a presentation-form name could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The text was empty (the root name is not a valid host name here).
    #[error("empty name")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("empty label in {0:?}")]
    EmptyLabel(String),
    /// A label longer than 63 octets.
    #[error("label longer than 63 octets in {0:?}")]
    LabelTooLong(String),
    /// The whole name is longer than 255 octets on the wire.
    #[error("name longer than 255 octets: {0:?}")]
    NameTooLong(String),
    /// A backslash escape that is not `\X` or `\DDD` with DDD ≤ 255.
    #[error("bad escape in {0:?}")]
    BadEscape(String),
}

/// A domain name as raw labels (without the root), compared case-insensitively for
/// ASCII letters, as DNS does.
///
/// Stored as one allocation of length-prefixed labels (wire format without the root
/// label): a scan keeps hundreds of thousands of names, and a vector per label cost
/// most of the run's memory.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsName {
    /// Lower-cased labels, each preceded by its length, most specific first.
    wire: Box<[u8]>,
}

impl DnsName {
    /// Reads a name in RFC 1035 presentation form (`\DDD` decimal and `\X` escapes;
    /// a trailing dot is optional). ASCII letters are folded to lower case.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        if text.is_empty() || text == "." {
            return Err(NameError::Empty);
        }
        let bytes = text.as_bytes();
        let mut labels = Vec::new();
        let mut current = Vec::new();
        let mut i = 0;
        let mut ended_with_dot = false;
        while i < bytes.len() {
            ended_with_dot = false;
            match bytes[i] {
                b'\\' => {
                    let rest = &bytes[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                        let value = (rest[0] - b'0') as u32 * 100
                            + (rest[1] - b'0') as u32 * 10
                            + (rest[2] - b'0') as u32;
                        if value > 255 {
                            return Err(NameError::BadEscape(text.to_string()));
                        }
                        current.push(value as u8);
                        i += 4;
                    } else if let Some(&c) = rest.first() {
                        current.push(c);
                        i += 2;
                    } else {
                        return Err(NameError::BadEscape(text.to_string()));
                    }
                }
                b'.' => {
                    if current.is_empty() {
                        return Err(NameError::EmptyLabel(text.to_string()));
                    }
                    labels.push(std::mem::take(&mut current));
                    ended_with_dot = true;
                    i += 1;
                }
                c => {
                    current.push(c);
                    i += 1;
                }
            }
        }
        if !current.is_empty() {
            labels.push(current);
        } else if !ended_with_dot {
            return Err(NameError::EmptyLabel(text.to_string()));
        }
        Self::from_labels(labels).map_err(|e| match e {
            NameError::LabelTooLong(_) => NameError::LabelTooLong(text.to_string()),
            NameError::NameTooLong(_) => NameError::NameTooLong(text.to_string()),
            other => other,
        })
    }

    /// Builds a name from raw labels, checking the wire-format limits.
    pub fn from_labels<L: AsRef<[u8]>>(
        labels: impl IntoIterator<Item = L>,
    ) -> Result<Self, NameError> {
        let mut wire = Vec::new();
        for label in labels {
            let label = label.as_ref();
            if label.is_empty() {
                return Err(NameError::EmptyLabel(String::new()));
            }
            if label.len() > MAX_LABEL {
                return Err(NameError::LabelTooLong(
                    String::from_utf8_lossy(label).into(),
                ));
            }
            wire.push(label.len() as u8);
            wire.extend(label.iter().map(u8::to_ascii_lowercase));
        }
        if wire.is_empty() {
            return Err(NameError::Empty);
        }
        // +1 for the root label on the wire.
        if wire.len() + 1 > MAX_NAME_WIRE {
            return Err(NameError::NameTooLong(String::new()));
        }
        Ok(Self {
            wire: wire.into_boxed_slice(),
        })
    }

    /// Converts a hickory name (as found in a DNS answer) without losing bytes.
    pub fn from_hickory(name: &Name) -> Result<Self, NameError> {
        Self::from_labels(name.iter())
    }

    /// The fully qualified hickory name for a query.
    pub fn to_hickory(&self) -> Name {
        let labels = self
            .label_iter()
            .map(|l| Label::from_raw_bytes(l).expect("label length checked on construction"));
        let mut name = Name::from_labels(labels).expect("name length checked on construction");
        name.set_fqdn(true);
        name
    }

    /// The name in wire format without the root label: each label preceded by its
    /// length, most specific first (letters lower-cased).
    pub fn wire(&self) -> &[u8] {
        &self.wire
    }

    /// The raw labels, most specific first.
    pub fn labels(&self) -> Vec<&[u8]> {
        self.label_iter().collect()
    }

    /// Iterates over the raw labels, most specific first.
    pub fn label_iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest: &[u8] = &self.wire;
        std::iter::from_fn(move || {
            let (&len, tail) = rest.split_first()?;
            let (label, after) = tail.split_at(usize::from(len).min(tail.len()));
            rest = after;
            Some(label)
        })
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.label_iter().count()
    }

    /// Always false: a `DnsName` has at least one label.
    pub fn is_empty(&self) -> bool {
        self.wire.is_empty()
    }

    /// The name without its first `n` labels (`None` when fewer remain).
    pub fn parent(&self, n: usize) -> Option<DnsName> {
        let mut offset = 0;
        for _ in 0..n {
            offset += 1 + usize::from(*self.wire.get(offset)?);
        }
        (offset < self.wire.len()).then(|| DnsName {
            wire: self.wire[offset..].into(),
        })
    }

    /// True when `self` equals `suffix` or ends with `"." + suffix` on a label boundary.
    pub fn is_subdomain_of(&self, suffix: &DnsName) -> bool {
        if !self.wire.ends_with(&suffix.wire) {
            return false;
        }
        // The match must start at a label boundary, not inside a label's bytes.
        let start = self.wire.len() - suffix.wire.len();
        let mut offset = 0;
        while offset < start {
            offset += 1 + usize::from(self.wire[offset]);
        }
        offset == start
    }

    /// Prepends labels, e.g. `_dmarc` + `example.org`.
    pub fn prepend(&self, prefix: &str) -> Result<Self, NameError> {
        let prefix = Self::parse(prefix)?;
        Self::from_labels(prefix.label_iter().chain(self.label_iter()))
    }

    /// True when every label is a plain host-name label (letters, digits, hyphen, and
    /// underscore as used by service labels) — i.e. nothing that needed escaping.
    pub fn is_plain(&self) -> bool {
        self.label_iter().all(|l| {
            l.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    }
}

impl fmt::Display for DnsName {
    /// RFC 1035 presentation form without the trailing dot, `\DDD` in decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.label_iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            // Runs of plain characters are written whole: names are printed hundreds of
            // thousands of times per run (cache keys, pages, data files).
            let mut rest = label;
            while !rest.is_empty() {
                let plain = rest.iter().take_while(|&&b| is_plain_byte(b)).count();
                let (run, tail) = rest.split_at(plain);
                // Plain bytes are printable ASCII, hence UTF-8.
                f.write_str(std::str::from_utf8(run).map_err(|_| fmt::Error)?)?;
                let Some((&b, after)) = tail.split_first() else {
                    break;
                };
                if b.is_ascii_graphic() {
                    write!(f, "\\{}", b as char)?;
                } else {
                    write!(f, "\\{b:03}")?;
                }
                rest = after;
            }
        }
        Ok(())
    }
}

/// True for a byte written as itself in presentation form (printable ASCII that is not
/// special in zone files).
fn is_plain_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$')
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DnsName({self})")
    }
}

impl serde::Serialize for DnsName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DnsName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        DnsName::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_escapes_round_trip() {
        let n = DnsName::parse("\\032alt1.aspmx.l.google.com.").unwrap();
        assert_eq!(n.labels()[0], b" alt1");
        assert_eq!(n.to_string(), "\\032alt1.aspmx.l.google.com");
        assert_eq!(DnsName::parse(&n.to_string()).unwrap(), n);
        let odd = DnsName::parse("a\\.b\\255\\;c\\\\.x").unwrap();
        assert_eq!(odd.labels()[0], b"a.b\xff;c\\");
        assert_eq!(odd.to_string(), "a\\.b\\255\\;c\\\\.x");
    }

    #[test]
    fn odd_but_served_names_parse() {
        for text in [
            "autoconfig.dreamhost.com\\@.",
            "~.",
            "spf1_spf55440.spf-protect.dk.",
            "onmicrosoft.com\\032.",
        ] {
            let n = DnsName::parse(text).unwrap();
            assert_eq!(DnsName::parse(&n.to_string()).unwrap(), n, "{text}");
            assert_eq!(DnsName::from_hickory(&n.to_hickory()).unwrap(), n);
        }
        assert_eq!(DnsName::parse("~.").unwrap().labels()[0], b"~");
        assert_eq!(DnsName::parse("a.com\\@").unwrap().labels()[1], b"com@");
    }

    #[test]
    fn case_is_folded_and_suffix_is_label_aware() {
        let n = DnsName::parse("MX1.Example.ORG").unwrap();
        assert_eq!(n.to_string(), "mx1.example.org");
        assert!(n.is_subdomain_of(&DnsName::parse("example.org").unwrap()));
        assert!(!n.is_subdomain_of(&DnsName::parse("ample.org").unwrap()));
    }

    #[test]
    fn invalid_names_are_rejected() {
        assert_eq!(DnsName::parse(""), Err(NameError::Empty));
        assert!(matches!(
            DnsName::parse("a..b"),
            Err(NameError::EmptyLabel(_))
        ));
        assert!(matches!(
            DnsName::parse(&"a".repeat(64)),
            Err(NameError::LabelTooLong(_))
        ));
        assert!(matches!(
            DnsName::parse("a\\999.b"),
            Err(NameError::BadEscape(_))
        ));
        let long = vec!["abcdefghij"; 30].join(".");
        assert!(matches!(
            DnsName::parse(&long),
            Err(NameError::NameTooLong(_))
        ));
    }
}
