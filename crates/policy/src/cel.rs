//! The CEL that recognises critical workloads, shared by the ValidatingAdmissionPolicy, the
//! MutatingAdmissionPolicy and Kyverno's CEL validation (all three evaluate admission CEL with
//! `object`, `oldObject`, `request` and `variables`).
//!
//! Everything is read the way pg-catalog reads a workload, from what the API object carries:
//! the pod spec (a Pod's own, a controller's template, a CronJob's job template), init and
//! regular containers, the object's and its template's labels, its name and its last owner's,
//! its namespace. Every field access is optional (`.?`), so a partial object never errors.

use crate::Checks;
use crate::matcher::Matcher;
use crate::pattern::{cel_any, cel_list, cel_str};
use crate::yaml::{Map, Node, Seq, block};
use pg_model::WorkloadKind;

/// The objects no engine judges, as `(name, why, expression)`. Each must be true for an
/// object to be judged.
pub const EXEMPTIONS: [(&str, &str, &str); 3] = [
    (
        "not-controller-owned",
        "Objects a controller creates (a DaemonSet's pods, a Deployment's ReplicaSets, a CronJob's\n\
         Jobs) are judged through that controller. Rejecting them would only stop the controller\n\
         from replacing pods: the outage this policy exists to prevent.",
        "!object.metadata.?ownerReferences.orValue([]).exists(o, o.?controller.orValue(false) == true)",
    ),
    (
        "not-a-mirror-pod",
        "Static pods' mirror objects: the kubelet treats them as critical whatever their class.",
        "!('kubernetes.io/config.mirror' in object.metadata.?annotations.orValue({}))",
    ),
    (
        "pod-spec-changed",
        "Updates are judged only when they change the spec, so metadata and status writes by\n\
         controllers never fail because of an object that predates the policy.",
        "request.operation != 'UPDATE' || object.?spec.orValue({}) != oldObject.?spec.orValue({})",
    ),
];

/// `matchConditions` (VAP, MAP) or `celPreconditions` (Kyverno).
pub fn match_conditions() -> Node {
    EXEMPTIONS
        .iter()
        .fold(Seq::new(), |seq, (name, why, expr)| {
            seq.with_commented(
                why,
                Map::new().with("name", *name).with("expression", *expr),
            )
        })
        .into()
}

/// The variables every policy shares: the facts read from the object, one boolean per catalog
/// entry, and `component`, the first entry that matches (as in audit, order decides).
pub fn variables(matchers: &[Matcher]) -> Seq {
    let workload_kinds: Vec<&str> = WorkloadKind::ALL.iter().map(|k| k.as_str()).collect();
    let facts: [(&str, &str, String); 14] = [
        (
            "podSpec",
            "The pod spec: a Pod's own, a CronJob's job template's, every other controller's template's.",
            "object.kind == 'Pod' ? object.?spec.orValue({}) :\n\
             object.kind == 'CronJob' ? object.?spec.?jobTemplate.?spec.?template.?spec.orValue({}) :\n\
             object.?spec.?template.?spec.orValue({})"
                .into(),
        ),
        (
            "templateLabels",
            "The pod template's labels (a Pod's labels are its own metadata's).",
            "object.kind == 'Pod' ? {} :\n\
             object.kind == 'CronJob' ? object.?spec.?jobTemplate.?spec.?template.?metadata.?labels.orValue({}) :\n\
             object.?spec.?template.?metadata.?labels.orValue({})"
                .into(),
        ),
        (
            "labels",
            "The object's and its pod template's labels, as `key=value`.",
            "object.metadata.?labels.orValue({}).map(k, k + '=' + string(object.metadata.labels[k])) +\n\
             variables.templateLabels.map(k, k + '=' + string(variables.templateLabels[k]))"
                .into(),
        ),
        (
            "containers",
            "Init containers count as much as the others.",
            "variables.podSpec.?initContainers.orValue([]) + variables.podSpec.?containers.orValue([])"
                .into(),
        ),
        (
            "images",
            "",
            "variables.containers.filter(c, has(c.image)).map(c, string(c.image))".into(),
        ),
        (
            "containerNames",
            "",
            "variables.containers.map(c, string(c.?name.orValue('')))".into(),
        ),
        (
            "objectNamespace",
            "",
            "string(object.metadata.?namespace.orValue(''))".into(),
        ),
        (
            "owners",
            "",
            "object.metadata.?ownerReferences.orValue([])".into(),
        ),
        (
            "owner",
            "The last owner, as pg-catalog picks it (objects with a controller owner are not judged).",
            "size(variables.owners) > 0 ? variables.owners[size(variables.owners) - 1] : {}".into(),
        ),
        (
            "names",
            "Names match the object's name or its owner's.",
            "[string(object.metadata.?name.orValue(''))] +\n\
             (has(variables.owner.name) && has(variables.owner.kind) ? [string(variables.owner.name)] : [])"
                .into(),
        ),
        (
            "workloadKind",
            "A pod counts as the kind of workload that owns it.",
            format!(
                "object.kind == 'Pod' && has(variables.owner.name) && variables.owner.?kind.orValue('') in {} ?\n\
                 string(variables.owner.kind) : object.kind",
                cel_list(&workload_kinds)
            ),
        ),
        (
            "hostNetwork",
            "",
            "variables.podSpec.?hostNetwork.orValue(false) == true".into(),
        ),
        (
            "hostPaths",
            "",
            "variables.podSpec.?volumes.orValue([]).filter(v, has(v.hostPath) && has(v.hostPath.path))\n\
             .map(v, string(v.hostPath.path))"
                .into(),
        ),
        (
            "className",
            "",
            "string(variables.podSpec.?priorityClassName.orValue(''))".into(),
        ),
    ];
    let mut seq = Seq::new();
    for (name, why, expr) in facts {
        let var = Map::new()
            .with("name", name)
            .with("expression", expression(&expr));
        seq = if why.is_empty() {
            seq.with(var)
        } else {
            seq.with_commented(why, var)
        };
    }
    for m in matchers {
        seq = seq.with_commented(
            &describe(m),
            Map::new()
                .with("name", m.ident.as_str())
                .with("expression", block(entry_test(m))),
        );
    }
    seq.with_commented(
        "The ids of the catalog entries that match, in catalog order (only pod-creating kinds).",
        Map::new()
            .with("name", "matched")
            .with("expression", block(matched(matchers))),
    )
    .with_commented(
        "The first one decides, as in `priorityguard audit`: its id, name, role and recommended class.",
        Map::new()
            .with("name", "component")
            .with("expression", block(component(matchers))),
    )
    .with_commented(
        "The classes that satisfy it: at least as high as the recommended one.",
        Map::new()
            .with("name", "allowed")
            .with("expression", block(allowed(matchers))),
    )
}

