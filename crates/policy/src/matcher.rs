//! Catalog entries compiled into what every engine needs to recognise them in an API object:
//! regexes and globs over the fields the object carries, plus the classes that satisfy them.

use crate::PolicyError;
use crate::pattern::{self, Glob};
use pg_catalog::{Catalog, Entry};
use pg_model::{BUILTIN_CLASSES, builtin_class};

/// One catalog entry, ready to be written as CEL, Rego or JMESPath.
#[derive(Clone, Debug)]
pub struct Matcher {
    pub id: String,
    pub name: String,
    pub role: &'static str,
    /// A CEL identifier unique within the catalog (`is_calico_node`).
    pub ident: String,
    /// The recommended class.
    pub class: String,
    /// Classes that satisfy the entry (see [`allowed_classes`]).
    pub allowed: Vec<String>,
    /// Workload kinds the entry applies to (a pod counts as its owner's kind); empty: all.
    pub kinds: Vec<&'static str>,
    /// Over whole image references (init containers included).
    pub image: Option<String>,
    pub containers: Vec<Glob>,
    /// Over the object's name and its owner's.
    pub names: Vec<Glob>,
    /// Over `key=value` strings of the object's and its pod template's labels.
    pub labels: Vec<Glob>,
    /// Names, labels and host paths only count in these namespaces (images and container
    /// names count anywhere); empty: all.
    pub namespaces: Vec<String>,
    /// The host-path heuristic: a volume at or under one of the paths, and (if
    /// `host_network`) the pod on the host network.
    pub host_path: Option<String>,
    pub host_network: bool,
}

impl Matcher {
    fn compile(e: &Entry) -> Result<Matcher, PolicyError> {
        let class = e.recommended_class().to_string();
        Ok(Matcher {
            id: e.id.clone(),
            name: e.name.clone(),
            role: e.role.as_str(),
            ident: String::new(),
            allowed: allowed_classes(&class),
            class,
            kinds: e.kinds.iter().map(|k| k.as_str()).collect(),
            // An image refined by a command line (`args`) is audit's alone: the rule is left
            // out rather than widened to every container running the image.
            image: if e.args.is_empty() {
                pattern::image_regex(&e.id, &e.images)?
            } else {
                None
            },
            containers: pattern::globs(&e.id, &e.containers, false)?,
            names: pattern::globs(&e.id, &e.names, false)?,
            labels: pattern::globs(&e.id, &e.labels, true)?,
            namespaces: e.namespaces.clone(),
            host_path: pattern::host_path_regex(&e.id, &e.host_paths)?,
            host_network: e.host_network,
        })
    }

    /// True when the entry can match anything at all (an entry with no patterns never does).
    fn matches_something(&self) -> bool {
        self.image.is_some()
            || !self.containers.is_empty()
            || !self.names.is_empty()
            || !self.labels.is_empty()
            || self.host_path.is_some()
    }
}

/// The classes that satisfy an entry recommending `class`: audit accepts any class whose
/// value is at least the recommended one. The built-in values are known; a user class's value
/// is not (admission sees only the name), so for a user class only itself and the two system
/// classes (always higher than any user class) are accepted.
pub fn allowed_classes(class: &str) -> Vec<String> {
    match builtin_class(class) {
        Some(want) => BUILTIN_CLASSES
            .iter()
            .filter(|c| c.value >= want.value)
            .map(|c| c.name.to_string())
            .collect(),
        None => std::iter::once(class.to_string())
            .chain(BUILTIN_CLASSES.iter().map(|c| c.name.to_string()))
            .collect(),
    }
}

/// The catalog's rules in the order audit tries them (the first that matches decides, so the
/// most specific pattern wins). Structural signals are audit's alone: see docs/policy.md.
pub fn compile(catalog: &Catalog) -> Result<Vec<Matcher>, PolicyError> {
    let mut out: Vec<Matcher> = Vec::new();
    for e in catalog.rules() {
        let mut m = Matcher::compile(e)?;
        if !m.matches_something() {
            continue;
        }
        let base: String = format!("is_{}", e.id)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        m.ident = base.clone();
        let mut n = 2;
        while out.iter().any(|o| o.ident == m.ident) {
            m.ident = format!("{base}_{n}");
            n += 1;
        }
        out.push(m);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_classes_follow_values() {
        assert_eq!(
            allowed_classes("system-node-critical"),
            ["system-node-critical"]
        );
        assert_eq!(
            allowed_classes("system-cluster-critical"),
            ["system-node-critical", "system-cluster-critical"]
        );
        assert_eq!(
            allowed_classes("infra-high"),
            [
                "infra-high",
                "system-node-critical",
                "system-cluster-critical"
            ]
        );
    }

    #[test]
    fn builtin_catalog_compiles_with_unique_identifiers() {
        let m = compile(&Catalog::builtin()).unwrap();
        let refined = Catalog::builtin()
            .rules()
            .iter()
            .filter(|r| !r.args.is_empty())
            .count();
        assert_eq!(m.len(), Catalog::builtin().rules().len() - refined);
        let mut idents: Vec<&str> = m.iter().map(|m| m.ident.as_str()).collect();
        idents.sort();
        idents.dedup();
        assert_eq!(idents.len(), m.len());
        assert_eq!(m[0].ident, "is_multus");
    }
}
