//! Kubernetes resource quantities (`100m`, `1.5Gi`, `1e3`, `500Mi`, `1k`), parsed and rounded as
//! `k8s.io/apimachinery/pkg/api/resource.ParseQuantity` does.
//!
//! `ParseQuantity` rounds every non-zero value up to the nearest nano (`1e-9`) and caps it at
//! 2^63-1; `MilliValue()` and `Value()` then round up again. A quantity is therefore exactly an
//! integer number of nanos, which is what [`Quantity`] stores: sums are exact (two `0.5m` CPU
//! requests make `1m`, not `2m`), and rounding happens only when a value is read, as in Go.

use std::fmt;

/// Nanos in one unit.
const NANO: i128 = 1_000_000_000;
/// `resource.maxAllowed`: quantities are capped at 2^63-1 units.
const MAX_NANOS: i128 = i64::MAX as i128 * NANO;

/// A parsed quantity, in nanos (rounded up, as `ParseQuantity` does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i128);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {0:?}"
    )]
    Format(String),
    #[error("unable to parse quantity's suffix: {0:?}")]
    Suffix(String),
}

impl Quantity {
    pub const ZERO: Quantity = Quantity(0);

    /// `resource.NewQuantity(v)`: exactly `v` units.
    pub fn from_value(v: i64) -> Quantity {
        Quantity(i128::from(v) * NANO)
    }

    /// `Value()`: whole units, rounded up (bytes for memory, cores for CPU).
    pub fn value(self) -> i64 {
        to_i64(ceil_div(self.0, NANO))
    }

    /// `MilliValue()`: thousandths, rounded up (millicores for CPU).
    pub fn milli_value(self) -> i64 {
        to_i64(ceil_div(self.0, NANO / 1000))
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Parses like `resource.ParseQuantity` (after trimming spaces, as `UnmarshalJSON` does).
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let s = text.trim();
        let format_err = || QuantityError::Format(text.to_string());
        if s.is_empty() {
            return Err(format_err());
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, rest) = rest.split_at(int_len);
        let (frac_part, suffix) = match rest.strip_prefix('.') {
            Some(after) => {
                let n = after.bytes().take_while(u8::is_ascii_digit).count();
                after.split_at(n)
            }
            None => ("", rest),
        };
        // A bare sign or dot is "0" to Go's scanner; a suffix without digits is not.
        if !valid_suffix_shape(suffix) {
            return Err(format_err());
        }
        let (base, exponent) =
            interpret_suffix(suffix).ok_or_else(|| QuantityError::Suffix(text.to_string()))?;
        let digits = format!("{int_part}{frac_part}");
        let digits = digits.trim_start_matches('0');
        let magnitude = scaled_nanos(digits, frac_part.len() as i32, base, exponent);
        Ok(Quantity(if negative { -magnitude } else { magnitude }))
    }
}

impl std::ops::Add for Quantity {
    type Output = Quantity;
    fn add(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(other.0))
    }
}

impl std::ops::AddAssign for Quantity {
    fn add_assign(&mut self, other: Quantity) {
        *self = *self + other;
    }
}

impl std::ops::Sub for Quantity {
    type Output = Quantity;
    fn sub(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_sub(other.0))
    }
}

impl fmt::Display for Quantity {
    /// A readable rendering (not Kubernetes' canonical form): whole bytes/units with a binary
    /// suffix when exact, else milli.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 % NANO == 0 {
            f.write_str(&bytes(self.value()))
        } else {
            write!(f, "{}m", self.milli_value())
        }
    }
}

/// `1073741824` -> `1Gi`, `1500` -> `1500`: binary suffixes when they divide exactly.
pub fn bytes(v: i64) -> String {
    for (suffix, shift) in [
        ("Ei", 60),
        ("Pi", 50),
        ("Ti", 40),
        ("Gi", 30),
        ("Mi", 20),
        ("Ki", 10),
    ] {
        let unit = 1i64 << shift;
        if v != 0 && v % unit == 0 {
            return format!("{}{suffix}", v / unit);
        }
    }
    v.to_string()
}

/// `1500` -> `1500m`, `2000` -> `2`.
pub fn millis(v: i64) -> String {
    if v % 1000 == 0 {
        (v / 1000).to_string()
    } else {
        format!("{v}m")
    }
}

/// Go's scanner accepts `[eEinumkKMGTP]*` then an optional sign and digits; anything else in
/// the tail is a format error.
fn valid_suffix_shape(suffix: &str) -> bool {
    let letters = suffix
        .bytes()
        .take_while(|b| b"eEinumkKMGTP".contains(b))
        .count();
    let rest = &suffix[letters..];
    let rest = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix('+'))
        .unwrap_or(rest);
    rest.bytes().all(|b| b.is_ascii_digit())
}

