//! Fixed-point scores and points: integer hundredths, so that sums and differences in rollups
//! are exact. Every division rounds half away from zero, in one place.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Sub};

/// A score (0–100) or a number of points, in hundredths: `Points::from_hundredths(8750)` is
/// 87.50.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points(i64);

impl Points {
    /// 0.
    pub const ZERO: Self = Self(0);
    /// 100, a perfect score.
    pub const HUNDRED: Self = Self(10_000);

    /// From a count of hundredths.
    pub const fn from_hundredths(hundredths: i64) -> Self {
        Self(hundredths)
    }

    /// The count of hundredths.
    pub const fn hundredths(self) -> i64 {
        self.0
    }

    /// From a decimal value, rounded to the nearest hundredth; `None` unless finite and within
    /// ±1e12.
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() || value.abs() > 1e12 {
            return None;
        }
        Some(Self((value * 100.0).round() as i64))
    }

    /// As a decimal value with two decimals (exact for display and the wire).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// Clamps into 0–100.
    pub fn clamp_score(self) -> Self {
        Self(self.0.clamp(0, Self::HUNDRED.0))
    }

    /// `self - other`, but not below zero.
    pub fn saturating_deduct(self, other: Self) -> Self {
        Self((self.0 - other.0).max(0))
    }
}

impl Add for Points {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self(self.0 + other.0)
    }
}

impl AddAssign for Points {
    fn add_assign(&mut self, other: Self) {
        self.0 += other.0;
    }
}

impl Sub for Points {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Self(self.0 - other.0)
    }
}

impl Sum for Points {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

/// `numerator / denominator` rounded to the nearest integer, halves away from zero.
/// `denominator` must be positive.
pub fn div_round(numerator: i128, denominator: i128) -> i128 {
    debug_assert!(denominator > 0);
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if 2 * remainder.abs() >= denominator {
        quotient + numerator.signum()
    } else {
        quotient
    }
}

/// A weight in ten-thousandths (`Weight(2500)` is 0.25): weights are decimals in the standard,
/// integers here so that weighted means are exact. `u64`: the largest weight (1,000,000) is
/// 10^10 ten-thousandths, and sums of weights must not overflow either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Weight(pub u64);

impl Weight {
    /// From a decimal, rounded to ten-thousandths; `None` unless finite, non-negative and at
    /// most 1,000,000.
    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() || !(0.0..=1_000_000.0).contains(&value) {
            return None;
        }
        Some(Self((value * 10_000.0).round() as u64))
    }

    /// As a decimal.
    pub fn to_f64(self) -> f64 {
        // Exact: at most 10^10, far below 2^53.
        self.0 as f64 / 10_000.0
    }
}

/// The weighted mean of `(weight, score)` pairs, rounded to hundredths; `None` when the
/// weights sum to zero.
pub fn weighted_mean(items: impl IntoIterator<Item = (Weight, Points)>) -> Option<Points> {
    let (weighted_sum, weight_sum) =
        items
            .into_iter()
            .fold((0_i128, 0_i128), |(sum, weights), (weight, score)| {
                (
                    sum + i128::from(weight.0) * i128::from(score.hundredths()),
                    weights + i128::from(weight.0),
                )
            });
    (weight_sum > 0).then(|| Points::from_hundredths(div_round(weighted_sum, weight_sum) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(div_round(5, 2), 3);
        assert_eq!(div_round(-5, 2), -3);
        assert_eq!(div_round(4, 3), 1);
        assert_eq!(div_round(5, 3), 2);
        assert_eq!(div_round(0, 7), 0);
    }

    #[test]
    fn weighted_mean_is_exact_for_decimal_weights() {
        let weights = [0.4, 0.3, 0.3].map(|w| Weight::from_f64(w).unwrap());
        let scores = [9000, 8000, 10000].map(Points::from_hundredths);
        assert_eq!(
            weighted_mean(weights.into_iter().zip(scores)),
            Some(Points::from_hundredths(9000))
        );
        assert_eq!(weighted_mean([(Weight(0), Points::HUNDRED)]), None);
    }

    #[test]
    fn display_has_two_decimals() {
        assert_eq!(Points::from_hundredths(8750).to_string(), "87.50");
        assert_eq!(Points::from_hundredths(-5).to_string(), "-0.05");
        assert_eq!(Points::from_f64(12.345).unwrap().hundredths(), 1235);
    }
}
