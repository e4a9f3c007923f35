//! `audit -o html`: the eviction picture's input, the nodes and pods of the audited snapshot
//! files or of the live cluster; the page itself is pg-report's.

use crate::args::InputArgs;
use pg_catalog::Catalog;
use pg_model::Finding;
use pg_report::html::Pictures;
use pg_sources::Loaded;
use pg_sources::snapshot::Builder;

/// Simulates the nodes behind the audit: the files' snapshot, or one more read of `cluster`
/// (nodes, pods, PriorityClasses, PodDisruptionBudgets in every namespace, as `simulate
/// --cluster` reads them). Nothing is read when no finding or component is critical.
pub fn pictures(
    input: &InputArgs,
    cluster: Option<&pg_cluster::ClusterOptions>,
    loaded: &Loaded,
    findings: &[Finding],
    components: usize,
    catalog: &Catalog,
) -> Pictures {
    if components == 0 && !findings.iter().any(|f| f.component.is_some()) {
        return Pictures::NoNodes;
    }
    let Some(opts) = cluster else {
        return match crate::simulate::files_snapshot(input, loaded) {
            Some(snapshot) => pg_report::html::pictures(&snapshot, catalog),
            None => Pictures::NoNodes,
        };
    };
    let mut opts = opts.clone();
    // A node's eviction order depends on every pod on it, whatever its namespace.
    opts.namespace = None;
    let mut builder = Builder::default();
    match pg_cluster::list_snapshot(&opts, |kind, page| builder.add_list_page(kind, page)) {
        Ok(_) => pg_report::html::pictures(&builder.finish(), catalog),
        Err(e) => {
            let why = format!("cannot read the nodes and pods to simulate: {e}");
            eprintln!("note: {}", pg_model::visible(&why));
            Pictures::Unavailable(why)
        }
    }
}
