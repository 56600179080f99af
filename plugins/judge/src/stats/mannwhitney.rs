//! The two-sample Wilcoxon rank-sum (Mann–Whitney U) test with the normal approximation, and the
//! confidence interval of the location shift it implies.
//!
//! Kayenta's `MannWhitney` (kayenta-mannwhitney) does not call Commons Math's
//! `MannWhitneyUTest`: it ports R's `wilcox.test(x, y, conf.int = TRUE, exact = FALSE,
//! correct = TRUE)`, using Commons Math only for average ranks, the normal quantile and a port of
//! R's root finder. So does this module:
//!
//! - `W(mu)`, [`wilcoxon_diff`]: rank `x - mu` together with `y` (ties averaged); `dz` is the
//!   rank sum of `x` minus its mean under the null, `nx (nx + 1) / 2 + nx ny / 2`; the
//!   continuity correction is `sign(dz) / 2`; the variance carries the tie correction
//!   `nx ny / 12 ((n + 1) - Σ (t³ - t) / (n (n - 1)))`; `W = (dz - correction) / σ - q`.
//! - The interval at confidence `c`: with `z = Φ⁻¹((1 - c) / 2)`, the lower bound is the root of
//!   `W(·) - |z|` and the upper bound the root of `W(·) + |z|`, searched in
//!   `[min x - max y, max x - min y]` and clamped to its ends when there is no sign change; the
//!   estimate is the root of `W(·)` (close to the median of the pairwise differences `x_i - y_j`,
//!   the Hodges–Lehmann estimator).
//! - [`u_test`]: `U` of `x` and the two-sided p-value `2 (1 - Φ(|W(0)|))`: the same statistic,
//!   reported as SciPy's `mannwhitneyu(x, y, method="asymptotic", use_continuity=True)` reports
//!   it (SciPy applies the same tie correction). Kayenta itself never reports a p-value; the judge
//!   logs it.

use statrs::distribution::{ContinuousCDF, Normal};

use super::brent;
use super::rank::{average_ranks, ranks_and_ties};
use crate::Error;

/// The standard normal distribution.
fn standard_normal() -> Normal {
    // Mean 0 and standard deviation 1 are valid parameters: this cannot fail.
    Normal::standard()
}

/// `W(mu) - quantile` for samples `x` and `y` (see the module docs). Fails when every
/// observation is tied (the variance is zero), as Kayenta's does.
pub fn wilcoxon_diff(mu: f64, quantile: f64, x: &[f64], y: &[f64]) -> Result<f64, Error> {
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let pooled: Vec<f64> = x.iter().map(|v| v - mu).chain(y.iter().copied()).collect();
    let (ranks, tie_sizes) = ranks_and_ties(&pooled);
    let rank_sum: f64 = ranks[..x.len()].iter().sum();
    let dz = rank_sum - nx * (nx + 1.0) / 2.0 - nx * ny / 2.0;
    let correction = if dz == 0.0 { 0.0 } else { dz.signum() * 0.5 };
    let ties: f64 = tie_sizes.into_iter().map(|t| (t as f64).powi(3) - t as f64).sum();
    let n = nx + ny;
    let sigma = ((nx * ny / 12.0) * ((n + 1.0) - ties / (n * (n - 1.0)))).sqrt();
    if sigma == 0.0 || sigma.is_nan() {
        return Err(Error::AllTied);
    }
    Ok((dz - correction) / sigma - quantile)
}

/// The Mann–Whitney U test of `x` against `y`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UTest {
    /// `U` of `x`: its rank sum minus `nx (nx + 1) / 2` (SciPy's `statistic`).
    pub u: f64,
    /// The continuity-corrected normal score, positive when `x` tends to be larger.
    pub z: f64,
    /// The two-sided p-value of the normal approximation.
    pub p_value: f64,
}

