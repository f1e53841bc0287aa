//! The constructor of one evidence item and the display cut of long record texts,
//! shared by the steps that write evidence (so none of them depends on another step's
//! file for it).

use crate::classify::model::{EvidenceItem, EvidenceRole, Signal};

/// One evidence item without SPF depth.
pub(super) fn item(
    signal: Signal,
    query: &str,
    raw: &str,
    matched: Option<String>,
    provider: Option<String>,
    role: EvidenceRole,
) -> EvidenceItem {
    EvidenceItem {
        signal,
        query: query.to_string(),
        raw: raw.to_string(),
        matched,
        provider,
        role,
        depth: None,
    }
}

/// At most `max` characters, then an ellipsis.
pub(super) fn truncate_display(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::truncate_display;

    #[test]
    fn long_text_is_cut_on_characters() {
        assert_eq!(truncate_display("äöü", 5), "äöü");
        assert_eq!(truncate_display("äöüäöü", 3), "äöü…");
    }
}
