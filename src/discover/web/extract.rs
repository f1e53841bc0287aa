//! What a page says: e-mail addresses (plain, `mailto:`, entity-encoded, `(at)`/`[at]`
//! spellings, Cloudflare `data-cfemail`, TYPO3 `linkTo_UnCryptMailto`), links, and
//! whether it is a parked page (classification spec §9.2). Works on bytes from the
//! network: never panics, never indexes by input-dependent byte offsets into `str`.

/// Lower-case addresses found in `html`, each once, in order of first appearance.
pub fn addresses(html: &str) -> Vec<String> {
    let decoded = decode_entities(html);
    let mut out: Vec<String> = Vec::new();
    let mut push = |a: String| {
        if !out.contains(&a) {
            out.push(a);
        }
    };
    for target in attribute_values(&decoded, "href") {
        if let Some(rest) = strip_prefix_ignore_case(&target, "mailto:") {
            let addr = percent_decode(rest.split(['?', '#']).next().unwrap_or_default());
            for a in scan_plain(&addr) {
                push(a);
            }
        }
        if let Some(a) = typo3_uncrypt(&target) {
            push(a);
        }
    }
    for hex in attribute_values(&decoded, "data-cfemail") {
        if let Some(a) = cloudflare_decode(&hex) {
            push(a);
        }
    }
    for a in scan_plain(&deobfuscate(&strip_tags(&decoded))) {
        push(a);
    }
    out
}

/// The values of every `name="…"` (or `'…'`) attribute, in order.
pub fn attribute_values(html: &str, name: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let needle = format!("{name}=");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = lower.get(from..).and_then(|s| s.find(&needle)) {
        let start = from + pos + needle.len();
        from = start;
        let rest = html.get(start..).unwrap_or_default();
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            continue;
        };
        let body = &rest[quote.len_utf8()..];
        if let Some(end) = body.find(quote) {
            out.push(body[..end].trim().to_string());
        }
    }
    out
}

/// True when the page reads like a parked or for-sale domain.
pub fn is_parked(html: &str, phrases: &[String]) -> bool {
    let lower = html.to_lowercase();
    phrases.iter().any(|p| lower.contains(p.as_str()))
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Numeric and the common named entities (`&#64;`, `&#x40;`, `&commat;`, `&period;`).
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|e| entity(&rest[1..e]).map(|c| (c, e)));
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &rest[e + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "commat" => '@',
        "period" => '.',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "hyphen" | "dash" => '-',
        _ => return None,
    })
}

