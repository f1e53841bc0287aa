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
//! with its file and line number, and the rest of the zone still loads. The field
//! grammars (names, TTLs, strings, RDATA) are in `fields`.
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

mod fields;

use fields::{is_class, parse_name, parse_rdata, parse_ttl};

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

#[cfg(test)]
#[path = "zonefile_tests.rs"]
mod tests;
