//! Catalog patterns (`*` globs, image repositories, host paths) as RE2 regular expressions and
//! CEL tests, with exactly pg-catalog's meaning.
//!
//! CEL (`matches`), Rego (`regex.match`) and Kyverno's JMESPath (`regex_match`) all use Go's
//! RE2, so one regex serves every engine. Metacharacters are escaped as one-character classes
//! (`[.]`) rather than with backslashes, because JMESPath raw strings treat backslashes
//! differently between implementations; the few characters that cannot be written that way
//! are refused (none can occur in a Kubernetes name, label or image reference).

use crate::PolicyError;

/// A `*` glob: the text between the stars, matched literally.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    parts: Vec<String>,
}

impl Glob {
    pub fn parse(pattern: &str) -> Glob {
        Glob {
            parts: pattern.split('*').map(str::to_string).collect(),
        }
    }

    /// `key=value-glob`, as pg-catalog reads a label pattern: the key is literal, a pattern
    /// without `=` accepts any value. Matched against `key=value` strings.
    pub fn label(pattern: &str) -> Glob {
        let (key, value) = pattern.split_once('=').unwrap_or((pattern, "*"));
        let mut glob = Glob::parse(value);
        glob.parts[0] = format!("{key}={}", glob.parts[0]);
        glob
    }

    /// The literal text, when the glob has no star.
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// The regex body, with each star as `star`.
    fn regex_body(&self, star: &str) -> String {
        self.parts
            .iter()
            .map(|p| escape(p))
            .collect::<Vec<_>>()
            .join(star)
    }

    /// An anchored regex for the whole text (a star matches anything, `/` included).
    pub fn regex(&self) -> String {
        format!("^{}$", self.regex_body(".*"))
    }

    /// A CEL test of the string expression `var`: equality, `startsWith`, `endsWith` or
    /// `contains` when the glob's shape allows, else `matches`.
    pub fn cel(&self, var: &str) -> String {
        match self.parts.as_slice() {
            [only] => format!("{var} == {}", cel_str(only)),
            [a, b] if a.is_empty() && b.is_empty() => "true".to_string(),
            [a, b] if b.is_empty() => format!("{var}.startsWith({})", cel_str(a)),
            [a, b] if a.is_empty() => format!("{var}.endsWith({})", cel_str(b)),
            [a, b, c] if a.is_empty() && c.is_empty() => {
                format!("{var}.contains({})", cel_str(b))
            }
            _ => format!("{var}.matches({})", cel_str(&self.regex())),
        }
    }
}

/// One anchored regex matching what any of `globs` matches.
pub fn regex_any(globs: &[Glob]) -> String {
    let bodies: Vec<String> = globs.iter().map(|g| g.regex_body(".*")).collect();
    format!("^(?:{})$", bodies.join("|"))
}

/// A CEL test that `var` matches one of `globs`: literals become one `in [...]`.
pub fn cel_any(var: &str, globs: &[Glob]) -> String {
    let literals: Vec<String> = globs
        .iter()
        .filter_map(Glob::literal)
        .map(cel_str)
        .collect();
    let mut tests = Vec::new();
    match literals.as_slice() {
        [] => {}
        [one] => tests.push(format!("{var} == {one}")),
        many => tests.push(format!("{var} in [{}]", many.join(", "))),
    }
    tests.extend(
        globs
            .iter()
            .filter(|g| g.literal().is_none())
            .map(|g| g.cel(var)),
    );
    tests.join(" || ")
}

/// One regex for a list of image patterns over a full image reference
/// (`registry:5000/org/name:tag@sha256:...`), mirroring pg-catalog: the reference's
/// repository (digest and tag stripped) must end in the pattern's `/`-separated segments,
/// each matched as a glob that cannot cross a `/`.
pub fn image_regex(entry: &str, patterns: &[String]) -> Result<Option<String>, PolicyError> {
    let mut alternatives = Vec::new();
    for pattern in patterns {
        check(entry, pattern)?;
        let segments: Vec<&str> = pattern.split('/').collect();
        let last = segments.len() - 1;
        // A repository never holds `@`, nor `:` in its last segment: such a pattern never
        // matches in pg-catalog either.
        if segments.iter().any(|s| s.contains('@')) || segments[last].contains(':') {
            continue;
        }
        // An empty segment could only match a malformed reference (`a//b`, `:tag`).
        if segments.iter().any(|s| s.is_empty()) {
            continue;
        }
        // pg-catalog ignores an empty repository (`:tag`), which a lone `*` would accept.
        if segments.len() == 1 && segments[0].chars().all(|c| c == '*') {
            alternatives.push("[^/@:]+".to_string());
            continue;
        }
        let body = segments
            .iter()
            .enumerate()
            .map(|(i, seg)| {
                // The repository's last segment holds no `:` (that starts the tag); earlier
                // ones may (`localhost:5000`).
                let star = if i == last { "[^/@:]*" } else { "[^/@]*" };
                Glob::parse(seg).regex_body(star)
            })
            .collect::<Vec<_>>()
            .join("/");
        alternatives.push(body);
    }
    if alternatives.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "^(?:[^@]*/)?(?:{})(?::[^/@]*)?(?:@.*)?$",
        alternatives.join("|")
    )))
}

