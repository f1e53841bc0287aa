//! The one HTML escaper every template uses (configured in `askama.toml`).
//!
//! It does what askama's own `Html` escaper does (`&`, `<`, `>`, `"`, `'`) and also makes
//! control characters visible: seed names, TXT strings and SMTP banners are shown
//! faithfully, so a raw BEL or NUL from a hostile record would otherwise reach the page
//! as an invisible (and in XML invalid) character. C0 controls and DEL become their
//! Unicode control pictures (`␇`), C1 controls a `\u{85}`-style escape.

use std::fmt::{self, Write};

/// HTML escaper that also shows control characters; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

impl askama::filters::Escaper for Html {
    fn write_escaped_str<W: Write>(&self, mut dest: W, string: &str) -> fmt::Result {
        // Byte scan: every character to escape starts with an ASCII byte, or is a C1
        // control (0xC2 0x80..=0x9F in UTF-8), so slices between hits stay valid UTF-8.
        let bytes = string.as_bytes();
        let mut plain = 0;
        let mut at = 0;
        while at < bytes.len() {
            let b = bytes[at];
            let width = match b {
                b'&' | b'<' | b'>' | b'"' | b'\'' | 0x7f => 1,
                0..=0x1f if !matches!(b, b'\t' | b'\n' | b'\r') => 1,
                0xc2 if matches!(bytes.get(at + 1), Some(0x80..=0x9f)) => 2,
                _ => {
                    at += 1;
                    continue;
                }
            };
            dest.write_str(&string[plain..at])?;
            let c = string[at..].chars().next().unwrap_or('\u{fffd}');
            write_char(&mut dest, c)?;
            at += width;
            plain = at;
        }
        dest.write_str(&string[plain..])
    }

    fn write_escaped_char<W: Write>(&self, mut dest: W, c: char) -> fmt::Result {
        if matches!(c, '&' | '<' | '>' | '"' | '\'') || is_hidden_control(c) {
            write_char(&mut dest, c)
        } else {
            dest.write_char(c)
        }
    }
}

/// Controls other than the whitespace HTML itself uses.
fn is_hidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

fn write_char<W: Write>(dest: &mut W, c: char) -> fmt::Result {
    match c {
        '&' => dest.write_str("&amp;"),
        '<' => dest.write_str("&lt;"),
        '>' => dest.write_str("&gt;"),
        '"' => dest.write_str("&#34;"),
        '\'' => dest.write_str("&#39;"),
        c => dest.write_str(&visible_control(c)),
    }
}

/// The visible stand-in for a control character.
fn visible_control(c: char) -> String {
    match c as u32 {
        n @ 0..=0x1f => char::from_u32(0x2400 + n).map_or_else(String::new, String::from),
        0x7f => "\u{2421}".to_owned(),
        n => format!("\\u{{{n:x}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::filters::Escaper;

    fn escape(s: &str) -> String {
        let mut out = String::new();
        Html.write_escaped_str(&mut out, s).unwrap();
        out
    }

    #[test]
    fn markup_is_escaped_like_askama() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape("a\u{7}b\0c\u{7f}d\u{85}e"), "a␇b␀c␡d\\u{85}e");
        assert_eq!(escape("tab\tnew\nline"), "tab\tnew\nline");
        assert_eq!(escape("Jõgeva «x» \u{a0}ü"), "Jõgeva «x» \u{a0}ü");
        assert_eq!(escape("\u{85}"), "\\u{85}");
    }
}
