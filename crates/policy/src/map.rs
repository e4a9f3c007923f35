//! MutatingAdmissionPolicy + MutatingAdmissionPolicyBinding (`admissionregistration.k8s.io/v1`,
//! GA in Kubernetes 1.36; v1beta1 behind a feature gate in 1.34 and 1.35).

use crate::pattern::cel_str;
use crate::vap::{match_constraints, metadata};
use crate::yaml::{Map, Seq, block, document};
use crate::{Document, Generation, cel};
use pg_model::BUILTIN_CLASSES;

pub const NAME: &str = "priorityguard-set-critical-class";

pub fn documents(g: &Generation) -> Vec<Document> {
    let variables = cel::mutating_variables(&g.matchers);
    let policy = Map::new()
        .with("apiVersion", "admissionregistration.k8s.io/v1")
        .with("kind", "MutatingAdmissionPolicy")
        .with("metadata", metadata(NAME))
        .with(
            "spec",
            Map::new()
                .with_commented(
                    "A failed mutation must never block a critical workload; the\n\
                     ValidatingAdmissionPolicy (priorityguard policy --engine vap) catches what is left.",
                    "failurePolicy",
                    "Ignore",
                )
                .with_commented(
                    "Run again if a later mutation (another policy or webhook) changes the object:\n\
                     the patch applies only while the class is unset, so reruns change nothing.",
                    "reinvocationPolicy",
                    "IfNeeded",
                )
                .with("matchConstraints", match_constraints())
                .with(
                    "matchConditions",
                    cel::match_conditions(),
                )
                .with("variables", variables)
                .with(
                    "mutations",
                    Seq::new().with(
                        Map::new().with("patchType", "JSONPatch").with(
                            "jsonPatch",
                            Map::new().with("expression", block(patch_expression())),
                        ),
                    ),
                ),
        );
    let binding = Map::new()
        .with("apiVersion", "admissionregistration.k8s.io/v1")
        .with("kind", "MutatingAdmissionPolicyBinding")
        .with("metadata", metadata(NAME))
        .with_commented(
            "No matchResources: every namespace.",
            "spec",
            Map::new().with("policyName", NAME),
        );
    let versions = "MutatingAdmissionPolicy: admissionregistration.k8s.io/v1, Kubernetes >= 1.36 (GA, on by default).\n\
                    On 1.34-1.35 change apiVersion to admissionregistration.k8s.io/v1beta1 and start the API\n\
                    server with --feature-gates=MutatingAdmissionPolicy=true and\n\
                    --runtime-config=admissionregistration.k8s.io/v1beta1=true (1.32-1.33: v1alpha1).";
    vec![
        Document {
            file_name: "01-mutatingadmissionpolicy.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n{versions}\n\n\
                     Sets the recommended priorityClassName on Pods and pod controllers that the catalog\n\
                     recognises as critical and that have none. An explicit class is never overwritten (a\n\
                     weaker one is left to the ValidatingAdmissionPolicy to report), other workloads are\n\
                     never touched.\n\n\
                     Bare Pods: the API server's Priority admission plugin has already set spec.priority\n\
                     from the missing class (0) when this runs, and it rejects a pod whose priority then\n\
                     disagrees with its class (\"the integer value of priority (0) must not be provided in\n\
                     pod spec\"). So for Pods the patch also sets spec.priority and spec.preemptionPolicy to\n\
                     the class's values. Those are known for the system classes only; Pods of entries that\n\
                     recommend a user class are left alone.",
                    g.header
                ),
                &policy,
            ),
        },
        Document {
            file_name: "02-mutatingadmissionpolicybinding.yaml".into(),
            text: document(
                &format!(
                    "{}\n\nBinds the policy above cluster-wide ({}).",
                    g.header,
                    "admissionregistration.k8s.io/v1, Kubernetes >= 1.36; v1beta1 on 1.34-1.35"
                ),
                &binding,
            ),
        },
    ]
}

/// The JSONPatch: nothing unless a catalog entry matches and the class is unset.
fn patch_expression() -> String {
    let values: Vec<String> = BUILTIN_CLASSES
        .iter()
        .map(|c| format!("{}: {}", cel_str(c.name), c.value))
        .collect();
    let names: Vec<String> = BUILTIN_CLASSES.iter().map(|c| cel_str(c.name)).collect();
    format!(
        "variables.component.id == '' || variables.className != '' ? [] :\n\
         object.kind != 'Pod' ? [\n  \
           JSONPatch{{op: 'add', path: variables.specPath + '/priorityClassName', value: variables.component.class}}\n\
         ] :\n\
         variables.component.class in [{names}] ? [\n  \
           JSONPatch{{op: 'add', path: '/spec/priorityClassName', value: variables.component.class}},\n  \
           JSONPatch{{op: 'add', path: '/spec/priority', value: {{{values}}}[variables.component.class]}},\n  \
           JSONPatch{{op: 'add', path: '/spec/preemptionPolicy', value: 'PreemptLowerPriority'}}\n\
         ] : []",
        names = names.join(", "),
        values = values.join(", "),
    )
}
