//! Why a signature table is refused.

use super::role::Role;

/// Why a signature table was refused. Every message names the offending entry.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The text is not TOML or does not have the table's shape (unknown keys included).
    #[error("signatures.toml: {0}")]
    Toml(#[from] toml::de::Error),
    /// `[meta]` lacks a version.
    #[error("signatures.toml: [meta] version is empty")]
    MissingVersion,
    /// An id that is not a lower-case slug.
    #[error("entry {0:?}: id must be a lower-case slug of [a-z0-9-]")]
    BadId(String),
    /// Two entries with one id.
    #[error("entry {0:?}: id appears more than once")]
    DuplicateId(String),
    /// One ASN in two entries: an ASN names one network operator.
    #[error("ASN {0} is listed by entry {1:?} and again by entry {2:?}")]
    DuplicateAsn(u32, String, String),
    /// An ASN that cannot be an origin on the public Internet (0, AS_TRANS, reserved or
    /// private-use ranges).
    #[error("entry {id:?}: ASN {asn} is {why}")]
    BadAsn {
        /// Entry id.
        id: String,
        /// The ASN.
        asn: u32,
        /// Which range it falls in.
        why: &'static str,
    },
    /// A pattern that is not in canonical form or too broad.
    #[error("entry {id:?}: pattern {pattern:?} rejected: {why}")]
    BadPattern {
        /// Entry id.
        id: String,
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        why: String,
    },
    /// `hq` is not two upper-case ASCII letters.
    #[error("entry {id:?}: hq {hq:?} must be an ISO 3166 alpha-2 code (two upper-case letters)")]
    BadCountry {
        /// Entry id.
        id: String,
        /// The value found.
        hq: String,
    },
    /// `roles = []`.
    #[error("entry {0:?}: roles must not be empty")]
    EmptyRoles(String),
    /// The same role twice.
    #[error("entry {id:?}: role {role} is listed twice")]
    DuplicateRole {
        /// Entry id.
        id: String,
        /// The repeated role.
        role: Role,
    },
    /// A gateway with ASNs: the clouds that host filters are shared (spec §4.5).
    #[error(
        "entry {0:?}: a gateway entry must not list ASNs (an ASN alone never names a gateway vendor, spec §4.5)"
    )]
    GatewayAsn(String),
    /// `scope = "global"` on an entry whose primary role is not provider.
    #[error("entry {0:?}: scope \"global\" is only for entries whose primary role is provider")]
    GlobalScope(String),
    /// An empty `name` or `source`.
    #[error("entry {id:?}: {field} must not be empty")]
    MissingText {
        /// Entry id.
        id: String,
        /// `name` or `source`.
        field: &'static str,
    },
    /// An entry that could never match anything.
    #[error("entry {0:?}: has no patterns and no ASNs")]
    NoSignals(String),
}