/// `(base, exponent)` of a suffix, as `quantitySuffixer.interpret` reads it.
fn interpret_suffix(suffix: &str) -> Option<(u32, i32)> {
    let decimal = [
        ("", 0),
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    if let Some((_, e)) = decimal.iter().find(|(s, _)| *s == suffix) {
        return Some((10, *e));
    }
    let binary = [
        ("Ki", 10),
        ("Mi", 20),
        ("Gi", 30),
        ("Ti", 40),
        ("Pi", 50),
        ("Ei", 60),
    ];
    if let Some((_, e)) = binary.iter().find(|(s, _)| *s == suffix) {
        return Some((2, *e));
    }
    let exp = suffix.strip_prefix(['e', 'E'])?;
    if exp.is_empty() {
        return None;
    }
    exp.parse::<i32>().ok().map(|e| (10, e))
}

/// `digits` (with `frac_len` of them after the point) times `base^exponent`, in nanos, rounded
/// up and capped at 2^63-1 units.
fn scaled_nanos(digits: &str, frac_len: i32, base: u32, exponent: i32) -> i128 {
    if digits.is_empty() {
        return 0;
    }
    // 36 significant digits fit an i128; a longer mantissa keeps its first 36 digits (plus
    // one when the rest is not all zeros, so the result still rounds up).
    let (kept, dropped) = digits.split_at(digits.len().min(36));
    let mut mantissa: i128 = kept.parse().expect("only ASCII digits");
    if dropped.bytes().any(|b| b != b'0') {
        mantissa += 1;
    }
    let dropped = dropped.len() as i32;
    // value = mantissa * 10^(dropped - frac_len) * base^exponent; nanos = value * 10^9.
    let mut pow10 = dropped - frac_len + 9;
    let mut numerator = mantissa;
    if base == 2 {
        for _ in 0..exponent {
            numerator = match numerator.checked_mul(2) {
                Some(n) => n,
                None => return MAX_NANOS,
            };
        }
    } else {
        pow10 += exponent;
    }
    let nanos = if pow10 >= 0 {
        let mut n = numerator;
        for _ in 0..pow10 {
            n = match n.checked_mul(10) {
                Some(n) if n <= MAX_NANOS => n,
                _ => return MAX_NANOS,
            };
        }
        n
    } else if -pow10 > 38 {
        1 // below a nano: rounded up to the smallest representable value
    } else {
        ceil_div(numerator, 10i128.pow((-pow10) as u32))
    };
    nanos.min(MAX_NANOS)
}

fn ceil_div(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && (a > 0) == (b > 0) {
        q + 1
    } else {
        q
    }
}

fn to_i64(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("1").milli_value(), 1000);
        assert_eq!(q("0.5").milli_value(), 500);
        assert_eq!(q("1.5").milli_value(), 1500);
        assert_eq!(q("2.0005").milli_value(), 2001, "milli-values round up");
        assert_eq!(q("1e3").milli_value(), 1_000_000);
        assert_eq!(q("1E-3").milli_value(), 1);
        assert_eq!(q("250000u").milli_value(), 250);
        assert_eq!(
            q("1n").milli_value(),
            1,
            "any non-zero amount is at least 1m"
        );
        assert_eq!(q("0").milli_value(), 0);
        assert_eq!(q("0.0").milli_value(), 0);
    }

    #[test]
    fn memory_in_bytes() {
        assert_eq!(q("500Mi").value(), 500 << 20);
        assert_eq!(q("1.5Gi").value(), 3 << 29);
        assert_eq!(q("1k").value(), 1000);
        assert_eq!(q("1M").value(), 1_000_000);
        assert_eq!(q("1G").value(), 1_000_000_000);
        assert_eq!(q("1Ki").value(), 1024);
        assert_eq!(q("1e3").value(), 1000);
        assert_eq!(q("1e+3").value(), 1000);
        assert_eq!(q("12e6").value(), 12_000_000);
        assert_eq!(q("1E").value(), 1_000_000_000_000_000_000, "E alone is exa");
        assert_eq!(q("100m").value(), 1, "values round up to whole bytes");
        assert_eq!(q("0.1Ki").value(), 103, "102.4 bytes round up");
        assert_eq!(q("  64Mi ").value(), 64 << 20);
        assert_eq!(q("+1").value(), 1);
        assert_eq!(q("1.").value(), 1, "Go accepts a trailing point");
    }

    #[test]
    fn caps_and_errors() {
        assert_eq!(q("100Ei").value(), i64::MAX, "capped at 2^63-1");
        assert_eq!(q("1e30").value(), i64::MAX);
        assert!(matches!(Quantity::parse(""), Err(QuantityError::Format(_))));
        assert!(matches!(
            Quantity::parse("1Kb"),
            Err(QuantityError::Format(_))
        ));
        assert!(matches!(
            Quantity::parse("1K"),
            Err(QuantityError::Suffix(_))
        ));
        assert!(matches!(
            Quantity::parse("1Mib"),
            Err(QuantityError::Format(_))
        ));
        assert!(Quantity::parse("abc").is_err());
    }

    #[test]
    fn sums_are_exact_before_rounding() {
        let half = q("0.5m");
        assert_eq!(half.milli_value(), 1);
        assert_eq!((half + half).milli_value(), 1);
    }

    #[test]
    fn readable_rendering() {
        assert_eq!(q("512Mi").to_string(), "512Mi");
        assert_eq!(q("100m").to_string(), "100m");
        assert_eq!(bytes(1500), "1500");
        assert_eq!(millis(2000), "2");
        assert_eq!(millis(250), "250m");
    }
}
