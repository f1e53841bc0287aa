//! A tolerant reader for RFC 1035 master files ("zone files").
//!
//! Written here instead of using hickory's `Parser` because the recorded world contains
//! names that hickory rejects or misreads (see the [module documentation](super)): `_`
//! inside labels, `\032` and `\@` escapes, a bare `~.` MX target, and `\DDD` escapes that
//! RFC 1035 §5.1 defines as *decimal* but hickory reads as octal. Every name is read with
//! [`DnsName::parse`], which keeps raw label bytes, and converted with
//! [`DnsName::to_hickory`].
//!
//! The reader never gives up on a whole file: a line it cannot load becomes a [`Problem`]
//! with its file and line number, and the rest of the zone still loads.
//!
//! Supported: `$ORIGIN`, `$TTL` (`$INCLUDE` and `$GENERATE` are reported, not followed),
//! `;` comments outside quotes, `@`, relative owner and target names, a blank owner field
//! (repeat the previous owner), optional TTL and class `IN` in either order, parentheses
//! spanning lines, and the record types SOA, NS, MX, TXT, CNAME, A, AAAA, SRV, TLSA, PTR and
//! CAA, plus any type in the RFC 3597 generic form `\# <length> <hex>`.

use std::{
    collections::HashMap,
    fmt,
    net::{Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use hickory_proto::{
    rr::{
        Name, RData, Record, RecordType,
        rdata::{
            A, AAAA, CNAME, MX, NS, NULL, PTR, SOA, SRV, TLSA, TXT,
            tlsa::{CertUsage, Matching, Selector},
        },
    },
    serialize::binary::{BinDecoder, Restrict},
};

use crate::name::DnsName;

/// TTL used when the file states none: neither `$TTL` nor an explicit TTL on an earlier
/// record. 3600 s is what the recorded world uses everywhere and what NSD would be told.
const DEFAULT_TTL: u32 = 3600;

/// Longest character-string in TXT and CAA data (one length octet, RFC 1035 §3.3).
const MAX_CHARACTER_STRING: usize = 255;

/// One zone as read from one master file.
#[derive(Debug, Clone)]
pub struct Zone {
    /// The zone apex: first `$ORIGIN`, else the caller's default, else the file name.
    pub origin: DnsName,
    /// The file the zone was read from (for messages only).
    pub file: PathBuf,
    /// Every record that could be loaded, in file order, names fully qualified.
    pub records: Vec<Record>,
}

/// A line (or whole-file condition) that could not be loaded. The rest of the zone loads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The master file.
    pub file: PathBuf,
    /// 1-based line where the offending entry starts; 0 when it concerns the whole file
    /// (for example a missing SOA).
    pub line: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Problem {
    /// `file:line: message`, the format editors and compilers use, so it can be clicked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// Reads and parses one master file. Only I/O errors fail; anything else is a [`Problem`].
///
/// The file must be UTF-8 (non-ASCII bytes in the recorded world are all written as
/// `\DDD` escapes, as NSD and dnspython write them); other encodings are an I/O error.
pub fn read_zone(
    path: &Path,
    default_origin: Option<&DnsName>,
) -> std::io::Result<(Zone, Vec<Problem>)> {
    let text = std::fs::read_to_string(path)?;
    Ok(parse_zone(&text, path, default_origin))
}

/// Parses master-file text. `file` is used for the origin fallback and for messages.
///
/// The origin is the first `$ORIGIN` seen before any record, else `default_origin`, else
/// the file name without `.zone` (`de.zone` → `de.`, `origin.asn.cymru.com.zone` →
/// `origin.asn.cymru.com.`).
pub fn parse_zone(
    text: &str,
    file: &Path,
    default_origin: Option<&DnsName>,
) -> (Zone, Vec<Problem>) {
    let mut reader = Reader::new(file, default_origin);
    for entry in Tokenizer::new(text) {
        match entry {
            Ok(entry) => reader.entry(&entry),
            Err((line, message)) => reader.problem(line, message),
        }
    }
    reader.finish()
}

/// The origin implied by a file name: the name without a trailing `.zone`.
pub fn origin_from_file_name(path: &Path) -> Option<DnsName> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".zone").unwrap_or(name);
    DnsName::parse(stem).ok()
}

// ---------------------------------------------------------------------------------------
// Tokenizer: turns text into entries (one logical record or directive each).

/// One token of an entry, with escapes still in it (names and strings decode differently).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Token<'a> {
    /// Raw text; for a quoted token, the text between the quotes.
    text: &'a str,
    /// Whether it was written in double quotes (then it is never `@`, a directive, …).
    quoted: bool,
}

