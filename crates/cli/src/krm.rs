//! `krm`: priorityguard as a KRM function (kustomize `--enable-exec`, kpt `--exec`): a
//! ResourceList on stdin, the list with fixed items and `results` on stdout.

use crate::{EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS};
use anyhow::Context;
use clap::Args;
use std::io::{Read, Write};

#[derive(Args, Debug)]
#[command(after_help = "\
The options come from the ResourceList's functionConfig: a `PriorityGuard` object
(spec: {mode: fix|audit-only, class: NAME, policy: {components: [...], checks: {...}}}) or a
ConfigMap (data: {mode, class, policy: <a --policy file's YAML>}). Every finding becomes a
result (severity, message, resourceRef, field, file from config.kubernetes.io/path and index),
also printed on stderr. Exit 1 when a result is an error (audit-only: any critical workload
without its class), 2 when the input is not a ResourceList. See docs/integrations.md.")]
pub struct KrmArgs {}

pub fn run(_: KrmArgs) -> anyhow::Result<u8> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    let Ok(text) = String::from_utf8(bytes) else {
        eprintln!("error: <stdin>: invalid UTF-8; a ResourceList must be UTF-8 text");
        return Ok(EXIT_ERROR);
    };
    let output = match pg_krm::run(text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {}", e.to_string().escape_debug());
            return Ok(EXIT_ERROR);
        }
    };
    for r in &output.results {
        eprintln!("priorityguard krm: {}", r.line().escape_debug());
    }
    let mut out = std::io::stdout().lock();
    out.write_all(output.text.as_bytes())?;
    out.flush()?;
    Ok(if output.failed() {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    })
}
