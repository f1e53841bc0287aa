//! The field grammars of a zone file: classes, names, TTLs, character strings, numbers,
//! hex, and the RDATA of every record type the world uses (with RFC 3597's generic
//! form for the rest).

// The reader and its field grammars share one set of imports.
#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) fn is_class(text: &str) -> bool {
    ["IN", "CH", "CS", "HS"]
        .iter()
        .any(|c| text.eq_ignore_ascii_case(c))
}

/// Reads an owner or target name: `@` is the origin, a name without a trailing (unescaped)
/// dot is relative to the origin. Labels keep their raw bytes (decimal `\DDD`).
pub(super) fn parse_name(text: &str, origin: Option<&DnsName>) -> Result<DnsName, String> {
    if text == "@" {
        return origin
            .cloned()
            .ok_or_else(|| "'@' used but no origin is known".to_string());
    }
    if text == "." {
        return Err("the root name cannot be used here".to_string());
    }
    let name = DnsName::parse(text).map_err(|e| format!("bad name {text:?}: {e}"))?;
    if ends_with_unescaped_dot(text) {
        return Ok(name);
    }
    let origin = origin.ok_or_else(|| format!("relative name {text:?} but no origin is known"))?;
    let mut labels = name.labels().to_vec();
    labels.extend(origin.labels().iter().cloned());
    DnsName::from_labels(labels).map_err(|e| format!("bad name {text:?} + origin {origin}: {e}"))
}

/// A name in record data as hickory needs it. `.` is the root (the null MX of RFC 7505).
pub(super) fn parse_target(text: &str, origin: Option<&DnsName>) -> Result<Name, String> {
    if text == "." {
        return Ok(Name::root());
    }
    Ok(parse_name(text, origin)?.to_hickory())
}

/// True when the name is absolute: its last character is a dot that is not escaped.
pub(super) fn ends_with_unescaped_dot(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut last_plain_dot = false;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes
                .get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit));
            i += if digits { 4 } else { 2 };
            last_plain_dot = false;
        } else {
            last_plain_dot = bytes[i] == b'.';
            i += 1;
        }
    }
    last_plain_dot
}

/// A TTL or SOA timer: plain seconds, or BIND units such as `1h30m` or `2W`.
pub(super) fn parse_ttl(text: &str) -> Result<u32, String> {
    let bad = || format!("bad TTL {text:?}");
    if let Ok(value) = text.parse::<u32>() {
        return Ok(value);
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            number = Some(number.unwrap_or(0) * 10 + u64::from(d));
            if number > Some(u64::from(u32::MAX)) {
                return Err(bad());
            }
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        total += number.take().ok_or_else(bad)? * unit;
        // Each step adds at most u32::MAX weeks; stopping here keeps the sum in u64.
        if total > u64::from(u32::MAX) {
            return Err(bad());
        }
    }
    if number.is_some() || total > u64::from(u32::MAX) {
        return Err(bad());
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Decodes a character-string: `\DDD` is a decimal byte value, `\X` is X itself.
pub(super) fn decode_string(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1..i + 4) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                let value = d
                    .iter()
                    .fold(0u32, |acc, &b| acc * 10 + u32::from(b - b'0'));
                let value =
                    u8::try_from(value).map_err(|_| format!("escape \\{value} is over 255"))?;
                out.push(value);
                i += 4;
            }
            _ => match bytes.get(i + 1) {
                // `\1` or `\12` followed by a non-digit is ambiguous; NSD rejects it too.
                Some(d) if d.is_ascii_digit() => {
                    return Err("a numeric escape needs exactly three digits (\\DDD)".to_string());
                }
                Some(&c) => {
                    out.push(c);
                    i += 2;
                }
                None => return Err("string ends with a lone backslash".to_string()),
            },
        }
    }
    Ok(out)
}

