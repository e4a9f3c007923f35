//! Turns an audit [`Report`] into the formats people and tools read.
//!
//! Every renderer writes straight into the caller's writer (the CLI wraps stdout in a
//! `BufWriter`), so a report that folds 150k pods into its findings never exists twice in memory
//! as text. Renderers decide nothing about the terminal: whether to colour is the caller's call,
//! made once in [`RenderOptions`].

mod format;
mod github;
pub mod html;
mod json;
mod junit;
mod markdown;
mod order;
mod sarif;
pub mod simulate;
mod table;
mod text;
mod yaml;

pub use format::{Format, ParseFormatError};

use pg_model::{CheckInfo, Report};
use std::io::{self, Write};

/// The name every format reports as the producing tool.
const TOOL_NAME: &str = "priorityguard";
/// Where SARIF consumers send people who want to know more about the tool.
const INFORMATION_URI: &str = "https://github.com/priorityguard/priorityguard";

/// What the caller decides for the renderers.
#[derive(Clone, Debug)]
pub struct RenderOptions {
    /// Emit ANSI styles in the `table` format (the CLI sets this from the TTY, `NO_COLOR` and
    /// `--color`); every other format ignores it, since files and CI logs must stay plain.
    pub color: bool,
    /// The version of priorityguard, recorded in JSON, YAML and SARIF so results can be traced
    /// back to the tool that produced them.
    pub tool_version: &'static str,
    /// Add the "Critical components" section to the `table` output.
    pub show_components: bool,
}

/// Writes `report` to `out` in `format`. (`html` without an eviction picture: see
/// [`html::render_page`] for the page with one.)
///
/// `checks` documents the checks (SARIF rules, JUnit failure texts); findings of a check missing
/// from it are still rendered, just without that documentation.
pub fn render(
    format: Format,
    report: &Report,
    checks: &[CheckInfo],
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Table => table::render(report, opts, out),
        Format::Json => json::render(report, opts, out),
        Format::Yaml => yaml::render(report, opts, out),
        Format::Sarif => sarif::render(report, checks, opts, out),
        Format::Junit => junit::render(report, checks, out),
        Format::Github => github::render(report, out),
        Format::Markdown => markdown::render(report, out),
        Format::Html => html::render_page(report, &html::Page::default(), opts, out),
    }
}
