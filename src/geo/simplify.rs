//! Douglas–Peucker line simplification, applied per arc.
//!
//! Simplifying arcs rather than rings is what keeps a map gap-free: both neighbours
//! draw their common border from the one simplified arc, and arc endpoints (where three
//! or more areas meet) never move.

/// Keeps the points of `points` needed to stay within `tolerance` of the original line;
/// the first and last points are always kept. A closed arc (first point = last point,
/// as for an island) is first split at its point farthest from the start, since the
/// plain algorithm measures against the start–end segment, which is a single point here.
pub(crate) fn simplify(points: &[[f64; 2]], tolerance: f64) -> Vec<[f64; 2]> {
    let n = points.len();
    if n <= 2 || tolerance <= 0.0 {
        return points.to_vec();
    }
    let mut keep = vec![false; n];
    keep[0] = true;
    keep[n - 1] = true;
    if points[0] == points[n - 1] {
        let far = (1..n - 1)
            .max_by(|&a, &b| {
                distance2(points[a], points[0]).total_cmp(&distance2(points[b], points[0]))
            })
            .unwrap_or(n / 2);
        keep[far] = true;
        mark(points, 0, far, tolerance * tolerance, &mut keep);
        mark(points, far, n - 1, tolerance * tolerance, &mut keep);
    } else {
        mark(points, 0, n - 1, tolerance * tolerance, &mut keep);
    }
    points
        .iter()
        .zip(keep)
        .filter_map(|(&p, k)| k.then_some(p))
        .collect()
}

/// Marks the points between `first` and `last` that Douglas–Peucker keeps. Iterative:
/// some source arcs have tens of thousands of points, too deep for recursion.
fn mark(points: &[[f64; 2]], first: usize, last: usize, tolerance2: f64, keep: &mut [bool]) {
    let mut stack = vec![(first, last)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let mut worst = (0.0, a);
        for i in a + 1..b {
            let d = segment_distance2(points[i], points[a], points[b]);
            if d > worst.0 {
                worst = (d, i);
            }
        }
        if worst.0 > tolerance2 {
            keep[worst.1] = true;
            stack.push((a, worst.1));
            stack.push((worst.1, b));
        }
    }
}

fn distance2(p: [f64; 2], q: [f64; 2]) -> f64 {
    (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)
}

/// Squared distance from `p` to the segment `a`–`b` (not the infinite line, so points
/// beyond an end of a short segment still count as far).
fn segment_distance2(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let length2 = dx * dx + dy * dy;
    if length2 == 0.0 {
        return distance2(p, a);
    }
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2).clamp(0.0, 1.0);
    distance2(p, [a[0] + t * dx, a[1] + t * dy])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_runs_collapse_and_corners_stay() {
        let line = [
            [0.0, 0.0],
            [1.0, 0.1],
            [2.0, 0.0],
            [2.0, 5.0],
            [2.1, 6.0],
            [2.0, 7.0],
        ];
        assert_eq!(
            simplify(&line, 0.5),
            vec![[0.0, 0.0], [2.0, 0.0], [2.0, 7.0]]
        );
        // Below the tolerance of nothing, everything stays.
        assert_eq!(simplify(&line, 0.0), line.to_vec());
    }

    #[test]
    fn closed_arcs_keep_an_area() {
        let mut island: Vec<[f64; 2]> = (0..40)
            .map(|i| {
                let a = i as f64 / 40.0 * std::f64::consts::TAU;
                [10.0 * a.cos(), 10.0 * a.sin()]
            })
            .collect();
        island.push(island[0]);
        let simple = simplify(&island, 1.0);
        assert_eq!(simple.first(), simple.last());
        assert!(simple.len() >= 5, "{simple:?}");
        assert!(super::super::signed_area(&simple) > 200.0);
    }
}
