//! Byte-range edits of a file's original text. Everything a fix does is one of these, so
//! everything outside their ranges stays byte for byte what it was.

use std::ops::Range;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

impl Edit {
    pub fn insert(at: usize, text: String) -> Edit {
        Edit {
            range: at..at,
            text,
        }
    }

    fn overlaps(&self, other: &Edit) -> bool {
        self.range.start < other.range.end && other.range.start < self.range.end
    }
}

/// Two edits of one fix touch the same bytes (a bug in the fix, never the user's input).
#[derive(Debug, PartialEq, Eq)]
pub struct Overlap;

/// Applies edits to `body`. A deletion and an insertion at the same place both happen (the
/// new text takes the deleted text's place).
pub fn apply(body: &str, mut edits: Vec<Edit>) -> Result<String, Overlap> {
    for (i, a) in edits.iter().enumerate() {
        if edits[i + 1..].iter().any(|b| a.overlaps(b)) {
            return Err(Overlap);
        }
    }
    // From the end backwards, so earlier offsets stay valid; at one start, the wider edit first.
    edits.sort_by_key(|e| std::cmp::Reverse((e.range.start, e.range.end)));
    let mut out = body.to_string();
    for e in edits {
        out.replace_range(e.range, &e.text);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deletion_and_insertion_at_one_place() {
        let edits = vec![
            Edit::insert(2, "X".into()),
            Edit {
                range: 2..4,
                text: String::new(),
            },
        ];
        assert_eq!(apply("abcdef", edits).unwrap(), "abXef");
    }

    #[test]
    fn overlapping_edits_are_refused() {
        let e = |r: Range<usize>| Edit {
            range: r,
            text: String::new(),
        };
        assert_eq!(apply("abcdef", vec![e(0..3), e(2..4)]), Err(Overlap));
    }
}
