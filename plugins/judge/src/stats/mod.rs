//! The statistics of Kayenta's NetflixACAJudge, as plain functions on slices of `f64`: nothing
//! here knows about Wasm, JSON or Aviary, so every formula is unit-tested natively and held to
//! reference values (SciPy, and the R tie-outs of Kayenta's own test suite) in
//! `tests/reference.rs`.
//!
//! - [`rank`]: average ranks of tied values (Commons Math's `NaturalRanking` with
//!   `TiesStrategy.AVERAGE`, SciPy's `rankdata`).
//! - [`mannwhitney`]: the Wilcoxon rank-sum / Mann–Whitney U test with the normal approximation,
//!   tie and continuity correction, and the confidence interval and Hodges–Lehmann-type estimate
//!   of the location shift that R's `wilcox.test(conf.int = TRUE, exact = FALSE)` computes, which
//!   is what Kayenta's `MannWhitney` implements.
//! - [`brent`]: the root finder R's `uniroot` and Kayenta's `BrentSolver` use (zeroin).
//! - [`descriptive`], [`effect`], [`outliers`], [`noise`]: means and R-7 percentiles, the effect
//!   sizes (mean ratio, CLES), the IQR outlier detector, and the Gaussian noise Kayenta adds to
//!   two constant samples.
//!
//! The normal distribution comes from `statrs`: no special function is written here.

pub mod brent;
pub mod descriptive;
pub mod effect;
pub mod mannwhitney;
pub mod noise;
pub mod outliers;
pub mod rank;
