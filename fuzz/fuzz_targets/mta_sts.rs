//! MTA-STS policy parser: never panics; an accepted policy is STSv1 with a bounded
//! max_age, valid and distinct mx patterns (at least one unless mode is none), each of
//! which matches a host built from it; at most one warning per line; a rejected policy
//! always says why.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxmap::grade::mta_sts::{self, MAX_AGE_LIMIT, StsMode, StsPolicy};
use mxmap::name::DnsName;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match mta_sts::parse_policy(text) {
        Ok(policy) => {
            assert_eq!(policy.version, "STSv1");
            assert!(policy.max_age <= MAX_AGE_LIMIT);
            assert!(!policy.mx.is_empty() || policy.mode == StsMode::None);
            for (i, pattern) in policy.mx.iter().enumerate() {
                assert!(mta_sts::pattern_valid(pattern), "{pattern:?} kept");
                assert!(!policy.mx[..i].contains(pattern), "{pattern:?} twice");
                let host = match pattern.strip_prefix("*.") {
                    Some(suffix) => format!("mx.{suffix}"),
                    None => pattern.clone(),
                };
                // Names at the 253-byte limit plus "mx." may not fit a DNS name.
                if let Ok(host) = DnsName::parse(&host) {
                    assert!(mta_sts::pattern_matches(pattern, &host), "{pattern:?}");
                }
            }
            let lines = text.split('\n').count();
            assert!(policy.warnings.len() <= lines);
            let json = serde_json::to_string(&policy).expect("policy serialises");
            let back: StsPolicy = serde_json::from_str(&json).expect("policy deserialises");
            assert_eq!(back, policy);
        }
        Err(errors) => assert!(!errors.is_empty(), "rejected without a reason"),
    }
});
