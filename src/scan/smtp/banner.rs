//! What a greeting and an EHLO reply say besides their codes: the host name the server
//! announces, the MTA software it names, and the EHLO keywords (security spec §3, §10).

use crate::name::DnsName;

/// MTA products recognised in greetings: (needle, name recorded). Matched
/// case-insensitively on word boundaries, first hit wins, so longer and more specific
/// needles come before shorter ones ("Microsoft ESMTP MAIL Service" before "Exchange").
const SOFTWARE: &[(&str, &str)] = &[
    (
        "Microsoft ESMTP MAIL Service",
        "Microsoft ESMTP MAIL Service",
    ),
    ("Microsoft Exchange", "Microsoft Exchange"),
    ("Exchange Server", "Microsoft Exchange"),
    ("Postfix", "Postfix"),
    ("Exim", "Exim"),
    ("Sendmail", "Sendmail"),
    ("netqmail", "qmail"),
    ("qmail", "qmail"),
    ("Haraka", "Haraka"),
    ("SEPPmail", "SEPPmail"),
    ("IronPort", "Cisco IronPort"),
    ("Cisco", "Cisco IronPort"),
    ("OpenSMTPD", "OpenSMTPD"),
    ("MailEnable", "MailEnable"),
    ("Kerio Connect", "Kerio Connect"),
    ("Kerio", "Kerio Connect"),
    ("Zimbra", "Zimbra"),
    ("hMailServer", "hMailServer"),
    ("MDaemon", "MDaemon"),
    ("Axigen", "Axigen"),
    ("CommuniGate Pro", "CommuniGate Pro"),
    ("IceWarp", "IceWarp"),
    ("Lotus Domino", "HCL Domino"),
    ("Domino", "HCL Domino"),
    ("GroupWise", "GroupWise"),
    ("Courier", "Courier"),
    ("FortiMail", "FortiMail"),
    ("Barracuda", "Barracuda"),
    ("Sophos", "Sophos"),
    ("Proofpoint", "Proofpoint"),
    ("Mimecast", "Mimecast"),
    ("Trend Micro", "Trend Micro"),
    ("Symantec", "Symantec Messaging Gateway"),
    ("Halon", "Halon"),
];

/// Keywords starting with this many `X` and as long as `STARTTLS` are what middleboxes
/// (Cisco PIX/ASA "ESMTP inspection") leave of a masked STARTTLS.
const STRIPPED_PREFIX: &str = "XXXX";

/// The first token of a reply's first line when it is a syntactically valid FQDN: at
/// least two labels of letters, digits, hyphens (and underscores), a top-level label
/// that is not all digits (so IPv4 literals are not names).
/// An RFC 3463 enhanced status code (`4.3.2`) that some servers put before the name in
/// rejections is skipped.
pub(super) fn host_token(first_line: &str) -> Option<DnsName> {
    let mut tokens = first_line.split_whitespace();
    let mut token = tokens.next()?;
    if is_enhanced_code(token) {
        token = tokens.next()?;
    }
    if token.contains('\\') || token.starts_with('.') {
        return None;
    }
    let name = DnsName::parse(token).ok()?;
    let labels = name.labels();
    if labels.len() < 2 || !name.is_plain() {
        return None;
    }
    let tld = labels.last()?;
    if tld.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let hyphen_edge = labels
        .iter()
        .any(|l| l.first() == Some(&b'-') || l.last() == Some(&b'-'));
    (!hyphen_edge).then_some(name)
}