/// A character-string as the wire allows it. NSD refuses longer strings, and so do we:
/// the record is reported and skipped rather than silently split or cut.
pub(super) fn character_string(token: &Token<'_>) -> Result<Vec<u8>, String> {
    let bytes = decode_string(token.text)?;
    if bytes.len() > MAX_CHARACTER_STRING {
        return Err(format!(
            "character-string of {} bytes is longer than 255; split it into several quoted strings",
            bytes.len()
        ));
    }
    Ok(bytes)
}

pub(super) fn number<T: std::str::FromStr>(token: &Token<'_>, what: &str) -> Result<T, String> {
    token
        .text
        .parse()
        .map_err(|_| format!("bad {what} {:?}", token.text))
}

pub(super) fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = text.bytes().collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {text:?}"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| format!("bad hex {text:?}"))?;
            u8::from_str_radix(s, 16).map_err(|_| format!("bad hex {text:?}"))
        })
        .collect()
}

/// Checks the number of rdata fields for fixed-layout types.
pub(super) fn expect_fields<'t, 'a, const N: usize>(
    tokens: &[&'t Token<'a>],
    rtype: &str,
    layout: &str,
) -> Result<[&'t Token<'a>; N], String> {
    <[&Token<'a>; N]>::try_from(tokens).map_err(|_| {
        format!(
            "{rtype} needs {N} fields ({layout}), found {}",
            tokens.len()
        )
    })
}

