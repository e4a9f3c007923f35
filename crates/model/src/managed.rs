//! Which deployment tool keeps a workload in step with a source of its own (a chart's values, a
//! Git repository). A class patched into the live object is not in that source: the tool's next
//! upgrade or sync can put the old one back, and the source still says the old one for every
//! other cluster. So findings about such a workload say where the class must be changed.
//!
//! Read from the workload's own labels and annotations, which these tools write on every object
//! they apply (manifests rendered by them carry the same marks):
//!
//! | Tool | Marks | Reference |
//! |------|-------|-----------|
//! | Helm | label `app.kubernetes.io/managed-by: Helm` with annotations `meta.helm.sh/release-name` and `meta.helm.sh/release-namespace` | <https://github.com/helm/helm/blob/main/pkg/action/validate.go> (`checkOwnership`: all three, or Helm refuses to adopt the object) |
//! | Argo CD | annotation `argocd.argoproj.io/tracking-id: APP:GROUP/KIND:NS/NAME`, or label `argocd.argoproj.io/instance: APP` (the tracking label the docs suggest instead of `app.kubernetes.io/instance`, which Helm charts set too) | <https://argo-cd.readthedocs.io/en/stable/user-guide/resource_tracking/> |
//! | Flux Kustomization | labels `kustomize.toolkit.fluxcd.io/name` and `kustomize.toolkit.fluxcd.io/namespace` | <https://fluxcd.io/flux/components/kustomize/kustomizations/> |
//! | Flux HelmRelease | labels `helm.toolkit.fluxcd.io/name` and `helm.toolkit.fluxcd.io/namespace` (helm-controller's post-renderer) | <https://github.com/fluxcd/helm-controller/pull/238> |
//!
//! A Flux HelmRelease's objects carry Helm's marks too (helm-controller runs Helm): the
//! HelmRelease is what to change, so Flux is asked first. Argo CD renders charts itself
//! (`helm template`), so its objects carry no release annotations.

use serde::Serialize;
use serde::ser::SerializeStruct;
use std::fmt;

/// The label Helm sets to `Helm` on every object of a release.
pub const HELM_MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const HELM_RELEASE_NAME_ANNOTATION: &str = "meta.helm.sh/release-name";
pub const HELM_RELEASE_NAMESPACE_ANNOTATION: &str = "meta.helm.sh/release-namespace";
pub const ARGOCD_TRACKING_ANNOTATION: &str = "argocd.argoproj.io/tracking-id";
pub const ARGOCD_INSTANCE_LABEL: &str = "argocd.argoproj.io/instance";
pub const FLUX_KUSTOMIZATION_NAME_LABEL: &str = "kustomize.toolkit.fluxcd.io/name";
pub const FLUX_KUSTOMIZATION_NAMESPACE_LABEL: &str = "kustomize.toolkit.fluxcd.io/namespace";
pub const FLUX_HELMRELEASE_NAME_LABEL: &str = "helm.toolkit.fluxcd.io/name";
pub const FLUX_HELMRELEASE_NAMESPACE_LABEL: &str = "helm.toolkit.fluxcd.io/namespace";

/// The labels [`ManagedBy::detect`] reads (sources that drop labels must keep these).
pub const MANAGED_BY_LABELS: [&str; 6] = [
    HELM_MANAGED_BY_LABEL,
    ARGOCD_INSTANCE_LABEL,
    FLUX_KUSTOMIZATION_NAME_LABEL,
    FLUX_KUSTOMIZATION_NAMESPACE_LABEL,
    FLUX_HELMRELEASE_NAME_LABEL,
    FLUX_HELMRELEASE_NAMESPACE_LABEL,
];

/// The annotations [`ManagedBy::detect`] reads.
pub const MANAGED_BY_ANNOTATIONS: [&str; 3] = [
    HELM_RELEASE_NAME_ANNOTATION,
    HELM_RELEASE_NAMESPACE_ANNOTATION,
    ARGOCD_TRACKING_ANNOTATION,
];

/// What in a deployment tool owns a workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Deployer {
    HelmRelease,
    ArgoCdApplication,
    FluxKustomization,
    FluxHelmRelease,
}

