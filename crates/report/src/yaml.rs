//! The JSON document, as YAML, for people who keep everything else in YAML.

use crate::RenderOptions;
use crate::json::Document;
use pg_model::Report;
use std::io::{self, Write};

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    serde_yaml_ng::to_writer(out, &Document::new(report, opts)).map_err(io::Error::other)
}
