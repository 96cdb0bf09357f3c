//! Float arithmetic spelled as the Python reference nodes compute it, so the native nodes give the
//! same bits: sums left to right from the integer 0, and `round(x, 3)`.

/// `sum(values)` as CPython up to 3.11 and RustPython compute it for floats: left to right,
/// starting from the integer 0 (so `0 + -0.0` is `0.0`).
///
/// CPython 3.12 and later compensate the rounding of `sum()` over floats (Neumaier), which can
/// change the last bit of a sum of three or more terms; the reference run here is CPython 3.11,
/// and RustPython sums left to right too.
pub fn sum(values: impl IntoIterator<Item = f64>) -> f64 {
    values.into_iter().fold(0.0, |total, value| total + value)
}

/// Python's `round(x, 3)`: the double nearest to the decimal with three digits that is nearest to
/// `x`'s exact binary value, ties to even. Rust's fixed-precision formatting rounds the exact value
/// the same way, and parsing returns the nearest double, as CPython does.
pub fn round3(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    format!("{x:.3}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round3_matches_python_on_ties_and_near_ties() {
        // Values from CPython: round(x, 3).
        assert_eq!(round3(0.0625), 0.062);
        assert_eq!(round3(0.1875), 0.188);
        assert_eq!(round3(1.0005), 1.0); // 1.0005 is a little below the tie in binary
        assert_eq!(round3(2.675), 2.675);
        assert_eq!(round3(0.0005), 0.001); // a little above the tie in binary
        assert_eq!(round3(-0.0625), -0.062);
        assert_eq!(round3(12.3456789), 12.346);
    }

    #[test]
    fn sum_starts_from_integer_zero() {
        assert!(sum([-0.0]).is_sign_positive());
        assert_eq!(sum([0.1, 0.2, 0.3]), 0.1 + 0.2 + 0.3);
        assert_eq!(sum(std::iter::empty()), 0.0);
    }
}
