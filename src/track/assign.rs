//! Optimal one-to-one assignment of tracks to detections (Hungarian algorithm) with a cost gate.

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

const SCALE: f32 = 10_000.0;
const FORBIDDEN: i64 = 1_000_000_000;

/// Pairs (row, column) minimising total cost, keeping only pairs with cost ≤ `gate`.
/// `cost[r][c]` may be `f32::INFINITY` for pairs that must never match.
pub fn assign(cost: &[Vec<f32>], gate: f32) -> Vec<(usize, usize)> {
    let rows = cost.len();
    let cols = cost.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let weight = |c: f32| {
        if c.is_finite() && c <= gate {
            (c * SCALE) as i64
        } else {
            FORBIDDEN
        }
    };
    // kuhn_munkres needs rows <= columns: solve the transpose otherwise.
    let transposed = rows > cols;
    let (r, c) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let values: Vec<i64> = (0..r)
        .flat_map(|i| (0..c).map(move |j| if transposed { (j, i) } else { (i, j) }))
        .map(|(row, col)| weight(cost[row][col]))
        .collect();
    let Ok(matrix) = Matrix::from_vec(r, c, values) else {
        return Vec::new();
    };
    let (_, assignment) = kuhn_munkres_min(&matrix);
    assignment
        .into_iter()
        .enumerate()
        .map(|(i, j)| if transposed { (j, i) } else { (i, j) })
        .filter(|&(row, col)| cost[row][col].is_finite() && cost[row][col] <= gate)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_global_optimum_and_respects_the_gate() {
        // Greedy would pair (0,0) at 0.1 and leave row 1 with 0.9 (gated out).
        let cost = vec![vec![0.1, 0.2], vec![0.15, 0.9]];
        let mut pairs = assign(&cost, 0.5);
        pairs.sort();
        assert_eq!(pairs, vec![(0, 1), (1, 0)]);
        assert!(assign(&[vec![0.7]], 0.5).is_empty());
    }

    #[test]
    fn handles_more_rows_than_columns() {
        let cost = vec![vec![0.9], vec![0.1], vec![0.4]];
        assert_eq!(assign(&cost, 0.5), vec![(1, 0)]);
    }
}
