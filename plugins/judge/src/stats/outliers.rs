//! Kayenta's outlier removal: the interquartile-range detector with reduced sensitivity.

use super::descriptive::percentile;

/// `values` without the outliers of Kayenta's `IQRDetector(factor, reduceSensitivity = true)`:
/// values below `min(P1, Q1 - factor IQR)` or above `max(P99, Q3 + factor IQR)` (R-7
/// percentiles), so that at most the extreme percent on either side goes, however narrow the
/// quartiles.
pub fn remove_outliers(values: &[f64], factor: f64) -> Vec<f64> {
    if values.is_empty() {
        return Vec::new();
    }
    let (q1, q3) = (percentile(values, 25.0), percentile(values, 75.0));
    let iqr = q3 - q1;
    let lower = percentile(values, 1.0).min(q1 - factor * iqr);
    let upper = percentile(values, 99.0).max(q3 + factor * iqr);
    values.iter().copied().filter(|v| !(*v > upper || *v < lower)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_far_value_goes_and_the_rest_stays() {
        let mut v: Vec<f64> = (1..=200).map(|i| 10.0 + (i % 7) as f64 * 0.1).collect();
        v.push(1000.0);
        let kept = remove_outliers(&v, 3.0);
        assert_eq!(kept.len(), 200);
        assert!(!kept.contains(&1000.0));
    }

    #[test]
    fn the_99th_percentile_keeps_values_the_quartiles_alone_would_drop() {
        // Identical quartiles (IQR 0): the quartile fences are 5 and 5, the 99th percentile is 6.
        let mut v = vec![5.0; 100];
        v.extend([6.0; 3]);
        assert_eq!(remove_outliers(&v, 3.0).len(), 103);
        // A single 6 is above the 99th percentile (5.99 with 102 values): it goes.
        let mut v = vec![5.0; 101];
        v.push(6.0);
        assert_eq!(remove_outliers(&v, 3.0).len(), 101);
    }
}
