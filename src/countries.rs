//! The 47 countries mxmap covers, and the country groups that jurisdiction buckets use.

/// One covered country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2, lower case (`xk` for Kosovo, `gb` for the United Kingdom).
    pub code: &'static str,
    /// English short name.
    pub name: &'static str,
}

/// Every covered country, in the order of the overview table (EU27, then the rest).
pub const COUNTRIES: [Country; 47] = [
    c("at", "Austria"),
    c("be", "Belgium"),
    c("bg", "Bulgaria"),
    c("hr", "Croatia"),
    c("cy", "Cyprus"),
    c("cz", "Czechia"),
    c("dk", "Denmark"),
    c("ee", "Estonia"),
    c("fi", "Finland"),
    c("fr", "France"),
    c("de", "Germany"),
    c("gr", "Greece"),
    c("hu", "Hungary"),
    c("ie", "Ireland"),
    c("it", "Italy"),
    c("lv", "Latvia"),
    c("lt", "Lithuania"),
    c("lu", "Luxembourg"),
    c("mt", "Malta"),
    c("nl", "Netherlands"),
    c("pl", "Poland"),
    c("pt", "Portugal"),
    c("ro", "Romania"),
    c("sk", "Slovakia"),
    c("si", "Slovenia"),
    c("es", "Spain"),
    c("se", "Sweden"),
    c("no", "Norway"),
    c("is", "Iceland"),
    c("gb", "United Kingdom"),
    c("ad", "Andorra"),
    c("al", "Albania"),
    c("xk", "Kosovo"),
    c("me", "Montenegro"),
    c("ba", "Bosnia and Herzegovina"),
    c("rs", "Serbia"),
    c("mk", "North Macedonia"),
    c("ua", "Ukraine"),
    c("md", "Moldova"),
    c("li", "Liechtenstein"),
    c("sm", "San Marino"),
    c("ge", "Georgia"),
    c("am", "Armenia"),
    c("az", "Azerbaijan"),
    c("by", "Belarus"),
    c("tr", "Türkiye"),
    c("mc", "Monaco"),
];

const fn c(code: &'static str, name: &'static str) -> Country {
    Country { code, name }
}

/// EU member states (upper-case ISO codes).
const EU: [&str; 27] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
];

/// EEA members outside the EU.
const EEA_ONLY: [&str; 3] = ["NO", "IS", "LI"];

/// European countries outside the EU/EEA (for the `europe_other` bucket). Russia is
/// deliberately absent: the site specification puts Russian providers under
/// `other_foreign`.
const EUROPE_OTHER: [&str; 21] = [
    "CH", "GB", "UA", "RS", "TR", "AL", "XK", "ME", "BA", "MK", "MD", "SM", "GE", "AM", "AZ", "BY",
    "MC", "AD", "VA", "GI", "FO",
];

/// Looks up a covered country by its code (any case).
pub fn by_code(code: &str) -> Option<&'static Country> {
    let lower = code.to_ascii_lowercase();
    COUNTRIES.iter().find(|c| c.code == lower)
}

/// True for EU and EEA members (upper- or lower-case code).
pub fn is_eu_eea(code: &str) -> bool {
    let upper = code.to_ascii_uppercase();
    EU.contains(&upper.as_str()) || EEA_ONLY.contains(&upper.as_str())
}

/// True for European countries outside the EU/EEA.
pub fn is_europe_other(code: &str) -> bool {
    EUROPE_OTHER.contains(&code.to_ascii_uppercase().as_str())
}

/// English name for any ISO code mxmap shows (covered countries plus common provider
/// seats); falls back to the code itself.
pub fn display_name(code: &str) -> String {
    if let Some(country) = by_code(code) {
        return country.name.to_string();
    }
    match code.to_ascii_uppercase().as_str() {
        "US" => "United States",
        "CH" => "Switzerland",
        "IN" => "India",
        "RU" => "Russia",
        "JP" => "Japan",
        "CA" => "Canada",
        "AU" => "Australia",
        "NZ" => "New Zealand",
        "CN" => "China",
        "IL" => "Israel",
        _ => return code.to_ascii_uppercase(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_seven_unique_codes() {
        let mut codes: Vec<_> = COUNTRIES.iter().map(|c| c.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 47);
    }

    #[test]
    fn groups_are_disjoint() {
        for code in EU.iter().chain(EEA_ONLY.iter()) {
            assert!(!is_europe_other(code), "{code}");
        }
        assert!(is_eu_eea("de") && is_eu_eea("NO") && !is_eu_eea("CH"));
        assert!(is_europe_other("gb") && !is_europe_other("RU"));
    }
}
