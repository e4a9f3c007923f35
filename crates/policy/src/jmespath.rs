//! Kyverno's mutating ClusterPolicy. Mutate rules take no CEL, so the catalog's matching is
//! written a second time, in JMESPath with Kyverno's `regex_match` (Go RE2, the same regexes
//! as the CEL): context variables read the object's facts, `pgClass` is the recommended class
//! of the first matching entry ('' for none), `pgApply` says whether to patch.

use crate::cel::{EXEMPTIONS, describe};
use crate::kyverno::{annotations, resources};
use crate::matcher::Matcher;
use crate::pattern::regex_any;
use crate::vap::metadata;
use crate::yaml::{Map, Seq, block, flow};
use crate::{Generation, POD_KINDS};
use pg_model::{BUILTIN_CLASSES, WorkloadKind};

pub fn mutate_policy(g: &Generation, name: &str) -> Map {
    let builtin: Vec<&str> = BUILTIN_CLASSES.iter().map(|c| c.name).collect();
    // Kyverno allows no variables in a JSON patch's path, so each place a pod spec can be
    // gets its own rule.
    let template_kinds: Vec<&str> = POD_KINDS
        .iter()
        .map(|(_, k, _)| *k)
        .filter(|k| !["Pod", "CronJob"].contains(k))
        .collect();
    let set_class = |path: &str| {
        format!("- op: add\n  path: {path}/priorityClassName\n  value: \"{{{{ pgClass }}}}\"")
    };
    let rule =
        |name: &str, kinds: &[&str], operations: &[&str], context: Seq, classes, patch: String| {
            Map::new()
                .with("name", name)
                .with(
                    "match",
                    Map::new().with("any", Seq::new().with(resources(kinds, operations))),
                )
                .with("context", context)
                .with("preconditions", preconditions(classes))
                .with("mutate", Map::new().with("patchesJson6902", block(patch)))
        };
    let priority = BUILTIN_CLASSES
        .iter()
        .map(|c| format!("(pgClass == {} && `{}`)", lit(c.name), c.value))
        .collect::<Vec<_>>()
        .join(" || ");
    let pod_context = context(&g.matchers).with_commented(
        "The value the Priority admission plugin would have given the pod for that class.",
        variable("pgPriority", &format!("{priority} || `0`")),
    );
    let rules = Seq::new()
        .with_commented(
            "Controllers: the class goes into the pod template.",
            rule(
                "set-class-in-pod-template",
                &template_kinds,
                &["CREATE", "UPDATE"],
                context(&g.matchers),
                None,
                set_class("/spec/template/spec"),
            ),
        )
        .with_commented(
            "CronJobs: into the job template's pod template.",
            rule(
                "set-class-in-job-template",
                &["CronJob"],
                &["CREATE", "UPDATE"],
                context(&g.matchers),
                None,
                set_class("/spec/jobTemplate/spec/template/spec"),
            ),
        )
        .with_commented(
            "Bare Pods: class, priority and preemptionPolicy, for the system classes only.",
            rule(
                "set-class-on-pod",
                &["Pod"],
                &["CREATE"],
                pod_context,
                Some(&builtin),
                format!(
                    "{}\n- op: add\n  path: /spec/priority\n  value: {{{{ pgPriority }}}}\n\
                     - op: add\n  path: /spec/preemptionPolicy\n  value: PreemptLowerPriority",
                    set_class("/spec")
                ),
            ),
        );
    Map::new()
        .with("apiVersion", "kyverno.io/v1")
        .with("kind", "ClusterPolicy")
        .with(
            "metadata",
            metadata(name).with_commented(
                "Autogen is off: the rules below name every pod controller themselves.",
                "annotations",
                annotations(
                    "Critical workloads get the right PriorityClass",
                    "Sets the recommended priorityClassName on Pods and pod controllers that the priorityguard catalog recognises as critical and that have none.",
                ),
            ),
        )
        .with(
            "spec",
            Map::new()
                .with_commented(
                    "Mutates admission requests only; existing objects are left to `priorityguard fix`.",
                    "background",
                    false,
                )
                .with("rules", rules),
        )
}

fn variable(name: &str, jmes_path: &str) -> Map {
    let expr = if jmes_path.contains('\n') {
        block(jmes_path)
    } else {
        jmes_path.into()
    };
    // No `default`: every expression ends in a fallback of its own type.
    Map::new()
        .with("name", name)
        .with("variable", Map::new().with("jmesPath", expr))
}

