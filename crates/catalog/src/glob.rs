/// Characters no catalog pattern may contain: none occurs in a Kubernetes name, label or image
/// reference, and the admission policies generated from the catalog (RE2 in CEL, Rego and
/// JMESPath) could not match them literally, so a pattern holding one would never match.
pub const REFUSED_PATTERN_CHARS: [char; 6] = ['\\', '[', ']', '^', '\'', '"'];

/// The first character of `pattern` that no catalog pattern may contain (see
/// [`REFUSED_PATTERN_CHARS`]; control characters too).
pub fn refused_char(pattern: &str) -> Option<char> {
    pattern
        .chars()
        .find(|c| REFUSED_PATTERN_CHARS.contains(c) || c.is_control())
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('*').collect();
    let (last, middle) = parts.split_last().expect("split yields one part at least");
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("kube-multus*", "kube-multus-ds-amd64"));
        assert!(glob_match(
            "*cloud-controller-manager*",
            "aws-cloud-controller-manager"
        ));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("*", ""));
    }
}
