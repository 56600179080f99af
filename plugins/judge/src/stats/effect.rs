//! Effect sizes: how large a difference is, as opposed to whether there is one.

use super::descriptive::mean;
use super::rank::average_ranks;

/// The ratio of the means, canary over baseline (Kayenta's `meanRatio`, also reported as the
/// metric's deviation); NaN when either mean is zero, which makes the classifier ignore the
/// effect size, as Kayenta's does.
pub fn mean_ratio(baseline: &[f64], canary: &[f64]) -> f64 {
    let (b, c) = (mean(baseline), mean(canary));
    if b == 0.0 || c == 0.0 { f64::NAN } else { c / b }
}

/// The common-language effect size (Vargha and Delaney's A): the probability that a canary
/// value exceeds a baseline value, ties counting one half, `(2 R₁ - m (m + 1)) / (2 n m)` with
/// `R₁` the rank sum of the `m` canary values among all of them (Kayenta's `cles`).
pub fn cles(baseline: &[f64], canary: &[f64]) -> f64 {
    let (m, n) = (canary.len() as f64, baseline.len() as f64);
    let pooled: Vec<f64> = canary.iter().chain(baseline).copied().collect();
    let r1: f64 = average_ranks(&pooled)[..canary.len()].iter().sum();
    (2.0 * r1 - m * (m + 1.0)) / (2.0 * n * m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_ratio_is_canary_over_baseline_and_nan_for_a_zero_mean() {
        assert_eq!(mean_ratio(&[2.0, 2.0], &[3.0, 3.0]), 1.5);
        assert!(mean_ratio(&[0.0], &[3.0]).is_nan());
        assert!(mean_ratio(&[1.0], &[-1.0, 1.0]).is_nan());
    }

    #[test]
    fn cles_is_the_share_of_pairs_where_the_canary_is_larger() {
        assert_eq!(cles(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        assert_eq!(cles(&[3.0, 4.0], &[1.0, 2.0]), 0.0);
        assert_eq!(cles(&[1.0, 3.0], &[2.0]), 0.5);
        assert_eq!(cles(&[2.0], &[2.0]), 0.5);
    }
}
