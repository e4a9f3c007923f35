//! A Gatekeeper ConstraintTemplate (Rego) + Constraint. The Rego is generic: it implements
//! pg-catalog's matching once, and the Constraint's parameters carry the catalog (compiled to
//! the same RE2 regexes the CEL uses; OPA's `regex.match` is Go's RE2 too).

use crate::matcher::Matcher;
use crate::pattern::regex_any;
use crate::vap::metadata;
use crate::yaml::{Map, Node, Seq, block, document, flow};
use crate::{Document, Generation, Mode, POD_KINDS};

const TEMPLATE: &str = "priorityguardcriticalclass";
const KIND: &str = "PriorityguardCriticalClass";
const CONSTRAINT: &str = "priorityguard-critical-class";

/// The Rego, in v0 syntax with the `future.keywords` imports, so that both Gatekeeper's v0
/// `rego` field and newer OPA read it.
const REGO: &str = r#"package priorityguardcriticalclass

import future.keywords.contains
import future.keywords.if
import future.keywords.in

# critical-without-priority
violation contains {"msg": msg} if {
	input.parameters.checkMissing
	not exempt
	c := component
	class_name == ""
	msg := sprintf("priorityguard: %s is %s (%s) and has no priorityClassName: set priorityClassName: %s in its pod spec (priorityguard catalog --explain %s)", [subject, c.name, c.role, c.class, c.id])
}

# critical-class-too-weak
violation contains {"msg": msg} if {
	input.parameters.checkWeak
	not exempt
	c := component
	class_name != ""
	not class_name in c.allowed
	msg := sprintf("priorityguard: %s is %s (%s) but uses priorityClassName %s, weaker than it needs: set priorityClassName: %s (priorityguard catalog --explain %s)", [subject, c.name, c.role, class_name, c.class, c.id])
}

obj := input.review.object

subject := sprintf("%s %s/%s", [obj.kind, namespace, object.get(obj, ["metadata", "name"], "")])

# Objects a controller creates are judged through it: rejecting them would only stop the
# controller from replacing pods.
exempt if {
	some o in object.get(obj, ["metadata", "ownerReferences"], [])
	o.controller == true
}

# Static pods' mirror objects: the kubelet treats them as critical whatever their class.
exempt if {
	_ = obj.metadata.annotations["kubernetes.io/config.mirror"]
}

# A pod's class cannot change after creation.
exempt if {
	obj.kind == "Pod"
	input.review.operation == "UPDATE"
}

# Updates are judged only when they change the spec.
exempt if {
	input.review.operation == "UPDATE"
	object.get(obj, "spec", {}) == object.get(input.review.oldObject, "spec", {})
}

# The pod spec: a Pod's own, a CronJob's job template's, every other controller's template's.
pod_spec := object.get(obj, "spec", {}) if {
	obj.kind == "Pod"
} else := object.get(obj, ["spec", "jobTemplate", "spec", "template", "spec"], {}) if {
	obj.kind == "CronJob"
} else := object.get(obj, ["spec", "template", "spec"], {})

template_labels := {} if {
	obj.kind == "Pod"
} else := object.get(obj, ["spec", "jobTemplate", "spec", "template", "metadata", "labels"], {}) if {
	obj.kind == "CronJob"
} else := object.get(obj, ["spec", "template", "metadata", "labels"], {})

class_name := object.get(pod_spec, "priorityClassName", "")

namespace := object.get(obj, ["metadata", "namespace"], "")

containers := array.concat(object.get(pod_spec, "initContainers", []), object.get(pod_spec, "containers", []))

images := [i | some c in containers; i := c.image]

container_names := [object.get(c, "name", "") | some c in containers]

labels := array.concat(
	[sprintf("%s=%v", [k, v]) | some k, v in object.get(obj, ["metadata", "labels"], {})],
	[sprintf("%s=%v", [k, v]) | some k, v in template_labels],
)

