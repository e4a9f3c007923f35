//! Kyverno policies. By default its CEL policy types (`policies.kyverno.io/v1`, GA in Kyverno
//! 1.17): a ValidatingPolicy with the same CEL as the ValidatingAdmissionPolicy, and for
//! `--mode mutate` a MutatingPolicy that sets the class in pod templates. With `--kyverno-api
//! legacy`, a ClusterPolicy (`kyverno.io/v1`, deprecated in 1.17): validation in CEL, mutation
//! in JMESPath, because its mutate rules take no CEL.

use crate::vap::{match_constraints, match_constraints_of, metadata};
use crate::yaml::{Map, Seq, block, document, flow, strings};
use crate::{Document, Generation, Mode, POD_KINDS, cel, jmespath};

pub const VALIDATE_NAME: &str = "priorityguard-critical-class";
pub const MUTATE_NAME: &str = "priorityguard-set-critical-class";

/// Why autogen is off, said once in the policy's annotations' comment.
const NO_AUTOGEN: &str = "Autogen is off: the rules below name every pod controller themselves. Kyverno's\n\
                          autogen would rewrite request.object.metadata to the pod template's metadata and\n\
                          lose the controller's name, which the catalog matches on.";

const VERSIONS: &str = "Needs Kyverno >= 1.13 (per-rule validate.failureAction, emitWarning; CEL validation and\n\
                        celPreconditions since 1.11); tested with Kyverno 1.19. Kubernetes: any version Kyverno\n\
                        supports (the CEL uses optional field access, built into Kyverno's CEL).";

const CEL_VERSIONS: &str = "policies.kyverno.io/v1: needs Kyverno >= 1.17 (GA there; tested with Kyverno 1.19). For older\n\
                            Kyverno use `--kyverno-api legacy` (a kyverno.io/v1 ClusterPolicy). Kubernetes: any\n\
                            version Kyverno supports (the CEL uses optional field access, built into Kyverno's CEL).";

/// Why autogen is off in the CEL policies.
const NO_CEL_AUTOGEN: &str = "No autogen: the policy names every pod controller itself (an empty list turns Kyverno's\n\
                              pod-controller autogen off).";

/// Adds the recommended class to a controller's pod template when a catalog entry matches and
/// the template has none.
const TEMPLATE_PATCH: &str = "variables.component.id == '' || variables.className != '' ? [] : [\n  \
     JSONPatch{op: 'add', path: variables.specPath + '/priorityClassName', value: variables.component.class}\n\
     ]";

/// `policies.kyverno.io/v1`: a ValidatingPolicy, or for `--mode mutate` a MutatingPolicy.
pub fn cel_documents(g: &Generation) -> Vec<Document> {
    let no_autogen = Map::new().with(
        "podControllers",
        Map::new().with("controllers", flow(&[] as &[&str])),
    );
    if g.mode == Mode::Mutate {
        let variables = cel::mutating_variables(&g.matchers);
        let policy = Map::new()
            .with("apiVersion", "policies.kyverno.io/v1")
            .with("kind", "MutatingPolicy")
            .with("metadata", metadata(MUTATE_NAME))
            .with(
                "spec",
                Map::new()
                    .with_commented(
                        "A failed mutation must never block a critical workload; the ValidatingPolicy\n\
                         (priorityguard policy --engine kyverno) catches what is left.",
                        "failurePolicy",
                        "Ignore",
                    )
                    .with("reinvocationPolicy", "IfNeeded")
                    .with_commented(NO_CEL_AUTOGEN, "autogen", no_autogen)
                    .with_commented(
                        "Pod controllers only, on CREATE and UPDATE: a bare Pod's priority is resolved by the\n\
                         Priority admission plugin before mutating policies run, and a later class change\n\
                         is rejected.",
                        "matchConstraints",
                        match_constraints_of(false),
                    )
                    .with("matchConditions", cel::match_conditions())
                    .with("variables", variables)
                    .with(
                        "mutations",
                        Seq::new().with(
                            Map::new()
                                .with("patchType", "JSONPatch")
                                .with("jsonPatch", Map::new().with("expression", block(TEMPLATE_PATCH))),
                        ),
                    ),
            );
        return vec![Document {
            file_name: "01-mutatingpolicy.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n{CEL_VERSIONS}\n\n\
                     Sets the recommended priorityClassName in the pod template of pod controllers that the\n\
                     catalog recognises as critical and that have none; an explicit class is never\n\
                     overwritten, bare Pods and other workloads are never touched. Pair it with the\n\
                     ValidatingPolicy (--mode enforce) to catch weaker classes and bare Pods.",
                    g.header
                ),
                &policy,
            ),
        }];
    }
    let (action, what) = match g.mode {
        Mode::Enforce => ("Deny", "reject the object"),
        Mode::Warn => ("Warn", "admit it with a warning to the client"),
        _ => ("Audit", "admit it and record a policy report entry"),
    };
    let policy = Map::new()
        .with("apiVersion", "policies.kyverno.io/v1")
        .with("kind", "ValidatingPolicy")
        .with(
            "metadata",
            metadata(VALIDATE_NAME).with("annotations", annotations(
                "Critical workloads keep the right PriorityClass",
                "Rejects (or reports) Pods and pod controllers that the priorityguard catalog recognises as critical (CNI agents, kube-proxy, CSI node plugins, DNS, ...) when they have no priorityClassName or a weaker one than their role needs.",
            )),
        )
        .with(
            "spec",
            Map::new()
                .with_commented(
                    &format!("--mode {}: {what}.", g.mode.as_str()),
                    "validationActions",
                    flow(&[action]),
                )
                .with_commented(
                    "An expression error rejects the object rather than let it through unjudged.",
                    "failurePolicy",
                    "Fail",
                )
                .with_commented(
                    "Existing objects are reported too (policy reports).",
                    "evaluation",
                    Map::new().with("background", Map::new().with("enabled", true)),
                )
                .with_commented(NO_CEL_AUTOGEN, "autogen", no_autogen)
                .with("matchConstraints", match_constraints())
                .with_commented(
                    "Objects that are never judged (as in the ValidatingAdmissionPolicy).",
                    "matchConditions",
                    cel::match_conditions(),
                )
                .with("variables", cel::variables(&g.matchers))
                .with("validations", cel::validations(g.checks)),
        );
    vec![Document {
        file_name: "01-validatingpolicy.yaml".into(),
        text: document(
            &format!(
                "{}\n\n{CEL_VERSIONS}\n\n\
                 The same CEL as `priorityguard policy --engine vap`: critical workloads without a\n\
                 priorityClassName (critical-without-priority) or with a weaker one than their role\n\
                 needs (critical-class-too-weak) fail; other workloads are never judged.",
                g.header
            ),
            &policy,
        ),
    }]
}