impl Deployer {
    /// `helm`, `argo-cd` or `flux`: the `tool` field of the machine formats.
    pub fn tool_id(self) -> &'static str {
        match self {
            Deployer::HelmRelease => "helm",
            Deployer::ArgoCdApplication => "argo-cd",
            Deployer::FluxKustomization | Deployer::FluxHelmRelease => "flux",
        }
    }

    /// What the tool calls the owner: `release`, `Application`, `Kustomization`, `HelmRelease`.
    pub fn kind(self) -> &'static str {
        match self {
            Deployer::HelmRelease => "release",
            Deployer::ArgoCdApplication => "Application",
            Deployer::FluxKustomization => "Kustomization",
            Deployer::FluxHelmRelease => "HelmRelease",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Deployer::HelmRelease => "Helm release",
            Deployer::ArgoCdApplication => "Argo CD application",
            Deployer::FluxKustomization => "Flux Kustomization",
            Deployer::FluxHelmRelease => "Flux HelmRelease",
        }
    }

    /// Where the class must be changed instead of the live object.
    pub fn how_to_fix(self) -> &'static str {
        match self {
            Deployer::HelmRelease => "set the class in the chart's values, then helm upgrade",
            Deployer::ArgoCdApplication => {
                "change the class in its Git source; a class set there is put back over a live \
                 patch at the next sync"
            }
            Deployer::FluxKustomization => {
                "change the class in its Git source; a class set there is put back over a live \
                 patch at the next reconciliation"
            }
            Deployer::FluxHelmRelease => {
                "set the class in the HelmRelease's values; a class the chart sets is put back \
                 over a live patch at the next reconciliation"
            }
        }
    }
}

/// The deployment tool that owns a workload, and the object in it to change.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ManagedBy {
    pub deployer: Deployer,
    /// The release's, Kustomization's or HelmRelease's namespace; Argo CD's tracking names the
    /// Application alone.
    pub namespace: Option<String>,
    pub name: String,
}

impl ManagedBy {
    /// The owner that `labels` and `annotations` (looked up by key) name, if any. Half a mark
    /// is no mark: `managed-by: Helm` without the release annotations is written by many charts
    /// rendered by other tools, and names no release.
    pub fn detect<'a>(
        label: impl Fn(&str) -> Option<&'a str>,
        annotation: impl Fn(&str) -> Option<&'a str>,
    ) -> Option<ManagedBy> {
        let named = |deployer, namespace: Option<&str>, name: &str| {
            (!name.is_empty()).then(|| ManagedBy {
                deployer,
                namespace: namespace.filter(|n| !n.is_empty()).map(str::to_string),
                name: name.to_string(),
            })
        };
        let pair = |name_key, namespace_key, deployer| {
            named(deployer, Some(label(namespace_key)?), label(name_key)?)
        };
        pair(
            FLUX_HELMRELEASE_NAME_LABEL,
            FLUX_HELMRELEASE_NAMESPACE_LABEL,
            Deployer::FluxHelmRelease,
        )
        .or_else(|| {
            pair(
                FLUX_KUSTOMIZATION_NAME_LABEL,
                FLUX_KUSTOMIZATION_NAMESPACE_LABEL,
                Deployer::FluxKustomization,
            )
        })
        .or_else(|| {
            let app = annotation(ARGOCD_TRACKING_ANNOTATION)
                .and_then(|id| id.split_once(':'))
                .map(|(app, _)| app)
                .or_else(|| label(ARGOCD_INSTANCE_LABEL))?;
            named(Deployer::ArgoCdApplication, None, app)
        })
        .or_else(|| {
            (label(HELM_MANAGED_BY_LABEL)? == "Helm").then_some(())?;
            named(
                Deployer::HelmRelease,
                Some(annotation(HELM_RELEASE_NAMESPACE_ANNOTATION)?),
                annotation(HELM_RELEASE_NAME_ANNOTATION)?,
            )
        })
    }

    /// `Helm release kube-system/metallb`, `Argo CD application metallb`.
    pub fn owner(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.deployer.label(), self.name),
            None => format!("{} {}", self.deployer.label(), self.name),
        }
    }
}

impl fmt::Display for ManagedBy {
    /// `Helm release kube-system/metallb: set the class in the chart's values, then ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.owner(), self.deployer.how_to_fix())
    }
}

