//! Label selectors (PodDisruptionBudgets), node selector terms (required node affinity) and
//! taints/tolerations, with the API's matching rules.

use super::objects::Labels;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

impl Requirement {
    /// The set-based operators both selector kinds share (`In`, `NotIn`, `Exists`,
    /// `DoesNotExist`) applied to the label's value; `None` for any other operator.
    fn matches_set(&self, value: Option<&String>) -> Option<bool> {
        Some(match self.operator.as_str() {
            "In" => value.is_some_and(|v| self.values.contains(v)),
            "NotIn" => value.is_none_or(|v| !self.values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => return None,
        })
    }
}

/// A `metav1.LabelSelector`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub match_labels: Labels,
    pub match_expressions: Vec<Requirement>,
}

impl LabelSelector {
    /// An empty selector: the scheduler's PDB code treats it as matching nothing.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// `LabelSelectorAsSelector(...).Matches(labels)`; an invalid operator matches nothing
    /// (the scheduler skips PDBs whose selector does not convert).
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .match_expressions
                .iter()
                .all(|r| r.matches_set(labels.get(&r.key)) == Some(true))
    }
}

/// One `nodeSelectorTerms` entry: its expressions and fields are ANDed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    pub match_expressions: Vec<Requirement>,
    pub match_fields: Vec<Requirement>,
}

impl NodeSelectorTerm {
    /// `nodeaffinity.NodeSelector` semantics: an empty term matches no node; `Gt`/`Lt` compare
    /// integers; the only field is `metadata.name`.
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if self.match_expressions.is_empty() && self.match_fields.is_empty() {
            return false;
        }
        let exprs_ok = self.match_expressions.iter().all(|r| {
            let value = labels.get(&r.key);
            if let Some(matched) = r.matches_set(value) {
                return matched;
            }
            match r.operator.as_str() {
                "Gt" | "Lt" => {
                    let (Some(have), Some(want)) = (
                        value.and_then(|v| v.parse::<i64>().ok()),
                        r.values.first().and_then(|v| v.parse::<i64>().ok()),
                    ) else {
                        return false;
                    };
                    if r.operator == "Gt" {
                        have > want
                    } else {
                        have < want
                    }
                }
                _ => false,
            }
        });
        let fields_ok = self.match_fields.iter().all(|r| {
            r.key == "metadata.name"
                && match r.operator.as_str() {
                    "In" => r.values.iter().any(|v| v == node_name),
                    "NotIn" => !r.values.iter().any(|v| v == node_name),
                    _ => false,
                }
        });
        exprs_ok && fields_ok
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Taint {
    pub key: String,
    pub value: String,
    pub effect: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Toleration {
    pub key: String,
    pub operator: String,
    pub value: String,
    pub effect: String,
}

impl Toleration {
    /// `Toleration.ToleratesTaint`.
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if !self.effect.is_empty() && self.effect != taint.effect {
            return false;
        }
        if !self.key.is_empty() && self.key != taint.key {
            return false;
        }
        match self.operator.as_str() {
            "Exists" => true,
            "" | "Equal" => self.value == taint.value,
            _ => false,
        }
    }
}

/// The first NoSchedule/NoExecute taint no toleration tolerates (the TaintToleration filter;
/// PreferNoSchedule only affects scoring).
pub fn untolerated<'a>(taints: &'a [Taint], tolerations: &[Toleration]) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|tol| tol.tolerates(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> Requirement {
        Requirement {
            key: key.into(),
            operator: op.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn label_selectors() {
        let s = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![req("tier", "NotIn", &["db"])],
        };
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(LabelSelector::default().is_empty());
        let bad = LabelSelector {
            match_expressions: vec![req("a", "Bogus", &[])],
            ..Default::default()
        };
        assert!(!bad.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn node_terms() {
        let pinned = NodeSelectorTerm {
            match_fields: vec![req("metadata.name", "In", &["node-a"])],
            ..Default::default()
        };
        assert!(pinned.matches("node-a", &Labels::new()));
        assert!(!pinned.matches("node-b", &Labels::new()));
        let gt = NodeSelectorTerm {
            match_expressions: vec![req("cores", "Gt", &["4"])],
            ..Default::default()
        };
        assert!(gt.matches("n", &labels(&[("cores", "8")])));
        assert!(!gt.matches("n", &labels(&[("cores", "4")])));
        assert!(!NodeSelectorTerm::default().matches("n", &Labels::new()));
    }

    #[test]
    fn tolerations() {
        let taint = Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: "NoSchedule".into(),
        };
        let exists_all = Toleration {
            operator: "Exists".into(),
            ..Default::default()
        };
        assert!(exists_all.tolerates(&taint));
        let equal = Toleration {
            key: "dedicated".into(),
            value: "gpu".into(),
            ..Default::default()
        };
        assert!(equal.tolerates(&taint));
        let wrong_effect = Toleration {
            effect: "NoExecute".into(),
            ..equal.clone()
        };
        assert!(!wrong_effect.tolerates(&taint));
        assert_eq!(untolerated(std::slice::from_ref(&taint), &[]), Some(&taint));
        assert_eq!(untolerated(&[taint], &[equal]), None);
    }
}
