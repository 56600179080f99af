//! Ranks with ties averaged.

/// The 1-based ranks of `values`, tied values sharing the average of the ranks they span
/// (SciPy's `rankdata(method="average")`, Commons Math's `NaturalRanking` with
/// `TiesStrategy.AVERAGE`). `-0.0` and `0.0` tie. The values must not contain NaN (the judge
/// removes or replaces NaN first, as Kayenta does).
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    ranks_and_ties(values).0
}

/// [`average_ranks`], and the sizes of the groups of tied values (every group, singletons
/// included), from one sort.
pub fn ranks_and_ties(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1 ..= end: their mean.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        ties.push(end - start);
        start = end;
    }
    (ranks, ties)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_average_of_their_ranks() {
        assert_eq!(average_ranks(&[10.0, 20.0, 10.0, 30.0, 20.0, 20.0]), vec![1.5, 4.0, 1.5, 6.0, 4.0, 4.0]);
        assert_eq!(average_ranks(&[3.0, 1.0, 2.0]), vec![3.0, 1.0, 2.0]);
        assert_eq!(average_ranks(&[-0.0, 0.0]), vec![1.5, 1.5]);
        assert!(average_ranks(&[]).is_empty());
    }

    #[test]
    fn tie_groups_are_counted_with_singletons() {
        let (ranks, mut sizes) = ranks_and_ties(&[3.0, 1.0, 2.0, 3.0, 2.0, 3.0]);
        assert_eq!(ranks, vec![5.0, 1.0, 2.5, 5.0, 2.5, 5.0]);
        sizes.sort();
        assert_eq!(sizes, vec![1, 2, 3]);
    }
}