impl Serialize for ManagedBy {
    /// `{"tool": "helm", "kind": "release", "namespace": "kube-system", "name": "metallb",
    /// "fix": "set the class in the chart's values, then helm upgrade"}`
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_struct("ManagedBy", 5)?;
        m.serialize_field("tool", self.deployer.tool_id())?;
        m.serialize_field("kind", self.deployer.kind())?;
        match &self.namespace {
            Some(ns) => m.serialize_field("namespace", ns)?,
            None => m.skip_field("namespace")?,
        }
        m.serialize_field("name", &self.name)?;
        m.serialize_field("fix", self.deployer.how_to_fix())?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect<'a>(
        labels: &[(&str, &'a str)],
        annotations: &[(&str, &'a str)],
    ) -> Option<ManagedBy> {
        fn get<'a>(pairs: &[(&str, &'a str)], key: &str) -> Option<&'a str> {
            pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
        }
        ManagedBy::detect(|k| get(labels, k), |k| get(annotations, k))
    }

    #[test]
    fn a_helm_release_needs_the_label_and_both_annotations() {
        let helm = detect(
            &[("app.kubernetes.io/managed-by", "Helm")],
            &[
                ("meta.helm.sh/release-name", "metallb"),
                ("meta.helm.sh/release-namespace", "kube-system"),
            ],
        )
        .unwrap();
        assert_eq!(helm.deployer, Deployer::HelmRelease);
        assert_eq!(
            helm.to_string(),
            "Helm release kube-system/metallb: set the class in the chart's values, then \
             helm upgrade"
        );
        // Charts rendered by other tools keep the label alone; it names no release.
        assert_eq!(
            detect(&[("app.kubernetes.io/managed-by", "Helm")], &[]),
            None
        );
        assert_eq!(
            detect(
                &[("app.kubernetes.io/managed-by", "Helm")],
                &[("meta.helm.sh/release-name", "metallb")]
            ),
            None
        );
        assert_eq!(
            detect(
                &[("app.kubernetes.io/managed-by", "kustomize")],
                &[
                    ("meta.helm.sh/release-name", "metallb"),
                    ("meta.helm.sh/release-namespace", "kube-system"),
                ]
            ),
            None
        );
    }

    #[test]
    fn argo_cd_is_named_by_its_tracking_id_or_instance_label() {
        let tracked = detect(
            &[],
            &[(
                "argocd.argoproj.io/tracking-id",
                "cilium:apps/DaemonSet:kube-system/cilium",
            )],
        )
        .unwrap();
        assert_eq!(tracked.deployer, Deployer::ArgoCdApplication);
        assert_eq!(tracked.owner(), "Argo CD application cilium");
        assert!(tracked.to_string().contains("Git source"), "{tracked}");
        let labelled = detect(&[("argocd.argoproj.io/instance", "cni")], &[]).unwrap();
        assert_eq!(labelled.owner(), "Argo CD application cni");
        // The common instance label is Helm's too: it says nothing about Argo CD.
        assert_eq!(detect(&[("app.kubernetes.io/instance", "cni")], &[]), None);
        assert_eq!(detect(&[], &[("argocd.argoproj.io/tracking-id", "")]), None);
    }

    #[test]
    fn flux_names_its_kustomization_or_helm_release() {
        let ks = detect(
            &[
                ("kustomize.toolkit.fluxcd.io/name", "infra"),
                ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(ks.deployer, Deployer::FluxKustomization);
        assert_eq!(ks.owner(), "Flux Kustomization flux-system/infra");
        // helm-controller runs Helm: its objects carry Helm's marks too, the HelmRelease wins.
        let hr = detect(
            &[
                ("app.kubernetes.io/managed-by", "Helm"),
                ("helm.toolkit.fluxcd.io/name", "metallb"),
                ("helm.toolkit.fluxcd.io/namespace", "flux-system"),
            ],
            &[
                ("meta.helm.sh/release-name", "metallb-system-metallb"),
                ("meta.helm.sh/release-namespace", "metallb-system"),
            ],
        )
        .unwrap();
        assert_eq!(hr.deployer, Deployer::FluxHelmRelease);
        assert_eq!(hr.owner(), "Flux HelmRelease flux-system/metallb");
        assert!(hr.to_string().contains("HelmRelease's values"), "{hr}");
        // A name without its namespace is half a mark.
        assert_eq!(
            detect(&[("kustomize.toolkit.fluxcd.io/name", "infra")], &[]),
            None
        );
    }

    #[test]
    fn a_workload_without_marks_has_no_owner() {
        assert_eq!(detect(&[("app", "web")], &[("note", "x")]), None);
    }
}
