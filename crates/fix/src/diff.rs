//! `fix --diff`: unified diffs that `git apply` and `patch -p1` take.

/// The diff of one file, headed `--- a/NAME` / `+++ b/NAME` (an absolute name loses its
/// leading `/`, as git's paths are relative; a name with control characters is quoted as git
/// quotes it, `--- "a/x\n"`, so it cannot end the header line).
pub fn unified(name: &str, before: &str, after: &str) -> String {
    let name = name.trim_start_matches("./").trim_start_matches('/');
    let side = |prefix: &str| pg_model::visible(&format!("{prefix}/{name}")).into_owned();
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&side("a"), &side("b"))
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_and_one_added_line() {
        let d = super::unified("./x.yaml", "a: 1\nb: 2\n", "a: 1\nc: 3\nb: 2\n");
        assert_eq!(
            d,
            "--- a/x.yaml\n+++ b/x.yaml\n@@ -1,2 +1,3 @@\n a: 1\n+c: 3\n b: 2\n"
        );
    }

    #[test]
    fn a_name_with_a_line_break_is_quoted_as_git_quotes_it() {
        let d = super::unified("x\n+++ b/y", "a: 1\n", "a: 2\n");
        assert!(
            d.starts_with("--- \"a/x\\n+++ b/y\"\n+++ \"b/x\\n+++ b/y\"\n@@"),
            "{d}"
        );
    }
}
