//! Template filters shared by every page kind (askama looks them up as `filters::…` in
//! the module that derives a template, so each such module imports this one).

/// Groups the digits of a number in threes: `23794343` → `23,794,343` (the site's
/// language is English). Anything that is not a plain integer is printed unchanged.
#[askama::filter_fn]
pub fn thousands(value: impl std::fmt::Display, _: &dyn askama::Values) -> askama::Result<String> {
    Ok(group_thousands(&value.to_string()))
}

/// See [`thousands`].
pub fn group_thousands(text: &str) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 municipality", "2 municipalities": the noun follows the count.
#[askama::filter_fn]
pub fn municipalities(
    value: impl std::fmt::Display,
    _: &dyn askama::Values,
) -> askama::Result<String> {
    let n = value.to_string();
    let noun = if n == "1" {
        "municipality"
    } else {
        "municipalities"
    };
    Ok(format!("{} {noun}", group_thousands(&n)))
}

#[cfg(test)]
mod tests {
    use super::group_thousands;

    #[test]
    fn groups_digits_in_threes() {
        assert_eq!(group_thousands("23794343"), "23,794,343");
        assert_eq!(group_thousands("999"), "999");
        assert_eq!(group_thousands("1000"), "1,000");
        assert_eq!(group_thousands("-1234"), "-1,234");
        assert_eq!(group_thousands("12.5"), "12.5");
        assert_eq!(group_thousands(""), "");
    }
}