/// One logical line: possibly several physical lines joined by parentheses.
#[derive(Debug)]
struct RawEntry<'a> {
    /// 1-based line where the entry starts; problems are reported there.
    line: usize,
    /// The first physical line began with blank space: the owner is the previous one.
    blank_owner: bool,
    tokens: Vec<Token<'a>>,
}

/// Splits text into entries. Errors carry the starting line of the broken entry; after an
/// error the tokenizer resynchronises at the next physical line outside parentheses.
///
/// A `(` that is never closed would swallow the rest of the file into one entry. So an
/// entry still open at the end of the file, or whose continuation line starts a new
/// record at column 0 (`name IN A …`), is an error at the line of its `(`, and reading
/// resumes on the line after it: only that line is lost.
struct Tokenizer<'a> {
    lines: Vec<&'a str>,
    /// Index of the next physical line to read.
    next_line: usize,
    /// Times reading went back after an unclosed `(`.
    rewinds: usize,
}

/// Going back after an unclosed `(` re-reads the rest of the file; after this many in
/// one file the rest is given up (a file made of open parentheses is not a zone).
const MAX_REWINDS: usize = 1000;

impl<'a> Tokenizer<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            lines: text.split('\n').collect(),
            next_line: 0,
            rewinds: 0,
        }
    }

    /// The error for an entry whose `(` is not closed; reading resumes after its first
    /// line (or gives up on the rest of the file after [`MAX_REWINDS`]).
    fn unclosed(&mut self, start: usize, why: String) -> (usize, String) {
        if self.rewinds < MAX_REWINDS {
            self.rewinds += 1;
            self.next_line = start + 1;
            (
                start + 1,
                format!("unclosed '(': {why}; only this line was skipped"),
            )
        } else {
            let lost = self.lines.len().saturating_sub(start);
            self.next_line = self.lines.len();
            (
                start + 1,
                format!(
                    "unclosed '(': {why}; too many unclosed parentheses, the remaining {lost} lines were not loaded"
                ),
            )
        }
    }
}

/// True when a physical line at column 0 reads like a record of its own (an owner,
/// then a class or type among its next tokens): inside parentheses it means the `(`
/// before it was never closed.
fn starts_a_record(line: &str) -> bool {
    const TYPES: [&str; 12] = [
        "IN", "SOA", "NS", "MX", "TXT", "CNAME", "A", "AAAA", "SRV", "TLSA", "PTR", "CAA",
    ];
    if line.starts_with([' ', '\t', ';', ')', '"']) || line.trim().is_empty() {
        return false;
    }
    line.split_whitespace()
        .skip(1)
        .take(3)
        .any(|t| TYPES.iter().any(|k| t.eq_ignore_ascii_case(k)))
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Result<RawEntry<'a>, (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut entry: Option<(usize, RawEntry<'a>)> = None;
        let mut depth = 0usize;
        while let Some(&line) = self.lines.get(self.next_line) {
            let index = self.next_line;
            self.next_line += 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if let Some((start, _)) = &entry
                && depth > 0
                && starts_a_record(line)
            {
                let start = *start;
                return Some(Err(self.unclosed(
                    start,
                    format!("line {} starts a new record before it is closed", index + 1),
                )));
            }
            let (_, current) = entry.get_or_insert_with(|| {
                (
                    index,
                    RawEntry {
                        line: index + 1,
                        blank_owner: line.starts_with([' ', '\t']),
                        tokens: Vec::new(),
                    },
                )
            });
            if let Err(message) = tokenize_line(line, &mut depth, &mut current.tokens) {
                return Some(Err((current.line, message)));
            }
            if depth == 0 {
                if current.tokens.is_empty() {
                    // Blank or comment-only line: the next line starts a new entry.
                    entry = None;
                    continue;
                }
                return entry.map(|(_, e)| Ok(e));
            }
        }
        // End of text while still inside parentheses.
        let (start, _) = entry?;
        Some(Err(self.unclosed(start, "it is never closed".to_string())))
    }
}

