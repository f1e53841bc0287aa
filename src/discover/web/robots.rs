//! robots.txt (RFC 9309), as far as a polite visitor needs it: the group for our agent
//! (else `*`), `Allow`/`Disallow` path prefixes with `*` and `$`, longest match wins,
//! `Allow` on a tie.

/// One group: its user agents and its rules (`true` = allow, path pattern).
type Group = (Vec<String>, Vec<(bool, String)>);

/// The rules that apply to us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Robots {
    rules: Vec<(bool, String)>,
}

impl Robots {
    /// Parses robots.txt text for the product token `agent` (lower case).
    pub fn parse(text: &str, agent: &str) -> Robots {
        let mut groups: Vec<Group> = Vec::new();
        let mut in_rules = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if in_rules || groups.is_empty() {
                        groups.push((Vec::new(), Vec::new()));
                        in_rules = false;
                    }
                    if let Some(g) = groups.last_mut() {
                        g.0.push(value.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_rules = true;
                    if let Some(g) = groups.last_mut()
                        && !value.is_empty()
                    {
                        g.1.push((key == "allow", value.to_string()));
                    }
                }
                _ => {}
            }
        }
        let pick = |want: &dyn Fn(&str) -> bool| {
            groups
                .iter()
                .filter(|(agents, _)| agents.iter().any(|a| want(a)))
                .flat_map(|(_, rules)| rules.clone())
                .collect::<Vec<_>>()
        };
        let mine = pick(&|a: &str| a != "*" && agent.contains(a));
        let rules = if mine.is_empty() {
            pick(&|a: &str| a == "*")
        } else {
            mine
        };
        Robots { rules }
    }

    /// True when `path` may be fetched.
    pub fn allows(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                let better = match best {
                    None => true,
                    Some((l, a)) => len > l || (len == l && *allow && !a),
                };
                if better {
                    best = Some((len, *allow));
                }
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Prefix match with `*` (any run) and a final `$` (end of path).
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return false;
            }
            pos = part.len();
            continue;
        }
        match path.get(pos..).and_then(|rest| rest.find(part)) {
            Some(found) => pos += found + part.len(),
            None => return false,
        }
    }
    !anchored || pos == path.len() || parts.last().is_some_and(|p| p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_prefixes_wildcards_and_ties() {
        let text = "User-agent: *\nDisallow: /private\nAllow: /private/kontakt\n\nUser-agent: badbot\nDisallow: /\n";
        let r = Robots::parse(text, "mxmap");
        assert!(r.allows("/"));
        assert!(!r.allows("/private/x"));
        assert!(r.allows("/private/kontakt"));
        let r = Robots::parse(
            "User-agent: mxmap\nDisallow: /\n\nUser-agent: *\nAllow: /\n",
            "mxmap",
        );
        assert!(!r.allows("/kontakt"));
        let r = Robots::parse(
            "User-agent: *\nDisallow: /*.pdf$\nDisallow: /a*b\n",
            "mxmap",
        );
        assert!(!r.allows("/x/y.pdf") && r.allows("/x/y.pdf?z"));
        assert!(!r.allows("/axxb") && r.allows("/ax"));
        assert!(Robots::parse("garbage\n:::\nDisallow:\n", "mxmap").allows("/"));
    }
}
