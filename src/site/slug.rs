//! URL slugs: lower-case ASCII, stable across runs (name + official code), so a
//! published URL keeps working.

/// Longest slug part.
const MAX_LEN: usize = 80;

/// Folds any script to ASCII (deunicode covers Latin diacritics, Cyrillic, Greek,
/// Georgian, Armenian), drops apostrophes instead of turning them into hyphens, and
/// collapses every other run of non-alphanumerics into one `-`.
pub fn slugify(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\'' | '’' | '‘' | 'ʼ' | '`' | '´' => {}
            'ß' => folded.push_str("ss"),
            'ø' | 'Ø' => folded.push('o'),
            'þ' | 'Þ' => folded.push_str("th"),
            'ð' | 'Ð' => folded.push('d'),
            'ı' => folded.push('i'),
            _ => folded.push_str(deunicode::deunicode_char(c).unwrap_or("-")),
        }
    }
    let mut slug = String::with_capacity(folded.len());
    let mut dash = false;
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
            dash = false;
        } else if c == '\'' {
            // deunicode may produce apostrophes (e.g. for soft signs); drop them too.
        } else if !dash && !slug.is_empty() {
            slug.push('-');
            dash = true;
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.len() > MAX_LEN {
        slug.truncate(MAX_LEN);
        while slug.ends_with('-') {
            slug.pop();
        }
    }
    slug
}

/// Slug of a municipality page: `{name}-{code}`, where the code is the seed id without
/// its country prefix (`EE-0130` → `0130`).
pub fn municipality_slug(name: &str, id: &str, country_code: &str) -> String {
    let prefix = format!("{}-", country_code.to_ascii_uppercase());
    let code = id.strip_prefix(&prefix).unwrap_or(id);
    let name = slugify(name);
    let code = slugify(code);
    match (name.is_empty(), code.is_empty()) {
        (true, _) => code,
        (false, true) => name,
        (false, false) => format!("{name}-{code}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_scripts_and_drops_apostrophes() {
        assert_eq!(slugify("Jõgeva vald"), "jogeva-vald");
        assert_eq!(slugify("L’Aquila"), "laquila");
        assert_eq!(slugify("Comune di Aglie'"), "comune-di-aglie");
        assert_eq!(slugify("Großräschen"), "grossraschen");
        assert_eq!(slugify("Søndre Land"), "sondre-land");
        assert_eq!(slugify("Þingeyjarsveit"), "thingeyjarsveit");
        assert_eq!(slugify("Київ"), "kiyiv");
        assert_eq!(slugify("Δήμος Αθηναίων"), "demos-athenaion");
        assert_eq!(slugify("Şanlıurfa"), "sanliurfa");
        assert!(!slugify("თბილისი").is_empty());
        assert!(!slugify("Երևան").is_empty());
    }

    #[test]
    fn municipality_slugs_carry_the_code() {
        assert_eq!(
            municipality_slug("Alutaguse vald", "EE-0130", "ee"),
            "alutaguse-vald-0130"
        );
        assert_eq!(
            municipality_slug("Comune di Aglie'", "IT-COM-001001", "it"),
            "comune-di-aglie-com-001001"
        );
        assert_eq!(slugify(&"a".repeat(200)).len(), 80);
    }
}
