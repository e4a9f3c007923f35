//! `fix --diff`: unified diffs that `git apply` and `patch -p1` take.

/// The diff of one file, headed `--- a/NAME` / `+++ b/NAME` (an absolute name loses its
/// leading `/`, as git's paths are relative).
pub fn unified(name: &str, before: &str, after: &str) -> String {
    let name = name.trim_start_matches("./").trim_start_matches('/');
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
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
}
