//! The roles an operator plays for mail (catalogue spec §4.6), shared by the entries
//! and the catalogue's errors.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What an operator does for mail. An entry can have several roles (spec §4.6); the first
/// one listed is its primary role, which decides how a match is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Mailbox provider or hoster (its MX proves where mailboxes live).
    Provider,
    /// Security appliance, filtering service or relay in front of the real mailbox host.
    Gateway,
    /// ISP, hoster or academic network (classifies a network, not a mailbox service).
    Isp,
    /// Public IT cooperative, government or provincial shared mail.
    PublicShared,
    /// Sending-only service (newsletters, transactional mail): never votes for a mailbox.
    Sender,
    /// Certified-mail (PEC) host: never evidence of ordinary mail hosting.
    Pec,
}

impl Role {
    /// Tie-break rank between entries matching with equally long patterns (spec §2):
    /// lower wins.
    pub(super) fn rank(self) -> u8 {
        match self {
            Role::Provider => 0,
            Role::Gateway => 1,
            Role::Isp => 2,
            Role::PublicShared => 3,
            Role::Sender | Role::Pec => 4,
        }
    }

    /// The slug used in the table and in evidence.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Provider => "provider",
            Role::Gateway => "gateway",
            Role::Isp => "isp",
            Role::PublicShared => "public_shared",
            Role::Sender => "sender",
            Role::Pec => "pec",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
