//! Finds where a JSON object or array ends, 64 bytes at a time.
//!
//! Each 64-byte block becomes bit masks (bit `i` for byte `i`): its quotes, backslashes and
//! the two brackets looked for, four SSE2 comparisons per 16 bytes. Escaped quotes are taken
//! out, a running XOR over the remaining quotes marks the bytes inside strings, and only the
//! brackets outside strings are counted: a whole block costs a few dozen instructions
//! whatever it holds, where jumping from quote to quote costs a search per string (a string
//! starts every 10-20 bytes in a pod). This is the first stage of simdjson's design, cut down
//! to the one question the reader asks.

/// What one block leaves to the next: whether it ended inside a string, and whether its last
/// byte is a backslash that escapes the next block's first.
#[derive(Debug, Default, Clone, Copy)]
struct Carry {
    in_string: bool,
    escape: bool,
}

/// A value being scanned for its end, resumable across reads.
#[derive(Debug, Clone)]
pub struct Nested {
    open: u8,
    close: u8,
    depth: u32,
    carry: Carry,
}

/// Where [`Nested::scan`] stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// The offset just past the closing bracket.
    End(usize),
    /// The input ran out first; scanning resumes at this offset once more bytes follow.
    More(usize),
}

const BLOCK: usize = 64;

impl Nested {
    /// A value opened by `open` and closed by `close` (`{`/`}` or `[`/`]`). Only its own kind
    /// of bracket is counted: the other kind is balanced inside it in any JSON.
    pub fn new(open: u8, close: u8) -> Self {
        Nested {
            open,
            close,
            depth: 0,
            carry: Carry::default(),
        }
    }

    /// Scans `s` from `from`: the value's opening bracket the first time, then where the last
    /// call's [`Found::More`] said. Whole blocks only, unless `last` (no more bytes will
    /// follow): then the tail is scanned too.
    pub fn scan(&mut self, s: &[u8], mut from: usize, last: bool) -> Found {
        loop {
            // Filled only for the last, partial block: not on every block of the hot loop.
            let padded: [u8; BLOCK];
            let block: &[u8; BLOCK] = match s.get(from..from + BLOCK) {
                Some(whole) => whole.try_into().expect("64 bytes"),
                None if last && from < s.len() => {
                    let mut tail = [b' '; BLOCK];
                    tail[..s.len() - from].copy_from_slice(&s[from..]);
                    padded = tail;
                    &padded
                }
                None => return Found::More(from),
            };
            let (opens, closes) = brackets(block, self.open, self.close, &mut self.carry);
            if closes.count_ones() < self.depth {
                // The value cannot end in this block.
                self.depth = self.depth + opens.count_ones() - closes.count_ones();
            } else {
                let mut bits = opens | closes;
                while bits != 0 {
                    let at = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    if opens >> at & 1 == 1 {
                        self.depth += 1;
                    } else if self.depth > 0 {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return Found::End(from + at + 1);
                        }
                    }
                }
            }
            from += BLOCK;
        }
    }
}

/// The offset just past the object or array whose opening bracket is at `at`, or `None` if it
/// does not close in `s`.
pub fn skip_nested(s: &[u8], at: usize, open: u8, close: u8) -> Option<usize> {
    match Nested::new(open, close).scan(s, at, true) {
        Found::End(end) => Some(end),
        Found::More(_) => None,
    }
}

/// The block's `open` and `close` brackets outside strings, as bit masks.
fn brackets(block: &[u8; BLOCK], open: u8, close: u8, carry: &mut Carry) -> (u64, u64) {
    let [quotes, backslashes, opens, closes] = masks(block, [b'"', b'\\', open, close]);
    let escaped = escaped(backslashes, &mut carry.escape);
    let mut inside = prefix_xor(quotes & !escaped);
    if carry.in_string {
        inside = !inside;
    }
    carry.in_string = inside >> 63 == 1;
    (opens & !inside, closes & !inside)
}

/// The bytes a backslash escapes. Backslashes are rare in Kubernetes objects, so they are
/// walked one by one; a backslash escaped by the one before it escapes nothing.
fn escaped(backslashes: u64, carry: &mut bool) -> u64 {
    let mut escaped = u64::from(std::mem::take(carry));
    let mut rest = backslashes;
    while rest != 0 {
        let at = rest.trailing_zeros();
        rest &= rest - 1;
        if escaped >> at & 1 == 0 {
            if at == 63 {
                *carry = true;
            } else {
                escaped |= 1 << (at + 1);
            }
        }
    }
    escaped
}

/// Bit `i` is the XOR of bits `0..=i`: set from an opening quote up to (not including) its
/// closing quote.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// For each of `bytes`, the mask of the block's bytes equal to it.
#[cfg(target_arch = "x86_64")]
fn masks(block: &[u8; BLOCK], bytes: [u8; 4]) -> [u64; 4] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut out = [0u64; 4];
    // SAFETY: SSE2 is part of every x86-64 CPU (the target's baseline), and each `chunk` is 16
    // readable bytes, which `_mm_loadu_si128` reads without needing any alignment.
    unsafe {
        let wanted = bytes.map(|b| _mm_set1_epi8(b as i8));
        for (chunk, lane) in block.chunks_exact(16).zip([0, 16, 32, 48]) {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            for (mask, want) in out.iter_mut().zip(wanted) {
                *mask |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, want)) as u16) << lane;
            }
        }
    }
    out
}