/// `kyverno.io/v1` ClusterPolicies (`--kyverno-api legacy`).
pub fn documents(g: &Generation) -> Vec<Document> {
    if g.mode == Mode::Mutate {
        return vec![Document {
            file_name: "01-clusterpolicy-mutate.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n{VERSIONS}\n\n\
                     Sets the recommended priorityClassName on Pods and pod controllers that the catalog\n\
                     recognises as critical and that have none; an explicit class is never overwritten.\n\
                     Pair it with the validating policy (--mode enforce) to catch weaker classes. Bare Pods\n\
                     also get spec.priority and spec.preemptionPolicy (the Priority admission plugin has\n\
                     already run and rejects a pod whose priority disagrees with its class); Pods of\n\
                     entries recommending a user class are left alone, as its value is unknown here.",
                    g.header
                ),
                &jmespath::mutate_policy(g, MUTATE_NAME),
            ),
        }];
    }
    let (action, warn, what) = match g.mode {
        Mode::Enforce => ("Enforce", false, "reject the object"),
        Mode::Warn => (
            "Audit",
            true,
            "admit it with a warning to the client and a policy report entry",
        ),
        _ => ("Audit", false, "admit it and record a policy report entry"),
    };
    let rule = Map::new()
        .with("name", "critical-class")
        .with("match", match_all_pod_kinds())
        .with_commented(
            "Objects that are never judged (as in the ValidatingAdmissionPolicy).",
            "celPreconditions",
            cel::match_conditions(),
        )
        .with(
            "validate",
            Map::new()
                .with_commented(
                    &format!("--mode {}: {what}.", g.mode.as_str()),
                    "failureAction",
                    action,
                )
                .with(
                    "cel",
                    Map::new()
                        .with("variables", cel::variables(&g.matchers))
                        .with("expressions", cel::validations(g.checks)),
                ),
        );
    let policy = Map::new()
        .with("apiVersion", "kyverno.io/v1")
        .with("kind", "ClusterPolicy")
        .with(
            "metadata",
            metadata(VALIDATE_NAME).with_commented(NO_AUTOGEN, "annotations", annotations(
                "Critical workloads keep the right PriorityClass",
                "Rejects (or reports) Pods and pod controllers that the priorityguard catalog recognises as critical (CNI agents, kube-proxy, CSI node plugins, DNS, ...) when they have no priorityClassName or a weaker one than their role needs.",
            )),
        )
        .with(
            "spec",
            Map::new()
                .with_commented(
                    "Existing objects are reported too (policy reports).",
                    "background",
                    true,
                )
                .with("emitWarning", warn)
                .with("rules", Seq::new().with(rule)),
        );
    vec![Document {
        file_name: "01-clusterpolicy.yaml".into(),
        text: document(
            &format!(
                "{}\n\n{VERSIONS}\n\n\
                 One validate rule, in the same CEL as `priorityguard policy --engine vap`: critical\n\
                 workloads without a priorityClassName (critical-without-priority) or with a weaker one\n\
                 than their role needs (critical-class-too-weak) fail; other workloads are never judged.",
                g.header
            ),
            &policy,
        ),
    }]
}

pub fn annotations(title: &str, description: &str) -> Map {
    let subjects: Vec<&str> = POD_KINDS.iter().map(|(_, k, _)| *k).collect();
    Map::new()
        .with("policies.kyverno.io/title", title)
        .with("policies.kyverno.io/category", "priorityguard")
        .with("policies.kyverno.io/severity", "high")
        .with("policies.kyverno.io/subject", subjects.join(", "))
        .with("policies.kyverno.io/description", description)
        .with("pod-policies.kyverno.io/autogen-controllers", "none")
}

/// Pods on CREATE only (their class cannot change later), controllers on CREATE and UPDATE.
pub fn match_all_pod_kinds() -> Map {
    let controllers: Vec<&str> = POD_KINDS
        .iter()
        .filter(|(_, k, _)| *k != "Pod")
        .map(|(_, k, _)| *k)
        .collect();
    Map::new().with(
        "any",
        Seq::new()
            .with(resources(&["Pod"], &["CREATE"]))
            .with(resources(&controllers, &["CREATE", "UPDATE"])),
    )
}

pub fn resources(kinds: &[&str], operations: &[&str]) -> Map {
    Map::new().with(
        "resources",
        Map::new()
            .with("kinds", strings(kinds))
            .with("operations", flow(operations)),
    )
}