/// A regex for a list of host paths: the path itself or anything under it (trailing slashes
/// allowed), as pg-catalog compares them.
pub fn host_path_regex(entry: &str, paths: &[String]) -> Result<Option<String>, PolicyError> {
    if paths.is_empty() {
        return Ok(None);
    }
    for p in paths {
        check(entry, p)?;
    }
    let alternatives: Vec<String> = paths.iter().map(|p| escape(p)).collect();
    Ok(Some(format!("^(?:{})(?:/.*)?$", alternatives.join("|"))))
}

/// Parses a list of globs, refusing characters the engines cannot all express.
pub fn globs(entry: &str, patterns: &[String], label: bool) -> Result<Vec<Glob>, PolicyError> {
    patterns
        .iter()
        .map(|p| {
            let glob = if label {
                Glob::label(p)
            } else {
                Glob::parse(p)
            };
            check(entry, p).map(|()| glob)
        })
        .collect()
}

fn check(entry: &str, pattern: &str) -> Result<(), PolicyError> {
    match pg_catalog::refused_char(pattern) {
        Some(ch) => Err(PolicyError::Pattern {
            entry: entry.to_string(),
            pattern: pattern.to_string(),
            ch,
        }),
        None => Ok(()),
    }
}

/// RE2 escaping without backslashes (the refused characters never get here).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if ".+*?()|{}$".contains(c) {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            out.push(c);
        }
    }
    out
}

