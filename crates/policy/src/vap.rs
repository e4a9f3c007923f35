//! ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding
//! (`admissionregistration.k8s.io/v1`, GA since Kubernetes 1.30).

use crate::yaml::{Map, Seq, document, flow};
use crate::{Document, Generation, Mode, POD_KINDS, cel};

pub const NAME: &str = "priorityguard-critical-class";

pub fn documents(g: &Generation) -> Vec<Document> {
    let policy = Map::new()
        .with("apiVersion", "admissionregistration.k8s.io/v1")
        .with("kind", "ValidatingAdmissionPolicy")
        .with("metadata", metadata(NAME))
        .with(
            "spec",
            Map::new()
                .with_commented(
                    "An expression error rejects the object rather than let it through unjudged.",
                    "failurePolicy",
                    "Fail",
                )
                .with("matchConstraints", match_constraints())
                .with_commented(
                    "Objects that are never judged.",
                    "matchConditions",
                    cel::match_conditions(),
                )
                .with("variables", cel::variables(&g.matchers))
                .with("validations", cel::validations(g.checks)),
        );
    let (actions, what) = match g.mode {
        Mode::Enforce => (vec!["Deny"], "rejects the object"),
        Mode::Warn => (
            vec!["Warn"],
            "admits the object; the client gets a warning (kubectl prints `Warning: ...`)",
        ),
        _ => (
            vec!["Audit"],
            "admits the object and records the violation in the API server's audit log\n\
             (annotation validation.policy.admission.k8s.io/validation_failure)",
        ),
    };
    let binding = Map::new()
        .with("apiVersion", "admissionregistration.k8s.io/v1")
        .with("kind", "ValidatingAdmissionPolicyBinding")
        .with("metadata", metadata(NAME))
        .with(
            "spec",
            Map::new().with("policyName", NAME).with_commented(
                &format!(
                    "--mode {}: a violation {what}.\nNo matchResources: every namespace.",
                    g.mode.as_str()
                ),
                "validationActions",
                flow(&actions),
            ),
        );
    vec![
        Document {
            file_name: "01-validatingadmissionpolicy.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n\
                     ValidatingAdmissionPolicy: admissionregistration.k8s.io/v1, Kubernetes >= 1.30 (GA; the\n\
                     ValidatingAdmissionPolicy admission plugin is on by default). On 1.29 it is v1beta1\n\
                     behind the ValidatingAdmissionPolicy feature gate (change apiVersion); not before: the\n\
                     CEL here uses optional field access (`.?`), open to new expressions from 1.29.\n\n\
                     It rejects (or warns on, or audits: see the binding) Pods and pod controllers that the\n\
                     catalog recognises as critical when they have no priorityClassName\n\
                     (critical-without-priority) or a weaker class than their role needs\n\
                     (critical-class-too-weak). Other workloads are never judged.",
                    g.header
                ),
                &policy,
            ),
        },
        Document {
            file_name: "02-validatingadmissionpolicybinding.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n\
                     Binds the policy above cluster-wide (Kubernetes >= 1.30). A new binding takes a few\n\
                     seconds to take effect.",
                    g.header
                ),
                &binding,
            ),
        },
    ]
}

pub fn metadata(name: &str) -> Map {
    Map::new().with("name", name).with(
        "labels",
        Map::new().with("app.kubernetes.io/managed-by", "priorityguard"),
    )
}

/// Pods on CREATE only (their class cannot change afterwards), controllers on CREATE and
/// UPDATE (an update must not drop the class).
pub fn match_constraints() -> Map {
    match_constraints_of(true)
}

/// [`match_constraints`], without Pods when `pods` is false (a mutation cannot give a Pod a
/// class: the Priority admission plugin has resolved `priority` before it runs).
pub fn match_constraints_of(pods: bool) -> Map {
    let mut rules = Seq::new();
    for group in ["", "apps", "batch"] {
        let resources: Vec<&str> = POD_KINDS
            .iter()
            .filter(|(g, kind, _)| *g == group && *kind != "Pod")
            .map(|(_, _, r)| *r)
            .collect();
        if group.is_empty() && pods {
            rules = rules.with(rule("", &["CREATE"], &["pods"]));
        }
        rules = rules.with(rule(group, &["CREATE", "UPDATE"], &resources));
    }
    Map::new().with("resourceRules", rules)
}

fn rule(group: &str, operations: &[&str], resources: &[&str]) -> Map {
    Map::new()
        .with("apiGroups", flow(&[group]))
        .with("apiVersions", flow(&["v1"]))
        .with("operations", flow(operations))
        .with("resources", flow(resources))
}