/// The object's facts, then one expression choosing the class.
fn context(matchers: &[Matcher]) -> Seq {
    let kinds: Vec<String> = WorkloadKind::ALL.iter().map(|k| lit(k.as_str())).collect();
    let facts: [(&str, &str, String); 13] = [
        (
            "pgSpec",
            "The pod spec: a Pod's own, a CronJob's job template's, every other controller's template's.",
            "(request.object.kind == 'Pod' && request.object.spec) ||\n\
             (request.object.kind == 'CronJob' && request.object.spec.jobTemplate.spec.template.spec) ||\n\
             (request.object.kind != 'Pod' && request.object.kind != 'CronJob' && request.object.spec.template.spec) ||\n\
             `{}`"
                .into(),
        ),
        (
            "pgTemplateLabels",
            "",
            "(request.object.kind == 'CronJob' && request.object.spec.jobTemplate.spec.template.metadata.labels) ||\n\
             (request.object.kind != 'Pod' && request.object.spec.template.metadata.labels) ||\n\
             `{}`"
                .into(),
        ),
        (
            "pgLabels",
            "The object's and its pod template's labels, as `key=value`.",
            "[items(request.object.metadata.labels || `{}`, 'key', 'value')[].join('=', [key, to_string(value)]),\n \
             items(pgTemplateLabels, 'key', 'value')[].join('=', [key, to_string(value)])][]"
                .into(),
        ),
        (
            "pgContainers",
            "Init containers count as much as the others.",
            "[pgSpec.initContainers || `[]`, pgSpec.containers || `[]`][]".into(),
        ),
        ("pgImages", "", "pgContainers[].image".into()),
        (
            "pgContainerNames",
            "",
            "pgContainers[].not_null(name, '')".into(),
        ),
        (
            "pgNamespace",
            "",
            "request.object.metadata.namespace || ''".into(),
        ),
        (
            "pgOwner",
            "The last owner, as pg-catalog picks it (objects with a controller owner are skipped).",
            "request.object.metadata.ownerReferences[-1] || `{}`".into(),
        ),
        (
            "pgNames",
            "Names match the object's name or its owner's.",
            "[request.object.metadata.name || '', pgOwner.kind && pgOwner.name][?@ != `null`]".into(),
        ),
        (
            "pgKind",
            "A pod counts as the kind of workload that owns it.",
            format!(
                "(request.object.kind == 'Pod' && pgOwner.name && contains([{}], pgOwner.kind) && pgOwner.kind) ||\n\
                 request.object.kind",
                kinds.join(", ")
            ),
        ),
        (
            "pgHostNetwork",
            "",
            "pgSpec.hostNetwork == `true`".into(),
        ),
        (
            "pgHostPaths",
            "",
            "(pgSpec.volumes || `[]`)[].hostPath.path".into(),
        ),
        (
            "pgClassName",
            "",
            "pgSpec.priorityClassName || ''".into(),
        ),
    ];
    let mut seq = Seq::new();
    for (name, why, expr) in facts {
        let var = variable(name, &expr);
        seq = if why.is_empty() {
            seq.with(var)
        } else {
            seq.with_commented(why, var)
        };
    }
    let choices: Vec<String> = matchers
        .iter()
        .map(|m| format!("({}) && {}", entry_test(m), lit(&m.class)))
        .collect();
    let order: Vec<String> = matchers
        .iter()
        .enumerate()
        .map(|(i, m)| format!("{:>3}. {}", i + 1, describe(m)))
        .collect();
    let exemptions: Vec<&str> = EXEMPTIONS.iter().map(|(name, _, _)| *name).collect();
    seq.with_commented(
        &format!(
            "The recommended class of the first catalog entry that matches ('' for none), as in\n\
             `priorityguard audit`. One alternative per entry, in this order:\n{}",
            order.join("\n")
        ),
        variable("pgClass", &format!("{} ||\n''", choices.join(" ||\n"))),
    )
    .with_commented(
        &format!(
            "Patch only a critical workload without a class, and none of: {}.",
            exemptions.join(", ")
        ),
        variable(
            "pgApply",
            "pgClass != '' && pgClassName == '' &&\n\
             !(request.object.metadata.ownerReferences[?controller == `true`]) &&\n\
             !(request.object.metadata.annotations.\"kubernetes.io/config.mirror\") &&\n\
             (request.operation != 'UPDATE' || request.object.spec != request.oldObject.spec)",
        ),
    )
}

fn preconditions(classes: Option<&[&str]>) -> Map {
    let mut all = Seq::new().with(
        Map::new()
            .with("key", "{{ pgApply }}")
            .with("operator", "Equals")
            .with("value", true),
    );
    if let Some(classes) = classes {
        all = all.with(
            Map::new()
                .with("key", "{{ pgClass }}")
                .with("operator", "AnyIn")
                .with("value", flow(classes)),
        );
    }
    Map::new().with("all", all)
}

/// One entry's test, mirroring `pg_catalog::Entry::matches` (and the CEL).
fn entry_test(m: &Matcher) -> String {
    let any = |list: &str, re: &str| format!("{list}[?regex_match('{re}', @)]");
    let mut anywhere = Vec::new();
    if let Some(re) = &m.image {
        anywhere.push(any("pgImages", re));
    }
    if !m.containers.is_empty() {
        anywhere.push(any("pgContainerNames", &regex_any(&m.containers)));
    }
    let mut scoped = Vec::new();
    if !m.names.is_empty() {
        scoped.push(any("pgNames", &regex_any(&m.names)));
    }
    if !m.labels.is_empty() {
        scoped.push(any("pgLabels", &regex_any(&m.labels)));
    }
    if let Some(re) = &m.host_path {
        let paths = any("pgHostPaths", re);
        scoped.push(if m.host_network {
            format!("(pgHostNetwork && {paths})")
        } else {
            paths
        });
    }
    if !scoped.is_empty() {
        let scoped = scoped.join(" || ");
        anywhere.push(if m.namespaces.is_empty() {
            scoped
        } else {
            let ns: Vec<String> = m.namespaces.iter().map(|n| lit(n)).collect();
            format!(
                "((pgNamespace == '' || contains([{}], pgNamespace)) && ({scoped}))",
                ns.join(", ")
            )
        });
    }
    let test = anywhere.join(" ||\n  ");
    if m.kinds.is_empty() {
        test
    } else {
        let kinds: Vec<String> = m.kinds.iter().map(|k| lit(k)).collect();
        format!("contains([{}], pgKind) && ({test})", kinds.join(", "))
    }
}

/// A JMESPath raw string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "\\'"))
}