/// A single-quoted CEL string literal.
pub fn cel_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A CEL list of string literals.
pub fn cel_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<String> = items.iter().map(|s| cel_str(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str) -> String {
        image_regex("t", &[pattern.to_string()])
            .unwrap()
            .unwrap_or_else(|| "$never^".to_string())
    }

    #[test]
    fn globs_become_simple_cel_when_they_can() {
        assert_eq!(Glob::parse("multus").cel("n"), "n == 'multus'");
        assert_eq!(
            Glob::parse("kube-multus*").cel("n"),
            "n.startsWith('kube-multus')"
        );
        assert_eq!(Glob::parse("*-ccm").cel("n"), "n.endsWith('-ccm')");
        assert_eq!(
            Glob::parse("*cloud-controller-manager*").cel("n"),
            "n.contains('cloud-controller-manager')"
        );
        assert_eq!(Glob::parse("a*b*c").cel("n"), "n.matches('^a.*b.*c$')");
        assert_eq!(
            regex_any(&[Glob::parse("kube-flannel*"), Glob::parse("a.b")]),
            "^(?:kube-flannel.*|a[.]b)$"
        );
        assert_eq!(
            cel_any(
                "n",
                &[Glob::parse("a"), Glob::parse("b*"), Glob::parse("c")]
            ),
            "n in ['a', 'c'] || n.startsWith('b')"
        );
    }

    #[test]
    fn labels_keep_the_key_literal() {
        assert_eq!(
            Glob::label("k8s-app=kube-dns*").regex(),
            "^k8s-app=kube-dns.*$"
        );
        assert_eq!(Glob::label("app").regex(), "^app=.*$");
        assert_eq!(Glob::label("a.b/c=d").cel("l"), "l == 'a.b/c=d'");
    }

    #[test]
    fn image_regex_shape() {
        assert_eq!(
            re("calico/node"),
            "^(?:[^@]*/)?(?:calico/node)(?::[^/@]*)?(?:@.*)?$"
        );
        assert_eq!(
            re("antrea/antrea-agent*"),
            "^(?:[^@]*/)?(?:antrea/antrea-agent[^/@:]*)(?::[^/@]*)?(?:@.*)?$"
        );
        assert_eq!(re("a.b"), "^(?:[^@]*/)?(?:a[.]b)(?::[^/@]*)?(?:@.*)?$");
    }

    /// Whether pg-catalog matches a workload named `name` running `image` to an entry with
    /// only these patterns (put first, so no built-in entry hides it).
    fn catalog_matches(images: &[String], names: &[String], name: &str, image: &str) -> bool {
        use pg_model::{ClassRef, Container, PodSpecFacts, Role, Workload, WorkloadKind};
        let mut catalog = pg_catalog::Catalog::builtin();
        catalog.extend(&[pg_catalog::Entry {
            id: "under-test".into(),
            name: "under test".into(),
            role: Role::NodeAgent,
            class: None,
            source: None,
            images: images.to_vec(),
            args: vec![],
            names: names.to_vec(),
            containers: vec![],
            labels: vec![],
            namespaces: vec![],
            kinds: vec![],
            host_network: false,
            host_paths: vec![],
        }]);
        let w = Workload {
            kind: WorkloadKind::Job,
            name: name.into(),
            namespace: Some("ns".into()),
            labels: vec![],
            owner: None,
            from_api: false,
            mirror: false,
            pod: std::sync::Arc::new(PodSpecFacts {
                priority_class: ClassRef::Missing,
                priority: None,
                preemption_never: false,
                host_network: false,
                containers: vec![Container {
                    name: "c".into(),
                    image: image.into(),
                    init: false,
                    image_from: None,
                    command: Default::default(),
                }],
                host_paths: vec![],
                labels: vec![],
                structure: None,
                positions: None,
            }),
            location: None,
            managed_by: None,
        };
        catalog.classify(&w).is_some_and(|m| m.id == "under-test")
    }

    fn segment() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            proptest::string::string_regex("[a-c]{1,3}").unwrap(),
            proptest::string::string_regex("[a-c]{0,2}[.-][a-c]{1,2}").unwrap(),
            proptest::strategy::Just("localhost:5000".to_string()),
        ]
    }

    proptest::proptest! {
        /// The image regex accepts exactly the references pg-catalog's repository rule does:
        /// trailing path segments, tag and digest stripped, `*` within one segment.
        #[test]
        fn image_regex_agrees_with_pg_catalog(
            repo in proptest::collection::vec(segment(), 1..4),
            tag in proptest::option::of(proptest::string::string_regex("[a-c0-9.:-]{1,4}").unwrap()),
            digest in proptest::bool::ANY,
            pattern in proptest::collection::vec(
                proptest::prop_oneof![
                    segment(),
                    proptest::string::string_regex("[a-c]{0,2}[*][a-c]{0,2}").unwrap(),
                    proptest::strategy::Just(String::new()),
                ],
                1..3,
            ),
        ) {
            let mut image = repo.join("/");
            if let Some(t) = tag {
                image = format!("{image}:{t}");
            }
            if digest {
                image.push_str("@sha256:abc");
            }
            let pattern = pattern.join("/");
            let re = regex::Regex::new(&re(&pattern)).unwrap();
            proptest::prop_assert_eq!(
                re.is_match(&image),
                catalog_matches(std::slice::from_ref(&pattern), &[], "w", &image),
                "pattern {} image {}", pattern, image
            );
        }

        /// Globs: the regex means pg-catalog's `*`. (The CEL shortcuts of [`Glob::cel`] are
        /// only compared as text above; a real API server evaluates them in
        /// tests/policy_admission.rs.)
        #[test]
        fn glob_regex_agrees_with_pg_catalog(
            pattern in proptest::string::string_regex("[ab*.]{0,5}").unwrap(),
            text in proptest::string::string_regex("[ab.]{0,6}").unwrap(),
        ) {
            let glob = Glob::parse(&pattern);
            let re = regex::Regex::new(&glob.regex()).unwrap();
            let any = regex::Regex::new(&regex_any(std::slice::from_ref(&glob))).unwrap();
            let expected = catalog_matches(&[], std::slice::from_ref(&pattern), &text, "registry.invalid/x");
            proptest::prop_assert_eq!(re.is_match(&text), expected);
            proptest::prop_assert_eq!(any.is_match(&text), expected);
        }
    }

    #[test]
    fn refuses_what_jmespath_cannot_carry() {
        let err = globs("x", &["a[b]".to_string()], false).unwrap_err();
        assert!(err.to_string().contains("'['"), "{err}");
        assert!(host_path_regex("x", &["/etc/it's".to_string()]).is_err());
    }
}