/// The two-sided Mann–Whitney U test of `x` against `y` with the normal approximation, tie and
/// continuity correction.
pub fn u_test(x: &[f64], y: &[f64]) -> Result<UTest, Error> {
    if x.is_empty() || y.is_empty() {
        return Err(Error::EmptySample);
    }
    let z = wilcoxon_diff(0.0, 0.0, x, y)?;
    let nx = x.len() as f64;
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let u = average_ranks(&pooled)[..x.len()].iter().sum::<f64>() - nx * (nx + 1.0) / 2.0;
    let p_value = (2.0 * standard_normal().sf(z.abs())).min(1.0);
    Ok(UTest { u, z, p_value })
}

/// A confidence interval of the location shift `x - y`, and its point estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShiftInterval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
    /// The estimate of the shift (the root of `W`).
    pub estimate: f64,
}

/// The confidence interval (at `confidence`, in (0, 1)) and estimate of the location shift
/// `x - y`, as Kayenta's `MannWhitney.mannWhitneyUTest` computes them.
pub fn shift_interval(x: &[f64], y: &[f64], confidence: f64) -> Result<ShiftInterval, Error> {
    if x.is_empty() || y.is_empty() {
        return Err(Error::EmptySample);
    }
    let min = |s: &[f64]| s.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |s: &[f64]| s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (mu_min, mu_max) = (min(x) - max(y), max(x) - min(y));
    let alpha = 1.0 - confidence;
    let z_quant = standard_normal().inverse_cdf(alpha / 2.0);
    let find_root = |zq: f64| -> Result<f64, Error> {
        let f_lower = wilcoxon_diff(mu_min, zq, x, y)?;
        let f_upper = wilcoxon_diff(mu_max, zq, x, y)?;
        if f_lower <= 0.0 {
            Ok(mu_min)
        } else if f_upper >= 0.0 {
            Ok(mu_max)
        } else {
            brent::solve(mu_min, mu_max, f_lower, f_upper, |mu| wilcoxon_diff(mu, zq, x, y))
        }
    };
    let lower = find_root(-z_quant)?;
    let upper = find_root(z_quant)?;
    let f_lower = wilcoxon_diff(mu_min, 0.0, x, y)?;
    let f_upper = wilcoxon_diff(mu_max, 0.0, x, y)?;
    let estimate = brent::solve(mu_min, mu_max, f_lower, f_upper, |mu| wilcoxon_diff(mu, 0.0, x, y))?;
    Ok(ShiftInterval { lower, upper, estimate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_quantile_is_kayentas() {
        // Kayenta's MannWhitneySuite "Test zQuant": Φ⁻¹(0.02 / 2).
        assert!((standard_normal().inverse_cdf(0.01) - -2.326348).abs() < 1e-6);
    }

    #[test]
    fn kayentas_interval_of_four_against_four() {
        // Kayenta's MannWhitneySuite: experiment 10..40 against control 1..4, confidence 0.95.
        let r = shift_interval(&[10.0, 20.0, 30.0, 40.0], &[1.0, 2.0, 3.0, 4.0], 0.95).unwrap();
        assert!((r.lower - 6.0).abs() < 1e-6, "{r:?}");
        assert!((r.upper - 39.0).abs() < 1e-6, "{r:?}");
        assert!((r.estimate - 22.5).abs() < 1e-6, "{r:?}");
    }

    #[test]
    fn every_observation_tied_is_an_error() {
        assert_eq!(wilcoxon_diff(0.0, 0.0, &[1.0, 1.0], &[1.0]), Err(Error::AllTied));
        assert_eq!(u_test(&[], &[1.0]), Err(Error::EmptySample));
    }

    #[test]
    fn u_counts_the_pairs_where_x_is_larger() {
        let t = u_test(&[3.0, 4.0, 5.0], &[1.0, 2.0, 3.0]).unwrap();
        // Pairs (x > y): 3>1, 3>2, 4>*, 5>* = 2 + 3 + 3, plus 3 = 3 counted one half.
        assert_eq!(t.u, 8.5);
        assert!(t.z > 0.0 && t.p_value > 0.0 && t.p_value < 1.0);
    }
}