/// `class.subject.detail` with class 2, 4 or 5 and numbers of one to three digits.
fn is_enhanced_code(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The MTA software named in a greeting, if any. The announced host name (first token
/// of the first line, when it is a name) is skipped so that `postfix.example.org` does
/// not count as Postfix.
pub(super) fn software(greeting_lines: &[String]) -> Option<String> {
    let mut text = String::new();
    for (i, line) in greeting_lines.iter().enumerate() {
        let line = if i == 0 && host_token(line).is_some() {
            // Drop the enhanced status code, if any, and the host name.
            let mut rest = line.trim_start();
            loop {
                let (token, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                rest = after.trim_start();
                if !is_enhanced_code(token) {
                    break;
                }
            }
            rest
        } else {
            line.as_str()
        };
        text.push_str(line);
        text.push('\n');
    }
    let lower = text.to_ascii_lowercase();
    SOFTWARE
        .iter()
        .find(|(needle, _)| contains_word(&lower, &needle.to_ascii_lowercase()))
        .map(|(_, name)| (*name).to_string())
}

/// True when `needle` occurs in `haystack` with no letter or digit right before or after.
fn contains_word(haystack: &str, needle: &str) -> bool {
    let bytes = haystack.as_bytes();
    haystack.match_indices(needle).any(|(at, _)| {
        let before = at.checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(at + needle.len()).copied();
        !before.is_some_and(|b| b.is_ascii_alphanumeric())
            && !after.is_some_and(|b| b.is_ascii_alphanumeric())
    })
}

/// EHLO keywords (upper case), one per line after the first (which names the host).
pub(super) fn ehlo_keywords(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_ascii_uppercase)
        .collect()
}

/// True when a keyword looks like STARTTLS masked by a middlebox (`XXXXXXXA`).
pub(super) fn looks_stripped(keywords: &[String]) -> bool {
    keywords
        .iter()
        .any(|k| k.len() == "STARTTLS".len() && k.starts_with(STRIPPED_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn host_token_accepts_only_fqdns() {
        let host = |s: &str| host_token(s).map(|n| n.to_string());
        assert_eq!(
            host("mx01.Example.ORG ESMTP Postfix").as_deref(),
            Some("mx01.example.org")
        );
        assert_eq!(
            host("4.3.2 mx.example.org busy").as_deref(),
            Some("mx.example.org")
        );
        assert_eq!(
            host("mail-1.gemeinde_x.ch. ready").as_deref(),
            Some("mail-1.gemeinde_x.ch")
        );
        for bad in [
            "ESMTP Postfix",
            "localhost ESMTP",
            "192.0.2.1 ESMTP",
            "[192.0.2.1] ESMTP",
            "*********************",
            "mx\\032.example.org",
            "-bad.example.org",
            "bad-.example.org x",
            "mx..example.org",
            "mx.example.org,",
            "",
        ] {
            assert_eq!(host(bad), None, "{bad}");
        }
    }

    #[test]
    fn software_from_greeting() {
        let sw = |text: &[&str]| software(&lines(text));
        assert_eq!(
            sw(&["mx.example.org ESMTP Postfix (Debian/GNU)"]).as_deref(),
            Some("Postfix")
        );
        assert_eq!(
            sw(&["MAIL.example.org Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024"])
                .as_deref(),
            Some("Microsoft ESMTP MAIL Service")
        );
        assert_eq!(
            sw(&["mx.example.org ESMTP Exim 4.96 Mon, 01 Jan 2024"]).as_deref(),
            Some("Exim")
        );
        assert_eq!(
            sw(&["-mx.example.org", "SEPPmail ESMTP"]).as_deref(),
            Some("SEPPmail")
        );
        assert_eq!(
            sw(&["mx.example.org ESMTP Sendmail 8.15.2/8.15.2"]).as_deref(),
            Some("Sendmail")
        );
        // The host name alone does not name software; nor do words containing a needle.
        assert_eq!(sw(&["postfix.example.org ESMTP"]), None);
        assert_eq!(sw(&["5.7.1 exim.example.org go away"]), None);
        assert_eq!(sw(&["mx.example.org ESMTP proximity eximious"]), None);
        assert_eq!(sw(&["mx.example.org ESMTP"]), None);
    }

    #[test]
    fn keywords_and_stripped_starttls() {
        let reply = lines(&[
            "mx.example.org Hello [127.0.0.1]",
            "SIZE 10240000",
            "pipelining",
            "XXXXXXXA",
            "8BITMIME",
        ]);
        let kw = ehlo_keywords(&reply);
        assert_eq!(kw, vec!["SIZE", "PIPELINING", "XXXXXXXA", "8BITMIME"]);
        assert!(looks_stripped(&kw));
        assert!(!looks_stripped(&lines(&["STARTTLS", "XXXX", "XXXXXXXXXX"])));
    }
}