/// Short expressions stay on one line.
fn expression(expr: &str) -> Node {
    if expr.contains('\n') {
        block(expr)
    } else {
        expr.into()
    }
}

/// The comment above an entry's variable.
pub fn describe(m: &Matcher) -> String {
    let mut what = Vec::new();
    if m.image.is_some() {
        what.push("image");
    }
    if !m.containers.is_empty() {
        what.push("container name");
    }
    if !m.names.is_empty() {
        what.push("name");
    }
    if !m.labels.is_empty() {
        what.push("label");
    }
    if m.host_path.is_some() {
        what.push(if m.host_network {
            "hostNetwork + hostPath"
        } else {
            "hostPath"
        });
    }
    let mut s = format!(
        "{} ({}): {}, recommended {}; recognised by {}",
        m.id,
        m.name,
        m.role,
        m.class,
        what.join(", ")
    );
    if !m.namespaces.is_empty() {
        s.push_str(&format!(
            " (names, labels, host paths only in {})",
            m.namespaces.join(", ")
        ));
    }
    if !m.kinds.is_empty() {
        s.push_str(&format!("; only {}", m.kinds.join(", ")));
    }
    s
}

/// The CEL test for one entry, mirroring `pg_catalog::Entry::matches`.
fn entry_test(m: &Matcher) -> String {
    let mut anywhere = Vec::new();
    if let Some(re) = &m.image {
        anywhere.push(format!(
            "variables.images.exists(i, i.matches({}))",
            cel_str(re)
        ));
    }
    if !m.containers.is_empty() {
        anywhere.push(format!(
            "variables.containerNames.exists(n, {})",
            cel_any("n", &m.containers)
        ));
    }
    let mut scoped = Vec::new();
    if !m.names.is_empty() {
        scoped.push(format!(
            "variables.names.exists(n, {})",
            cel_any("n", &m.names)
        ));
    }
    if !m.labels.is_empty() {
        scoped.push(format!(
            "variables.labels.exists(l, {})",
            cel_any("l", &m.labels)
        ));
    }
    if let Some(re) = &m.host_path {
        let paths = format!("variables.hostPaths.exists(p, p.matches({}))", cel_str(re));
        scoped.push(if m.host_network {
            format!("(variables.hostNetwork && {paths})")
        } else {
            paths
        });
    }
    if !scoped.is_empty() {
        anywhere.push(if m.namespaces.is_empty() {
            scoped.join(" ||\n")
        } else {
            format!(
                "((variables.objectNamespace == '' || variables.objectNamespace in {}) && (\n  {}))",
                cel_list(&m.namespaces),
                scoped.join(" ||\n  ")
            )
        });
    }
    let test = anywhere.join(" ||\n");
    if m.kinds.is_empty() {
        test
    } else {
        format!(
            "variables.workloadKind in {} && (\n{test})",
            cel_list(&m.kinds)
        )
    }
}