owners := object.get(obj, ["metadata", "ownerReferences"], [])

# The last owner, as pg-catalog picks it.
owner := owners[count(owners) - 1]

names := array.concat([object.get(obj, ["metadata", "name"], "")], [n | n := owner.name; owner.kind])

workload_kinds := {"Pod", "Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "ReplicationController", "Job", "CronJob"}

# A pod counts as the kind of workload that owns it.
workload_kind := owner.kind if {
	obj.kind == "Pod"
	owner.kind in workload_kinds
	owner.name
} else := obj.kind

host_network := object.get(pod_spec, "hostNetwork", false)

host_paths := [p | some v in object.get(pod_spec, "volumes", []); p := v.hostPath.path]

# pg_catalog::Entry::matches: images and container names count anywhere, names, labels and
# host paths only in the entry's namespaces.
matches(c) if {
	kind_ok(c)
	c.image != ""
	some i in images
	regex.match(c.image, i)
}

matches(c) if {
	kind_ok(c)
	c.containers != ""
	some n in container_names
	regex.match(c.containers, n)
}

matches(c) if {
	kind_ok(c)
	namespace_ok(c)
	c.names != ""
	some n in names
	regex.match(c.names, n)
}

matches(c) if {
	kind_ok(c)
	namespace_ok(c)
	c.labels != ""
	some l in labels
	regex.match(c.labels, l)
}

matches(c) if {
	kind_ok(c)
	namespace_ok(c)
	c.hostPaths != ""
	host_network_ok(c)
	some p in host_paths
	regex.match(c.hostPaths, p)
}

kind_ok(c) if count(c.kinds) == 0

kind_ok(c) if workload_kind in c.kinds

namespace_ok(c) if count(c.namespaces) == 0

namespace_ok(c) if namespace == ""

namespace_ok(c) if namespace in c.namespaces

host_network_ok(c) if not c.hostNetwork

host_network_ok(c) if host_network == true

# The first catalog entry that matches decides, as in `priorityguard audit`. The kind test
# repeats the Constraint's match, so the Rego is right wherever it is evaluated.
component := input.parameters.components[i] if {
	obj.kind in workload_kinds
	i := min({j | some j, c in input.parameters.components; matches(c)})
}
"#;

pub fn documents(g: &Generation) -> Vec<Document> {
    let component_schema = Map::new().with("type", "object").with(
        "properties",
        [
            "id",
            "name",
            "role",
            "class",
            "image",
            "containers",
            "names",
            "labels",
            "hostPaths",
        ]
        .iter()
        .fold(Map::new(), |m, p| {
            m.with(p, Map::new().with("type", "string"))
        })
        .with("hostNetwork", Map::new().with("type", "boolean"))
        .with("allowed", string_array())
        .with("kinds", string_array())
        .with("namespaces", string_array()),
    );
    let template = Map::new()
        .with("apiVersion", "templates.gatekeeper.sh/v1")
        .with("kind", "ConstraintTemplate")
        .with("metadata", metadata(TEMPLATE))
        .with(
            "spec",
            Map::new()
                .with(
                    "crd",
                    Map::new().with(
                        "spec",
                        Map::new()
                            .with("names", Map::new().with("kind", KIND))
                            .with(
                                "validation",
                                Map::new().with(
                                    "openAPIV3Schema",
                                    Map::new().with("type", "object").with(
                                        "properties",
                                        Map::new()
                                            .with("checkMissing", bool_schema())
                                            .with("checkWeak", bool_schema())
                                            .with(
                                                "components",
                                                Map::new()
                                                    .with("type", "array")
                                                    .with("items", component_schema),
                                            ),
                                    ),
                                ),
                            ),
                    ),
                )
                .with(
                    "targets",
                    Seq::new().with(
                        Map::new()
                            .with("target", "admission.k8s.gatekeeper.sh")
                            .with("rego", block(REGO)),
                    ),
                ),
        );
    let (action, what) = match g.mode {
        Mode::Enforce => ("deny", "reject the object"),
        Mode::Warn => ("warn", "admit it with a warning to the client"),
        _ => (
            "dryrun",
            "admit it; audit lists the violation in the constraint's status",
        ),
    };
    let kinds = ["", "apps", "batch"].iter().fold(Seq::new(), |seq, group| {
        let kinds: Vec<&str> = POD_KINDS
            .iter()
            .filter(|(g, _, _)| g == group)
            .map(|(_, k, _)| *k)
            .collect();
        seq.with(
            Map::new()
                .with("apiGroups", flow(&[*group]))
                .with("kinds", flow(&kinds)),
        )
    });
    let components: Seq = g.matchers.iter().fold(Seq::new(), |seq, m| {
        seq.with_commented(&crate::cel::describe(m), parameters(m))
    });
    let constraint = Map::new()
        .with("apiVersion", "constraints.gatekeeper.sh/v1beta1")
        .with("kind", KIND)
        .with("metadata", metadata(CONSTRAINT))
        .with(
            "spec",
            Map::new()
                .with_commented(
                    &format!("--mode {}: a violation would {what}.", g.mode.as_str()),
                    "enforcementAction",
                    action,
                )
                .with("match", Map::new().with("kinds", kinds))
                .with(
                    "parameters",
                    Map::new()
                        .with_commented(
                            "critical-without-priority",
                            "checkMissing",
                            g.checks.missing,
                        )
                        .with_commented("critical-class-too-weak", "checkWeak", g.checks.weak)
                        .with_commented(
                            "The catalog, in order (the first entry that matches decides). image, containers,\n\
                             names, labels and hostPaths are RE2 regexes ('' for none): images over the whole\n\
                             reference, labels over `key=value`.",
                            "components",
                            components,
                        ),
                ),
        );
    let versions = "Needs Gatekeeper >= 3.10 (templates.gatekeeper.sh/v1, enforcementAction warn; the Rego is\n\
                    v0 syntax with future.keywords imports); tested with Gatekeeper 3.23 (gator).";
    vec![
        Document {
            file_name: "01-constrainttemplate.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n{versions}\n\n\
                     The ConstraintTemplate: Rego that recognises critical workloads as pg-catalog does\n\
                     and reports those without a priorityClassName (critical-without-priority) or with a\n\
                     weaker one than their role needs (critical-class-too-weak). The catalog itself is in\n\
                     the Constraint's parameters. Apply this first: it creates the {KIND} kind.",
                    g.header
                ),
                &template,
            ),
        },
        Document {
            file_name: "02-constraint.yaml".into(),
            text: document(
                &format!(
                    "{}\n\n{versions}\n\n\
                     The Constraint: which objects are judged (Pods and pod controllers in every\n\
                     namespace), what a violation does, and the catalog.",
                    g.header
                ),
                &constraint,
            ),
        },
    ]
}

fn parameters(m: &Matcher) -> Map {
    let any = |globs: &[crate::pattern::Glob]| {
        if globs.is_empty() {
            String::new()
        } else {
            regex_any(globs)
        }
    };
    Map::new()
        .with("id", m.id.as_str())
        .with("name", m.name.as_str())
        .with("role", m.role)
        .with("class", m.class.as_str())
        .with("allowed", flow(&m.allowed))
        .with("kinds", flow(&m.kinds))
        .with("image", m.image.clone().unwrap_or_default())
        .with("containers", any(&m.containers))
        .with("names", any(&m.names))
        .with("labels", any(&m.labels))
        .with("namespaces", flow(&m.namespaces))
        .with("hostPaths", m.host_path.clone().unwrap_or_default())
        .with("hostNetwork", m.host_network)
}

fn bool_schema() -> Map {
    Map::new().with("type", "boolean")
}

fn string_array() -> Node {
    Map::new()
        .with("type", "array")
        .with("items", Map::new().with("type", "string"))
        .into()
}