/// Appends the tokens of one physical line, tracking parenthesis depth across lines.
fn tokenize_line<'a>(
    line: &'a str,
    depth: &mut usize,
    tokens: &mut Vec<Token<'a>>,
) -> Result<(), String> {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' => i += 1,
            b';' => break,
            b'(' => {
                *depth += 1;
                i += 1;
            }
            b')' => {
                if *depth == 0 {
                    return Err("')' without a matching '('".to_string());
                }
                *depth -= 1;
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                let mut j = start;
                while j < bytes.len() && bytes[j] != b'"' {
                    // A backslash protects the next byte (enough for `\"`; `\DDD` digits
                    // are never quotes).
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                if j >= bytes.len() {
                    return Err(
                        "unterminated quoted string (strings cannot span lines)".to_string()
                    );
                }
                tokens.push(Token {
                    text: &line[start..j],
                    quoted: true,
                });
                i = j + 1;
            }
            _ => {
                let start = i;
                let mut j = i;
                while j < bytes.len()
                    && !matches!(bytes[j], b' ' | b'\t' | b';' | b'(' | b')' | b'"')
                {
                    j += if bytes[j] == b'\\' { 2 } else { 1 };
                }
                // A trailing lone backslash would step past the end; the name or string
                // parser reports it as a bad escape.
                let end = j.min(bytes.len());
                tokens.push(Token {
                    text: &line[start..end],
                    quoted: false,
                });
                i = end;
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Reader: turns entries into records.

/// What has been seen at one owner name, to enforce "CNAME and other data" (RFC 1034 §3.6.2)
/// the way NSD does instead of letting the server silently drop one of them.
#[derive(Default)]
struct OwnerState {
    cname: Option<Name>,
    other: bool,
}

struct Reader<'f> {
    file: &'f Path,
    /// Origin used before any `$ORIGIN`: the caller's default or the file name.
    fallback_origin: Option<DnsName>,
    /// Origin for relative names right now.
    current_origin: Option<DnsName>,
    /// The zone apex, fixed by the first `$ORIGIN` before any record or by the first record.
    zone_origin: Option<DnsName>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<DnsName>,
    has_soa: bool,
    owners: HashMap<DnsName, OwnerState>,
    records: Vec<Record>,
    problems: Vec<Problem>,
}

impl<'f> Reader<'f> {
    fn new(file: &'f Path, default_origin: Option<&DnsName>) -> Self {
        let fallback_origin = default_origin
            .cloned()
            .or_else(|| origin_from_file_name(file));
        Self {
            file,
            current_origin: fallback_origin.clone(),
            fallback_origin,
            zone_origin: None,
            default_ttl: None,
            last_ttl: None,
            last_owner: None,
            has_soa: false,
            owners: HashMap::new(),
            records: Vec::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, line: usize, message: String) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    fn entry(&mut self, entry: &RawEntry<'_>) {
        let first = &entry.tokens[0];
        let result = if !entry.blank_owner && !first.quoted && first.text.starts_with('$') {
            self.directive(entry)
        } else {
            self.record(entry)
        };
        if let Err(message) = result {
            self.problem(entry.line, message);
        }
    }

    fn directive(&mut self, entry: &RawEntry<'_>) -> Result<(), String> {
        let name = entry.tokens[0].text;
        let args = &entry.tokens[1..];
        match name.to_ascii_uppercase().as_str() {
            "$ORIGIN" => {
                let [arg] = args else {
                    return Err("$ORIGIN takes exactly one name".to_string());
                };
                // A relative $ORIGIN is relative to the current one (as in BIND and NSD).
                let origin = parse_name(arg.text, self.current_origin.as_ref())?;
                if self.zone_origin.is_none() && self.records.is_empty() {
                    self.zone_origin = Some(origin.clone());
                }
                self.current_origin = Some(origin);
                Ok(())
            }
            "$TTL" => {
                let [arg] = args else {
                    return Err("$TTL takes exactly one value".to_string());
                };
                self.default_ttl = Some(parse_ttl(arg.text)?);
                Ok(())
            }
            "$INCLUDE" => {
                Err("$INCLUDE is not supported; put the records in this file".to_string())
            }
            other => Err(format!("unknown directive {other}")),
        }
    }

    fn record(&mut self, entry: &RawEntry<'_>) -> Result<(), String> {
        let mut tokens = entry.tokens.iter().peekable();

        // Owner: blank means "same as the previous record".
        let owner = if entry.blank_owner {
            self.last_owner
                .clone()
                .ok_or("blank owner field but no previous owner")?
        } else {
            let token = tokens.next().expect("entries are never empty");
            let owner = parse_name(token.text, self.current_origin.as_ref())?;
            self.last_owner = Some(owner.clone());
            owner
        };

        // The apex is settled by the first record at the latest.
        if self.zone_origin.is_none() {
            self.zone_origin = self.current_origin.clone();
        }
        let zone_origin = self
            .zone_origin
            .clone()
            .ok_or("no origin: add $ORIGIN or name the file <zone>.zone")?;
        if !owner.is_subdomain_of(&zone_origin) {
            return Err(format!("{owner} is outside the zone {zone_origin}"));
        }

        // Optional TTL and class, in either order.
        let mut ttl = None;
        let mut class_seen = false;
        let rtype = loop {
            let token = tokens.next().ok_or("missing record type")?;
            let text = token.text;
            if ttl.is_none() && text.starts_with(|c: char| c.is_ascii_digit()) {
                ttl = Some(parse_ttl(text)?);
            } else if !class_seen && is_class(text) {
                if !text.eq_ignore_ascii_case("IN") {
                    return Err(format!("class {text} is not supported (only IN)"));
                }
                class_seen = true;
            } else {
                break text;
            }
        };
        let ttl = match ttl {
            Some(ttl) => {
                self.last_ttl = Some(ttl);
                ttl
            }
            // RFC 2308: $TTL; before it existed, the last explicit TTL (RFC 1035 §5.1).
            None => self.default_ttl.or(self.last_ttl).unwrap_or(DEFAULT_TTL),
        };

        let rdata_tokens: Vec<&Token<'_>> = tokens.collect();
        let origin = self.current_origin.as_ref();
        let rdata = parse_rdata(rtype, &rdata_tokens, origin)?;
        let record_type = rdata.record_type();

        // Zone-level rules that NSD enforces and hickory's in-memory store would otherwise
        // enforce silently (by refusing the insert).
        if record_type == RecordType::SOA {
            if owner != zone_origin {
                return Err(format!(
                    "SOA at {owner}, not at the zone apex {zone_origin}"
                ));
            }
            if self.has_soa {
                return Err("second SOA record in the zone".to_string());
            }
            self.has_soa = true;
        }
        let state = self.owners.entry(owner.clone()).or_default();
        if let RData::CNAME(CNAME(target)) = &rdata {
            if state.other {
                return Err(format!("CNAME at {owner}, which already has other data"));
            }
            match &state.cname {
                Some(existing) if existing == target => return Ok(()), // duplicate, harmless
                Some(existing) => {
                    return Err(format!(
                        "second CNAME at {owner} (already points to {existing})"
                    ));
                }
                None => state.cname = Some(target.clone()),
            }
        } else {
            if state.cname.is_some() {
                return Err(format!(
                    "{record_type} at {owner}, which already has a CNAME"
                ));
            }
            state.other = true;
        }

        self.records
            .push(Record::from_rdata(owner.to_hickory(), ttl, rdata));
        Ok(())
    }

    fn finish(mut self) -> (Zone, Vec<Problem>) {
        let origin = match self
            .zone_origin
            .take()
            .or_else(|| self.fallback_origin.clone())
        {
            Some(origin) => origin,
            None => {
                self.problem(
                    0,
                    "cannot tell the zone origin: no $ORIGIN and no usable file name".into(),
                );
                DnsName::parse("invalid").expect("constant name")
            }
        };
        if !self.has_soa {
            self.problem(0, format!("zone {origin} has no SOA record at its apex"));
        }
        // The owner map only served the checks above; free it before returning.
        drop(std::mem::take(&mut self.owners));
        let zone = Zone {
            origin,
            file: self.file.to_path_buf(),
            records: self.records,
        };
        (zone, self.problems)
    }
}

fn is_class(text: &str) -> bool {
    ["IN", "CH", "CS", "HS"]
        .iter()
        .any(|c| text.eq_ignore_ascii_case(c))
}

/// Reads an owner or target name: `@` is the origin, a name without a trailing (unescaped)
/// dot is relative to the origin. Labels keep their raw bytes (decimal `\DDD`).
fn parse_name(text: &str, origin: Option<&DnsName>) -> Result<DnsName, String> {
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
fn parse_target(text: &str, origin: Option<&DnsName>) -> Result<Name, String> {
    if text == "." {
        return Ok(Name::root());
    }
    Ok(parse_name(text, origin)?.to_hickory())
}

/// True when the name is absolute: its last character is a dot that is not escaped.
fn ends_with_unescaped_dot(text: &str) -> bool {
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
fn parse_ttl(text: &str) -> Result<u32, String> {
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
fn decode_string(text: &str) -> Result<Vec<u8>, String> {
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
fn character_string(token: &Token<'_>) -> Result<Vec<u8>, String> {
    let bytes = decode_string(token.text)?;
    if bytes.len() > MAX_CHARACTER_STRING {
        return Err(format!(
            "character-string of {} bytes is longer than 255; split it into several quoted strings",
            bytes.len()
        ));
    }
    Ok(bytes)
}

fn number<T: std::str::FromStr>(token: &Token<'_>, what: &str) -> Result<T, String> {
    token
        .text
        .parse()
        .map_err(|_| format!("bad {what} {:?}", token.text))
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
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
fn expect_fields<'t, 'a, const N: usize>(
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
fn parse_rdata(
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
fn generic_rdata(code: RecordType, tokens: &[&Token<'_>]) -> Result<RData, String> {
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
fn decode_wire(code: RecordType, data: &[u8]) -> Result<RData, String> {
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

#[cfg(test)]
#[path = "zonefile_tests.rs"]
mod tests;