/// For each of `bytes`, the mask of the block's bytes equal to it (byte by byte where SSE2 is
/// not there; the x86-64 build checks its masks against this one in the tests).
#[cfg(any(test, not(target_arch = "x86_64")))]
fn masks_bytewise(block: &[u8; BLOCK], bytes: [u8; 4]) -> [u64; 4] {
    bytes.map(|want| {
        block
            .iter()
            .enumerate()
            .fold(0, |mask, (i, &b)| mask | u64::from(b == want) << i)
    })
}

#[cfg(not(target_arch = "x86_64"))]
use masks_bytewise as masks;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The end by walking byte by byte: the reference the block scan must agree with. `Err`
    /// for a backslash outside a string, which no JSON has.
    fn end_bytewise(s: &[u8], at: usize, open: u8, close: u8) -> Result<Option<usize>, ()> {
        let (mut depth, mut in_string, mut escape) = (0u32, false, false);
        for (i, &b) in s.iter().enumerate().skip(at) {
            if in_string {
                match (escape, b) {
                    (true, _) => escape = false,
                    (false, b'\\') => escape = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_string = true;
            } else if b == b'\\' {
                return Err(());
            } else if b == open {
                depth += 1;
            } else if b == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            }
        }
        Ok(None)
    }

    #[test]
    fn finds_the_end_past_strings_and_escapes() {
        let s = br#"{"a": "}", "b": {"c": "\"}\\"}, "d": ["{"]} tail"#;
        assert_eq!(skip_nested(s, 0, b'{', b'}'), Some(s.len() - 5));
        let s = br#"["]", ["\\\"]"], 1] x"#;
        assert_eq!(skip_nested(s, 0, b'[', b']'), Some(s.len() - 2));
    }

    #[test]
    fn an_unclosed_value_has_no_end() {
        assert_eq!(skip_nested(br#"{"a": {}"#, 0, b'{', b'}'), None);
        assert_eq!(skip_nested(br#"{"a": "}"#, 0, b'{', b'}'), None);
    }

    #[test]
    fn a_backslash_at_a_block_edge_escapes_the_next_block() {
        // Byte 63 is a backslash inside a string; byte 64 the quote it escapes.
        let mut s = b"{\"".to_vec();
        s.resize(63, b'x');
        s.extend_from_slice(br#"\"}" }"#);
        assert_eq!(skip_nested(&s, 0, b'{', b'}'), Some(s.len()));
        // Two backslashes: the second is escaped, the quote after them closes the string.
        let mut s = b"{\"".to_vec();
        s.resize(62, b'x');
        s.extend_from_slice(br#"\\"}"#);
        assert_eq!(skip_nested(&s, 0, b'{', b'}'), Some(s.len()));
    }

    #[test]
    fn resumes_where_the_bytes_ran_out() {
        let s = format!(r#"{{"k": "{}", "n": {{"x": [1]}}}}"#, "}".repeat(150));
        let bytes = s.as_bytes();
        let mut nested = Nested::new(b'{', b'}');
        let Found::More(next) = nested.scan(&bytes[..100], 0, false) else {
            panic!("cannot end in the first 100 bytes")
        };
        assert_eq!(next, 64);
        assert_eq!(nested.scan(bytes, next, true), Found::End(bytes.len()));
    }

    #[test]
    fn sse2_masks_are_the_bytewise_masks() {
        let block: [u8; BLOCK] = std::array::from_fn(|i| b"\"\\{}[] a\x80\xff"[i * 7 % 10]);
        let bytes = [b'"', b'\\', b'{', b'}'];
        assert_eq!(masks(&block, bytes), masks_bytewise(&block, bytes));
    }

    proptest! {
        /// JSON-like text from a small alphabet (quotes, backslashes, both brackets), so strings,
        /// escapes and block edges land everywhere: the block scan and the bytewise walk agree.
        #[test]
        fn agrees_with_the_bytewise_walk(
            body in proptest::collection::vec(proptest::sample::select(b"\"\\{}[]ab \n".to_vec()), 0..300),
            square in any::<bool>(),
        ) {
            let (open, close) = if square { (b'[', b']') } else { (b'{', b'}') };
            let mut s = vec![open];
            s.extend_from_slice(&body);
            let expected = end_bytewise(&s, 0, open, close);
            prop_assume!(expected.is_ok());
            prop_assert_eq!(Ok(skip_nested(&s, 0, open, close)), expected);
            let block: [u8; BLOCK] = std::array::from_fn(|i| s.get(i).copied().unwrap_or(b'x'));
            let bytes = [b'"', b'\\', open, close];
            prop_assert_eq!(masks(&block, bytes), masks_bytewise(&block, bytes));
        }
    }
}
