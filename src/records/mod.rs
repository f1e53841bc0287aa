//! Record grammars shared by the scan and the grade: what a published DNS or HTTPS
//! record says, without any policy about it. A leaf: it depends on nothing but
//! [`crate::name`] and [`crate::evidence`], so both [`crate::scan`] and
//! [`crate::grade`] can read records without depending on each other.
//!
//! - [`mta_sts`]: the `_mta-sts` TXT record and the MTA-STS policy text.

pub mod mta_sts;
