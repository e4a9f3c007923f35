use std::fmt;
use std::str::FromStr;

/// The output formats of `priorityguard audit -o`.
///
/// The names are part of the CLI: the CLI lists [`Format::ALL`] as the accepted values and parses
/// them with [`FromStr`], so this crate needs no clap dependency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Compact, coloured, human-readable text grouped by workload.
    #[default]
    Table,
    /// The stable, documented machine format (`docs/output-formats.md`).
    Json,
    /// The JSON document as YAML.
    Yaml,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// JUnit XML, for CI test report views (GitLab, Jenkins, Azure Pipelines).
    Junit,
    /// GitHub Actions workflow commands, which become annotations on the pull request.
    Github,
    /// A Markdown summary for PR comments and `$GITHUB_STEP_SUMMARY`.
    Markdown,
    /// One self-contained HTML page (summary, critical components, findings, eviction picture).
    Html,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Table,
        Format::Json,
        Format::Yaml,
        Format::Sarif,
        Format::Junit,
        Format::Github,
        Format::Markdown,
        Format::Html,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Yaml => "yaml",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Github => "github",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = ParseFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| ParseFormatError(s.to_string()))
    }
}

/// A name that is not one of [`Format::ALL`]; the message lists the valid ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFormatError(String);

impl fmt::Display for ParseFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown output format `{}` (expected one of: ", self.0)?;
        for (i, format) in Format::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(format.as_str())?;
        }
        f.write_str(")")
    }
}

impl std::error::Error for ParseFormatError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>(), Ok(format));
        }
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let err = "xml".parse::<Format>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown output format `xml` (expected one of: table, json, yaml, sarif, junit, \
             github, markdown, html)"
        );
    }
}