/// The text between tags (tags become spaces; scripts and styles are kept, since some
/// sites assemble addresses there).
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// `name (at) domain (dot) es`, `name[at]domain.es`, `name {at} domain`.
fn deobfuscate(text: &str) -> String {
    let mut t = text.to_string();
    for (from, to) in [
        (" (at) ", "@"),
        ("(at)", "@"),
        (" [at] ", "@"),
        ("[at]", "@"),
        (" {at} ", "@"),
        ("{at}", "@"),
        (" (dot) ", "."),
        ("(dot)", "."),
        (" [dot] ", "."),
        ("[dot]", "."),
        (" (punkt) ", "."),
        ("(punkt)", "."),
        (" (arroba) ", "@"),
        ("(arroba)", "@"),
        (" [ät] ", "@"),
    ] {
        if t.contains(from) {
            t = t.replace(from, to);
        }
    }
    t
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every `local@domain` in plain text with a plausible domain (a dot, an alphabetic
/// TLD of two or more letters), lower case.
pub fn scan_plain(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let local_char = |c: char| c.is_ascii_alphanumeric() || "._%+-".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let mut out = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if *c != '@' {
            continue;
        }
        let mut start = i;
        while start > 0 && local_char(chars[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < chars.len() && domain_char(chars[end]) {
            end += 1;
        }
        let local: String = chars[start..i].iter().collect();
        let domain: String = chars[i + 1..end].iter().collect();
        let local = local.trim_matches('.');
        let domain = domain.trim_matches(['.', '-']).to_lowercase();
        if local.is_empty() || !plausible_domain(&domain) {
            continue;
        }
        out.push(format!("{}@{domain}", local.to_lowercase()));
    }
    out
}

fn plausible_domain(domain: &str) -> bool {
    let Some((_, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    tld.len() >= 2
        && tld.chars().all(char::is_alphabetic)
        && domain.split('.').all(|l| !l.is_empty() && l.len() <= 63)
        && domain.len() <= 253
        // File names that look like addresses (`logo@2x.png`).
        && !matches!(tld, "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "css" | "js")
}

/// Cloudflare's e-mail protection: hex bytes, the first is the XOR key.
fn cloudflare_decode(hex: &str) -> Option<String> {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<_>>()?;
    let (key, rest) = bytes.split_first()?;
    let text: String = rest.iter().map(|b| char::from(b ^ key)).collect();
    scan_plain(&text).into_iter().next()
}

/// TYPO3's `javascript:linkTo_UnCryptMailto('…')`: a Caesar shift over `+`–`:`, `@`–`Z`
/// and `a`–`z`; every offset is tried and the first that spells `mailto:` wins.
fn typo3_uncrypt(href: &str) -> Option<String> {
    let start = href.find("linkTo_UnCryptMailto(")? + "linkTo_UnCryptMailto(".len();
    let arg = href.get(start..)?.trim_start_matches(['\'', '"', ' ']);
    let end = arg.find(['\'', '"', ')'])?;
    let encoded = &arg[..end];
    for offset in -25i32..=25 {
        let decoded: String = encoded.chars().map(|c| shift(c, offset)).collect();
        if let Some(rest) = decoded.strip_prefix("mailto:") {
            return scan_plain(&percent_decode(rest)).into_iter().next();
        }
    }
    None
}

fn shift(c: char, offset: i32) -> char {
    let ranges = [(0x2B, 0x3A), (0x40, 0x5A), (0x61, 0x7A)];
    let code = c as i32;
    for (lo, hi) in ranges {
        if (lo..=hi).contains(&code) {
            let span = hi - lo + 1;
            let shifted = lo + (code - lo + offset).rem_euclid(span);
            return char::from_u32(shifted as u32).unwrap_or(c);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_mailto_and_encoded_addresses() {
        let html = r#"<p>Write to <a href="mailto:Info@Gemeinde-Abtenau.at?subject=x">us</a>
            or buergermeister&#64;abtenau.at, sekretariat &#x40; x</p>
            <span>amt (at) abtenau (dot) at</span> <img src="logo@2x.png">"#;
        let a = addresses(html);
        assert_eq!(
            a,
            [
                "info@gemeinde-abtenau.at",
                "buergermeister@abtenau.at",
                "amt@abtenau.at"
            ]
        );
    }

    #[test]
    fn cloudflare_and_typo3_obfuscations() {
        // "a@b.es" XOR 0x42.
        let key = 0x42u8;
        let hex: String = std::iter::once(key)
            .chain("a@b.es".bytes().map(|b| b ^ key))
            .map(|b| format!("{b:02x}"))
            .collect();
        let html = format!(r#"<a data-cfemail="{hex}">[email protected]</a>"#);
        assert_eq!(addresses(&html), ["a@b.es"]);
        // TYPO3 with offset +3: "mailto:info@x.de" shifted.
        let enc: String = "mailto:info@x.de".chars().map(|c| shift(c, 3)).collect();
        let html = format!(r#"<a href="javascript:linkTo_UnCryptMailto('{enc}');">mail</a>"#);
        assert_eq!(addresses(&html), ["info@x.de"]);
    }

    #[test]
    fn hostile_input_never_panics() {
        for s in [
            "@",
            "a@",
            "@b",
            "&#;",
            "&#x110000;",
            "&",
            "<a href=\"mailto:",
            "%",
            "%4",
            "é@é.é",
            "mailto:%zz@x",
        ] {
            let _ = addresses(s);
        }
        assert_eq!(decode_entities("a&#64;b &foo; &"), "a@b &foo; &");
        assert!(is_parked(
            "<h1>This domain is FOR SALE!</h1>",
            &["domain is for sale".to_string()]
        ));
        assert_eq!(
            attribute_values("<a href='/kontakt'>", "href"),
            ["/kontakt"]
        );
    }
}
