//! Verdict flags (spec §1 `flags[]`) as a type: each serialises to the same lower-case
//! string the data files have always used.

use crate::scan::spf::SpfFlag;

use super::slug::slug_enum;

slug_enum! {
    /// A finding attached to a verdict.
    Flag {
        /// The scan had failed lookups; the verdict rests on what answered.
        PartialScan => "partial_scan", "some lookups failed";
        /// The domain publishes a null MX (RFC 7505).
        NullMx => "null_mx", "null MX";
        /// An MX host is invalid (localhost, an IP literal, a private address live).
        InvalidMx => "invalid_mx", "invalid MX host";
        /// More MX hosts than the scan follows.
        MxCapped => "mx_capped", "MX list capped";
        /// No MX host resolves.
        MxUnresolvable => "mx_unresolvable", "no MX host resolves";
        /// An MX host is an alias (CNAME).
        MxIsCname => "mx_is_cname", "MX host is an alias";
        /// The MX hosts weighed belong to several operators.
        MxSplit => "mx_split", "MX hosts of several operators";
        /// Backup MX hosts belong to another operator than the preferred ones.
        MxBackupOther => "mx_backup_other", "backup MX of another operator";
        /// The MX addresses lie partly in the country, partly abroad.
        MxMixed => "mx_mixed", "MX in several countries";
        /// A banner names SMTP software only.
        SmtpSoftware => "smtp_software", "SMTP software named";
        /// The identifying name looks like a customer's rented machine.
        VpsSuspect => "vps_suspect", "customer machine at a hoster";
        /// Two look-through candidates tied, or strong evidence disagrees with a global MX.
        LookthroughConflict => "lookthrough_conflict", "look-through conflict";
        /// A cloud tenant (token, DKIM, autodiscover) without the cloud's MX.
        CloudTenantWithoutCloudMx => "cloud_tenant_without_cloud_mx", "cloud tenant without cloud MX";
        /// SPF authorises a cloud to send, nothing else points there.
        CloudSendingAuthorised => "cloud_sending_authorised", "cloud may send (SPF)";
        /// A catalogued filtering gateway receives the mail.
        Gateway => "gateway", "behind a gateway";
        /// The mailbox provider differs from the MX operator (relay in front).
        Hybrid => "hybrid", "relay in front of the mailbox";
        /// The operator was named by the address's network alone.
        AsnOnly => "asn_only", "network (ASN) only";
        /// The MX belongs to a third party not in the catalogue.
        UncataloguedThirdParty => "uncatalogued_third_party", "uncatalogued third party";
        /// Autodiscover answers through a web-hosting control panel.
        HostingPanel => "hosting_panel", "hosting control panel";
        /// Depth-0 SPF names two or more mailbox providers.
        MultiProviderSpf => "multi_provider_spf", "several providers in SPF";
        /// More than one SPF record (permerror).
        SpfMultiple => "spf_multiple", "several SPF records";
        /// SPF exceeded ten DNS-querying terms.
        SpfLookupLimit => "spf_lookup_limit", "SPF lookup limit";
        /// SPF reached a domain twice.
        SpfLoop => "spf_loop", "SPF loop";
        /// SPF had more than two void lookups.
        SpfVoidLimit => "spf_void_limit", "SPF void-lookup limit";
        /// An SPF lookup failed.
        SpfLookupFailed => "spf_lookup_failed", "SPF lookup failed";
        /// An SPF include target has no SPF record.
        SpfIncludeWithoutRecord => "spf_include_without_record", "SPF include without record";
        /// An SPF term could not be parsed.
        SpfSyntax => "spf_syntax", "SPF syntax error";
        /// The mail domain was guessed, not given by the seed (issue 17).
        GuessedDomain => "guessed_domain", "guessed domain";
        /// A manual override applied.
        Override => "override", "manual override";
        /// A forced provider override disagrees with the automatic verdict.
        OverrideContradicted => "override_contradicted", "override contradicted";
        /// A provider override did not apply.
        OverrideNotApplied => "override_not_applied", "override not applied";
        /// Status override: merged into another municipality.
        StatusMerged => "status_merged", "merged";
        /// Status override: dissolved.
        StatusDissolved => "status_dissolved", "dissolved";
        /// Status override: has no e-mail.
        StatusNoEmail => "status_no_email", "no e-mail";
        /// Status override: shares its domain legitimately.
        StatusSharedDomain => "status_shared_domain", "shared domain";
    }
}

impl Flag {
    /// The flag of a status override value (`merged`, `dissolved`, …).
    pub fn status(value: &str) -> Option<Flag> {
        Flag::from_slug(&format!("status_{value}"))
    }
}

impl From<SpfFlag> for Flag {
    fn from(f: SpfFlag) -> Flag {
        match f {
            SpfFlag::SpfMultiple => Flag::SpfMultiple,
            SpfFlag::SpfLookupLimit => Flag::SpfLookupLimit,
            SpfFlag::SpfLoop => Flag::SpfLoop,
            SpfFlag::SpfVoidLimit => Flag::SpfVoidLimit,
            SpfFlag::SpfLookupFailed => Flag::SpfLookupFailed,
            SpfFlag::SpfIncludeWithoutRecord => Flag::SpfIncludeWithoutRecord,
            SpfFlag::SpfSyntax => Flag::SpfSyntax,
        }
    }
}

/// The flags as one string, `separator` between them (CSV cells, page text).
pub fn join_flags(flags: &[Flag], separator: &str) -> String {
    flags
        .iter()
        .map(|f| f.slug())
        .collect::<Vec<_>>()
        .join(separator)
}

/// Sorts by slug (the order the data files have always had) and drops repeats.
pub fn normalise(flags: &mut Vec<Flag>) {
    flags.sort_by_key(|f| f.slug());
    flags.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_serialise_to_their_slugs() {
        for f in Flag::ALL {
            let json = serde_json::to_string(f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.slug()));
            let back: Flag = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *f);
        }
        assert_eq!(Flag::MxSplit.slug(), "mx_split");
        assert_eq!(Flag::GuessedDomain.slug(), "guessed_domain");
    }

    #[test]
    fn spf_flags_keep_their_names() {
        for spf in [
            SpfFlag::SpfMultiple,
            SpfFlag::SpfLookupLimit,
            SpfFlag::SpfLoop,
            SpfFlag::SpfVoidLimit,
            SpfFlag::SpfLookupFailed,
            SpfFlag::SpfIncludeWithoutRecord,
            SpfFlag::SpfSyntax,
        ] {
            let name = serde_json::to_value(spf).unwrap();
            assert_eq!(Some(Flag::from(spf).slug()), name.as_str());
        }
    }

    #[test]
    fn flags_sort_by_their_text_and_join() {
        let mut flags = vec![Flag::Override, Flag::AsnOnly, Flag::Gateway, Flag::AsnOnly];
        normalise(&mut flags);
        assert_eq!(join_flags(&flags, ";"), "asn_only;gateway;override");
    }
}