fn matched(matchers: &[Matcher]) -> String {
    let items: Vec<String> = matchers
        .iter()
        .map(|m| format!("  variables.{} ? {} : ''", m.ident, cel_str(&m.id)))
        .collect();
    // The kind test repeats matchConstraints, so the CEL is right wherever it is evaluated
    // (offline engines, wider bindings).
    let kinds: Vec<&str> = WorkloadKind::ALL.iter().map(|k| k.as_str()).collect();
    format!(
        "!(object.kind in {}) ? [] : [\n{}\n].filter(id, id != '')",
        cel_list(&kinds),
        items.join(",\n")
    )
}

fn component(matchers: &[Matcher]) -> String {
    let items: Vec<String> = matchers
        .iter()
        .map(|m| {
            format!(
                "  {}: {{'id': {}, 'name': {}, 'role': {}, 'class': {}}}",
                cel_str(&m.id),
                cel_str(&m.id),
                cel_str(&m.name),
                cel_str(m.role),
                cel_str(&m.class)
            )
        })
        .collect();
    format!(
        "size(variables.matched) == 0 ? {{'id': '', 'name': '', 'role': '', 'class': ''}} : {{\n{}\n}}[variables.matched[0]]",
        items.join(",\n")
    )
}

fn allowed(matchers: &[Matcher]) -> String {
    let mut classes: Vec<(&str, &[String])> = Vec::new();
    for m in matchers {
        if !classes.iter().any(|(c, _)| *c == m.class) {
            classes.push((&m.class, &m.allowed));
        }
    }
    let items: Vec<String> = classes
        .iter()
        .map(|(c, allowed)| format!("  {}: {}", cel_str(c), cel_list(allowed)))
        .collect();
    format!("{{\n{}\n}}[variables.component.class]", items.join(",\n"))
}

/// Where a workload's pod spec is, as a JSON pointer (for a mutating policy's JSONPatch).
const POD_SPEC_PATH: &str = "object.kind == 'Pod' ? '/spec' :\n\
     object.kind == 'CronJob' ? '/spec/jobTemplate/spec/template/spec' : '/spec/template/spec'";

/// The variables of a mutating policy (MutatingAdmissionPolicy, Kyverno's MutatingPolicy):
/// those of the validating ones plus `specPath`.
pub fn mutating_variables(matchers: &[Matcher]) -> Seq {
    variables(matchers).with_commented(
        "Where the pod spec is, as a JSON pointer.",
        Map::new()
            .with("name", "specPath")
            .with("expression", block(POD_SPEC_PATH)),
    )
}

/// The validations (VAP `validations`, Kyverno `cel.expressions`): one per enabled check.
pub fn validations(checks: Checks) -> Node {
    let subject = "object.kind + ' ' + variables.objectNamespace + '/' + string(object.metadata.?name.orValue('')) + ' is ' +\n\
                   variables.component.name + ' (' + variables.component.role + ')";
    let mut seq = Seq::new();
    if checks.missing {
        seq = seq.with_commented(
            "critical-without-priority: a critical workload without a class runs at priority 0.",
            Map::new()
                .with(
                    "expression",
                    "variables.component.id == '' || variables.className != ''",
                )
                .with(
                    "messageExpression",
                    block(format!(
                        "'priorityguard: ' + {subject} and has no priorityClassName: set priorityClassName: ' +\n\
                         variables.component.class + ' in its pod spec (priorityguard catalog --explain ' +\n\
                         variables.component.id + ')'"
                    )),
                )
                .with(
                    "message",
                    "a critical workload has no priorityClassName (see priorityguard audit)",
                )
                .with("reason", "Invalid"),
        );
    }
    if checks.weak {
        seq = seq.with_commented(
            "critical-class-too-weak: a class below the recommended one (a user class can be\n\
             evicted and OOM-killed; system-cluster-critical on a node agent gets no OOM protection).",
            Map::new()
                .with(
                    "expression",
                    block(
                        "variables.component.id == '' || variables.className == '' ||\n\
                         variables.className in variables.allowed",
                    ),
                )
                .with(
                    "messageExpression",
                    block(format!(
                        "'priorityguard: ' + {subject} but uses priorityClassName ' + variables.className +\n\
                         ', weaker than it needs: set priorityClassName: ' + variables.component.class +\n\
                         ' (priorityguard catalog --explain ' + variables.component.id + ')'"
                    )),
                )
                .with(
                    "message",
                    "a critical workload's priorityClassName is weaker than it needs (see priorityguard audit)",
                )
                .with("reason", "Invalid"),
        );
    }
    seq.into()
}