/// Builds the record data for one type from its presentation-form fields.
pub(super) fn parse_rdata(
    rtype: &str,
    tokens: &[&Token<'_>],
    origin: Option<&DnsName>,
) -> Result<RData, String> {
    let upper = rtype.to_ascii_uppercase();

    // RFC 3597 generic form works for every type, known or not.
    if tokens.first().is_some_and(|t| !t.quoted && t.text == "\\#") {
        let code = match upper.strip_prefix("TYPE") {
            Some(n) => RecordType::from(n.parse::<u16>().map_err(|_| format!("bad type {rtype}"))?),
            None => upper
                .parse::<RecordType>()
                .map_err(|_| format!("unknown record type {rtype}"))?,
        };
        return generic_rdata(code, &tokens[1..]);
    }

    Ok(match upper.as_str() {
        "A" => {
            let [a] = expect_fields(tokens, "A", "address")?;
            RData::A(A(a
                .text
                .parse::<Ipv4Addr>()
                .map_err(|_| format!("bad IPv4 address {:?}", a.text))?))
        }
        "AAAA" => {
            let [a] = expect_fields(tokens, "AAAA", "address")?;
            RData::AAAA(AAAA(
                a.text
                    .parse::<Ipv6Addr>()
                    .map_err(|_| format!("bad IPv6 address {:?}", a.text))?,
            ))
        }
        "NS" => {
            let [n] = expect_fields(tokens, "NS", "name server")?;
            RData::NS(NS(parse_target(n.text, origin)?))
        }
        "CNAME" => {
            let [n] = expect_fields(tokens, "CNAME", "target")?;
            RData::CNAME(CNAME(parse_target(n.text, origin)?))
        }
        "PTR" => {
            let [n] = expect_fields(tokens, "PTR", "target")?;
            RData::PTR(PTR(parse_target(n.text, origin)?))
        }
        "MX" => {
            let [pref, exchange] = expect_fields(tokens, "MX", "preference exchange")?;
            RData::MX(MX::new(
                number(pref, "MX preference")?,
                parse_target(exchange.text, origin)?,
            ))
        }
        "SRV" => {
            let [prio, weight, port, target] =
                expect_fields(tokens, "SRV", "priority weight port target")?;
            RData::SRV(SRV::new(
                number(prio, "SRV priority")?,
                number(weight, "SRV weight")?,
                number(port, "SRV port")?,
                parse_target(target.text, origin)?,
            ))
        }
        "SOA" => {
            let [mname, rname, serial, refresh, retry, expire, minimum] = expect_fields(
                tokens,
                "SOA",
                "mname rname serial refresh retry expire minimum",
            )?;
            RData::SOA(SOA::new(
                parse_target(mname.text, origin)?,
                parse_target(rname.text, origin)?,
                number(serial, "SOA serial")?,
                i32::try_from(parse_ttl(refresh.text)?).map_err(|_| "SOA refresh too large")?,
                i32::try_from(parse_ttl(retry.text)?).map_err(|_| "SOA retry too large")?,
                i32::try_from(parse_ttl(expire.text)?).map_err(|_| "SOA expire too large")?,
                parse_ttl(minimum.text)?,
            ))
        }
        "TXT" => {
            if tokens.is_empty() {
                return Err("TXT needs at least one character-string".to_string());
            }
            let strings = tokens
                .iter()
                .map(|t| character_string(t))
                .collect::<Result<Vec<_>, _>>()?;
            RData::TXT(TXT::from_bytes(strings.iter().map(Vec::as_slice).collect()))
        }
        "TLSA" => {
            if tokens.len() < 4 {
                return Err(format!(
                    "TLSA needs usage selector matching and hex data, found {} fields",
                    tokens.len()
                ));
            }
            let usage: u8 = number(tokens[0], "TLSA usage")?;
            let selector: u8 = number(tokens[1], "TLSA selector")?;
            let matching: u8 = number(tokens[2], "TLSA matching type")?;
            // The association data may be split into several whitespace-separated chunks.
            let mut data = Vec::new();
            for chunk in &tokens[3..] {
                data.extend(hex(chunk.text)?);
            }
            RData::TLSA(TLSA::new(
                CertUsage::from(usage),
                Selector::from(selector),
                Matching::from(matching),
                data,
            ))
        }
        "CAA" => {
            let [flags, tag, value] = expect_fields(tokens, "CAA", "flags tag value")?;
            let flags: u8 = number(flags, "CAA flags")?;
            let tag_bytes = tag.text.as_bytes();
            if tag_bytes.is_empty()
                || tag_bytes.len() > 255
                || !tag_bytes.iter().all(u8::is_ascii_alphanumeric)
            {
                return Err(format!("bad CAA tag {:?}", tag.text));
            }
            // Build the wire form and let hickory decode it, since its CAA type keeps
            // its fields behind constructors that only cover some tags.
            let mut wire = vec![flags, tag_bytes.len() as u8];
            wire.extend_from_slice(tag_bytes);
            wire.extend(decode_string(value.text)?);
            return decode_wire(RecordType::CAA, &wire);
        }
        _ => {
            return Err(format!(
                "record type {rtype} is not supported in presentation form; write it as \\# <length> <hex>"
            ));
        }
    })
}

/// RFC 3597 `\# <length> <hex>…`.
pub(super) fn generic_rdata(code: RecordType, tokens: &[&Token<'_>]) -> Result<RData, String> {
    let (length, chunks) = tokens.split_first().ok_or("\\# needs a length")?;
    let length: usize = number(length, "\\# length")?;
    let mut data = Vec::new();
    for chunk in chunks {
        data.extend(hex(chunk.text)?);
    }
    if data.len() != length {
        return Err(format!("\\# says {length} bytes but has {}", data.len()));
    }
    decode_wire(code, &data)
}

/// Decodes wire-format record data; unknown types are kept as opaque bytes.
pub(super) fn decode_wire(code: RecordType, data: &[u8]) -> Result<RData, String> {
    if let RecordType::Unknown(_) = code {
        return Ok(RData::Unknown {
            code,
            rdata: NULL::with(data.to_vec()),
        });
    }
    let length = u16::try_from(data.len()).map_err(|_| "record data longer than 65535 bytes")?;
    let mut decoder = BinDecoder::new(data);
    let rdata = RData::read(&mut decoder, code, Restrict::new(length))
        .map_err(|e| format!("bad {code} data: {e}"))?;
    if decoder.index() != data.len() {
        return Err(format!("bad {code} data: trailing bytes"));
    }
    Ok(rdata)
}
