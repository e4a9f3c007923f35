//! `priorityguard fix` for files: edits that add, change or remove exactly one key of a pod
//! spec and leave every other byte as it was (comments, quoting, key order, flow style, CRLF,
//! template statements), atomic writes, and the same changes as kustomize, `kubectl patch` or
//! JSON patches.
//!
//! The flow: the audit's findings ([`plan`]) are matched to workloads in a fresh parse of each
//! file; [`Fixer::apply`] turns them into byte-range edits and re-parses and re-audits every
//! result before anyone sees it; the caller prints a [`unified`] diff, or [`write_atomic`]s it.

mod chart;
mod diff;
mod edit;
pub mod emit;
mod error;
mod fixer;
mod ops;
mod parse;
mod plan;
mod source;
mod stream;
mod text;
mod values;
mod write;

pub use diff::unified;
pub use error::FixError;
pub use fixer::{FileFix, Fixer, Outcome, read_objects};
pub use plan::{Change, Note, Options, Plan};
pub use source::{STDIN_NAME, Source};
pub use stream::{Streamed, fix_text};
#[cfg(feature = "failpoints")]
pub use write::FAILPOINT_VAR;
pub use write::{TEMP_MARKER, check_within, write_atomic};
