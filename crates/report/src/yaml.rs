//! The JSON document, as YAML, for people who keep everything else in YAML: the same fields in
//! the same order, written in block style with pg-yaml's scalar quoting.

use crate::RenderOptions;
use crate::json::Document;
use pg_model::Report;
use std::io::{self, Write};

pub(crate) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let json = serde_json::to_string(&Document::new(report, opts)).map_err(io::Error::other)?;
    let yaml = pg_yaml::write::block_yaml(&json).map_err(io::Error::other)?;
    out.write_all(yaml.as_bytes())
}
