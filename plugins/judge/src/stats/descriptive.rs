//! Means and percentiles, as Kayenta computes them with Commons Math.

/// The arithmetic mean (Commons Math's `StatUtils.mean`: the sum over n, corrected by a second
/// pass over the residuals); NaN for no values.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let n = values.len() as f64;
    let first = values.iter().sum::<f64>() / n;
    let correction = values.iter().map(|v| v - first).sum::<f64>();
    first + correction / n
}

/// The `p`-th percentile (`p` in (0, 100]) with R's type-7 estimator, the linear interpolation
/// between order statistics that Kayenta asks Commons Math for (`EstimationType.R_7`, NumPy's
/// default); NaN for no values.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    // 1-based position, as Commons Math's R_7 index: 1 + (n - 1) p.
    let pos = 1.0 + (n as f64 - 1.0) * (p / 100.0);
    if pos < 1.0 {
        return sorted[0];
    }
    if pos >= n as f64 {
        return sorted[n - 1];
    }
    let floor = pos.floor();
    let lower = sorted[floor as usize - 1];
    let upper = sorted[floor as usize];
    lower + (pos - floor) * (upper - lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mean_of_values() {
        assert_eq!(mean(&[1.0, 2.0, 3.0, 4.0]), 2.5);
        assert!(mean(&[]).is_nan());
    }

    #[test]
    fn percentiles_interpolate_as_r_type_7() {
        // numpy.percentile([1, 2, 3, 4, 10], [25, 50, 75, 99, 1]) (linear).
        let v = [10.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 25.0), 2.0);
        assert_eq!(percentile(&v, 50.0), 3.0);
        assert_eq!(percentile(&v, 75.0), 4.0);
        assert!((percentile(&v, 99.0) - 9.76).abs() < 1e-12);
        assert!((percentile(&v, 1.0) - 1.04).abs() < 1e-12);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
